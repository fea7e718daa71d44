//! The hook protocol: the JSON Claude Code and Codex send on stdin (tolerant
//! wire structs; the two agents' fields, which [`super::adapter`] turns into
//! one event), what a hook body is given ([`Ctx`]), and the one-line error
//! report. The policy that runs every body (bounded stdin, exit 0 whatever
//! happens) is [`crate::cmd::runner`].
//!
//! A hook reads at most [`MAX_STDIN`] bytes and treats empty stdin as an
//! empty event; whatever goes wrong is one line in `errors.log`.

use std::io::Write;
use std::path::PathBuf;

use serde::Deserialize;

use crate::env::config::Config;
use crate::error::{Error, Result};
use crate::store::entry::{MAX_CWD, MAX_SESSION_ID, truncate_chars};
use crate::store::fsio;

/// Most bytes read from stdin (16 MiB); the rest is ignored.
pub const MAX_STDIN: u64 = 16 * 1024 * 1024;

/// The fields of a hook event we use. Every field is optional: unknown
/// fields are ignored and missing ones are empty.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HookInput {
    /// Claude Code's session id.
    pub session_id: String,
    /// Path of the session's transcript JSONL.
    pub transcript_path: Option<PathBuf>,
    /// The session's working directory.
    pub cwd: Option<PathBuf>,
    /// `SessionStart`, `Stop`, `UserPromptSubmit`, …
    pub hook_event_name: String,
    /// The turn's prompt id (Claude Code 2.1+).
    pub prompt_id: Option<String>,
    /// Text of the last content block of the final assistant message (Stop).
    pub last_assistant_message: Option<String>,
    /// SessionStart: `startup`, `resume`, `clear`, `compact`, `fork`.
    pub source: Option<String>,
    /// Stop: whether a Stop hook already blocked this turn once.
    pub stop_hook_active: bool,
    /// PreToolUse: the tool about to run.
    pub tool_name: String,
    /// PreToolUse: the tool's input (`file_path`, `notebook_path`, a patch…).
    pub tool_input: serde_json::Value,
    /// PostToolUse: what the tool returned (for Bash: `stdout`, `stderr`,
    /// `interrupted`, and Claude Code's own `gitOperation`).
    pub tool_response: serde_json::Value,
    /// PostToolUse: the tool call's id.
    pub tool_use_id: String,
    /// PostToolUse: how long the tool ran, in milliseconds.
    pub duration_ms: Option<u64>,
    /// Set when the event comes from a subagent (`Agent` tool): its id. The
    /// session id is the parent's.
    pub agent_id: Option<String>,
    /// The session's permission mode (`default`, `acceptEdits`, `auto`,
    /// `bypassPermissions`, …); absent at SessionStart.
    pub permission_mode: Option<String>,
    /// Codex: the turn's id (the adapter copies it to `prompt_id`).
    pub turn_id: Option<String>,
    /// The agent running the hook (set by [`super::adapter::normalize`]).
    #[serde(skip)]
    pub agent: super::adapter::Agent,
    /// PreToolUse: the files the tool is about to change, absolute (set by
    /// [`super::adapter::normalize`]; empty for tools that change none).
    #[serde(skip)]
    pub edit_targets: Vec<String>,
}

impl HookInput {
    /// Parses stdin bytes. Empty input is an empty event; anything that is
    /// not a JSON object is an error.
    pub fn parse(bytes: &[u8]) -> Result<HookInput> {
        if bytes.trim_ascii().is_empty() {
            return Ok(HookInput::default());
        }
        let mut input: HookInput = serde_json::from_slice(bytes).map_err(|e| {
            Error::Invalid(format!("hook input is not the JSON object expected: {e}"))
        })?;
        input.cap();
        Ok(input)
    }

    /// Caps the fields that reach the pool's files, so no input can make a
    /// line or a presence file that readers skip: a session id or prompt id
    /// longer than [`MAX_SESSION_ID`] characters is cut (the same way every
    /// time, so it stays one key), and a working directory longer than
    /// [`MAX_CWD`] bytes, which no real path is, is dropped.
    fn cap(&mut self) {
        let cut = |s: &mut String| {
            if s.len() > MAX_SESSION_ID {
                *s = truncate_chars(s, MAX_SESSION_ID).into_owned();
            }
        };
        cut(&mut self.session_id);
        if let Some(p) = self.prompt_id.as_mut() {
            cut(p);
        }
        if self
            .cwd
            .as_ref()
            .is_some_and(|c| c.as_os_str().len() > MAX_CWD)
        {
            self.cwd = None;
        }
    }
}

/// What a hook body gets: the parsed input, the pool folder and the settings.
pub struct Ctx {
    /// The event.
    pub input: HookInput,
    /// The pool folder.
    pub pool_dir: PathBuf,
    /// Config from the environment and `config.json`.
    pub config: Config,
    /// Current time, epoch seconds.
    pub now: i64,
    /// The repository the session works in.
    pub repo: crate::env::repo::Repo,
    /// Which entries the session is shown (its repository by default).
    pub scope: crate::env::repo::Scope,
}

/// Writes one line to the pool's error log.
/// When the log cannot be written either (full disk, unusable folder), the
/// line goes to stderr, which Claude Code shows in verbose mode.
pub fn report(pool_dir: &std::path::Path, program: &str, message: &str) {
    let logged =
        fsio::ensure_private_dir(pool_dir).is_ok() && fsio::log_error(pool_dir, program, message);
    if !logged {
        let _ = writeln!(std::io::stderr(), "{program}: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_parsing() {
        let i = HookInput::parse(br#"{"session_id":"s","hook_event_name":"Stop","last_assistant_message":"x","extra":{"a":1}}"#).unwrap();
        assert_eq!(i.session_id, "s");
        assert_eq!(i.last_assistant_message.as_deref(), Some("x"));
        assert_eq!(HookInput::parse(b"  \n").unwrap().session_id, "");
        assert!(HookInput::parse(b"not json").is_err());
        assert!(HookInput::parse(b"[1,2]").is_err());
        let deep = "[".repeat(100_000);
        assert!(HookInput::parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn untrusted_fields_are_capped() {
        let huge = "x".repeat(1 << 20);
        let raw =
            serde_json::json!({"session_id": huge, "prompt_id": huge, "cwd": format!("/{huge}")});
        let i = HookInput::parse(raw.to_string().as_bytes()).unwrap();
        assert_eq!(i.session_id.chars().count(), MAX_SESSION_ID);
        assert_eq!(i.prompt_id.unwrap().chars().count(), MAX_SESSION_ID);
        assert_eq!(i.cwd, None);
        let ok = HookInput::parse(br#"{"session_id":"abc","cwd":"/w"}"#).unwrap();
        assert_eq!(
            (ok.session_id.as_str(), ok.cwd.unwrap()),
            ("abc", PathBuf::from("/w"))
        );
    }

    #[test]
    fn real_inputs_parse() {
        let i = HookInput::parse(include_bytes!(
            "../../tests/fixtures/corpus/generated/hook-inputs/2.1.329/05_Stop.json"
        ))
        .unwrap();
        assert_eq!(i.hook_event_name, "Stop");
        assert_eq!(
            i.prompt_id.as_deref(),
            Some("521d050e-04df-47b8-a258-8e2f14b21ea0")
        );
        assert!(i.last_assistant_message.unwrap().contains("```pool"));
    }
}
