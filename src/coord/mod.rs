//! Coordination: the rules that turn a log of entries into shared state.
//! Moving blocks from a transcript into the pool exactly once ([`extract`]),
//! open claims and the edit record ([`claims`]), who is blocked on what and
//! what unblocked them ([`blocked`]), handoffs and their
//! acknowledgement ([`handoffs`]), news since a session last looked
//! ([`news`]), who is active and where ([`presence`]), which entries
//! concern an instance ([`relevance`]), and waking the sessions a handoff or
//! a critical entry concerns through their inbox socket ([`wake`]).
//!
//! May import [`crate::store`], [`crate::env`] and [`crate::agent`]; never
//! views, sync or commands.

pub mod blocked;
pub mod claims;
pub mod extract;
pub mod handoffs;
pub mod news;
pub mod presence;
pub mod relevance;
pub mod wake;
