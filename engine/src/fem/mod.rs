//! Finite elements: quadrature, Lagrange elements, function spaces with their
//! degree-of-freedom maps, assembly of bilinear and linear forms, boundary
//! conditions and error norms.
//!
//! ```
//! use std::sync::Arc;
//! use pde_engine::fem::{assembly, FunctionSpace};
//! use pde_mesh::{generate, CellKind};
//! let mesh = Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [8, 8], CellKind::Tri3).unwrap());
//! let space = FunctionSpace::new(mesh, 2).unwrap();
//! // The mass matrix integrates 1 exactly: sum of all entries = area.
//! let m = assembly::assemble_matrix(&space, 4, assembly::mass(|_| 1.0)).unwrap();
//! assert!((m.val().iter().sum::<f64>() - 1.0).abs() < 1e-12);
//! ```

pub mod assembly;
pub mod bc;
pub mod element;
pub mod locate;
pub mod mixed;
pub mod norms;
pub mod quadrature;
pub mod space;

pub use mixed::MixedSpace;
pub use space::{FunctionSpace, PointEvaluator};

/// Errors of the finite-element layer.
#[derive(Debug, thiserror::Error)]
pub enum FemError {
    /// A mesh problem (unknown group, inconsistent topology, ...).
    #[error(transparent)]
    Mesh(#[from] pde_mesh::MeshError),
    /// Something the finite-element layer does not do (yet).
    #[error("{0}")]
    Unsupported(String),
    /// A degenerate or inverted cell.
    #[error("cell {cell} is degenerate (Jacobian determinant {det:e})")]
    DegenerateCell {
        /// Domain cell number.
        cell: usize,
        /// The determinant found.
        det: f64,
    },
}

/// Result alias of the finite-element layer.
pub type Result<T, E = FemError> = std::result::Result<T, E>;
