//! # pde-mesh
//!
//! Geometry and topology of unstructured meshes for pde-engine, and nothing
//! of PDEs: the [`Mesh`] type, gmsh input ([`io::gmsh`]), VTK output
//! ([`io::vtk`]), structured generators ([`generate`]), cell quality
//! ([`quality`]) and topology ([`Topology`]).
//!
//! ```
//! use pde_mesh::{generate, quality, CellKind};
//! let mesh = generate::cuboid([0.0; 3], [1.0; 3], [2, 2, 2], CellKind::Tet4)?;
//! let q = quality::summary(&mesh);
//! assert_eq!(q.inverted, 0);
//! assert!((q.total_measure - 1.0).abs() < 1e-12);
//! let topo = mesh.topology()?;
//! assert_eq!(topo.boundary_facets().count(), 6 * 2 * 2 * 2);
//! # Ok::<(), pde_mesh::MeshError>(())
//! ```

pub mod cell;
pub mod error;
pub mod generate;
pub mod io;
mod mesh;
pub mod quality;
pub mod topology;

pub use cell::CellKind;
pub use error::{MeshError, Position, Result};
pub use mesh::{CellBlock, CellRef, Mesh, PhysicalGroup};
pub use topology::{Csr, Topology};
