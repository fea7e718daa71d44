//! `pool who <path>`: who claimed or recently edited a path, or anything
//! inside a folder, in this repository (every worktree of it), or with
//! `--all-repos` the same path in every repository.
//!
//! Bounded at any pool size (issue 24): a file of this repository is looked
//! up in the guard's index, as the guard checks it; for a folder or
//! `--all-repos`, claims are visited one at a time and
//! at most `--limit` claims and `--limit` edits are listed (default
//! [`LIMIT`]); the rest are counted in a last line, `… and 12 more claims
//! (pool who --limit N)`.

use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use std::path::Path;

use crate::coord::claims::{self, RECENT_EDIT};
use crate::coord::guard_index;
use crate::env::config::{self, Config, ProcessEnv};
use crate::env::repo::{self, Repo, Scope};
use crate::error::Result;
use crate::store::entry::format_age;
use crate::store::log::Pool;
use crate::view::neutral::{self, clean};

/// Claims and edits listed by default (`--limit`), each.
pub const LIMIT: usize = 20;
/// Most names on the `CONFLICT:` line.
pub const MAX_CLAIMERS: usize = 10;
/// Most entries read from the log (and as many from the long-TTL index):
/// past them `pool who` says how far back it read.
pub const MAX_ENTRIES_READ: usize = 200_000;

/// What [`who`] found: the lines to print, and how many it left out.
struct Found {
    lines: Vec<String>,
    more_claims: usize,
    more_edits: usize,
    /// When the log was read back to, when [`MAX_ENTRIES_READ`] cut it short.
    read_back_to: Option<i64>,
    /// What the guard's index left out, in words (its bounds).
    left_out: Vec<String>,
}

impl Found {
    fn total(&self) -> usize {
        self.lines.len() + self.more_claims + self.more_edits
    }
}

/// Prints open claims covering `path` and recent edits of it, at most
/// `limit` of each; exit code.
pub fn run(path: &str, all_repos: bool, limit: usize) -> i32 {
    match who(path, all_repos, limit) {
        Ok(found) if found.total() == 0 => {
            let mut msg = format!("nobody claimed or recently edited {path}");
            if !all_repos {
                msg.push_str(" in this repository");
            }
            for l in &found.left_out {
                msg.push_str(&format!("\nbusy pool: {l}"));
            }
            // Say what the scope hides, and how to see it (not when the
            // index left claims out: those could be this repository's).
            if !all_repos && found.left_out.is_empty() {
                let elsewhere = who(path, true, limit).map(|f| f.total()).unwrap_or(0);
                if elsewhere > 0 {
                    let s = if elsewhere == 1 { "" } else { "s" };
                    msg.push_str(&format!(
                        "\n{elsewhere} claim{s} or edit{s} of it in other repositories: pool who --all-repos {path}"
                    ));
                }
            }
            println!("{}", neutral::document(&msg));
            EXIT_OK
        }
        Ok(found) => {
            for l in &found.lines {
                println!("{}", neutral::document(l));
            }
            let n =
                |k: usize, what: &str| format!("{k} more {what}{}", if k == 1 { "" } else { "s" });
            let more = match (found.more_claims, found.more_edits) {
                (0, 0) => None,
                (c, 0) => Some(n(c, "claim")),
                (0, e) => Some(n(e, "edit")),
                (c, e) => Some(format!("{} and {}", n(c, "claim"), n(e, "edit"))),
            };
            if let Some(m) = more {
                println!("… and {m} (pool who --limit N)");
            }
            if let Some(t) = found.read_back_to {
                let age = format_age(chrono::Utc::now().timestamp() - t);
                println!("busy pool: claims read back to {age} ago only; older ones not looked at");
            }
            for l in &found.left_out {
                println!("busy pool: {}", neutral::document(l));
            }
            EXIT_OK
        }
        Err(e) => {
            eprint_error("pool who", &e.to_string());
            EXIT_ERROR
        }
    }
}

