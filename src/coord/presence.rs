//! Who is active: one small JSON file per session under `<pool>/presence/`,
//! refreshed by every hook call, and where each session works (its git
//! worktree and branch, read from `.git` files without running git).
//!
//! A presence file is named `safe_file_stem(instance + "\0" + session_id)`
//! plus `.json` and holds a [`Presence`]. Hooks write it atomically (0600);
//! when nothing but `last_seen` would change and the stored `last_seen` is
//! younger than [`REFRESH_EVERY`], the hook leaves the file alone, so a burst
//! of hook calls costs one write. `SessionEnd` sets `ended`; any later event
//! of the same session (a resume) clears it again.
//!
//! Hooks run without `CLAUDE_INSTANCE` are recorded under the instance
//! [`UNKNOWN_INSTANCE`], the name extraction gives their entries too. Events
//! without a session id are not recorded: there is nothing to tell them apart.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::hook::{self, Ctx};
use crate::agent::registry;
use crate::error::{Error, Result};
use crate::store::fsio;
use crate::store::paths::safe_file_stem;

/// Folder of presence files, inside the pool folder.
pub const PRESENCE_DIR: &str = "presence";
/// Instance name recorded for hooks run without `CLAUDE_INSTANCE`.
pub const UNKNOWN_INSTANCE: &str = "unknown";
/// A session seen this recently is active, in seconds (5 minutes).
pub const ACTIVE_WITHIN: i64 = 5 * 60;
/// A session seen this recently, and not active, is idle, in seconds (1 hour).
pub const IDLE_WITHIN: i64 = 3600;
/// How stale `last_seen` may get before a hook rewrites an otherwise
/// unchanged presence file, in seconds; `last_seen` lags by less than that,
/// well under [`ACTIVE_WITHIN`]. Writes go through [`fsio::replace_file`]
/// (rename, no fsync: about 0.25 ms; presence need not survive a power cut).
pub const REFRESH_EVERY: i64 = 60;
/// Presence files of sessions gone this long may be deleted, in seconds (7 days).
pub const KEEP_GONE: i64 = 7 * 86_400;
/// Leftover temp files of killed writers older than this are deleted, in seconds.
pub const KEEP_TEMP: i64 = 3600;
/// Largest presence file read, in bytes; larger ones are skipped.
pub const MAX_PRESENCE_FILE: u64 = 64 * 1024;
/// Most presence files read by one listing.
pub const MAX_PRESENCE_FILES: usize = 10_000;
/// Largest `.git` file or `HEAD` read, in bytes.
pub const MAX_GIT_FILE: u64 = 4096;
/// Longest branch name kept, in bytes.
pub const MAX_BRANCH: usize = 255;

/// One session's presence, as stored in its file and shown by `pool status --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Presence {
    /// The instance (`CLAUDE_INSTANCE`, else [`UNKNOWN_INSTANCE`]).
    pub instance: String,
    /// The agent's session id.
    pub session_id: String,
    /// The agent running the session: `claude-code` or `codex` (files
    /// written before agents were recorded read as empty: Claude Code).
    pub agent: String,
    /// The session's working directory, if the hook was told one.
    pub cwd: Option<String>,
    /// The folder holding the `.git` the working directory is under.
    pub worktree: Option<String>,
    /// The repository's id (`crate::env::repo`); absent in files of
    /// earlier versions.
    pub repo: Option<String>,
    /// The checked-out branch (`main`), or the full ref when HEAD names a
    /// ref outside `refs/heads/`.
    pub branch: Option<String>,
    /// The commit when HEAD is detached.
    pub detached: Option<String>,
    /// Host name of the machine the session runs on.
    pub host: String,
    /// First hook call seen, epoch seconds.
    pub first_seen: i64,
    /// Latest hook call seen (within [`REFRESH_EVERY`]), epoch seconds.
    pub last_seen: i64,
    /// When `SessionEnd` was seen, epoch seconds; `None` while the session lives.
    pub ended: Option<i64>,
    /// The session's inbox socket (`CLAUDE_CODE_MESSAGING_SOCKET`), through
    /// which it can be woken ([`crate::coord::wake`]).
    pub socket: Option<String>,
    /// The session's permission mode, as its last hook call that carried one said.
    pub permission_mode: Option<String>,
    /// Claude Code's registry file for this session
    /// (`<config dir>/sessions/<pid>.json`, [`crate::agent::registry`]),
    /// recorded only once a hook found it naming this session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// What the registry said when the listing was read: `Some(true)` the
    /// client runs, `Some(false)` it is gone, `None` nothing could be told.
    /// Never stored.
    #[serde(skip)]
    pub alive: Option<bool>,
}

