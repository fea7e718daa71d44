//! `pool sync`: one pass (or, with `--watch`, passes without end) between
//! this pool folder and the shared Redis stream; see [`crate::sync`].

use clap::Args;

use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::env::config::ProcessEnv;
use crate::error::{Error, Result};
use crate::store::paths::Locator;
use crate::sync::{self, SyncConfig};

/// Longest time a one-shot pass runs before it stops (progress is kept), in seconds.
pub const PASS_DEADLINE: u64 = 30;
/// How long `--watch` waits on the stream for news before looking at the local log again, in milliseconds.
pub const WATCH_BLOCK_MS: u64 = 1000;
/// Longest wait between two connection attempts of `--watch`, in seconds.
pub const WATCH_RETRY_MAX: u64 = 30;

const PROGRAM: &str = "pool sync";

/// Flags of `pool sync`.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Keep running: push new local entries within a second, pull as they arrive (XREAD BLOCK).
    #[arg(long)]
    pub watch: bool,
    /// Print nothing on success.
    #[arg(long, short)]
    pub quiet: bool,
    /// Started by a hook: print nothing, log failures to errors.log once.
    #[arg(long, hide = true)]
    pub background: bool,
}

/// Runs `pool sync`; returns the exit code (1 when the pass failed, with
/// one line on stderr).
pub fn run(args: &SyncArgs) -> i32 {
    match run_inner(args) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            if !args.background {
                eprint_error(PROGRAM, &e.to_string());
            }
            EXIT_ERROR
        }
    }
}

fn run_inner(args: &SyncArgs) -> Result<()> {
    let dir = Locator::from_env(None).pool_dir()?;
    let file = sync::load_file_config(&dir)?;
    let home = dirs::home_dir();
    let Some(cfg) = sync::resolve(&ProcessEnv, file.as_ref(), &dir, home.as_deref())? else {
        return Err(Error::Invalid(format!(
            "sync is not configured: add {{\"sync\": {{\"url\": \"redis://HOST:6379\"}}}} to {} or set POOL_SYNC_URL",
            dir.join(crate::store::paths::CONFIG_FILE).display()
        )));
    };
    if !cfg!(feature = "sync-redis") {
        return Err(Error::Invalid(
            "this pool was built without the sync-redis feature; \
             reinstall with cargo install --locked --features sync-redis --path ."
                .into(),
        ));
    }
    run_configured(args, &dir, &cfg)
}

#[cfg(not(feature = "sync-redis"))]
fn run_configured(_: &SyncArgs, _: &std::path::Path, _: &SyncConfig) -> Result<()> {
    Ok(())
}

#[cfg(feature = "sync-redis")]
fn run_configured(args: &SyncArgs, dir: &std::path::Path, cfg: &SyncConfig) -> Result<()> {
    use std::fs::TryLockError;

    let pool = crate::store::log::Pool::open(dir.to_path_buf())?;
    let lock_path = dir.join(sync::LOCK_FILE);
    let lock = crate::store::fsio::open_append(&lock_path)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) if args.watch => {
            if !args.quiet {
                println!("pool sync: waiting for the pool sync already running to finish");
            }
            lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        }
        Err(TryLockError::WouldBlock) => {
            // A watch (or another pass) is running and does this pass's work.
            if !args.quiet && !args.background {
                println!("pool sync: another pool sync is running; nothing to do");
            }
            return Ok(());
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(lock_path, e)),
    }
    let mut syncer = sync::engine::Syncer::open(pool, &cfg.target(), cfg.batch)?;
    if args.watch {
        return watch(args, dir, cfg, &mut syncer);
    }
    let now = chrono::Utc::now().timestamp();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(PASS_DEADLINE);
    let outcome = cfg
        .read_password(&ProcessEnv)
        .and_then(|pw| sync::redis::RedisRemote::connect(cfg, pw))
        .and_then(|mut remote| syncer.pass(&mut remote, None, Some(deadline), now));
    match outcome {
        Ok(report) => {
            syncer.record(now, Ok(()))?;
            if !args.quiet && !args.background {
                print!("{}", describe(cfg, &report, now));
            }
            Ok(())
        }
        Err(e) => {
            let msg = e.to_string();
            let repeated = syncer.state().last_error.as_deref() == Some(msg.as_str());
            let _ = syncer.record(now, Err(msg.clone()));
            let _ = sync::set_next(dir, now + sync::RETRY_AFTER_FAILURE);
            if args.background && !repeated {
                crate::store::fsio::log_error(dir, PROGRAM, &msg);
            }
            Err(e)
        }
    }
}

