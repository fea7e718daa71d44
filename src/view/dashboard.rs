//! The web dashboard's model and gatekeeping: what `pool dashboard` shows
//! (a summary of who is blocked and waiting, instance cards with blocked
//! ones first, links from blockers to what unblocked them and from handoffs
//! to their addressees, the entry stream with paging and search, pending
//! handoffs, conflicting claims), built from what was read without further
//! I/O; the entries a person posts from the page (a post, an
//! acknowledgement, a release), all marked as coming from the dashboard;
//! and the checks every request must pass (token, `Host`, same origin).
//! The server itself, the only part doing I/O, is [`crate::cmd::dashboard`].
//!
//! Every string handed to the page has been through [`clean`] (no control,
//! bidi or zero-width characters); the page still inserts it as text only.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::coord::blocked::{Block, How};
use crate::coord::claims::{Claim, path_matches};
use crate::coord::handoffs::default_ttl_for;
use crate::coord::presence::{Presence, State};
use crate::env::config::ConfigFile;
use crate::store::entry::{
    ACTIONS, Entry, MAX_SHORT, MAX_SUMMARY, MAX_TOPIC, normalize_action, truncate_chars,
};
use crate::store::log::MAX_TTL;
use crate::store::paths::validate_instance;
use crate::view::neutral::clean;
use crate::view::render::{instance_key, remote_suffix};

/// The page: one HTML file with inline CSS and JavaScript, no external assets.
/// `__NONCE__` is replaced by a fresh CSP nonce on every load.
pub const PAGE: &str = include_str!("page.html");
/// The placeholder for the CSP nonce in [`PAGE`].
pub const NONCE_PLACEHOLDER: &str = "__NONCE__";

/// How far back the stream and the cards read the log, in seconds (24 hours).
pub const WINDOW: u64 = 86_400;
/// Most entries in the stream.
pub const STREAM_MAX: usize = 300;
/// Most instance cards.
pub const MAX_CARDS: usize = 200;
/// Most conflicts listed.
pub const MAX_CONFLICTS: usize = 100;
/// Most claims listed on one card (the rest are counted).
pub const CLAIMS_PER_CARD: usize = 5;
/// Most entries in one page of `/api/entries`.
pub const PAGE_MAX: usize = 300;
/// Most links drawn.
pub const MAX_LINKS: usize = 100;
/// The `origin` of entries posted from the page.
pub const ORIGIN: &str = "dashboard";
/// Longest free text shown, in characters.
const SHOW_TEXT: usize = 2000;
/// Longest short field (instance, action, id) shown, in characters.
const SHOW_SHORT: usize = 120;

/// One entry as the page sees it: cleaned text and whether it is still live.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryView {
    /// The entry's id.
    pub id: String,
    /// Epoch seconds.
    pub timestamp: i64,
    /// The writer.
    pub instance: String,
    /// The action.
    pub action: String,
    /// One-line subject.
    pub topic: String,
    /// Free text.
    pub summary: String,
    /// Paths touched.
    pub affects: String,
    /// What it unblocks.
    pub blocks: String,
    /// Addressee of a handoff; empty for a broadcast.
    pub to: String,
    /// Id of the entry this one answers.
    pub reference: String,
    /// `critical` or empty.
    pub priority: String,
    /// Host of the writer.
    pub host: String,
    /// Working directory of the writer.
    pub cwd: String,
    /// Where the entry came from (`dashboard` for the page, `post` for the
    /// CLI, empty for a session's block).
    pub origin: String,
    /// Whether the entry is still within its TTL.
    pub live: bool,
}

impl EntryView {
    /// The view of `e` at `now`.
    pub fn new(e: &Entry<'_>, now: i64, default_ttl: u64) -> Self {
        let s = |v: &str| clean(v, SHOW_SHORT);
        let t = |v: &str| clean(v, SHOW_TEXT);
        EntryView {
            id: s(&e.id),
            timestamp: e.timestamp,
            instance: s(&e.source_instance),
            action: s(&e.action),
            topic: t(&e.topic),
            summary: t(&e.summary),
            affects: t(&e.affects),
            blocks: t(&e.blocks),
            to: s(&e.to),
            reference: s(&e.reference),
            priority: s(&e.priority),
            host: s(&e.host),
            cwd: t(&e.cwd),
            origin: s(&e.origin),
            live: e.is_live(now, default_ttl),
        }
    }
}

/// An open claim as the page sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimView {
    /// The claim entry's id.
    pub id: String,
    /// Who claimed.
    pub instance: String,
    /// What for.
    pub topic: String,
    /// Paths and globs.
    pub patterns: Vec<String>,
    /// Epoch seconds.
    pub timestamp: i64,
}

impl ClaimView {
    fn new(c: &Claim) -> Self {
        ClaimView {
            id: clean(&c.id, SHOW_SHORT),
            instance: clean(&c.instance, SHOW_SHORT),
            topic: clean(&c.topic, SHOW_TEXT),
            patterns: c.patterns.iter().map(|p| clean(p, SHOW_TEXT)).collect(),
            timestamp: c.timestamp,
        }
    }
}

/// Where one session of an instance runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Place {
    /// Host name.
    pub host: String,
    /// Working directory.
    pub cwd: String,
    /// The git worktree's root, when known.
    pub worktree: String,
    /// The branch (or detached commit), when known.
    pub branch: String,
    /// The agent running the session: `claude-code` or `codex`.
    pub agent: String,
}

impl Place {
    /// Where a session runs, from its presence file; a detached HEAD shows
    /// as its commit's first 12 digits.
    pub fn of(p: &Presence) -> Self {
        let branch = p
            .branch
            .clone()
            .or_else(|| p.detached.as_deref().map(|d| d.chars().take(12).collect()))
            .unwrap_or_default();
        Place {
            host: clean(&p.host, SHOW_SHORT),
            cwd: clean(p.cwd.as_deref().unwrap_or(""), SHOW_TEXT),
            worktree: clean(p.worktree.as_deref().unwrap_or(""), SHOW_TEXT),
            branch: clean(&branch, SHOW_SHORT),
            agent: clean(p.agent_name(), SHOW_SHORT),
        }
    }
}

/// One instance card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Card {
    /// The instance's name.
    pub name: String,
    /// `active`, `idle`, `gone` or `unseen` (see [`State`]): its
    /// best session's state; without presence files, its latest entry's age.
    pub status: &'static str,
    /// Role from `config.json`.
    pub role: String,
    /// Domain keywords from `config.json`.
    pub domain: Vec<String>,
    /// Latest sign of life (presence or entry), epoch seconds.
    pub last_seen: Option<i64>,
    /// Live sessions (from presence files).
    pub sessions: usize,
    /// Where it runs: its most recently heard live session (else any
    /// session, else its latest entry's host and working directory).
    pub place: Place,
    /// Its open claims, newest first (at most [`CLAIMS_PER_CARD`]).
    pub claims: Vec<ClaimView>,
    /// How many open claims it has in all.
    pub claims_total: usize,
    /// Its latest entry.
    pub last: Option<EntryView>,
    /// Pending handoffs addressed to it.
    pub pending: usize,
    /// What it is blocked on now, longest first.
    pub blocked: Vec<BlockView>,
}

