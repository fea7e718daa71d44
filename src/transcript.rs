//! Reading Claude Code's transcript JSONL: which lines count (assistant text of
//! the main thread), which turn each belongs to, and the `pool` blocks in them.
//!
//! The reader is incremental: it consumes whole lines from where the last call
//! stopped and carries a small [`TurnState`] between calls. Only `type:
//! "assistant"` lines that are not sidechains (subagents) are searched, and
//! only their `text` content blocks: never user text, tool input or output,
//! thinking, or `progress` lines that mirror subagents.
//!
//! Turns are identified by an *anchor*: the `promptId` Claude Code stamps on
//! user lines (2.1.x), or, on versions without it, the uuid of the user line
//! that opened the turn. See [`crate::entry::block_entry_id`] for why.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::block::{RawBlock, find_blocks};
use crate::entry::{parse_iso, sha256_hex};

/// Longest transcript line examined, in bytes; longer lines are skipped (and counted).
pub const MAX_TRANSCRIPT_LINE: usize = 4 * 1024 * 1024;
/// Most distinct block hashes remembered per turn.
const MAX_COUNTS: usize = 4096;

/// What the reader remembers between calls about the turn in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnState {
    /// The current turn's anchor (`p:<promptId>` or `u:<uuid>`), empty before the first prompt.
    #[serde(default)]
    pub anchor: String,
    /// When the turn began (epoch seconds), 0 if unknown.
    #[serde(default)]
    pub anchor_ts: i64,
    /// How many times each block hash was seen in this turn's assistant text.
    #[serde(default)]
    pub counts: BTreeMap<String, u32>,
    /// Hash of the last assistant text (containing `pool`) read in this turn.
    #[serde(default)]
    pub last_text: String,
}

/// A block found in assistant text, with what makes its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Turn anchor.
    pub anchor: String,
    /// When the turn began (epoch seconds), 0 if unknown.
    pub anchor_ts: i64,
    /// When the message holding the block was written (epoch seconds), 0 if unknown.
    pub message_ts: i64,
    /// The block.
    pub block: RawBlock,
    /// The block's content hash.
    pub hash: String,
    /// Earlier identical blocks in the same turn.
    pub ordinal: u32,
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
            self.counts.clear();
            self.last_text.clear();
        }
    }

    /// Registers the blocks of one assistant text in this turn and returns
    /// them as candidates; `commit` false computes ordinals without
    /// remembering them (for `last_assistant_message`, which the file may
    /// show again later).
    pub fn take_text(
        &mut self,
        text: &str,
        message_ts: i64,
        commit: bool,
    ) -> (Vec<Candidate>, usize) {
        let found = find_blocks(text);
        let mut counts_tmp;
        let counts = if commit {
            &mut self.counts
        } else {
            counts_tmp = self.counts.clone();
            &mut counts_tmp
        };
        let mut out = Vec::with_capacity(found.blocks.len());
        for block in found.blocks {
            let hash = block.hash();
            let n = counts.get(&hash).copied().unwrap_or(0);
            if counts.len() < MAX_COUNTS || counts.contains_key(&hash) {
                counts.insert(hash.clone(), n + 1);
            }
            out.push(Candidate {
                anchor: self.anchor.clone(),
                anchor_ts: self.anchor_ts,
                message_ts,
                block,
                hash,
                ordinal: n,
            });
        }
        if commit && !out.is_empty() {
            self.last_text = text_hash(text);
        }
        (out, found.skipped)
    }

    /// Candidates from the Stop hook's `last_assistant_message`. Empty when
    /// that text is the last one already read from the file. When the hook's
    /// `prompt_id` names a turn the file has not reached, that turn is used.
    pub fn last_message_candidates(
        &self,
        text: &str,
        prompt_id: Option<&str>,
        fallback_anchor: &str,
        now: i64,
    ) -> (Vec<Candidate>, usize) {
        let mut st = self.clone();
        match prompt_id.filter(|p| !p.is_empty()) {
            Some(pid) => {
                let a = format!("p:{pid}");
                if st.anchor.is_empty() || (st.anchor.starts_with("p:") && st.anchor != a) {
                    st.set_anchor(a, now);
                }
            }
            None if st.anchor.is_empty() => st.set_anchor(fallback_anchor.to_string(), now),
            None => {}
        }
        if !st.last_text.is_empty() && st.last_text == text_hash(text) && st.anchor == self.anchor {
            return (Vec::new(), 0);
        }
        st.take_text(text, now, false)
    }
}

fn text_hash(text: &str) -> String {
    sha256_hex(text.as_bytes())[..32].to_string()
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
    // Only user lines move the turn anchor; a line without `"user"` cannot be one.
    if !has_pool && memchr::memmem::find(line, b"\"user\"").is_none() {
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
            if let Content::Blocks(blocks) = msg.content {
                for b in blocks {
                    if b.kind.as_deref() == Some("text")
                        && let Some(text) = b.text
                    {
                        let (c, skipped) = st.take_text(&text, ts, true);
                        out.candidates.extend(c);
                        out.skipped_blocks += skipped;
                    }
                }
            }
        }
        _ => {}
    }
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
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
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
        s += &r#"{"type":"assistant","isSidechain":true,"message":{"id":"s","content":[{"type":"text","text":"```pool\nTOPIC: side\n```"}]}}"#.to_string();
        s.push('\n');
        let out = read(&s, &mut st);
        assert_eq!(out.candidates.len(), 1);
        assert_eq!(out.candidates[0].block.body, "TOPIC: t");
        assert_eq!(out.candidates[0].anchor, "p:p1");
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
    fn ordinals_count_repeats_within_a_turn_and_reset_per_turn() {
        let mut st = TurnState::default();
        let s = user("p1", r#""go""#)
            + &assistant("m1", BLOCK)
            + &assistant("m2", BLOCK)
            + &user("p2", r#""again""#)
            + &assistant("m3", BLOCK);
        let out = read(&s, &mut st);
        let got: Vec<_> = out
            .candidates
            .iter()
            .map(|c| (c.anchor.as_str(), c.ordinal))
            .collect();
        assert_eq!(got, [("p:p1", 0), ("p:p1", 1), ("p:p2", 0)]);
    }

    #[test]
    fn last_message_matches_what_the_file_shows_later() {
        let mut st = TurnState::default();
        read(&user("p1", r#""go""#), &mut st);
        let text = "hi\n```pool\nTOPIC: t\n```";
        let (lam, _) = st.last_message_candidates(text, Some("p1"), "s:x", 0);
        assert_eq!(lam.len(), 1);
        let out = read(&assistant("m1", BLOCK), &mut st);
        assert_eq!(
            (lam[0].anchor.as_str(), lam[0].ordinal, &lam[0].hash),
            (
                out.candidates[0].anchor.as_str(),
                out.candidates[0].ordinal,
                &out.candidates[0].hash
            )
        );
        // Once the file has it, the same last message yields nothing new.
        let (again, _) = st.last_message_candidates(text, Some("p1"), "s:x", 0);
        assert!(again.is_empty());
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
        assert_eq!(out.candidates[0].anchor, "u:U1");
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
