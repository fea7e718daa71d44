//! The adapter at the hook edge: which agent runs a hook (Claude Code or
//! Codex), how its input becomes the one event the core reads, and how the
//! core's answers become what that agent reads back.
//!
//! The same binaries serve both agents. Codex's configuration runs them with
//! `--agent codex` ([`super::codex_settings::AGENT_ARGS`]); without the flag,
//! a Codex input is still recognised by its shape (a `turn_id`, or a
//! `rollout-*.jsonl` transcript), so hooks registered by hand or through the
//! Claude Code plugin file work too.
//!
//! What differs, and where it is absorbed here:
//! - edits: Claude Code names one `file_path`; Codex's `apply_patch` carries a
//!   patch naming several files ([`super::patch`]), relative to its cwd. Both
//!   become [`HookInput::edit_targets`], absolute paths with their folders
//!   resolved through symlinks.
//! - turns: Codex's `turn_id` plays the part of Claude Code's `prompt_id`.
//! - output: both read plain text from SessionStart and UserPromptSubmit, and
//!   the same `hookSpecificOutput` JSON from PreToolUse; Codex refuses
//!   `permissionDecision: "ask"` (0.171: "unsupported permissionDecision:ask"),
//!   so an ask becomes a warning there.
//! - limits: Claude Code keeps 10,000 characters of hook output; Codex
//!   spills output over 2,500 approximate tokens (bytes / 4, so 10,000
//!   bytes) to a file and shows a preview. [`Agent::fit_context`] is the last
//!   resort that keeps any context output within its agent's limit.

use serde_json::json;

use super::hook::HookInput;
use super::patch::{absolute_path, patch_files};
use crate::env::spelling::{Resolver, resolve_folder};

/// Claude Code's tools that change one file, and the field naming it.
const FILE_TOOLS: &[(&str, &str)] = &[
    ("Edit", "file_path"),
    ("Write", "file_path"),
    ("MultiEdit", "file_path"),
    ("NotebookEdit", "notebook_path"),
];
/// Codex's edit tool.
pub const APPLY_PATCH: &str = "apply_patch";
/// Claude Code keeps this many characters of a hook's output.
pub const CLAUDE_CODE_OUTPUT_CHARS: usize = 10_000;
/// Codex shows this many approximate tokens of a hook's output before
/// spilling the rest to a file (Codex 0.171, `HOOK_OUTPUT_TOKEN_LIMIT`).
pub const CODEX_OUTPUT_TOKENS: usize = 2_500;
/// Codex's token estimate: bytes per token.
pub const CODEX_BYTES_PER_TOKEN: usize = 4;

/// The coding agent a hook runs under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Agent {
    /// Anthropic's Claude Code.
    #[default]
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
}

impl Agent {
    /// The agent's name as stored in presence files and shown by `pool status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Agent::ClaudeCode => "claude-code",
            Agent::Codex => "codex",
        }
    }

    /// The agent named `s` (`claude-code`, `claude`, `codex`), if any.
    pub fn parse(s: &str) -> Option<Agent> {
        match s.trim().to_ascii_lowercase().as_str() {
            "claude-code" | "claude" | "claude_code" => Some(Agent::ClaudeCode),
            "codex" => Some(Agent::Codex),
            _ => None,
        }
    }

    /// The agent a hook runs under: `--agent NAME` (or `--agent=NAME`) among
    /// `args` when given, else what the input's shape says.
    pub fn detect<I: IntoIterator<Item = String>>(args: I, input: &HookInput) -> Agent {
        let mut it = args.into_iter();
        while let Some(a) = it.next() {
            let named = match a.strip_prefix("--agent=") {
                Some(v) => Some(v.to_string()),
                None if a == "--agent" => it.next(),
                None => None,
            };
            if let Some(agent) = named.as_deref().and_then(Agent::parse) {
                return agent;
            }
        }
        let rollout = input
            .transcript_path
            .as_deref()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("rollout-") && n.ends_with(".jsonl"));
        if rollout || input.turn_id.as_deref().is_some_and(|t| !t.is_empty()) {
            Agent::Codex
        } else {
            Agent::ClaudeCode
        }
    }

    /// How much context a hook may print for this agent to show it whole,
    /// in the agent's own unit: characters for Claude Code, bytes for Codex
    /// (whose token estimate is bytes / 4).
    pub fn context_budget(self) -> usize {
        match self {
            Agent::ClaudeCode => CLAUDE_CODE_OUTPUT_CHARS,
            Agent::Codex => CODEX_OUTPUT_TOKENS * CODEX_BYTES_PER_TOKEN,
        }
    }

    /// The size of `text` in the unit of [`Agent::context_budget`].
    pub fn context_size(self, text: &str) -> usize {
        match self {
            Agent::ClaudeCode => text.chars().count(),
            Agent::Codex => text.len(),
        }
    }

    /// Whether the agent can ask its user about a tool call from a hook.
    pub fn can_ask(self) -> bool {
        self == Agent::ClaudeCode
    }

    /// `text` cut to [`Agent::context_budget`] at a character boundary, with
    /// a last line saying so. Text within the budget is returned unchanged.
    pub fn fit_context(self, text: String) -> String {
        let budget = self.context_budget();
        if self.context_size(&text) <= budget {
            return text;
        }
        const NOTE: &str = "\n(pool: output cut to the agent's limit; run pool-query)\n";
        let room = budget.saturating_sub(NOTE.len());
        let end = match self {
            Agent::ClaudeCode => text.char_indices().nth(room).map_or(text.len(), |(i, _)| i),
            Agent::Codex => {
                let mut end = room.min(text.len());
                while end > 0 && !text.is_char_boundary(end) {
                    end -= 1;
                }
                end
            }
        };
        let mut out = text[..end].to_string();
        out.push_str(NOTE);
        out
    }
}

