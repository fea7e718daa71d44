//! Codex's hook configuration: where it lives (`$CODEX_HOME`, else
//! `~/.codex`), the hooks we register in its `hooks.json` (the same JSON shape
//! as Claude Code's settings, so the merge of [`super::settings_file`] edits
//! it), and the trust Codex asks for before it runs a hook.
//!
//! Trust (Codex 0.171): a hook from a user's `hooks.json` runs only when
//! `config.toml` holds `[hooks.state."<hooks.json path>:<event>:<group>:<handler>"]`
//! with `trusted_hash` equal to the hook's current hash; otherwise the TUI
//! asks the user to review it and `codex exec` silently skips it. The hash
//! is `sha256:` + hex SHA-256 of the canonical JSON (keys sorted, no spaces)
//! of `{"event_name": <snake_case event>, "matcher": <if any>, "hooks":
//! [<the handler, normalised>]}`, where the handler keeps `type`, `command`,
//! `timeout` (600 when unset; `SessionEnd`: 1 when unset, at most 3),
//! `async` and `statusMessage` (when set). Checked against the hashes the
//! real binary reports (`codex app-server`, `hooks/list`) in the tests below
//! and in the end-to-end test. A hash that stops matching in a later Codex
//! only means Codex asks the user again: nothing runs untrusted.
//!
//! The `config.toml` edit goes through `toml_edit`, which keeps the user's
//! formatting, comments and key order; only entries whose hash is one of
//! ours are ever removed.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::settings_file::{HookSpec, our_handler};
use crate::error::{Error, Result};

/// The argument our hook commands carry in Codex's configuration, so the
/// shared binaries know which agent runs them.
pub const AGENT_ARGS: &str = "--agent codex";

/// Every hook we register in Codex's `hooks.json`, in the order added.
/// `apply_patch` is Codex's edit tool; Codex also matches it as `Edit` and
/// `Write`, which the guard reads like Claude Code's.
pub const CODEX_HOOKS: &[HookSpec] = &[
    HookSpec {
        event: "SessionStart",
        binary: "pool-session-start",
        matcher: None,
        timeout: 10,
    },
    HookSpec {
        event: "Stop",
        binary: "pool-stop",
        matcher: None,
        timeout: 10,
    },
    HookSpec {
        event: "UserPromptSubmit",
        binary: "pool-prompt",
        matcher: None,
        timeout: 10,
    },
    HookSpec {
        event: "PreToolUse",
        binary: "pool-guard",
        matcher: Some("apply_patch|Edit|Write|Bash"),
        timeout: 10,
    },
    // Codex names its shell tool `Bash` in hook inputs, as Claude Code does;
    // the call's output is a plain string there (see `adapter::normalize`).
    HookSpec {
        event: "PostToolUse",
        binary: "pool-post-tool",
        matcher: Some("Bash"),
        timeout: 10,
    },
    HookSpec {
        event: "SessionEnd",
        binary: "pool-stop",
        matcher: None,
        // Codex allows a SessionEnd hook at most 3 seconds.
        timeout: SESSION_END_MAX_TIMEOUT,
    },
];

/// What the Codex plugin's `hooks/codex.json` must hold: [`CODEX_HOOKS`]
/// run through the plugin's launcher under `${PLUGIN_ROOT}`, with
/// [`AGENT_ARGS`]. `.codex-plugin/plugin.json` names this file, so Codex does
/// not also load `hooks/hooks.json` (Claude Code's), which it would by default.
pub fn plugin_hooks() -> Value {
    let mut hooks = serde_json::Map::new();
    for spec in CODEX_HOOKS {
        let mut h = serde_json::Map::new();
        h.insert("type".into(), "command".into());
        h.insert(
            "command".into(),
            format!(
                "\"${{PLUGIN_ROOT}}/{}\" {} {AGENT_ARGS}",
                super::settings_file::LAUNCHER,
                spec.binary
            )
            .into(),
        );
        h.insert("timeout".into(), spec.timeout.into());
        let mut g = serde_json::Map::new();
        if let Some(m) = spec.matcher {
            g.insert("matcher".into(), m.into());
        }
        g.insert("hooks".into(), Value::Array(vec![Value::Object(h)]));
        if let Value::Array(a) = hooks
            .entry(spec.event)
            .or_insert_with(|| Value::Array(Vec::new()))
        {
            a.push(Value::Object(g));
        }
    }
    let mut root = serde_json::Map::new();
    root.insert(
        "description".into(),
        "claude-pool for Codex: share what parallel sessions completed, claimed, are blocked on or discovered"
            .into(),
    );
    root.insert("hooks".into(), Value::Object(hooks));
    Value::Object(root)
}

