//! Editing a JSON file while keeping the user's bytes: a strict parser that
//! records where every value, key and member starts and ends ([`parse`],
//! which also refuses a duplicate key), and a writer ([`splice`]) that turns
//! the original text into the text of an edited [`Value`] by copying every
//! part that did not change byte for byte (numbers however large or precise,
//! escapes, spacing, key order) and rendering only what is new.
//!
//! The edit itself stays a pure function over [`Value`]
//! ([`super::settings_file`]); this module only decides which bytes to keep.
//! Members of an object are matched by key, elements of a list in order (an
//! element equal to a later original one means the ones between were
//! removed). Whatever the matching, the result is checked to parse back to
//! the edited value, and refused otherwise.

use serde_json::Value;

/// Deepest nesting accepted (serde_json's own limit is 128).
const MAX_DEPTH: usize = 128;

/// What [`parse`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpanError {
    /// Not JSON at this byte offset.
    Syntax(usize),
    /// A key appears twice in one object; the offset of its second occurrence.
    Duplicate {
        /// The key, unescaped.
        key: String,
        /// Offset of its second occurrence's opening quote.
        at: usize,
    },
    /// Nested deeper than `MAX_DEPTH`.
    TooDeep(usize),
}

impl SpanError {
    /// The byte offset the error is at.
    pub fn offset(&self) -> usize {
        match self {
            SpanError::Syntax(at) | SpanError::TooDeep(at) => *at,
            SpanError::Duplicate { at, .. } => *at,
        }
    }
}

/// The 1-based line of byte offset `at` in `text`.
pub fn line_of(text: &str, at: usize) -> usize {
    1 + text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
}

/// One JSON value and where it is in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Offset of its first byte.
    pub start: usize,
    /// Offset just past its last byte.
    pub end: usize,
    /// What it is.
    pub kind: Kind,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A string, number, `true`, `false` or `null`.
    Scalar,
    /// A list.
    Array(Vec<Node>),
    /// An object, members in file order.
    Object(Vec<Member>),
}

/// One `"key": value` of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key, unescaped.
    pub key: String,
    /// Offset of the key's opening quote.
    pub key_start: usize,
    /// Offset just past the key's closing quote.
    pub key_end: usize,
    /// The value.
    pub value: Node,
}

/// Parses one JSON value surrounded by optional whitespace.
pub fn parse(text: &str) -> Result<Node, SpanError> {
    let mut p = Parser {
        b: text.as_bytes(),
        text,
        i: 0,
    };
    p.ws();
    let n = p.value(0)?;
    p.ws();
    if p.i != p.b.len() {
        return Err(SpanError::Syntax(p.i));
    }
    Ok(n)
}

struct Parser<'a> {
    b: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self
            .b
            .get(self.i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), SpanError> {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(SpanError::Syntax(self.i))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, SpanError> {
        let start = self.i;
        if depth > MAX_DEPTH {
            return Err(SpanError::TooDeep(start));
        }
        let kind = match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut members: Vec<Member> = Vec::new();
                let mut seen = std::collections::HashSet::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let key_start = self.i;
                        self.string()?;
                        let key_end = self.i;
                        let key: String = serde_json::from_str(&self.text[key_start..key_end])
                            .map_err(|_| SpanError::Syntax(key_start))?;
                        if !seen.insert(key.clone()) {
                            return Err(SpanError::Duplicate { key, at: key_start });
                        }
                        self.ws();
                        self.eat(b':')?;
                        self.ws();
                        let value = self.value(depth + 1)?;
                        members.push(Member {
                            key,
                            key_start,
                            key_end,
                            value,
                        });
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(SpanError::Syntax(self.i)),
                        }
                    }
                }
                Kind::Object(members)
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.b.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(SpanError::Syntax(self.i)),
                        }
                    }
                }
                Kind::Array(items)
            }
            Some(b'"') => {
                self.string()?;
                Kind::Scalar
            }
            Some(b't') => self.word(b"true")?,
            Some(b'f') => self.word(b"false")?,
            Some(b'n') => self.word(b"null")?,
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Kind::Scalar
            }
            _ => return Err(SpanError::Syntax(self.i)),
        };
        Ok(Node {
            start,
            end: self.i,
            kind,
        })
    }

    fn word(&mut self, w: &[u8]) -> Result<Kind, SpanError> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(Kind::Scalar)
        } else {
            Err(SpanError::Syntax(self.i))
        }
    }

    /// Skips a string, checking only its framing (serde_json checks the rest).
    fn string(&mut self) -> Result<(), SpanError> {
        self.eat(b'"')?;
        loop {
            match self.b.get(self.i) {
                None => return Err(SpanError::Syntax(self.i)),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => self.i += 2,
                Some(c) if *c < 0x20 => return Err(SpanError::Syntax(self.i)),
                Some(_) => self.i += 1,
            }
        }
    }

    fn number(&mut self) -> Result<(), SpanError> {
        let start = self.i;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.b.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i - s
        };
        match self.b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(SpanError::Syntax(start)),
        }
        if self.b.get(self.i) == Some(&b'.') {
            self.i += 1;
            if digits(self) == 0 {
                return Err(SpanError::Syntax(self.i));
            }
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(SpanError::Syntax(self.i));
            }
        }
        Ok(())
    }
}

