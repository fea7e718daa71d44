//! `pool post`, `pool ack` and `pool release`: a person posts an entry from
//! a terminal.
//!
//! The instance is `--instance`, else `CLAUDE_INSTANCE`; `--instance` naming
//! someone other than `CLAUDE_INSTANCE` is refused (nobody posts under
//! another's name). `TO`, `REF` and ids are checked against their character
//! set before anything is written.

use crate::cmd::cli::PostArgs;
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::env::host::host_name;
use crate::error::{Error, Result};
use crate::store::entry::{
    Entry, MAX_SHORT, MAX_SUMMARY, MAX_TOPIC, check_id, check_name, normalize_action,
    random_entry_id, truncate_chars,
};
use crate::store::log::{MAX_TTL, Pool};
use crate::store::paths::{Locator, validate_instance};

/// Posts the entry; prints its id. Returns the exit code.
pub fn run(args: &PostArgs) -> i32 {
    match post(args) {
        Ok(id) => {
            println!("posted {id}");
            EXIT_OK
        }
        Err(e) => {
            eprint_error("pool post", &e.to_string());
            EXIT_ERROR
        }
    }
}

/// Checks what the dashboard's form checks too: the addressee's name and
/// the priority. Returns the TTL to store and, when a longer one was asked
/// for, the note that it was capped.
pub fn validate(args: &PostArgs) -> Result<Option<String>> {
    if let Some(to) = args.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        validate_instance(to).map_err(|e| Error::Invalid(format!("--to: {e}")))?;
    }
    if let Some(p) = args
        .priority
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        && !p.eq_ignore_ascii_case("critical")
    {
        return Err(Error::Invalid(format!(
            "unknown priority {p:?}; use critical (or leave it out)"
        )));
    }
    Ok(args.ttl.filter(|t| *t > MAX_TTL).map(|t| {
        format!(
            "note: TTL {} is longer than the 30-day maximum; stored as 30d",
            crate::store::entry::format_age(i64::try_from(t).unwrap_or(i64::MAX))
        )
    }))
}

/// The instance a terminal command acts as: `--instance`, else
/// `CLAUDE_INSTANCE`. Refused when both are set and differ (case aside), or
/// when the name is not a valid instance name.
pub fn resolve_instance(flag: Option<&str>, env: Option<&str>) -> Result<String> {
    let flag = flag.map(str::trim).filter(|i| !i.is_empty());
    let env = env.map(str::trim).filter(|i| !i.is_empty());
    if let (Some(f), Some(e)) = (flag, env)
        && !f.eq_ignore_ascii_case(e)
    {
        return Err(Error::Invalid(format!(
            "--instance {f:?} but CLAUDE_INSTANCE is {e:?}: nobody posts under another's name"
        )));
    }
    let instance = flag.or(env).ok_or_else(|| {
        Error::Invalid("no instance: set CLAUDE_INSTANCE or pass --instance".into())
    })?;
    validate_instance(instance).map_err(Error::Invalid)?;
    Ok(instance.to_string())
}

fn env_instance() -> Option<String> {
    std::env::var("CLAUDE_INSTANCE").ok()
}

fn post(args: &PostArgs) -> Result<String> {
    post_as(args, "post")
}

