//! A byte-level read of the few fields a reader needs to *count* an entry
//! (id, times, TTL, instance, action, `to`, `ref`) without parsing the line.
//!
//! Session start parses the entries it shows; the rest of the TTL window is
//! only counted, and on a busy pool that is most of the window. [`read`]
//! answers only for lines whose layout makes the answer certain, and `None`
//! otherwise, so the caller parses those in full:
//! - no backslash anywhere (so no escaped quote can hide or fake a key, and
//!   every `"` delimits a string);
//! - one object, `{` … `}`, well nested, with keys, colons and commas where
//!   JSON puts them, read in one pass (a torn line fails this);
//! - each wanted key appears at most once at the top level, and holds a plain
//!   string or a plain integer (a float, an ISO timestamp, `null` where a
//!   string is wanted: parse in full).
//!
//! A property test checks [`read`] against the full parser on generated
//! entries and on every prefix of them, and the `brief_reader` fuzz target
//! (`fuzz/`) checks it differentially on arbitrary bytes.

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
    /// The later of `timestamp` and `received`, as [`crate::store::entry::Entry::order_time`].
    pub fn order_time(&self) -> i64 {
        self.received
            .map_or(self.timestamp, |r| r.max(self.timestamp))
    }

    /// Whether the entry is live at `now`, as [`crate::store::entry::Entry::is_live`].
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
    let text = std::str::from_utf8(line).ok()?;
    let v = top_level(text)?;
    if STRING_FIELDS
        .iter()
        .any(|&k| v[k].is_some_and(|raw| !raw.starts_with('"')))
    {
        return None;
    }
    let string = |i: usize| -> Option<&str> {
        match v[i] {
            None => Some(""),
            Some(raw) => raw.strip_prefix('"')?.strip_suffix('"'),
        }
    };
    let integer = |i: usize| -> Option<Option<i64>> {
        match v[i] {
            None => Some(None),
            // serde_json reads `-0` as a float (it keeps the sign).
            Some(raw) if is_json_number(raw) && !raw.contains(['.', 'e', 'E']) && raw != "-0" => {
                Some(Some(raw.parse().ok()?))
            }
            Some(_) => None,
        }
    };
    Some(Brief {
        id: string(ID)?,
        timestamp: integer(TIMESTAMP)??,
        received: integer(RECEIVED)?,
        ttl: match integer(TTL)? {
            Some(t) => Some(u64::try_from(t).ok()?),
            None => None,
        },
        source_instance: string(SOURCE_INSTANCE)?,
        action: string(ACTION)?,
        to: string(TO)?,
        reference: string(REF)?,
    })
}

/// Every field of [`crate::store::entry::Entry`], in [`key_index`] order: the first
/// eight are read, the rest only checked (the parser rejects a repeated
/// field, and a non-string where a string field is declared).
#[cfg(test)]
const KEYS: [&str; 17] = [
    "id",
    "timestamp",
    "received",
    "ttl",
    "source_instance",
    "action",
    "to",
    "ref",
    "session_id",
    "topic",
    "summary",
    "cwd",
    "host",
    "priority",
    "origin",
    "affects",
    "blocks",
];
const ID: usize = 0;
const TIMESTAMP: usize = 1;
const RECEIVED: usize = 2;
const TTL: usize = 3;
const SOURCE_INSTANCE: usize = 4;
const ACTION: usize = 5;
const TO: usize = 6;
const REF: usize = 7;
/// Fields the parser declares as strings (null or a number there is an error).
const STRING_FIELDS: [usize; 12] = [
    ID,
    SOURCE_INSTANCE,
    ACTION,
    TO,
    REF,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
];

