//! Which repositories a terminal command shows: the `--all-repos` and
//! `--repo NAME` flags, resolved against the current folder's repository
//! and `config.json`'s shared scopes.

use clap::Args;

use crate::env::config::ConfigFile;
use crate::env::repo::{self, Scope};
use crate::error::{Error, Result};

/// Which repositories a terminal command shows; by default the one the
/// current folder is in (with the shared scopes of `config.json` that list it).
#[derive(Debug, Clone, Default, Args)]
pub struct ScopeArgs {
    /// Show every repository's entries.
    #[arg(long, conflicts_with = "repo")]
    pub all_repos: bool,
    /// Show this repository's entries: an id (github.com/owner/name), its
    /// tail (owner/name, name) or a shared scope's name from config.json.
    #[arg(long, value_name = "NAME")]
    pub repo: Option<String>,
}

/// The scope a terminal command shows: `--all-repos`, `--repo NAME`, else
/// the repository of the current folder (with its shared scopes).
pub fn scope_from_args(file: &ConfigFile, args: &ScopeArgs) -> Result<Scope> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    Ok(file.scope_for(&repo::locate(&cwd), args.all_repos, args.repo.as_deref()))
}
