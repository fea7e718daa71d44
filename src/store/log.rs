//! The pool store: appending entries exactly once, and reading the recent end
//! of the log without touching the rest.
//!
//! The log is append-only. Readers walk it backwards from the end and stop at
//! the oldest timestamp they need (minus [`ORDER_SLACK`] for entries written
//! slightly out of order), so their cost follows the recent window, not the
//! file's size. Entries whose TTL is longer than [`DEFAULT_TTL`] are also
//! listed in a small side index (`long_ttl.idx`: `timestamp expires offset id`
//! per line) so a reader that scans only the default window still finds them.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::entry::Entry;
use crate::store::fsio::{self, LockedLog, RevLines};
use crate::store::paths;

/// TTL of an entry that names none and of the reader's default window, in seconds.
pub const DEFAULT_TTL: u64 = 3600;
/// Longest TTL an entry may carry, in seconds (30 days); longer is clamped.
pub const MAX_TTL: u64 = 30 * 86_400;
/// How far out of timestamp order entries may be written, in seconds.
/// Writers stamp entries with the time they start and append under the lock
/// within a hook's run, and entries pulled from other machines are ordered
/// by their local `received` time, so two minutes is ample; every entry a
/// reader parses inside the slack is wasted work.
pub const ORDER_SLACK: i64 = 120;

/// What a scan saw besides the entries it handed out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanStats {
    /// Lines read.
    pub lines: u64,
    /// Lines that were not entries (torn, corrupt, over-long).
    pub bad: u64,
    /// Bytes read from the end of the log.
    pub bytes: u64,
    /// Offset of the oldest line reached.
    pub low_offset: u64,
}

/// A pool folder.
#[derive(Debug, Clone)]
pub struct Pool {
    dir: PathBuf,
}

impl Pool {
    /// Opens the pool in `dir`, creating the folder (0700) if needed.
    /// Fails when the folder cannot be created or is unsafe.
    pub fn open(dir: PathBuf) -> Result<Pool> {
        fsio::ensure_private_dir(&dir)?;
        Ok(Pool { dir })
    }

    /// Opens the pool for reading without creating anything.
    pub fn open_readonly(dir: PathBuf) -> Pool {
        Pool { dir }
    }

