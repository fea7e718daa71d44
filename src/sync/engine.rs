//! One pass of `pool sync`, against any [`Remote`] stream: pull the other
//! machines' entries, then push this machine's, remember how far each got,
//! and never lose anything without saying so.
//!
//! **Pull first.** Each batch is read atomically with the stream's counters
//! ([`Remote::read`]), so every batch is checked for what the stream lost:
//!
//! - *Gaps.* Stream entries are numbered by the stream's `entries-added`
//!   counter. This machine knows the number at its cursor; when the first
//!   entry still in the stream is past the next number, the entries between
//!   were trimmed before it read them: a gap, counted exactly, reported in
//!   `pool sync`, `pool doctor` and at session start. This holds for a trim
//!   in the middle of a pull and for a machine with no cursor yet (it starts
//!   at number 0). This machine's own entries are not counted: each push
//!   records the numbers its entries got ([`SyncState::own`]). Pulling before
//!   pushing means a machine's own push never trims what it had yet to read.
//! - *Resets.* A stream that is gone (deleted, evicted, a restart without
//!   persistence), was made again (its epoch token changed), whose counter
//!   went back, or whose entries vanished without a trim, was reset. This
//!   machine then reads the new stream from its start and re-seeds it with
//!   everything it holds that is still within [`MAX_TTL`], received entries
//!   included: ids are unique per stream incarnation on the server, so
//!   several survivors re-seeding adds each entry once. Until that push is
//!   done the reset is shown in doctor and at session start.
//!
//! **Incoming entries are checked like local ones**: oversized messages are
//! refused (the server sends only their size), ids, instance names and
//! timestamps are validated (far-future stamps refused, slightly-ahead ones
//! capped at the receive time), fields are capped as local writes cap them.
//! Only entries still live by their own TTL (else `POOL_TTL`) are pushed
//! and accepted, their age read on this machine's clock through both
//! machines' skew against the server. Accepted entries are appended under
//! the lock local writers take, stamped with `received` (when they were
//! written, on this machine's clock: readers expire them by it, so an old
//! entry arriving late is not fresh) and `via` (the stream they came from:
//! what readers show and what limits their authority, see
//! [`Entry::source`]; the sender's own `received` and `via` are dropped),
//! and only if their id is not in the log. A claim keeps at most
//! [`MAX_REMOTE_CLAIM`] of its `ttl`. Ids are checked against `sync.seen`,
//! the ids of the log up to a mark, after indexing the lines past the mark
//! under the same lock: whatever was appended before a crash is found there,
//! so a message read again is not appended again. Only then is the cursor
//! saved (atomically, with the mark).
//!
//! **Push.** Entries written here (those without `received`) after the byte
//! offset in `sync.json` that are still live go to the stream in batches, each with this
//! machine's clock skew against the server's `TIME`; the offset moves only
//! after the server acknowledged a batch. The server adds an entry only if
//! its id is new (see [`Remote::add`]), so a batch sent twice adds nothing
//! twice.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{
    Gap, LogMark, PeerSkew, Refusal, Reset, SEEN_FILE, STATE_FILE, Skew, StreamId, SyncState,
    load_state_file, save_state_file,
};
use crate::error::{Error, Result};
use crate::store::entry::{
    Entry, MAX_SHORT, MAX_SUMMARY, MAX_TOPIC, normalize_action, trim_line, truncate_chars,
};
use crate::store::fsio;
use crate::store::log::{DEFAULT_TTL, MAX_TTL, Pool};
use crate::store::paths::validate_instance;

/// Bytes of log read at a time (larger than [`fsio::MAX_LINE`]).
const CHUNK: usize = 4 * 1024 * 1024;
/// How long an id stays in `sync.seen`, in seconds: [`MAX_TTL`] plus a week
/// of clock skew between machines. An older entry arriving again is expired
/// by then and not appended.
pub const SEEN_KEEP: i64 = MAX_TTL as i64 + 7 * 86_400;
/// Largest message accepted from the stream, in bytes; a local entry with
/// every field at its cap fits well within it. Larger ones are refused and
/// never cross the network.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Longest entry id accepted from the stream, in bytes.
pub const MAX_ID: usize = 128;
/// How far ahead of this machine's clock an incoming timestamp may be
/// before it is capped at the receive time, in seconds.
pub const FUTURE_SLACK: i64 = 60;
/// How far ahead an incoming timestamp may be at all, in seconds; further
/// is refused.
pub const MAX_FUTURE: i64 = 86_400;
/// Clock skew against the server worth a warning, in seconds.
pub const SKEW_WARN: i64 = 60;
/// How often a pass reads the server's persistence and eviction settings, in seconds.
pub const FACTS_EVERY: i64 = 600;
/// Longest lifetime a claim from another machine keeps here, in seconds
/// (10 hours: a working day). A longer `ttl` is cut to it on arrival, so
/// nobody elsewhere can hold this machine's files for days.
pub const MAX_REMOTE_CLAIM: u64 = 10 * 3600;
/// Most ranges of own stream numbers remembered (older ones are dropped:
/// at worst, own trimmed entries are then counted in a gap).
const MAX_OWN_RANGES: usize = 1000;

