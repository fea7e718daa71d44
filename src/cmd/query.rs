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
use crate::view::render::{collapse, critical_mark, to_suffix};

/// How often `--follow` looks for new entries.
const FOLLOW_POLL: Duration = Duration::from_millis(200);
/// Longest topic in a row before it is collapsed, in characters.
pub const ROW_TOPIC: usize = 200;
/// Longest summary, affects or unblocks in `--verbose` before it is
/// collapsed, in characters (about five lines of a phone screen's width).
pub const VERBOSE_TEXT: usize = 300;

/// Entries read past `--limit` looking for one more match, so that a
/// listing that stopped can say whether more entries match.
const MORE_LOOKAHEAD: usize = 200_000;

/// Whether more entries match than a listing showed.
enum More {
    No,
    Yes,
    /// None within [`MORE_LOOKAHEAD`] entries past the last shown.
    Maybe,
}

/// The filters of a query, resolved.
pub struct Filter {
    /// Oldest timestamp shown.
    pub since_ts: i64,
    /// Instance wanted.
    pub instance: Option<String>,
    /// Action wanted (normalised).
    pub action: Option<String>,
    /// Addressee wanted (`TO`).
    pub to: Option<String>,
    /// Text wanted in the topic, summary, affects or unblocks, lowercased.
    pub grep: Option<String>,
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
        self.miss(e, now, check_time).is_none()
    }

    /// Why `e` does not pass the filter at `now` (the first reason, in the
    /// order: asked-for filters, scope, lifetime); `None` when it passes.
    pub fn miss(&self, e: &Entry<'_>, now: i64, check_time: bool) -> Option<Miss> {
        let asked = (!check_time || e.timestamp >= self.since_ts)
            && self
                .instance
                .as_deref()
                .is_none_or(|i| e.source_instance.eq_ignore_ascii_case(i))
            && self.action.as_deref().is_none_or(|a| e.action == a)
            && self
                .to
                .as_deref()
                .is_none_or(|t| e.to.trim().eq_ignore_ascii_case(t))
            && self.grep.as_deref().is_none_or(|g| text_has(e, g));
        let live = !self.live_only || !check_time || e.is_live(now, self.default_ttl);
        if !asked {
            Some(Miss::Asked)
        } else if !self.scope.admits(&e.repo, &e.cwd) {
            // Counted as hidden by the scope only when --all-repos alone would show it.
            Some(if live { Miss::Scope } else { Miss::Asked })
        } else if !live {
            Some(Miss::Expired)
        } else {
            None
        }
    }
}

/// Why an entry is not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// A filter that was asked for (`--since`, `--instance`, `--action`,
    /// `--to`, `--grep`) leaves it out.
    Asked,
    /// It belongs to another repository (`--all-repos` shows it).
    Scope,
    /// It expired (`--all` shows it).
    Expired,
}

/// What a listing left out that a flag would show: entries of other
/// repositories, expired entries, automatic entries an amend replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hidden {
    /// Live entries in other repositories.
    pub other_repos: usize,
    /// Expired entries in this scope.
    pub expired: usize,
    /// Automatic entries replaced by an amend's.
    pub replaced: usize,
}

impl Hidden {
    /// Counts one entry left out for `why`.
    pub fn note(&mut self, why: Miss) {
        match why {
            Miss::Scope => self.other_repos += 1,
            Miss::Expired => self.expired += 1,
            Miss::Asked => {}
        }
    }

    /// One line per kind of hidden entry, each with the flag that shows it
    /// (`2 entries in other repositories: pool-query --all-repos`).
    pub fn lines(&self) -> Vec<String> {
        let n =
            |k: usize, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
        let mut out = Vec::new();
        if self.other_repos > 0 {
            out.push(format!(
                "{} in other repositories: pool-query --all-repos",
                n(self.other_repos, "entry", "entries")
            ));
        }
        if self.expired > 0 {
            out.push(format!(
                "{} expired: pool-query --all",
                n(self.expired, "entry", "entries")
            ));
        }
        if self.replaced > 0 {
            out.push(format!(
                "{} replaced by an amend: pool-query --all",
                n(self.replaced, "automatic entry", "automatic entries")
            ));
        }
        out
    }
}

