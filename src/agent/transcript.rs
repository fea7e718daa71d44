//! Reading the agents' transcripts: Claude Code's JSONL and Codex's rollout
//! JSONL, which lines count (assistant text of the main thread), which turn
//! each belongs to, and the `pool` blocks in them.
//!
//! Codex's rollout (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`, Codex
//! 0.171) is told apart line by line by its top-level `type`: only
//! `response_item` lines whose payload is an assistant `message` count, and
//! only their `output_text` parts (never reasoning, tool calls or their
//! output, user or developer messages, nor the `event_msg` lines that mirror
//! the same text for display). A `turn_context` line opens a turn, anchored
//! by its `turn_id` (`p:<turn_id>`, the id the Stop hook's input carries);
//! blocks are keyed by the message's id. A rollout whose `session_meta` says
//! it is a subagent's thread is skipped whole.
//!
//! The reader is incremental: it consumes whole lines from where the last call
//! stopped and carries a small [`TurnState`] between calls. Only `type:
//! "assistant"` lines that are not sidechains (subagents) are searched, and
//! only their `text` content blocks: never user text, tool input or output,
//! thinking, or `progress` lines that mirror subagents.
//!
//! Blocks are keyed by their line's uuid (see [`crate::store::entry::file_block_id`]).
//! Turns are tracked too, by an *anchor*: the `promptId` Claude Code stamps on
//! user lines (2.1.x), or, on versions without it, the uuid of the user line
//! that opened the turn; a block from `last_assistant_message` is keyed by its
//! turn until the file shows its line.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::agent::block::{RawBlock, find_blocks};
use crate::store::entry::{file_block_id, last_message_block_id, parse_iso, sha256_hex};

/// Longest transcript line examined, in bytes; longer lines are skipped (and counted).
pub const MAX_TRANSCRIPT_LINE: usize = 4 * 1024 * 1024;
/// Most distinct block hashes remembered per turn.
const MAX_COUNTS: usize = 4096;

/// A block taken from `last_assistant_message` whose line the file has not shown yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Content hash of the block.
    pub hash: String,
    /// Id of the entry written for it.
    pub id: String,
}

/// What the reader remembers between calls about the turn in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnState {
    /// The current turn's anchor (`p:<promptId>` or `u:<uuid>`), empty before the first prompt.
    #[serde(default)]
    pub anchor: String,
    /// When the turn began (epoch seconds), 0 if unknown.
    #[serde(default)]
    pub anchor_ts: i64,
    /// Hash of the last assistant text (containing `pool`) read in this turn.
    #[serde(default)]
    pub last_text: String,
    /// Hash of the last `last_assistant_message` handled in this turn.
    #[serde(default)]
    pub last_message: String,
    /// Blocks taken from `last_assistant_message` in this turn, per hash.
    #[serde(default)]
    pub message_counts: BTreeMap<String, u32>,
    /// Blocks taken from `last_assistant_message` the file has not shown yet.
    #[serde(default)]
    pub pending: Vec<Pending>,
    /// The file is a Codex subagent's rollout: nothing in it counts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub subagent: bool,
}

/// A block found in assistant text, with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The entry id (see [`crate::store::entry`]).
    pub id: String,
    /// When the turn began (epoch seconds), 0 if unknown.
    pub anchor_ts: i64,
    /// When the message holding the block was written (epoch seconds), 0 if unknown.
    pub message_ts: i64,
    /// The block.
    pub block: RawBlock,
    /// The block's content hash.
    pub hash: String,
    /// When this block from the file was already written from
    /// `last_assistant_message`: that entry's id. It is recorded as an alias
    /// of [`Candidate::id`] instead of being appended again.
    pub alias_of: Option<String>,
}

/// What one incremental read found.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// Bytes consumed: every complete line; a partial last line is left for later.
    pub consumed: u64,
    /// Blocks found, in file order.
    pub candidates: Vec<Candidate>,
    /// Lines read.
    pub lines: u64,
    /// Lines that could not be parsed.
    pub bad: u64,
    /// Lines over [`MAX_TRANSCRIPT_LINE`], skipped.
    pub overlong: u64,
    /// Blocks past the per-text limit.
    pub skipped_blocks: usize,
}

