//! `pool doctor`: checks the installation, the hook registrations and the
//! pool folder, and says how to fix what is wrong.
//!
//! Severities: **fail** means the hooks cannot work as installed (a binary
//! or a hook registration is missing, a hook points at a missing file, the
//! pool folder is unusable or unsafe, `config.json` is invalid, a settings
//! file is not JSON); **warn** means they work but something deserves a look
//! (no `claude` binary found, a folder `POOL_DIR` names that does not
//! exist; the repository ships pool settings or a pool folder, which are
//! ignored; modes looser than 0700/0600, hooks registered twice, unparsable
//! log lines, recent errors). The normal state of a fresh install (the
//! default pool folder not created yet; a folder that is no member, with
//! no `CLAUDE_INSTANCE` and no `pool init`) is an ok line with a hint.
//! Exit 0 without failures, 1 with any.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::agent::settings_file::{self, BINARIES, HOOKS, PLUGIN_NAME, SettingsFile};
use crate::cmd::cli::DoctorArgs;
use crate::cmd::install::{bin_dir, is_executable};
use crate::cmd::{EXIT_ERROR, EXIT_OK};
use crate::env::repo::{self, Membership};
use crate::store::entry::format_age as age;
use crate::store::fsio::{self, RevLines};
use crate::store::log::Pool;
use crate::store::paths::{self, Locator};

/// How many lines of `errors.log` the report shows.
const ERROR_LINES: usize = 5;
/// Errors younger than this make the errors check a warning, in seconds.
const RECENT_ERROR: i64 = 86_400;
/// Window for "sessions seen under this instance name", in seconds.
const INSTANCE_WINDOW: i64 = 3600;

const FIX_INSTALL: &str = "install the prebuilt binaries (npm install -g claude-pool, or the release installer), \
     or build them: ./install/install.sh in a clone of claude-pool";

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// All is well.
    Ok,
    /// Works, but deserves a look.
    Warn,
    /// Does not work as installed.
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Short name of what was checked.
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found.
    pub message: String,
    /// How to fix it, for warnings and failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Further lines (paths, log lines, sessions).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl Check {
    fn new(name: &'static str, status: Status, message: impl Into<String>) -> Check {
        Check {
            name,
            status,
            message: message.into(),
            fix: None,
            details: Vec::new(),
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }

    fn details(mut self, d: Vec<String>) -> Check {
        self.details = d;
        self
    }
}

/// The whole report, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// No check failed.
    pub ok: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

/// Runs every check and prints the report. Returns 0 when none failed, 1 otherwise.
pub fn run(args: &DoctorArgs) -> i32 {
    if args.repair {
        let repaired = Locator::from_env(None).pool_dir().and_then(|dir| {
            if dir.join(crate::store::paths::LOG_FILE).exists() {
                Pool::open(dir.clone())?.repair().map(|r| (r, dir))
            } else {
                Ok((crate::store::rewrite::ArchiveReport::default(), dir))
            }
        });
        match repaired {
            Ok((r, dir)) => {
                let mut msg = if r.archived == 0 {
                    "repair: no unparseable lines in the pool log\n".to_string()
                } else {
                    format!(
                        "repair: moved {} unparseable line{} to {}\n",
                        r.archived,
                        plural(r.archived as usize),
                        dir.join("quarantine.jsonl").display()
                    )
                };
                if r.restamped > 0 {
                    msg.push_str(&format!(
                        "repair: stamped {} stray line{} with when this machine had {} by\n",
                        r.restamped,
                        plural(r.restamped as usize),
                        if r.restamped == 1 { "it" } else { "them" }
                    ));
                }
                if r.recovered > 0 {
                    msg.push_str(&format!(
                        "repair: finished or removed {} file{} an interrupted rewrite left\n",
                        r.recovered,
                        plural(r.recovered as usize)
                    ));
                }
                if r.reindexed {
                    msg.push_str("repair: rebuilt the long-TTL index\n");
                }
                let out = if args.json {
                    std::io::stderr().write_all(msg.as_bytes())
                } else {
                    std::io::stdout().write_all(msg.as_bytes())
                };
                let _ = out;
            }
            Err(e) => {
                crate::cmd::eprint_error("pool doctor", &format!("repair failed: {e}"));
                return EXIT_ERROR;
            }
        }
    }
    let budget = (!args.full).then_some(LOG_CHECK_BUDGET);
    let report = diagnose(chrono::Utc::now().timestamp(), budget);
    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
        s.push('\n');
        crate::view::neutral::json(&s)
    } else {
        // Recent errors quote what sessions wrote: through the choke point.
        crate::view::neutral::document(&render(&report))
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    if report.ok { EXIT_OK } else { EXIT_ERROR }
}

