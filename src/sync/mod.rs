//! Replication of the pool across machines through a Redis stream: its
//! settings, its state on disk, and the little the hooks ask of it, none of
//! which touches the network.
//!
//! The local log stays the only thing hooks read. `pool sync` copies this
//! machine's entries to a shared Redis (or Valkey) stream and appends other
//! machines' entries from it (see [`engine`] for the protocol and its
//! guarantees; `sync::redis` for the wire, behind the `sync-redis` feature).
//! What it remembers lives in the pool folder:
//!
//! | file | what |
//! | --- | --- |
//! | `sync.json` | cursors (local byte offset pushed, stream id pulled), the last outcome, a retention gap ([`SyncState`]) |
//! | `sync.seen` | ids already in the local log, `seen_at id` per line ([`engine`]) |
//! | `sync.lock` | held by the running `pool sync`, so passes never overlap |
//! | `sync.next` | its mtime is the earliest time a hook may start another pass |
//! | `sync.peer.<name>.<hash>.json` | the same as `sync.json` for each peer stream ([`peer_state_file`]) |
//!
//! Config come from the `sync` object of `config.json`, and the
//! environment wins over it:
//!
//! | variable | `config.json` key | meaning | default |
//! | --- | --- | --- | --- |
//! | `POOL_SYNC_URL` | `url` | `redis://host:6379/0` or `rediss://…` | unset: no sync |
//! | `POOL_SYNC_STREAM` | `stream` | stream name | `claude-pool` |
//! | `POOL_SYNC_PEERS` (comma-separated) | `peers` | other writers' streams, pulled, never pushed to | none |
//! | `POOL_SYNC_PASSWORD_FILE` | `password_file` | file holding the password | unset |
//! | `POOL_SYNC_PASSWORD` (or the variable `password_env` names) | `password_env` | the password | unset |
//! | `POOL_SYNC_USERNAME` | `username` | ACL user | `default` |
//! | — | `maxlen` | entries the stream keeps (`MAXLEN ~`) | 100000 |
//! | `POOL_SYNC_TIMEOUT` | `timeout` | deadline of each command (and of connecting) | `2s` |
//! | `POOL_SYNC_CA_FILE` | `ca_file` | PEM file of the CA(s) that signed the server's certificate (`rediss://`; default: the system's roots) | unset |
//! | `POOL_SYNC_CLIENT_CERT`, `POOL_SYNC_CLIENT_KEY` | `client_cert`, `client_key` | PEM certificate chain and key for mutual TLS | unset |
//!
//! The password is never printed: URLs are shown without their user part or
//! query, and any message is scrubbed of the password before it is printed,
//! logged or saved ([`SyncConfig::scrub`]). A password file must be private
//! (no access for group or others) and owned by the user.
//!
//! Every entry pulled is stamped with the stream it was read from
//! ([`crate::store::entry::Entry::via`]): the one thing about its author
//! this machine knows. With one stream per person, and an ACL that lets
//! each user write only their own (`docs/security.md, "Another machine"`), that is who
//! wrote it.

pub mod engine;
#[cfg(feature = "sync-redis")]
pub mod redis;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::env::config::Env;
use crate::error::{Error, Result};
use crate::store::entry::{format_age, parse_duration};
use crate::store::paths::CONFIG_FILE;

/// The sync state file in the pool folder.
pub const STATE_FILE: &str = "sync.json";
/// Ids already in the local log, for de-duplicating pulled entries.
pub const SEEN_FILE: &str = "sync.seen";
/// Held by a running `pool sync`.
pub const LOCK_FILE: &str = "sync.lock";
/// Its mtime is the earliest time a hook may start another `pool sync`.
pub const NEXT_FILE: &str = "sync.next";
/// What the state files of peer streams start with ([`peer_state_file`]).
pub const PEER_STATE_PREFIX: &str = "sync.peer.";
/// Stream name when none is configured.
pub const DEFAULT_STREAM: &str = "claude-pool";
/// Entries the stream keeps when `maxlen` is not configured (trimmed with `MAXLEN ~`).
pub const DEFAULT_MAXLEN: u64 = 100_000;
/// Connect, read and write timeout when none is configured, in seconds.
pub const DEFAULT_TIMEOUT: u64 = 2;
/// Entries per pushed batch and per `XREAD` when `POOL_SYNC_BATCH` is not set.
pub const DEFAULT_BATCH: usize = 200;
/// Least time between two passes started by hooks, in seconds.
pub const HOOK_EVERY: i64 = 5;
/// Least time before a hook starts another pass after one failed, in seconds.
pub const RETRY_AFTER_FAILURE: i64 = 60;
/// How long the session-start line about a retention gap is shown, in seconds.
pub const GAP_SHOWN_FOR: i64 = 86_400;
/// The environment variable that holds the password unless `password_env` names another.
pub const DEFAULT_PASSWORD_ENV: &str = "POOL_SYNC_PASSWORD";

/// The `sync` object of `config.json`, as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SyncFileConfig {
    /// `redis://[user@]host[:port][/db]` or `rediss://…`.
    #[serde(default)]
    pub url: Option<String>,
    /// Stream name.
    #[serde(default)]
    pub stream: Option<String>,
    /// ACL user name.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the password (`~/` and paths relative to the pool folder work).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Entries the stream keeps.
    #[serde(default)]
    pub maxlen: Option<u64>,
    /// Connect, read and write timeout (`2s`, `500ms` is not accepted: whole seconds).
    #[serde(default)]
    pub timeout: Option<String>,
    /// PEM file of the CA(s) to trust for `rediss://`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// PEM certificate chain presented to the server (mutual TLS).
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
    /// Other writers' streams, pulled but never pushed to: with one stream
    /// (and one ACL user) per person, what is pulled from each is that
    /// person's, whatever it says (see `docs/security.md, "Another machine"`).
    #[serde(default)]
    pub peers: Option<Vec<String>>,
}

