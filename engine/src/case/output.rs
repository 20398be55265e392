//! `output:`, where and how often results are written.

use std::path::PathBuf;

use serde::Deserialize;

/// Output settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Output directory, relative to the working directory. Default `out/<name>`.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Write every N steps. Default 1.
    #[serde(default = "one")]
    pub every: usize,
    /// Write a checkpoint every N steps (into `<directory>/checkpoints/`,
    /// the latest two kept), for `run --restart`. Default: only when a
    /// signal stops the run.
    #[serde(default)]
    pub checkpoint_every: Option<usize>,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            directory: None,
            every: 1,
            checkpoint_every: None,
        }
    }
}

fn one() -> usize {
    1
}
