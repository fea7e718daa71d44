//! Config: the `POOL_*` / `CLAUDE_INSTANCE*` environment variables and the
//! pool folder's `config.json`, read once at the edge into a plain struct.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `CLAUDE_INSTANCE` | this session's instance name | unset |
//! | `CLAUDE_INSTANCE_DOMAIN` | comma-separated domain keywords | from `config.json` |
//! | `POOL_DIR` | pool folder | see [`crate::store::paths`] |
//! | `POOL_TTL` | lifetime of entries without their own TTL | `1h` |
//! | `POOL_RELEVANCE_MIN` | minimum relevance to show others' entries | `0.3` |
//! | `POOL_COMPACT` | `0` for the full session-start summary | `1` |
//! | `POOL_REMINDER` | `0` to drop the how-to-write-a-block reminder | `1` |
//! | `POOL_AUTO` | automatic entries: `0`, or the kinds on (`commit,push`) or off (`-digest`) | all on |
//! | `POOL_CLAIMS` | the edit guard's mode: `deny-once`, `warn`, `block` or `ask` | `deny-once` |
//! | `POOL_WAKE` | `0` stops waking idle sessions through their inbox socket | `1` (or `config.json` `"wake"`) |
//!
//! From Claude Code's own environment: `CLAUDE_CODE_SESSION_ATTENDED` (`0`:
//! nobody is there to answer a question; when unset, an `sdk-*`
//! `CLAUDE_CODE_ENTRYPOINT` means the same) and `CLAUDE_CODE_MESSAGING_SOCKET`
//! (the session's inbox, recorded in its presence).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::store::entry::parse_duration;
use crate::store::fsio;
use crate::store::log::{DEFAULT_TTL, MAX_TTL};
use crate::store::paths::CONFIG_FILE;

/// Default minimum relevance score.
pub const DEFAULT_RELEVANCE_MIN: f64 = 0.3;

/// The pool folder's `config.json`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ConfigFile {
    /// `{"domains": {"A": ["pipeline", "orchestration"]}}`
    #[serde(default)]
    pub domains: BTreeMap<String, Vec<String>>,
    /// `{"instances": {"A": {"role": "builder", "domain": [...]}}}`
    #[serde(default)]
    pub instances: BTreeMap<String, InstanceConfig>,
    /// `{"auto": false}`, `{"auto": "-digest"}` or `{"auto": {"digest": false}}`:
    /// which automatic entries are posted ([`AutoKinds`]).
    #[serde(default)]
    pub auto: Option<serde_json::Value>,
    /// `{"wake": false}` stops waking idle sessions (see [`Config::wake`]).
    #[serde(default)]
    pub wake: Option<bool>,
    /// Shared scopes: `{"scopes": {"acme": ["github.com/acme/api", "github.com/acme/web"]}}`.
    /// Sessions in a listed repository see the entries of every repository
    /// of the scope; a member `"*"` makes it every repository.
    #[serde(default)]
    pub scopes: BTreeMap<String, Vec<String>>,
}

impl ConfigFile {
    /// The default scope of a session in `repo`: its own id plus the shared
    /// scopes that list it.
    pub fn scope_of(&self, repo: &crate::env::repo::Repo) -> crate::env::repo::Scope {
        crate::env::repo::Scope::of_repo(repo, self.scopes.values().map(Vec::as_slice))
    }

    /// The scope a terminal command shows: every repository with
    /// `all_repos`, the one `name` names (a shared scope's name, a repository
    /// id, or its tail such as `owner/name`), else the default of `repo`.
    pub fn scope_for(
        &self,
        repo: &crate::env::repo::Repo,
        all_repos: bool,
        name: Option<&str>,
    ) -> crate::env::repo::Scope {
        use crate::env::repo::Scope;
        match (all_repos, name) {
            (true, _) => Scope::All,
            (false, Some(n)) => Scope::named(
                n,
                self.scopes.iter().map(|(k, v)| (k.as_str(), v.as_slice())),
            ),
            (false, None) => self.scope_of(repo),
        }
    }
}

/// One instance's entry in `config.json`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct InstanceConfig {
    /// A short role shown at session start ("builder").
    #[serde(default)]
    pub role: Option<String>,
    /// Domain keywords.
    #[serde(default)]
    pub domain: Vec<String>,
}