/// Turns an agent's hook input into the neutral event: records the agent,
/// takes Codex's turn id as the turn's prompt id, and lists the files an
/// edit tool is about to change as absolute paths, their folders resolved
/// through symlinks ([`resolve_folder`]).
pub fn normalize(mut input: HookInput, agent: Agent) -> HookInput {
    input.agent = agent;
    if input.prompt_id.as_deref().is_none_or(str::is_empty)
        && let Some(turn) = input.turn_id.as_deref().filter(|t| !t.is_empty())
    {
        input.prompt_id = Some(turn.to_string());
    }
    input.edit_targets = edit_targets(&input);
    // Codex reports a shell call's output as one string (both streams);
    // Claude Code as an object whose `stdout` holds it.
    if let serde_json::Value::String(out) = &input.tool_response {
        input.tool_response = serde_json::json!({ "stdout": out });
    }
    input
}

/// The files a tool call is about to change, absolute: every file of a
/// patch. Empty for tools that edit nothing.
fn edit_targets(input: &HookInput) -> Vec<String> {
    let cwd = input
        .cwd
        .as_deref()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tool = input.tool_name.as_str();
    if tool == APPLY_PATCH {
        // Codex puts the patch in `command`; accept `input`/`patch` too, and a bare string.
        let ti = &input.tool_input;
        let patch = ti
            .as_str()
            .or_else(|| {
                ["command", "input", "patch"]
                    .iter()
                    .find_map(|k| ti.get(k)?.as_str())
            })
            .unwrap_or("");
        // Files of a patch share folders: each is resolved once.
        let mut resolver = Resolver::default();
        return patch_files(patch)
            .files
            .iter()
            .map(|f| resolver.resolve(&absolute_path(&cwd, &f.path)))
            .collect();
    }
    let Some((_, field)) = FILE_TOOLS.iter().find(|(t, _)| *t == tool) else {
        return Vec::new();
    };
    let path = input
        .tool_input
        .get(*field)
        .or_else(|| input.tool_input.get("file_path"))
        .and_then(|v| v.as_str())
        .filter(|p| !p.is_empty());
    match path {
        // Claude Code gives absolute paths, Codex's Edit/Write aliases may not;
        // either is cleaned (`//`, `.`, `..`) and its folders resolved
        // through symlinks, so every spelling of a file compares equal to
        // its plain one.
        Some(p) => vec![resolve_folder(&absolute_path(&cwd, p))],
        None => Vec::new(),
    }
}

/// What the guard decided about a tool call, in the core's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let it run and tell the model `reason`.
    Warn(String),
    /// Ask the user, showing `reason`.
    Ask(String),
    /// Refuse the call, telling the model `reason`.
    Deny(String),
}

