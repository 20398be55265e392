//! Physical models, one module each.

pub mod heat;
pub mod navier_stokes;
pub mod poisson;

use std::sync::Arc;

/// A scalar field given as a function of position, shared between threads.
pub type ScalarFn = Arc<dyn Fn([f64; 3]) -> f64 + Send + Sync>;

/// A vector field (e.g. a velocity) as a function of position.
pub type VectorFn = Arc<dyn Fn([f64; 3]) -> [f64; 3] + Send + Sync>;

/// Errors of the physical models.
#[derive(Debug, thiserror::Error)]
pub enum PhysicsError {
    /// From the finite-element layer.
    #[error(transparent)]
    Fem(#[from] crate::fem::FemError),
    /// From a linear solver.
    #[error(transparent)]
    Solver(#[from] crate::linalg::SolverError),
    /// A nonlinear iteration did not converge.
    #[error("{0}")]
    NotConverged(String),
}
