//! What a model declares about itself to the case layer: its capabilities,
//! its checks against the mesh and the time section, the boundary
//! conditions each group will get, and its builder. Each model folder
//! implements [`ModelSpec`] for the serde struct of its case section, and
//! one line in [`super::registry`] makes `physics: {<name>: ...}` work:
//! the case layer dispatches and never learns a model's fields.

use std::path::Path;
use std::sync::Arc;

use pde_mesh::Mesh;

use super::carried_scalar::FlowWithScalar;
use super::learned_step::LearnedStep;
use super::{Model, Monitor, Transient};
use crate::linalg::registry::{SolverSpec, SystemInfo};
use crate::time::{Integrator, TimeSpec};

/// How a model uses the case's time section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUse {
    /// Steady only: a time section is refused.
    Never,
    /// Steady without a time section, time-dependent with one.
    Optional,
    /// Time-dependent only: a time section is required.
    Required,
}

/// How a time-dependent model steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stepping {
    /// With an integrator of [`crate::time`] (this one by default), and
    /// adaptive steps where the model says so.
    Integrator {
        /// The integrator when the case names none.
        default: Integrator,
        /// Whether `time.adaptive` is allowed.
        adaptive: bool,
    },
    /// With its own scheme and a stable step (finite volumes: SSP
    /// Runge–Kutta and the CFL number); `time.integrator` and
    /// `time.adaptive` are refused, `time.dt` caps the step.
    OwnScheme,
}

/// What a model is, for checks and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The linear systems it gives (symmetric, saddle point).
    pub system: SystemInfo,
    /// Its use of time.
    pub time: TimeUse,
    /// How it steps in time.
    pub stepping: Stepping,
    /// Whether a `forces` monitor applies (flows).
    pub forces: bool,
    /// Whether the model solves with the case's `solver` section (models
    /// that choose their own solvers refuse one).
    pub linear_solver: bool,
}

/// A boundary group and the condition a model will give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundaryUse {
    /// The group's name.
    pub group: String,
    /// The condition, as the case file would spell it (`no_slip`,
    /// `dirichlet 1 + x`, `wall`, ...).
    pub condition: String,
    /// Whether the case left it to the model's default.
    pub default: bool,
}

/// What checking a model's section sees.
pub struct CheckContext<'a> {
    /// The mesh.
    pub mesh: &'a Mesh,
    /// The time section, if any.
    pub time: Option<&'a TimeSpec>,
}

/// What building a model sees.
pub struct BuildContext<'a> {
    /// The mesh.
    pub mesh: Arc<Mesh>,
    /// The time section, if any.
    pub time: Option<&'a TimeSpec>,
    /// The linear solver section.
    pub solver: &'a SolverSpec,
    /// The forces monitor of the case, if any (flows).
    pub forces: Option<&'a super::navier_stokes::ForcesSpec>,
    /// The output folder (model monitors write their records there) and
    /// the run's name.
    pub out: &'a Path,
    /// The run's name (file names).
    pub name: &'a str,
    /// The case's learned step for a flow (the `torch` feature's adapter,
    /// from the case's `stepper:`), and whether to run the classical step
    /// alongside for comparison.
    pub learned: Option<&'a dyn LearnedFlowStep>,
}

/// The case's learned step for a flow, from the layer that has libtorch.
pub trait LearnedFlowStep {
    /// The flow stepped by the case's predictor, each step checked.
    fn wrap(&self, flow: FlowWithScalar) -> anyhow::Result<LearnedStep<FlowWithScalar>>;
    /// Whether the classical step runs alongside, for comparison.
    fn baseline(&self) -> bool;
}

/// A steady model, solved once.
pub trait Steady: Model {
    /// Solves; returns the model's keys of the run's summary (solver
    /// iterations, residuals, forces, ...).
    fn solve(&mut self) -> anyhow::Result<serde_json::Value>;
}

/// A time-dependent model with the monitors that belong to it (forces of
/// a flow, conservation of a finite-volume law).
pub struct TransientSetup {
    /// The model at its start time.
    pub model: Box<dyn Transient>,
    /// Its own monitors.
    pub monitors: Vec<Box<dyn Monitor<dyn Transient>>>,
    /// States whose largest absolute value exceeds this are divergent;
    /// `None`: [`default_blow_up`] of the initial state.
    pub blow_up: Option<f64>,
}

/// How far above its initial scale a state may grow before the run stops
/// as diverged: `1e10 × max(1, largest initial value)`. Far beyond any
/// physical growth, yet it catches a run that saturates at a huge finite
/// value (a tangled mesh once took an advected front to 8e33 and the run
/// exited 0 under a fixed limit of 1e100); `time.blow_up` overrides it.
pub fn default_blow_up(model: &dyn Transient) -> f64 {
    let largest = model
        .fields()
        .iter()
        .flat_map(|(_, values)| values.iter())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    1e10 * largest.max(1.0)
}

/// A built model.
pub enum Built {
    /// Solved once.
    Steady(Box<dyn Steady>),
    /// Stepped through the time loop.
    Transient(TransientSetup),
}

/// A model's case section: `physics: {<name>: <this>}`.
pub trait ModelSpec {
    /// The name case files use.
    fn name(&self) -> &'static str;
    /// What the model is.
    fn capabilities(&self) -> Capabilities;
    /// The linear solver when the case names none.
    fn default_solver(&self, transient: bool) -> &'static str {
        let _ = transient;
        if self.capabilities().system.symmetric {
            "cholesky"
        } else {
            "lu"
        }
    }
    /// Checks the section against the mesh and time section: every
    /// problem, each naming its key (`physics.<name>.<key>: ...`).
    fn check(&self, cx: &CheckContext, problems: &mut Vec<String>);
    /// Every boundary group of the mesh with the condition it will get.
    fn boundary(&self, mesh: &Mesh) -> Vec<BoundaryUse>;
    /// Whether `group` is a wall (forces are measured on walls).
    fn is_wall(&self, group: &str) -> bool {
        let _ = group;
        false
    }
    /// The fields a mesh mover's monitor may follow, when the model
    /// follows a moving mesh ([`super::Stepper::move_nodes`]); else why
    /// not.
    fn moving_mesh(&self) -> Result<Vec<String>, String> {
        Err(format!(
            "the {} model does not follow a moving mesh",
            self.name()
        ))
    }
    /// Builds the model (steady without a time section where allowed).
    fn build(&self, cx: &BuildContext) -> anyhow::Result<Built>;
}

/// The boundary groups of a mesh (dimension `dim - 1`), each with the
/// condition `given` names, or `default` (marked as defaulted).
pub fn boundary_uses(
    mesh: &Mesh,
    given: impl Fn(&str) -> Option<String>,
    default: &str,
) -> Vec<BoundaryUse> {
    let dim = mesh.dim();
    mesh.groups
        .iter()
        .filter(|g| g.dim + 1 == dim)
        .map(|g| g.name.clone())
        .map(|group| match given(&group) {
            Some(condition) => BoundaryUse {
                group,
                condition,
                default: false,
            },
            None => BoundaryUse {
                group,
                condition: default.to_string(),
                default: true,
            },
        })
        .collect()
}
