//! Extraction: turning the `pool` blocks of a session's assistant text into
//! pool entries, exactly once, from whichever source sees them first.
//!
//! Sources, in order: the transcript from the session's cursor onwards (every
//! event that carries `transcript_path` catches up), then the Stop hook's
//! `last_assistant_message` (the transcript usually lags at Stop). Each block
//! gets a deterministic id ([`crate::store::entry::file_block_id`]); the store
//! appends only ids it does not hold. The cursor moves only after the append
//! succeeded, so a failed write is retried by the next event.

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};

use crate::agent::block::parse_fields;
use crate::agent::cursor;
use crate::agent::hook::HookInput;
use crate::agent::transcript::{Candidate, read_from};
use crate::env::config::Config;
use crate::error::{Error, Result};
use crate::store::entry::{Entry, MAX_SHORT, MAX_SUMMARY, MAX_TOPIC, truncate_chars};
use crate::store::log::{MAX_TTL, Pool};

/// How far back the duplicate check reads when a turn's start is unknown, in seconds.
const UNKNOWN_TURN_LOOKBACK: i64 = 86_400;
/// Read buffer for transcripts, in bytes.
const READ_BUFFER: usize = 256 * 1024;

/// What one extraction did.
#[derive(Debug, Default)]
pub struct Report {
    /// Entries appended.
    pub appended: Vec<Entry<'static>>,
    /// Blocks seen (including ones already in the pool).
    pub blocks_seen: usize,
    /// Problems worth a line in the error log.
    pub warnings: Vec<String>,
    /// Transcript bytes read.
    pub bytes_read: u64,
}

/// Everything extraction needs besides the pool.
pub struct Job<'a> {
    /// The hook event.
    pub input: &'a HookInput,
    /// Config.
    pub settings: &'a Config,
    /// Current time, epoch seconds.
    pub now: i64,
    /// This machine's name.
    pub host: &'a str,
}

/// Catches up on a session's transcript (and, for Stop, its last message)
/// and appends new blocks to the pool.
pub fn extract(pool: &Pool, job: &Job<'_>) -> Result<Report> {
    let input = job.input;
    let mut report = Report::default();
    let session = if input.session_id.is_empty() {
        "unknown"
    } else {
        input.session_id.as_str()
    };
    let mut cur = cursor::load(pool.dir(), session);
    let mut candidates: Vec<(Candidate, &'static str)> = Vec::new();
    let mut file_state: Option<(File, u64)> = None;

    if let Some(path) = input
        .transcript_path
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        match File::open(path) {
            Ok(mut f) => {
                let start = cur.resume_point(path, &f).map_err(|e| Error::io(path, e))?;
                f.seek(SeekFrom::Start(start))
                    .map_err(|e| Error::io(path, e))?;
                let out = read_from(BufReader::with_capacity(READ_BUFFER, &f), &mut cur.turn)
                    .map_err(|e| Error::io(path, e))?;
                report.bytes_read = out.consumed;
                if out.overlong > 0 {
                    report.warnings.push(format!(
                        "{}: skipped {} transcript lines over {} bytes",
                        path.display(),
                        out.overlong,
                        crate::agent::transcript::MAX_TRANSCRIPT_LINE
                    ));
                }
                if out.skipped_blocks > 0 {
                    report.warnings.push(format!(
                        "skipped {} pool blocks past {} in one text",
                        out.skipped_blocks,
                        crate::agent::block::MAX_BLOCKS_PER_TEXT
                    ));
                }
                candidates.extend(out.candidates.into_iter().map(|c| (c, "transcript")));
                file_state = Some((f, start + out.consumed));
            }
            // Claude Code creates the file with the first message; before that there is nothing to read.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && input.hook_event_name != "Stop" => {}
            Err(e) => report
                .warnings
                .push(format!("cannot read transcript {}: {e}", path.display())),
        }
    }

    if let Some(text) = input
        .last_assistant_message
        .as_deref()
        .filter(|t| !t.is_empty())
    {
        let (lam, skipped) = cur.turn.take_last_message(
            text,
            input.prompt_id.as_deref(),
            &format!("s:{session}"),
            job.now,
        );
        if skipped > 0 {
            report.warnings.push(format!(
                "skipped {skipped} pool blocks past the limit in the last message"
            ));
        }
        candidates.extend(lam.into_iter().map(|c| (c, "last_message")));
    }

    report.blocks_seen = candidates.len();
    let mut entries = Vec::with_capacity(candidates.len());
    let mut aliases = Vec::new();
    let mut lookback = job.now;
    for (c, origin) in &candidates {
        let from = match (c.message_ts, c.anchor_ts) {
            (m, _) if m > 0 => m,
            (_, a) if a > 0 => a,
            _ => job.now - UNKNOWN_TURN_LOOKBACK,
        };
        if let Some(lam_id) = &c.alias_of {
            aliases.push((c.id.clone(), lam_id.clone()));
            lookback = lookback.min(from);
        } else if let Some(e) = to_entry(c, origin, session, job, &mut report.warnings) {
            lookback = lookback.min(from);
            entries.push(e);
        }
    }
    crate::coord::claims::extend_closers(pool, &mut entries, job.now, job.settings.ttl)?;
    report.appended = pool.append_unique(entries, &aliases, lookback, job.now)?;

    if let Some((f, offset)) = file_state {
        let path = input
            .transcript_path
            .as_deref()
            .unwrap_or(std::path::Path::new(""));
        cur.advance(&f, offset).map_err(|e| Error::io(path, e))?;
        cursor::save(pool.dir(), session, &cur)?;
    } else if !candidates.is_empty() {
        // No transcript yet: keep the turn state (pending last-message
        // blocks) for when the file appears.
        cursor::save(pool.dir(), session, &cur)?;
    }
    Ok(report)
}

