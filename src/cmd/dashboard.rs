//! `pool dashboard`: serves the live web dashboard on 127.0.0.1.
//!
//! One process, [`http`] (synchronous, no async runtime): each connection
//! has its own thread, with deadlines on every read, so a slow or silent
//! client holds only its own; a Server-Sent-Events stream (at most
//! [`MAX_STREAMS`]) tails the log on its connection's thread and ends as soon
//! as its client goes away.
//!
//! Access: every request must carry the token, as `?token=` (the printed
//! URL), the `X-Pool-Token` header, or the cookie the page sets on its first
//! load (after which the page drops the token from its address). The token
//! is kept private in the pool folder (`dashboard.json`, 0600) with the
//! port, so a restart keeps both and an open tab reconnects;
//! `--rotate-token` makes a new one. The `Host` must be `127.0.0.1` or
//! `localhost` (or a name given with `--allow-host`, for an SSH or editor
//! port-forward), and a POST must come from the page's own origin. A
//! refusal is a 403 page that says what to do.
//!
//! Routes: `GET /` the page; `GET /api/state` a [`Snapshot`] as JSON;
//! `GET /api/entries?offset=&limit=&q=&instance=&action=` an
//! [`EntriesPage`]; `GET /events` the stream (`hello` on connect, `entry`
//! per appended entry, `reset` when gc replaced the log); `POST /api/post`
//! a [`PostForm`]; `POST /api/ack` `{"id", "instance"}`; `POST
//! /api/release` `{"id", "instance", "as_person"}`. Every entry the page
//! posts carries `"origin": "dashboard"`, except a person's release of
//! another instance's claim, recorded as `"forced"` (the only release that
//! closes someone else's claim).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cmd::cli::DashboardArgs;
use crate::cmd::http::{self, Request, Server};
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::coord::blocked::{self, Seen};
use crate::coord::claims::{Claim, ClaimWalk, open_claims};
use crate::coord::handoffs::{AckTracker, LONG_TTL};
use crate::coord::presence;
use crate::env::config::{self, Config, ConfigFile, ProcessEnv};
use crate::env::repo::{self, Repo, Scope};
use crate::error::{Error, Result};
use crate::store::entry::{Entry, random_entry_id};
use crate::store::fsio;
use crate::store::log::{DEFAULT_TTL, Pool};
use crate::store::paths::Locator;
use crate::view::dashboard::{
    self, EntriesPage, EntryFilter, EntryView, Inputs, NONCE_PLACEHOLDER, PAGE, PAGE_MAX,
    PostContext, PostForm, Snapshot, WINDOW,
};

/// How often a stream looks at the log's size, in milliseconds.
pub const TAIL_POLL_MS: u64 = 300;
/// Time between keep-alive comments on an idle stream, in seconds.
pub const KEEPALIVE_SECS: u64 = 15;
/// Most concurrent event streams.
pub const MAX_STREAMS: usize = 32;
/// Largest POST body read, in bytes.
pub const MAX_BODY: usize = http::MAX_BODY;
/// Most bytes a stream reads from the log in one poll.
const MAX_READ: u64 = 1024 * 1024;
/// Where the token and port are kept, in the pool folder.
pub const STATE_FILE: &str = "dashboard.json";

const PROGRAM: &str = "pool dashboard";

/// Runs the dashboard until the process is interrupted; returns the exit code.
pub fn run(args: &DashboardArgs) -> i32 {
    match serve(args) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprint_error(PROGRAM, &e.to_string());
            EXIT_ERROR
        }
    }
}

/// What every request handler needs.
struct App {
    pool: Pool,
    /// The repository the dashboard was started in.
    repo: Repo,
    token: String,
    port: u16,
    allowed_hosts: Vec<String>,
    default_ttl: u64,
    streams: AtomicUsize,
}

impl App {
    fn cookie_name(&self) -> String {
        // Cookies are shared by every port of a host: one name per port.
        format!("pool_token_{}", self.port)
    }
}

/// What survives a restart: the token, and the port to take again.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    token: String,
    #[serde(default)]
    port: u16,
}