/// How recently something was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Seen within [`ACTIVE_WITHIN`].
    Active,
    /// Seen within [`IDLE_WITHIN`].
    Idle,
    /// Ended, or not seen for longer.
    Gone,
    /// Never seen: no presence and no entry (an instance only named by a handoff).
    Unseen,
}

impl State {
    /// The state of something last seen at `last_seen`.
    pub fn by_age(last_seen: i64, now: i64) -> State {
        let age = now.saturating_sub(last_seen);
        if age < ACTIVE_WITHIN {
            State::Active
        } else if age < IDLE_WITHIN {
            State::Idle
        } else {
            State::Gone
        }
    }

    /// The lowercase word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Idle => "idle",
            State::Gone => "gone",
            State::Unseen => "unseen",
        }
    }
}

impl Presence {
    /// The session's state at `now`: gone once ended or once Claude Code's
    /// registry no longer lists it; while the registry shows it running it
    /// is at least idle, however long ago its last hook ran; else by
    /// `last_seen`.
    pub fn state(&self, now: i64) -> State {
        if self.ended.is_some() {
            return State::Gone;
        }
        match (self.alive, State::by_age(self.last_seen, now)) {
            (Some(false), _) => State::Gone,
            (Some(true), State::Active) => State::Active,
            (Some(true), _) => State::Idle,
            (None, by_age) => by_age,
        }
    }

    /// Whether the session is in `scope`: by its repository id, else (files
    /// of earlier versions) by its working directory.
    pub fn in_scope(&self, scope: &crate::env::repo::Scope) -> bool {
        scope.admits(
            self.repo.as_deref().unwrap_or(""),
            self.cwd.as_deref().unwrap_or(""),
        )
    }

    /// The latest thing known of the session: its end, else `last_seen`.
    pub fn last_heard(&self) -> i64 {
        self.ended.map_or(self.last_seen, |e| e.max(self.last_seen))
    }
}

/// Where a directory sits in git: the worktree root and what HEAD points at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitPlace {
    /// The folder holding `.git`.
    pub worktree: PathBuf,
    /// The branch, when HEAD is a symbolic ref.
    pub branch: Option<String>,
    /// The commit, when HEAD is detached.
    pub detached: Option<String>,
}

/// What a `HEAD` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// `ref: refs/heads/<branch>` (or another ref, kept whole).
    Branch(String),
    /// A bare commit id (40 or 64 hex digits).
    Detached(String),
}

/// Parses the contents of a `HEAD` file; `None` when it is neither a ref
/// nor a commit id.
pub fn parse_head(text: &str) -> Option<Head> {
    let t = text.trim();
    if let Some(r) = t.strip_prefix("ref:") {
        let r = r.trim();
        let name = r.strip_prefix("refs/heads/").unwrap_or(r);
        let ok = !name.is_empty()
            && name.len() <= MAX_BRANCH
            && !name.chars().any(|c| c.is_control() || c.is_whitespace());
        return ok.then(|| Head::Branch(name.to_string()));
    }
    let is_id = matches!(t.len(), 40 | 64) && t.bytes().all(|b| b.is_ascii_hexdigit());
    is_id.then(|| Head::Detached(t.to_ascii_lowercase()))
}