/// Builds the entry for a candidate block, or `None` (with a warning) when
/// the block has neither TOPIC nor SUMMARY, or belongs to history so old that
/// it would be expired the moment it was written.
fn to_entry(
    c: &Candidate,
    origin: &'static str,
    session: &str,
    job: &Job<'_>,
    warnings: &mut Vec<String>,
) -> Option<Entry<'static>> {
    let f = parse_fields(&c.block.body);
    for w in &f.warnings {
        warnings.push(format!(
            "block in session {}: {w}",
            truncate_chars(session, 64)
        ));
    }
    if f.topic.trim().is_empty() && f.summary.trim().is_empty() {
        warnings.push(format!(
            "pool block without TOPIC or SUMMARY in session {} skipped: {:?}",
            truncate_chars(session, 64),
            truncate_chars(&c.block.body, 80)
        ));
        return None;
    }
    let ttl = f
        .ttl
        .or_else(|| crate::coord::handoffs::default_ttl_for(&f.action, &f.to, &f.reference))
        .map(|t| t.min(MAX_TTL));
    let life = i64::try_from(ttl.unwrap_or(job.settings.ttl)).unwrap_or(i64::MAX);
    if c.message_ts > 0 && c.message_ts.saturating_add(life) < job.now {
        // History (an old session resumed or forked after its blocks expired).
        return None;
    }
    let instance = job
        .settings
        .instance
        .clone()
        .filter(|i| !i.is_empty())
        .or_else(|| Some(f.instance.trim().to_string()).filter(|i| !i.is_empty()))
        .unwrap_or_else(|| "unknown".to_string());
    Some(Entry {
        id: c.id.clone().into(),
        timestamp: job.now,
        source_instance: truncate_chars(&instance, 64).into_owned().into(),
        session_id: session.to_string().into(),
        action: f.action.into(),
        topic: truncate_chars(f.topic.trim(), MAX_TOPIC)
            .into_owned()
            .into(),
        summary: truncate_chars(f.summary.trim(), MAX_SUMMARY)
            .into_owned()
            .into(),
        affects: truncate_chars(f.affects.trim(), MAX_SHORT)
            .into_owned()
            .into(),
        blocks: truncate_chars(f.blocks.trim(), MAX_SHORT)
            .into_owned()
            .into(),
        ttl,
        cwd: job
            .input
            .cwd
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
            .into(),
        host: job.host.to_string().into(),
        to: truncate_chars(f.to.trim(), 64).into_owned().into(),
        reference: truncate_chars(f.reference.trim(), 64).into_owned().into(),
        priority: truncate_chars(f.priority.trim().to_ascii_lowercase().as_str(), 16)
            .into_owned()
            .into(),
        origin: origin.into(),
        received: None,
        local: None,
        seen: None,
    })
}