/// TLS files for `rediss://` (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CAs to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain.
    pub client_cert: Option<PathBuf>,
    /// Its private key.
    pub client_key: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigWithSync {
    #[serde(default)]
    sync: Option<SyncFileConfig>,
}

/// Where the password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password besides one in the URL.
    None,
    /// This file's first line.
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

/// Resolved sync settings.
#[derive(Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// The server's URL as configured (may hold a password: never print it,
    /// print [`SyncConfig::shown_url`]).
    pub url: String,
    /// Stream name.
    pub stream: String,
    /// ACL user name, if not in the URL.
    pub username: Option<String>,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// Entries the stream keeps.
    pub maxlen: u64,
    /// Connect, read and write timeout.
    pub timeout: Duration,
    /// Entries per batch.
    pub batch: usize,
    /// TLS files.
    pub tls: TlsFiles,
    /// Other writers' streams, pull only (never this machine's `stream`).
    pub peers: Vec<String>,
}

impl fmt::Debug for SyncConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncConfig")
            .field("url", &self.shown_url())
            .field("stream", &self.stream)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("maxlen", &self.maxlen)
            .field("timeout", &self.timeout)
            .field("batch", &self.batch)
            .field("tls", &self.tls)
            .field("peers", &self.peers)
            .finish()
    }
}

impl SyncConfig {
    /// The URL without its user part, safe to print.
    pub fn shown_url(&self) -> String {
        redact_url(&self.url)
    }

    /// What the cursors in `sync.json` belong to: server and stream.
    pub fn target(&self) -> String {
        format!("{} {}", self.shown_url(), self.stream)
    }

    /// Reads the password from its file or variable. Fails, naming the file,
    /// when the file cannot be read, is not the user's own or can be read or
    /// written by group or others; a variable that is not set is no password.
    pub fn read_password(&self, env: &dyn Env) -> Result<Option<String>> {
        match &self.password {
            PasswordSource::None => Ok(None),
            PasswordSource::Env(var) => Ok(env.get(var)),
            PasswordSource::File(p) => {
                let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    let meta = f.metadata().map_err(|e| Error::io(p, e))?;
                    check_private(p, meta.mode(), meta.uid())?;
                }
                // Windows: the file must be this account's (its ACL, under
                // the profile, keeps others out).
                #[cfg(windows)]
                crate::store::fsio::check_safe(p, false)?;
                let s = std::io::read_to_string(f).map_err(|e| Error::io(p, e))?;
                let line = s.lines().next().unwrap_or("").trim_end_matches('\r');
                Ok((!line.is_empty()).then(|| line.to_string()))
            }
        }
    }

    /// `text` with the URL's user part and the password (from the URL, or
    /// `password`) replaced by `***`: for every message that may be printed,
    /// logged or saved.
    pub fn scrub(&self, text: &str, password: Option<&str>) -> String {
        let mut out = text.replace(&self.url, &self.shown_url());
        let from_url = url_password(&self.url);
        for pw in [password, from_url.as_deref()].into_iter().flatten() {
            if pw.len() >= 3 {
                out = out.replace(pw, "***");
            }
        }
        out
    }
}

/// Refuses a password file that is not private: owned by someone else, or
/// open to group or others in any way.
#[cfg(unix)]
fn check_private(path: &Path, mode: u32, uid: u32) -> Result<()> {
    // SAFETY: getuid(2) cannot fail.
    let me = unsafe { libc::getuid() };
    if uid != me {
        return Err(Error::Invalid(format!(
            "{}: the password file belongs to another user (uid {uid})",
            path.display()
        )));
    }
    if mode & 0o077 != 0 {
        return Err(Error::Invalid(format!(
            "{}: the password file is open to others (mode {:04o}); run chmod 600 {}",
            path.display(),
            mode & 0o7777,
            path.display()
        )));
    }
    Ok(())
}

/// The password part of a URL's user part, if any (`redis://user:PW@host`).
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let at = rest.rfind('@')?;
    let user = &rest[..at];
    let pw = user.split_once(':').map_or(user, |(_, p)| p);
    (!pw.is_empty()).then(|| pw.to_string())
}

/// Removes the user part (`user:password@`) and the query of a URL,
/// whatever the password holds (`/`, `@`, `?`) and with or without a
/// scheme: everything up to the last `@` goes.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let rest = match rest.rfind('@') {
        Some(at) => format!("***@{}", &rest[at + 1..]),
        None => rest.to_string(),
    };
    match rest.split_once('?') {
        Some((base, _)) => format!("{scheme}{base}?***"),
        None => format!("{scheme}{rest}"),
    }
}

