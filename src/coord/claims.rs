//! Claims and recent edits: which files other live instances have claimed or
//! touched, and whether a path falls under one of them.
//!
//! An entry with ACTION `claimed` and AFFECTS (paths or globs, comma- or
//! space-separated) is an *open claim* until the same instance posts
//! `completed` or `released` with the same TOPIC (case-insensitive) or with
//! `REF: <claim id>`, or until it expires. Another instance's closer does
//! not close it; a person can, on purpose, with `pool release ID --force`,
//! which posts a `released` entry with `origin: "forced"` ([`FORCED`]). Files
//! each instance edits are recorded in `edits.log`
//! (`timestamp<TAB>instance<TAB>session<TAB>path<TAB>repo<TAB>relative path`;
//! lines of earlier versions stop after `path`), outside the main log, by the
//! PreToolUse hook.
//!
//! An entry another machine sent (see `Entry::source`) acts only on entries
//! from the same source: its closers close only claims that came from
//! there, its forced releases too. Its whole-tree patterns (`**`, `*`, `/`,
//! [`whole_tree`]) are not enforced: kept in [`Claim::unenforced`], shown,
//! never matched.
//!
//! Paths never match across repositories. A claim or edit that carries a
//! repository id applies only in that repository, where relative AFFECTS and
//! recorded paths are relative to the repository's root, so they match in
//! every worktree of it. Claims and edits from before ids existed keep the
//! older rule: relative to the writer's `cwd`, or any path ending with them.
//! Where the file system ignores case ([`Repo::caseless`]: macOS, Windows),
//! paths and patterns are compared case-folded.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::ops::ControlFlow;
use std::path::Path;

use crate::env::repo::{Repo, Scope};
use crate::env::spelling::{fold, same};
use crate::error::{Error, Result};
use crate::store::entry::Entry;
use crate::store::fsio::{self, RevLines};
use crate::store::log::{DEFAULT_TTL, ORDER_SLACK, Pool, Walk};

/// The `origin` of a `released` entry a person forced on another
/// instance's claim (`pool release ID --force`): it closes the claim its
/// `ref` names, whoever wrote it.
pub const FORCED: &str = "forced";

/// The edit log's file name.
pub const EDITS_LOG: &str = "edits.log";
/// The previous generation of the edit log, read after [`EDITS_LOG`].
pub const EDITS_OLD: &str = "edits.log.1";
/// Size past which the edit log is rotated, in bytes (8 MiB).
pub const EDITS_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// Newest edit the previous generation may hold for a rotation to drop it,
/// as an age in seconds: twice [`RECENT_EDIT`], so no reader's window loses
/// an edit to a rotation. The two files together hold at most
/// [`EDITS_MAX_BYTES`] or this long's edits, whichever is more, each.
pub const EDITS_KEEP: i64 = 2 * RECENT_EDIT;
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
    /// The claimer's working directory.
    pub cwd: String,
    /// The claimer's repository id; empty for claims written before ids.
    pub repo: String,
    /// When (epoch seconds).
    pub timestamp: i64,
    /// Where the claim came from: `None` written here, else the sync
    /// source it was received from (`Entry::source`).
    pub source: Option<String>,
    /// The host the claim names (what its writer wrote; shown with
    /// `source` for a claim from another machine).
    pub host: String,
    /// Patterns of a claim from another machine that cover the whole tree
    /// ([`whole_tree`]): shown, never matched.
    pub unenforced: Vec<String>,
}

/// Whether a claim pattern covers a whole tree rather than some part of
/// it: no component names anything (`**`, `*`, `/`, `.`, `./**`, `*/*`),
/// or an absolute path with at most one named component (`/home/**`).
pub fn whole_tree(pattern: &str) -> bool {
    let named = pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != "." && !c.chars().all(|ch| matches!(ch, '*' | '?')))
        .count();
    named == 0 || (pattern.starts_with('/') && named <= 1)
}

