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
use std::io::{BufRead, BufReader, Seek, SeekFrom};

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
/// Most unread transcript one call reads, in bytes (64 MiB, about 45 ms at
/// the reader's speed). When more is unread (first contact with a huge
/// transcript, or a file that grew by gigabytes), only its last
/// `TRANSCRIPT_WINDOW` bytes are read: blocks written before that are hours
/// old on any real transcript, past the TTL that would let them be posted.
pub const TRANSCRIPT_WINDOW: u64 = 64 * 1024 * 1024;

/// Where to start reading a transcript of `len` bytes whose reader stopped
/// at `resume`: there, unless more than [`TRANSCRIPT_WINDOW`] is unread;
/// then the window's start, moved past a hole of a sparse file
/// (`SEEK_DATA`), which holds no line anyway.
fn window_start(f: &File, resume: u64, len: u64) -> u64 {
    if len.saturating_sub(resume) <= TRANSCRIPT_WINDOW {
        return resume;
    }
    let start = len - TRANSCRIPT_WINDOW;
    data_from(f, start, len)
}

/// The first byte of data at or after `start` (`SEEK_DATA`), or `start`.
#[cfg(unix)]
fn data_from(f: &File, start: u64, len: u64) -> u64 {
    use std::os::fd::AsRawFd;
    let Ok(off) = libc::off_t::try_from(start) else {
        return start;
    };
    // SAFETY: lseek on a descriptor we own; it only moves the file offset,
    // which the caller sets again before reading.
    let data = unsafe { libc::lseek(f.as_raw_fd(), off, libc::SEEK_DATA) };
    match u64::try_from(data) {
        Ok(d) if d >= start => d.min(len),
        // ENXIO: nothing but hole up to the end.
        _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO) => len,
        _ => start,
    }
}

/// Windows: no hole skipping (a sparse transcript is read through; the
/// window still bounds the read).
#[cfg(windows)]
fn data_from(_f: &File, start: u64, _len: u64) -> u64 {
    start
}

