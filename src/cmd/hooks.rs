//! Hook bodies: SessionStart prints the summary; Stop (and every later event
//! that carries a transcript) extracts blocks.

use std::ops::ControlFlow;

use crate::agent::hook::{self, Ctx};
use crate::coord::auto::{self, DigestWhen, Superseded, Who};
use crate::coord::blocked::{self, Block, Seen};
use crate::coord::carry;
use crate::coord::extract::{self, Job};
use crate::coord::handoffs::{self, AckTracker, is_knowledge};
use crate::coord::news;
use crate::coord::relevance::{Domain, keep};
use crate::error::Result;
use crate::store::entry::Entry;
use crate::store::log::{DEFAULT_TTL, Pool, Walk};
use crate::view::render::{self, Summary};

/// Most kept entries counted and held for rendering in full mode
/// (`POOL_COMPACT=0`), which shows as many as its output budget holds.
const RENDER_ROOM: usize = 200;
/// Most kept entries counted in compact mode (the default), which shows the
/// newest [`render::COMPACT_SHOWN`]: twice that, so "10+ recent" still
/// says how busy the pool is, while parsing each one (about 12,000
/// instructions) stays a small part of a session start (issue 24: counting
/// 200 was 3.3 M instructions, 70 % of a team's session start).
const COMPACT_ROOM: usize = 2 * render::COMPACT_SHOWN;

/// `pool-stop`: reads the hook event on stdin and extracts new blocks.
pub fn stop_main() -> i32 {
    if let Some(code) = answer_help("pool-stop") {
        return code;
    }
    crate::cmd::runner::run("pool-stop", stop_body)
}

/// `pool-session-start`: catches up extraction (resume, compact, fork) and
/// prints the session-start summary.
pub fn session_start_main() -> i32 {
    if let Some(code) = answer_help("pool-session-start") {
        return code;
    }
    crate::cmd::runner::run("pool-session-start", session_start_body)
}

/// What each hook binary does, for `--help`.
pub fn hook_help(program: &str) -> Option<&'static str> {
    Some(match program {
        "pool-session-start" => {
            "Claude Code's SessionStart hook: catches up extraction of the session's \
             transcript (resume, compact, fork), then prints the session-start summary \
             of the pool (who is active or blocked, handoffs, recent activity)."
        }
        "pool-stop" => {
            "Claude Code's Stop and SessionEnd hook: extracts the turn's `pool` blocks \
             from the transcript and appends them to the pool."
        }
        "pool-prompt" => {
            "Claude Code's UserPromptSubmit hook: catches up extraction of the previous \
             turn, then adds pending handoffs, unblocking entries and the news since the \
             last prompt."
        }
        "pool-post-tool" => {
            "Claude Code's PostToolUse hook (Bash): notes the commits, pushes \
             and pull requests a command made, for the end of the turn to post as automatic \
             entries."
        }
        "pool-guard" => {
            "Claude Code's PreToolUse hook (Edit, Write, MultiEdit, NotebookEdit, Bash): \
             refuses the first edit of a file another instance claimed or recently edited \
             (a shell command's too, and its git commit, push or branch switch where \
             another session works), with the claim's details, and lets the same agent's retry through (POOL_CLAIMS: deny-once, \
             warn, block or ask); records the edits it lets through."
        }
        _ => return None,
    })
}

