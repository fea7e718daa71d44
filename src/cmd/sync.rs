//! `pool sync`: one pass (or, with `--watch`, passes without end) between
//! this pool folder and the shared Redis stream; see [`crate::sync`].
//!
//! `--watch` runs a pass as soon as there is something to do: a thread
//! watches the local log (its size and inode, every [`WATCH_POLL_MS`]) and
//! another blocks on the stream (`XREAD BLOCK`) on its own connection; either
//! wakes the pass, which never blocks itself.

use clap::Args;

use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::env::config::ProcessEnv;
use crate::error::{Error, Result};
use crate::store::paths::Locator;
#[cfg(feature = "sync-redis")]
use crate::sync::PASS_DEADLINE;
use crate::sync::{self, SyncConfig};

/// How long the stream watcher of `--watch` blocks in one `XREAD`, in milliseconds.
pub const WATCH_BLOCK_MS: u64 = 1000;
/// How often `--watch` looks at the local log's size, in milliseconds.
pub const WATCH_POLL_MS: u64 = 5;
/// Longest time `--watch` goes without a pass (to notice a reset), in seconds.
pub const WATCH_IDLE: u64 = 5;
/// Longest wait between two connection attempts of `--watch`, in seconds.
pub const WATCH_RETRY_MAX: u64 = 30;
/// Temp files of `sync.json` / `sync.seen` older than this are orphans of a
/// killed pass, in seconds.
pub const ORPHAN_AGE: u64 = 60;

const PROGRAM: &str = "pool sync";

/// Flags of `pool sync`.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Keep running: push new local entries as soon as they are written, pull as they arrive.
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
/// one line on stderr, or in `errors.log` for a background pass).
pub fn run(args: &SyncArgs) -> i32 {
    match run_inner(args) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            if args.background {
                // Failures of a pass were logged (once) with the state; the
                // rest (a corrupt sync.json, a bad setting) are logged here.
                if let Ok(dir) = Locator::from_env(None).pool_dir() {
                    log_once(&dir, &e.to_string());
                    let now = chrono::Utc::now().timestamp();
                    let _ = sync::set_next(&dir, now + sync::RETRY_AFTER_FAILURE);
                }
            } else {
                eprint_error(PROGRAM, &e.to_string());
            }
            EXIT_ERROR
        }
    }
}

/// Writes `msg` to `errors.log` unless its recent tail already holds it
/// (a failing server is one line, not one a minute).
fn log_once(dir: &std::path::Path, msg: &str) {
    use std::io::{Read, Seek, SeekFrom};
    let path = dir.join(crate::store::paths::ERROR_LOG);
    let mut tail = String::new();
    if let Ok(mut f) = std::fs::File::open(&path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(4096)));
        let mut b = Vec::new();
        let _ = f.read_to_end(&mut b);
        tail = String::from_utf8_lossy(&b).into_owned();
    }
    let one_line: String = msg
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if !tail.contains(&format!("{PROGRAM}: {one_line}")) {
        crate::store::fsio::log_error(dir, PROGRAM, msg);
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
    // Whatever fails from here, the message never carries the password.
    let password = cfg.read_password(&ProcessEnv)?;
    run_configured(args, &dir, &cfg, password.clone())
        .map_err(|e| Error::Invalid(cfg.scrub(&e.to_string(), password.as_deref())))
}

/// Removes temp files of `sync.json` and `sync.seen` left by a killed pass.
#[cfg(feature = "sync-redis")]
fn clean_orphans(dir: &std::path::Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(ORPHAN_AGE);
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = [sync::STATE_FILE, sync::SEEN_FILE]
            .iter()
            .any(|f| name.starts_with(&format!(".{f}.")))
            || name.starts_with(&format!(".{}", sync::PEER_STATE_PREFIX));
        if ours
            && name.ends_with(".tmp")
            && e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t < old)
        {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(not(feature = "sync-redis"))]
fn run_configured(
    _: &SyncArgs,
    _: &std::path::Path,
    _: &SyncConfig,
    _: Option<String>,
) -> Result<()> {
    Ok(())
}

