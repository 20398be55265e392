//! # pde-engine
//!
//! The PDE engine: meshes in ([`mesh_source`]), case files ([`case`]), mesh
//! reports ([`report`]), and the `pde-engine` command-line tool. The finite
//! element / finite volume core, solvers, physics and time loop build on
//! these (see `docs/` and the project README for what is available now).

pub mod case;
pub mod mesh_source;
pub mod report;
