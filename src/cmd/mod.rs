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
pub mod install;
pub mod launch;
pub mod post;
pub mod query;
pub mod runner;
pub mod status;
pub mod sync;
pub mod who;

use std::io::Write;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
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