/// Largest `config.json` read, in bytes; the rest is ignored (and fails to parse).
pub const MAX_CONFIG_FILE: u64 = 1024 * 1024;

/// Reads `config.json` from the pool folder; a missing file is empty, an
/// invalid one (or one that is not a regular file) is an error naming the file.
pub fn load_config_file(pool_dir: &Path) -> Result<ConfigFile> {
    let path = pool_dir.join(CONFIG_FILE);
    match fsio::read_regular(&path, MAX_CONFIG_FILE) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Everything the hooks and commands need to know about their settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `CLAUDE_INSTANCE`, if set (or the name `pool init` derives).
    pub instance: Option<String>,
    /// Whether `instance` was derived by `pool init` (worktree folder or
    /// branch) rather than set: a block's `INSTANCE:` then takes precedence.
    pub instance_derived: bool,
    /// Domain keywords of this instance; empty sees everything.
    pub domain: Vec<String>,
    /// Role from `config.json`.
    pub role: Option<String>,
    /// Lifetime of entries without their own TTL, in seconds.
    pub ttl: u64,
    /// Minimum relevance to show another instance's entry.
    pub relevance_min: f64,
    /// Compact session-start output.
    pub compact: bool,
    /// Append the reminder of how to write a block.
    pub reminder: bool,
    /// Which automatic entries are posted (`POOL_AUTO`, else `config.json`'s `auto`).
    pub auto: AutoKinds,
    /// What the edit guard does about another instance's claim or recent edit.
    pub claims: ClaimsMode,
    /// Whether somebody is there to answer a permission question.
    pub attended: bool,
    /// Whether handoffs and critical entries wake the sessions they concern.
    pub wake: bool,
    /// This session's inbox socket (`CLAUDE_CODE_MESSAGING_SOCKET`).
    pub messaging_socket: Option<String>,
    /// Claude Code's config folder (`CLAUDE_CONFIG_DIR` when absolute, else
    /// `~/.claude`), where it keeps its registry of live sessions.
    pub claude_config_dir: Option<std::path::PathBuf>,
}

/// The edit guard's mode (`POOL_CLAIMS`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClaimsMode {
    /// Refuse the first attempt with the claim's details; the same session's
    /// retry within a few minutes goes through.
    #[default]
    DenyOnce,
    /// Let the edit through and add a note (the model reads it only after the edit).
    Warn,
    /// Refuse every attempt while the claim is open.
    Block,
    /// Ask the user; without a user, behave as [`ClaimsMode::DenyOnce`].
    Ask,
}

impl ClaimsMode {
    /// Parses a `POOL_CLAIMS` value; `None` for an unknown one.
    pub fn parse(v: &str) -> Option<ClaimsMode> {
        match v.trim().to_ascii_lowercase().as_str() {
            "deny-once" | "deny_once" | "denyonce" | "deny" | "default" => {
                Some(ClaimsMode::DenyOnce)
            }
            "warn" => Some(ClaimsMode::Warn),
            "block" => Some(ClaimsMode::Block),
            "ask" => Some(ClaimsMode::Ask),
            _ => None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            instance: None,
            instance_derived: false,
            domain: Vec::new(),
            role: None,
            ttl: DEFAULT_TTL,
            relevance_min: DEFAULT_RELEVANCE_MIN,
            compact: true,
            reminder: true,
            auto: AutoKinds::ALL,
            claims: ClaimsMode::default(),
            attended: true,
            wake: true,
            messaging_socket: None,
            claude_config_dir: None,
        }
    }
}

/// A variable lookup, so tests can pass a map instead of the process environment.
pub trait Env {
    /// The value of `key`, if set and not empty.
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

/// Another lookup with `CLAUDE_INSTANCE` set to a name, for a session whose
/// name comes from `pool init` rather than the environment.
pub struct WithInstance<'e> {
    /// The lookup for everything else.
    pub inner: &'e dyn Env,
    /// The instance name.
    pub instance: String,
}

impl Env for WithInstance<'_> {
    fn get(&self, key: &str) -> Option<String> {
        if key == "CLAUDE_INSTANCE" {
            Some(self.instance.clone())
        } else {
            self.inner.get(key)
        }
    }
}

