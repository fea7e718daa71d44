//! Per-session extraction cursors: how far into which transcript the Stop
//! hook has read, and the turn state to carry on from there.
//!
//! A cursor lives in `sessions/<hash of session id>.json`. It is trusted only
//! while it still describes the file: same path, same device and inode, the
//! file at least as long as the offset, and the bytes just before the offset
//! unchanged. Otherwise the file shrank, moved or was replaced, and it is
//! read again from the start (ids make the rescan append nothing twice).

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::agent::transcript::TurnState;
use crate::error::{Error, Result};
use crate::store::entry::sha256_hex;
use crate::store::fsio;
use crate::store::paths::{SESSIONS_DIR, safe_file_stem};

/// Bytes before the offset whose hash proves the file was not rewritten.
const TAIL_PROOF: u64 = 256;

/// Where a session's reading stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Format version.
    #[serde(default)]
    pub v: u32,
    /// Transcript path the offset refers to.
    #[serde(default)]
    pub path: PathBuf,
    /// Device of the transcript.
    #[serde(default)]
    pub dev: u64,
    /// Inode of the transcript.
    #[serde(default)]
    pub ino: u64,
    /// Bytes already read.
    #[serde(default)]
    pub offset: u64,
    /// Hash of the bytes just before `offset`.
    #[serde(default)]
    pub tail: String,
    /// Turn state at `offset`.
    #[serde(default)]
    pub turn: TurnState,
}

/// Path of the cursor file for a session id (hashed: ids are untrusted).
pub fn cursor_path(pool_dir: &Path, session_id: &str) -> PathBuf {
    pool_dir
        .join(SESSIONS_DIR)
        .join(format!("{}.json", safe_file_stem(session_id)))
}

/// Loads a session's cursor; a missing or unreadable one is a fresh start.
pub fn load(pool_dir: &Path, session_id: &str) -> Cursor {
    // A cursor holds a turn state of bounded size; 16 MiB is far above it.
    fsio::read_regular(&cursor_path(pool_dir, session_id), 16 * 1024 * 1024)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Saves a session's cursor atomically.
pub fn save(pool_dir: &Path, session_id: &str, c: &Cursor) -> Result<()> {
    let dir = pool_dir.join(SESSIONS_DIR);
    fsio::ensure_private_dir(&dir)?;
    let bytes = serde_json::to_vec(c).map_err(|e| Error::Invalid(e.to_string()))?;
    // A lost cursor only means a rescan, which appends nothing twice.
    fsio::replace_file(&cursor_path(pool_dir, session_id), &bytes, 0o600)
}

impl Cursor {
    /// The offset to resume reading `file` (at `path`) from, keeping the turn
    /// state when the cursor still describes the file and resetting both
    /// otherwise.
    pub fn resume_point(&mut self, path: &Path, file: &File) -> std::io::Result<u64> {
        let meta = file.metadata()?;
        let key = fsio::file_key(file)?;
        let same = self.path == path
            && self.dev == key.dev
            && self.ino == key.ino
            && self.offset <= meta.len()
            && tail_hash(file, self.offset)? == self.tail;
        if !same {
            // A cursor never bound to a file (the transcript did not exist
            // yet when a Stop hook took `last_assistant_message`) keeps its
            // turn state: its pending blocks must meet their lines.
            let turn = if self.path.as_os_str().is_empty() {
                std::mem::take(&mut self.turn)
            } else {
                TurnState::default()
            };
            *self = Cursor {
                v: 1,
                path: path.to_path_buf(),
                dev: key.dev,
                ino: key.ino,
                turn,
                ..Cursor::default()
            };
            self.tail = tail_hash(file, 0)?;
        }
        Ok(self.offset)
    }

    /// Moves the cursor to `offset` of `file`.
    pub fn advance(&mut self, file: &File, offset: u64) -> std::io::Result<()> {
        self.offset = offset;
        self.tail = tail_hash(file, offset)?;
        Ok(())
    }
}

fn tail_hash(file: &File, offset: u64) -> std::io::Result<String> {
    let start = offset.saturating_sub(TAIL_PROOF);
    let mut buf = vec![0u8; (offset - start) as usize];
    fsio::read_exact_at(file, &mut buf, start)?;
    Ok(sha256_hex(&buf)[..32].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_rewrites_and_truncation() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("t.jsonl");
        std::fs::write(&p, b"line one\nline two\n").unwrap();
        let f = File::open(&p).unwrap();
        let mut c = Cursor::default();
        assert_eq!(c.resume_point(&p, &f).unwrap(), 0);
        c.advance(&f, 18).unwrap();
        c.turn.anchor = "p:x".into();
        assert_eq!(c.clone().resume_point(&p, &f).unwrap(), 18);
        // Appending keeps the cursor.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .unwrap()
            .write_all(b"three\n")
            .unwrap();
        let f = File::open(&p).unwrap();
        let mut c2 = c.clone();
        assert_eq!(c2.resume_point(&p, &f).unwrap(), 18);
        assert_eq!(c2.turn.anchor, "p:x");
        // Same length, different bytes before the offset: rescan.
        let mut f2 = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        std::io::Seek::seek(&mut f2, std::io::SeekFrom::Start(10)).unwrap();
        f2.write_all(b"LINE").unwrap();
        drop(f2);
        let f = File::open(&p).unwrap();
        let mut c3 = c.clone();
        assert_eq!(c3.resume_point(&p, &f).unwrap(), 0);
        assert_eq!(c3.turn, TurnState::default());
        // Shrunk: rescan.
        std::fs::write(&p, b"x\n").unwrap();
        let f = File::open(&p).unwrap();
        let mut c4 = c.clone();
        assert_eq!(c4.resume_point(&p, &f).unwrap(), 0);
    }

    #[test]
    fn save_and_load() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Cursor {
            v: 1,
            offset: 7,
            ..Cursor::default()
        };
        save(tmp.path(), "../../evil", &c).unwrap();
        assert_eq!(load(tmp.path(), "../../evil"), c);
        assert!(tmp.path().join(SESSIONS_DIR).read_dir().unwrap().count() == 1);
    }
}
