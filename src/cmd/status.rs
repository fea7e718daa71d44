//! `pool status`: the coordination dashboard — each instance's state and
//! role, what it is blocked on and for how long, its sessions (agent,
//! worktree, branch, host), open claims, pending handoffs to it and its latest entries
//! — as text, as JSON, or refreshed with `--watch` (cut to the terminal's
//! height, so the blocked and active instances at the top stay in view).
//!
//! The board is gathered once ([`gather`]: presence files and the recent end
//! of the log) and assembled without I/O ([`assemble`]); `pool bulletin`
//! renders the same board as Markdown.
//!
//! `--json` prints one object per snapshot on one line (`--watch --json` is
//! JSON Lines). Its shape, version 1:
//!
//! ```json
//! {"version": 1, "scope": "github.com/o/r", "now": 1700000000, "pool_dir": "/home/u/.claude/pool",
//!  "instances": [{
//!    "instance": "A", "state": "active", "role": "builder", "last_seen": 1700000000,
//!    "blocked": [{"id": "…", "topic": "…", "summary": "…", "since": 1699999000}],
//!    "sessions": [{"session_id": "…", "agent": "codex", "state": "active", "cwd": "/w/repo",
//!      "worktree": "/w/repo", "repo": "github.com/o/r", "branch": "main", "detached": null, "host": "h",
//!      "first_seen": 1699990000, "last_seen": 1700000000, "ended": null,
//!      "wakeable": true, "wake_note": null}],
//!    "claims": [{"id": "…", "topic": "…", "patterns": ["src/auth.rs"], "timestamp": 1699999000}],
//!    "handoffs": [{"id": "…", "from": "B", "action": "completed", "topic": "…",
//!      "summary": "…", "timestamp": 1699999000}],
//!    "last_entry": {"id": "…", "action": "completed", "topic": "…", "timestamp": 1699999900,
//!      "auto": false},
//!    "totals": {"sessions": 1, "blocked": 0, "claims": 1, "handoffs": 1}
//!  }],
//!  "conflicts": [{"a": {"id": "…", "instance": "WEB", "topic": "…", "patterns": ["src/x.rs"],
//!    "timestamp": 1699999000}, "b": {…}, "a_pattern": "src/x.rs", "b_pattern": "src/"}],
//!  "conflicts_total": 1,
//!  "out_of_scope": {"sessions": 2, "entries": 3},
//!  "left_out": {"claims": 0, "handoffs": 0, "instances": 0, "read_back_to": null}}
//! ```
//!
//! The board is bounded at any pool size (issue 24): each list (an
//! instance's sessions, blocks, claims and handoffs; the conflicts) shows at
//! most `--limit` items (default [`LIMIT`]) and the text form ends it with
//! `… and N more claims (pool status --limit N)`; `totals` and
//! `conflicts_total` count them all. The text shows at most
//! [`SHOWN_INSTANCES`] instance sections. Reading keeps the newest
//! [`MAX_CLAIMS_KEPT`] open claims (conflicts are checked among them) and
//! [`MAX_HANDOFFS_KEPT`] handoffs, and stops [`PAST_HORIZON_LINES`] lines
//! past the live horizon; `left_out` says what that left out.
//!
//! `conflicts` are open claims of different instances on overlapping paths
//! (as on the dashboard; their text is cleaned); `out_of_scope` counts the
//! sessions and the last 24 hours' entries of other repositories, which
//! `--all-repos` shows.
//!
//! `instance` is the instance's name; for one whose entries came through
//! `pool sync` from another machine it is followed by where they came from,
//! `A@laptop (synced from alice)` (the host its entries name, `?` when
//! none, and the stream this machine read them from): that is a row of its
//! own, never this machine's A (issue 22). Sessions are always this
//! machine's.
//!
//! `state` is `active` (seen within 5 minutes), `idle` (within an hour),
//! `gone` (ended, or older) or `unseen` (only named by a handoff). An
//! instance's state is its best session's; without presence files, its latest
//! entry's age. `last_seen` (its latest hook call or entry), `role` and
//! `last_entry` may be `null`; `blocked` lists its open blocks
//! ([`crate::coord::blocked`]), longest first. Strings are raw (JSON-escaped,
//! not cleaned). Instances that are blocked (and not gone) come first, then
//! by state, then most recently heard first; sessions most recently heard
//! first. A session's `wakeable` says whether a handoff or critical entry can
//! wake it through its inbox socket (`wake_note`: why not, or why the wake
//! may be held).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error, is_broken_pipe};
use crate::coord::blocked::{self, Block, Seen};
use crate::coord::claims::{self, Claim};
use crate::coord::handoffs::{AckTracker, LONG_TTL};
use crate::coord::presence::{self, Presence, State};
use crate::env::config::{self, Config, ProcessEnv};
use crate::env::repo::Scope;
use crate::error::{Error, Result};
use crate::store::entry::{Entry, format_age};
use crate::store::log::{DEFAULT_TTL, ORDER_SLACK, Pool, Walk};
use crate::view::dashboard::Conflict;
use crate::view::neutral::{self, clean};
use crate::view::render::{
    SHOW_INSTANCE, SHOW_TOPIC, critical_mark, instance_key, remote_suffix, to_suffix,
};

/// Version of the `--json` shape.
pub const JSON_VERSION: u32 = 1;
/// How far back the log is read for instances' latest entries, in seconds (24 hours).
pub const WINDOW: u64 = 86_400;
/// Latest entries kept per instance.
pub const RECENT_KEPT: usize = 5;
/// Most instances on the board.
pub const MAX_INSTANCES: usize = 500;
/// Time between `--watch` refreshes.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);
/// Items of each list shown by default (`--limit`): each instance's
/// sessions, blocks, claims and handoffs, and the conflicts.
pub const LIMIT: usize = 5;
/// Instance sections shown at least (more when `--limit` is larger).
pub const SHOWN_INSTANCES: usize = 50;
/// Names on the `gone:` line at least (more when `--limit` is larger).
pub const SHOWN_GONE: usize = 20;
/// Open claims kept for the board, newest first (the rest are counted, and
/// not checked for conflicts): the cost follows what is shown.
pub const MAX_CLAIMS_KEPT: usize = 10_000;
/// Pending handoffs kept for the board, newest first (the rest are counted).
pub const MAX_HANDOFFS_KEPT: usize = 1_000;
/// Lines read past the live horizon (the longer of `POOL_TTL` and an hour,
/// where claims and blocks live) while looking for quiet instances' latest
/// entries in the [`WINDOW`]: on a busy pool the board stops there and says
/// how far back it read (handoffs and long-lived entries still come from
/// the long-TTL index).
pub const PAST_HORIZON_LINES: usize = 2_000;
/// Most entries one board reads from the log (about a second's work): past
/// them the board says how far back it read, and counts nothing older.
pub const MAX_ENTRIES_READ: usize = 200_000;
/// Most entries read from the long-TTL index after the log, newest first.
pub const MAX_INDEX_READ: usize = 50_000;

