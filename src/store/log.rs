//! The pool store: appending entries exactly once, and reading the recent end
//! of the log without touching the rest.
//!
//! The log is append-only. Every line our writers append carries a local
//! append stamp ([`Local`]: this machine's time, never decreasing, and the
//! line's own byte offset), written under the writers' lock. Readers walk
//! the log backwards from the end and stop at the first line whose stamp
//! checks out (it sits at the offset it names) and is older than their
//! window, so their cost follows the recent window, not the file's size.
//!
//! Lines without a trusted stamp (another program's, a restored backup,
//! `cat a.jsonl >> b.jsonl`, a pool written before stamps) never end a walk
//! by themselves: only a run of [`STRAY_RUN`] such lines, all older than the
//! window, does, which keeps pools written before stamps cheap to read. Each
//! such line is given, as [`Entry::seen`], the stamp of the nearest newer
//! trusted line (or the log's modification time), so a line dated in the
//! future lives no longer than its TTL from when this machine got it.
//!
//! Entries whose TTL is longer than [`DEFAULT_TTL`], handoffs (`to`), answers
//! (`ref`) and knowledge (`learned`, `decided`) are also listed in a small
//! side index (`long_ttl.idx`: `time expires offset id` per line, then `c`
//! for a plain claim, `n` for any other), so a reader that stops early still
//! finds them, and one that wants no claims skips them without reading the
//! log. Such a reader keeps a copy of the index's other lines
//! (`long_ttl.others`), so on a team's pool, whose index is mostly claims, it
//! reads only that copy and the index lines appended since.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::entry::{Entry, Local, MAX_SKEW};
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
/// How many lines in a row without a trusted stamp, all older than the
/// window, end a backwards walk. Fewer stray lines than this, anywhere in
/// the log, hide nothing.
pub const STRAY_RUN: u64 = 1024;