/// Reads the `sync` object of the pool folder's `config.json`; `None` when
/// the file or the object is missing. Fails, naming the file, when it is not
/// valid JSON.
pub fn load_file_config(pool_dir: &Path) -> Result<Option<SyncFileConfig>> {
    let path = pool_dir.join(CONFIG_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice::<ConfigWithSync>(&b)
            .map(|c| c.sync)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Resolves the settings from the environment over `file`; `None` when no URL
/// is configured (sync is off). Fails on a bad `POOL_SYNC_TIMEOUT`, timeout,
/// stream name or batch size.
pub fn resolve(
    env: &dyn Env,
    file: Option<&SyncFileConfig>,
    pool_dir: &Path,
    home: Option<&Path>,
) -> Result<Option<SyncConfig>> {
    let empty = SyncFileConfig::default();
    let file = file.unwrap_or(&empty);
    let url = env
        .get("POOL_SYNC_URL")
        .or_else(|| file.url.clone())
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty());
    let Some(url) = url else {
        return Ok(None);
    };
    let stream = env
        .get("POOL_SYNC_STREAM")
        .or_else(|| file.stream.clone())
        .unwrap_or_else(|| DEFAULT_STREAM.to_string());
    let bad_name = |s: &str| s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad_name(&stream) {
        return Err(Error::Invalid(format!(
            "sync stream name {stream:?} is empty or has spaces"
        )));
    }
    let mut peers: Vec<String> = match env.get("POOL_SYNC_PEERS") {
        Some(v) => v
            .split([',', ' '])
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        None => file.peers.clone().unwrap_or_default(),
    };
    if let Some(p) = peers.iter().find(|p| bad_name(p)) {
        return Err(Error::Invalid(format!(
            "sync peer stream name {p:?} is empty or has spaces"
        )));
    }
    peers.retain(|p| *p != stream);
    peers.dedup();
    let expand = |p: PathBuf| -> PathBuf {
        match (p.strip_prefix("~"), home) {
            (Ok(rest), Some(h)) => h.join(rest),
            _ if p.is_relative() => pool_dir.join(p),
            _ => p,
        }
    };
    let password = if let Some(f) = env.get("POOL_SYNC_PASSWORD_FILE") {
        PasswordSource::File(expand(PathBuf::from(f)))
    } else if let Some(f) = &file.password_file {
        PasswordSource::File(expand(f.clone()))
    } else {
        let var = file
            .password_env
            .clone()
            .unwrap_or_else(|| DEFAULT_PASSWORD_ENV.to_string());
        if env.get(&var).is_some() {
            PasswordSource::Env(var)
        } else {
            PasswordSource::None
        }
    };
    let timeout = match env
        .get("POOL_SYNC_TIMEOUT")
        .or_else(|| file.timeout.clone())
    {
        None => DEFAULT_TIMEOUT,
        Some(t) => match parse_duration(&t) {
            Some(s) if s > 0 => s,
            _ => {
                return Err(Error::Invalid(format!(
                    "sync timeout {t:?} is not a duration like 2s"
                )));
            }
        },
    };
    let batch = match env.get("POOL_SYNC_BATCH") {
        None => DEFAULT_BATCH,
        Some(b) => match b.trim().parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(Error::Invalid(format!(
                    "POOL_SYNC_BATCH={b:?} is not a number from 1 to 10000"
                )));
            }
        },
    };
    let path_setting = |var: &str, v: &Option<PathBuf>| {
        env.get(var)
            .map(PathBuf::from)
            .or_else(|| v.clone())
            .filter(|p| !p.as_os_str().is_empty())
            .map(expand)
    };
    let tls = TlsFiles {
        ca_file: path_setting("POOL_SYNC_CA_FILE", &file.ca_file),
        client_cert: path_setting("POOL_SYNC_CLIENT_CERT", &file.client_cert),
        client_key: path_setting("POOL_SYNC_CLIENT_KEY", &file.client_key),
    };
    Ok(Some(SyncConfig {
        url,
        stream,
        username: env
            .get("POOL_SYNC_USERNAME")
            .or_else(|| file.username.clone())
            .filter(|u| !u.is_empty()),
        password,
        maxlen: file.maxlen.unwrap_or(DEFAULT_MAXLEN).max(1),
        timeout: Duration::from_secs(timeout),
        batch,
        tls,
        peers,
    }))
}

/// Whether sync is configured for `pool_dir` (a URL in the environment or in
/// `config.json`). Costs one small file read when the variable is not set.
pub fn is_configured(env: &dyn Env, pool_dir: &Path) -> bool {
    env.get("POOL_SYNC_URL").is_some()
        || load_file_config(pool_dir)
            .ok()
            .flatten()
            .and_then(|c| c.url)
            .is_some_and(|u| !u.trim().is_empty())
}

/// A server-assigned stream id, `milliseconds-sequence`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// Parses `1700000000000-3` (a bare number means sequence 0); `None` otherwise.
    pub fn parse(s: &str) -> Option<StreamId> {
        let (ms, seq) = s.trim().split_once('-').unwrap_or((s.trim(), "0"));
        Some(StreamId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Where a pass got to in the local log: the file (inode) and a byte offset
/// at a line boundary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMark {
    /// Inode of the log (a `pool gc` rewrite gives it a new one).
    pub ino: u64,
    /// Byte offset.
    pub offset: u64,
}

/// Entries this machine never received because the stream had trimmed them
/// while it was away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// How many; `None` when the count could not be known.
    pub missed: Option<u64>,
    /// When the gap was found, epoch seconds.
    pub detected: i64,
}