/// Flags of `pool status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print one JSON object (documented shape, version 1).
    #[arg(long)]
    pub json: bool,
    /// Refresh every 2 seconds until interrupted (Ctrl-C).
    #[arg(long, short)]
    pub watch: bool,
    /// Show up to N of each list: each instance's sessions, blocks, claims
    /// and handoffs, and the conflicts (and at least 50 instances); the rest
    /// are counted ("and 12 more").
    #[arg(long, value_name = "N", default_value_t = LIMIT,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub limit: usize,
    /// Which repositories to show (default: this one).
    #[command(flatten)]
    pub scope: crate::cmd::scope::ScopeArgs,
}

/// One instance on the board.
#[derive(Debug, Clone)]
pub struct InstanceView {
    /// Its name as last written.
    pub name: String,
    /// `@host (synced from STREAM)` for an instance of another machine (its
    /// entries, claims and blocks came through `pool sync`), already
    /// cleaned ([`remote_suffix`]); empty for this machine's.
    pub from: String,
    /// Its state (see the module documentation).
    pub state: State,
    /// Its role in `config.json`.
    pub role: Option<String>,
    /// Its open blocks, longest first.
    pub blocked: Vec<Block>,
    /// Latest hook call of any of its sessions.
    pub last_seen: Option<i64>,
    /// Its sessions, most recently heard first.
    pub sessions: Vec<Presence>,
    /// Its open claims, newest first (those the board kept).
    pub claims: Vec<Claim>,
    /// How many open claims it has in all, kept or not.
    pub claims_total: usize,
    /// Handoffs to it not yet acknowledged, newest first.
    pub handoffs: Vec<Entry<'static>>,
    /// Its latest entries, newest first (at most [`RECENT_KEPT`]).
    pub recent: Vec<Entry<'static>>,
}

impl InstanceView {
    fn new(name: &str, from: &str) -> Self {
        InstanceView {
            name: name.to_string(),
            from: from.to_string(),
            state: State::Unseen,
            role: None,
            blocked: Vec::new(),
            last_seen: None,
            sessions: Vec::new(),
            claims: Vec::new(),
            claims_total: 0,
            handoffs: Vec::new(),
            recent: Vec::new(),
        }
    }

    /// Its name and where it came from: `A`, or `A@laptop (synced from
    /// alice)` for another machine's A.
    pub fn label(&self) -> String {
        format!("{}{}", self.name, self.from)
    }

    /// The latest sign of life: a hook call or an entry.
    pub fn last_heard(&self) -> Option<i64> {
        let entry = self.recent.first().map(|e| e.timestamp);
        self.last_seen.max(entry)
    }

    /// Sessions that are not gone.
    pub fn live_sessions(&self, now: i64) -> impl Iterator<Item = &Presence> {
        self.sessions
            .iter()
            .filter(move |p| p.state(now) != State::Gone)
    }
}

/// Everything the dashboard and the bulletin show.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// When it was gathered, epoch seconds.
    pub now: i64,
    /// The instances, by state then most recently heard first.
    pub instances: Vec<InstanceView>,
    /// The repositories shown ([`Scope::describe`]).
    pub scope: String,
    /// What the scope left out.
    pub out_of_scope: OutOfScope,
    /// What the caps left out of the board itself.
    pub left_out: LeftOut,
    /// Items of each list to show ([`LIMIT`] when 0).
    pub limit: usize,
}

/// What the board's caps left out (beyond what each instance counts):
/// claims and handoffs past [`MAX_CLAIMS_KEPT`] and [`MAX_HANDOFFS_KEPT`],
/// and instances past [`MAX_INSTANCES`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeftOut {
    /// Open claims not kept (not listed, not checked for conflicts).
    pub claims: usize,
    /// Pending handoffs not kept.
    pub handoffs: usize,
    /// Instances not on the board.
    pub instances: usize,
    /// When the log was read back to, when the scan stopped before the
    /// [`WINDOW`]'s start: older entries were not looked at (but for the
    /// long-TTL index's).
    pub read_back_to: Option<i64>,
}

impl LeftOut {
    /// `not kept: 12 open claims (not checked for conflicts), …`; `None`
    /// when nothing was left out.
    pub fn line(&self, now: i64) -> Option<String> {
        let mut parts = Vec::new();
        if self.claims > 0 {
            parts.push(format!(
                "{} open claims (newest {MAX_CLAIMS_KEPT} kept and checked for conflicts)",
                self.claims
            ));
        }
        if self.handoffs > 0 {
            parts.push(format!(
                "{} pending handoffs (newest {MAX_HANDOFFS_KEPT} kept)",
                self.handoffs
            ));
        }
        if self.instances > 0 {
            parts.push(format!(
                "{} instances (at most {MAX_INSTANCES} on a board)",
                self.instances
            ));
        }
        let mut line = (!parts.is_empty()).then(|| format!("not kept: {}", parts.join(", ")));
        if let Some(t) = self.read_back_to {
            let l = line.get_or_insert_with(String::new);
            if !l.is_empty() {
                l.push('\n');
            }
            l.push_str(&format!(
                "busy pool: the log was read back to {} ago only (older claims and entries not counted; handoffs and long-lived entries from the index)",
                format_age(now - t)
            ));
        }
        line
    }
}

impl Board {
    /// Items of each list to show: [`Board::limit`], else [`LIMIT`].
    pub fn limit(&self) -> usize {
        if self.limit == 0 { LIMIT } else { self.limit }
    }

    /// Open claims of different instances on overlapping paths, as the
    /// dashboard finds them ([`crate::view::dashboard::conflicts`]).
    pub fn conflicts(&self) -> Vec<Conflict> {
        let all: Vec<&Claim> = self
            .instances
            .iter()
            .flat_map(|v| v.claims.iter())
            .collect();
        crate::view::dashboard::conflicts(&all)
    }