fn load_saved(dir: &Path) -> Option<Saved> {
    let path = dir.join(STATE_FILE);
    // The token is a secret: only a private file is trusted.
    fsio::check_safe(&path, false).ok()?;
    let s: Saved = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    (s.token.len() == 32 && s.token.bytes().all(|b| b.is_ascii_hexdigit())).then_some(s)
}

fn save(dir: &Path, s: &Saved) -> Result<()> {
    let bytes = serde_json::to_vec(s).map_err(|e| Error::Invalid(e.to_string()))?;
    fsio::replace_file(&dir.join(STATE_FILE), &bytes, 0o600)
}

fn serve(args: &DashboardArgs) -> Result<()> {
    let dir = Locator::from_env(None).pool_dir()?;
    let pool = Pool::open(dir.clone())?;
    let config = config::load_config_file(&dir)?;
    let (settings, warnings) = Config::from_env(&ProcessEnv, &config);
    for w in warnings {
        eprint_error(PROGRAM, &w);
    }
    // `devbox`, `devbox:9000` or `http://devbox:9000`: the name; anything
    // else is refused now, not at every request.
    let allowed_hosts = args
        .allow_host
        .iter()
        .map(|h| dashboard::allowed_host_name(h))
        .collect::<std::result::Result<Vec<String>, String>>()
        .map_err(Error::Invalid)?;
    let saved = load_saved(&dir);
    // The port asked for, else the one of the last run (so open tabs find
    // it again), else any free one.
    let mut tries = vec![args.port];
    if args.port == 0
        && let Some(p) = saved.as_ref().map(|s| s.port).filter(|p| *p != 0)
    {
        tries.insert(0, p);
    }
    let mut server = None;
    let mut last_err = String::new();
    for p in tries {
        match Server::bind(p) {
            Ok(s) => {
                server = Some(s);
                break;
            }
            Err(e) => last_err = format!("cannot listen on 127.0.0.1:{p}: {e}"),
        }
    }
    let server = server.ok_or(Error::Invalid(last_err))?;
    let port = server
        .port()
        .map_err(|e| Error::Invalid(format!("the server has no TCP address: {e}")))?;
    let token = match saved {
        Some(s) if !args.rotate_token => s.token,
        _ => random_hex(16)?,
    };
    save(
        &dir,
        &Saved {
            token: token.clone(),
            port,
        },
    )?;
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let app = Arc::new(App {
        pool,
        repo: repo::locate(&cwd),
        token,
        port,
        allowed_hosts,
        default_ttl: settings.ttl,
        streams: AtomicUsize::new(0),
    });
    let url = format!("http://127.0.0.1:{port}/?token={}", app.token);
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "pool dashboard: {url}\n(pool {}; the token is kept in {} — --rotate-token makes a new one; Ctrl-C stops it)",
        dir.display(),
        dir.join(STATE_FILE).display()
    );
    for h in &app.allowed_hosts {
        let _ = writeln!(
            out,
            "also answering as {h} (--allow-host): http://{h}:<forwarded port>/?token={}",
            app.token
        );
    }
    let _ = out.flush();
    if args.open {
        open_browser(&url);
    }
    server.serve(Arc::new(move |req| handle(&app, req)));
    Ok(())
}

/// Opens `url` in the person's browser: `$BROWSER`, else `xdg-open` (Linux)
/// or `open` (macOS). A failure is reported, not fatal.
fn open_browser(url: &str) {
    let browser = std::env::var("BROWSER")
        .ok()
        .filter(|b| !b.trim().is_empty());
    let program = browser.unwrap_or_else(|| {
        if cfg!(target_os = "macos") {
            "open".into()
        } else {
            "xdg-open".into()
        }
    });
    let spawned = std::process::Command::new(&program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        // Reap it in the background so no zombie is left.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => eprint_error(
            PROGRAM,
            &format!("--open: cannot run {program} ({e}); open the URL above by hand"),
        ),
    }
}

/// `n` random bytes from the kernel, as hex.
fn random_hex(n: usize) -> Result<String> {
    let path = Path::new("/dev/urandom");
    let mut buf = vec![0u8; n];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Error::io(path, e))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn header<'r>(req: &'r Request, name: &'static str) -> Option<&'r str> {
    req.header(name)
}

/// A response header; `None` for a value that would break the head.
type Header = (String, String);