impl TurnState {
    fn set_anchor(&mut self, anchor: String, ts: i64) {
        if anchor != self.anchor {
            self.anchor = anchor;
            self.anchor_ts = ts;
            self.last_text.clear();
            self.last_message.clear();
            self.message_counts.clear();
            self.pending.clear();
        }
    }

    /// The blocks of one assistant text read from the file. `line_key`
    /// identifies the line (its uuid), `content_index` the text block in it.
    fn take_file_text(
        &mut self,
        text: &str,
        line_key: &str,
        content_index: usize,
        message_ts: i64,
    ) -> (Vec<Candidate>, usize) {
        let found = find_blocks(text);
        let mut out = Vec::with_capacity(found.blocks.len());
        for (i, block) in found.blocks.into_iter().enumerate() {
            let hash = block.hash();
            let alias_of = self
                .pending
                .iter()
                .position(|p| p.hash == hash)
                .map(|at| self.pending.remove(at).id);
            out.push(Candidate {
                id: file_block_id(line_key, content_index, i, &hash),
                anchor_ts: self.anchor_ts,
                message_ts,
                block,
                hash,
                alias_of,
            });
        }
        if !out.is_empty() {
            self.last_text = text_hash(text);
        }
        (out, found.skipped)
    }

    /// Candidates from the Stop hook's `last_assistant_message`, remembered
    /// as pending so the file's copy of them (when it arrives) is recognised.
    /// Empty when that text is the last one already read from the file, or
    /// was already handled. When the hook's `prompt_id` names a turn the file
    /// has not reached, that turn is used.
    pub fn take_last_message(
        &mut self,
        text: &str,
        prompt_id: Option<&str>,
        fallback_anchor: &str,
        now: i64,
    ) -> (Vec<Candidate>, usize) {
        match prompt_id.filter(|p| !p.is_empty()) {
            Some(pid) => {
                let a = format!("p:{pid}");
                if self.anchor.is_empty() || (self.anchor.starts_with("p:") && self.anchor != a) {
                    self.set_anchor(a, now);
                }
            }
            None if self.anchor.is_empty() => self.set_anchor(fallback_anchor.to_string(), now),
            None => {}
        }
        let h = text_hash(text);
        if h == self.last_text || h == self.last_message {
            return (Vec::new(), 0);
        }
        self.last_message = h;
        let found = find_blocks(text);
        let mut out = Vec::with_capacity(found.blocks.len());
        for block in found.blocks {
            let hash = block.hash();
            let n = self.message_counts.get(&hash).copied().unwrap_or(0);
            if self.message_counts.len() < MAX_COUNTS {
                self.message_counts.insert(hash.clone(), n + 1);
            }
            let id = last_message_block_id(&self.anchor, &hash, n);
            if self.pending.len() < MAX_COUNTS {
                self.pending.push(Pending {
                    hash: hash.clone(),
                    id: id.clone(),
                });
            }
            out.push(Candidate {
                id,
                anchor_ts: if self.anchor_ts > 0 {
                    self.anchor_ts
                } else {
                    now
                },
                message_ts: now,
                block,
                hash,
                alias_of: None,
            });
        }
        (out, found.skipped)
    }
}

/// Hash of an assistant text for "is this the same text": Claude Code trims
/// trailing whitespace from `last_assistant_message` but not in the file.
fn text_hash(text: &str) -> String {
    sha256_hex(text.trim().as_bytes())[..32].to_string()
}

