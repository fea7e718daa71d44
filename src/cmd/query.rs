//! `pool-query` / `pool query`: list, count and follow entries in a terminal.

use std::io::{self, BufWriter, Write};
use std::ops::ControlFlow;
use std::time::Duration;

use crate::cmd::cli::QueryArgs;
use crate::cmd::scope::scope_from_args;
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error, is_broken_pipe};
use crate::coord::auto::{Superseded, is_auto};
use crate::env::config::{self, Config, ProcessEnv};
use crate::env::repo::Scope;
use crate::error::{Error, Result};
use crate::store::entry::{Entry, format_age, normalize_action};
use crate::store::fsio;
use crate::store::log::Pool;
use crate::view::neutral::{self, clean};

/// How often `--follow` looks for new entries.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// The filters of a query, resolved.
pub struct Filter {
    /// Oldest timestamp shown.
    pub since_ts: i64,
    /// Instance wanted.
    pub instance: Option<String>,
    /// Action wanted (normalised).
    pub action: Option<String>,
    /// Drop expired entries.
    pub live_only: bool,
    /// Lifetime of entries without their own TTL.
    pub default_ttl: u64,
    /// Repositories shown.
    pub scope: Scope,
}

impl Filter {
    /// Whether `e` passes the filter at `now`.
    pub fn matches(&self, e: &Entry<'_>, now: i64, check_time: bool) -> bool {
        (!check_time || e.timestamp >= self.since_ts)
            && self
                .instance
                .as_deref()
                .is_none_or(|i| e.source_instance.eq_ignore_ascii_case(i))
            && self.action.as_deref().is_none_or(|a| e.action == a)
            && self.scope.admits(&e.repo, &e.cwd)
            && (!self.live_only || !check_time || e.is_live(now, self.default_ttl))
    }
}

/// Runs a query; returns the exit code.
pub fn run(program: &str, args: &QueryArgs) -> i32 {
    match query(args) {
        Ok(()) => EXIT_OK,
        Err(Error::Io { source, .. }) if is_broken_pipe(&source) => EXIT_OK,
        Err(e) => {
            eprint_error(program, &e.to_string());
            EXIT_ERROR
        }
    }
}

fn stdout_err(e: io::Error) -> Error {
    Error::io("<stdout>", e)
}

