//! The Redis (or Valkey) side of `pool sync`: one connection whose every
//! read and write has a deadline, and the commands a pass needs.
//!
//! **Deadlines.** A socket read timeout alone bounds each `read(2)`, not a
//! reply: a server that trickles one byte a second keeps a reply coming for
//! ever. So the connection here ([`Conn`]) is ours, over the redis crate's
//! RESP parser: every command gets a deadline (the configured timeout, plus
//! the wait of a blocking read, and never past the pass's own deadline), and
//! each `read(2)` and `write(2)` is given only the time left until it. A
//! reply still incomplete at the deadline fails the command and the pass.
//!
//! **Writes.** Entries go in with one Lua script per batch, atomic on the
//! server: for each entry it remembers the id in `<stream>:id:<id>` (for
//! [`DEDUP_TTL`]) and `XADD`s the entry (`MAXLEN ~`) only when the id is
//! new *to this incarnation of the stream*. The incarnation is a token in
//! `<stream>:epoch`, made afresh (from the server's `TIME`) whenever the
//! script finds the stream missing; an id key holds the token it was added
//! under, so ids left over from a deleted stream never block re-seeding it.
//! Messages carry `id`, `e` (the entry's JSON line) and `k` (the writer's
//! clock minus the server's, in seconds). Keep the server's `default` user
//! enabled (with a password): Redis 7.0 with it disabled dropped
//! script-written entries when it replayed its AOF after a crash.
//!
//! **Reads.** One script returns, atomically, the server's `TIME`, the
//! stream's counters (`XINFO STREAM`), its epoch and the next messages
//! (`XRANGE`), so a trim between looking and reading cannot hide a gap.
//! Messages larger than the cap come back as their size only, so a huge
//! message never crosses the network.

use std::io::{BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use redis::{ConnectionLike, Value};

use super::engine::{Added, Batch, Message, Outgoing, Remote, ServerFacts, StreamInfo};
use super::{StreamId, SyncConfig};
use crate::error::{Error, Result};

/// How long the server remembers an id it was given, in seconds: the longest
/// TTL plus a week, so a re-sent entry that is still live is never added twice.
pub const DEDUP_TTL: u64 = crate::store::log::MAX_TTL + 7 * 86_400;

const ADD_SCRIPT: &str = r"
local epoch = redis.call('GET', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  epoch = t[1] .. '.' .. t[2]
  redis.call('SET', KEYS[2], epoch)
elseif not epoch then
  epoch = '1'
  redis.call('SET', KEYS[2], epoch)
end
local added = 0
for i = 3, #KEYS do
  local j = 3 * (i - 3) + 3
  if redis.call('GET', KEYS[i]) ~= epoch then
    redis.call('SET', KEYS[i], epoch, 'EX', ARGV[2])
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*',
      'id', ARGV[j], 'e', ARGV[j + 1], 'k', ARGV[j + 2])
    added = added + 1
  end
end
local total = -1
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'entries-added' then total = info[i + 1] end
end
return {added, total, epoch}
";

const READ_SCRIPT: &str = r"
local t = redis.call('TIME')
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {t[1], t[2], 0}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local length, last, added, first = 0, '0-0', -1, ''
for i = 1, #info, 2 do
  local k, v = info[i], info[i + 1]
  if k == 'length' then length = v
  elseif k == 'last-generated-id' then last = v
  elseif k == 'entries-added' then added = v
  elseif k == 'first-entry' and v then first = v[1]
  end
end
local epoch = redis.call('GET', KEYS[2]) or ''
local msgs = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
local cap = tonumber(ARGV[3])
local out = {}
for _, m in ipairs(msgs) do
  local f = m[2]
  local e, k = '', ''
  for j = 1, #f, 2 do
    if f[j] == 'e' then e = f[j + 1] elseif f[j] == 'k' then k = f[j + 1] end
  end
  if #e > cap then
    out[#out + 1] = {m[1], '', tostring(#e), k}
  else
    out[#out + 1] = {m[1], e, '', k}
  end
end
return {t[1], t[2], 1, length, first, last, added, epoch, out}
";

/// Bytes read from the socket at a time.
const READ_BUF: usize = 64 * 1024;

/// A socket whose reads and writes stop at a deadline.
struct Sock {
    tcp: TcpStream,
    deadline: Instant,
}

impl Sock {
    fn left(&self) -> std::io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "deadline passed",
            ));
        }
        Ok(left)
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.left()?;
        self.tcp.set_read_timeout(Some(left))?;
        self.tcp.read(buf)
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let left = self.left()?;
        self.tcp.set_write_timeout(Some(left))?;
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

enum Io {
    Plain(Sock),
    #[cfg(feature = "sync-redis-tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Sock>>),
}

impl Io {
    fn sock(&mut self) -> &mut Sock {
        match self {
            Io::Plain(s) => s,
            #[cfg(feature = "sync-redis-tls")]
            Io::Tls(t) => &mut t.sock,
        }
    }
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf),
            #[cfg(feature = "sync-redis-tls")]
            Io::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(buf),
            #[cfg(feature = "sync-redis-tls")]
            Io::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            #[cfg(feature = "sync-redis-tls")]
            Io::Tls(t) => t.flush(),
        }
    }
}

