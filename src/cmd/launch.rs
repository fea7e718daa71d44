//! `pool launch`: starts a team of instances in one tmux session, one window
//! each, with `CLAUDE_INSTANCE`, `CLAUDE_INSTANCE_DOMAIN` (from `config.json`)
//! and `POOL_DIR` set, optionally each in its own git worktree; checks that
//! every window's command is still running a moment later (else it reports
//! which failed, with its output, and ends the session); and
//! `pool launch --stop [--clean]` ends that session (and removes the
//! worktrees and branches its launch created).
//!
//! `git` and `tmux` run as subprocesses: this is a command a person runs, not
//! a hook. What to run is planned without I/O ([`windows`], [`tmux_commands`],
//! [`worktree_path`], [`hint`]) so it can be tested on its own.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cmd::cli::LaunchArgs;
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::env::config::{self, ConfigFile};
use crate::error::{Error, Result};
use crate::store::fsio;
use crate::store::log::Pool;
use crate::store::paths::{Locator, validate_instance};

const PROGRAM: &str = "pool launch";

/// How long after starting the windows their commands must still run, in
/// milliseconds: a command that is missing or exits at once is a failed start.
pub const START_CHECK_MS: u64 = 1500;
/// Most lines of a failed window's output quoted in the error.
const FAILED_OUTPUT_LINES: usize = 15;
/// How many times, 50 ms apart, to ask tmux for a dead pane's exit status.
const STATUS_POLLS: usize = 20;
/// Prefix of the branch each instance's worktree gets (`pool/A`).
pub const BRANCH_PREFIX: &str = "pool/";

/// One tmux window to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The instance, also the window's name.
    pub instance: String,
    /// Where the command starts.
    pub dir: PathBuf,
    /// Variables set for the command, in order.
    pub env: Vec<(String, String)>,
}

/// Runs `pool launch`; returns the exit code.
pub fn run(args: &LaunchArgs) -> i32 {
    let result = if args.stop { stop(args) } else { launch(args) };
    match result {
        Ok(msg) => {
            println!("{msg}");
            EXIT_OK
        }
        Err(e) => {
            eprint_error(PROGRAM, &e.to_string());
            EXIT_ERROR
        }
    }
}

/// The domain keywords of `instance` in `config.json`: its `instances` entry,
/// else the older `domains` map (the same precedence as the hooks).
pub fn domain_of(config: &ConfigFile, instance: &str) -> Vec<String> {
    config
        .instances
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(instance))
        .map(|(_, i)| i.domain.clone())
        .filter(|d| !d.is_empty())
        .or_else(|| {
            config
                .domains
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(instance))
                .map(|(_, d)| d.clone())
        })
        .unwrap_or_default()
}

/// The role of `instance` in `config.json`, its name matched ignoring case.
pub fn role_of<'c>(config: &'c ConfigFile, instance: &str) -> Option<&'c str> {
    config
        .instances
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(instance))
        .and_then(|(_, i)| i.role.as_deref())
}

/// The spelling `config.json` gives `name` (matched ignoring case), else `name`.
fn canonical(config: &ConfigFile, name: &str) -> String {
    config
        .instances
        .keys()
        .chain(config.domains.keys())
        .find(|n| n.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_string())
}

/// The instances to start: those named, else those in `config.json`; names
/// are checked, spelled as in `config.json` when they match one there
/// ignoring case, and repeats (ignoring case) dropped. Fails on an invalid
/// name or when there is none.
pub fn instances(named: &[String], config: &ConfigFile) -> Result<Vec<String>> {
    let names: Vec<String> = if named.is_empty() {
        config.instances.keys().cloned().collect()
    } else {
        named.to_vec()
    };
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = canonical(config, n.trim());
        validate_instance(&n).map_err(Error::Invalid)?;
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&n)) {
            out.push(n);
        }
    }
    if out.is_empty() {
        return Err(Error::Invalid(
            "no instances: name them (pool launch A B C) or list them in config.json".into(),
        ));
    }
    Ok(out)
}