impl Env for BTreeMap<&str, &str> {
    fn get(&self, key: &str) -> Option<String> {
        BTreeMap::get(self, key)
            .map(|v| v.to_string())
            .filter(|v| !v.is_empty())
    }
}

impl Config {
    /// Builds settings from the environment and `config.json`. Bad values
    /// fall back to defaults; the returned warnings say which.
    pub fn from_env(env: &dyn Env, config: &ConfigFile) -> (Config, Vec<String>) {
        let mut warnings = Vec::new();
        let mut s = Config {
            instance: env.get("CLAUDE_INSTANCE").map(|v| v.trim().to_string()),
            ..Config::default()
        };
        if let Some(me) = s.instance.clone()
            && let Err(why) = crate::store::entry::check_name(&me)
        {
            // Entries under such a name would be unreadable lines.
            warnings.push(format!(
                "CLAUDE_INSTANCE ignored: {why}; entries go under \"unknown\""
            ));
            s.instance = None;
        }
        if let Some(v) = env.get("POOL_TTL") {
            match parse_duration(&v) {
                Some(t) if t > 0 => s.ttl = t.min(MAX_TTL),
                _ => warnings.push(format!("POOL_TTL={v:?} is not a duration; using 1h")),
            }
        }
        if let Some(v) = env.get("POOL_RELEVANCE_MIN") {
            match v.trim().parse::<f64>() {
                Ok(x) if (0.0..=1.0).contains(&x) => s.relevance_min = x,
                _ => warnings.push(format!(
                    "POOL_RELEVANCE_MIN={v:?} is not in 0..1; using 0.3"
                )),
            }
        }
        s.compact = env.get("POOL_COMPACT").is_none_or(|v| !is_off(&v));
        s.reminder = env.get("POOL_REMINDER").is_none_or(|v| !is_off(&v));
        match (env.get("POOL_AUTO"), &config.auto) {
            (Some(v), _) => match AutoKinds::parse(&v) {
                Ok(k) => s.auto = k,
                Err(e) => warnings.push(format!("POOL_AUTO={v:?}: {e}; automatic entries stay on")),
            },
            (None, Some(v)) => match AutoKinds::from_config(v) {
                Ok(k) => s.auto = k,
                Err(e) => warnings.push(format!("config.json: {e}; automatic entries stay on")),
            },
            (None, None) => {}
        }
        if let Some(v) = env.get("POOL_CLAIMS") {
            match ClaimsMode::parse(&v) {
                Some(m) => s.claims = m,
                None => warnings.push(format!(
                    "POOL_CLAIMS={v:?} is not deny-once, warn, block or ask; using deny-once"
                )),
            }
        }
        s.attended = match env.get("CLAUDE_CODE_SESSION_ATTENDED") {
            Some(v) => !is_off(&v),
            None => env
                .get("CLAUDE_CODE_ENTRYPOINT")
                .is_none_or(|e| !e.starts_with("sdk")),
        };
        s.wake = match env.get("POOL_WAKE") {
            Some(v) => !is_off(&v),
            None => config.wake.unwrap_or(true),
        };
        s.messaging_socket = env.get("CLAUDE_CODE_MESSAGING_SOCKET");
        s.claude_config_dir = env
            .get("CLAUDE_CONFIG_DIR")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                env.get("HOME")
                    .or_else(|| env.get("USERPROFILE"))
                    .map(|h| std::path::Path::new(&h).join(".claude"))
            })
            .filter(|p| p.is_absolute());
        if let Some(me) = s.instance.as_deref() {
            let inst = config.instances.get(me);
            s.role = inst.and_then(|i| i.role.clone());
            s.domain = match env.get("CLAUDE_INSTANCE_DOMAIN") {
                Some(v) => split_keywords(&v),
                None => inst
                    .map(|i| i.domain.clone())
                    .filter(|d| !d.is_empty())
                    .or_else(|| config.domains.get(me).cloned())
                    .unwrap_or_default(),
            };
        } else if let Some(v) = env.get("CLAUDE_INSTANCE_DOMAIN") {
            s.domain = split_keywords(&v);
        }
        s.domain.retain(|k| !k.trim().is_empty());
        (s, warnings)
    }
}

fn is_off(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "0" | "false" | "no" | "off"
    )
}

