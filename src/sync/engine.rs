//! One pass of `pool sync`, against any [`Remote`] stream: push this
//! machine's entries, pull the others', remember how far each got.
//!
//! **Push.** Entries written here (those without `received`) after the byte
//! offset in `sync.json` go to the stream in batches; the offset moves only
//! after the server acknowledged a batch. The server adds an entry only if
//! its id is new (see [`Remote::add`]), so a batch sent twice (a crash
//! before the offset was saved, a log rewritten by `pool gc`, a lost
//! `sync.json`) adds nothing twice.
//!
//! **Pull.** Messages after the stream-id cursor are appended under the lock
//! local writers take, each stamped with `received` (local time, so readers'
//! backwards scans stay correct, see [`Entry::order_time`]) and only if its
//! id is not in the log. Ids are checked against `sync.seen`, the ids of the
//! log up to a mark, after indexing the lines past the mark under the same
//! lock: whatever was appended before a crash is found there, so a message
//! read again is not appended again. Only then is the cursor saved
//! (atomically, with the mark). Entries older than [`MAX_TTL`] are expired
//! for every reader and are not appended.
//!
//! **Gaps.** A machine away longer than the stream keeps entries finds its
//! cursor before the stream's first entry; with the stream's `entries-added`
//! counter and the count at the cursor it says how many it missed.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{Gap, LogMark, SEEN_FILE, StreamId, SyncState, load_state, save_state};
use crate::error::{Error, Result};
use crate::store::entry::{Entry, trim_line};
use crate::store::fsio;
use crate::store::log::{MAX_TTL, Pool};

/// Bytes of log read at a time (larger than [`fsio::MAX_LINE`]).
const CHUNK: usize = 4 * 1024 * 1024;
/// How long an id stays in `sync.seen`, in seconds: [`MAX_TTL`] plus a week
/// of clock skew between machines. An older entry arriving again is expired
/// by then and not appended.
pub const SEEN_KEEP: i64 = MAX_TTL as i64 + 7 * 86_400;

/// One stream message: its id and the entry's JSON line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Server-assigned id.
    pub sid: StreamId,
    /// The entry, one JSON object.
    pub payload: Vec<u8>,
}

/// What `XINFO STREAM` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamInfo {
    /// Entries in the stream now.
    pub length: u64,
    /// Id of the oldest entry still there.
    pub first: Option<StreamId>,
    /// The newest id ever given out.
    pub last_generated: StreamId,
    /// Entries ever added (Redis ≥ 7.0, Valkey); `None` when the server does not say.
    pub entries_added: Option<u64>,
}

/// A shared stream of entries.
pub trait Remote {
    /// Adds each `(id, line)` whose id the server has not been given before
    /// (atomically per batch), trimming the stream to about `maxlen`.
    /// Returns how many were new. Fails when the server does not answer
    /// within the timeout.
    fn add(&mut self, batch: &[(String, String)]) -> Result<u64>;
    /// Up to `count` messages after `after`, oldest first; with `block`,
    /// waits that long for the first one.
    fn read(
        &mut self,
        after: StreamId,
        count: usize,
        block: Option<Duration>,
    ) -> Result<Vec<Message>>;
    /// The stream's counters; `None` when the stream does not exist yet.
    fn info(&mut self) -> Result<Option<StreamInfo>>;
}

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Entries sent to the stream.
    pub sent: u64,
    /// Of those, new to the stream.
    pub pushed: u64,
    /// Messages read from the stream.
    pub read: u64,
    /// Entries appended to the local log.
    pub pulled: u64,
    /// Messages that were not entries.
    pub bad: u64,
    /// Entries skipped because they expired for every reader.
    pub expired: u64,
    /// A retention gap found in this pass.
    pub gap: Option<Gap>,
    /// The stream was newer than the cursor allows (recreated): read from its start.
    pub stream_reset: bool,
    /// The deadline stopped the pass before it was done.
    pub more: bool,
}

/// The sync of one pool folder: its state, and the ids its log holds.
pub struct Syncer {
    pool: Pool,
    state: SyncState,
    batch: usize,
    seen: Option<HashSet<String>>,
}

#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(default, borrow)]
    id: Cow<'a, str>,
}

