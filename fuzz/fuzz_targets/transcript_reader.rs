//! Fuzz the incremental transcript reader on arbitrary bytes, read in two
//! parts as the Stop hook does across calls.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use claude_pool::agent::transcript::{TurnState, read_from};
    let mut st = TurnState::default();
    let split = data.len() / 2;
    if let Ok(out) = read_from(std::io::Cursor::new(&data[..split]), &mut st) {
        let rest = &data[out.consumed as usize..];
        let _ = read_from(std::io::Cursor::new(rest), &mut st);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = st.take_last_message(text, Some("p"), "s:x", 0);
    }
});
