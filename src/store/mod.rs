//! The store: the bytes on disk and their meaning. The entry schema
//! ([`entry`]), the append-only log and its window reads ([`log`]), how bytes
//! reach disk (locked one-write appends, atomic rewrites, private folders:
//! [`fsio`]), where the pool's files live ([`paths`]), and the crash-safe
//! housekeeping rewrites of the log ([`rewrite`]).
//!
//! The lowest layer above [`crate::error`]: it imports nothing else from this
//! crate, and knows nothing of agents, coordination or what is shown.

pub mod entry;
pub mod fsio;
pub mod log;
pub mod paths;
pub mod rewrite;
