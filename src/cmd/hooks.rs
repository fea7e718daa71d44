//! Hook bodies: SessionStart prints the summary; Stop (and every later event
//! that carries a transcript) extracts blocks.

use std::ops::ControlFlow;

use crate::error::Result;
use crate::extract::{self, Job};
use crate::hook::{self, Ctx};
use crate::relevance::{Domain, keep};
use crate::render::{self, Summary};
use crate::store::{DEFAULT_TTL, Pool};

/// Most kept entries held for rendering.
const RENDER_ROOM: usize = 200;

/// `pool-stop`: reads the hook event on stdin and extracts new blocks.
pub fn stop_main() -> i32 {
    hook::run("pool-stop", stop_body)
}

/// `pool-session-start`: catches up extraction (resume, compact, fork) and
/// prints the session-start summary.
pub fn session_start_main() -> i32 {
    hook::run("pool-session-start", session_start_body)
}

fn catch_up(ctx: &Ctx, program: &str) -> Result<Pool> {
    let pool = Pool::open(ctx.pool_dir.clone())?;
    let wants_extraction =
        ctx.input.transcript_path.is_some() || ctx.input.last_assistant_message.is_some();
    if wants_extraction {
        let host = extract::host_name();
        let job = Job {
            input: &ctx.input,
            settings: &ctx.settings,
            now: ctx.now,
            host: &host,
        };
        match extract::extract(&pool, &job) {
            Ok(report) => {
                for w in &report.warnings {
                    hook::report(pool.dir(), program, w);
                }
            }
            Err(e) => hook::report(pool.dir(), program, &e.to_string()),
        }
    }
    Ok(pool)
}

fn stop_body(ctx: &Ctx) -> Result<Option<String>> {
    let pool = catch_up(ctx, "pool-stop")?;
    if let Err(e) = crate::cmd::gc::maybe_archive_in_background(&pool, ctx.now) {
        hook::report(pool.dir(), "pool-stop", &format!("background archive: {e}"));
    }
    Ok(None)
}

fn session_start_body(ctx: &Ctx) -> Result<Option<String>> {
    let pool = catch_up(ctx, "pool-session-start")?;
    let summary = collect(&pool, ctx)?;
    Ok(Some(render::session_start(
        &summary,
        &ctx.settings,
        ctx.now,
    )))
}

/// Gathers the entries this session is shown, newest first.
pub fn collect(pool: &Pool, ctx: &Ctx) -> Result<Summary> {
    let domain = Domain::new(&ctx.settings.domain);
    let horizon = ctx.settings.ttl.max(DEFAULT_TTL);
    let mut summary = Summary::default();
    let mut seen = std::collections::HashSet::new();
    pool.scan_recent(ctx.now, horizon, |e| {
        if let Some(k) = keep(&e, &ctx.settings, &domain, ctx.now)
            && seen.insert(e.id.to_string())
        {
            summary.add(e.into_owned(), k, RENDER_ROOM);
        }
        ControlFlow::Continue(())
    })?;
    summary
        .entries
        .sort_by_key(|e| std::cmp::Reverse(e.0.timestamp));
    Ok(summary)
}
