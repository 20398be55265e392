//! Physical models, one folder each, with the traits they implement:
//! [`Model`] (what the output and monitors see), [`Stepper`] (the step
//! protocol), [`Transient`] (both), [`Monitor`] (observers of a run), and
//! [`spec::ModelSpec`] (a model's case section). The [`models!`](registry)
//! invocation below registers the models case files can name.

pub mod carried_scalar;
pub mod checks;
pub mod learned_step;
mod monitor;
pub mod registry;
mod scalar;
mod snapshot;
pub mod spec;
mod stepper;

pub use monitor::{CsvLog, CsvRecords, Monitor, OnStep, StepInfo};
pub use snapshot::Snapshot;
pub use stepper::{field_slot, ProbeColumn, StepError, StepReport, Stepper};

// The models case files name: one line per model folder.
registry::models! {
    mod poisson { Poisson => "poisson": PoissonSpec }
    mod heat { Heat => "heat": HeatSpec }
    mod advection_diffusion { AdvectionDiffusion => "advection_diffusion": AdvectionDiffusionSpec }
    mod navier_stokes { NavierStokes => "navier_stokes": NavierStokesSpec, Stokes => "stokes": StokesSpec }
    mod finite_volume {
        ShallowWater => "shallow_water": ShallowWaterSpec,
        Transport => "transport": TransportSpec,
        Burgers => "burgers": BurgersSpec,
    }
    mod reaction_diffusion { ReactionDiffusion => "reaction_diffusion": ReactionDiffusionSpec }
}

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
    /// Named fields of the committed state, for monitors and coupling: one
    /// value per dof of the model's space (finite elements) or per cell
    /// (finite volumes).
    fn fields(&self) -> Vec<(String, Vec<f64>)>;
    /// How to read the state at `point`: one column per quantity, or `None`
    /// outside the mesh. Probes use it, whatever the model.
    fn probe(&self, point: [f64; 3]) -> Option<Vec<ProbeColumn>>;
    /// The model's keys of a run's summary (unknowns, extremes, ...).
    fn summary(&self) -> serde_json::Value {
        serde_json::json!({ "model": self.name(), "unknowns": self.unknowns() })
    }
}

/// The [`Model`] methods of a wrapper, but `summary`, by those of its
/// field `$inner` (a learned step, a model solved once).
macro_rules! model_of_inner {
    ($inner:ident) => {
        fn name(&self) -> &'static str {
            self.$inner.name()
        }
        fn mesh(&self) -> &std::sync::Arc<pde_mesh::Mesh> {
            self.$inner.mesh()
        }
        fn unknowns(&self) -> usize {
            self.$inner.unknowns()
        }
        fn point_data(
            &self,
        ) -> Result<Vec<$crate::physics::OutputField>, $crate::physics::PhysicsError> {
            self.$inner.point_data()
        }
        fn cell_data(
            &self,
        ) -> Result<Vec<$crate::physics::OutputField>, $crate::physics::PhysicsError> {
            self.$inner.cell_data()
        }
        fn fields(&self) -> Vec<(String, Vec<f64>)> {
            self.$inner.fields()
        }
        fn probe(&self, point: [f64; 3]) -> Option<Vec<$crate::physics::ProbeColumn>> {
            self.$inner.probe(point)
        }
    };
}
pub(crate) use model_of_inner;

/// A time-dependent model: it steps ([`Stepper`]) and shows its state
/// ([`Model`]). Every type that is both is one.
pub trait Transient: Stepper + Model {
    /// The model as `Any`, for the monitors a model brings for itself
    /// (they know the type they were built with).
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<T: Stepper + Model + std::any::Any> Transient for T {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

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
    /// The case's data (a boundary value, a source) is not finite where
    /// and when the model needs it.
    #[error("{0}")]
    NonFiniteData(String),
    /// A step produced a state the physics forbids (a negative depth).
    #[error("{0}")]
    Unphysical(String),
}