fn hdr(name: &str, value: &str) -> Option<Header> {
    let ok = |s: &str| !s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    (ok(name) && ok(value)).then(|| (name.to_string(), value.to_string()))
}

/// Headers every response carries.
fn common_headers(content_type: &str) -> Vec<Header> {
    [
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ]
    .into_iter()
    .filter_map(|(k, v)| hdr(k, v))
    .collect()
}

fn respond(req: Request, status: u16, content_type: &str, body: Vec<u8>, extra: Vec<Header>) {
    // The body was read whole (at most MAX_BODY bytes, within a deadline)
    // before the request got here, so nothing of it is taken for the next
    // request on a kept-alive connection.
    let headers: Vec<Header> = common_headers(content_type)
        .into_iter()
        .chain(extra)
        .collect();
    req.respond(status, &headers, &body);
}

fn respond_text(req: Request, status: u16, text: &str) {
    respond(
        req,
        status,
        "text/plain; charset=utf-8",
        format!("{text}\n").into_bytes(),
        Vec::new(),
    );
}

fn respond_json(req: Request, status: u16, value: &impl serde::Serialize) {
    match serde_json::to_vec(value) {
        Ok(body) => respond(
            req,
            status,
            "application/json; charset=utf-8",
            body,
            Vec::new(),
        ),
        Err(e) => respond_text(req, 500, &format!("cannot encode: {e}")),
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A 403 that says what happened and what to do: a small page for a
/// browser, one line for a program.
fn refuse(req: Request, title: &str, advice: &[String]) {
    let html = header(&req, "Accept").is_some_and(|a| a.contains("text/html"));
    if !html {
        return respond_text(
            req,
            403,
            &format!("forbidden: {title}; {}", advice.join(" ")),
        );
    }
    let items: String = advice
        .iter()
        .map(|a| format!("<li>{}</li>", esc(a)))
        .collect();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>pool dashboard: {t}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#1d232b}}\
         code{{background:#eef1f4;padding:.1em .3em;border-radius:3px;overflow-wrap:anywhere}}</style></head>\
         <body><h1>pool dashboard: {t}</h1><ul>{items}</ul></body></html>",
        t = esc(title)
    );
    // The page has no script and loads nothing.
    let csp = hdr(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'",
    );
    respond(
        req,
        403,
        "text/html; charset=utf-8",
        body.into_bytes(),
        csp.into_iter().collect(),
    );
}

/// The token a request carries: `?token=`, the header, or the cookie.
fn token_of<'r>(app: &App, req: &'r Request) -> (Option<&'r str>, bool) {
    if let Some(t) = dashboard::query_param(req.url(), "token") {
        return (Some(t), true);
    }
    let cookie = dashboard::cookie(header(req, "Cookie"), &app.cookie_name());
    (header(req, "X-Pool-Token").or(cookie), false)
}

fn handle(app: &Arc<App>, req: Request) {
    if !dashboard::host_ok(header(&req, "Host"), app.port, &app.allowed_hosts) {
        let name = dashboard::host_name_of(header(&req, "Host"));
        return refuse(
            req,
            "unexpected Host",
            &[
                format!(
                    "This page was reached as {name:?}, which is not this server's own name (127.0.0.1 or localhost): a different name can be a DNS-rebinding attack, so it is refused."
                ),
                format!(
                    "If you reached it through an SSH or editor port-forward, restart it with: pool dashboard --allow-host {name}"
                ),
                format!(
                    "Or open http://127.0.0.1:{}/ on the machine it runs on.",
                    app.port
                ),
            ],
        );
    }
    let (token, in_url) = token_of(app, &req);
    if !token.is_some_and(|t| dashboard::same_secret(t, &app.token)) {
        let advice = if token.is_some() {
            "The token is wrong: it may have been rotated (pool dashboard --rotate-token). Open the URL pool dashboard printed last."
        } else {
            "This page needs the token that pool dashboard printed: open the whole URL it printed (http://127.0.0.1:PORT/?token=…)."
        };
        return refuse(
            req,
            "missing or wrong token",
            &[
                advice.to_string(),
                format!(
                    "The token is kept in the pool folder, in {STATE_FILE}; restarting pool dashboard prints the URL again."
                ),
            ],
        );
    }
    let path = dashboard::url_path(req.url()).to_string();
    let method = req.method().to_string();
    if method == "POST"
        && !dashboard::same_origin(
            header(&req, "Origin"),
            header(&req, "Sec-Fetch-Site"),
            app.port,
            &app.allowed_hosts,
        )
    {
        return refuse(
            req,
            "cross-origin request",
            &[
                "Only the dashboard page itself may post; requests from other sites are refused."
                    .into(),
            ],
        );
    }
    match (method.as_str(), path.as_str()) {
        ("GET", "/") => {
            let nonce = match random_hex(16) {
                Ok(n) => n,
                Err(e) => return respond_text(req, 500, &e.to_string()),
            };
            let csp = format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
                 connect-src 'self'; img-src 'self' data:; form-action 'none'; \
                 base-uri 'none'; frame-ancestors 'none'"
            );
            let body = PAGE.replace(NONCE_PLACEHOLDER, &nonce).into_bytes();
            let mut extra: Vec<Header> = hdr("Content-Security-Policy", &csp).into_iter().collect();
            if in_url {
                // From now on the cookie carries the token; the page drops
                // it from the address bar.
                extra.extend(hdr(
                    "Set-Cookie",
                    &format!(
                        "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000",
                        app.cookie_name(),
                        app.token
                    ),
                ));
            }
            respond(req, 200, "text/html; charset=utf-8", body, extra);
        }
        ("GET", "/api/state") => match state(app, &scope_of(app, req.url())) {
            Ok(s) => respond_json(req, 200, &s),
            Err(e) => respond_text(req, 500, &e.to_string()),
        },
        ("GET", "/api/entries") => {
            let url = req.url().to_string();
            let param = |k: &str| {
                dashboard::query_param(&url, k)
                    .map(dashboard::decode_query_value)
                    .unwrap_or_default()
            };
            let offset = param("offset").parse().unwrap_or(0);
            let limit = param("limit").parse().unwrap_or(PAGE_MAX).min(PAGE_MAX);
            let filter = EntryFilter::new(&param("q"), &param("instance"), &param("action"));
            let scope = scope_of(app, &url);
            match entries_page(app, &filter, &scope, offset, limit) {
                Ok(p) => respond_json(req, 200, &p),
                Err(e) => respond_text(req, 500, &e.to_string()),
            }
        }
        ("GET", "/events") => {
            if app.streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
                app.streams.fetch_sub(1, Ordering::SeqCst);
                return respond_text(req, 503, "too many event streams");
            }
            // On this connection's own thread, until the client goes away.
            stream(app, req);
            app.streams.fetch_sub(1, Ordering::SeqCst);
        }
        ("POST", route @ ("/api/post" | "/api/ack" | "/api/release")) => {
            let body = req.body().to_vec();
            let result = match route {
                "/api/post" => post(app, &body),
                "/api/ack" => ack(app, &body),
                _ => release(app, &body),
            };
            match result {
                Ok(id) => respond_json(req, 200, &serde_json::json!({ "id": id })),
                Err(msg) => respond_json(req, 400, &serde_json::json!({ "error": msg })),
            }
        }
        _ => respond_text(req, 404, "not found"),
    }
}

