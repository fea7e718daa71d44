//! News mid-session: the entries that arrived since a session last looked at
//! the pool, read forward from a per-session mark (log inode, offset, time,
//! and the tail of the log it had seen).
//!
//! A rewrite of the log (`pool gc`, `pool doctor --repair`) moves every
//! offset, so a mark's offset means nothing in the new log. The mark
//! therefore also keeps the newest append stamp it had seen and the ids of
//! the entries stamped that second or later (issue 23 §4): stamps never
//! decrease along the log and a rewrite keeps the order of the lines it
//! keeps, so after a rewrite the news is every entry stamped that second or
//! later whose id the mark does not hold. Nothing is lost; an entry is shown
//! twice only when more than [`MAX_MARK_IDS`] share that second.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::entry::Entry;
use crate::store::fsio;
use crate::store::log::Pool;
use crate::store::paths::{SESSIONS_DIR, safe_file_stem};

/// Most bytes of new log read for news (1 MiB); older news is summarised as a count.
pub const MAX_NEWS_BYTES: u64 = 1024 * 1024;
/// Most ids a mark keeps of the entries stamped in its last second.
pub const MAX_MARK_IDS: usize = 256;

/// Where a session last looked at the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Inode of the log then.
    pub ino: u64,
    /// Length of the log then.
    pub offset: u64,
    /// Time then (epoch seconds).
    pub ts: i64,
    /// What the log held just before `offset`; absent in marks written
    /// before it existed (those fall back on `ts` after a rewrite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<Tail>,
}

/// The end of the log a mark had seen, to find its place again after a
/// rewrite.
///
/// The ids are kept as one string, each followed by a space (ids never
/// hold one: see `store::entry::check_id`), so that loading a mark on every
/// prompt parses and copies one string, not up to [`MAX_MARK_IDS`] (after
/// a sync delivered a burst in one second, parsing those was most of a
/// repeat prompt). A mark saved with the older layout, an array `ids`, is
/// still read, and saved anew in this one the next time it moves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "TailWire")]
pub struct Tail {
    /// The newest append stamp before the mark's offset (epoch seconds);
    /// `None` when no line before it has one.
    pub at: Option<i64>,
    /// Ids of the entries before the offset back to the first one stamped
    /// earlier than `at`, newest first (at most [`MAX_MARK_IDS`]), each
    /// followed by a space.
    seen: String,
    /// Where the newest entry before the offset starts: the line there must
    /// still be the first of the ids, else the log was replaced (even by a
    /// file that got the same inode number).
    pub last: Option<u64>,
}

/// A [`Tail`] as saved: `seen` now, `ids` in marks of the older layout.
#[derive(Deserialize)]
struct TailWire {
    #[serde(default)]
    at: Option<i64>,
    #[serde(default)]
    seen: Option<String>,
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    last: Option<u64>,
}

impl From<TailWire> for Tail {
    fn from(w: TailWire) -> Self {
        let mut t = Tail {
            at: w.at,
            seen: w.seen.unwrap_or_default(),
            last: w.last,
        };
        for id in &w.ids {
            t.push(id);
        }
        t
    }
}

impl Tail {
    /// A tail holding `ids`, newest first.
    pub fn new<'a>(
        at: Option<i64>,
        ids: impl IntoIterator<Item = &'a str>,
        last: Option<u64>,
    ) -> Self {
        let mut t = Tail {
            at,
            last,
            ..Tail::default()
        };
        for id in ids {
            t.push(id);
        }
        t
    }

    /// Adds `id` after the ids held.
    fn push(&mut self, id: &str) {
        self.seen.push_str(id);
        self.seen.push(' ');
    }

    /// The ids held, newest first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.seen.split_terminator(' ')
    }

    /// The newest id held (the entry at `last`).
    pub fn first_id(&self) -> Option<&str> {
        self.ids().next()
    }

    /// How many ids are held.
    pub fn len(&self) -> usize {
        memchr::memchr_iter(b' ', self.seen.as_bytes()).count()
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Whether `id` is among the ids held.
    fn holds(&self, id: &str) -> bool {
        self.ids().any(|i| i == id)
    }
}

