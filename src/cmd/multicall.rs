//! `pool hook PROGRAM [ARGS…]`: the `pool` binary runs as any hook binary.
//!
//! The npm package ships this one binary instead of six (a sixth of the
//! size: the hooks share nearly all their code), and the plugin's launcher
//! runs `pool hook pool-stop` where a checkout or an archive has `pool-stop`.
//! It is looked at before `clap` parses anything, so a hook started this way
//! costs what the hook binary costs. The hook reads its own arguments
//! through [`hook_args`], which skips the two that selected it.

use std::ffi::OsString;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cmd::{EXIT_ERROR, eprint_error, hooks, post_tool};

/// A hook binary's entry point: runs it, returns its exit code.
pub type HookMain = fn() -> i32;

/// The hook binaries `pool hook` can run, by name.
pub const HOOKS: &[(&str, HookMain)] = &[
    ("pool-session-start", hooks::session_start_main),
    ("pool-stop", hooks::stop_main),
    ("pool-prompt", hooks::prompt_main),
    ("pool-guard", hooks::guard_main),
    ("pool-post-tool", post_tool::post_tool_main),
];

/// How many arguments after the program name selected the hook (two for
/// `pool hook NAME`, none when the hook binary itself runs).
static SELECTOR_ARGS: AtomicUsize = AtomicUsize::new(0);

/// The hook's own command-line arguments, after its program name (and after
/// `hook NAME` when `pool` runs it), decoded lossily: an argument that is
/// not UTF-8 never panics a hook.
pub fn hook_args() -> impl Iterator<Item = String> {
    std::env::args_os()
        .skip(1 + SELECTOR_ARGS.load(Ordering::Relaxed))
        .map(|a| a.to_string_lossy().into_owned())
}

/// The hook `args` (the command line after the program name) selects with
/// `hook NAME`: `None` when they do not start with `hook`, `Some(Err)`
/// naming the argument when `NAME` is not a hook.
pub fn select(args: &[OsString]) -> Option<Result<HookMain, String>> {
    if args.first()? != "hook" {
        return None;
    }
    let name = args.get(1).map(|n| n.to_string_lossy().into_owned());
    Some(
        HOOKS
            .iter()
            .find(|(n, _)| Some(*n) == name.as_deref())
            .map(|(_, f)| *f)
            .ok_or_else(|| name.unwrap_or_default()),
    )
}

/// Runs the hook `pool hook NAME` names, and returns its exit code; `None`
/// when this `pool` command line is not `pool hook …`. An unknown name is
/// an error (exit 1, never 2, which would block the agent).
pub fn dispatch() -> Option<i32> {
    let args: Vec<OsString> = std::env::args_os().skip(1).take(2).collect();
    match select(&args)? {
        Ok(run) => {
            SELECTOR_ARGS.store(2, Ordering::Relaxed);
            Some(run())
        }
        Err(name) => {
            let names: Vec<&str> = HOOKS.iter().map(|(n, _)| *n).collect();
            eprint_error(
                "pool hook",
                &format!(
                    "{:?} is not a hook; expected one of: {}",
                    name,
                    names.join(", ")
                ),
            );
            Some(EXIT_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn hook_selects_each_hook_binary_by_name() {
        for (name, f) in HOOKS {
            let got = select(&os(&["hook", name])).unwrap().unwrap();
            assert_eq!(got as usize, *f as usize, "{name}");
        }
    }

    #[test]
    fn every_hook_we_register_can_run_through_pool_hook() {
        use crate::agent::{codex_settings::CODEX_HOOKS, settings_file};
        for spec in settings_file::HOOKS.iter().chain(CODEX_HOOKS) {
            assert!(
                HOOKS.iter().any(|(n, _)| *n == spec.binary),
                "{}",
                spec.binary
            );
        }
    }

    #[test]
    fn other_command_lines_are_not_hooks() {
        assert!(select(&os(&[])).is_none());
        assert!(select(&os(&["status"])).is_none());
        assert!(select(&os(&["--help"])).is_none());
        assert_eq!(select(&os(&["hook"])).unwrap().unwrap_err(), "");
        assert_eq!(
            select(&os(&["hook", "pool-query"])).unwrap().unwrap_err(),
            "pool-query"
        );
    }
}
