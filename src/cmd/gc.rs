//! `pool gc`: archive expired entries, and the Stop hook's background trigger.

use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::env::config::{self, Config, ProcessEnv};
use crate::error::{Error, Result};
use crate::store::log::Pool;
use crate::store::paths::Locator;

/// Default size of the live log past which the Stop hook archives, in bytes (64 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Least time between two background archive passes, in seconds.
const BACKGROUND_EVERY: i64 = 600;
/// Age past which expired entries are archived by the background pass, in seconds.
pub const DEFAULT_OLDER_THAN: u64 = 7 * 86_400;

/// Runs `pool gc`; returns the exit code.
pub fn run(older_than: u64, quiet: bool) -> i32 {
    match gc(older_than) {
        Ok(r) => {
            if !quiet {
                println!(
                    "archived {} entries, kept {} lines ({} → {} bytes)",
                    r.archived, r.kept, r.bytes_before, r.bytes_after
                );
                if r.recovered > 0 {
                    println!(
                        "finished or removed {} file(s) an interrupted pass left",
                        r.recovered
                    );
                }
            }
            EXIT_OK
        }
        Err(e) => {
            eprint_error("pool gc", &e.to_string());
            EXIT_ERROR
        }
    }
}

fn gc(older_than: u64) -> Result<crate::store::rewrite::ArchiveReport> {
    let dir = Locator::from_env(None).pool_dir()?;
    let pool = Pool::open(dir.clone())?;
    let (settings, _) = Config::from_env(
        &ProcessEnv,
        &config::load_config_file(&dir).unwrap_or_default(),
    );
    // One pass at a time; a second one has nothing to add.
    let lock_path = dir.join("gc.lock");
    let lock = crate::store::fsio::open_append(&lock_path)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::Invalid("another pool gc is running".into()));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(lock_path, e)),
    }
    pool.archive(older_than, settings.ttl, chrono::Utc::now().timestamp())
}

/// Starts `pool gc --quiet` in the background when the live log is larger
/// than `POOL_MAX_BYTES` or the long-TTL index is stale (an interrupted pass,
/// a full disk), and no pass started in the last ten minutes. Costs two
/// `stat`s and a small read when there is nothing to do; never waits.
pub fn maybe_archive_in_background(pool: &Pool, now: i64) -> Result<bool> {
    let max = std::env::var("POOL_MAX_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_MAX_BYTES);
    let size = std::fs::metadata(pool.log_path())
        .map(|m| m.len())
        .unwrap_or(0);
    if size <= max && pool.index_is_current() {
        return Ok(false);
    }
    let stamp = pool.dir().join("gc.stamp");
    if let Ok(m) = std::fs::metadata(&stamp)
        && now - crate::store::fsio::mtime(&m) < BACKGROUND_EVERY
    {
        return Ok(false);
    }
    crate::store::fsio::atomic_write(&stamp, now.to_string().as_bytes(), 0o600)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let pool_bin = exe.with_file_name(format!("pool{}", std::env::consts::EXE_SUFFIX));
    // Its own process group, so it is not killed along with the hook.
    crate::env::host::detach(std::process::Command::new(&pool_bin).args(["gc", "--quiet"]))
        .env("POOL_DIR", pool.dir())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::io(&pool_bin, e))?;
    Ok(true)
}