fn split_keywords(v: &str) -> Vec<String> {
    v.split(',')
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())
        .collect()
}

/// Which kinds of automatic entries are on (`POOL_AUTO`, `config.json`'s `auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoKinds {
    /// Commits → `completed`.
    pub commit: bool,
    /// Pushes → `signaling`.
    pub push: bool,
    /// Pull requests → `signaling`.
    pub pr: bool,
    /// Session digests → `signaling`.
    pub digest: bool,
}

impl Default for AutoKinds {
    fn default() -> Self {
        AutoKinds::ALL
    }
}

impl AutoKinds {
    /// Everything on.
    pub const ALL: AutoKinds = AutoKinds {
        commit: true,
        push: true,
        pr: true,
        digest: true,
    };
    /// Everything off.
    pub const NONE: AutoKinds = AutoKinds {
        commit: false,
        push: false,
        pr: false,
        digest: false,
    };

    /// Parses `POOL_AUTO`: `0`/`off` (none), `1`/`on`/`all` (all), a list of
    /// kinds to turn on (`commit,push`), or of kinds to turn off
    /// (`-digest`, `no-push`). Errors name what was not understood.
    pub fn parse(spec: &str) -> std::result::Result<AutoKinds, String> {
        let spec = spec.trim().to_ascii_lowercase();
        match spec.as_str() {
            "" | "1" | "on" | "true" | "yes" | "all" => return Ok(AutoKinds::ALL),
            "0" | "off" | "false" | "no" | "none" => return Ok(AutoKinds::NONE),
            _ => {}
        }
        let words: Vec<&str> = spec
            .split([',', ' '])
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        let negative = words
            .iter()
            .all(|w| w.starts_with('-') || w.starts_with("no-"));
        let mut k = if negative {
            AutoKinds::ALL
        } else {
            AutoKinds::NONE
        };
        for w in words {
            let name = w.trim_start_matches('-').trim_start_matches("no-");
            let on = !negative;
            match name {
                "commit" | "commits" => k.commit = on,
                "push" | "pushes" => k.push = on,
                "pr" | "prs" | "pull-request" | "pull-requests" => k.pr = on,
                "digest" | "digests" => k.digest = on,
                _ => return Err(format!("unknown kind {name:?} (commit, push, pr, digest)")),
            }
        }
        Ok(k)
    }

    /// Reads `config.json`'s `auto`: `false`/`true`, a string as for
    /// [`AutoKinds::parse`], or `{"digest": false, …}` (missing kinds stay on).
    pub fn from_config(v: &serde_json::Value) -> std::result::Result<AutoKinds, String> {
        match v {
            serde_json::Value::Bool(true) => Ok(AutoKinds::ALL),
            serde_json::Value::Bool(false) => Ok(AutoKinds::NONE),
            serde_json::Value::String(s) => AutoKinds::parse(s),
            serde_json::Value::Object(m) => {
                let mut k = AutoKinds::ALL;
                for (name, on) in m {
                    let on = on
                        .as_bool()
                        .ok_or_else(|| format!("auto.{name} must be true or false"))?;
                    match name.as_str() {
                        "commit" => k.commit = on,
                        "push" => k.push = on,
                        "pr" => k.pr = on,
                        "digest" => k.digest = on,
                        _ => return Err(format!("unknown kind {name:?} in auto")),
                    }
                }
                Ok(k)
            }
            _ => Err("auto must be true, false, a string or an object".into()),
        }
    }

