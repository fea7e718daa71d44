//! `pool launch`: starts a team of instances in one tmux session, one window
//! each, with `CLAUDE_INSTANCE`, `CLAUDE_INSTANCE_DOMAIN` (from `config.json`)
//! and `POOL_DIR` set, optionally each in its own git worktree; and
//! `pool launch --stop` ends that session.
//!
//! `git` and `tmux` run as subprocesses: this is a command a person runs, not
//! a hook. What to run is planned without I/O ([`windows`], [`tmux_commands`],
//! [`worktree_path`]) so it can be tested on its own.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::cli::LaunchArgs;
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::env::config::{self, ConfigFile};
use crate::error::{Error, Result};
use crate::store::log::Pool;
use crate::store::paths::{Locator, validate_instance};

const PROGRAM: &str = "pool launch";

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
        .get(instance)
        .map(|i| i.domain.clone())
        .filter(|d| !d.is_empty())
        .or_else(|| config.domains.get(instance).cloned())
        .unwrap_or_default()
}

/// The instances to start: those named, else those in `config.json`; names
/// are checked and repeats (ignoring case) dropped. Fails on an invalid name
/// or when there is none.
pub fn instances(named: &[String], config: &ConfigFile) -> Result<Vec<String>> {
    let names: Vec<String> = if named.is_empty() {
        config.instances.keys().cloned().collect()
    } else {
        named.to_vec()
    };
    let mut out: Vec<String> = Vec::new();
    for n in names {
        let n = n.trim().to_string();
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
            argv
        })
        .collect()
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

    fn attach_hint(&self, session: &str) -> String {
        match self.socket {
            Some(s) => format!("tmux -L {s} attach -t {session}"),
            None => format!("tmux attach -t {session}"),
        }
    }
}

/// Creates (or reuses) the worktree of `instance` and returns its path.
fn ensure_worktree(toplevel: &Path, instance: &str) -> Result<(PathBuf, bool)> {
    let path = worktree_path(toplevel, instance);
    if path.exists() {
        return Ok((path, false));
    }
    let branch = format!("{BRANCH_PREFIX}{instance}");
    let top = toplevel.display().to_string();
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
    let p = path.display().to_string();
    if exists {
        checked("git", &["-C", &top, "worktree", "add", &p, &branch])?;
    } else {
        checked("git", &["-C", &top, "worktree", "add", &p, "-b", &branch])?;
    }
    Ok((path, true))
}

fn launch(args: &LaunchArgs) -> Result<String> {
    validate_session(&args.session)?;
    let pool_dir = Locator::from_env(None).pool_dir()?;
    // Create the pool now so every instance finds the same one.
    let pool = Pool::open(pool_dir)?;
    let config = config::load_config_file(pool.dir())?;
    let names = instances(&args.instances, &config)?;
    let tmux = Tmux {
        socket: args.socket.as_deref(),
    };
    if tmux.has_session(&args.session)? {
        return Err(Error::Invalid(format!(
            "tmux session {:?} is already running; `pool launch --stop --session {}` ends it",
            args.session, args.session
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
        for n in &names {
            let (path, created) = ensure_worktree(&top, n)?;
            notes.push(format!(
                "{} worktree {} ({BRANCH_PREFIX}{n})",
                if created { "created" } else { "using existing" },
                path.display()
            ));
            dirs.insert(n.clone(), path);
        }
    }
    let wins = windows(&names, &config, pool.dir(), |n| {
        dirs.get(n).cloned().unwrap_or_else(|| cwd.clone())
    });
    for argv in tmux_commands(&args.session, &wins, &args.command) {
        tmux.run(&argv)?;
    }
    let shown: Vec<String> = names
        .iter()
        .map(
            |n| match config.instances.get(n).and_then(|i| i.role.as_deref()) {
                Some(r) => format!("{n} ({r})"),
                None => n.clone(),
            },
        )
        .collect();
    notes.push(format!(
        "started tmux session {:?}: {}",
        args.session,
        shown.join(", ")
    ));
    notes.push(format!("pool: {}", pool.dir().display()));
    notes.push(format!("attach: {}", tmux.attach_hint(&args.session)));
    notes.push(format!(
        "stop:   pool launch --stop --session {}",
        args.session
    ));
    Ok(notes.join("\n"))
}

fn stop(args: &LaunchArgs) -> Result<String> {
    validate_session(&args.session)?;
    let tmux = Tmux {
        socket: args.socket.as_deref(),
    };
    if !tmux.has_session(&args.session)? {
        return Err(Error::Invalid(format!(
            "no tmux session {:?} is running",
            args.session
        )));
    }
    tmux.run(&[
        "kill-session".into(),
        "-t".into(),
        format!("={}", args.session),
    ])?;
    Ok(format!("stopped tmux session {:?}", args.session))
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
                "claude"
            ]
        );
        assert_eq!(&cmds[1][..4], ["new-window", "-d", "-t", "=team:"]);
        assert!(cmds[1].contains(&"CLAUDE_INSTANCE_DOMAIN=".to_string()));
        assert!(cmds[2].contains(&"CLAUDE_INSTANCE_DOMAIN=ui".to_string()));
    }

    #[test]
    fn worktrees_go_beside_the_repository() {
        assert_eq!(
            worktree_path(Path::new("/src/app"), "A"),
            PathBuf::from("/src/app-A")
        );
    }
}
