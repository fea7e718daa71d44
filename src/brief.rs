//! A byte-level read of the few fields a reader needs to *count* an entry
//! (id, times, TTL, instance, action, `to`, `ref`) without parsing the line.
//!
//! Session start parses the entries it shows; the rest of the TTL window is
//! only counted, and on a busy pool that is most of the window. [`read`]
//! answers only for lines whose layout makes the answer certain, and `None`
//! otherwise, so the caller parses those in full:
//! - no backslash anywhere (so no escaped quote can hide or fake a key, and
//!   every `"` delimits a string);
//! - one object, `{` … `}`, with balanced braces and brackets and an even
//!   number of quotes (a torn line fails one of these);
//! - each wanted key appears at most once, and holds a plain string or a
//!   plain integer (a float, an ISO timestamp, `null` where a string is
//!   wanted: parse in full).
//!
//! A test checks [`read`] against the full parser on generated entries and on
//! every prefix of them.

/// The counted fields of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Brief<'a> {
    /// `id`.
    pub id: &'a str,
    /// `timestamp`, epoch seconds.
    pub timestamp: i64,
    /// `received`, epoch seconds, for entries pulled from other machines.
    pub received: Option<i64>,
    /// `ttl`, seconds.
    pub ttl: Option<u64>,
    /// `source_instance`.
    pub source_instance: &'a str,
    /// `action`.
    pub action: &'a str,
    /// `to` (empty when absent).
    pub to: &'a str,
    /// `ref` (empty when absent).
    pub reference: &'a str,
}

impl Brief<'_> {
    /// The later of `timestamp` and `received`, as [`crate::entry::Entry::order_time`].
    pub fn order_time(&self) -> i64 {
        self.received
            .map_or(self.timestamp, |r| r.max(self.timestamp))
    }

    /// Whether the entry is live at `now`, as [`crate::entry::Entry::is_live`].
    pub fn is_live(&self, now: i64, default_ttl: u64) -> bool {
        let ttl = i64::try_from(self.ttl.unwrap_or(default_ttl)).unwrap_or(i64::MAX);
        self.timestamp.saturating_add(ttl) > now
    }
}

/// Reads the counted fields of a stored line, or `None` when only a full
/// parse can tell.
pub fn read(line: &[u8]) -> Option<Brief<'_>> {
    let line = line.trim_ascii();
    if line.first() != Some(&b'{')
        || line.last() != Some(&b'}')
        || memchr::memchr(b'\\', line).is_some()
    {
        return None;
    }
    let count = |b: u8| memchr::memchr_iter(b, line).count();
    if count(b'{') != count(b'}') || count(b'[') != count(b']') || count(b'"') % 2 != 0 {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    Some(Brief {
        id: string(text, "\"id\":")?.unwrap_or_default(),
        timestamp: integer(text, "\"timestamp\":")??,
        received: integer(text, "\"received\":")?,
        ttl: match integer(text, "\"ttl\":")? {
            Some(t) => Some(u64::try_from(t).ok()?),
            None => None,
        },
        source_instance: string(text, "\"source_instance\":")?.unwrap_or_default(),
        action: string(text, "\"action\":")?.unwrap_or_default(),
        to: string(text, "\"to\":")?.unwrap_or_default(),
        reference: string(text, "\"ref\":")?.unwrap_or_default(),
    })
}

/// Where the value of `key` (given with its quotes and colon) starts:
/// `Some(None)` when the key is absent, `None` when it appears twice.
fn value_at<'a>(text: &'a str, key: &str) -> Option<Option<&'a str>> {
    let mut hits = memchr::memmem::find_iter(text.as_bytes(), key.as_bytes());
    let Some(at) = hits.next() else {
        return Some(None);
    };
    if hits.next().is_some() {
        return None;
    }
    Some(Some(text[at + key.len()..].trim_start_matches(' ')))
}

