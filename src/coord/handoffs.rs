//! Handoffs and durable knowledge: entries addressed to one instance that stay
//! in front of it until acknowledged, and `learned` / `decided` entries that
//! outlive ordinary ones.
//!
//! A handoff is an entry with `TO: <instance>` (or `pool post --to`). It is
//! pending until any entry carries `REF: <its id>` (`pool ack <id>` posts one).
//! Handoffs, `learned` and `decided` entries live [`LONG_TTL`] unless they set
//! their own TTL. Once an instance acknowledged a handoff, it is no longer
//! shown to that instance at all ([`AckTracker::acked_by_me`]).
//!
//! Each handoff reaches a session's context once: the ids already shown to a
//! session are kept in `sessions/<session>.handoffs` ([`load_shown`],
//! [`save_shown`]), so a later prompt of the same session does not repeat
//! what its conversation already holds.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::store::entry::Entry;
use crate::store::fsio;
use crate::store::paths::{SESSIONS_DIR, safe_file_stem};

/// Most handoff ids remembered as shown per session.
pub const MAX_SHOWN: usize = 1000;
/// Largest shown-handoffs file read, in bytes (64 KiB).
const MAX_SHOWN_FILE: u64 = 64 * 1024;

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
    mine: HashSet<String>,
}

impl AckTracker {
    /// Notes an acknowledgement (`REF`) seen while visiting newest first.
    pub fn note_ref(&mut self, reference: &str) {
        if !reference.is_empty() {
            self.refs.insert(reference.to_string());
        }
    }

    /// Notes an acknowledgement and who wrote it.
    pub fn note_ref_from(&mut self, reference: &str, source: &str, me: Option<&str>) {
        self.note_ref(reference);
        if !reference.is_empty() && me.is_some_and(|m| source.eq_ignore_ascii_case(m)) {
            self.mine.insert(reference.to_string());
        }
    }

    /// Whether an entry is a handoff that `me` acknowledged (in an entry
    /// visited before it): it is no longer shown to `me`.
    pub fn acked_by_me(&self, e: &Entry<'_>) -> bool {
        !e.to.is_empty() && self.mine.contains(e.id.as_ref())
    }

    /// Visits one entry (newest first); returns true when it is a live
    /// handoff to `me` that no newer entry acknowledged.
    pub fn visit(&mut self, e: &Entry<'_>, me: Option<&str>, now: i64, default_ttl: u64) -> bool {
        self.note_ref_from(&e.reference, &e.source_instance, me);
        let to_me = me.is_some_and(|m| !e.to.is_empty() && e.to.eq_ignore_ascii_case(m));
        to_me && e.is_live(now, default_ttl) && !self.refs.contains(e.id.as_ref())
    }
}

fn shown_path(pool_dir: &Path, session: &str) -> PathBuf {
    pool_dir
        .join(SESSIONS_DIR)
        .join(format!("{}.handoffs", safe_file_stem(session)))
}

/// The handoff ids already shown to `session` (none when it has no file or
/// the file cannot be read: showing a handoff twice beats never showing it).
pub fn load_shown(pool_dir: &Path, session: &str) -> HashSet<String> {
    use std::io::Read;
    let mut buf = String::new();
    let read = std::fs::File::open(shown_path(pool_dir, session))
        .and_then(|f| f.take(MAX_SHOWN_FILE).read_to_string(&mut buf));
    if read.is_err() {
        return HashSet::new();
    }
    buf.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Replaces the ids shown to `session` with `ids` (at most [`MAX_SHOWN`]).
/// Fails when the sessions folder or the file cannot be written.
pub fn save_shown<'a>(
    pool_dir: &Path,
    session: &str,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let dir = pool_dir.join(SESSIONS_DIR);
    fsio::ensure_private_dir(&dir)?;
    let mut text = String::new();
    for id in ids.into_iter().take(MAX_SHOWN) {
        if id.contains(['\n', '\r']) {
            continue;
        }
        text.push_str(id);
        text.push('\n');
    }
    fsio::replace_file(&shown_path(pool_dir, session), text.as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledged_by_me_and_shown_ids() {
        let h = Entry {
            id: "h1".into(),
            to: "dev".into(),
            ..Entry::default()
        };
        let mut t = AckTracker::default();
        t.note_ref_from("h1", "OTHER", Some("dev"));
        assert!(!t.acked_by_me(&h));
        t.note_ref_from("h1", "Dev", Some("dev"));
        assert!(t.acked_by_me(&h));
        let tmp = tempfile::tempdir().unwrap();
        assert!(load_shown(tmp.path(), "s").is_empty());
        save_shown(tmp.path(), "s", ["a", "b\nc", "d"]).unwrap();
        let got = load_shown(tmp.path(), "s");
        assert_eq!(got.len(), 2);
        assert!(got.contains("a") && got.contains("d"));
    }

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