    /// Every pending handoff, newest first.
    pub fn handoffs(&self) -> Vec<&Entry<'static>> {
        let mut all: Vec<_> = self.instances.iter().flat_map(|i| &i.handoffs).collect();
        all.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
        all
    }
}

/// What [`gather`] read, before assembly.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Presence of every session.
    pub sessions: Vec<Presence>,
    /// Open claims, newest first (at most [`MAX_CLAIMS_KEPT`]).
    pub claims: Vec<Claim>,
    /// Open claims per instance (lowercase name), kept or not.
    pub claims_total: HashMap<String, usize>,
    /// Pending handoffs (to any instance), newest first (at most
    /// [`MAX_HANDOFFS_KEPT`]).
    pub handoffs: Vec<Entry<'static>>,
    /// Latest entries per instance (lowercase name), newest first.
    pub recent: Vec<Entry<'static>>,
    /// Blocks in the live window, open and ended.
    pub blocks: Vec<Block>,
    /// Roles from `config.json`, by lowercase instance name.
    pub roles: HashMap<String, String>,
    /// What the scope left out.
    pub out_of_scope: OutOfScope,
    /// What the caps left out.
    pub left_out: LeftOut,
}

/// What a board leaves out because it shows one scope: sessions and
/// entries of other repositories (`--all-repos` shows them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutOfScope {
    /// Sessions (presence files) in other repositories.
    pub sessions: usize,
    /// Entries of the last [`WINDOW`] in other repositories.
    pub entries: usize,
}

impl OutOfScope {
    /// `2 sessions and 3 entries in other repositories: pool status
    /// --all-repos` (with `command` for the command); `None` when nothing is
    /// left out.
    pub fn line(&self, command: &str) -> Option<String> {
        let n =
            |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        let sessions = n(self.sessions, "session", "sessions");
        let entries = n(self.entries, "entry", "entries");
        let what = match (self.sessions, self.entries) {
            (0, 0) => return None,
            (_, 0) => sessions,
            (0, _) => entries,
            _ => format!("{sessions} and {entries}"),
        };
        Some(format!(
            "{what} in other repositories: {command} --all-repos"
        ))
    }
}

fn key(name: &str) -> String {
    let n = name.trim();
    if n.is_empty() {
        presence::UNKNOWN_INSTANCE.to_string()
    } else if n.is_ascii() {
        n.to_ascii_lowercase()
    } else {
        n.to_lowercase()
    }
}

/// The board's key of a writer: [`key`] of its name, then where it came
/// from ([`instance_key`]), so another machine's A is never this one's.
fn writer_key(name: &str, host: &str, source: Option<&str>) -> String {
    match source {
        // This machine's writer: its key alone, made once (it is made for
        // every entry and claim of the window).
        None => key(name),
        Some(_) => instance_key(&key(name), host, source),
    }
}

/// Reads presence files (pruning those gone more than 7 days when `prune`),
/// open claims, pending handoffs and each instance's latest entries from
/// the pool, in one backwards pass over the window that keeps only what the
/// board can show (see [`MAX_CLAIMS_KEPT`]) and counts the rest. Fails when
/// the pool or its presence folder cannot be read.
pub fn gather(
    pool: &Pool,
    settings: &Config,
    now: i64,
    prune: bool,
    scope: &Scope,
) -> Result<Inputs> {
    let listing = presence::list(pool.dir(), now, prune)?;
    let mut out_of_scope = OutOfScope::default();
    let scanned = scan(pool, settings.ttl, now, scope, &mut out_of_scope)?;
    let (sessions, others): (Vec<Presence>, Vec<Presence>) = listing
        .sessions
        .into_iter()
        .partition(|p| p.in_scope(scope));
    out_of_scope.sessions = others.len();
    let roles = config::load_config_file(pool.dir())
        .unwrap_or_default()
        .instances
        .into_iter()
        .filter_map(|(n, c)| Some((key(&n), c.role?)))
        .collect();
    Ok(Inputs {
        sessions,
        claims: scanned.claims,
        claims_total: scanned.claims_total,
        handoffs: scanned.handoffs,
        recent: scanned.recent,
        blocks: scanned.blocks,
        roles,
        out_of_scope,
        left_out: scanned.left_out,
    })
}

/// What [`scan`] kept of the window, and what it only counted.
#[derive(Default)]
struct Scanned {
    handoffs: Vec<Entry<'static>>,
    recent: Vec<Entry<'static>>,
    blocks: Vec<Block>,
    claims: Vec<Claim>,
    claims_total: HashMap<String, usize>,
    left_out: LeftOut,
}

