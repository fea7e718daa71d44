//! `pool who <path>`: who claimed or recently edited a path.

use crate::cmd::{EXIT_ERROR, EXIT_OK, eprint_error};
use crate::coord::claims::{self, RECENT_EDIT, path_matches};
use crate::env::config::{self, Config, ProcessEnv};
use crate::error::Result;
use crate::store::entry::format_age;
use crate::store::log::Pool;
use crate::store::paths::Locator;
use crate::view::render::clean;

/// Prints open claims covering `path` and recent edits of it; exit code.
pub fn run(path: &str) -> i32 {
    match who(path) {
        Ok(lines) if lines.is_empty() => {
            println!("nobody claimed or recently edited {path}");
            EXIT_OK
        }
        Ok(lines) => {
            for l in lines {
                println!("{l}");
            }
            EXIT_OK
        }
        Err(e) => {
            eprint_error("pool who", &e.to_string());
            EXIT_ERROR
        }
    }
}

fn who(path: &str) -> Result<Vec<String>> {
    let dir = Locator::from_env(None).pool_dir()?;
    let pool = Pool::open_readonly(dir.clone());
    let (settings, _) = Config::from_env(
        &ProcessEnv,
        &config::load_config_file(&dir).unwrap_or_default(),
    );
    let target = std::path::absolute(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string());
    let now = chrono::Utc::now().timestamp();
    let mut out = Vec::new();
    for c in claims::open_claims(&pool, now, settings.ttl)? {
        if let Some(p) = c.patterns.iter().find(|p| path_matches(p, &c.cwd, &target)) {
            out.push(format!(
                "{:>4} ago  {} claimed {}: \"{}\" (id {})",
                format_age(now - c.timestamp),
                clean(&c.instance, 32),
                clean(p, 200),
                clean(&c.topic, 120),
                c.id
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for e in claims::recent_edits(&dir, now - RECENT_EDIT)? {
        if (e.path == target || path_matches(&target, "", &e.path))
            && seen.insert((e.instance.clone(), e.path.clone()))
        {
            out.push(format!(
                "{:>4} ago  {} edited {}",
                format_age(now - e.timestamp),
                clean(&e.instance, 32),
                clean(&e.path, 200)
            ));
        }
    }
    Ok(out)
}