impl Syncer {
    /// Loads the state of `pool`'s sync; cursors that belong to another
    /// server or stream than `target` start over. Fails when `sync.json`
    /// cannot be read or written.
    pub fn open(pool: Pool, target: &str, batch: usize) -> Result<Syncer> {
        let mut state = load_state(pool.dir())?;
        if state.target != target {
            state = SyncState {
                target: target.to_string(),
                seen: state.seen,
                ..SyncState::default()
            };
            save_state(pool.dir(), &state)?;
        }
        Ok(Syncer {
            pool,
            state,
            batch: batch.max(1),
            seen: None,
        })
    }

    /// The state as last saved.
    pub fn state(&self) -> &SyncState {
        &self.state
    }

    /// Records the outcome of a pass in `sync.json`: `Ok` clears the last
    /// error, `Err` keeps the cursors and notes the message.
    pub fn record(&mut self, now: i64, outcome: std::result::Result<(), String>) -> Result<()> {
        self.state.last_attempt = Some(now);
        match outcome {
            Ok(()) => {
                self.state.last_ok = Some(now);
                self.state.last_error = None;
            }
            Err(e) => {
                self.state.last_error = Some(e);
                // Ids may have been taken in memory for entries never written.
                self.seen = None;
            }
        }
        save_state(self.pool.dir(), &self.state)
    }

    /// Pushes, then pulls (the first read waiting up to `block`), until both
    /// are caught up or `deadline` passes. Progress is saved batch by batch,
    /// so a failure midway loses nothing and repeats nothing.
    pub fn pass(
        &mut self,
        remote: &mut dyn Remote,
        block: Option<Duration>,
        deadline: Option<Instant>,
        now: i64,
    ) -> Result<Report> {
        let mut report = Report::default();
        self.push(remote, deadline, &mut report)?;
        if !report.more {
            self.pull(remote, block, deadline, now, &mut report)?;
        }
        Ok(report)
    }

    fn save(&self) -> Result<()> {
        save_state(self.pool.dir(), &self.state)
    }