    /// The pool folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of `instance_state.jsonl`.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(paths::LOG_FILE)
    }

    fn long_index_path(&self) -> PathBuf {
        self.dir.join(paths::LONG_TTL_INDEX)
    }

    /// Opens the log for reading; `None` when it does not exist yet.
    pub fn open_log(&self) -> Result<Option<File>> {
        let path = self.log_path();
        match File::open(&path) {
            Ok(f) => {
                let meta = f.metadata().map_err(|e| Error::io(&path, e))?;
                if meta.is_dir() {
                    return Err(Error::Unsafe {
                        path,
                        reason: "is a folder, not the pool log".into(),
                    });
                }
                Ok(Some(f))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }

    /// Walks the log newest first, handing each entry (with its offset) to
    /// `f`, until `f` breaks or an entry is older than `stop_before` minus
    /// [`ORDER_SLACK`]. Entries between the two are still handed out; `f`
    /// applies its own cut-off.
    pub fn scan_back(
        &self,
        stop_before: Option<i64>,
        mut f: impl FnMut(u64, &[u8], Entry<'_>) -> ControlFlow<()>,
    ) -> Result<ScanStats> {
        let Some(file) = self.open_log()? else {
            return Ok(ScanStats::default());
        };
        let path = self.log_path();
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        scan_file_back(&file, len, stop_before, &mut f).map_err(|e| Error::io(&path, e))
    }

    /// Streams the entries a reader needs for a window of `horizon` seconds
    /// before `now`, newest first: the end of the log back to the horizon,
    /// then entries from the long-TTL index that are still live and older
    /// than what the scan reached.
    pub fn scan_recent(
        &self,
        now: i64,
        horizon: u64,
        mut f: impl FnMut(Entry<'_>) -> ControlFlow<()>,
    ) -> Result<ScanStats> {
        // One window walk serves both readers; this one parses every line.
        self.scan_recent_lines(now, horizon, |line, _| match Entry::parse(line) {
            Some(e) => f(e),
            None => ControlFlow::Continue(()),
        })
    }

    /// Like [`Pool::scan_recent`], but hands out each line's bytes and leaves
    /// parsing to `f`, for readers that only need to count most entries (see
    /// [`crate::store::brief`]). The cut-off is decided from [`crate::store::brief::read`]
    /// when it can tell, else from a full parse; lines that neither can read
    /// are skipped and counted as bad. Long-TTL entries older than the scan
    /// come last, re-serialised.
    pub fn scan_recent_lines(
        &self,
        now: i64,
        horizon: u64,
        mut f: impl FnMut(&[u8], Option<crate::store::brief::Brief<'_>>) -> ControlFlow<()>,
    ) -> Result<ScanStats> {
        let mut stats = ScanStats::default();
        if let Some(file) = self.open_log()? {
            let path = self.log_path();
            let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
            stats.low_offset = len;
            let stop = now.saturating_sub(i64::try_from(horizon).unwrap_or(i64::MAX));
            let cutoff = stop.saturating_sub(ORDER_SLACK);
            let mut rev = RevLines::new(&file, len);
            while let Some((off, line)) = rev.next_line().map_err(|e| Error::io(&path, e))? {
                stats.lines += 1;
                stats.bytes += line.len() as u64 + 1;
                let brief = crate::store::brief::read(line);
                let order = brief
                    .map(|b| b.order_time())
                    .or_else(|| Entry::parse(line).map(|e| e.order_time()));
                let Some(order) = order else {
                    if !line.trim_ascii().is_empty() {
                        stats.bad += 1;
                    }
                    stats.low_offset = off;
                    continue;
                };
                if order < cutoff {
                    stats.bad += rev.overlong;
                    return self.long_lines(now, stats, f);
                }
                stats.low_offset = off;
                if f(line, brief).is_break() {
                    stats.bad += rev.overlong;
                    return Ok(stats);
                }
            }
            stats.bad += rev.overlong;
        }
        self.long_lines(now, stats, f)
    }

    fn long_lines(
        &self,
        now: i64,
        stats: ScanStats,
        mut f: impl FnMut(&[u8], Option<crate::store::brief::Brief<'_>>) -> ControlFlow<()>,
    ) -> Result<ScanStats> {
        for e in self.long_ttl_entries(now, stats.low_offset)? {
            let line = e.to_line();
            if f(line.as_bytes(), crate::store::brief::read(line.as_bytes())).is_break() {
                break;
            }
        }
        Ok(stats)
    }

    /// Live entries listed in the long-TTL index that start before `before`
    /// (the offset a backwards scan reached), newest first.
    fn long_ttl_entries(&self, now: i64, before: u64) -> Result<Vec<Entry<'static>>> {
        let idx_path = self.long_index_path();
        let idx = match File::open(&idx_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(idx_path, e)),
        };
        let Some(log) = self.open_log()? else {
            return Ok(Vec::new());
        };
        let len = idx.metadata().map_err(|e| Error::io(&idx_path, e))?.len();
        let oldest = now.saturating_sub(MAX_TTL as i64 + ORDER_SLACK);
        let mut rev = RevLines::new(&idx, len);
        let mut out = Vec::new();
        while let Some((_, line)) = rev.next_line().map_err(|e| Error::io(&idx_path, e))? {
            let mut parts = std::str::from_utf8(line).unwrap_or("").split(' ');
            let (Some(ts), Some(exp), Some(off), Some(id)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(ts), Ok(exp), Ok(off)) =
                (ts.parse::<i64>(), exp.parse::<i64>(), off.parse::<u64>())
            else {
                continue;
            };
            if ts < oldest {
                break;
            }
            if exp <= now || off >= before {
                continue;
            }
            if let Some(raw) = read_line_at(&log, off).map_err(|e| Error::io(self.log_path(), e))?
                && let Some(e) = Entry::parse(&raw)
                && e.id == id
            {
                out.push(e.into_owned());
            }
        }
        Ok(out)
    }

    /// Appends entries whose ids are not in the log yet and returns those it
    /// wrote; records `aliases` (`(file id, entry id)`: a block from the
    /// transcript that was already written from `last_assistant_message`).
    /// The check and the writes happen under the log's exclusive lock, so
    /// concurrent hooks cannot both append the same id. The check reads back
    /// to `lookback_from` (epoch seconds, minus [`ORDER_SLACK`]): an entry for
    /// a block cannot have been written before its message existed.
    pub fn append_unique(
        &self,
        entries: Vec<Entry<'static>>,
        aliases: &[(String, String)],
        lookback_from: i64,
        now: i64,
    ) -> Result<Vec<Entry<'static>>> {
        if entries.is_empty() && aliases.is_empty() {
            return Ok(entries);
        }
        let path = self.log_path();
        let mut log = LockedLog::open(&path)?;
        let len = log
            .file()
            .metadata()
            .map_err(|e| Error::io(&path, e))?
            .len();
        let wanted: HashSet<&str> = entries
            .iter()
            .map(|e| e.id.as_ref())
            .chain(aliases.iter().map(|a| a.0.as_str()))
            .collect();
        let mut present = HashSet::new();
        scan_file_back(log.file(), len, Some(lookback_from), &mut |_, _, e| {
            if wanted.contains(e.id.as_ref()) {
                present.insert(e.id.to_string());
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| Error::io(&path, e))?;
        self.scan_aliases(lookback_from, |file_id, _| {
            if wanted.contains(file_id) {
                present.insert(file_id.to_string());
            }
        })?;
        let mut seen_now = HashSet::new();
        let fresh: Vec<Entry<'static>> = entries
            .into_iter()
            .filter(|e| !present.contains(e.id.as_ref()) && seen_now.insert(e.id.to_string()))
            .collect();
        self.write_locked(&mut log, &fresh)?;
        let mut alias_lines = String::new();
        for (file_id, entry_id) in aliases {
            if !present.contains(file_id) && seen_now.insert(file_id.clone()) {
                alias_lines.push_str(&format!("{now} {file_id} {entry_id}\n"));
            }
        }
        if !alias_lines.is_empty() {
            let p = self.dir.join(paths::ALIASES);
            let mut f = fsio::open_append(&p)?;
            std::io::Write::write_all(&mut f, alias_lines.as_bytes())
                .map_err(|e| Error::io(p, e))?;
        }
        Ok(fresh)
    }

    /// Walks the alias file (`timestamp file_id entry_id` per line) newest
    /// first back to `since` (minus [`ORDER_SLACK`]).
    fn scan_aliases(&self, since: i64, mut f: impl FnMut(&str, &str)) -> Result<()> {
        let p = self.dir.join(paths::ALIASES);
        let file = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(p, e)),
        };
        let len = file.metadata().map_err(|e| Error::io(&p, e))?.len();
        let mut rev = RevLines::new(&file, len);
        while let Some((_, line)) = rev.next_line().map_err(|e| Error::io(&p, e))? {
            let mut parts = std::str::from_utf8(line).unwrap_or("").split(' ');
            let (Some(ts), Some(file_id), Some(entry_id)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if ts.parse::<i64>().is_ok_and(|t| t < since - ORDER_SLACK) {
                break;
            }
            f(file_id, entry_id);
        }
        Ok(())
    }

    /// Appends the entries `choose` returns, deciding under the log's
    /// exclusive lock: `choose` gets the locked file and its length, so it can
    /// check ids against what is already there (`pool sync` does, against the
    /// lines it has not indexed yet). Returns the log's inode and length after
    /// the append. Fails when the log cannot be locked, read or written, or
    /// when `choose` fails (then nothing is written).
    pub fn append_checked(
        &self,
        choose: impl FnOnce(&File, u64) -> Result<Vec<Entry<'static>>>,
    ) -> Result<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let path = self.log_path();
        let mut log = LockedLog::open(&path)?;
        let len = log
            .file()
            .metadata()
            .map_err(|e| Error::io(&path, e))?
            .len();
        let fresh = choose(log.file(), len)?;
        self.write_locked(&mut log, &fresh)?;
        let meta = log.file().metadata().map_err(|e| Error::io(&path, e))?;
        Ok((meta.ino(), meta.len()))
    }

    /// Appends entries without a duplicate check (fresh random ids).
    pub fn append(&self, entries: &[Entry<'_>]) -> Result<()> {
        let mut log = LockedLog::open(&self.log_path())?;
        self.write_locked(&mut log, entries)
    }

    fn write_locked(&self, log: &mut LockedLog, entries: &[Entry<'_>]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut buf = String::new();
        let mut long = String::new();
        let start = log.append_offset()?;
        for e in entries {
            let offset = start + buf.len() as u64;
            let ttl = e.ttl.unwrap_or(DEFAULT_TTL);
            if ttl > DEFAULT_TTL {
                let exp = e.timestamp.saturating_add(ttl.min(MAX_TTL) as i64);
                long.push_str(&format!("{} {exp} {offset} {}\n", e.order_time(), e.id));
            }
            buf.push_str(&e.to_line());
        }
        log.append(buf.as_bytes())?;
        if !long.is_empty() {
            let idx = self.long_index_path();
            let mut f = fsio::open_append(&idx)?;
            std::io::Write::write_all(&mut f, long.as_bytes()).map_err(|e| Error::io(idx, e))?;
        }
        Ok(())
    }
}

/// What an archive pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Entries moved to `archive/`.
    pub archived: u64,
    /// Lines kept in the live log (live entries and unparseable lines).
    pub kept: u64,
    /// Bytes of the live log before and after.
    pub bytes_before: u64,
    /// Bytes of the live log after.
    pub bytes_after: u64,
}

/// Where a rewrite sends one line of the log.
enum Route {
    /// Stays in the live log.
    Keep,
    /// Moves to this file (appended).
    MoveTo(PathBuf),
}

impl Pool {
    /// Moves entries that expired and are older than `older_than` seconds into
    /// `archive/instance_state-YYYY-MM.jsonl` (by entry month), and rewrites the
    /// live log without them. Unparseable lines stay in the live log. See
    /// `Pool::rewrite` for the guarantees: locked, atomic, nothing lost.
    pub fn archive(&self, older_than: u64, default_ttl: u64, now: i64) -> Result<ArchiveReport> {
        let cutoff = now.saturating_sub(i64::try_from(older_than).unwrap_or(i64::MAX));
        let arch_dir = self.dir.join("archive");
        self.rewrite(|_, entry| match entry {
            Some(e) if e.timestamp < cutoff && !e.is_live(now, default_ttl) => {
                let month = chrono::DateTime::from_timestamp(e.timestamp, 0)
                    .map(|t| t.format("%Y-%m").to_string())
                    .unwrap_or_else(|| "unknown".into());
                Route::MoveTo(arch_dir.join(format!("instance_state-{month}.jsonl")))
            }
            _ => Route::Keep,
        })
    }

    /// Moves every line that is not an entry (torn, corrupt) to
    /// `quarantine.jsonl`, byte for byte, and rewrites the live log without
    /// them (`pool doctor --repair`). See `Pool::rewrite`.
    pub fn quarantine(&self) -> Result<ArchiveReport> {
        let q = self.dir.join("quarantine.jsonl");
        self.rewrite(|_, entry| match entry {
            Some(_) => Route::Keep,
            None => Route::MoveTo(q.clone()),
        })
    }

    /// Rewrites the live log, sending each line where `route` says: a temp
    /// file, fsync, rename, all under the lock writers take, so a concurrent
    /// append is neither lost nor doubled (a writer waiting on the old file
    /// reopens the new one, see [`LockedLog::open`]). Moved lines are
    /// appended to their files and synced before the rename; if the pass dies
    /// in between, a line is in both places, never in neither. The log is
    /// streamed, so memory stays bounded. Nothing is renamed when nothing moved.
    fn rewrite(
        &self,
        mut route: impl FnMut(&[u8], Option<&Entry<'_>>) -> Route,
    ) -> Result<ArchiveReport> {
        use std::io::{BufRead, BufReader, Write};
        let path = self.log_path();
        let log = LockedLog::open(&path)?;
        let mut report = ArchiveReport::default();
        let tmp = self.dir.join(format!(
            ".{}.rewrite.{}",
            paths::LOG_FILE,
            std::process::id()
        ));
        let result = (|| -> Result<()> {
            let mut out = std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&tmp)
                    .map_err(|e| Error::io(&tmp, e))?,
            );
            let mut moved_to: std::collections::BTreeMap<PathBuf, File> =
                std::collections::BTreeMap::new();
            let mut long = String::new();
            let mut file = log.file();
            file.seek(SeekFrom::Start(0))
                .map_err(|e| Error::io(&path, e))?;
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut line = Vec::new();
            loop {
                line.clear();
                let n = reader
                    .read_until(b'\n', &mut line)
                    .map_err(|e| Error::io(&path, e))?;
                if n == 0 {
                    break;
                }
                report.bytes_before += n as u64;
                if line.trim_ascii().is_empty() {
                    continue;
                }
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                let entry = Entry::parse(&line);
                match route(&line, entry.as_ref()) {
                    Route::MoveTo(dest) => {
                        if !moved_to.contains_key(&dest) {
                            if let Some(parent) = dest.parent() {
                                fsio::ensure_private_dir(parent)?;
                            }
                            let f = fsio::open_append(&dest)?;
                            moved_to.insert(dest.clone(), f);
                        }
                        if let Some(mut f) = moved_to.get(&dest) {
                            f.write_all(&line).map_err(|e| Error::io(&dest, e))?;
                        }
                        report.archived += 1;
                    }
                    Route::Keep => {
                        if let Some(e) = entry.as_ref() {
                            let ttl = e.ttl.unwrap_or(DEFAULT_TTL);
                            if ttl > DEFAULT_TTL {
                                let exp = e.timestamp.saturating_add(ttl.min(MAX_TTL) as i64);
                                long.push_str(&format!(
                                    "{} {exp} {} {}\n",
                                    e.order_time(),
                                    report.bytes_after,
                                    e.id
                                ));
                            }
                        }
                        out.write_all(&line).map_err(|e| Error::io(&tmp, e))?;
                        report.bytes_after += line.len() as u64;
                        report.kept += 1;
                    }
                }
            }
            for (p, f) in &moved_to {
                f.sync_all().map_err(|e| Error::io(p, e))?;
            }
            let f = out
                .into_inner()
                .map_err(|e| Error::io(&tmp, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
            if report.archived > 0 {
                std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
                fsio::atomic_write(&self.long_index_path(), long.as_bytes(), 0o600)?;
            }
            Ok(())
        })();
        let _ = std::fs::remove_file(&tmp);
        drop(log);
        result.map(|_| report)
    }
}

/// Reads the line starting at `off`, up to [`fsio::MAX_LINE`] bytes.
fn read_line_at(f: &File, off: u64) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 4096];
    let mut pos = off;
    loop {
        let n = f.read_at(&mut buf, pos)?;
        if n == 0 {
            return Ok((!out.is_empty()).then_some(out));
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            out.extend_from_slice(&buf[..i]);
            return Ok(Some(out));
        }
        out.extend_from_slice(&buf[..n]);
        if out.len() > fsio::MAX_LINE {
            return Ok(None);
        }
        pos += n as u64;
    }
}

/// A scan's callback: offset, raw line, parsed entry.
type Visit<'f> = dyn FnMut(u64, &[u8], Entry<'_>) -> ControlFlow<()> + 'f;

fn scan_file_back<R: Read + Seek>(
    file: R,
    len: u64,
    stop_before: Option<i64>,
    f: &mut Visit<'_>,
) -> io::Result<ScanStats> {
    let mut rev = RevLines::new(file, len);
    let mut stats = ScanStats {
        low_offset: len,
        ..ScanStats::default()
    };
    let cutoff = stop_before.map(|s| s.saturating_sub(ORDER_SLACK));
    while let Some((off, line)) = rev.next_line()? {
        stats.lines += 1;
        stats.bytes += line.len() as u64 + 1;
        let Some(e) = Entry::parse(line) else {
            if !line.trim_ascii().is_empty() {
                stats.bad += 1;
            }
            stats.low_offset = off;
            continue;
        };
        if let Some(c) = cutoff
            && e.order_time() < c
        {
            break;
        }
        stats.low_offset = off;
        if f(off, line, e).is_break() {
            break;
        }
    }
    stats.bad += rev.overlong;
    Ok(stats)
}

impl LockedLog {
    /// The offset the next appended line will start at (after a repair
    /// newline, if one is needed).
    pub fn append_offset(&self) -> Result<u64> {
        let len = self
            .file()
            .metadata()
            .map_err(|e| Error::io(self.path(), e))?
            .len();
        if len == 0 {
            return Ok(0);
        }
        let mut b = [0u8; 1];
        self.file()
            .read_exact_at(&mut b, len - 1)
            .map_err(|e| Error::io(self.path(), e))?;
        Ok(if b[0] == b'\n' { len } else { len + 1 })
    }
}

/// Reads every entry of a log file front to back (for tests and `gc`).
pub fn read_all(path: &Path) -> Result<(Vec<Entry<'static>>, u64)> {
    let mut s = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.seek(SeekFrom::Start(0)).map_err(|e| Error::io(path, e))?;
            f.read_to_end(&mut s).map_err(|e| Error::io(path, e))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(Error::io(path, e)),
    }
    let mut bad = 0;
    let mut out = Vec::new();
    for line in s.split(|b| *b == b'\n') {
        if line.trim_ascii().is_empty() {
            continue;
        }
        match Entry::parse(line) {
            Some(e) => out.push(e.into_owned()),
            None => bad += 1,
        }
    }
    Ok((out, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, ts: i64, ttl: Option<u64>) -> Entry<'static> {
        Entry {
            id: id.to_string().into(),
            timestamp: ts,
            source_instance: "A".into(),
            action: "completed".into(),
            topic: format!("topic {id}").into(),
            ttl,
            ..Entry::default()
        }
    }

    #[test]
    fn append_unique_writes_each_id_once() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let w = pool
            .append_unique(
                vec![
                    entry("a", 100, None),
                    entry("b", 100, None),
                    entry("a", 100, None),
                ],
                &[],
                100,
                100,
            )
            .unwrap();
        assert_eq!(w.len(), 2);
        let w = pool
            .append_unique(
                vec![entry("a", 101, None), entry("c", 101, None)],
                &[("x".into(), "c".into())],
                100,
                101,
            )
            .unwrap();
        assert_eq!(w.iter().map(|e| e.id.as_ref()).collect::<Vec<_>>(), ["c"]);
        let (all, bad) = read_all(&pool.log_path()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(bad, 0);
        // An alias makes its file id count as present.
        let w = pool
            .append_unique(vec![entry("x", 102, None)], &[], 100, 102)
            .unwrap();
        assert!(w.is_empty());
    }

    #[test]
    fn scan_recent_stops_at_the_horizon_and_finds_long_ttl_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 1_000_000;
        pool.append(&[entry("old-long", now - 5 * 86_400, Some(7 * 86_400))])
            .unwrap();
        let filler: Vec<_> = (0..500)
            .map(|i| entry(&format!("f{i}"), now - 3 * 86_400 + i, None))
            .collect();
        pool.append(&filler).unwrap();
        pool.append(&[entry("new", now - 60, None)]).unwrap();
        let mut ids = Vec::new();
        let stats = pool
            .scan_recent(now, DEFAULT_TTL, |e| {
                ids.push(e.id.to_string());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(ids, ["new", "old-long"]);
        assert!(stats.lines <= 3, "read {} lines", stats.lines);
    }

    #[test]
    fn an_old_entry_received_late_does_not_end_the_scan() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 1_000_000;
        pool.append(&[entry("before", now - 100, None)]).unwrap();
        let mut pulled = entry("pulled", now - 5 * 86_400, Some(30 * 86_400));
        pulled.received = Some(now - 50);
        pool.append(&[pulled]).unwrap();
        pool.append(&[entry("after", now - 10, None)]).unwrap();
        let mut ids = Vec::new();
        pool.scan_recent(now, DEFAULT_TTL, |e| {
            ids.push(e.id.to_string());
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(ids, ["after", "pulled", "before"]);
    }

    #[test]
    fn torn_lines_are_counted_and_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        pool.append(&[entry("a", 10, None)]).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(pool.log_path())
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"id\":\"torn"))
            .unwrap();
        pool.append(&[entry("b", 11, None)]).unwrap();
        let mut ids = Vec::new();
        let stats = pool
            .scan_back(None, |_, _, e| {
                ids.push(e.id.to_string());
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(stats.bad, 1);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::store::fsio::RevLines;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pool_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let mut n = 0;
            let _ = scan_file_back(std::io::Cursor::new(&bytes), bytes.len() as u64, Some(0), &mut |_, _, _| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
            let mut r = RevLines::new(std::io::Cursor::new(&bytes), bytes.len() as u64);
            while r.next_line().unwrap().is_some() {}
        }

        #[test]
        fn entries_round_trip(id in "[a-f0-9-]{1,36}", ts in 0i64..4_000_000_000, inst in "\\PC{0,20}", topic in "\\PC{0,80}", summary in "\\PC{0,200}", ttl in proptest::option::of(0u64..1_000_000)) {
            let e = Entry {
                id: id.into(),
                timestamp: ts,
                source_instance: inst.into(),
                topic: topic.into(),
                summary: summary.into(),
                ttl,
                ..Entry::default()
            };
            let line = e.to_line();
            prop_assert_eq!(line.matches('\n').count(), 1);
            let back = Entry::parse(line.as_bytes()).unwrap();
            prop_assert_eq!(back, e);
        }
    }
}