/// The Codex plugin's hooks file, relative to the plugin root.
pub const PLUGIN_HOOKS_FILE: &str = "hooks/codex.json";

/// Longest timeout Codex allows a `SessionEnd` hook, in seconds.
const SESSION_END_MAX_TIMEOUT: u64 = 3;
/// Codex's timeout for a `SessionEnd` hook that sets none, in seconds.
const SESSION_END_DEFAULT_TIMEOUT: u64 = 1;
/// Codex's timeout for other hooks that set none, in seconds.
const DEFAULT_TIMEOUT: u64 = 600;

/// Codex's folder: `$CODEX_HOME` when set and non-empty (made absolute),
/// else `<home>/.codex`. Fails when neither can be formed.
pub fn codex_home(codex_home: Option<&Path>, home: Option<&Path>) -> Result<PathBuf> {
    if let Some(c) = codex_home.filter(|c| !c.as_os_str().is_empty()) {
        return Ok(std::path::absolute(c).unwrap_or_else(|_| c.to_path_buf()));
    }
    home.map(|h| h.join(".codex")).ok_or(Error::NoHome)
}

/// Codex's folder from the process environment.
pub fn codex_home_from_env() -> Result<PathBuf> {
    let env = std::env::var_os("CODEX_HOME").map(PathBuf::from);
    codex_home(env.as_deref(), dirs::home_dir().as_deref())
}

/// The user-level `hooks.json` in Codex's folder.
pub fn hooks_json_path(codex_home: &Path) -> PathBuf {
    codex_home.join("hooks.json")
}

/// The user-level `config.toml` in Codex's folder.
pub fn config_toml_path(codex_home: &Path) -> PathBuf {
    codex_home.join("config.toml")
}

/// Codex's snake_case label of a hook event (as in trust keys), or `None`
/// for an event Codex does not know.
pub fn event_label(event: &str) -> Option<&'static str> {
    Some(match event {
        "PreToolUse" => "pre_tool_use",
        "PermissionRequest" => "permission_request",
        "PostToolUse" => "post_tool_use",
        "PreCompact" => "pre_compact",
        "PostCompact" => "post_compact",
        "SessionStart" => "session_start",
        "SessionEnd" => "session_end",
        "UserPromptSubmit" => "user_prompt_submit",
        "SubagentStart" => "subagent_start",
        "SubagentStop" => "subagent_stop",
        "Stop" => "stop",
        _ => return None,
    })
}

/// The hash Codex gives a command handler of `event` in a group with
/// `matcher` (see the module docs), or `None` when `handler` is not a
/// command handler Codex would run.
pub fn trust_hash(event: &str, matcher: Option<&str>, handler: &Value) -> Option<String> {
    let label = event_label(event)?;
    if handler.get("type").and_then(Value::as_str) != Some("command") {
        return None;
    }
    let command = handler.get("command").and_then(Value::as_str)?;
    if command.trim().is_empty() {
        return None;
    }
    let set = handler.get("timeout").and_then(Value::as_u64);
    let timeout = if label == "session_end" {
        set.unwrap_or(SESSION_END_DEFAULT_TIMEOUT)
            .clamp(1, SESSION_END_MAX_TIMEOUT)
    } else {
        set.unwrap_or(DEFAULT_TIMEOUT).max(1)
    };
    let is_async = handler
        .get("async")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Keys in sorted order, as Codex canonicalises them; serde_json keeps
    // insertion order here (preserve_order), so the order below is the order written.
    let mut h = serde_json::Map::new();
    h.insert("async".into(), is_async.into());
    h.insert("command".into(), command.into());
    if let Some(s) = handler.get("statusMessage").and_then(Value::as_str) {
        h.insert("statusMessage".into(), s.into());
    }
    h.insert("timeout".into(), timeout.into());
    h.insert("type".into(), "command".into());
    let mut id = serde_json::Map::new();
    id.insert("event_name".into(), label.into());
    id.insert("hooks".into(), Value::Array(vec![Value::Object(h)]));
    if let Some(m) = matcher {
        id.insert("matcher".into(), m.into());
    }
    let bytes = serde_json::to_vec(&Value::Object(id)).ok()?;
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("sha256:{hex}"))
}