/// One pass over the window, within `scope`: open claims (the newest
/// [`MAX_CLAIMS_KEPT`] kept, all counted per instance), pending handoffs,
/// up to [`RECENT_KEPT`] entries per instance, and blocks; entries of the
/// window outside `scope` are counted in `outside`. Nothing else of an
/// entry outlives its visit.
fn scan(
    pool: &Pool,
    default_ttl: u64,
    now: i64,
    scope: &Scope,
    outside: &mut OutOfScope,
) -> Result<Scanned> {
    let window_start = now.saturating_sub(WINDOW as i64);
    let mut acks = AckTracker::default();
    let mut out = Scanned::default();
    let mut claims = claims::ClaimTracker::default();
    let mut per_instance: HashMap<String, usize> = HashMap::new();
    let mut blocks = blocked::Tracker::default();
    let horizon = now
        .saturating_sub(i64::try_from(default_ttl.max(DEFAULT_TTL)).unwrap_or(i64::MAX))
        .saturating_sub(ORDER_SLACK);
    let mut past = 0usize;
    let mut read = 0usize;
    pool.scan_shown(now, WINDOW.max(default_ttl), |e| {
        read += 1;
        // Past the live horizon only a quiet instance's latest entry is
        // still wanted: a busy pool stops looking after a while.
        let walk = if e.order_time() < horizon {
            past += 1;
            if past >= PAST_HORIZON_LINES {
                if e.order_time() >= window_start {
                    out.left_out.read_back_to.get_or_insert(e.order_time());
                }
                Walk::SkipToIndex
            } else {
                Walk::Continue
            }
        } else if read >= MAX_ENTRIES_READ + MAX_INDEX_READ {
            out.left_out.read_back_to.get_or_insert(e.order_time());
            Walk::Stop
        } else if read >= MAX_ENTRIES_READ {
            out.left_out.read_back_to.get_or_insert(e.order_time());
            Walk::SkipToIndex
        } else {
            Walk::Continue
        };
        let admitted = scope.admits(&e.repo, &e.cwd);
        // Closers outside the scope still count when they name the claim
        // (as in `claims::open_claims_in`).
        if (admitted || (e.action != "claimed" && !e.reference.is_empty()))
            && let Some(c) = claims.visit(&e, now, default_ttl)
        {
            let k = writer_key(&c.instance, &c.host, c.source.as_deref());
            let counted =
                out.claims_total.len() < MAX_INSTANCES || out.claims_total.contains_key(&k);
            if counted {
                *out.claims_total.entry(k).or_default() += 1;
            }
            if counted && out.claims.len() < MAX_CLAIMS_KEPT {
                out.claims.push(c);
            } else {
                out.left_out.claims += 1;
            }
        }
        if !admitted {
            acks.note_ref(&e.reference);
            outside.entries += usize::from(e.timestamp >= window_start);
            return walk;
        }
        blocks.visit(&Seen::of(&e, now, default_ttl), Some(&e));
        if acks.visit(&e, Some(e.to.as_ref()), now, default_ttl) {
            if out.handoffs.len() < MAX_HANDOFFS_KEPT {
                out.handoffs.push(e.clone().into_owned());
            } else {
                out.left_out.handoffs += 1;
            }
        }
        if e.timestamp >= window_start {
            let full = per_instance.len() >= MAX_INSTANCES;
            let k = writer_key(&e.source_instance, &e.host, e.source());
            let n = match per_instance.get_mut(&k) {
                Some(n) => Some(n),
                None if !full => Some(per_instance.entry(k).or_default()),
                None => None,
            };
            if let Some(n) = n.filter(|n| **n < RECENT_KEPT) {
                *n += 1;
                out.recent.push(e.into_owned());
            }
        }
        walk
    })?;
    // Handoffs older than the window come from the long-TTL index; their
    // acknowledgements (ordinary entries) may lie between them and the
    // window, so read back to the oldest one before calling it pending.
    let oldest = out.handoffs.iter().map(|h| h.timestamp).min();
    if let Some(oldest) = oldest.filter(|t| *t < window_start) {
        let stop = oldest.max(now.saturating_sub(LONG_TTL as i64));
        let mut all_acks = AckTracker::default();
        pool.scan_back(Some(stop), |_, _, e| {
            all_acks.visit(&e, None, now, default_ttl);
            ControlFlow::Continue(())
        })?;
        out.handoffs
            .retain(|h| all_acks.visit(h, Some(h.to.as_ref()), now, default_ttl));
    }
    out.handoffs.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
    out.blocks = blocks.finish();
    Ok(out)
}

/// Builds the board from what was read: groups sessions, claims, handoffs
/// and entries by instance (names compared case-insensitively), derives each
/// instance's state, and sorts.
pub fn assemble(inputs: Inputs, now: i64) -> Board {
    let mut by_key: HashMap<String, InstanceView> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    // Names past the cap, to count them (the inputs are bounded, so is this).
    let mut dropped: std::collections::HashSet<String> = std::collections::HashSet::new();
    // Another machine's writers get rows of their own (`A@laptop (synced
    // from alice)`): nothing pulled passes for this machine's instance.
    let mut slot = |name: &str, host: &str, source: Option<&str>| -> String {
        let k = writer_key(name, host, source);
        if !by_key.contains_key(&k) && by_key.len() >= MAX_INSTANCES {
            dropped.insert(k.clone());
        }
        if !by_key.contains_key(&k) && by_key.len() < MAX_INSTANCES {
            let shown = if name.trim().is_empty() {
                presence::UNKNOWN_INSTANCE
            } else {
                name.trim()
            };
            by_key.insert(
                k.clone(),
                InstanceView::new(shown, &remote_suffix(host, source)),
            );
            order.push(k.clone());
        }
        k
    };
    // Inputs come newest first, so the first name seen is the latest spelling.
    let mut keyed: Vec<(String, Presence)> = Vec::new();
    for p in inputs.sessions {
        // Presence is per machine and never synced: sessions are local.
        keyed.push((slot(&p.instance, "", None), p));
    }
    // A person's entries (from the dashboard, or a release by hand) make
    // no instance and are no instance's last entry.
    let keyed_entries: Vec<_> = inputs
        .recent
        .into_iter()
        .filter(|e| !e.by_person())
        .map(|e| (slot(&e.source_instance, &e.host, e.source()), e))
        .collect();
    let keyed_claims: Vec<_> = inputs
        .claims
        .into_iter()
        .map(|c| (slot(&c.instance, &c.host, c.source.as_deref()), c))
        .collect();
    let open_blocks: Vec<Block> = blocked::open(&inputs.blocks).into_iter().cloned().collect();
    let keyed_blocks: Vec<_> = open_blocks
        .into_iter()
        .map(|b| (slot(&b.instance, &b.host, b.source.as_deref()), b))
        .collect();
    let keyed_handoffs: Vec<_> = inputs
        .handoffs
        .into_iter()
        .map(|h| (slot(&h.to, "", None), h))
        .collect();
    for (k, p) in keyed {
        if let Some(v) = by_key.get_mut(&k) {
            v.last_seen = v.last_seen.max(Some(p.last_heard()));
            v.sessions.push(p);
        }
    }
    for (k, e) in keyed_entries {
        if let Some(v) = by_key.get_mut(&k) {
            v.recent.push(e);
        }
    }
    for (k, c) in keyed_claims {
        if let Some(v) = by_key.get_mut(&k) {
            v.claims.push(c);
        }
    }
    for (k, h) in keyed_handoffs {
        if let Some(v) = by_key.get_mut(&k) {
            v.handoffs.push(h);
        }
    }
    for (k, b) in keyed_blocks {
        if let Some(v) = by_key.get_mut(&k) {
            v.blocked.push(b);
        }
    }
    for (k, v) in by_key.iter_mut() {
        v.role = inputs.roles.get(k).cloned();
        v.claims_total = inputs
            .claims_total
            .get(k)
            .copied()
            .unwrap_or(0)
            .max(v.claims.len());
    }
    let mut left_out = inputs.left_out;
    left_out.instances += dropped.len();
    let mut instances: Vec<InstanceView> = order
        .into_iter()
        .filter_map(|k| by_key.remove(&k))
        .map(|mut v| {
            v.sessions
                .sort_by_key(|p| std::cmp::Reverse((p.last_heard(), p.first_seen)));
            v.recent.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
            v.recent.truncate(RECENT_KEPT);
            // Presence is authoritative when there is any: a session that
            // ended is gone even if it wrote an entry a minute before.
            v.state = match (
                v.sessions.iter().map(|p| p.state(now)).min(),
                v.recent.first(),
            ) {
                (Some(s), _) => s,
                (None, Some(e)) => State::by_age(e.timestamp, now),
                (None, None) => State::Unseen,
            };
            v
        })
        .collect();
    let waiting = |v: &InstanceView| v.blocked.is_empty() || v.state == State::Gone;
    instances.sort_by(|a, b| {
        waiting(a)
            .cmp(&waiting(b))
            .then(a.state.cmp(&b.state))
            .then(b.last_heard().cmp(&a.last_heard()))
            .then(a.name.cmp(&b.name))
            .then(a.from.cmp(&b.from))
    });
    Board {
        now,
        instances,
        scope: String::new(),
        out_of_scope: inputs.out_of_scope,
        left_out,
        limit: 0,
    }
}

