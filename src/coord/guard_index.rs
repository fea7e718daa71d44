//! The guard's index (issue 24): open claims and recent edits filed by
//! path, so the guard's check of one file reads the few records that can
//! concern it, not every claim and edit of the team's window.
//!
//! Two files under `<pool>/guard/`: `claims-<scope>.idx` holds the open
//! claims of one repository as [`claims::open_claims_in`] finds them, and
//! `edits.idx` the edits of the last [`RECENT_EDIT`]. Both are derived data,
//! never a source. Each names the file it was built from (device, inode,
//! length and a hash of the bytes before that length) and is used only while
//! that file is the same file, grown by appends: the lines appended since
//! (the tail) are read directly, newest first, and their closers applied to
//! the indexed claims. A missing, unreadable, corrupt or stale index
//! (another file, a shorter one, a rewrite by `pool gc` or `pool doctor
//! --repair`, a tail over [`MAX_TAIL`], older than [`REBUILD_AGE`], another
//! TTL) is rebuilt from the log by whoever needs it and replaced atomically;
//! failing to write it costs only speed.
//!
//! Layout: one header line (JSON), a table of `buckets + 1` bucket offsets
//! (u64, little endian) into the records, then the records, one line each
//! (`key<TAB>json`), grouped by bucket. Bucket 0 holds the globs without a
//! plain component (`**/*.rs`), read on every lookup; other patterns are
//! filed under [`claims::index_key`] and edits under [`claims::edit_keys`],
//! hashed into the other buckets, and a lookup reads the buckets of
//! [`claims::target_keys`]. What a lookup returns is a superset of the
//! claims and edits that concern its targets; the guard's matchers decide.
//!
//! A rebuild is bounded: it reads at most [`MAX_WALK`] lines of the log's
//! window and keeps at most [`MAX_CLAIMS`] claims and [`MAX_EDITS`] edits,
//! newest first, and says in the index what it left out ([`Found::left_out`]).

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::coord::claims::{
    self, Claim, ClaimWalk, EDITS_LOG, EDITS_OLD, Edit, IndexKey, RECENT_EDIT,
};
use crate::env::repo::{Repo, Scope};
use crate::env::spelling::fold;
use crate::error::{Error, Result};
use crate::store::fsio::{self, RevLines};
use crate::store::log::{DEFAULT_TTL, ORDER_SLACK, Pool, Walk};

/// The folder of the guard's index files, in the pool folder.
pub const INDEX_DIR: &str = "guard";
/// The edits' index file name.
pub const EDITS_INDEX: &str = "edits.idx";
/// Format version written in each header.
const VERSION: u32 = 2;
/// Most bytes appended to a source since its index was built that a lookup
/// reads itself; past this the index is rebuilt (64 KiB: about 150 entries,
/// which cost a lookup up to about 2 M instructions to parse; at 256 KiB a
/// busy team's guard paid up to 12 M on every call between rebuilds, and
/// 5 M on each call after another machine's 250 entries arrived).
pub const MAX_TAIL: u64 = 64 * 1024;
/// Oldest an index may be before it is rebuilt, in seconds (5 minutes).
pub const REBUILD_AGE: i64 = 5 * 60;
/// Most lines of the log's window a rebuild reads (newest first).
pub const MAX_WALK: u64 = 50_000;
/// Most open claims a rebuild keeps (newest first).
pub const MAX_CLAIMS: usize = 20_000;
/// Most edits a rebuild keeps (newest first).
pub const MAX_EDITS: usize = 50_000;
/// Bytes hashed before a source's indexed length, to tell an append from a
/// rewrite of the same length or longer.
const SUM_BYTES: u64 = 256;
/// Largest header line read, in bytes.
const MAX_HEADER: usize = 4096;
/// Most buckets of one index.
const MAX_BUCKETS: u64 = 1 << 16;
/// Most bytes read from one bucket (8 MiB): a larger one is corrupt.
const MAX_BUCKET: u64 = 8 * 1024 * 1024;
/// The key of bucket 0's records (glob claims).
const GLOB_KEY: &str = "*";

/// What a lookup found for a set of targets.
#[derive(Debug, Default)]
pub struct Found {
    /// Open claims that may cover a target, newest first.
    pub claims: Vec<Claim>,
    /// Recent edits that may be of a target, newest first.
    pub edits: Vec<Edit>,
    /// What the last rebuild left out, in words (empty: nothing).
    pub left_out: Vec<String>,
    /// Whether this lookup rebuilt an index (and so should report
    /// [`Found::left_out`] in the error log).
    pub rebuilt: bool,
}