/// The PreToolUse output an agent reads for `verdict`. Where the agent
/// cannot ask (Codex), an ask is a warning.
pub fn pre_tool_use_output(agent: Agent, verdict: Verdict) -> String {
    let verdict = match verdict {
        Verdict::Ask(r) if !agent.can_ask() => Verdict::Warn(r),
        v => v,
    };
    let out = match verdict {
        Verdict::Warn(r) => json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "additionalContext": agent.fit_context(r)}}),
        Verdict::Ask(r) => json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "ask",
            "permissionDecisionReason": agent.fit_context(r)}}),
        Verdict::Deny(r) => json!({"hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": agent.fit_context(r)}}),
    };
    out.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn input(json: &str) -> HookInput {
        HookInput::parse(json.as_bytes()).unwrap()
    }

    /// A PreToolUse input exactly as Codex 0.171.0 sent it (tests/e2e/codex.sh's harness).
    const CODEX_APPLY_PATCH: &str = r#"{"session_id":"01a22b07-3c13-7853-b3f0-7ccec35ff23f","turn_id":"01a22b07-3c35-7433-99f7-a8f2b3072c8e","transcript_path":"/h/.codex/sessions/2026/11/30/rollout-2026-11-30T05-57-04-01a22b07-3c13-7853-b3f0-7ccec35ff23f.jsonl","cwd":"/w/proj","hook_event_name":"PreToolUse","model":"gpt-5.5","permission_mode":"bypassPermissions","tool_name":"apply_patch","tool_input":{"command":"*** Begin Patch\n*** Add File: notes.txt\n+hello\n*** Update File: README.md\n@@\n-hi\n+hi there\n*** End Patch\n"},"tool_use_id":"call_1"}"#;

    #[test]
    fn codex_apply_patch_becomes_absolute_edit_targets() {
        let i = input(CODEX_APPLY_PATCH);
        let agent = Agent::detect(Vec::<String>::new(), &i);
        assert_eq!(agent, Agent::Codex);
        let n = normalize(i, agent);
        assert_eq!(n.agent, Agent::Codex);
        assert_eq!(
            n.edit_targets,
            vec!["/w/proj/notes.txt".to_string(), "/w/proj/README.md".into()]
        );
        assert_eq!(
            n.prompt_id.as_deref(),
            Some("01a22b07-3c35-7433-99f7-a8f2b3072c8e")
        );
    }

    #[rstest]
    #[case::edit(r#"{"tool_name":"Edit","tool_input":{"file_path":"/a/b.rs"}}"#, &["/a/b.rs"])]
    #[case::notebook(r#"{"tool_name":"NotebookEdit","tool_input":{"notebook_path":"/a/n.ipynb"}}"#, &["/a/n.ipynb"])]
    #[case::relative(r#"{"cwd":"/r","tool_name":"Write","tool_input":{"file_path":"x/../y.rs"}}"#, &["/r/y.rs"])]
    #[case::double_slash(r#"{"tool_name":"Edit","tool_input":{"file_path":"/repo/src//auth.rs"}}"#, &["/repo/src/auth.rs"])]
    #[case::dot(r#"{"tool_name":"Edit","tool_input":{"file_path":"/repo/src/./auth.rs"}}"#, &["/repo/src/auth.rs"])]
    #[case::dot_dot(r#"{"tool_name":"Write","tool_input":{"file_path":"/repo/src/../src/auth.rs"}}"#, &["/repo/src/auth.rs"])]
    #[case::bash(r#"{"tool_name":"Bash","tool_input":{"command":"*** Update File: x"}}"#, &[])]
    #[case::no_path(r#"{"tool_name":"Edit","tool_input":{}}"#, &[])]
    #[case::patch_string(r#"{"cwd":"/r","tool_name":"apply_patch","tool_input":"*** Delete File: d"}"#, &["/r/d"])]
    fn edit_targets_of_each_tool(#[case] json: &str, #[case] want: &[&str]) {
        let n = normalize(input(json), Agent::ClaudeCode);
        assert_eq!(n.edit_targets, want);
    }

    #[rstest]
    #[case(&["--agent", "codex"], "{}", Agent::Codex)]
    #[case(&["--agent=codex"], "{}", Agent::Codex)]
    #[case(&["--agent", "claude-code"], r#"{"turn_id":"t"}"#, Agent::ClaudeCode)]
    #[case(&[], "{}", Agent::ClaudeCode)]
    #[case(&[], r#"{"transcript_path":"/p/abc.jsonl","prompt_id":"x"}"#, Agent::ClaudeCode)]
    #[case(&[], r#"{"transcript_path":"/s/rollout-2026-x.jsonl"}"#, Agent::Codex)]
    #[case(&["--agent", "nonsense"], "{}", Agent::ClaudeCode)]
    fn detection(#[case] args: &[&str], #[case] json: &str, #[case] want: Agent) {
        let args = args.iter().map(|s| s.to_string());
        assert_eq!(Agent::detect(args, &input(json)), want);
    }

    #[test]
    fn codex_cannot_ask_so_it_is_warned() {
        let out = pre_tool_use_output(Agent::Codex, Verdict::Ask("careful".into()));
        assert_eq!(
            out,
            r#"{"hookSpecificOutput":{"hookEventName":"PreToolUse","additionalContext":"careful"}}"#
        );
        let out = pre_tool_use_output(Agent::ClaudeCode, Verdict::Ask("careful".into()));
        assert!(out.contains(r#""permissionDecision":"ask""#));
        let out = pre_tool_use_output(Agent::Codex, Verdict::Deny("no".into()));
        assert!(out.contains(r#""permissionDecision":"deny""#));
    }

    #[test]
    fn context_fits_each_agents_limit() {
        let long = "é".repeat(20_000);
        for agent in [Agent::ClaudeCode, Agent::Codex] {
            let out = agent.fit_context(long.clone());
            assert!(agent.context_size(&out) <= agent.context_budget());
            assert!(out.ends_with("run pool-query)\n"));
            assert_eq!(agent.fit_context("short".into()), "short");
        }
        // Codex's own estimate of the cut text stays within its limit.
        let out = Agent::Codex.fit_context(long.clone());
        assert!(out.len().div_ceil(CODEX_BYTES_PER_TOKEN) <= CODEX_OUTPUT_TOKENS);
        // Claude Code counts characters: 9,000 two-byte characters pass whole.
        let fits = "é".repeat(9_000);
        assert_eq!(Agent::ClaudeCode.fit_context(fits.clone()), fits);
        assert_ne!(Agent::Codex.fit_context(fits.clone()), fits);
    }
}