    fn push(
        &mut self,
        remote: &mut dyn Remote,
        deadline: Option<Instant>,
        report: &mut Report,
    ) -> Result<()> {
        let path = self.pool.log_path();
        let Some(file) = self.pool.open_log()? else {
            return Ok(());
        };
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        let (ino, len) = (meta.ino(), meta.len());
        let start = if self.state.push.ino == ino && self.state.push.offset <= len {
            self.state.push.offset
        } else {
            0
        };
        let mut batch: Vec<(String, String)> = Vec::new();
        let mut pushed_to = start;
        let mut send = |this: &mut Syncer,
                        batch: &mut Vec<(String, String)>,
                        upto: u64,
                        report: &mut Report|
         -> Result<bool> {
            if !batch.is_empty() {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    report.more = true;
                    return Ok(false);
                }
                let added = remote.add(batch)?;
                report.sent += batch.len() as u64;
                report.pushed += added;
                this.state.pushed += added;
                batch.clear();
            }
            this.state.push = LogMark { ino, offset: upto };
            this.save()?;
            Ok(true)
        };
        let mut off = start;
        for_each_line(&file, start, len, |line, end| {
            off = end;
            if let Some(e) = Entry::parse(line)
                && e.received.is_none()
                && !e.id.is_empty()
            {
                let text = String::from_utf8_lossy(trim_line(line)).into_owned();
                batch.push((e.id.into_owned(), text));
            }
            if batch.len() >= self.batch {
                if !send(self, &mut batch, end, report)? {
                    return Ok(false);
                }
                pushed_to = end;
            }
            Ok(true)
        })
        .map_err(|e| with_path(e, &path))?;
        if !report.more && off != pushed_to {
            send(self, &mut batch, off, report)?;
        }
        Ok(())
    }

    fn pull(
        &mut self,
        remote: &mut dyn Remote,
        block: Option<Duration>,
        deadline: Option<Instant>,
        now: i64,
        report: &mut Report,
    ) -> Result<()> {
        let Some(info) = remote.info()? else {
            return Ok(());
        };
        let mut cursor = self.state.cursor.as_deref().and_then(StreamId::parse);
        if cursor.is_some_and(|c| c > info.last_generated) {
            // The stream was deleted and made again: its ids start over.
            cursor = None;
            self.state.added_at_cursor = None;
            report.stream_reset = true;
        }
        // Entries ever added up to the cursor, counted on as messages arrive.
        let mut added = match cursor {
            // Nothing trimmed yet: the start of the stream is entry 0.
            None => (info.entries_added == Some(info.length)).then_some(0),
            Some(c) if info.length > 0 && info.first.is_some_and(|f| f > c) => {
                match (info.entries_added, self.state.added_at_cursor) {
                    (Some(total), Some(at)) => {
                        let missed = total.saturating_sub(at).saturating_sub(info.length);
                        if missed > 0 {
                            let gap = Gap {
                                missed: Some(missed),
                                detected: now,
                            };
                            self.state.gap = Some(gap.clone());
                            report.gap = Some(gap);
                        }
                        Some(at + missed)
                    }
                    _ => None,
                }
            }
            Some(_) => self.state.added_at_cursor,
        };
        let mut past_anchor = 0u64;
        let mut first = true;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                report.more = true;
                break;
            }
            let wait = if first { block } else { None };
            first = false;
            let msgs = remote.read(cursor.unwrap_or_default(), self.batch, wait)?;
            let Some(last) = msgs.last().map(|m| m.sid) else {
                break;
            };
            report.read += msgs.len() as u64;
            past_anchor += msgs.iter().filter(|m| m.sid > info.last_generated).count() as u64;
            let n = msgs.len() as u64;
            self.apply(msgs, now, report)?;
            cursor = Some(last);
            added = added.map(|a| a + n);
            if last >= info.last_generated
                && let Some(total) = info.entries_added
            {
                added = Some(total + past_anchor);
            }
            self.state.cursor = Some(last.to_string());
            self.state.added_at_cursor = added;
            self.save()?;
        }
        Ok(())
    }

    /// Appends the messages' entries whose ids the log does not hold.
    fn apply(&mut self, msgs: Vec<Message>, now: i64, report: &mut Report) -> Result<()> {
        let mut incoming = Vec::with_capacity(msgs.len());
        for m in &msgs {
            match Entry::parse(&m.payload) {
                Some(e) if !e.id.is_empty() => {
                    if e.timestamp < now.saturating_sub(MAX_TTL as i64) {
                        report.expired += 1;
                        continue;
                    }
                    let mut e = e.into_owned();
                    e.received = Some(now);
                    incoming.push(e);
                }
                _ => report.bad += 1,
            }
        }
        if self.seen.is_none() {
            self.seen = Some(self.load_seen(now)?);
        }
        let Some(seen) = self.seen.as_mut() else {
            return Ok(());
        };
        let mark = self.state.seen;
        let log_path = self.pool.log_path();
        let mut indexed: Vec<String> = Vec::new();
        let mut written = 0u64;
        let (ino, end) = self.pool.append_checked(now, |file, len| {
            let ino = file.metadata().map_err(|e| Error::io(&log_path, e))?.ino();
            let from = if mark.ino == ino && mark.offset <= len {
                mark.offset
            } else {
                0
            };
            for_each_line(file, from, len, |line, _| {
                if let Ok(IdOnly { id }) = serde_json::from_slice::<IdOnly>(trim_line(line))
                    && !id.is_empty()
                    && !seen.contains(id.as_ref())
                {
                    seen.insert(id.to_string());
                    indexed.push(id.into_owned());
                }
                Ok(true)
            })
            .map_err(|e| with_path(e, &log_path))?;
            let mut fresh = Vec::new();
            for e in incoming {
                if seen.insert(e.id.to_string()) {
                    indexed.push(e.id.to_string());
                    fresh.push(e);
                }
            }
            written = fresh.len() as u64;
            Ok(fresh)
        })?;
        report.pulled += written;
        self.state.pulled += written;
        if !indexed.is_empty() {
            let path = self.seen_path();
            let mut lines = String::new();
            for id in &indexed {
                lines.push_str(&format!("{now} {id}\n"));
            }
            let mut f = fsio::open_append(&path)?;
            std::io::Write::write_all(&mut f, lines.as_bytes()).map_err(|e| Error::io(&path, e))?;
        }
        self.state.seen = LogMark { ino, offset: end };
        Ok(())
    }

    fn seen_path(&self) -> PathBuf {
        self.pool.dir().join(SEEN_FILE)
    }

    /// Reads `sync.seen`, dropping ids older than [`SEEN_KEEP`] (the file is
    /// rewritten without them).
    fn load_seen(&self, now: i64) -> Result<HashSet<String>> {
        let path = self.seen_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut ids = HashSet::new();
        let mut kept = String::new();
        let mut dropped = 0u64;
        for line in String::from_utf8_lossy(&bytes).lines() {
            let Some((ts, id)) = line.split_once(' ') else {
                continue;
            };
            let Ok(ts) = ts.parse::<i64>() else {
                continue;
            };
            if ts < now - SEEN_KEEP {
                dropped += 1;
                continue;
            }
            if ids.insert(id.to_string()) {
                kept.push_str(line);
                kept.push('\n');
            } else {
                dropped += 1;
            }
        }
        if dropped > 0 {
            fsio::atomic_write(&path, kept.as_bytes(), 0o600)?;
        }
        Ok(ids)
    }
}