/// Opens the pool named by the environment, reads its settings and
/// resolves the scope shown (`--all-repos`, `--repo`, else this repository).
pub fn open_pool(scope: &crate::cmd::scope::ScopeArgs) -> Result<(Pool, Config, Scope)> {
    let dir = crate::cmd::existing_pool_dir()?;
    let file = config::load_config_file(&dir).unwrap_or_default();
    let (settings, _) = Config::from_env(&ProcessEnv, &file);
    let scope = crate::cmd::scope::scope_from_args(&file, scope)?;
    Ok((Pool::open_readonly(dir), settings, scope))
}

/// Gathers and assembles the board of `pool` at `now`, within `scope`.
pub fn board(
    pool: &Pool,
    settings: &Config,
    now: i64,
    prune: bool,
    scope: &Scope,
) -> Result<Board> {
    let mut b = assemble(gather(pool, settings, now, prune, scope)?, now);
    b.scope = scope.describe();
    Ok(b)
}

/// `pool status`: prints the board once, or every 2 seconds with `--watch`
/// (clearing the screen when stdout is a terminal). Returns the exit code:
/// 1 when the pool cannot be read, 0 otherwise (also when stdout closes).
pub fn run(args: &StatusArgs) -> i32 {
    match status(args) {
        Ok(()) => EXIT_OK,
        Err(Error::Io { source, .. }) if is_broken_pipe(&source) => EXIT_OK,
        Err(e) => {
            eprint_error("pool status", &e.to_string());
            EXIT_ERROR
        }
    }
}

fn status(args: &StatusArgs) -> Result<()> {
    let (pool, settings, scope) = open_pool(&args.scope)?;
    let home = dirs::home_dir();
    let tty = std::io::stdout().is_terminal();
    let mut first = true;
    loop {
        let now = chrono::Utc::now().timestamp();
        // Prune on the first snapshot only: once per command is plenty.
        let mut b = board(&pool, &settings, now, first, &scope)?;
        b.limit = args.limit;
        let mut text = if args.json {
            let mut s = serde_json::to_string(&to_json(&b, pool.dir()))
                .map_err(|e| Error::Invalid(format!("cannot encode status: {e}")))?;
            s.push('\n');
            neutral::json(&s)
        } else {
            neutral::document(&render_text(&b, pool.dir(), home.as_deref()))
        };
        if args.watch && tty && !args.json {
            // A board taller than the terminal would scroll its top away.
            if let Some((rows, cols)) = terminal_size() {
                text = fit_screen(&text, rows.saturating_sub(1), cols);
            }
            // Home the cursor and clear the screen before each snapshot.
            text.insert_str(0, "\x1b[H\x1b[2J");
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| Error::io("<stdout>", e))?;
        drop(out);
        if !args.watch {
            // The process ends now: freeing a team's board one string at a
            // time would be 5% of the command.
            std::mem::forget(b);
            return Ok(());
        }
        first = false;
        std::thread::sleep(WATCH_EVERY);
    }
}

fn entry_json(e: &Entry<'_>) -> Value {
    json!({"id": e.id, "action": e.action, "topic": e.topic, "timestamp": e.timestamp,
           "auto": crate::coord::auto::is_auto(e)})
}

/// The `--json` form of a board (see the module documentation).
pub fn to_json(b: &Board, pool_dir: &Path) -> Value {
    let limit = b.limit();
    let instances: Vec<Value> = b
        .instances
        .iter()
        .map(|v| {
            let sessions: Vec<Value> = v
                .sessions
                .iter()
                .take(limit)
                .map(|p| {
                    json!({
                        "session_id": p.session_id,
                        "agent": p.agent_name(),
                        "state": p.state(b.now),
                        "cwd": p.cwd,
                        "worktree": p.worktree,
                        "repo": p.repo,
                        "branch": p.branch,
                        "detached": p.detached,
                        "host": p.host,
                        "first_seen": p.first_seen,
                        "last_seen": p.last_seen,
                        "ended": p.ended,
                        "wakeable": p.socket.as_deref().is_some_and(|s| !s.is_empty()),
                        "wake_note": crate::coord::wake::why_not(p),
                    })
                })
                .collect();
            let claims: Vec<Value> = v
                .claims
                .iter()
                .take(limit)
                .map(|c| json!({"id": c.id, "topic": c.topic, "patterns": c.patterns, "timestamp": c.timestamp}))
                .collect();
            let handoffs: Vec<Value> = v
                .handoffs
                .iter()
                .take(limit)
                .map(|h| {
                    json!({
                        "id": h.id,
                        "from": h.source_instance,
                        "action": h.action,
                        "topic": h.topic,
                        "summary": h.summary,
                        "timestamp": h.timestamp,
                    })
                })
                .collect();
            let blocked: Vec<Value> = v
                .blocked
                .iter()
                .take(limit)
                .map(|k| json!({"id": k.id, "topic": k.topic, "summary": k.summary, "since": k.since}))
                .collect();
            json!({
                "instance": v.label(),
                "state": v.state,
                "role": v.role,
                "blocked": blocked,
                "last_seen": v.last_seen,
                "sessions": sessions,
                "claims": claims,
                "handoffs": handoffs,
                "last_entry": v.recent.first().map(entry_json),
                "totals": {"sessions": v.sessions.len(), "blocked": v.blocked.len(),
                           "claims": v.claims_total, "handoffs": v.handoffs.len()},
            })
        })
        .collect();
    let conflicts = b.conflicts();
    json!({
        "version": JSON_VERSION,
        "scope": b.scope,
        "now": b.now,
        "pool_dir": pool_dir.to_string_lossy(),
        "instances": instances,
        "conflicts": conflicts.iter().take(limit).collect::<Vec<_>>(),
        "conflicts_total": conflicts.len(),
        "out_of_scope": {"sessions": b.out_of_scope.sessions, "entries": b.out_of_scope.entries},
        "left_out": {"claims": b.left_out.claims, "handoffs": b.left_out.handoffs,
                     "instances": b.left_out.instances, "read_back_to": b.left_out.read_back_to},
    })
}

