//! What a session's prompts carry from one look at the pool to the next, so
//! that a prompt's cost follows what is new (issue 24): the session's own
//! open blocks, kept in `sessions/<session>.blocks` with the news mark they
//! are true at. A prompt whose mark matches advances them by the entries new
//! since ([`advance`]) instead of reading the whole window again; any other
//! prompt (no file, another mark, news cut short) reads the window and saves
//! them afresh.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::coord::blocked::{self, Block, Seen};
use crate::coord::news::Mark;
use crate::error::{Error, Result};
use crate::store::entry::Entry;
use crate::store::fsio;
use crate::store::paths::{SESSIONS_DIR, safe_file_stem};

/// Most open blocks carried (more are dropped oldest first).
pub const MAX_CARRIED: usize = blocked::MAX_BLOCKS;
/// Largest carry file read, in bytes.
const MAX_FILE: u64 = 256 * 1024;

/// One open block of the session's instance, with when its entry expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenBlock {
    /// The block as shown.
    pub id: String,
    /// Who is blocked.
    pub instance: String,
    /// On what.
    pub topic: String,
    /// Blocked since, epoch seconds.
    pub since: i64,
    /// When its newest report expires, epoch seconds.
    pub expires: i64,
}

impl OpenBlock {
    /// The block, for [`blocked::unblocks`] and rendering.
    pub fn block(&self) -> Block {
        Block {
            id: self.id.clone(),
            instance: self.instance.clone(),
            topic: self.topic.clone(),
            summary: String::new(),
            blocks: String::new(),
            since: self.since,
            source: None,
            host: String::new(),
            unblocked_by: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Carried {
    /// Which of the session's marks the blocks are true at. Not the mark
    /// itself: it holds the ids of up to [`crate::coord::news::MAX_MARK_IDS`]
    /// entries of its last second, and reading them here again was half of a
    /// prompt's cost once a sync delivered 250 entries in one second.
    at: MarkKey,
    open: Vec<OpenBlock>,
}

/// What tells one of a session's marks from another: only this session
/// saves its marks, so where it looked (inode, length, time) and the newest
/// entry it saw there (where it starts, its id, how many shared its second)
/// name it. A file written in the older layout (the whole mark) no longer
/// parses: that prompt reads the window once, as with no file.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct MarkKey {
    ino: u64,
    offset: u64,
    ts: i64,
    tail_at: Option<i64>,
    last: Option<u64>,
    first_id: Option<String>,
    ids: usize,
}

impl MarkKey {
    fn of(mark: &Mark) -> Self {
        let tail = mark.tail.as_ref();
        MarkKey {
            ino: mark.ino,
            offset: mark.offset,
            ts: mark.ts,
            tail_at: tail.and_then(|t| t.at),
            last: tail.and_then(|t| t.last),
            first_id: tail.and_then(|t| t.first_id().map(str::to_string)),
            ids: tail.map_or(0, |t| t.len()),
        }
    }
}

fn path(pool_dir: &Path, session: &str) -> PathBuf {
    pool_dir
        .join(SESSIONS_DIR)
        .join(format!("{}.blocks", safe_file_stem(session)))
}

/// The session's open blocks, if they were saved at exactly `mark`.
pub fn load(pool_dir: &Path, session: &str, mark: &Mark) -> Option<Vec<OpenBlock>> {
    let bytes = fsio::read_regular(&path(pool_dir, session), MAX_FILE).ok()?;
    let c: Carried = serde_json::from_slice(&bytes).ok()?;
    (c.at == MarkKey::of(mark)).then_some(c.open)
}

/// Saves the session's open blocks as true at `mark`.
pub fn save(pool_dir: &Path, session: &str, mark: &Mark, open: &[OpenBlock]) -> Result<()> {
    let keep = &open[open.len().saturating_sub(MAX_CARRIED)..];
    let c = Carried {
        at: MarkKey::of(mark),
        open: keep.to_vec(),
    };
    let bytes = serde_json::to_vec(&c).map_err(|e| Error::Invalid(e.to_string()))?;
    let dir = pool_dir.join(SESSIONS_DIR);
    fsio::ensure_private_dir(&dir)?;
    fsio::replace_file(&path(pool_dir, session), &bytes, 0o600)
}

/// When `e` expires, epoch seconds.
pub fn expiry(e: &Entry<'_>, default_ttl: u64) -> i64 {
    let ttl = i64::try_from(e.ttl_or(default_ttl)).unwrap_or(i64::MAX);
    e.effective_time().saturating_add(ttl)
}

/// Whether `e` is a `blocked` entry of `me`'s that opens a block.
pub fn opens(e: &Entry<'_>, me: &str, now: i64, default_ttl: u64) -> bool {
    e.action == "blocked"
        && e.source_instance.trim().eq_ignore_ascii_case(me.trim())
        && !e.topic.trim().is_empty()
        && e.is_live(now, default_ttl)
}

/// Advances `open` by `fresh` (oldest first, every entry new since the mark
/// `open` was saved at, in this session's scope): new blocks of `me` open,
/// what unblocks one ends it (see [`blocked::unblocks`]), expired ones go.
pub fn advance(
    mut open: Vec<OpenBlock>,
    fresh: &[Entry<'_>],
    me: &str,
    now: i64,
    default_ttl: u64,
) -> Vec<OpenBlock> {
    for e in fresh {
        let seen = Seen::of(e, now, default_ttl);
        open.retain(|b| blocked::unblocks(&seen, &b.block()).is_none());
        if opens(e, me, now, default_ttl) {
            let exp = expiry(e, default_ttl);
            let same = |b: &OpenBlock| b.topic.trim().eq_ignore_ascii_case(e.topic.trim());
            match open.iter_mut().find(|b| same(b)) {
                // The same block reported again: its newest id, its first time.
                Some(b) => {
                    b.id = e.id.to_string();
                    b.expires = b.expires.max(exp);
                }
                None => open.push(OpenBlock {
                    id: e.id.to_string(),
                    instance: e.source_instance.to_string(),
                    topic: e.topic.to_string(),
                    since: e.timestamp,
                    expires: exp,
                }),
            }
        }
    }
    open.retain(|b| b.expires > now);
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: &str, who: &str, action: &str, topic: &str, ts: i64) -> Entry<'static> {
        Entry {
            id: id.to_string().into(),
            timestamp: ts,
            source_instance: who.to_string().into(),
            action: action.to_string().into(),
            topic: topic.to_string().into(),
            ..Entry::default()
        }
    }

    /// Issue 24: the carry names its mark without copying the mark's ids
    /// (250 entries synced in one second made it ten times its size), and
    /// still loads only at that very mark.
    #[test]
    fn the_carry_names_its_mark_without_its_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..250)
            .map(|i| format!("7df19055-f29c-3e02-87ab-{i:012}"))
            .collect();
        let mark = Mark {
            ino: 7,
            offset: 1000,
            ts: 50,
            tail: Some(crate::coord::news::Tail::new(
                Some(49),
                ids.iter().map(String::as_str),
                Some(900),
            )),
        };
        let open = vec![OpenBlock {
            id: "b1".into(),
            instance: "A".into(),
            topic: "Schema".into(),
            since: 40,
            expires: 4000,
        }];
        save(tmp.path(), "s1", &mark, &open).unwrap();
        let size = std::fs::metadata(path(tmp.path(), "s1")).unwrap().len();
        assert!(size < 1024, "{size} bytes");
        assert_eq!(load(tmp.path(), "s1", &mark), Some(open));
        for other in [
            Mark {
                offset: 1001,
                ..mark.clone()
            },
            Mark {
                ts: 51,
                ..mark.clone()
            },
            Mark {
                tail: None,
                ..mark.clone()
            },
        ] {
            assert_eq!(load(tmp.path(), "s1", &other), None, "{other:?}");
        }
        let mut moved = mark.clone();
        let t = moved.tail.as_ref().unwrap();
        let mut ids: Vec<&str> = t.ids().collect();
        ids[0] = "other";
        let moved_tail = crate::coord::news::Tail::new(t.at, ids, t.last);
        moved.tail = Some(moved_tail);
        assert_eq!(load(tmp.path(), "s1", &moved), None);
    }

    #[test]
    fn blocks_open_end_and_expire_by_what_is_new() {
        let now = 10_000;
        let open = advance(
            Vec::new(),
            &[
                e("b1", "A", "blocked", "Schema", now - 100),
                e("b2", "A", "blocked", "Auth", now - 90),
                e("x", "B", "blocked", "Cache", now - 80),
                e("b3", "A", "blocked", "schema ", now - 70),
            ],
            "A",
            now,
            3600,
        );
        let ids: Vec<&str> = open.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["b3", "b2"], "B's is not ours; b3 reports b1 again");
        assert_eq!(open[0].since, now - 100);
        let mut done = e("c", "B", "completed", "Auth", now - 10);
        let open = advance(open, std::slice::from_ref(&done), "A", now, 3600);
        assert_eq!(open.len(), 1);
        done.reference = "b3".into();
        done.topic = "other".into();
        assert!(advance(open.clone(), &[done], "A", now, 3600).is_empty());
        assert!(
            advance(open, &[], "A", now + 3600, 3600).is_empty(),
            "expired"
        );
    }

    #[test]
    fn saved_blocks_hold_only_at_their_mark() {
        let tmp = tempfile::tempdir().unwrap();
        let mark = Mark {
            ino: 1,
            offset: 10,
            ts: 5,
            ..Mark::default()
        };
        let open = advance(
            Vec::new(),
            &[e("b1", "A", "blocked", "Schema", 100)],
            "A",
            200,
            3600,
        );
        save(tmp.path(), "s", &mark, &open).unwrap();
        assert_eq!(load(tmp.path(), "s", &mark), Some(open));
        let later = Mark {
            offset: 20,
            ..mark.clone()
        };
        assert_eq!(load(tmp.path(), "s", &later), None);
        assert_eq!(load(tmp.path(), "t", &mark), None);
    }
}