/// How new parts are written: the indentation unit of the file (a part
/// added to a one-line container is written compactly instead).
struct Style<'a> {
    unit: &'a [u8],
    /// The file's line ending (`\r\n` when it uses them).
    newline: &'static str,
}

/// The text of `new`, made from `text` (whose tree is `node`, parsed as
/// `old`) by keeping every unchanged part's bytes. `None` when the result
/// would not parse back to `new` (never expected; the caller refuses then).
pub fn splice(text: &str, node: &Node, old: &Value, new: &Value, unit: &[u8]) -> Option<String> {
    let style = Style {
        unit,
        newline: if text.contains("\r\n") { "\r\n" } else { "\n" },
    };
    let mut out = String::with_capacity(text.len() + 1024);
    out.push_str(&text[..node.start]);
    edit(text, node, old, new, "", &style, &mut out);
    out.push_str(&text[node.end..]);
    let back: Value = serde_json::from_str(&out).ok()?;
    (back == *new && parse(&out).is_ok()).then_some(out)
}

/// The indentation of the line a separator leads to: what follows its last
/// newline, or `None` when it has none (a one-line container).
fn indent_after(sep: &str) -> Option<&str> {
    sep.rfind('\n').map(|i| &sep[i + 1..])
}

/// `v` rendered fresh, its continuation lines indented by `base`; compact
/// when `one_line`.
fn fresh(v: &Value, base: &str, one_line: bool, style: &Style, out: &mut String) {
    if one_line {
        out.push_str(&serde_json::to_string(v).unwrap_or_default());
        return;
    }
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(style.unit);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    let _ = v.serialize(&mut ser);
    let s = String::from_utf8_lossy(&buf);
    out.push_str(&s.replace('\n', &format!("{}{base}", style.newline)));
}