fn with_path(e: std::io::Error, path: &std::path::Path) -> Error {
    Error::io(path, e)
}

/// Hands each complete line of `file` between `from` and `len` to `f` with
/// the offset just past it, until `f` returns `false`. A last line without
/// its newline (a writer mid-append) is left for the next pass; a line longer
/// than [`CHUNK`] is skipped.
fn for_each_line(
    file: &File,
    from: u64,
    len: u64,
    mut f: impl FnMut(&[u8], u64) -> Result<bool>,
) -> std::io::Result<()> {
    let mut off = from;
    let mut skipping = false;
    while off < len {
        let want = CHUNK.min((len - off) as usize);
        let mut buf = vec![0u8; want];
        file.read_exact_at(&mut buf, off)?;
        let Some(last_nl) = memchr::memrchr(b'\n', &buf) else {
            if want == CHUNK {
                skipping = true;
                off += want as u64;
                continue;
            }
            return Ok(());
        };
        let mut pos = 0usize;
        for line in buf[..=last_nl].split_inclusive(|b| *b == b'\n') {
            pos += line.len();
            if skipping {
                skipping = false;
                continue;
            }
            let keep_going = f(line, off + pos as u64).map_err(std::io::Error::other)?;
            if !keep_going {
                return Ok(());
            }
        }
        off += pos as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory stream that trims exactly to `maxlen`.
    #[derive(Default)]
    struct Fake {
        entries: Vec<(StreamId, Vec<u8>)>,
        ids: HashSet<String>,
        added: u64,
        maxlen: usize,
        fail_add_after: Option<usize>,
    }

    impl Remote for Fake {
        fn add(&mut self, batch: &[(String, String)]) -> Result<u64> {
            if let Some(n) = self.fail_add_after.as_mut() {
                if *n == 0 {
                    return Err(Error::Invalid("server went away".into()));
                }
                *n -= 1;
            }
            let mut n = 0;
            for (id, line) in batch {
                if self.ids.insert(id.clone()) {
                    self.added += 1;
                    let sid = StreamId {
                        ms: self.added,
                        seq: 0,
                    };
                    self.entries.push((sid, line.clone().into_bytes()));
                    n += 1;
                }
            }
            if self.maxlen > 0 && self.entries.len() > self.maxlen {
                let cut = self.entries.len() - self.maxlen;
                self.entries.drain(..cut);
            }
            Ok(n)
        }
        fn read(
            &mut self,
            after: StreamId,
            count: usize,
            _: Option<Duration>,
        ) -> Result<Vec<Message>> {
            Ok(self
                .entries
                .iter()
                .filter(|(s, _)| *s > after)
                .take(count)
                .map(|(sid, p)| Message {
                    sid: *sid,
                    payload: p.clone(),
                })
                .collect())
        }
        fn info(&mut self) -> Result<Option<StreamInfo>> {
            Ok((self.added > 0).then(|| StreamInfo {
                length: self.entries.len() as u64,
                first: self.entries.first().map(|e| e.0),
                last_generated: StreamId {
                    ms: self.added,
                    seq: 0,
                },
                entries_added: Some(self.added),
            }))
        }
    }

    const NOW: i64 = 2_000_000_000;

    fn machine(tmp: &tempfile::TempDir, name: &str) -> Syncer {
        let pool = Pool::open(tmp.path().join(name)).unwrap();
        Syncer::open(pool, "redis://x s", 3).unwrap()
    }

    fn post(s: &Syncer, id: &str) {
        s.pool
            .append(
                &[Entry {
                    id: id.to_string().into(),
                    timestamp: NOW - 10,
                    source_instance: "A".into(),
                    topic: format!("t {id}").into(),
                    ..Entry::default()
                }],
                NOW - 10,
            )
            .unwrap();
    }

    fn ids(s: &Syncer) -> Vec<String> {
        let (all, _) = crate::store::log::read_all(&s.pool.log_path()).unwrap();
        let mut v: Vec<String> = all.into_iter().map(|e| e.id.into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn machines_converge_and_nothing_doubles() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake::default();
        let mut a = machine(&tmp, "a");
        let mut b = machine(&tmp, "b");
        for i in 0..7 {
            post(&a, &format!("a{i}"));
        }
        post(&b, "b0");
        let r = a.pass(&mut remote, None, None, NOW).unwrap();
        assert_eq!((r.pushed, r.pulled), (7, 0));
        b.pass(&mut remote, None, None, NOW).unwrap();
        a.pass(&mut remote, None, None, NOW).unwrap();
        b.pass(&mut remote, None, None, NOW).unwrap();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(ids(&a).len(), 8);
        assert_eq!(
            remote.entries.len(),
            8,
            "pulled entries are not pushed back"
        );
        // A lost sync.json: everything is sent and read again, nothing added.
        std::fs::remove_file(b.pool.dir().join(super::super::STATE_FILE)).unwrap();
        let mut b = Syncer::open(b.pool.clone(), "redis://x s", 3).unwrap();
        let r = b.pass(&mut remote, None, None, NOW).unwrap();
        assert_eq!((r.pushed, r.pulled, r.read), (0, 0, 8));
        assert_eq!(ids(&b).len(), 8);
        let (all, _) = crate::store::log::read_all(&b.pool.log_path()).unwrap();
        assert!(
            all.iter()
                .all(|e| e.received.is_some() == e.id.starts_with('a'))
        );
    }

    #[test]
    fn a_failed_batch_is_sent_again_and_counted_once() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake {
            fail_add_after: Some(1),
            ..Fake::default()
        };
        let mut a = machine(&tmp, "a");
        for i in 0..7 {
            post(&a, &format!("a{i}"));
        }
        assert!(a.pass(&mut remote, None, None, NOW).is_err());
        assert_eq!(remote.entries.len(), 3);
        remote.fail_add_after = None;
        let r = a.pass(&mut remote, None, None, NOW).unwrap();
        assert_eq!(r.pushed, 4);
        assert_eq!(remote.entries.len(), 7);
    }

    #[test]
    fn a_machine_away_too_long_counts_what_it_missed() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake {
            maxlen: 5,
            ..Fake::default()
        };
        let mut a = machine(&tmp, "a");
        let mut b = machine(&tmp, "b");
        post(&a, "first");
        a.pass(&mut remote, None, None, NOW).unwrap();
        b.pass(&mut remote, None, None, NOW).unwrap();
        assert_eq!(b.state().added_at_cursor, Some(1));
        for i in 0..12 {
            post(&a, &format!("a{i}"));
        }
        a.pass(&mut remote, None, None, NOW).unwrap();
        let r = b.pass(&mut remote, None, None, NOW).unwrap();
        assert_eq!(r.gap.as_ref().and_then(|g| g.missed), Some(7));
        assert_eq!(r.pulled, 5);
        assert_eq!(b.state().added_at_cursor, Some(13));
        let r = b.pass(&mut remote, None, None, NOW).unwrap();
        assert_eq!(r.gap, None);
    }

    #[test]
    fn expired_and_bad_messages_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake::default();
        let old = Entry {
            id: "old".into(),
            timestamp: NOW - MAX_TTL as i64 - 1,
            ..Entry::default()
        };
        remote
            .add(&[
                ("old".into(), old.to_line().trim().to_string()),
                ("bad".into(), "not json".into()),
            ])
            .unwrap();
        let mut b = machine(&tmp, "b");
        let r = b.pass(&mut remote, None, None, NOW).unwrap();
        assert_eq!((r.pulled, r.expired, r.bad), (0, 1, 1));
    }
}
