//! The agent's formats: what a coding agent sends a hook and reads back
//! ([`hook`]), its transcript ([`transcript`]) and the per-session read
//! cursor over it ([`cursor`]), the fenced `pool` block the model writes
//! ([`block`]), and the agent's own settings file, where hooks are registered
//! ([`settings_file`]).
//!
//! May import [`crate::store`] and [`crate::env`]; never coordination, views,
//! sync or commands.

pub mod block;
pub mod cursor;
pub mod hook;
pub mod settings_file;
pub mod transcript;