/// Identity and length of a file an index was built from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Source {
    dev: u64,
    ino: u64,
    len: u64,
    /// Hash of the [`SUM_BYTES`] bytes before `len`.
    sum: u64,
    /// Hash of the first [`SUM_BYTES`] bytes (a rewrite drops old lines).
    head: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Header {
    v: u32,
    kind: String,
    scope: String,
    ttl: u64,
    built: i64,
    sources: Vec<Source>,
    buckets: u64,
    #[serde(default)]
    left_out: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ClaimRec {
    n: u64,
    exp: i64,
    id: String,
    instance: String,
    session: String,
    topic: String,
    patterns: Vec<String>,
    #[serde(default)]
    unenforced: Vec<String>,
    cwd: String,
    repo: String,
    ts: i64,
    source: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    host: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct EditRec {
    n: u64,
    ts: i64,
    instance: String,
    session: String,
    path: String,
    repo: String,
    rel: String,
}

/// The open claims and recent edits that may concern `targets` (absolute
/// paths) for a session in `here` at `now`, by the index, rebuilding it
/// when it is missing or stale. Fails only when the log or the edit log
/// cannot be read.
pub fn lookup(
    pool: &Pool,
    now: i64,
    default_ttl: u64,
    here: &Repo,
    targets: &[String],
) -> Result<Found> {
    // Keys are filed and looked up case-folded, whatever the file system:
    // folding only adds candidates, and the matchers decide (a caseless
    // repository's `SRC/AUTH.RS` finds the claim filed under `auth.rs`).
    let mut folded: Vec<String> = targets
        .iter()
        .flat_map(|t| claims::target_keys(t, here))
        .map(|k| fold(k, true).into_owned())
        .collect();
    folded.sort_unstable();
    folded.dedup();
    let keys: Vec<&str> = folded.iter().map(String::as_str).collect();
    let mut found = Found::default();
    claims_for(pool, now, default_ttl, here, &keys, &mut found)?;
    edits_for(pool.dir(), now, &keys, &mut found)?;
    Ok(found)
}

fn index_dir(pool_dir: &Path) -> PathBuf {
    pool_dir.join(INDEX_DIR)
}

/// FNV-1a, 64 bits: a stable hash for bucket numbers and file names.
fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn bucket_of(key: &str, buckets: u64) -> u64 {
    if key == GLOB_KEY || buckets < 2 {
        0
    } else {
        1 + fnv(key.as_bytes()) % (buckets - 1)
    }
}

/// The identity of the file at `path` now: all zero when it is missing.
fn source_of(path: &Path) -> Result<(Source, Option<File>)> {
    let f = match fsio::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Source::default(), None)),
        Err(e) => return Err(Error::io(path, e)),
    };
    let key = fsio::file_key(&f).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let sum = sum_before(&f, len).map_err(|e| Error::io(path, e))?;
    let head = sum_before(&f, len.min(SUM_BYTES)).map_err(|e| Error::io(path, e))?;
    Ok((
        Source {
            dev: key.dev,
            ino: key.ino,
            len,
            sum,
            head,
        },
        Some(f),
    ))
}

/// The hash of the [`SUM_BYTES`] bytes before `len`.
fn sum_before(f: &File, len: u64) -> io::Result<u64> {
    let start = len.saturating_sub(SUM_BYTES);
    let mut buf = vec![0u8; (len - start) as usize];
    fsio::read_exact_at(f, &mut buf, start)?;
    Ok(fnv(&buf))
}

/// Whether `file` (now `cur`) is the file `was` described, grown by
/// appends, by no more than [`MAX_TAIL`]: the same file (a rewrite by
/// rename is another), no shorter, with the same first bytes and the same
/// bytes before the indexed length (an in-place rewrite that keeps both
/// goes unseen until [`REBUILD_AGE`]). A file missing at the build and
/// there now has grown from nothing: all of it is the tail (after `pool gc`
/// moves the edit log aside, the next edit starts a new one; at 1,000
/// instances the call after that paid a rebuild of 600 M instructions).
fn grown(was: &Source, cur: &Source, file: Option<&File>) -> bool {
    if *was == Source::default() {
        return cur.len <= MAX_TAIL;
    }
    if (was.dev, was.ino) != (cur.dev, cur.ino) || cur.len < was.len {
        return false;
    }
    if was.len >= SUM_BYTES && cur.head != was.head {
        return false;
    }
    if cur.len - was.len > MAX_TAIL {
        return false;
    }
    if cur.len == was.len {
        return cur.sum == was.sum;
    }
    match file {
        Some(f) => sum_before(f, was.len).is_ok_and(|s| s == was.sum),
        None => was.len == 0,
    }
}

/// An index file opened for lookups.
struct Index {
    file: File,
    header: Header,
    table_at: u64,
    data_at: u64,
}

impl Index {
    /// Opens and checks the index at `path`: `None` when it is missing or
    /// not one (a corrupt index is rebuilt, never read).
    fn open(path: &Path) -> Option<Index> {
        let file = fsio::open_regular(path).ok()?;
        let len = file.metadata().ok()?.len();
        let mut head = vec![0u8; MAX_HEADER.min(len as usize)];
        let n = fsio::read_at(&file, &mut head, 0).ok()?;
        let end = memchr::memchr(b'\n', &head[..n])?;
        let header: Header = serde_json::from_slice(&head[..end]).ok()?;
        if header.v != VERSION || header.buckets == 0 || header.buckets > MAX_BUCKETS {
            return None;
        }
        let table_at = end as u64 + 1;
        let data_at = table_at + 8 * (header.buckets + 1);
        let idx = Index {
            file,
            header,
            table_at,
            data_at,
        };
        // The last offset is the records' length: a cut file is not used.
        let total = idx.offset(idx.header.buckets)?;
        (idx.data_at.checked_add(total)? == len).then_some(idx)
    }

    fn offset(&self, i: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        fsio::read_exact_at(&self.file, &mut b, self.table_at + 8 * i).ok()?;
        Some(u64::from_le_bytes(b))
    }

    /// The JSON of the records filed under `keys` (and bucket 0's globs
    /// when `globs`); `None` when the index turns out corrupt.
    fn records(&self, keys: &[&str], globs: bool) -> Option<Vec<Vec<u8>>> {
        let mut buckets: Vec<u64> = keys
            .iter()
            .map(|k| bucket_of(k, self.header.buckets))
            .collect();
        if globs {
            buckets.push(0);
        }
        buckets.sort_unstable();
        buckets.dedup();
        let mut out = Vec::new();
        for b in buckets {
            let (start, end) = (self.offset(b)?, self.offset(b + 1)?);
            if end < start || end - start > MAX_BUCKET {
                return None;
            }
            let mut buf = vec![0u8; (end - start) as usize];
            fsio::read_exact_at(&self.file, &mut buf, self.data_at + start).ok()?;
            for line in buf.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
                let tab = memchr::memchr(b'\t', line)?;
                let key = &line[..tab];
                let wanted = if b == 0 {
                    key == GLOB_KEY.as_bytes()
                } else {
                    keys.iter().any(|k| k.as_bytes() == key)
                };
                if wanted {
                    out.push(line[tab + 1..].to_vec());
                }
            }
        }
        Some(out)
    }
}

