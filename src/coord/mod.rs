//! Coordination: the rules that turn a log of entries into shared state.
//! Moving blocks from a transcript into the pool exactly once ([`extract`]),
//! open claims and the edit record ([`claims`]) and the guard's index of
//! them by path ([`guard_index`]), who is blocked on what and
//! what unblocked them ([`blocked`]), handoffs and their
//! acknowledgement ([`handoffs`]), news since a session last looked
//! ([`news`]) and what its prompts carry from one look to the next
//! ([`carry`]), who is active and where ([`presence`]), which entries
//! concern an instance ([`relevance`]), waking the sessions a handoff or a
//! critical entry concerns through their inbox socket ([`wake`]), and the
//! automatic entries taken from what a session's tool calls did ([`auto`],
//! with the git facts in [`git_ops`]).
//!
//! May import [`crate::store`], [`crate::env`] and [`crate::agent`]; never
//! views, sync or commands.

pub mod auto;
pub mod blocked;
pub mod carry;
pub mod claims;
pub mod extract;
pub mod git_index;
pub mod git_ops;
pub mod guard_index;
pub mod handoffs;
pub mod news;
pub mod presence;
pub mod relevance;
pub mod shell;
pub mod wake;
