//! Case files: a YAML document that is the whole experiment.
//!
//! This version reads the parts every case shares (name, mesh, output) and
//! rejects unknown keys with the file, line and expected keys. The physics
//! models are described in `docs/cases.md` as they become available.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::mesh_source::MeshSource;

/// A case file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// A name for the run (defaults to the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// The mesh.
    pub mesh: MeshSource,
    /// The physical model, by name (e.g. `navier_stokes`), with its settings.
    pub physics: Physics,
    /// Where and how often to write results.
    #[serde(default)]
    pub output: Output,
}

/// The physics section. Only the model name is read by this version; models
/// define their own keys.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Physics {
    /// Model name.
    pub model: String,
}

/// Output settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Output directory, relative to the working directory. Default `out/<name>`.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Write every N steps. Default 1.
    #[serde(default = "every_default")]
    pub every: usize,
}

fn every_default() -> usize {
    1
}

impl Default for Output {
    fn default() -> Self {
        Output {
            directory: None,
            every: 1,
        }
    }
}

impl Case {
    /// Reads and checks a case file. Errors name the file and, for YAML and
    /// schema errors, the line and column.
    pub fn read(path: &Path) -> Result<Case> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the case file", path.display()))?;
        Self::parse(&text).with_context(|| format!("{}: invalid case file", path.display()))
    }

    /// Parses a case from YAML text.
    pub fn parse(text: &str) -> Result<Case> {
        let case: Case = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        if case.output.every == 0 {
            anyhow::bail!("output.every must be at least 1");
        }
        Ok(case)
    }

    /// The run's name: `name`, or the case file's stem.
    pub fn run_name(&self, path: &Path) -> String {
        self.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or("run".into(), |s| s.to_string_lossy().into_owned())
        })
    }
}
