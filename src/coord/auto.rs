//! Automatic entries: what a session did, taken from the tool calls Claude
//! Code reports, not from prose. A commit becomes a `completed` entry, a push
//! or an opened pull request a `signaling` one, and a session's edits that
//! no commit entry lists a `signaling` digest.
//!
//! PostToolUse only *records* what a Bash call did, as pending entries in
//! the session's state file (`auto/<session>.json`). The end of the turn
//! (Stop, the next prompt, SessionEnd) *flushes* them: an entry whose work a
//! block of the same turn already covers (same topic, AFFECTS overlapping the
//! commit's files, or naming its hash) is dropped, the rest are appended with
//! deterministic ids, so repeated hook runs never double them. Automatic
//! entries carry `origin: "auto"`; an amend's entry refers (`ref`) to the
//! entry of the commit it replaced, and readers show only the newest
//! ([`Superseded`]).
//!
//! Only the commit subject (from the repository's reflog), the short hash,
//! the branch, file paths and a pull request URL are stored, never command
//! output, and each goes through [`redact`], the neutraliser ([`Who::clean`],
//! at write) and the entry field caps.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::coord::claims::{self, path_matches, patterns};
use crate::coord::git_ops::{self, Commit, Op, Repo};
use crate::env::config::AutoKinds;
use crate::error::{Error, Result};
use crate::store::entry::{Entry, MAX_SHORT, MAX_SUMMARY, MAX_TOPIC, truncate_chars};
use crate::store::fsio;
use crate::store::log::{ORDER_SLACK, Pool};
use crate::store::paths::safe_file_stem;

/// The `origin` of automatic entries.
pub const ORIGIN: &str = "auto";
/// Folder of the per-session state files, in the pool folder.
pub const STATE_DIR: &str = "auto";
/// Largest state file read, in bytes (64 KiB).
const MAX_STATE_FILE: u64 = 64 * 1024;
/// Most pending entries kept between turns.
const MAX_PENDING: usize = 32;
/// Seconds of clock slack around a tool call's run when matching the reflog.
pub const CALL_SLACK: i64 = 5;
/// A Bash call's longest run when Claude Code does not say (10 minutes, its
/// maximum timeout), in seconds.
const MAX_CALL: i64 = 600;
/// How far back a session's edits count when it has no earlier commit and
/// no known start, in seconds (8 hours).
const EDIT_LOOKBACK: i64 = 8 * 3600;
/// A Stop posts a digest when the last one (or the session's start) is at
/// least this old, in seconds (30 minutes).
pub const DIGEST_QUIET: i64 = 30 * 60;
/// Files listed one by one in a digest or AFFECTS before grouping by folder.
const FILES_LISTED: usize = 8;
/// Longest digest line, in characters.
const DIGEST_LINE: usize = 300;

/// Whether an entry is automatic.
pub fn is_auto(e: &Entry<'_>) -> bool {
    e.origin == ORIGIN
}

/// An entry waiting for the end of its turn.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pending {
    /// The entry's id (deterministic).
    pub id: String,
    /// `completed` or `signaling`.
    pub action: String,
    /// Topic.
    pub topic: String,
    /// Summary.
    pub summary: String,
    /// AFFECTS, relative to the worktree.
    pub affects: String,
    /// The entry this one replaces (an amend's earlier commit).
    pub reference: String,
    /// The files, absolute, for the overlap check with blocks.
    pub files: Vec<String>,
    /// Short hash, for a block that names the commit.
    pub short: String,
    /// The session's working directory.
    pub cwd: String,
    /// When the tool call was seen, epoch seconds.
    pub at: i64,
}

/// What a session has done since its last digest, and what waits to be posted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionState {
    /// Entries to post at the end of the turn.
    pub pending: Vec<Pending>,
    /// When this session last committed, epoch seconds (0: never).
    pub last_commit_at: i64,
    /// The files that commit was given (absolute paths).
    pub last_commit_files: Vec<String>,
    /// That commit's hash (empty in states written before it was kept): an
    /// amend of it keeps its files.
    pub last_commit_hash: String,
    /// The edit log's end when that commit was recorded: edits before it
    /// were credited to it, those after to the next (none in states
    /// written before it was kept: then whole seconds decide).
    pub last_commit_edits: Option<claims::EditsEnd>,
    /// When its last digest was posted, or checked with nothing to say
    /// (0: never); the next digest covers what came after that second.
    pub digest_at: i64,
}

