//! The library's typed error: what can go wrong reading and writing the pool.

use std::path::PathBuf;

/// Everything the library can fail with. Hooks log these and go on; commands
/// print them once with the program's name in front.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a named file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder the operation was on.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Input that is not what it should be (bad JSON on stdin, a bad flag value).
    #[error("{0}")]
    Invalid(String),
    /// A file or folder that is unsafe to use (owned by someone else, writable by others).
    #[error("{path}: {reason}")]
    Unsafe {
        /// The offending path.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },
    /// No home folder could be found to put the pool in.
    #[error("cannot find a home folder; set POOL_DIR")]
    NoHome,
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