impl Gap {
    /// One sentence about the gap.
    pub fn describe(&self, now: i64) -> String {
        let what = match self.missed {
            Some(1) => "1 entry from other machines".to_string(),
            Some(n) => format!("{n} entries from other machines"),
            None => "some entries from other machines".to_string(),
        };
        format!(
            "this machine was offline longer than the shared stream keeps entries: \
             {what} never reached it (found {} ago)",
            format_age(now - self.detected)
        )
    }
}

/// A reset of the shared stream found by this machine, and its re-seeding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reset {
    /// When it was found, epoch seconds.
    pub detected: i64,
    /// What was found.
    pub why: String,
    /// When this machine finished re-seeding the stream; `None`: not yet.
    pub repaired: Option<i64>,
}

/// This machine's clock minus the server's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skew {
    /// Seconds (positive: this machine is ahead).
    pub secs: i64,
    /// When it was measured, epoch seconds.
    pub measured: i64,
}

/// Another machine's clock skew, as its entries said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSkew {
    /// Seconds (positive: that machine is ahead of the server).
    pub secs: i64,
    /// When an entry last said so, epoch seconds.
    pub seen: i64,
}

/// The last incoming message refused by validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// Why.
    pub why: String,
    /// When, epoch seconds.
    pub at: i64,
}

/// Describes a skew for people: `2h behind`, `5m ahead`.
pub fn describe_skew(secs: i64) -> String {
    let side = if secs < 0 { "behind" } else { "ahead of" };
    format!("{} {side} the server", format_age(secs.abs()))
}

/// What `pool sync` remembers between passes (`sync.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyncState {
    /// Server and stream the cursors belong to; another target resets them.
    pub target: String,
    /// How far this machine's entries were pushed (acknowledged by the server).
    pub push: LogMark,
    /// How far the log's ids are in `sync.seen`.
    pub seen: LogMark,
    /// Last stream id appended here (`None`: start of the stream).
    pub cursor: Option<String>,
    /// How many entries the stream had ever been given up to `cursor`, when known.
    pub added_at_cursor: Option<u64>,
    /// Last pass that completed, epoch seconds.
    pub last_ok: Option<i64>,
    /// Last pass started, epoch seconds.
    pub last_attempt: Option<i64>,
    /// Why the last pass failed, when it did (cleared by a pass that completes).
    pub last_error: Option<String>,
    /// Entries pushed (new to the stream) since the cursors were set.
    pub pushed: u64,
    /// Entries appended from the stream since the cursors were set.
    pub pulled: u64,
    /// The last retention gap found.
    pub gap: Option<Gap>,
    /// Epoch token of the stream incarnation the cursor belongs to.
    pub epoch: Option<String>,
    /// The highest `entries-added` seen on that incarnation.
    pub max_added: Option<u64>,
    /// Stream numbers (`entries-added` values) of this machine's own
    /// entries past the cursor, as inclusive ranges: not counted in gaps.
    pub own: Vec<[u64; 2]>,
    /// The last reset of the stream found, and whether it was re-seeded.
    pub reset: Option<Reset>,
    /// A re-seed is under way: the push sends received entries too.
    pub reseeding: bool,
    /// This machine's clock against the server's.
    pub skew: Option<Skew>,
    /// Other machines whose clocks are off by [`engine::SKEW_WARN`] or more.
    pub peer_skew: std::collections::BTreeMap<String, PeerSkew>,
    /// The server's persistence and eviction settings.
    pub server: Option<engine::ServerFacts>,
    /// Incoming messages refused by validation since the cursors were set.
    pub refused: u64,
    /// The last of them.
    pub last_refusal: Option<Refusal>,
}

/// Reads `sync.json`; a missing file is the default state. Fails, naming the
/// file, when it cannot be read or parsed.
pub fn load_state(pool_dir: &Path) -> Result<SyncState> {
    load_state_file(pool_dir, STATE_FILE)
}

/// The state file of a peer stream (`sync.peer.<name>.<hash>.json`): its
/// name with anything but letters, digits, `-`, `_` made `_`, and a hash of
/// it, so that two names never share a file.
pub fn peer_state_file(stream: &str) -> String {
    use sha2::{Digest, Sha256};
    let safe: String = stream
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let hash = Sha256::digest(stream.as_bytes());
    format!(
        "{PEER_STATE_PREFIX}{safe}.{:02x}{:02x}{:02x}{:02x}.json",
        hash[0], hash[1], hash[2], hash[3]
    )
}

/// Reads the state file `name` of the pool folder, like [`load_state`].
pub fn load_state_file(pool_dir: &Path, name: &str) -> Result<SyncState> {
    let path = pool_dir.join(name);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncState::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes `sync.json` atomically (temp file, fsync, rename).
pub fn save_state(pool_dir: &Path, state: &SyncState) -> Result<()> {
    save_state_file(pool_dir, STATE_FILE, state)
}

/// Writes the state file `name` of the pool folder, like [`save_state`].
pub fn save_state_file(pool_dir: &Path, name: &str, state: &SyncState) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| Error::Invalid(e.to_string()))?;
    bytes.push(b'\n');
    crate::store::fsio::atomic_write(&pool_dir.join(name), &bytes, 0o600)
}

/// Sets `sync.next`'s mtime to `at` (epoch seconds): no hook starts a pass
/// before then. Creates the empty file (0600) if needed.
pub fn set_next(pool_dir: &Path, at: i64) -> Result<()> {
    let path = pool_dir.join(NEXT_FILE);
    let f = crate::store::fsio::private_options(0o600)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at).unwrap_or(0));
    f.set_modified(when).map_err(|e| Error::io(&path, e))
}

