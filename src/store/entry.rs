//! The pool entry: its stored schema, deterministic ids, actions, and the
//! duration syntax (`30m`, `4h`, `7d`) shared by TTLs and `--since`.
//!
//! The schema is a superset of what the original Python hooks wrote, so their
//! pools stay readable: `id`, `timestamp` (epoch seconds; ISO-8601 strings are
//! accepted on read), `source_instance`, `session_id`, `action`, `topic`,
//! `summary`, `affects`, `blocks`, `ttl`, plus `cwd`, `repo` and optional fields.
//! Readers ignore unknown fields.

use std::borrow::Cow;

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

/// Longest stored topic, in characters.
pub const MAX_TOPIC: usize = 300;
/// Longest stored summary, in characters.
pub const MAX_SUMMARY: usize = 4000;
/// Longest stored `affects`, `blocks` and other short fields, in characters.
pub const MAX_SHORT: usize = 2000;
/// Longest id, instance name, `to` or `ref`, in bytes (all ASCII).
pub const MAX_ID: usize = 64;
/// Longest stored session id, in characters.
pub const MAX_SESSION_ID: usize = 128;
/// Longest stored working directory, in bytes (Linux's `PATH_MAX`).
pub const MAX_CWD: usize = 4096;
/// Longest stored host name, in characters.
pub const MAX_HOST: usize = 255;
/// Longest stored `action`, `priority` and `origin`, in characters.
pub const MAX_WORD: usize = 32;

/// Why an id or a name is refused, or `Ok` when it is one: 1 to [`MAX_ID`]
/// ASCII letters, digits, `-`, `_`, `.` (and `:` when `colon`), starting
/// with a letter or a digit. Such a value is safe to print inside a shell
/// command or a Markdown code span: no quote, backtick, space, `$`, `;`, and
/// it cannot be read as a flag.
fn check_token(s: &str, what: &str, colon: bool) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if s.len() > MAX_ID {
        return Err(format!("{what} is longer than {MAX_ID} bytes"));
    }
    if !s.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(format!(
            "{what} {:?} does not start with a letter or a digit",
            truncate_chars(s, MAX_ID)
        ));
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || (colon && c == ':');
    if let Some(c) = s.chars().find(|&c| !allowed(c)) {
        return Err(format!(
            "{what} {:?} contains {c:?} (allowed: letters, digits, - _ .{})",
            truncate_chars(s, MAX_ID),
            if colon { " :" } else { "" }
        ));
    }
    Ok(())
}

/// Checks an instance name (also what `TO` names); returns the reason when
/// it is refused. See [`check_id`] for the character set, without `:`.
pub fn check_name(s: &str) -> std::result::Result<(), String> {
    check_token(s, "instance name", false)
}

/// Checks an entry id (also what `REF` names): 1 to [`MAX_ID`] ASCII
/// letters, digits, `-`, `_`, `.`, `:`, starting with a letter or a digit.
/// Returns the reason when it is refused.
pub fn check_id(s: &str) -> std::result::Result<(), String> {
    check_token(s, "id", true)
}

/// Whether an entry's identifying fields are valid as read: the id, the
/// instance, `to` and `ref` each empty or passing [`check_id`] /
/// [`check_name`]. A line that fails is not an entry: readers skip and
/// count it, so its values never reach a command we print.
pub fn ids_valid(id: &str, instance: &str, to: &str, reference: &str) -> bool {
    (id.is_empty() || check_id(id).is_ok())
        && (instance.is_empty() || check_name(instance).is_ok())
        && (to.is_empty() || check_name(to).is_ok())
        && (reference.is_empty() || check_id(reference).is_ok())
}

