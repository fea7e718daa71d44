//! `pool dashboard`: serves the live web dashboard on 127.0.0.1.
//!
//! One process, [`tiny_http`] (synchronous, no async runtime): the main thread
//! answers requests one by one; each Server-Sent-Events stream gets its own
//! thread (at most [`MAX_STREAMS`]) that tails the log. Every request must
//! carry the random token printed at start (`?token=` or `X-Pool-Token`) and
//! a `Host` of `127.0.0.1` or `localhost`; a POST must also come from the
//! page's own origin. Anything else gets 403.
//!
//! Routes: `GET /` the page; `GET /api/state` a [`Snapshot`] as JSON;
//! `GET /events` the stream (`hello` on connect, `entry` per appended entry,
//! `reset` when gc replaced the log); `POST /api/post` a [`PostForm`].

use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tiny_http::{Header, Method, Request, Response, Server};

use crate::cmd::cli::DashboardArgs;
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::coord::claims::open_claims;
use crate::coord::handoffs::{AckTracker, LONG_TTL};
use crate::coord::presence;
use crate::env::config::{self, Config, ConfigFile, ProcessEnv};
use crate::error::{Error, Result};
use crate::store::entry::{Entry, random_entry_id};
use crate::store::fsio;
use crate::store::log::Pool;
use crate::store::paths::Locator;
use crate::view::dashboard::{
    self, EntryView, Inputs, NONCE_PLACEHOLDER, PAGE, PostContext, PostForm, Snapshot, WINDOW,
};

/// How often a stream looks at the log's size, in milliseconds.
pub const TAIL_POLL_MS: u64 = 300;
/// Time between keep-alive comments on an idle stream, in seconds.
pub const KEEPALIVE_SECS: u64 = 15;
/// Most concurrent event streams.
pub const MAX_STREAMS: usize = 32;
/// Largest POST body read, in bytes.
pub const MAX_BODY: u64 = 64 * 1024;
/// Most bytes a stream reads from the log in one poll.
const MAX_READ: u64 = 1024 * 1024;

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
    token: String,
    port: u16,
    default_ttl: u64,
    streams: AtomicUsize,
}

fn serve(args: &DashboardArgs) -> Result<()> {
    let dir = Locator::from_env(None).pool_dir()?;
    let pool = Pool::open(dir.clone())?;
    let config = config::load_config_file(&dir)?;
    let (settings, warnings) = Config::from_env(&ProcessEnv, &config);
    for w in warnings {
        eprint_error(PROGRAM, &w);
    }
    let server = Server::http(("127.0.0.1", args.port))
        .map_err(|e| Error::Invalid(format!("cannot listen on 127.0.0.1:{}: {e}", args.port)))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .ok_or_else(|| Error::Invalid("the server has no TCP address".into()))?;
    let app = Arc::new(App {
        pool,
        token: random_hex(16)?,
        port,
        default_ttl: settings.ttl,
        streams: AtomicUsize::new(0),
    });
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "pool dashboard: http://127.0.0.1:{port}/?token={}\n(pool {}; Ctrl-C stops it)",
        app.token,
        dir.display()
    );
    let _ = out.flush();
    for req in server.incoming_requests() {
        handle(&app, req);
    }
    Ok(())
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
    req.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn hdr(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
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
    let mut resp = Response::from_data(body).with_status_code(status);
    for h in common_headers(content_type).into_iter().chain(extra) {
        resp.add_header(h);
    }
    // A client that went away is not an error worth reporting.
    let _ = req.respond(resp);
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

fn handle(app: &Arc<App>, mut req: Request) {
    if !dashboard::host_ok(header(&req, "Host"), app.port) {
        return respond_text(req, 403, "forbidden: unexpected Host");
    }
    let token = dashboard::query_param(req.url(), "token").or(header(&req, "X-Pool-Token"));
    if !token.is_some_and(|t| dashboard::same_secret(t, &app.token)) {
        return respond_text(req, 403, "forbidden: missing or wrong token");
    }
    let path = dashboard::url_path(req.url()).to_string();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::Get, "/") => {
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
            let extra = hdr("Content-Security-Policy", &csp).into_iter().collect();
            respond(req, 200, "text/html; charset=utf-8", body, extra);
        }
        (Method::Get, "/api/state") => match state(app) {
            Ok(s) => respond_json(req, 200, &s),
            Err(e) => respond_text(req, 500, &e.to_string()),
        },
        (Method::Get, "/events") => {
            if app.streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
                app.streams.fetch_sub(1, Ordering::SeqCst);
                return respond_text(req, 503, "too many event streams");
            }
            let app = Arc::clone(app);
            std::thread::spawn(move || {
                stream(&app, req);
                app.streams.fetch_sub(1, Ordering::SeqCst);
            });
        }
        (Method::Post, "/api/post") => {
            if !dashboard::same_origin(
                header(&req, "Origin"),
                header(&req, "Sec-Fetch-Site"),
                app.port,
            ) {
                return respond_text(req, 403, "forbidden: cross-origin request");
            }
            let mut body = Vec::new();
            if req
                .as_reader()
                .take(MAX_BODY + 1)
                .read_to_end(&mut body)
                .is_err()
            {
                return respond_text(req, 400, "cannot read the request body");
            }
            if body.len() as u64 > MAX_BODY {
                return respond_text(req, 413, "request body too large");
            }
            match post(app, &body) {
                Ok(id) => respond_json(req, 200, &serde_json::json!({ "id": id })),
                Err(msg) => respond_json(req, 400, &serde_json::json!({ "error": msg })),
            }
        }
        _ => respond_text(req, 404, "not found"),
    }
}