/// Checks a tmux session name: an instance-like name without `.` (tmux
/// reserves `.` and `:` in targets).
pub fn validate_session(name: &str) -> Result<()> {
    validate_instance(name).map_err(|e| Error::Invalid(format!("session: {e}")))?;
    if name.contains('.') {
        return Err(Error::Invalid(format!(
            "session name {name:?} contains '.'"
        )));
    }
    Ok(())
}

/// The windows for `instances`, each starting in `dir_of(instance)`.
pub fn windows(
    instances: &[String],
    config: &ConfigFile,
    pool_dir: &Path,
    dir_of: impl Fn(&str) -> PathBuf,
) -> Vec<Window> {
    instances
        .iter()
        .map(|inst| Window {
            instance: inst.clone(),
            dir: dir_of(inst),
            env: vec![
                ("CLAUDE_INSTANCE".into(), inst.clone()),
                (
                    "CLAUDE_INSTANCE_DOMAIN".into(),
                    domain_of(config, inst).join(","),
                ),
                ("POOL_DIR".into(), pool_dir.display().to_string()),
            ],
        })
        .collect()
}

/// The tmux argument lists (after `tmux [-L socket]`) that open `windows` in
/// a new detached session, each running `command` through the shell. Every
/// window sets every variable, so none inherits another's from the session.
/// Each window is kept when its command exits (`remain-on-exit`, set in the
/// same tmux call so no exit can come first) until the start is checked.
pub fn tmux_commands(session: &str, windows: &[Window], command: &str) -> Vec<Vec<String>> {
    windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let mut argv: Vec<String> = if i == 0 {
                vec![
                    "new-session".into(),
                    "-d".into(),
                    "-s".into(),
                    session.into(),
                ]
            } else {
                vec![
                    "new-window".into(),
                    "-d".into(),
                    "-t".into(),
                    format!("={session}:"),
                ]
            };
            argv.extend(["-n".into(), w.instance.clone()]);
            argv.extend(["-c".into(), w.dir.display().to_string()]);
            for (k, v) in &w.env {
                argv.extend(["-e".into(), format!("{k}={v}")]);
            }
            argv.push(command.into());
            argv.extend(remain_on_exit(session, &w.instance, true));
            argv
        })
        .collect()
}

/// `; set-option -w -t =SESSION:=WINDOW remain-on-exit on|off`.
fn remain_on_exit(session: &str, window: &str, on: bool) -> Vec<String> {
    vec![
        ";".into(),
        "set-option".into(),
        "-w".into(),
        "-t".into(),
        format!("={session}:={window}"),
        "remain-on-exit".into(),
        if on { "on" } else { "off" }.into(),
    ]
}

/// The `pool launch` command line that repeats the options that select the
/// session (`--session`, `-L`), followed by `rest`: hints that work as printed.
pub fn hint(session: &str, socket: Option<&str>, rest: &str) -> String {
    let mut h = format!("pool launch {rest} --session {session}");
    if let Some(s) = socket {
        h.push_str(&format!(" -L {s}"));
    }
    h
}

/// Where the worktree of `instance` goes: beside the repository, named
/// `<repo>-<instance>`.
pub fn worktree_path(toplevel: &Path, instance: &str) -> PathBuf {
    let repo = toplevel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "repo".into());
    toplevel
        .parent()
        .unwrap_or(toplevel)
        .join(format!("{repo}-{instance}"))
}

/// Runs a program and returns its trimmed stdout; fails with its stderr.
fn output(program: &str, args: &[impl AsRef<OsStr>]) -> Result<(bool, String, String)> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| Error::Invalid(format!("cannot run {program}: {e}")))?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
    ))
}

fn checked(program: &str, args: &[impl AsRef<OsStr>]) -> Result<String> {
    let (ok, stdout, stderr) = output(program, args)?;
    if ok {
        Ok(stdout)
    } else {
        let shown: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        Err(Error::Invalid(format!(
            "{program} {} failed: {stderr}",
            shown.join(" ")
        )))
    }
}

/// The tmux client: `tmux [-L socket] …`.
struct Tmux<'a> {
    socket: Option<&'a str>,
}