/// One line of `instance_state.jsonl`. Strings borrow from the line they were
/// read from when they can.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry<'a> {
    /// Deterministic for extracted blocks (see [`file_block_id`]), random for posts.
    #[serde(default, borrow)]
    pub id: Cow<'a, str>,
    /// Epoch seconds when the entry was written.
    #[serde(default, deserialize_with = "de_timestamp")]
    pub timestamp: i64,
    /// The instance that wrote it (`CLAUDE_INSTANCE`).
    #[serde(default, borrow)]
    pub source_instance: Cow<'a, str>,
    /// The Claude Code session it came from (empty for terminal posts).
    #[serde(default, borrow)]
    pub session_id: Cow<'a, str>,
    /// One of [`ACTIONS`].
    #[serde(default, borrow)]
    pub action: Cow<'a, str>,
    /// One-line subject.
    #[serde(default, borrow)]
    pub topic: Cow<'a, str>,
    /// Free text.
    #[serde(default, borrow)]
    pub summary: Cow<'a, str>,
    /// Paths or areas touched, comma-separated.
    #[serde(default, borrow, deserialize_with = "de_stringish")]
    pub affects: Cow<'a, str>,
    /// What this unblocks for others.
    #[serde(default, borrow, deserialize_with = "de_stringish")]
    pub blocks: Cow<'a, str>,
    /// Per-entry lifetime in seconds; absent means the reader's `POOL_TTL`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "de_ttl"
    )]
    pub ttl: Option<u64>,
    /// Working directory of the session that wrote it.
    #[serde(default, borrow, skip_serializing_if = "str::is_empty")]
    pub cwd: Cow<'a, str>,
    /// Host name of the machine that wrote it.
    #[serde(default, borrow, skip_serializing_if = "str::is_empty")]
    pub host: Cow<'a, str>,
    /// Instance this entry is addressed to (a handoff); empty is broadcast.
    #[serde(default, borrow, skip_serializing_if = "str::is_empty")]
    pub to: Cow<'a, str>,
    /// Id of an entry this one answers or releases.
    #[serde(default, rename = "ref", borrow, skip_serializing_if = "str::is_empty")]
    pub reference: Cow<'a, str>,
    /// `critical` reaches every instance whatever its relevance.
    #[serde(default, borrow, skip_serializing_if = "str::is_empty")]
    pub priority: Cow<'a, str>,
    /// Where the entry came from: `transcript`, `last_message` or `post`.
    #[serde(default, borrow, skip_serializing_if = "str::is_empty")]
    pub origin: Cow<'a, str>,
    /// Epoch seconds when `pool sync` appended this entry from another
    /// machine; absent for entries written here. Readers order the log by
    /// [`Entry::order_time`], so an old entry received late does not end
    /// their backwards scans early.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<i64>,
    /// The sync source this machine received the entry from (the stream
    /// it was read from), written by `pool sync` on this machine and never
    /// taken from the sender; absent for entries written here. Entries from
    /// one source act only on entries from the same source
    /// ([`Entry::source`]).
    #[serde(default, borrow, skip_serializing_if = "str::is_empty")]
    pub via: Cow<'a, str>,
    /// Identity of the repository the entry was written in
    /// (`github.com/owner/name`, else a path; see `crate::env::repo`).
    /// Absent in entries written before it existed (the original Python
    /// hooks' and earlier versions'); readers then go by `cwd`.
    #[serde(default, borrow, skip_serializing_if = "str::is_empty")]
    pub repo: Cow<'a, str>,
    /// This machine's append stamp, written by our writers under the log's
    /// lock (see [`Local`]). Absent on lines other programs wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Local>,
    /// When this machine first had the line, as far as a reader can tell:
    /// the stamp's time for a line whose stamp checks out, else an upper
    /// bound from the lines around it. Set by readers, never stored.
    #[serde(skip)]
    pub seen: Option<i64>,
}

/// The append stamp our writers put on every line, under the writers' lock:
/// when it was appended here (epoch seconds by this machine's clock, never
/// less than the stamp before it) and the byte offset it was written at.
/// A stamp whose offset is not where the line actually is was copied from
/// elsewhere (`cat a.jsonl >> b.jsonl`, a restored backup), so readers trust
/// it only where it was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Local {
    /// Epoch seconds when the line was appended here.
    pub at: i64,
    /// Byte offset of the line's start in the log it was appended to.
    pub off: u64,
    /// Set when the line before this one was not ours: the log's
    /// modification time just before this append, so that line (and any
    /// other foreign line since our previous one) reached the log by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
}

/// How far ahead of this machine's clock an entry's own timestamp may be
/// and still count (clock skew between writers), in seconds (5 minutes).
pub const MAX_SKEW: i64 = 300;

/// Origins of entries a person wrote, not an instance: posted from the
/// dashboard page, or a claim released by hand (`pool release --force`, or
/// "as a person" on the page).
pub const PERSON_ORIGINS: [&str; 2] = ["dashboard", "forced"];

impl Entry<'_> {
    /// Whether a person wrote this entry (see [`PERSON_ORIGINS`]): it is
    /// shown, but its name does not count as an instance (no card, no
    /// "active", no row in `pool status`).
    pub fn by_person(&self) -> bool {
        PERSON_ORIGINS.contains(&self.origin.as_ref())
    }
}

