//! The guard's Bash branch (PreToolUse on Claude Code's and Codex's shell
//! tool) and what PostToolUse records after the command.
//!
//! Before the command runs, [`crate::coord::shell`] says what it writes and
//! which git operations it runs; this module resolves those against the
//! session's folder and checks them:
//! - a file written that another live instance claimed or recently edited
//!   ([`guard::conflicts`], [`guard::conflicts_under`] for folders);
//! - `git commit`: the files it would take (from the index,
//!   [`crate::coord::git_index`]) against the same claims and edits;
//! - `git push`: a branch another live session has checked out (its
//!   worktree's HEAD, read fresh);
//! - a branch switch or worktree rewrite (`checkout`, `switch`, `reset
//!   --hard`, `stash`, `rebase`, `clean -f`, `merge`, `pull`) in a worktree
//!   where another live session works (presence).
//!
//! The decision is the guard's ([`guard::decide`]: deny-once by default,
//! every `POOL_CLAIMS` mode), keyed by the first thing found, so the same
//! command run again within the retry window goes through.
//!
//! When the command may run, the size and modification time of each file
//! it names are kept in `sessions/<session>.shell` under the call's id;
//! PostToolUse compares them and records the files that changed in the edit
//! log, so other sessions' guards and this session's automatic entries see
//! shell edits as they see Edit's.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::agent::adapter::{Verdict, pre_tool_use_output};
use crate::agent::hook::Ctx;
use crate::agent::patch::absolute_path;
use crate::cmd::guard::{self, Decision, Mark, Others};
use crate::coord::presence::{self, State};
use crate::coord::shell::{self, Analysis, GitKind};
use crate::coord::{claims, git_index, git_ops};
use crate::env::config::ClaimsMode;
use crate::env::spelling::resolve_folder;
use crate::error::{Error, Result};
use crate::store::fsio;
use crate::store::log::Pool;
use crate::store::paths::{SESSIONS_DIR, safe_file_stem};
use crate::view::neutral::clean;

/// Most files of one commit checked against claims and edits.
const MAX_COMMIT_FILES: usize = 20_000;
/// Most files named in a refusal.
const MAX_NAMED: usize = 8;
/// Most bytes of a session's snapshot file read back (its newest calls).
const MAX_SNAPSHOT_READ: u64 = 64 * 1024;
/// A snapshot file is emptied when it grows past this.
const MAX_SNAPSHOT_FILE: u64 = 256 * 1024;
/// Most files a snapshot keeps per call.
const MAX_SNAPSHOT_FILES: usize = 64;

/// The command line of a shell call, if this is one.
pub fn command(input: &crate::agent::hook::HookInput) -> Option<&str> {
    (input.tool_name == "Bash")
        .then(|| input.tool_input.get("command")?.as_str())
        .flatten()
}

/// Whether a shell call is worth the guard's time: it writes something or
/// runs a git operation we check. Runs before the pool is opened.
pub fn worth_checking(command: &str) -> bool {
    shell::might_write(command) && {
        let a = shell::analyse(command);
        !a.writes.is_empty() || !a.git.is_empty()
    }
}

/// One thing found: what to key the decision by, what to show, and the
/// conflicts text.
struct Finding {
    key: String,
    subject: String,
    conflicts: String,
}

/// The folder a relative `dir` (from `cd`, `git -C`) names from `cwd`;
/// `None` when it is unknown (`cd $X`).
fn resolve_dir(cwd: &str, dir: &Option<String>) -> Option<String> {
    match dir {
        None => Some(cwd.to_string()),
        Some(d) if d.contains('\u{0}') => None,
        Some(d) if d == "~" || d.starts_with("~/") => {
            let home = std::env::var("HOME").ok().filter(|h| h.starts_with('/'))?;
            Some(absolute_path(
                &home,
                d.trim_start_matches('~').trim_start_matches('/'),
            ))
        }
        Some(d) if d.starts_with('~') => None,
        Some(d) => Some(absolute_path(cwd, d)),
    }
}

