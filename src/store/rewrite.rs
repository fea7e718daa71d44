//! Housekeeping rewrites of the live log: archiving expired entries (`pool
//! gc`), quarantining unreadable lines and stamping stray ones (`pool doctor
//! --repair`), rebuilding the long-TTL index, and finishing what an
//! interrupted rewrite left behind.
//!
//! A rewrite runs under the writers' lock and never changes a byte of the
//! log in place:
//! 1. leftovers of an interrupted rewrite are finished or removed first;
//! 2. the new log goes to a fresh temp file (created `O_EXCL|O_NOFOLLOW`, so
//!    a planted file or symlink at its name is never written through), the
//!    lines that leave it to `.part` files named after the temp file's inode,
//!    and the new long-TTL index to `long_ttl.idx.<inode>.new`; all synced;
//! 3. the temp file is renamed over the log: the commit point;
//! 4. the index and the parts are moved into place.
//!
//! A pass killed (or out of disk) before step 3 leaves the log as it was, and
//! the next pass deletes its temp, parts and index. Killed after step 3, the
//! log's inode names the dead pass, and the next pass completes step 4.
//! Appending a part to its destination goes through a journal (an `.append`
//! file naming the destination's length before), so a retry truncates back
//! and appends again: no entry is lost, and none is doubled in an archive.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::entry::Entry;
use crate::store::fsio::{self, LockedLog};
use crate::store::log::{OTHER_ENTRY, Pool, index_header, index_line};
use crate::store::paths;

/// What a rewrite did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Lines moved out of the live log (to `archive/` or the quarantine).
    pub archived: u64,
    /// Lines kept in the live log (live entries and unparseable lines).
    pub kept: u64,
    /// Bytes of the live log before.
    pub bytes_before: u64,
    /// Bytes of the live log after.
    pub bytes_after: u64,
    /// Stray lines given an append stamp.
    pub restamped: u64,
    /// Leftover files of interrupted passes that were finished or removed.
    pub recovered: u64,
    /// Whether the long-TTL index was rebuilt.
    pub reindexed: bool,
    /// For an archive pass: the earliest time a kept entry becomes
    /// archivable (`None`: none ever does, or nothing was kept). Entries
    /// appended later become archivable no sooner than their own age allows.
    pub next_due: Option<i64>,
}

/// Where a rewrite sends one line of the log.
enum Route {
    /// Stays in the live log.
    Keep,
    /// Moves to this file (appended).
    MoveTo(PathBuf),
}

/// How the long-TTL index's first line starts ([`index_header`]).
const INDEX_HEADER: &str = "#log ";

impl Pool {
    /// Moves entries that expired and are older than `older_than` seconds into
    /// `archive/instance_state-YYYY-MM.jsonl` (by entry month), and rewrites the
    /// live log without them. Unparseable lines stay in the live log. See the
    /// module header for the guarantees: locked, atomic, nothing lost.
    pub fn archive(&self, older_than: u64, default_ttl: u64, now: i64) -> Result<ArchiveReport> {
        let cutoff = now.saturating_sub(i64::try_from(older_than).unwrap_or(i64::MAX));
        let arch_dir = self.dir().join("archive");
        // Stray lines kept are stamped too, so a pool written before stamps
        // (or by another program) reads as cheaply as any after one pass.
        let bounds = self.stray_bounds()?;
        let older = i64::try_from(older_than).unwrap_or(i64::MAX);
        let mut next_due: Option<i64> = None;
        let mut report = self.rewrite(
            |entry| match entry {
                Some(e) if e.effective_time() < cutoff && !e.is_live(now, default_ttl) => {
                    let month = chrono::DateTime::from_timestamp(e.timestamp, 0)
                        .map(|t| t.format("%Y-%m").to_string())
                        .unwrap_or_else(|| "unknown".into());
                    Route::MoveTo(arch_dir.join(format!("instance_state-{month}.jsonl")))
                }
                Some(e) => {
                    // Archived once both its age passes `older_than` and it
                    // is no longer live.
                    let t = e.effective_time();
                    let ttl = i64::try_from(e.ttl_or(default_ttl)).unwrap_or(i64::MAX);
                    let due = t
                        .saturating_add(older)
                        .saturating_add(1)
                        .max(t.saturating_add(ttl));
                    next_due = Some(next_due.map_or(due, |d| d.min(due)));
                    Route::Keep
                }
                None => Route::Keep,
            },
            Some(&bounds),
        )?;
        report.next_due = next_due;
        Ok(report)
    }