/// What a reader of [`Pool::scan_shown`] wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// The next entry, please.
    Continue,
    /// Enough of the log: go on with the long-TTL index.
    SkipToIndex,
    /// Like [`Walk::SkipToIndex`], but the index's plain claims (no handoff
    /// or answer: marked [`PLAIN_CLAIM`]) are not read: for a reader that has
    /// counted enough and wants only handoffs, answers, blocks and knowledge.
    SkipToIndexOmitClaims,
    /// Nothing more.
    Stop,
}

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

    /// Path of the long-TTL index.
    pub(crate) fn long_index_path(&self) -> PathBuf {
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
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        walk_back(
            &file,
            meta.len(),
            (i64::MAX, mtime_of(&meta)),
            stop_before,
            &mut f,
        )
        .map(|(stats, _)| stats)
        .map_err(|e| Error::io(&path, e))
    }

    /// [`Pool::scan_back`] over the first `len` bytes of an already open
    /// log, for a reader that must walk exactly the bytes it measured (the
    /// news mark).
    pub fn scan_back_in(
        &self,
        file: &File,
        len: u64,
        stop_before: Option<i64>,
        mut f: impl FnMut(u64, &[u8], Entry<'_>) -> ControlFlow<()>,
    ) -> Result<ScanStats> {
        let path = self.log_path();
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        walk_back(file, len, (i64::MAX, mtime_of(&meta)), stop_before, &mut f)
            .map(|(stats, _)| stats)
            .map_err(|e| Error::io(&path, e))
    }

    /// Streams the entries a reader needs for a window of `horizon` seconds
    /// before `now`, newest first: the end of the log back to the horizon
    /// (see [`Pool::scan_back`] for which lines end the walk), then entries
    /// from the long-TTL index that are still live and older than what the
    /// walk reached. Breaking from `f` ends both.
    pub fn scan_recent(
        &self,
        now: i64,
        horizon: u64,
        mut f: impl FnMut(Entry<'_>) -> ControlFlow<()>,
    ) -> Result<ScanStats> {
        self.scan_shown(now, horizon, |e| match f(e) {
            ControlFlow::Continue(()) => Walk::Continue,
            ControlFlow::Break(()) => Walk::Stop,
        })
    }

    /// Like [`Pool::scan_recent`], for a reader that stops reading the log
    /// once it has enough to show ([`Walk::SkipToIndex`]) but must still see
    /// every handoff, answer and lesson, which the long-TTL index lists.
    pub fn scan_shown(
        &self,
        now: i64,
        horizon: u64,
        mut f: impl FnMut(Entry<'_>) -> Walk,
    ) -> Result<ScanStats> {
        let mut stats = ScanStats::default();
        let mut omit_claims = false;
        if let Some(file) = self.open_log()? {
            let path = self.log_path();
            let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
            let stop = now.saturating_sub(i64::try_from(horizon).unwrap_or(i64::MAX));
            let mut stopped = false;
            // Whether the index can stand in for the rest of the log: asked
            // once, at the first skip. A missing or stale one (a log written
            // by another program, an append that could not update it, an
            // older writer's) cannot: the walk goes on to the horizon, as
            // before there was an index, until `pool gc` rebuilds it.
            let mut index_ok = None;
            let (s, _) = walk_back(
                &file,
                meta.len(),
                (now, mtime_of(&meta)),
                Some(stop),
                &mut |_, _, e| match f(e) {
                    Walk::Continue => ControlFlow::Continue(()),
                    Walk::SkipToIndex | Walk::SkipToIndexOmitClaims
                        if !*index_ok.get_or_insert_with(|| self.index_is_current()) =>
                    {
                        ControlFlow::Continue(())
                    }
                    Walk::SkipToIndex => ControlFlow::Break(()),
                    Walk::SkipToIndexOmitClaims => {
                        omit_claims = true;
                        ControlFlow::Break(())
                    }
                    Walk::Stop => {
                        stopped = true;
                        ControlFlow::Break(())
                    }
                },
            )
            .map_err(|e| Error::io(&path, e))?;
            stats = s;
            if stopped {
                return Ok(stats);
            }
        }
        // One at a time: a reader that keeps a few pays for a few, however
        // many long-lived entries the index lists.
        self.long_ttl_entries(now, stats.low_offset, omit_claims, &mut f)?;
        Ok(stats)
    }

    /// Walks the lines appended at or after byte offset `from`, newest
    /// first, as [`Pool::scan_recent`] reads them at `now` (the same trust
    /// in append stamps), until `f` breaks. For readers that keep what they
    /// derived from the log before `from` (the guard's index).
    pub fn scan_tail(
        &self,
        now: i64,
        from: u64,
        mut f: impl FnMut(Entry<'_>) -> ControlFlow<()>,
    ) -> Result<ScanStats> {
        let Some(file) = self.open_log()? else {
            return Ok(ScanStats::default());
        };
        let path = self.log_path();
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        walk_back(
            &file,
            meta.len(),
            (now, mtime_of(&meta)),
            None,
            &mut |off, _, e| {
                if off < from {
                    return ControlFlow::Break(());
                }
                f(e)
            },
        )
        .map(|(stats, _)| stats)
        .map_err(|e| Error::io(&path, e))
    }

    /// Hands `f` the live entries listed in the long-TTL index that start
    /// before `before` (the offset a backwards scan reached), newest first,
    /// until it returns [`Walk::Stop`]; without the lines marked
    /// [`PLAIN_CLAIM`] when `omit_claims`, or once `f` returns
    /// [`Walk::SkipToIndexOmitClaims`] (such a line costs reading and
    /// parsing its entry).
    ///
    /// An index of at most [`INDEX_IN_MEMORY`] bytes is read whole and its
    /// lines found with one vectorised search, so a plain claim skipped costs
    /// a few instructions (issue 24: walking 5,000 of them line by line was
    /// half of a team's session start); a larger one is read backwards.
    fn long_ttl_entries(
        &self,
        now: i64,
        before: u64,
        omit_claims: bool,
        f: &mut dyn FnMut(Entry<'_>) -> Walk,
    ) -> Result<()> {
        let idx_path = self.long_index_path();
        let mut idx = match File::open(&idx_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(idx_path, e)),
        };
        let Some(log) = self.open_log()? else {
            return Ok(());
        };
        let len = idx.metadata().map_err(|e| Error::io(&idx_path, e))?.len();
        let mut walk = IndexWalk {
            now,
            before,
            omit: omit_claims,
            oldest: now.saturating_sub(MAX_TTL as i64 + ORDER_SLACK),
            skipped: 0,
            // One read buffer for every entry: zeroing a fresh one per entry
            // was a quarter of a session start's cost on a pool whose index
            // lists thousands of claims (issue 24).
            buf: vec![0u8; 4096],
            log: &log,
            log_path: self.log_path(),
        };
        let idx_ino = fsio::file_key(&idx)
            .map_err(|e| Error::io(&idx_path, e))?
            .ino;
        if walk.omit
            && len <= INDEX_IN_MEMORY
            && self.others_from_copy(&idx, idx_ino, len, &mut walk, f)?
        {
            return Ok(());
        }
        if len <= INDEX_IN_MEMORY {
            let mut text = Vec::with_capacity(len as usize);
            io::Read::read_to_end(&mut (&mut idx).take(len), &mut text)
                .map_err(|e| Error::io(&idx_path, e))?;
            let marked = marks_every_line(&text);
            let mut end = text.len();
            // Lines newest first: each `\n` found from the end closes the
            // line after it.
            for nl in memchr::memrchr_iter(b'\n', &text).chain(std::iter::once(usize::MAX)) {
                if walk.omit && marked {
                    // The rest has no plain claim to read: only the marked
                    // others, each found by its mark. Kept for the next
                    // such reader, which then reads only what is new.
                    self.save_others_copy(idx_ino, &text);
                    walk.others(&text[..end], f)?;
                    return Ok(());
                }
                let start = nl.wrapping_add(1);
                let line = &text[start..end];
                end = nl;
                if !line.is_empty() && walk.line(line, f)? {
                    break;
                }
            }
        } else {
            let mut rev = RevLines::new(&idx, len);
            while let Some((_, line)) = rev.next_line().map_err(|e| Error::io(&idx_path, e))? {
                if walk.line(line, f)? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Walks the marked lines of the index (`idx`, inode `idx_ino`, `len`
    /// bytes) from the readers' copy ([`paths::INDEX_OTHERS_CACHE`]) and the
    /// index lines appended after what it covers, newest first; false, having
    /// walked nothing, when there is no copy that matches this index or more
    /// than [`OTHERS_TAIL_MAX`] bytes were appended since.
    ///
    /// The copy names the index's inode, the length it covers and the
    /// index's line ending there, read back from the index to make sure the
    /// copy describes this very file (an inode can be reused once gc has
    /// replaced the index). A wrong line in it can do no harm: every line
    /// read from the index, or from its copy, is checked against the log
    /// entry at its offset.
    fn others_from_copy(
        &self,
        idx: &File,
        idx_ino: u64,
        len: u64,
        walk: &mut IndexWalk<'_>,
        f: &mut dyn FnMut(Entry<'_>) -> Walk,
    ) -> Result<bool> {
        let path = self.dir.join(paths::INDEX_OTHERS_CACHE);
        let Ok(copy) = fsio::read_regular(&path, INDEX_IN_MEMORY) else {
            return Ok(false);
        };
        let Some((covered, last, body)) = parse_others_copy(&copy, idx_ino) else {
            return Ok(false);
        };
        let Some(last_at) = covered.checked_sub(last.len() as u64 + 1) else {
            return Ok(false);
        };
        if covered > len || len - covered > OTHERS_TAIL_MAX {
            return Ok(false);
        }
        let mut probe = vec![0u8; last.len() + 1];
        if fsio::read_exact_at(idx, &mut probe, last_at).is_err()
            || probe[..last.len()] != *last
            || probe[last.len()] != b'\n'
        {
            return Ok(false);
        }
        let mut tail = vec![0u8; (len - covered) as usize];
        fsio::read_exact_at(idx, &mut tail, covered)
            .map_err(|e| Error::io(self.long_index_path(), e))?;
        // Newest first: what was appended since, then the copy.
        if !walk.others(&tail, f)? {
            walk.others(body, f)?;
        }
        Ok(true)
    }

    /// Replaces the readers' copy of the marked lines with those of `text`,
    /// the whole of a marked index (inode `idx_ino`) as read; best effort
    /// (derived state, checked before use).
    fn save_others_copy(&self, idx_ino: u64, text: &[u8]) {
        let Some(nl) = memchr::memrchr(b'\n', text) else {
            return;
        };
        let covered = &text[..=nl];
        let last_start = memchr::memrchr(b'\n', &text[..nl]).map_or(0, |p| p + 1);
        let last = &text[last_start..nl];
        let mut out = format!("{OTHERS_COPY_HEADER}{idx_ino} {} ", covered.len()).into_bytes();
        out.extend_from_slice(last);
        out.push(b'\n');
        let mark = OTHER_ENTRY.as_bytes()[0];
        let mut line_end = 0;
        for p in memchr::memchr_iter(mark, covered) {
            if p < line_end
                || p == 0
                || covered[p - 1] != b' '
                || covered.get(p + 1) != Some(&b'\n')
            {
                continue;
            }
            let start = memchr::memrchr(b'\n', &covered[..p]).map_or(0, |s| s + 1);
            line_end = p + 2;
            if covered[start] != b'#' {
                out.extend_from_slice(&covered[start..line_end]);
            }
        }
        let _ = fsio::replace_file(&self.dir.join(paths::INDEX_OTHERS_CACHE), &out, 0o600);
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
        walk_back(
            log.file(),
            len,
            (now, 0),
            Some(lookback_from.saturating_sub(ORDER_SLACK)),
            &mut |_, _, e| {
                if wanted.contains(e.id.as_ref()) {
                    present.insert(e.id.to_string());
                }
                ControlFlow::Continue(())
            },
        )
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
        self.write_locked(&mut log, &fresh, now)?;
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
        now: i64,
        choose: impl FnOnce(&File, u64) -> Result<Vec<Entry<'static>>>,
    ) -> Result<(u64, u64)> {
        let path = self.log_path();
        let mut log = LockedLog::open(&path)?;
        let len = log
            .file()
            .metadata()
            .map_err(|e| Error::io(&path, e))?
            .len();
        let fresh = choose(log.file(), len)?;
        self.write_locked(&mut log, &fresh, now)?;
        let meta = log.file().metadata().map_err(|e| Error::io(&path, e))?;
        let key = fsio::file_key(log.file()).map_err(|e| Error::io(&path, e))?;
        Ok((key.ino, meta.len()))
    }

    /// Appends entries without a duplicate check (fresh random ids). `now`
    /// is this machine's clock, for the lines' append stamps.
    pub fn append(&self, entries: &[Entry<'_>], now: i64) -> Result<()> {
        let mut log = LockedLog::open(&self.log_path())?;
        self.write_locked(&mut log, entries, now)
    }

    /// Writes `entries` in one append, each stamped ([`Local`]) with its
    /// offset and the append time: `now`, or the last stamp in the log when
    /// that is later (by less than [`MAX_SKEW`]: the clock stepped back), so
    /// stamps never decrease. Lines that need the long-TTL index get a line
    /// there.
    fn write_locked(&self, log: &mut LockedLog, entries: &[Entry<'_>], now: i64) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let start = log.append_offset()?;
        let len = log
            .file()
            .metadata()
            .map_err(|e| Error::io(log.path(), e))?
            .len();
        let meta = log
            .file()
            .metadata()
            .map_err(|e| Error::io(log.path(), e))?;
        let (last, tail_ours) =
            last_stamp(log.file(), len).map_err(|e| Error::io(log.path(), e))?;
        let at = match last {
            Some(last) if last > now && last <= now.saturating_add(MAX_SKEW) => last,
            _ => now,
        };
        // Lines another program appended since our last one reached the log
        // no later than its current mtime: say so, for their readers.
        let mut before = (!tail_ours && len > 0).then(|| mtime_of(&meta).min(at));
        let mut buf = String::new();
        let mut long = String::new();
        for e in entries {
            let offset = start + buf.len() as u64;
            let mut e = e.clone();
            e.local = Some(Local {
                at,
                off: offset,
                before: before.take(),
            });
            e.seen = Some(at);
            if let Some(line) = index_line(&e, offset) {
                long.push_str(&line);
            }
            buf.push_str(&e.to_line());
        }
        log.append(buf.as_bytes())?;
        let idx = self.long_index_path();
        // The index names the log it describes in its first line, written
        // when both start empty (see `Pool::index_is_current`); an index
        // missing beside a non-empty log stays headerless, so stale, until
        // `pool gc` rebuilds it.
        if start == 0 && !idx.exists() {
            let ino = fsio::file_key(log.file())
                .map_err(|e| Error::io(log.path(), e))?
                .ino;
            long.insert_str(0, &index_header(ino));
        }
        if !long.is_empty() {
            let written = fsio::open_append(&idx).and_then(|mut f| {
                std::io::Write::write_all(&mut f, long.as_bytes()).map_err(|e| Error::io(&idx, e))
            });
            if written.is_err() {
                // The entries are in the log, which is what counts: saying
                // the append failed would make a retry post them twice. Mark
                // the index for rebuilding instead (the next `pool gc`).
                let _ = fsio::create_new_private(&self.dir.join(paths::INDEX_STALE_MARK));
            }
        }
        Ok(())
    }
}

/// Whether an entry is listed in the long-TTL index: it outlives the default
/// window, or a reader that stops early must still find it (a handoff, an
/// answer to one, a lesson or decision).
pub fn needs_index(e: &Entry<'_>) -> bool {
    e.ttl.unwrap_or(DEFAULT_TTL) > DEFAULT_TTL
        || !e.to.is_empty()
        || !e.reference.is_empty()
        || matches!(e.action.as_ref(), "learned" | "decided")
}

/// The fifth field of a long-TTL index line whose entry is a plain claim
/// (`claimed`, no handoff, no answer). A line without it may be anything.
pub const PLAIN_CLAIM: &str = "c";

/// The fifth field of every other long-TTL index line (a handoff, an
/// answer, a lesson, a long-lived entry). An index whose header ends in it
/// ([`index_header`]) marks every line, so a reader that wants no plain
/// claims finds the others with one vectorised search for this byte, which
/// no index field but the mark holds (times and offsets are digits, the ids
/// we write are hexadecimal): issue 24, walking a team's 5,000 claim lines
/// one by one was a third of its session start.
pub const OTHER_ENTRY: &str = "n";

/// The long-TTL index's first line: the inode of the log it describes, and
/// [`OTHER_ENTRY`] to say that every line after it carries its mark.
/// (Readers before the mark take the header for a stale one and rebuild it
/// without marks, which readers read line by line.)
pub fn index_header(log_ino: u64) -> String {
    format!("#log {log_ino} {OTHER_ENTRY}\n")
}

/// Whether an index's text starts with a header saying every line is marked.
fn marks_every_line(text: &[u8]) -> bool {
    let head = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut fields = head.split(|b| *b == b' ');
    fields.next() == Some(b"#log")
        && fields
            .next()
            .is_some_and(|ino| !ino.is_empty() && ino.iter().all(u8::is_ascii_digit))
        && fields.next() == Some(OTHER_ENTRY.as_bytes())
        && fields.next().is_none()
}

/// Whether a long-TTL index line is marked [`PLAIN_CLAIM`]: five fields, the
/// last one the mark.
fn is_plain_claim(line: &[u8]) -> bool {
    let Some(rest) = line.trim_ascii_end().strip_suffix(b" c") else {
        return false;
    };
    // The field before the mark: an id (`time expires offset id c`), or the
    // offset of a four-field line whose id is `c`. An id with a character
    // other than a digit (every id we write) settles it in a few
    // instructions; only an all-digit one needs the count of every field
    // (which cost about 400 instructions a line, and a team's index has
    // thousands of plain claims).
    let last = memchr::memrchr(b' ', rest).map_or(rest, |p| &rest[p + 1..]);
    if last.is_empty() {
        return false;
    }
    !last.iter().all(u8::is_ascii_digit) || memchr::memchr_iter(b' ', rest).count() == 3
}

/// Largest long-TTL index read whole by [`Pool::scan_shown`] (4 MiB: about
/// 60,000 lines); a larger one is read backwards line by line.
const INDEX_IN_MEMORY: u64 = 4 << 20;

/// Most index bytes appended since the readers' copy of its marked lines
/// that a reader searches before it writes a new copy (64 KiB: about 850
/// lines).
const OTHERS_TAIL_MAX: u64 = 64 << 10;

/// How the readers' copy of the index's marked lines starts: then the
/// index's inode, the length it covers and the index line ending there.
const OTHERS_COPY_HEADER: &str = "#others ";

/// The readers' copy's parts, when it names index inode `idx_ino`: the
/// length it covers, the index line ending there, and its marked lines.
fn parse_others_copy(copy: &[u8], idx_ino: u64) -> Option<(u64, &[u8], &[u8])> {
    let nl = memchr::memchr(b'\n', copy)?;
    let head = copy[..nl].strip_prefix(OTHERS_COPY_HEADER.as_bytes())?;
    let mut parts = head.splitn(3, |b| *b == b' ');
    let ino: u64 = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let covered: u64 = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
    let last = parts.next()?;
    (ino == idx_ino && !last.is_empty()).then_some((covered, last, &copy[nl + 1..]))
}

/// Plain claims skipped between two looks at their time: the index is in
/// time order, so the walk still ends within this many lines of the oldest.
const SKIP_TIME_EVERY: u32 = 64;

/// One walk of the long-TTL index ([`Pool::long_ttl_entries`]).
struct IndexWalk<'a> {
    now: i64,
    before: u64,
    omit: bool,
    oldest: i64,
    skipped: u32,
    buf: Vec<u8>,
    log: &'a File,
    log_path: PathBuf,
}

impl IndexWalk<'_> {
    /// Handles, newest first, the lines of `text` (whole lines of an index
    /// that [`marks_every_line`]) marked [`OTHER_ENTRY`], skipping the plain
    /// claims between them unread, until the walk is over.
    /// True when the walk is over.
    fn others(&mut self, text: &[u8], f: &mut dyn FnMut(Entry<'_>) -> Walk) -> Result<bool> {
        let mark = OTHER_ENTRY.as_bytes()[0];
        for p in memchr::memrchr_iter(mark, text) {
            // The mark is a whole last field: ` n` then the line's end.
            let ends_line = text.get(p + 1).is_none_or(|b| *b == b'\n');
            if p == 0 || text[p - 1] != b' ' || !ends_line {
                continue;
            }
            let start = memchr::memrchr(b'\n', &text[..p]).map_or(0, |nl| nl + 1);
            if self.line(&text[start..=p], f)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Handles one index line; true when the walk is over.
    fn line(&mut self, line: &[u8], f: &mut dyn FnMut(Entry<'_>) -> Walk) -> Result<bool> {
        if self.omit && is_plain_claim(line) {
            self.skipped = self.skipped.wrapping_add(1);
            if !self.skipped.is_multiple_of(SKIP_TIME_EVERY) {
                return Ok(false);
            }
            // Only its time is read: the walk still ends at the oldest.
            let ts = line.split(|b| *b == b' ').next().unwrap_or_default();
            let ts = std::str::from_utf8(ts)
                .ok()
                .and_then(|t| t.parse::<i64>().ok());
            return Ok(ts.is_some_and(|t| t < self.oldest));
        }
        let mut parts = std::str::from_utf8(line).unwrap_or("").split(' ');
        let (Some(ts), Some(exp), Some(off), Some(id)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(false);
        };
        let (Ok(ts), Ok(exp), Ok(off)) =
            (ts.parse::<i64>(), exp.parse::<i64>(), off.parse::<u64>())
        else {
            return Ok(false);
        };
        if ts < self.oldest {
            return Ok(true);
        }
        if exp <= self.now || off >= self.before {
            return Ok(false);
        }
        let now = self.now;
        if let Some(raw) =
            read_line_at(self.log, off, &mut self.buf).map_err(|e| Error::io(&self.log_path, e))?
            && let Some(mut e) = Entry::parse(&raw)
            && e.id == id
        {
            if !e.trust_at(off, now) {
                e.seen = Some(ts.min(now));
            }
            if e.is_live(now, DEFAULT_TTL) || e.ttl.is_some() {
                match f(e) {
                    Walk::Stop => return Ok(true),
                    Walk::SkipToIndexOmitClaims => self.omit = true,
                    Walk::Continue | Walk::SkipToIndex => {}
                }
            }
        }
        Ok(false)
    }
}

/// The long-TTL index's line for an entry at byte offset `off` of the log
/// (`time expires offset id`, then [`PLAIN_CLAIM`] for a plain claim), or
/// `None` when it needs none. The time is
/// when the log got it ([`Entry::order_time`]: its stamp once a reader or
/// writer has set [`Entry::seen`]); it expires its TTL after its
/// [`Entry::effective_time`].
pub fn index_line(e: &Entry<'_>, off: u64) -> Option<String> {
    if !needs_index(e) {
        return None;
    }
    let exp = e
        .effective_time()
        .saturating_add(e.ttl.unwrap_or(DEFAULT_TTL).min(MAX_TTL) as i64);
    let kind = if e.action == "claimed" && e.to.is_empty() && e.reference.is_empty() {
        PLAIN_CLAIM
    } else {
        OTHER_ENTRY
    };
    Some(format!("{} {exp} {off} {} {kind}\n", e.order_time(), e.id))
}

/// Most lines looked at, from the end, for the last append stamp.
const STAMP_LOOKBACK: usize = 64;

/// The newest trusted append stamp among the last lines before `end`, and
/// whether the last line is ours (trusted).
fn last_stamp(file: &File, end: u64) -> io::Result<(Option<i64>, bool)> {
    let mut rev = RevLines::new(file, end);
    let mut first = true;
    for _ in 0..STAMP_LOOKBACK {
        let Some((off, line)) = rev.next_line()? else {
            break;
        };
        if line.trim_ascii().is_empty() {
            continue;
        }
        if let Some(Local { at, off: o, .. }) = Entry::parse(line).and_then(|e| e.local)
            && o == off
        {
            return Ok((Some(at), first));
        }
        first = false;
    }
    Ok((None, first))
}

/// Reads the line starting at `off`, up to [`fsio::MAX_LINE`] bytes.
fn read_line_at(f: &File, off: u64, buf: &mut [u8]) -> io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    let mut pos = off;
    loop {
        let n = fsio::read_at(f, buf, pos)?;
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

/// The log file's modification time in epoch seconds (0 when unknown): no
/// line in it was appended later.
fn mtime_of(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The one backwards walk every reader of the log uses. Hands each entry,
/// newest first, to `f` with [`Entry::seen`] set (see [`Entry::read_at`]),
/// and stops when `f` breaks, at the first trusted line appended before
/// `stop_before`, or after [`STRAY_RUN`] untrusted lines in a row that are
/// all older than `stop_before` minus [`ORDER_SLACK`]. `clock` is the
/// reader's `now` and the file's mtime: a stamp later than both is not
/// trusted, and an untrusted line with no trusted line after it was appended
/// by the earlier of the two. Returns what it saw and whether `f` broke.
fn walk_back<R: Read + Seek>(
    file: R,
    len: u64,
    clock: (i64, i64),
    stop_before: Option<i64>,
    f: &mut Visit<'_>,
) -> io::Result<(ScanStats, bool)> {
    let mut rev = RevLines::new(file, len);
    let mut stats = ScanStats {
        low_offset: len,
        ..ScanStats::default()
    };
    let slack_cutoff = stop_before.map(|s| s.saturating_sub(ORDER_SLACK));
    // When the nearest newer trusted line was appended: no untrusted line
    // below it can have reached this log later.
    let (now, mtime) = clock;
    let mut bound = if mtime > 0 { now.min(mtime) } else { now };
    let mut trust_bound = now.max(mtime);
    let mut run = 0u64;
    let mut broke = false;
    while let Some((off, line)) = rev.next_line()? {
        stats.lines += 1;
        stats.bytes += line.len() as u64 + 1;
        let Some(mut e) = Entry::parse(line) else {
            if !line.trim_ascii().is_empty() {
                stats.bad += 1;
            }
            stats.low_offset = off;
            run += 1;
            if slack_cutoff.is_some() && run > STRAY_RUN {
                break;
            }
            continue;
        };
        if e.trust_at(off, trust_bound) {
            let at = e.seen.unwrap_or(bound);
            bound = e.local.and_then(|l| l.before).map_or(at, |b| b.min(at));
            trust_bound = at;
            run = 0;
            if let Some(s) = stop_before
                && at < s
            {
                break;
            }
        } else {
            e.seen = Some(bound);
            if let Some(c) = slack_cutoff {
                if e.effective_time() < c {
                    run += 1;
                    if run > STRAY_RUN {
                        break;
                    }
                } else {
                    run = 0;
                }
            }
        }
        stats.low_offset = off;
        if f(off, line, e).is_break() {
            broke = true;
            break;
        }
    }
    stats.bad += rev.overlong;
    Ok((stats, broke))
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
        fsio::read_exact_at(self.file(), &mut b, len - 1).map_err(|e| Error::io(self.path(), e))?;
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
        pool.append(
            &[entry("old-long", now - 5 * 86_400, Some(7 * 86_400))],
            now - 5 * 86_400,
        )
        .unwrap();
        let filler: Vec<_> = (0..500)
            .map(|i| entry(&format!("f{i}"), now - 3 * 86_400 + i, None))
            .collect();
        pool.append(&filler, now - 3 * 86_400 + 500).unwrap();
        pool.append(&[entry("new", now - 60, None)], now - 60)
            .unwrap();
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

    /// A pool whose long-TTL index lists a handoff and, after it, 50 plain
    /// claims (`c0`..`c49`), all days old; `now` is 1,000,000.
    fn handoff_behind_claims(tmp: &tempfile::TempDir) -> (Pool, i64) {
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 1_000_000;
        let long = Some(7 * 86_400);
        let mut handoff = entry("handoff", now - 5 * 86_400, long);
        handoff.action = "claimed".into();
        handoff.to = "A".into();
        let mut claims: Vec<_> = (0..50)
            .map(|i| {
                let mut c = entry(&format!("c{i}"), now - 4 * 86_400 + i, long);
                c.action = "claimed".into();
                c
            })
            .collect();
        claims.insert(0, handoff);
        pool.append(&claims, now - 4 * 86_400 + 50).unwrap();
        (pool, now)
    }

    #[test]
    fn a_reader_past_its_cap_skips_the_index_claims() {
        let tmp = tempfile::tempdir().unwrap();
        let (pool, now) = handoff_behind_claims(&tmp);
        pool.append(&[entry("new", now - 60, None)], now - 60)
            .unwrap();
        let idx = std::fs::read_to_string(pool.long_index_path()).unwrap();
        assert!(idx.lines().any(|l| l.ends_with(" c0 c")), "{idx}");
        assert!(idx.lines().any(|l| l.ends_with(" handoff n")), "{idx}");
        // Capped at the first entry: of the index, only the handoff.
        let mut ids = Vec::new();
        pool.scan_shown(now, DEFAULT_TTL, |e| {
            ids.push(e.id.to_string());
            if ids.len() == 1 {
                Walk::SkipToIndexOmitClaims
            } else {
                Walk::Continue
            }
        })
        .unwrap();
        assert_eq!(ids, ["new", "handoff"]);
        // A reader that skips to the index for the claims gets them all.
        let mut n = 0;
        pool.scan_shown(now, DEFAULT_TTL, |_| {
            n += 1;
            if n == 1 {
                Walk::SkipToIndex
            } else {
                Walk::Continue
            }
        })
        .unwrap();
        assert_eq!(n, 52);
    }

    /// Issue 24: a reader that reaches its cap among the index's own entries
    /// (the newest hour was quiet, the claims are hours old) reads no more
    /// claims from there on, and still gets the handoff behind them.
    #[test]
    fn a_reader_capped_inside_the_index_skips_the_claims_after() {
        let tmp = tempfile::tempdir().unwrap();
        let (pool, now) = handoff_behind_claims(&tmp);
        // An all-digit id is no sign of a fifth field: still a plain claim.
        let mut digits = entry("12345", now - 4 * 86_400 + 60, Some(7 * 86_400));
        digits.action = "claimed".into();
        pool.append(&[digits], now - 4 * 86_400 + 60).unwrap();
        let mut ids = Vec::new();
        pool.scan_shown(now, DEFAULT_TTL, |e| {
            ids.push(e.id.to_string());
            if ids.len() == 3 {
                Walk::SkipToIndexOmitClaims
            } else {
                Walk::Continue
            }
        })
        .unwrap();
        assert_eq!(ids, ["12345", "c49", "c48", "handoff"]);
    }

    /// Issue 24: the index marks every line that is no plain claim, and
    /// says so in its header, so a capped reader finds them by the mark. An
    /// index from before the marks is read line by line with the same
    /// result, counts as stale, and the next rewrite marks it.
    #[test]
    fn the_index_marks_its_other_lines_and_an_unmarked_one_is_rebuilt() {
        let tmp = tempfile::tempdir().unwrap();
        let (pool, now) = handoff_behind_claims(&tmp);
        let ino = fsio::file_key(&std::fs::File::open(pool.log_path()).unwrap())
            .unwrap()
            .ino;
        let capped = |pool: &Pool| {
            let mut ids = Vec::new();
            pool.scan_shown(now, DEFAULT_TTL, |e| {
                ids.push(e.id.to_string());
                if ids.len() == 2 {
                    Walk::SkipToIndexOmitClaims
                } else {
                    Walk::Continue
                }
            })
            .unwrap();
            ids
        };
        let idx = std::fs::read_to_string(pool.long_index_path()).unwrap();
        assert!(idx.starts_with(&format!("#log {ino} n\n")), "{idx}");
        assert!(marks_every_line(idx.as_bytes()));
        assert!(pool.index_is_current());
        assert_eq!(capped(&pool), ["c49", "c48", "handoff"]);
        // The same index as an older writer left it: no marks.
        let old = idx
            .replace(&format!("#log {ino} n\n"), &format!("#log {ino}\n"))
            .replace(" n\n", "\n");
        assert!(!old.contains(" n\n"), "{old}");
        std::fs::write(pool.long_index_path(), &old).unwrap();
        assert!(!marks_every_line(old.as_bytes()));
        assert!(!pool.index_is_current(), "an unmarked index is stale");
        assert_eq!(capped(&pool), ["c49", "c48", "handoff"]);
        let report = pool.archive(30 * 86_400, DEFAULT_TTL, now).unwrap();
        assert!(report.reindexed);
        assert!(pool.index_is_current());
        let idx = std::fs::read_to_string(pool.long_index_path()).unwrap();
        assert!(idx.starts_with(&format!("#log {ino} n\n")), "{idx}");
        assert!(idx.lines().any(|l| l.ends_with(" handoff n")), "{idx}");
        assert_eq!(capped(&pool), ["c49", "c48", "handoff"]);
    }

    /// A capped reader whose index is missing (a log another program
    /// wrote) reads on to the horizon instead: the handoff behind the
    /// claims is still found.
    #[test]
    fn a_capped_reader_without_an_index_reads_the_log_on() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 1_000_000;
        let mut handoff = entry("handoff", now - 600, Some(7 * 86_400));
        handoff.to = "A".into();
        let mut all = vec![handoff];
        all.extend((0..50).map(|i| entry(&format!("e{i}"), now - 500 + i, None)));
        pool.append(&all, now - 400).unwrap();
        std::fs::remove_file(pool.long_index_path()).unwrap();
        let mut ids = Vec::new();
        pool.scan_shown(now, DEFAULT_TTL, |e| {
            ids.push(e.id.to_string());
            if ids.len() >= 2 {
                Walk::SkipToIndexOmitClaims
            } else {
                Walk::Continue
            }
        })
        .unwrap();
        assert_eq!(ids.len(), 51, "{ids:?}");
        assert_eq!(ids.last().map(String::as_str), Some("handoff"));
    }

    #[test]
    fn a_capped_reader_keeps_a_copy_of_the_marked_lines_and_reads_on_from_it() {
        let tmp = tempfile::tempdir().unwrap();
        let (pool, now) = handoff_behind_claims(&tmp);
        pool.append(&[entry("new", now - 60, None)], now - 60)
            .unwrap();
        let capped = |pool: &Pool| {
            let mut ids = Vec::new();
            pool.scan_shown(now, DEFAULT_TTL, |e| {
                ids.push(e.id.to_string());
                if ids.len() == 1 {
                    Walk::SkipToIndexOmitClaims
                } else {
                    Walk::Continue
                }
            })
            .unwrap();
            ids
        };
        assert_eq!(capped(&pool), ["new", "handoff"]);
        // The copy holds the handoff's line and none of the 50 claims'.
        let copy_path = pool.dir.join(paths::INDEX_OTHERS_CACHE);
        let copy = std::fs::read_to_string(&copy_path).unwrap();
        let (head, body) = copy.split_once('\n').unwrap();
        assert!(head.starts_with(OTHERS_COPY_HEADER), "{copy}");
        assert_eq!(body.lines().count(), 1, "{copy}");
        assert!(body.ends_with(" handoff n\n"), "{copy}");
        // A handoff indexed after the copy was made is found with the one
        // in it.
        let mut later = entry("later", now - 3 * 86_400, Some(7 * 86_400));
        later.to = "A".into();
        pool.append(&[later], now - 50).unwrap();
        pool.append(&[entry("new2", now - 40, None)], now - 40)
            .unwrap();
        assert_eq!(capped(&pool), ["new2", "later", "handoff"]);
        // What the reader took from the copy: a copy that matches the index
        // but lists nothing hides the old handoff...
        std::fs::write(&copy_path, format!("{head}\n")).unwrap();
        assert_eq!(capped(&pool), ["new2", "later"]);
        // ...and one naming another inode, or another last line, is not
        // trusted: the index is read whole and the copy made anew.
        let ino = fsio::file_key(&File::open(pool.long_index_path()).unwrap())
            .unwrap()
            .ino;
        let other_ino = head.replacen(&ino.to_string(), &(ino + 1).to_string(), 1);
        std::fs::write(&copy_path, format!("{other_ino}\n")).unwrap();
        assert_eq!(capped(&pool), ["new2", "later", "handoff"]);
        let copy = std::fs::read_to_string(&copy_path).unwrap();
        assert!(
            copy.contains(" later n\n") && copy.contains(" handoff n\n"),
            "{copy}"
        );
        let (head, _) = copy.split_once('\n').unwrap();
        let other_last = format!("{}x", head.trim_end());
        std::fs::write(&copy_path, format!("{other_last}\n")).unwrap();
        assert_eq!(capped(&pool), ["new2", "later", "handoff"]);
    }

    #[test]
    fn plain_claim_lines_are_told_from_four_field_lines() {
        assert!(is_plain_claim(b"10 20 30 7df19055-f29c c"));
        assert!(is_plain_claim(b"10 20 30 12345 c\n"));
        // A four-field line whose id is `c`: not a plain claim.
        assert!(!is_plain_claim(b"10 20 30 c"));
        assert!(!is_plain_claim(b"10 20 30 abc"));
        assert!(!is_plain_claim(b" c"));
        assert!(!is_plain_claim(b"c"));
    }

    #[test]
    fn an_old_entry_received_late_does_not_end_the_scan() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 1_000_000;
        pool.append(&[entry("before", now - 100, None)], now - 100)
            .unwrap();
        let mut pulled = entry("pulled", now - 5 * 86_400, Some(30 * 86_400));
        pulled.received = Some(now - 50);
        pool.append(&[pulled], now - 50).unwrap();
        pool.append(&[entry("after", now - 10, None)], now - 10)
            .unwrap();
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
        pool.append(&[entry("a", 10, None)], 10).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(pool.log_path())
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"id\":\"torn"))
            .unwrap();
        pool.append(&[entry("b", 11, None)], 11).unwrap();
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
            let _ = walk_back(std::io::Cursor::new(&bytes), bytes.len() as u64, (0, 0), Some(0), &mut |_, _, _| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
            let mut r = RevLines::new(std::io::Cursor::new(&bytes), bytes.len() as u64);
            while r.next_line().unwrap().is_some() {}
        }

        #[test]
        fn entries_round_trip(id in "[a-f0-9][a-f0-9-]{0,35}", ts in 0i64..4_000_000_000, inst in "[A-Za-z0-9][A-Za-z0-9._-]{0,19}", topic in "\\PC{0,80}", summary in "\\PC{0,200}", ttl in proptest::option::of(0u64..1_000_000)) {
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
