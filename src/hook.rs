//! The hook protocol: the JSON Claude Code sends on stdin (tolerant wire
//! structs), and the never-break-the-session policy every hook runs under.
//!
//! Policy: a hook reads at most [`MAX_STDIN`] bytes, treats empty stdin as an
//! empty event, and whatever goes wrong — bad JSON, unreadable files, a full
//! disk, even a panic — it writes one line to `errors.log` and exits 0 so the
//! session goes on. It never exits 2 (which would block Claude Code).

use std::io::{Read, Write};
use std::path::PathBuf;

use serde::Deserialize;

use crate::config::{self, ConfigFile, ProcessEnv, Settings};
use crate::error::{Error, Result};
use crate::fsio;
use crate::paths::Locator;

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
    /// PreToolUse: the tool's input (`file_path`, `notebook_path`, …).
    pub tool_input: serde_json::Value,
}

impl HookInput {
    /// Parses stdin bytes. Empty input is an empty event; anything that is
    /// not a JSON object is an error.
    pub fn parse(bytes: &[u8]) -> Result<HookInput> {
        if bytes.trim_ascii().is_empty() {
            return Ok(HookInput::default());
        }
        serde_json::from_slice(bytes)
            .map_err(|e| Error::Invalid(format!("hook input is not the JSON object expected: {e}")))
    }
}

/// What a hook body gets: the parsed input, the pool folder and the settings.
pub struct Ctx {
    /// The event.
    pub input: HookInput,
    /// The pool folder.
    pub pool_dir: PathBuf,
    /// Settings from the environment and `config.json`.
    pub settings: Settings,
    /// Current time, epoch seconds.
    pub now: i64,
}

/// Runs a hook body under the policy and returns the exit code (always 0).
/// The body returns the text to print on stdout, if any.
pub fn run(program: &str, body: fn(&Ctx) -> Result<Option<String>>) -> i32 {
    let code = run_inner(program, body);
    if std::env::var_os("POOL_REPORT_PEAK_RSS").is_some() {
        report_peak_rss(program);
    }
    code
}

fn run_inner(program: &str, body: fn(&Ctx) -> Result<Option<String>>) -> i32 {
    std::panic::set_hook(Box::new(|_| {}));
    let mut raw = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(MAX_STDIN)
        .read_to_end(&mut raw);
    let parsed = read
        .map_err(|e| Error::Invalid(format!("cannot read stdin: {e}")))
        .and_then(|_| HookInput::parse(&raw));
    let cwd = parsed.as_ref().ok().and_then(|i| i.cwd.clone());
    let locator = Locator::from_env(cwd.as_deref());
    let pool_dir = match locator.pool_dir() {
        Ok(d) => d,
        Err(_) => return 0,
    };
    let input = match parsed {
        Ok(i) => i,
        Err(e) => {
            report(&pool_dir, program, &e.to_string());
            return 0;
        }
    };
    let config = match config::load_config_file(&pool_dir) {
        Ok(c) => c,
        Err(e) => {
            report(&pool_dir, program, &e.to_string());
            ConfigFile::default()
        }
    };
    let (settings, warnings) = Settings::from_env(&ProcessEnv, &config);
    for w in warnings {
        report(&pool_dir, program, &w);
    }
    let ctx = Ctx {
        input,
        pool_dir: pool_dir.clone(),
        settings,
        now: chrono::Utc::now().timestamp(),
    };
    crate::presence::touch(&ctx, program);
    match std::panic::catch_unwind(|| body(&ctx)) {
        Ok(Ok(Some(text))) if !text.is_empty() => {
            let mut out = std::io::stdout().lock();
            // A closed stdout is not our problem to report.
            let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => report(&pool_dir, program, &e.to_string()),
        Err(_) => report(
            &pool_dir,
            program,
            "internal error (panic); the session goes on",
        ),
    }
    0
}

/// Diagnostics for tests and benchmarks (`POOL_REPORT_PEAK_RSS=1`): prints
/// this process's peak resident memory (`VmHWM`) to stderr. A parent's
/// `getrusage` cannot tell it: a spawned child inherits the parent's
/// high-water mark across `exec`.
fn report_peak_rss(program: &str) {
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_else(|| "?".into());
    let _ = writeln!(std::io::stderr(), "{program}: peak_rss_kib={hwm}");
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
    fn real_inputs_parse() {
        let i = HookInput::parse(include_bytes!(
            "../tests/fixtures/corpus/generated/hook-inputs/2.1.329/05_Stop.json"
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