fn who(path: &str, all_repos: bool, limit: usize) -> Result<Found> {
    let dir = crate::cmd::existing_pool_dir()?;
    let pool = Pool::open_readonly(dir.clone());
    let (settings, _) = Config::from_env(
        &ProcessEnv,
        &config::load_config_file(&dir).unwrap_or_default(),
    );
    let cwd = std::env::current_dir().map_err(|e| crate::Error::io(".", e))?;
    let here = repo::locate(&cwd);
    // Resolved as the guard resolves what it records (`env::spelling`).
    let target = std::path::absolute(path)
        .map(|p| crate::env::spelling::resolve_folder(&p.to_string_lossy()))
        .unwrap_or_else(|_| path.to_string());
    // With --all-repos, the same path relative to the root of every repository.
    let as_if = |id: &str| Repo {
        id: if all_repos {
            id.to_string()
        } else {
            here.id.clone()
        },
        ..here.clone()
    };
    let scope = if all_repos {
        Scope::All
    } else {
        Scope::repo_only(&here)
    };
    let now = chrono::Utc::now().timestamp();
    let mut out = Vec::new();
    let (mut more_claims, mut more_edits) = (0, 0);
    let mut claimers: Vec<String> = Vec::new();
    let mut more_claimers = 0usize;
    let mut visit = |c: claims::Claim| {
        let covers = claims::claim_covers(&c, &target, &as_if(&c.repo));
        // Claims that cover the path itself overlap; two inside a folder need not.
        if covers.is_some() && !claimers.iter().any(|n| n.eq_ignore_ascii_case(&c.instance)) {
            if claimers.len() < MAX_CLAIMERS {
                claimers.push(clean(&c.instance, 32));
            } else {
                more_claimers += 1;
            }
        }
        if let Some(p) = covers.or_else(|| {
            c.patterns
                .iter()
                .map(String::as_str)
                .find(|p| inside(&target, p, &c.cwd))
        }) {
            if out.len() >= limit {
                more_claims += 1;
                return;
            }
            out.push(format!(
                "{:>4} ago  {} claimed {}: \"{}\" (id {}){}",
                format_age(now - c.timestamp),
                clean(&c.instance, 32),
                clean(p, 200),
                clean(&c.topic, 120),
                clean(&c.id, 64),
                repo_note(all_repos, &c.repo)
            ));
        }
    };
    // A file of this repository is looked up in the guard's index
    // (`coord/guard_index.rs`), as the guard checks it, so the answer costs
    // what concerns the file, not the team's window (issue 24); a folder, or
    // every repository, needs every claim and edit.
    let (recent, read_back_to, left_out) = if !all_repos && !Path::new(&target).is_dir() {
        let found = guard_index::lookup(
            &pool,
            now,
            settings.ttl,
            &here,
            std::slice::from_ref(&target),
        )?;
        found.claims.into_iter().for_each(&mut visit);
        (found.edits, None, found.left_out)
    } else {
        let read_back_to =
            claims::each_open_claim_in(&pool, now, settings.ttl, &scope, MAX_ENTRIES_READ, visit)?;
        let recent = claims::recent_edits(&dir, now - RECENT_EDIT)?;
        (recent, read_back_to, Vec::new())
    };
    if more_claimers > 0 {
        claimers.push(format!("{more_claimers} more"));
    }
    let conflict = conflict_line(&claimers, path);
    let mut seen = std::collections::HashSet::new();
    let mut edits = 0;
    for e in &recent {
        if e.is_under(&target, &as_if(&e.repo))
            && (all_repos || e.repo.is_empty() || e.repo == here.id)
            && !seen.contains(&(e.instance.as_str(), e.path.as_str()))
        {
            if edits >= limit {
                // Counted once per instance and file, like the lines.
                if seen.len() < limit.saturating_mul(64) {
                    seen.insert((e.instance.as_str(), e.path.as_str()));
                }
                more_edits += 1;
                continue;
            }
            edits += 1;
            seen.insert((e.instance.as_str(), e.path.as_str()));
            out.push(format!(
                "{:>4} ago  {} edited {}{}",
                format_age(now - e.timestamp),
                clean(&e.instance, 32),
                clean(e.shown_path(), 200),
                repo_note(all_repos, &e.repo)
            ));
        }
    }
    if let Some(line) = conflict {
        out.insert(0, line);
    }
    Ok(Found {
        lines: out,
        more_claims,
        more_edits,
        read_back_to,
        left_out,
    })
}

/// The line for two or more instances holding live claims on `path`:
/// `CONFLICT: WEB and API both claim src/x.rs`; `None` for fewer.
pub fn conflict_line(claimers: &[String], path: &str) -> Option<String> {
    match claimers {
        [] | [_] => None,
        [a, b] => Some(format!(
            "CONFLICT: {a} and {b} both claim {}",
            clean(path, 200)
        )),
        [rest @ .., last] => Some(format!(
            "CONFLICT: {} and {last} all claim {}",
            rest.join(", "),
            clean(path, 200)
        )),
    }
}

/// Whether a claim pattern (relative to `cwd`, or absolute) names something
/// inside `folder`: its literal part (up to the first component with a glob
/// character) is under the folder; a relative pattern also when it starts
/// with a tail of the folder's path (`src/auth/x.rs` is inside `/w/app/src`),
/// as claims match across worktrees.
pub fn inside(folder: &str, pattern: &str, cwd: &str) -> bool {
    let folder = folder.trim_end_matches('/');
    let pattern = pattern.trim_start_matches("./");
    let lit: Vec<&str> = pattern
        .split('/')
        .take_while(|c| !c.contains(['*', '?', '[']))
        .collect();
    let lit = lit.join("/");
    let lit = lit.trim_end_matches('/');
    if lit.is_empty() && !pattern.starts_with('/') {
        return false;
    }
    let under = |base: &str, p: &str| p == base || p.starts_with(&format!("{base}/"));
    if pattern.starts_with('/') {
        return under(folder, lit);
    }
    if !cwd.is_empty() && under(folder, &format!("{}/{lit}", cwd.trim_end_matches('/'))) {
        return true;
    }
    let mut tail = folder;
    while let Some(i) = tail.find('/') {
        tail = &tail[i + 1..];
        if !tail.is_empty() && under(tail, lit) {
            return true;
        }
    }
    false
}

fn repo_note(all_repos: bool, repo: &str) -> String {
    if all_repos && !repo.is_empty() {
        format!(" [{}]", clean(repo, 120))
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::inside;

    #[test]
    fn claims_inside_a_folder() {
        assert!(inside("/w/app/src", "src/auth.rs", ""));
        assert!(inside("/w/app/src", "src/db/**/*.rs", "/other"));
        assert!(inside("/w/app/src", "auth.rs", "/w/app/src"));
        assert!(inside("/w/app/src/", "/w/app/src/x.rs", ""));
        assert!(inside("/w/app", "src/x.rs", "/w/app"));
        assert!(!inside("/w/app/src", "docs/x.md", "/w/app"));
        assert!(!inside("/w/app/src", "srcx/a.rs", ""));
        assert!(!inside("/w/app/src", "**/*.rs", ""));
        assert!(!inside("/w/app/src", "/w/app/srcx", ""));
    }
}