/// What a pass did, for a terminal: one line, and one more for a gap.
#[cfg(feature = "sync-redis")]
fn describe(cfg: &SyncConfig, r: &sync::engine::Report, now: i64) -> String {
    let mut out = format!(
        "pool sync: pushed {} new of {} sent, pulled {} new of {} read ({} stream {})\n",
        r.pushed,
        r.sent,
        r.pulled,
        r.read,
        cfg.shown_url(),
        cfg.stream
    );
    if r.expired + r.bad > 0 {
        out.push_str(&format!(
            "pool sync: skipped {} expired and {} unreadable messages\n",
            r.expired, r.bad
        ));
    }
    if r.stream_reset {
        out.push_str("pool sync: the stream was recreated; read it again from its start\n");
    }
    if let Some(g) = &r.gap {
        out.push_str(&format!("pool sync: {}\n", g.describe(now)));
    }
    if r.more {
        out.push_str(&format!(
            "pool sync: stopped after {PASS_DEADLINE}s with more to do; run it again\n"
        ));
    }
    out
}

#[cfg(feature = "sync-redis")]
fn watch(
    args: &SyncArgs,
    dir: &std::path::Path,
    cfg: &SyncConfig,
    syncer: &mut sync::engine::Syncer,
) -> Result<()> {
    use std::time::Duration;
    let block = Duration::from_millis(WATCH_BLOCK_MS);
    let mut retry = 1u64;
    if !args.quiet {
        println!(
            "pool sync: watching {} stream {} (Ctrl-C stops)",
            cfg.shown_url(),
            cfg.stream
        );
    }
    loop {
        let now = chrono::Utc::now().timestamp();
        // Hooks start no pass of their own while this one runs.
        let _ = sync::set_next(dir, now + 2 * sync::HOOK_EVERY);
        let connected = cfg
            .read_password(&ProcessEnv)
            .and_then(|pw| sync::redis::RedisRemote::connect(cfg, pw));
        let mut remote = match connected {
            Ok(r) => r,
            Err(e) => {
                note_failure(args, syncer, now, &e);
                std::thread::sleep(Duration::from_secs(retry));
                retry = (retry * 2).min(WATCH_RETRY_MAX);
                continue;
            }
        };
        retry = 1;
        loop {
            let now = chrono::Utc::now().timestamp();
            let _ = sync::set_next(dir, now + 2 * sync::HOOK_EVERY);
            match syncer.pass(&mut remote, Some(block), None, now) {
                Ok(report) => {
                    let was_failing = syncer.state().last_error.is_some();
                    let stale = syncer.state().last_ok.is_none_or(|t| now - t >= 60);
                    if was_failing
                        || stale
                        || report.pushed + report.pulled > 0
                        || report.gap.is_some()
                    {
                        syncer.record(now, Ok(()))?;
                    }
                    if !args.quiet && (report.pushed + report.pulled > 0 || report.gap.is_some()) {
                        print!("{}", describe(cfg, &report, now));
                    }
                }
                Err(e) => {
                    note_failure(args, syncer, now, &e);
                    break;
                }
            }
        }
    }
}

#[cfg(feature = "sync-redis")]
fn note_failure(args: &SyncArgs, syncer: &mut sync::engine::Syncer, now: i64, e: &Error) {
    let msg = e.to_string();
    if syncer.state().last_error.as_deref() != Some(msg.as_str()) && !args.quiet {
        eprint_error(PROGRAM, &format!("{msg}; retrying"));
    }
    let _ = syncer.record(now, Err(msg));
}
