//! A family of linear systems on disk: `index.json` and one folder of
//! Matrix Market files per system; what the training code and benchmarks
//! read.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::fields::{CoefficientKind, Source};
use super::geometry::Geometry;
use crate::dataset::{read_index, write_index, Split};
use crate::linalg::matrix_market::{
    read_matrix, read_points, read_vector, write_matrix, write_points, write_vector,
};
use crate::linalg::SparseMatrix;

/// Which operator a system's matrix is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operator {
    /// The stiffness matrix of `-∇·(κ∇u)`: `K`.
    Diffusion,
    /// One implicit (backward Euler) heat step: `M + dt K`.
    HeatStep,
}

/// One system in the index: where it is and how it was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemEntry {
    /// Its name, unique within its split (`000`, `001`, ...).
    pub name: String,
    /// Train or test.
    pub split: Split,
    /// Number of unknowns `n` (the free dofs; Dirichlet ones are removed).
    pub unknowns: usize,
    /// Stored entries of `A`.
    pub nonzeros: usize,
    /// The family of its domain.
    pub geometry: Geometry,
    /// Spatial dimension, 2 or 3.
    pub dimension: usize,
    /// The gmsh mesh size `lc` it was meshed with.
    pub mesh_size: f64,
    /// Lagrange degree, 1 or 2.
    pub degree: usize,
    /// Stiffness matrix or heat step.
    pub operator: Operator,
    /// The heat step's `dt` (for `heat_step` systems).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dt: Option<f64>,
    /// How κ was drawn.
    pub coefficient: CoefficientKind,
    /// The contrast drawn: κ ranges over `[1, contrast]`.
    pub contrast: f64,
    /// The smallest κ at the dofs (boundary dofs included).
    pub kappa_min: f64,
    /// The largest κ at the dofs (boundary dofs included).
    pub kappa_max: f64,
    /// The source of `b`.
    pub source: Source,
    /// `|b - A x| / |b|` of the stored solution (sparse Cholesky, refined):
    /// below 1e-10, or below `residual_floor` where that is higher.
    pub relative_residual: f64,
    /// `ε ‖ |A| |x| ‖ / ‖b‖`: the relative residual that rounding alone
    /// leaves in double precision. An iterative solve cannot reliably
    /// reach a tolerance below it.
    pub residual_floor: f64,
    /// Seconds the sparse Cholesky solve took (analysis, factorisation,
    /// solve and refinement, on the generating machine).
    pub cholesky_seconds: f64,
}

impl SystemEntry {
    /// Its folder relative to the family's: `<split>/<name>`.
    pub fn dir(&self) -> PathBuf {
        folder(self.split, &self.name)
    }
}

/// The folder of system `name` of `split`, relative to the family's.
pub(crate) fn folder(split: Split, name: &str) -> PathBuf {
    Path::new(split.name()).join(name)
}

/// The index of a family of systems, `DIR/index.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemsIndex {
    /// The seed the family was drawn with.
    pub seed: u64,
    /// The systems, the training split first.
    pub systems: Vec<SystemEntry>,
}

/// One system in memory, with its index entry.
#[derive(Clone, Debug)]
pub struct SystemSample {
    /// How it was made.
    pub entry: SystemEntry,
    /// The symmetric positive definite matrix, `n × n`.
    pub a: SparseMatrix,
    /// The right-hand side.
    pub b: Vec<f64>,
    /// The solution of `A x = b` (sparse Cholesky).
    pub x: Vec<f64>,
    /// The point of each unknown (`z = 0` in 2D).
    pub points: Vec<[f64; 3]>,
}

const MATRIX: &str = "A.mtx";
const RHS: &str = "b.mtx";
const SOLUTION: &str = "x.mtx";
const POINTS: &str = "points.mtx";

impl SystemsIndex {
    /// Reads `DIR/index.json`.
    pub fn read(dir: &Path) -> Result<SystemsIndex> {
        read_index(dir, "systems", "generate systems")
    }

    /// Writes `DIR/index.json` (atomically).
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_index(dir, self)
    }

    /// The systems of one split, in order.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &SystemEntry> + '_ {
        self.systems.iter().filter(move |s| s.split == split)
    }

    /// Reads system `entry` of the family in `dir`, checking the files
    /// against the entry's sizes.
    pub fn load(&self, dir: &Path, entry: &SystemEntry) -> Result<SystemSample> {
        let folder = dir.join(entry.dir());
        let n = entry.unknowns;
        let path = folder.join(MATRIX);
        let a = read_matrix(&path)?;
        if (a.nrows(), a.ncols(), a.val().len()) != (n, n, entry.nonzeros) {
            bail!(
                "{}: a {} × {} matrix with {} entries; the index says {n} × {n} with {}",
                path.display(),
                a.nrows(),
                a.ncols(),
                a.val().len(),
                entry.nonzeros
            );
        }
        let vector = |name: &str| -> Result<Vec<f64>> {
            let path = folder.join(name);
            let v = read_vector(&path)?;
            if v.len() != n {
                bail!("{}: {} values; the index says {n}", path.display(), v.len());
            }
            Ok(v)
        };
        let (b, x) = (vector(RHS)?, vector(SOLUTION)?);
        let path = folder.join(POINTS);
        let points = read_points(&path)?;
        if points.len() != n {
            bail!(
                "{}: {} points; the index says {n}",
                path.display(),
                points.len()
            );
        }
        Ok(SystemSample {
            entry: entry.clone(),
            a,
            b,
            x,
            points,
        })
    }
}

impl SystemSample {
    /// Writes the system's files into `DIR/<split>/<name>/` (each
    /// atomically); its entry goes into the index.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let folder = dir.join(self.entry.dir());
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("{}: cannot create the folder", folder.display()))?;
        write_matrix(&folder.join(MATRIX), &self.a)?;
        write_vector(&folder.join(RHS), &self.b)?;
        write_vector(&folder.join(SOLUTION), &self.x)?;
        write_points(&folder.join(POINTS), &self.points)
    }
}