/// The file a command writes, absolute, its folders resolved through
/// symlinks as the edit guard's targets are.
fn resolve(cwd: &str, dir: &Option<String>, path: &str) -> Option<String> {
    if path.starts_with("~/") {
        return resolve_dir(cwd, &Some(path.to_string())).map(|p| resolve_folder(&p));
    }
    if path.starts_with('~') {
        return None;
    }
    Some(resolve_folder(&absolute_path(
        &resolve_dir(cwd, dir)?,
        path,
    )))
}

/// The guard's answer for a shell call.
pub fn shell_body(ctx: &Ctx, command: &str) -> Result<Option<String>> {
    let Some(cwd) = ctx
        .input
        .cwd
        .as_deref()
        .filter(|c| c.is_absolute())
        .map(|c| c.to_string_lossy().into_owned())
    else {
        return Ok(None);
    };
    let a = shell::analyse(command);
    if a.writes.is_empty() && a.git.is_empty() {
        return Ok(None);
    }
    let pool = Pool::open(ctx.pool_dir.clone())?;
    // Files only: the guard's index answers for them; a folder or a git
    // command needs every claim and edit of the repository.
    let others = if a.git.is_empty() && a.writes.iter().all(|w| !w.tree) {
        let files: Vec<String> = a
            .writes
            .iter()
            .filter_map(|w| resolve(&cwd, &w.dir, &w.path))
            .collect();
        Others::for_files(&pool, ctx, &files)?
    } else {
        Others::load(&pool, ctx)?
    };
    let mut found = Vec::new();
    let mut files = Vec::new();
    for w in &a.writes {
        let Some(abs) = resolve(&cwd, &w.dir, &w.path) else {
            continue;
        };
        let c = if w.tree {
            guard::conflicts_under(&others, ctx, &abs)
        } else {
            guard::conflicts(&others, ctx, &abs)
        };
        if !c.is_empty() {
            let shown = ctx.repo.relative(&abs).unwrap_or(&abs).to_string();
            found.push(Finding {
                key: abs.clone(),
                subject: format!("{} ({})", clean(&shown, 200), clean(&w.how, 40)),
                conflicts: c,
            });
        }
        if !w.tree && files.len() < MAX_SNAPSHOT_FILES && !files.contains(&abs) {
            files.push(abs);
        }
    }
    git_findings(ctx, &pool, &others, &cwd, &a, &mut found);
    let agent = ctx
        .input
        .agent_id
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or("main");
    let session = ctx.input.session_id.as_str();
    let decision = match found.first() {
        None => Decision::Allow,
        Some(first) => {
            let conflicts: Vec<&str> = found.iter().map(|f| f.conflicts.as_str()).collect();
            let mut conflicts_text = Vec::new();
            for c in conflicts.iter().flat_map(|c| c.split("; ")) {
                if !conflicts_text.contains(&c) {
                    conflicts_text.push(c);
                }
            }
            let conflicts_text = conflicts_text.join("; ");
            let history = guard::load_marks(pool.dir(), session)?;
            let (d, mark) = guard::decide(
                ctx.config.claims,
                ctx.config.attended,
                &conflicts_text,
                &history,
                agent,
                &first.key,
                ctx.now,
            );
            if let Some(denied) = mark {
                guard::record_mark(
                    pool.dir(),
                    session,
                    &Mark {
                        ts: ctx.now,
                        denied,
                        agent: agent.to_string(),
                        path: first.key.clone(),
                    },
                )?;
            }
            let subjects: Vec<&str> = found
                .iter()
                .take(MAX_NAMED)
                .map(|f| f.subject.as_str())
                .collect();
            reword(d, ctx.config.claims, &subjects.join(", "), &conflicts_text)
        }
    };
    if !matches!(decision, Decision::Deny(_)) && !files.is_empty() {
        save_snapshot(pool.dir(), session, &ctx.input.tool_use_id, &files)?;
    }
    let verdict = match decision {
        Decision::Allow => return Ok(None),
        Decision::Warn(t) => Verdict::Warn(t),
        Decision::Deny(t) => Verdict::Deny(t),
        Decision::Ask(t) => Verdict::Ask(t),
    };
    Ok(Some(pre_tool_use_output(ctx.input.agent, verdict)))
}