/// Writes an index: `records` are `(key, json)` pairs, the JSON by its
/// number in `jsons` (a record filed under several keys is held once), in
/// the order lookups should return them. The file's bytes are built in one
/// buffer, sized first, so a rebuild at its bounds holds the records once
/// more, not three times. A failure is reported, never fatal to the caller.
fn write_index(
    path: &Path,
    mut header: Header,
    jsons: &[String],
    records: &[(String, usize)],
) -> Result<()> {
    let buckets = (records.len() as u64 / 2)
        .next_power_of_two()
        .clamp(16, MAX_BUCKETS);
    header.buckets = buckets;
    let mut by_bucket: Vec<Vec<u32>> = vec![Vec::new(); buckets as usize];
    for (i, (k, _)) in records.iter().enumerate() {
        by_bucket[bucket_of(k, buckets) as usize].push(i as u32);
    }
    let rec_len = |i: u32| {
        let (k, j) = &records[i as usize];
        k.len() + 2 + jsons.get(*j).map_or(0, String::len)
    };
    let data_len: usize = (0..records.len() as u32).map(rec_len).sum();
    let head = serde_json::to_string(&header).map_err(|e| Error::io(path, io::Error::other(e)))?;
    let table_len = 8 * (buckets as usize + 1);
    let mut bytes = Vec::with_capacity(head.len() + 1 + table_len + data_len);
    bytes.extend_from_slice(head.as_bytes());
    bytes.push(b'\n');
    let mut at = 0u64;
    for list in &by_bucket {
        bytes.extend_from_slice(&at.to_le_bytes());
        at += list.iter().map(|&i| rec_len(i) as u64).sum::<u64>();
    }
    bytes.extend_from_slice(&at.to_le_bytes());
    for list in &by_bucket {
        for &i in list {
            let (k, j) = &records[i as usize];
            bytes.extend_from_slice(k.as_bytes());
            bytes.push(b'\t');
            bytes.extend_from_slice(jsons.get(*j).map_or("", String::as_str).as_bytes());
            bytes.push(b'\n');
        }
    }
    drop(by_bucket);
    if let Some(dir) = path.parent() {
        fsio::ensure_private_dir(dir)?;
    }
    fsio::replace_file(path, &bytes, 0o600)
}

fn scope_name(here: &Repo) -> String {
    format!("{}\t{}", here.id, here.root.to_string_lossy())
}

fn claims_index_path(pool_dir: &Path, scope: &str) -> PathBuf {
    index_dir(pool_dir).join(format!("claims-{:016x}.idx", fnv(scope.as_bytes())))
}

fn claims_for(
    pool: &Pool,
    now: i64,
    default_ttl: u64,
    here: &Repo,
    keys: &[&str],
    found: &mut Found,
) -> Result<()> {
    let scope_str = scope_name(here);
    let scope = Scope::repo_only(here);
    let path = claims_index_path(pool.dir(), &scope_str);
    let (cur, log) = source_of(&pool.log_path())?;
    if let Some(idx) = Index::open(&path).filter(|i| {
        let h = &i.header;
        h.kind == "claims"
            && h.scope == scope_str
            && h.ttl == default_ttl
            && h.built <= now
            && now - h.built <= REBUILD_AGE
            && h.sources.len() == 1
            && grown(&h.sources[0], &cur, log.as_ref())
    }) && let Some(recs) = idx.records(keys, true)
    {
        // The tail, newest first, as a walk of the whole window would
        // see it; its closers apply to the older, indexed claims.
        let mut walk = ClaimWalk::default();
        if cur.len > idx.header.sources[0].len {
            pool.scan_tail(now, idx.header.sources[0].len, |e| {
                walk.note(&e, now, default_ttl, &scope);
                ControlFlow::Continue(())
            })?;
        }
        let mut older: Vec<ClaimRec> = Vec::with_capacity(recs.len());
        for r in recs {
            match serde_json::from_slice::<ClaimRec>(&r) {
                Ok(c) => older.push(c),
                Err(_) => {
                    return rebuild_claims(
                        pool,
                        now,
                        default_ttl,
                        (&scope, &scope_str),
                        (&path, keys),
                        found,
                    );
                }
            }
        }
        older.sort_by_key(|c| c.n);
        older.dedup_by_key(|c| c.n);
        let mut seen: HashSet<String> = walk.open.iter().map(|c| c.id.clone()).collect();
        found.claims.append(&mut walk.open);
        for r in older {
            if r.exp <= now || !seen.insert(r.id.clone()) {
                continue;
            }
            let c = Claim {
                id: r.id,
                instance: r.instance,
                session_id: r.session,
                topic: r.topic,
                patterns: r.patterns,
                cwd: r.cwd,
                repo: r.repo,
                timestamp: r.ts,
                source: r.source,
                host: r.host,
                unenforced: r.unenforced,
            };
            if !walk.closed(&c) {
                found.claims.push(c);
            }
        }
        found.left_out.extend(idx.header.left_out.iter().cloned());
        return Ok(());
    }
    rebuild_claims(
        pool,
        now,
        default_ttl,
        (&scope, &scope_str),
        (&path, keys),
        found,
    )
}

