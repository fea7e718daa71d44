//! News mid-session: the entries that arrived since a session last looked at
//! the pool, read forward from a per-session mark (log inode, offset, time).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::entry::Entry;
use crate::store::fsio;
use crate::store::log::Pool;
use crate::store::paths::{SESSIONS_DIR, safe_file_stem};

/// Most bytes of new log read for news (1 MiB); older news is summarised as a count.
pub const MAX_NEWS_BYTES: u64 = 1024 * 1024;

/// Where a session last looked at the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Inode of the log then.
    pub ino: u64,
    /// Length of the log then.
    pub offset: u64,
    /// Time then (epoch seconds).
    pub ts: i64,
}

fn mark_path(pool_dir: &Path, session: &str) -> PathBuf {
    pool_dir
        .join(SESSIONS_DIR)
        .join(format!("{}.seen", safe_file_stem(session)))
}

/// Loads a session's mark, if it has one.
pub fn load_mark(pool_dir: &Path, session: &str) -> Option<Mark> {
    crate::store::fsio::read_regular(&mark_path(pool_dir, session), 64 * 1024)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Marks the log's current end as seen by `session`.
pub fn mark_seen(pool: &Pool, session: &str, now: i64) -> Result<Mark> {
    let path = pool.log_path();
    let (ino, offset) = std::fs::metadata(&path)
        .and_then(|m| Ok((fsio::path_key(&path)?.ino, m.len())))
        .unwrap_or((0, 0));
    let mark = Mark {
        ino,
        offset,
        ts: now,
    };
    let dir = pool.dir().join(SESSIONS_DIR);
    fsio::ensure_private_dir(&dir)?;
    let bytes = serde_json::to_vec(&mark).map_err(|e| Error::Invalid(e.to_string()))?;
    fsio::replace_file(&mark_path(pool.dir(), session), &bytes, 0o600)?;
    Ok(mark)
}

/// Entries appended since `mark`, oldest first (at most [`MAX_NEWS_BYTES`]
/// of them), and whether older ones were left out. When the log was replaced
/// (archived) since, entries newer than the mark's time are taken instead.
pub fn since(pool: &Pool, mark: &Mark) -> Result<(Vec<Entry<'static>>, bool)> {
    let path = pool.log_path();
    let file = match crate::store::fsio::open_regular(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), false)),
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
    let ino = fsio::file_key(&file).map_err(|e| Error::io(&path, e))?.ino;
    // No log when the mark was taken: everything in it is new.
    let mark = &if mark.ino == 0 {
        Mark {
            ino,
            offset: 0,
            ts: mark.ts,
        }
    } else {
        mark.clone()
    };
    if ino != mark.ino || meta.len() < mark.offset {
        let mut out = Vec::new();
        pool.scan_back(Some(mark.ts), |_, _, e| {
            if e.order_time() > mark.ts {
                out.push(e.into_owned());
            }
            std::ops::ControlFlow::Continue(())
        })?;
        out.reverse();
        return Ok((out, false));
    }
    let mut start = mark.offset;
    let mut truncated = false;
    if meta.len() - start > MAX_NEWS_BYTES {
        start = meta.len() - MAX_NEWS_BYTES;
        truncated = true;
    }
    let mut buf = vec![0u8; (meta.len() - start) as usize];
    fsio::read_exact_at(&file, &mut buf, start).map_err(|e| Error::io(&path, e))?;
    let mut body: &[u8] = &buf;
    if truncated {
        // Skip the partial first line.
        let cut = memchr::memchr(b'\n', body)
            .map(|i| i + 1)
            .unwrap_or(body.len());
        body = &body[cut..];
    }
    let out = body
        .split(|b| *b == b'\n')
        .filter_map(Entry::parse)
        .map(Entry::into_owned)
        .collect();
    Ok((out, truncated))
}