fn post_as(args: &PostArgs, origin: &'static str) -> Result<String> {
    let instance = resolve_instance(args.instance.as_deref(), env_instance().as_deref())?;
    for (flag, value, check) in [
        (
            "--to",
            &args.to,
            check_name as fn(&str) -> std::result::Result<(), String>,
        ),
        ("--ref", &args.reference, check_id),
    ] {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            check(v).map_err(|why| Error::Invalid(format!("{flag}: {why}")))?;
        }
    }
    // A `--ref` may be a unique id prefix (the dashboard shows 8
    // characters): it is stored whole. One naming no entry here is kept as
    // given (it may come from another machine).
    let resolved;
    let args = match args
        .reference
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(r) => match lookup(r) {
            Ok(Some(found)) if found.id != r => {
                resolved = PostArgs {
                    reference: Some(found.id),
                    ..args.clone()
                };
                &resolved
            }
            Err(Error::Invalid(why)) => return Err(Error::Invalid(format!("--ref: {why}"))),
            _ => args,
        },
        None => args,
    };
    if let Some(note) = validate(args)? {
        eprint_error("pool post", &note);
    }
    let topic = args.topic.clone().unwrap_or_default();
    let summary = args.summary.clone().unwrap_or_default();
    if topic.trim().is_empty() && summary.trim().is_empty() {
        return Err(Error::Invalid("give --topic or --summary".into()));
    }
    let (action, known) = normalize_action(&args.action);
    if !known {
        return Err(Error::Invalid(format!(
            "unknown action {:?}; use one of {}",
            args.action,
            crate::store::entry::ACTIONS.join(", ")
        )));
    }
    let locator = Locator::from_env(None);
    let dir = locator.pool_dir()?;
    if locator.pool_dir.is_some()
        && let Some((problem, fix)) = crate::cmd::pool_dir_problem(&dir, true)
    {
        // A POOL_DIR that names no folder is most likely misspelled: refused
        // in the words status and query use, instead of starting a new pool
        // nobody reads. The default folder is still created by the first post.
        return Err(Error::Invalid(format!("{problem}: {fix}")));
    }
    for note in cut_notes(&[
        ("--topic", topic.trim(), MAX_TOPIC),
        ("--summary", summary.trim(), MAX_SUMMARY),
        (
            "--affects",
            args.affects.as_deref().unwrap_or("").trim(),
            MAX_SHORT,
        ),
        (
            "--blocks",
            args.blocks.as_deref().unwrap_or("").trim(),
            MAX_SHORT,
        ),
    ]) {
        eprint_error("pool post", &note);
    }
    let pool = Pool::open(dir)?;
    if let Some(to) = args.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let now = chrono::Utc::now().timestamp();
        if let Some(note) = unknown_addressee(to, &known_instances(&pool, to, now)) {
            eprint_error("pool post", &note);
        }
    }
    let id = random_entry_id(&topic);
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let t = |s: &Option<String>, n: usize| {
        truncate_chars(s.as_deref().unwrap_or("").trim(), n).into_owned()
    };
    let entry = Entry {
        id: id.clone().into(),
        timestamp: chrono::Utc::now().timestamp(),
        source_instance: instance.into(),
        session_id: "".into(),
        action: action.into(),
        topic: truncate_chars(topic.trim(), MAX_TOPIC).into_owned().into(),
        summary: truncate_chars(summary.trim(), MAX_SUMMARY)
            .into_owned()
            .into(),
        affects: t(&args.affects, MAX_SHORT).into(),
        blocks: t(&args.blocks, MAX_SHORT).into(),
        ttl: args
            .ttl
            .or_else(|| {
                crate::coord::handoffs::default_ttl_for(
                    action,
                    args.to.as_deref().unwrap_or(""),
                    args.reference.as_deref().unwrap_or(""),
                )
            })
            .map(|x| x.min(MAX_TTL)),
        cwd: cwd.to_string_lossy().into_owned().into(),
        host: host_name().into(),
        to: t(&args.to, 64).into(),
        reference: t(&args.reference, 64).into(),
        priority: t(&args.priority, 16).to_ascii_lowercase().into(),
        origin: origin.into(),
        received: None,
        via: "".into(),
        repo: crate::env::repo::locate(&cwd).id.into(),
        local: None,
        seen: None,
    };
    let mut entries = [entry];
    let config = crate::env::config::Config::from_env(
        &crate::env::config::ProcessEnv,
        &crate::env::config::load_config_file(pool.dir()).unwrap_or_default(),
    )
    .0;
    let now = entries[0].timestamp;
    crate::coord::claims::extend_closers(&pool, &mut entries, now, config.ttl)?;
    pool.append(&entries, now)?;
    if config.wake {
        // The entry is posted whatever happens here; a session that cannot be
        // woken sees it at its next prompt.
        match crate::coord::wake::wake(pool.dir(), &entries, now) {
            Ok(done) => {
                for d in done.deliveries.iter().filter(|d| d.outcome.is_ok()) {
                    eprintln!(
                        "pool post: woke session {}",
                        d.session.get(..8).unwrap_or(&d.session)
                    );
                }
            }
            Err(e) => eprint_error("pool post", &format!("wake: {e}")),
        }
    }
    Ok(id)
}

/// How far back `pool post --to` looks for instances that were seen, in
/// seconds (7 days, as long as presence files of ended sessions are kept).
pub const SEEN_WINDOW: i64 = 7 * 86_400;

/// One note per field longer than the pool keeps, saying what is stored:
/// `(flag, text, most characters kept)`.
pub fn cut_notes(fields: &[(&str, &str, usize)]) -> Vec<String> {
    fields
        .iter()
        .filter_map(|(flag, text, max)| {
            let n = text.chars().count();
            (n > *max).then(|| {
                format!(
                    "note: {flag} has {} characters; the pool keeps the first {} (the rest is not stored)",
                    thousands(n),
                    thousands(*max)
                )
            })
        })
        .collect()
}

