//! Hook bodies: SessionStart prints the summary; Stop (and every later event
//! that carries a transcript) extracts blocks.

use std::ops::ControlFlow;

use crate::agent::hook::{self, Ctx};
use crate::coord::extract::{self, Job};
use crate::coord::handoffs::{AckTracker, is_knowledge};
use crate::coord::news;
use crate::coord::relevance::{Domain, keep};
use crate::error::Result;
use crate::store::entry::Entry;
use crate::store::log::{DEFAULT_TTL, Pool};
use crate::view::render::{self, Summary};

/// Most kept entries held for rendering.
const RENDER_ROOM: usize = 200;

/// `pool-stop`: reads the hook event on stdin and extracts new blocks.
pub fn stop_main() -> i32 {
    crate::cmd::runner::run("pool-stop", stop_body)
}

/// `pool-session-start`: catches up extraction (resume, compact, fork) and
/// prints the session-start summary.
pub fn session_start_main() -> i32 {
    crate::cmd::runner::run("pool-session-start", session_start_body)
}

fn catch_up(ctx: &Ctx, program: &str) -> Result<Pool> {
    let pool = Pool::open(ctx.pool_dir.clone())?;
    let wants_extraction =
        ctx.input.transcript_path.is_some() || ctx.input.last_assistant_message.is_some();
    if wants_extraction {
        let host = crate::env::host::host_name();
        let job = Job {
            input: &ctx.input,
            settings: &ctx.config,
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
    let env = crate::env::config::ProcessEnv;
    if let Err(e) = crate::sync::maybe_sync_in_background(&env, pool.dir(), ctx.now) {
        hook::report(pool.dir(), "pool-stop", &format!("background sync: {e}"));
    }
    Ok(None)
}

/// `pool-prompt` (UserPromptSubmit): catches up extraction of the previous
/// turn, then adds pending handoffs and the news since the last prompt.
pub fn prompt_main() -> i32 {
    crate::cmd::runner::run("pool-prompt", prompt_body)
}

/// `pool-guard` (PreToolUse on Edit, Write, MultiEdit, NotebookEdit): records
/// the edit and warns when another live instance claimed or recently edited
/// the file (`POOL_CLAIMS=ask` asks the user instead).
pub fn guard_main() -> i32 {
    crate::cmd::runner::run("pool-guard", crate::cmd::guard::guard_body)
}

fn session_key(ctx: &Ctx) -> &str {
    if ctx.input.session_id.is_empty() {
        "unknown"
    } else {
        &ctx.input.session_id
    }
}

fn prompt_body(ctx: &Ctx) -> Result<Option<String>> {
    let pool = catch_up(ctx, "pool-prompt")?;
    let me = ctx.config.instance.as_deref();
    let session = session_key(ctx);
    let Some(mark) = news::load_mark(pool.dir(), session) else {
        // Installed mid-session: start counting from now.
        news::mark_seen(&pool, session, ctx.now)?;
        return Ok(None);
    };
    let (fresh, older_left_out) = news::since(&pool, &mark)?;
    let domain = Domain::new(&ctx.config.domain);
    let fresh: Vec<_> = fresh
        .into_iter()
        .filter(|e| {
            let own = me.is_some_and(|m| e.source_instance.eq_ignore_ascii_case(m))
                || (me.is_none() && e.session_id == session);
            !own && (e.priority == "critical" || keep(e, &ctx.config, &domain, ctx.now).is_some())
        })
        .collect();
    let mut handoffs = Vec::new();
    if me.is_some() {
        let mut acks = AckTracker::default();
        pool.scan_recent(ctx.now, ctx.config.ttl.max(DEFAULT_TTL), |e| {
            if acks.visit(&e, me, ctx.now, ctx.config.ttl) {
                handoffs.push(e.into_owned());
            }
            ControlFlow::Continue(())
        })?;
    }
    news::mark_seen(&pool, session, ctx.now)?;
    Ok(Some(render::news(&handoffs, &fresh, older_left_out)))
}

fn session_start_body(ctx: &Ctx) -> Result<Option<String>> {
    let pool = catch_up(ctx, "pool-session-start")?;
    let summary = collect(&pool, ctx)?;
    if let Err(e) = news::mark_seen(&pool, session_key(ctx), ctx.now) {
        hook::report(pool.dir(), "pool-session-start", &e.to_string());
    }
    let mut text = render::session_start(&summary, &ctx.config, ctx.now);
    if let Some(line) = crate::sync::session_start_line(pool.dir(), ctx.now) {
        text.push_str(&line);
        text.push('\n');
    }
    Ok(Some(text))
}

/// Gathers the entries this session is shown, newest first: activity,
/// pending handoffs to this instance, and durable knowledge.
pub fn collect(pool: &Pool, ctx: &Ctx) -> Result<Summary> {
    collect_with(pool, ctx, true)
}

/// [`collect`], with the byte-level counting of undisplayed entries
/// ([`crate::store::brief`]) on or off (off only to test that both agree).
pub fn collect_with(pool: &Pool, ctx: &Ctx, brief_counts: bool) -> Result<Summary> {
    let domain = Domain::new(&ctx.config.domain);
    let horizon = ctx.config.ttl.max(DEFAULT_TTL);
    let me = ctx.config.instance.as_deref();
    let mut summary = Summary::default();
    // Ids seen, as 64-bit FNV-1a hashes: no allocation per entry, and a
    // cheaper hash than SipHash (ids are not attacker-chosen keys here: a
    // collision only hides a duplicate line).
    let mut seen: std::collections::HashSet<u64, std::hash::BuildHasherDefault<IdHasher>> =
        std::collections::HashSet::with_capacity_and_hasher(1024, Default::default());
    let mut acks = AckTracker::default();
    pool.scan_recent_lines(ctx.now, horizon, |line, brief| {
        // Once the displayed list is full, an entry that is neither a handoff
        // to us nor knowledge is only counted; with no domain, whether it is
        // kept depends only on its liveness, which the brief read gives.
        if brief_counts
            && domain.is_empty()
            && summary.entries.len() >= RENDER_ROOM
            && let Some(b) = brief
            && !me.is_some_and(|m| b.to.eq_ignore_ascii_case(m))
            && !matches!(b.action, "learned" | "decided")
        {
            if seen.insert(fnv1a(b.id.as_bytes())) {
                acks.note_ref(b.reference);
                let ack_only =
                    !b.reference.is_empty() && b.to.is_empty() && b.action == "signaling";
                if b.is_live(ctx.now, ctx.config.ttl) && !ack_only {
                    summary.count(me.is_some_and(|m| b.source_instance == m), b.action);
                }
            }
            return ControlFlow::Continue(());
        }
        let Some(e) = Entry::parse(line) else {
            return ControlFlow::Continue(());
        };
        if !seen.insert(fnv1a(e.id.as_bytes())) {
            return ControlFlow::Continue(());
        }
        if acks.visit(&e, me, ctx.now, ctx.config.ttl) {
            if summary.handoffs.len() < RENDER_ROOM {
                summary.handoffs.push(e.into_owned());
            }
            return ControlFlow::Continue(());
        }
        if let Some(k) = keep(&e, &ctx.config, &domain, ctx.now) {
            if is_knowledge(&e) {
                if summary.knowledge.len() < RENDER_ROOM {
                    summary.knowledge.push(e.into_owned());
                }
            } else if e.reference.is_empty() || !e.to.is_empty() || e.action != "signaling" {
                summary.add(e, k, RENDER_ROOM);
            }
        }
        ControlFlow::Continue(())
    })?;
    summary
        .entries
        .sort_by_key(|e| std::cmp::Reverse(e.0.timestamp));
    Ok(summary)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a(bytes);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::hook::HookInput;
    use crate::env::config::Config;
    use std::io::Write;

    #[test]
    fn brief_counting_gives_the_same_summary_as_full_parsing() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 2_000_000_000;
        let mut lines = String::new();
        for i in 0..900i64 {
            let inst = ["A", "B", "C", "ME"][(i % 4) as usize];
            let action =
                ["completed", "blocked", "claimed", "signaling", "learned"][(i % 5) as usize];
            let mut e = serde_json::json!({
                "id": format!("id-{}", i % 850),
                "timestamp": now - 4000 + i * 4,
                "source_instance": inst,
                "session_id": "s",
                "action": action,
                "topic": if i % 7 == 0 { format!("quoted \"{i}\"") } else { format!("topic {i}") },
                "summary": "s",
                "affects": "",
                "blocks": "",
            });
            match i % 11 {
                0 => e["ttl"] = serde_json::json!(30),
                1 => e["to"] = serde_json::json!("ME"),
                2 => e["ref"] = serde_json::json!(format!("id-{}", i - 12)),
                3 => e["relevance"] = serde_json::json!({"A": 0.5}),
                4 => e["timestamp"] = serde_json::json!("2033-05-18T03:33:20Z"),
                5 => e["received"] = serde_json::json!(now - 10),
                _ => {}
            }
            lines.push_str(&e.to_string());
            lines.push('\n');
            if i % 97 == 0 {
                lines.push_str("{\"id\":\"torn\",\"timestamp\":");
                lines.push('\n');
            }
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(pool.log_path())
            .unwrap()
            .write_all(lines.as_bytes())
            .unwrap();
        let ctx = Ctx {
            input: HookInput::default(),
            pool_dir: pool.dir().to_path_buf(),
            config: Config {
                instance: Some("ME".into()),
                ..Config::default()
            },
            now,
        };
        let fast = collect_with(&pool, &ctx, true).unwrap();
        let full = collect_with(&pool, &ctx, false).unwrap();
        assert!(
            full.total > RENDER_ROOM,
            "the test must go past the displayed entries"
        );
        let ids = |v: &[Entry<'_>]| v.iter().map(|e| e.id.to_string()).collect::<Vec<_>>();
        assert_eq!(
            (fast.total, fast.own, fast.completed, fast.blocked),
            (full.total, full.own, full.completed, full.blocked)
        );
        assert_eq!(
            fast.entries
                .iter()
                .map(|e| e.0.id.to_string())
                .collect::<Vec<_>>(),
            full.entries
                .iter()
                .map(|e| e.0.id.to_string())
                .collect::<Vec<_>>()
        );
        assert_eq!(ids(&fast.handoffs), ids(&full.handoffs));
        assert_eq!(ids(&fast.knowledge), ids(&full.knowledge));
    }
}