/// Renders the report for a terminal.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    for c in &r.checks {
        let tag = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        out.push_str(&format!("{tag}  {:<10} {}\n", c.name, c.message));
        for d in &c.details {
            out.push_str(&format!("                  {d}\n"));
        }
        if let Some(f) = &c.fix {
            // On an ok line it is a hint (the normal state, and what comes next).
            let label = if c.status == Status::Ok {
                "hint"
            } else {
                "fix"
            };
            out.push_str(&format!("      {label}: {f}\n"));
        }
    }
    let count = |s| r.checks.iter().filter(|c| c.status == s).count();
    let (w, f) = (count(Status::Warn), count(Status::Fail));
    out.push_str(&match (w, f) {
        (0, 0) => "pool doctor: all good\n".to_string(),
        (w, 0) => format!("pool doctor: no failures, {w} warning{}\n", plural(w)),
        (w, f) => format!(
            "pool doctor: {f} failure{}, {w} warning{}\n",
            plural(f),
            plural(w)
        ),
    });
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How long the check of the log's lines may take before it stops and says
/// how far it got (`pool doctor --full` has none): a team's month-long log
/// of 2M claims took 4–6 s to check whole.
pub const LOG_CHECK_BUDGET: Duration = Duration::from_secs(2);

/// Entries checked between two looks at the clock.
const BUDGET_EVERY: u64 = 256;

/// Runs every check against the process environment at `now`; the log's
/// lines are checked, newest first, for at most `budget`.
pub fn diagnose(now: i64, budget: Option<Duration>) -> Report {
    let mut checks = Vec::new();
    let dir = bin_dir();
    checks.push(check_binaries(dir.as_deref().ok()));
    checks.push(check_claude(&claude_dirs()));
    checks.extend(check_hooks(dir.as_deref().ok()));
    checks.extend(check_codex());
    let pool_dir = Locator::from_env(None).pool_dir();
    match pool_dir {
        Ok(pd) => checks.extend(check_pool(&pd, now, budget)),
        Err(e) => {
            checks.push(Check::new("pool", Status::Fail, e.to_string()).fix("set POOL_DIR or HOME"))
        }
    }
    let ok = checks.iter().all(|c| c.status != Status::Fail);
    Report { ok, checks }
}

fn check_binaries(dir: Option<&Path>) -> Check {
    let Some(dir) = dir else {
        return Check::new(
            "binaries",
            Status::Fail,
            "cannot tell where this pool is installed",
        )
        .fix(FIX_INSTALL);
    };
    let missing: Vec<&str> = BINARIES
        .iter()
        .copied()
        .filter(|b| !is_executable(&dir.join(b)))
        .collect();
    if missing.is_empty() {
        Check::new(
            "binaries",
            Status::Ok,
            format!("{} in {}", BINARIES.join(", "), dir.display()),
        )
    } else if !missing.contains(&"pool") {
        // The npm package's layout: `pool` runs as every hook (`pool hook
        // pool-stop`) and as `pool query`; `pool install` registers that.
        Check::new(
            "binaries",
            Status::Ok,
            format!(
                "pool in {}, which runs every hook (`pool hook <name>`)",
                dir.display()
            ),
        )
    } else {
        Check::new(
            "binaries",
            Status::Fail,
            format!("{} missing from {}", missing.join(", "), dir.display()),
        )
        .fix(FIX_INSTALL)
    }
}

/// Where Claude Code's `claude` may be: PATH, then where its installers
/// put it (`~/.local/bin`, `~/.claude/local`).
fn claude_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(h) = dirs::home_dir() {
        dirs.push(h.join(".local").join("bin"));
        dirs.push(h.join(".claude").join("local"));
    }
    dirs
}

/// Whether Claude Code's own binary is in one of `dirs`: the hooks run
/// only inside it. A warning, not a failure, when it is not: Codex runs
/// the same hooks, and Claude Code may be started by a full path.
fn check_claude(dirs: &[PathBuf]) -> Check {
    let exe = format!("claude{}", std::env::consts::EXE_SUFFIX);
    match dirs.iter().map(|d| d.join(&exe)).find(|p| is_executable(p)) {
        Some(p) => Check::new("claude", Status::Ok, format!("Claude Code: {}", p.display())),
        None => Check::new(
            "claude",
            Status::Warn,
            "no claude (Claude Code) on PATH, in ~/.local/bin or ~/.claude/local: the hooks run inside Claude Code sessions",
        )
        .fix("install Claude Code (https://docs.anthropic.com/en/docs/claude-code), or put claude on PATH"),
    }
}