fn edit(
    text: &str,
    node: &Node,
    old: &Value,
    new: &Value,
    base: &str,
    style: &Style,
    out: &mut String,
) {
    if old == new {
        out.push_str(&text[node.start..node.end]);
        return;
    }
    // Additions to a container written on one line are written compactly;
    // an empty container (`{}`) has no style to follow, so it is pretty-printed.
    let empty = match &node.kind {
        Kind::Object(m) => m.is_empty(),
        Kind::Array(a) => a.is_empty(),
        Kind::Scalar => false,
    };
    let one_line = !empty && !text[node.start..node.end].contains('\n');
    match (&node.kind, old, new) {
        (Kind::Object(members), Value::Object(om), Value::Object(nm)) if !members.is_empty() => {
            // Element i's leading text: after `{` for the first, after the
            // previous value for the others.
            let lead = |i: usize| -> &str {
                let from = if i == 0 {
                    node.start + 1
                } else {
                    members[i - 1].value.end
                };
                &text[from..members[i].key_start]
            };
            let had: std::collections::HashSet<&str> =
                members.iter().map(|m| m.key.as_str()).collect();
            let kept: Vec<usize> = (0..members.len())
                .filter(|&i| nm.contains_key(&members[i].key))
                .collect();
            let added: Vec<(&String, &Value)> = nm
                .iter()
                .filter(|(k, _)| !had.contains(k.as_str()))
                .collect();
            if kept.is_empty() {
                fresh(new, base, one_line, style, out);
                return;
            }
            let trail = &text[members[members.len() - 1].value.end..node.end - 1];
            let sep = new_separator(members.len(), lead);
            let last = &members[members.len() - 1];
            let colon = &text[last.key_end..last.value.start];
            out.push('{');
            for (n, &i) in kept.iter().enumerate() {
                let m = &members[i];
                let l = lead(i);
                if n == 0 && i != 0 {
                    // The first members were removed: keep the opening's spacing.
                    out.push_str(lead(0));
                } else {
                    out.push_str(l);
                }
                out.push_str(&text[m.key_start..m.value.start]);
                let child_base = child_base(l, base, style);
                match (om.get(&m.key), nm.get(&m.key)) {
                    (Some(o), Some(v)) => edit(text, &m.value, o, v, &child_base, style, out),
                    _ => out.push_str(&text[m.value.start..m.value.end]),
                }
            }
            let child_base = child_base(&sep, base, style);
            for (k, v) in added {
                out.push_str(&sep);
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push_str(colon);
                fresh(v, &child_base, one_line, style, out);
            }
            out.push_str(trail);
            out.push('}');
        }
        (Kind::Array(items), Value::Array(oa), Value::Array(na))
            if !items.is_empty() && items.len() == oa.len() =>
        {
            let lead = |i: usize| -> &str {
                let from = if i == 0 {
                    node.start + 1
                } else {
                    items[i - 1].end
                };
                &text[from..items[i].start]
            };
            // Align: each new element takes the next original equal to it
            // (those skipped were removed); otherwise it is the next original
            // edited, or, past the end, appended.
            let mut plan: Vec<(Option<usize>, usize)> = Vec::new();
            let mut next = 0;
            for (j, v) in na.iter().enumerate() {
                if let Some(k) = (next..oa.len()).find(|&k| oa[k] == *v) {
                    plan.push((Some(k), j));
                    next = k + 1;
                } else if next < oa.len() && same_kind(&oa[next], v) {
                    plan.push((Some(next), j));
                    next += 1;
                } else {
                    plan.push((None, j));
                }
            }
            if plan.iter().all(|(k, _)| k.is_none()) {
                fresh(new, base, one_line, style, out);
                return;
            }
            let trail = &text[items[items.len() - 1].end..node.end - 1];
            let sep = new_separator(items.len(), lead);
            out.push('[');
            for (n, (k, j)) in plan.iter().enumerate() {
                match k {
                    Some(i) => {
                        let l = if n == 0 { lead(0) } else { lead(*i) };
                        // A kept element after a new one: a plain separator.
                        let l = if n > 0 && *i == 0 { sep.as_str() } else { l };
                        out.push_str(l);
                        let cb = child_base(lead(*i), base, style);
                        edit(text, &items[*i], &oa[*i], &na[*j], &cb, style, out);
                    }
                    None => {
                        out.push_str(if n == 0 { lead(0) } else { &sep });
                        let cb = child_base(&sep, base, style);
                        fresh(&na[*j], &cb, one_line, style, out);
                    }
                }
            }
            out.push_str(trail);
            out.push(']');
        }
        _ => fresh(new, base, one_line, style, out),
    }
}

fn same_kind(a: &Value, b: &Value) -> bool {
    matches!(
        (a, b),
        (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_))
    )
}

/// The text that goes before an element added after the last one: the
/// original separator of the second element when there is one, else a comma
/// and the first element's leading spacing.
fn new_separator<'t>(len: usize, lead: impl Fn(usize) -> &'t str) -> String {
    if len > 1 {
        lead(len - 1).to_string()
    } else {
        format!(",{}", lead(0))
    }
}

