//! The environment a process runs in: the `POOL_*` and `CLAUDE_INSTANCE*`
//! variables and the pool's `config.json` ([`config`]), and the machine's
//! host name ([`host`]), and the repository a folder is in, the scope
//! readers show and whether a session takes part ([`repo`]), what a
//! repository ships that is ignored ([`shipped`]), and how the spellings of
//! one path become one ([`spelling`]).
//!
//! May import [`crate::store`] (for limits and the config file's place),
//! nothing higher.

pub mod config;
pub mod host;
pub mod repo;
pub mod shipped;
pub mod spelling;