/// Codex's hooks, when `pool install --codex` registered any: every event
/// present, every binary there, every hook trusted in `config.toml` (an
/// untrusted hook is skipped by `codex exec` and reviewed in the TUI).
/// `None` when Codex's `hooks.json` holds no hook of ours.
fn check_codex() -> Option<Check> {
    use crate::agent::codex_settings::{
        AGENT_ARGS, CODEX_HOOKS, ConfigToml, codex_home_from_env, config_toml_path,
        hooks_json_path, our_trust, trusted_hash_in,
    };
    let home = codex_home_from_env().ok()?;
    let path = hooks_json_path(&home);
    let file = SettingsFile::load(&path);
    let file = match file {
        Ok(f) if f.original.is_some() => f,
        Ok(_) => return None,
        Err(e) => {
            return Some(
                Check::new("codex", Status::Fail, e.to_string())
                    .fix("fix the file, then pool install --codex"),
            );
        }
    };
    let regs = settings_file::registrations(&file.value);
    if regs.is_empty() {
        return None;
    }
    let mut problems = Vec::new();
    for spec in CODEX_HOOKS {
        if !regs
            .iter()
            .any(|r| r.event == spec.event && r.ours.binary == spec.binary)
        {
            problems.push(format!("{} is not registered", spec.event));
        }
    }
    for r in &regs {
        if !r.command.contains(AGENT_ARGS) {
            problems.push(format!(
                "{} runs {} without {AGENT_ARGS}",
                r.event, r.ours.binary
            ));
        }
        let program = Path::new(&r.ours.program);
        if !r.ours.via_launcher && !is_executable(program) {
            problems.push(format!(
                "{}: {} is not an executable",
                r.event,
                program.display()
            ));
        }
    }
    let config_path = config_toml_path(&home);
    let untrusted = match ConfigToml::load(&config_path) {
        Ok(c) => our_trust(&file.value, &path)
            .into_iter()
            .filter(|t| trusted_hash_in(&c.doc, &t.key) != Some(t.hash.as_str()))
            .map(|t| t.key)
            .collect(),
        Err(e) => vec![e.to_string()],
    };
    if problems.is_empty() && untrusted.is_empty() {
        return Some(Check::new(
            "codex",
            Status::Ok,
            format!(
                "{} hooks in {}, trusted in {}",
                regs.len(),
                path.display(),
                config_path.display()
            ),
        ));
    }
    if problems.is_empty() {
        return Some(
            Check::new(
                "codex",
                Status::Warn,
                format!(
                    "{} of our Codex hooks not trusted in {}: codex exec skips them and the TUI asks to review them",
                    untrusted.len(),
                    config_path.display()
                ),
            )
            .fix("pool install --codex (or trust them with /hooks in Codex)")
            .details(untrusted),
        );
    }
    Some(
        Check::new(
            "codex",
            Status::Fail,
            format!("Codex hooks in {} are incomplete", path.display()),
        )
        .fix("pool install --codex")
        .details(problems),
    )
}

/// A settings file that exists, with the name the report gives it.
struct Source {
    label: String,
    file: SettingsFile,
}

