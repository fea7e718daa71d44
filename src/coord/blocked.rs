//! Blocked as a state: which instances are blocked, on what, since when,
//! and which entry unblocked them.
//!
//! An instance is blocked from its live `blocked` entry until one of these
//! comes after it:
//! - any entry with `REF: <its id>` (by anyone: an answer, `pool ack`);
//! - its own `completed`, `released` or `signaling` on the same topic
//!   (topics compared trimmed and ignoring case);
//! - another instance's `completed` on the same topic.
//!
//! A block whose entry expired (its TTL, else `POOL_TTL`) is no longer
//! shown as open. A newer `blocked` of the same instance on the same topic
//! is the same block: it counts from the earliest report still open.
//!
//! Everything here is pure: entries come in newest first (as every reader
//! of the log hands them out) and `now` is passed in; [`read_blocks`] is the
//! one helper that reads the pool.

use std::collections::HashMap;
use std::ops::ControlFlow;

use serde::Serialize;

use crate::error::Result;
use crate::store::entry::Entry;
use crate::store::log::{DEFAULT_TTL, Pool};

/// How an entry unblocked a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// It names the block's id in `REF`.
    Ref,
    /// The blocked instance itself closed the topic (completed, released, signaling).
    Own,
    /// Another instance completed the same topic.
    Completed,
}

/// The entry that ended a block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unblock {
    /// Its id.
    pub id: String,
    /// Its writer.
    pub instance: String,
    /// Its action.
    pub action: String,
    /// Its topic.
    pub topic: String,
    /// Epoch seconds.
    pub timestamp: i64,
    /// Why it counts.
    pub how: How,
}

/// One block: a `blocked` entry, open or ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Block {
    /// The `blocked` entry's id (the newest report of it).
    pub id: String,
    /// Who is blocked.
    pub instance: String,
    /// On what.
    pub topic: String,
    /// Its summary.
    pub summary: String,
    /// What it says unblocks it, if anything (`BLOCKS`).
    pub blocks: String,
    /// Blocked since, epoch seconds: the earliest report still open.
    pub since: i64,
    /// Where the block came from: `None` written here, else the sync
    /// source it was received from (`Entry::source`).
    pub source: Option<String>,
    /// The host the `blocked` entry names (shown with `source`).
    pub host: String,
    /// The entry that ended it; `None` while it is open.
    pub unblocked_by: Option<Unblock>,
}

impl Block {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.unblocked_by.is_none()
    }

    /// How long it has lasted at `now` (open) or lasted (ended), in seconds.
    pub fn duration(&self, now: i64) -> i64 {
        let end = self.unblocked_by.as_ref().map_or(now, |u| u.timestamp);
        end.saturating_sub(self.since).max(0)
    }
}

/// The fields of an entry that blocks depend on; made from a parsed
/// [`Entry`] or from a byte-level read of a line.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// `id`.
    pub id: &'a str,
    /// `source_instance`.
    pub instance: &'a str,
    /// `action`.
    pub action: &'a str,
    /// `topic`.
    pub topic: &'a str,
    /// `ref`.
    pub reference: &'a str,
    /// `timestamp`.
    pub timestamp: i64,
    /// [`Entry::source`]: `None` for an entry written here.
    pub source: Option<&'a str>,
    /// `host`.
    pub host: &'a str,
    /// Whether the entry is live at the time of the scan.
    pub live: bool,
}