/// After a jump into the middle of a transcript, skips to the start of the
/// next line (nothing when `at` already starts one). Returns the bytes
/// skipped; when no line ends before the end of the file, skips nothing and
/// leaves the reader at the end (so the cursor stays at `at`).
fn skip_partial_line(f: &File, r: &mut impl BufRead, at: u64) -> std::io::Result<u64> {
    let mut before = [0u8; 1];
    if at == 0
        || (crate::store::fsio::read_exact_at(f, &mut before, at - 1).is_ok() && before[0] == b'\n')
    {
        return Ok(0);
    }
    let mut skipped = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(0);
        }
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                r.consume(i + 1);
                return Ok(skipped + i as u64 + 1);
            }
            None => {
                let n = buf.len();
                r.consume(n);
                skipped += n as u64;
            }
        }
    }
}

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
    /// The session's repository id (`crate::env::repo`).
    pub repo: &'a str,
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
    // Saved only when it moved (issue 24): a Stop with nothing new writes
    // nothing, since a rename over the old file is most of its cost.
    let loaded = cur.clone();
    let mut candidates: Vec<(Candidate, &'static str)> = Vec::new();
    let mut file_state: Option<(File, u64)> = None;

    if let Some(path) = input
        .transcript_path
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        match crate::store::fsio::open_regular(path) {
            Ok(mut f) => {
                let resume = cur.resume_point(path, &f).map_err(|e| Error::io(path, e))?;
                let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
                let jump = window_start(&f, resume, len);
                f.seek(SeekFrom::Start(jump))
                    .map_err(|e| Error::io(path, e))?;
                let mut r = BufReader::with_capacity(READ_BUFFER, &f);
                let start = if jump > resume {
                    report.warnings.push(format!(
                        "{}: read only the last {} MiB of {} MiB not read before \
                         (blocks older than that are past their TTL)",
                        path.display(),
                        len.saturating_sub(jump) >> 20,
                        len.saturating_sub(resume) >> 20
                    ));
                    jump + skip_partial_line(&f, &mut r, jump).map_err(|e| Error::io(path, e))?
                } else {
                    jump
                };
                let out = read_from(r, &mut cur.turn).map_err(|e| Error::io(path, e))?;
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
            // Claude Code creates the file with the first message; before that
            // there is nothing to read. Claude Code 2.1.329 fires the first Stop of
            // a text-only turn before the file exists: the turn's text comes in
            // last_assistant_message and is kept for when the file appears, so
            // nothing is lost and this is no error. A Stop with neither is.
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    && (input.hook_event_name != "Stop"
                        || input
                            .last_assistant_message
                            .as_deref()
                            .is_some_and(|t| !t.is_empty())) => {}
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
    if job.settings.wake && report.appended.iter().any(crate::coord::wake::wakes) {
        // A session that cannot take the line at once (gone, busy backlog) is
        // skipped: it sees the entry at its next prompt anyway.
        if let Err(e) = crate::coord::wake::wake(pool.dir(), &report.appended, job.now) {
            report.warnings.push(format!("wake: {e}"));
        }
    }

    if let Some((f, offset)) = file_state {
        let path = input
            .transcript_path
            .as_deref()
            .unwrap_or(std::path::Path::new(""));
        cur.advance(&f, offset).map_err(|e| Error::io(path, e))?;
        if cur != loaded {
            cursor::save(pool.dir(), session, &cur)?;
        }
    } else if !candidates.is_empty() && cur != loaded {
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
    // TO, REF and INSTANCE end up in commands and file names: a value
    // outside their character set skips the block, with the reason logged.
    let checks = [
        (
            "TO",
            f.to.trim(),
            crate::store::entry::check_name as fn(&str) -> _,
        ),
        ("REF", f.reference.trim(), crate::store::entry::check_id),
        (
            "INSTANCE",
            f.instance.trim(),
            crate::store::entry::check_name,
        ),
    ];
    for (key, value, check) in checks {
        if let (false, Err(why)) = (value.is_empty(), check(value)) {
            warnings.push(format!(
                "pool block with a bad {key} in session {} skipped: {why}",
                truncate_chars(session, 64)
            ));
            return None;
        }
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
    // CLAUDE_INSTANCE, else the block's INSTANCE, else the name `pool init`
    // derived for the session.
    let set = job.settings.instance.clone().filter(|i| !i.is_empty());
    let (set, derived) = if job.settings.instance_derived {
        (None, set)
    } else {
        (set, None)
    };
    let instance = set
        .or_else(|| Some(f.instance.trim().to_string()).filter(|i| !i.is_empty()))
        .or(derived)
        .unwrap_or_else(|| "unknown".to_string());
    Some(Entry {
        id: c.id.clone().into(),
        timestamp: job.now,
        source_instance: instance.into(),
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
        to: f.to.trim().to_string().into(),
        reference: f.reference.trim().to_string().into(),
        priority: truncate_chars(f.priority.trim().to_ascii_lowercase().as_str(), 16)
            .into_owned()
            .into(),
        origin: origin.into(),
        received: None,
        via: "".into(),
        repo: job.repo.to_string().into(),
        local: None,
        seen: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_call_reads_at_most_the_window_and_starts_on_a_line() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("t.jsonl");
        let mut f = File::create(&p).unwrap();
        f.write_all(b"{\"old\":1}\n").unwrap();
        // A hole well past the window, then data that begins mid-line.
        f.set_len(3 * TRANSCRIPT_WINDOW).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"tail of a line\n{\"new\":1}\n").unwrap();
        let f = File::open(&p).unwrap();
        let len = f.metadata().unwrap().len();
        // Little unread: read from where the reader stopped.
        assert_eq!(window_start(&f, len - 10, len), len - 10);
        // Much unread: the window's start, past the hole where the system says where data is.
        let jump = window_start(&f, 0, len);
        assert!(
            jump >= len - TRANSCRIPT_WINDOW && jump <= 3 * TRANSCRIPT_WINDOW,
            "{jump}"
        );
        let mut r = BufReader::new(&f);
        r.seek(SeekFrom::Start(jump)).unwrap();
        let skipped = skip_partial_line(&f, &mut r, jump).unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut r, &mut rest).unwrap();
        assert_eq!(rest, "{\"new\":1}\n");
        assert_eq!(jump + skipped, len - rest.len() as u64);
        // At a line start nothing is skipped; without a line end, nothing either.
        let mut r = BufReader::new(&f);
        assert_eq!(skip_partial_line(&f, &mut r, 0).unwrap(), 0);
        let mut r = BufReader::new(&b"no newline"[..]);
        assert_eq!(skip_partial_line(&f, &mut r, 5).unwrap(), 0);
    }
}