/// The state file of a session.
pub fn state_path(pool_dir: &Path, session: &str) -> PathBuf {
    pool_dir
        .join(STATE_DIR)
        .join(format!("{}.json", safe_file_stem(session)))
}

/// Loads a session's state; a missing, unreadable or corrupt file is a
/// fresh state (it only ever holds what the next write restores).
pub fn load_state(pool_dir: &Path, session: &str) -> SessionState {
    use std::io::Read;
    let mut buf = Vec::new();
    let read = std::fs::File::open(state_path(pool_dir, session))
        .and_then(|f| f.take(MAX_STATE_FILE).read_to_end(&mut buf));
    match read {
        Ok(_) => serde_json::from_slice(&buf).unwrap_or_default(),
        Err(_) => SessionState::default(),
    }
}

/// Writes a session's state atomically.
pub fn save_state(pool_dir: &Path, session: &str, state: &SessionState) -> Result<()> {
    fsio::ensure_private_dir(pool_dir)?;
    fsio::ensure_private_dir(&pool_dir.join(STATE_DIR))?;
    let bytes = serde_json::to_vec(state)
        .map_err(|e| Error::Invalid(format!("cannot encode automatic-entry state: {e}")))?;
    fsio::replace_file(&state_path(pool_dir, session), &bytes, 0o600)
}

/// Replaces what looks like a credential (a known token prefix, a long run
/// of letters and digits, a URL's user information) with `[redacted]`.
pub fn redact(s: &str) -> String {
    const PREFIXES: &[&str] = &[
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "sk-",
        "xoxb-",
        "xoxp-",
        "xoxa-",
        "AKIA",
        "ASIA",
        "AIza",
        "npm_",
        "pypi-",
    ];
    let mut out = String::with_capacity(s.len());
    for (i, word) in s.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
        let token_like = bare.len() >= 32
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '='))
            && bare.chars().any(|c| c.is_ascii_digit())
            && bare.chars().any(|c| c.is_ascii_alphabetic());
        let prefixed = PREFIXES
            .iter()
            .any(|p| bare.starts_with(p) && bare.len() >= p.len() + 12);
        let userinfo = word.contains("://")
            && word
                .split("://")
                .nth(1)
                .is_some_and(|r| r.split('/').next().is_some_and(|host| host.contains('@')));
        if token_like || prefixed || userinfo {
            out.push_str("[redacted]");
        } else {
            out.push_str(word);
        }
    }
    out
}

/// What a Bash call reported, as far as automatic entries need it.
#[derive(Debug, Clone, Default)]
pub struct Call<'a> {
    /// The command line.
    pub command: &'a str,
    /// Its output (`tool_response.stdout`; both streams arrive there).
    pub stdout: &'a str,
    /// Whether the user interrupted it.
    pub interrupted: bool,
    /// How long it ran, in milliseconds, when Claude Code says.
    pub duration_ms: Option<u64>,
    /// `tool_response.gitOperation.commit.sha`.
    pub reported_commit: Option<&'a str>,
    /// `tool_response.gitOperation.push.branch`.
    pub reported_push: Option<&'a str>,
    /// `tool_response.gitOperation.pr.url` when its action is `created`.
    pub reported_pr: Option<&'a str>,
    /// `tool_use_id`.
    pub tool_use_id: &'a str,
}

/// Who and where: what every automatic entry of a session shares.
#[derive(Debug, Clone)]
pub struct Who<'a> {
    /// The instance.
    pub instance: &'a str,
    /// The session.
    pub session: &'a str,
    /// The session's working directory.
    pub cwd: &'a Path,
    /// This machine's name.
    pub host: &'a str,
    /// The neutraliser every text field of an automatic entry passes before
    /// it is stored: `crate::view::neutral::clean`, the one choke point,
    /// handed in by the command layer (coordination may not import views).
    pub clean: fn(&str, usize) -> String,
}

