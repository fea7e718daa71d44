//! The never-break-the-session policy every hook body runs under: read stdin
//! (bounded), turn it into the neutral event (the agent adapter: `--agent
//! codex`, or the input's shape), decide membership, find the pool folder,
//! load the configuration, refresh this session's presence, run the body,
//! print its text, and turn every failure (bad input, I/O errors, even a
//! panic) into one line in `errors.log` and exit status 0.
//!
//! Membership comes first: a session is a member when `CLAUDE_INSTANCE` is
//! set or its repository opted in with `pool init`
//! ([`crate::env::repo::Membership`]). For any other session the hook exits
//! at once, before it touches the pool folder: it prints nothing, writes
//! nothing (not even to `errors.log`) and reads only stdin and the
//! repository's `.git`.
//!
//! Every hook also runs under a wall-clock budget ([`DEFAULT_BUDGET`],
//! `POOL_HOOK_TIMEOUT`): a watchdog thread that, when the budget runs out
//! (a lock held by a stuck process, a file system that stopped answering),
//! writes one line to `errors.log` and ends the process with status 0
//! without printing anything. That is safe at any point: appends are one
//! `write` of whole lines, files are replaced by rename, and locks die with
//! the process. Output is never cut: once the body's text starts to be
//! printed, the watchdog lets it finish.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::agent::adapter::{self, Agent};
use crate::agent::hook::{Ctx, HookInput, MAX_STDIN, report};
use crate::env::config::{self, Config, ConfigFile, Env, ProcessEnv, WithInstance};
use crate::env::repo::{self, InitFile, Membership};
use crate::error::{Error, Result};
use crate::store::paths::Locator;

/// Wall-clock budget of one hook run when `POOL_HOOK_TIMEOUT` does not set
/// one (5 s; a hook normally takes a few milliseconds, and Claude Code's own
/// timeout is 60 s).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(5);
/// How long the watchdog waits for output already being printed, and for its
/// own log line, before it ends the process anyway.
const GRACE: Duration = Duration::from_secs(1);

/// The body runs; the output is being printed; the budget ran out.
const RUNNING: u8 = 0;
const PRINTING: u8 = 1;
const EXPIRED: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(RUNNING);
/// The pool folder, once known, for the watchdog's log line.
static POOL_DIR: OnceLock<PathBuf> = OnceLock::new();

/// The budget from `POOL_HOOK_TIMEOUT` (`2s`, `1m`; at least 1 s), else
/// [`DEFAULT_BUDGET`].
pub fn budget() -> Duration {
    std::env::var("POOL_HOOK_TIMEOUT")
        .ok()
        .and_then(|v| crate::store::entry::parse_duration(&v))
        .filter(|s| *s > 0)
        .map_or(DEFAULT_BUDGET, Duration::from_secs)
}

/// Starts the watchdog: after `budget`, one line in `errors.log` and exit 0.
fn start_watchdog(program: &str, budget: Duration) {
    let program = program.to_string();
    // Without a thread (none could be spawned) the hook runs unbounded, as before.
    let _ = std::thread::Builder::new()
        .name("pool-watchdog".into())
        .spawn(move || {
            std::thread::sleep(budget);
            if STATE
                .compare_exchange(RUNNING, EXPIRED, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                // The output is being printed: let it finish, within reason.
                std::thread::sleep(GRACE);
            }
            // The log line itself must not hang the process (a stuck disk).
            let (tx, rx) = std::sync::mpsc::channel();
            let _ = std::thread::Builder::new().spawn(move || {
                let dir = POOL_DIR
                    .get()
                    .cloned()
                    .or_else(|| Locator::from_env(None).pool_dir().ok());
                if let Some(dir) = dir {
                    report(
                        &dir,
                        &program,
                        &format!(
                            "stopped after its wall-clock budget of {}s (POOL_HOOK_TIMEOUT); the session goes on",
                            budget.as_secs()
                        ),
                    );
                }
                let _ = tx.send(());
            });
            let _ = rx.recv_timeout(GRACE);
            exit_now()
        });
}

/// Runs a hook body under the policy and returns the exit code (always 0).
/// The body returns the text to print on stdout, if any.
pub fn run(program: &str, body: fn(&Ctx) -> Result<Option<String>>) -> i32 {
    run_gated(program, |_| true, body)
}

/// [`run`], but the body runs only when `gate` accepts the parsed input:
/// a rejected event costs reading stdin and nothing else (no pool folder,
/// configuration or presence). Input that does not parse goes to the body's
/// error path as usual.
pub fn run_gated(
    program: &str,
    gate: fn(&HookInput) -> bool,
    body: fn(&Ctx) -> Result<Option<String>>,
) -> i32 {
    start_watchdog(program, budget());
    let code = run_inner(program, gate, body);
    if std::env::var_os("POOL_REPORT_PEAK_RSS").is_some() {
        report_peak_rss(program);
    }
    code
}

