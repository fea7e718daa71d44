//! Fuzz the choke point for text from other sessions (`view::neutral`): no
//! field or output line it lets through can start a structure (a tag that
//! opens or closes a wrapper, a turn prefix, a fence), and no invisible
//! character survives; the JSON form keeps the data exactly.
#![no_main]

use claude_pool::view::neutral::{clean, document, is_invisible, json, starts_structure};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (max, text) = match data.split_first() {
        Some((m, rest)) => (usize::from(*m) + 1, String::from_utf8_lossy(rest)),
        None => return,
    };
    let field = clean(&text, max);
    assert!(field.chars().count() <= max);
    assert!(!field.contains('\n'));
    assert!(!field.chars().any(is_invisible), "{field:?}");
    assert!(!field.contains("```") && !field.contains("~~~"), "{field:?}");
    let mut prev: Option<char> = None;
    for (i, c) in field.char_indices() {
        if !prev.is_some_and(char::is_alphanumeric) {
            assert!(!starts_structure(&field[i..]), "{field:?} at {i}");
        }
        prev = Some(c);
    }
    let doc = document(&text);
    assert!(doc.chars().all(|c| c == '\n' || c == '\t' || !is_invisible(c)), "{doc:?}");
    for line in doc.lines() {
        let t = line.trim_start();
        assert!(!starts_structure(line) || t.starts_with(['`', '~']), "{line:?}");
    }
    assert_eq!(document(&doc), doc);
    let encoded = serde_json::to_string(&text.as_ref()).unwrap_or_default();
    let inert = json(&encoded);
    assert!(!inert.contains('<') && !inert.chars().any(is_invisible), "{inert:?}");
    let back: String = serde_json::from_str(&inert).expect("still JSON");
    assert_eq!(back, text.as_ref());
});
