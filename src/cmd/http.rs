//! The dashboard's HTTP/1.1 server: small, synchronous, and safe against a
//! slow or silent client.
//!
//! Each connection gets its own thread (at most [`MAX_CONNECTIONS`] at once;
//! one more is answered `503` and closed), so a client that stalls holds
//! only its own thread. Every read has a deadline: a request's head and body
//! must arrive within [`REQUEST_DEADLINE`], an idle kept-alive connection is
//! closed after [`IDLE_TIMEOUT`], and every write gives up after
//! [`WRITE_TIMEOUT`]. A body is read whole before the handler runs (at most
//! [`MAX_BODY`] bytes, `Content-Length` or chunked); a larger one is refused
//! with `413` and the connection closed, without reading it.
//!
//! This replaces `tiny_http`, which answered requests one by one on one
//! thread and read a refused request's unread body there with no timeout: one
//! POST that promised 64 KiB and sent nothing blocked every other request
//! (issue 22 §5). Request heads are parsed by [`httparse`] (the parser under
//! `hyper`), not by hand.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Most connections served at once (event streams included).
pub const MAX_CONNECTIONS: usize = 96;
/// Time a request's head and body have to arrive, from its first byte.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// Time a kept-alive connection may stay idle before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time one write may take before the client is given up.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request body, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// Largest request head (request line and headers), in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most headers in a request.
const MAX_HEADERS: usize = 64;

/// One request, its body read.
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    stream: TcpStream,
    /// Whether the connection may carry another request after this one.
    keep_alive: bool,
    /// Set once a complete response was written on a reusable connection.
    reusable: Arc<AtomicBool>,
}

impl Request {
    /// The method, as sent (`GET`, `POST`).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target, path and query.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The body (empty for a request without one).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The first header of this name (ignoring case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Writes a complete response. A client that went away is not an error
    /// worth reporting: the connection is then closed.
    pub fn respond(self, status: u16, headers: &[(String, String)], body: &[u8]) {
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        if !self.keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut w = &self.stream;
        let ok = w
            .write_all(head.as_bytes())
            .and_then(|_| w.write_all(body))
            .and_then(|_| w.flush())
            .is_ok();
        if ok && self.keep_alive {
            self.reusable.store(true, Ordering::SeqCst);
        }
    }

    /// The connection, for a response the handler writes itself (an event
    /// stream); it is closed when the handler is done with it.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }
}

/// A listening socket on 127.0.0.1.
pub struct Server {
    listener: TcpListener,
    active: Arc<AtomicUsize>,
}

