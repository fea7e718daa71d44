//! The programs: one function per hook and subcommand, each taking parsed
//! arguments and returning an exit code. `src/bin/*` are shims over these.

pub mod bulletin;
pub mod cli;
pub mod completions;
pub mod dashboard;
pub mod doctor;
pub mod gc;
pub mod guard;
pub mod hooks;
pub mod http;
pub mod init;
pub mod install;
pub mod launch;
pub mod multicall;
pub mod post;
pub mod post_tool;
pub mod query;
pub mod runner;
pub mod scope;
pub mod shell_guard;
pub mod status;
pub mod sync;
pub mod who;

use std::io::Write;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for a usage error.
pub const EXIT_USAGE: i32 = 2;
/// Exit code for an error (printed once to stderr).
pub const EXIT_ERROR: i32 = 1;

/// Prints `program: message` to stderr.
pub fn eprint_error(program: &str, message: &str) {
    let _ = writeln!(std::io::stderr(), "{program}: {message}");
}

/// Whether an I/O error means the reader went away (`pool-query | head`).
pub fn is_broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
}

/// What is wrong with the pool folder `dir` for a command that reads it, and
/// how to fix it, in the one wording every command (and `pool doctor`)
/// uses; `None` when it is a folder. `from_env` says whether `POOL_DIR`
/// named it (a missing folder is then most likely a misspelling).
pub fn pool_dir_problem(dir: &std::path::Path, from_env: bool) -> Option<(String, String)> {
    let shown = dir.display();
    let named = if from_env {
        format!("POOL_DIR={shown}")
    } else {
        format!("the pool folder {shown}")
    };
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some((
            format!("{named} is a file, not a folder"),
            if from_env {
                "point POOL_DIR at a folder (or unset it for the default pool), or move the file away"
                    .to_string()
            } else {
                format!("move the file {shown} away; the next hook run creates the folder")
            },
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some((
            format!("{named} does not exist"),
            if from_env {
                format!(
                    "check the spelling of POOL_DIR (unset it for the default pool), or create it: mkdir -m 700 -p {shown}"
                )
            } else {
                "nothing is pooled yet: the first hook run (or pool post) creates it".to_string()
            },
        )),
        Err(e) => Some((
            format!("{named}: {e}"),
            "check the path and its permissions, or set POOL_DIR".to_string(),
        )),
    }
}

/// The pool folder named by the environment, for a command that only reads
/// it: fails, saying so and how to fix it, when it is missing or not a
/// folder (instead of reporting an empty pool).
pub fn existing_pool_dir() -> crate::error::Result<std::path::PathBuf> {
    let locator = crate::store::paths::Locator::from_env(None);
    let dir = locator.pool_dir()?;
    match pool_dir_problem(&dir, locator.pool_dir.is_some()) {
        None => Ok(dir),
        Some((problem, fix)) => Err(crate::error::Error::Invalid(format!("{problem}: {fix}"))),
    }
}