/// Reads the pool and builds what the page shows.
fn state(app: &App) -> Result<Snapshot> {
    let now = chrono::Utc::now().timestamp();
    let dir = app.pool.dir();
    let config: ConfigFile = config::load_config_file(dir)?;
    let ttl = app.default_ttl;
    let window_start = now.saturating_sub(WINDOW as i64);
    let mut entries = Vec::new();
    app.pool.scan_back(Some(window_start), |_, _, e| {
        if e.timestamp >= window_start {
            entries.push(e.into_owned());
        }
        if entries.len() >= dashboard::STREAM_MAX {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    Ok(dashboard::snapshot(
        Inputs {
            pool_dir: dir.display().to_string(),
            config: Some(&config),
            default_ttl: ttl,
            entries,
            handoffs: pending_handoffs(&app.pool, now, ttl)?,
            claims: open_claims(&app.pool, now, ttl)?,
            // Presence is a bonus: an unreadable folder leaves the cards to the entries.
            sessions: presence::list(dir, now, false)
                .map(|l| l.sessions)
                .unwrap_or_default(),
        },
        now,
    ))
}

/// Handoffs to any instance that no entry acknowledged yet, newest first.
/// Handoffs live up to [`LONG_TTL`], so the acknowledgements are looked for
/// back to the oldest pending one.
fn pending_handoffs(pool: &Pool, now: i64, ttl: u64) -> Result<Vec<Entry<'static>>> {
    let mut acks = AckTracker::default();
    let mut out: Vec<Entry<'static>> = Vec::new();
    pool.scan_recent(now, ttl, |e| {
        if acks.visit(&e, Some(e.to.as_ref()), now, ttl) {
            out.push(e.into_owned());
        }
        ControlFlow::Continue(())
    })?;
    if let Some(oldest) = out.iter().map(|h| h.timestamp).min() {
        let stop = oldest.max(now.saturating_sub(LONG_TTL as i64));
        let mut all = AckTracker::default();
        pool.scan_back(Some(stop), |_, _, e| {
            all.visit(&e, None, now, ttl);
            ControlFlow::Continue(())
        })?;
        out.retain(|h| all.visit(h, Some(h.to.as_ref()), now, ttl));
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.timestamp));
    Ok(out)
}

/// Appends the entry a form describes; returns its id, or a message for the page.
fn post(app: &App, body: &[u8]) -> std::result::Result<String, String> {
    let form: PostForm =
        serde_json::from_slice(body).map_err(|e| format!("the form is not valid JSON: {e}"))?;
    let ctx = PostContext {
        id: random_entry_id(&form.topic),
        now: chrono::Utc::now().timestamp(),
        host: crate::env::host::host_name(),
        cwd: std::env::current_dir()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let entry = dashboard::form_entry(&form, &ctx)?;
    app.pool
        .append(&[entry], ctx.now)
        .map_err(|e| e.to_string())?;
    Ok(ctx.id)
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
        let n = f.read_at(&mut buf, self.pos)?;
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
    std::fs::metadata(path).ok().map(|m| (m.ino(), m.len()))
}

/// Serves one event stream until the client goes away.
fn stream(app: &App, req: Request) {
    let mut tail = LogTail::new(app.pool.log_path());
    let mut w = req.into_writer();
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
        let mut out = String::new();
        match tail.poll() {
            Ok(Tailed::Reset) => out.push_str("event: reset\ndata: {}\n\n"),
            Ok(Tailed::Lines(lines)) => {
                let now = chrono::Utc::now().timestamp();
                for line in lines {
                    if let Some(e) = Entry::parse(&line)
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
