//! Claims and recent edits: which files other live instances have claimed or
//! touched, and whether a path falls under one of them.
//!
//! An entry with ACTION `claimed` and AFFECTS (paths or globs, comma- or
//! space-separated) is an *open claim* until the same instance posts
//! `completed` or `released` with the same TOPIC (case-insensitive) or with
//! `REF: <claim id>`, or until it expires. Another instance's closer does
//! not close it; a person can, on purpose, with `pool release ID --force`,
//! which posts a `released` entry with `origin: "forced"` ([`FORCED`]). Files each instance edits are
//! recorded in `edits.log` (`timestamp<TAB>instance<TAB>session<TAB>path`),
//! outside the main log, by the PreToolUse hook.

use std::collections::HashSet;
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;

use crate::error::{Error, Result};
use crate::store::entry::Entry;
use crate::store::fsio::{self, RevLines};
use crate::store::log::{DEFAULT_TTL, ORDER_SLACK, Pool};

/// The `origin` of a `released` entry a person forced on another
/// instance's claim (`pool release ID --force`): it closes the claim its
/// `ref` names, whoever wrote it.
pub const FORCED: &str = "forced";

/// The edit log's file name.
pub const EDITS_LOG: &str = "edits.log";
/// How long an edit counts as recent, in seconds.
pub const RECENT_EDIT: i64 = 30 * 60;

/// An open claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claim entry's id.
    pub id: String,
    /// Who claimed.
    pub instance: String,
    /// The claiming session.
    pub session_id: String,
    /// What for.
    pub topic: String,
    /// Paths and globs claimed.
    pub patterns: Vec<String>,
    /// The claimer's working directory (relative patterns are under it).
    pub cwd: String,
    /// When (epoch seconds).
    pub timestamp: i64,
}

