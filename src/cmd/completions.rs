//! `pool completions SHELL`: prints a completion script for `pool`.

use std::io::Write;

use clap::CommandFactory;

use crate::cmd::cli::{CompletionsArgs, PoolCli};
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error, is_broken_pipe};

/// Prints the script for the shell asked for. Returns the exit code.
pub fn run(args: &CompletionsArgs) -> i32 {
    // Generated into memory first: clap_complete panics on a failed write,
    // and a closed pipe (`pool completions bash | head`) is not an error.
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut PoolCli::command(), "pool", &mut buf);
    match std::io::stdout().write_all(&buf) {
        Ok(()) => EXIT_OK,
        Err(e) if is_broken_pipe(&e) => EXIT_OK,
        Err(e) => {
            eprint_error("pool completions", &e.to_string());
            EXIT_ERROR
        }
    }
}