/// Reads complete lines from `r` (positioned where the last call stopped),
/// updating `state` and collecting candidates. Memory is bounded by
/// [`MAX_TRANSCRIPT_LINE`]: longer lines are skipped without being held.
pub fn read_from<R: BufRead>(mut r: R, state: &mut TurnState) -> io::Result<ReadOutcome> {
    let mut out = ReadOutcome::default();
    let mut line: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut overlong = false;
    let mut pos: u64 = 0;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            // A partial last line stays unread until it is complete.
            return Ok(out);
        }
        let (n, complete) = match memchr::memchr(b'\n', buf) {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if !overlong {
            if line.len() + n > MAX_TRANSCRIPT_LINE {
                overlong = true;
                line = Vec::new();
            } else {
                line.extend_from_slice(&buf[..n]);
            }
        }
        r.consume(n);
        pos += n as u64;
        if complete {
            out.consumed = pos;
            out.lines += 1;
            if overlong {
                out.overlong += 1;
                overlong = false;
            } else {
                process_line(&line, state, &mut out);
            }
            line.clear();
        }
    }
}

fn process_line(line: &[u8], st: &mut TurnState, out: &mut ReadOutcome) {
    let has_pool = memchr::memmem::find(line, b"pool").is_some();
    // Only user lines (Claude Code) and turn or session headers (Codex) move
    // the turn anchor; a line naming none of them cannot be one.
    if !has_pool
        && memchr::memmem::find(line, b"\"user\"").is_none()
        && memchr::memmem::find(line, b"\"turn_context\"").is_none()
        && memchr::memmem::find(line, b"\"session_meta\"").is_none()
    {
        return;
    }
    let rec: Line<'_> = match serde_json::from_slice(line.trim_ascii()) {
        Ok(r) => r,
        Err(_) => {
            if !line.trim_ascii().is_empty() {
                out.bad += 1;
            }
            return;
        }
    };
    if rec.is_sidechain {
        return;
    }
    let ts = rec.timestamp.as_deref().and_then(parse_iso).unwrap_or(0);
    match rec.kind.as_deref() {
        Some("user") => {
            if let Some(pid) = rec.prompt_id.as_deref().filter(|p| !p.is_empty()) {
                st.set_anchor(format!("p:{pid}"), ts);
            } else if !rec.is_meta
                && !rec.is_compact_summary
                && rec.message.as_ref().is_some_and(|m| m.content.is_prompt())
                && let Some(uuid) = rec.uuid.as_deref()
            {
                st.set_anchor(format!("u:{uuid}"), ts);
            }
        }
        Some("assistant") if has_pool => {
            let Some(msg) = rec.message else { return };
            if st.anchor.is_empty() {
                let fallback = msg
                    .id
                    .as_deref()
                    .map(|id| format!("m:{id}"))
                    .or_else(|| rec.uuid.as_deref().map(|u| format!("l:{u}")))
                    .unwrap_or_default();
                st.set_anchor(fallback, ts);
            }
            // Forks copy assistant lines with their uuids, so the uuid keys
            // the block; lines without one fall back to the message id.
            let line_key = match (rec.uuid.as_deref(), msg.id.as_deref()) {
                (Some(u), _) if !u.is_empty() => format!("u:{u}"),
                (_, Some(m)) => format!("m:{m}:{}", rec.api_block_index.unwrap_or(0)),
                _ => String::new(),
            };
            if let Content::Blocks(blocks) = msg.content {
                for (ci, b) in blocks.into_iter().enumerate() {
                    if b.kind.as_deref() == Some("text")
                        && let Some(text) = b.text
                    {
                        let (c, skipped) = st.take_file_text(&text, &line_key, ci, ts);
                        out.candidates.extend(c);
                        out.skipped_blocks += skipped;
                    }
                }
            }
        }
        Some("session_meta") if rec.payload.as_ref().is_some_and(|p| p.is_subagent()) => {
            st.subagent = true;
        }
        Some("turn_context") => {
            if let Some(turn) = rec.payload.as_ref().and_then(|p| p.turn_id.as_deref())
                && !turn.is_empty()
            {
                st.set_anchor(format!("p:{turn}"), ts);
            }
        }
        Some("response_item") if has_pool && !st.subagent => {
            let Some(p) = rec.payload else { return };
            if p.kind.as_deref() != Some("message") || p.role.as_deref() != Some("assistant") {
                return;
            }
            if st.anchor.is_empty() {
                let turn = p
                    .passthrough
                    .as_ref()
                    .and_then(|m| m.turn_id.as_deref())
                    .filter(|t| !t.is_empty());
                let fallback = match (turn, p.id.as_deref()) {
                    (Some(t), _) => format!("p:{t}"),
                    (None, Some(id)) => format!("m:{id}"),
                    (None, None) => String::new(),
                };
                st.set_anchor(fallback, ts);
            }
            // A forked or resumed rollout copies items with their ids, so the
            // message id keys the block; the line's ordinal is the fallback.
            let line_key = match (p.id.as_deref(), rec.ordinal) {
                (Some(id), _) if !id.is_empty() => format!("m:{id}"),
                (_, Some(o)) => format!("o:{o}"),
                _ => String::new(),
            };
            if let Content::Blocks(parts) = p.content {
                for (ci, b) in parts.into_iter().enumerate() {
                    if b.kind.as_deref() == Some("output_text")
                        && let Some(text) = b.text
                    {
                        let (c, skipped) = st.take_file_text(&text, &line_key, ci, ts);
                        out.candidates.extend(c);
                        out.skipped_blocks += skipped;
                    }
                }
            }
        }
        _ => {}
    }
}

