//! Differential fuzzing of the byte-level reader against the parser: when
//! `brief::read` answers, the full parse must agree on every field.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(b) = claude_pool::store::brief::read(data) {
        let e = claude_pool::store::entry::Entry::parse(data).expect("brief read a line the parser rejects");
        assert_eq!(b.id, e.id.as_ref());
        assert_eq!(b.timestamp, e.timestamp);
        assert_eq!(b.order_time(), e.order_time());
        assert_eq!(b.ttl, e.ttl);
        assert_eq!(b.source_instance, e.source_instance.as_ref());
        assert_eq!(b.action, e.action.as_ref());
        assert_eq!(b.to, e.to.as_ref());
        assert_eq!(b.reference, e.reference.as_ref());
    }
});
