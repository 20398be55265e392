//! `mesh_mover:`, moving the mesh during a run (r-adaptation): the mover
//! kind and its options, the monitor it equidistributes, how often it
//! moves, and the kind that takes over when a move is refused.

use std::path::Path;

use pde_mesh::Mesh;
use serde::Deserialize;

use super::Case;
use crate::driver::MotionSpec;
use crate::movers::monitor::MonitorSpec;
use crate::movers::registry::{self, Options};

fn one() -> usize {
    1
}

fn initial_moves_default() -> usize {
    3
}

/// `mesh_mover: {kind, monitor, every, fallback, initial_moves, <options>}`.
#[derive(Clone, Debug, Deserialize)]
pub struct MeshMoverSpec {
    /// The mover kind (`monge_ampere`, `spring`, or a registered one).
    pub kind: String,
    /// The monitor built from the solution.
    pub monitor: MonitorSpec,
    /// Move before every `every`-th step. Default 1.
    #[serde(default = "one")]
    pub every: usize,
    /// The kind (with its default options) that moves the mesh when the
    /// mover's proposal is refused. Default none: the mesh stays.
    #[serde(default)]
    pub fallback: Option<String>,
    /// Moves before the first step, each rebuilding the model on the moved
    /// mesh so that the initial condition is sampled there. Default 3.
    #[serde(default = "initial_moves_default")]
    pub initial_moves: usize,
    /// The kind's own options (checked by the kind).
    #[serde(flatten)]
    pub options: Options,
}

impl MeshMoverSpec {
    /// The section as the driver takes it.
    pub fn motion(&self) -> MotionSpec<'_> {
        MotionSpec {
            kind: &self.kind,
            options: &self.options,
            fallback: self.fallback.as_deref(),
            monitor: &self.monitor,
            every: self.every,
        }
    }

    /// Makes the relative paths among the kind's options relative to
    /// `base`, the case file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(entry) = registry::kind(&self.kind) {
            crate::linalg::registry::resolve_paths(&mut self.options, entry.paths, base);
        }
    }
}

impl Case {
    /// Checks `mesh_mover` against the model, the time section and the
    /// mesh.
    pub(crate) fn check_mesh_mover(&self, mesh: &Mesh, problems: &mut Vec<String>) {
        let Some(spec) = &self.mesh_mover else {
            return;
        };
        let mut local = Vec::new();
        if self.time.is_none() {
            local.push("moves the mesh between time steps; the case needs a time section".into());
        }
        match self.physics.spec().moving_mesh() {
            Ok(fields) if !fields.contains(&spec.monitor.field) => local.push(format!(
                "monitor.field: '{}' is not a field of the {} model (it has: {})",
                spec.monitor.field,
                self.physics.name(),
                fields.join(", ")
            )),
            Ok(_) => {}
            Err(why) => local.push(why),
        }
        if spec.every == 0 {
            local.push("every: must be at least 1".into());
        }
        let mut monitor = Vec::new();
        spec.monitor.check(&mut monitor);
        local.extend(monitor.into_iter().map(|p| format!("monitor.{p}")));
        let kinds = || {
            registry::kinds()
                .iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match registry::kind(&spec.kind) {
            Some(entry) => local.extend((entry.check)(&spec.options, mesh)),
            None => local.push(format!(
                "kind: unknown mover '{}'; known: {}",
                spec.kind,
                kinds()
            )),
        }
        if let Some(fallback) = &spec.fallback {
            match registry::kind(fallback) {
                Some(entry) => local.extend(
                    (entry.check)(&Options::new(), mesh)
                        .into_iter()
                        .map(|p| format!("fallback {fallback}: {p}")),
                ),
                None => local.push(format!(
                    "fallback: unknown mover '{fallback}'; known: {}",
                    kinds()
                )),
            }
        }
        problems.extend(local.into_iter().map(|p| format!("mesh_mover: {p}")));
    }
}