/// The payload of a Codex rollout line (the fields the reader needs).
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Content<'a>,
    #[serde(borrow, default)]
    turn_id: Option<Cow<'a, str>>,
    #[serde(rename = "internal_chat_message_metadata_passthrough", borrow, default)]
    passthrough: Option<Passthrough<'a>>,
    /// `session_meta`: where the thread came from (`"exec"`, `"cli"`, or an
    /// object such as `{"subagent": …}`).
    #[serde(default)]
    source: Option<serde_json::Value>,
    #[serde(borrow, default)]
    thread_source: Option<Cow<'a, str>>,
}

impl Payload<'_> {
    fn is_subagent(&self) -> bool {
        let named = |s: &str| s.to_ascii_lowercase().contains("subagent");
        self.thread_source.as_deref().is_some_and(named)
            || match &self.source {
                Some(serde_json::Value::String(s)) => named(s),
                Some(serde_json::Value::Object(m)) => m.keys().any(|k| named(k)),
                _ => false,
            }
    }
}

#[derive(Deserialize)]
struct Passthrough<'a> {
    #[serde(borrow, default)]
    turn_id: Option<Cow<'a, str>>,
}

/// The fields of a transcript line the reader needs; everything else is skipped.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(rename = "isSidechain", default, deserialize_with = "lenient_bool")]
    is_sidechain: bool,
    #[serde(rename = "isMeta", default, deserialize_with = "lenient_bool")]
    is_meta: bool,
    #[serde(
        rename = "isCompactSummary",
        default,
        deserialize_with = "lenient_bool"
    )]
    is_compact_summary: bool,
    #[serde(borrow, default)]
    uuid: Option<Cow<'a, str>>,
    #[serde(rename = "promptId", borrow, default)]
    prompt_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(rename = "apiBlockIndex", default, deserialize_with = "lenient_u64")]
    api_block_index: Option<u64>,
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
    /// Codex: the line's body.
    #[serde(borrow, default)]
    payload: Option<Payload<'a>>,
    /// Codex: the line's position in the rollout.
    #[serde(default, deserialize_with = "lenient_u64")]
    ordinal: Option<u64>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Content<'a>,
}

#[derive(Default)]
enum Content<'a> {
    #[default]
    None,
    Text,
    Blocks(Vec<ContentBlock<'a>>),
}

impl Content<'_> {
    /// A user line is a prompt when its content is text, not tool results.
    fn is_prompt(&self) -> bool {
        match self {
            Content::Text => true,
            Content::Blocks(b) => {
                !b.is_empty() && b.iter().all(|b| b.kind.as_deref() != Some("tool_result"))
            }
            Content::None => false,
        }
    }
}

