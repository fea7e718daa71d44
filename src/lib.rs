//! claude-pool: Claude Code hooks that let parallel sessions ("instances")
//! share what each completed, claimed, is blocked on or discovered.
//!
//! The Stop hook moves fenced `pool` blocks from the assistant's text into an
//! append-only log exactly once; the SessionStart hook shows each new session
//! the recent, relevant part of that log; `pool-query` shows it in a terminal.
//! The binaries in `src/bin` are thin shims over [`cmd`].

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![warn(missing_docs)]

pub mod block;
pub mod brief;
pub mod claims;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod cursor;
pub mod dashboard;
pub mod entry;
pub mod error;
pub mod extract;
pub mod fsio;
pub mod handoffs;
pub mod hook;
pub mod news;
pub mod paths;
pub mod presence;
pub mod relevance;
pub mod render;
pub mod settings;
pub mod store;
pub mod sync;
pub mod transcript;

pub use error::{Error, Result};

/// Entry point of the `pool` umbrella command.
pub fn pool_main() -> i32 {
    use clap::Parser;
    let cli = cli::PoolCli::parse();
    match cli.command {
        cli::PoolCommand::Query(args) => cmd::query::run("pool query", &args),
        cli::PoolCommand::Post(args) => cmd::post::run(&args),
        cli::PoolCommand::Ack { id, instance } => cmd::post::ack(&id, instance.as_deref()),
        cli::PoolCommand::Who { path } => cmd::who::run(&path),
        cli::PoolCommand::Gc { older_than, quiet } => cmd::gc::run(older_than, quiet),
        cli::PoolCommand::Status(args) => cmd::status::run(&args),
        cli::PoolCommand::Bulletin(args) => cmd::bulletin::run(&args),
        cli::PoolCommand::Install(args) => cmd::install::install_main(&args),
        cli::PoolCommand::Uninstall(args) => cmd::install::uninstall_main(&args),
        cli::PoolCommand::Doctor(args) => cmd::doctor::run(&args),
        cli::PoolCommand::Completions(args) => cmd::completions::run(&args),
        cli::PoolCommand::Dashboard(args) => cmd::dashboard::run(&args),
        cli::PoolCommand::Launch(args) => cmd::launch::run(&args),
        cli::PoolCommand::Sync(args) => cmd::sync::run(&args),
        cli::PoolCommand::Stop => cmd::hooks::stop_main(),
        cli::PoolCommand::SessionStart => cmd::hooks::session_start_main(),
    }
}

/// Entry point of `pool-query`.
pub fn query_main() -> i32 {
    use clap::Parser;
    let cli = cli::QueryCli::parse();
    cmd::query::run("pool-query", &cli.args)
}