/// A RESP connection whose every command has a deadline (see the module
/// header). It speaks RESP2 and implements the redis crate's
/// [`ConnectionLike`], so `redis::cmd` and `redis::Script` run over it.
pub struct Conn {
    io: BufReader<Io>,
    parser: redis::Parser,
    open: bool,
    db: i64,
}

impl Conn {
    /// Sets the deadline of the commands that follow.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.io.get_mut().sock().deadline = deadline;
    }

    fn send(&mut self, bytes: &[u8]) -> redis::RedisResult<()> {
        let io = self.io.get_mut();
        let r = io.write_all(bytes).and_then(|_| io.flush());
        if r.is_err() {
            self.open = false;
        }
        Ok(r?)
    }

    fn recv(&mut self) -> redis::RedisResult<Value> {
        let r = self.parser.parse_value(&mut self.io);
        if r.is_err() {
            // A reply cut short leaves the stream mid-value: never reuse it.
            self.open = false;
        }
        r
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command(&mut self, cmd: &[u8]) -> redis::RedisResult<Value> {
        if !self.open {
            return Err(std::io::Error::from(std::io::ErrorKind::NotConnected).into());
        }
        self.send(cmd)?;
        self.recv()
    }

    fn req_packed_commands(
        &mut self,
        cmd: &[u8],
        offset: usize,
        count: usize,
    ) -> redis::RedisResult<Vec<Value>> {
        if !self.open {
            return Err(std::io::Error::from(std::io::ErrorKind::NotConnected).into());
        }
        self.send(cmd)?;
        let mut out = Vec::with_capacity(count);
        for i in 0..offset + count {
            let v = self.recv()?;
            if i >= offset {
                out.push(v);
            }
        }
        Ok(out)
    }

    fn get_db(&self) -> i64 {
        self.db
    }

    fn check_connection(&mut self) -> bool {
        redis::cmd("PING").query::<String>(self).is_ok()
    }

    fn is_open(&self) -> bool {
        self.open
    }
}

/// Where to connect, from the URL (parsed by the redis crate).
struct Target {
    host: String,
    port: u16,
    tls: bool,
    username: Option<String>,
    password: Option<String>,
    db: i64,
}

fn target(cfg: &SyncConfig, shown: &str) -> Result<Target> {
    let bad = |why: &str| Error::Invalid(format!("{shown} is not a usable redis URL: {why}"));
    let url = redis::parse_redis_url(&cfg.url)
        .ok_or_else(|| bad("expected redis://[user[:password]@]host[:port][/db] or rediss://…"))?;
    let tls = match url.scheme() {
        "redis" | "valkey" => false,
        "rediss" | "valkeys" => true,
        _ => return Err(bad("unix sockets are not supported")),
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let db = match url.path().trim_matches('/') {
        "" => 0,
        d => d.parse().map_err(|_| bad("the database is not a number"))?,
    };
    let decoded = |s: &str| Some(percent_decode(s)).filter(|s| !s.is_empty());
    Ok(Target {
        host,
        port: url.port().unwrap_or(6379),
        tls,
        username: decoded(url.username()),
        password: url.password().and_then(decoded),
        db,
    })
}

/// Decodes `%XX` escapes (a URL's user part); invalid ones stay as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn open_tcp(t: &Target, deadline: Instant) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in (t.host.as_str(), t.port).to_socket_addrs()? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::TimedOut)))
}