    /// Whether any tool-call kind is on (the PostToolUse hook's gate).
    pub fn any_tool(&self) -> bool {
        self.commit || self.push || self.pr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_env_and_config() {
        assert_eq!(AutoKinds::parse("").unwrap(), AutoKinds::ALL);
        assert_eq!(AutoKinds::parse("0").unwrap(), AutoKinds::NONE);
        assert_eq!(AutoKinds::parse("off").unwrap(), AutoKinds::NONE);
        let k = AutoKinds::parse("commit,push").unwrap();
        assert!(k.commit && k.push && !k.pr && !k.digest);
        let k = AutoKinds::parse("-digest").unwrap();
        assert!(k.commit && k.push && k.pr && !k.digest);
        assert!(AutoKinds::parse("commits,bogus").is_err());
        let k = AutoKinds::from_config(&serde_json::json!({"digest": false})).unwrap();
        assert!(k.commit && !k.digest);
        assert_eq!(
            AutoKinds::from_config(&serde_json::json!(false)).unwrap(),
            AutoKinds::NONE
        );
        assert!(AutoKinds::from_config(&serde_json::json!(3)).is_err());
    }

    #[test]
    fn env_and_config() {
        let cfg: ConfigFile = serde_json::from_str(
            r#"{"domains": {"A": ["pipeline", "orchestration"]}, "instances": {"B": {"role": "builder", "domain": ["auth"]}}}"#,
        )
        .unwrap();
        let env: BTreeMap<&str, &str> = [
            ("CLAUDE_INSTANCE", "A"),
            ("POOL_TTL", "2h"),
            ("POOL_COMPACT", "0"),
        ]
        .into();
        let (s, w) = Config::from_env(&env, &cfg);
        assert!(w.is_empty());
        assert_eq!(s.domain, ["pipeline", "orchestration"]);
        assert_eq!(s.ttl, 7200);
        assert!(!s.compact && s.reminder);
        let env: BTreeMap<&str, &str> = [
            ("CLAUDE_INSTANCE", "B"),
            ("POOL_TTL", "later"),
            ("POOL_RELEVANCE_MIN", "7"),
        ]
        .into();
        let (s, w) = Config::from_env(&env, &cfg);
        assert_eq!(s.role.as_deref(), Some("builder"));
        assert_eq!(s.domain, ["auth"]);
        assert_eq!(s.ttl, DEFAULT_TTL);
        assert_eq!(w.len(), 2);
        let env: BTreeMap<&str, &str> = [
            ("CLAUDE_INSTANCE", "B"),
            ("CLAUDE_INSTANCE_DOMAIN", "edge, npu,"),
        ]
        .into();
        assert_eq!(Config::from_env(&env, &cfg).0.domain, ["edge", "npu"]);
    }

    #[test]
    fn a_bad_instance_name_is_ignored_with_a_warning() {
        let env: BTreeMap<&str, &str> = [("CLAUDE_INSTANCE", "A`;x")].into();
        let (s, w) = Config::from_env(&env, &ConfigFile::default());
        assert_eq!(s.instance, None);
        assert!(w[0].contains("CLAUDE_INSTANCE ignored"), "{w:?}");
    }

    #[test]
    fn claims_mode_attendance_and_wake() {
        let cfg = ConfigFile::default();
        let (s, w) = Config::from_env(&BTreeMap::new(), &cfg);
        assert!(w.is_empty());
        assert_eq!(s.claims, ClaimsMode::DenyOnce);
        assert!(s.attended && s.wake);
        let env: BTreeMap<&str, &str> = [
            ("POOL_CLAIMS", "Ask"),
            ("CLAUDE_CODE_SESSION_ATTENDED", "0"),
            ("POOL_WAKE", "off"),
        ]
        .into();
        let (s, _) = Config::from_env(&env, &cfg);
        assert_eq!(s.claims, ClaimsMode::Ask);
        assert!(!s.attended && !s.wake);
        let env: BTreeMap<&str, &str> = [("CLAUDE_CODE_ENTRYPOINT", "sdk-cli")].into();
        assert!(!Config::from_env(&env, &cfg).0.attended);
        let env: BTreeMap<&str, &str> = [("CLAUDE_CODE_ENTRYPOINT", "cli")].into();
        assert!(Config::from_env(&env, &cfg).0.attended);
        let env: BTreeMap<&str, &str> = [("POOL_CLAIMS", "loud")].into();
        let (s, w) = Config::from_env(&env, &cfg);
        assert_eq!((s.claims, w.len()), (ClaimsMode::DenyOnce, 1));
        let cfg: ConfigFile = serde_json::from_str(r#"{"wake": false}"#).unwrap();
        assert!(!Config::from_env(&BTreeMap::new(), &cfg).0.wake);
        for (v, m) in [
            ("warn", ClaimsMode::Warn),
            ("block", ClaimsMode::Block),
            ("deny-once", ClaimsMode::DenyOnce),
        ] {
            assert_eq!(ClaimsMode::parse(v), Some(m));
        }
    }
}