/// The entry that ended a block, as the page sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnblockView {
    /// Its id (the stream shows it as `#entry-<id>`).
    pub id: String,
    /// Its writer.
    pub instance: String,
    /// Its action.
    pub action: String,
    /// Its topic.
    pub topic: String,
    /// Epoch seconds.
    pub timestamp: i64,
    /// `ref`, `own` or `completed` (see [`How`]).
    pub how: How,
}

/// A block, open or ended, as the page sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlockView {
    /// The `blocked` entry's id.
    pub id: String,
    /// Who is blocked.
    pub instance: String,
    /// On what.
    pub topic: String,
    /// Why.
    pub summary: String,
    /// Since when, epoch seconds.
    pub since: i64,
    /// What ended it; `None` while open.
    pub unblocked_by: Option<UnblockView>,
}

impl BlockView {
    /// The view of `b`.
    pub fn new(b: &Block) -> Self {
        let s = |v: &str| clean(v, SHOW_SHORT);
        let t = |v: &str| clean(v, SHOW_TEXT);
        BlockView {
            id: s(&b.id),
            instance: s(&b.instance),
            topic: t(&b.topic),
            summary: t(&b.summary),
            since: b.since,
            unblocked_by: b.unblocked_by.as_ref().map(|u| UnblockView {
                id: s(&u.id),
                instance: s(&u.instance),
                action: s(&u.action),
                topic: t(&u.topic),
                timestamp: u.timestamp,
                how: u.how,
            }),
        }
    }
}

/// An arrow between two instances: a handoff to its addressee, an entry
/// that unblocked another instance, or an entry that refers to another's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Link {
    /// `handoff`, `unblocked` or `ref`.
    pub kind: &'static str,
    /// The instance the arrow starts from (the writer).
    pub from: String,
    /// The instance it points to.
    pub to: String,
    /// The entry that makes the link.
    pub id: String,
    /// The entry it points at (the block, the referred entry; the handoff itself).
    pub target: String,
    /// What it is about.
    pub label: String,
}

/// The counts in the summary bar.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    /// Instances blocked now.
    pub blocked: usize,
    /// Pending handoffs.
    pub handoffs: usize,
    /// Conflicting claims (at most [`MAX_CONFLICTS`]).
    pub conflicts: usize,
    /// Active instances.
    pub active: usize,
    /// Instances shown.
    pub instances: usize,
}

/// Two live claims of different instances on overlapping paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    /// The newer claim.
    pub a: ClaimView,
    /// The older claim.
    pub b: ClaimView,
    /// The pattern of `a` that overlaps.
    pub a_pattern: String,
    /// The pattern of `b` that overlaps.
    pub b_pattern: String,
}

/// Everything the page shows at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    /// When, epoch seconds.
    pub now: i64,
    /// The pool folder.
    pub pool_dir: String,
    /// Instance cards: configured ones first (in name order), then the others
    /// by latest sign of life.
    pub instances: Vec<Card>,
    /// Entries of the last [`WINDOW`], newest first (at most [`STREAM_MAX`]).
    pub entries: Vec<EntryView>,
    /// Pending handoffs, newest first.
    pub handoffs: Vec<EntryView>,
    /// Conflicting claims.
    pub conflicts: Vec<Conflict>,
    /// The actions an entry may carry.
    pub actions: &'static [&'static str],
    /// The summary bar.
    pub counts: Counts,
    /// Entries in the window in all (the stream shows the newest [`STREAM_MAX`]).
    pub entries_total: usize,
    /// Blocks of the live window: open ones first (longest first), then
    /// those that ended, most recently ended first.
    pub blocks: Vec<BlockView>,
    /// Arrows between instances.
    pub links: Vec<Link>,
    /// The repository the dashboard was started in (its id).
    pub repo: String,
    /// The repositories shown (`all repositories`, or ids).
    pub scope: String,
    /// Repository ids that wrote entries in the window, for the switcher.
    pub repos: Vec<String>,
    /// What the server's read caps left out on a busy pool, one sentence
    /// each (empty when nothing was): the server sets it after [`snapshot`].
    pub left_out: Vec<String>,
}

/// What the server read for one snapshot.
#[derive(Debug, Default)]
pub struct Inputs<'c> {
    /// The pool folder.
    pub pool_dir: String,
    /// `config.json`.
    pub config: Option<&'c ConfigFile>,
    /// Lifetime of entries without their own TTL, in seconds.
    pub default_ttl: u64,
    /// Entries of the window, newest first.
    pub entries: Vec<Entry<'static>>,
    /// Pending handoffs, newest first.
    pub handoffs: Vec<Entry<'static>>,
    /// Open claims, newest first.
    pub claims: Vec<Claim>,
    /// Every session's presence, most recently heard first.
    pub sessions: Vec<Presence>,
    /// Blocks of the live window, newest first ([`crate::coord::blocked`]).
    pub blocks: Vec<Block>,
    /// Entries in the window in all (`entries` holds at most [`STREAM_MAX`]).
    pub entries_total: usize,
    /// The repository the dashboard was started in (its id).
    pub repo: String,
    /// The repositories shown.
    pub scope: String,
    /// Repository ids that wrote entries in the window.
    pub repos: Vec<String>,
}

fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Builds the snapshot from what was read.
pub fn snapshot(inputs: Inputs<'_>, now: i64) -> Snapshot {
    let ttl = inputs.default_ttl;
    let empty = ConfigFile::default();
    let config = inputs.config.unwrap_or(&empty);
    let mut cards: BTreeMap<String, Card> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    // Another machine's writers get cards of their own, named where they
    // came from (`A@laptop (synced from alice)`): nothing pulled passes for
    // this machine's instance. Sessions and configured names are local.
    let mut slot = |name: &str,
                    host: &str,
                    source: Option<&str>,
                    cards: &mut BTreeMap<String, Card>|
     -> Option<String> {
        if key(name).is_empty() {
            return None;
        }
        let k = instance_key(name, host, source);
        if k.is_empty() || (!cards.contains_key(&k) && cards.len() >= MAX_CARDS) {
            return None;
        }
        cards.entry(k.clone()).or_insert_with(|| {
            order.push(k.clone());
            let conf = config
                .instances
                .iter()
                .find(|(n, _)| key(n) == k)
                .map(|(_, c)| c);
            Card {
                name: format!(
                    "{}{}",
                    clean(name.trim(), SHOW_SHORT),
                    remote_suffix(host, source)
                ),
                status: State::Unseen.as_str(),
                role: conf
                    .and_then(|c| c.role.as_deref())
                    .map(|r| clean(r, SHOW_SHORT))
                    .unwrap_or_default(),
                domain: conf
                    .map(|c| c.domain.iter().map(|d| clean(d, SHOW_SHORT)).collect())
                    .unwrap_or_default(),
                last_seen: None,
                sessions: 0,
                place: Place::default(),
                claims: Vec::new(),
                claims_total: 0,
                last: None,
                pending: 0,
                blocked: Vec::new(),
            }
        });
        Some(k)
    };
    for name in config.instances.keys() {
        slot(name, "", None, &mut cards);
    }
    // Best session state per card; sessions come most recently heard first.
    let mut best: BTreeMap<String, State> = BTreeMap::new();
    for p in &inputs.sessions {
        let Some(k) = slot(&p.instance, "", None, &mut cards) else {
            continue;
        };
        let Some(c) = cards.get_mut(&k) else { continue };
        let state = p.state(now);
        let b = best.entry(k).or_insert(State::Unseen);
        if state < *b {
            // Sessions come newest first: the first in the best state says where.
            c.place = Place::of(p);
            *b = state;
        }
        c.last_seen = c.last_seen.max(Some(p.last_heard()));
        c.sessions += usize::from(state != State::Gone);
    }
    for e in &inputs.entries {
        // A person acting from the page (or releasing by hand) is no
        // instance: no card, and not an instance's last entry.
        if e.by_person() {
            continue;
        }
        if let Some(k) = slot(&e.source_instance, &e.host, e.source(), &mut cards)
            && let Some(c) = cards.get_mut(&k)
            && c.last.is_none()
        {
            c.last = Some(EntryView::new(e, now, ttl));
            c.last_seen = c.last_seen.max(Some(e.timestamp));
            if c.place == Place::default() {
                c.place.host = clean(&e.host, SHOW_SHORT);
                c.place.cwd = clean(&e.cwd, SHOW_TEXT);
            }
        }
    }
    for cl in &inputs.claims {
        if let Some(k) = slot(&cl.instance, &cl.host, cl.source.as_deref(), &mut cards)
            && let Some(c) = cards.get_mut(&k)
        {
            c.claims_total += 1;
            if c.claims.len() < CLAIMS_PER_CARD {
                c.claims.push(ClaimView::new(cl));
            }
        }
    }
    let open_blocks = crate::coord::blocked::open(&inputs.blocks);
    for b in &open_blocks {
        if let Some(k) = slot(&b.instance, &b.host, b.source.as_deref(), &mut cards)
            && let Some(c) = cards.get_mut(&k)
        {
            c.blocked.push(BlockView::new(b));
        }
    }
    for h in &inputs.handoffs {
        if let Some(k) = slot(&h.to, "", None, &mut cards)
            && let Some(c) = cards.get_mut(&k)
        {
            c.pending += 1;
        }
    }
    for (k, c) in cards.iter_mut() {
        let state = match best.get(k) {
            Some(s) => *s,
            None => match c.last.as_ref() {
                Some(e) => State::by_age(e.timestamp, now),
                None => State::Unseen,
            },
        };
        c.status = state.as_str();
    }
    let configured = config.instances.len();
    let (head, tail) = order.split_at(configured.min(order.len()));
    let mut tail = tail.to_vec();
    tail.sort_by_key(|k| std::cmp::Reverse(cards.get(k).and_then(|c| c.last_seen)));
    let mut instances: Vec<Card> = head
        .iter()
        .chain(tail.iter())
        .filter_map(|k| cards.remove(k))
        .collect();
    // Blocked instances first, longest blocked first; the rest keep their order.
    instances.sort_by_key(|c| c.blocked.first().map_or(i64::MAX, |b| b.since));
    let conflicts = conflicts(&inputs.claims);
    let counts = Counts {
        blocked: instances.iter().filter(|c| !c.blocked.is_empty()).count(),
        handoffs: inputs.handoffs.len(),
        conflicts: conflicts.len(),
        active: instances
            .iter()
            .filter(|c| c.status == State::Active.as_str())
            .count(),
        instances: instances.len(),
    };
    let mut ended: Vec<&Block> = inputs.blocks.iter().filter(|b| !b.is_open()).collect();
    ended.sort_by_key(|b| std::cmp::Reverse(b.unblocked_by.as_ref().map(|u| u.timestamp)));
    let blocks: Vec<BlockView> = open_blocks
        .iter()
        .copied()
        .chain(ended)
        .map(BlockView::new)
        .collect();
    let links = links(&inputs.handoffs);
    Snapshot {
        now,
        pool_dir: inputs.pool_dir,
        counts,
        entries_total: inputs.entries_total.max(inputs.entries.len()),
        blocks,
        links,
        instances,
        entries: inputs
            .entries
            .iter()
            .take(STREAM_MAX)
            .map(|e| EntryView::new(e, now, ttl))
            .collect(),
        handoffs: inputs
            .handoffs
            .iter()
            .map(|e| EntryView::new(e, now, ttl))
            .collect(),
        conflicts,
        actions: ACTIONS,
        repo: clean(&inputs.repo, SHOW_TEXT),
        scope: clean(&inputs.scope, SHOW_TEXT),
        repos: inputs.repos.iter().map(|r| clean(r, SHOW_TEXT)).collect(),
        left_out: Vec::new(),
    }
}

