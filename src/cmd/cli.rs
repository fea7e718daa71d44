//! The command-line surface: `pool` and its subcommands, and `pool-query`,
//! whose flags the umbrella's `pool query` shares.

use clap::{Args, Parser, Subcommand};

/// Environment variables, listed in every `--help`.
pub const ENV_HELP: &str = "\
Environment:
  CLAUDE_INSTANCE          this session's instance name (A, B, DEV…); a session
                           takes part when it is set or its repository ran
                           `pool init`; other sessions' hooks do nothing
  CLAUDE_INSTANCE_DOMAIN   comma-separated domain keywords (else config.json)
  POOL_DIR                 pool folder (else $CLAUDE_CONFIG_DIR/pool, else
                           ~/.claude/pool; never a folder a repository ships)
  POOL_TTL                 lifetime of entries without their own TTL (default 1h)
  POOL_RELEVANCE_MIN       minimum relevance to show others' entries (default 0.3)
  POOL_COMPACT=0           full session-start summary
  POOL_REMINDER=0          no reminder of how to write a pool block
  POOL_HOOK_TIMEOUT        wall-clock budget of one hook run (default 5s)
  POOL_SYNC_URL            redis://HOST:6379 to share the pool across machines
                           (else config.json's sync.url; pool sync)
  POOL_SYNC_STREAM         stream name (default claude-pool)
  POOL_SYNC_PEERS          other writers' streams to pull, comma-separated
  POOL_SYNC_PASSWORD       its password (or POOL_SYNC_PASSWORD_FILE: a file)
  POOL_SYNC_TIMEOUT        connect/read/write timeout of pool sync (default 2s)
  POOL_SYNC_BATCH          entries per pushed batch and per read (default 200)";

/// `pool`: share what parallel Claude Code sessions did.
#[derive(Debug, Parser)]
#[command(name = "pool", version, about = "Share what parallel Claude Code sessions completed, claimed, are blocked on or discovered.", after_help = ENV_HELP)]
pub struct PoolCli {
    /// What to do.
    #[command(subcommand)]
    pub command: PoolCommand,
}

/// The `pool` subcommands.
#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// List pool entries (same flags as `pool-query`).
    Query(QueryArgs),
    /// Post an entry from a terminal.
    Post(PostArgs),
    /// Acknowledge a handoff (posts an entry with `REF: <id>`).
    Ack {
        /// Id of the handoff.
        id: String,
        /// Acknowledge as this instance (default: $CLAUDE_INSTANCE; refused
        /// when CLAUDE_INSTANCE names another).
        #[arg(long)]
        instance: Option<String>,
    },
    /// Release a claim: your own, or with --force another instance's (recorded as forced).
    Release {
        /// Id of the claim.
        id: String,
        /// Release another instance's claim, as a person deciding so; the
        /// entry is recorded with origin "forced".
        #[arg(long)]
        force: bool,
        /// Release as this instance (default: $CLAUDE_INSTANCE; refused when
        /// CLAUDE_INSTANCE names another).
        #[arg(long)]
        instance: Option<String>,
    },
    /// Who claimed or recently edited a path (in this repository and its worktrees).
    Who {
        /// A file or folder path.
        path: String,
        /// The same path in every repository of the pool.
        #[arg(long)]
        all_repos: bool,
        /// List up to N claims and N edits (the rest are counted).
        #[arg(long, value_name = "N", default_value_t = crate::cmd::who::LIMIT,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        limit: usize,
    },
    /// Opt this repository into the pool: writes .claude/pool.json (commit it).
    Init(InitArgs),
    /// Who is active: each instance's sessions, worktree and branch, claims, handoffs and last entry.
    Status(crate::cmd::status::StatusArgs),
    /// Print a Markdown bulletin of the last hour's activity and pending handoffs.
    Bulletin(crate::cmd::bulletin::BulletinArgs),
    /// Archive expired entries into archive/instance_state-YYYY-MM.jsonl.
    Gc {
        /// Archive entries that expired and are older than this.
        #[arg(long, default_value = "7d", value_parser = parse_dur)]
        older_than: u64,
        /// Print nothing on success.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Register the pool hooks in Claude Code's settings.json.
    Install(InstallArgs),
    /// Remove the pool hooks from Claude Code's settings.json.
    Uninstall(InstallArgs),
    /// Check binaries, hook registration and the pool folder; say how to fix problems.
    Doctor(DoctorArgs),
    /// Print a shell completion script for pool and pool-query (with instance
    /// names and handoff ids completed from the pool).
    Completions(CompletionsArgs),
    /// Serve a live web dashboard of the pool on 127.0.0.1 (prints its URL).
    Dashboard(DashboardArgs),
    /// Start instances in one tmux session, one window each (--stop ends it).
    Launch(LaunchArgs),
    /// Exchange entries with other machines through a Redis stream (see docs/sync.md).
    Sync(crate::cmd::sync::SyncArgs),
    /// Print completion candidates, one a line (`instances` or `handoffs`):
    /// what the completion scripts call for dynamic values.
    #[command(hide = true, name = "complete-names")]
    CompleteNames {
        /// `instances` or `handoffs`.
        kind: String,
    },
    /// Run the Stop hook (reads the hook event on stdin).
    #[command(hide = true)]
    Stop,
    /// Run the SessionStart hook (reads the hook event on stdin).
    #[command(hide = true, name = "session-start")]
    SessionStart,
}

/// `pool-query`: list pool entries in a terminal.
#[derive(Debug, Parser)]
#[command(name = "pool-query", version, about = "List pool entries, newest first.", after_help = ENV_HELP)]
pub struct QueryCli {
    /// Filters and output format.
    #[command(flatten)]
    pub args: QueryArgs,
}

/// Filters and output of a query.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Only entries newer than this (5m, 1h, 2d).
    #[arg(long, default_value = "24h", value_parser = parse_dur)]
    pub since: u64,
    /// Only entries from this instance.
    #[arg(long)]
    pub instance: Option<String>,
    /// Only entries with this action (completed, blocked, claimed, signaling, …).
    #[arg(long)]
    pub action: Option<String>,
    /// Only entries addressed to this instance (handoffs: `pool post --to`, `TO:`).
    #[arg(long, value_name = "INSTANCE")]
    pub to: Option<String>,
    /// Only entries whose topic, summary, affects or unblocks contain TEXT (ignoring case).
    #[arg(long, value_name = "TEXT")]
    pub grep: Option<String>,
    /// Show summary, affects, unblocks, id, session and host.
    #[arg(long, short)]
    pub verbose: bool,
    /// Show long text whole (by default it is cut, saying how much is left out).
    #[arg(long)]
    pub full: bool,
    /// Print entries as JSON Lines.
    #[arg(long)]
    pub json: bool,
    /// Print only the number of matching entries.
    #[arg(long)]
    pub count: bool,
    /// Most entries to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Include expired entries (ignore TTL).
    #[arg(long)]
    pub all: bool,
    /// After listing, keep printing new entries as they are appended.
    #[arg(long, short)]
    pub follow: bool,
    /// Which repositories' entries to show (default: this one).
    #[command(flatten)]
    pub scope: crate::cmd::scope::ScopeArgs,
}