impl<'a> Seen<'a> {
    /// The fields of `e`, live or not at `now`.
    pub fn of(e: &'a Entry<'_>, now: i64, default_ttl: u64) -> Self {
        Seen {
            id: &e.id,
            instance: &e.source_instance,
            action: &e.action,
            topic: &e.topic,
            reference: &e.reference,
            timestamp: e.timestamp,
            source: e.source(),
            host: &e.host,
            live: e.is_live(now, default_ttl),
        }
    }
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn unblock(e: &Seen<'_>, how: How) -> Unblock {
    Unblock {
        id: e.id.to_string(),
        instance: e.instance.to_string(),
        action: e.action.to_string(),
        topic: e.topic.to_string(),
        timestamp: e.timestamp,
        how,
    }
}

/// Whether `e` (written after it) unblocks `block`, and how.
pub fn unblocks(e: &Seen<'_>, block: &Block) -> Option<How> {
    if e.id == block.id {
        return None;
    }
    if !e.reference.is_empty() && e.reference == block.id {
        return Some(How::Ref);
    }
    let same_topic = !block.topic.trim().is_empty() && norm(e.topic) == norm(&block.topic);
    if !same_topic {
        return None;
    }
    let own = e.source == block.source.as_deref()
        && e.instance
            .trim()
            .eq_ignore_ascii_case(block.instance.trim());
    match e.action {
        "completed" | "released" | "signaling" if own => Some(How::Own),
        "completed" => Some(How::Completed),
        _ => None,
    }
}

/// Where an entry came from ([`Seen::source`]), its writer and its topic,
/// both normalised.
type Key = (Option<String>, String, String);

/// Collects blocks while entries are visited newest first.
#[derive(Debug, Default)]
pub struct Tracker {
    /// Ids named by a `REF`, with the oldest such entry seen so far.
    refs: HashMap<String, Unblock>,
    /// (source, instance, topic) closed by the instance itself: another
    /// machine's instance of the same name is not this one.
    own: HashMap<Key, Unblock>,
    /// Topic completed, by whom (the oldest seen so far per instance).
    done: HashMap<String, Vec<Unblock>>,
    /// (source, instance, topic) of open blocks, to their index in `blocks`.
    open: HashMap<Key, usize>,
    blocks: Vec<Block>,
}

/// Most blocks a tracker keeps (open and ended).
pub const MAX_BLOCKS: usize = 500;

impl Tracker {
    /// Visits one entry (newest first). `full` gives the summary and
    /// `BLOCKS` of a `blocked` entry when the caller parsed it.
    pub fn visit(&mut self, e: &Seen<'_>, full: Option<&Entry<'_>>) {
        if e.action == "blocked" {
            self.visit_blocked(e, full);
        }
        if !e.reference.is_empty() {
            self.refs
                .insert(e.reference.to_string(), unblock(e, How::Ref));
        }
        if e.topic.trim().is_empty() {
            return;
        }
        if matches!(e.action, "completed" | "released" | "signaling") {
            self.own.insert(
                (
                    e.source.map(str::to_string),
                    norm(e.instance),
                    norm(e.topic),
                ),
                unblock(e, How::Own),
            );
        }
        if e.action == "completed" {
            let by = self.done.entry(norm(e.topic)).or_default();
            let u = unblock(e, How::Completed);
            match by
                .iter()
                .position(|o| o.instance.eq_ignore_ascii_case(e.instance))
            {
                Some(i) => by[i] = u,
                None if by.len() < 8 => by.push(u),
                None => {}
            }
        }
    }

    fn visit_blocked(&mut self, e: &Seen<'_>, full: Option<&Entry<'_>>) {
        let key = (
            e.source.map(str::to_string),
            norm(e.instance),
            norm(e.topic),
        );
        let ended = self.refs.get(e.id).cloned().or_else(|| {
            if key.2.is_empty() {
                return None;
            }
            self.own.get(&key).cloned().or_else(|| {
                self.done.get(&key.2).and_then(|by| {
                    by.iter()
                        .filter(|u| !u.instance.eq_ignore_ascii_case(e.instance))
                        .min_by_key(|u| u.timestamp)
                        .cloned()
                })
            })
        });
        if ended.is_none() {
            if !e.live {
                return;
            }
            if let Some(&i) = self.open.get(&key)
                && !key.2.is_empty()
            {
                // An earlier report of a block still open: it started then.
                if let Some(b) = self.blocks.get_mut(i) {
                    b.since = b.since.min(e.timestamp);
                }
                return;
            }
        }
        if self.blocks.len() >= MAX_BLOCKS {
            return;
        }
        if ended.is_none() {
            self.open.insert(key, self.blocks.len());
        }
        self.blocks.push(Block {
            id: e.id.to_string(),
            instance: e.instance.trim().to_string(),
            topic: e.topic.to_string(),
            summary: full.map(|f| f.summary.to_string()).unwrap_or_default(),
            blocks: full.map(|f| f.blocks.to_string()).unwrap_or_default(),
            since: e.timestamp,
            source: e.source.map(str::to_string),
            host: e.host.to_string(),
            unblocked_by: ended,
        });
    }