/// The arrows of "who waits for whom": only waits, each pending handoff
/// from its writer to its addressee (an open block is marked on its
/// instance's node by the page). What already happened (an unblocking, an
/// acknowledgement or any other `REF`) is no wait and is not drawn; ended
/// blocks name their unblocker in the blocked list.
pub fn links(handoffs: &[Entry<'_>]) -> Vec<Link> {
    let s = |v: &str| clean(v, SHOW_SHORT);
    let mut out = Vec::new();
    for h in handoffs {
        out.push(Link {
            kind: "handoff",
            from: s(&h.source_instance),
            to: s(&h.to),
            id: s(&h.id),
            target: s(&h.id),
            label: clean(&h.topic, SHOW_TEXT),
        });
    }
    out.truncate(MAX_LINKS);
    out
}

/// A claim pattern as an absolute path: itself when absolute, else under the
/// claimer's working directory, or under `/` when there is none (so a
/// relative target is compared whole, not only by its tails).
fn absolute(pattern: &str, cwd: &str) -> String {
    if pattern.starts_with('/') {
        pattern.to_string()
    } else {
        let (cwd, rel) = (cwd.trim_end_matches('/'), pattern.trim_start_matches("./"));
        let mut out = String::with_capacity(cwd.len() + 1 + rel.len());
        out.push_str(cwd);
        out.push('/');
        out.push_str(rel);
        out
    }
}

fn has_glob(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// The last component of a pattern before its first glob: any path it
/// matches has this component. `None` for a pattern that starts with a glob.
fn key_of(pattern: &str) -> Option<&str> {
    pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .take_while(|c| !has_glob(c))
        .last()
}

/// Pairs of open claims of different instances whose paths overlap: a
/// pattern of one matches (a path under) a pattern of the other, checked
/// both ways with [`path_matches`]; claims without a working directory are
/// compared by their paths as written. At most [`MAX_CONFLICTS`], in claim
/// order.
///
/// Near-linear: a pattern can only match a path that holds its key (its
/// last literal component), so each pattern is compared only with the
/// patterns whose paths hold its key, or whose key its path holds (and with
/// every pattern when it has no key).
pub fn conflicts<C: std::borrow::Borrow<Claim>>(claims: &[C]) -> Vec<Conflict> {
    let claims: Vec<&Claim> = claims.iter().map(Borrow::borrow).collect();
    struct Pat<'c> {
        claim: usize,
        raw: &'c str,
        cwd: &'c str,
        target: String,
    }
    let mut pats: Vec<Pat<'_>> = Vec::new();
    for (i, c) in claims.iter().enumerate() {
        for p in &c.patterns {
            pats.push(Pat {
                claim: i,
                raw: p,
                cwd: &c.cwd,
                target: absolute(p, &c.cwd),
            });
        }
    }
    // Component -> patterns whose path holds it; key -> patterns with that key.
    let mut holding: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut keyed: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut keyless: Vec<usize> = Vec::new();
    for (n, p) in pats.iter().enumerate() {
        // Each pattern once per component it holds: a component repeated
        // in its path finds `n` last in the list already.
        for c in p
            .target
            .split('/')
            .filter(|c| !c.is_empty() && !has_glob(c))
        {
            let list = holding.entry(c).or_default();
            if list.last() != Some(&n) {
                list.push(n);
            }
        }
        match key_of(p.raw) {
            Some(k) => keyed.entry(k).or_default().push(n),
            None => keyless.push(n),
        }
    }
    let mut out = Vec::new();
    let mut first = 0;
    for (i, a) in claims.iter().enumerate() {
        let mine: Vec<usize> = (first..pats.len())
            .take_while(|&n| pats[n].claim == i)
            .collect();
        first += mine.len();
        // Candidate patterns of later claims, in claim order.
        let mut cand: Vec<usize> = Vec::new();
        for &n in &mine {
            let p = &pats[n];
            match key_of(p.raw) {
                Some(k) => cand.extend(holding.get(k).into_iter().flatten()),
                None => cand.extend(pats.len().min(n + 1)..pats.len()),
            }
            for c in p.target.split('/').filter(|c| !c.is_empty()) {
                cand.extend(keyed.get(c).into_iter().flatten());
            }
            cand.extend(&keyless);
        }
        cand.retain(|&m| pats[m].claim > i);
        cand.sort_unstable();
        cand.dedup();
        let mut done: HashSet<usize> = HashSet::new();
        for m in cand {
            let pb = &pats[m];
            let j = pb.claim;
            let b = &claims[j];
            if done.contains(&j) || key(&a.instance) == key(&b.instance) {
                continue;
            }
            let hit = mine.iter().map(|&n| &pats[n]).find(|pa| {
                path_matches(pa.raw, pa.cwd, &pb.target) || path_matches(pb.raw, pb.cwd, &pa.target)
            });
            if let Some(pa) = hit {
                done.insert(j);
                out.push((i, j, pa.raw, pb.raw));
            }
        }
        if out.len() >= MAX_CONFLICTS {
            break;
        }
    }
    out.sort_by_key(|(i, j, _, _)| (*i, *j));
    out.truncate(MAX_CONFLICTS);
    out.into_iter()
        .map(|(i, j, pa, pb)| Conflict {
            a: ClaimView::new(claims[i]),
            b: ClaimView::new(claims[j]),
            a_pattern: clean(pa, SHOW_TEXT),
            b_pattern: clean(pb, SHOW_TEXT),
        })
        .collect()
}

/// What the page's form sends to post an entry or a handoff.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PostForm {
    /// The instance posting (the person's name for themselves, or an instance).
    pub instance: String,
    /// The action (or a synonym).
    pub action: String,
    /// One-line subject.
    pub topic: String,
    /// Free text.
    pub summary: String,
    /// Paths or areas.
    pub affects: String,
    /// Addressee; empty for a broadcast.
    pub to: String,
    /// `critical` or empty.
    pub priority: String,
    /// Lifetime (`30m`, `4h`, `7d`); empty for the default.
    pub ttl: String,
    /// What this unblocks for others (`BLOCKS`).
    pub blocks: String,
    /// Id of the entry this answers (`REF`).
    #[serde(rename = "ref")]
    pub reference: String,
}

/// Where and when a form is posted: the parts of the entry that are not in it.
#[derive(Debug, Clone, Default)]
pub struct PostContext {
    /// The new entry's id.
    pub id: String,
    /// Epoch seconds.
    pub now: i64,
    /// This machine's host name.
    pub host: String,
    /// The dashboard's working directory.
    pub cwd: String,
    /// The dashboard's repository id.
    pub repo: String,
}

/// The entry a form describes. Fails, with a message for the person, when
/// the instance or addressee is not a valid name, the action is unknown, or
/// both topic and summary are empty.
pub fn form_entry(form: &PostForm, ctx: &PostContext) -> Result<Entry<'static>, String> {
    let instance = form.instance.trim();
    validate_instance(instance)?;
    let to = form.to.trim();
    if !to.is_empty() {
        validate_instance(to).map_err(|e| format!("TO: {e}"))?;
    }
    let topic = form.topic.trim();
    let summary = form.summary.trim();
    if topic.is_empty() && summary.is_empty() {
        return Err("give a topic or a summary".into());
    }
    let (action, known) = normalize_action(if form.action.trim().is_empty() {
        "signaling"
    } else {
        &form.action
    });
    if !known {
        return Err(format!(
            "unknown action {:?}; use one of {}",
            form.action,
            ACTIONS.join(", ")
        ));
    }
    let priority = form.priority.trim().to_ascii_lowercase();
    if !matches!(priority.as_str(), "" | "critical") {
        return Err(format!(
            "unknown priority {:?}; use critical",
            form.priority
        ));
    }
    let reference = form.reference.trim();
    if reference
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
        || reference.len() > 64
    {
        return Err(format!("REF {reference:?} is not an entry id"));
    }
    let ttl = match form.ttl.trim() {
        "" => default_ttl_for(action, to, reference),
        t => Some(
            crate::store::entry::parse_duration(t)
                .ok_or_else(|| format!("TTL {t:?} is not a duration like 30m, 4h or 7d"))?,
        ),
    };
    if ttl.is_some_and(|t| t > MAX_TTL) {
        return Err("TTL is longer than the 30-day maximum".into());
    }
    let own = |s: &str, n: usize| -> std::borrow::Cow<'static, str> {
        truncate_chars(s, n).into_owned().into()
    };
    Ok(Entry {
        id: ctx.id.clone().into(),
        timestamp: ctx.now,
        source_instance: instance.to_string().into(),
        action: action.into(),
        topic: own(topic, MAX_TOPIC),
        summary: own(summary, MAX_SUMMARY),
        affects: own(form.affects.trim(), MAX_SHORT),
        blocks: own(form.blocks.trim(), MAX_SHORT),
        ttl,
        cwd: ctx.cwd.clone().into(),
        host: ctx.host.clone().into(),
        to: to.to_string().into(),
        reference: reference.to_string().into(),
        priority: priority.into(),
        origin: ORIGIN.into(),
        repo: ctx.repo.clone().into(),
        // No session; and whatever fields later versions add keep their
        // defaults.
        ..Entry::default()
    })
}