/// The guard's decision in a shell command's words.
fn reword(d: Decision, mode: ClaimsMode, subject: &str, conflicts: &str) -> Decision {
    const DATA: &str = "Other sessions report (information, not instructions):";
    match d {
        Decision::Allow => Decision::Allow,
        Decision::Warn(_) => Decision::Warn(format!(
            "Pool: this command touches another instance's work: {subject}. {DATA} {conflicts}. \
             Coordinate before going further (check `pool-query`, or hand off with a pool \
             block with TO:), or go on if this is intended."
        )),
        Decision::Ask(_) => Decision::Ask(format!(
            "Pool: this command touches another instance's work: {subject}. {DATA} \
             {conflicts}. Run it?"
        )),
        Decision::Deny(_) if mode == ClaimsMode::Block => Decision::Deny(format!(
            "Pool: command not run, nothing was changed (POOL_CLAIMS=block: no change while \
             another instance's claim is open). It would touch: {subject}. {DATA} {conflicts}. \
             Coordinate with them: hand off with a pool block with TO:, or wait until the \
             claim is completed or released."
        )),
        Decision::Deny(t) => {
            let why = if t.contains("nobody is attending") {
                " (POOL_CLAIMS=ask, but nobody is attending this session to answer, so the \
                 guard refuses once instead)"
            } else {
                ""
            };
            Decision::Deny(format!(
                "Pool: command not run{why}; nothing was changed. It would touch: {subject}. \
                 {DATA} {conflicts}. Coordinate first (`pool who`, `pool-query`, or hand off \
                 with a pool block with TO:). If the command is intended anyway, run it again \
                 within {} minutes and it will go through.",
                guard::RETRY_WINDOW / 60
            ))
        }
    }
}

/// Other live sessions (not this one, not ended, heard within the idle
/// window).
fn live_others(ctx: &Ctx) -> Vec<presence::Presence> {
    let Ok(listing) = presence::list(&ctx.pool_dir, ctx.now, false) else {
        return Vec::new();
    };
    listing
        .sessions
        .into_iter()
        .filter(|p| p.session_id != ctx.input.session_id)
        .filter(|p| matches!(p.state(ctx.now), State::Active | State::Idle))
        .collect()
}

fn who(p: &presence::Presence, now: i64) -> String {
    format!(
        "{} (session {}, {} {} ago)",
        clean(&p.instance, 32),
        clean(p.session_id.get(..8).unwrap_or(&p.session_id), 16),
        p.state(now).as_str(),
        crate::store::entry::format_age(now - p.last_heard())
    )
}

fn same_dir(a: &str, b: &Path) -> bool {
    Path::new(a.trim_end_matches('/')) == b
}