/// What [`since`] found.
#[derive(Debug, Default)]
pub struct News {
    /// New entries, oldest first.
    pub entries: Vec<Entry<'static>>,
    /// Whether older new entries were left out ([`MAX_NEWS_BYTES`]).
    pub truncated: bool,
    /// The mark for exactly what was read: saving it (not a fresh
    /// [`mark_seen`]) keeps an entry appended meanwhile for the next look.
    pub end: Mark,
    /// Whether the log was just as the mark left it, so `end` is the mark
    /// with at most its time moved on (see [`News::moved_from`]).
    pub unmoved: bool,
}

impl News {
    /// Whether `end` differs from `mark`, the mark this look started from:
    /// when the log had not moved only the time can, so the ids of the
    /// mark's last second (a sync's burst holds hundreds) are not compared.
    pub fn moved_from(&self, mark: &Mark) -> bool {
        if self.unmoved {
            self.end.ts != mark.ts
        } else {
            self.end != *mark
        }
    }
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

/// Saves `mark` as what `session` has seen.
pub fn save_mark(pool_dir: &Path, session: &str, mark: &Mark) -> Result<()> {
    let dir = pool_dir.join(SESSIONS_DIR);
    fsio::ensure_private_dir(&dir)?;
    let bytes = serde_json::to_vec(mark).map_err(|e| Error::Invalid(e.to_string()))?;
    fsio::replace_file(&mark_path(pool_dir, session), &bytes, 0o600)
}

/// Marks the log's current end as seen by `session`.
pub fn mark_seen(pool: &Pool, session: &str, now: i64) -> Result<Mark> {
    let mark = match crate::store::fsio::open_regular(&pool.log_path()) {
        Ok(file) => {
            let len = file
                .metadata()
                .map_err(|e| Error::io(pool.log_path(), e))?
                .len();
            let ino = fsio::file_key(&file).map_or(0, |k| k.ino);
            end_at(pool, &file, ino, len, now)?
        }
        Err(_) => Mark {
            ts: now,
            tail: Some(Tail::default()),
            ..Mark::default()
        },
    };
    save_mark(pool.dir(), session, &mark)?;
    Ok(mark)
}

/// The mark for the first `len` bytes of the open log `file`.
fn end_at(pool: &Pool, file: &std::fs::File, ino: u64, len: u64, now: i64) -> Result<Mark> {
    let mut tail = Tail::default();
    let mut held = 0;
    // `Some(MIN)`: no stamp ends the walk, but a long run of unreadable
    // lines does (see `walk_back`).
    pool.scan_back_in(file, len, Some(i64::MIN), |off, _, e| {
        let stamp = e.local.filter(|l| l.off == off).map(|l| l.at);
        if tail.last.is_none() {
            tail.last = Some(off);
        }
        match (stamp, tail.at) {
            (Some(s), None) => tail.at = Some(s),
            (Some(s), Some(a)) if s < a => return std::ops::ControlFlow::Break(()),
            _ => {}
        }
        if held >= MAX_MARK_IDS {
            return std::ops::ControlFlow::Break(());
        }
        held += 1;
        tail.push(&e.id);
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(Mark {
        ino,
        offset: len,
        ts: now,
        tail: Some(tail),
    })
}

/// Whether the open log still holds, just before `mark.offset`, the entry
/// the mark saw last.
fn same_place(file: &std::fs::File, mark: &Mark) -> bool {
    let Some(tail) = &mark.tail else {
        return true;
    };
    let (Some(last), Some(id)) = (tail.last, tail.first_id()) else {
        return true;
    };
    let Some(n) = mark
        .offset
        .checked_sub(last)
        .filter(|n| *n > 0 && *n <= fsio::MAX_LINE as u64 + 1)
    else {
        return false;
    };
    let mut buf = vec![0u8; n as usize];
    if fsio::read_exact_at(file, &mut buf, last).is_err() {
        return false;
    }
    let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
    Entry::parse(line).is_some_and(|e| e.id == id)
}

/// The mark to keep when the log is exactly as `mark` saw it (nothing new):
/// `mark` itself, so that a repeat look writes nothing (issue 24). Its time
/// moves on only while it is not yet later than the newest stamp it saw,
/// so that it still tells the wake ledger that every entry it covers was
/// seen (see `coord/wake.rs`); after that one write it stays as it is.
fn unchanged(file: &std::fs::File, ino: u64, len: u64, mark: &Mark, now: i64) -> Option<Mark> {
    let tail = mark.tail.as_ref()?;
    if mark.ino == 0 || ino != mark.ino || len != mark.offset || !same_place(file, mark) {
        return None;
    }
    let ts = if tail.at.is_some_and(|at| mark.ts <= at) {
        now
    } else {
        mark.ts
    };
    Some(Mark { ts, ..mark.clone() })
}

/// Entries appended since `mark`, oldest first (at most [`MAX_NEWS_BYTES`]
/// of them), whether older ones were left out, and the mark for what was
/// read. When the log was replaced since (a rewrite), the entries stamped
/// in or after the mark's last second that it had not seen are taken
/// instead (see the module header).
pub fn since(pool: &Pool, mark: &Mark, now: i64) -> Result<News> {
    let path = pool.log_path();
    let file = match crate::store::fsio::open_regular(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(News {
                end: Mark {
                    ts: now,
                    tail: Some(Tail::default()),
                    ..Mark::default()
                },
                ..News::default()
            });
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
    let len = meta.len();
    let ino = fsio::file_key(&file).map_err(|e| Error::io(&path, e))?.ino;
    if let Some(end) = unchanged(&file, ino, len, mark, now) {
        return Ok(News {
            end,
            unmoved: true,
            ..News::default()
        });
    }
    let end = end_at(pool, &file, ino, len, now)?;
    // No log when the mark was taken: everything in it is new.
    let mark = &if mark.ino == 0 {
        Mark {
            ino,
            offset: 0,
            ts: mark.ts,
            tail: Some(Tail::default()),
        }
    } else {
        mark.clone()
    };
    if ino != mark.ino || len < mark.offset || !same_place(&file, mark) {
        let mut out = Vec::new();
        match &mark.tail {
            Some(tail) => {
                let from = tail.at.unwrap_or(i64::MIN);
                pool.scan_back_in(&file, len, Some(from), |_, _, e| {
                    if e.order_time() >= from && !tail.holds(&e.id) {
                        out.push(e.into_owned());
                    }
                    std::ops::ControlFlow::Continue(())
                })?;
            }
            // A mark from before tails: its second may be shown again,
            // never lost.
            None => {
                pool.scan_back_in(&file, len, Some(mark.ts), |_, _, e| {
                    if e.order_time() >= mark.ts {
                        out.push(e.into_owned());
                    }
                    std::ops::ControlFlow::Continue(())
                })?;
            }
        }
        out.reverse();
        return Ok(News {
            entries: out,
            truncated: false,
            end,
            unmoved: false,
        });
    }
    let mut start = mark.offset;
    let mut truncated = false;
    if len - start > MAX_NEWS_BYTES {
        start = len - MAX_NEWS_BYTES;
        truncated = true;
    }
    let mut buf = vec![0u8; (len - start) as usize];
    fsio::read_exact_at(&file, &mut buf, start).map_err(|e| Error::io(&path, e))?;
    let mut body: &[u8] = &buf;
    if truncated {
        // Skip the partial first line.
        let cut = memchr::memchr(b'\n', body)
            .map(|i| i + 1)
            .unwrap_or(body.len());
        body = &body[cut..];
    }
    let entries = body
        .split(|b| *b == b'\n')
        .filter_map(Entry::parse)
        .map(Entry::into_owned)
        .collect();
    Ok(News {
        entries,
        truncated,
        end,
        unmoved: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, ts: i64) -> Entry<'static> {
        Entry {
            id: id.to_string().into(),
            timestamp: ts,
            source_instance: "A".into(),
            action: "completed".into(),
            topic: format!("topic {id}").into(),
            ..Entry::default()
        }
    }

    fn ids(n: &News) -> Vec<String> {
        n.entries.iter().map(|e| e.id.to_string()).collect()
    }

    #[test]
    fn news_is_read_forward_and_the_mark_is_what_was_read() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        pool.append(&[entry("a", 100)], 100).unwrap();
        let mark = mark_seen(&pool, "s", 100).unwrap();
        let tail = mark.tail.clone().unwrap();
        assert_eq!(
            (tail.at, tail.ids().collect::<Vec<_>>()),
            (Some(100), vec!["a"])
        );
        pool.append(&[entry("b", 100), entry("c", 101)], 101)
            .unwrap();
        let n = since(&pool, &mark, 101).unwrap();
        assert_eq!(ids(&n), ["b", "c"]);
        assert_eq!(
            ids(&since(&pool, &n.end, 102).unwrap()),
            Vec::<String>::new()
        );
        assert_eq!(load_mark(pool.dir(), "s"), Some(mark));
    }

    /// A mark keeps its ids as one string; one saved in the older layout
    /// (an array of ids) is read as the same mark, finds its place after a
    /// rewrite as before, and the next mark is saved in the new layout.
    #[test]
    fn a_mark_in_the_old_layout_is_read_and_saved_anew() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        pool.append(&[entry("a", 100), entry("b", 100)], 100)
            .unwrap();
        let mark = mark_seen(&pool, "s", 100).unwrap();
        let saved = std::fs::read_to_string(mark_path(pool.dir(), "s")).unwrap();
        assert!(saved.contains(r#""seen":"b a ""#), "{saved}");
        assert!(!saved.contains(r#""ids""#), "{saved}");
        let tail = mark.tail.clone().unwrap();
        assert_eq!(tail.ids().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!((tail.first_id(), tail.len()), (Some("b"), 2));
        let old = format!(
            r#"{{"ino":{},"offset":{},"ts":{},"tail":{{"at":100,"ids":["b","a"],"last":{}}}}}"#,
            mark.ino,
            mark.offset,
            mark.ts,
            tail.last.unwrap()
        );
        std::fs::write(mark_path(pool.dir(), "s"), old).unwrap();
        let loaded = load_mark(pool.dir(), "s").unwrap();
        assert_eq!(loaded, mark);
        // c is appended in the same second, then the log is rewritten (a
        // new inode): only c is news.
        pool.append(&[entry("c", 100)], 100).unwrap();
        let path = pool.log_path();
        let text = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, text).unwrap();
        let n = since(&pool, &loaded, 101).unwrap();
        assert_eq!(ids(&n), ["c"]);
        save_mark(pool.dir(), "s", &n.end).unwrap();
        let saved = std::fs::read_to_string(mark_path(pool.dir(), "s")).unwrap();
        assert!(saved.contains(r#""seen":"c b a ""#), "{saved}");
        assert_eq!(load_mark(pool.dir(), "s"), Some(n.end));
    }

    /// A log replaced in place (the same inode, as a new file can get the
    /// old one's number) is noticed by the mark's last entry, and nothing
    /// appended after the mark is lost.
    #[test]
    fn a_log_replaced_under_the_same_inode_is_noticed() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        pool.append(&[entry("a", 100), entry("b", 100)], 100)
            .unwrap();
        let mark = mark_seen(&pool, "s", 100).unwrap();
        pool.append(&[entry("c", 100)], 100).unwrap();
        // The same lines, the first one shorter, rewritten in place: the
        // mark's offset now falls inside c's line.
        let path = pool.log_path();
        let text = std::fs::read_to_string(&path).unwrap();
        let shorter = text.replacen("\"topic a\"", "\"a\"", 1);
        assert!(shorter.len() > usize::try_from(mark.offset).unwrap());
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, shorter.as_bytes()))
            .unwrap();
        assert_eq!(fsio::path_key(&path).unwrap().ino, mark.ino);
        let n = since(&pool, &mark, 101).unwrap();
        assert_eq!(ids(&n), ["c"]);
    }
}