/// The scope a request asks for: `?repo=all` every repository, `?repo=NAME`
/// one (an id, its tail or a shared scope's name), else the dashboard's own
/// repository with its shared scopes.
fn scope_of(app: &App, url: &str) -> Scope {
    let config = config::load_config_file(app.pool.dir()).unwrap_or_default();
    match dashboard::query_param(url, "repo").map(dashboard::decode_query_value) {
        Some(r) if r == "all" => Scope::All,
        Some(r) if !r.trim().is_empty() => config.scope_for(&app.repo, false, Some(r.trim())),
        _ => config.scope_of(&app.repo),
    }
}

/// Most distinct repositories listed for the switcher.
const MAX_REPOS: usize = 100;

/// Most entries one read of a snapshot (the stream, the blocks, the
/// handoffs, the claims) takes from the log, as `pool status` does: past
/// them the snapshot says how far back it read.
pub const MAX_ENTRIES_READ: usize = crate::cmd::status::MAX_ENTRIES_READ;
/// Open claims kept for a snapshot, newest first; older ones are not read.
pub const MAX_CLAIMS_KEPT: usize = crate::cmd::status::MAX_CLAIMS_KEPT;

/// What a capped read stopped at: `what` read back to a time, in words.
fn read_back(what: &str, to: i64, now: i64) -> String {
    format!(
        "busy pool: {what} read back to {} ago only (at most {MAX_ENTRIES_READ} entries read)",
        crate::store::entry::format_age(now - to)
    )
}