/// `108000` as `108,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The warning for `--to NAME` when no instance of that name (case aside)
/// is in `known`; `None` when it is. The entry is posted anyway: a handoff
/// may name an instance that has not started yet, and refusing would lose
/// the text; the warning lists the known names so a typo is seen at once.
pub fn unknown_addressee(to: &str, known: &[String]) -> Option<String> {
    if known.iter().any(|k| k.eq_ignore_ascii_case(to)) {
        return None;
    }
    let list = if known.is_empty() {
        "none yet".to_string()
    } else {
        known.join(", ")
    };
    Some(format!(
        "warning: --to {to}: no instance of that name is in config.json or was seen in the last 7 days (known: {list}); posted anyway, it waits for {to}'s first session"
    ))
}

/// Instance names in `config.json`, in presence files and, unless `to` is
/// among those, on entries of the last [`SEEN_WINDOW`] (read until `to`
/// is found); sorted, without duplicates (case aside).
fn known_instances(pool: &Pool, to: &str, now: i64) -> Vec<String> {
    let mut names: Vec<String> = crate::env::config::load_config_file(pool.dir())
        .unwrap_or_default()
        .instances
        .into_keys()
        .collect();
    if let Ok(listing) = crate::coord::presence::list(pool.dir(), now, false) {
        names.extend(listing.sessions.into_iter().map(|p| p.instance));
    }
    if !names.iter().any(|n| n.eq_ignore_ascii_case(to)) {
        let mut seen = std::collections::HashSet::new();
        let _ = pool.scan_back(Some(now - SEEN_WINDOW), |_, _, e| {
            if seen.len() < 1000 && !seen.contains(e.source_instance.as_ref()) {
                seen.insert(e.source_instance.to_string());
            }
            if e.source_instance.eq_ignore_ascii_case(to) {
                return std::ops::ControlFlow::Break(());
            }
            std::ops::ControlFlow::Continue(())
        });
        names.extend(seen);
    }
    names.retain(|n| !n.trim().is_empty());
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    names
}

/// Shortest id prefix taken for a whole id (the dashboard shows 8).
pub const MIN_PREFIX: usize = 4;
/// Most candidates named when a prefix is ambiguous.
const MAX_CANDIDATES: usize = 5;

/// What was found for an id or an id prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The whole id.
    pub id: String,
    /// Its topic.
    pub topic: String,
    /// The instance that wrote it.
    pub instance: String,
    /// Its action.
    pub action: String,
}

/// Collects the entries an id names: the one with that exact id, else every
/// entry whose id starts with it (at least [`MIN_PREFIX`] characters).
#[derive(Debug, Default)]
pub struct IdLookup {
    wanted: String,
    exact: Option<Found>,
    prefixed: Vec<Found>,
    /// Distinct ids with the prefix (may exceed what is kept).
    matches: usize,
}

impl IdLookup {
    /// Looks for `wanted`, an id or an id prefix.
    pub fn new(wanted: &str) -> Self {
        IdLookup {
            wanted: wanted.to_string(),
            ..IdLookup::default()
        }
    }

    /// Looks at one entry; `Break` once the exact id is found.
    pub fn visit(&mut self, e: &Entry<'_>) -> std::ops::ControlFlow<()> {
        let found = || Found {
            id: e.id.to_string(),
            topic: e.topic.to_string(),
            instance: e.source_instance.to_string(),
            action: e.action.to_string(),
        };
        if e.id == self.wanted.as_str() {
            self.exact = Some(found());
            return std::ops::ControlFlow::Break(());
        }
        if self.wanted.chars().count() >= MIN_PREFIX
            && e.id.starts_with(self.wanted.as_str())
            && !self.prefixed.iter().any(|f| f.id == e.id)
        {
            self.matches += 1;
            if self.prefixed.len() < MAX_CANDIDATES + 1 {
                self.prefixed.push(found());
            }
        }
        std::ops::ControlFlow::Continue(())
    }

    /// Whether the exact id was seen.
    pub fn done(&self) -> bool {
        self.exact.is_some()
    }

    /// The one entry named: the exact id, else the only one with the
    /// prefix; `Ok(None)` when none; an error naming the candidates when the
    /// prefix is ambiguous.
    pub fn finish(self) -> std::result::Result<Option<Found>, String> {
        if let Some(f) = self.exact {
            return Ok(Some(f));
        }
        match self.prefixed.len() {
            0 => Ok(None),
            1 => Ok(self.prefixed.into_iter().next()),
            _ => {
                let names: Vec<String> = self
                    .prefixed
                    .iter()
                    .take(MAX_CANDIDATES)
                    .map(|f| format!("{} ({} {} {:?})", f.id, f.instance, f.action, f.topic))
                    .collect();
                let more = self.matches.saturating_sub(MAX_CANDIDATES);
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                Err(format!(
                    "id {} is ambiguous: {} entries start with it: {}{more}; give more of the id",
                    self.wanted,
                    self.matches,
                    names.join(", ")
                ))
            }
        }
    }
}