    /// Moves every line that is not an entry (torn, corrupt) to
    /// `quarantine.jsonl`, byte for byte, and gives every stray entry (one
    /// without a trusted append stamp) a stamp (`pool doctor --repair`).
    ///
    /// A stray line's stamp is its own timestamp, held between the stamp of
    /// the line before it (stamps never decrease) and the time this machine
    /// had it by (the next trusted stamp, or the log's mtime): an old line
    /// keeps its age, a line dated in the future gets no extra life.
    pub fn repair(&self) -> Result<ArchiveReport> {
        let q = self.dir().join("quarantine.jsonl");
        let bounds = self.stray_bounds()?;
        self.rewrite(
            |entry| match entry {
                Some(_) => Route::Keep,
                None => Route::MoveTo(q.clone()),
            },
            Some(&bounds),
        )
    }

    /// For every stray entry, by offset: when this machine had it by (what a
    /// reader would set as its `seen`).
    fn stray_bounds(&self) -> Result<HashMap<u64, i64>> {
        let mut out = HashMap::new();
        self.scan_back(None, |off, _, e| {
            if e.local.is_none_or(|l| l.off != off)
                && let Some(seen) = e.seen
            {
                out.insert(off, seen);
            }
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Whether the long-TTL index describes the current log: it names the
    /// log's inode and no append has failed to update it since. Pools whose
    /// index predates the header count as stale until their next rewrite.
    pub fn index_is_current(&self) -> bool {
        if self.dir().join(paths::INDEX_STALE_MARK).exists() {
            return false;
        }
        let Ok(log) = fsio::path_key(&self.log_path()) else {
            return true;
        };
        let mut head = [0u8; 40];
        let n = File::open(self.long_index_path())
            .and_then(|mut f| f.read(&mut head))
            .unwrap_or(0);
        let head = std::str::from_utf8(&head[..n]).unwrap_or("");
        // `#log INO n`: a header without the mark (an older writer's) is
        // stale, so the next rewrite marks every line.
        head.strip_prefix(INDEX_HEADER)
            .and_then(|r| r.split('\n').next())
            .and_then(|r| r.trim_end().strip_suffix(&format!(" {OTHER_ENTRY}")))
            .and_then(|ino| ino.parse::<u64>().ok())
            == Some(log.ino)
    }

    /// Rewrites the live log under the writers' lock (see the module header).
    /// `route` decides each parsed line's fate; `stray` gives stray entries,
    /// by offset, the stamp time to write (repair). Nothing is written until
    /// the first line that changes (the unchanged lines before it are then
    /// copied byte for byte), so a pass with nothing to move or stamp only
    /// reads the log (and writes the index if it was stale).
    fn rewrite(
        &self,
        mut route: impl FnMut(Option<&Entry<'_>>) -> Route,
        stray: Option<&HashMap<u64, i64>>,
    ) -> Result<ArchiveReport> {
        let path = self.log_path();
        let log = LockedLog::open(&path)?;
        let mut report = ArchiveReport {
            recovered: self.recover_locked()?,
            ..ArchiveReport::default()
        };
        let index_current = self.index_is_current();
        let tmp = self.dir().join(format!(
            ".{}.rewrite.{}.{}",
            paths::LOG_FILE,
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
        ));
        // The new log, once a line changes: its writer and inode.
        let mut out: Option<(io::BufWriter<File>, u64)> = None;
        let mut parts: BTreeMap<PathBuf, (PathBuf, File)> = BTreeMap::new();
        let mut index_new: Option<PathBuf> = None;
        let mut committed = false;
        let result = (|| -> Result<()> {
            // The index's lines; its header names the inode of the log it
            // ends up describing.
            let mut index = String::new();
            let mut file = log.file();
            file.seek(SeekFrom::Start(0))
                .map_err(|e| Error::io(&path, e))?;
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut line = Vec::new();
            // The last stamp written, for the next stray line's lower bound.
            let mut prev_at = i64::MIN;
            loop {
                line.clear();
                let old_off = report.bytes_before;
                let n = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| Error::io(&path, e))?;
                if n == 0 {
                    break;
                }
                report.bytes_before += n as u64;
                if line.trim_ascii().is_empty() {
                    if out.is_none() {
                        // Part of the prefix that stays as it is.
                        report.bytes_after += n as u64;
                    }
                    continue;
                }
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                let mut entry = Entry::parse(&line);
                let trusted = entry
                    .as_mut()
                    .is_some_and(|e| e.trust_at(old_off, i64::MAX));
                let fate = route(entry.as_ref());
                let bytes = match &fate {
                    Route::MoveTo(_) => None,
                    Route::Keep => {
                        let new_off = report.bytes_after;
                        let stamp_at = match (&entry, trusted) {
                            (Some(e), true) if new_off != old_off => e.local.map(|l| l.at),
                            (Some(e), false) => stray
                                .and_then(|s| s.get(&old_off).copied())
                                .map(|upper| e.timestamp.min(upper).max(prev_at.min(upper))),
                            _ => None,
                        };
                        if let Some(at) = stamp_at
                            .or_else(|| entry.as_ref().and_then(|e| trusted.then_some(e.local?.at)))
                        {
                            prev_at = prev_at.max(at);
                        }
                        Some(match stamp_at {
                            Some(at) => {
                                if !trusted {
                                    report.restamped += 1;
                                }
                                restamp(&line, at, new_off).unwrap_or_else(|| line.clone())
                            }
                            None => line.clone(),
                        })
                    }
                };
                // A torn last line gets its newline only in a new log.
                let changed = bytes.as_ref().is_none_or(|b| *b != line);
                if out.is_none() && changed {
                    out = Some(self.start_copy(&tmp, log.file(), old_off)?);
                }
                match (fate, bytes) {
                    (Route::MoveTo(dest), _) => {
                        let ino = out.as_ref().map_or(0, |o| o.1);
                        let (part_path, part) = match parts.get_mut(&dest) {
                            Some(p) => p,
                            None => {
                                let p = part_name(&dest, &ino.to_string(), "part");
                                if let Some(parent) = dest.parent() {
                                    fsio::ensure_private_dir(parent)?;
                                }
                                let f = fsio::create_new_private(&p)?;
                                parts.entry(dest.clone()).or_insert((p, f))
                            }
                        };
                        part.write_all(&line)
                            .map_err(|e| Error::io(&*part_path, e))?;
                        report.archived += 1;
                    }
                    (Route::Keep, bytes) => {
                        let bytes = bytes.unwrap_or_else(|| line.clone());
                        let new_off = report.bytes_after;
                        if let Some(mut e) = Entry::parse(&bytes) {
                            e.trust_at(new_off, i64::MAX);
                            if let Some(line) = index_line(&e, new_off) {
                                index.push_str(&line);
                            }
                        }
                        if let Some((w, _)) = out.as_mut() {
                            w.write_all(&bytes).map_err(|e| Error::io(&tmp, e))?;
                        }
                        report.bytes_after += bytes.len() as u64;
                        report.kept += 1;
                    }
                }
            }
            for (part_path, f) in parts.values() {
                f.sync_all().map_err(|e| Error::io(part_path, e))?;
            }
            let Some((w, ino)) = out.take() else {
                // Nothing changed: the log stays; only a stale index is
                // written again, for the log as it is.
                report.bytes_after = report.bytes_before;
                if !index_current {
                    let log_ino = fsio::file_key(log.file())
                        .map_err(|e| Error::io(&path, e))?
                        .ino;
                    let text = format!("{}{index}", index_header(log_ino));
                    fsio::atomic_write(&self.long_index_path(), text.as_bytes(), 0o600)?;
                    let _ = std::fs::remove_file(self.dir().join(paths::INDEX_STALE_MARK));
                    report.reindexed = true;
                }
                return Ok(());
            };
            let f = w
                .into_inner()
                .map_err(|e| Error::io(&tmp, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
            if report.archived == 0 && report.restamped == 0 && index_current {
                return Ok(());
            }
            let new = self
                .dir()
                .join(format!("{}.{ino}.new", paths::LONG_TTL_INDEX));
            index_new = Some(new.clone());
            let mut idx = fsio::create_new_private(&new)?;
            idx.write_all(format!("{}{index}", index_header(ino)).as_bytes())
                .and_then(|_| idx.sync_all())
                .map_err(|e| Error::io(&new, e))?;
            std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
            committed = true;
            fsio::sync_dir(self.dir());
            report.reindexed = true;
            std::fs::rename(&new, self.long_index_path())
                .map_err(|e| Error::io(self.long_index_path(), e))?;
            let _ = std::fs::remove_file(self.dir().join(paths::INDEX_STALE_MARK));
            for (dest, (part_path, _)) in &parts {
                finalize_part(part_path, dest)?;
            }
            Ok(())
        })();
        if !committed {
            let _ = std::fs::remove_file(&tmp);
            if let Some(new) = &index_new {
                let _ = std::fs::remove_file(new);
            }
            for (part_path, _) in parts.values() {
                let _ = std::fs::remove_file(part_path);
            }
        }
        drop(log);
        result.map(|_| report)
    }

    /// Creates the new log at `tmp` (`O_EXCL|O_NOFOLLOW`: a planted file or
    /// symlink is never written through) holding the first `len` bytes of
    /// `log` as they are; returns its writer and inode.
    fn start_copy(&self, tmp: &Path, log: &File, len: u64) -> Result<(io::BufWriter<File>, u64)> {
        let f = fsio::create_new_private(tmp)?;
        let ino = fsio::file_key(&f).map_err(|e| Error::io(tmp, e))?.ino;
        let mut w = io::BufWriter::with_capacity(1 << 20, f);
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0u64;
        while off < len {
            let n = buf.len().min((len - off) as usize);
            fsio::read_exact_at(log, &mut buf[..n], off)
                .map_err(|e| Error::io(self.log_path(), e))?;
            w.write_all(&buf[..n]).map_err(|e| Error::io(tmp, e))?;
            off += n as u64;
        }
        Ok((w, ino))
    }

    /// Finishes or removes what interrupted rewrites left (see the module
    /// header). Must run under the writers' lock. Returns how many files it
    /// handled.
    fn recover_locked(&self) -> Result<u64> {
        let log_ino = fsio::path_key(&self.log_path()).map_or(0, |k| k.ino);
        let mut handled = 0;
        for dir in [self.dir().to_path_buf(), self.dir().join("archive")] {
            for left in leftovers_in(&dir) {
                handled += 1;
                match left {
                    Leftover::Temp(p) => {
                        let _ = std::fs::remove_file(&p);
                    }
                    Leftover::Index { path, ino } => {
                        if ino == log_ino {
                            std::fs::rename(&path, self.long_index_path())
                                .map_err(|e| Error::io(&path, e))?;
                        } else {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                    Leftover::Part { path, dest, ino } => {
                        if ino == log_ino {
                            finalize_part(&path, &dest)?;
                        } else {
                            let _ = std::fs::remove_file(&path);
                        }
                    }
                    Leftover::Journal { path, dest, len } => apply_journal(&path, &dest, len)?,
                }
            }
        }
        Ok(handled)
    }
}

/// A file an interrupted rewrite left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leftover {
    /// A temp copy of the log.
    Temp(PathBuf),
    /// A new long-TTL index for the log with this inode.
    Index {
        /// The file.
        path: PathBuf,
        /// The inode of the log it describes.
        ino: u64,
    },
    /// Lines leaving the log with this inode for `dest`.
    Part {
        /// The file.
        path: PathBuf,
        /// Where its lines go.
        dest: PathBuf,
        /// The inode of the new log of its pass.
        ino: u64,
    },
    /// Lines being appended to `dest`, whose length before was `len`.
    Journal {
        /// The file.
        path: PathBuf,
        /// Where its lines go.
        dest: PathBuf,
        /// `dest`'s length before the append.
        len: u64,
    },
}

/// The leftovers of interrupted rewrites in `dir` (the pool folder or its
/// `archive/`), for recovery and for `pool doctor`.
pub fn leftovers_in(dir: &Path) -> Vec<Leftover> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let temp_prefix = format!(".{}.rewrite.", paths::LOG_FILE);
    let index_prefix = format!("{}.", paths::LONG_TTL_INDEX);
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if name.starts_with(&temp_prefix) {
            out.push(Leftover::Temp(path));
        } else if let Some(rest) = name.strip_prefix(&index_prefix)
            && let Some(ino) = rest.strip_suffix(".new")
            && let Ok(ino) = ino.parse()
        {
            out.push(Leftover::Index { path, ino });
        } else if let Some((dest, n)) = parse_part_name(&name, "part") {
            out.push(Leftover::Part {
                path,
                dest: dir.join(dest),
                ino: n,
            });
        } else if let Some((dest, n)) = parse_part_name(&name, "append") {
            out.push(Leftover::Journal {
                path,
                dest: dir.join(dest),
                len: n,
            });
        }
    }
    out.sort_by_key(|l| format!("{l:?}"));
    out
}

/// `.<dest name>.<n>.<kind>` next to `dest`.
fn part_name(dest: &Path, n: &str, kind: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.{n}.{kind}"))
}

fn parse_part_name(name: &str, kind: &str) -> Option<(String, u64)> {
    let rest = name.strip_prefix('.')?.strip_suffix(&format!(".{kind}"))?;
    let (dest, n) = rest.rsplit_once('.')?;
    (!dest.is_empty()).then_some(())?;
    Some((dest.to_string(), n.parse().ok()?))
}

/// Moves a finished part's lines onto the end of `dest` through a journal.
fn finalize_part(part: &Path, dest: &Path) -> Result<()> {
    let len = match std::fs::metadata(dest) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Error::io(dest, e)),
    };
    let journal = part_name(dest, &len.to_string(), "append");
    std::fs::rename(part, &journal).map_err(|e| Error::io(part, e))?;
    if let Some(parent) = dest.parent() {
        fsio::sync_dir(parent);
    }
    apply_journal(&journal, dest, len)
}

/// Appends a journal's lines to `dest` after cutting `dest` back to `len`
/// (undoing a partial earlier attempt), syncs, and removes the journal.
fn apply_journal(journal: &Path, dest: &Path, len: u64) -> Result<()> {
    let f = fsio::open_append(dest)?;
    let now_len = f.metadata().map_err(|e| Error::io(dest, e))?.len();
    if now_len > len {
        f.set_len(len).map_err(|e| Error::io(dest, e))?;
    }
    let mut src = File::open(journal).map_err(|e| Error::io(journal, e))?;
    let result = (|| -> io::Result<()> {
        let mut w = &f;
        if len > 0 {
            let mut b = [0u8; 1];
            fsio::read_exact_at(&f, &mut b, len - 1)?;
            if b[0] != b'\n' {
                w.write_all(b"\n")?;
            }
        }
        io::copy(&mut src, &mut w)?;
        f.sync_all()
    })();
    if let Err(e) = result {
        // Leave the journal: the next pass cuts back and tries again.
        let _ = f.set_len(len);
        return Err(Error::io(dest, e));
    }
    std::fs::remove_file(journal).map_err(|e| Error::io(journal, e))?;
    Ok(())
}

/// The line with its append stamp set to `at` at offset `off`, every other
/// field kept as it was (fields this version does not know included).
fn restamp(line: &[u8], at: i64, off: u64) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(line.trim_ascii()).ok()?;
    let obj = v.as_object_mut()?;
    let before = obj
        .get("local")
        .and_then(|l| l.get("before"))
        .and_then(serde_json::Value::as_i64);
    let mut local = serde_json::json!({"at": at, "off": off});
    if let Some(b) = before {
        local["before"] = b.into();
    }
    obj.insert("local".into(), local);
    let mut s = serde_json::to_vec(&v).ok()?;
    s.push(b'\n');
    Some(s)
}
