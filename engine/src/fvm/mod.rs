//! Cell-centred finite volumes on the meshes the finite elements use:
//! face geometry ([`geometry`]), conservation laws and numerical fluxes
//! ([`law`]), least-squares gradients and slope limiters
//! ([`reconstruct`]), and the explicit solver with SSP Runge–Kutta time
//! stepping and boundary conditions by physical group ([`solver`]).

pub mod geometry;
pub mod law;
pub mod reconstruct;
pub mod solver;