impl Tmux<'_> {
    fn args(&self, rest: &[String]) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(s) = self.socket {
            v.extend(["-L".to_string(), s.to_string()]);
        }
        v.extend(rest.iter().cloned());
        v
    }

    fn run(&self, rest: &[String]) -> Result<String> {
        checked("tmux", &self.args(rest))
    }

    fn has_session(&self, session: &str) -> Result<bool> {
        let (ok, _, _) = output(
            "tmux",
            &self.args(&["has-session".into(), "-t".into(), format!("={session}")]),
        )?;
        Ok(ok)
    }

    fn kill_session(&self, session: &str) {
        let _ = output(
            "tmux",
            &self.args(&["kill-session".into(), "-t".into(), format!("={session}")]),
        );
    }

    /// Each window of `session` whose command has exited: its name and exit
    /// status (`signal N` when a signal ended it). tmux marks a pane dead
    /// when its terminal closes, which can come a moment before it reaps the
    /// process and knows the status: ask again, briefly, until it does.
    fn dead_windows(&self, session: &str) -> Result<Vec<(String, String)>> {
        let mut dead = Vec::new();
        for _ in 0..STATUS_POLLS {
            let listing = self.run(&[
                "list-panes".into(),
                "-s".into(),
                "-t".into(),
                format!("={session}"),
                "-F".into(),
                "#{pane_dead}\t#{pane_dead_status}\t#{pane_dead_signal}\t#{window_name}".into(),
            ])?;
            dead = listing
                .lines()
                .filter_map(|l| {
                    let mut f = l.splitn(4, '\t');
                    let (d, status, signal, name) = (f.next()?, f.next()?, f.next()?, f.next()?);
                    let status = match (status, signal) {
                        ("", "") => String::new(),
                        ("", s) => format!("signal {s}"),
                        (s, _) => s.to_string(),
                    };
                    (d == "1").then(|| (name.to_string(), status))
                })
                .collect::<Vec<_>>();
            if dead.iter().all(|(_, s)| !s.is_empty()) {
                break;
            }
            // A pane whose command exited can stay without its status for
            // good: tmux built with utempter discards a pending SIGCHLD while
            // it removes the pane's utmp record, and reaps the child only at
            // the next SIGCHLD (seen with tmux 3.3a, 3 windows in 30). Any
            // child of the server ending is such a signal: a `run-shell` job.
            let _ = self.run(&["run-shell".into(), "true".into()]);
            std::thread::sleep(Duration::from_millis(50));
        }
        for (_, s) in &mut dead {
            if s.is_empty() {
                *s = "?".into();
            }
        }
        Ok(dead)
    }

    /// The last lines a window showed, without tmux's own "Pane is dead" line.
    fn last_output(&self, session: &str, window: &str) -> String {
        let (_, text, _) = output(
            "tmux",
            &self.args(&[
                "capture-pane".into(),
                "-p".into(),
                "-S".into(),
                "-200".into(),
                "-t".into(),
                format!("={session}:={window}"),
            ]),
        )
        .unwrap_or_default();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty() && !l.starts_with("Pane is dead"))
            .collect();
        lines[lines.len().saturating_sub(FAILED_OUTPUT_LINES)..].join("\n")
    }

    fn attach_hint(&self, session: &str) -> String {
        match self.socket {
            Some(s) => format!("tmux -L {s} attach -t {session}"),
            None => format!("tmux attach -t {session}"),
        }
    }
}

/// What a launch created, kept in the pool folder so `--stop --clean`
/// removes exactly that.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Created {
    /// Worktrees created, with the repository and branch.
    #[serde(default)]
    worktrees: Vec<CreatedWorktree>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct CreatedWorktree {
    repo: PathBuf,
    path: PathBuf,
    branch: String,
    /// Whether the branch was created too (else it existed and is kept).
    new_branch: bool,
}

fn created_path(pool_dir: &Path, session: &str) -> PathBuf {
    pool_dir.join("launch").join(format!("{session}.json"))
}

fn load_created(pool_dir: &Path, session: &str) -> Created {
    std::fs::read(created_path(pool_dir, session))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn save_created(pool_dir: &Path, session: &str, c: &Created) -> Result<()> {
    let path = created_path(pool_dir, session);
    if c.worktrees.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&path, e)),
            _ => Ok(()),
        };
    }
    fsio::ensure_private_dir(&pool_dir.join("launch"))?;
    let bytes = serde_json::to_vec_pretty(c).map_err(|e| Error::Invalid(e.to_string()))?;
    fsio::replace_file(&path, &bytes, 0o600)
}