fn check_hooks(bin_dir: Option<&Path>) -> Vec<Check> {
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    match settings_file::settings_path_from_env(settings_file::Scope::User) {
        Ok(p) => paths.push(("user settings".into(), p)),
        Err(e) => {
            return vec![
                Check::new("settings", Status::Fail, e.to_string())
                    .fix("set HOME or CLAUDE_CONFIG_DIR"),
            ];
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        paths.push((
            "project settings".into(),
            settings_file::project_settings_path(&cwd),
        ));
        paths.push((
            "local project settings".into(),
            settings_file::project_local_settings_path(&cwd),
        ));
    }
    let mut sources = Vec::new();
    let mut read = Vec::new();
    let mut bad = Vec::new();
    for (label, p) in paths {
        if std::fs::symlink_metadata(&p).is_err() {
            continue;
        }
        match SettingsFile::load(&p) {
            Ok(file) => {
                read.push(format!("{label}: {}", p.display()));
                sources.push(Source { label, file });
            }
            Err(e) => bad.push(e.to_string()),
        }
    }
    let settings_check = if bad.is_empty() {
        let msg = if read.is_empty() {
            "no settings file yet".to_string()
        } else {
            format!("{} read", read.len())
        };
        Check::new("settings", Status::Ok, msg).details(read)
    } else {
        Check::new(
            "settings",
            Status::Fail,
            format!(
                "{} settings file{} not valid JSON",
                bad.len(),
                plural(bad.len())
            ),
        )
        .details(bad)
        .fix("fix the JSON at the line named; Claude Code cannot use the file either")
    };
    vec![settings_check, hooks_from(&sources, bin_dir)]
}

fn hooks_from(sources: &[Source], bin_dir: Option<&Path>) -> Check {
    let mut details = Vec::new();
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let mut plugin_sources = Vec::new();
    for s in sources {
        for id in settings_file::enabled_plugin_ids(&s.file.value) {
            details.push(format!("{}: plugin {id} enabled", s.label));
            plugin_sources.push(s.label.clone());
        }
        if s.file.value.get("disableAllHooks") == Some(&serde_json::Value::Bool(true)) {
            fails.push(format!(
                "{} sets \"disableAllHooks\": true, so no hook runs",
                s.label
            ));
        }
    }
    let plugin = !plugin_sources.is_empty();
    let mut missing = Vec::new();
    for spec in HOOKS {
        let mut by: Vec<String> = plugin_sources.clone();
        for s in sources {
            for r in settings_file::registrations(&s.file.value) {
                if r.event != spec.event || r.ours.binary != spec.binary {
                    continue;
                }
                by.push(s.label.clone());
                details.push(format!("{}: {} runs {}", s.label, r.event, r.command));
                if r.ours.via_launcher {
                    continue;
                }
                let prog = Path::new(&r.ours.program);
                if !prog.is_absolute() {
                    warns.push(format!(
                        "{}: {} runs {} by name, found only if Claude Code's PATH has it",
                        s.label, r.event, r.ours.program
                    ));
                } else if !is_executable(prog) {
                    fails.push(format!(
                        "{}: {} runs {}, which is not an executable file",
                        s.label, r.event, r.ours.program
                    ));
                } else if let Some(d) = bin_dir
                    && prog.parent() != Some(d)
                {
                    details.push(format!(
                        "({} is not the copy next to this pool in {})",
                        r.ours.program,
                        d.display()
                    ));
                }
            }
        }
        if by.is_empty() {
            missing.push(spec.event);
        } else if by.len() > 1 {
            warns.push(format!(
                "{} is registered {} times ({}), so {} runs that often",
                spec.event,
                by.len(),
                by.join(", "),
                spec.binary
            ));
        }
    }
    if plugin && let Some(b) = launcher_would_miss() {
        fails.push(format!(
            "the {PLUGIN_NAME} plugin is enabled but its launcher finds no {b} in $POOL_BIN_DIR, on PATH, in ~/.local/bin, $CARGO_HOME/bin or ~/.cargo/bin"
        ));
    }
    if !missing.is_empty() {
        fails.push(format!("not registered for {}", missing.join(", ")));
    }
    let status = if !fails.is_empty() {
        Status::Fail
    } else if !warns.is_empty() {
        Status::Warn
    } else {
        Status::Ok
    };
    let message = match status {
        Status::Ok => format!(
            "registered for {}",
            HOOKS.iter().map(|s| s.event).collect::<Vec<_>>().join(", ")
        ),
        _ => fails
            .iter()
            .chain(&warns)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
    };
    let c = Check::new("hooks", status, message).details(details);
    match status {
        Status::Ok => c,
        _ if !fails.is_empty() => c.fix(
            "run pool install (user settings) or pool install --project; \
             or /plugin install the claude-pool plugin",
        ),
        _ => c.fix("keep one registration: pool uninstall [--project] removes the settings ones"),
    }
}

/// The first hook binary the plugin's launcher would not find, searching as
/// it does: PATH, then ~/.cargo/bin, then $CARGO_HOME/bin.
fn launcher_would_miss() -> Option<&'static str> {
    // The launcher's channels, in its order (plugin/hooks/launch), less the
    // npm package inside the installed plugin, which doctor does not locate.
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("POOL_BIN_DIR").filter(|d| !d.is_empty()) {
        dirs.push(PathBuf::from(d));
    }
    if let Some(p) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    if let Some(h) = dirs::home_dir() {
        dirs.push(h.join(".local").join("bin"));
    }
    if let Some(c) = std::env::var_os("CARGO_HOME").filter(|c| !c.is_empty()) {
        dirs.push(PathBuf::from(c).join("bin"));
    }
    if let Some(h) = dirs::home_dir() {
        dirs.push(h.join(".cargo").join("bin"));
    }
    let exe = std::env::consts::EXE_SUFFIX;
    HOOKS.iter().map(|s| s.binary).find(|b| {
        !dirs
            .iter()
            .any(|d| is_executable(&d.join(format!("{b}{exe}"))))
    })
}

