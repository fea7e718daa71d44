//! Parsing `pool` blocks out of Markdown: which fenced code blocks count, and
//! how their `KEY: value` lines become fields.
//!
//! A block is a fenced code block (backticks or tildes, any fence length) whose
//! info string's first word is `pool`. Markdown is parsed with pulldown-cmark,
//! so a fence inside another fence, inside a list or a block quote behaves as
//! CommonMark says (an unterminated fence runs to the end of the text).

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

use crate::store::entry::{normalize_action, parse_duration, sha256_hex};

/// Most blocks taken from one piece of text; the rest are reported and skipped.
pub const MAX_BLOCKS_PER_TEXT: usize = 64;
/// Longest block body considered, in bytes; longer bodies are cut.
pub const MAX_BLOCK_BYTES: usize = 64 * 1024;

/// One fenced `pool` block as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlock {
    /// The block's body with line ends normalised to `\n` and trailing
    /// whitespace trimmed from each line.
    pub body: String,
}

impl RawBlock {
    /// Hex SHA-256 of the normalised body: the block's identity.
    pub fn hash(&self) -> String {
        sha256_hex(self.body.as_bytes())
    }
}

/// The blocks found in a text, and how many were skipped past the limit.
#[derive(Debug, Default)]
pub struct Found {
    /// Blocks in document order.
    pub blocks: Vec<RawBlock>,
    /// Blocks beyond [`MAX_BLOCKS_PER_TEXT`].
    pub skipped: usize,
}

