//! Fuzz the Markdown block finder and the field parser on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let found = claude_pool::agent::block::find_blocks(text);
        for b in &found.blocks {
            let _ = claude_pool::agent::block::parse_fields(&b.body);
        }
    }
});
