//! What the model and the user are shown: the choke point every piece of
//! text from other sessions passes through ([`neutral`]), the text injected
//! at session start and before each prompt ([`render`]), and the web dashboard's model, page
//! and request checks ([`dashboard`]). Pure functions of what was read; the
//! commands in [`crate::cmd`] do the I/O.
//!
//! May import [`crate::store`], [`crate::env`], [`crate::agent`] and
//! [`crate::coord`]; never sync or commands.

pub mod dashboard;
pub mod neutral;
pub mod render;
