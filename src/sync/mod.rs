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
//!
//! Config come from the `sync` object of `config.json`, and the
//! environment wins over it:
//!
//! | variable | `config.json` key | meaning | default |
//! | --- | --- | --- | --- |
//! | `POOL_SYNC_URL` | `url` | `redis://host:6379/0` or `rediss://…` | unset: no sync |
//! | `POOL_SYNC_STREAM` | `stream` | stream name | `claude-pool` |
//! | `POOL_SYNC_PASSWORD_FILE` | `password_file` | file holding the password | unset |
//! | `POOL_SYNC_PASSWORD` (or the variable `password_env` names) | `password_env` | the password | unset |
//! | — | `username` | ACL user | `default` |
//! | — | `maxlen` | entries the stream keeps (`MAXLEN ~`) | 100000 |
//! | `POOL_SYNC_TIMEOUT` | `timeout` | connect, read and write timeout | `2s` |
//!
//! The password is never printed: URLs are shown without their user part.

pub mod engine;
#[cfg(feature = "sync-redis")]
pub mod redis;

use std::fmt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt as _;
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
    /// when the file cannot be read; a variable that is not set is no password.
    pub fn read_password(&self, env: &dyn Env) -> Result<Option<String>> {
        match &self.password {
            PasswordSource::None => Ok(None),
            PasswordSource::Env(var) => Ok(env.get(var)),
            PasswordSource::File(p) => {
                let s = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                let line = s.lines().next().unwrap_or("").trim_end_matches('\r');
                Ok((!line.is_empty()).then(|| line.to_string()))
            }
        }
    }
}

/// Removes the user part (`user:password@`) of a URL.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let auth_end = rest.find('/').unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => format!("{}***@{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_string(),
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
    if stream.is_empty() || stream.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Invalid(format!(
            "sync stream name {stream:?} is empty or has spaces"
        )));
    }
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
    Ok(Some(SyncConfig {
        url,
        stream,
        username: file.username.clone().filter(|u| !u.is_empty()),
        password,
        maxlen: file.maxlen.unwrap_or(DEFAULT_MAXLEN).max(1),
        timeout: Duration::from_secs(timeout),
        batch,
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
}

/// Reads `sync.json`; a missing file is the default state. Fails, naming the
/// file, when it cannot be read or parsed.
pub fn load_state(pool_dir: &Path) -> Result<SyncState> {
    let path = pool_dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SyncState::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Writes `sync.json` atomically (temp file, fsync, rename).
pub fn save_state(pool_dir: &Path, state: &SyncState) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| Error::Invalid(e.to_string()))?;
    bytes.push(b'\n');
    crate::store::fsio::atomic_write(&pool_dir.join(STATE_FILE), &bytes, 0o600)
}

/// Sets `sync.next`'s mtime to `at` (epoch seconds): no hook starts a pass
/// before then. Creates the empty file (0600) if needed.
pub fn set_next(pool_dir: &Path, at: i64) -> Result<()> {
    let path = pool_dir.join(NEXT_FILE);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(at).unwrap_or(0));
    f.set_modified(when).map_err(|e| Error::io(&path, e))
}

/// For the Stop hook: when sync is configured (and built in) and no pass is
/// due to be skipped, starts `pool sync --background` detached and returns at
/// once; never opens a network connection and never waits. Costs a variable
/// lookup, a small `config.json` read and a `stat` when there is nothing to
/// do. Returns whether it started a pass; fails when the stamp cannot be
/// written or `pool` cannot be started.
pub fn maybe_sync_in_background(env: &dyn Env, pool_dir: &Path, now: i64) -> Result<bool> {
    if !cfg!(feature = "sync-redis") || !is_configured(env, pool_dir) {
        return Ok(false);
    }
    if let Ok(m) = std::fs::metadata(pool_dir.join(NEXT_FILE))
        && m.mtime() > now
    {
        return Ok(false);
    }
    set_next(pool_dir, now + HOOK_EVERY)?;
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    let pool_bin = exe.with_file_name("pool");
    // Its own process group, so the pass outlives whatever ends the hook's group.
    std::process::Command::new(&pool_bin)
        .args(["sync", "--background"])
        .env("POOL_DIR", pool_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io(&pool_bin, e))?;
    Ok(true)
}

/// For the SessionStart hook: one line when `pool sync` recently found that
/// this machine missed entries (a retention gap), else `None`. Reads only
/// `sync.json`, and nothing at all goes wrong loudly: an unreadable state is
/// no line.
pub fn session_start_line(pool_dir: &Path, now: i64) -> Option<String> {
    let state = load_state(pool_dir).ok()?;
    let gap = state.gap?;
    (now - gap.detected < GAP_SHOWN_FOR).then(|| format!("Pool sync: {}.", gap.describe(now)))
}

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
    let failing = state.last_error.as_ref().filter(|_| {
        state.last_attempt.unwrap_or(0) >= state.last_ok.unwrap_or(0) || state.last_ok.is_none()
    });
    if let Some(gap) = &state.gap {
        details.push(gap.describe(now));
    }
    let last_ok = match state.last_ok {
        Some(t) => format!("last synced {} ago", format_age(now - t)),
        None => "never synced yet".to_string(),
    };
    if let Some(err) = failing {
        return Some(Health {
            ok: false,
            message: format!("{last_ok}; the last pass failed: {err}"),
            fix: Some("check the server is up and reachable; run pool sync to retry".into()),
            details,
        });
    }
    if state.last_ok.is_none() {
        return Some(Health {
            ok: false,
            message: last_ok,
            fix: Some("run pool sync (hooks also start it after each turn)".into()),
            details,
        });
    }
    let recent_gap = state
        .gap
        .as_ref()
        .is_some_and(|g| now - g.detected < GAP_SHOWN_FOR);
    Some(Health {
        ok: !recent_gap,
        message: if recent_gap {
            format!("{last_ok}; entries were missed while offline")
        } else {
            last_ok
        },
        fix: recent_gap.then(|| {
            "nothing to repair: ask the other machines, or raise maxlen so the stream keeps more"
                .to_string()
        }),
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(redact_url("rediss://u:p@ss@h/1"), "rediss://***@h/1");
        assert_eq!(redact_url("redis://host"), "redis://host");
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
}