/// Splits AFFECTS into patterns.
pub fn patterns(affects: &str) -> Vec<String> {
    affects
        .split([',', ' ', '\n', ';'])
        .map(|p| p.trim().trim_matches('`').to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Open claims at `now` in every repository, newest first, reading the live
/// window of the log.
pub fn open_claims(pool: &Pool, now: i64, default_ttl: u64) -> Result<Vec<Claim>> {
    open_claims_in(pool, now, default_ttl, &Scope::All)
}

/// Open claims at `now` within `scope`, newest first. Closers outside the
/// scope still count when they name the claim (`REF`).
pub fn open_claims_in(
    pool: &Pool,
    now: i64,
    default_ttl: u64,
    scope: &Scope,
) -> Result<Vec<Claim>> {
    let mut walk = ClaimWalk::default();
    pool.scan_recent(now, default_ttl.max(DEFAULT_TTL), |e| {
        walk.note(&e, now, default_ttl, scope);
        ControlFlow::Continue(())
    })?;
    Ok(walk.open)
}

/// The state of a walk over the log newest first that finds open claims
/// ([`open_claims_in`]): the closers seen so far and the claims they left
/// open, with when each expires. The guard's index (`coord/guard_index.rs`)
/// walks the log's tail with one and applies its closers to the claims it
/// indexed earlier.
#[derive(Default)]
pub struct ClaimWalk {
    closers: Closers,
    /// The open claims found, newest first.
    pub open: Vec<Claim>,
    /// When each claim of [`ClaimWalk::open`] expires (epoch seconds), in the same order.
    pub expires: Vec<i64>,
}

impl ClaimWalk {
    /// Takes the next (older) entry of the walk: a closer is remembered, a
    /// claim it did not close and that is live at `now` is kept. Entries
    /// outside `scope` are skipped, except closers that name their claim.
    pub fn note(&mut self, e: &Entry<'_>, now: i64, default_ttl: u64, scope: &Scope) {
        if !scope.admits(&e.repo, &e.cwd) && (e.action == "claimed" || e.reference.is_empty()) {
            return;
        }
        let before = self.open.len();
        note_claim(e, now, default_ttl, &mut self.closers, &mut self.open);
        if self.open.len() > before {
            let ttl = i64::try_from(e.ttl_or(default_ttl)).unwrap_or(i64::MAX);
            self.expires.push(e.effective_time().saturating_add(ttl));
        }
    }

    /// Whether a closer this walk saw closes `c`, a claim older than
    /// every entry it walked (as [`closes`] decides).
    pub fn closed(&self, c: &Claim) -> bool {
        self.closers.close(
            c.source.as_deref().unwrap_or(""),
            &c.instance,
            &c.topic,
            &c.id,
        )
    }

    /// How many closers the walk remembers.
    pub fn closers(&self) -> usize {
        self.closers.len()
    }
}

/// Finds open claims while entries are visited newest first, one at a
/// time, so a reader can count and keep what it shows without building
/// every claim of the window ([`open_claims_in`] is this over a scan).
#[derive(Default)]
pub struct ClaimTracker {
    closers: Closers,
    found: Vec<Claim>,
}

impl ClaimTracker {
    /// Visits one entry (newest first); returns the open claim it makes,
    /// if it is one that no newer entry closed.
    pub fn visit(&mut self, e: &Entry<'_>, now: i64, default_ttl: u64) -> Option<Claim> {
        note_claim(e, now, default_ttl, &mut self.closers, &mut self.found);
        self.found.pop()
    }
}

/// Hands each open claim at `now` within `scope` to `f`, newest first, as
/// [`open_claims_in`] finds them, without keeping them: a reader that shows
/// a few and counts the rest costs what it keeps. Reads at most
/// `max_entries` entries of the log and as many of the long-TTL index;
/// returns the time it read back to when that cut it short.
pub fn each_open_claim_in(
    pool: &Pool,
    now: i64,
    default_ttl: u64,
    scope: &Scope,
    max_entries: usize,
    mut f: impl FnMut(Claim),
) -> Result<Option<i64>> {
    let mut tracker = ClaimTracker::default();
    let mut read = 0usize;
    let mut cut = None;
    pool.scan_shown(now, default_ttl.max(DEFAULT_TTL), |e| {
        read += 1;
        let walk = if read >= max_entries.saturating_mul(2) {
            Walk::Stop
        } else if read >= max_entries {
            Walk::SkipToIndex
        } else {
            Walk::Continue
        };
        if walk != Walk::Continue {
            cut.get_or_insert(e.order_time());
        }
        if !scope.admits(&e.repo, &e.cwd) && (e.action == "claimed" || e.reference.is_empty()) {
            return walk;
        }
        if let Some(c) = tracker.visit(&e, now, default_ttl) {
            f(c);
        }
        walk
    })?;
    Ok(cut)
}

/// The closers seen so far (newer than the claims still to come), each as
/// one [`closer_key`] of its parts, so a claim is checked by building a key
/// only for a set that holds any (issue 24: a team's 5,000 claims built
/// three tuples of three strings each).
#[derive(Default)]
struct Closers {
    /// `[source, instance, topic]`, the last two lowercased (the topic trimmed).
    topics: HashSet<String>,
    /// `[source, instance, claim id]`, the instance lowercased.
    refs: HashSet<String>,
    /// `[source, claim id]` a person released with `--force`.
    forced: HashSet<String>,
}

/// `s` lowercased, as the closers compare names and topics.
fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// One key of `parts`: each after its length and a colon, so no two lists
/// of parts make the same key (a name may hold any character).
fn closer_key(parts: &[&str]) -> String {
    let mut k = String::with_capacity(parts.iter().map(|p| p.len() + 8).sum());
    for p in parts {
        k.push_str(&p.len().to_string());
        k.push(':');
        k.push_str(p);
    }
    k
}

impl Closers {
    /// Remembers a `completed` or `released` entry.
    fn note(&mut self, e: &Entry<'_>) {
        let src = e.source().unwrap_or("");
        let inst = lower(&e.source_instance);
        self.topics
            .insert(closer_key(&[src, &inst, &lower(e.topic.trim())]));
        if !e.reference.is_empty() {
            if e.action == "released" && e.origin == FORCED {
                self.forced.insert(closer_key(&[src, &e.reference]));
            }
            self.refs.insert(closer_key(&[src, &inst, &e.reference]));
        }
    }

    /// Whether a closer remembered closes the claim `id` of `instance` on
    /// `topic` from `src` (empty: written here).
    fn close(&self, src: &str, instance: &str, topic: &str, id: &str) -> bool {
        if self.topics.is_empty() && self.refs.is_empty() && self.forced.is_empty() {
            return false;
        }
        let inst = lower(instance);
        (!self.topics.is_empty()
            && self
                .topics
                .contains(&closer_key(&[src, &inst, &lower(topic.trim())])))
            || (!self.refs.is_empty() && self.refs.contains(&closer_key(&[src, &inst, id])))
            || (!self.forced.is_empty() && self.forced.contains(&closer_key(&[src, id])))
    }

    fn len(&self) -> usize {
        self.topics.len() + self.refs.len() + self.forced.len()
    }
}

/// Whether `closer` (a `completed` or `released` entry) closes the claim
/// `claim_id` of `instance` on `topic` from `source` (`None`: written
/// here): the same instance with the same topic or a REF to it, or anyone's
/// forced release of it, from the same source.
pub fn closes(
    closer: &Entry<'_>,
    claim_id: &str,
    instance: &str,
    topic: &str,
    source: Option<&str>,
) -> bool {
    if !matches!(closer.action.as_ref(), "completed" | "released") || closer.source() != source {
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
        "completed" | "released" => closers.note(e),
        "claimed" if e.is_live(now, default_ttl) && !e.affects.trim().is_empty() => {
            let closed = closers.close(
                e.source().unwrap_or(""),
                &e.source_instance,
                &e.topic,
                &e.id,
            );
            if !closed {
                let source = e.source().map(str::to_string);
                let (unenforced, patterns): (Vec<String>, Vec<String>) = patterns(&e.affects)
                    .into_iter()
                    .partition(|p| source.is_some() && whole_tree(p));
                out.push(Claim {
                    id: e.id.to_string(),
                    instance: e.source_instance.to_string(),
                    session_id: e.session_id.to_string(),
                    topic: e.topic.to_string(),
                    patterns,
                    cwd: e.cwd.to_string(),
                    repo: e.repo.to_string(),
                    timestamp: e.timestamp,
                    source,
                    host: e.host.to_string(),
                    unenforced,
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
            .filter(|(c, _)| closes(e, &c.id, &c.instance, &c.topic, c.source.as_deref()))
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
            // From when it reached this machine, not its own timestamp: a
            // claim dated in the future must not lend its closer a longer life.
            expiry.insert(e.id.to_string(), e.effective_time().saturating_add(ttl));
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

/// The pattern of claim `c` that covers `target` (an absolute path) for a
/// session in `here`, if any. A claim with a repository id covers only
/// targets in that repository: relative patterns are relative to its root
/// (`src/auth.rs` covers `src/auth.rs` in every worktree, not
/// `vendor/src/auth.rs`); an absolute pattern covers itself, and, when it lies
/// in the claimer's working directory, the same place in every worktree.
/// Claims without an id match as [`path_matches`] says. Where paths compare
/// ignoring case ([`Repo::caseless`]), patterns and paths are folded first.
pub fn claim_covers<'c>(c: &'c Claim, target: &str, here: &Repo) -> Option<&'c str> {
    if !c.repo.is_empty() && c.repo != here.id {
        return None;
    }
    let caseless = here.caseless;
    let target = fold(target, caseless);
    let rel = here.relative(&target).map(|r| fold(r, caseless));
    let cwd = fold(&c.cwd, caseless);
    c.patterns
        .iter()
        .find(|p| {
            pattern_covers(
                &fold(p, caseless),
                &cwd,
                c.repo.is_empty(),
                &target,
                rel.as_deref(),
            )
        })
        .map(String::as_str)
}

/// Whether one claim pattern `p` (written in `cwd`; `legacy` for a claim
/// without a repository id) covers `target`, whose form relative to the
/// repository is `rel`. All already folded where case is ignored.
fn pattern_covers(p: &str, cwd: &str, legacy: bool, target: &str, rel: Option<&str>) -> bool {
    if legacy {
        return path_matches(p, cwd, target);
    }
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        false
    } else if p.starts_with('/') {
        glob_or_prefix(p, target)
            || rel.is_some_and(|t| relative_to(p, cwd).is_some_and(|r| glob_or_prefix(r, t)))
    } else {
        rel.is_some_and(|t| glob_or_prefix(p.trim_start_matches("./"), t))
    }
}

/// Claims and recent edits indexed to check many paths at once (every file
/// of a patch, every file of a commit) in one pass: a plain pattern and a
/// recorded path are found by looking up each ancestor of the path in a
/// set, so a check costs the path's depth plus the claims' globs, not the
/// number of claims and edits. Answers as [`claim_covers`] and
/// [`Edit::is_of`] do, in the same order.
#[derive(Debug, Default)]
pub struct Index {
    /// Folded relative plain patterns (repository-relative) → (claim, pattern).
    by_rel: HashMap<String, Vec<(usize, usize)>>,
    /// Folded absolute plain patterns → (claim, pattern).
    by_abs: HashMap<String, Vec<(usize, usize)>>,
    /// Patterns checked one by one (globs, claims without a repository id):
    /// claim, pattern, the folded pattern and claimer's cwd, whether legacy.
    slow: Vec<(usize, usize, String, String, bool)>,
    /// Folded recorded path → edits.
    edit_path: HashMap<String, Vec<usize>>,
    /// Folded recorded relative path → edits in this repository.
    edit_rel: HashMap<String, Vec<usize>>,
}

impl Index {
    /// Indexes `claims` and `edits` for a session in `here`.
    pub fn new(claims: &[Claim], edits: &[Edit], here: &Repo) -> Index {
        let caseless = here.caseless;
        let mut ix = Index::default();
        for (ci, c) in claims.iter().enumerate() {
            let legacy = c.repo.is_empty();
            if !legacy && c.repo != here.id {
                continue;
            }
            let cwd = fold(&c.cwd, caseless).into_owned();
            for (pi, p) in c.patterns.iter().enumerate() {
                let p = fold(p, caseless);
                if legacy || p.contains(['*', '?', '[']) {
                    ix.slow.push((ci, pi, p.into_owned(), cwd.clone(), legacy));
                    continue;
                }
                let p = p.trim_end_matches('/');
                if p.is_empty() {
                    continue;
                }
                if p.starts_with('/') {
                    ix.by_abs.entry(p.to_string()).or_default().push((ci, pi));
                    if let Some(r) = relative_to(p, &cwd) {
                        ix.by_rel.entry(r.to_string()).or_default().push((ci, pi));
                    }
                } else {
                    let r = p.trim_start_matches("./").to_string();
                    ix.by_rel.entry(r).or_default().push((ci, pi));
                }
            }
        }
        for (ei, e) in edits.iter().enumerate() {
            let path = fold(&e.path, caseless).into_owned();
            ix.edit_path.entry(path).or_default().push(ei);
            if !e.repo.is_empty() && e.repo == here.id && !e.rel.is_empty() {
                let rel = fold(&e.rel, caseless).into_owned();
                ix.edit_rel.entry(rel).or_default().push(ei);
            }
        }
        ix
    }

    /// The claims covering `target` (absolute), each with its first
    /// covering pattern, in the order of `claims` (the slice indexed).
    pub fn claims_covering<'c>(
        &self,
        claims: &'c [Claim],
        target: &str,
        here: &Repo,
    ) -> Vec<(usize, &'c str)> {
        let target = fold(target, here.caseless);
        let rel = here.relative(&target);
        let mut hits: Vec<(usize, usize)> = Vec::new();
        for (map, path) in [(&self.by_rel, rel), (&self.by_abs, Some(target.as_ref()))] {
            let Some(path) = path else { continue };
            for key in ancestors(path) {
                if let Some(v) = map.get(key) {
                    hits.extend_from_slice(v);
                }
            }
        }
        for (ci, pi, p, cwd, legacy) in &self.slow {
            if pattern_covers(p, cwd, *legacy, &target, rel) {
                hits.push((*ci, *pi));
            }
        }
        hits.sort_unstable();
        hits.dedup_by_key(|(ci, _)| *ci);
        hits.into_iter()
            .filter_map(|(ci, pi)| Some((ci, claims.get(ci)?.patterns.get(pi)?.as_str())))
            .collect()
    }

    /// The edits of `target` (absolute), as indexes into the slice indexed, in order.
    pub fn edits_of(&self, target: &str, here: &Repo) -> Vec<usize> {
        let target = fold(target, here.caseless);
        let mut hits: Vec<usize> = self
            .edit_path
            .get(target.as_ref())
            .cloned()
            .unwrap_or_default();
        if let Some(v) = here.relative(&target).and_then(|r| self.edit_rel.get(r)) {
            hits.extend_from_slice(v);
        }
        hits.sort_unstable();
        hits.dedup();
        hits
    }
}

/// `path` and each of its prefixes that ends before a `/`, the keys under
/// which a plain pattern covering it is found.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(i, _)| &path[..i])
        .chain(std::iter::once(path))
}

/// Whether a claim pattern is a glob (`*`, `?` or `[`), which only a match can
/// test; a plain path is found by its last component ([`pattern_key`]).
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

/// The key under which the guard's index files a plain (not [`is_glob`])
/// pattern: its last path component, or `None` for a pattern that matches
/// nothing. Whenever [`claim_covers`] or [`path_matches`] finds a plain
/// pattern covering a target, this key is one of [`target_keys`] of that
/// target: a plain pattern matches only at component boundaries, so its
/// last component is a component of the target (or of the target relative
/// to the repository root). Keep the two in step with the matchers.
pub fn pattern_key(pattern: &str) -> Option<&str> {
    let p = pattern.trim_end_matches('/');
    if p.is_empty() {
        return None;
    }
    p.rsplit('/').next().filter(|k| !k.is_empty())
}

/// Where the guard's index files pattern `p` of claim `c`: under
/// [`pattern_key`] for a plain pattern; for a glob, under its last
/// component without a wildcard (`src/m3/**/*.rs`: `m3`), which is a whole
/// component of every path the glob matches (a `/` in a glob matches only
/// itself), taken from the part that is matched against the target's
/// relative path when the claim has a repository and the glob lies in its
/// `cwd`. `None` for a glob without such a component (`**/*.rs`), which
/// the index checks on every lookup; [`IndexKey::Never`] for a pattern that
/// matches nothing.
pub fn index_key<'p>(c: &Claim, p: &'p str) -> IndexKey<'p> {
    if !is_glob(p) {
        return pattern_key(p).map_or(IndexKey::Never, IndexKey::Key);
    }
    let p = p.trim_end_matches('/');
    if p.is_empty() {
        return IndexKey::Never;
    }
    let body = if !c.repo.is_empty() && p.starts_with('/') {
        relative_to(p, &c.cwd).unwrap_or(p)
    } else {
        p
    };
    body.split('/')
        .rfind(|s| !s.is_empty() && *s != "." && !s.contains(['*', '?']))
        .map_or(IndexKey::Any, IndexKey::Key)
}

/// See [`index_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKey<'p> {
    /// Matches nothing: not filed.
    Never,
    /// A glob without a plain component: checked on every lookup.
    Any,
    /// Filed under this component.
    Key(&'p str),
}

/// The keys of the guard's index a lookup of `target` (absolute) in `here`
/// reads: every component of the target and of its path relative to the
/// repository root. A superset of the [`pattern_key`] of every plain
/// pattern that covers it and of the [`edit_keys`] of every edit of it.
pub fn target_keys<'t>(target: &'t str, here: &Repo) -> Vec<&'t str> {
    let mut keys: Vec<&str> = target.split('/').filter(|c| !c.is_empty()).collect();
    if let Some(rel) = here.relative(target) {
        keys.extend(rel.split('/').filter(|c| !c.is_empty()));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The keys of the guard's index an edit is filed under: the last
/// component of its path and of its path relative to its root
/// ([`Edit::is_of`] matches one or the other exactly).
pub fn edit_keys(e: &Edit) -> Vec<&str> {
    edit_keys_of(&e.path, &e.rel)
}

/// [`edit_keys`] of an edit of `path` (`rel` under its root).
fn edit_keys_of<'e>(path: &'e str, rel: &'e str) -> Vec<&'e str> {
    fn last(p: &str) -> Option<&str> {
        p.trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|k| !k.is_empty())
    }
    let mut keys: Vec<&str> = [last(path), last(rel)].into_iter().flatten().collect();
    keys.dedup();
    keys
}