/// The trust key Codex gives the handler at `group`/`handler` of `event` in
/// the `hooks.json` at `path`.
pub fn trust_key(path: &Path, event: &str, group: usize, handler: usize) -> Option<String> {
    Some(format!(
        "{}:{}:{group}:{handler}",
        path.display(),
        event_label(event)?
    ))
}

/// One of our handlers in a `hooks.json`, with the trust entry it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedHook {
    /// The `[hooks.state]` key.
    pub key: String,
    /// Its `trusted_hash`.
    pub hash: String,
}

/// The trust entries our handlers in a parsed `hooks.json` (at `path`) need,
/// in file order.
pub fn our_trust(root: &Value, path: &Path) -> Vec<TrustedHook> {
    let mut out = Vec::new();
    let Some(hooks) = root.get("hooks").and_then(Value::as_object) else {
        return out;
    };
    for (event, groups) in hooks {
        for (gi, g) in groups.as_array().into_iter().flatten().enumerate() {
            let matcher = g.get("matcher").and_then(Value::as_str);
            for (hi, h) in g
                .get("hooks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                if our_handler(h).is_none() {
                    continue;
                }
                if let (Some(key), Some(hash)) = (
                    trust_key(path, event, gi, hi),
                    trust_hash(event, matcher, h),
                ) {
                    out.push(TrustedHook { key, hash });
                }
            }
        }
    }
    out
}

/// What a trust edit changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TrustChanges {
    /// Entries added or whose hash was rewritten.
    pub set: usize,
    /// Entries of ours removed.
    pub removed: usize,
}

impl TrustChanges {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.removed == 0
    }
}

/// Codex's `config.toml` read from disk, ready to be edited and written back
/// (atomically, through a symlink, with a backup before the first edit).
#[derive(Debug)]
pub struct ConfigToml {
    /// The path as named.
    pub path: PathBuf,
    /// Where the bytes live.
    pub target: PathBuf,
    /// The bytes read; `None` when the file does not exist.
    pub original: Option<Vec<u8>>,
    /// The parsed document (empty for a missing file).
    pub doc: toml_edit::DocumentMut,
    mode: Option<u32>,
}

impl ConfigToml {
    /// Reads and parses `path`. A missing file is an empty document; a file
    /// that is not TOML (or not UTF-8) is an error naming it.
    pub fn load(path: &Path) -> Result<ConfigToml> {
        let target = super::settings_file::edit_target(path)?;
        let (original, mode) = match super::settings_file::read_settings_bytes(path, &target)? {
            Some((b, mode)) => (Some(b), mode),
            None => (None, None),
        };
        let text = match &original {
            Some(b) => std::str::from_utf8(b).map_err(|_| {
                Error::Invalid(format!("{}: not UTF-8; left it untouched", path.display()))
            })?,
            None => "",
        };
        let doc = parse_config(path, text)?;
        Ok(ConfigToml {
            path: path.to_path_buf(),
            target,
            original,
            doc,
            mode,
        })
    }

    /// The bytes the document would be written as.
    pub fn rendered(&self) -> Vec<u8> {
        self.doc.to_string().into_bytes()
    }

    /// Writes the document back (see [`super::settings_file::save_edit`]).
    pub fn save(&self) -> Result<Option<PathBuf>> {
        super::settings_file::save_edit(
            &self.path,
            &self.target,
            self.original.as_deref(),
            self.mode.unwrap_or(0o600),
            &self.rendered(),
        )
    }
}

/// The `trusted_hash` `config.toml` holds for the hook at `key`, if any.
pub fn trusted_hash_in<'d>(doc: &'d toml_edit::DocumentMut, key: &str) -> Option<&'d str> {
    doc.get("hooks")?
        .get("state")?
        .get(key)?
        .get("trusted_hash")?
        .as_str()
}

/// Parses `config.toml` text (empty for a missing file). Fails, naming
/// `path`, on text that is not TOML.
pub fn parse_config(path: &Path, text: &str) -> Result<toml_edit::DocumentMut> {
    text.parse::<toml_edit::DocumentMut>().map_err(|e| {
        Error::Invalid(format!(
            "{}: not valid TOML ({}); left it untouched",
            path.display(),
            e.to_string().lines().next().unwrap_or("parse error")
        ))
    })
}

