//! Errors of the learned components.

use std::path::PathBuf;

/// What can go wrong in pde-learned.
#[derive(Debug, thiserror::Error)]
pub enum LearnedError {
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A model file could not be read or written (the OS error is part of
    /// the message, not a separate cause that a chain would repeat).
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        error: std::io::Error,
    },
    /// A model configuration is invalid.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Data that does not fit the model.
    #[error("{0}")]
    Shape(String),
}