impl Entry<'_> {
    /// Copies every borrowed string so the entry outlives its line.
    pub fn into_owned(self) -> Entry<'static> {
        fn o(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        Entry {
            id: o(self.id),
            timestamp: self.timestamp,
            source_instance: o(self.source_instance),
            session_id: o(self.session_id),
            action: o(self.action),
            topic: o(self.topic),
            summary: o(self.summary),
            affects: o(self.affects),
            blocks: o(self.blocks),
            ttl: self.ttl,
            cwd: o(self.cwd),
            host: o(self.host),
            to: o(self.to),
            reference: o(self.reference),
            priority: o(self.priority),
            origin: o(self.origin),
            received: self.received,
            via: o(self.via),
            repo: o(self.repo),
            local: self.local,
            seen: self.seen,
        }
    }

    /// Where the entry came from, as this machine knows it: `None` for an
    /// entry written here, else the sync source that delivered it (`?` for
    /// one received before sources were recorded). Whatever the sender
    /// wrote in `host`, `origin` or `source_instance`, an entry from another
    /// machine is never taken for one of this machine's: it identifies its
    /// author as `(source, source_instance)`.
    pub fn source(&self) -> Option<&str> {
        if !self.via.is_empty() {
            Some(&self.via)
        } else if self.received.is_some() {
            Some("?")
        } else {
            None
        }
    }

    /// Whether `self` and `other` came from the same place: both written
    /// here, or both received from the same sync source.
    pub fn same_source(&self, other: &Entry<'_>) -> bool {
        self.source() == other.source()
    }

    /// When the entry reached this machine's log: what a reader established
    /// ([`Entry::seen`]), else the later of `timestamp` and `received`.
    pub fn order_time(&self) -> i64 {
        self.seen.unwrap_or_else(|| {
            self.received
                .map_or(self.timestamp, |r| r.max(self.timestamp))
        })
    }

    /// Whether the line, read at byte offset `off`, carries a stamp this
    /// machine wrote there: its offset is where the line is, and its time
    /// is not after `bound` (plus [`MAX_SKEW`]). If so, [`Entry::seen`]
    /// becomes the stamp's time; otherwise `seen` is left for the reader to
    /// bound.
    pub fn trust_at(&mut self, off: u64, bound: i64) -> bool {
        match self.local {
            Some(l) if l.off == off && l.at <= bound.saturating_add(MAX_SKEW) => {
                self.seen = Some(l.at);
                true
            }
            _ => false,
        }
    }

    /// The time an entry's lifetime runs from: its own timestamp (for an
    /// entry pulled by `pool sync`, when it was received), but never
    /// later than when this machine first had it (plus [`MAX_SKEW`]), so a
    /// line stamped in the future gets no extra life. A missing timestamp
    /// is 0: such a line is never live.
    pub fn effective_time(&self) -> i64 {
        // An entry pulled from another machine (issue 16) lives from when it
        // arrived: a writer's slow clock cannot expire it before anyone here
        // saw it.
        let t = self.received.unwrap_or(self.timestamp);
        match self.seen {
            Some(s) => t.min(s.saturating_add(MAX_SKEW)),
            None => t,
        }
    }

    /// The entry's lifetime in seconds: its own `ttl`, else `default_ttl`.
    pub fn ttl_or(&self, default_ttl: u64) -> u64 {
        self.ttl.unwrap_or(default_ttl)
    }

    /// Whether the entry is still live at `now`: its TTL counts from
    /// [`Entry::order_time`], so an entry pulled from another machine lives
    /// its TTL from when it reached this one (a writer's slow clock cannot
    /// make it expire before anyone sees it).
    pub fn is_live(&self, now: i64, default_ttl: u64) -> bool {
        let ttl = i64::try_from(self.ttl_or(default_ttl)).unwrap_or(i64::MAX);
        self.effective_time().saturating_add(ttl) > now
    }

    /// Serialises the entry as one JSON line, newline included, with every
    /// field capped ([`Entry::capped`]): whoever built the entry, the line
    /// stays far under what readers accept
    /// ([`crate::store::fsio::MAX_LINE`]), so no reader skips it.
    pub fn to_line(&self) -> String {
        // Serialising a struct of strings and integers cannot fail.
        let mut s = match self.capped() {
            Some(c) => serde_json::to_string(&c),
            None => serde_json::to_string(self),
        }
        .unwrap_or_default();
        s.push('\n');
        s
    }

    /// A copy with every over-long field cut to its cap, or `None` when all
    /// fields are within their caps. The longest capped line is about
    /// 80 KiB (8,000 characters of 4 bytes, escaped).
    pub fn capped(&self) -> Option<Entry<'static>> {
        let caps: [(&str, usize); 15] = [
            (&self.id, MAX_ID),
            (&self.source_instance, MAX_ID),
            (&self.session_id, MAX_SESSION_ID),
            (&self.action, MAX_WORD),
            (&self.topic, MAX_TOPIC),
            (&self.summary, MAX_SUMMARY),
            (&self.affects, MAX_SHORT),
            (&self.blocks, MAX_SHORT),
            (&self.cwd, MAX_CWD),
            (&self.host, MAX_HOST),
            (&self.to, MAX_ID),
            (&self.reference, MAX_ID),
            (&self.priority, MAX_WORD),
            (&self.repo, MAX_CWD),
            (&self.via, MAX_HOST),
        ];
        // Characters never outnumber bytes: a field within its cap in bytes is within it.
        if caps.iter().all(|(s, n)| s.len() <= *n) && self.origin.len() <= MAX_WORD {
            return None;
        }
        let c = |s: &Cow<'_, str>, n: usize| -> Cow<'static, str> {
            Cow::Owned(truncate_chars(s, n).into_owned())
        };
        Some(Entry {
            id: c(&self.id, MAX_ID),
            timestamp: self.timestamp,
            source_instance: c(&self.source_instance, MAX_ID),
            session_id: c(&self.session_id, MAX_SESSION_ID),
            action: c(&self.action, MAX_WORD),
            topic: c(&self.topic, MAX_TOPIC),
            summary: c(&self.summary, MAX_SUMMARY),
            affects: c(&self.affects, MAX_SHORT),
            blocks: c(&self.blocks, MAX_SHORT),
            ttl: self.ttl,
            cwd: c(&self.cwd, MAX_CWD),
            host: c(&self.host, MAX_HOST),
            to: c(&self.to, MAX_ID),
            reference: c(&self.reference, MAX_ID),
            priority: c(&self.priority, MAX_WORD),
            origin: c(&self.origin, MAX_WORD),
            received: self.received,
            via: c(&self.via, MAX_HOST),
            repo: c(&self.repo, MAX_CWD),
            local: self.local,
            seen: self.seen,
        })
    }

    /// Parses one stored line; `None` for a line that is not an entry.
    pub fn parse(line: &[u8]) -> Option<Entry<'_>> {
        let line = trim_line(line);
        if line.first() != Some(&b'{') {
            return None;
        }
        // One UTF-8 check for the whole line; `from_str` then skips the
        // per-string checks `from_slice` makes.
        let e: Entry<'_> = serde_json::from_str(std::str::from_utf8(line).ok()?).ok()?;
        // An id, instance, TO or REF outside the fixed character set makes
        // the line unreadable, like a torn one: skipped and counted.
        ids_valid(&e.id, &e.source_instance, &e.to, &e.reference).then_some(e)
    }
}