/// Splits AFFECTS into patterns.
pub fn patterns(affects: &str) -> Vec<String> {
    affects
        .split([',', ' ', '\n', ';'])
        .map(|p| p.trim().trim_matches('`').to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Open claims at `now`, newest first, reading the live window of the log.
pub fn open_claims(pool: &Pool, now: i64, default_ttl: u64) -> Result<Vec<Claim>> {
    let mut closers = Closers::default();
    let mut out = Vec::new();
    pool.scan_recent(now, default_ttl.max(DEFAULT_TTL), |e| {
        note_claim(&e, now, default_ttl, &mut closers, &mut out);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// The closers seen so far (newer than the claims still to come).
#[derive(Default)]
struct Closers {
    /// `(instance, topic)`, lowercased.
    topics: HashSet<(String, String)>,
    /// `(instance, claim id)`, the instance lowercased.
    refs: HashSet<(String, String)>,
    /// Claim ids a person released with `--force`.
    forced: HashSet<String>,
}

/// Whether `closer` (a `completed` or `released` entry) closes the claim
/// `claim_id` of `instance` on `topic`: the same instance with the same
/// topic or a REF to it, or anyone's forced release of it.
pub fn closes(closer: &Entry<'_>, claim_id: &str, instance: &str, topic: &str) -> bool {
    if !matches!(closer.action.as_ref(), "completed" | "released") {
        return false;
    }
    let by_ref = !closer.reference.is_empty() && closer.reference == claim_id;
    let same = closer.source_instance.eq_ignore_ascii_case(instance);
    (by_ref && closer.action == "released" && closer.origin == FORCED)
        || (same && (by_ref || closer.topic.trim().eq_ignore_ascii_case(topic.trim())))
}

fn note_claim(
    e: &Entry<'_>,
    now: i64,
    default_ttl: u64,
    closers: &mut Closers,
    out: &mut Vec<Claim>,
) {
    match e.action.as_ref() {
        "completed" | "released" => {
            let inst = e.source_instance.to_lowercase();
            closers
                .topics
                .insert((inst.clone(), e.topic.trim().to_lowercase()));
            if !e.reference.is_empty() {
                if e.action == "released" && e.origin == FORCED {
                    closers.forced.insert(e.reference.to_string());
                }
                closers.refs.insert((inst, e.reference.to_string()));
            }
        }
        "claimed" if e.is_live(now, default_ttl) && !e.affects.trim().is_empty() => {
            let inst = e.source_instance.to_lowercase();
            let key = (inst.clone(), e.topic.trim().to_lowercase());
            let closed = closers.topics.contains(&key)
                || closers.refs.contains(&(inst, e.id.to_string()))
                || closers.forced.contains(e.id.as_ref());
            if !closed {
                out.push(Claim {
                    id: e.id.to_string(),
                    instance: e.source_instance.to_string(),
                    session_id: e.session_id.to_string(),
                    topic: e.topic.to_string(),
                    patterns: patterns(&e.affects),
                    cwd: e.cwd.to_string(),
                    timestamp: e.timestamp,
                });
            }
        }
        _ => {}
    }
}

/// Gives each `completed` / `released` entry without its own TTL the
/// remaining lifetime of the open claim it closes ([`closes`]), when that
/// claim outlives the default window: otherwise the closer would expire
/// first and the claim would look open again.
pub fn extend_closers(
    pool: &Pool,
    entries: &mut [Entry<'_>],
    now: i64,
    default_ttl: u64,
) -> Result<()> {
    let extends =
        |e: &Entry<'_>| e.ttl.is_none() && matches!(e.action.as_ref(), "completed" | "released");
    if !entries.iter().any(extends) {
        return Ok(());
    }
    let open = open_claims_with_expiry(pool, now, default_ttl)?;
    for e in entries.iter_mut().filter(|e| extends(e)) {
        let until = open
            .iter()
            .filter(|(c, _)| closes(e, &c.id, &c.instance, &c.topic))
            .map(|(_, exp)| *exp)
            .max();
        if let Some(exp) = until {
            let left = u64::try_from(exp.saturating_sub(now)).unwrap_or(0);
            if left > default_ttl {
                e.ttl = Some(left);
            }
        }
    }
    Ok(())
}

fn open_claims_with_expiry(pool: &Pool, now: i64, default_ttl: u64) -> Result<Vec<(Claim, i64)>> {
    let mut expiry = std::collections::HashMap::new();
    pool.scan_recent(now, default_ttl.max(DEFAULT_TTL), |e| {
        if e.action == "claimed" {
            let ttl = i64::try_from(e.ttl_or(default_ttl)).unwrap_or(i64::MAX);
            expiry.insert(e.id.to_string(), e.timestamp.saturating_add(ttl));
        }
        ControlFlow::Continue(())
    })?;
    Ok(open_claims(pool, now, default_ttl)?
        .into_iter()
        .map(|c| {
            let exp = expiry.get(&c.id).copied().unwrap_or(now);
            (c, exp)
        })
        .collect())
}

/// Whether `target` (an absolute path, usually) falls under `pattern`, a path
/// or glob written relative to `cwd` (or absolute). A plain path matches
/// itself and everything under it; `*` and `?` match within one path
/// component, `**` across components. A relative pattern also matches when
/// the target merely ends with it (`src/auth.rs` matches
/// `/any/checkout/src/auth.rs`), since instances often work in different
/// worktrees of the same repository.
pub fn path_matches(pattern: &str, cwd: &str, target: &str) -> bool {
    let pattern = pattern.trim_end_matches('/');
    if pattern.is_empty() {
        return false;
    }
    let target = target.trim_end_matches('/');
    let absolute = if pattern.starts_with('/') {
        pattern.to_string()
    } else if !cwd.is_empty() {
        format!(
            "{}/{}",
            cwd.trim_end_matches('/'),
            pattern.trim_start_matches("./")
        )
    } else {
        String::new()
    };
    if !absolute.is_empty() && glob_or_prefix(&absolute, target) {
        return true;
    }
    if !pattern.starts_with('/') {
        let rel = pattern.trim_start_matches("./");
        // Match against every suffix of the target that starts at a component.
        let mut rest = target;
        while let Some(i) = rest.find('/') {
            rest = &rest[i + 1..];
            if glob_or_prefix(rel, rest) {
                return true;
            }
        }
    }
    false
}

fn glob_or_prefix(pattern: &str, path: &str) -> bool {
    if pattern.contains(['*', '?', '[']) {
        glob(pattern.as_bytes(), path.as_bytes())
    } else {
        path == pattern
            || (path.starts_with(pattern) && path.as_bytes().get(pattern.len()) == Some(&b'/'))
    }
}

/// A small glob: `**` crosses `/`, `*` and `?` do not; `[...]` is taken literally.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
            let rest = p[2..].strip_prefix(b"/").unwrap_or(&p[2..]);
            (0..=s.len()).any(|i| (i == 0 || s[i - 1] == b'/') && glob(rest, &s[i..]))
                || (0..=s.len()).any(|i| glob(&p[2..], &s[i..]))
        }
        (Some(b'*'), _) => {
            let mut i = 0;
            loop {
                if glob(&p[1..], &s[i..]) {
                    return true;
                }
                if i == s.len() || s[i] == b'/' {
                    return false;
                }
                i += 1;
            }
        }
        (Some(b'?'), Some(c)) if *c != b'/' => glob(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
        _ => false,
    }
}

/// One recorded edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// When (epoch seconds).
    pub timestamp: i64,
    /// Who.
    pub instance: String,
    /// Which session.
    pub session_id: String,
    /// The file.
    pub path: String,
}

/// Records that `instance` is editing `path`.
pub fn record_edit(
    pool_dir: &Path,
    now: i64,
    instance: &str,
    session: &str,
    path: &str,
) -> Result<()> {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let line = format!(
        "{now}\t{}\t{}\t{}\n",
        clean(instance),
        clean(session),
        clean(path)
    );
    let p = pool_dir.join(EDITS_LOG);
    let mut f = fsio::open_append(&p)?;
    f.write_all(line.as_bytes()).map_err(|e| Error::io(p, e))
}

/// Records edits of several files at once (a patch): one line each, all
/// in one write.
pub fn record_edits(
    pool_dir: &Path,
    now: i64,
    instance: &str,
    session: &str,
    paths: &[String],
) -> Result<()> {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let (instance, session) = (clean(instance), clean(session));
    let lines: String = paths
        .iter()
        .map(|path| format!("{now}\t{instance}\t{session}\t{}\n", clean(path)))
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    let p = pool_dir.join(EDITS_LOG);
    let mut f = fsio::open_append(&p)?;
    f.write_all(lines.as_bytes()).map_err(|e| Error::io(p, e))
}

/// Edits newer than `since`, newest first.
pub fn recent_edits(pool_dir: &Path, since: i64) -> Result<Vec<Edit>> {
    let p = pool_dir.join(EDITS_LOG);
    let f = match fsio::open_regular(&p) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(p, e)),
    };
    let len = f.metadata().map_err(|e| Error::io(&p, e))?.len();
    let mut rev = RevLines::new(&f, len);
    let mut out = Vec::new();
    while let Some((_, line)) = rev.next_line().map_err(|e| Error::io(&p, e))? {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let mut parts = line.splitn(4, '\t');
        let (Some(ts), Some(inst), Some(sess), Some(path)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(ts) = ts.parse::<i64>() else { continue };
        if ts < since - ORDER_SLACK {
            break;
        }
        if ts >= since {
            out.push(Edit {
                timestamp: ts,
                instance: inst.to_string(),
                session_id: sess.to_string(),
                path: path.to_string(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_globs() {
        assert!(path_matches("src/auth.rs", "/w/a", "/w/a/src/auth.rs"));
        assert!(
            path_matches("src/auth.rs", "/w/a", "/w/b/src/auth.rs"),
            "other worktree"
        );
        assert!(!path_matches("src/auth.rs", "/w/a", "/w/a/src/auth.rs.bak"));
        assert!(path_matches("src/auth", "/w/a", "/w/a/src/auth/token.rs"));
        assert!(path_matches("src/auth/", "", "/x/src/auth/token.rs"));
        assert!(!path_matches("src/au", "/w/a", "/w/a/src/auth/token.rs"));
        assert!(path_matches("src/*.rs", "/w/a", "/w/a/src/lib.rs"));
        assert!(!path_matches("src/*.rs", "/w/a", "/w/a/src/db/lib.rs"));
        assert!(path_matches(
            "src/**/*.rs",
            "/w/a",
            "/w/a/src/db/deep/lib.rs"
        ));
        assert!(path_matches("src/**/*.rs", "/w/a", "/w/a/src/lib.rs"));
        assert!(path_matches("/abs/file", "", "/abs/file"));
        assert!(!path_matches("/abs/file", "", "/other/abs/file"));
        assert!(!path_matches("", "/w", "/w/x"));
    }

    #[test]
    fn claims_close_by_topic_or_ref_and_expire() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 10_000;
        let e = |id: &str,
                 inst: &str,
                 action: &str,
                 topic: &str,
                 affects: &str,
                 reference: &str,
                 ts: i64| Entry {
            id: id.to_string().into(),
            timestamp: ts,
            source_instance: inst.to_string().into(),
            action: action.to_string().into(),
            topic: topic.to_string().into(),
            affects: affects.to_string().into(),
            reference: reference.to_string().into(),
            ..Entry::default()
        };
        pool.append(
            &[
                e("c4", "C", "claimed", "Old", "old/", "", now - 5000),
                e("c1", "B", "claimed", "Auth", "src/auth.rs", "", now - 100),
                e("c2", "B", "claimed", "DB", "src/db/", "", now - 90),
                e("c3", "C", "claimed", "UI", "ui/*.tsx", "", now - 80),
                e("d1", "B", "completed", "auth", "", "", now - 50),
                e("d2", "C", "released", "whatever", "", "c3", now - 40),
                e("d3", "A", "completed", "DB", "", "", now - 30),
                e("c5", "B", "claimed", "Cache", "src/cache.rs", "", now - 30),
                e("d4", "A", "released", "x", "", "c5", now - 20),
                e("c6", "B", "claimed", "Log", "src/log.rs", "", now - 30),
                Entry {
                    origin: FORCED.into(),
                    ..e("d5", "A", "released", "x", "", "c6", now - 10)
                },
            ],
            now - 10,
        )
        .unwrap();
        let open: Vec<String> = open_claims(&pool, now, 3600)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(
            open,
            ["c5", "c2"],
            "c1 closed by topic, c3 by ref, c4 expired, c6 forced; \
             A cannot close B's claims by topic (c2) or by ref (c5)"
        );
    }

    #[test]
    fn a_long_claim_stays_closed_after_its_closer_would_have_expired() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let t0 = 100_000;
        let claim = Entry {
            id: "c".into(),
            timestamp: t0,
            source_instance: "B".into(),
            action: "claimed".into(),
            topic: "Big refactor".into(),
            affects: "src/".into(),
            ttl: Some(8 * 3600),
            ..Entry::default()
        };
        pool.append(&[claim], t0).unwrap();
        let mut closer = vec![Entry {
            id: "d".into(),
            timestamp: t0 + 3600,
            source_instance: "B".into(),
            action: "completed".into(),
            topic: "big refactor".into(),
            ..Entry::default()
        }];
        extend_closers(&pool, &mut closer, t0 + 3600, 3600).unwrap();
        assert_eq!(closer[0].ttl, Some(7 * 3600));
        pool.append(&closer, t0 + 3600).unwrap();
        // Five hours later the closer is still seen: the claim stays closed.
        assert!(open_claims(&pool, t0 + 5 * 3600, 3600).unwrap().is_empty());
    }

    #[test]
    fn edits_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        record_edit(tmp.path(), 100, "A", "s1", "/w/a.rs").unwrap();
        record_edit(tmp.path(), 5000, "B", "s\t2", "/w/b.rs").unwrap();
        let got = recent_edits(tmp.path(), 1000).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].instance, "B");
        assert_eq!(got[0].session_id, "s 2");
    }
}