/// `path` relative to `dir` when it lies under it.
fn relative_to<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        return None;
    }
    path.strip_prefix(dir)?
        .strip_prefix('/')
        .filter(|r| !r.is_empty())
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
    /// The file, as the editor gave it (absolute).
    pub path: String,
    /// The editor's repository id; empty in lines of earlier versions.
    pub repo: String,
    /// The file relative to the editor's repository root; empty when it
    /// lies outside it.
    pub rel: String,
    /// Where its line was read: the edit log's inode and the line's offset,
    /// which order edits within one second ([`EditsEnd::has`]).
    pub at: (u64, u64),
}

/// The end of the edit log at one moment (a commit): every edit before it
/// was recorded earlier, every one after it later, whatever their seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EditsEnd {
    /// The log's inode.
    pub ino: u64,
    /// Its length.
    pub len: u64,
}

impl EditsEnd {
    /// The edit log's end now; `None` when there is none yet.
    pub fn now(pool_dir: &Path) -> Option<EditsEnd> {
        let p = pool_dir.join(EDITS_LOG);
        let m = std::fs::metadata(&p).ok()?;
        Some(EditsEnd {
            ino: fsio::path_key(&p).ok()?.ino,
            len: m.len(),
        })
    }

    /// Whether `edit` was recorded before this end: `None` when its line
    /// was read from another file (the log rotated since), so order by
    /// position cannot tell.
    pub fn has(&self, edit: &Edit) -> Option<bool> {
        (edit.at.0 == self.ino && self.ino != 0).then_some(edit.at.1 < self.len)
    }
}