fn check_pool(dir: &Path, now: i64, budget: Option<Duration>) -> Vec<Check> {
    let mut checks = vec![check_pool_dir(dir)];
    let exists = dir.is_dir();
    checks.push(check_membership(dir));
    checks.extend(check_shipped(dir));
    if std::env::var("CLAUDE_INSTANCE").is_ok_and(|v| !v.trim().is_empty()) {
        checks.push(check_instance(dir, exists, now));
    }
    checks.push(match crate::env::config::load_config_file(dir) {
        Ok(_) if dir.join(paths::CONFIG_FILE).exists() => {
            Check::new("config", Status::Ok, "config.json is valid")
        }
        Ok(_) => Check::new("config", Status::Ok, "no config.json (optional)"),
        Err(e) => Check::new("config", Status::Fail, e.to_string())
            .fix("fix config.json; until then the hooks ignore it and log an error each run"),
    });
    checks.extend(check_log(dir, now, budget));
    checks.extend(check_sync(dir, now));
    checks.push(check_errors(dir, now));
    checks
}

fn check_pool_dir(dir: &Path) -> Check {
    let shown = dir.display();
    let from_env = Locator::from_env(None).pool_dir.is_some();
    if let Some((problem, fix)) = crate::cmd::pool_dir_problem(dir, from_env) {
        // A folder that does not exist yet is created by the first hook
        // run (a warning: POOL_DIR may be misspelled); anything else stops
        // every command.
        let missing = !dir.exists() && !dir.is_symlink();
        let status = match (missing, from_env) {
            // The default folder before the first session: the normal state.
            (true, false) => Status::Ok,
            (true, true) => Status::Warn,
            (false, _) => Status::Fail,
        };
        let problem = if status == Status::Ok {
            format!("{shown} does not exist yet (nothing is pooled yet)")
        } else {
            problem
        };
        return Check::new("pool", status, problem).fix(fix);
    }
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) => {
            return Check::new("pool", Status::Fail, format!("{shown}: {e}"))
                .fix("check the path and its permissions, or set POOL_DIR");
        }
    };
    if let Err(e) = crate::store::fsio::check_safe(dir, true) {
        return Check::new("pool", Status::Fail, e.to_string())
            .fix(format!("chmod 700 {shown} (and make sure you own it)"));
    }
    if !dir_writable(dir) {
        return Check::new("pool", Status::Fail, format!("{shown} is not writable"))
            .fix(format!("chmod u+w {shown}"));
    }
    let mut loose = Vec::new();
    let mut fails = Vec::new();
    if let Some(mode) = fsio::mode_bits(&meta)
        && mode & 0o077 != 0
    {
        loose.push(format!("{shown} has mode {mode:04o}, not 0700"));
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let want = if m.is_dir() { 0o700 } else { 0o600 };
        if m.is_file() {
            if let Err(e) = crate::store::fsio::check_safe(&p, false) {
                fails.push(e.to_string());
                continue;
            }
            if std::fs::OpenOptions::new().append(true).open(&p).is_err() {
                fails.push(format!("{} is not writable", p.display()));
                continue;
            }
        }
        if let Some(mode) = fsio::mode_bits(&m)
            && (m.is_file() || m.is_dir())
            && mode & 0o077 != 0
        {
            loose.push(format!(
                "{} has mode {mode:04o}, not {want:04o}",
                p.display()
            ));
        }
    }
    if !fails.is_empty() {
        Check::new("pool", Status::Fail, fails.join("; "))
            .details(loose)
            .fix(format!(
                "chmod 600 the files in {shown} and make sure you own them"
            ))
    } else if !loose.is_empty() {
        Check::new(
            "pool",
            Status::Warn,
            format!("{shown}: others can read pool files"),
        )
        .details(loose)
        .fix(format!(
            "chmod 700 {shown} && chmod 600 {shown}/*.jsonl {shown}/*.log"
        ))
    } else {
        Check::new(
            "pool",
            Status::Ok,
            format!("{shown} (0700, files 0600, writable)"),
        )
    }
}