#[derive(Deserialize)]
struct ContentBlock<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("message content")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Content::Text)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Content::None)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::new();
                while let Some(item) = seq.next_element::<Option<ContentBlock<'a>>>()? {
                    v.extend(item);
                }
                Ok(Content::Blocks(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Content::None)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Content::None)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Content::None)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Content::None)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Content::None)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        N(u64),
        Other(IgnoredAny),
    }
    Ok(match Option::<N>::deserialize(d)? {
        Some(N::N(n)) => Some(n),
        _ => None,
    })
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        B(bool),
        Other(IgnoredAny),
    }
    Ok(matches!(Option::<B>::deserialize(d)?, Some(B::B(true))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str, st: &mut TurnState) -> ReadOutcome {
        read_from(io::Cursor::new(s.as_bytes()), st).unwrap()
    }

    fn user(pid: &str, content: &str) -> String {
        format!(
            r#"{{"type":"user","promptId":"{pid}","isSidechain":false,"uuid":"u-{pid}","timestamp":"2026-11-21T04:00:00Z","message":{{"role":"user","content":{content}}}}}"#
        ) + "\n"
    }

    fn assistant(id: &str, blocks: &str) -> String {
        format!(
            r#"{{"type":"assistant","isSidechain":false,"uuid":"a-{id}","timestamp":"2026-11-21T04:00:01Z","message":{{"id":"{id}","role":"assistant","content":{blocks}}}}}"#
        ) + "\n"
    }

    const BLOCK: &str = r#"[{"type":"text","text":"hi\n```pool\nTOPIC: t\n```"}]"#;

    #[test]
    fn only_assistant_text_counts() {
        let mut st = TurnState::default();
        let mut s = user("p1", r#""```pool\nTOPIC: user\n```""#);
        s += &assistant(
            "m1",
            r#"[{"type":"thinking","thinking":"```pool\nTOPIC: think\n```"}]"#,
        );
        s += &assistant(
            "m2",
            r#"[{"type":"tool_use","id":"t","name":"Bash","input":{"command":"```pool\nTOPIC: tool\n```"}}]"#,
        );
        s += &user(
            "p1",
            r#"[{"type":"tool_result","tool_use_id":"t","content":"```pool\nTOPIC: result\n```"}]"#,
        );
        s += &assistant("m3", BLOCK);
        s += r#"{"type":"assistant","isSidechain":true,"message":{"id":"s","content":[{"type":"text","text":"```pool\nTOPIC: side\n```"}]}}"#;
        s.push('\n');
        let out = read(&s, &mut st);
        assert_eq!(out.candidates.len(), 1);
        assert_eq!(out.candidates[0].block.body, "TOPIC: t");
        assert_eq!(st.anchor, "p:p1");
        assert_eq!(out.consumed, s.len() as u64);
    }

    #[test]
    fn partial_last_line_is_left_for_later() {
        let mut st = TurnState::default();
        let full = user("p1", r#""go""#) + &assistant("m1", BLOCK);
        let cut = full.len() - 10;
        let out = read(&full[..cut], &mut st);
        assert!(out.candidates.is_empty());
        let consumed = out.consumed as usize;
        let out = read(&full[consumed..], &mut st);
        assert_eq!(out.candidates.len(), 1);
    }

    #[test]
    fn the_same_block_in_later_messages_is_new() {
        let mut st = TurnState::default();
        let s = user("p1", r#""go""#)
            + &assistant("m1", BLOCK)
            + &assistant("m2", BLOCK)
            + &user("p2", r#""again""#)
            + &assistant("m3", BLOCK);
        let out = read(&s, &mut st);
        let ids: std::collections::HashSet<_> =
            out.candidates.iter().map(|c| c.id.clone()).collect();
        assert_eq!(out.candidates.len(), 3);
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn last_message_is_recognised_when_the_file_catches_up() {
        let mut st = TurnState::default();
        read(&user("p1", r#""go""#), &mut st);
        let text = "hi\n```pool\nTOPIC: t\n```";
        let (lam, _) = st.take_last_message(text, Some("p1"), "s:x", 0);
        assert_eq!(lam.len(), 1);
        // The same Stop again: nothing new.
        assert!(
            st.take_last_message(text, Some("p1"), "s:x", 0)
                .0
                .is_empty()
        );
        let out = read(&assistant("m1", BLOCK), &mut st);
        assert_eq!(
            out.candidates[0].alias_of.as_deref(),
            Some(lam[0].id.as_str())
        );
        assert!(st.pending.is_empty());
        // Once the file has it, the same last message yields nothing new.
        assert!(
            st.take_last_message(text, Some("p1"), "s:x", 0)
                .0
                .is_empty()
        );
    }

    #[test]
    fn older_versions_anchor_on_the_prompt_line() {
        let mut st = TurnState::default();
        let s = r#"{"type":"user","uuid":"U1","message":{"role":"user","content":[{"type":"text","text":"go"}]}}
{"type":"user","uuid":"U2","message":{"role":"user","content":[{"type":"tool_result","content":"x"}]}}
"#
        .to_string()
            + &assistant("m1", BLOCK);
        let out = read(&s, &mut st);
        assert_eq!(out.candidates.len(), 1);
        assert_eq!(st.anchor, "u:U1");
    }

    #[test]
    fn garbage_lines_are_counted_not_fatal() {
        let mut st = TurnState::default();
        let s = "not json but pool\n\u{0}\u{1}\n{\"type\":\"user\"\n".to_string()
            + &user("p", r#""x""#);
        let out = read(&s, &mut st);
        assert_eq!(out.bad, 2);
        assert_eq!(st.anchor, "p:p");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut st = TurnState::default();
            let out = read_from(io::Cursor::new(&bytes), &mut st).unwrap();
            prop_assert!(out.consumed <= bytes.len() as u64);
        }

        #[test]
        fn never_panics_on_json_shaped_lines(lines in proptest::collection::vec(prop_oneof![
            Just(r#"{"type":"assistant","message":{"content":[{"type":"text","text":"```pool\nTOPIC: x\n```"}]}}"#.to_string()),
            Just(r#"{"type":"user","promptId":7,"message":{"content":{"a":1}}}"#.to_string()),
            Just(r#"{"type":"assistant","uuid":null,"message":{"id":3,"content":"```pool"}}"#.to_string()),
            Just(r#"{"type":"user","uuid":"u","message":{"content":[null,1,"x",{"type":"text"}]}}"#.to_string()),
            Just(r#"{"type":"response_item","payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"```pool\nTOPIC: x\n```"}]}}"#.to_string()),
            Just(r#"{"type":"response_item","ordinal":"x","payload":{"type":"message","role":"assistant","id":5,"content":"```pool"}}"#.to_string()),
            Just(r#"{"type":"turn_context","payload":{"turn_id":7}}"#.to_string()),
            Just(r#"{"type":"session_meta","payload":{"source":[1,{"subagent":2}],"thread_source":{}}}"#.to_string()),
            ".{0,80}".prop_map(|s| s),
        ], 0..30)) {
            let mut st = TurnState::default();
            let text = lines.join("\n") + "\n";
            let _ = read_from(io::Cursor::new(text.as_bytes()), &mut st).unwrap();
            let _ = st.take_last_message("```pool\nTOPIC: y\n```", Some("p"), "s:x", 0);
        }
    }
}

#[cfg(test)]
mod codex {
    use super::*;

    /// A rollout written by the real Codex 0.171.0 (see tests/fixtures/codex/README.md).
    const ROLLOUT: &str = include_str!("../../tests/fixtures/codex/rollout-0.171.0.jsonl");
    const TURN: &str = "01a22b07-3c35-7433-99f7-a8f2b3072c8e";

    fn read(s: &str, st: &mut TurnState) -> ReadOutcome {
        read_from(io::Cursor::new(s.as_bytes()), st).unwrap()
    }

    #[test]
    fn only_the_assistants_final_text_counts_in_a_real_rollout() {
        // The rollout also holds the block in a reasoning item, in a shell
        // call's output, and the final text again in `event_msg` lines.
        let mut st = TurnState::default();
        let out = read(ROLLOUT, &mut st);
        assert_eq!(out.bad, 0);
        assert_eq!(out.consumed, ROLLOUT.len() as u64);
        let bodies: Vec<_> = out
            .candidates
            .iter()
            .map(|c| c.block.body.as_str())
            .collect();
        assert_eq!(
            bodies,
            ["ACTION: completed\nTOPIC: Codex probe\nAFFECTS: notes.txt"]
        );
        assert_eq!(st.anchor, format!("p:{TURN}"));
        assert!(out.candidates[0].message_ts > 0);
        // Ids are deterministic: a second reader (a resumed or forked copy) finds the same.
        let again = read(ROLLOUT, &mut TurnState::default());
        assert_eq!(again.candidates[0].id, out.candidates[0].id);
    }

    #[test]
    fn read_in_pieces_gives_the_same_blocks() {
        let mut whole = TurnState::default();
        let want = read(ROLLOUT, &mut whole).candidates;
        for cut in [1, ROLLOUT.len() / 3, ROLLOUT.len() / 2, ROLLOUT.len() - 2] {
            let mut st = TurnState::default();
            let first = read(&ROLLOUT[..cut], &mut st);
            let rest = read(&ROLLOUT[first.consumed as usize..], &mut st);
            let got: Vec<_> = first
                .candidates
                .into_iter()
                .chain(rest.candidates)
                .collect();
            assert_eq!(got, want, "cut at {cut}");
        }
    }

    #[test]
    fn a_stop_before_the_file_shows_the_message_is_aliased_later() {
        // The Stop hook's input: `turn_id`, which the adapter turns into the prompt id.
        let stop: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/codex/hook-Stop.json"))
                .unwrap();
        assert_eq!(stop["turn_id"], TURN);
        let lam = stop["last_assistant_message"].as_str().unwrap();
        let mut st = TurnState::default();
        let (early, _) = st.take_last_message(lam, Some(TURN), "s:x", 1_000);
        assert_eq!(early.len(), 1);
        let out = read(ROLLOUT, &mut st);
        assert_eq!(out.candidates.len(), 1);
        assert_eq!(
            out.candidates[0].alias_of.as_deref(),
            Some(early[0].id.as_str())
        );
        // And after the file, the same message is not taken again.
        let (late, _) = st.take_last_message(lam, Some(TURN), "s:x", 1_001);
        assert!(late.is_empty());
    }

    #[test]
    fn a_subagents_rollout_is_skipped() {
        let meta = r#"{"timestamp":"2026-11-30T05:57:04.284Z","type":"session_meta","payload":{"id":"t2","source":{"subagent":{"thread_spawn":{"parent_thread_id":"t1"}}},"thread_source":"subagent"}}"#;
        let body: String = ROLLOUT.lines().skip(1).map(|l| format!("{l}\n")).collect();
        let mut st = TurnState::default();
        let out = read(&format!("{meta}\n{body}"), &mut st);
        assert!(out.candidates.is_empty());
        assert!(st.subagent);
    }

    #[test]
    fn user_developer_and_tool_items_never_count() {
        let lines = [
            r#"{"type":"turn_context","payload":{"turn_id":"t"}}"#,
            r#"{"type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"```pool\nTOPIC: u\n```"}]}}"#,
            r#"{"type":"response_item","payload":{"type":"message","role":"developer","content":[{"type":"input_text","text":"```pool\nTOPIC: d\n```"}]}}"#,
            r#"{"type":"response_item","payload":{"type":"function_call_output","output":"```pool\nTOPIC: f\n```"}}"#,
            r#"{"type":"event_msg","payload":{"type":"agent_message","message":"```pool\nTOPIC: e\n```"}}"#,
            r#"{"type":"response_item","ordinal":9,"payload":{"type":"message","role":"assistant","content":[{"type":"output_text","text":"```pool\nTOPIC: a\n```"}]}}"#,
        ];
        let mut st = TurnState::default();
        let out = read(&(lines.join("\n") + "\n"), &mut st);
        let bodies: Vec<_> = out
            .candidates
            .iter()
            .map(|c| c.block.body.as_str())
            .collect();
        assert_eq!(bodies, ["TOPIC: a"]);
        assert_eq!(st.anchor, "p:t");
    }
}