/// Strips a trailing `\n` / `\r\n` and surrounding spaces.
pub fn trim_line(line: &[u8]) -> &[u8] {
    line.trim_ascii()
}

/// The actions an entry can carry. The first four are the design's core;
/// the rest serve claims, handoffs and durable knowledge.
pub const ACTIONS: &[&str] = &[
    "completed",
    "blocked",
    "claimed",
    "signaling",
    "released",
    "learned",
    "decided",
    "question",
    "proposal",
];

/// Maps what the assistant wrote after `ACTION:` to one of [`ACTIONS`].
/// Returns the action and whether the input was recognised; unknown words
/// become `signaling` (the caller logs them).
pub fn normalize_action(raw: &str) -> (&'static str, bool) {
    let word = raw
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_lowercase()
        .replace([' ', '_'], "-");
    let action = match word.as_str() {
        "completed" | "complete" | "done" | "finished" | "finish" | "fixed" | "shipped"
        | "resolved" | "merged" | "implemented" => "completed",
        "blocked" | "block" | "blocking" | "stuck" | "waiting" | "waiting-on" => "blocked",
        "claimed" | "claim" | "claiming" | "taking" | "started" | "starting" | "working"
        | "working-on" | "in-progress" | "wip" | "reserved" | "locking" | "locked" => "claimed",
        "signaling" | "signalling" | "signal" | "signaled" | "signalled" | "info" | "note"
        | "fyi" | "update" | "discovered" | "discovery" | "found" | "notice" => "signaling",
        "released" | "release" | "releasing" | "unclaimed" | "unclaim" | "abandoned" => "released",
        "learned" | "learnt" | "learn" | "lesson" | "pattern" => "learned",
        "decided" | "decision" | "decide" => "decided",
        "question" | "ask" | "asked" | "asking" => "question",
        "proposal" | "propose" | "proposed" | "proposing" | "suggestion" => "proposal",
        _ => return ("signaling", false),
    };
    (action, true)
}

