//! Fuzz the pool reader: backwards line reading and entry parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use claude_pool::store::entry::Entry;
    use claude_pool::store::fsio::RevLines;
    let mut r = RevLines::new(std::io::Cursor::new(data), data.len() as u64);
    while let Ok(Some((_, line))) = r.next_line() {
        if let Some(e) = Entry::parse(line) {
            let back = e.to_line();
            let again = Entry::parse(back.as_bytes()).expect("a written entry parses");
            // Writing caps over-long fields; within the caps it is exact.
            let want = e.capped().unwrap_or_else(|| e.clone().into_owned());
            assert_eq!(again, want);
        }
    }
});