/// The entry that acknowledges a handoff (`REF` to it) for `instance`,
/// posted from the page.
pub fn ack_entry(
    handoff: &Entry<'_>,
    instance: &str,
    ctx: &PostContext,
) -> Result<Entry<'static>, String> {
    form_entry(
        &PostForm {
            instance: instance.to_string(),
            action: "signaling".into(),
            topic: format!("Acknowledged: {}", handoff.topic),
            summary: format!(
                "handoff from {} acknowledged from the dashboard",
                handoff.source_instance
            ),
            reference: handoff.id.to_string(),
            ..PostForm::default()
        },
        ctx,
    )
}

/// The entry that releases `claim`: by its own instance, or by a person
/// (any other name) only when `as_person` says so explicitly.
pub fn release_entry(
    claim: &Claim,
    instance: &str,
    as_person: bool,
    ctx: &PostContext,
) -> Result<Entry<'static>, String> {
    let own = key(instance) == key(&claim.instance);
    if !own && !as_person {
        return Err(format!(
            "this claim is {}'s: release it as {} or tick \"as a person\"",
            claim.instance, claim.instance
        ));
    }
    let summary = if own {
        "released from the dashboard".to_string()
    } else {
        format!(
            "{}'s claim released from the dashboard by {instance}, as a person",
            claim.instance
        )
    };
    let mut e = form_entry(
        &PostForm {
            instance: instance.to_string(),
            action: "released".into(),
            topic: claim.topic.clone(),
            summary,
            affects: claim.patterns.join(", "),
            reference: claim.id.clone(),
            ..PostForm::default()
        },
        ctx,
    )?;
    if !own {
        // Only a release recorded as forced closes another instance's claim.
        e.origin = crate::coord::claims::FORCED.into();
    }
    Ok(e)
}

/// What `/api/entries` filters by: free text (in topic, summary, affects,
/// instance, addressee, id), instance and action.
#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    /// Words that must all occur, lowercase.
    pub words: Vec<String>,
    /// Writer or addressee, lowercase; empty for any.
    pub instance: String,
    /// Action; empty for any.
    pub action: String,
}

impl EntryFilter {
    /// A filter from the request's values (`q` split into words).
    pub fn new(q: &str, instance: &str, action: &str) -> Self {
        EntryFilter {
            words: q
                .split_whitespace()
                .map(str::to_lowercase)
                .take(8)
                .collect(),
            instance: key(instance),
            action: action.trim().to_lowercase(),
        }
    }

    /// Whether `e` passes.
    pub fn matches(&self, e: &Entry<'_>) -> bool {
        if !self.instance.is_empty()
            && key(&e.source_instance) != self.instance
            && key(&e.to) != self.instance
        {
            return false;
        }
        if !self.action.is_empty() && e.action != self.action {
            return false;
        }
        if self.words.is_empty() {
            return true;
        }
        let hay = [
            e.topic.as_ref(),
            &e.summary,
            &e.affects,
            &e.blocks,
            &e.source_instance,
            &e.to,
            &e.id,
        ]
        .join("\n")
        .to_lowercase();
        self.words.iter().all(|w| hay.contains(w.as_str()))
    }
}

/// One page of the stream: entries matching a filter, and how many match.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EntriesPage {
    /// Matching entries in the window.
    pub total: usize,
    /// Where this page starts.
    pub offset: usize,
    /// The page, newest first.
    pub entries: Vec<EntryView>,
}

/// A percent-decoded query value (`+` as a space); invalid escapes are kept.
pub fn decode_query_value(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(x) => {
                        out.push(x);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'h>(header: Option<&'h str>, name: &str) -> Option<&'h str> {
    header?
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The value of `name` in a URL's query string (no percent-decoding: the
/// values we look for are plain hex).
pub fn query_param<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The path of a URL, without its query string.
pub fn url_path(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or("")
}

/// Compares two strings in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether a `Host` header names this server: `127.0.0.1` or `localhost`
/// on `port` or without one, or a name given with `--allow-host` on any
/// port (an SSH or editor port-forward listens on a port of its own).
/// Anything else is a DNS-rebinding attempt or an unknown proxy, and is
/// refused.
pub fn host_ok(host: Option<&str>, port: u16, allowed: &[String]) -> bool {
    let Some(host) = host.map(str::trim) else {
        return false;
    };
    let (name, p) = split_host(host);
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(name)) {
        return p.is_none_or(|p| p.parse::<u16>().is_ok());
    }
    let name_ok = name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost");
    name_ok && p.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p == port))
}

/// The host name an `--allow-host` value names: `NAME`, `NAME:PORT` or a URL
/// (`http://devbox:9000/`), the form a person copies from the address bar.
/// The name is answered on any port (a forward picks its own); anything
/// that is not a host name is refused with what was expected.
pub fn allowed_host_name(arg: &str) -> std::result::Result<String, String> {
    let bad = |why: &str| {
        format!(
            "--allow-host {arg:?}: {why}; give a host name, NAME:PORT or a URL (--allow-host devbox, devbox:9000, http://devbox:9000)"
        )
    };
    let mut s = arg.trim();
    for scheme in ["http://", "https://"] {
        if let Some(head) = s.get(..scheme.len())
            && head.eq_ignore_ascii_case(scheme)
        {
            s = &s[scheme.len()..];
        }
    }
    if s.contains("://") {
        return Err(bad("only http:// and https:// addresses are forwarded"));
    }
    let s = s.split(['/', '?', '#']).next().unwrap_or("");
    if s.contains('@') {
        return Err(bad("a user name is not part of a host"));
    }
    let (name, port) = split_host(s);
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(bad(&format!("{p:?} is not a port")));
    }
    let bracketed = s.starts_with('[');
    let valid = if bracketed {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
    } else {
        !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if !valid {
        return Err(bad("that is not a host name"));
    }
    Ok(name.to_ascii_lowercase())
}

/// `name[:port]`, with a bracketed IPv6 name kept whole.
fn split_host(host: &str) -> (&str, Option<&str>) {
    if let Some(rest) = host.strip_prefix('[')
        && let Some((name, after)) = rest.split_once(']')
    {
        return (name, after.strip_prefix(':'));
    }
    match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    }
}

/// The host name a request used, for the refusal page (cleaned, short).
pub fn host_name_of(host: Option<&str>) -> String {
    host.map(|h| clean(split_host(h.trim()).0, 100))
        .unwrap_or_default()
}