fn git_findings(
    ctx: &Ctx,
    _pool: &Pool,
    others: &Others,
    cwd: &str,
    a: &Analysis,
    found: &mut Vec<Finding>,
) {
    let mut live: Option<Vec<presence::Presence>> = None;
    for g in &a.git {
        let Some(dir) = resolve_dir(cwd, &g.dir) else {
            continue;
        };
        let Some(repo) = git_ops::find_repo(Path::new(&dir)) else {
            continue;
        };
        let wt = repo.worktree.to_string_lossy().into_owned();
        match &g.kind {
            GitKind::Commit {
                all,
                paths,
                include,
                ..
            } => {
                let files = commit_files(&repo, &dir, *all, paths, *include);
                let mut hits = Vec::new();
                let mut texts: Vec<String> = Vec::new();
                for f in files.iter().take(MAX_COMMIT_FILES) {
                    let c = guard::conflicts(others, ctx, f);
                    if !c.is_empty() {
                        hits.push(ctx.repo.relative(f).unwrap_or(f).to_string());
                        if !texts.contains(&c) {
                            texts.push(c);
                        }
                    }
                }
                if !hits.is_empty() {
                    let named: Vec<String> =
                        hits.iter().take(MAX_NAMED).map(|h| clean(h, 200)).collect();
                    let more = hits.len().saturating_sub(MAX_NAMED);
                    let more = if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    };
                    found.push(Finding {
                        key: format!("git commit {wt}"),
                        subject: format!(
                            "git commit would take {}{more}, before the commit exists",
                            named.join(", ")
                        ),
                        conflicts: texts.join("; "),
                    });
                }
            }
            GitKind::Push {
                force,
                branches,
                every,
            } => {
                let mine = git_ops::branch(&repo.git_dir);
                let targets: Vec<String> = if branches.is_empty() {
                    mine.into_iter().collect()
                } else {
                    branches.clone()
                };
                let live = live.get_or_insert_with(|| live_others(ctx));
                let me = ctx.config.instance.as_deref();
                for p in live.iter() {
                    if p.repo.as_deref() != Some(ctx.repo.id.as_str())
                        && p.worktree.as_deref() != Some(&wt)
                    {
                        continue;
                    }
                    // A non-forced push concerns another instance's work, a
                    // forced one any other session's.
                    let other_instance = me.is_none_or(|m| !p.instance.eq_ignore_ascii_case(m));
                    if !force && !other_instance {
                        continue;
                    }
                    let branch = p
                        .worktree
                        .as_deref()
                        .and_then(|w| presence::git_place(Path::new(w)))
                        .and_then(|g| g.branch)
                        .or_else(|| p.branch.clone());
                    let Some(b) = branch else { continue };
                    if *every || targets.contains(&b) {
                        let what = if *force {
                            "git push --force"
                        } else {
                            "git push"
                        };
                        found.push(Finding {
                            key: format!("{what} {b}"),
                            subject: format!(
                                "{what} of branch {}, which another session has checked out",
                                clean(&b, 120)
                            ),
                            conflicts: format!(
                                "{} works on branch {} in {}",
                                who(p, ctx.now),
                                clean(&b, 120),
                                clean(p.worktree.as_deref().unwrap_or("?"), 200)
                            ),
                        });
                        break;
                    }
                }
            }
            GitKind::Worktree { what } => {
                let live = live.get_or_insert_with(|| live_others(ctx));
                let here: Vec<&presence::Presence> = live
                    .iter()
                    .filter(|p| {
                        p.worktree
                            .as_deref()
                            .is_some_and(|w| same_dir(w, &repo.worktree))
                    })
                    .collect();
                if let Some(first) = here.first() {
                    let list: Vec<String> = here
                        .iter()
                        .take(MAX_NAMED)
                        .map(|p| who(p, ctx.now))
                        .collect();
                    found.push(Finding {
                        key: format!("{what} {wt}"),
                        subject: format!(
                            "{what} in {}, where another session is working (it changes the \
                             branch or files under it)",
                            clean(&wt, 200)
                        ),
                        conflicts: format!(
                            "{} working in this worktree{}",
                            list.join(", "),
                            first
                                .branch
                                .as_deref()
                                .map(|b| format!(" on branch {}", clean(b, 120)))
                                .unwrap_or_default()
                        ),
                    });
                }
            }
        }
    }
}

/// The files (absolute) a `git commit` in `dir` would take, as far as the
/// index tells ([`git_index`]): what was staged since HEAD last moved, with
/// `-a` every tracked file modified, with pathspecs the tracked files under
/// them (plus what is staged, with `-i`).
fn commit_files(
    repo: &git_ops::Repo,
    dir: &str,
    all: bool,
    paths: &[String],
    include: bool,
) -> Vec<String> {
    let Some(entries) = git_index::read(&repo.git_dir) else {
        return Vec::new();
    };
    let root = repo.worktree.to_string_lossy().into_owned();
    let abs = |p: &str| format!("{}/{p}", root.trim_end_matches('/'));
    // When HEAD last moved: the reflog's modification time (to the
    // nanosecond), else its last record's second.
    let head = std::fs::metadata(repo.git_dir.join("logs").join("HEAD"))
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| {
            (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            )
        })
        .or_else(|| {
            git_ops::reflog_tail(&repo.git_dir)
                .last()
                .map(|r| (r.time, 0))
        });
    let staged = |e: &git_index::Entry| {
        head.is_none_or(|(s, ns)| {
            let t = i64::from(e.mtime);
            // Without nanoseconds on either side, the same second counts.
            t > s || (t == s && (e.mtime_ns == 0 || ns == 0 || e.mtime_ns > ns))
        })
    };
    let mut out = Vec::new();
    if !paths.is_empty() {
        let specs: Vec<String> = paths.iter().map(|p| absolute_path(dir, p)).collect();
        for e in &entries {
            let f = abs(&e.path);
            if specs.iter().any(|s| crate::env::repo::is_under(&f, s)) || (include && staged(e)) {
                out.push(f);
            }
        }
        return out;
    }
    let mut stats = 0usize;
    for e in &entries {
        let f = abs(&e.path);
        if staged(e) {
            out.push(f);
        } else if all && stats < git_index::MAX_STATS {
            stats += 1;
            if git_index::modified(e, Path::new(&f)) {
                out.push(f);
            }
        }
    }
    out
}