/// Creates (or reuses) the worktree of `instance`. An existing folder is
/// reused only when it is a worktree of this repository on the instance's
/// branch; anything else is refused with what was found.
fn ensure_worktree(toplevel: &Path, instance: &str) -> Result<(PathBuf, Option<CreatedWorktree>)> {
    let path = worktree_path(toplevel, instance);
    let branch = format!("{BRANCH_PREFIX}{instance}");
    let top = toplevel.display().to_string();
    let p = path.display().to_string();
    if path.exists() {
        let common = |dir: &str| -> Option<PathBuf> {
            let (ok, out, _) = output(
                "git",
                &[
                    "-C",
                    dir,
                    "rev-parse",
                    "--path-format=absolute",
                    "--git-common-dir",
                ],
            )
            .ok()?;
            ok.then(|| PathBuf::from(out).canonicalize().ok()).flatten()
        };
        let (_, own_top, _) = output("git", &["-C", &p, "rev-parse", "--show-toplevel"])?;
        let same_repo = common(&p).is_some_and(|c| Some(c) == common(&top))
            && Path::new(&own_top).canonicalize().ok() == path.canonicalize().ok();
        if !same_repo {
            return Err(Error::Invalid(format!(
                "{p} exists but is not a worktree of {top}; move it away or remove it, \
                 then launch again"
            )));
        }
        let (_, head, _) = output(
            "git",
            &["-C", &p, "symbolic-ref", "--quiet", "--short", "HEAD"],
        )?;
        if head != branch {
            let on = if head.is_empty() {
                "a detached HEAD".to_string()
            } else {
                format!("branch {head}")
            };
            return Err(Error::Invalid(format!(
                "{p} is a worktree of this repository on {on}, not {branch}; \
                 `git -C {p} switch {branch}` or remove it, then launch again"
            )));
        }
        return Ok((path, None));
    }
    let (exists, _, _) = output(
        "git",
        &[
            "-C",
            &top,
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ],
    )?;
    if exists {
        checked("git", &["-C", &top, "worktree", "add", &p, &branch])?;
    } else {
        checked("git", &["-C", &top, "worktree", "add", &p, "-b", &branch])?;
    }
    Ok((
        path.clone(),
        Some(CreatedWorktree {
            repo: toplevel.to_path_buf(),
            path,
            branch,
            new_branch: !exists,
        }),
    ))
}