/// Whether a file can be created in `dir` (tried, then removed).
fn dir_writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".pool-doctor.{}.tmp", std::process::id()));
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// Whether a session started in the current folder takes part in the pool,
/// and why; with the repository's id and the scope it is shown.
fn check_membership(dir: &Path) -> Check {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let repo = repo::locate(&cwd);
    let instance = std::env::var("CLAUDE_INSTANCE").ok();
    let scope = crate::env::config::load_config_file(dir)
        .unwrap_or_default()
        .scope_of(&repo);
    let details = vec![
        format!(
            "repository: {} (from its {}; root {})",
            repo.id,
            repo.source.as_str(),
            repo.root.display()
        ),
        format!("entries shown by default: {}", scope.describe()),
    ];
    match Membership::of(instance.as_deref(), &repo) {
        Membership::Instance(name) => Check::new(
            "membership",
            Status::Ok,
            format!("member: CLAUDE_INSTANCE={name}"),
        )
        .details(details),
        Membership::OptedIn { init, instance } => {
            let name = instance.unwrap_or_else(|| "unknown".into());
            let check = Check::new(
                "membership",
                if init.warning.is_some() {
                    Status::Warn
                } else {
                    Status::Ok
                },
                format!(
                    "member: {} opts this repository in (pool init); sessions without CLAUDE_INSTANCE are named {name}",
                    init.path.display()
                ),
            )
            .details(details);
            match init.warning {
                Some(w) => check.fix(format!("fix {w}")),
                None => check,
            }
        }
        // The normal state outside a team's repository (a fresh install,
        // the home folder): an ok line that says how to join.
        Membership::NotMember => Check::new(
            "membership",
            Status::Ok,
            format!(
                "not a pool member here: CLAUDE_INSTANCE is unset and {} has no {}, so the hooks print and write nothing in sessions started here",
                repo.root.display(),
                repo::INIT_FILE
            ),
        )
        .fix("run pool init in the repository (commit .claude/pool.json to share it), or start sessions with CLAUDE_INSTANCE=NAME claude")
        .details(details),
    }
}

/// What the repository here ships that would configure the pool and is
/// ignored (issue 22): a warning naming each file and its keys.
fn check_shipped(dir: &Path) -> Option<Check> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let root = repo::locate(&cwd).root;
    let found = crate::env::shipped::scan(
        &root,
        &Locator::from_env(None).repository_pools(),
        Some(dir),
    );
    let first = found.first()?;
    let message = if found.len() == 1 {
        first.describe()
    } else {
        format!("{} (and {} more, below)", first.describe(), found.len() - 1)
    };
    Some(
        Check::new("repository", Status::Warn, message)
            .fix(
                "nothing to do for the pool: a repository's files never set its sync, commands, paths or entries; \
                 if you meant to use that folder as your pool, set POOL_DIR to it yourself",
            )
            .details(
                found
                    .iter()
                    .skip(1)
                    .map(crate::env::shipped::Ignored::describe)
                    .collect(),
            ),
    )
}

fn check_instance(dir: &Path, pool_exists: bool, now: i64) -> Check {
    let Some(name) = std::env::var("CLAUDE_INSTANCE")
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Check::new("instance", Status::Warn, "CLAUDE_INSTANCE is not set")
            .fix("start each Claude Code terminal with its own name: CLAUDE_INSTANCE=A claude");
    };
    if let Err(why) = paths::validate_instance(&name) {
        return Check::new("instance", Status::Fail, why)
            .fix("use 1-64 letters, digits, '-', '_' or '.'");
    }
    let mut sessions: Vec<(String, i64)> = Vec::new();
    // Entries posted from a terminal (`pool post`) carry no session: (count, newest).
    let mut by_hand: (usize, i64) = (0, 0);
    if pool_exists {
        let pool = Pool::open_readonly(dir.to_path_buf());
        let since = now - INSTANCE_WINDOW;
        let _ = pool.scan_back(Some(since), |_, _, e| {
            // Names are compared as everywhere else: case aside.
            if e.timestamp >= since && e.source_instance.eq_ignore_ascii_case(&name) {
                if e.session_id.is_empty() {
                    by_hand = (by_hand.0 + 1, by_hand.1.max(e.timestamp));
                } else if !sessions.iter().any(|(s, _)| *s == e.session_id) {
                    sessions.push((e.session_id.to_string(), e.timestamp));
                }
            }
            ControlFlow::Continue(())
        });
    }
    let details = sessions
        .iter()
        .map(|(s, ts)| {
            format!(
                "session {} last posted {} ago",
                s.chars().take(8).collect::<String>(),
                age(now - ts)
            )
        })
        .collect();
    Check::new(
        "instance",
        Status::Ok,
        instance_message(&name, sessions.len(), by_hand, now),
    )
    .details(details)
}

