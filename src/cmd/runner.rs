//! The never-break-the-session policy every hook body runs under: read stdin
//! (bounded), find the pool folder, load the configuration, refresh this
//! session's presence, run the body, print its text, and turn every failure
//! (bad input, I/O errors, even a panic) into one line in `errors.log` and
//! exit status 0.

use std::io::{Read, Write};

use crate::agent::hook::{Ctx, HookInput, MAX_STDIN, report};
use crate::env::config::{self, Config, ConfigFile, ProcessEnv};
use crate::error::{Error, Result};
use crate::store::paths::Locator;

/// Runs a hook body under the policy and returns the exit code (always 0).
/// The body returns the text to print on stdout, if any.
pub fn run(program: &str, body: fn(&Ctx) -> Result<Option<String>>) -> i32 {
    let code = run_inner(program, body);
    if std::env::var_os("POOL_REPORT_PEAK_RSS").is_some() {
        report_peak_rss(program);
    }
    code
}

fn run_inner(program: &str, body: fn(&Ctx) -> Result<Option<String>>) -> i32 {
    std::panic::set_hook(Box::new(|_| {}));
    let mut raw = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_STDIN)
        .read_to_end(&mut raw);
    let parsed = read
        .map_err(|e| Error::Invalid(format!("cannot read stdin: {e}")))
        .and_then(|_| HookInput::parse(&raw));
    let cwd = parsed.as_ref().ok().and_then(|i| i.cwd.clone());
    let locator = Locator::from_env(cwd.as_deref());
    let pool_dir = match locator.pool_dir() {
        Ok(d) => d,
        Err(_) => return 0,
    };
    let input = match parsed {
        Ok(i) => i,
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
    let (config, warnings) = Config::from_env(&ProcessEnv, &config);
    for w in warnings {
        report(&pool_dir, program, &w);
    }
    let ctx = Ctx {
        input,
        pool_dir: pool_dir.clone(),
        config,
        now: chrono::Utc::now().timestamp(),
    };
    crate::coord::presence::touch(&ctx, program);
    match std::panic::catch_unwind(|| body(&ctx)) {
        Ok(Ok(Some(text))) if !text.is_empty() => {
            let mut out = std::io::stdout().lock();
            // A closed stdout is not our problem to report.
            let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
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