impl Server {
    /// Listens on `127.0.0.1:port` (0: any free port).
    pub fn bind(port: u16) -> io::Result<Server> {
        Ok(Server {
            listener: TcpListener::bind(("127.0.0.1", port))?,
            active: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> io::Result<u16> {
        Ok(self.listener.local_addr()?.port())
    }

    /// Serves connections until the process ends, each on its own thread.
    pub fn serve(self, handler: Arc<dyn Fn(Request) + Send + Sync>) {
        for conn in self.listener.incoming() {
            let Ok(stream) = conn else { continue };
            if self.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                self.active.fetch_sub(1, Ordering::SeqCst);
                busy(stream);
                continue;
            }
            let active = Arc::clone(&self.active);
            let handler = Arc::clone(&handler);
            let spawned = std::thread::Builder::new()
                .name("pool-dashboard-conn".into())
                .spawn(move || {
                    connection(stream, handler.as_ref());
                    active.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                self.active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

/// Too many connections: a short 503, without reading the request.
fn busy(stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = (&stream).write_all(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 18\r\nConnection: close\r\n\r\ntoo many clients\r\n",
    );
    let _ = stream.shutdown(Shutdown::Both);
}

/// Serves the requests of one connection, one after another.
fn connection(stream: TcpStream, handler: &(dyn Fn(Request) + Send + Sync)) {
    let _ = stream.set_nodelay(true);
    if stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err() {
        return;
    }
    let mut reader = Reader {
        stream: &stream,
        buf: Vec::new(),
    };
    loop {
        let parsed = match reader.request() {
            Ok(Some(r)) => r,
            // Closed, idle too long, or too slow: nothing to answer.
            Ok(None) => return,
            Err(status) => {
                let _ = (&stream).write_all(
                    format!(
                        "HTTP/1.1 {status} {r}\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n{r}\n",
                        r = reason(status),
                        n = reason(status).len() + 1
                    )
                    .as_bytes(),
                );
                // The rest of what the client sends is not read.
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        };
        let Ok(out) = stream.try_clone() else { return };
        let reusable = Arc::new(AtomicBool::new(false));
        handler(Request {
            method: parsed.method,
            url: parsed.url,
            headers: parsed.headers,
            body: parsed.body,
            stream: out,
            keep_alive: parsed.keep_alive,
            reusable: Arc::clone(&reusable),
        });
        if !reusable.load(Ordering::SeqCst) {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// A request as read from the wire.
struct Parsed {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    keep_alive: bool,
}

/// Reads requests from a connection, with deadlines.
struct Reader<'s> {
    stream: &'s TcpStream,
    /// Bytes read and not used yet.
    buf: Vec<u8>,
}

impl Reader<'_> {
    /// Reads more bytes before `deadline`; `Ok(0)` at the end of the stream.
    fn fill(&mut self, deadline: Instant) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut chunk = [0u8; 8192];
        let n = loop {
            let mut r: &TcpStream = self.stream;
            match r.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next request: `Ok(None)` when the connection ended or stalled
    /// (nothing worth answering), `Err(status)` for a request refused before
    /// its handler.
    fn request(&mut self) -> Result<Option<Parsed>, u16> {
        // Waiting for the first byte of the next request: the idle timeout.
        if self.buf.is_empty()
            && !matches!(self.fill(Instant::now() + IDLE_TIMEOUT), Ok(n) if n > 0)
        {
            return Ok(None);
        }
        let deadline = Instant::now() + REQUEST_DEADLINE;
        let (parsed, used) = loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&self.buf) {
                Ok(httparse::Status::Complete(used)) => {
                    let headers: Vec<(String, String)> = req
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_string(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect();
                    let version = req.version.unwrap_or(1);
                    break (
                        Parsed {
                            method: req.method.unwrap_or_default().to_string(),
                            url: req.path.unwrap_or_default().to_string(),
                            headers,
                            body: Vec::new(),
                            keep_alive: version == 1,
                        },
                        used,
                    );
                }
                Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => return Err(431),
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return Err(431),
                Err(_) => return Err(400),
            }
            match self.fill(deadline) {
                Ok(n) if n > 0 => {}
                _ => return Ok(None),
            }
        };
        self.buf.drain(..used);
        let mut parsed = parsed;
        let get = |name: &str| {
            parsed
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        };
        let connection = get("Connection");
        if connection.iter().any(|c| c.contains("close")) {
            parsed.keep_alive = false;
        } else if connection.iter().any(|c| c.contains("keep-alive")) {
            parsed.keep_alive = true;
        }
        let chunked = get("Transfer-Encoding");
        let lengths = get("Content-Length");
        let expect = get("Expect");
        if expect.iter().any(|e| e != "100-continue") {
            return Err(417);
        }
        if !chunked.is_empty() {
            if !lengths.is_empty() || chunked.iter().any(|c| c != "chunked") {
                return Err(400);
            }
            self.continue_if(&expect)?;
            match self.chunked(deadline)? {
                Some(body) => parsed.body = body,
                None => return Ok(None),
            }
        } else if let Some(len) = lengths.first() {
            if lengths.iter().any(|l| l != len) {
                return Err(400);
            }
            let len: usize = len.parse().map_err(|_| 400u16)?;
            if len > MAX_BODY {
                return Err(413);
            }
            self.continue_if(&expect)?;
            while self.buf.len() < len {
                match self.fill(deadline) {
                    Ok(n) if n > 0 => {}
                    _ => return Ok(None),
                }
            }
            parsed.body = self.buf.drain(..len).collect();
        }
        Ok(Some(parsed))
    }

    /// Answers `Expect: 100-continue`.
    fn continue_if(&mut self, expect: &[String]) -> Result<(), u16> {
        if !expect.is_empty() {
            let mut w = self.stream;
            w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(|_| 400u16)?;
        }
        Ok(())
    }

    /// One line (without its CRLF), before `deadline`; `None` if it did not come.
    fn line(&mut self, deadline: Instant) -> Result<Option<String>, u16> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let line = String::from_utf8_lossy(&line).trim_end().to_string();
                return Ok(Some(line));
            }
            if self.buf.len() > 1024 {
                return Err(400);
            }
            match self.fill(deadline) {
                Ok(n) if n > 0 => {}
                _ => return Ok(None),
            }
        }
    }

    /// A chunked body, at most [`MAX_BODY`] bytes; `None` if it did not come
    /// in time.
    fn chunked(&mut self, deadline: Instant) -> Result<Option<Vec<u8>>, u16> {
        let mut body = Vec::new();
        loop {
            let Some(line) = self.line(deadline)? else {
                return Ok(None);
            };
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16).map_err(|_| 400u16)?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    match self.line(deadline)? {
                        None => return Ok(None),
                        Some(l) if l.is_empty() => return Ok(Some(body)),
                        Some(_) => {}
                    }
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(413);
            }
            while self.buf.len() < size + 2 {
                match self.fill(deadline) {
                    Ok(n) if n > 0 => {}
                    _ => return Ok(None),
                }
            }
            body.extend(self.buf.drain(..size));
            if self.buf.drain(..2).as_slice() != b"\r\n" {
                return Err(400);
            }
        }
    }
}

/// Whether the client of an event stream went away: its end of the
/// connection is closed (a read sees the end) or broken. Bytes it sends are
/// read and dropped.
pub fn client_gone(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let mut buf = [0u8; 512];
    let gone = loop {
        let mut r: &TcpStream = stream;
        match r.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break true,
        }
    };
    stream.set_nonblocking(false).is_err() || gone
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve() -> u16 {
        let server = Server::bind(0).unwrap();
        let port = server.port().unwrap();
        std::thread::spawn(move || {
            server.serve(Arc::new(|req: Request| {
                let body = format!("{} {} {}", req.method(), req.url(), req.body().len());
                req.respond(200, &[], body.as_bytes());
            }))
        });
        port
    }

    fn exchange(port: u16, raw: &[u8]) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(raw).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn bodies_by_length_and_chunked_and_keep_alive() {
        let port = serve();
        let got = exchange(
            port,
            b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(got.contains("POST /a 3"), "{got}");
        assert!(got.contains("GET /b?q=1 0"), "{got}");
        let got = exchange(
            port,
            b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n",
        );
        assert!(got.contains("POST /c 8"), "{got}");
        let got = exchange(port, b"POST /d HTTP/1.1\r\nContent-Length: 999999\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 413 "), "{got}");
        let got = exchange(port, b"\x01\x02 nonsense\r\n\r\n");
        assert!(got.starts_with("HTTP/1.1 400 "), "{got}");
    }
}
