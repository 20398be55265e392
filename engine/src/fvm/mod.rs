//! Cell-centred finite volumes on the meshes the finite elements use:
//! face geometry ([`geometry`]), conservation laws and numerical fluxes
//! ([`law`]), least-squares gradients and slope limiters
//! ([`reconstruct`]), the solver with SSP Runge–Kutta or backward-Euler
//! time stepping and boundary conditions by physical group ([`solver`]),
//! and the projection of sampled face velocities onto discretely
//! divergence-free ones ([`projection`]).

pub mod geometry;
pub mod law;
pub mod projection;
pub mod reconstruct;
pub mod solver;

/// Why a finite-volume step failed.
#[derive(Debug, thiserror::Error)]
pub enum FvError {
    /// The scheme cannot treat this law (e.g. backward Euler of a
    /// nonlinear law).
    #[error("{0}")]
    Unsupported(String),
    /// The implicit step's linear solve failed.
    #[error(transparent)]
    Solver(#[from] crate::linalg::SolverError),
}