/// Flags of `pool init`.
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// How sessions without CLAUDE_INSTANCE are named: after the worktree's
    /// folder, or after the checked-out branch.
    #[arg(long, default_value = "worktree", value_parser = ["worktree", "branch"])]
    pub name_from: String,
}

/// An entry to post.
#[derive(Debug, Clone, Args)]
pub struct PostArgs {
    /// completed, blocked, claimed, signaling (or a synonym).
    #[arg(long, default_value = "signaling")]
    pub action: String,
    /// One-line subject.
    #[arg(long)]
    pub topic: Option<String>,
    /// Free text.
    #[arg(long)]
    pub summary: Option<String>,
    /// Paths or areas touched.
    #[arg(long)]
    pub affects: Option<String>,
    /// What this unblocks.
    #[arg(long)]
    pub blocks: Option<String>,
    /// Lifetime (30m, 4h, 7d).
    #[arg(long, value_parser = parse_dur)]
    pub ttl: Option<u64>,
    /// Address the entry to one instance.
    #[arg(long)]
    pub to: Option<String>,
    /// Id of an entry this one answers.
    #[arg(long = "ref")]
    pub reference: Option<String>,
    /// `critical` reaches every instance.
    #[arg(long)]
    pub priority: Option<String>,
    /// Post as this instance (default: $CLAUDE_INSTANCE; refused when
    /// CLAUDE_INSTANCE names another).
    #[arg(long)]
    pub instance: Option<String>,
}

