//! claude-pool: Claude Code hooks that let parallel sessions ("instances")
//! share what each completed, claimed, is blocked on or discovered.
//!
//! The Stop hook moves fenced `pool` blocks from the assistant's text into an
//! append-only log exactly once; the SessionStart hook shows each new session
//! the recent, relevant part of that log; `pool-query` shows it in a terminal.
//! The binaries in `src/bin` are thin shims over [`cmd`].
//!
//! The folders are layers, lowest first; a module imports only from its own
//! layer or lower ones:
//!
//! | layer | owns |
//! | --- | --- |
//! | [`error`] | the typed error every layer returns |
//! | [`store`] | entry schema, the log, atomic file I/O, where files live |
//! | [`env`](mod@env) | environment variables, `config.json`, the host |
//! | [`agent`] | the agent's formats: hook protocol, transcript, cursor, block, settings file |
//! | [`coord`] | extraction, claims, handoffs, news, presence, relevance |
//! | [`view`], [`sync`] | what is shown (injected text, dashboard); replication |
//! | [`cmd`] | the programs: argument surface, hook bodies, subcommands, I/O |

#![deny(clippy::unwrap_used, clippy::expect_used)]
#![warn(missing_docs)]

pub mod agent;
pub mod cmd;
pub mod coord;
pub mod env;
pub mod error;
pub mod store;
pub mod sync;
pub mod view;

pub use error::{Error, Result};

/// Entry point of the `pool` umbrella command.
pub fn pool_main() -> i32 {
    use clap::Parser;
    if let Some(code) = cmd::multicall::dispatch() {
        return code;
    }
    let cli = cmd::cli::PoolCli::parse();
    match cli.command {
        cmd::cli::PoolCommand::Query(args) => cmd::query::run("pool query", &args),
        cmd::cli::PoolCommand::Post(args) => cmd::post::run(&args),
        cmd::cli::PoolCommand::Ack { id, instance } => cmd::post::ack(&id, instance.as_deref()),
        cmd::cli::PoolCommand::Release {
            id,
            force,
            instance,
        } => cmd::post::release(&id, force, instance.as_deref()),
        cmd::cli::PoolCommand::Who {
            path,
            all_repos,
            limit,
        } => cmd::who::run(&path, all_repos, limit),
        cmd::cli::PoolCommand::Init(args) => cmd::init::run(&args),
        cmd::cli::PoolCommand::Gc { older_than, quiet } => cmd::gc::run(older_than, quiet),
        cmd::cli::PoolCommand::Status(args) => cmd::status::run(&args),
        cmd::cli::PoolCommand::Bulletin(args) => cmd::bulletin::run(&args),
        cmd::cli::PoolCommand::Install(args) => cmd::install::install_main(&args),
        cmd::cli::PoolCommand::Uninstall(args) => cmd::install::uninstall_main(&args),
        cmd::cli::PoolCommand::Doctor(args) => cmd::doctor::run(&args),
        cmd::cli::PoolCommand::Completions(args) => cmd::completions::run(&args),
        cmd::cli::PoolCommand::CompleteNames { kind } => cmd::completions::names(&kind),
        cmd::cli::PoolCommand::Dashboard(args) => cmd::dashboard::run(&args),
        cmd::cli::PoolCommand::Launch(args) => cmd::launch::run(&args),
        cmd::cli::PoolCommand::Sync(args) => cmd::sync::run(&args),
        cmd::cli::PoolCommand::Stop => cmd::hooks::stop_main(),
        cmd::cli::PoolCommand::SessionStart => cmd::hooks::session_start_main(),
    }
}

/// Entry point of `pool-query`.
pub fn query_main() -> i32 {
    use clap::Parser;
    let cli = cmd::cli::QueryCli::parse();
    cmd::query::run("pool-query", &cli.args)
}