impl Edit {
    /// The path to show: relative to the repository root when known.
    pub fn shown_path(&self) -> &str {
        if self.rel.is_empty() {
            &self.path
        } else {
            &self.rel
        }
    }

    /// Whether this edit is of `target` (absolute) for a session in `here`:
    /// the same file, or the same path relative to the root in another
    /// worktree of the same repository.
    /// Compared ignoring case where [`Repo::caseless`].
    pub fn is_of(&self, target: &str, here: &Repo) -> bool {
        let caseless = here.caseless;
        same(&self.path, target, caseless)
            || (!self.repo.is_empty()
                && self.repo == here.id
                && !self.rel.is_empty()
                && here
                    .relative(target)
                    .is_some_and(|r| same(r, &self.rel, caseless)))
    }

    /// Whether this edit lies at or under `target` (a file or folder,
    /// absolute), for `pool who`.
    pub fn is_under(&self, target: &str, here: &Repo) -> bool {
        let caseless = here.caseless;
        if !self.repo.is_empty()
            && self.repo == here.id
            && !self.rel.is_empty()
            && let Some(t) = here.relative(target)
        {
            return glob_or_prefix(&fold(t, caseless), &fold(&self.rel, caseless));
        }
        same(&self.path, target, caseless)
            || path_matches(&fold(target, caseless), "", &fold(&self.path, caseless))
    }
}