/// Walks the log's window (bounded) for the open claims in `scope`, writes
/// the index and hands every claim found to `found`.
fn rebuild_claims(
    pool: &Pool,
    now: i64,
    default_ttl: u64,
    (scope, scope_str): (&Scope, &str),
    (path, wanted): (&Path, &[&str]),
    found: &mut Found,
) -> Result<()> {
    // The source is taken before the walk: lines appended meanwhile are
    // read again as the tail, where a claim seen twice counts once.
    let (src, _) = source_of(&pool.log_path())?;
    let mut walk = ClaimWalk::default();
    let mut lines = 0u64;
    let mut cut = false;
    pool.scan_shown(now, default_ttl.max(DEFAULT_TTL), |e| {
        lines += 1;
        walk.note(&e, now, default_ttl, scope);
        if walk.open.len() >= MAX_CLAIMS || lines >= 2 * MAX_WALK {
            cut = true;
            return Walk::Stop;
        }
        if lines == MAX_WALK {
            // Enough of the log; the long-lived claims its index lists still count.
            cut = true;
            return Walk::SkipToIndex;
        }
        Walk::Continue
    })?;
    let mut left_out = Vec::new();
    if cut {
        left_out.push(format!(
            "the guard's index read only the newest {lines} entries of the window and kept \
             {} open claims (bounds: {MAX_WALK} entries, {MAX_CLAIMS} claims); older claims \
             were not checked",
            walk.open.len()
        ));
    }
    let mut jsons = Vec::with_capacity(walk.open.len());
    let mut records = Vec::new();
    // What this lookup hands on: the claims filed under its keys (and the
    // globs read on every lookup), not the whole window.
    let mut mine = vec![false; walk.open.len()];
    for (n, (c, exp)) in walk.open.iter().zip(&walk.expires).enumerate() {
        let rec = ClaimRec {
            n: n as u64,
            exp: *exp,
            id: c.id.clone(),
            instance: c.instance.clone(),
            session: c.session_id.clone(),
            topic: c.topic.clone(),
            patterns: c.patterns.clone(),
            unenforced: c.unenforced.clone(),
            cwd: c.cwd.clone(),
            repo: c.repo.clone(),
            ts: c.timestamp,
            source: c.source.clone(),
            host: c.host.clone(),
        };
        let Ok(json) = serde_json::to_string(&rec) else {
            continue;
        };
        let mut keys: Vec<&str> = Vec::new();
        for p in &c.patterns {
            match claims::index_key(c, p) {
                IndexKey::Never => {}
                IndexKey::Any => keys.push(GLOB_KEY),
                IndexKey::Key(k) => keys.push(k),
            }
        }
        keys.sort_unstable();
        keys.dedup();
        jsons.push(json);
        for k in keys {
            let k = fold(k, true).into_owned();
            mine[n] |= k == GLOB_KEY || wanted.contains(&k.as_str());
            records.push((k, jsons.len() - 1));
        }
    }
    let header = Header {
        v: VERSION,
        kind: "claims".into(),
        scope: scope_str.to_string(),
        ttl: default_ttl,
        built: now,
        sources: vec![src],
        buckets: 0,
        left_out: left_out.clone(),
    };
    // Derived data: a failed write costs speed, not an answer.
    let _ = write_index(path, header, &jsons, &records);
    drop((jsons, records));
    let mut keep = mine.into_iter();
    walk.open.retain(|_| keep.next().unwrap_or(false));
    found.claims.append(&mut walk.open);
    found.left_out.extend(left_out);
    found.rebuilt = true;
    Ok(())
}

fn edits_for(pool_dir: &Path, now: i64, keys: &[&str], found: &mut Found) -> Result<()> {
    let path = index_dir(pool_dir).join(EDITS_INDEX);
    let since = now - RECENT_EDIT;
    let (cur, log) = source_of(&pool_dir.join(EDITS_LOG))?;
    let (old, _) = source_of(&pool_dir.join(EDITS_OLD))?;
    if let Some(idx) = Index::open(&path).filter(|i| {
        let h = &i.header;
        h.kind == "edits"
            && h.built <= now
            && now - h.built <= REBUILD_AGE
            && h.sources.len() == 2
            && h.sources[1] == old
            && grown(&h.sources[0], &cur, log.as_ref())
    }) && let Some(recs) = idx.records(keys, false)
    {
        let from = idx.header.sources[0].len;
        let mut buf = Vec::new();
        if let Some(f) = log.as_ref().filter(|_| cur.len > from) {
            buf = vec![0u8; (cur.len - from) as usize];
            fsio::read_exact_at(f, &mut buf, from)
                .map_err(|e| Error::io(pool_dir.join(EDITS_LOG), e))?;
        }
        // A last line without its newline is still being written.
        let whole = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
        // The tail, newest first. Only the edits filed under a key looked
        // up are handed on, as from the index: the tail holds every file's
        // edits since the build. One session's repeated edits of a file are
        // handed on once, as its newest, as a rebuild files them (a session
        // editing one file in a loop appends a line per edit), and the
        // index's older record of such an edit is not. The tail can hold
        // hundreds of lines, read on every call until the next rebuild, so
        // lines are checked borrowed and only those handed on are copied,
        // and a line whose fields after its time are the bytes of the last
        // one kept or dropped as a repeat is a repeat too, told without
        // parsing or hashing it (the common case: a session's edits of the
        // file it is on).
        let mut shadowed: HashSet<EditKey<'_>> = HashSet::new();
        let mut last: Option<&[u8]> = None;
        let mut end = whole;
        while end > 0 {
            let start = memchr::memrchr(b'\n', &buf[..end - 1]).map_or(0, |i| i + 1);
            let line = &buf[start..end - 1];
            end = start;
            let rest = memchr::memchr(b'\t', line).map(|i| &line[i..]);
            if rest.is_some() && rest == last {
                continue;
            }
            let Some(e) = claims::EditLine::parse(line) else {
                continue;
            };
            if e.timestamp < since
                || !e
                    .keys()
                    .into_iter()
                    .any(|k| keys.contains(&fold(k, true).as_ref()))
            {
                continue;
            }
            last = rest;
            if shadowed.insert((e.instance, e.session_id, e.path, e.repo, e.rel)) {
                found.edits.push(e.to_edit());
            }
        }
        let mut older: Vec<EditRec> = Vec::with_capacity(recs.len());
        for r in recs {
            match serde_json::from_slice::<EditRec>(&r) {
                Ok(e) => older.push(e),
                Err(_) => return rebuild_edits(pool_dir, now, (&path, keys), found),
            }
        }
        older.sort_by_key(|e| e.n);
        older.dedup_by_key(|e| e.n);
        found.edits.extend(
            older
                .into_iter()
                .filter(|r| r.ts >= since)
                .filter(|r| shadowed.is_empty() || !shadowed.contains(&r.key()))
                .map(|r| Edit {
                    timestamp: r.ts,
                    instance: r.instance,
                    session_id: r.session,
                    path: r.path,
                    repo: r.repo,
                    rel: r.rel,
                    // The guard orders nothing by position (automatic entries
                    // read edits.log itself).
                    at: (0, 0),
                }),
        );
        found.left_out.extend(idx.header.left_out.iter().cloned());
        return Ok(());
    }
    rebuild_edits(pool_dir, now, (&path, keys), found)
}