#[cfg(feature = "sync-redis")]
fn run_configured(
    args: &SyncArgs,
    dir: &std::path::Path,
    cfg: &SyncConfig,
    password: Option<String>,
) -> Result<()> {
    use std::fs::TryLockError;

    let pool = crate::store::log::Pool::open(dir.to_path_buf())?;
    let lock_path = dir.join(sync::LOCK_FILE);
    let lock = crate::store::fsio::private_options(0o600)
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
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
    let now = chrono::Utc::now().timestamp();
    sync::write_lock_holder(
        &lock,
        &lock_path,
        now,
        if args.watch { "watch" } else { "pass" },
    )?;
    clean_orphans(dir);
    // What counts as live (and so is pushed and accepted) goes by POOL_TTL.
    let (settings, _) = crate::env::config::Config::from_env(
        &ProcessEnv,
        &crate::env::config::load_config_file(dir).unwrap_or_default(),
    );
    let mut syncer = sync::engine::Syncer::open(pool.clone(), &cfg.target(), cfg.batch)?
        .with_default_ttl(settings.ttl);
    if args.watch {
        return watch(args, dir, cfg, password, &mut syncer);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(PASS_DEADLINE);
    let outcome = sync::redis::RedisRemote::connect(cfg, password.clone(), Some(deadline))
        .and_then(|mut remote| syncer.pass(&mut remote, Some(deadline), now));
    match outcome {
        Ok(report) => {
            syncer.record(now, Ok(()))?;
            let print = !args.quiet && !args.background;
            if print {
                print!("{}", describe(cfg, &report, now));
            }
            pull_peers(&pool, cfg, password, deadline, now, print).inspect_err(|e| {
                if args.background {
                    crate::store::fsio::log_error(dir, PROGRAM, &e.to_string());
                }
            })
        }
        Err(e) => {
            let msg = cfg.scrub(&e.to_string(), password.as_deref());
            let repeated = syncer.state().last_error.as_deref() == Some(msg.as_str());
            let _ = syncer.record(now, Err(msg.clone()));
            let _ = sync::set_next(dir, now + sync::RETRY_AFTER_FAILURE);
            if args.background && !repeated {
                crate::store::fsio::log_error(dir, PROGRAM, &msg);
            }
            Err(Error::Invalid(msg))
        }
    }
}

/// Pulls each of `cfg`'s peer streams (other writers', never pushed to);
/// prints what each pass did when `print`. Tries them all, then fails with
/// the first failure.
#[cfg(feature = "sync-redis")]
fn pull_peers(
    pool: &crate::store::log::Pool,
    cfg: &SyncConfig,
    password: Option<String>,
    deadline: std::time::Instant,
    now: i64,
    print: bool,
) -> Result<()> {
    let mut first: Option<String> = None;
    for peer in &cfg.peers {
        let pcfg = SyncConfig {
            stream: peer.clone(),
            peers: Vec::new(),
            ..cfg.clone()
        };
        let mut syncer = sync::engine::Syncer::open_peer(pool.clone(), &pcfg.target(), cfg.batch)?;
        let outcome = sync::redis::RedisRemote::connect(&pcfg, password.clone(), Some(deadline))
            .and_then(|mut remote| syncer.pull_only(&mut remote, Some(deadline), now));
        match outcome {
            Ok(report) => {
                syncer.record(now, Ok(()))?;
                if print {
                    print!("{}", describe(&pcfg, &report, now));
                }
            }
            Err(e) => {
                let msg = cfg.scrub(&e.to_string(), password.as_deref());
                let _ = syncer.record(now, Err(msg.clone()));
                first.get_or_insert(format!("peer stream {peer}: {msg}"));
            }
        }
    }
    first.map_or(Ok(()), |m| Err(Error::Invalid(m)))
}

/// What a pass did, for a terminal: one line, and one more for each thing to know.
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
    if r.refused > 0 {
        out.push_str(&format!(
            "pool sync: refused {} messages (too large, a bad id or name, or stamped far in the future; see pool doctor)\n",
            r.refused
        ));
    }
    if r.capped > 0 {
        out.push_str(&format!(
            "pool sync: {} entries were stamped ahead of this machine's clock; their time is when they arrived\n",
            r.capped
        ));
    }
    if let Some(why) = &r.reset {
        out.push_str(&format!(
            "pool sync: the stream was reset: {why}; re-seeding it from this machine's log\n"
        ));
    }
    if let Some(n) = r.reseeded {
        out.push_str(&format!(
            "pool sync: re-seeded the stream ({n} entries sent)\n"
        ));
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

/// Wakes the watch's pass when the local log changes (size or inode).
#[cfg(feature = "sync-redis")]
fn watch_log(log: std::path::PathBuf, tx: std::sync::mpsc::Sender<()>) {
    let look = || {
        let len = std::fs::metadata(&log).ok()?.len();
        crate::store::fsio::path_key(&log)
            .ok()
            .map(|k| (k.ino, len))
    };
    let mut last = look();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(WATCH_POLL_MS));
        let now = look();
        if now != last {
            last = now;
            if tx.send(()).is_err() {
                return;
            }
        }
    }
}

/// Where the watch's pass got to: its cursor and how many passes it made.
#[cfg(feature = "sync-redis")]
type Progress = std::sync::Arc<std::sync::Mutex<(Option<sync::StreamId>, u64)>>;