/// What the instance check says of `name`: how many sessions posted under
/// it in the last hour, and how many entries were posted from a terminal
/// (`(count, newest timestamp)`).
fn instance_message(name: &str, sessions: usize, by_hand: (usize, i64), now: i64) -> String {
    let hand = match by_hand.0 {
        0 => String::new(),
        n => format!(
            "; {n} entr{} posted from a terminal (pool post), the last {} ago",
            if n == 1 { "y" } else { "ies" },
            age(now - by_hand.1)
        ),
    };
    match sessions {
        0 if by_hand.0 > 0 => {
            format!(
                "CLAUDE_INSTANCE={name}; no Claude Code session posted under it in the last hour{hand}"
            )
        }
        0 => format!("CLAUDE_INSTANCE={name}; nothing posted under it in the last hour"),
        1 => format!("CLAUDE_INSTANCE={name}; 1 session posted under it in the last hour{hand}"),
        n => format!(
            "CLAUDE_INSTANCE={name}; {n} sessions posted under it in the last hour{hand} \
             (fine if one followed another; two live at once should use different names)"
        ),
    }
}

fn check_log(dir: &Path, now: i64, budget: Option<Duration>) -> Vec<Check> {
    let pool = Pool::open_readonly(dir.to_path_buf());
    let mut entries = 0u64;
    let (mut stray, mut untimed, mut future) = (0u64, 0u64, 0u64);
    let mut last_stop: Option<(i64, String)> = None;
    let started = Instant::now();
    // Where the check stopped for its budget: the offset of the oldest line checked.
    let mut stopped_at: Option<u64> = None;
    let stats = pool.scan_back(None, |off, _, e| {
        if budget
            .is_some_and(|b| entries % BUDGET_EVERY == BUDGET_EVERY - 1 && started.elapsed() >= b)
        {
            stopped_at = Some(off);
            return ControlFlow::Break(());
        }
        entries += 1;
        // Once stamped (by --repair), a line without a timestamp or dated
        // ahead is harmless: its lifetime runs from its stamp.
        if e.local.is_none_or(|l| l.off != off) {
            stray += 1;
            if e.timestamp <= 0 {
                untimed += 1;
            } else if e
                .seen
                .is_some_and(|s| e.timestamp > s.saturating_add(crate::store::entry::MAX_SKEW))
            {
                future += 1;
            }
        }
        if last_stop.is_none()
            && e.received.is_none()
            && matches!(e.origin.as_ref(), "transcript" | "last_message")
        {
            last_stop = Some((e.timestamp, e.source_instance.to_string()));
        }
        ControlFlow::Continue(())
    });
    let log = pool.log_path();
    // What a check stopped by its budget says of its count.
    let of = match stopped_at {
        Some(off) => {
            let size = std::fs::metadata(&log).map_or(0, |m| m.len());
            format!(
                " (the newest {} MB of {} MB checked in {} s; pool doctor --full checks it all)",
                size.saturating_sub(off).div_ceil(1_000_000),
                size.div_ceil(1_000_000),
                budget.map_or(0, |b| b.as_secs())
            )
        }
        None => String::new(),
    };
    let entries_check = match stats {
        Err(e) => Check::new("entries", Status::Fail, e.to_string())
            .fix(format!("check {} and its permissions", log.display())),
        Ok(s) if s.bad > 0 => Check::new(
            "entries",
            Status::Warn,
            format!(
                "{entries} entries, {} line{} that fail to parse (skipped by every reader){of}",
                s.bad,
                plural(s.bad as usize)
            ),
        )
        .fix(format!(
            "nothing breaks; pool doctor --repair moves them to quarantine.jsonl (to look first: grep -vn '^{{' {})",
            log.display()
        )),
        Ok(_) if entries == 0 => Check::new("entries", Status::Ok, "no entries yet"),
        Ok(_) => Check::new(
            "entries",
            Status::Ok,
            format!("{entries} entries, all parse{of}"),
        ),
    };
    let mut checks = vec![entries_check];
    if stray > 0 {
        let mut parts = Vec::new();
        if stray > 0 {
            parts.push(format!(
                "{stray} stray line{} (not stamped by this pool's writers: another program's, a restored backup, another pool's, or written before stamps)",
                plural(stray as usize)
            ));
        }
        if untimed > 0 {
            parts.push(format!("{untimed} without a timestamp (never shown)",));
        }
        if future > 0 {
            parts.push(format!(
                "{future} dated in the future (their lifetime runs from when this machine got them)",
            ));
        }
        checks.push(
            Check::new("stray lines", Status::Warn, parts.join("; ")).fix(
                "none hides other entries; pool doctor --repair stamps each with when this machine had it by, losing none",
            ),
        );
    }
    let mut left = crate::store::rewrite::leftovers_in(dir);
    left.extend(crate::store::rewrite::leftovers_in(&dir.join("archive")));
    if !left.is_empty() {
        checks.push(
            Check::new(
                "interrupted rewrite",
                Status::Warn,
                format!(
                    "{} file{} left by an interrupted pool gc or repair (nothing is lost)",
                    left.len(),
                    plural(left.len())
                ),
            )
            .fix("pool gc finishes or removes them"),
        );
    }
    if log.exists() && !pool.index_is_current() {
        checks.push(
            Check::new(
                "long-TTL index",
                Status::Warn,
                "out of date (an interrupted rewrite, a full disk, or an index from before this version): handoffs and lessons older than the last hour may be missed",
            )
            .fix("pool gc rebuilds it (the Stop hook also starts one in the background)"),
        );
    }
    let stop_check = match last_stop {
        Some((ts, who)) => Check::new(
            "stop hook",
            Status::Ok,
            format!(
                "last extracted a block {} ago (instance {who})",
                age(now - ts)
            ),
        ),
        None => Check::new(
            "stop hook",
            Status::Ok,
            "has not extracted a block yet (it does once a session writes a pool block)",
        ),
    };
    checks.push(stop_check);
    checks
}