/// What tells one session's edits of one file from another's: the fields
/// a rebuild files an edit once by (instance, session, path, repository
/// root, relative path).
type EditKey<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);

impl EditRec {
    /// The [`EditKey`] of the edit this record files.
    fn key(&self) -> EditKey<'_> {
        (
            &self.instance,
            &self.session,
            &self.path,
            &self.repo,
            &self.rel,
        )
    }
}

/// Reads the edits of the last [`RECENT_EDIT`] (bounded), writes the index
/// and hands every edit found to `found`.
fn rebuild_edits(
    pool_dir: &Path,
    now: i64,
    (path, wanted): (&Path, &[&str]),
    found: &mut Found,
) -> Result<()> {
    let (cur, _) = source_of(&pool_dir.join(EDITS_LOG))?;
    let (old, _) = source_of(&pool_dir.join(EDITS_OLD))?;
    let (mut edits, cut) = recent_edits_bounded(pool_dir, now - RECENT_EDIT, MAX_EDITS)?;
    let mut left_out = Vec::new();
    if cut {
        left_out.push(format!(
            "the guard's index kept only the newest {MAX_EDITS} edits of the last {} minutes; \
             older edits were not checked",
            RECENT_EDIT / 60
        ));
    }
    let mut jsons = Vec::with_capacity(edits.len());
    let mut records = Vec::new();
    let mut mine = vec![false; edits.len()];
    // The guard names each other instance's newest edit of a file, so one
    // session's older edits of the same file are not filed: a session that
    // edits one file fifty times leaves one record, not fifty for every
    // check of that file to parse (edits are newest first).
    let mut filed = HashSet::new();
    for (n, e) in edits.iter().enumerate() {
        if !filed.insert((
            e.instance.as_str(),
            e.session_id.as_str(),
            e.path.as_str(),
            e.repo.as_str(),
            e.rel.as_str(),
        )) {
            continue;
        }
        let rec = EditRec {
            n: n as u64,
            ts: e.timestamp,
            instance: e.instance.clone(),
            session: e.session_id.clone(),
            path: e.path.clone(),
            repo: e.repo.clone(),
            rel: e.rel.clone(),
        };
        let Ok(json) = serde_json::to_string(&rec) else {
            continue;
        };
        jsons.push(json);
        for k in claims::edit_keys(e) {
            let k = fold(k, true).into_owned();
            mine[n] |= wanted.contains(&k.as_str());
            records.push((k, jsons.len() - 1));
        }
    }
    let header = Header {
        v: VERSION,
        kind: "edits".into(),
        scope: String::new(),
        ttl: 0,
        built: now,
        sources: vec![cur, old],
        buckets: 0,
        left_out: left_out.clone(),
    };
    let _ = write_index(path, header, &jsons, &records);
    drop((jsons, records, filed));
    let mut keep = mine.into_iter();
    edits.retain(|_| keep.next().unwrap_or(false));
    found.edits.append(&mut edits);
    found.left_out.extend(left_out);
    found.rebuilt = true;
    Ok(())
}

