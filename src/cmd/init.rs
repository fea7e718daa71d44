//! `pool init`: opts the current repository into the pool by writing
//! [`INIT_FILE`] at its root, a small file meant to be committed, so every
//! clone and worktree takes part without `CLAUDE_INSTANCE`.

use crate::cmd::cli::InitArgs;
use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::env::repo::{self, INIT_FILE, NameFrom};
use crate::error::{Error, Result};

/// Mode of the file `pool init` writes: it is meant to be committed.
pub const INIT_FILE_MODE: u32 = 0o644;

/// Runs `pool init`; returns the exit code.
pub fn run(args: &InitArgs) -> i32 {
    match init(args) {
        Ok(text) => {
            print!("{text}");
            EXIT_OK
        }
        Err(e) => {
            eprint_error("pool init", &e.to_string());
            EXIT_ERROR
        }
    }
}

fn init(args: &InitArgs) -> Result<String> {
    let cwd = std::env::current_dir().map_err(|e| Error::io(".", e))?;
    let repo = repo::locate(&cwd);
    let name_from = if args.name_from.eq_ignore_ascii_case("branch") {
        NameFrom::Branch
    } else if args.name_from.eq_ignore_ascii_case("worktree") {
        NameFrom::Worktree
    } else {
        return Err(Error::Invalid(format!(
            "--name-from {:?}: use worktree or branch",
            args.name_from
        )));
    };
    let path = repo.root.join(INIT_FILE);
    let mut out = String::new();
    let name_from = match repo::read_init(&repo.root) {
        Some(existing) => {
            out.push_str(&format!(
                "{} already exists: this repository already takes part in the pool\n",
                path.display()
            ));
            existing.name_from
        }
        None => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            crate::store::fsio::atomic_write(
                &path,
                repo::init_file_text(name_from).as_bytes(),
                INIT_FILE_MODE,
            )?;
            out.push_str(&format!(
                "wrote {}: sessions in this repository now share the pool (commit it so clones and worktrees do too)\n",
                path.display()
            ));
            name_from
        }
    };
    let name = repo::default_instance(&repo, name_from).unwrap_or_else(|| "unknown".into());
    out.push_str(&format!(
        "repository: {} (from its {})\nsessions without CLAUDE_INSTANCE are named after the {} here: {name}\n",
        repo.id,
        repo.source.as_str(),
        match name_from {
            NameFrom::Worktree => "worktree's folder",
            NameFrom::Branch => "branch",
        },
    ));
    Ok(out)
}