/// Parses a duration: a number with an optional unit `s`, `m`, `h`, `d` or `w`
/// (`90`, `30m`, `4h`, `2d`); words like `4 hours` work too. `None` when it is
/// not a duration.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Formats an age in seconds the way people say it: `42s`, `5m`, `3h`, `2d`.
pub fn format_age(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The id of an entry for a `pool` block read from the transcript file.
///
/// Ids are deterministic so that the same block seen again, from any source,
/// maps to the same id and is appended once (the store skips ids it holds):
/// - a block in the file is keyed by its line's `uuid` (Claude Code writes one
///   content block per line, and forks copy lines with their uuids while
///   giving them a new session id), the index of the text block in the line,
///   the index of the block in the text, and the block's content hash. A block
///   written again in a later message is on a new line: a new entry.
/// - a block from the Stop hook's `last_assistant_message` (the file usually
///   lags) has no line yet; it is keyed by its turn (the hook's `prompt_id`),
///   its content hash and how many identical blocks that turn's last messages
///   held before ([`last_message_block_id`]). When the file later shows the
///   line, the reader recognises the pending block by its hash and records the
///   file id as an alias of the entry instead of appending it again; forks
///   then find the alias.
///
/// The digest is printed as a UUID (version 8, "custom") so ids look like the
/// uuid4 ids the original hooks wrote.
pub fn file_block_id(
    line_key: &str,
    content_index: usize,
    block_index: usize,
    block_hash: &str,
) -> String {
    digest_id(&[
        b"claude-pool/file/v1",
        line_key.as_bytes(),
        &(content_index as u64).to_le_bytes(),
        &(block_index as u64).to_le_bytes(),
        block_hash.as_bytes(),
    ])
}

/// The id of an entry for a block taken from `last_assistant_message`; see
/// [`file_block_id`].
pub fn last_message_block_id(turn_anchor: &str, block_hash: &str, ordinal: u32) -> String {
    digest_id(&[
        b"claude-pool/last-message/v1",
        turn_anchor.as_bytes(),
        block_hash.as_bytes(),
        &ordinal.to_le_bytes(),
    ])
}

fn digest_id(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    uuid8(&h.finalize())
}

/// A fresh id for an entry posted by hand: a hash of the clock, the process
/// and a counter, printed as a UUID.
pub fn random_entry_id(seed: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = Sha256::new();
    h.update(b"claude-pool/post/v1\0");
    h.update(nanos.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(seed.as_bytes());
    uuid8(&h.finalize())
}

/// The hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`, by table: `write!` per byte cost most of a
/// session start's file names (`safe_file_stem` hashes every session id).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    // Only ASCII digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

fn uuid8(digest: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Truncates `s` to at most `max` characters, adding `…` when it cut.
pub fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((i, _)) => {
            let cut = s[..i].char_indices().last().map(|(j, _)| j).unwrap_or(0);
            Cow::Owned(format!("{}…", &s[..cut]))
        }
    }
}

/// Epoch seconds from an ISO-8601 / RFC 3339 timestamp.
pub fn parse_iso(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp())
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc().timestamp())
        })
}

// The field helpers below are hand-written visitors rather than untagged
// enums: an untagged enum buffers every value into an intermediate tree
// first, which was a measurable share of a session start's parse time.