fn same_repo(a: &Repo, b: &Repo) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(&a.git_dir) == canon(&b.git_dir)
}

/// The folder an operation runs in: `dir` (from `cd` / `-C`) under `cwd`.
fn resolve(cwd: &Path, dir: Option<&str>) -> PathBuf {
    match dir {
        None => cwd.to_path_buf(),
        Some(d) if d == "~" || d.starts_with("~/") => match dirs::home_dir() {
            Some(h) => h.join(d.trim_start_matches('~').trim_start_matches('/')),
            None => PathBuf::from(d),
        },
        Some(d) => cwd.join(d),
    }
}

/// The repository an operation runs in, when it is the session's own. A
/// folder this scan cannot know for certain (`cd "$OTHER"`, `` cd `x` ``,
/// `cd -`, a glob, a folder that does not exist) is no one's: the
/// operation is not attributed.
fn own_repo(cwd: &Path, op: &Op, session_repo: &Repo) -> Option<Repo> {
    if let Some(d) = op.dir()
        && (d.contains(['$', '`', '*', '?', '[', '{'])
            || d.split('/').any(|c| c == "-")
            || (d.starts_with('~') && !(d == "~" || d.starts_with("~/"))))
    {
        return None;
    }
    let dir = resolve(cwd, op.dir());
    if !dir.is_dir() {
        return None;
    }
    let r = git_ops::find_repo(&dir)?;
    same_repo(&r, session_repo).then_some(r)
}