#[cfg(feature = "sync-redis-tls")]
fn tls_io(cfg: &SyncConfig, t: &Target, sock: Sock) -> Result<Io> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = &cfg.tls.ca_file {
        for c in CertificateDer::pem_file_iter(ca)
            .map_err(|e| Error::Invalid(format!("{}: {e}", ca.display())))?
        {
            let c = c.map_err(|e| Error::Invalid(format!("{}: {e}", ca.display())))?;
            roots
                .add(c)
                .map_err(|e| Error::Invalid(format!("{}: {e}", ca.display())))?;
        }
    } else {
        for c in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(c);
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid(format!("tls: {e}")))?
        .with_root_certificates(roots);
    let config = match (&cfg.tls.client_cert, &cfg.tls.client_key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<std::result::Result<_, _>>())
                .map_err(|e| Error::Invalid(format!("{}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| Error::Invalid(format!("{}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| Error::Invalid(format!("tls client certificate: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(Error::Invalid(
                "tls: client_cert and client_key go together".into(),
            ));
        }
    };
    let name = ServerName::try_from(t.host.clone())
        .map_err(|e| Error::Invalid(format!("tls: {}: {e}", t.host)))?;
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|e| Error::Invalid(format!("tls: {e}")))?;
    Ok(Io::Tls(Box::new(rustls::StreamOwned::new(conn, sock))))
}

#[cfg(not(feature = "sync-redis-tls"))]
fn tls_io(_: &SyncConfig, _: &Target, _: Sock) -> Result<Io> {
    Err(Error::Invalid(
        "rediss:// needs a build with --features sync-redis-tls".into(),
    ))
}

/// A connection to the stream.
pub struct RedisRemote {
    con: Conn,
    stream: String,
    maxlen: u64,
    timeout: Duration,
    pass_deadline: Option<Instant>,
    shown: String,
    add_script: redis::Script,
    read_script: redis::Script,
}

impl RedisRemote {
    /// Connects and authenticates within the configured timeout (and
    /// before `deadline`). Fails with one line naming the server (never the
    /// password) when it refuses, does not answer in time, or rejects the
    /// credentials.
    pub fn connect(
        cfg: &SyncConfig,
        password: Option<String>,
        deadline: Option<Instant>,
    ) -> Result<RedisRemote> {
        let shown = cfg.shown_url();
        let t = target(cfg, &shown)?;
        let mut op = Instant::now() + cfg.timeout;
        if let Some(d) = deadline {
            op = op.min(d);
        }
        let fail = |what: &str, e: redis::RedisError| sync_error(&shown, what, cfg.timeout, &e);
        let tcp = open_tcp(&t, op).map_err(|e| fail("cannot connect", e.into()))?;
        let sock = Sock { tcp, deadline: op };
        let io = if t.tls {
            tls_io(cfg, &t, sock)?
        } else {
            Io::Plain(sock)
        };
        let mut con = Conn {
            io: BufReader::with_capacity(READ_BUF, io),
            parser: redis::Parser::new(),
            open: true,
            db: t.db,
        };
        let username = cfg.username.clone().or(t.username);
        if let Some(pw) = password.or(t.password) {
            let mut auth = redis::cmd("AUTH");
            if let Some(u) = &username {
                auth.arg(u);
            }
            auth.arg(pw);
            auth.query::<()>(&mut con)
                .map_err(|e| fail("cannot log in to", e))?;
        }
        if t.db != 0 {
            redis::cmd("SELECT")
                .arg(t.db)
                .query::<()>(&mut con)
                .map_err(|e| fail("cannot select the database of", e))?;
        }
        Ok(RedisRemote {
            con,
            stream: cfg.stream.clone(),
            maxlen: cfg.maxlen,
            timeout: cfg.timeout,
            pass_deadline: deadline,
            shown,
            add_script: redis::Script::new(ADD_SCRIPT),
            read_script: redis::Script::new(READ_SCRIPT),
        })
    }

    /// Arms the deadline of the next command: the timeout (plus `wait`),
    /// never past the pass's deadline.
    fn arm(&mut self, wait: Duration) {
        let mut d = Instant::now() + self.timeout + wait;
        if let Some(p) = self.pass_deadline {
            d = d.min(p);
        }
        self.con.set_deadline(d);
    }

    fn fail(&self, what: &str, e: redis::RedisError) -> Error {
        sync_error(&self.shown, what, self.timeout, &e)
    }

    fn epoch_key(&self) -> String {
        format!("{}:epoch", self.stream)
    }
}

/// One line about a failed command: server, what failed and why.
fn sync_error(shown: &str, what: &str, timeout: Duration, e: &redis::RedisError) -> Error {
    let why = if e.is_timeout() {
        format!(
            "no answer within {}s (is the server hung?)",
            timeout.as_secs()
        )
    } else if e.is_connection_refusal() {
        "connection refused (is the server running?)".to_string()
    } else {
        e.to_string().replace(['\n', '\r'], " ")
    };
    Error::Invalid(format!("{what} {shown}: {why}"))
}

