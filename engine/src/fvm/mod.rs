//! Cell-centred finite volumes on the meshes the finite elements use:
//! face geometry ([`geometry`]), conservation laws and numerical fluxes
//! ([`law`]), least-squares gradients and slope limiters
//! ([`reconstruct`]), the solver with SSP Runge–Kutta or backward-Euler
//! time stepping and boundary conditions by physical group ([`solver`]),
//! the projection of sampled face velocities onto discretely
//! divergence-free ones ([`projection`]), and the conservative remap of
//! cell averages onto a moved mesh ([`remap`]).

pub mod geometry;
pub mod law;
pub mod projection;
pub mod reconstruct;
pub mod remap;
pub mod solver;

/// Why a finite-volume step, or a move of its mesh, failed.
#[derive(Debug, thiserror::Error)]
pub enum FvError {
    /// The scheme cannot treat this law (e.g. backward Euler of a
    /// nonlinear law).
    #[error("{0}")]
    Unsupported(String),
    /// The implicit step's linear solve failed.
    #[error(transparent)]
    Solver(#[from] crate::linalg::SolverError),
    /// The geometry of a (moved) mesh could not be built.
    #[error(transparent)]
    Mesh(#[from] pde_mesh::MeshError),
    /// The state cannot follow a moved mesh: the meshes do not match, or
    /// the move is too large for the remap ([`remap::remap`]).
    #[error("moving the finite-volume mesh: {0}")]
    Remap(String),
}