/// Answers `--help`/`-h` and `--version`/`-V` on a hook binary's command
/// line (hooks get their input on stdin and no arguments, so nothing else
/// is looked at); `None` when neither was asked for.
pub fn answer_help(program: &str) -> Option<i32> {
    let arg = crate::cmd::multicall::hook_args().next()?;
    let text = match arg.as_str() {
        "--help" | "-h" => format!(
            "{program}: {}\n\nUsage: {program} < hook-event.json\n\nClaude Code runs it (registered by \
             `pool install`); it reads the hook event as JSON on stdin and always exits 0 \
             unless it blocks on purpose. Run by hand it needs that JSON, for example:\n  \
             echo '{{\"session_id\":\"s1\",\"hook_event_name\":\"SessionStart\"}}' | CLAUDE_INSTANCE=A {program}\n\n\
             `pool --help` lists the commands; `pool doctor` checks the set-up.\n\n{}",
            hook_help(program).unwrap_or("a claude-pool hook."),
            crate::cmd::cli::ENV_HELP
        ),
        "--version" | "-V" => format!("{program} {}", env!("CARGO_PKG_VERSION")),
        _ => return None,
    };
    println!("{}", text.trim_end());
    Some(crate::cmd::EXIT_OK)
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
            repo: &ctx.repo.id,
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
    let when = match ctx.input.hook_event_name.as_str() {
        "SessionEnd" => Some(DigestWhen::SessionEnd),
        "Stop" => Some(DigestWhen::Stop),
        _ => None,
    };
    end_of_turn(ctx, &pool, "pool-stop", when);
    if let Err(e) = crate::cmd::gc::maybe_archive_in_background(&pool, ctx.now) {
        hook::report(pool.dir(), "pool-stop", &format!("background archive: {e}"));
    }
    start_sync(&pool, ctx, "pool-stop");
    Ok(None)
}

/// `pool-prompt` (UserPromptSubmit): catches up extraction of the previous
/// turn, then adds pending handoffs and the news since the last prompt.
pub fn prompt_main() -> i32 {
    if let Some(code) = answer_help("pool-prompt") {
        return code;
    }
    crate::cmd::runner::run("pool-prompt", prompt_body)
}

/// `pool-guard` (PreToolUse on Edit, Write, MultiEdit, NotebookEdit, and
/// Codex's apply_patch): by
/// default refuses the first attempt on a file another instance claimed or
/// recently edited, with the claim's details, and lets the retry through
/// (`POOL_CLAIMS` picks another mode, see [`crate::cmd::guard`]); records
/// the edits it lets through.
pub fn guard_main() -> i32 {
    if let Some(code) = answer_help("pool-guard") {
        return code;
    }
    // A shell call that writes nothing and runs no git operation we check
    // costs reading stdin and parsing its command line.
    crate::cmd::runner::run_gated(
        "pool-guard",
        |i| crate::cmd::shell_guard::command(i).is_none_or(crate::cmd::shell_guard::worth_checking),
        // A shell call: what its command line writes and the git operations
        // it runs; any other tool: the files it edits.
        |ctx| match crate::cmd::shell_guard::command(&ctx.input) {
            Some(command) => crate::cmd::shell_guard::shell_body(ctx, command),
            None => crate::cmd::guard::guard_body(ctx),
        },
    )
}

/// The session id, or `unknown` when the event has none.
pub fn session_key(ctx: &Ctx) -> &str {
    if ctx.input.session_id.is_empty() {
        "unknown"
    } else {
        &ctx.input.session_id
    }
}

/// Starts a detached `pool sync` pass when sync is configured and none ran
/// in the last few seconds; never waits on it (see
/// [`crate::sync::maybe_sync_in_background`]).
fn start_sync(pool: &Pool, ctx: &Ctx, program: &str) {
    let env = crate::env::config::ProcessEnv;
    if let Err(e) = crate::sync::maybe_sync_in_background(&env, pool.dir(), ctx.now) {
        hook::report(pool.dir(), program, &format!("background sync: {e}"));
    }
}

/// Posts the automatic entries the turn left pending (unless a block of the
/// turn covers them) and, when due, the session's digest. Problems go to
/// `errors.log`; the hook goes on.
fn end_of_turn(ctx: &Ctx, pool: &Pool, program: &str, digest: Option<DigestWhen>) {
    let instance = ctx.config.instance.as_deref().filter(|i| !i.is_empty());
    let session = session_key(ctx);
    let host = crate::env::host::host_name();
    let who = Who {
        instance: instance.unwrap_or(crate::coord::presence::UNKNOWN_INSTANCE),
        session,
        cwd: ctx.input.cwd.as_deref().unwrap_or(std::path::Path::new("")),
        host: &host,
        clean: crate::view::neutral::clean,
    };
    if let Err(e) = auto::flush(pool, &who, ctx.now) {
        hook::report(pool.dir(), program, &format!("automatic entries: {e}"));
    }
    if let Some(when) =
        digest.filter(|_| ctx.config.auto.digest && !ctx.input.session_id.is_empty())
    {
        let started = crate::coord::presence::first_seen(&ctx.pool_dir, instance, session);
        if let Err(e) = auto::digest(pool, &who, when, started, ctx.now) {
            hook::report(pool.dir(), program, &format!("session digest: {e}"));
        }
    }
}