/// Finds the entry an id or a unique id prefix names: the recent window and
/// the long-TTL index first, then the whole log (a prefix is only taken
/// when it is unique in the whole log).
fn lookup(id: &str) -> Result<Option<Found>> {
    check_id(id).map_err(Error::Invalid)?;
    let dir = Locator::from_env(None).pool_dir()?;
    let pool = Pool::open_readonly(dir);
    // Handoffs and claims often live long, so the long-TTL index finds them
    // without reading the whole log; anything else falls back to a full scan.
    let mut exact = IdLookup::new(id);
    let now = chrono::Utc::now().timestamp();
    pool.scan_recent(now, crate::store::log::DEFAULT_TTL, |e| exact.visit(&e))?;
    if exact.done() {
        return exact.finish().map_err(Error::Invalid);
    }
    let mut all = IdLookup::new(id);
    pool.scan_back(None, |_, _, e| all.visit(&e))?;
    all.finish().map_err(Error::Invalid)
}

/// Finds an entry by id or unique id prefix; refused when there is none.
fn find_entry(id: &str) -> Result<Found> {
    lookup(id)?.ok_or_else(|| Error::Invalid(format!("no entry with id {id}")))
}

/// `pool release <id> [--force]`: releases a claim. Your own claim is
/// released like any `released` entry with `REF`; another instance's only
/// with `--force`, recorded with origin `forced` so everyone sees a person
/// decided it.
pub fn release(id: &str, force: bool, instance: Option<&str>) -> i32 {
    let result = (|| -> Result<(String, String)> {
        let me = resolve_instance(instance, env_instance().as_deref()).or_else(|e| {
            // A person without an instance may still force a release.
            match (force, instance, env_instance()) {
                (true, None, None) => Ok("user".to_string()),
                _ => Err(e),
            }
        })?;
        let Found {
            id,
            topic,
            instance: owner,
            action,
        } = find_entry(id)?;
        let id = id.as_str();
        if action != "claimed" {
            return Err(Error::Invalid(format!(
                "{id} is a {action:?} entry, not a claim"
            )));
        }
        let own = owner.eq_ignore_ascii_case(&me);
        if !own && !force {
            return Err(Error::Invalid(format!(
                "claim {id} belongs to {owner}: only {owner} releases it, or a person with --force"
            )));
        }
        let (summary, origin) = if own {
            (format!("claim released by {me}"), "post")
        } else {
            (
                format!("claim of {owner} released by hand by {me} (pool release --force)"),
                crate::coord::claims::FORCED,
            )
        };
        let args = PostArgs {
            action: "released".into(),
            topic: Some(format!("Released: {topic}")),
            summary: Some(summary),
            affects: None,
            blocks: None,
            ttl: None,
            to: None,
            reference: Some(id.to_string()),
            priority: None,
            instance: Some(me),
        };
        // The person acts under their own name, which may differ from CLAUDE_INSTANCE's
        // only when CLAUDE_INSTANCE is unset; resolve_instance checked that.
        Ok((id.to_string(), post_as(&args, origin)?))
    })();
    match result {
        Ok((id, rel_id)) => {
            println!("released {id} ({rel_id})");
            EXIT_OK
        }
        Err(e) => {
            eprint_error("pool release", &e.to_string());
            EXIT_ERROR
        }
    }
}

/// `pool ack <id>`: acknowledges a handoff with an entry carrying `REF: <id>`.
pub fn ack(id: &str, instance: Option<&str>) -> i32 {
    let result = (|| -> Result<(String, String)> {
        let Found {
            id,
            topic,
            instance: from,
            ..
        } = find_entry(id)?;
        let args = PostArgs {
            action: "signaling".into(),
            topic: Some(format!("Acknowledged: {topic}")),
            summary: Some(format!("handoff from {from} acknowledged")),
            affects: None,
            blocks: None,
            ttl: None,
            to: None,
            reference: Some(id.to_string()),
            priority: None,
            instance: instance.map(str::to_string),
        };
        Ok((id, post(&args)?))
    })();
    match result {
        Ok((id, ack_id)) => {
            println!("acknowledged {id} ({ack_id})");
            EXIT_OK
        }
        Err(e) => {
            eprint_error("pool ack", &e.to_string());
            EXIT_ERROR
        }
    }
}