impl Remote for RedisRemote {
    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.pass_deadline = deadline;
    }

    fn add(&mut self, batch: &[Outgoing]) -> Result<Added> {
        if batch.is_empty() {
            return Ok(Added::default());
        }
        self.arm(Duration::ZERO);
        let mut inv = self.add_script.key(&self.stream);
        inv.key(self.epoch_key());
        inv.arg(self.maxlen).arg(DEDUP_TTL);
        for o in batch {
            inv.key(format!("{}:id:{}", self.stream, o.id));
            inv.arg(&o.id).arg(&o.line).arg(o.skew.to_string());
        }
        let reply: Value = inv
            .invoke(&mut self.con)
            .map_err(|e| self.fail("cannot push to", e))?;
        Ok(parse_added(reply))
    }

    fn read(&mut self, after: Option<StreamId>, count: usize, cap: usize) -> Result<Batch> {
        let start = after.map_or_else(|| "-".to_string(), |a| format!("({a}"));
        // EVALSHA_RO / EVAL_RO: a user the ACL lets only read the stream
        // (`%R~`, another writer's stream) can run it.
        let call = |this: &Self, how: &str, script: &str| {
            let mut c = redis::cmd(how);
            c.arg(script)
                .arg(2)
                .arg(&this.stream)
                .arg(this.epoch_key())
                .arg(&start)
                .arg(count)
                .arg(cap);
            c
        };
        self.arm(Duration::ZERO);
        let hash = self.read_script.get_hash().to_string();
        let reply: Value = match call(self, "EVALSHA_RO", &hash).query(&mut self.con) {
            Err(e) if e.code() == Some("NOSCRIPT") => {
                self.arm(Duration::ZERO);
                call(self, "EVAL_RO", READ_SCRIPT).query(&mut self.con)
            }
            r => r,
        }
        .map_err(|e| self.fail("cannot read from", e))?;
        parse_batch(reply).ok_or_else(|| {
            Error::Invalid(format!(
                "cannot read from {}: unexpected reply shape",
                self.shown
            ))
        })
    }

    fn wait(&mut self, after: Option<StreamId>, block: Duration) -> Result<Option<StreamId>> {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1))
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(after.unwrap_or_default().to_string());
        self.arm(block);
        let reply: Value = cmd
            .query(&mut self.con)
            .map_err(|e| self.fail("cannot read from", e))?;
        Ok(first_xread_id(reply))
    }

    fn facts(&mut self) -> Result<ServerFacts> {
        self.arm(Duration::ZERO);
        let info: redis::RedisResult<String> = redis::cmd("INFO")
            .arg("server")
            .arg("persistence")
            .arg("memory")
            .query(&mut self.con);
        // A user the ACL denies INFO syncs all the same; the settings are
        // then unknown.
        let mut facts = match info {
            Ok(text) => parse_info(&text),
            Err(_) if self.con.is_open() => ServerFacts::default(),
            Err(e) => return Err(self.fail("cannot read from", e)),
        };
        // CONFIG may be refused to this user: then the save policy is unknown.
        self.arm(Duration::ZERO);
        let save: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("save")
            .query(&mut self.con);
        if let Ok(v) = save {
            facts.save = v.get(1).cloned();
        } else if !self.con.is_open() {
            return Err(Error::Invalid(format!(
                "cannot read from {}: connection lost",
                self.shown
            )));
        }
        Ok(facts)
    }
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    bytes(v).map(|b| String::from_utf8_lossy(b).into_owned())
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other).and_then(|s| s.trim().parse().ok()),
    }
}

fn stream_id(v: &Value) -> Option<StreamId> {
    bytes(v)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(StreamId::parse)
}

/// The add script's reply: `{added, entries-added, epoch}`.
fn parse_added(v: Value) -> Added {
    let Value::Array(a) = v else {
        return Added::default();
    };
    Added {
        added: a.first().and_then(int).map_or(0, |n| n.max(0) as u64),
        total: a.get(1).and_then(int).and_then(|n| u64::try_from(n).ok()),
        epoch: a.get(2).and_then(text).filter(|s| !s.is_empty()),
    }
}

