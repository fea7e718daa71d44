//! The agents' formats: what a coding agent (Claude Code or Codex) sends a
//! hook and reads back ([`hook`]), the adapter that turns either agent's
//! input into one event and the core's answers into that agent's envelope
//! ([`adapter`]), Codex's `apply_patch` format ([`patch`]), the transcripts
//! ([`transcript`]: Claude Code's JSONL and Codex's rollout) and the
//! per-session read cursor over them ([`cursor`]), the fenced `pool` block the
//! model writes ([`block`]), and the agents' own settings files, where hooks
//! are registered ([`settings_file`] for Claude Code, [`codex_settings`] for
//! Codex), edited keeping the user's bytes ([`json_edit`]), and Claude Code's
//! registry of its live sessions ([`registry`]).
//!
//! May import [`crate::store`] and [`crate::env`]; never coordination, views,
//! sync or commands.

pub mod adapter;
pub mod block;
pub mod codex_settings;
pub mod cursor;
pub mod hook;
pub mod json_edit;
pub mod patch;
pub mod registry;
pub mod settings_file;
pub mod transcript;