/// Parses a `.git` file (`gitdir: <path>`, written in linked worktrees and
/// submodules); a relative path is taken relative to `base`, the folder
/// holding the file. `None` when there is no such line.
pub fn parse_gitdir_file(text: &str, base: &Path) -> Option<PathBuf> {
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("gitdir:"))?;
    let p = line.trim();
    if p.is_empty() {
        return None;
    }
    let p = Path::new(p);
    Some(if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    })
}

/// Reads at most [`MAX_GIT_FILE`] bytes of a small text file; anything but
/// a regular file (a `.git` that is a FIFO, say) is an error, not a wait.
fn read_small(path: &Path) -> io::Result<String> {
    let bytes = fsio::read_regular(path, MAX_GIT_FILE)?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Finds the git worktree `cwd` (absolute) is in by walking up to the
/// nearest `.git`, and reads its HEAD: from `.git/HEAD` when `.git` is a
/// folder, from `<gitdir>/HEAD` when it is a `gitdir:` file. Never runs git.
/// `None` outside a repository or for a relative `cwd`; a `.git` that cannot
/// be read still gives the worktree, without a branch.
pub fn git_place(cwd: &Path) -> Option<GitPlace> {
    if !cwd.is_absolute() {
        return None;
    }
    for dir in cwd.ancestors() {
        let dotgit = dir.join(".git");
        let Ok(meta) = std::fs::metadata(&dotgit) else {
            continue;
        };
        let head_path = if meta.is_dir() {
            Some(dotgit.join("HEAD"))
        } else {
            read_small(&dotgit)
                .ok()
                .and_then(|t| parse_gitdir_file(&t, dir))
                .map(|g| g.join("HEAD"))
        };
        let head = head_path
            .and_then(|p| read_small(&p).ok())
            .and_then(|t| parse_head(&t));
        let mut place = GitPlace {
            worktree: dir.to_path_buf(),
            ..GitPlace::default()
        };
        match head {
            Some(Head::Branch(b)) => place.branch = Some(b),
            Some(Head::Detached(c)) => place.detached = Some(c),
            None => {}
        }
        return Some(place);
    }
    None
}

impl Presence {
    /// The agent's name for display: `claude-code` when the file predates
    /// agents being recorded.
    pub fn agent_name(&self) -> &str {
        if self.agent.is_empty() {
            "claude-code"
        } else {
            &self.agent
        }
    }
}

/// What one hook call observed about its session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// The instance.
    pub instance: String,
    /// The session id.
    pub session_id: String,
    /// The agent (`claude-code`, `codex`).
    pub agent: String,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// Where the working directory sits in git.
    pub git: Option<GitPlace>,
    /// The repository's id.
    pub repo: Option<String>,
    /// The host name.
    pub host: String,
    /// Whether the event is `SessionEnd`.
    pub ends: bool,
    /// The session's inbox socket, if the hook was given one.
    pub socket: Option<String>,
    /// The permission mode, if the event carried one.
    pub permission_mode: Option<String>,
    /// Claude Code's registry file naming this session, if one was found.
    pub registry: Option<String>,
}

/// The presence to store after `seen` at `now`, given what is stored; `None`
/// when the stored file is fine as it is (only `last_seen` would change, and
/// it is younger than [`REFRESH_EVERY`]).
pub fn refresh(old: Option<&Presence>, seen: &Observation, now: i64) -> Option<Presence> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let new = Presence {
        instance: seen.instance.clone(),
        session_id: seen.session_id.clone(),
        agent: seen.agent.clone(),
        cwd: seen.cwd.as_deref().map(s),
        worktree: seen.git.as_ref().map(|g| s(&g.worktree)),
        repo: seen.repo.clone(),
        branch: seen.git.as_ref().and_then(|g| g.branch.clone()),
        detached: seen.git.as_ref().and_then(|g| g.detached.clone()),
        host: seen.host.clone(),
        first_seen: old.map_or(now, |o| o.first_seen.min(now)),
        last_seen: now,
        ended: if seen.ends {
            Some(old.and_then(|o| o.ended).unwrap_or(now))
        } else {
            None
        },
        socket: seen
            .socket
            .clone()
            .or_else(|| old.and_then(|o| o.socket.clone())),
        permission_mode: seen
            .permission_mode
            .clone()
            .or_else(|| old.and_then(|o| o.permission_mode.clone())),
        // A new socket is a new client (a resumed session): the old
        // client's registry file says nothing of it.
        registry: match old {
            Some(o) if seen.socket.is_none() || seen.socket == o.socket => {
                seen.registry.clone().or_else(|| o.registry.clone())
            }
            _ => seen.registry.clone(),
        },
        alive: None,
    };
    match old {
        Some(o)
            if now.saturating_sub(o.last_seen) < REFRESH_EVERY
                && o.last_seen <= now
                && Presence {
                    last_seen: now,
                    ..o.clone()
                } == new =>
        {
            None
        }
        _ => Some(new),
    }
}