/// [`claims::recent_edits`], stopping at `max` edits; says whether it did.
fn recent_edits_bounded(pool_dir: &Path, since: i64, max: usize) -> Result<(Vec<Edit>, bool)> {
    let mut out = Vec::new();
    for name in [EDITS_LOG, EDITS_OLD] {
        let p = pool_dir.join(name);
        let f = match fsio::open_regular(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(p, e)),
        };
        let len = f.metadata().map_err(|e| Error::io(&p, e))?.len();
        let mut rev = RevLines::new(&f, len);
        while let Some((_, line)) = rev.next_line().map_err(|e| Error::io(&p, e))? {
            let Some(e) = claims::parse_edit(line) else {
                continue;
            };
            if e.timestamp < since - ORDER_SLACK {
                return Ok((out, false));
            }
            if e.timestamp >= since {
                if out.len() >= max {
                    return Ok((out, true));
                }
                out.push(e);
            }
        }
    }
    Ok((out, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entry::Entry;

    const NOW: i64 = 1_000_000;

    fn repo() -> Repo {
        Repo {
            id: "gh/x".into(),
            source: crate::env::repo::Source::Remote,
            root: "/w".into(),
            git_dir: None,
            aliases: Vec::new(),
            caseless: false,
        }
    }

    fn entry(
        id: &str,
        inst: &str,
        action: &str,
        topic: &str,
        affects: &str,
        ts: i64,
    ) -> Entry<'static> {
        Entry {
            id: id.to_string().into(),
            timestamp: ts,
            source_instance: inst.to_string().into(),
            session_id: format!("s-{inst}").into(),
            action: action.to_string().into(),
            topic: topic.to_string().into(),
            affects: affects.to_string().into(),
            repo: "gh/x".into(),
            cwd: "/w".into(),
            ..Entry::default()
        }
    }

    /// The ids of the claims the index finds covering `target`, as the guard matches them.
    fn covering(pool: &Pool, target: &str, now: i64) -> Vec<String> {
        let found = lookup(pool, now, 3600, &repo(), &[target.to_string()]).unwrap();
        found
            .claims
            .iter()
            .filter(|c| claims::claim_covers(c, target, &repo()).is_some())
            .map(|c| c.id.clone())
            .collect()
    }

    /// The same, by a walk of the whole window (the guard before the index).
    fn covering_by_walk(pool: &Pool, target: &str, now: i64) -> Vec<String> {
        claims::open_claims_in(pool, now, 3600, &Scope::repo_only(&repo()))
            .unwrap()
            .iter()
            .filter(|c| claims::claim_covers(c, target, &repo()).is_some())
            .map(|c| c.id.clone())
            .collect()
    }

    fn index_file(pool: &Pool) -> PathBuf {
        claims_index_path(pool.dir(), &scope_name(&repo()))
    }

    fn setup() -> (tempfile::TempDir, Pool) {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        pool.append(
            &[
                entry("c1", "B", "claimed", "Auth", "src/auth.rs", NOW - 100),
                entry("c2", "C", "claimed", "DB", "src/db/", NOW - 90),
                entry("c3", "D", "claimed", "All rust", "src/**/*.rs", NOW - 80),
                entry("c4", "E", "claimed", "Docs", "/w/docs/guide.md", NOW - 70),
                entry("c5", "F", "claimed", "Markdown", "**/*.md", NOW - 69),
                Entry {
                    cwd: "/w2".into(),
                    ..entry("c6", "G", "claimed", "Lib", "/w2/lib/**", NOW - 68)
                },
            ],
            NOW - 60,
        )
        .unwrap();
        (tmp, pool)
    }

    /// Where paths compare ignoring case (macOS, Windows), another spelling
    /// of a claimed file is found through the index, as the matchers find it.
    #[test]
    fn a_caseless_repository_finds_claims_under_any_case() {
        let (_t, pool) = setup();
        let caseless = Repo {
            caseless: true,
            ..repo()
        };
        let ids = |target: &str| -> Vec<String> {
            let found = lookup(&pool, NOW, 3600, &caseless, &[target.to_string()]).unwrap();
            found
                .claims
                .iter()
                .filter(|c| claims::claim_covers(c, target, &caseless).is_some())
                .map(|c| c.id.clone())
                .collect()
        };
        assert_eq!(ids("/w/SRC/AUTH.RS"), ["c3", "c1"]);
        assert_eq!(ids("/W/Src/Db/Schema.rs"), ["c3", "c2"]);
        // Exact where case matters.
        assert!(covering(&pool, "/w/SRC/AUTH.RS", NOW).is_empty());
    }

    #[test]
    fn the_index_finds_what_a_walk_of_the_window_finds() {
        let (_t, pool) = setup();
        for target in [
            "/w/src/auth.rs",
            "/w/src/db/schema.rs",
            "/w/src/lib.rs",
            "/w/docs/guide.md",
            "/w/README.md",
            "/w/lib/a/b.rs",
            "/w2/lib/x.rs",
            "/elsewhere/src/auth.rs",
        ] {
            let first = covering(&pool, target, NOW);
            assert!(index_file(&pool).exists());
            let second = covering(&pool, target, NOW);
            assert_eq!(first, covering_by_walk(&pool, target, NOW), "{target}");
            assert_eq!(second, first, "{target}, from the index");
        }
        assert_eq!(covering(&pool, "/w/src/auth.rs", NOW), ["c3", "c1"]);
        assert_eq!(covering(&pool, "/w/docs/guide.md", NOW), ["c5", "c4"]);
        assert_eq!(
            covering(&pool, "/w/lib/a/b.rs", NOW),
            ["c6"],
            "another worktree"
        );
        // Expired by the time of the lookup: gone without a rebuild.
        assert!(covering(&pool, "/w/src/auth.rs", NOW + 3600).is_empty());
    }

    #[test]
    fn an_append_after_the_build_is_read_from_the_tail() {
        let (_t, pool) = setup();
        assert_eq!(covering(&pool, "/w/src/cache.rs", NOW), ["c3"]);
        let built = std::fs::read(index_file(&pool)).unwrap();
        pool.append(
            &[entry(
                "c5",
                "F",
                "claimed",
                "Cache",
                "src/cache.rs",
                NOW - 5,
            )],
            NOW - 5,
        )
        .unwrap();
        assert_eq!(covering(&pool, "/w/src/cache.rs", NOW), ["c5", "c3"]);
        assert_eq!(
            std::fs::read(index_file(&pool)).unwrap(),
            built,
            "a small tail is read, the index kept"
        );
    }

    #[test]
    fn a_claim_released_after_the_build_is_honoured() {
        let (_t, pool) = setup();
        assert_eq!(covering(&pool, "/w/src/auth.rs", NOW), ["c3", "c1"]);
        assert_eq!(covering(&pool, "/w/src/db/x.rs", NOW), ["c3", "c2"]);
        let mut by_ref = entry("r1", "B", "released", "whatever", "", NOW - 4);
        by_ref.reference = "c1".into();
        pool.append(
            &[
                by_ref,
                // Another instance's closer does not close C's claim.
                entry("r2", "A", "completed", "DB", "", NOW - 3),
                entry("r3", "D", "completed", "all RUST", "", NOW - 2),
            ],
            NOW - 2,
        )
        .unwrap();
        assert!(covering(&pool, "/w/src/auth.rs", NOW).is_empty());
        assert_eq!(covering(&pool, "/w/src/db/x.rs", NOW), ["c2"]);
        assert_eq!(
            covering_by_walk(&pool, "/w/src/auth.rs", NOW),
            Vec::<String>::new()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_rewritten_log_rebuilds_the_index() {
        use std::os::unix::fs::FileExt;
        let (_t, pool) = setup();
        assert_eq!(covering(&pool, "/w/src/auth.rs", NOW), ["c3", "c1"]);
        // `pool gc` and `doctor --repair` replace the log by a rename.
        let kept: String = std::fs::read_to_string(pool.log_path())
            .unwrap()
            .lines()
            .filter(|l| !l.contains("\"c3\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let tmp = pool.dir().join("new.jsonl");
        std::fs::write(&tmp, &kept).unwrap();
        std::fs::rename(&tmp, pool.log_path()).unwrap();
        assert_eq!(covering(&pool, "/w/src/auth.rs", NOW), ["c1"]);
        // The same file rewritten in place, as long as before or longer,
        // its old lines dropped.
        let mut other: String = kept
            .lines()
            .filter(|l| !l.contains("\"c2\""))
            .map(|l| format!("{}\n", l.replace("\"c1\"", "\"c9\"")))
            .collect();
        other.push_str(&"\n".repeat(kept.len().saturating_sub(other.len())));
        std::fs::OpenOptions::new()
            .write(true)
            .open(pool.log_path())
            .unwrap()
            .write_all_at(other.as_bytes(), 0)
            .unwrap();
        assert_eq!(covering(&pool, "/w/src/auth.rs", NOW), ["c9"]);
    }

    #[test]
    fn a_corrupt_index_is_rebuilt() {
        let (_t, pool) = setup();
        assert_eq!(covering(&pool, "/w/src/auth.rs", NOW), ["c3", "c1"]);
        let path = index_file(&pool);
        let good = std::fs::read(&path).unwrap();
        let cases: Vec<Vec<u8>> = vec![
            b"garbage".to_vec(),
            good[..good.len() - 7].to_vec(),
            // Records that are not records, at the right length.
            {
                let mut b = good.clone();
                let n = b.len();
                for x in &mut b[n - 40..n - 1] {
                    *x = b'#';
                }
                b
            },
            Vec::new(),
        ];
        for bad in cases {
            std::fs::write(&path, &bad).unwrap();
            assert_eq!(covering(&pool, "/w/src/auth.rs", NOW), ["c3", "c1"]);
            assert_eq!(
                covering(&pool, "/w/src/auth.rs", NOW),
                ["c3", "c1"],
                "rebuilt and read again"
            );
        }
    }

    /// Edits appended since the index was built are read from the tail,
    /// and only those of the files looked up are handed on: the tail holds
    /// the whole team's edits since the build.
    #[test]
    fn the_tail_hands_on_only_the_edits_of_the_files_looked_up() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let here = repo();
        let t = NOW;
        claims::record_edit(dir, t - 100, "B", "sB", "/w/src/a.rs", &here).unwrap();
        let pool = Pool::open(dir.to_path_buf()).unwrap();
        let found =
            |now: i64| lookup(&pool, now, 3600, &here, &["/w/src/a.rs".to_string()]).unwrap();
        assert!(found(t).rebuilt);
        for i in 0..20 {
            claims::record_edit(dir, t + i, "C", "sC", &format!("/w/src/o{i}.rs"), &here).unwrap();
        }
        claims::record_edit(dir, t + 30, "D", "sD", "/w/src/a.rs", &here).unwrap();
        let f = found(t + 31);
        assert!(!f.rebuilt);
        let who: Vec<&str> = f.edits.iter().map(|e| e.instance.as_str()).collect();
        assert_eq!(who, ["D", "B"]);
    }

    /// A session editing a file in a loop after the build hands on one
    /// edit, its newest, and the index's older record of that session's
    /// edit of the file gives way to it; another session's edit stays.
    #[test]
    fn the_tails_repeated_edits_of_a_file_are_handed_on_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let here = repo();
        let t = NOW;
        claims::record_edit(dir, t - 100, "B", "sB", "/w/src/a.rs", &here).unwrap();
        claims::record_edit(dir, t - 90, "C", "sC", "/w/src/a.rs", &here).unwrap();
        let pool = Pool::open(dir.to_path_buf()).unwrap();
        let found =
            |now: i64| lookup(&pool, now, 3600, &here, &["/w/src/a.rs".to_string()]).unwrap();
        assert!(found(t).rebuilt);
        for i in 0..30 {
            claims::record_edit(dir, t + i, "B", "sB", "/w/src/a.rs", &here).unwrap();
        }
        let f = found(t + 31);
        assert!(!f.rebuilt);
        let got: Vec<(&str, i64)> = f
            .edits
            .iter()
            .map(|e| (e.instance.as_str(), e.timestamp))
            .collect();
        assert_eq!(got, [("B", t + 29), ("C", t - 90)]);
    }

    /// One session's repeated edits of a file are filed once, as its
    /// newest; other sessions' edits of it and its edits of other files
    /// are each kept.
    /// An edit log missing when the index was built (just moved aside by
    /// `pool gc`) and started since is read whole as the tail, not a
    /// reason to rebuild.
    #[test]
    fn an_edit_log_started_after_the_build_is_read_as_the_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let here = repo();
        let pool = Pool::open(dir.to_path_buf()).unwrap();
        let targets = ["/w/src/a.rs".to_string()];
        assert!(!dir.join(EDITS_LOG).exists());
        assert!(lookup(&pool, NOW, 3600, &here, &targets).unwrap().rebuilt);
        claims::record_edit(dir, NOW + 1, "B", "sB", "/w/src/a.rs", &here).unwrap();
        let f = lookup(&pool, NOW + 2, 3600, &here, &targets).unwrap();
        assert!(!f.rebuilt, "the new log is the tail");
        let got: Vec<&str> = f.edits.iter().map(|e| e.instance.as_str()).collect();
        assert_eq!(got, ["B"]);
    }

    /// The tail's shortcuts (borrowed lines, a repeat of the last line kept
    /// told by its bytes) hand on what a rebuild of the same edits does,
    /// however the sessions' edits interleave.
    #[test]
    fn the_tail_hands_on_what_a_rebuild_does() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let here = repo();
        let t = NOW;
        claims::record_edit(dir, t - 100, "B", "sB", "/w/src/a.rs", &here).unwrap();
        let pool = Pool::open(dir.to_path_buf()).unwrap();
        let targets = ["/w/src/a.rs".to_string()];
        // Looked up when the first 20 of the edits below are too old to count.
        let now = t + 20 + RECENT_EDIT;
        assert!(
            lookup(&pool, now - 10, 3600, &here, &targets)
                .unwrap()
                .rebuilt
        );
        let who = [
            ("B", "sB"),
            ("C", "sC"),
            ("B", "sB2"),
            ("D", "sD"),
            ("E", "sE"),
        ];
        for i in 0..60i64 {
            let (inst, sess) = who[(i * 7 % 11) as usize % who.len()];
            let file = if i % 5 == 0 {
                "/w/src/b.rs"
            } else {
                "/w/src/a.rs"
            };
            claims::record_edit(dir, t + i, inst, sess, file, &here).unwrap();
        }
        let key = |f: &Found| {
            let mut v: Vec<(String, String, String, i64)> = f
                .edits
                .iter()
                .map(|e| {
                    (
                        e.instance.clone(),
                        e.session_id.clone(),
                        e.path.clone(),
                        e.timestamp,
                    )
                })
                .collect();
            v.sort();
            v
        };
        let from_tail = lookup(&pool, now, 3600, &here, &targets).unwrap();
        assert!(!from_tail.rebuilt);
        std::fs::remove_dir_all(dir.join(INDEX_DIR)).unwrap();
        let rebuilt = lookup(&pool, now, 3600, &here, &targets).unwrap();
        assert!(rebuilt.rebuilt);
        assert_eq!(key(&from_tail), key(&rebuilt));
        assert_eq!(from_tail.edits.len(), 5, "one per session that edited a.rs");
    }

    #[test]
    fn a_sessions_repeated_edits_of_a_file_are_filed_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let here = repo();
        let t = NOW;
        for i in 0..50 {
            claims::record_edit(dir, t - 200 + i, "B", "sB", "/w/src/a.rs", &here).unwrap();
        }
        claims::record_edit(dir, t - 100, "C", "sC", "/w/src/a.rs", &here).unwrap();
        claims::record_edit(dir, t - 90, "B", "sB", "/w/src/b.rs", &here).unwrap();
        let pool = Pool::open(dir.to_path_buf()).unwrap();
        let of = |target: &str| -> Vec<(String, i64)> {
            lookup(&pool, t, 3600, &here, &[target.to_string()])
                .unwrap()
                .edits
                .iter()
                .filter(|e| e.is_of(target, &here))
                .map(|e| (e.instance.clone(), e.timestamp))
                .collect()
        };
        // The first lookup builds the index; the second reads it.
        of("/w/src/a.rs");
        let index = std::fs::read(dir.join(INDEX_DIR).join(EDITS_INDEX)).unwrap();
        let filed = index.windows(6).filter(|w| w == b"a.rs\t{").count();
        assert_eq!(filed, 2, "one record for B's 50 edits, one for C's");
        assert_eq!(
            of("/w/src/a.rs"),
            [("C".to_string(), t - 100), ("B".to_string(), t - 151)]
        );
        assert_eq!(of("/w/src/b.rs"), [("B".to_string(), t - 90)]);
    }

    #[test]
    fn edits_come_from_the_index_and_the_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let here = repo();
        let t = NOW;
        claims::record_edit(dir, t - 100, "B", "sB", "/w/src/a.rs", &here).unwrap();
        claims::record_edit(dir, t - RECENT_EDIT - 10, "C", "sC", "/w/src/a.rs", &here).unwrap();
        claims::record_edit(dir, t - 50, "D", "sD", "/w/src/b.rs", &here).unwrap();
        let pool = Pool::open(dir.to_path_buf()).unwrap();
        let of = |target: &str, now: i64| -> Vec<String> {
            lookup(&pool, now, 3600, &here, &[target.to_string()])
                .unwrap()
                .edits
                .iter()
                .filter(|e| e.is_of(target, &here))
                .map(|e| e.instance.clone())
                .collect()
        };
        assert_eq!(of("/w/src/a.rs", t), ["B"]);
        assert!(dir.join(INDEX_DIR).join(EDITS_INDEX).exists());
        claims::record_edit(dir, t + 1, "E", "sE", "/w/src/a.rs", &here).unwrap();
        assert_eq!(
            of("/w/src/a.rs", t + 2),
            ["E", "B"],
            "the tail, newest first"
        );
        // A rotation of the edit log rebuilds.
        claims::rotate_edits(dir, t + 2, 0).unwrap();
        claims::record_edit(dir, t + 3, "F", "sF", "/w/src/a.rs", &here).unwrap();
        assert_eq!(of("/w/src/a.rs", t + 4), ["F", "E", "B"]);
        assert_eq!(of("/w/src/a.rs", t + RECENT_EDIT), ["F", "E"]);
    }
}