/// The read script's reply (see [`READ_SCRIPT`]).
fn parse_batch(v: Value) -> Option<Batch> {
    let Value::Array(a) = v else {
        return None;
    };
    let secs = a.first().and_then(int)?;
    let micros = a.get(1).and_then(int)?;
    let server_ms = secs * 1000 + micros / 1000;
    if a.get(2).and_then(int)? == 0 {
        return Some(Batch {
            server_ms,
            info: None,
            msgs: Vec::new(),
        });
    }
    let info = StreamInfo {
        length: a.get(3).and_then(int).map_or(0, |n| n.max(0) as u64),
        first: a.get(4).and_then(stream_id),
        last_generated: a.get(5).and_then(stream_id).unwrap_or_default(),
        entries_added: a.get(6).and_then(int).and_then(|n| u64::try_from(n).ok()),
        epoch: a.get(7).and_then(text).filter(|s| !s.is_empty()),
    };
    let mut msgs = Vec::new();
    if let Some(Value::Array(list)) = a.get(8) {
        for m in list {
            let Value::Array(p) = m else { continue };
            let Some(sid) = p.first().and_then(stream_id) else {
                continue;
            };
            msgs.push(Message {
                sid,
                payload: p
                    .get(1)
                    .and_then(bytes)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default(),
                oversize: p.get(2).and_then(int).and_then(|n| u64::try_from(n).ok()),
                skew: p.get(3).and_then(int),
            });
        }
    }
    Some(Batch {
        server_ms,
        info: Some(info),
        msgs,
    })
}

/// The id of the first message in an `XREAD` reply, if any.
fn first_xread_id(v: Value) -> Option<StreamId> {
    let msgs = match v {
        Value::Array(a) => match a.into_iter().next()? {
            Value::Array(kv) => kv.into_iter().nth(1)?,
            _ => return None,
        },
        Value::Map(m) => m.into_iter().next()?.1,
        _ => return None,
    };
    let Value::Array(msgs) = msgs else {
        return None;
    };
    match msgs.first()? {
        Value::Array(p) => p.first().and_then(stream_id),
        _ => None,
    }
}

/// Reads `INFO`'s `key:value` lines.
fn parse_info(info: &str) -> ServerFacts {
    let mut f = ServerFacts::default();
    for line in info.lines() {
        let Some((k, v)) = line.trim().split_once(':') else {
            continue;
        };
        match k {
            "redis_version" | "valkey_version" => f.version = Some(v.to_string()),
            "aof_enabled" => f.aof = Some(v == "1"),
            "maxmemory_policy" => f.policy = Some(v.to_string()),
            _ => {}
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn parses_replies() {
        let reply = Value::Array(vec![
            Value::Int(1700),
            Value::Int(5000),
            Value::Int(1),
            Value::Int(2),
            bulk("8-0"),
            bulk("9-0"),
            Value::Int(7),
            bulk("1700.1"),
            Value::Array(vec![
                Value::Array(vec![bulk("8-0"), bulk("{}"), bulk(""), bulk("-3")]),
                Value::Array(vec![bulk("9-0"), bulk(""), bulk("99999999"), bulk("")]),
            ]),
        ]);
        let b = parse_batch(reply).unwrap();
        assert_eq!(b.server_ms, 1_700_005);
        assert_eq!(
            b.info,
            Some(StreamInfo {
                length: 2,
                first: Some(StreamId { ms: 8, seq: 0 }),
                last_generated: StreamId { ms: 9, seq: 0 },
                entries_added: Some(7),
                epoch: Some("1700.1".into()),
            })
        );
        assert_eq!(b.msgs[0].payload, b"{}");
        assert_eq!(b.msgs[0].skew, Some(-3));
        assert_eq!(b.msgs[1].oversize, Some(99_999_999));
        let gone = parse_batch(Value::Array(vec![
            Value::Int(1),
            Value::Int(0),
            Value::Int(0),
        ]));
        assert_eq!(gone.unwrap().info, None);
        assert_eq!(
            parse_added(Value::Array(vec![Value::Int(2), Value::Int(9), bulk("e")])),
            Added {
                added: 2,
                total: Some(9),
                epoch: Some("e".into())
            }
        );
        let xread = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![Value::Array(vec![bulk("5-1"), Value::Array(vec![])])]),
        ])]);
        assert_eq!(first_xread_id(xread), Some(StreamId { ms: 5, seq: 1 }));
        assert_eq!(first_xread_id(Value::Nil), None);
        let f = parse_info(
            "# Server\r\nredis_version:7.0.15\r\naof_enabled:0\r\nmaxmemory_policy:allkeys-lru\r\n",
        );
        assert_eq!(f.aof, Some(false));
        assert_eq!(f.policy.as_deref(), Some("allkeys-lru"));
        assert_eq!(f.version.as_deref(), Some("7.0.15"));
        assert_eq!(percent_decode("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
