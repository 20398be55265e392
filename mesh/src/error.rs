//! Errors of the mesh layer: every one names the file and where in it.

use std::fmt;
use std::path::PathBuf;

/// Where in a file a problem was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// 1-based line number (text input).
    Line(usize),
    /// 0-based byte offset (binary input).
    Byte(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Line(l) => write!(f, "line {l}"),
            Position::Byte(b) => write!(f, "byte offset {b}"),
        }
    }
}

/// Everything that can go wrong reading, checking or writing a mesh.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// The file could not be opened, read or written. The OS error is
    /// part of the message, not a separate cause, so that a report of the
    /// whole chain does not say it twice.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating-system error.
        error: std::io::Error,
    },
    /// Malformed, truncated or inconsistent input, with its location.
    #[error("{path}: {position}: {message}")]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// Where in the file.
        position: Position,
        /// What was found and what was expected.
        message: String,
    },
    /// A problem with the mesh as a whole (not tied to a position in a file).
    #[error("{path}: {message}")]
    Invalid {
        /// The file (or a description of the mesh source).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A physical group was asked for that the mesh does not have.
    #[error("no physical group named '{name}'; the mesh has: {available}")]
    UnknownGroup {
        /// The requested name.
        name: String,
        /// Comma-separated list of the groups the mesh has.
        available: String,
    },
    /// Two cells share a facet that more than two cells touch, or similar
    /// topological inconsistency.
    #[error("inconsistent topology: {0}")]
    Topology(String),
    /// An invalid argument to a generator or writer.
    #[error("{0}")]
    Argument(String),
    /// An error reported by the gmsh SDK.
    #[error("gmsh: {0}")]
    Gmsh(String),
}

impl MeshError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MeshError::Io {
            path: path.into(),
            error: source,
        }
    }
}

/// Result alias of the mesh layer.
pub type Result<T, E = MeshError> = std::result::Result<T, E>;