fn launch(args: &LaunchArgs) -> Result<String> {
    validate_session(&args.session)?;
    let pool_dir = Locator::from_env(None).pool_dir()?;
    // Create the pool now so every instance finds the same one.
    let pool = Pool::open(pool_dir)?;
    let config = config::load_config_file(pool.dir())?;
    let names = instances(&args.instances, &config)?;
    let socket = args.socket.as_deref();
    let tmux = Tmux { socket };
    if tmux.has_session(&args.session)? {
        return Err(Error::Invalid(format!(
            "tmux session {:?} is already running; `{}` ends it, `{}` watches it",
            args.session,
            hint(&args.session, socket, "--stop"),
            tmux.attach_hint(&args.session)
        )));
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let mut notes = Vec::new();
    let mut dirs = std::collections::HashMap::new();
    if args.worktrees {
        let top = PathBuf::from(checked(
            "git",
            &[
                "-C",
                &cwd.display().to_string(),
                "rev-parse",
                "--show-toplevel",
            ],
        )?);
        let mut created = load_created(pool.dir(), &args.session);
        for n in &names {
            let (path, new) = ensure_worktree(&top, n)?;
            notes.push(format!(
                "{} worktree {} ({BRANCH_PREFIX}{n})",
                if new.is_some() {
                    "created"
                } else {
                    "using existing"
                },
                path.display()
            ));
            if let Some(c) = new {
                created.worktrees.retain(|w| w.path != c.path);
                created.worktrees.push(c);
                save_created(pool.dir(), &args.session, &created)?;
            }
            dirs.insert(n.clone(), path);
        }
    }
    let wins = windows(&names, &config, pool.dir(), |n| {
        dirs.get(n).cloned().unwrap_or_else(|| cwd.clone())
    });
    for argv in tmux_commands(&args.session, &wins, &args.command) {
        if let Err(e) = tmux.run(&argv) {
            tmux.kill_session(&args.session);
            return Err(e);
        }
    }
    std::thread::sleep(Duration::from_millis(START_CHECK_MS));
    let dead = match tmux.dead_windows(&args.session) {
        Ok(d) => d,
        // Every window gone at once: the session itself is gone.
        Err(_) if !tmux.has_session(&args.session)? => {
            names.iter().map(|n| (n.clone(), "?".to_string())).collect()
        }
        Err(e) => return Err(e),
    };
    if !dead.is_empty() {
        let mut msg = Vec::new();
        for (name, status) in &dead {
            let out = tmux.last_output(&args.session, name);
            msg.push(format!(
                "instance {name} did not start: `{}` exited with status {status} within {:.1} s{}",
                args.command,
                START_CHECK_MS as f64 / 1000.0,
                if out.is_empty() {
                    " and printed nothing".to_string()
                } else {
                    format!("; its output:\n{}", indent(&out))
                }
            ));
        }
        tmux.kill_session(&args.session);
        msg.push(format!(
            "ended tmux session {:?}; fix the command (--command) and launch again",
            args.session
        ));
        return Err(Error::Invalid(msg.join("\n")));
    }
    for w in &wins {
        let mut off = remain_on_exit(&args.session, &w.instance, false);
        off.remove(0);
        // The command may have just ended: the check is done, nothing to undo.
        let _ = tmux.run(&off);
    }
    let shown: Vec<String> = names
        .iter()
        .map(|n| match role_of(&config, n) {
            Some(r) => format!("{n} ({r})"),
            None => n.clone(),
        })
        .collect();
    notes.push(format!(
        "started tmux session {:?}: {}",
        args.session,
        shown.join(", ")
    ));
    notes.push(format!("pool: {}", pool.dir().display()));
    notes.push(format!("attach: {}", tmux.attach_hint(&args.session)));
    notes.push(format!(
        "stop:   {}{}",
        hint(&args.session, socket, "--stop"),
        if args.worktrees {
            format!(
                "  (add --clean to remove the worktrees: {})",
                hint(&args.session, socket, "--stop --clean")
            )
        } else {
            String::new()
        }
    ));
    Ok(notes.join("\n"))
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn stop(args: &LaunchArgs) -> Result<String> {
    validate_session(&args.session)?;
    let tmux = Tmux {
        socket: args.socket.as_deref(),
    };
    let mut notes = Vec::new();
    if tmux.has_session(&args.session)? {
        tmux.run(&[
            "kill-session".into(),
            "-t".into(),
            format!("={}", args.session),
        ])?;
        notes.push(format!("stopped tmux session {:?}", args.session));
    } else if !args.clean {
        return Err(Error::Invalid(format!(
            "no tmux session {:?} is running",
            args.session
        )));
    } else {
        notes.push(format!("no tmux session {:?} was running", args.session));
    }
    if args.clean {
        let pool_dir = Locator::from_env(None).pool_dir()?;
        let mut created = load_created(&pool_dir, &args.session);
        let mut refused = Vec::new();
        let mut kept = Vec::new();
        for w in std::mem::take(&mut created.worktrees) {
            match clean_worktree(&w) {
                Ok(note) => notes.push(note),
                Err(why) => {
                    refused.push(why);
                    kept.push(w);
                }
            }
        }
        if notes.len() == 1 && refused.is_empty() {
            notes.push("no worktrees to remove (this session's launch created none)".into());
        }
        created.worktrees = kept;
        save_created(&pool_dir, &args.session, &created)?;
        if !refused.is_empty() {
            notes.extend(refused);
            return Err(Error::Invalid(notes.join("\n")));
        }
    }
    Ok(notes.join("\n"))
}

/// Removes one created worktree and, when the launch created it, its branch;
/// refuses (with the reason) when it holds uncommitted changes or the
/// branch has commits no other branch has.
fn clean_worktree(w: &CreatedWorktree) -> std::result::Result<String, String> {
    let p = w.path.display().to_string();
    let repo = w.repo.display().to_string();
    if w.path.exists() {
        match output("git", &["-C", &p, "status", "--porcelain"]) {
            Ok((true, changes, _)) if changes.is_empty() => {}
            Ok((true, changes, _)) => {
                return Err(format!(
                    "kept worktree {p}: it has uncommitted changes ({} files); commit or \
                     discard them, then run --stop --clean again",
                    changes.lines().count()
                ));
            }
            _ => return Err(format!("kept {p}: not a git worktree any more")),
        }
        let (ok, _, err) =
            output("git", &["-C", &repo, "worktree", "remove", &p]).map_err(|e| e.to_string())?;
        if !ok {
            return Err(format!("kept worktree {p}: {err}"));
        }
    }
    if !w.new_branch {
        return Ok(format!(
            "removed worktree {p} (kept branch {}, which existed before)",
            w.branch
        ));
    }
    let (ok, _, err) =
        output("git", &["-C", &repo, "branch", "-d", &w.branch]).map_err(|e| e.to_string())?;
    if ok {
        Ok(format!("removed worktree {p} and branch {}", w.branch))
    } else {
        Err(format!(
            "removed worktree {p}, kept branch {}: {}",
            w.branch,
            err.lines().next().unwrap_or("git branch -d refused")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ConfigFile {
        serde_json::from_str(
            r#"{"domains": {"C": ["ui"]}, "instances": {"A": {"role": "builder", "domain": ["api", "db"]}, "B": {"role": "reviewer"}}}"#,
        )
        .unwrap()
    }

    #[test]
    fn instances_come_from_args_or_config() {
        let c = config();
        assert_eq!(instances(&[], &c).unwrap(), ["A", "B"]);
        let named = ["x".to_string(), "X".to_string(), "y".to_string()];
        assert_eq!(instances(&named, &c).unwrap(), ["x", "y"]);
        assert!(instances(&["a b".to_string()], &c).is_err());
        assert!(instances(&[], &ConfigFile::default()).is_err());
        let lower = ["a".to_string(), "c".to_string(), "b".to_string()];
        assert_eq!(
            instances(&lower, &c).unwrap(),
            ["A", "C", "B"],
            "config's spelling"
        );
        assert_eq!(domain_of(&c, "a"), ["api", "db"]);
        assert_eq!(domain_of(&c, "c"), ["ui"]);
        assert_eq!(role_of(&c, "b"), Some("reviewer"));
        assert!(validate_session("pool").is_ok());
        assert!(validate_session("a.b").is_err());
        assert!(validate_session("a:b").is_err());
    }

    #[test]
    fn every_window_sets_every_variable() {
        let c = config();
        let names = ["A".to_string(), "B".to_string(), "C".to_string()];
        let w = windows(&names, &c, Path::new("/p"), |n| {
            PathBuf::from(format!("/w/{n}"))
        });
        let cmds = tmux_commands("team", &w, "claude");
        assert_eq!(
            cmds[0],
            [
                "new-session",
                "-d",
                "-s",
                "team",
                "-n",
                "A",
                "-c",
                "/w/A",
                "-e",
                "CLAUDE_INSTANCE=A",
                "-e",
                "CLAUDE_INSTANCE_DOMAIN=api,db",
                "-e",
                "POOL_DIR=/p",
                "claude",
                ";",
                "set-option",
                "-w",
                "-t",
                "=team:=A",
                "remain-on-exit",
                "on"
            ]
        );
        assert_eq!(&cmds[1][..4], ["new-window", "-d", "-t", "=team:"]);
        assert!(cmds[1].contains(&"CLAUDE_INSTANCE_DOMAIN=".to_string()));
        assert!(cmds[2].contains(&"CLAUDE_INSTANCE_DOMAIN=ui".to_string()));
    }

    #[test]
    fn hints_keep_the_session_and_socket() {
        assert_eq!(
            hint("team", None, "--stop"),
            "pool launch --stop --session team"
        );
        assert_eq!(
            hint("team", Some("s1"), "--stop --clean"),
            "pool launch --stop --clean --session team -L s1"
        );
    }

    #[test]
    fn worktrees_go_beside_the_repository() {
        assert_eq!(
            worktree_path(Path::new("/src/app"), "A"),
            PathBuf::from("/src/app-A")
        );
    }
}
