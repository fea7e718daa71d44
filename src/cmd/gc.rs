//! `pool gc`: archive expired entries and bound `edits.log`, and the Stop
//! hook's background trigger (which starts no pass while nothing is due).
//! By hand too, a pass whose last run found nothing due is skipped without
//! reading the log, and says so.

use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::coord::claims;
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

/// Most bytes appended since the last pass that `pool gc` checks for stray
/// (unstamped) lines before it skips a pass with nothing due; past it the
/// pass runs.
const SKIP_CHECK_MAX: u64 = 16 * 1024 * 1024;

/// Runs `pool gc`; returns the exit code.
pub fn run(older_than: u64, quiet: bool) -> i32 {
    match gc(older_than) {
        Ok(Pass::Skipped { due, bytes }) => {
            if !quiet {
                let when = chrono::DateTime::from_timestamp(due, 0)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_else(|| "later".into());
                println!(
                    "archived 0 entries: nothing is due before {when} (the last pass over this log found nothing to archive and every line appended since is stamped; the {bytes} bytes were not read)"
                );
            }
            EXIT_OK
        }
        Ok(Pass::Ran(r)) => {
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

/// What one `pool gc` did.
enum Pass {
    /// An archive pass.
    Ran(crate::store::rewrite::ArchiveReport),
    /// No pass: the last one over this log found nothing due before `due`
    /// (issue 24: a large live week is not read to archive nothing).
    Skipped { due: i64, bytes: u64 },
}

fn gc(older_than: u64) -> Result<Pass> {
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
    let now = chrono::Utc::now().timestamp();
    // The edit log is bounded here too (under the same lock).
    claims::rotate_edits(&dir, now, claims::EDITS_MAX_BYTES)?;
    if let Some((due, bytes)) = skippable(&pool, now, older_than) {
        return Ok(Pass::Skipped { due, bytes });
    }
    let report = pool.archive(older_than, settings.ttl, now)?;
    let ino = crate::store::fsio::path_key(&pool.log_path()).map_or(0, |k| k.ino);
    let due = report
        .next_due
        .unwrap_or(i64::MAX)
        .min(now.saturating_add(i64::try_from(older_than).unwrap_or(i64::MAX)));
    // Best effort: without it the next trigger just runs a pass.
    let _ = crate::store::fsio::replace_file(
        &dir.join(NEXT_FILE),
        format!("{ino} {due} {older_than} {}\n", report.bytes_after).as_bytes(),
        0o600,
    );
    Ok(Pass::Ran(report))
}

/// When a pass asked for by hand has nothing to do: the long-TTL index is
/// current, the last pass read this very log (same inode) with the same
/// `older_than` and found nothing due before now, and every line appended
/// since (at most [`SKIP_CHECK_MAX`] bytes) carries its append stamp (a
/// line another program wrote gets one from a pass). Returns when the
/// next entry is due, and the log's size.
fn skippable(pool: &Pool, now: i64, older_than: u64) -> Option<(i64, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    if !pool.index_is_current() {
        return None;
    }
    let text = std::fs::read_to_string(pool.dir().join(NEXT_FILE)).ok()?;
    let f: Vec<i64> = text
        .split_whitespace()
        .map(|w| w.parse::<i64>().ok())
        .collect::<Option<_>>()?;
    let [ino, due, older, size] = f[..] else {
        return None;
    };
    let path = pool.log_path();
    let same_log = crate::store::fsio::path_key(&path)
        .is_ok_and(|k| i64::try_from(k.ino).is_ok_and(|i| i == ino));
    if !same_log || older != i64::try_from(older_than).ok()? || now >= due {
        return None;
    }
    let start = u64::try_from(size).ok()?;
    let mut file = std::fs::File::open(&path).ok()?;
    let len = file.metadata().ok()?.len();
    if len < start || len - start > SKIP_CHECK_MAX {
        return None;
    }
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    let mut off = start;
    for line in tail.split_inclusive(|b| *b == b'\n') {
        let stamped = line.ends_with(b"\n")
            && crate::store::entry::Entry::parse(line)
                .is_some_and(|e| e.local.is_some_and(|l| l.off == off));
        if !stamped {
            return None;
        }
        off += line.len() as u64;
    }
    Some((due, len))
}

/// What the last pass left for later: `inode due older_than size` (the log
/// it read, when its first kept entry becomes archivable, for what age, and
/// the log's size after it).
const NEXT_FILE: &str = "gc.next";

/// Whether the last pass over this very log (same inode) found nothing to
/// archive before now: then a background pass has nothing to do (issue 24).
/// Entries appended since become archivable a full `older_than` after they
/// were written, later than what the pass saw, except entries pulled or
/// copied in already old: those wait for the pass at the time recorded.
fn nothing_due(pool: &Pool, now: i64) -> bool {
    let Ok(text) = std::fs::read_to_string(pool.dir().join(NEXT_FILE)) else {
        return false;
    };
    let mut it = text.split_whitespace().map(|w| w.parse::<i64>().ok());
    let (Some(Some(ino)), Some(Some(due)), Some(Some(older))) = (it.next(), it.next(), it.next())
    else {
        return false;
    };
    let same_log = crate::store::fsio::path_key(&pool.log_path())
        .is_ok_and(|k| i64::try_from(k.ino).is_ok_and(|i| i == ino));
    same_log && older == DEFAULT_OLDER_THAN as i64 && now < due
}

/// Rotates the edit log unless a `pool gc` holds the lock (it rotates too).
fn rotate_edits_locked(pool: &Pool, now: i64) -> Result<()> {
    let lock_path = pool.dir().join("gc.lock");
    let lock = crate::store::fsio::open_append(&lock_path)?;
    match lock.try_lock() {
        Ok(()) => claims::rotate_edits(pool.dir(), now, claims::EDITS_MAX_BYTES).map(|_| ()),
        Err(std::fs::TryLockError::WouldBlock) => Ok(()),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(lock_path, e)),
    }
}

/// Starts `pool gc --quiet` in the background when the live log is larger
/// than `POOL_MAX_BYTES` or the long-TTL index is stale (an interrupted pass,
/// a full disk), no pass started in the last ten minutes, and the last pass
/// did not find that nothing is archivable yet. Rotates the edit log when it
/// is over [`claims::EDITS_MAX_BYTES`]. Costs two
/// `stat`s and a small read when there is nothing to do; never waits.
pub fn maybe_archive_in_background(pool: &Pool, now: i64) -> Result<bool> {
    let max = std::env::var("POOL_MAX_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_MAX_BYTES);
    let size = std::fs::metadata(pool.log_path())
        .map(|m| m.len())
        .unwrap_or(0);
    let index_current = pool.index_is_current();
    let edits = std::fs::metadata(pool.dir().join(claims::EDITS_LOG)).map_or(0, |m| m.len());
    if edits > claims::EDITS_MAX_BYTES {
        rotate_edits_locked(pool, now)?;
    }
    if size <= max && index_current {
        return Ok(false);
    }
    // Over the size, but everything in it is still within its week: a pass
    // would read the whole log to archive nothing.
    if index_current && nothing_due(pool, now) {
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
