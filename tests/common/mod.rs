//! Helpers shared by the integration tests (each test file is its own
//! crate: `mod common;` at its top brings these in; not every file uses
//! every helper, hence the `dead_code` allowance).
#![allow(dead_code)]

/// Whether `text` contains `pattern`, where every `0s ago` in `pattern`
/// stands for any `Ns ago`: an entry posted just before a view is read is
/// `0s ago` on an idle machine and `1s ago` (or more) on a loaded one, and
/// the rest of the line is asserted to the letter.
pub fn contains_secs_ago(text: &str, pattern: &str) -> bool {
    let re = pattern
        .split("0s ago")
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(r"\d+s ago");
    regex::Regex::new(&re).unwrap().is_match(text)
}