fn run_inner(
    program: &str,
    gate: fn(&HookInput) -> bool,
    body: fn(&Ctx) -> Result<Option<String>>,
) -> i32 {
    std::panic::set_hook(Box::new(|_| {}));
    let mut raw = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_STDIN)
        .read_to_end(&mut raw);
    let parsed = read
        .map_err(|e| Error::Invalid(format!("cannot read stdin: {e}")))
        .and_then(|_| HookInput::parse(&raw));
    if parsed.as_ref().is_ok_and(|i| !gate(i)) {
        return 0;
    }
    let cwd = parsed.as_ref().ok().and_then(|i| i.cwd.clone());
    let repo = repo::locate(&session_dir(cwd.as_deref()));
    let instance_env = ProcessEnv.get("CLAUDE_INSTANCE");
    let membership = Membership::of(instance_env.as_deref(), &repo);
    if !membership.is_member() {
        return 0;
    }
    let locator = Locator::from_env(cwd.as_deref());
    let pool_dir = match locator.pool_dir() {
        Ok(d) => d,
        Err(_) => return 0,
    };
    let _ = POOL_DIR.set(pool_dir.clone());
    let input = match parsed {
        Ok(i) => {
            let agent = Agent::detect(crate::cmd::multicall::hook_args(), &i);
            adapter::normalize(i, agent)
        }
        Err(e) => {
            report(&pool_dir, program, &e.to_string());
            return 0;
        }
    };
    let config = match config::load_config_file(&pool_dir) {
        Ok(c) => c,
        Err(e) => {
            report(&pool_dir, program, &e.to_string());
            ConfigFile::default()
        }
    };
    let scope = config.scope_of(&repo);
    let (config, warnings) = match (&instance_env, membership.instance()) {
        (None, Some(name)) => {
            let (mut c, w) = Config::from_env(
                &WithInstance {
                    inner: &ProcessEnv,
                    instance: name.to_string(),
                },
                &config,
            );
            c.instance_derived = true;
            (c, w)
        }
        _ => Config::from_env(&ProcessEnv, &config),
    };
    for w in warnings {
        report(&pool_dir, program, &w);
    }
    if let Membership::OptedIn {
        init: InitFile {
            warning: Some(w), ..
        },
        ..
    } = &membership
    {
        report(&pool_dir, program, w);
    }
    let ctx = Ctx {
        input,
        pool_dir: pool_dir.clone(),
        config,
        now: chrono::Utc::now().timestamp(),
        repo,
        scope,
    };
    crate::coord::presence::touch(&ctx, program);
    match std::panic::catch_unwind(|| body(&ctx)) {
        Ok(Ok(Some(text))) if !text.is_empty() => {
            // The last pass of the choke point: nothing a body built from
            // other sessions' text leaves as markup, a turn or invisible.
            let text = crate::view::neutral::document(&text);
            if STATE
                .compare_exchange(RUNNING, PRINTING, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                let mut out = std::io::stdout().lock();
                // A closed stdout is not our problem to report.
                let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
            } else {
                // The budget ran out: the watchdog logs and ends the process.
                std::thread::sleep(GRACE * 3);
            }
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => report(&pool_dir, program, &e.to_string()),
        Err(_) => report(
            &pool_dir,
            program,
            "internal error (panic); the session goes on",
        ),
    }
    0
}

/// The folder a hook's session works in: the event's `cwd` when it is
/// absolute, else `$CLAUDE_PROJECT_DIR`, else the process's own.
pub fn session_dir(cwd: Option<&Path>) -> PathBuf {
    cwd.filter(|c| c.is_absolute())
        .map(Path::to_path_buf)
        .or_else(|| {
            std::env::var_os("CLAUDE_PROJECT_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        })
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Diagnostics for tests and benchmarks (`POOL_REPORT_PEAK_RSS=1`): prints
/// this process's peak resident memory (`VmHWM`) to stderr. A parent's
/// `getrusage` cannot tell it: a spawned child inherits the parent's
/// high-water mark across `exec`.
fn report_peak_rss(program: &str) {
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_else(|| "?".into());
    let _ = writeln!(std::io::stderr(), "{program}: peak_rss_kib={hwm}");
}

/// Ends the process at once with status 0, without running destructors or
/// flushing buffers another thread may be using.
fn exit_now() -> ! {
    #[cfg(unix)]
    // SAFETY: `_exit` has no preconditions.
    unsafe {
        libc::_exit(0)
    }
    #[cfg(windows)]
    {
        use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};
        // SAFETY: GetCurrentProcess is a pseudo-handle; TerminateProcess on
        // it does not return when it succeeds.
        unsafe { TerminateProcess(GetCurrentProcess(), 0) };
        std::process::abort()
    }
}
