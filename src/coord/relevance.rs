//! Relevance and liveness: which entries a session is shown.
//!
//! The rule (computed when reading, never stored): an entry is kept when it is
//! live (younger than its own `ttl`, else `POOL_TTL`) and any of these holds:
//! it is this instance's own; it carries BLOCKS; it is addressed to this
//! instance or marked `PRIORITY: critical`; this instance has no domain; or
//! its relevance is at least `POOL_RELEVANCE_MIN`.
//!
//! Relevance is `min(1, 2 × matched / keywords)`, where `matched` counts the
//! domain keywords that occur as whole words (case-insensitive) in the
//! entry's topic, summary and affects. Words are split on anything that is not
//! a letter or digit, so paths split on `/ _ . -`; a keyword of several words
//! matches those words in a row.

use crate::env::config::Config;
use crate::store::entry::Entry;

/// A domain: keywords, each split into lowercase words.
#[derive(Debug, Clone, Default)]
pub struct Domain {
    keywords: Vec<Vec<String>>,
}

impl Domain {
    /// Builds a domain from keywords as configured.
    pub fn new(keywords: &[String]) -> Self {
        Domain {
            keywords: keywords
                .iter()
                .map(|k| words(k).collect::<Vec<_>>())
                .filter(|w| !w.is_empty())
                .collect(),
        }
    }

    /// Whether the domain has no keywords (sees every entry).
    pub fn is_empty(&self) -> bool {
        self.keywords.is_empty()
    }

    /// The relevance of an entry, 0.0 to 1.0; 1.0 for an empty domain.
    pub fn score(&self, e: &Entry<'_>) -> f64 {
        if self.keywords.is_empty() {
            return 1.0;
        }
        let text: Vec<String> = words(&e.topic)
            .chain(words(&e.summary))
            .chain(words(&e.affects))
            .collect();
        let matched = self
            .keywords
            .iter()
            .filter(|k| text.windows(k.len()).any(|w| w == k.as_slice()))
            .count();
        (2.0 * matched as f64 / self.keywords.len() as f64).min(1.0)
    }
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
}

/// Why an entry was kept for this session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kept {
    /// The entry is this instance's own.
    pub own: bool,
    /// Relevance score.
    pub score: f64,
}

/// Decides whether `e` is shown to this session at `now`.
pub fn keep(e: &Entry<'_>, s: &Config, domain: &Domain, now: i64) -> Option<Kept> {
    if !e.is_live(now, s.ttl) {
        return None;
    }
    // Another machine's entry is never this instance's own, whatever name
    // it carries (issue 22).
    let own = e.source().is_none()
        && s.instance
            .as_deref()
            .is_some_and(|me| e.source_instance == me);
    let score = domain.score(e);
    let addressed = s.instance.as_deref().is_some_and(|me| e.to == me);
    let shown = own
        || !e.blocks.trim().is_empty()
        || addressed
        || e.priority.eq_ignore_ascii_case("critical")
        || score >= s.relevance_min;
    shown.then_some(Kept { own, score })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(topic: &str, summary: &str, affects: &str) -> Entry<'static> {
        Entry {
            topic: topic.to_string().into(),
            summary: summary.to_string().into(),
            affects: affects.to_string().into(),
            timestamp: 1000,
            source_instance: "B".into(),
            ..Entry::default()
        }
    }

    #[test]
    fn scores_whole_words_and_path_parts() {
        let d = Domain::new(&[
            "pipeline".into(),
            "orchestration".into(),
            "edge".into(),
            "image clip".into(),
        ]);
        assert_eq!(d.score(&e("Pipeline fix", "", "")), 0.5);
        assert_eq!(d.score(&e("pipelines", "", "")), 0.0);
        assert_eq!(d.score(&e("", "", "src/edge_runner.py")), 0.5);
        assert_eq!(d.score(&e("Image CLIP work", "", "")), 0.5);
        assert_eq!(d.score(&e("pipeline", "orchestration", "edge")), 1.0);
        assert_eq!(Domain::new(&[]).score(&e("x", "", "")), 1.0);
    }

    #[test]
    fn keep_rules() {
        let s = Config {
            instance: Some("A".into()),
            domain: vec!["auth".into(), "cache".into(), "db".into(), "ui".into()],
            ..Config::default()
        };
        let d = Domain::new(&s.domain);
        let now = 1000;
        assert!(keep(&e("unrelated", "", ""), &s, &d, now).is_none());
        let mut own = e("unrelated", "", "");
        own.source_instance = "A".into();
        assert!(keep(&own, &s, &d, now).unwrap().own);
        // Issue 22: an entry from another machine named A is not A's own.
        own.received = Some(now);
        own.via = "stream".into();
        assert!(keep(&own, &s, &d, now).is_none());
        let mut blocks = e("unrelated", "", "");
        blocks.blocks = "B can go".into();
        assert!(keep(&blocks, &s, &d, now).is_some());
        assert!(keep(&e("auth", "", ""), &s, &d, now).is_some());
        let mut old = e("auth", "", "");
        old.timestamp = now - 3601;
        assert!(keep(&old, &s, &d, now).is_none());
        old.ttl = Some(7200);
        assert!(keep(&old, &s, &d, now).is_some());
    }
}