/// A path for display: `~/…` under the home folder, cleaned.
fn show_path(p: &str, home: Option<&Path>) -> String {
    let path = PathBuf::from(p);
    let shown = match home.and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) if rest.as_os_str().is_empty() => "~".to_string(),
        Some(rest) => format!("~/{}", rest.display()),
        None => p.to_string(),
    };
    clean(&shown, 160)
}

/// The agent after a session's id in the text board: nothing for Claude
/// Code (the default, and the lines stay as short as they were), ` (Codex)`
/// for Codex.
fn agent_suffix(p: &Presence) -> String {
    match p.agent_name() {
        "claude-code" => String::new(),
        _ => format!(" ({})", agent_label(p)),
    }
}

/// The agent a session runs under, for display: `Claude Code` or `Codex`.
pub fn agent_label(p: &Presence) -> String {
    match p.agent_name() {
        "claude-code" => "Claude Code".to_string(),
        "codex" => "Codex".to_string(),
        other => clean(other, 32),
    }
}

/// Where a session works, for display: `[branch] worktree (cwd)`.
pub fn place(p: &Presence, home: Option<&Path>) -> String {
    let branch = match (&p.branch, &p.detached) {
        (Some(b), _) => format!("[{}] ", clean(b, 80)),
        (None, Some(c)) => format!("[detached {}] ", clean(c.get(..8).unwrap_or(c), 8)),
        (None, None) if p.worktree.is_some() => "[?] ".to_string(),
        _ => String::new(),
    };
    let dir = match (&p.worktree, &p.cwd) {
        (Some(w), Some(c)) if w != c => {
            let sub = Path::new(c)
                .strip_prefix(w)
                .map(|s| s.display().to_string())
                .unwrap_or_else(|_| c.clone());
            format!("{} ({})", show_path(w, home), clean(&sub, 80))
        }
        (Some(w), _) => show_path(w, home),
        (None, Some(c)) => show_path(c, home),
        (None, None) => "(no working directory)".to_string(),
    };
    format!("{branch}{dir}")
}

fn seen_phrase(state: State, at: Option<i64>, ended: bool, now: i64) -> String {
    match at {
        Some(t) if ended => format!("{}, ended {} ago", state.as_str(), format_age(now - t)),
        Some(t) => format!("{}, seen {} ago", state.as_str(), format_age(now - t)),
        None => state.as_str().to_string(),
    }
}

/// The shortest prefix of `id` (8 characters at least) that no other of
/// `ids` shares, so sessions of one instance are told apart.
pub fn short_id<'a>(id: &'a str, ids: &[&str]) -> &'a str {
    let mut n = 8;
    while n < id.len()
        && ids
            .iter()
            .any(|o| *o != id && o.get(..n).is_some() && o.get(..n) == id.get(..n))
    {
        n += 1;
    }
    id.get(..n.min(id.len())).unwrap_or(id)
}

/// One line for a conflict between two live claims: `WEB and API both
/// claim src/api/auth/session.rs`, or each one's pattern when they differ.
pub fn conflict_line(c: &Conflict) -> String {
    // The dashboard's view is cleaned already.
    let (a, b) = (&c.a.instance, &c.b.instance);
    if c.a_pattern == c.b_pattern {
        format!("{a} and {b} both claim {}", c.a_pattern)
    } else {
        format!(
            "{a} claims {} and {b} claims {}, which overlap",
            c.a_pattern, c.b_pattern
        )
    }
}

/// Cuts `text` to `rows` lines for a terminal of that height: the top (the
/// summary line, then blocked and active instances) stays, and the last
/// line says how many were left out.
pub fn fit_rows(text: &str, rows: usize) -> String {
    fit_screen(text, rows, usize::MAX)
}

/// The rows a line takes on a terminal `cols` wide: one, or more when it
/// wraps (wide characters count two columns).
pub fn screen_rows(line: &str, cols: usize) -> usize {
    let width: usize = line.chars().map(char_width).sum();
    width.div_ceil(cols.max(1)).max(1)
}

/// Columns a character takes in a terminal: two for East Asian wide
/// characters and emoji, one otherwise (the text is cleaned: no control or
/// zero-width character is left).
fn char_width(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// [`fit_rows`] for a terminal `cols` wide: a line that wraps counts the
/// rows it takes on screen, so the top still stays in view.
pub fn fit_screen(text: &str, rows: usize, cols: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let total: usize = lines.iter().map(|l| screen_rows(l, cols)).sum();
    if rows < 2 || total <= rows {
        return text.to_string();
    }
    let mut used = 0;
    let mut keep = 0;
    for l in &lines {
        let r = screen_rows(l, cols);
        if used + r > rows - 1 {
            break;
        }
        used += r;
        keep += 1;
    }
    let mut out = lines[..keep].join("\n");
    let note = format!(
        "… {} more lines (a taller terminal, or pool status, shows them)",
        lines.len() - keep
    );
    // The note itself must not wrap.
    let note: String = note.chars().take(cols).collect();
    if keep > 0 {
        out.push('\n');
    }
    out.push_str(&note);
    out.push('\n');
    out
}

/// The terminal's height in rows and width in columns, when stdout is one.
#[cfg(unix)]
fn terminal_size() -> Option<(usize, usize)> {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own; on failure it is untouched.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0).then_some((usize::from(ws.ws_row), usize::from(ws.ws_col).max(1)))
}