/// Finds the `pool` blocks in a Markdown text.
pub fn find_blocks(markdown: &str) -> Found {
    let mut found = Found::default();
    // Cheap exit: most assistant text has no pool block at all.
    if memchr::memmem::find(markdown.as_bytes(), b"pool").is_none() {
        return found;
    }
    let mut current: Option<String> = None;
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let first = info.split_whitespace().next().unwrap_or("");
                // `pool` or `pool{…}`-style attributes after the word.
                let word = first.split(['{', ',', ';']).next().unwrap_or("");
                if word.eq_ignore_ascii_case("pool") {
                    current = Some(String::new());
                }
            }
            Event::Text(t) => {
                if let Some(buf) = current.as_mut()
                    && buf.len() < MAX_BLOCK_BYTES
                {
                    buf.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some(body) = current.take() {
                    if found.blocks.len() >= MAX_BLOCKS_PER_TEXT {
                        found.skipped += 1;
                    } else {
                        found.blocks.push(RawBlock {
                            body: normalize_body(&body),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    found
}

fn normalize_body(body: &str) -> String {
    let mut cut = body.len().min(MAX_BLOCK_BYTES);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = String::with_capacity(cut);
    for line in body[..cut].lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_matches('\n').to_string()
}

/// The fields of a block, as the assistant wrote them (before defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// `INSTANCE:` (used only when `CLAUDE_INSTANCE` is unset).
    pub instance: String,
    /// The normalised action.
    pub action: String,
    /// `TOPIC:`
    pub topic: String,
    /// `SUMMARY:`
    pub summary: String,
    /// `AFFECTS:`
    pub affects: String,
    /// `BLOCKS:` (what this unblocks).
    pub blocks: String,
    /// `TTL:` in seconds.
    pub ttl: Option<u64>,
    /// `TO:` an instance this is addressed to.
    pub to: String,
    /// `REF:` an entry id this answers.
    pub reference: String,
    /// `PRIORITY:`
    pub priority: String,
    /// Problems worth a line in the error log (unknown action, bad TTL).
    pub warnings: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Instance,
    Action,
    Topic,
    Summary,
    Affects,
    Blocks,
    Ttl,
    To,
    Ref,
    Priority,
}

fn key_of(name: &str) -> Option<Key> {
    Some(match name.to_ascii_uppercase().as_str() {
        "INSTANCE" => Key::Instance,
        "ACTION" | "STATUS" => Key::Action,
        "TOPIC" | "TITLE" => Key::Topic,
        "SUMMARY" | "DETAILS" => Key::Summary,
        "AFFECTS" | "FILES" => Key::Affects,
        "BLOCKS" | "UNBLOCKS" => Key::Blocks,
        "TTL" => Key::Ttl,
        "TO" => Key::To,
        "REF" => Key::Ref,
        "PRIORITY" => Key::Priority,
        _ => return None,
    })
}

/// Splits `KEY: value` when KEY is a known key (case-insensitive, optionally
/// after a list marker such as `- `).
fn split_key(line: &str) -> Option<(Key, &str)> {
    let l = line.trim_start();
    let l = l
        .strip_prefix("- ")
        .or_else(|| l.strip_prefix("* "))
        .unwrap_or(l);
    let colon = l.find(':')?;
    let name = l[..colon].trim().trim_matches('*');
    if name.is_empty() || name.len() > 16 {
        return None;
    }
    Some((key_of(name)?, l[colon + 1..].trim()))
}

/// Parses a block body into fields. A line with no known key continues the
/// previous value (joined with a newline in SUMMARY, a space elsewhere).
pub fn parse_fields(body: &str) -> Fields {
    let mut f = Fields::default();
    let mut raw_action = String::new();
    let mut raw_ttl = String::new();
    let mut last: Option<Key> = None;
    for line in body.lines() {
        if let Some((key, value)) = split_key(line) {
            let slot = slot(&mut f, &mut raw_action, &mut raw_ttl, key);
            if !slot.is_empty() && !value.is_empty() {
                slot.push(if key == Key::Summary { '\n' } else { ' ' });
            }
            slot.push_str(value);
            last = Some(key);
        } else if let Some(key) = last {
            let value = line.trim();
            if value.is_empty() {
                continue;
            }
            let slot = slot(&mut f, &mut raw_action, &mut raw_ttl, key);
            if !slot.is_empty() {
                slot.push(if key == Key::Summary { '\n' } else { ' ' });
            }
            slot.push_str(value);
        }
    }
    let (action, known) = normalize_action(&raw_action);
    if !known && !raw_action.trim().is_empty() {
        f.warnings.push(format!(
            "unknown ACTION {raw_action:?}, stored as signaling"
        ));
    }
    f.action = action.to_string();
    if !raw_ttl.trim().is_empty() {
        match parse_duration(&raw_ttl) {
            Some(t) => f.ttl = Some(t),
            None => f.warnings.push(format!("bad TTL {raw_ttl:?}, ignored")),
        }
    }
    f
}

fn slot<'a>(
    f: &'a mut Fields,
    action: &'a mut String,
    ttl: &'a mut String,
    key: Key,
) -> &'a mut String {
    match key {
        Key::Instance => &mut f.instance,
        Key::Action => action,
        Key::Topic => &mut f.topic,
        Key::Summary => &mut f.summary,
        Key::Affects => &mut f.affects,
        Key::Blocks => &mut f.blocks,
        Key::Ttl => ttl,
        Key::To => &mut f.to,
        Key::Ref => &mut f.reference,
        Key::Priority => &mut f.priority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(md: &str) -> Vec<String> {
        find_blocks(md).blocks.into_iter().map(|b| b.body).collect()
    }

    #[test]
    fn finds_backtick_and_tilde_fences_of_any_length() {
        let md = "a\n```pool\nTOPIC: one\n```\nb\n~~~~ pool extra\nTOPIC: two\n~~~~\n````pool\nTOPIC: three\n````";
        assert_eq!(bodies(md), ["TOPIC: one", "TOPIC: two", "TOPIC: three"]);
    }

    #[test]
    fn ignores_other_languages_and_inline_code() {
        let md = "```python\npool = 1\n```\n`pool` and ```pool x``` inline\n```\nTOPIC: plain\n```";
        assert!(bodies(md).is_empty());
    }

    #[test]
    fn fence_inside_a_fence_is_text() {
        let md = "````markdown\n```pool\nTOPIC: example\n```\n````\n";
        assert!(bodies(md).is_empty());
    }

    #[test]
    fn lists_and_block_quotes_follow_markdown() {
        let md =
            "- item\n\n  ```pool\n  TOPIC: in list\n  ```\n\n> ```pool\n> TOPIC: quoted\n> ```\n";
        assert_eq!(bodies(md), ["TOPIC: in list", "TOPIC: quoted"]);
    }

    #[test]
    fn crlf_is_normalised() {
        let md = "```pool\r\nTOPIC: x  \r\nSUMMARY: y\r\n```\r\n";
        assert_eq!(bodies(md), ["TOPIC: x\nSUMMARY: y"]);
    }

    #[test]
    fn unterminated_fence_runs_to_the_end() {
        assert_eq!(bodies("```pool\nTOPIC: open"), ["TOPIC: open"]);
    }

    #[test]
    fn caps_the_number_of_blocks() {
        let md = "```pool\nTOPIC: x\n```\n".repeat(MAX_BLOCKS_PER_TEXT + 5);
        let f = find_blocks(&md);
        assert_eq!(f.blocks.len(), MAX_BLOCKS_PER_TEXT);
        assert_eq!(f.skipped, 5);
    }

    #[test]
    fn parses_fields_case_insensitively_with_continuations() {
        let f = parse_fields(
            "instance: LEGION\nAction: Done\ntopic: Auth refresh\nSUMMARY: first line\nsecond line\nAffects: src/a.rs,\n  src/b.rs\nBLOCKS: B can start\nTTL: 4h\nTO: DEV\nREF: abc\nPRIORITY: critical",
        );
        assert_eq!(f.instance, "LEGION");
        assert_eq!(f.action, "completed");
        assert_eq!(f.topic, "Auth refresh");
        assert_eq!(f.summary, "first line\nsecond line");
        assert_eq!(f.affects, "src/a.rs, src/b.rs");
        assert_eq!(f.blocks, "B can start");
        assert_eq!(f.ttl, Some(14_400));
        assert_eq!(f.to, "DEV");
        assert_eq!(f.reference, "abc");
        assert_eq!(f.priority, "critical");
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn unknown_action_becomes_signaling_with_a_warning() {
        let f = parse_fields("ACTION: pondering\nTOPIC: t\nTTL: soon");
        assert_eq!(f.action, "signaling");
        assert_eq!(f.warnings.len(), 2);
    }

    #[test]
    fn missing_action_is_signaling_silently() {
        let f = parse_fields("TOPIC: t");
        assert_eq!(f.action, "signaling");
        assert!(f.warnings.is_empty());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in ".{0,400}") {
            let found = find_blocks(&s);
            for b in found.blocks {
                let _ = parse_fields(&b.body);
            }
        }

        #[test]
        fn never_panics_on_fence_soup(parts in proptest::collection::vec(prop_oneof![
            Just("```pool\n"), Just("```\n"), Just("~~~pool\n"), Just("> "), Just("- "), Just("TOPIC: x\n"),
            Just("ACTION: done\n"), Just("\r\n"), Just("````"), Just("  "), Just("é"), Just("\u{0}"),
        ], 0..60)) {
            let s: String = parts.concat();
            let _ = find_blocks(&s);
        }

        #[test]
        fn fields_round_trip_through_a_block(topic in "[A-Za-z0-9 ,.()/_-]{1,60}", summary in "[A-Za-z0-9 ,.()/_-]{0,200}") {
            let topic = topic.trim().to_string();
            let summary = summary.trim().to_string();
            prop_assume!(!topic.is_empty());
            let md = format!("text\n\n```pool\nACTION: claimed\nTOPIC: {topic}\nSUMMARY: {summary}\n```\n");
            let found = find_blocks(&md);
            prop_assert_eq!(found.blocks.len(), 1);
            let f = parse_fields(&found.blocks[0].body);
            prop_assert_eq!(f.topic, topic);
            prop_assert_eq!(f.summary, summary);
            prop_assert_eq!(f.action, "claimed");
        }
    }
}