fn short_id(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Files edited by `session` since `since`, under `root`: (relative for
/// AFFECTS, absolute), oldest first, deduplicated.
/// Edits recorded before `boundary` (the edit log's end when the commit
/// that set `since` was recorded) belonged to that commit and are left
/// out, whatever their second (issue 23 §4). Without a boundary, or for an
/// edit read from a rotated log, whole seconds decide: edits made in the
/// second `since` itself to a file in `already` are left out.
fn edited_files(
    pool_dir: &Path,
    session: &str,
    since: i64,
    root: Option<&Path>,
    already: &[String],
    boundary: Option<claims::EditsEnd>,
) -> Result<Vec<(String, String)>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut edits = claims::recent_edits(pool_dir, since)?;
    edits.reverse();
    let real_root = root.and_then(|r| std::fs::canonicalize(r).ok());
    for e in edits {
        let earlier = boundary
            .and_then(|b| b.has(&e))
            .unwrap_or_else(|| e.timestamp == since && already.contains(&e.path));
        if e.session_id != session || earlier || !seen.insert(e.path.clone()) {
            continue;
        }
        // Recorded paths have their folders resolved through symlinks
        // (`env::spelling`): the root is tried as found, then resolved.
        let rel = match root {
            Some(r) => match Path::new(&e.path)
                .strip_prefix(r)
                .ok()
                .or_else(|| Path::new(&e.path).strip_prefix(real_root.as_deref()?).ok())
            {
                Some(p) => p.to_string_lossy().into_owned(),
                None => continue,
            },
            None => e.path.clone(),
        };
        out.push((rel, e.path));
    }
    Ok(out)
}

/// The earlier commit's files (absolute) as (relative to `root`, absolute).
fn earlier_files(abs: &[String], root: &Path) -> Vec<(String, String)> {
    abs.iter()
        .filter_map(|a| {
            let rel = Path::new(a).strip_prefix(root).ok()?;
            Some((rel.to_string_lossy().into_owned(), a.clone()))
        })
        .collect()
}

/// `first`, then the files of `more` not in it.
fn union(mut first: Vec<(String, String)>, more: &[(String, String)]) -> Vec<(String, String)> {
    for f in more {
        if !first.iter().any(|g| g.1 == f.1) {
            first.push(f.clone());
        }
    }
    first
}

fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Lists files, grouped by folder (`src/ (5)`) when there are more than eight.
pub fn list_files(files: &[String]) -> String {
    if files.len() <= FILES_LISTED {
        return files.join(", ");
    }
    let mut groups: Vec<(String, usize)> = Vec::new();
    for f in files {
        let folder = match f.rsplit_once('/') {
            Some((d, _)) => format!("{d}/"),
            None => "./".to_string(),
        };
        match groups.iter_mut().find(|(g, _)| *g == folder) {
            Some((_, n)) => *n += 1,
            None => groups.push((folder, 1)),
        }
    }
    groups
        .iter()
        .map(|(g, n)| format!("{g} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Records what a Bash call did in the session's state: returns the pending
/// entries it added (already saved). `since_start` is when the session
/// started, if known (edits before its first commit count from there).
pub fn record_call(
    pool_dir: &Path,
    who: &Who<'_>,
    call: &Call<'_>,
    kinds: AutoKinds,
    since_start: Option<i64>,
    now: i64,
) -> Result<Vec<Pending>> {
    if call.interrupted || !git_ops::might_matter(call.command) {
        return Ok(Vec::new());
    }
    let ops = git_ops::scan(call.command);
    if ops.is_empty() {
        return Ok(Vec::new());
    }
    let Some(session_repo) = git_ops::find_repo(who.cwd) else {
        return Ok(Vec::new());
    };
    let mut state = load_state(pool_dir, who.session);
    let mut added = Vec::new();
    let ran = call
        .duration_ms
        .map_or(MAX_CALL, |ms| i64::try_from(ms / 1000).unwrap_or(MAX_CALL));
    let (from, to) = (now - ran - CALL_SLACK, now + CALL_SLACK);
    let cwd = who.cwd.to_string_lossy().into_owned();

    // Only commits in the session's own repository count (`cd ../other &&
    // git commit` does not), as many as the command ran `git commit`s there.
    let commit_ops = ops
        .iter()
        .filter(|o| matches!(o, Op::Commit { .. }) && own_repo(who.cwd, o, &session_repo).is_some())
        .count();
    if kinds.commit && commit_ops > 0 {
        let repo = &session_repo;
        // Only the commits this command's own output names (git's
        // `[branch abc1234] subject` lines, or the hash Claude Code
        // reported): the newest commit in the window may be another
        // session's, and a failed or quiet commit names none.
        let mut named = git_ops::printed_commits(call.stdout);
        named.extend(call.reported_commit);
        let records = git_ops::reflog_tail(&repo.git_dir);
        let commits = git_ops::commits_named(&records, from, to, &named, commit_ops);
        if !commits.is_empty() {
            let since = if state.last_commit_at > 0 {
                state.last_commit_at
            } else {
                since_start.unwrap_or(now - EDIT_LOOKBACK)
            };
            // Taken before the edits are read: an edit recorded meanwhile
            // counts for this commit and the next, never for neither.
            let edits_end = claims::EditsEnd::now(pool_dir);
            let files = edited_files(
                pool_dir,
                who.session,
                since,
                Some(&repo.worktree),
                &state.last_commit_files,
                state.last_commit_edits,
            )?;
            let branch = git_ops::branch(&repo.git_dir);
            // The session's last commit: its hash and files.
            let mut last = (
                std::mem::take(&mut state.last_commit_hash),
                earlier_files(&state.last_commit_files, &repo.worktree),
            );
            for c in &commits {
                // An amend replaces the session's last commit: the files
                // stay with it, plus those edited since (issue 23 §4).
                let these = if !last.0.is_empty() && c.amends.as_deref() == Some(last.0.as_str()) {
                    union(std::mem::take(&mut last.1), &files)
                } else {
                    files.clone()
                };
                let p = commit_pending(c, who.session, branch.as_deref(), &these, &cwd, now);
                if !state.pending.iter().any(|q| q.id == p.id) {
                    added.push(p);
                }
                last = (c.hash.clone(), these);
            }
            state.last_commit_at = now;
            state.last_commit_edits = edits_end;
            state.last_commit_hash = last.0;
            state.last_commit_files = last.1.into_iter().map(|(_, abs)| abs).collect();
        }
    }

    // A push and a pull request in one command make one entry. The pull
    // request's address is taken only from `gh pr create`'s own last line
    // when it is the command's last command (what runs after it, `; cat
    // notes.txt`, could print any address), only for a project among the
    // repository's remotes, and only when it agrees with what Claude Code
    // reported, if it reported one.
    let pr = kinds
        .pr
        .then(|| {
            ops.iter()
                .find(|o| {
                    matches!(o, Op::PrCreate { .. })
                        && own_repo(who.cwd, o, &session_repo).is_some()
                })
                .filter(|_| git_ops::ends_with_pr_create(call.command))
                .and_then(|_| git_ops::pr_url(call.stdout))
                .filter(|url| call.reported_pr.is_none_or(|r| r == *url))
                .filter(|url| {
                    git_ops::pr_of_remotes(url, &git_ops::remote_urls(&session_repo.git_dir))
                })
        })
        .flatten();
    let push = kinds
        .push
        .then(|| {
            ops.iter()
                .find(|o| {
                    matches!(o, Op::Push { .. }) && own_repo(who.cwd, o, &session_repo).is_some()
                })
                .and_then(|_| {
                    call.reported_push
                        .or_else(|| git_ops::pushed_branch(call.stdout))
                })
        })
        .flatten();
    if let Some(url) = pr {
        let number = url.rsplit('/').next().unwrap_or("");
        let mut summary = format!("Pull request: {url}");
        if let Some(b) = push {
            summary.push_str(&format!(" (pushed {})", redact(b)));
        }
        added.push(Pending {
            id: format!("auto-pr-{}", short_id(&format!("{}\0{url}", who.session))),
            action: "signaling".into(),
            topic: format!("Opened pull request #{number}"),
            summary,
            cwd: cwd.clone(),
            at: now,
            ..Pending::default()
        });
    } else if let Some(b) = push {
        let b = truncate_chars(&redact(b), 120).into_owned();
        let place = session_repo
            .worktree
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        added.push(Pending {
            id: format!(
                "auto-push-{}",
                short_id(&format!("{}\0{}", who.session, call.tool_use_id))
            ),
            action: "signaling".into(),
            topic: format!("Pushed branch {b}"),
            summary: format!("git push of {b} from {place}"),
            cwd: cwd.clone(),
            at: now,
            ..Pending::default()
        });
    }
    if added.is_empty() {
        return Ok(added);
    }
    state.pending.extend(added.iter().cloned());
    let over = state.pending.len().saturating_sub(MAX_PENDING);
    state.pending.drain(..over);
    save_state(pool_dir, who.session, &state)?;
    Ok(added)
}

/// The id of a session's entry for a commit: the hash and the session, so
/// that an entry another session wrote for the same commit (by mistake or
/// on purpose) cannot shadow the author's as a duplicate.
fn commit_id(hash: &str, session: &str) -> String {
    format!("auto-commit-{hash}-{}", &short_id(session)[..8])
}

fn commit_pending(
    c: &Commit,
    session: &str,
    branch: Option<&str>,
    files: &[(String, String)],
    cwd: &str,
    now: i64,
) -> Pending {
    let rel: Vec<String> = files.iter().map(|(r, _)| r.clone()).collect();
    let mut summary = format!("commit {}", c.short());
    if let Some(b) = branch {
        summary.push_str(&format!(" on {}", redact(b)));
    }
    if let Some(old) = &c.amends {
        summary.push_str(&format!(" (amends {})", &old[..old.len().min(7)]));
    }
    Pending {
        id: commit_id(&c.hash, session),
        action: "completed".into(),
        topic: truncate_chars(redact(&c.subject).trim(), MAX_TOPIC).into_owned(),
        summary,
        affects: truncate_chars(&rel.join(", "), MAX_SHORT).into_owned(),
        reference: c
            .amends
            .as_ref()
            .map(|o| commit_id(o, session))
            .unwrap_or_default(),
        files: files.iter().map(|(_, a)| a.clone()).collect(),
        short: c.short().to_string(),
        cwd: cwd.to_string(),
        at: now,
    }
}

/// Whether a block entry covers the same work as a pending entry: the same
/// topic, AFFECTS overlapping its files, or its text naming the commit.
pub fn covers(block: &Entry<'_>, p: &Pending) -> bool {
    if !block.topic.trim().is_empty() && block.topic.trim().eq_ignore_ascii_case(p.topic.trim()) {
        return true;
    }
    if !p.short.is_empty() && (block.topic.contains(&p.short) || block.summary.contains(&p.short)) {
        return true;
    }
    let pats = patterns(&block.affects);
    p.files
        .iter()
        .any(|f| pats.iter().any(|pat| path_matches(pat, &block.cwd, f)))
}

/// The entry a pending record becomes. Its text (commit subject, file
/// names, pull request URL, digest lines) comes from the repository and the
/// command line, so it is neutralised here, at write, through `who.clean`:
/// the stored entry holds no control or invisible character, tag or turn
/// prefix; the digest keeps its lines, each cleaned.
fn to_entry(p: &Pending, who: &Who<'_>, now: i64) -> Entry<'static> {
    let clean = who.clean;
    let summary: Vec<String> = p
        .summary
        .split('\n')
        .map(|l| clean(l, MAX_SUMMARY))
        .filter(|l| !l.is_empty())
        .collect();
    Entry {
        id: p.id.clone().into(),
        timestamp: now,
        source_instance: who.instance.to_string().into(),
        session_id: who.session.to_string().into(),
        action: p.action.clone().into(),
        topic: clean(&p.topic, MAX_TOPIC).into(),
        summary: truncate_chars(&summary.join("\n"), MAX_SUMMARY)
            .into_owned()
            .into(),
        affects: clean(&p.affects, MAX_SHORT).into(),
        reference: p.reference.clone().into(),
        cwd: p.cwd.clone().into(),
        host: who.host.to_string().into(),
        origin: ORIGIN.into(),
        // The repository the commit was made in (its worktree's id).
        repo: crate::env::repo::locate(if p.cwd.is_empty() {
            who.cwd
        } else {
            Path::new(&p.cwd)
        })
        .id
        .into(),
        ..Entry::default()
    }
}

/// This session's non-automatic entries written at or after `since`.
fn own_blocks(pool: &Pool, session: &str, since: i64, now: i64) -> Result<Vec<Entry<'static>>> {
    let mut out = Vec::new();
    let horizon = u64::try_from((now - since).max(0) + ORDER_SLACK).unwrap_or(0);
    pool.scan_recent(now, horizon, |e| {
        if e.session_id == session && !is_auto(&e) && e.timestamp >= since {
            out.push(e.into_owned());
        }
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// What a flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    /// Entries appended.
    pub appended: Vec<Entry<'static>>,
    /// Pending entries dropped because a block of the turn covered them.
    pub covered: usize,
}

/// At the end of a turn: appends the session's pending entries that no
/// block of the same turn covers, then clears them.
pub fn flush(pool: &Pool, who: &Who<'_>, now: i64) -> Result<Flushed> {
    let mut state = load_state(pool.dir(), who.session);
    let mut out = Flushed::default();
    if state.pending.is_empty() {
        return Ok(out);
    }
    let first = state.pending.iter().map(|p| p.at).min().unwrap_or(now);
    let blocks = own_blocks(pool, who.session, first, now)?;
    let mut entries = Vec::new();
    for p in &state.pending {
        let turn_blocks = blocks.iter().filter(|b| b.timestamp >= p.at);
        if turn_blocks.clone().any(|b| covers(b, p)) {
            out.covered += 1;
        } else {
            entries.push(to_entry(p, who, now));
        }
    }
    out.appended = pool.append_unique(entries, &[], first - ORDER_SLACK, now)?;
    state.pending.clear();
    save_state(pool.dir(), who.session, &state)?;
    Ok(out)
}

/// Why a digest is being considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestWhen {
    /// The session ends: post if anything happened.
    SessionEnd,
    /// A Stop: post only after [`DIGEST_QUIET`] without a digest.
    Stop,
}

/// Posts the session's digest when it is due and it has something to say
/// that no other entry says: the files the session edited that no commit
/// entry lists (edited after its last commit, or with no commit since the
/// last digest) and none of its blocks names in AFFECTS, with the branch and
/// worktree. Its commits, pushes, pull
/// requests and blocks have entries of their own, so they are not repeated,
/// and a session that only wrote blocks or only committed posts no digest.
/// `started` is when the session started, if known.
pub fn digest(
    pool: &Pool,
    who: &Who<'_>,
    when: DigestWhen,
    started: Option<i64>,
    now: i64,
) -> Result<Option<Entry<'static>>> {
    let mut state = load_state(pool.dir(), who.session);
    let since = if state.digest_at > 0 {
        // The last digest covered its own second.
        state.digest_at + 1
    } else {
        started.unwrap_or(now - EDIT_LOOKBACK)
    };
    if when == DigestWhen::Stop && now - since < DIGEST_QUIET {
        return Ok(None);
    }
    // Edits up to the last commit are in that commit's entry (its AFFECTS).
    let committed = state.last_commit_at >= since;
    let (from, already) = if committed {
        (state.last_commit_at, state.last_commit_files.as_slice())
    } else {
        (since, &[][..])
    };
    // Nor are the files its own blocks name in AFFECTS.
    let blocks = own_blocks(pool, who.session, since, now)?;
    let named = |abs: &str| {
        blocks.iter().any(|b| {
            patterns(&b.affects)
                .iter()
                .any(|pat| path_matches(pat, &b.cwd, abs))
        })
    };
    let repo = git_ops::find_repo(who.cwd);
    let boundary = if committed {
        state.last_commit_edits
    } else {
        None
    };
    let files: Vec<String> = edited_files(pool.dir(), who.session, from, None, already, boundary)?
        .into_iter()
        .filter(|(_, abs)| !named(abs))
        .map(|(_, abs)| {
            match repo
                .as_ref()
                .and_then(|r| Path::new(&abs).strip_prefix(&r.worktree).ok())
            {
                Some(rel) => rel.to_string_lossy().into_owned(),
                None => abs,
            }
        })
        .collect();
    // What the digest covers is over either way: the next one starts here.
    state.digest_at = now;
    if files.is_empty() {
        // Nothing another entry does not already say; the next check starts
        // from here, so a quiet session's Stops do not each read back to its start.
        save_state(pool.dir(), who.session, &state)?;
        return Ok(None);
    }
    let edited = plural(files.len(), "file");
    let mut parts = vec![if committed {
        format!(
            "Edited {edited} after its last commit: {}.",
            list_files(&files)
        )
    } else {
        format!("Edited {edited}: {}.", list_files(&files))
    }];
    if let Some(r) = &repo {
        let branch = git_ops::branch(&r.git_dir)
            .map(|b| redact(&b))
            .unwrap_or_else(|| "detached HEAD".into());
        parts.push(format!("On {branch} in {}.", r.worktree.display()));
    }
    let summary: Vec<String> = parts
        .iter()
        .map(|l| truncate_chars(&redact(l), DIGEST_LINE).into_owned())
        .collect();
    let p = Pending {
        id: format!(
            "auto-digest-{}",
            short_id(&format!("{}\0{since}", who.session))
        ),
        action: "signaling".into(),
        topic: format!("Session digest: {edited} edited"),
        summary: summary.join(" "),
        affects: truncate_chars(&files.join(", "), MAX_SHORT).into_owned(),
        cwd: who.cwd.to_string_lossy().into_owned(),
        at: now,
        ..Pending::default()
    };
    let appended = pool.append_unique(vec![to_entry(&p, who, now)], &[], since, now)?;
    save_state(pool.dir(), who.session, &state)?;
    Ok(appended.into_iter().next())
}

/// Readers' view of amends: scanning newest first, an automatic entry that
/// a later automatic entry from the same source (both written here, or both
/// received from the same sync stream, see `Entry::source`) refers to
/// (`ref`) has been replaced and is not shown. Another machine's entry
/// cannot hide one of this machine's.
#[derive(Debug, Default)]
pub struct Superseded {
    /// `(source, id)`; the source is empty for entries written here.
    ids: HashSet<(String, String)>,
}

impl Superseded {
    /// Notes an entry (newest first) and says whether it is replaced by one seen before.
    pub fn visit(&mut self, e: &Entry<'_>) -> bool {
        if e.origin != ORIGIN {
            return false;
        }
        let source = e.source().unwrap_or("");
        if !e.reference.is_empty() {
            self.ids
                .insert((source.to_string(), e.reference.to_string()));
        }
        self.ids.contains(&(source.to_string(), e.id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction() {
        assert_eq!(redact("Add greeting"), "Add greeting");
        assert_eq!(
            redact("Use token ghp_abcdefghijklmnop1234"),
            "Use token [redacted]"
        );
        assert_eq!(
            redact("key 0123456789abcdef0123456789abcdef01 here"),
            "key [redacted] here"
        );
        assert_eq!(redact("see https://u:p@host/x"), "see [redacted]");
        assert_eq!(
            redact("Refactor the_very_long_identifier_name_of_a_function"),
            "Refactor the_very_long_identifier_name_of_a_function"
        );
    }

    #[test]
    fn files_group_by_folder_when_many() {
        let few: Vec<String> = ["a.rs", "src/b.rs"].iter().map(|s| s.to_string()).collect();
        assert_eq!(list_files(&few), "a.rs, src/b.rs");
        let many: Vec<String> = (0..9)
            .map(|i| format!("src/f{i}.rs"))
            .chain(["README.md".to_string()])
            .collect();
        assert_eq!(list_files(&many), "src/ (9), ./ (1)");
    }

    #[test]
    fn coverage_by_topic_files_or_hash() {
        let p = Pending {
            topic: "Add greeting".into(),
            files: vec!["/w/proj/greet.txt".into()],
            short: "1415202".into(),
            ..Pending::default()
        };
        let block = |topic: &str, affects: &str, summary: &str| Entry {
            topic: topic.to_string().into(),
            affects: affects.to_string().into(),
            summary: summary.to_string().into(),
            cwd: "/w/proj".into(),
            ..Entry::default()
        };
        assert!(covers(&block("add greeting", "", ""), &p));
        assert!(covers(&block("Greeting work", "greet.txt", ""), &p));
        assert!(covers(&block("Other", "", "landed as 1415202"), &p));
        assert!(!covers(&block("Other", "src/", "nothing"), &p));
    }

    #[test]
    fn amends_supersede_older_auto_entries() {
        let e = |origin: &str, id: &str, reference: &str| Entry {
            origin: origin.to_string().into(),
            id: id.to_string().into(),
            reference: reference.to_string().into(),
            ..Entry::default()
        };
        let mut s = Superseded::default();
        assert!(!s.visit(&e("auto", "auto-commit-b", "auto-commit-a")));
        assert!(s.visit(&e("auto", "auto-commit-a", "")));
        assert!(!s.visit(&e("transcript", "x", "y")));
        assert!(
            !s.visit(&e("transcript", "y", "")),
            "only automatic entries are replaced"
        );
    }

    /// Issue 22, section 3: an automatic entry from another machine cannot
    /// hide one of this machine's, only one from the same stream.
    #[test]
    fn another_machines_amend_replaces_only_its_own_entries() {
        let e = |id: &str, reference: &str, via: &str| Entry {
            origin: ORIGIN.into(),
            id: id.to_string().into(),
            reference: reference.to_string().into(),
            received: (!via.is_empty()).then_some(1),
            via: via.to_string().into(),
            ..Entry::default()
        };
        let mut s = Superseded::default();
        assert!(!s.visit(&e("forged", "auto-commit-mine", "s")));
        assert!(!s.visit(&e("forged2", "auto-commit-theirs", "s")));
        assert!(
            !s.visit(&e("auto-commit-mine", "", "")),
            "this machine's commit entry stays"
        );
        assert!(s.visit(&e("auto-commit-theirs", "", "s")));
    }
}