/// Reads the pool and builds what the page shows within `scope`.
fn state(app: &App, scope: &Scope) -> Result<Snapshot> {
    let now = chrono::Utc::now().timestamp();
    let dir = app.pool.dir();
    let config: ConfigFile = config::load_config_file(dir)?;
    let ttl = app.default_ttl;
    let window_start = now.saturating_sub(WINDOW as i64);
    let mut entries = Vec::new();
    let mut entries_total = 0usize;
    let mut repos: Vec<String> = Vec::new();
    let mut left_out = Vec::new();
    let mut read = 0usize;
    app.pool.scan_back(Some(window_start), |_, _, e| {
        read += 1;
        if read > MAX_ENTRIES_READ {
            left_out.push(read_back("the stream's count", e.timestamp, now));
            return ControlFlow::Break(());
        }
        if !e.repo.is_empty() && repos.len() < MAX_REPOS && !repos.iter().any(|r| *r == e.repo) {
            repos.push(e.repo.to_string());
        }
        if e.timestamp >= window_start && scope.admits(&e.repo, &e.cwd) {
            entries_total += 1;
            if entries.len() < dashboard::STREAM_MAX {
                entries.push(e.into_owned());
            }
        }
        ControlFlow::Continue(())
    })?;
    repos.sort();
    let mut tracker = blocked::Tracker::default();
    let mut read = 0usize;
    app.pool.scan_recent(now, ttl.max(DEFAULT_TTL), |e| {
        read += 1;
        if read > MAX_ENTRIES_READ {
            left_out.push(read_back("blocks", e.timestamp, now));
            return ControlFlow::Break(());
        }
        if scope.admits(&e.repo, &e.cwd) {
            tracker.visit(&Seen::of(&e, now, ttl), Some(&e));
        }
        ControlFlow::Continue(())
    })?;
    let handoffs = pending_handoffs(&app.pool, now, ttl, scope, &mut left_out)?;
    let claims = open_claims_capped(&app.pool, now, ttl, scope, &mut left_out)?;
    let mut snap = dashboard::snapshot(
        Inputs {
            pool_dir: dir.display().to_string(),
            config: Some(&config),
            default_ttl: ttl,
            entries,
            entries_total,
            handoffs,
            claims,
            blocks: tracker.finish(),
            // Presence is a bonus: an unreadable folder leaves the cards to the entries.
            sessions: presence::list(dir, now, false)
                .map(|l| l.sessions)
                .unwrap_or_default()
                .into_iter()
                .filter(|p| p.in_scope(scope))
                .collect(),
            repo: app.repo.id.clone(),
            scope: scope.describe(),
            repos,
        },
        now,
    );
    snap.left_out = left_out;
    Ok(snap)
}

/// Open claims within `scope`, newest first, at most [`MAX_CLAIMS_KEPT`]
/// and from at most [`MAX_ENTRIES_READ`] entries; a cap that stopped the
/// read is noted in `left_out`.
fn open_claims_capped(
    pool: &Pool,
    now: i64,
    ttl: u64,
    scope: &Scope,
    left_out: &mut Vec<String>,
) -> Result<Vec<Claim>> {
    let mut walk = ClaimWalk::default();
    let mut read = 0usize;
    pool.scan_recent(now, ttl.max(DEFAULT_TTL), |e| {
        read += 1;
        if walk.open.len() >= MAX_CLAIMS_KEPT {
            left_out.push(format!(
                "busy pool: the newest {MAX_CLAIMS_KEPT} open claims kept; claims older than {} ago not read (pool who PATH looks further)",
                crate::store::entry::format_age(now - e.timestamp)
            ));
            return ControlFlow::Break(());
        }
        if read > MAX_ENTRIES_READ {
            left_out.push(read_back("claims", e.timestamp, now));
            return ControlFlow::Break(());
        }
        walk.note(&e, now, ttl, scope);
        ControlFlow::Continue(())
    })?;
    Ok(walk.open)
}