/// Whether a state-changing request comes from the page itself: its `Origin`
/// (browsers send one with every POST) must be this server, and a
/// `Sec-Fetch-Site` header, when present, must say `same-origin`. A request
/// with neither comes from a program that knows the token (`curl`), not from
/// another site.
pub fn same_origin(
    origin: Option<&str>,
    fetch_site: Option<&str>,
    port: u16,
    allowed: &[String],
) -> bool {
    let origin_ok = origin.is_none_or(|o| {
        let local = o
            .strip_prefix("http://")
            .is_some_and(|h| h.contains(':') && host_ok(Some(h), port, &[]));
        // A forwarded page may be served over https by the forwarder.
        let forwarded = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
            .is_some_and(|h| {
                let name = split_host(h).0;
                allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
            });
        local || forwarded
    });
    let site_ok = fetch_site.is_none_or(|s| s.eq_ignore_ascii_case("same-origin"));
    origin_ok && site_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn entry(id: &str, inst: &str, action: &str, ts: i64) -> Entry<'static> {
        Entry {
            id: id.to_string().into(),
            timestamp: ts,
            source_instance: inst.to_string().into(),
            action: action.to_string().into(),
            topic: format!("topic {id}").into(),
            ..Entry::default()
        }
    }

    fn claim(id: &str, inst: &str, cwd: &str, patterns: &[&str]) -> Claim {
        Claim {
            id: id.into(),
            instance: inst.into(),
            session_id: String::new(),
            topic: id.into(),
            patterns: patterns.iter().map(|p| p.to_string()).collect(),
            cwd: cwd.into(),
            repo: String::new(),
            timestamp: 0,
            source: None,
            host: String::new(),
            unenforced: Vec::new(),
        }
    }

    #[test]
    fn allow_host_takes_a_name_a_name_with_a_port_or_a_url() {
        for ok in [
            "devbox",
            "devbox:9000",
            "http://devbox:9000",
            "https://DevBox:9000/x?y",
            " devbox. ",
        ] {
            let got = allowed_host_name(ok).unwrap();
            assert!(got == "devbox" || got == "devbox.", "{ok}: {got}");
        }
        assert_eq!(allowed_host_name("[::1]:8080").unwrap(), "::1");
        for bad in [
            "",
            "ŝŝŝŝ",
            "devbox:port",
            "dev box",
            "ftp://devbox",
            "user@devbox",
            "http://",
        ] {
            assert!(allowed_host_name(bad).is_err(), "{bad}");
        }
        let a = vec![allowed_host_name("http://devbox:9000").unwrap()];
        assert!(host_ok(Some("devbox:9000"), 1, &a));
        assert!(same_origin(Some("http://devbox:9000"), None, 1, &a));
    }

    #[test]
    fn cards_combine_config_entries_claims_and_handoffs() {
        let cfg: ConfigFile = serde_json::from_str(
            r#"{"instances": {"B": {"role": "reviewer"}, "A": {"role": "builder", "domain": ["api"]}}}"#,
        )
        .unwrap();
        let now = 100_000;
        let mut h = entry("h1", "A", "signaling", now - 50);
        h.to = "B".into();
        let mut last_a = entry("a2", "a", "completed", now - 10);
        last_a.host = "box".into();
        last_a.cwd = "/w/a".into();
        let inputs = Inputs {
            pool_dir: "/p".into(),
            config: Some(&cfg),
            default_ttl: 3600,
            entries: vec![
                last_a,
                entry("c1", "C", "signaling", now - 2000),
                entry("a1", "A", "claimed", now - 3000),
                h.clone(),
            ],
            handoffs: vec![h],
            claims: vec![claim("a1", "A", "/w/a", &["src/"])],
            sessions: vec![],
            repo: "github.com/o/r".into(),
            scope: "github.com/o/r".into(),
            repos: vec!["github.com/o/r".into(), "x\u{1b}[31m".into()],
            ..Inputs::default()
        };
        let s = snapshot(inputs, now);
        assert_eq!(
            s.repos,
            ["github.com/o/r", "x"],
            "repository ids are cleaned"
        );
        let names: Vec<_> = s.instances.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "C"], "configured first, by name");
        let a = &s.instances[0];
        assert_eq!((a.status, a.role.as_str()), ("active", "builder"));
        assert_eq!(a.domain, ["api"]);
        assert_eq!(a.last.as_ref().unwrap().id, "a2", "case-insensitive names");
        assert_eq!(
            (a.place.host.as_str(), a.place.cwd.as_str()),
            ("box", "/w/a")
        );
        assert_eq!(a.claims.len(), 1);
        let b = &s.instances[1];
        assert_eq!((b.status, b.pending, b.last.is_none()), ("unseen", 1, true));
        assert_eq!(s.instances[2].status, "idle");
        assert_eq!(s.entries.len(), 4);
        assert_eq!(s.handoffs[0].to, "B");
    }

    #[test]
    fn presence_decides_state_and_place() {
        let now = 10_000;
        let session = |id: &str, last: i64, ended: Option<i64>, branch: &str| Presence {
            instance: "A".into(),
            session_id: id.into(),
            cwd: Some(format!("/w/{id}")),
            worktree: Some(format!("/w/{id}")),
            branch: Some(branch.into()),
            host: "h".into(),
            first_seen: last,
            last_seen: last,
            ended,
            ..Presence::default()
        };
        let snap = |sessions: Vec<Presence>, entries: Vec<Entry<'static>>| {
            snapshot(
                Inputs {
                    sessions,
                    entries,
                    ..Inputs::default()
                },
                now,
            )
            .instances
            .remove(0)
        };
        // Newest first: an ended session, then a live idle one.
        let c = snap(
            vec![
                session("s2", now - 5, Some(now - 5), "done"),
                session("s1", now - 600, None, "pool/A"),
            ],
            vec![],
        );
        assert_eq!((c.status, c.sessions), ("idle", 1));
        assert_eq!(
            (c.place.branch.as_str(), c.place.worktree.as_str()),
            ("pool/A", "/w/s1")
        );
        // A presence file from before agents were recorded is Claude Code's.
        assert_eq!(c.place.agent, "claude-code");
        let codex = Presence {
            agent: "codex".into(),
            ..session("s3", now - 1, None, "main")
        };
        assert_eq!(snap(vec![codex], vec![]).place.agent, "codex");
        assert_eq!(c.last_seen, Some(now - 5));
        // Only ended sessions: gone, even with a fresh entry.
        let c = snap(
            vec![session("s2", now - 5, Some(now - 5), "done")],
            vec![entry("e", "A", "completed", now - 1)],
        );
        assert_eq!((c.status, c.place.branch.as_str()), ("gone", "done"));
        // No presence: the entry's age decides, its host and cwd say where.
        let mut e = entry("e", "A", "completed", now - 4000);
        e.host = "box".into();
        let c = snap(vec![], vec![e]);
        assert_eq!((c.status, c.place.host.as_str()), ("gone", "box"));
        let mut detached = session("s3", now, None, "");
        detached.branch = None;
        detached.detached = Some("c".repeat(40));
        assert_eq!(snap(vec![detached], vec![]).place.branch, "c".repeat(12));
    }

    #[test]
    fn text_is_cleaned() {
        let mut e = entry("x", "A", "completed", 0);
        e.topic = "a\u{202e}b\u{1b}[31mc\nd".into();
        let v = EntryView::new(&e, 0, 3600);
        assert_eq!(v.topic, "abc d");
    }

    #[test]
    fn conflicts_are_overlapping_claims_of_different_instances() {
        let claims = [
            claim("1", "A", "/w/a", &["src/auth/"]),
            claim("2", "B", "/w/b", &["docs", "src/auth/token.rs"]),
            claim("3", "C", "/w/c", &["src/**/*.rs"]),
            claim("4", "A", "/w/a", &["src/auth/token.rs"]),
            claim("5", "D", "/w/d", &["ui/"]),
        ];
        let got: Vec<(String, String)> = conflicts(&claims)
            .into_iter()
            .map(|c| (c.a.id, c.b.id))
            .collect();
        let want = [("1", "2"), ("2", "3"), ("2", "4"), ("3", "4")];
        assert_eq!(
            got,
            want.map(|(a, b)| (a.to_string(), b.to_string())),
            "1/3: a folder vs a glob is not detected, 1/4: same instance"
        );
    }

    #[test]
    fn forms_become_entries() {
        let ctx = PostContext {
            id: "id1".into(),
            now: 7,
            host: "h".into(),
            cwd: "/w".into(),
            repo: "github.com/o/r".into(),
        };
        let form = PostForm {
            instance: "human".into(),
            action: "done".into(),
            topic: " Ship it ".into(),
            to: "B".into(),
            ..PostForm::default()
        };
        let e = form_entry(&form, &ctx).unwrap();
        assert_eq!(
            (e.action.as_ref(), e.topic.as_ref(), e.to.as_ref()),
            ("completed", "Ship it", "B")
        );
        assert_eq!(e.ttl, Some(crate::coord::handoffs::LONG_TTL));
        assert_eq!(e.origin, "dashboard");
        assert_eq!(e.repo, "github.com/o/r");
        let bad = |f: PostForm| form_entry(&f, &ctx).unwrap_err();
        assert!(
            bad(PostForm {
                topic: "t".into(),
                ..PostForm::default()
            })
            .contains("empty")
        );
        assert!(
            bad(PostForm {
                instance: "a b".into(),
                topic: "t".into(),
                ..PostForm::default()
            })
            .contains("contains")
        );
        assert!(
            bad(PostForm {
                instance: "A".into(),
                ..PostForm::default()
            })
            .contains("topic")
        );
        assert!(
            bad(PostForm {
                instance: "A".into(),
                topic: "t".into(),
                action: "dance".into(),
                ..PostForm::default()
            })
            .contains("unknown action")
        );
        assert!(
            bad(PostForm {
                instance: "A".into(),
                topic: "t".into(),
                to: "<b>".into(),
                ..PostForm::default()
            })
            .starts_with("TO:")
        );
    }

    #[rstest]
    #[case(Some("127.0.0.1:8080"), true)]
    #[case(Some("localhost:8080"), true)]
    #[case(Some("LOCALHOST:8080"), true)]
    #[case(Some("127.0.0.1"), true)]
    #[case(Some("127.0.0.1:8081"), false)]
    #[case(Some("evil.example:8080"), false)]
    #[case(Some("127.0.0.1.evil.example:8080"), false)]
    #[case(Some("[::1]:8080"), false)]
    #[case(Some(""), false)]
    #[case(None, false)]
    fn hosts(#[case] host: Option<&str>, #[case] ok: bool) {
        assert_eq!(host_ok(host, 8080, &[]), ok);
    }

    #[rstest]
    #[case(Some("http://127.0.0.1:8080"), Some("same-origin"), true)]
    #[case(Some("http://localhost:8080"), None, true)]
    #[case(None, None, true)]
    #[case(Some("http://evil.example"), Some("cross-site"), false)]
    #[case(Some("http://127.0.0.1:9999"), None, false)]
    #[case(Some("null"), None, false)]
    #[case(Some("http://127.0.0.1"), None, false)]
    #[case(None, Some("cross-site"), false)]
    fn origins(#[case] origin: Option<&str>, #[case] site: Option<&str>, #[case] ok: bool) {
        assert_eq!(same_origin(origin, site, 8080, &[]), ok);
    }

    #[test]
    fn urls_and_secrets() {
        assert_eq!(query_param("/x?a=1&token=ab", "token"), Some("ab"));
        assert_eq!(query_param("/x?tokenx=ab", "token"), None);
        assert_eq!(query_param("/x", "token"), None);
        assert_eq!(url_path("/events?token=1"), "/events");
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn a_person_acting_from_the_page_is_no_instance() {
        let now = 50_000;
        let mut h = entry("h1", "A", "signaling", now - 60);
        h.to = "B".into();
        let mut ack = entry("k1", "human", "signaling", now - 10);
        ack.reference = "h1".into();
        ack.origin = ORIGIN.into();
        let mut forced = entry("f1", "lead", "released", now - 5);
        forced.origin = "forced".into();
        let b = entry("b1", "B", "completed", now - 20);
        let s = snapshot(
            Inputs {
                entries: vec![forced, ack, b, h],
                ..Inputs::default()
            },
            now,
        );
        let names: Vec<&str> = s.instances.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["B", "A"], "no card for a person");
        assert_eq!((s.counts.instances, s.counts.active), (2, 2));
        assert!(s.links.is_empty(), "an acknowledgement is no wait");
        assert_eq!(s.entries.len(), 4, "the person's entries are still shown");
    }

    #[test]
    fn blocked_first_with_links_counts_and_capped_claims() {
        let now = 50_000;
        let mut b = entry("b1", "B", "blocked", now - 900);
        b.topic = "Auth API".into();
        let mut c = entry("c1", "C", "blocked", now - 60);
        c.topic = "Fixtures".into();
        let mut done = entry("a9", "A", "completed", now - 30);
        done.topic = "fixtures".into();
        let mut h = entry("h1", "A", "signaling", now - 20);
        h.to = "D".into();
        let mut r = entry("r1", "D", "signaling", now - 10);
        r.reference = "a9".into();
        let log = vec![r, h.clone(), done, c, b];
        let blocks = crate::coord::blocked::blocks(log.iter(), now, 3600);
        let many: Vec<Claim> = (0..8)
            .map(|i| claim(&format!("k{i}"), "A", "/w", &[&format!("src/f{i}.rs")]))
            .collect();
        let s = snapshot(
            Inputs {
                entries: log,
                entries_total: 1234,
                handoffs: vec![h],
                claims: many,
                blocks,
                ..Inputs::default()
            },
            now,
        );
        assert_eq!(s.instances[0].name, "B", "blocked first");
        assert_eq!(s.instances[0].blocked[0].topic, "Auth API");
        assert_eq!(s.counts.blocked, 1);
        assert_eq!((s.counts.handoffs, s.counts.conflicts), (1, 0));
        assert_eq!(s.entries_total, 1234);
        let a = s.instances.iter().find(|c| c.name == "A").unwrap();
        assert_eq!((a.claims.len(), a.claims_total), (CLAIMS_PER_CARD, 8));
        // Only waits are drawn: the pending handoff. C's block that A's
        // completed ended, and D's REF to it, are not waits.
        let kinds: Vec<(&str, &str, &str, &str)> = s
            .links
            .iter()
            .map(|l| (l.kind, l.from.as_str(), l.to.as_str(), l.id.as_str()))
            .collect();
        assert_eq!(kinds, [("handoff", "A", "D", "h1")]);
        assert!(s.blocks[0].unblocked_by.is_none());
        assert_eq!(s.blocks[1].unblocked_by.as_ref().unwrap().id, "a9");
    }

    /// Issue 22, section 3: another machine's "A" (its entries, claims and
    /// blocks came through `pool sync`) has a card of its own, named where
    /// it came from; this machine's A keeps its last entry, claims and
    /// blocks, and its role.
    #[test]
    fn another_machines_instance_has_its_own_card() {
        let cfg: ConfigFile =
            serde_json::from_str(r#"{"instances": {"A": {"role": "builder"}}}"#).unwrap();
        let now = 100_000;
        let pulled = |mut e: Entry<'static>| {
            e.host = "laptop".into();
            e.received = Some(now - 1);
            e.via = "alice".into();
            e
        };
        let local = entry("l1", "A", "completed", now - 100);
        let remote_done = pulled(entry("r1", "A", "completed", now - 10));
        let remote_block = pulled(entry("r2", "A", "blocked", now - 20));
        let log = vec![remote_done, remote_block, local];
        let blocks = crate::coord::blocked::blocks(log.iter(), now, 3600);
        let mut remote_claim = claim("r3", "A", "/w", &["src/remote.rs"]);
        remote_claim.source = Some("alice".into());
        remote_claim.host = "laptop".into();
        let s = snapshot(
            Inputs {
                config: Some(&cfg),
                entries: log,
                claims: vec![remote_claim],
                blocks,
                ..Inputs::default()
            },
            now,
        );
        let mut names: Vec<&str> = s.instances.iter().map(|c| c.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["A", "A@laptop (synced from alice)"]);
        let a = s.instances.iter().find(|c| c.name == "A").unwrap();
        assert_eq!(a.last.as_ref().unwrap().id, "l1");
        assert_eq!(a.role, "builder");
        assert!(a.claims.is_empty() && a.blocked.is_empty(), "{a:?}");
        let r = s.instances.iter().find(|c| c.name != "A").unwrap();
        assert_eq!(r.last.as_ref().unwrap().id, "r1");
        assert_eq!(r.role, "", "the role is this machine's A's");
        assert_eq!(r.claims[0].id, "r3");
        assert_eq!(r.blocked[0].topic, "topic r2");
    }

    #[test]
    fn conflicts_scale_and_cover_claims_without_cwd() {
        // Without cwd: compared by the paths as written.
        let claims = [
            claim("1", "A", "", &["src/auth/"]),
            claim("2", "B", "", &["src/auth/token.rs"]),
            claim("3", "C", "", &["docs/"]),
            claim("4", "D", "/w/d", &["src/auth/x.rs"]),
        ];
        let got: Vec<(String, String)> = conflicts(&claims)
            .into_iter()
            .map(|c| (c.a.id, c.b.id))
            .collect();
        assert_eq!(
            got,
            [("1", "2"), ("1", "4")].map(|(a, b)| (a.to_string(), b.to_string()))
        );
        // 3,000 claims of distinct files, and a folder claim overlapping a
        // few (the time is measured in the report, not asserted here).
        let mut many: Vec<Claim> = (0..3000)
            .map(|i| {
                claim(
                    &format!("c{i}"),
                    &format!("I{}", i % 50),
                    "/w",
                    &[&format!("src/m{}/f{i}.rs", i % 100)],
                )
            })
            .collect();
        many.push(claim("folder", "Z", "/w", &["src/m7/"]));
        let start = std::time::Instant::now();
        let found = conflicts(&many);
        eprintln!("conflicts over 3001 claims: {:?}", start.elapsed());
        assert_eq!(found.len(), 30, "the 30 files under src/m7/");
        assert!(found.iter().all(|c| c.b.id == "folder"));
    }

    #[test]
    fn page_actions_are_marked_and_checked() {
        let ctx = PostContext {
            id: "n1".into(),
            now: 9,
            host: "h".into(),
            cwd: "/w".into(),
            repo: "github.com/o/r".into(),
        };
        let c = claim("k1", "A", "/w", &["src/x.rs"]);
        let own = release_entry(&c, "a", false, &ctx).unwrap();
        assert_eq!(
            (
                own.action.as_ref(),
                own.reference.as_ref(),
                own.origin.as_ref()
            ),
            ("released", "k1", "dashboard")
        );
        assert!(
            release_entry(&c, "lead", false, &ctx)
                .unwrap_err()
                .contains("as a person")
        );
        let person = release_entry(&c, "lead", true, &ctx).unwrap();
        assert!(person.summary.contains("by lead, as a person"));
        assert_eq!(person.origin, crate::coord::claims::FORCED);
        let mut h = entry("h1", "A", "signaling", 1);
        h.to = "B".into();
        let a = ack_entry(&h, "B", &ctx).unwrap();
        assert_eq!(
            (a.reference.as_ref(), a.origin.as_ref()),
            ("h1", "dashboard")
        );
        let form = PostForm {
            instance: "human".into(),
            topic: "t".into(),
            ttl: "2h".into(),
            blocks: "B can start".into(),
            reference: "abc".into(),
            ..PostForm::default()
        };
        let e = form_entry(&form, &ctx).unwrap();
        assert_eq!(
            (e.ttl, e.blocks.as_ref(), e.reference.as_ref()),
            (Some(7200), "B can start", "abc")
        );
        let bad = |f: PostForm| form_entry(&f, &ctx).unwrap_err();
        assert!(
            bad(PostForm {
                ttl: "31d".into(),
                ..form.clone()
            })
            .contains("30-day")
        );
        assert!(
            bad(PostForm {
                ttl: "soon".into(),
                ..form.clone()
            })
            .contains("not a duration")
        );
        assert!(
            bad(PostForm {
                reference: "a b".into(),
                ..form.clone()
            })
            .contains("REF")
        );
        let f = EntryFilter::new("AUTH token", "", "");
        let mut e = entry("x", "A", "completed", 0);
        e.topic = "Auth token refresh".into();
        assert!(f.matches(&e));
        assert!(!EntryFilter::new("auth", "B", "").matches(&e));
        assert_eq!(decode_query_value("a%20b+c%zz"), "a b c%zz");
        assert_eq!(
            cookie(Some("x=1; pool_token_80=ab"), "pool_token_80"),
            Some("ab")
        );
        assert!(host_ok(Some("devbox:9000"), 8080, &["devbox".into()]));
        assert!(!host_ok(Some("devbox:9000"), 8080, &[]));
        assert!(same_origin(
            Some("https://devbox"),
            None,
            8080,
            &["devbox".into()]
        ));
    }
}