/// Brings `[hooks.state]` in line with our handlers: entries in `before`
/// (our handlers as the file was) that are not in `after` are removed when
/// they still hold the hash we would have written; every entry of `after`
/// gets its `trusted_hash` (other keys of the entry, such as `enabled`, are
/// kept). Fails, changing nothing, when `hooks` or `hooks.state` is not a table.
pub fn apply_trust(
    doc: &mut toml_edit::DocumentMut,
    before: &[TrustedHook],
    after: &[TrustedHook],
) -> Result<TrustChanges> {
    use toml_edit::{Item, Table, value};
    let mut changes = TrustChanges::default();
    let root = doc.as_table_mut();
    if let Some(h) = root.get("hooks")
        && !h.is_table_like()
    {
        return Err(Error::Invalid("its \"hooks\" is not a table".into()));
    }
    if let Some(s) = root.get("hooks").and_then(|h| h.get("state"))
        && !s.is_table_like()
    {
        return Err(Error::Invalid("its \"hooks.state\" is not a table".into()));
    }
    if after.is_empty() && root.get("hooks").and_then(|h| h.get("state")).is_none() {
        return Ok(changes);
    }
    let hooks = root.entry("hooks").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(hooks) = hooks.as_table_like_mut() else {
        return Err(Error::Invalid("its \"hooks\" is not a table".into()));
    };
    let state = hooks.entry("state").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(state) = state.as_table_like_mut() else {
        return Err(Error::Invalid("its \"hooks.state\" is not a table".into()));
    };
    for old in before {
        if after.iter().any(|n| n.key == old.key) {
            continue;
        }
        let ours = state
            .get(&old.key)
            .and_then(|e| e.get("trusted_hash"))
            .and_then(|v| v.as_str())
            .is_some_and(|h| h == old.hash);
        if !ours {
            continue;
        }
        let only_hash = state
            .get(&old.key)
            .and_then(|e| e.as_table_like())
            .is_some_and(|t| t.iter().all(|(k, _)| k == "trusted_hash"));
        if only_hash {
            state.remove(&old.key);
        } else if let Some(t) = state.get_mut(&old.key).and_then(|e| e.as_table_like_mut()) {
            t.remove("trusted_hash");
        }
        changes.removed += 1;
    }
    for new in after {
        let current = state
            .get(&new.key)
            .and_then(|e| e.get("trusted_hash"))
            .and_then(|v| v.as_str());
        if current == Some(new.hash.as_str()) {
            continue;
        }
        match state.get_mut(&new.key).and_then(|e| e.as_table_like_mut()) {
            Some(t) => {
                t.insert("trusted_hash", value(new.hash.clone()));
            }
            None => {
                let mut t = Table::new();
                t.insert("trusted_hash", value(new.hash.clone()));
                state.insert(&new.key, Item::Table(t));
            }
        }
        changes.set += 1;
    }
    // Drop the containers an uninstall emptied (never ones the user had).
    if after.is_empty() && changes.removed > 0 {
        if state.is_empty() {
            hooks.remove("state");
        }
        if hooks.is_empty() {
            root.remove("hooks");
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn handler(cmd: &str, timeout: Option<u64>) -> Value {
        let mut h = json!({"type": "command", "command": cmd});
        if let Some(t) = timeout {
            h["timeout"] = t.into();
        }
        h
    }

    /// Hashes reported by the real Codex 0.171.0 (`codex app-server`,
    /// `hooks/list`, `currentHash`) for these handlers.
    #[test]
    fn hashes_match_what_codex_reports() {
        assert_eq!(
            trust_hash(
                "SessionStart",
                None,
                &handler("/tmp/codex19/log-hook.sh SessionStart", None)
            )
            .unwrap(),
            "sha256:fb642ca3f8127b0b40d93a559bb50a2c5d98897520865f79e19c84d783026711"
        );
        assert_eq!(
            trust_hash(
                "PreToolUse",
                Some("apply_patch|Edit|Write"),
                &handler("/x/pool-guard --agent codex", Some(10))
            )
            .unwrap(),
            "sha256:0730cae92a8fc27752ec7b46b10fa1438f442b857ed3c38b08087407d81e5833"
        );
        // SessionEnd's timeout is clamped to 3 seconds before hashing.
        assert_eq!(
            trust_hash(
                "SessionEnd",
                None,
                &handler("/x/pool-stop --agent codex", Some(10))
            )
            .unwrap(),
            "sha256:5003cc97bc37a3b801228783dae72d18e912e3ca28a0d7bf2208032630a0c1aa"
        );
    }

    #[test]
    fn only_runnable_command_handlers_hash() {
        assert!(trust_hash("Nope", None, &handler("x", None)).is_none());
        assert!(trust_hash("Stop", None, &json!({"type": "prompt"})).is_none());
        assert!(trust_hash("Stop", None, &handler("  ", None)).is_none());
    }

    #[test]
    fn codex_home_resolution() {
        let h = Path::new("/home/u");
        assert_eq!(
            codex_home(None, Some(h)).unwrap(),
            PathBuf::from("/home/u/.codex")
        );
        assert_eq!(
            codex_home(Some(Path::new("/c")), Some(h)).unwrap(),
            PathBuf::from("/c")
        );
        assert_eq!(
            codex_home(Some(Path::new("")), Some(h)).unwrap(),
            PathBuf::from("/home/u/.codex")
        );
        assert!(codex_home(None, None).is_err());
    }

    fn trusted(key: &str, hash: &str) -> TrustedHook {
        TrustedHook {
            key: key.into(),
            hash: hash.into(),
        }
    }

    #[test]
    fn trust_edit_keeps_the_users_file_and_undoes_cleanly() {
        let original = "# my config\nmodel = \"o3\"\n\n[hooks.state.\"/u/hooks.json:stop:0:0\"]\ntrusted_hash = \"sha256:user\"\nenabled = true\n\n[features]\nx = 1\n";
        let mut doc = parse_config(Path::new("c"), original).unwrap();
        let ours = [
            trusted("/u/hooks.json:stop:1:0", "sha256:a"),
            trusted("/u/hooks.json:session_start:0:0", "sha256:b"),
        ];
        let c = apply_trust(&mut doc, &[], &ours).unwrap();
        assert_eq!(c, TrustChanges { set: 2, removed: 0 });
        let installed = doc.to_string();
        assert!(installed.starts_with("# my config\nmodel = \"o3\"\n"));
        assert!(
            installed
                .contains("[hooks.state.\"/u/hooks.json:stop:1:0\"]\ntrusted_hash = \"sha256:a\"")
        );
        assert!(installed.contains("trusted_hash = \"sha256:user\"\nenabled = true"));
        // Idempotent.
        let mut again = parse_config(Path::new("c"), &installed).unwrap();
        assert!(apply_trust(&mut again, &ours, &ours).unwrap().is_empty());
        assert_eq!(again.to_string(), installed);
        // Uninstall gives back the original text.
        let c = apply_trust(&mut again, &ours, &[]).unwrap();
        assert_eq!(c.removed, 2);
        assert_eq!(again.to_string(), original);
    }

    #[test]
    fn uninstall_leaves_entries_the_user_changed() {
        let text = "[hooks.state.\"k\"]\ntrusted_hash = \"sha256:other\"\n";
        let mut doc = parse_config(Path::new("c"), text).unwrap();
        let c = apply_trust(&mut doc, &[trusted("k", "sha256:ours")], &[]).unwrap();
        assert!(c.is_empty());
        assert_eq!(doc.to_string(), text);
    }

    #[test]
    fn a_fresh_file_gets_only_the_state_tables() {
        let mut doc = parse_config(Path::new("c"), "").unwrap();
        apply_trust(&mut doc, &[], &[trusted("/h:stop:0:0", "sha256:a")]).unwrap();
        assert_eq!(
            doc.to_string(),
            "[hooks.state.\"/h:stop:0:0\"]\ntrusted_hash = \"sha256:a\"\n"
        );
    }

    #[test]
    fn wrong_shapes_are_refused() {
        for text in ["hooks = 1\n", "[hooks]\nstate = \"x\"\n"] {
            let mut doc = parse_config(Path::new("c"), text).unwrap();
            assert!(apply_trust(&mut doc, &[], &[trusted("k", "h")]).is_err());
        }
        assert!(parse_config(Path::new("c"), "= nope").is_err());
    }

    #[test]
    fn our_trust_follows_positions() {
        let root = json!({"hooks": {
            "Stop": [
                {"hooks": [{"type": "command", "command": "/u/mine"}]},
                {"hooks": [{"type": "command", "command": "/b/pool-stop --agent codex", "timeout": 10}]}
            ],
            "Custom": [{"hooks": [{"type": "command", "command": "/b/pool-stop"}]}]
        }});
        let t = our_trust(&root, Path::new("/c/hooks.json"));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].key, "/c/hooks.json:stop:1:0");
    }
}
