//! What a repository ships that claude-pool ignores: a `.claude/pool/`
//! folder (a pool folder older versions used, with its `config.json` and
//! log) and keys of `.claude/pool.json` besides the ones `pool init` writes.
//!
//! A repository's files never configure the pool (issue 22): they cannot
//! name a server, a credential, a command, a binary or a file outside the
//! repository, and a log checked into one is not other sessions' reports.
//! This module only finds such files so `pool doctor` can say what is
//! ignored; nothing here feeds a setting. Every read is bounded and refuses
//! anything but a regular file ([`crate::env::repo::read_regular`]).

use std::path::{Path, PathBuf};

use crate::env::repo::{INIT_FILE, MAX_INIT_FILE, read_regular};
use crate::store::paths::{CONFIG_FILE, LOG_FILE, REPOSITORY_POOL};

/// Largest checked-in `config.json` read to list its keys (1 MiB).
pub const MAX_SHIPPED_CONFIG: u64 = 1024 * 1024;
/// Most keys listed for one file.
pub const MAX_KEYS: usize = 32;
/// The keys of [`INIT_FILE`] that `pool init` writes; only `instance_from` is read.
pub const INIT_KEYS: &[&str] = &["claude-pool", "_comment", "instance_from"];

/// One file a repository ships that is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The file or folder.
    pub path: PathBuf,
    /// The keys it sets that are ignored (`sync.url`, `scopes`); empty for
    /// a folder or a log.
    pub keys: Vec<String>,
    /// What it is, in a few words.
    pub what: &'static str,
}

impl Ignored {
    /// One line for `pool doctor`.
    pub fn describe(&self) -> String {
        if self.keys.is_empty() {
            format!("{}: {}", self.path.display(), self.what)
        } else {
            format!(
                "{}: {}; ignored keys: {}",
                self.path.display(),
                self.what,
                self.keys.join(", ")
            )
        }
    }
}

/// The keys a JSON object sets, with the members of a `sync` object spelt
/// out (`sync.url`, `sync.password_env`), at most [`MAX_KEYS`]; `skip`
/// names top-level keys left out. `None` when the bytes are not a JSON
/// object.
pub fn keys_of(bytes: &[u8], skip: &[&str]) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let obj = v.as_object()?;
    let mut out = Vec::new();
    for (k, v) in obj {
        if skip.contains(&k.as_str()) {
            continue;
        }
        match v.as_object() {
            Some(inner) if k == "sync" && !inner.is_empty() => {
                out.extend(inner.keys().map(|i| format!("sync.{i}")));
            }
            _ => out.push(k.clone()),
        }
    }
    out.truncate(MAX_KEYS);
    Some(out)
}

/// What the repository rooted at `root` ships that is ignored, plus the
/// `.claude/pool/` folders in `more` (other project folders the session
/// names). `pool_dir`, the user's own pool folder, is never reported, even
/// when the user pointed `POOL_DIR` into the repository.
pub fn scan(root: &Path, more: &[PathBuf], pool_dir: Option<&Path>) -> Vec<Ignored> {
    let mut out = Vec::new();
    let mut folders = vec![root.join(REPOSITORY_POOL)];
    folders.extend(more.iter().cloned());
    let mut done: Vec<PathBuf> = Vec::new();
    for dir in folders {
        if !dir.is_dir() || pool_dir == Some(dir.as_path()) || done.contains(&dir) {
            continue;
        }
        done.push(dir.clone());
        let config = dir.join(CONFIG_FILE);
        match read_regular(&config, MAX_SHIPPED_CONFIG).map(|b| keys_of(&b, &[])) {
            Some(Some(keys)) => out.push(Ignored {
                path: config,
                keys,
                what: "a repository's pool configuration, never read (sync, commands and paths come only from your own pool folder and environment)",
            }),
            Some(None) => out.push(Ignored {
                path: config,
                keys: Vec::new(),
                what: "a repository's pool configuration (not a JSON object), never read",
            }),
            None => {}
        }
        let log = dir.join(LOG_FILE);
        if log.exists() {
            out.push(Ignored {
                path: log,
                keys: Vec::new(),
                what: "a log checked into the repository, never read: its entries are not other sessions' reports",
            });
        }
        if out.iter().all(|i| !i.path.starts_with(&dir)) {
            out.push(Ignored {
                path: dir,
                keys: Vec::new(),
                what: "a repository-local pool folder, ignored: the pool is your own folder, not this one",
            });
        }
    }
    let init = root.join(INIT_FILE);
    if let Some(bytes) = read_regular(&init, MAX_INIT_FILE)
        && let Some(keys) = keys_of(&bytes, INIT_KEYS)
        && !keys.is_empty()
    {
        out.push(Ignored {
            path: init,
            keys,
            what: "sets more than pool init writes (only instance_from is read)",
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_spell_out_sync() {
        let k = keys_of(
            br#"{"sync":{"url":"redis://x","password_env":"K"},"scopes":{}}"#,
            &[],
        )
        .unwrap();
        assert_eq!(k, ["sync.url", "sync.password_env", "scopes"]);
        let k = keys_of(br#"{"claude-pool":1,"instance_from":"branch"}"#, INIT_KEYS).unwrap();
        assert!(k.is_empty());
        assert_eq!(keys_of(b"[1]", &[]), None);
        assert_eq!(keys_of(b"nope", &[]), None);
    }

    #[test]
    fn a_shipped_pool_folder_is_reported_and_the_users_own_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join(".claude/pool")).unwrap();
        std::fs::write(
            root.join(".claude/pool.json"),
            r#"{"claude-pool":1,"sync":{"url":"redis://a"}}"#,
        )
        .unwrap();
        std::fs::write(
            root.join(".claude/pool/config.json"),
            r#"{"sync":{"url":"redis://a","password_file":"~/.git-credentials"}}"#,
        )
        .unwrap();
        std::fs::write(root.join(".claude/pool/instance_state.jsonl"), "{}\n").unwrap();
        let found = scan(root, &[], None);
        let lines: Vec<String> = found.iter().map(Ignored::describe).collect();
        assert_eq!(found.len(), 3, "{lines:?}");
        assert!(lines[0].contains("config.json") && lines[0].contains("sync.password_file"));
        assert!(lines[1].contains("instance_state.jsonl"));
        assert!(lines[2].contains("pool.json") && lines[2].contains("sync.url"));
        let own = root.join(".claude/pool");
        let found = scan(root, std::slice::from_ref(&own), Some(&own));
        assert_eq!(
            found.len(),
            1,
            "only pool.json: the folder is the user's POOL_DIR"
        );
    }
}