/// One page of the window's entries that pass `filter`, and their number.
fn entries_page(
    app: &App,
    filter: &EntryFilter,
    scope: &Scope,
    offset: usize,
    limit: usize,
) -> Result<EntriesPage> {
    let now = chrono::Utc::now().timestamp();
    let window_start = now.saturating_sub(WINDOW as i64);
    let mut page = EntriesPage {
        offset,
        ..EntriesPage::default()
    };
    app.pool.scan_back(Some(window_start), |_, _, e| {
        if e.timestamp >= window_start && filter.matches(&e) && scope.admits(&e.repo, &e.cwd) {
            if page.total >= offset && page.entries.len() < limit {
                page.entries.push(EntryView::new(&e, now, app.default_ttl));
            }
            page.total += 1;
        }
        ControlFlow::Continue(())
    })?;
    Ok(page)
}

/// Handoffs to any instance that no entry acknowledged yet, newest first.
/// Handoffs live up to [`LONG_TTL`], so the acknowledgements are looked for
/// back to the oldest pending one.
fn pending_handoffs(
    pool: &Pool,
    now: i64,
    ttl: u64,
    scope: &Scope,
    left_out: &mut Vec<String>,
) -> Result<Vec<Entry<'static>>> {
    let mut acks = AckTracker::default();
    let mut out: Vec<Entry<'static>> = Vec::new();
    let mut read = 0usize;
    pool.scan_recent(now, ttl, |e| {
        read += 1;
        if read > MAX_ENTRIES_READ {
            left_out.push(read_back("handoffs", e.timestamp, now));
            return ControlFlow::Break(());
        }
        if !scope.admits(&e.repo, &e.cwd) {
            acks.note_ref(&e.reference);
        } else if acks.visit(&e, Some(e.to.as_ref()), now, ttl) {
            out.push(e.into_owned());
        }
        ControlFlow::Continue(())
    })?;
    if let Some(oldest) = out.iter().map(|h| h.timestamp).min() {
        let stop = oldest.max(now.saturating_sub(LONG_TTL as i64));
        let mut all = AckTracker::default();
        let mut read = 0usize;
        pool.scan_back(Some(stop), |_, _, e| {
            read += 1;
            if read > MAX_ENTRIES_READ {
                left_out.push(read_back("acknowledgements", e.timestamp, now));
                return ControlFlow::Break(());
            }
            all.visit(&e, None, now, ttl);
            ControlFlow::Continue(())
        })?;
        out.retain(|h| all.visit(h, Some(h.to.as_ref()), now, ttl));
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
    Ok(out)
}

fn context(app: &App, topic: &str) -> PostContext {
    PostContext {
        id: random_entry_id(topic),
        now: chrono::Utc::now().timestamp(),
        host: crate::env::host::host_name(),
        cwd: std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
        repo: app.repo.id.clone(),
    }
}

fn append(app: &App, entry: Entry<'static>) -> std::result::Result<String, String> {
    let id = entry.id.to_string();
    let mut entries = [entry];
    let now = entries[0].timestamp;
    crate::coord::claims::extend_closers(&app.pool, &mut entries, now, app.default_ttl)
        .map_err(|e| e.to_string())?;
    app.pool.append(&entries, now).map_err(|e| e.to_string())?;
    // A handoff posted from the page wakes its addressee like one posted by
    // `pool post`; the entry is posted whatever happens to the wake.
    let config = crate::env::config::load_config_file(app.pool.dir()).unwrap_or_default();
    if crate::env::config::Config::from_env(&crate::env::config::ProcessEnv, &config)
        .0
        .wake
    {
        let _ = crate::coord::wake::wake(app.pool.dir(), &entries, now);
    }
    Ok(id)
}

/// Appends the entry a form describes; returns its id, or a message for the page.
fn post(app: &App, body: &[u8]) -> std::result::Result<String, String> {
    let form: PostForm =
        serde_json::from_slice(body).map_err(|e| format!("the form is not valid JSON: {e}"))?;
    let entry = dashboard::form_entry(&form, &context(app, &form.topic))?;
    append(app, entry)
}