/// The console window's height in rows and width in columns, when stdout
/// is a console.
#[cfg(windows)]
fn terminal_size() -> Option<(usize, usize)> {
    use windows_sys::Win32::System::Console::{
        CONSOLE_SCREEN_BUFFER_INFO, GetConsoleScreenBufferInfo, GetStdHandle, STD_OUTPUT_HANDLE,
    };
    // SAFETY: all-zero is a valid CONSOLE_SCREEN_BUFFER_INFO (plain integers);
    // the call fills it or fails when stdout is not a console.
    let mut info: CONSOLE_SCREEN_BUFFER_INFO = unsafe { std::mem::zeroed() };
    let ok = unsafe { GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &mut info) };
    let rows = i32::from(info.srWindow.Bottom) - i32::from(info.srWindow.Top) + 1;
    let cols = i32::from(info.srWindow.Right) - i32::from(info.srWindow.Left) + 1;
    (ok != 0 && rows > 0).then(|| {
        (
            usize::try_from(rows).unwrap_or(0),
            usize::try_from(cols).unwrap_or(1).max(1),
        )
    })
}

/// Renders the board for a terminal. Every piece of text from the pool
/// goes through [`clean`].
pub fn render_text(b: &Board, pool_dir: &Path, home: Option<&Path>) -> String {
    use std::fmt::Write as _;
    let now = b.now;
    let mut out = String::new();
    let active = b
        .instances
        .iter()
        .filter(|v| v.state == State::Active)
        .count();
    let blocked = b.instances.iter().filter(|v| !v.blocked.is_empty()).count();
    let _ = writeln!(
        out,
        "pool status — {} — {} instance{} ({active} active{})",
        show_path(&pool_dir.to_string_lossy(), home),
        b.instances.len(),
        if b.instances.len() == 1 { "" } else { "s" },
        if blocked > 0 {
            format!(", {blocked} blocked")
        } else {
            String::new()
        }
    );
    let elsewhere = b.out_of_scope.line("pool status");
    if b.instances.is_empty() {
        let scope = if b.scope.is_empty() {
            String::new()
        } else {
            format!(" in {}", clean(&b.scope, 200))
        };
        let _ = writeln!(
            out,
            "\nNo instance seen yet{scope}: presence appears once a hook runs in a session."
        );
        if let Some(l) = elsewhere {
            let _ = writeln!(out, "{l}");
        }
        return out;
    }
    let limit = b.limit();
    let more = |n: usize, what: &str| format!("… and {n} more {what} (pool status --limit N)");
    let conflicts = b.conflicts();
    for c in conflicts.iter().take(limit) {
        let _ = writeln!(out, "CONFLICT: {}", conflict_line(c));
    }
    if conflicts.len() > limit {
        let _ = writeln!(out, "{}", more(conflicts.len() - limit, "conflicts"));
    }
    let mut faded = Vec::new();
    let mut sections = 0usize;
    let mut unshown = 0usize;
    for v in &b.instances {
        let name = format!("{}{}", clean(&v.name, SHOW_INSTANCE), v.from);
        let quiet = matches!(v.state, State::Gone | State::Unseen);
        if quiet && v.claims.is_empty() && v.handoffs.is_empty() && v.blocked.is_empty() {
            let ended = v.sessions.first().is_some_and(|p| p.ended.is_some());
            let when = v
                .last_heard()
                .map(|t| {
                    let verb = if ended { "ended " } else { "" };
                    format!(" ({verb}{} ago)", format_age(now - t))
                })
                .unwrap_or_default();
            faded.push(format!("{name}{when}"));
            continue;
        }
        if sections >= limit.max(SHOWN_INSTANCES) {
            unshown += 1;
            continue;
        }
        sections += 1;
        let live: Vec<&Presence> = v.live_sessions(now).collect();
        let count = match live.len() {
            0 | 1 => String::new(),
            n => format!(" ({n} sessions)"),
        };
        let ended = v.sessions.first().is_some_and(|p| p.ended.is_some()) && live.is_empty();
        // Entries count as signs of life too, as on the dashboard.
        let at = v.last_heard();
        let role = v
            .role
            .as_deref()
            .map(|r| format!(" (the {})", clean(r, 40)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{name}{role}{count} — {}",
            seen_phrase(v.state, at, ended, now)
        );
        for k in v.blocked.iter().take(limit) {
            let why = if k.summary.trim().is_empty() {
                String::new()
            } else {
                format!(": {}", clean(&k.summary, SHOW_TOPIC))
            };
            let _ = writeln!(
                out,
                "  BLOCKED on \"{}\" for {}{why}",
                clean(&k.topic, SHOW_TOPIC),
                format_age(now - k.since)
            );
        }
        if v.blocked.len() > limit {
            let _ = writeln!(out, "  {}", more(v.blocked.len() - limit, "blocks"));
        }
        let shown: Vec<&Presence> = if live.is_empty() {
            v.sessions.iter().take(1).collect()
        } else {
            live.into_iter().take(limit).collect()
        };
        let ids: Vec<&str> = shown.iter().map(|p| p.session_id.as_str()).collect();
        for p in &shown {
            let host = if p.host.is_empty() {
                String::new()
            } else {
                format!(" on {}", clean(&p.host, 64))
            };
            // Short, and only for sessions with an inbox: the line must fit a terminal.
            let wakeable = p.ended.is_none() && p.socket.as_deref().is_some_and(|s| !s.is_empty());
            let wake = match (wakeable, crate::coord::wake::why_not(p)) {
                (false, _) => "",
                (true, None) => " · wakeable",
                (true, Some(_)) => " · wakes held (bypassPermissions)",
            };
            let _ = writeln!(
                out,
                "  session {}{}  {}{host} — {}{wake}",
                clean(short_id(&p.session_id, &ids), 64),
                agent_suffix(p),
                place(p, home),
                seen_phrase(p.state(now), Some(p.last_heard()), p.ended.is_some(), now)
            );
        }
        let hidden = v.sessions.len() - shown.len();
        let live_hidden = v.live_sessions(now).count().saturating_sub(shown.len());
        if live_hidden > 0 {
            let _ = writeln!(out, "  {}", more(live_hidden, "live sessions"));
        }
        if hidden > live_hidden {
            let _ = writeln!(
                out,
                "  + {} ended or stale session(s)",
                hidden - live_hidden
            );
        }
        for c in v.claims.iter().take(limit) {
            let _ = writeln!(
                out,
                "  claims {} — \"{}\" ({} ago)",
                clean(&c.patterns.join(", "), 200),
                clean(&c.topic, SHOW_TOPIC),
                format_age(now - c.timestamp)
            );
        }
        let shown_claims = v.claims.len().min(limit);
        if v.claims_total > shown_claims {
            let _ = writeln!(out, "  {}", more(v.claims_total - shown_claims, "claims"));
        }
        for h in v.handoffs.iter().take(limit) {
            let _ = writeln!(
                out,
                "  handoff from {}{} ({} ago) {}: {} — pool ack {}",
                clean(&h.source_instance, SHOW_INSTANCE),
                critical_mark(h),
                format_age(now - h.timestamp),
                clean(&h.action, 20),
                clean(&h.topic, SHOW_TOPIC),
                clean(&h.id, 64)
            );
        }
        if v.handoffs.len() > limit {
            let _ = writeln!(out, "  {}", more(v.handoffs.len() - limit, "handoffs"));
        }
        match v.recent.first() {
            Some(e) => {
                let auto = if crate::coord::auto::is_auto(e) {
                    "auto "
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  last entry {} ago {auto}{}{}{}: {}",
                    format_age(now - e.timestamp),
                    clean(&e.action, 20),
                    to_suffix(e),
                    critical_mark(e),
                    clean(&e.topic, SHOW_TOPIC)
                );
            }
            None => out.push_str("  no entry in the last 24h\n"),
        }
    }
    if unshown > 0 {
        let _ = writeln!(out, "\n{}", more(unshown, "instances"));
    }
    if !faded.is_empty() {
        let names = limit.max(SHOWN_GONE);
        let rest = faded.len().saturating_sub(names);
        faded.truncate(names);
        if rest > 0 {
            faded.push(format!("and {rest} more"));
        }
        let _ = writeln!(out, "\ngone: {}", faded.join(", "));
    }
    if let Some(l) = b.left_out.line(now) {
        let _ = writeln!(out, "\n{l}");
    }
    if let Some(l) = elsewhere {
        let _ = writeln!(out, "\nnot shown: {l}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pres(inst: &str, sess: &str, last: i64, ended: Option<i64>) -> Presence {
        Presence {
            instance: inst.into(),
            session_id: sess.into(),
            cwd: Some("/home/u/w/repo/src".into()),
            worktree: Some("/home/u/w/repo".into()),
            branch: Some("main".into()),
            host: "h".into(),
            first_seen: last - 100,
            last_seen: last,
            ended,
            ..Presence::default()
        }
    }

    fn entry(id: &str, inst: &str, ts: i64, to: &str) -> Entry<'static> {
        Entry {
            id: id.to_string().into(),
            source_instance: inst.to_string().into(),
            timestamp: ts,
            action: "completed".into(),
            topic: format!("topic {id}").into(),
            to: to.to_string().into(),
            ..Entry::default()
        }
    }

    #[test]
    fn assembles_by_instance_and_state() {
        let now = 100_000;
        let inputs = Inputs {
            sessions: vec![
                pres("A", "s1", now - 5, None),
                pres("a", "s2", now - 600, None),
                pres("C", "s3", now - 50, Some(now - 40)),
            ],
            claims: Vec::new(),
            handoffs: vec![entry("h1", "A", now - 30, "D")],
            recent: vec![
                entry("e2", "B", now - 20, ""),
                entry("e1", "C", now - 60, ""),
            ],
            ..Inputs::default()
        };
        let b = assemble(inputs, now);
        let got: Vec<(&str, State, usize)> = b
            .instances
            .iter()
            .map(|v| (v.name.as_str(), v.state, v.sessions.len()))
            .collect();
        assert_eq!(
            got,
            [
                ("A", State::Active, 2),
                ("B", State::Active, 0),
                ("C", State::Gone, 1),
                ("D", State::Unseen, 0)
            ]
        );
        assert_eq!(b.handoffs().len(), 1);
        let text = render_text(&b, Path::new("/home/u/pool"), Some(Path::new("/home/u")));
        assert!(
            text.contains("\nA (2 sessions) — active, seen 5s ago\n"),
            "{text}"
        );
        assert!(text.contains("[main] ~/w/repo (src) on h"), "{text}");
        assert!(
            text.contains("\nD — unseen\n  handoff from A (30s ago)"),
            "{text}"
        );
        assert!(text.contains("\ngone: C (ended 40s ago)\n"), "{text}");
        let j = to_json(&b, Path::new("/p"));
        assert_eq!(j["instances"][0]["sessions"][1]["state"], "idle");
        assert_eq!(j["instances"][2]["sessions"][0]["ended"], now - 40);
    }

    #[test]
    fn blocked_instances_come_first_with_role_and_duration() {
        let now = 100_000;
        let mut blocked_entry = entry("b1", "B", now - 720, "");
        blocked_entry.action = "blocked".into();
        blocked_entry.topic = "Auth API".into();
        blocked_entry.summary = "need the token format".into();
        let blocks = crate::coord::blocked::blocks([&blocked_entry], now, 3600);
        let inputs = Inputs {
            sessions: vec![
                pres("A", "0123456789-one", now - 5, None),
                pres("A", "0123456789-two", now - 9, None),
                pres("B", "s-b", now - 200, None),
            ],
            recent: vec![entry("e1", "B", now - 30, "")],
            blocks,
            roles: [("b".to_string(), "reviewer".to_string())].into(),
            ..Inputs::default()
        };
        let b = assemble(inputs, now);
        assert_eq!(b.instances[0].name, "B", "blocked first");
        let text = render_text(&b, Path::new("/p"), None);
        assert!(text.contains("(2 active, 1 blocked)"), "{text}");
        assert!(
            text.contains("\nB (the reviewer) — active, seen 30s ago\n  BLOCKED on \"Auth API\" for 12m: need the token format\n"),
            "the entry counts as seen; {text}"
        );
        assert!(
            text.contains("session 0123456789-o ") && text.contains("session 0123456789-t "),
            "{text}"
        );
        let j = to_json(&b, Path::new("/p"));
        assert_eq!(j["instances"][0]["role"], "reviewer");
        assert_eq!(j["instances"][0]["blocked"][0]["since"], now - 720);
        assert_eq!(
            j["instances"][1]["blocked"].as_array().map(Vec::len),
            Some(0)
        );
        let cut = fit_rows(&text, 5);
        assert_eq!(cut.lines().count(), 5, "{cut}");
        assert!(cut.starts_with("pool status"), "{cut}");
        assert!(cut.contains("BLOCKED on"), "{cut}");
        assert!(cut.lines().last().unwrap().contains("more lines"), "{cut}");
        assert_eq!(fit_rows("a\nb\n", 4), "a\nb\n");
    }
}
