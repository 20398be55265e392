//! Mesh movers (r-adaptation): new node positions for the same
//! connectivity, so that cells concentrate where a monitor function of the
//! solution is large. [`monge_ampere`]: equidistribution by the
//! Monge–Ampère equation (the classical mover the learned ones are
//! measured against); [`spring`]: monitor-weighted springs, the cheap
//! baseline; [`monitor`]: monitor functions from a solution field;
//! [`registry`]: the kinds case files name (`mesh_mover: {kind: ...}`),
//! which a feature (the learned mover) adds to; [`steep_layer`] and
//! [`moving_front`]: the benchmark problems the movers are measured on
//! (steady, and in the time loop); [`mover_graph`] and
//! [`samples`]: what the learned mover (feature `torch`) reads, and its
//! training data (`pde-engine generate meshes`). The time loop checks every
//! moved mesh and guards against tangling ([`crate::driver::Motion`]).

pub mod monge_ampere;
pub mod monitor;
pub mod mover_graph;
pub mod moving_front;
pub mod registry;
pub mod samples;
pub mod spring;
pub mod steep_layer;
mod triangles;

use anyhow::Result;

/// Moves the nodes of the mesh it was built for (its computational mesh):
/// the same connectivity, new positions, such that the cells concentrate
/// where `monitor` is large.
pub trait MeshMover {
    /// New positions of the computational mesh's points (indexed alike)
    /// for the monitor `monitor`, a positive function of position;
    /// `current` are the positions now (where iterative movers start).
    fn new_points(
        &mut self,
        current: &[[f64; 3]],
        monitor: &dyn Fn([f64; 3]) -> f64,
    ) -> Result<Vec<[f64; 3]>>;
    /// What the mover carries from one move to the next (a warm start),
    /// for checkpoints; empty for movers that carry nothing.
    fn state(&self) -> Vec<f64> {
        Vec::new()
    }
    /// Continues from a [`MeshMover::state`]; a state of the wrong size is
    /// refused.
    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        anyhow::ensure!(
            state.is_empty(),
            "{} values for a mover that keeps none",
            state.len()
        );
        Ok(())
    }
}

impl MeshMover for monge_ampere::MongeAmpere {
    /// The relaxation's mesh, converged or not (a mesh that did not reach
    /// the tolerance is still valid and closer to equidistribution). It
    /// starts from its own last potential, not from `current`.
    fn new_points(
        &mut self,
        _current: &[[f64; 3]],
        monitor: &dyn Fn([f64; 3]) -> f64,
    ) -> Result<Vec<[f64; 3]>> {
        Ok(self.relax(monitor)?.points)
    }

    /// The potential the next relaxation starts from.
    fn state(&self) -> Vec<f64> {
        self.potential().to_vec()
    }

    fn set_state(&mut self, state: &[f64]) -> Result<()> {
        self.set_potential(state)
    }
}