/// What the page sends to acknowledge a handoff or release a claim.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActOn {
    id: String,
    instance: String,
    as_person: bool,
}

/// Acknowledges a pending handoff for the name given.
fn ack(app: &App, body: &[u8]) -> std::result::Result<String, String> {
    let req: ActOn = serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
    let now = chrono::Utc::now().timestamp();
    let handoffs = pending_handoffs(
        &app.pool,
        now,
        app.default_ttl,
        &Scope::All,
        &mut Vec::new(),
    )
    .map_err(|e| e.to_string())?;
    let h = handoffs
        .iter()
        .find(|h| h.id == req.id)
        .ok_or_else(|| format!("no pending handoff with id {}", req.id))?;
    let entry = dashboard::ack_entry(h, &req.instance, &context(app, &h.topic))?;
    append(app, entry)
}

/// Releases an open claim: as its instance, or as a person when asked to.
fn release(app: &App, body: &[u8]) -> std::result::Result<String, String> {
    let req: ActOn = serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
    let now = chrono::Utc::now().timestamp();
    let claims = open_claims(&app.pool, now, app.default_ttl).map_err(|e| e.to_string())?;
    let c = claims
        .iter()
        .find(|c| c.id == req.id)
        .ok_or_else(|| format!("no open claim with id {}", req.id))?;
    let entry = dashboard::release_entry(c, &req.instance, req.as_person, &context(app, &c.topic))?;
    append(app, entry)
}

/// What a poll of the log found.
#[derive(Debug, PartialEq)]
pub enum Tailed {
    /// Complete new lines (possibly none).
    Lines(Vec<Vec<u8>>),
    /// The log was replaced (gc) or truncated; reading goes on from its end.
    Reset,
}

/// Follows the log by its size and inode: new complete lines since the last
/// poll, or a reset when another file took its place. Memory stays bounded:
/// a line longer than [`fsio::MAX_LINE`] is skipped, as readers skip it.
#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    ino: u64,
    pos: u64,
    partial: Vec<u8>,
    /// Inside an over-long line: drop bytes up to the next newline.
    skipping: bool,
}

impl LogTail {
    /// Starts at the current end of the log at `path` (or at its start, once
    /// it is created, when it does not exist yet).
    pub fn new(path: PathBuf) -> Self {
        let (ino, pos) = stat(&path).unwrap_or((0, 0));
        LogTail {
            path,
            ino,
            pos,
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// Reads what was appended since the last poll.
    pub fn poll(&mut self) -> std::io::Result<Tailed> {
        let Some((ino, len)) = stat(&self.path) else {
            return Ok(Tailed::Lines(Vec::new()));
        };
        if self.ino == 0 {
            // The log did not exist: everything in the new one is news.
            self.ino = ino;
            self.pos = 0;
        } else if ino != self.ino || len < self.pos {
            self.ino = ino;
            self.pos = len;
            self.partial.clear();
            self.skipping = false;
            return Ok(Tailed::Reset);
        }
        if len == self.pos {
            return Ok(Tailed::Lines(Vec::new()));
        }
        let f = std::fs::File::open(&self.path)?;
        let mut buf = vec![0u8; (len - self.pos).min(MAX_READ) as usize];
        let n = fsio::read_at(&f, &mut buf, self.pos)?;
        buf.truncate(n);
        self.pos += n as u64;
        let mut chunk = &buf[..];
        if self.skipping {
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    chunk = &chunk[i + 1..];
                    self.skipping = false;
                }
                None => return Ok(Tailed::Lines(Vec::new())),
            }
        }
        self.partial.extend_from_slice(chunk);
        let mut lines = Vec::new();
        let mut start = 0;
        while let Some(i) = memchr::memchr(b'\n', &self.partial[start..]) {
            if i <= fsio::MAX_LINE {
                lines.push(self.partial[start..start + i].to_vec());
            }
            start += i + 1;
        }
        self.partial.drain(..start);
        if self.partial.len() > fsio::MAX_LINE {
            self.partial.clear();
            self.skipping = true;
        }
        Ok(Tailed::Lines(lines))
    }
}