/// Drains a sequence or map the caller does not want.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Epoch seconds from a number, an ISO-8601 string or a numeric string; 0 otherwise.
struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a timestamp")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        Ok(i64::try_from(v).unwrap_or(i64::MAX))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        Ok(if v.is_finite() { v as i64 } else { 0 })
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<i64, E> {
        Ok(parse_iso(s)
            .or_else(|| {
                s.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
            .unwrap_or(0))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<i64, E> {
        Ok(0)
    }
    fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
        Ok(0)
    }
    fn visit_none<E: de::Error>(self) -> Result<i64, E> {
        Ok(0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<i64, A::Error> {
        drain_seq(seq).map(|_| 0)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<i64, A::Error> {
        drain_map(map).map(|_| 0)
    }
}

fn de_timestamp<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(TimestampVisitor)
}

/// Seconds from a non-negative number or a duration string; `None` otherwise.
struct TtlVisitor;

impl<'de> Visitor<'de> for TtlVisitor {
    type Value = Option<u64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a ttl")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<u64>, E> {
        Ok(u64::try_from(v).ok())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<u64>, E> {
        Ok(Some(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<u64>, E> {
        Ok((v.is_finite() && v >= 0.0).then_some(v as u64))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Option<u64>, E> {
        Ok(parse_duration(s))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<u64>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<u64>, A::Error> {
        drain_seq(seq).map(|_| None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<u64>, A::Error> {
        drain_map(map).map(|_| None)
    }
}

fn de_ttl<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    d.deserialize_any(TtlVisitor)
}

/// A string, borrowed when it can be; a list of strings joined with `, `;
/// anything else is empty.
struct StringishVisitor;

impl<'de> Visitor<'de> for StringishVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or a list of strings")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut parts: Vec<String> = Vec::new();
        while let Some(v) = seq.next_element::<serde_json::Value>()? {
            if let serde_json::Value::String(s) = v {
                parts.push(s);
            }
        }
        Ok(Cow::Owned(parts.join(", ")))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map).map(|_| Cow::Borrowed(""))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(""))
    }
}

fn de_stringish<'de, D: Deserializer<'de>>(d: D) -> Result<Cow<'de, str>, D::Error> {
    d.deserialize_any(StringishVisitor)
}

#[cfg(test)]
impl Entry<'static> {
    /// The one builder other modules' tests use for an entry: its id, its
    /// writer and its timestamp; other fields by struct update
    /// (`Entry { topic: "t".into(), ..Entry::test("e1", "A", now) }`).
    pub fn test(id: &str, instance: &str, timestamp: i64) -> Self {
        Entry {
            id: id.to_string().into(),
            timestamp,
            source_instance: instance.to_string().into(),
            ..Entry::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table-driven hex gives what a byte-wise `{:02x}` gives (file
    /// names and block ids depend on it).
    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let all: Vec<u8> = (0..=255).collect();
        let want: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), want);
    }

    #[test]
    fn parses_python_era_entries() {
        let line = br#"{"id": "x", "timestamp": 1700000000, "source_instance": "A", "session_id": "abcd1234", "action": "completed", "topic": "T", "summary": "S", "relevance": {"A": 0.5}, "affects": "a.py", "blocks": "", "ttl": 3600}"#;
        let e = Entry::parse(line).unwrap();
        assert_eq!(e.timestamp, 1_700_000_000);
        assert_eq!(e.ttl, Some(3600));
        assert_eq!(e.topic, "T");
    }

    #[test]
    fn accepts_iso_timestamps_and_list_affects() {
        let line = br#"{"timestamp":"2026-11-20T10:00:00Z","affects":["a","b"],"ttl":"4h"}"#;
        let e = Entry::parse(line).unwrap();
        assert_eq!(e.timestamp, 1_795_168_800);
        assert_eq!(e.affects, "a, b");
        assert_eq!(e.ttl, Some(4 * 3600));
    }

    #[test]
    fn odd_field_types_are_tolerated() {
        let e = Entry::parse(
            br#"{"timestamp":1.5e9,"ttl":-5,"affects":{"a":1},"blocks":7,"topic":"t"}"#,
        )
        .unwrap();
        assert_eq!(e.timestamp, 1_500_000_000);
        assert_eq!(e.ttl, None);
        assert_eq!(e.affects, "");
        assert_eq!(e.blocks, "");
        let e = Entry::parse(br#"{"timestamp":"1700000000","ttl":true,"affects":["a",1,"b"]}"#)
            .unwrap();
        assert_eq!(e.timestamp, 1_700_000_000);
        assert_eq!(e.ttl, None);
        assert_eq!(e.affects, "a, b");
        let e = Entry::parse(br#"{"timestamp":null,"ttl":"2h","topic":"esc\"aped"}"#).unwrap();
        assert_eq!((e.timestamp, e.ttl), (0, Some(7200)));
        assert_eq!(e.topic, "esc\"aped");
    }

    #[test]
    fn rejects_non_entries() {
        assert!(Entry::parse(b"{\"id\": 1").is_none());
        assert!(Entry::parse(b"hello").is_none());
        assert!(Entry::parse(b"").is_none());
    }

    #[test]
    fn round_trips() {
        let e = Entry {
            id: "i".into(),
            timestamp: 5,
            source_instance: "A".into(),
            topic: "t \"q\"\n".into(),
            ttl: Some(60),
            ..Entry::default()
        };
        let line = e.to_line();
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        assert_eq!(Entry::parse(line.as_bytes()).unwrap(), e);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("30m"), Some(1800));
        assert_eq!(parse_duration("4h"), Some(14_400));
        assert_eq!(parse_duration("2 days"), Some(172_800));
        assert_eq!(parse_duration("1w"), Some(604_800));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
    }

    #[test]
    fn actions_map_synonyms() {
        assert_eq!(normalize_action("Done"), ("completed", true));
        assert_eq!(normalize_action(" claim "), ("claimed", true));
        assert_eq!(normalize_action("in progress"), ("claimed", true));
        assert_eq!(normalize_action("BLOCKED"), ("blocked", true));
        assert_eq!(normalize_action("dancing"), ("signaling", false));
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = last_message_block_id("p:1", "h", 0);
        assert_eq!(a, last_message_block_id("p:1", "h", 0));
        assert_ne!(a, last_message_block_id("p:1", "h", 1));
        assert_ne!(a, last_message_block_id("p:2", "h", 0));
        let f = file_block_id("u:x", 0, 0, "h");
        assert_ne!(f, file_block_id("u:x", 0, 1, "h"));
        assert_ne!(f, file_block_id("u:y", 0, 0, "h"));
        assert_ne!(f, file_block_id("u:x", 0, 0, "g"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert_ne!(random_entry_id("x"), random_entry_id("x"));
    }

    #[test]
    fn ids_and_names_have_a_fixed_character_set() {
        for ok in ["a", "A-1", "dev_2.b", "0f3c-aa", &"x".repeat(MAX_ID)] {
            assert!(check_name(ok).is_ok() && check_id(ok).is_ok(), "{ok}");
        }
        assert!(check_id("p:1").is_ok() && check_name("p:1").is_err());
        for bad in [
            "",
            "-rf",
            ".x",
            "_x",
            "a b",
            "a`b",
            "a;b",
            "$(x)",
            "a/b",
            "ü",
            "a\u{202e}b",
            &"x".repeat(MAX_ID + 1),
        ] {
            assert!(
                check_name(bad).is_err() && check_id(bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lines_with_bad_ids_or_names_are_not_entries() {
        assert!(
            Entry::parse(br#"{"id":"ok-1","source_instance":"A","to":"B","ref":"x:1"}"#).is_some()
        );
        assert!(Entry::parse(br#"{"timestamp":5}"#).is_some());
        for bad in [
            r#"{"id":"x`; rm -rf ~"}"#,
            r#"{"id":"--help"}"#,
            r#"{"source_instance":"A B"}"#,
            r#"{"to":"B;rm"}"#,
            r#"{"ref":"$(reboot)"}"#,
        ] {
            assert!(Entry::parse(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn every_field_is_capped_on_write() {
        let huge = "é".repeat(1_000_000);
        let e = Entry {
            id: "i".into(),
            session_id: huge.clone().into(),
            cwd: huge.clone().into(),
            host: huge.clone().into(),
            topic: huge.clone().into(),
            summary: huge.clone().into(),
            affects: huge.clone().into(),
            blocks: huge.clone().into(),
            action: huge.clone().into(),
            priority: huge.clone().into(),
            origin: huge.into(),
            ..Entry::default()
        };
        let line = e.to_line();
        assert!(line.len() < 80 * 1024, "{} bytes", line.len());
        let back = Entry::parse(line.as_bytes()).unwrap();
        assert_eq!(back.cwd.chars().count(), MAX_CWD);
        assert_eq!(back.session_id.chars().count(), MAX_SESSION_ID);
        let small = Entry {
            id: "i".into(),
            topic: "t".into(),
            ..Entry::default()
        };
        assert!(small.capped().is_none());
    }

    #[test]
    fn truncation_is_char_safe() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo", 3), "hé…");
    }
}