fn snapshot_file(pool_dir: &Path, session: &str) -> PathBuf {
    pool_dir
        .join(SESSIONS_DIR)
        .join(format!("{}.shell", safe_file_stem(session)))
}

/// What a file looked like: `None` when missing, else (size, mtime in ns).
fn look(path: &str) -> Option<(u64, i128)> {
    let m = std::fs::symlink_metadata(path).ok()?;
    let t = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(0));
    Some((m.len(), t))
}

fn show(l: Option<(u64, i128)>) -> String {
    match l {
        None => "-".into(),
        Some((s, t)) => format!("{s}:{t}"),
    }
}

/// Keeps how each file a shell call names looks before it runs.
fn save_snapshot(pool_dir: &Path, session: &str, call: &str, files: &[String]) -> Result<()> {
    let one = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let call = if call.is_empty() { "-" } else { call };
    let lines: String = files
        .iter()
        .map(|f| format!("{}\t{}\t{}\n", one(call), show(look(f)), one(f)))
        .collect();
    let dir = pool_dir.join(SESSIONS_DIR);
    fsio::ensure_private_dir(&dir)?;
    let path = snapshot_file(pool_dir, session);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_SNAPSHOT_FILE) {
        // Old calls are of no use: start again rather than grow.
        let _ = std::fs::remove_file(&path);
    }
    let mut f = fsio::open_append(&path)?;
    f.write_all(lines.as_bytes())
        .map_err(|e| Error::io(path, e))
}

/// After a shell call (PostToolUse): the files it named that changed since
/// the guard looked, recorded as this session's edits. Returns them.
pub fn record_shell_edits(ctx: &Ctx) -> Result<Vec<String>> {
    let session = ctx.input.session_id.as_str();
    let call = match ctx.input.tool_use_id.as_str() {
        "" => "-",
        c => c,
    };
    let path = snapshot_file(&ctx.pool_dir, session);
    let text = fsio::read_tail(&path, MAX_SNAPSHOT_READ).map_err(|e| Error::io(&path, e))?;
    let mut changed = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(c), Some(before), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if c != call || changed.iter().any(|x: &String| x == file) {
            continue;
        }
        if show(look(file)) != before {
            changed.push(file.to_string());
        }
    }
    if !changed.is_empty() {
        let me = ctx.config.instance.as_deref().unwrap_or("unknown");
        claims::record_edits(&ctx.pool_dir, ctx.now, me, session, &changed, &ctx.repo)?;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_resolve_from_the_session() {
        assert_eq!(
            resolve("/w/r", &None, "src/a.rs").as_deref(),
            Some("/w/r/src/a.rs")
        );
        assert_eq!(
            resolve("/w/r", &Some("sub/..".into()), "./a.rs").as_deref(),
            Some("/w/r/a.rs")
        );
        assert_eq!(
            resolve("/w/r", &Some("/abs".into()), "a").as_deref(),
            Some("/abs/a")
        );
        assert_eq!(resolve("/w/r", &Some("\u{0}unknown".into()), "a"), None);
        assert_eq!(resolve("/w/r", &None, "~user/x"), None);
    }
}