fn prompt_body(ctx: &Ctx) -> Result<Option<String>> {
    let pool = catch_up(ctx, "pool-prompt")?;
    start_sync(&pool, ctx, "pool-prompt");
    end_of_turn(ctx, &pool, "pool-prompt", None);
    let me = ctx.config.instance.as_deref();
    let session = session_key(ctx);
    let (mark, news) = match news::load_mark(pool.dir(), session) {
        Some(mark) => {
            let news = news::since(&pool, &mark, ctx.now)?;
            (mark, news)
        }
        None => {
            // Installed mid-session: start counting from now. The window is
            // read this once (below) for the blocks carried to the next
            // prompt, which then reads only what is new (issue 24).
            let mark = news::mark_seen(&pool, session, ctx.now)?;
            let news = news::News {
                end: mark.clone(),
                ..news::News::default()
            };
            (mark, news)
        }
    };
    let moved = news.moved_from(&mark);
    let news::News {
        entries: fresh,
        truncated: older_left_out,
        end: seen_now,
        ..
    } = news;
    let mut handoffs = Vec::new();
    // This instance's blocks (open, or ended by what is new): an entry that
    // ends one reaches it whatever its domain.
    let mut mine: Vec<Block> = Vec::new();
    // Its open blocks after this look, carried to the next one.
    let mut carried_on: Vec<carry::OpenBlock> = Vec::new();
    // The blocks carried in, to write them only when they changed.
    let mut carried_before: Option<Vec<carry::OpenBlock>> = None;
    if let Some(m) = me {
        let (ttl, now) = (ctx.config.ttl, ctx.now);
        let mut shown = handoffs::load_shown(pool.dir(), session);
        let mut acks = AckTracker::default();
        // Cost follows what is new (issue 24): with the blocks of the last
        // look carried at this very mark, and no news cut short, the new
        // entries are all there is to read.
        let carried = if older_left_out {
            None
        } else {
            carry::load(pool.dir(), session, &mark)
        };
        carried_before = carried.clone();
        if let Some(open) = carried {
            let mut admitted: Vec<Entry<'static>> = Vec::new();
            for e in fresh.iter().rev() {
                if !ctx.scope.admits(&e.repo, &e.cwd) {
                    acks.note_ref(&e.reference);
                    continue;
                }
                if acks.visit(e, me, now, ttl) && !shown.contains(e.id.as_ref()) {
                    handoffs.push(e.clone());
                }
                admitted.push(e.clone());
            }
            admitted.reverse();
            mine = open.iter().map(carry::OpenBlock::block).collect();
            carried_on = carry::advance(open, &admitted, m, now, ttl);
            // Blocks opened by what is new count for what is new after them.
            for b in &carried_on {
                if !mine.iter().any(|x| x.id == b.id) {
                    mine.push(b.block());
                }
            }
        } else {
            let mut blocks = blocked::Tracker::default();
            let mut expires = std::collections::HashMap::new();
            pool.scan_recent(now, ttl.max(DEFAULT_TTL), |e| {
                if !ctx.scope.admits(&e.repo, &e.cwd) {
                    acks.note_ref(&e.reference);
                    return ControlFlow::Continue(());
                }
                blocks.visit(&Seen::of(&e, now, ttl), Some(&e));
                if carry::opens(&e, m, now, ttl) {
                    expires
                        .entry(e.id.to_string())
                        .or_insert_with(|| carry::expiry(&e, ttl));
                }
                if acks.visit(&e, me, now, ttl) && !shown.contains(e.id.as_ref()) {
                    handoffs.push(e.into_owned());
                }
                ControlFlow::Continue(())
            })?;
            mine = blocks
                .finish()
                .into_iter()
                .filter(|b| b.instance.eq_ignore_ascii_case(m))
                .collect();
            carried_on = mine
                .iter()
                .filter(|b| b.is_open())
                .map(|b| carry::OpenBlock {
                    id: b.id.clone(),
                    instance: b.instance.clone(),
                    topic: b.topic.clone(),
                    since: b.since,
                    expires: expires
                        .get(&b.id)
                        .copied()
                        .unwrap_or(now.saturating_add(ttl as i64)),
                })
                .collect();
            carried_on.reverse();
        }
        if !handoffs.is_empty() {
            shown.extend(handoffs.iter().map(|e| e.id.to_string()));
            handoffs::save_shown(pool.dir(), session, shown.iter().map(String::as_str))?;
        }
    }
    let domain = Domain::new(&ctx.config.domain);
    let mut unblocking: Vec<(Entry<'static>, Block)> = Vec::new();
    // Newest first: an amend's automatic entry hides the one it replaced.
    let mut superseded = Superseded::default();
    let fresh: Vec<_> = fresh
        .into_iter()
        .rev()
        .filter(|e| !superseded.visit(e))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .filter(|e| {
            let own = e.source().is_none()
                && (me.is_some_and(|m| e.source_instance.eq_ignore_ascii_case(m))
                    || (me.is_none() && e.session_id == session));
            // A handoff to this instance is listed under handoffs, once.
            let to_me = me.is_some_and(|m| !e.to.is_empty() && e.to.eq_ignore_ascii_case(m));
            if own || to_me || !ctx.scope.admits(&e.repo, &e.cwd) {
                return false;
            }
            let seen = Seen::of(e, ctx.now, ctx.config.ttl);
            if let Some(b) = mine.iter().find(|b| blocked::unblocks(&seen, b).is_some()) {
                unblocking.push((e.clone(), b.clone()));
                return true;
            }
            e.priority == "critical" || keep(e, &ctx.config, &domain, ctx.now).is_some()
        })
        .collect();
    // The end of what was read, not of the log now: an entry appended
    // since is news for the next prompt.
    // Written only when changed (issue 24): a repeat look with nothing new
    // writes nothing, since a rename over the old file is most of its cost.
    if moved {
        news::save_mark(pool.dir(), session, &seen_now)?;
    }
    let carry_unchanged = !moved && carried_before.as_ref() == Some(&carried_on);
    if me.is_some()
        && !carry_unchanged
        && let Err(e) = carry::save(pool.dir(), session, &seen_now, &carried_on)
    {
        hook::report(pool.dir(), "pool-prompt", &format!("carried blocks: {e}"));
    }
    let mut text = render::unblocked(&unblocking);
    text.push_str(&render::news(&handoffs, &fresh, older_left_out));
    Ok(Some(ctx.input.agent.fit_context(text)))
}

fn session_start_body(ctx: &Ctx) -> Result<Option<String>> {
    let pool = catch_up(ctx, "pool-session-start")?;
    start_sync(&pool, ctx, "pool-session-start");
    let summary = collect(&pool, ctx)?;
    // A session that has looked before (resumed, cleared or compacted) keeps
    // its mark: session start shows only the newest entries, and what it left
    // out must still reach the next prompt as news (bench/outcome: a resumed
    // session took a task whose completion had scrolled out of the newest 5).
    if news::load_mark(pool.dir(), session_key(ctx)).is_none()
        && let Err(e) = news::mark_seen(&pool, session_key(ctx), ctx.now)
    {
        hook::report(pool.dir(), "pool-session-start", &e.to_string());
    }
    // The handoffs shown here stay in the conversation: the session's later
    // prompts must not add them again.
    // (With none pending, an older record can only name handoffs since
    // acknowledged or expired: no need to write.)
    if !summary.handoffs.is_empty() {
        let shown = summary.handoffs.iter().map(|e| e.id.as_ref());
        if let Err(e) = handoffs::save_shown(pool.dir(), session_key(ctx), shown) {
            hook::report(pool.dir(), "pool-session-start", &e.to_string());
        }
    }
    let mut text = render::session_start_in(&summary, &ctx.config, ctx.now, ctx.input.agent);
    if let Some(line) = crate::sync::session_start_line(pool.dir(), ctx.now) {
        text.push_str(&line);
        text.push('\n');
    }
    Ok(Some(ctx.input.agent.fit_context(text)))
}

/// Gathers the entries this session is shown, newest first: activity,
/// pending handoffs to this instance, and durable knowledge.
///
/// Cost follows what is shown: the log is read back only until
/// `COMPACT_ROOM` kept entries are counted (`RENDER_ROOM` in full mode;
/// the summary then says "10+" or "200+"), and
/// handoffs, answers and knowledge older than that come from the long-TTL
/// index, which lists every one of them (but its plain claims, which
/// change nothing shown once the newest entries are counted).
pub fn collect(pool: &Pool, ctx: &Ctx) -> Result<Summary> {
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
    let mut blocks = blocked::Tracker::default();
    let mut superseded = Superseded::default();
    // Counted up to `room`; held (copied for display) only as many as are
    // shown: compact mode shows the newest `COMPACT_SHOWN`.
    let (room, hold) = if ctx.config.compact {
        (COMPACT_ROOM, render::COMPACT_SHOWN)
    } else {
        (RENDER_ROOM, RENDER_ROOM)
    };
    pool.scan_shown(ctx.now, horizon, |mut e| {
        if !seen.insert(fnv1a(e.id.as_bytes())) || superseded.visit(&e) {
            return Walk::Continue;
        }
        if !ctx.scope.admits(&e.repo, &e.cwd) {
            // Another repository's entry; an acknowledgement counts from anywhere.
            acks.note_ref(&e.reference);
            return Walk::Continue;
        }
        blocks.visit(&Seen::of(&e, ctx.now, ctx.config.ttl), Some(&e));
        // Nothing shown uses the repository any more: not copied into the
        // entries kept (copying it cost about 4 % of a session start).
        e.repo = std::borrow::Cow::Borrowed("");
        if acks.visit(&e, me, ctx.now, ctx.config.ttl) {
            if summary.handoffs.len() < RENDER_ROOM {
                summary.handoffs.push(e.into_owned());
            }
            return Walk::Continue;
        }
        if acks.acked_by_me(&e) {
            // Handled: no longer shown to the instance that acknowledged it.
            return Walk::Continue;
        }
        if let Some(k) = keep(&e, &ctx.config, &domain, ctx.now) {
            if is_knowledge(&e) {
                if summary.knowledge.len() < RENDER_ROOM {
                    summary.knowledge.push(e.into_owned());
                }
            } else if summary.capped {
                // Past the cap (entries from the index): counted no more.
            } else if e.reference.is_empty() || !e.to.is_empty() || e.action != "signaling" {
                summary.add(e, k, hold);
                if summary.total >= room {
                    summary.capped = true;
                    // Past the cap a plain claim changes nothing shown (it
                    // is no handoff, answer, block, unblocking or knowledge):
                    // the index's claims are not read (issue 24: reading
                    // 5,000 of them was 95 % of a team's session start).
                    return Walk::SkipToIndexOmitClaims;
                }
            }
        }
        Walk::Continue
    })?;
    summary
        .entries
        .sort_by_key(|e| std::cmp::Reverse(e.0.timestamp));
    // Who else is blocked, and on what: shown whatever this instance's domain.
    let all_blocks = blocks.finish();
    summary.blocks = blocked::open(&all_blocks)
        .into_iter()
        .filter(|b| !me.is_some_and(|m| b.instance.eq_ignore_ascii_case(m)))
        .cloned()
        .collect();
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
    use crate::store::entry::Entry;

    fn e(id: &str, inst: &str, action: &str, ts: i64) -> Entry<'static> {
        Entry {
            id: id.to_string().into(),
            timestamp: ts,
            source_instance: inst.to_string().into(),
            session_id: "s".into(),
            action: action.to_string().into(),
            topic: format!("topic {id}").into(),
            repo: "github.com/me/r".into(),
            ..Entry::default()
        }
    }

    /// Past the entries held for display the count says "200+", and
    /// handoffs, answers and lessons further back still come through the
    /// long-TTL index, with acknowledged handoffs left out.
    #[test]
    fn counting_stops_at_what_is_shown_and_nothing_needed_is_missed() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = Pool::open(tmp.path().join("p")).unwrap();
        let now = 2_000_000_000;
        let t0 = now - 1700;
        let mut handoff = e("h-open", "B", "signaling", t0);
        handoff.to = "ME".into();
        handoff.ttl = Some(3000);
        let mut acked = e("h-acked", "B", "signaling", t0);
        acked.to = "ME".into();
        acked.ttl = Some(3000);
        let mut lesson = e("lesson", "C", "learned", t0);
        lesson.ttl = Some(3000);
        pool.append(&[handoff, acked, lesson], t0).unwrap();
        let mut ack = e("ack", "ME", "signaling", t0 + 10);
        ack.reference = "h-acked".into();
        pool.append(&[ack], t0 + 10).unwrap();
        let filler: Vec<_> = (0..900)
            .map(|i| {
                e(
                    &format!("f{i}"),
                    ["A", "B", "ME"][i % 3],
                    "completed",
                    t0 + 20 + i as i64,
                )
            })
            .collect();
        pool.append(&filler, t0 + 1000).unwrap();
        // Another repository's entries, newer than all of the above, and an
        // entry without a repository naming another folder: none counts.
        let mut others: Vec<_> = (0..300)
            .map(|i| {
                let mut x = e(&format!("o{i}"), "B", "completed", t0 + 1000 + i as i64);
                x.repo = "github.com/me/other".into();
                x
            })
            .collect();
        let mut legacy = e("legacy-elsewhere", "B", "completed", t0 + 1400);
        legacy.cwd = "/w/other".into();
        legacy.repo = "".into();
        others.push(legacy);
        pool.append(&others, t0 + 1500).unwrap();
        let ctx = Ctx {
            input: HookInput::default(),
            pool_dir: pool.dir().to_path_buf(),
            config: Config {
                instance: Some("ME".into()),
                ..Config::default()
            },
            now,
            repo: crate::env::repo::Repo {
                id: "github.com/me/r".into(),
                source: crate::env::repo::Source::Remote,
                root: "/w/r".into(),
                git_dir: None,
                aliases: Vec::new(),
                caseless: false,
            },
            scope: crate::env::repo::Scope::Repos {
                ids: vec!["github.com/me/r".into()],
                legacy_root: Some("/w/r".into()),
            },
        };
        // Compact (the default) counts twice the five it shows.
        assert!(ctx.config.compact);
        let ids = |v: &[Entry<'_>]| v.iter().map(|e| e.id.to_string()).collect::<Vec<_>>();
        let s = collect(&pool, &ctx).unwrap();
        assert!(s.capped, "total {} entries {}", s.total, s.entries.len());
        assert_eq!(s.total, COMPACT_ROOM);
        assert_eq!(ids(&s.handoffs), ["h-open"]);
        assert_eq!(ids(&s.knowledge), ["lesson"]);
        let text = render::session_start(&s, &ctx.config, now);
        assert!(text.contains("- **Pool**: 10+ recent"), "{text}");
        assert!(text.contains("- 5 more entries not shown"), "{text}");
        let mut ctx = ctx;
        ctx.config.compact = false;
        let s = collect(&pool, &ctx).unwrap();
        assert!(s.capped, "total {} entries {}", s.total, s.entries.len());
        assert_eq!(s.total, RENDER_ROOM);
        assert!(
            s.entries
                .iter()
                .all(|(x, _)| x.id.starts_with('f') || x.id.starts_with('h')),
            "another repository's entries are not shown"
        );
        assert_eq!(ids(&s.handoffs), ["h-open"]);
        assert_eq!(ids(&s.knowledge), ["lesson"]);
        let text = render::session_start(&s, &ctx.config, now);
        assert!(text.contains("- **Pool**: 200+ recent"), "{text}");
    }
}