/// For the hooks (Stop, SessionStart, UserPromptSubmit): when sync is
/// configured (and built in) and no pass was started in the last
/// [`HOOK_EVERY`] seconds (nor a failure in the last [`RETRY_AFTER_FAILURE`],
/// nor a `--watch` runs), starts `pool sync --background` detached and
/// returns at once; never opens a network connection and never waits. Costs a variable
/// lookup, a small `config.json` read and a `stat` when there is nothing to
/// do. Returns whether it started a pass; fails when the stamp cannot be
/// written or `pool` cannot be started.
pub fn maybe_sync_in_background(env: &dyn Env, pool_dir: &Path, now: i64) -> Result<bool> {
    if !cfg!(feature = "sync-redis") || !is_configured(env, pool_dir) {
        return Ok(false);
    }
    if let Ok(m) = std::fs::metadata(pool_dir.join(NEXT_FILE))
        && crate::store::fsio::mtime(&m) > now
    {
        return Ok(false);
    }
    set_next(pool_dir, now + HOOK_EVERY)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let pool_bin = exe.with_file_name(format!("pool{}", std::env::consts::EXE_SUFFIX));
    // Its own process group, so the pass outlives whatever ends the hook's group.
    crate::env::host::detach(std::process::Command::new(&pool_bin).args(["sync", "--background"]))
        .env("POOL_DIR", pool_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| Error::io(&pool_bin, e))?;
    Ok(true)
}