    /// The blocks found, newest first: open ones and those that ended.
    pub fn finish(self) -> Vec<Block> {
        self.blocks
    }
}

/// Blocks among `entries` (newest first) at `now`.
pub fn blocks<'e>(
    entries: impl IntoIterator<Item = &'e Entry<'e>>,
    now: i64,
    default_ttl: u64,
) -> Vec<Block> {
    let mut t = Tracker::default();
    for e in entries {
        t.visit(&Seen::of(e, now, default_ttl), Some(e));
    }
    t.finish()
}

/// The open blocks, oldest first (who has waited longest comes first).
pub fn open(blocks: &[Block]) -> Vec<&Block> {
    let mut v: Vec<&Block> = blocks.iter().filter(|b| b.is_open()).collect();
    v.sort_by_key(|b| b.since);
    v
}

/// Every block in the live window of the pool at `now` (see [`Tracker`]),
/// newest first.
pub fn read_blocks(pool: &Pool, now: i64, default_ttl: u64) -> Result<Vec<Block>> {
    let mut t = Tracker::default();
    pool.scan_recent(now, default_ttl.max(DEFAULT_TTL), |e| {
        t.visit(&Seen::of(&e, now, default_ttl), Some(&e));
        ControlFlow::Continue(())
    })?;
    Ok(t.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: &str, inst: &str, action: &str, topic: &str, ts: i64) -> Entry<'static> {
        Entry {
            id: id.to_string().into(),
            timestamp: ts,
            source_instance: inst.to_string().into(),
            action: action.to_string().into(),
            topic: topic.to_string().into(),
            ..Entry::default()
        }
    }

    fn run(mut log: Vec<Entry<'static>>, now: i64) -> Vec<Block> {
        log.reverse();
        blocks(log.iter(), now, 3600)
    }

    #[test]
    fn a_blocked_entry_is_open_until_answered() {
        let now = 10_000;
        let mut b = e("b1", "B", "blocked", "Auth API", now - 600);
        b.summary = "need the token format".into();
        let got = run(vec![b.clone()], now);
        assert_eq!(got.len(), 1);
        assert!(got[0].is_open());
        assert_eq!((got[0].since, got[0].duration(now)), (now - 600, 600));
        assert_eq!(got[0].summary, "need the token format");

        // A REF from anyone ends it.
        let mut answer = e("a1", "A", "signaling", "Token format", now - 60);
        answer.reference = "b1".into();
        let got = run(vec![b.clone(), answer], now);
        let u = got[0].unblocked_by.as_ref().unwrap();
        assert_eq!((u.id.as_str(), u.how), ("a1", How::Ref));
        assert_eq!(got[0].duration(now), 540);

        // Its own completed/released/signaling on the topic, any case.
        for action in ["completed", "released", "signaling"] {
            let got = run(
                vec![b.clone(), e("x", "b", action, " auth api ", now - 5)],
                now,
            );
            assert_eq!(got[0].unblocked_by.as_ref().unwrap().how, How::Own);
        }
        // Another instance's completed on the same topic.
        let got = run(
            vec![b.clone(), e("x", "A", "completed", "Auth API", now - 5)],
            now,
        );
        assert_eq!(got[0].unblocked_by.as_ref().unwrap().how, How::Completed);
        // But not another's signaling, nor another topic, nor an earlier entry.
        for other in [
            e("x", "A", "signaling", "Auth API", now - 5),
            e("x", "B", "completed", "Other", now - 5),
        ] {
            assert!(run(vec![b.clone(), other], now)[0].is_open());
        }
        assert!(
            run(
                vec![e("x", "A", "completed", "Auth API", now - 700), b.clone()],
                now
            )[0]
            .is_open()
        );
    }

    #[test]
    fn expired_blocks_close_and_repeats_merge() {
        let now = 100_000;
        let old = e("b0", "B", "blocked", "Auth API", now - 4000);
        assert!(run(vec![old], now).is_empty(), "expired by POOL_TTL");
        let mut long = e("b0", "B", "blocked", "Auth API", now - 4000);
        long.ttl = Some(86_400);
        let again = e("b1", "B", "blocked", "auth api", now - 100);
        let got = run(vec![long, again], now);
        assert_eq!(got.len(), 1, "one block: {got:?}");
        assert_eq!((got[0].id.as_str(), got[0].since), ("b1", now - 4000));
        // Blocked, unblocked, blocked again: two blocks, the newer open.
        let got = run(
            vec![
                e("b1", "B", "blocked", "X", now - 300),
                e("c1", "B", "completed", "X", now - 200),
                e("b2", "B", "blocked", "X", now - 100),
            ],
            now,
        );
        assert_eq!(got.len(), 2);
        assert!(got[0].is_open() && got[0].id == "b2");
        assert_eq!(got[1].unblocked_by.as_ref().unwrap().id, "c1");
        assert_eq!(open(&got).len(), 1);
    }

    /// Issue 22, section 3: another machine's "A" (pulled through `pool
    /// sync`) is not this machine's A: its block is a block of its own, and
    /// its `released` on the topic does not end this machine's A's block.
    #[test]
    fn another_machines_instance_of_the_same_name_is_not_this_one() {
        let now = 10_000;
        let pulled = |mut x: Entry<'static>| {
            x.host = "laptop".into();
            x.received = Some(now - 1);
            x.via = "alice".into();
            x
        };
        let got = run(
            vec![
                e("l1", "A", "blocked", "Auth", now - 300),
                pulled(e("r1", "A", "blocked", "Auth", now - 200)),
                pulled(e("r2", "A", "released", "Auth", now - 100)),
            ],
            now,
        );
        let open: Vec<&str> = open(&got).iter().map(|b| b.id.as_str()).collect();
        assert_eq!(open, ["l1"], "{got:?}");
        let r1 = got.iter().find(|b| b.id == "r1").unwrap();
        assert_eq!(
            (r1.source.as_deref(), r1.host.as_str()),
            (Some("alice"), "laptop")
        );
        assert_eq!(r1.unblocked_by.as_ref().unwrap().id, "r2");
    }

    #[test]
    fn the_predicate_agrees_with_the_tracker() {
        let block = Block {
            id: "b1".into(),
            instance: "B".into(),
            topic: "Auth".into(),
            summary: String::new(),
            blocks: String::new(),
            since: 0,
            source: None,
            host: String::new(),
            unblocked_by: None,
        };
        let check = |en: Entry<'static>| unblocks(&Seen::of(&en, 10, 3600), &block);
        let mut r = e("r", "C", "question", "whatever", 5);
        r.reference = "b1".into();
        assert_eq!(check(r), Some(How::Ref));
        assert_eq!(
            check(e("c", "A", "completed", "auth", 5)),
            Some(How::Completed)
        );
        assert_eq!(check(e("c", "B", "released", "Auth", 5)), Some(How::Own));
        assert_eq!(check(e("c", "A", "claimed", "Auth", 5)), None);
        assert_eq!(check(e("b1", "B", "blocked", "Auth", 5)), None);
    }
}
