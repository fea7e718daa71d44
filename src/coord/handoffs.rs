//! Handoffs and durable knowledge: entries addressed to one instance that stay
//! in front of it until acknowledged, and `learned` / `decided` entries that
//! outlive ordinary ones.
//!
//! A handoff is an entry with `TO: <instance>` (or `pool post --to`). It is
//! pending until any entry carries `REF: <its id>` (`pool ack <id>` posts one).
//! Handoffs, `learned` and `decided` entries live [`LONG_TTL`] unless they set
//! their own TTL.

use std::collections::HashSet;

use crate::store::entry::Entry;

/// Default lifetime of handoffs and of `learned` / `decided` entries, in seconds (7 days).
pub const LONG_TTL: u64 = 7 * 86_400;

/// The default TTL an entry gets when it names none: long for handoffs,
/// knowledge and entries that refer to another (an acknowledgement or a
/// release must stay visible as long as what it answers), else none (the
/// reader's `POOL_TTL`).
pub fn default_ttl_for(action: &str, to: &str, reference: &str) -> Option<u64> {
    (!to.trim().is_empty()
        || !reference.trim().is_empty()
        || matches!(action, "learned" | "decided"))
    .then_some(LONG_TTL)
}

/// Whether an entry is durable knowledge with its own section.
pub fn is_knowledge(e: &Entry<'_>) -> bool {
    matches!(e.action.as_ref(), "learned" | "decided")
}

/// Tracks acknowledgements while entries are visited newest first, and
/// answers whether a handoff to `me` is still pending.
#[derive(Debug, Default)]
pub struct AckTracker {
    refs: HashSet<String>,
}

impl AckTracker {
    /// Notes an acknowledgement (`REF`) seen while visiting newest first.
    pub fn note_ref(&mut self, reference: &str) {
        if !reference.is_empty() {
            self.refs.insert(reference.to_string());
        }
    }

    /// Visits one entry (newest first); returns true when it is a live
    /// handoff to `me` that no newer entry acknowledged.
    pub fn visit(&mut self, e: &Entry<'_>, me: Option<&str>, now: i64, default_ttl: u64) -> bool {
        if !e.reference.is_empty() {
            self.refs.insert(e.reference.to_string());
        }
        let to_me = me.is_some_and(|m| !e.to.is_empty() && e.to.eq_ignore_ascii_case(m));
        to_me && e.is_live(now, default_ttl) && !self.refs.contains(e.id.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledged_by_a_newer_ref() {
        let h = Entry {
            id: "h1".into(),
            to: "dev".into(),
            timestamp: 100,
            ttl: Some(LONG_TTL),
            ..Entry::default()
        };
        let ack = Entry {
            id: "a1".into(),
            reference: "h1".into(),
            timestamp: 200,
            ..Entry::default()
        };
        let mut t = AckTracker::default();
        assert!(t.visit(&h, Some("DEV"), 300, 3600));
        let mut t = AckTracker::default();
        assert!(!t.visit(&ack, Some("DEV"), 300, 3600));
        assert!(!t.visit(&h, Some("DEV"), 300, 3600));
        let mut t = AckTracker::default();
        assert!(!t.visit(&h, Some("OTHER"), 300, 3600));
        assert_eq!(default_ttl_for("completed", "DEV", ""), Some(LONG_TTL));
        assert_eq!(default_ttl_for("learned", "", ""), Some(LONG_TTL));
        assert_eq!(default_ttl_for("signaling", "", "abc"), Some(LONG_TTL));
        assert_eq!(default_ttl_for("completed", "", ""), None);
    }
}