/// Wakes the watch's pass when the stream has a message past its cursor,
/// from its own connection (a blocked `XREAD` on the pass's connection
/// would delay pushes).
#[cfg(feature = "sync-redis")]
fn watch_stream(
    cfg: SyncConfig,
    password: Option<String>,
    progress: Progress,
    tx: std::sync::mpsc::Sender<()>,
) {
    use crate::sync::engine::Remote as _;
    use std::time::{Duration, Instant};
    let block = Duration::from_millis(WATCH_BLOCK_MS);
    let read = |p: &Progress| p.lock().map(|g| *g).unwrap_or((None, 0));
    loop {
        let Ok(mut remote) = sync::redis::RedisRemote::connect(&cfg, password.clone(), None) else {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        loop {
            let (after, passes) = read(&progress);
            match remote.wait(after, block) {
                Ok(Some(_)) => {
                    if tx.send(()).is_err() {
                        return;
                    }
                    // Wait for the pass to move the cursor before looking again.
                    let until = Instant::now() + Duration::from_secs(2);
                    while read(&progress).1 == passes && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(feature = "sync-redis")]
fn watch(
    args: &SyncArgs,
    dir: &std::path::Path,
    cfg: &SyncConfig,
    password: Option<String>,
    syncer: &mut sync::engine::Syncer,
) -> Result<()> {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};
    let mut retry = 1u64;
    if !args.quiet {
        println!(
            "pool sync: watching {} stream {} (Ctrl-C stops)",
            cfg.shown_url(),
            cfg.stream
        );
    }
    let (tx, rx) = mpsc::channel::<()>();
    let progress: Progress = std::sync::Arc::new(std::sync::Mutex::new((syncer.cursor(), 0)));
    {
        let log = dir.join(crate::store::paths::LOG_FILE);
        let tx = tx.clone();
        std::thread::spawn(move || watch_log(log, tx));
    }
    {
        let (cfg, password, progress) = (cfg.clone(), password.clone(), progress.clone());
        std::thread::spawn(move || watch_stream(cfg, password, progress, tx));
    }
    let mut passes = 0u64;
    let mut peers_at = 0i64;
    let syncer_pool = crate::store::log::Pool::open(dir.to_path_buf())?;
    loop {
        let now = chrono::Utc::now().timestamp();
        // Hooks start no pass of their own while this one runs.
        let _ = sync::set_next(dir, now + 2 * sync::HOOK_EVERY);
        let deadline = Instant::now() + Duration::from_secs(PASS_DEADLINE);
        let mut remote =
            match sync::redis::RedisRemote::connect(cfg, password.clone(), Some(deadline)) {
                Ok(r) => r,
                Err(e) => {
                    note_failure(args, syncer, now, &e, cfg, password.as_deref());
                    std::thread::sleep(Duration::from_secs(retry));
                    retry = (retry * 2).min(WATCH_RETRY_MAX);
                    continue;
                }
            };
        retry = 1;
        loop {
            let now = chrono::Utc::now().timestamp();
            let _ = sync::set_next(dir, now + 2 * sync::HOOK_EVERY);
            let deadline = Instant::now() + Duration::from_secs(PASS_DEADLINE);
            match syncer.pass(&mut remote, Some(deadline), now) {
                Ok(report) => {
                    passes += 1;
                    if let Ok(mut p) = progress.lock() {
                        *p = (syncer.cursor(), passes);
                    }
                    let was_failing = syncer.state().last_error.is_some();
                    let stale = syncer.state().last_ok.is_none_or(|t| now - t >= 60);
                    let news = report.pushed + report.pulled + report.refused > 0
                        || report.gap.is_some()
                        || report.reset.is_some()
                        || report.reseeded.is_some();
                    if was_failing || stale || news {
                        syncer.record(now, Ok(()))?;
                    }
                    if !args.quiet && news {
                        print!("{}", describe(cfg, &report, now));
                    }
                    if !cfg.peers.is_empty() && now - peers_at >= WATCH_IDLE as i64 {
                        peers_at = now;
                        if let Err(e) =
                            pull_peers(&syncer_pool, cfg, password.clone(), deadline, now, false)
                            && !args.quiet
                        {
                            eprint_error(PROGRAM, &format!("{e}; retrying"));
                        }
                    }
                    if report.more {
                        continue;
                    }
                }
                Err(e) => {
                    note_failure(args, syncer, now, &e, cfg, password.as_deref());
                    break;
                }
            }
            // Sleep until the log or the stream has news (or a while passed),
            // then take every wake-up that came meanwhile.
            let _ = rx.recv_timeout(Duration::from_secs(WATCH_IDLE));
            while rx.try_recv().is_ok() {}
        }
    }
}

#[cfg(feature = "sync-redis")]
fn note_failure(
    args: &SyncArgs,
    syncer: &mut sync::engine::Syncer,
    now: i64,
    e: &Error,
    cfg: &SyncConfig,
    password: Option<&str>,
) {
    let msg = cfg.scrub(&e.to_string(), password);
    if syncer.state().last_error.as_deref() != Some(msg.as_str()) && !args.quiet {
        eprint_error(PROGRAM, &format!("{msg}; retrying"));
    }
    let _ = syncer.record(now, Err(msg));
}
