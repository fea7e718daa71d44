//! `pool post`: a person posts an entry from a terminal.

use crate::cmd::cli::PostArgs;
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::env::host::host_name;
use crate::error::{Error, Result};
use crate::store::entry::{
    Entry, MAX_SHORT, MAX_SUMMARY, MAX_TOPIC, normalize_action, random_entry_id, truncate_chars,
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

fn post(args: &PostArgs) -> Result<String> {
    let instance = args
        .instance
        .clone()
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| {
            Error::Invalid("no instance: set CLAUDE_INSTANCE or pass --instance".into())
        })?;
    validate_instance(&instance).map_err(Error::Invalid)?;
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
    let dir = Locator::from_env(None).pool_dir()?;
    let pool = Pool::open(dir)?;
    let id = random_entry_id(&topic);
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
        cwd: std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
            .into(),
        host: host_name().into(),
        to: t(&args.to, 64).into(),
        reference: t(&args.reference, 64).into(),
        priority: t(&args.priority, 16).to_ascii_lowercase().into(),
        origin: "post".into(),
        received: None,
        local: None,
        seen: None,
    };
    let mut entries = [entry];
    let default_ttl = crate::env::config::Config::from_env(
        &crate::env::config::ProcessEnv,
        &crate::env::config::load_config_file(pool.dir()).unwrap_or_default(),
    )
    .0
    .ttl;
    let now = entries[0].timestamp;
    crate::coord::claims::extend_closers(&pool, &mut entries, now, default_ttl)?;
    pool.append(&entries, now)?;
    Ok(id)
}

/// `pool ack <id>`: acknowledges a handoff with an entry carrying `REF: <id>`.
pub fn ack(id: &str, instance: Option<&str>) -> i32 {
    let result = (|| -> Result<String> {
        let dir = Locator::from_env(None).pool_dir()?;
        let pool = Pool::open_readonly(dir);
        let look = |found: &mut Option<(String, String)>, e: crate::store::entry::Entry<'_>| {
            if e.id == id {
                *found = Some((e.topic.to_string(), e.source_instance.to_string()));
                return std::ops::ControlFlow::Break(());
            }
            std::ops::ControlFlow::Continue(())
        };
        // Handoffs live long, so the long-TTL index finds them without
        // reading the whole log; anything else falls back to a full scan.
        let mut found: Option<(String, String)> = None;
        let now = chrono::Utc::now().timestamp();
        pool.scan_recent(now, crate::store::log::DEFAULT_TTL, |e| look(&mut found, e))?;
        if found.is_none() {
            pool.scan_back(None, |_, _, e| look(&mut found, e))?;
        }
        let (topic, from) =
            found.ok_or_else(|| Error::Invalid(format!("no entry with id {id}")))?;
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
        post(&args)
    })();
    match result {
        Ok(ack_id) => {
            println!("acknowledged {id} ({ack_id})");
            EXIT_OK
        }
        Err(e) => {
            eprint_error("pool ack", &e.to_string());
            EXIT_ERROR
        }
    }
}