/// The presence folder of a pool.
pub fn dir(pool_dir: &Path) -> PathBuf {
    pool_dir.join(PRESENCE_DIR)
}

/// The presence file of one session.
pub fn file_path(pool_dir: &Path, instance: &str, session_id: &str) -> PathBuf {
    dir(pool_dir).join(format!(
        "{}.json",
        safe_file_stem(&format!("{instance}\0{session_id}"))
    ))
}

/// Reads one presence file; `Ok(None)` when it does not exist, an error when
/// it cannot be read or is not a presence.
pub fn load(path: &Path) -> Result<Option<Presence>> {
    let f = match fsio::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut buf = Vec::new();
    f.take(MAX_PRESENCE_FILE)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&buf)
        .map(Some)
        .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

/// When a session's first hook ran (its presence file's `first_seen`);
/// `None` when there is no readable presence. `instance` `None` is
/// [`UNKNOWN_INSTANCE`].
pub fn first_seen(pool_dir: &Path, instance: Option<&str>, session: &str) -> Option<i64> {
    let path = file_path(pool_dir, instance.unwrap_or(UNKNOWN_INSTANCE), session);
    load(&path)
        .ok()
        .flatten()
        .map(|p| p.first_seen)
        .filter(|t| *t > 0)
}

/// Refreshes this session's presence file from a hook call. Never fails and
/// never panics: problems go to `errors.log` via [`hook::report`], and the
/// hook goes on.
pub fn touch(ctx: &Ctx, program: &str) {
    let run = std::panic::AssertUnwindSafe(|| try_touch(ctx));
    let message = match std::panic::catch_unwind(run) {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("presence: {e}"),
        Err(_) => "presence: internal error (panic); the session goes on".to_string(),
    };
    hook::report(&ctx.pool_dir, program, &message);
}

fn try_touch(ctx: &Ctx) -> Result<()> {
    let input = &ctx.input;
    if input.session_id.is_empty() {
        return Ok(());
    }
    let instance = ctx
        .config
        .instance
        .clone()
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| UNKNOWN_INSTANCE.to_string());
    let seen = Observation {
        git: input.cwd.as_deref().and_then(git_place),
        cwd: input.cwd.clone(),
        repo: Some(ctx.repo.id.clone()),
        instance,
        session_id: input.session_id.clone(),
        agent: input.agent.as_str().to_string(),
        host: crate::env::host::host_name(),
        ends: input.hook_event_name == "SessionEnd",
        socket: ctx.config.messaging_socket.clone(),
        permission_mode: input.permission_mode.clone().filter(|m| !m.is_empty()),
        registry: None,
    };
    let path = file_path(&ctx.pool_dir, &seen.instance, &seen.session_id);
    // An unreadable or corrupt file is replaced, not reported: it holds nothing
    // the next write does not restore.
    let old = load(&path).ok().flatten();
    let mut seen = seen;
    seen.registry = find_registry(ctx, old.as_ref());
    let Some(new) = refresh(old.as_ref(), &seen, ctx.now) else {
        return Ok(());
    };
    fsio::ensure_private_dir(&ctx.pool_dir)?;
    fsio::ensure_private_dir(&dir(&ctx.pool_dir))?;
    let bytes = serde_json::to_vec(&new)
        .map_err(|e| Error::Invalid(format!("cannot encode presence: {e}")))?;
    fsio::replace_file(&path, &bytes, 0o600)
}