fn query(args: &QueryArgs) -> Result<()> {
    // Following may start before the first hook creates the pool.
    let dir = if args.follow {
        crate::store::paths::Locator::from_env(None).pool_dir()?
    } else {
        crate::cmd::existing_pool_dir()?
    };
    let pool = Pool::open_readonly(dir.clone());
    let file = config::load_config_file(&dir).unwrap_or_default();
    let (settings, _) = Config::from_env(&ProcessEnv, &file);
    let scope = scope_from_args(&file, &args.scope)?;
    let now = chrono::Utc::now().timestamp();
    let action = match args.action.as_deref() {
        Some(a) => {
            let (norm, known) = normalize_action(a);
            if !known {
                return Err(Error::Invalid(format!(
                    "unknown action {a:?}; use one of {}",
                    crate::store::entry::ACTIONS.join(", ")
                )));
            }
            Some(norm.to_string())
        }
        None => None,
    };
    let filter = Filter {
        since_ts: now.saturating_sub(i64::try_from(args.since).unwrap_or(i64::MAX)),
        instance: args.instance.clone(),
        action,
        live_only: !args.all,
        default_ttl: settings.ttl,
        scope,
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut count = 0usize;
    let mut shown: Vec<Vec<u8>> = Vec::new();
    let limit = if args.count { usize::MAX } else { args.limit };
    // An amended commit's automatic entry is replaced by the amend's (shown with --all).
    let mut superseded = Superseded::default();
    let stats = pool.scan_back(Some(filter.since_ts), |_, raw, e| {
        if limit == 0 {
            // `--limit 0`: no rows (with --follow, only what comes next).
            return ControlFlow::Break(());
        }
        let replaced = superseded.visit(&e) && !args.all;
        if !replaced && filter.matches(&e, now, true) {
            count += 1;
            if !args.count {
                shown.push(raw.to_vec());
            }
            if count >= limit {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    })?;
    if args.count {
        writeln!(out, "{count}").map_err(stdout_err)?;
    } else if shown.is_empty() && !args.follow && !args.json && limit > 0 {
        writeln!(out, "No pool entries found").map_err(stdout_err)?;
    } else {
        for raw in &shown {
            if let Some(e) = Entry::parse(raw) {
                print_entry(&mut out, raw, &e, args, now).map_err(stdout_err)?;
            }
        }
    }
    out.flush().map_err(stdout_err)?;
    if stats.bad > 0 && !args.json && !args.count {
        eprint_error(
            "pool-query",
            &format!(
                "note: skipped {} unparseable lines (pool doctor shows them)",
                stats.bad
            ),
        );
    }
    if args.follow {
        drop(out);
        follow(&pool, &filter, args)?;
    }
    Ok(())
}

fn print_entry(
    out: &mut impl Write,
    raw: &[u8],
    e: &Entry<'_>,
    args: &QueryArgs,
    now: i64,
) -> io::Result<()> {
    if args.json {
        let line = String::from_utf8_lossy(raw.trim_ascii());
        out.write_all(neutral::json(&line).as_bytes())?;
        return out.write_all(b"\n");
    }
    let mut text = String::new();
    write_entry(&mut text, e, args, now);
    out.write_all(neutral::document(&text).as_bytes())
}

/// The terminal lines of one entry, every field cleaned.
fn write_entry(out: &mut String, e: &Entry<'_>, args: &QueryArgs, now: i64) {
    use std::fmt::Write as _;
    let when = chrono::DateTime::from_timestamp(e.timestamp, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "?".into());
    let mut host = if e.host.is_empty() {
        String::new()
    } else {
        format!("@{}", clean(&e.host, 40))
    };
    if e.origin == "dashboard" {
        host.push_str(" via dashboard");
    }
    // Where it came from, as this machine's sync stamped it (issue 22).
    if let Some(src) = e.source() {
        let _ = write!(host, ", synced from {}", clean(src, 40));
    }
    let auto = if is_auto(e) { "(auto) " } else { "" };
    let _ = writeln!(
        out,
        "{when} {:>4} ago  [{}{host}] {:<9} {auto}{}",
        format_age(now - e.timestamp),
        clean(&e.source_instance, 32),
        clean(&e.action, 12),
        clean(&e.topic, 200)
    );
    if args.verbose {
        for (label, v) in [
            ("summary", &e.summary),
            ("affects", &e.affects),
            ("unblocks", &e.blocks),
            ("to", &e.to),
        ] {
            if !v.trim().is_empty() {
                let _ = writeln!(out, "    {label}: {}", clean(v, 2000));
            }
        }
        let _ = writeln!(
            out,
            "    id: {}  session: {}",
            clean(&e.id, 64),
            clean(&e.session_id, 64)
        );
    }
}

fn follow(pool: &Pool, filter: &Filter, args: &QueryArgs) -> Result<()> {
    let path = pool.log_path();
    let meta = |p: &std::path::Path| {
        let len = std::fs::metadata(p).ok()?.len();
        fsio::path_key(p).ok().map(|k| (k.ino, len))
    };
    let (mut ino, mut pos) = meta(&path).unwrap_or((0, 0));
    let mut partial: Vec<u8> = Vec::new();
    loop {
        std::thread::sleep(FOLLOW_POLL);
        let Some((now_ino, len)) = meta(&path) else {
            continue;
        };
        if ino == 0 {
            // The log did not exist when we started: all of it is new.
            ino = now_ino;
        } else if now_ino != ino || len < pos {
            // Replaced (archived) or truncated: follow the new file from its end.
            ino = now_ino;
            pos = len;
            partial.clear();
            continue;
        }
        if len == pos {
            continue;
        }
        let f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut buf = vec![0u8; (len - pos).min(64 * 1024 * 1024) as usize];
        fsio::read_exact_at(&f, &mut buf, pos).map_err(|e| Error::io(&path, e))?;
        pos += buf.len() as u64;
        partial.extend_from_slice(&buf);
        let now = chrono::Utc::now().timestamp();
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let mut consumed = 0;
        while let Some(i) = memchr::memchr(b'\n', &partial[consumed..]) {
            let line = &partial[consumed..consumed + i];
            consumed += i + 1;
            if let Some(e) = Entry::parse(line)
                && filter.matches(&e, now, false)
            {
                print_entry(&mut out, line, &e, args, now).map_err(stdout_err)?;
            }
        }
        out.flush().map_err(stdout_err)?;
        partial.drain(..consumed);
    }
}