/// Which settings file `pool install` / `pool uninstall` edit, and how.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// Edit the project's .claude/settings.json (under the current folder)
    /// instead of $CLAUDE_CONFIG_DIR/settings.json (else ~/.claude/settings.json).
    #[arg(long, conflicts_with = "codex")]
    pub project: bool,
    /// Register the hooks for the Codex CLI instead: $CODEX_HOME/hooks.json
    /// (else ~/.codex/hooks.json), and mark them trusted in its config.toml.
    #[arg(long)]
    pub codex: bool,
    /// Print the change as a diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Output of `pool doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// First move unparseable log lines to quarantine.jsonl (atomic rewrite, nothing dropped).
    #[arg(long)]
    pub repair: bool,
    /// Check every line of the log, however long it takes (by default the
    /// check of a large log stops after a few seconds, newest lines first,
    /// and says how far it got).
    #[arg(long)]
    pub full: bool,
}

/// The shell `pool completions` writes for.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Flags of `pool dashboard`.
#[derive(Debug, Clone, Args)]
pub struct DashboardArgs {
    /// Port on 127.0.0.1 (0: the last run's port if free, else any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Also answer requests that name this host (an SSH or editor
    /// port-forward): `devbox`, `devbox:9000` or `http://devbox:9000`, on any
    /// port; repeatable.
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Open the page in the browser ($BROWSER, else xdg-open or open).
    #[arg(long)]
    pub open: bool,
    /// Make a new token (open tabs must use the new URL).
    #[arg(long)]
    pub rotate_token: bool,
}

/// Flags of `pool launch`.
#[derive(Debug, Clone, Args)]
pub struct LaunchArgs {
    /// Instances to start (default: those in config.json).
    pub instances: Vec<String>,
    /// Give each instance its own git worktree `../<repo>-<instance>` on
    /// branch `pool/<instance>` (an existing one is reused).
    #[arg(long)]
    pub worktrees: bool,
    /// Command each window runs (through the shell).
    #[arg(long, default_value = "claude")]
    pub command: String,
    /// Name of the tmux session.
    #[arg(long, default_value = "pool")]
    pub session: String,
    /// End the session instead of starting one.
    #[arg(long, conflicts_with_all = ["instances", "worktrees"])]
    pub stop: bool,
    /// With --stop: also remove the worktrees and branches this session's
    /// launch created (refusing any with uncommitted or unmerged work).
    #[arg(long, requires = "stop")]
    pub clean: bool,
    /// tmux server socket name (tmux -L); default: tmux's own.
    #[arg(long, short = 'L')]
    pub socket: Option<String>,
}

fn parse_dur(s: &str) -> Result<u64, String> {
    crate::store::entry::parse_duration(s)
        .ok_or_else(|| format!("{s:?} is not a duration like 30m, 4h or 2d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clis_are_well_formed() {
        PoolCli::command().debug_assert();
        QueryCli::command().debug_assert();
        let q = QueryCli::parse_from([
            "pool-query",
            "--since",
            "5m",
            "--instance",
            "A",
            "--json",
            "--limit",
            "3",
        ]);
        assert_eq!(q.args.since, 300);
        assert_eq!(q.args.limit, 3);
        assert!(QueryCli::try_parse_from(["pool-query", "--since", "soon"]).is_err());
    }
}