/// One entry to push: its id, its JSON line and the writer's clock skew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The entry's id.
    pub id: String,
    /// The entry, one JSON object.
    pub line: String,
    /// The writing machine's clock minus the server's, in seconds (0: unknown).
    pub skew: i64,
}

/// What the server said to a pushed batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Added {
    /// Entries new to the stream.
    pub added: u64,
    /// The stream's `entries-added` after the batch: the new entries are the
    /// last `added` numbers up to it.
    pub total: Option<u64>,
    /// The stream's epoch token.
    pub epoch: Option<String>,
}

/// One stream message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Server-assigned id.
    pub sid: StreamId,
    /// The entry, one JSON object (empty when oversized).
    pub payload: Vec<u8>,
    /// The message's size when it was over the cap (and not sent).
    pub oversize: Option<u64>,
    /// The writer's clock skew, when it said.
    pub skew: Option<i64>,
}

/// The stream's counters, read with a batch.
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
    /// Token of this incarnation of the stream (see `sync::redis`).
    pub epoch: Option<String>,
}

/// One atomic read: the server's clock, the stream's counters and messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The server's `TIME`, in milliseconds.
    pub server_ms: i64,
    /// `None`: the stream does not exist.
    pub info: Option<StreamInfo>,
    /// Messages after the cursor, oldest first.
    pub msgs: Vec<Message>,
}

/// What the server says about keeping data, for `pool doctor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerFacts {
    /// Server version.
    pub version: Option<String>,
    /// Whether the append-only file is on.
    pub aof: Option<bool>,
    /// The RDB `save` setting (`None`: not readable by this user).
    pub save: Option<String>,
    /// `maxmemory-policy`.
    pub policy: Option<String>,
    /// When this was read, epoch seconds.
    pub checked: i64,
}

impl ServerFacts {
    /// What is unsafe about these settings, one phrase each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = &self.policy
            && p.starts_with("allkeys-")
        {
            out.push(format!(
                "maxmemory-policy is {p}: the server may evict the stream (set noeviction)"
            ));
        }
        let rdb = self.save.as_deref().map(|s| !s.trim().is_empty());
        match (self.aof, rdb) {
            (Some(false), Some(false)) => out.push(
                "no persistence (appendonly no, save \"\"): a restart loses the stream \
                 (set appendonly yes)"
                    .into(),
            ),
            (Some(false), _) => out.push(
                "appendonly is off: a crash loses what came after the last snapshot \
                 (set appendonly yes)"
                    .into(),
            ),
            _ => {}
        }
        out
    }
}

/// A shared stream of entries.
pub trait Remote {
    /// Every later command fails once `deadline` has passed.
    fn set_deadline(&mut self, deadline: Option<Instant>);
    /// Adds each entry whose id this incarnation of the stream has not been
    /// given before (atomically per batch), trimming the stream to about
    /// `maxlen`. Fails when the server does not answer in time.
    fn add(&mut self, batch: &[Outgoing]) -> Result<Added>;
    /// Atomically: the server's clock, the stream's counters and up to
    /// `count` messages after `after` (`None`: from the start), those over
    /// `cap` bytes as their size only.
    fn read(&mut self, after: Option<StreamId>, count: usize, cap: usize) -> Result<Batch>;
    /// Waits up to `block` for a message after `after`; its id, if one came.
    fn wait(&mut self, after: Option<StreamId>, block: Duration) -> Result<Option<StreamId>>;
    /// The server's persistence and eviction settings.
    fn facts(&mut self) -> Result<ServerFacts>;
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
    /// Messages refused by validation (size, id, name, timestamp).
    pub refused: u64,
    /// Entries stamped ahead of this machine's clock, capped at the receive time.
    pub capped: u64,
    /// A retention gap found in this pass.
    pub gap: Option<Gap>,
    /// Why the stream was found reset, when it was.
    pub reset: Option<String>,
    /// Entries sent again to re-seed a reset stream (when the re-seed finished).
    pub reseeded: Option<u64>,
    /// The deadline stopped the pass before it was done.
    pub more: bool,
}

/// The sync of one pool folder: its state, and the ids its log holds.
pub struct Syncer {
    pool: Pool,
    /// What received entries are stamped with ([`Entry::via`]): the
    /// stream they were read from.
    source: String,
    /// The file in the pool folder its state is saved in.
    state_file: String,
    state: SyncState,
    batch: usize,
    seen: Option<HashSet<String>>,
    default_ttl: u64,
}

#[derive(Deserialize)]
struct IdOnly<'a> {
    #[serde(default, borrow)]
    id: Cow<'a, str>,
}

/// Why an incoming entry is refused, if it is.
fn refuse_reason(e: &Entry<'_>, now: i64) -> Option<String> {
    if e.id.is_empty()
        || e.id.len() > MAX_ID
        || !e.id.bytes().all(|b| b.is_ascii_graphic() && b != b'"')
    {
        return Some(format!(
            "an id that is empty, longer than {MAX_ID} bytes or not printable ASCII"
        ));
    }
    if let Err(why) = validate_instance(&e.source_instance) {
        return Some(format!("entry {}: source {why}", e.id));
    }
    if !e.to.is_empty()
        && let Err(why) = validate_instance(&e.to)
    {
        return Some(format!("entry {}: addressee {why}", e.id));
    }
    if e.timestamp > now.saturating_add(MAX_FUTURE) {
        return Some(format!(
            "entry {} stamped {} ahead of this machine's clock",
            e.id,
            crate::store::entry::format_age(e.timestamp - now)
        ));
    }
    None
}