fn stat(path: &Path) -> Option<(u64, u64)> {
    let len = std::fs::metadata(path).ok()?.len();
    fsio::path_key(path).ok().map(|k| (k.ino, len))
}

/// Serves one event stream until the client goes away.
fn stream(app: &App, req: Request) {
    let scope = scope_of(app, req.url());
    let mut tail = LogTail::new(app.pool.log_path());
    let mut w: TcpStream = req.into_stream();
    let head = "HTTP/1.1 200 OK\r\n\
                Content-Type: text/event-stream; charset=utf-8\r\n\
                Cache-Control: no-store\r\n\
                X-Content-Type-Options: nosniff\r\n\
                Connection: close\r\n\r\n\
                retry: 2000\n\nevent: hello\ndata: {}\n\n";
    if w.write_all(head.as_bytes())
        .and_then(|_| w.flush())
        .is_err()
    {
        return;
    }
    let mut last_write = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(TAIL_POLL_MS));
        // A client that closed its end frees its slot now, not at the
        // second write after (a write to a closed peer succeeds once).
        if http::client_gone(&w) {
            return;
        }
        let mut out = String::new();
        match tail.poll() {
            Ok(Tailed::Reset) => out.push_str("event: reset\ndata: {}\n\n"),
            Ok(Tailed::Lines(lines)) => {
                let now = chrono::Utc::now().timestamp();
                for line in lines {
                    if let Some(e) = Entry::parse(&line)
                        && scope.admits(&e.repo, &e.cwd)
                        && let Ok(json) =
                            serde_json::to_string(&EntryView::new(&e, now, app.default_ttl))
                    {
                        out.push_str("event: entry\ndata: ");
                        out.push_str(&json);
                        out.push_str("\n\n");
                    }
                }
            }
            // A log that cannot be read now may be readable at the next poll.
            Err(_) => {}
        }
        if out.is_empty() && last_write.elapsed() >= Duration::from_secs(KEEPALIVE_SECS) {
            out.push_str(": keep-alive\n\n");
        }
        if out.is_empty() {
            continue;
        }
        if w.write_all(out.as_bytes()).and_then(|_| w.flush()).is_err() {
            return;
        }
        last_write = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(path: &Path, s: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(s.as_bytes()).unwrap();
    }

    #[test]
    fn tail_reads_new_lines_and_notices_replacement() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("log");
        let mut tail = LogTail::new(log.clone());
        assert_eq!(tail.poll().unwrap(), Tailed::Lines(vec![]));
        append(&log, "one\ntw");
        assert_eq!(
            tail.poll().unwrap(),
            Tailed::Lines(vec![b"one".to_vec()]),
            "a log created after the start is read from its beginning"
        );
        append(&log, "o\n");
        assert_eq!(tail.poll().unwrap(), Tailed::Lines(vec![b"two".to_vec()]));
        let new = tmp.path().join("new");
        std::fs::write(&new, "kept\n").unwrap();
        std::fs::rename(&new, &log).unwrap();
        assert_eq!(tail.poll().unwrap(), Tailed::Reset);
        append(&log, "three\n");
        assert_eq!(tail.poll().unwrap(), Tailed::Lines(vec![b"three".to_vec()]));
        let long = "x".repeat(fsio::MAX_LINE + 10);
        append(&log, &long);
        append(&log, &long);
        assert_eq!(tail.poll().unwrap(), Tailed::Lines(vec![]));
        assert_eq!(tail.poll().unwrap(), Tailed::Lines(vec![]));
        assert!(tail.partial.len() <= fsio::MAX_LINE);
        append(&log, "\nfive\n");
        let got = (0..10)
            .map(|_| tail.poll().unwrap())
            .find(|t| *t != Tailed::Lines(vec![]));
        assert_eq!(
            got,
            Some(Tailed::Lines(vec![b"five".to_vec()])),
            "over-long lines are skipped with bounded memory"
        );
        let mut late = LogTail::new(log.clone());
        append(&log, "four\n");
        assert_eq!(late.poll().unwrap(), Tailed::Lines(vec![b"four".to_vec()]));
    }

    #[test]
    fn tokens_are_random_hex() {
        let a = random_hex(16).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_hex(16).unwrap());
    }
}
