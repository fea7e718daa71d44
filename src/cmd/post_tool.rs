//! `pool-post-tool` (PostToolUse on Bash): records the files a Bash call
//! changed among those its command line names (against what the guard saw
//! before it ran, [`crate::cmd::shell_guard`]) as this session's edits, and
//! notes the commits, pushes and pull requests it made, for the end of the
//! turn to post as automatic entries ([`crate::coord::auto`]).
//!
//! It decides from the tool's name, the event and the command's text before
//! reading anything else: every other call costs reading stdin and exiting.

use serde_json::Value;

use crate::agent::hook::{Ctx, HookInput};
use crate::coord::auto::{self, Call, Who};
use crate::coord::{git_ops, presence, shell};
use crate::env::config::AutoKinds;
use crate::error::Result;

/// `pool-post-tool`: the hook's entry point.
pub fn post_tool_main() -> i32 {
    if let Some(code) = crate::cmd::hooks::answer_help("pool-post-tool") {
        return code;
    }
    crate::cmd::runner::run_gated("pool-post-tool", gate, body)
}

/// The command line of a Bash call, if this is one.
fn command(input: &HookInput) -> Option<&str> {
    if input.tool_name != "Bash" || input.hook_event_name != "PostToolUse" {
        return None;
    }
    input.tool_input.get("command").and_then(Value::as_str)
}

/// Whether the call may matter: a Bash call whose command may write a file
/// ([`shell::might_write`]), or names git or gh with automatic entries for
/// tool calls not turned off by `POOL_AUTO`.
pub fn gate(input: &HookInput) -> bool {
    let off = std::env::var("POOL_AUTO")
        .ok()
        .and_then(|v| AutoKinds::parse(&v).ok())
        .is_some_and(|k| !k.any_tool());
    command(input).is_some_and(|c| shell::might_write(c) || (!off && git_ops::might_matter(c)))
}

fn body(ctx: &Ctx) -> Result<Option<String>> {
    let kinds = ctx.config.auto;
    let (Some(command), Some(cwd)) = (command(&ctx.input), ctx.input.cwd.as_deref()) else {
        return Ok(None);
    };
    if shell::might_write(command) {
        // What the command changed among the files it names: this session's edits.
        if let Err(e) = crate::cmd::shell_guard::record_shell_edits(ctx) {
            crate::agent::hook::report(&ctx.pool_dir, "pool-post-tool", &e.to_string());
        }
    }
    if !git_ops::might_matter(command) {
        return Ok(None);
    }
    if !kinds.any_tool() || !cwd.is_absolute() {
        return Ok(None);
    }
    let r = &ctx.input.tool_response;
    let text = |p: &str| r.pointer(p).and_then(Value::as_str);
    let pr_created =
        r.pointer("/gitOperation/pr/action").and_then(Value::as_str) == Some("created");
    let call = Call {
        command,
        stdout: text("/stdout").unwrap_or(""),
        interrupted: r
            .get("interrupted")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        duration_ms: ctx.input.duration_ms,
        reported_commit: text("/gitOperation/commit/sha"),
        reported_push: text("/gitOperation/push/branch"),
        reported_pr: text("/gitOperation/pr/url").filter(|_| pr_created),
        tool_use_id: &ctx.input.tool_use_id,
    };
    let instance = ctx.config.instance.as_deref().filter(|i| !i.is_empty());
    let session = match ctx.input.session_id.as_str() {
        "" => "unknown",
        s => s,
    };
    let started = presence::first_seen(&ctx.pool_dir, instance, session);
    let host = crate::env::host::host_name();
    let who = Who {
        instance: instance.unwrap_or(presence::UNKNOWN_INSTANCE),
        session,
        cwd,
        host: &host,
        clean: crate::view::neutral::clean,
    };
    auto::record_call(&ctx.pool_dir, &who, &call, kinds, started, ctx.now)?;
    Ok(None)
}
