//! Where files live: the pool folder and the names of the files in it, and
//! turning untrusted names (session ids, instance names) into safe file names.
//!
//! The pool folder is the user's own: `$POOL_DIR`, `$CLAUDE_CONFIG_DIR/pool`
//! or `~/.claude/pool`. A repository never chooses it (issue 22): a
//! `.claude/pool/` folder checked into a repository is not a pool, and its
//! `config.json` and log are never read ([`Locator::repository_pools`] lists
//! them for `pool doctor`). Repositories are told apart inside the one pool
//! by the id every entry carries.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::entry::sha256_hex;

/// The shared log.
pub const LOG_FILE: &str = "instance_state.jsonl";
/// The bounded error log.
pub const ERROR_LOG: &str = "errors.log";
/// Per-instance configuration (domains, roles).
pub const CONFIG_FILE: &str = "config.json";
/// Index of entries whose TTL outlives the default scan horizon.
pub const LONG_TTL_INDEX: &str = "long_ttl.idx";
/// Marker beside the long-TTL index: an append could not add its line to the
/// index (a full disk), so the index must be rebuilt (`pool gc`).
pub const INDEX_STALE_MARK: &str = "long_ttl.idx.stale";
/// Readers' copy of the long-TTL index's lines that are no plain claim, for
/// the index up to a length it names (derived; rebuilt when it does not
/// match the index).
pub const INDEX_OTHERS_CACHE: &str = "long_ttl.others";
/// Ids of transcript blocks already written from `last_assistant_message`.
pub const ALIASES: &str = "aliases.log";
/// Folder of per-session extraction cursors.
pub const SESSIONS_DIR: &str = "sessions";

/// The environment the pool location depends on, read once at the edge.
#[derive(Debug, Clone, Default)]
pub struct Locator {
    /// `$POOL_DIR`.
    pub pool_dir: Option<PathBuf>,
    /// `$CLAUDE_PROJECT_DIR`, and the hook's `cwd`: never where the pool is,
    /// only where [`Locator::repository_pools`] looks.
    pub project_dirs: Vec<PathBuf>,
    /// `$CLAUDE_CONFIG_DIR`.
    pub claude_config_dir: Option<PathBuf>,
    /// The user's home folder.
    pub home: Option<PathBuf>,
}

impl Locator {
    /// Reads `POOL_DIR`, `CLAUDE_PROJECT_DIR`, `CLAUDE_CONFIG_DIR` and the home
    /// folder; `cwd` is the hook's working directory when there is one.
    pub fn from_env(cwd: Option<&Path>) -> Self {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let mut project_dirs: Vec<PathBuf> = var("CLAUDE_PROJECT_DIR").into_iter().collect();
        match cwd {
            Some(c) => project_dirs.push(c.to_path_buf()),
            None => project_dirs.extend(std::env::current_dir().ok()),
        }
        Locator {
            pool_dir: var("POOL_DIR"),
            project_dirs,
            claude_config_dir: var("CLAUDE_CONFIG_DIR"),
            home: dirs::home_dir(),
        }
    }

    /// The pool folder: `$POOL_DIR`; else `$CLAUDE_CONFIG_DIR/pool/`; else
    /// `~/.claude/pool/`. Never a folder inside the project: what a
    /// repository ships cannot choose the pool, its settings or its
    /// entries. Fails when `$POOL_DIR` is not absolute (it would put the
    /// pool in whatever folder a session starts in, a repository's among
    /// them), and when none of these can be formed.
    pub fn pool_dir(&self) -> Result<PathBuf> {
        if let Some(p) = &self.pool_dir {
            if !p.is_absolute() {
                return Err(Error::Invalid(format!(
                    "POOL_DIR={} is not an absolute path: it would put the pool inside whatever folder a session starts in; set it to an absolute path",
                    p.display()
                )));
            }
            return Ok(absolute(p));
        }
        if let Some(c) = &self.claude_config_dir {
            return Ok(absolute(&c.join("pool")));
        }
        self.home
            .as_ref()
            .map(|h| h.join(".claude").join("pool"))
            .ok_or(Error::NoHome)
    }

    /// The `<project>/.claude/pool/` folders that exist and are not the pool
    /// folder: a repository's own pool folder, which older versions used and
    /// which is now ignored (for `pool doctor` to report).
    pub fn repository_pools(&self) -> Vec<PathBuf> {
        let pool = self.pool_dir().ok();
        let mut out: Vec<PathBuf> = Vec::new();
        for proj in &self.project_dirs {
            let p = absolute(&proj.join(REPOSITORY_POOL));
            if p.is_dir() && pool.as_ref() != Some(&p) && !out.contains(&p) {
                out.push(p);
            }
        }
        out
    }
}

/// Where older versions found a repository's own pool folder, relative to
/// the project; never read now.
pub const REPOSITORY_POOL: &str = ".claude/pool";

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Longest instance name accepted, in bytes.
pub const MAX_INSTANCE_LEN: usize = 64;

/// Checks an instance name: 1–64 ASCII letters, digits, `-`, `_`, `.`,
/// starting with a letter or a digit ([`crate::store::entry::check_name`]).
/// Returns the reason when it is refused.
pub fn validate_instance(name: &str) -> std::result::Result<(), String> {
    crate::store::entry::check_name(name)
}

/// A file name for an untrusted key (a session id): a hash, so no traversal,
/// separator or length problem can reach the file system.
pub fn safe_file_stem(untrusted: &str) -> String {
    sha256_hex(untrusted.as_bytes())[..32].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let tmp = tempfile::tempdir().unwrap();
        let proj = tmp.path().join("proj");
        let mut loc = Locator {
            pool_dir: None,
            project_dirs: vec![proj.clone()],
            claude_config_dir: Some(tmp.path().join("cfg")),
            home: Some(tmp.path().join("home")),
        };
        assert_eq!(loc.pool_dir().unwrap(), tmp.path().join("cfg/pool"));
        assert!(loc.repository_pools().is_empty());
        // A checked-in `.claude/pool/` is never the pool (issue 22).
        std::fs::create_dir_all(proj.join(".claude/pool")).unwrap();
        assert_eq!(loc.pool_dir().unwrap(), tmp.path().join("cfg/pool"));
        assert_eq!(loc.repository_pools(), [proj.join(".claude/pool")]);
        loc.pool_dir = Some(tmp.path().join("explicit"));
        assert_eq!(loc.pool_dir().unwrap(), tmp.path().join("explicit"));
        // A relative POOL_DIR would follow the session into each repository.
        loc.pool_dir = Some(".claude/pool".into());
        let e = loc.pool_dir().unwrap_err().to_string();
        assert!(e.contains("not an absolute path"), "{e}");
        let loc = Locator {
            home: Some(tmp.path().join("home")),
            ..Locator::default()
        };
        assert_eq!(
            loc.pool_dir().unwrap(),
            tmp.path().join("home/.claude/pool")
        );
    }

    #[test]
    fn instance_names() {
        assert!(validate_instance("LEGION").is_ok());
        assert!(validate_instance("dev-2.b_x").is_ok());
        assert!(validate_instance("").is_err());
        assert!(validate_instance("../x").is_err());
        assert!(validate_instance("a/b").is_err());
        assert!(validate_instance(".hidden").is_err());
        assert!(validate_instance(&"x".repeat(65)).is_err());
    }

    #[test]
    fn safe_stems() {
        let s = safe_file_stem("../../etc/passwd");
        assert_eq!(s.len(), 32);
        assert!(s.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
