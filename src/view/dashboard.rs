//! The web dashboard's model and gatekeeping: what `pool dashboard` shows
//! (instance cards, the entry stream, pending handoffs, conflicting claims),
//! built from what was read without further I/O; the entry a person posts
//! from the page; and the checks every request must pass (token, `Host`,
//! same origin). The server itself, the only part doing I/O, is
//! [`crate::cmd::dashboard`].
//!
//! Every string handed to the page has been through [`clean`] (no control,
//! bidi or zero-width characters); the page still inserts it as text only.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::coord::claims::{Claim, path_matches};
use crate::coord::handoffs::default_ttl_for;
use crate::coord::presence::{Presence, State};
use crate::env::config::ConfigFile;
use crate::store::entry::{
    ACTIONS, Entry, MAX_SHORT, MAX_SUMMARY, MAX_TOPIC, normalize_action, truncate_chars,
};
use crate::store::log::MAX_TTL;
use crate::store::paths::validate_instance;
use crate::view::render::clean;

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
    /// Its open claims, newest first.
    pub claims: Vec<ClaimView>,
    /// Its latest entry.
    pub last: Option<EntryView>,
    /// Pending handoffs addressed to it.
    pub pending: usize,
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
    let mut slot = |name: &str, cards: &mut BTreeMap<String, Card>| -> Option<String> {
        let k = key(name);
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
                name: clean(name.trim(), SHOW_SHORT),
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
                last: None,
                pending: 0,
            }
        });
        Some(k)
    };
    for name in config.instances.keys() {
        slot(name, &mut cards);
    }
    // Best session state per card; sessions come most recently heard first.
    let mut best: BTreeMap<String, State> = BTreeMap::new();
    for p in &inputs.sessions {
        let Some(k) = slot(&p.instance, &mut cards) else {
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
        if let Some(k) = slot(&e.source_instance, &mut cards)
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
        if let Some(k) = slot(&cl.instance, &mut cards)
            && let Some(c) = cards.get_mut(&k)
        {
            c.claims.push(ClaimView::new(cl));
        }
    }
    for h in &inputs.handoffs {
        if let Some(k) = slot(&h.to, &mut cards)
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
    let instances = head
        .iter()
        .chain(tail.iter())
        .filter_map(|k| cards.remove(k))
        .collect();
    Snapshot {
        now,
        pool_dir: inputs.pool_dir,
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
        conflicts: conflicts(&inputs.claims),
        actions: ACTIONS,
    }
}

/// A claim pattern as an absolute path: itself when absolute, else under the
/// claimer's working directory (or as written when there is none).
fn absolute(pattern: &str, cwd: &str) -> String {
    if pattern.starts_with('/') || cwd.is_empty() {
        pattern.to_string()
    } else {
        format!(
            "{}/{}",
            cwd.trim_end_matches('/'),
            pattern.trim_start_matches("./")
        )
    }
}

/// Pairs of open claims of different instances whose paths overlap: a
/// pattern of one matches (a path under) a pattern of the other, checked
/// both ways with [`path_matches`].
pub fn conflicts(claims: &[Claim]) -> Vec<Conflict> {
    let mut out = Vec::new();
    for (i, a) in claims.iter().enumerate() {
        for b in &claims[i + 1..] {
            if key(&a.instance) == key(&b.instance) {
                continue;
            }
            let hit = a.patterns.iter().find_map(|pa| {
                b.patterns
                    .iter()
                    .find(|pb| {
                        path_matches(pa, &a.cwd, &absolute(pb, &b.cwd))
                            || path_matches(pb, &b.cwd, &absolute(pa, &a.cwd))
                    })
                    .map(|pb| (pa, pb))
            });
            if let Some((pa, pb)) = hit {
                out.push(Conflict {
                    a: ClaimView::new(a),
                    b: ClaimView::new(b),
                    a_pattern: clean(pa, SHOW_TEXT),
                    b_pattern: clean(pb, SHOW_TEXT),
                });
                if out.len() >= MAX_CONFLICTS {
                    return out;
                }
            }
        }
    }
    out
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
        ttl: default_ttl_for(action, to, "").map(|t| t.min(MAX_TTL)),
        cwd: ctx.cwd.clone().into(),
        host: ctx.host.clone().into(),
        to: to.to_string().into(),
        priority: priority.into(),
        origin: "dashboard".into(),
        // No session, no `blocks`, no `ref`; and whatever fields later
        // versions add keep their defaults.
        ..Entry::default()
    })
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

/// Whether a `Host` header names this server (`127.0.0.1` or `localhost`,
/// on `port` or without one). Anything else is a DNS-rebinding attempt or
/// a proxy, and is refused.
pub fn host_ok(host: Option<&str>, port: u16) -> bool {
    let Some(host) = host.map(str::trim) else {
        return false;
    };
    let (name, p) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let name_ok = name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost");
    name_ok && p.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p == port))
}

/// Whether a state-changing request comes from the page itself: its `Origin`
/// (browsers send one with every POST) must be this server, and a
/// `Sec-Fetch-Site` header, when present, must say `same-origin`. A request
/// with neither comes from a program that knows the token (`curl`), not from
/// another site.
pub fn same_origin(origin: Option<&str>, fetch_site: Option<&str>, port: u16) -> bool {
    let origin_ok = origin.is_none_or(|o| {
        o.strip_prefix("http://")
            .is_some_and(|h| h.contains(':') && host_ok(Some(h), port))
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
            timestamp: 0,
        }
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
        };
        let s = snapshot(inputs, now);
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
        assert_eq!(host_ok(host, 8080), ok);
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
        assert_eq!(same_origin(origin, site, 8080), ok);
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
}