/// Records that `instance` is editing `path` (absolute) in repository
/// `repo` (its id and root).
pub fn record_edit(
    pool_dir: &Path,
    now: i64,
    instance: &str,
    session: &str,
    path: &str,
    repo: &Repo,
) -> Result<()> {
    record_edits(pool_dir, now, instance, session, &[path.to_string()], repo)
}

/// Records edits of several files at once (a patch) in repository `repo`:
/// one line each, all in one write.
pub fn record_edits(
    pool_dir: &Path,
    now: i64,
    instance: &str,
    session: &str,
    paths: &[String],
    repo: &Repo,
) -> Result<()> {
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let (instance, session) = (clean(instance), clean(session));
    let lines: String = paths
        .iter()
        .map(|path| {
            format!(
                "{now}\t{instance}\t{session}\t{}\t{}\t{}\n",
                clean(path),
                clean(&repo.id),
                clean(repo.relative(path).unwrap_or(""))
            )
        })
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    let p = pool_dir.join(EDITS_LOG);
    let mut f = fsio::open_append(&p)?;
    f.write_all(lines.as_bytes()).map_err(|e| Error::io(p, e))
}

/// Bounds the edit log (issue 24): moves [`EDITS_LOG`] over [`EDITS_OLD`]
/// when it is larger than `max_bytes` and the previous generation holds no
/// edit younger than [`EDITS_KEEP`]. A rename only: a writer that opened the
/// log just before appends to what is then [`EDITS_OLD`], which readers
/// read too. The caller serialises rotations (`pool gc`'s lock). Returns
/// whether it rotated.
pub fn rotate_edits(pool_dir: &Path, now: i64, max_bytes: u64) -> Result<bool> {
    let p = pool_dir.join(EDITS_LOG);
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.is_file() && m.len() > max_bytes => {}
        Ok(_) => return Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(p, e)),
    }
    let old = pool_dir.join(EDITS_OLD);
    if let Some(newest) = newest_edit(&old)?
        && newest >= now - EDITS_KEEP
    {
        return Ok(false);
    }
    std::fs::rename(&p, &old).map_err(|e| Error::io(&p, e))?;
    Ok(true)
}

/// The time of the last edit in the file at `p`, if it has one.
fn newest_edit(p: &Path) -> Result<Option<i64>> {
    let f = match fsio::open_regular(p) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(p, e)),
    };
    let len = f.metadata().map_err(|e| Error::io(p, e))?.len();
    let mut rev = RevLines::new(&f, len);
    // Out of order by at most the slack: a few lines decide.
    for _ in 0..64 {
        let Some((_, line)) = rev.next_line().map_err(|e| Error::io(p, e))? else {
            break;
        };
        if let Some(ts) = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.split('\t').next())
            .and_then(|t| t.parse::<i64>().ok())
        {
            return Ok(Some(ts.saturating_add(ORDER_SLACK)));
        }
    }
    Ok(None)
}

/// Edits newer than `since`, newest first: from the edit log, then, when
/// its start is not old enough, from the previous generation.
pub fn recent_edits(pool_dir: &Path, since: i64) -> Result<Vec<Edit>> {
    let mut out = Vec::new();
    for name in [EDITS_LOG, EDITS_OLD] {
        if !edits_from(&pool_dir.join(name), since, &mut out)? {
            break;
        }
    }
    Ok(out)
}