/// What an empty listing prints: that nothing matched where it looked
/// (the scope and the window), what is hidden and the flag that shows it.
pub fn empty_view(scope: &str, since: u64, hidden: &Hidden) -> String {
    let mut out = format!(
        "No pool entries found in {scope} in the last {}.\n",
        format_age(i64::try_from(since).unwrap_or(i64::MAX))
    );
    for l in hidden.lines() {
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Whether the topic, summary, affects or unblocks of `e` holds `needle`
/// (lowercase), ignoring case.
fn text_has(e: &Entry<'_>, needle: &str) -> bool {
    [&e.topic, &e.summary, &e.affects, &e.blocks]
        .iter()
        .any(|f| f.to_lowercase().contains(needle))
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
        match fresh_machine()? {
            Some(note) => {
                // The normal state before the first session: an answer, not an error.
                if !args.json {
                    let out = if args.count { "0\n".to_string() } else { note };
                    io::stdout().write_all(out.as_bytes()).map_err(stdout_err)?;
                } else if args.count {
                    io::stdout().write_all(b"0\n").map_err(stdout_err)?;
                }
                return Ok(());
            }
            None => crate::cmd::existing_pool_dir()?,
        }
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
        to: args
            .to
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        grep: args
            .grep
            .as_deref()
            .filter(|g| !g.is_empty())
            .map(str::to_lowercase),
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
    let mut hidden = Hidden::default();
    // Past the limit, whether one more entry matches (looked for over at
    // most MORE_LOOKAHEAD entries): a listing that stops says so.
    let mut more = More::No;
    let mut past = 0usize;
    let stats = pool.scan_back(Some(filter.since_ts), |_, raw, e| {
        if limit == 0 {
            // `--limit 0`: no rows (with --follow, only what comes next).
            return ControlFlow::Break(());
        }
        if count >= limit {
            past += 1;
            if past > MORE_LOOKAHEAD {
                more = More::Maybe;
                return ControlFlow::Break(());
            }
        }
        let replaced = superseded.visit(&e) && !args.all;
        match filter.miss(&e, now, true) {
            None if replaced => hidden.replaced += 1,
            None if count >= limit => {
                more = More::Yes;
                return ControlFlow::Break(());
            }
            None => {
                count += 1;
                if !args.count {
                    shown.push(raw.to_vec());
                }
            }
            Some(why) => hidden.note(why),
        }
        ControlFlow::Continue(())
    })?;
    if args.count {
        writeln!(out, "{count}").map_err(stdout_err)?;
    } else if shown.is_empty() && !args.follow && !args.json && limit > 0 {
        let view = empty_view(&filter.scope.describe(), args.since, &hidden);
        out.write_all(view.as_bytes()).map_err(stdout_err)?;
    } else {
        for raw in &shown {
            if let Some(e) = Entry::parse(raw) {
                print_entry(&mut out, raw, &e, args, now).map_err(stdout_err)?;
            }
        }
    }
    out.flush().map_err(stdout_err)?;
    if !shown.is_empty() && !args.json && !args.count {
        // A listing that left something out says so, beside it (stdout stays the rows).
        let n = shown.len();
        match more {
            More::Yes => eprint_error(
                "pool-query",
                &format!(
                    "note: showing the newest {n}; more entries match (--limit N shows more, --count counts them)"
                ),
            ),
            More::Maybe => eprint_error(
                "pool-query",
                &format!(
                    "note: showing the newest {n}; more may match further back (--count counts them)"
                ),
            ),
            More::No => {}
        }
        for l in hidden.lines() {
            eprint_error("pool-query", &format!("note: also {l}"));
        }
    }
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
        out.write_all(json_line(raw).as_bytes())?;
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
    let shown = |s: &str, max: usize| {
        if args.full {
            clean(s, usize::MAX)
        } else {
            collapse(s, max, "--full")
        }
    };
    let _ = writeln!(
        out,
        "{when} {:>4} ago  [{}{host}{}]{} {:<9} {auto}{}",
        format_age(now - e.timestamp),
        clean(&e.source_instance, 32),
        to_suffix(e),
        critical_mark(e),
        clean(&e.action, 12),
        shown(&e.topic, ROW_TOPIC)
    );
    if args.verbose {
        for (label, v) in [
            ("summary", &e.summary),
            ("affects", &e.affects),
            ("unblocks", &e.blocks),
            ("to", &e.to),
        ] {
            if !v.trim().is_empty() {
                let _ = writeln!(out, "    {label}: {}", shown(v, VERBOSE_TEXT));
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

/// The message for a pool folder that does not exist because nothing was
/// pooled yet (the default folder, not one `POOL_DIR` names: that is
/// likely a typo and stays an error); `None` when the folder exists or
/// `POOL_DIR` names it.
fn fresh_machine() -> Result<Option<String>> {
    let locator = crate::store::paths::Locator::from_env(None);
    let dir = locator.pool_dir()?;
    if locator.pool_dir.is_some() || dir.exists() || dir.is_symlink() {
        return Ok(None);
    }
    Ok(Some(format!(
        "Nothing is pooled yet: {} does not exist. The first session with the hooks (or pool post) creates it.\n",
        dir.display()
    )))
}

/// One line of `--json`: the entry with every string neutralised as the
/// text form is ([`neutral::document`]: no escape sequence, invisible,
/// bidi or tag character, no tag-like markup or turn prefix), so a program
/// that decodes it does not get them back; then made inert for a terminal
/// ([`neutral::json`]). A line that is not a JSON object is passed as read.
pub fn json_line(raw: &[u8]) -> String {
    let line = String::from_utf8_lossy(raw.trim_ascii());
    match serde_json::from_str::<serde_json::Value>(&line) {
        Ok(mut v) => {
            neutralise(&mut v);
            neutral::json(&v.to_string())
        }
        Err(_) => neutral::json(&line),
    }
}

/// Applies [`neutral::document`] to every string (keys too) in `v`.
fn neutralise(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            let clean = neutral::document(s);
            if clean != *s {
                *s = clean;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(neutralise),
        Value::Object(o) => {
            let map = std::mem::take(o);
            for (k, mut val) in map {
                neutralise(&mut val);
                o.insert(neutral::document(&k), val);
            }
        }
        _ => {}
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