/// Claude Code's registry file for this hook's session: looked up (one
/// small file read) only when the stored presence has none or its socket
/// changed, and kept only when it names this session, so a client without a
/// registry never has its sessions judged gone by a missing file.
fn find_registry(ctx: &Ctx, old: Option<&Presence>) -> Option<String> {
    if ctx.input.agent != crate::agent::adapter::Agent::ClaudeCode {
        return None;
    }
    let socket = ctx.config.messaging_socket.as_deref()?;
    if old.is_some_and(|o| o.socket.as_deref() == Some(socket) && o.registry.is_some()) {
        return None; // kept by `refresh`
    }
    let path = registry::path_for(ctx.config.claude_config_dir.as_deref()?, socket)?;
    let rec = registry::read(&path).ok().flatten()?;
    (rec.session_id == ctx.input.session_id).then(|| path.to_string_lossy().into_owned())
}

/// Asks Claude Code's registry about each session of this host that has a
/// registry file recorded and has not ended ([`Presence::alive`]).
fn confirm(sessions: &mut [Presence]) {
    let host = crate::env::host::host_name();
    for p in sessions
        .iter_mut()
        .filter(|p| p.ended.is_none() && p.host == host)
    {
        let Some(path) = p.registry.as_deref() else {
            continue;
        };
        p.alive = match registry::alive(Path::new(path), &p.session_id) {
            registry::Alive::Yes => Some(true),
            registry::Alive::No => Some(false),
            registry::Alive::Unknown => None,
        };
    }
}

/// What a listing of the presence folder found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Presences read, most recently heard first.
    pub sessions: Vec<Presence>,
    /// Files that could not be read or parsed.
    pub bad: usize,
    /// Files deleted (gone longer than [`KEEP_GONE`], stale temp files).
    pub pruned: usize,
}