/// The indentation of an element whose leading text is `lead`, inside a
/// container indented by `base`.
fn child_base(lead: &str, base: &str, style: &Style) -> String {
    match indent_after(lead) {
        Some(i) => i.to_string(),
        None => format!("{base}{}", String::from_utf8_lossy(style.unit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edit_text(text: &str, f: impl FnOnce(&mut Value)) -> String {
        let old: Value = serde_json::from_str(text).unwrap();
        let mut new = old.clone();
        f(&mut new);
        let node = parse(text).unwrap();
        splice(text, &node, &old, &new, b"  ").unwrap()
    }

    #[test]
    fn spans_and_duplicates() {
        let n = parse(" {\"a\": [1, 2], \"b\": {}} ").unwrap();
        assert_eq!((n.start, n.end), (1, 23));
        let Kind::Object(m) = &n.kind else { panic!() };
        assert_eq!(m[0].key, "a");
        assert_eq!((m[0].value.start, m[0].value.end), (7, 13));
        let e = parse("{\n\"a\": 1,\n\"\\u0061\": 2}").unwrap_err();
        assert_eq!(
            e,
            SpanError::Duplicate {
                key: "a".into(),
                at: 10
            }
        );
        assert_eq!(line_of("{\n\"a\": 1,\n\"\\u0061\": 2}", e.offset()), 3);
        assert!(matches!(parse("[1,]"), Err(SpanError::Syntax(_))));
        assert!(matches!(parse("{} x"), Err(SpanError::Syntax(_))));
        assert!(matches!(parse("01"), Err(SpanError::Syntax(_))));
        assert!(matches!(
            parse(&"[".repeat(200)),
            Err(SpanError::TooDeep(_))
        ));
        // Many keys: duplicates are found with a hash set, not a scan per key.
        let many: String = format!(
            "{{{}}}",
            (0..50_000)
                .map(|i| format!("\"k{i}\":0"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let Kind::Object(m) = parse(&many).unwrap().kind else {
            panic!()
        };
        assert_eq!(m.len(), 50_000);
    }

    #[test]
    fn untouched_parts_keep_their_bytes() {
        let text = "{\"big\":   123456789012345678901234567890,\n \"f\" : 1.50, \"e\": \"\\u00e9\",\n\t\"l\": [1,2 ,3]\n}\n";
        let out = edit_text(text, |v| {
            v["hooks"] = json!({"Stop": [{"hooks": []}]});
        });
        assert!(
            out.starts_with(
                "{\"big\":   123456789012345678901234567890,\n \"f\" : 1.50, \"e\": \"\\u00e9\",\n\t\"l\": [1,2 ,3],\n\t\"hooks\": {\n\t  \"Stop\""
            ),
            "{out}"
        );
        // Taking the addition out again gives back the original.
        let back = edit_text(&out, |v| {
            v.as_object_mut().unwrap().shift_remove("hooks");
        });
        assert_eq!(back, text);
    }

    #[test]
    fn list_elements_are_removed_edited_and_appended_in_place() {
        let text = "{\"h\": [\n    {\"c\": \"mine\",  \"t\": 1e2},\n    {\"c\": \"old\"},\n    {\"c\": \"x\"}\n  ]}";
        let out = edit_text(text, |v| {
            let a = v["h"].as_array_mut().unwrap();
            a.remove(1);
            a[1]["c"] = json!("y");
            a.push(json!({"c": "new"}));
        });
        assert_eq!(
            out,
            "{\"h\": [\n    {\"c\": \"mine\",  \"t\": 1e2},\n    {\"c\": \"y\"},\n    {\"c\": \"new\"}\n  ]}"
        );
        // The first element removed.
        let out = edit_text("[ 1,\n  2,\n  3 ]", |v| {
            v.as_array_mut().unwrap().remove(0);
        });
        assert_eq!(out, "[ 2,\n  3 ]");
        // An empty file object is pretty-printed; CRLF files keep CRLF.
        let out = edit_text("{}\n", |v| v["a"] = json!([1]));
        assert_eq!(out, "{\n  \"a\": [\n    1\n  ]\n}\n");
        let out = edit_text("{\r\n  \"x\": 1\r\n}\r\n", |v| v["a"] = json!([1]));
        assert_eq!(
            out,
            "{\r\n  \"x\": 1,\r\n  \"a\": [\r\n    1\r\n  ]\r\n}\r\n"
        );
        // A one-line container gets compact additions.
        let out = edit_text("{\"a\":[1]}", |v| v["b"] = json!({"x": [1, 2]}));
        assert_eq!(out, "{\"a\":[1],\"b\":{\"x\":[1,2]}}");
    }
}