/// Sync across machines, when configured: settings, last pass, retention gap.
fn check_sync(dir: &Path, now: i64) -> Option<Check> {
    let h = crate::sync::health(&crate::env::config::ProcessEnv, dir, now)?;
    let status = if h.ok { Status::Ok } else { Status::Warn };
    let c = Check::new("sync", status, h.message).details(h.details);
    Some(match h.fix {
        Some(f) => c.fix(f),
        None => c,
    })
}

fn check_errors(dir: &Path, now: i64) -> Check {
    let path = dir.join(paths::ERROR_LOG);
    let Ok(f) = std::fs::File::open(&path) else {
        return Check::new("errors", Status::Ok, "no errors.log");
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut rev = RevLines::new(f, len);
    let mut lines = Vec::new();
    while lines.len() < ERROR_LINES {
        match rev.next_line() {
            Ok(Some((_, l))) if l.trim_ascii().is_empty() => {}
            Ok(Some((_, l))) => lines.push(String::from_utf8_lossy(l).into_owned()),
            _ => break,
        }
    }
    lines.reverse();
    let Some(newest) = lines.last() else {
        return Check::new("errors", Status::Ok, "errors.log is empty");
    };
    let ts = newest
        .split(' ')
        .next()
        .and_then(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%SZ").ok())
        .map(|t| t.and_utc().timestamp());
    match ts {
        Some(t) if now - t > RECENT_ERROR => Check::new(
            "errors",
            Status::Ok,
            format!("last error {} ago in {}", age(now - t), path.display()),
        ),
        _ => Check::new(
            "errors",
            Status::Warn,
            format!(
                "recent errors in {}{}",
                path.display(),
                ts.map(|t| format!(" (last {} ago)", age(now - t)))
                    .unwrap_or_default()
            ),
        )
        .details(lines)
        .fix("the hooks kept the session going; the lines say what to fix"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(age(5), "5s");
        assert_eq!(age(125), "2m");
        assert_eq!(age(7200), "2h");
        assert_eq!(age(3 * 86_400), "3d");
        assert_eq!(age(-4), "0s");
    }

    /// A large log's check stops at its budget, newest first, and says how
    /// far it got; `--full` (no budget) checks every line.
    #[test]
    fn the_log_check_stops_at_its_budget_and_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        let mut log = String::new();
        for i in 0..600 {
            log.push_str(&format!(
                "{{\"id\":\"e{i}\",\"timestamp\":{},\"source_instance\":\"A\",\"action\":\"completed\",\"topic\":\"t{i}\"}}\n",
                1_000_000 + i
            ));
        }
        std::fs::write(tmp.path().join(paths::LOG_FILE), log).unwrap();
        let msg = |b| check_log(tmp.path(), 1_000_700, b)[0].message.clone();
        let part = msg(Some(Duration::ZERO));
        assert!(
            part.starts_with("255 entries, all parse (the newest"),
            "{part}"
        );
        assert!(part.contains("pool doctor --full checks it all"), "{part}");
        let full = msg(None);
        assert_eq!(full, "600 entries, all parse");
    }

    #[test]
    fn report_rendering_counts() {
        let r = Report {
            ok: false,
            checks: vec![
                Check::new("a", Status::Ok, "fine"),
                Check::new("b", Status::Warn, "hm").fix("do x"),
                Check::new("c", Status::Fail, "bad").details(vec!["line".into()]),
            ],
        };
        let s = render(&r);
        assert!(s.contains("warn  b          hm\n      fix: do x\n"), "{s}");
        assert!(s.ends_with("pool doctor: 1 failure, 1 warning\n"), "{s}");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["checks"][2]["status"], "fail");
        assert!(j["checks"][0].get("fix").is_none());
    }
}