/// A plain string value; `Some(None)` when absent; `None` when not certain.
fn string<'a>(text: &'a str, key: &str) -> Option<Option<&'a str>> {
    let Some(rest) = value_at(text, key)? else {
        return Some(None);
    };
    let rest = rest.strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(Some(&rest[..end]))
}

/// A plain integer value; `Some(None)` when absent; `None` when not certain.
fn integer(text: &str, key: &str) -> Option<Option<i64>> {
    let Some(rest) = value_at(text, key)? else {
        return Some(None);
    };
    let digits_from = usize::from(rest.starts_with('-'));
    let end = rest[digits_from..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(rest.len(), |i| i + digits_from);
    if end == digits_from || !matches!(rest.as_bytes().get(end), Some(b',' | b'}' | b' ')) {
        return None;
    }
    Some(Some(rest[..end].parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Entry;
    use proptest::prelude::*;

    fn agrees(line: &[u8]) -> Result<(), TestCaseError> {
        if let Some(b) = read(line) {
            let e = Entry::parse(line);
            prop_assert!(
                e.is_some(),
                "brief read a line the parser rejects: {:?}",
                String::from_utf8_lossy(line)
            );
            let e = e.unwrap();
            prop_assert_eq!(b.id, e.id.as_ref());
            prop_assert_eq!(b.timestamp, e.timestamp);
            prop_assert_eq!(b.order_time(), e.order_time());
            prop_assert_eq!(b.ttl, e.ttl);
            prop_assert_eq!(b.source_instance, e.source_instance.as_ref());
            prop_assert_eq!(b.action, e.action.as_ref());
            prop_assert_eq!(b.to, e.to.as_ref());
            prop_assert_eq!(b.reference, e.reference.as_ref());
        }
        Ok(())
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 ,.:/_-]{0,30}",
            "\\PC{0,30}",
            Just("\"id\":\"fake\"".to_string()),
            Just("{\"ttl\": 5}".to_string()),
            Just("a \\ b".to_string()),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_the_parser_on_entries_and_their_prefixes(
            id in "[a-f0-9-]{1,36}", ts in 0i64..4_000_000_000, received in proptest::option::of(0i64..4_000_000_000),
            ttl in proptest::option::of(0u64..10_000_000), inst in text(), action in text(), topic in text(),
            summary in text(), to in text(), reference in text(), python_style in any::<bool>(),
        ) {
            let e = Entry {
                id: id.into(), timestamp: ts, received, ttl,
                source_instance: inst.into(), action: action.into(), topic: topic.into(),
                summary: summary.into(), to: to.into(), reference: reference.into(),
                ..Entry::default()
            };
            let mut line = e.to_line().trim_end().to_string();
            if python_style {
                // What the original Python hooks wrote: spaces after separators, a nested relevance map.
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                let mut m = v.as_object().unwrap().clone();
                m.insert("relevance".into(), serde_json::json!({"A": 0.5, "B": 0.25}));
                line = serde_json::to_string(&m).unwrap().replace("\":", "\": ").replace("\",\"", "\", \"");
            }
            agrees(line.as_bytes())?;
            for cut in 0..line.len() {
                if line.is_char_boundary(cut) {
                    agrees(&line.as_bytes()[..cut])?;
                    prop_assert!(read(&line.as_bytes()[..cut]).is_none() || Entry::parse(&line.as_bytes()[..cut]).is_some());
                }
            }
        }
    }

    #[test]
    fn reads_plain_lines_and_declines_the_rest() {
        let b = read(
            br#"{"id":"x","timestamp":100,"source_instance":"A","action":"completed","ttl":60}"#,
        )
        .unwrap();
        assert_eq!(
            (b.id, b.timestamp, b.ttl, b.source_instance, b.action, b.to),
            ("x", 100, Some(60), "A", "completed", "")
        );
        assert!(read(br#"{"id":"x","timestamp":"2026-11-20T10:00:00Z"}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1.5}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"topic":"a \"q\""}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"meta":{"id":"y"}}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"ttl":-5}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"to":null}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1"#).is_none());
    }
}