fn is_presence_name(name: &str) -> bool {
    name.strip_suffix(".json")
        .is_some_and(|stem| stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Reads every presence file of the pool (at most [`MAX_PRESENCE_FILES`]).
/// With `prune`, deletes files of sessions gone longer than [`KEEP_GONE`]
/// and temp files older than [`KEEP_TEMP`]; failures to delete are ignored.
/// A missing folder is an empty listing; an unreadable one is an error.
pub fn list(pool_dir: &Path, now: i64, prune: bool) -> Result<Listing> {
    let d = dir(pool_dir);
    let rd = match std::fs::read_dir(&d) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Listing::default()),
        Err(e) => return Err(Error::io(&d, e)),
    };
    let mut out = Listing::default();
    for ent in rd.flatten().take(MAX_PRESENCE_FILES) {
        let name = ent.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = ent.path();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let old = ent
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > KEEP_TEMP as u64);
            if prune && old && std::fs::remove_file(&path).is_ok() {
                out.pruned += 1;
            }
            continue;
        }
        if !is_presence_name(name) {
            continue;
        }
        match load(&path) {
            Ok(Some(p)) => {
                if prune
                    && now.saturating_sub(p.last_heard()) > KEEP_GONE
                    && std::fs::remove_file(&path).is_ok()
                {
                    out.pruned += 1;
                    continue;
                }
                out.sessions.push(p);
            }
            Ok(None) => {}
            Err(_) => out.bad += 1,
        }
    }
    confirm(&mut out.sessions);
    out.sessions
        .sort_by_key(|p| std::cmp::Reverse((p.last_heard(), p.first_seen)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("ref: refs/heads/main\n", Some(Head::Branch("main".into())))]
    #[case("ref:refs/heads/feature/x-1", Some(Head::Branch("feature/x-1".into())))]
    #[case("ref: refs/remotes/origin/main", Some(Head::Branch("refs/remotes/origin/main".into())))]
    #[case(
        "0123456789ABCDEF0123456789abcdef01234567\n",
        Some(Head::Detached("0123456789abcdef0123456789abcdef01234567".into()))
    )]
    #[case(&"a".repeat(64), Some(Head::Detached("a".repeat(64))))]
    #[case("0123456789abcdef", None)]
    #[case("ref: ", None)]
    #[case("ref: refs/heads/a b", None)]
    #[case("ref: refs/heads/\u{1b}[31mred", None)]
    #[case("", None)]
    #[case("garbage", None)]
    fn head_files(#[case] text: &str, #[case] want: Option<Head>) {
        assert_eq!(parse_head(text), want);
    }

    #[test]
    fn overlong_branch_is_dropped() {
        let long = format!("ref: refs/heads/{}", "b".repeat(MAX_BRANCH + 1));
        assert_eq!(parse_head(&long), None);
    }

    #[rstest]
    #[case("gitdir: /r/.git/worktrees/wt\n", Some("/r/.git/worktrees/wt"))]
    #[case("gitdir: ../.git/modules/sub", Some("/base/../.git/modules/sub"))]
    #[case("\ngitdir:/abs", Some("/abs"))]
    #[case("gitdir:   ", None)]
    #[case("nonsense", None)]
    #[case("", None)]
    fn gitdir_files(#[case] text: &str, #[case] want: Option<&str>) {
        assert_eq!(
            parse_gitdir_file(text, Path::new("/base")),
            want.map(PathBuf::from)
        );
    }

    #[test]
    fn finds_worktrees_by_walking_up() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".git/worktrees/wt")).unwrap();
        std::fs::create_dir_all(repo.join("src/deep")).unwrap();
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        let got = git_place(&repo.join("src/deep")).unwrap();
        assert_eq!(got.worktree, repo);
        assert_eq!(got.branch.as_deref(), Some("main"));

        // A linked worktree: `.git` is a file naming its own gitdir.
        let wt = tmp.path().join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(
            repo.join(".git/worktrees/wt/HEAD"),
            format!("{}\n", "c".repeat(40)),
        )
        .unwrap();
        std::fs::write(wt.join(".git"), "gitdir: ../repo/.git/worktrees/wt\n").unwrap();
        let got = git_place(&wt).unwrap();
        assert_eq!(got.worktree, wt);
        assert_eq!(got.branch, None);
        assert_eq!(got.detached, Some("c".repeat(40)));

        // A `.git` file without a usable gitdir still names the worktree.
        std::fs::write(wt.join(".git"), "gitdir: /nowhere/at/all\n").unwrap();
        assert_eq!(
            git_place(&wt).unwrap(),
            GitPlace {
                worktree: wt.clone(),
                ..GitPlace::default()
            }
        );
        assert_eq!(git_place(Path::new("relative/path")), None);
    }

    fn seen(ends: bool) -> Observation {
        Observation {
            instance: "A".into(),
            session_id: "s1".into(),
            agent: "codex".into(),
            cwd: Some("/w".into()),
            git: Some(GitPlace {
                worktree: "/w".into(),
                branch: Some("main".into()),
                detached: None,
            }),
            repo: Some("gh/x".into()),
            host: "h".into(),
            ends,
            socket: None,
            permission_mode: None,
            registry: None,
        }
    }

    #[test]
    fn socket_and_mode_are_kept_when_an_event_lacks_them() {
        let mut first = seen(false);
        first.socket = Some("/tmp/cc-socks/1.sock".into());
        first.permission_mode = Some("default".into());
        let p = refresh(None, &first, 100).unwrap();
        // SessionStart carries no permission mode; a later event may lack the socket.
        let later = refresh(Some(&p), &seen(false), 200).unwrap();
        assert_eq!(later.socket.as_deref(), Some("/tmp/cc-socks/1.sock"));
        assert_eq!(later.permission_mode.as_deref(), Some("default"));
    }

    #[test]
    fn refresh_skips_unchanged_recent_files() {
        let first = refresh(None, &seen(false), 100).unwrap();
        assert_eq!(
            (first.first_seen, first.last_seen, first.ended),
            (100, 100, None)
        );
        assert_eq!(
            refresh(Some(&first), &seen(false), 101),
            None,
            "nothing new"
        );
        let later = refresh(Some(&first), &seen(false), 100 + REFRESH_EVERY).unwrap();
        assert_eq!(
            (later.first_seen, later.last_seen),
            (100, 100 + REFRESH_EVERY)
        );
        let mut moved = seen(false);
        moved.git.as_mut().unwrap().branch = Some("dev".into());
        assert_eq!(
            refresh(Some(&first), &moved, 101)
                .unwrap()
                .branch
                .as_deref(),
            Some("dev"),
            "a branch switch is written at once"
        );
        let ended = refresh(Some(&first), &seen(true), 101).unwrap();
        assert_eq!(ended.ended, Some(101));
        assert_eq!(ended.state(101), State::Gone);
        assert_eq!(
            refresh(Some(&ended), &seen(true), 102),
            None,
            "ended stays ended"
        );
        let resumed = refresh(Some(&ended), &seen(false), 102).unwrap();
        assert_eq!((resumed.ended, resumed.state(102)), (None, State::Active));
    }

    #[rstest]
    #[case(0, State::Active)]
    #[case(ACTIVE_WITHIN - 1, State::Active)]
    #[case(ACTIVE_WITHIN, State::Idle)]
    #[case(IDLE_WITHIN - 1, State::Idle)]
    #[case(IDLE_WITHIN, State::Gone)]
    #[case(-50, State::Active)]
    fn states_by_age(#[case] age: i64, #[case] want: State) {
        assert_eq!(State::by_age(1_000_000 - age, 1_000_000), want);
    }

    #[test]
    fn listing_prunes_long_gone_sessions() {
        let tmp = tempfile::tempdir().unwrap();
        let now = 10 * KEEP_GONE;
        let write = |inst: &str, sess: &str, last: i64| {
            let p = Presence {
                instance: inst.into(),
                session_id: sess.into(),
                last_seen: last,
                first_seen: last,
                ..Presence::default()
            };
            let path = file_path(tmp.path(), inst, sess);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, serde_json::to_vec(&p).unwrap()).unwrap();
        };
        write("A", "new", now - 10);
        write("A", "old", now - KEEP_GONE - 1);
        write("B", "mid", now - KEEP_GONE + 100);
        std::fs::write(
            dir(tmp.path()).join(format!("{}.json", "f".repeat(32))),
            "{oops",
        )
        .unwrap();
        std::fs::write(dir(tmp.path()).join("notes.txt"), "ignored").unwrap();
        let l = list(tmp.path(), now, false).unwrap();
        assert_eq!((l.sessions.len(), l.bad, l.pruned), (3, 1, 0));
        let l = list(tmp.path(), now, true).unwrap();
        let ids: Vec<_> = l.sessions.iter().map(|p| p.session_id.as_str()).collect();
        assert_eq!(ids, ["new", "mid"]);
        assert_eq!(l.pruned, 1);
        assert!(!file_path(tmp.path(), "A", "old").exists());
        assert!(
            list(&tmp.path().join("none"), now, true)
                .unwrap()
                .sessions
                .is_empty()
        );
    }

    #[test]
    fn the_agent_is_recorded_and_old_files_read_as_claude_code() {
        let p = refresh(None, &seen(false), 100).unwrap();
        assert_eq!(p.agent, "codex");
        assert_eq!(p.agent_name(), "codex");
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""agent":"codex""#));
        let old: Presence = serde_json::from_str(
            r#"{"instance":"A","session_id":"s","host":"h","first_seen":1,"last_seen":2}"#,
        )
        .unwrap();
        assert_eq!(old.agent_name(), "claude-code");
    }

    #[test]
    fn a_new_client_drops_the_old_registry_file() {
        let mut o = seen(false);
        o.socket = Some("/t/cc-socks/7.sock".into());
        o.registry = Some("/c/sessions/7.json".into());
        let old = refresh(None, &o, 100).unwrap();
        let mut same = o.clone();
        same.registry = None;
        assert_eq!(
            refresh(Some(&old), &same, 400).unwrap().registry.as_deref(),
            Some("/c/sessions/7.json")
        );
        let mut resumed = same.clone();
        resumed.socket = Some("/t/cc-socks/8.sock".into());
        assert_eq!(refresh(Some(&old), &resumed, 400).unwrap().registry, None);
    }

    #[rstest]
    #[case(Some(true), 10, State::Active)]
    #[case(Some(true), 2 * IDLE_WITHIN, State::Idle)]
    #[case(Some(false), 10, State::Gone)]
    #[case(None, 10, State::Active)]
    #[case(None, 2 * IDLE_WITHIN, State::Gone)]
    fn the_registry_overrides_hook_times(
        #[case] alive: Option<bool>,
        #[case] age: i64,
        #[case] want: State,
    ) {
        let p = Presence {
            last_seen: 10_000,
            alive,
            ..Presence::default()
        };
        assert_eq!(p.state(10_000 + age), want);
    }

    /// A registry file for this very process (it runs, so it is alive).
    #[cfg(target_os = "linux")]
    fn own_record(config: &Path, session: &str) -> PathBuf {
        use crate::agent::registry::{ProcStart, Procs, ThisMachine};
        let pid = std::process::id();
        let dir = config.join("sessions");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{pid}.json"));
        let rec = serde_json::json!({
            "pid": pid, "sessionId": session, "status": "idle",
            "procStart": match ThisMachine.start_time(pid) {
                ProcStart::Started(t) => t,
                other => panic!("no start time: {other:?}"),
            },
            "pidDomain": ThisMachine.domain().unwrap(),
        });
        std::fs::write(&path, rec.to_string()).unwrap();
        path
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn listing_asks_the_registry() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = tmp.path().join("pool");
        std::fs::create_dir_all(dir(&pool)).unwrap();
        let now = 1_000_000;
        let reg = own_record(&tmp.path().join("config"), "s1");
        let write = |sess: &str, last: i64, registry: Option<&Path>| {
            let p = Presence {
                instance: "A".into(),
                session_id: sess.into(),
                host: crate::env::host::host_name(),
                first_seen: last,
                last_seen: last,
                registry: registry.map(|r| r.to_string_lossy().into_owned()),
                ..Presence::default()
            };
            std::fs::write(file_path(&pool, "A", sess), serde_json::to_vec(&p).unwrap()).unwrap();
        };
        // Quiet for two hours, but its client still runs: idle, not gone.
        write("s1", now - 2 * IDLE_WITHIN, Some(&reg));
        // Seen ten seconds ago, but its client is no longer listed: gone.
        let gone = reg.with_file_name("999999.json");
        write("s2", now - 10, Some(&gone));
        // No registry recorded: by hook times.
        write("s3", now - 10, None);
        let l = list(&pool, now, false).unwrap();
        let state = |s: &str| {
            l.sessions
                .iter()
                .find(|p| p.session_id == s)
                .unwrap()
                .state(now)
        };
        assert_eq!(state("s1"), State::Idle);
        assert_eq!(state("s2"), State::Gone);
        assert_eq!(state("s3"), State::Active);
        // The client exits: its file goes, and so does the session.
        std::fs::remove_file(&reg).unwrap();
        let l = list(&pool, now, false).unwrap();
        assert_eq!(
            l.sessions
                .iter()
                .find(|p| p.session_id == "s1")
                .unwrap()
                .state(now),
            State::Gone
        );
        // Stored files never carry the runtime verdict.
        let stored = std::fs::read_to_string(file_path(&pool, "A", "s1")).unwrap();
        assert!(!stored.contains("alive"), "{stored}");
    }
}