/// An incoming entry with its fields capped as local writes cap them.
fn capped(e: Entry<'_>) -> Entry<'static> {
    let t = |s: Cow<'_, str>, max: usize| -> Cow<'static, str> {
        Cow::Owned(truncate_chars(&s, max).into_owned())
    };
    Entry {
        id: t(e.id, MAX_ID),
        timestamp: e.timestamp,
        source_instance: t(e.source_instance, 64),
        session_id: t(e.session_id, MAX_SHORT),
        action: Cow::Borrowed(normalize_action(&e.action).0),
        topic: t(e.topic, MAX_TOPIC),
        summary: t(e.summary, MAX_SUMMARY),
        affects: t(e.affects, MAX_SHORT),
        blocks: t(e.blocks, MAX_SHORT),
        ttl: e.ttl.map(|x| x.min(MAX_TTL)),
        cwd: t(e.cwd, MAX_SHORT),
        host: t(e.host, 256),
        to: t(e.to, 64),
        reference: t(e.reference, MAX_ID),
        priority: t(e.priority, 32),
        origin: t(e.origin, 32),
        // Stamped by the receiver (`Syncer::apply`), never the sender's.
        received: None,
        via: Cow::Borrowed(""),
        // The repository it was written in: what scopes it on this machine.
        repo: t(e.repo, MAX_SHORT),
        // The writer's append stamp is about its log, not ours.
        local: None,
        seen: None,
    }
}

/// How many of the stream numbers `from..=to` are not in `own`.
fn others_in(from: u64, to: u64, own: &[[u64; 2]]) -> u64 {
    if to < from {
        return 0;
    }
    let mut n = to - from + 1;
    for [a, b] in own {
        let (lo, hi) = ((*a).max(from), (*b).min(to));
        if lo <= hi {
            n -= hi - lo + 1;
        }
    }
    n
}

impl Syncer {
    /// Loads the state of `pool`'s sync; cursors that belong to another
    /// server or stream than `target` start over. Fails when `sync.json`
    /// cannot be read or written.
    pub fn open(pool: Pool, target: &str, batch: usize) -> Result<Syncer> {
        Syncer::open_file(pool, target, batch, STATE_FILE.to_string())
    }

    /// Like [`Syncer::open`] for another writer's stream (`target` names
    /// it), which this machine only pulls ([`Syncer::pull_only`]); its state
    /// is in its own file ([`super::peer_state_file`]).
    pub fn open_peer(pool: Pool, target: &str, batch: usize) -> Result<Syncer> {
        let stream = target.rsplit(' ').next().unwrap_or(target);
        Syncer::open_file(pool, target, batch, super::peer_state_file(stream))
    }

    fn open_file(pool: Pool, target: &str, batch: usize, state_file: String) -> Result<Syncer> {
        let mut state = load_state_file(pool.dir(), &state_file)?;
        if state.target != target {
            state = SyncState {
                target: target.to_string(),
                seen: state.seen,
                ..SyncState::default()
            };
            save_state_file(pool.dir(), &state_file, &state)?;
        }
        // The target is `<server> <stream>` and a stream name has no spaces.
        let source = target.rsplit(' ').next().unwrap_or(target).to_string();
        Ok(Syncer {
            pool,
            source,
            state_file,
            state,
            batch: batch.max(1),
            seen: None,
            default_ttl: DEFAULT_TTL,
        })
    }

    /// Pulls another writer's stream until caught up or `deadline` passes;
    /// never pushes (a reset of that stream is its writer's to re-seed).
    pub fn pull_only(
        &mut self,
        remote: &mut dyn Remote,
        deadline: Option<Instant>,
        now: i64,
    ) -> Result<Report> {
        remote.set_deadline(deadline);
        let mut report = Report::default();
        self.pull(remote, deadline, now, &mut report)?;
        if self.state.reseeding {
            self.state.reseeding = false;
            if let Some(r) = self.state.reset.as_mut() {
                r.repaired = Some(now);
            }
            self.save()?;
        }
        Ok(report)
    }

    /// What this machine stamps on the entries it receives: the stream's name.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The lifetime of entries that name none (this machine's `POOL_TTL`):
    /// what is pushed and what is accepted goes by it.
    pub fn with_default_ttl(mut self, ttl: u64) -> Syncer {
        self.default_ttl = ttl.clamp(1, MAX_TTL);
        self
    }

    /// The state as last saved.
    pub fn state(&self) -> &SyncState {
        &self.state
    }

    /// How far the pull got: the stream id of the last message read.
    pub fn cursor(&self) -> Option<StreamId> {
        self.state.cursor.as_deref().and_then(StreamId::parse)
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
        self.save()
    }

    /// Pulls, then pushes, until both are caught up or `deadline` passes
    /// (every command on `remote` stops at it too). Progress is saved batch
    /// by batch, so a failure midway loses nothing and repeats nothing.
    pub fn pass(
        &mut self,
        remote: &mut dyn Remote,
        deadline: Option<Instant>,
        now: i64,
    ) -> Result<Report> {
        remote.set_deadline(deadline);
        let mut report = Report::default();
        if self
            .state
            .server
            .as_ref()
            .is_none_or(|f| now - f.checked >= FACTS_EVERY || f.checked > now)
        {
            let mut facts = remote.facts()?;
            facts.checked = now;
            self.state.server = Some(facts);
        }
        self.pull(remote, deadline, now, &mut report)?;
        if !report.more {
            self.push(remote, deadline, now, &mut report)?;
        }
        Ok(report)
    }

    fn save(&self) -> Result<()> {
        save_state_file(self.pool.dir(), &self.state_file, &self.state)
    }

    fn has_history(&self) -> bool {
        self.state.cursor.is_some()
            || self.state.epoch.is_some()
            || self.state.max_added.is_some_and(|m| m > 0)
            || self.state.pushed > 0
    }

    /// The stream was reset: read the new one from its start and re-seed it.
    fn reset(&mut self, why: &str, now: i64, report: &mut Report) {
        let detected = match &self.state.reset {
            Some(r) if r.repaired.is_none() => r.detected,
            _ => now,
        };
        self.state.reset = Some(Reset {
            detected,
            why: why.to_string(),
            repaired: None,
        });
        self.state.reseeding = true;
        self.state.push = LogMark::default();
        self.state.cursor = None;
        self.state.added_at_cursor = Some(0);
        self.state.max_added = None;
        self.state.own.clear();
        report.reset = Some(why.to_string());
    }

    fn pull(
        &mut self,
        remote: &mut dyn Remote,
        deadline: Option<Instant>,
        now: i64,
        report: &mut Report,
    ) -> Result<()> {
        let mut resets = 0;
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                report.more = true;
                return Ok(());
            }
            let cursor = self.cursor();
            let b = remote.read(cursor, self.batch, MAX_MESSAGE)?;
            self.state.skew = Some(Skew {
                secs: now - b.server_ms.div_euclid(1000),
                measured: now,
            });
            let Some(info) = b.info else {
                if self.has_history() && resets == 0 {
                    self.reset(
                        "the shared stream is gone from the server (deleted, evicted, \
                         or the server restarted without persistence)",
                        now,
                        report,
                    );
                }
                self.state.epoch = None;
                self.state.max_added = None;
                self.state.added_at_cursor = Some(0);
                self.save()?;
                return Ok(());
            };
            let trimmed = info.entries_added.map(|t| t.saturating_sub(info.length));
            let at = if cursor.is_none() {
                Some(0)
            } else {
                self.state.added_at_cursor
            };
            let past_cursor = match cursor {
                None => true,
                Some(c) => info.first.is_none_or(|f| f > c),
            };
            let why = match (&self.state.epoch, &info.epoch) {
                (Some(mine), Some(theirs)) if mine != theirs => {
                    Some("the shared stream was deleted and made again")
                }
                _ => None,
            }
            .or_else(|| {
                matches!((self.state.max_added, info.entries_added), (Some(m), Some(t)) if t < m)
                    .then_some("the shared stream's entries-added counter went back")
            })
            .or_else(|| {
                cursor
                    .is_some_and(|c| c > info.last_generated)
                    .then_some("the shared stream's ids went back")
            })
            .or_else(|| {
                matches!((trimmed, at), (Some(tr), Some(k)) if past_cursor && cursor.is_some() && tr < k)
                    .then_some("entries after this machine's cursor vanished without being trimmed")
            });
            if let Some(why) = why {
                resets += 1;
                if resets > 1 {
                    return Err(Error::Invalid(format!("{why}, twice in one pass")));
                }
                self.reset(why, now, report);
                self.state.epoch = info.epoch.clone();
                continue;
            }
            if info.epoch.is_some() {
                self.state.epoch = info.epoch.clone();
            }
            if let Some(t) = info.entries_added {
                self.state.max_added = Some(self.state.max_added.unwrap_or(0).max(t));
            }
            let mut k = at;
            if past_cursor && let Some(tr) = trimmed {
                match k {
                    Some(kn) if tr > kn => {
                        // With no cursor, trimmed entries that all expired
                        // before anyone could show them are no loss.
                        let all_expired = cursor.is_none()
                            && info.first.is_some_and(|f| {
                                (f.ms as i64) < b.server_ms - MAX_TTL as i64 * 1000
                            });
                        let missed = others_in(kn + 1, tr, &self.state.own);
                        if missed > 0 && !all_expired {
                            self.note_gap(Some(missed), now, report);
                        }
                        k = Some(tr);
                    }
                    None if cursor.is_some() && tr > 0 => {
                        self.note_gap(None, now, report);
                        k = Some(tr);
                    }
                    _ => {}
                }
            }
            let n = b.msgs.len();
            let Some(last) = b.msgs.last().map(|m| m.sid) else {
                self.state.added_at_cursor = info.entries_added.or(k);
                self.save()?;
                return Ok(());
            };
            report.read += n as u64;
            self.apply(b.msgs, now, report)?;
            k = k.map(|k| k + n as u64);
            if last == info.last_generated {
                k = info.entries_added.or(k);
            }
            self.state.cursor = Some(last.to_string());
            self.state.added_at_cursor = k;
            if let Some(k) = k {
                self.state.own.retain(|[_, hi]| *hi > k);
            }
            self.save()?;
            if n < self.batch {
                return Ok(());
            }
        }
    }

    fn note_gap(&mut self, missed: Option<u64>, now: i64, report: &mut Report) {
        let missed = match (&report.gap, missed) {
            (Some(g), Some(m)) => g.missed.map(|x| x + m),
            (_, m) => m,
        };
        let gap = Gap {
            missed,
            detected: now,
        };
        self.state.gap = Some(gap.clone());
        report.gap = Some(gap);
    }

    fn push(
        &mut self,
        remote: &mut dyn Remote,
        deadline: Option<Instant>,
        now: i64,
        report: &mut Report,
    ) -> Result<()> {
        let path = self.pool.log_path();
        let reseed = self.state.reseeding;
        let skew = self.state.skew.as_ref().map_or(0, |s| s.secs);
        let Some(file) = self.pool.open_log()? else {
            self.finish_reseed(now, report);
            return self.save();
        };
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        let ino = fsio::file_key(&file).map_err(|e| Error::io(&path, e))?.ino;
        let len = meta.len();
        let start = if self.state.push.ino == ino && self.state.push.offset <= len {
            self.state.push.offset
        } else {
            0
        };
        let mut batch: Vec<Outgoing> = Vec::new();
        let mut pushed_to = start;
        let mut send = |this: &mut Syncer,
                        batch: &mut Vec<Outgoing>,
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
                report.pushed += added.added;
                this.state.pushed += added.added;
                // A stream this pass made (it was missing at the pull) is
                // the one the next pull checks against; a different epoch
                // there means it was reset since.
                if this.state.epoch.is_none() {
                    this.state.epoch = added.epoch.clone();
                }
                if let Some(t) = added.total
                    && this.state.epoch == added.epoch
                {
                    this.state.max_added = Some(this.state.max_added.unwrap_or(0).max(t));
                }
                if let (true, Some(total)) = (added.added > 0, added.total) {
                    this.state.own.push([total + 1 - added.added, total]);
                    if this.state.own.len() > MAX_OWN_RANGES {
                        this.state.own.remove(0);
                    }
                }
                batch.clear();
            }
            this.state.push = LogMark { ino, offset: upto };
            this.save()?;
            Ok(true)
        };
        let mut off = start;
        let default_ttl = self.default_ttl;
        for_each_line(&file, start, len, |line, end| {
            off = end;
            // Only what is still live goes out (issue 24): a machine joining
            // with a long history costs the others its live entries only.
            if let Some(e) = Entry::parse(line)
                && !e.id.is_empty()
                && (e.received.is_none()
                    || (reseed
                        // Another writer's entries are theirs to re-seed.
                        && (e.via.is_empty() || e.via == self.source)))
                && e.is_live(now, default_ttl)
            {
                let own = e.received.is_none();
                let text = String::from_utf8_lossy(trim_line(line)).into_owned();
                batch.push(Outgoing {
                    id: e.id.into_owned(),
                    line: text,
                    skew: if own { skew } else { 0 },
                });
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
        if !report.more && reseed {
            self.finish_reseed(now, report);
            self.save()?;
        }
        Ok(())
    }

    fn finish_reseed(&mut self, now: i64, report: &mut Report) {
        if !self.state.reseeding {
            return;
        }
        self.state.reseeding = false;
        if let Some(r) = self.state.reset.as_mut() {
            r.repaired = Some(now);
        }
        report.reseeded = Some(report.sent);
    }

    /// Appends the messages' entries that pass validation and whose ids the
    /// log does not hold.
    fn apply(&mut self, msgs: Vec<Message>, now: i64, report: &mut Report) -> Result<()> {
        let mut incoming = Vec::with_capacity(msgs.len());
        for m in &msgs {
            if let Some(size) = m.oversize {
                self.refuse(
                    format!("a message of {size} bytes (the cap is {MAX_MESSAGE})"),
                    now,
                    report,
                );
                continue;
            }
            let Some(e) = Entry::parse(&m.payload) else {
                // Not JSON, or an id or a name outside what local writes
                // allow (the reader checks those): refused all the same.
                report.bad += 1;
                self.state.last_refusal = Some(Refusal {
                    why: "a message that is not a valid entry (its JSON, id or a name)".into(),
                    at: now,
                });
                continue;
            };
            if let Some(why) = refuse_reason(&e, now) {
                self.refuse(why, now, report);
                continue;
            }
            let written_at = i64::try_from(m.sid.ms / 1000).unwrap_or(i64::MAX);
            let skew = m.skew.or_else(|| {
                // An older writer does not say: a stamp ahead of the server's
                // clock when it was added is at least that much skew.
                (e.timestamp > written_at + SKEW_WARN).then_some(e.timestamp - written_at)
            });
            if let Some(k) = skew.filter(|k| k.abs() >= SKEW_WARN) {
                let who = if e.host.is_empty() {
                    format!("instance {}", e.source_instance)
                } else {
                    e.host.to_string()
                };
                self.state
                    .peer_skew
                    .insert(who, PeerSkew { secs: k, seen: now });
            }
            let mut e = capped(e);
            // Its life runs from when it was written, read on this
            // machine's clock (the writer's and this machine's skew against
            // the server cancel out), never from when it arrived: an old
            // entry pushed late is not shown as fresh (issue 24), and a
            // writer's slow clock does not expire it early (issue 16).
            let here = self.state.skew.as_ref().map_or(0, |s| s.secs);
            let written = match skew {
                Some(k) => e.timestamp.saturating_sub(k).saturating_add(here),
                None => e.timestamp.saturating_add(crate::store::entry::MAX_SKEW),
            };
            if e.timestamp > now + FUTURE_SLACK {
                e.timestamp = now;
                report.capped += 1;
            }
            if e.action == "claimed" {
                e.ttl = e.ttl.map(|t| t.min(MAX_REMOTE_CLAIM));
            }
            e.received = Some(written.min(now));
            e.via = Cow::Owned(self.source.clone());
            if !e.is_live(now, self.default_ttl) {
                report.expired += 1;
                continue;
            }
            incoming.push(e);
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
            let ino = fsio::file_key(file)
                .map_err(|e| Error::io(&log_path, e))?
                .ino;
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

    fn refuse(&mut self, why: String, now: i64, report: &mut Report) {
        report.refused += 1;
        self.state.refused += 1;
        self.state.last_refusal = Some(Refusal { why, at: now });
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
        fsio::read_exact_at(file, &mut buf, off)?;
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

    /// An in-memory stream that trims exactly to `maxlen`, with epochs and
    /// id keys like the Redis scripts.
    #[derive(Default)]
    struct Fake {
        entries: Vec<(StreamId, Vec<u8>)>,
        ids: std::collections::HashMap<String, u64>,
        added: u64,
        last: u64,
        epoch: u64,
        exists: bool,
        maxlen: usize,
        fail_add_after: Option<usize>,
        reads: u32,
        /// Before read number `.0`, trims to `.1` entries (a trim mid-pull).
        trim_at_read: Option<(u32, usize)>,
    }

    impl Fake {
        fn trim(&mut self, keep: usize) {
            if self.entries.len() > keep {
                let cut = self.entries.len() - keep;
                self.entries.drain(..cut);
            }
        }
        fn delete(&mut self) {
            self.entries.clear();
            self.exists = false;
        }
    }

    impl Remote for Fake {
        fn set_deadline(&mut self, _: Option<Instant>) {}
        fn add(&mut self, batch: &[Outgoing]) -> Result<Added> {
            if let Some(n) = self.fail_add_after.as_mut() {
                if *n == 0 {
                    return Err(Error::Invalid("server went away".into()));
                }
                *n -= 1;
            }
            if !self.exists {
                self.exists = true;
                self.epoch += 1;
                self.added = 0;
            }
            let mut n = 0;
            for o in batch {
                if self.ids.get(&o.id) != Some(&self.epoch) {
                    self.ids.insert(o.id.clone(), self.epoch);
                    self.added += 1;
                    self.last += 1;
                    let sid = StreamId {
                        ms: NOW as u64 * 1000 + self.last,
                        seq: 0,
                    };
                    self.entries.push((sid, o.line.clone().into_bytes()));
                    n += 1;
                }
            }
            if self.maxlen > 0 {
                self.trim(self.maxlen);
            }
            Ok(Added {
                added: n,
                total: Some(self.added),
                epoch: Some(self.epoch.to_string()),
            })
        }
        fn read(&mut self, after: Option<StreamId>, count: usize, _: usize) -> Result<Batch> {
            self.reads += 1;
            if let Some((at, keep)) = self.trim_at_read
                && at == self.reads
            {
                self.trim(keep);
            }
            if !self.exists {
                return Ok(Batch {
                    server_ms: NOW * 1000,
                    ..Batch::default()
                });
            }
            let after = after.unwrap_or_default();
            Ok(Batch {
                server_ms: NOW * 1000,
                info: Some(StreamInfo {
                    length: self.entries.len() as u64,
                    first: self.entries.first().map(|e| e.0),
                    last_generated: StreamId {
                        ms: NOW as u64 * 1000 + self.last,
                        seq: 0,
                    },
                    entries_added: Some(self.added),
                    epoch: Some(self.epoch.to_string()),
                }),
                msgs: self
                    .entries
                    .iter()
                    .filter(|(s, _)| *s > after)
                    .take(count)
                    .map(|(sid, p)| Message {
                        sid: *sid,
                        payload: p.clone(),
                        ..Message::default()
                    })
                    .collect(),
            })
        }
        fn wait(&mut self, _: Option<StreamId>, _: Duration) -> Result<Option<StreamId>> {
            Ok(None)
        }
        fn facts(&mut self) -> Result<ServerFacts> {
            Ok(ServerFacts::default())
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
                    topic: format!("t {id}").into(),
                    ..Entry::test(id, "A", NOW - 10)
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

    fn pass(s: &mut Syncer, r: &mut Fake) -> Report {
        s.pass(r, None, NOW).unwrap()
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
        let r = pass(&mut a, &mut remote);
        assert_eq!((r.pushed, r.pulled), (7, 0));
        pass(&mut b, &mut remote);
        pass(&mut a, &mut remote);
        pass(&mut b, &mut remote);
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
        let r = pass(&mut b, &mut remote);
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
        assert!(a.pass(&mut remote, None, NOW).is_err());
        assert_eq!(remote.entries.len(), 3);
        remote.fail_add_after = None;
        let r = pass(&mut a, &mut remote);
        assert_eq!(r.pushed, 4);
        assert_eq!(remote.entries.len(), 7);
    }

    #[test]
    fn a_machine_away_too_long_counts_what_it_missed_but_not_its_own() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake {
            maxlen: 5,
            ..Fake::default()
        };
        let mut a = machine(&tmp, "a");
        let mut b = machine(&tmp, "b");
        post(&a, "first");
        pass(&mut a, &mut remote);
        pass(&mut b, &mut remote);
        assert_eq!(b.state().added_at_cursor, Some(1));
        for i in 0..12 {
            post(&a, &format!("a{i}"));
        }
        let r = pass(&mut a, &mut remote);
        assert_eq!(r.gap, None);
        let r = pass(&mut a, &mut remote);
        assert_eq!(r.gap, None, "a's own trimmed entries are no gap");
        let r = pass(&mut b, &mut remote);
        assert_eq!(r.gap.as_ref().and_then(|g| g.missed), Some(7));
        assert_eq!(r.pulled, 5);
        assert_eq!(b.state().added_at_cursor, Some(13));
        let r = pass(&mut b, &mut remote);
        assert_eq!(r.gap, None);
    }

    #[test]
    fn a_trim_during_a_pull_and_a_late_joiner_are_gaps() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake::default();
        let mut a = machine(&tmp, "a");
        let mut b = machine(&tmp, "b");
        for i in 0..20 {
            post(&a, &format!("a{i}"));
        }
        pass(&mut a, &mut remote);
        // B reads 3 per batch; after its first batch the stream is trimmed to 10.
        let mut c = machine(&tmp, "c");
        remote.reads = 0;
        remote.trim_at_read = Some((2, 10));
        let r = pass(&mut b, &mut remote);
        assert_eq!(r.gap.as_ref().and_then(|g| g.missed), Some(7));
        assert_eq!(ids(&b).len(), 13);
        // C never synced before: it joins after the trim.
        let r = pass(&mut c, &mut remote);
        assert_eq!(r.gap.as_ref().and_then(|g| g.missed), Some(10));
    }

    #[test]
    fn a_deleted_stream_is_detected_and_reseeded_by_every_survivor() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake::default();
        let mut a = machine(&tmp, "a");
        let mut b = machine(&tmp, "b");
        let mut c = machine(&tmp, "c");
        for i in 0..4 {
            post(&a, &format!("a{i}"));
        }
        post(&b, "b0");
        pass(&mut a, &mut remote);
        pass(&mut b, &mut remote);
        // The stream is deleted; its id keys stay (DEL of the stream only).
        remote.delete();
        let r = pass(&mut a, &mut remote);
        assert!(r.reset.is_some(), "{r:?}");
        assert!(a.state().reset.as_ref().unwrap().repaired.is_some());
        assert_eq!(r.reseeded, Some(4), "a holds only its own 4");
        let r = pass(&mut b, &mut remote);
        assert!(r.reset.is_some(), "the epoch changed: {r:?}");
        assert_eq!(
            remote.entries.len(),
            5,
            "b re-seeds a's entries and its own, once"
        );
        let r = pass(&mut c, &mut remote);
        assert_eq!((r.pulled, r.gap.clone(), r.reset.clone()), (5, None, None));
        let r = pass(&mut a, &mut remote);
        assert_eq!((r.pulled, r.reset.clone()), (1, None));
        assert_eq!(remote.entries.len(), 5);
    }

    #[test]
    fn incoming_entries_are_validated() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake::default();
        let mk = |id: &str, inst: &str, ts: i64| Outgoing {
            id: id.into(),
            line: Entry {
                summary: "x".repeat(10_000).into(),
                ..Entry::test(id, inst, ts)
            }
            .to_line()
            .trim()
            .to_string(),
            skew: 0,
        };
        remote
            .add(&[
                mk("old", "A", NOW - MAX_TTL as i64 - 1),
                Outgoing {
                    id: "bad".into(),
                    line: "not json".into(),
                    skew: 0,
                },
                mk("future", "A", NOW + 98 * 365 * 86_400),
                mk("ahead", "A", NOW + 600),
                mk("evil", "../x", NOW),
                mk("bad id\n", "A", NOW),
                mk("ok", "A", NOW),
            ])
            .unwrap();
        let mut b = machine(&tmp, "b");
        let r = pass(&mut b, &mut remote);
        assert_eq!(
            (r.pulled, r.expired, r.bad + r.refused, r.capped),
            (2, 1, 4, 1)
        );
        let (all, _) = crate::store::log::read_all(&b.pool.log_path()).unwrap();
        for e in &all {
            assert!(e.timestamp <= NOW, "{e:?}");
            assert_eq!(e.summary.chars().count(), MAX_SUMMARY);
        }
    }

    /// Issue 22, section 3: the receiver stamps where an entry came from
    /// (the sender's `via` and `received` are dropped) and cuts a claim's
    /// lifetime to a working day.
    #[test]
    fn received_entries_carry_their_source_and_claims_a_working_day() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake::default();
        let line = |id: &str, action: &str, ttl: Option<u64>| Outgoing {
            id: id.into(),
            line: serde_json::json!({"id": id, "timestamp": NOW - 5, "source_instance": "A",
                "action": action, "topic": "t", "affects": "**", "ttl": ttl,
                "via": "forged", "received": 1, "origin": "forced", "host": "victim"})
            .to_string(),
            skew: 0,
        };
        remote
            .add(&[
                line("long", "claimed", Some(30 * 86_400)),
                line("short", "claimed", Some(600)),
                line("note", "learned", Some(30 * 86_400)),
            ])
            .unwrap();
        let mut b = machine(&tmp, "b");
        assert_eq!(b.source(), "s");
        pass(&mut b, &mut remote);
        let (all, _) = crate::store::log::read_all(&b.pool.log_path()).unwrap();
        let by = |id: &str| all.iter().find(|e| e.id == id).unwrap().clone();
        assert_eq!(by("long").ttl, Some(MAX_REMOTE_CLAIM));
        assert_eq!(by("short").ttl, Some(600));
        assert_eq!(by("note").ttl, Some(30 * 86_400), "only claims are cut");
        for e in &all {
            assert_eq!((e.source(), e.received), (Some("s"), Some(NOW)), "{e:?}");
        }
    }

    fn post_at(s: &Syncer, id: &str, ts: i64, ttl: Option<u64>) {
        s.pool
            .append(
                &[Entry {
                    topic: format!("t {id}").into(),
                    ttl,
                    ..Entry::test(id, "A", ts)
                }],
                NOW - 10,
            )
            .unwrap();
    }

    #[test]
    fn a_joining_machine_pushes_only_what_is_live() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake::default();
        let mut a = machine(&tmp, "a");
        let mut b = machine(&tmp, "b");
        // A long history: expired by the default TTL, by their own, or
        // older than any window; a few still live.
        for i in 0..50 {
            post_at(&a, &format!("old{i}"), NOW - 2 * 86_400 - i, None);
        }
        post_at(&a, "short", NOW - 600, Some(300));
        post_at(&a, "ancient", NOW - 40 * 86_400, Some(MAX_TTL));
        post_at(&a, "week", NOW - 2 * 86_400, Some(7 * 86_400));
        post_at(&a, "recent", NOW - 120, None);
        let r = pass(&mut a, &mut remote);
        assert_eq!(r.pushed, 2, "{r:?}");
        assert_eq!(remote.entries.len(), 2);
        pass(&mut b, &mut remote);
        assert_eq!(ids(&b), vec!["recent".to_string(), "week".to_string()]);
    }

    #[test]
    fn an_old_entry_arriving_late_is_not_fresh() {
        let tmp = tempfile::tempdir().unwrap();
        let mut remote = Fake::default();
        let mk = |id: &str, ts: i64, ttl: Option<u64>| Outgoing {
            id: id.into(),
            line: Entry {
                ttl,
                ..Entry::test(id, "A", ts)
            }
            .to_line()
            .trim()
            .to_string(),
            skew: 0,
        };
        // What an older version pushes on joining: everything.
        remote
            .add(&[
                mk("day", NOW - 86_400, None),
                mk("expired", NOW - 3 * 86_400, Some(86_400)),
                mk("late", NOW - 3000, None),
            ])
            .unwrap();
        let mut b = machine(&tmp, "b");
        let r = pass(&mut b, &mut remote);
        assert_eq!((r.pulled, r.expired), (1, 2), "{r:?}");
        let (all, _) = crate::store::log::read_all(&b.pool.log_path()).unwrap();
        let late = all.iter().find(|e| e.id == "late").unwrap();
        assert!(late.is_live(NOW + 300, DEFAULT_TTL));
        assert!(
            !late.is_live(NOW + 1000, DEFAULT_TTL),
            "it lives its hour from when it was written, not from its arrival"
        );
    }

    #[test]
    fn gap_counting_skips_own_ranges() {
        assert_eq!(others_in(1, 10, &[]), 10);
        assert_eq!(others_in(1, 10, &[[3, 4], [9, 12]]), 6);
        assert_eq!(others_in(5, 4, &[]), 0);
    }

    #[test]
    fn pulled_entries_keep_their_repository() {
        let e = Entry {
            id: "r1".into(),
            repo: "github.com/o/n".into(),
            cwd: "/elsewhere/n".into(),
            ..Entry::default()
        };
        let c = capped(e);
        assert_eq!(c.repo, "github.com/o/n", "the scope of a pulled entry");
        assert_eq!(c.cwd, "/elsewhere/n");
    }

    #[test]
    fn server_settings_that_lose_data_are_named() {
        let f = ServerFacts {
            aof: Some(false),
            save: Some(String::new()),
            policy: Some("allkeys-lru".into()),
            ..ServerFacts::default()
        };
        let p = f.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("noeviction"));
        assert!(p[1].contains("no persistence"));
        let ok = ServerFacts {
            aof: Some(true),
            policy: Some("noeviction".into()),
            ..ServerFacts::default()
        };
        assert!(ok.problems().is_empty());
    }
}