/// One pass over an object with no backslashes: the raw text of the
/// top-level values of [`KEYS`] (a string with its quotes, or a scalar
/// token; a nested value or a repeated key makes it `None`). `None` when the
/// text is not exactly one JSON object: the whole text is checked against
/// JSON's grammar (strings without control characters, numbers, literals,
/// nesting, colons and commas), not only the top level.
fn top_level(text: &str) -> Option<[Option<&str>; 17]> {
    #[derive(Clone, Copy, PartialEq)]
    enum Want {
        Key,
        Colon,
        Value,
        Comma,
    }
    #[derive(Clone, Copy)]
    struct Level {
        object: bool,
        want: Want,
        members: bool,
    }
    let b = text.as_bytes();
    // Raw control characters are invalid inside strings; outside them only
    // whitespace may be one, and no writer of ours puts any there: a line
    // holding any is left to the parser.
    if has_control(b) {
        return None;
    }
    let mut out: [Option<&str>; 17] = [None; 17];
    let mut seen = [false; 17];
    // Nesting deeper than this is left to the parser.
    const MAX_DEPTH: usize = 16;
    let mut levels = [Level {
        object: true,
        want: Want::Key,
        members: false,
    }; MAX_DEPTH];
    let mut depth_now = 0usize;
    let mut key: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            i += 1;
            continue;
        }
        let depth = depth_now;
        if depth == 0 {
            // Only the one object, at the very start.
            if c != b'{' || i != 0 {
                return None;
            }
        }
        match c {
            b'"' => {
                let end = i + 1 + memchr::memchr(b'"', &b[i + 1..])?;
                let top = levels[..depth_now].last_mut()?;
                match top.want {
                    Want::Key if top.object => {
                        top.members = true;
                        top.want = Want::Colon;
                        if depth == 1 {
                            key = key_index(&text[i + 1..end]);
                            if let Some(k) = key {
                                if seen[k] {
                                    return None;
                                }
                                seen[k] = true;
                            }
                        }
                    }
                    Want::Value => {
                        top.members = true;
                        top.want = Want::Comma;
                        record(&mut out, key, depth, &text[i..=end]);
                    }
                    _ => return None,
                }
                i = end + 1;
            }
            b':' => {
                let top = levels[..depth_now].last_mut()?;
                if !top.object || top.want != Want::Colon {
                    return None;
                }
                top.want = Want::Value;
                i += 1;
            }
            b',' => {
                let top = levels[..depth_now].last_mut()?;
                if top.want != Want::Comma {
                    return None;
                }
                top.want = if top.object { Want::Key } else { Want::Value };
                i += 1;
            }
            b'{' | b'[' => {
                if let Some(top) = levels[..depth_now].last_mut() {
                    if top.want != Want::Value {
                        return None;
                    }
                    top.members = true;
                    top.want = Want::Comma;
                    record(&mut out, key, depth, "{");
                }
                let object = c == b'{';
                if depth_now == MAX_DEPTH {
                    return None;
                }
                levels[depth_now] = Level {
                    object,
                    want: if object { Want::Key } else { Want::Value },
                    members: false,
                };
                depth_now += 1;
                i += 1;
            }
            b'}' | b']' => {
                depth_now = depth_now.checked_sub(1)?;
                let top = levels[depth_now];
                let closes = top.object == (c == b'}')
                    && match top.want {
                        Want::Comma => true,
                        Want::Key if top.object => !top.members,
                        Want::Value if !top.object => !top.members,
                        _ => false,
                    };
                if !closes {
                    return None;
                }
                i += 1;
                if depth_now == 0 {
                    return (i == b.len()).then_some(out);
                }
            }
            _ => {
                let top = levels[..depth_now].last_mut()?;
                if top.want != Want::Value {
                    return None;
                }
                let end = b[i..]
                    .iter()
                    .position(|x| matches!(x, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                    .map_or(b.len(), |p| i + p);
                let token = &text[i..end];
                // Exponents and very long numbers can overflow the parser's
                // f64 (an error there): leave those to it.
                let plain_number =
                    is_json_number(token) && !token.contains(['e', 'E']) && token.len() <= 20;
                if !plain_number && !matches!(token, "true" | "false" | "null") {
                    return None;
                }
                top.members = true;
                top.want = Want::Comma;
                record(&mut out, key, depth, token);
                i = end;
            }
        }
    }
    None
}

/// Whether any byte is below 0x20, eight bytes at a time.
fn has_control(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // A byte below 0x20 borrows when 0x20 is subtracted from it, setting its
        // high bit where the byte's own high bit was clear.
        if (x.wrapping_sub(ONES * 0x20) & !x & HIGHS) != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|x| *x < 0x20)
}

/// The index of a field name in [`KEYS`].
fn key_index(name: &str) -> Option<usize> {
    Some(match name {
        "id" => 0,
        "timestamp" => 1,
        "received" => 2,
        "ttl" => 3,
        "source_instance" => 4,
        "action" => 5,
        "to" => 6,
        "ref" => 7,
        "session_id" => 8,
        "topic" => 9,
        "summary" => 10,
        "cwd" => 11,
        "host" => 12,
        "priority" => 13,
        "origin" => 14,
        "affects" => 15,
        "blocks" => 16,
        _ => return None,
    })
}

/// Keeps a value that just ended at depth 1 for `key`, if it is wanted.
fn record<'t>(out: &mut [Option<&'t str>; 17], key: Option<usize>, depth: usize, raw: &'t str) {
    if depth == 1
        && let Some(k) = key
    {
        out[k] = Some(raw);
    }
}

/// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, JSON's number grammar.
fn is_json_number(t: &str) -> bool {
    let b = t.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::entry::Entry;
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
    fn control_bytes_are_found() {
        for n in 0..20 {
            for pos in 0..n {
                for bad in [0u8, 0x09, 0x1f] {
                    let mut v = vec![b'a'; n];
                    v[pos] = bad;
                    assert!(has_control(&v), "{n} {pos} {bad}");
                }
            }
            assert!(!has_control(&vec![b' '; n]));
            assert!(!has_control(&vec![0xffu8; n]));
            assert!(!has_control(&vec![0x20u8; n]));
        }
    }

    #[test]
    fn key_index_matches_keys() {
        for (i, k) in KEYS.iter().enumerate() {
            assert_eq!(key_index(k), Some(i));
        }
        assert_eq!(key_index("relevance"), None);
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
        // A nested object's keys are not the entry's.
        assert_eq!(
            read(br#"{"id":"x","timestamp":1,"meta":{"id":"y","ttl":[1]}}"#)
                .unwrap()
                .id,
            "x"
        );
        assert!(read(br#"{"id":"x","timestamp":1,"id":"y"}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"ttl":{"a":1}}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1}}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,}"#).is_none());
        assert!(read(br#"{"id":"x" "timestamp":1}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"a":[}]}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"a":nope}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"a":1e}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"a":0850}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":0850}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"received":-0}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"priority":5}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"topic":"a","topic":"b"}"#).is_none());
        assert!(read(b"{\"id\":\"x\ty\",\"timestamp\":1}").is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"a":true,"b":null,"c":-1.5}"#).is_some());
        assert!(read(br#"{"id":"x","timestamp":1,"affects":1700E10001}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"ttl":-5}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1,"to":null}"#).is_none());
        assert!(read(br#"{"id":"x","timestamp":1"#).is_none());
    }
}