/// Adds the edits newer than `since` in the file at `p` to `out`, newest
/// first; returns whether it reached the file's start without passing `since`.
fn edits_from(p: &Path, since: i64, out: &mut Vec<Edit>) -> Result<bool> {
    let f = match fsio::open_regular(p) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(Error::io(p, e)),
    };
    let len = f.metadata().map_err(|e| Error::io(p, e))?.len();
    let ino = fsio::file_key(&f).map_or(0, |k| k.ino);
    let mut rev = RevLines::new(&f, len);
    while let Some((off, line)) = rev.next_line().map_err(|e| Error::io(p, e))? {
        let Some(mut e) = parse_edit(line) else {
            continue;
        };
        if e.timestamp < since - ORDER_SLACK {
            return Ok(false);
        }
        if e.timestamp >= since {
            e.at = (ino, off);
            out.push(e);
        }
    }
    Ok(true)
}

/// One line of the edit log, or `None` when it is not one.
pub fn parse_edit(line: &[u8]) -> Option<Edit> {
    EditLine::parse(line).map(|l| l.to_edit())
}

/// One line of the edit log as borrowed fields, before [`parse_edit`]
/// copies them: what a reader that keeps few of the lines it reads checks
/// first (issue 24: the guard's tail of the edit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EditLine<'a> {
    /// When the edit was made (epoch seconds).
    pub timestamp: i64,
    /// The editing instance.
    pub instance: &'a str,
    /// The editing session.
    pub session_id: &'a str,
    /// The file edited, absolute.
    pub path: &'a str,
    /// The root of its repository, or empty.
    pub repo: &'a str,
    /// The path relative to that root, or empty.
    pub rel: &'a str,
}