/// For the SessionStart hook: a line for each thing about sync this
/// session should know: a reset of the shared stream not yet repaired, a
/// retention gap found in the last day, a clock (this machine's or
/// another's) off by [`engine::SKEW_WARN`] or more. Reads only `sync.json`,
/// and nothing goes wrong loudly: an unreadable state is no line.
pub fn session_start_line(pool_dir: &Path, now: i64) -> Option<String> {
    let state = load_state(pool_dir).ok()?;
    let lines = notices(&state, now);
    (!lines.is_empty()).then(|| {
        lines
            .iter()
            .map(|l| format!("Pool sync: {l}."))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// The things about sync worth a warning, one sentence each (no final stop).
fn notices(state: &SyncState, now: i64) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(r) = &state.reset
        && r.repaired.is_none()
    {
        out.push(format!(
            "{} ({} ago); this machine is re-seeding it from its log, and entries no \
             surviving machine held are lost",
            r.why,
            format_age(now - r.detected)
        ));
    }
    if let Some(gap) = &state.gap
        && now - gap.detected < GAP_SHOWN_FOR
    {
        out.push(gap.describe(now));
    }
    if let Some(k) = &state.skew
        && k.secs.abs() >= engine::SKEW_WARN
        && now - k.measured < GAP_SHOWN_FOR
    {
        out.push(format!(
            "this machine's clock is {}; entries are ordered and expired by when each \
             machine received them, but their times shown elsewhere are off",
            describe_skew(k.secs)
        ));
    }
    for (who, k) in &state.peer_skew {
        if now - k.seen < GAP_SHOWN_FOR {
            out.push(format!(
                "the clock of {who} is {} (its entries' times are off)",
                describe_skew(k.secs)
            ));
        }
    }
    out
}

/// Who holds `sync.lock`, as its holder wrote it: pid, start time, mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Process id.
    pub pid: u32,
    /// When it took the lock, epoch seconds.
    pub since: i64,
    /// `pass` or `watch`.
    pub mode: String,
}

/// Writes who holds `sync.lock` into it (the caller holds the lock).
/// Fails when the file cannot be written.
pub fn write_lock_holder(lock: &std::fs::File, path: &Path, now: i64, mode: &str) -> Result<()> {
    use std::io::Write;
    let mut f = lock;
    f.set_len(0)
        .and_then(|_| f.write_all(format!("{} {now} {mode}\n", std::process::id()).as_bytes()))
        .map_err(|e| Error::io(path, e))
}

/// Who holds `sync.lock` now; `None` when nobody does (or it cannot be told).
pub fn lock_holder(pool_dir: &Path) -> Option<LockHolder> {
    let path = pool_dir.join(LOCK_FILE);
    let f = std::fs::File::open(&path).ok()?;
    match f.try_lock_shared() {
        Ok(()) => return None,
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(_) => return None,
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let mut it = text.split_whitespace();
    Some(LockHolder {
        pid: it.next()?.parse().ok()?,
        since: it.next()?.parse().ok()?,
        mode: it.next().unwrap_or("pass").to_string(),
    })
}

/// Longest time a one-shot pass runs before it stops (progress is kept), in seconds.
pub const PASS_DEADLINE: u64 = 30;
/// A pass holding `sync.lock` longer than this is reported as stuck, in seconds.
pub const STALE_LOCK: i64 = 2 * PASS_DEADLINE as i64 + 10;

/// A line of `pool doctor` about sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// `false`: works but deserves a look.
    pub ok: bool,
    /// What was found.
    pub message: String,
    /// How to fix it, when not ok.
    pub fix: Option<String>,
    /// Further lines.
    pub details: Vec<String>,
}

/// What `pool doctor` says about sync in `pool_dir` at `now`; `None` when
/// sync is not configured. Reads the configuration and `sync.json`, never
/// the network.
pub fn health(env: &dyn Env, pool_dir: &Path, now: i64) -> Option<Health> {
    let file = match load_file_config(pool_dir) {
        Ok(f) => f,
        Err(_) => return None, // the config check reports an invalid config.json
    };
    let home = dirs::home_dir();
    let cfg = match resolve(env, file.as_ref(), pool_dir, home.as_deref()) {
        Ok(Some(c)) => c,
        Ok(None) => return None,
        Err(e) => {
            return Some(Health {
                ok: false,
                message: e.to_string(),
                fix: Some("fix the sync settings in config.json or POOL_SYNC_*".into()),
                details: Vec::new(),
            });
        }
    };
    let mut details = vec![format!("server {} stream {}", cfg.shown_url(), cfg.stream)];
    if !cfg!(feature = "sync-redis") {
        return Some(Health {
            ok: false,
            message: "sync is configured but this build has no sync-redis feature".into(),
            fix: Some(
                "cargo install --locked --features sync-redis --path . (sync-redis-tls for rediss://)"
                    .into(),
            ),
            details,
        });
    }
    if let Err(e) = cfg.read_password(env) {
        return Some(Health {
            ok: false,
            message: format!("cannot read the sync password: {e}"),
            fix: Some("create the password file (mode 0600) or fix password_file".into()),
            details,
        });
    }
    let state = match load_state(pool_dir) {
        Ok(s) => s,
        Err(e) => {
            return Some(Health {
                ok: false,
                message: e.to_string(),
                fix: Some(format!(
                    "remove {} (the next pass starts over; entries are de-duplicated)",
                    pool_dir.join(STATE_FILE).display()
                )),
                details,
            });
        }
    };
    details.push(format!(
        "pushed {} entries, pulled {}; stream cursor {}",
        state.pushed,
        state.pulled,
        state.cursor.as_deref().unwrap_or("(start)")
    ));
    if let Some(f) = &state.server {
        details.push(format!(
            "server {}: appendonly {}, save {:?}, maxmemory-policy {}",
            f.version.as_deref().unwrap_or("?"),
            f.aof.map_or("?", |a| if a { "yes" } else { "no" }),
            f.save.as_deref().unwrap_or("(not readable)"),
            f.policy.as_deref().unwrap_or("?")
        ));
    }
    if let Some(k) = &state.skew {
        details.push(format!("this machine's clock is {}", describe_skew(k.secs)));
    }
    if let Some(r) = &state.reset
        && let Some(at) = r.repaired
    {
        details.push(format!(
            "the stream was reset {} ago ({}); this machine re-seeded it {} ago",
            format_age(now - r.detected),
            r.why,
            format_age(now - at)
        ));
    }
    if state.refused > 0
        && let Some(r) = &state.last_refusal
    {
        details.push(format!(
            "{} incoming messages refused; the last, {} ago: {}",
            state.refused,
            format_age(now - r.at),
            r.why
        ));
    }
    let mut problems: Vec<String> = Vec::new();
    let mut fixes: Vec<String> = Vec::new();
    let failing = state.last_error.as_ref().filter(|_| {
        state.last_attempt.unwrap_or(0) >= state.last_ok.unwrap_or(0) || state.last_ok.is_none()
    });
    let last_ok = match state.last_ok {
        Some(t) => format!("last synced {} ago", format_age(now - t)),
        None => "never synced yet".to_string(),
    };
    if let Some(err) = failing {
        problems.push(format!("the last pass failed: {err}"));
        fixes.push("check the server is up and reachable; run pool sync to retry".into());
    } else if state.last_ok.is_none() {
        problems.push("no pass has completed".into());
        fixes.push("run pool sync (hooks also start it)".into());
    }
    if let Some(h) = lock_holder(pool_dir)
        && h.mode != "watch"
        && now - h.since > STALE_LOCK
    {
        problems.push(format!(
            "a pool sync pass (pid {}) has held sync.lock for {}",
            h.pid,
            format_age(now - h.since)
        ));
        fixes.push(format!("kill {} (no pass should take this long)", h.pid));
    }
    if let Some(r) = &state.reset
        && r.repaired.is_none()
    {
        problems.push(format!(
            "the shared stream was reset {} ago and is not re-seeded yet: {}",
            format_age(now - r.detected),
            r.why
        ));
        fixes.push("run pool sync: it re-seeds the stream from this machine's log".into());
    }
    if state
        .gap
        .as_ref()
        .is_some_and(|g| now - g.detected < GAP_SHOWN_FOR)
    {
        if let Some(g) = &state.gap {
            details.push(g.describe(now));
        }
        problems.push("entries were missed while offline".into());
        fixes.push(
            "nothing to repair here: ask the other machines, or raise maxlen so the stream keeps more"
                .into(),
        );
    } else if let Some(g) = &state.gap {
        details.push(g.describe(now));
    }
    if let Some(f) = &state.server {
        let p = f.problems();
        if !p.is_empty() {
            problems.push(format!("the server can lose entries: {}", p.join("; ")));
            fixes.push(
                "on the server: CONFIG SET appendonly yes, CONFIG SET maxmemory-policy noeviction (and CONFIG REWRITE)"
                    .into(),
            );
        }
    }
    for peer in &cfg.peers {
        match load_state_file(pool_dir, &peer_state_file(peer)) {
            Ok(p) => {
                details.push(format!(
                    "peer stream {peer}: pulled {}; {}",
                    p.pulled,
                    p.last_ok
                        .map_or("never synced yet".to_string(), |t| format!(
                            "last synced {} ago",
                            format_age(now - t)
                        ))
                ));
                if let Some(err) = p
                    .last_error
                    .as_ref()
                    .filter(|_| p.last_ok.is_none_or(|ok| p.last_attempt.unwrap_or(0) >= ok))
                {
                    problems.push(format!("pulling peer stream {peer} failed: {err}"));
                    fixes.push(format!(
                        "check that this user may read {peer} (ACL %R~) and that it is spelled as its writer's stream"
                    ));
                }
                if let Some(g) = p.gap.as_ref().filter(|g| now - g.detected < GAP_SHOWN_FOR) {
                    problems.push(format!("peer stream {peer}: {}", g.describe(now)));
                    fixes.push(format!("ask the writer of {peer}, or raise its maxlen"));
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if let Some(k) = &state.skew
        && k.secs.abs() >= engine::SKEW_WARN
    {
        problems.push(format!("this machine's clock is {}", describe_skew(k.secs)));
        fixes.push("set the clock (enable NTP: timedatectl set-ntp true)".into());
    }
    for (who, k) in &state.peer_skew {
        if now - k.seen < GAP_SHOWN_FOR {
            problems.push(format!("the clock of {who} is {}", describe_skew(k.secs)));
            fixes.push(format!("set the clock of {who} (NTP)"));
        }
    }
    if state
        .last_refusal
        .as_ref()
        .is_some_and(|r| now - r.at < GAP_SHOWN_FOR)
    {
        problems.push("incoming entries were refused (see below)".into());
        fixes.push("find the machine that writes them; pool sync refuses them every time".into());
    }
    let ok = problems.is_empty();
    let message = if ok {
        last_ok
    } else {
        format!("{last_ok}; {}", problems.join("; "))
    };
    Some(Health {
        ok,
        message,
        fix: (!ok).then(|| fixes.join("; ")),
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[rstest::rstest]
    #[case("redis://:secret@host:6379/0", "redis://***@host:6379/0")]
    #[case("rediss://u:p@ss@h/1", "rediss://***@h/1")]
    #[case("redis://host", "redis://host")]
    #[case("redis://:se/cret@host:6379/0", "redis://***@host:6379/0")]
    #[case("redis://user:a/b/c@host", "redis://***@host")]
    #[case(":secret@host:6379", "***@host:6379")]
    #[case("user:se/cret@host:6379/2", "***@host:6379/2")]
    #[case("redis:/:secret@host", "***@host")]
    #[case("redis://host:6379/0?password=secret", "redis://host:6379/0?***")]
    #[case("redis://u:s?e#c@host", "redis://***@host")]
    #[case("host:6379", "host:6379")]
    fn urls_are_redacted(#[case] url: &str, #[case] shown: &str) {
        assert_eq!(redact_url(url), shown);
        let c = SyncConfig {
            url: url.into(),
            stream: "s".into(),
            username: None,
            password: PasswordSource::None,
            maxlen: 1,
            timeout: Duration::from_secs(1),
            batch: 1,
            tls: TlsFiles::default(),
            peers: Vec::new(),
        };
        for text in [
            format!("cannot connect {url}: refused"),
            format!("{c:?}"),
            c.target(),
            c.scrub(&format!("error at {url} with secret"), Some("secret")),
        ] {
            let text = if text.contains("error at") {
                text
            } else {
                c.scrub(&text, None)
            };
            for pw in ["secret", "se/cret", "a/b/c", "p@ss", "s?e#c"] {
                if url.contains(pw) {
                    assert!(!text.contains(pw), "{text}");
                }
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_password_file_must_be_private() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("pw");
        std::fs::write(&p, "hunter2\n").unwrap();
        let c = SyncConfig {
            url: "redis://h".into(),
            stream: "s".into(),
            username: None,
            password: PasswordSource::File(p.clone()),
            maxlen: 1,
            timeout: Duration::from_secs(1),
            batch: 1,
            tls: TlsFiles::default(),
            peers: Vec::new(),
        };
        let env: BTreeMap<&str, &str> = BTreeMap::new();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = c.read_password(&env).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("hunter2"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(c.read_password(&env).unwrap().as_deref(), Some("hunter2"));
        assert!(check_private(&p, 0o600, u32::MAX - 1).is_err());
    }

    #[test]
    fn env_wins_over_the_file_and_no_url_is_off() {
        let dir = Path::new("/pool");
        let file = SyncFileConfig {
            url: Some("redis://a:6379".into()),
            stream: Some("s".into()),
            password_file: Some("pw".into()),
            ..SyncFileConfig::default()
        };
        let env: BTreeMap<&str, &str> = BTreeMap::new();
        let c = resolve(&env, Some(&file), dir, None).unwrap().unwrap();
        assert_eq!(c.url, "redis://a:6379");
        assert_eq!(c.stream, "s");
        assert_eq!(c.password, PasswordSource::File("/pool/pw".into()));
        assert_eq!(c.timeout, Duration::from_secs(2));
        let env: BTreeMap<&str, &str> = [
            ("POOL_SYNC_URL", "redis://b"),
            ("POOL_SYNC_PASSWORD", "x"),
            ("POOL_SYNC_TIMEOUT", "5s"),
        ]
        .into();
        let c = resolve(&env, None, dir, None).unwrap().unwrap();
        assert_eq!(c.url, "redis://b");
        assert_eq!(c.stream, DEFAULT_STREAM);
        assert_eq!(c.password, PasswordSource::Env("POOL_SYNC_PASSWORD".into()));
        assert_eq!(c.read_password(&env).unwrap().as_deref(), Some("x"));
        assert_eq!(c.timeout, Duration::from_secs(5));
        let env: BTreeMap<&str, &str> = [("POOL_SYNC_URL", "redis://:hunter2@h")].into();
        let c = resolve(&env, None, dir, None).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!c.target().contains("hunter2"));
        let env: BTreeMap<&str, &str> = BTreeMap::new();
        assert!(resolve(&env, None, dir, None).unwrap().is_none());
        let env: BTreeMap<&str, &str> =
            [("POOL_SYNC_URL", "redis://b"), ("POOL_SYNC_TIMEOUT", "0")].into();
        assert!(resolve(&env, None, dir, None).is_err());
    }

    #[test]
    fn peer_streams_are_resolved_and_kept_apart() {
        let dir = Path::new("/pool");
        let file = SyncFileConfig {
            url: Some("redis://a".into()),
            stream: Some("team:alice".into()),
            peers: Some(vec!["team:bob".into(), "team:alice".into()]),
            ..SyncFileConfig::default()
        };
        let env: BTreeMap<&str, &str> = BTreeMap::new();
        let c = resolve(&env, Some(&file), dir, None).unwrap().unwrap();
        assert_eq!(c.peers, ["team:bob"], "never its own stream");
        let env: BTreeMap<&str, &str> = [("POOL_SYNC_PEERS", "team:carol, team:dave")].into();
        let c = resolve(&env, Some(&file), dir, None).unwrap().unwrap();
        assert_eq!(c.peers, ["team:carol", "team:dave"]);
        let bad = SyncFileConfig {
            peers: Some(vec!["a b".into()]),
            ..file.clone()
        };
        let env: BTreeMap<&str, &str> = BTreeMap::new();
        assert!(resolve(&env, Some(&bad), dir, None).is_err());
        let (a, b) = (peer_state_file("team:bob"), peer_state_file("team_bob"));
        assert!(
            a.starts_with("sync.peer.team_bob.") && a.ends_with(".json"),
            "{a}"
        );
        assert_ne!(a, b);
        assert_ne!(peer_state_file("../../x"), "sync.peer.../../x.json");
        assert!(!peer_state_file("../../x").contains('/'));
    }

    #[test]
    fn doctor_reports_a_peer_stream_that_fails() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join(CONFIG_FILE),
            r#"{"sync": {"url": "redis://h", "stream": "team:a", "peers": ["team:b"]}}"#,
        )
        .unwrap();
        let ok = SyncState {
            last_ok: Some(90),
            last_attempt: Some(90),
            ..SyncState::default()
        };
        save_state(tmp.path(), &ok).unwrap();
        let failing = SyncState {
            last_error: Some("NoPerm".into()),
            last_attempt: Some(95),
            ..SyncState::default()
        };
        save_state_file(tmp.path(), &peer_state_file("team:b"), &failing).unwrap();
        let env: BTreeMap<&str, &str> = BTreeMap::new();
        let h = health(&env, tmp.path(), 100).unwrap();
        if cfg!(feature = "sync-redis") {
            assert!(!h.ok, "{h:?}");
            assert!(
                h.message
                    .contains("pulling peer stream team:b failed: NoPerm"),
                "{h:?}"
            );
        }
    }

    #[test]
    fn stream_ids_order_and_print() {
        let a = StreamId::parse("1700000000000-3").unwrap();
        let b = StreamId::parse("1700000000001-0").unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "1700000000000-3");
        assert_eq!(StreamId::parse("5"), Some(StreamId { ms: 5, seq: 0 }));
        assert_eq!(StreamId::parse("x-1"), None);
    }

    #[test]
    fn the_gap_line_shows_for_a_day() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(session_start_line(tmp.path(), 100), None);
        let state = SyncState {
            gap: Some(Gap {
                missed: Some(42),
                detected: 1000,
            }),
            ..SyncState::default()
        };
        save_state(tmp.path(), &state).unwrap();
        let line = session_start_line(tmp.path(), 1000 + 7200).unwrap();
        assert!(line.contains("42 entries from other machines"), "{line}");
        assert!(line.contains("2h ago"), "{line}");
        assert_eq!(session_start_line(tmp.path(), 1000 + GAP_SHOWN_FOR), None);
    }

    #[test]
    fn a_pending_reset_and_skewed_clocks_are_told_until_fixed() {
        let mut state = SyncState {
            reset: Some(Reset {
                detected: 1000,
                why: "the shared stream is gone".into(),
                repaired: None,
            }),
            skew: Some(Skew {
                secs: -7200,
                measured: 1000,
            }),
            ..SyncState::default()
        };
        state.peer_skew.insert(
            "laptop".into(),
            PeerSkew {
                secs: 600,
                seen: 1000,
            },
        );
        let n = notices(&state, 1060);
        assert_eq!(n.len(), 3, "{n:?}");
        assert!(
            n[0].starts_with("the shared stream is gone (1m ago)"),
            "{n:?}"
        );
        assert!(n[1].contains("2h behind the server"), "{n:?}");
        assert!(
            n[2].contains("the clock of laptop is 10m ahead of the server"),
            "{n:?}"
        );
        state.reset.as_mut().unwrap().repaired = Some(1050);
        state.skew.as_mut().unwrap().secs = 1;
        state.peer_skew.clear();
        assert!(notices(&state, 1060).is_empty());
    }
}
