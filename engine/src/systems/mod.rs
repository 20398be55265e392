//! `pde-engine generate systems`: families of symmetric positive definite
//! linear systems from the engine itself, for training and benchmarking
//! learned preconditioners for CG.
//!
//! Each system is variable-coefficient diffusion `-∇·(κ∇u) = f` with
//! `u = 0` on the whole boundary, P1 or P2 on a gmsh mesh of a domain drawn
//! anew ([`Geometry`]: squares, L-shapes, channels with holes, random
//! polygons; cubes and L-shaped prisms in 3D), κ drawn as a smooth
//! log-normal field or as inclusions ([`CoefficientKind`]) with a contrast
//! from the config, the matrix either the stiffness matrix `K` or an
//! implicit heat step `M + dt K` ([`Operator`]). The Dirichlet unknowns are
//! removed: `A` is the SPD matrix on the free dofs. Sparse Cholesky solves
//! each system (relative residual below 1e-10). On disk:
//!
//! ```text
//! DIR/index.json               the seed and, per system, its name, split,
//!                              unknowns, nonzeros, geometry, dimension,
//!                              mesh size, degree, operator (and dt),
//!                              coefficient, contrast, realised κ range,
//!                              source, residual, Cholesky seconds
//! DIR/<split>/<name>/A.mtx     the matrix (Matrix Market, coordinate real general)
//! DIR/<split>/<name>/b.mtx     the right-hand side (array, n × 1)
//! DIR/<split>/<name>/x.mtx     the solution (array, n × 1)
//! DIR/<split>/<name>/points.mtx  the unknowns' points (array, n × 3)
//! DIR/<split>/<name>/domain.geo  the domain (gmsh; parameter lc)
//! ```
//!
//! Reading a family back:
//!
//! ```no_run
//! use pde_engine::dataset::Split;
//! use pde_engine::systems::SystemsIndex;
//! let dir = std::path::Path::new("out/systems");
//! let index = SystemsIndex::read(dir)?;
//! for entry in index.split(Split::Test) {
//!     let system = index.load(dir, entry)?;
//!     println!("{}: n = {}, contrast {}", entry.name, system.b.len(), entry.contrast);
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```

mod config;
mod fields;
mod geometry;
mod index;
mod sample;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use config::{GroupConfig, SystemsConfig};
pub use fields::{CoefficientKind, Source};
pub use geometry::Geometry;
pub use index::{Operator, SystemEntry, SystemSample, SystemsIndex};
pub(crate) use {geometry::Domain, sample::mesh as mesh_domain};

use crate::dataset::{family_plan, start_family};
use crate::driver::progress_bar;
use crate::random::Draws;

/// Generates the family described by the config file at `path` (progress
/// bar if `progress`); returns its folder.
pub fn generate(path: &Path, progress: bool) -> Result<PathBuf> {
    let config = SystemsConfig::read(path)?;
    let out = start_family(path, &config.output, "generate systems")?;
    let plan = family_plan(&config.train, &config.test, |g| g.count);
    let bar = progress_bar(progress);
    let mut systems = Vec::with_capacity(plan.len());
    for (done, &(split, k, group)) in plan.iter().enumerate() {
        let name = format!("{k:03}");
        let mut draws = Draws::stream(config.seed, split as u64, k as u64);
        let sample = sample::make(&out, split, &name, group, &mut draws)
            .with_context(|| format!("{} system {name}", split.name()))?;
        sample.write(&out)?;
        bar.set_position((1000 * (done + 1) / plan.len()) as u64);
        bar.set_message(format!(
            "system {}/{}  {} unknowns",
            done + 1,
            plan.len(),
            sample.entry.unknowns
        ));
        systems.push(sample.entry);
    }
    bar.finish_and_clear();
    SystemsIndex {
        seed: config.seed,
        systems,
    }
    .write(&out)?;
    Ok(out)
}