impl<'a> EditLine<'a> {
    /// The fields of one line of the edit log, or `None` when it is not one.
    pub fn parse(line: &'a [u8]) -> Option<EditLine<'a>> {
        let line = std::str::from_utf8(line).ok()?;
        let mut parts = line.splitn(6, '\t');
        let (Some(ts), Some(instance), Some(session_id), Some(path)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let (repo, rel) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        Some(EditLine {
            timestamp: ts.parse::<i64>().ok()?,
            instance,
            session_id,
            path,
            repo,
            rel,
        })
    }

    /// The [`edit_keys`] of this edit.
    pub fn keys(&self) -> Vec<&'a str> {
        edit_keys_of(self.path, self.rel)
    }

    /// This edit, copied out of its line.
    pub fn to_edit(&self) -> Edit {
        Edit {
            timestamp: self.timestamp,
            instance: self.instance.to_string(),
            session_id: self.session_id.to_string(),
            path: self.path.to_string(),
            repo: self.repo.to_string(),
            rel: self.rel.to_string(),
            at: (0, 0),
        }
    }
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
            action: action.to_string().into(),
            topic: topic.to_string().into(),
            affects: affects.to_string().into(),
            reference: reference.to_string().into(),
            ..Entry::test(id, inst, ts)
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

    /// Issue 22, section 3: another machine's entries close only claims
    /// from the same source, and its whole-tree patterns are not enforced.
    #[test]
    fn another_machines_entries_act_only_on_its_own_claims() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 10_000;
        let e = |id: &str, action: &str, topic: &str, affects: &str, reference: &str| Entry {
            action: action.to_string().into(),
            topic: topic.to_string().into(),
            affects: affects.to_string().into(),
            reference: reference.to_string().into(),
            ..Entry::test(id, "A", now - 100)
        };
        let remote = |e: Entry<'static>, via: &str| Entry {
            received: Some(now - 50),
            via: via.to_string().into(),
            ..e
        };
        pool.append(
            &[
                // This machine's A claims three things.
                e("mine1", "claimed", "Auth", "src/auth.rs", ""),
                e("mine2", "claimed", "DB", "src/db/", ""),
                e("mine3", "claimed", "UI", "ui/", ""),
                // A claim from the stream, and one on the whole tree.
                remote(e("theirs", "claimed", "Log", "src/log.rs", ""), "s"),
                remote(e("tree", "claimed", "All", "**, src/x.rs", ""), "s"),
                // The stream says: a forced release of mine1, A's closer
                // of mine2 by topic and of mine3 by ref.
                remote(
                    Entry {
                        origin: FORCED.into(),
                        ..e("f1", "released", "x", "", "mine1")
                    },
                    "s",
                ),
                remote(e("f2", "completed", "DB", "", ""), "s"),
                remote(e("f3", "released", "y", "", "mine3"), "s"),
            ],
            now - 50,
        )
        .unwrap();
        let open = open_claims(&pool, now, 3600).unwrap();
        let ids: Vec<&str> = open.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["tree", "theirs", "mine3", "mine2", "mine1"]);
        let tree = &open[0];
        assert_eq!(tree.patterns, ["src/x.rs"]);
        assert_eq!(tree.unenforced, ["**"]);
        assert_eq!(tree.source.as_deref(), Some("s"));
        assert_eq!(open[2].source, None);
        let here = repo("", "/w");
        assert_eq!(claim_covers(tree, "/w/README.md", &here), None);
        // The same stream's forced release closes its own claims.
        pool.append(
            &[remote(
                Entry {
                    origin: FORCED.into(),
                    ..e("f4", "released", "x", "", "theirs")
                },
                "s",
            )],
            now - 40,
        )
        .unwrap();
        let ids: Vec<String> = open_claims(&pool, now, 3600)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["tree", "mine3", "mine2", "mine1"]);
    }

    #[rstest::rstest]
    #[case("**", true)]
    #[case("*", true)]
    #[case("/", true)]
    #[case(".", true)]
    #[case("./**", true)]
    #[case("**/*", true)]
    #[case("/**", true)]
    #[case("/home/**", true)]
    #[case("src/**", false)]
    #[case("**/*.rs", false)]
    #[case("src/auth.rs", false)]
    #[case("/w/app/src", false)]
    fn whole_tree_patterns(#[case] p: &str, #[case] whole: bool) {
        assert_eq!(whole_tree(p), whole, "{p}");
    }

    #[test]
    fn a_long_claim_stays_closed_after_its_closer_would_have_expired() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let t0 = 100_000;
        let claim = Entry {
            action: "claimed".into(),
            topic: "Big refactor".into(),
            affects: "src/".into(),
            ttl: Some(8 * 3600),
            ..Entry::test("c", "B", t0)
        };
        pool.append(&[claim], t0).unwrap();
        let mut closer = vec![Entry {
            action: "completed".into(),
            topic: "big refactor".into(),
            ..Entry::test("d", "B", t0 + 3600)
        }];
        extend_closers(&pool, &mut closer, t0 + 3600, 3600).unwrap();
        assert_eq!(closer[0].ttl, Some(7 * 3600));
        pool.append(&closer, t0 + 3600).unwrap();
        // Five hours later the closer is still seen: the claim stays closed.
        assert!(open_claims(&pool, t0 + 5 * 3600, 3600).unwrap().is_empty());
    }

    #[test]
    fn a_claim_dated_in_the_future_lends_its_closer_no_extra_life() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let t0 = 100_000;
        let claim = Entry {
            action: "claimed".into(),
            topic: "Big refactor".into(),
            affects: "src/".into(),
            ttl: Some(8 * 3600),
            ..Entry::test("c", "B", t0 + 10 * 365 * 86_400)
        };
        pool.append(&[claim], t0).unwrap();
        let mut closer = vec![Entry {
            action: "completed".into(),
            topic: "big refactor".into(),
            ..Entry::test("d", "B", t0 + 3600)
        }];
        extend_closers(&pool, &mut closer, t0 + 3600, 3600).unwrap();
        let ttl = closer[0].ttl.unwrap();
        assert!(
            ttl <= 7 * 3600 + crate::store::entry::MAX_SKEW as u64,
            "the closer lives {ttl}s"
        );
    }

    #[test]
    fn the_edit_log_rotates_without_losing_a_recent_edit() {
        let tmp = tempfile::tempdir().unwrap();
        let here = repo("r", "/w");
        let t = 1_000_000;
        record_edit(tmp.path(), t, "A", "s1", "/w/a.rs", &here).unwrap();
        assert!(!rotate_edits(tmp.path(), t, 1 << 20).unwrap(), "small");
        assert!(rotate_edits(tmp.path(), t, 0).unwrap());
        record_edit(tmp.path(), t + 60, "B", "s2", "/w/b.rs", &here).unwrap();
        let got = recent_edits(tmp.path(), t - 10).unwrap();
        let who: Vec<&str> = got.iter().map(|e| e.instance.as_str()).collect();
        assert_eq!(who, ["B", "A"], "both generations are read");
        assert!(
            !rotate_edits(tmp.path(), t + 60, 0).unwrap(),
            "the previous generation is still recent: kept"
        );
        let later = t + EDITS_KEEP + 200;
        assert!(rotate_edits(tmp.path(), later, 0).unwrap());
        assert!(recent_edits(tmp.path(), t - 10).unwrap().len() == 1);
        assert!(!tmp.path().join(EDITS_LOG).exists());
    }

    #[test]
    fn edits_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let here = repo("r", "/w");
        record_edit(tmp.path(), 100, "A", "s1", "/w/a.rs", &here).unwrap();
        record_edit(tmp.path(), 5000, "B", "s\t2", "/w/src/b.rs", &here).unwrap();
        // A line of an earlier version: no repository, no relative path.
        let mut f = fsio::open_append(&tmp.path().join(EDITS_LOG)).unwrap();
        f.write_all(b"5001\tC\ts3\t/w/src/c.rs\n").unwrap();
        let got = recent_edits(tmp.path(), 1000).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].instance.as_str(), got[0].repo.as_str()), ("C", ""));
        assert_eq!(got[1].instance, "B");
        assert_eq!(got[1].session_id, "s 2");
        assert_eq!(
            (got[1].repo.as_str(), got[1].rel.as_str()),
            ("r", "src/b.rs")
        );
        // Another worktree of the same repository sees B's edit, not C's.
        let other_wt = repo("r", "/v");
        assert!(got[1].is_of("/v/src/b.rs", &other_wt));
        assert!(!got[0].is_of("/v/src/c.rs", &other_wt));
        assert!(got[0].is_of("/w/src/c.rs", &other_wt), "the same file");
        assert!(
            !got[1].is_of("/v/src/b.rs", &repo("q", "/v")),
            "another repository"
        );
        assert!(got[1].is_under("/v/src", &other_wt));
        assert_eq!(got[1].shown_path(), "src/b.rs");
    }

    fn repo(id: &str, root: &str) -> Repo {
        Repo {
            id: id.into(),
            source: crate::env::repo::Source::Remote,
            root: root.into(),
            git_dir: None,
            aliases: Vec::new(),
            caseless: false,
        }
    }

    #[test]
    fn claims_with_a_repository_match_by_root_relative_path() {
        let claim = |repo: &str, cwd: &str, pats: &[&str]| Claim {
            id: "c".into(),
            instance: "B".into(),
            session_id: "s".into(),
            topic: "t".into(),
            patterns: pats.iter().map(|p| p.to_string()).collect(),
            cwd: cwd.into(),
            repo: repo.into(),
            timestamp: 0,
            source: None,
            host: String::new(),
            unenforced: Vec::new(),
        };
        let a = repo("gh/x", "/w/app-A");
        let c = claim(
            "gh/x",
            "/w/app-B",
            &["src/auth.rs", "/w/app-B/src/db/", "docs/*.md"],
        );
        assert_eq!(
            claim_covers(&c, "/w/app-A/src/auth.rs", &a),
            Some("src/auth.rs")
        );
        assert_eq!(
            claim_covers(&c, "/w/app-A/src/db/schema.rs", &a),
            Some("/w/app-B/src/db/")
        );
        assert_eq!(
            claim_covers(&c, "/w/app-A/docs/x.md", &a),
            Some("docs/*.md")
        );
        assert_eq!(claim_covers(&c, "/w/app-A/vendor/src/auth.rs", &a), None);
        assert_eq!(claim_covers(&c, "/elsewhere/src/auth.rs", &a), None);
        assert_eq!(
            claim_covers(&c, "/w/app-A/src/auth.rs", &repo("gh/y", "/w/app-A")),
            None
        );
        // A claim written before ids: the older, looser rule.
        let old = claim("", "/w/app-B", &["src/auth.rs"]);
        assert_eq!(
            claim_covers(&old, "/anywhere/src/auth.rs", &a),
            Some("src/auth.rs")
        );
    }

    /// Issue 23, section 3: where the file system ignores case (the flag
    /// macOS and Windows set, passed in here), `SRC/AUTH.RS` is the claimed
    /// `src/auth.rs`; where it does not (Linux), it is another file.
    #[test]
    fn case_is_ignored_only_where_the_file_system_ignores_it() {
        let claim = |pats: &[&str]| Claim {
            id: "c".into(),
            instance: "B".into(),
            session_id: "s".into(),
            topic: "t".into(),
            patterns: pats.iter().map(|p| p.to_string()).collect(),
            cwd: "/w/App-B".into(),
            repo: "gh/x".into(),
            timestamp: 0,
            source: None,
            host: String::new(),
            unenforced: Vec::new(),
        };
        let exact = repo("gh/x", "/w/App-A");
        let caseless = Repo {
            caseless: true,
            ..exact.clone()
        };
        let c = claim(&["src/auth.rs", "/W/app-b/Lib/", "Docs/*.MD"]);
        for (target, want) in [
            ("/w/App-A/SRC/AUTH.RS", Some("src/auth.rs")),
            ("/W/APP-A/src/Auth.rs", Some("src/auth.rs")),
            ("/w/app-a/lib/x.rs", Some("/W/app-b/Lib/")),
            ("/w/App-A/docs/a.md", Some("Docs/*.MD")),
            ("/w/App-A/SRC/AUTH.RS.bak", None),
        ] {
            assert_eq!(claim_covers(&c, target, &caseless), want, "{target}");
            assert_eq!(claim_covers(&c, target, &exact), None, "{target}");
        }
        assert_eq!(
            claim_covers(&c, "/w/App-A/src/auth.rs", &exact),
            Some("src/auth.rs")
        );
        // Recorded edits compare the same way.
        let e = Edit {
            timestamp: 1,
            instance: "B".into(),
            session_id: "s".into(),
            path: "/w/App-B/src/auth.rs".into(),
            repo: "gh/x".into(),
            rel: "src/auth.rs".into(),
            at: (0, 0),
        };
        assert!(e.is_of("/w/App-A/SRC/Auth.rs", &caseless));
        assert!(e.is_of("/W/APP-B/SRC/AUTH.RS", &caseless));
        assert!(!e.is_of("/w/App-A/SRC/Auth.rs", &exact));
        assert!(!e.is_of("/W/APP-B/SRC/AUTH.RS", &exact));
        assert!(e.is_under("/w/app-a/SRC", &caseless));
        assert!(!e.is_under("/w/App-A/SRC", &exact));
    }

    proptest::proptest! {
        /// Two lists of parts make one closer key only when they are the
        /// same list: a name holding the separator cannot pass for another.
        #[test]
        fn closer_keys_tell_every_list_of_parts_apart(
            a in proptest::collection::vec("[a:1-9]{0,4}", 1..4),
            b in proptest::collection::vec("[a:1-9]{0,4}", 1..4),
        ) {
            let ka = closer_key(&a.iter().map(String::as_str).collect::<Vec<_>>());
            let kb = closer_key(&b.iter().map(String::as_str).collect::<Vec<_>>());
            proptest::prop_assert_eq!(ka == kb, a == b);
        }

        /// The index answers as the one-by-one checks do, in the same order.
        #[test]
        fn the_index_agrees_with_one_by_one_checks(
            pats in proptest::collection::vec(
                proptest::collection::vec("(/w/a/|/w/b/|\\./)?(S|s|src)(/(x|X|\\*|\\*\\*|a\\.rs)){0,3}/?", 1..4), 1..6),
            repos in proptest::collection::vec(0usize..3, 6),
            targets in proptest::collection::vec("/w/(a|b|c)/(src|S|s)(/(x|X|a\\.rs|y)){0,3}", 1..8),
            caseless in proptest::bool::ANY,
        ) {
            let ids = ["gh/x", "", "gh/y"];
            let claims: Vec<Claim> = pats.iter().enumerate().map(|(i, p)| Claim {
                id: format!("c{i}"),
                instance: "B".into(),
                session_id: "s".into(),
                topic: "t".into(),
                patterns: p.clone(),
                cwd: if i % 2 == 0 { "/w/b".into() } else { "/w/A".into() },
                repo: ids[repos[i]].into(),
                timestamp: 0,
                source: None,
                host: String::new(),
                unenforced: Vec::new(),
            }).collect();
            let edits: Vec<Edit> = targets.iter().enumerate().map(|(i, t)| Edit {
                timestamp: 0,
                instance: "B".into(),
                session_id: "s".into(),
                path: t.clone(),
                repo: ids[repos[i % 6]].into(),
                rel: t.splitn(4, '/').nth(3).unwrap_or("").into(),
                at: (0, i as u64),
            }).collect();
            let here = Repo { caseless, aliases: vec!["/w/b".into()], ..repo("gh/x", "/w/a") };
            let ix = Index::new(&claims, &edits, &here);
            for t in &targets {
                let want: Vec<(usize, &str)> = claims.iter().enumerate()
                    .filter_map(|(i, c)| Some((i, claim_covers(c, t, &here)?)))
                    .collect();
                proptest::prop_assert_eq!(ix.claims_covering(&claims, t, &here), want);
                let want: Vec<usize> = edits.iter().enumerate()
                    .filter(|(_, e)| e.is_of(t, &here)).map(|(i, _)| i).collect();
                proptest::prop_assert_eq!(ix.edits_of(t, &here), want);
            }
        }
    }
}
