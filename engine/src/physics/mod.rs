//! Physical models, one module each.

pub mod carried_scalar;
pub mod finite_volume;
pub mod heat;
pub mod navier_stokes;
pub mod poisson;
mod stepper;

pub use stepper::{field_slot, ProbeColumn, StepError, StepReport, Stepper};

use std::sync::Arc;

/// A scalar field given as a function of position, shared between threads.
pub type ScalarFn = Arc<dyn Fn([f64; 3]) -> f64 + Send + Sync>;

/// A vector field (e.g. a velocity) as a function of position.
pub type VectorFn = Arc<dyn Fn([f64; 3]) -> [f64; 3] + Send + Sync>;

/// A named field for output: values at every mesh point
/// ([`Model::point_data`]) or in every domain cell ([`Model::cell_data`]).
#[derive(Clone, Debug, PartialEq)]
pub struct OutputField {
    /// The field's name in the output.
    pub name: String,
    /// Values per point or cell (1: scalar; 3: vector).
    pub components: usize,
    /// `components` values per point or cell, interleaved.
    pub values: Vec<f64>,
}

impl OutputField {
    /// One value per point or cell.
    pub fn scalars(name: &str, values: Vec<f64>) -> Self {
        OutputField {
            name: name.into(),
            components: 1,
            values,
        }
    }

    /// `components` values per point or cell, interleaved.
    pub fn vectors(name: &str, components: usize, values: Vec<f64>) -> Self {
        OutputField {
            name: name.into(),
            components,
            values,
        }
    }
}

/// A physical model: it owns its discrete spaces and its state (the
/// committed solution) and shows the state as point data (finite elements)
/// or cell data (finite volumes) on its mesh, which is all the output needs. Time-dependent models are also
/// [`Stepper`]s.
pub trait Model {
    /// The model's name, as case files spell it.
    fn name(&self) -> &'static str;
    /// The mesh.
    fn mesh(&self) -> &Arc<pde_mesh::Mesh>;
    /// Number of unknowns.
    fn unknowns(&self) -> usize;
    /// The committed state at the mesh points.
    fn point_data(&self) -> Result<Vec<OutputField>, PhysicsError>;
    /// The committed state in the domain cells (in the order of the mesh
    /// topology). None by default.
    fn cell_data(&self) -> Result<Vec<OutputField>, PhysicsError> {
        Ok(Vec::new())
    }
}

/// A time-dependent model: it steps ([`Stepper`]) and shows its state
/// ([`Model`]). Every type that is both is one.
pub trait Transient: Stepper + Model {}

impl<T: Stepper + Model + ?Sized> Transient for T {}

/// Errors of the physical models.
#[derive(Debug, thiserror::Error)]
pub enum PhysicsError {
    /// From the finite-element layer.
    #[error(transparent)]
    Fem(#[from] crate::fem::FemError),
    /// From a linear solver.
    #[error(transparent)]
    Solver(#[from] crate::linalg::SolverError),
    /// From the finite-volume layer.
    #[error(transparent)]
    FiniteVolume(#[from] crate::fvm::FvError),
    /// A nonlinear iteration did not converge.
    #[error("{0}")]
    NotConverged(String),
    /// The model was asked for something it cannot do (e.g. an implicit
    /// step of a nonlinear finite-volume law).
    #[error("{0}")]
    Unsupported(String),
    /// A learned stepper failed (not its check: its evaluation).
    #[error("learned stepper: {0}")]
    Surrogate(String),
}
