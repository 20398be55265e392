//! The step protocol every time-dependent model speaks: *try* a step from
//! the committed state, let the driver judge it, then *commit* it. Classical
//! models, learned steppers (which wrap a model's stepper) and the driver's
//! monitors meet here.

use crate::fem::PointEvaluator;

use super::{PhysicsError, Snapshot};

/// What a tried step did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepReport {
    /// Linear (or nonlinear) iterations spent.
    pub iterations: usize,
    /// An estimate of the local error of the step (weighted max norm), when
    /// the stepper can give one; used by adaptive time stepping.
    pub error_estimate: Option<f64>,
    /// Largest absolute value of the tried state (for divergence checks).
    pub max_abs: f64,
    /// Why a preconditioner gave way to its classical fallback during the
    /// step, if one did (a learned factor falls back to IC(0)).
    pub fallback: Option<String>,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The model failed (solver breakdown, assembly error, ...).
    #[error(transparent)]
    Model(#[from] PhysicsError),
    /// The solution is no longer finite or exploded.
    #[error("the solution diverged at step {step}, t = {t:.6e}: {reason}; the output written so far is kept")]
    Diverged {
        /// Step number.
        step: usize,
        /// Time reached.
        t: f64,
        /// What was seen.
        reason: String,
    },
    /// The step shrank below what can finish the run: the adaptive
    /// controller could not meet its tolerance at `dt_min`, the stable
    /// (CFL) step collapsed, or the step is below the spacing of
    /// floating-point times.
    #[error(
        "the time step collapsed to {dt:.3e} at t = {t:.6e} (below dt_min, below a billionth \
         of the run, or too small to change t); the output written so far is kept"
    )]
    StepTooSmall {
        /// Time reached.
        t: f64,
        /// The step.
        dt: f64,
    },
    /// A monitor or output failed (e.g. the disk is full).
    #[error("{0}")]
    Output(String),
    /// A run cannot continue from a checkpoint (another case, mesh or
    /// model, or a model that cannot be checkpointed).
    #[error("cannot continue from the checkpoint: {0}")]
    Restart(String),
    /// A signal (or an embedding program) asked the run to stop; it did
    /// after a committed step.
    #[error(
        "interrupted by {} after step {step}, t = {t:.6e}; the output and monitors are \
         complete up to that step",
        signal_name(*signal)
    )]
    Interrupted {
        /// The signal number (2: SIGINT, 15: SIGTERM).
        signal: i32,
        /// The last committed step.
        step: usize,
        /// Its time.
        t: f64,
    },
}

/// The name of a signal number (`SIGINT`), or the number.
fn signal_name(signal: i32) -> String {
    signal_hook::low_level::signal_name(signal).map_or_else(|| signal.to_string(), str::to_string)
}

/// One column of a probe: a quantity of the stepper's state at a point, as
/// a linear functional of one of its [`super::Model::fields`].
#[derive(Clone, Debug)]
pub struct ProbeColumn {
    /// The quantity's short name (`u`, `p`, `h`, ...); a probe with one
    /// column is named by the probe alone, others `<probe>_<label>`.
    pub label: String,
    /// Index of the field in [`super::Model::fields`].
    pub field: usize,
    /// The weights of the field's values that give the value at the point.
    pub at: PointEvaluator,
}

/// Advances a model's state in time. Classical models and learned steppers
/// implement it alike.
pub trait Stepper {
    /// Computes the state at `t + dt` from the committed state at `t`,
    /// without committing it.
    fn try_step(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError>;
    /// Makes the last tried step the committed state.
    fn commit(&mut self);
    /// Overwrites the field `name` of the committed state (named and sized
    /// as in [`super::Model::fields`]); the next step starts from it (multistep
    /// integrators restart their history). Refused with the reason when the
    /// name or the length is wrong.
    fn set_field(&mut self, name: &str, values: &[f64]) -> Result<(), String>;
    /// The largest step the stepper can take stably from its committed
    /// state (explicit schemes: the CFL limit); the loop never steps
    /// further. `None`: no limit.
    fn stable_dt(&self) -> Option<f64> {
        None
    }
    /// Moves the model onto `mesh`: the same connectivity with new node
    /// positions (a mesh mover's output); the state follows (interpolated
    /// for finite elements, conservatively remapped for finite volumes).
    /// Models that cannot follow a moving mesh refuse.
    fn move_nodes(&mut self, _mesh: std::sync::Arc<pde_mesh::Mesh>) -> Result<(), StepError> {
        Err(StepError::Output(
            "this model does not support moving meshes".into(),
        ))
    }
    /// Puts the model on `mesh` (the same connectivity, other node
    /// positions) without needing to carry its state across: a restart on
    /// a moving mesh does this first, and [`Stepper::restore`] sets the
    /// state next. By default a [`Stepper::move_nodes`] (whose carried
    /// state the restore overwrites); models whose transfer can refuse a
    /// long move (a remap) skip it.
    fn place_on(&mut self, mesh: std::sync::Arc<pde_mesh::Mesh>) -> Result<(), StepError> {
        self.move_nodes(mesh)
    }
    /// What a checkpoint keeps of the model: the committed state with every
    /// time level its integrator uses, so that the steps after
    /// [`Stepper::restore`] are bit for bit those of a run that never
    /// stopped (caches are rebuilt from it). `None`: the model cannot be
    /// checkpointed.
    fn snapshot(&self) -> Option<Snapshot> {
        None
    }
    /// Continues from a [`Stepper::snapshot`] of the same model on the same
    /// mesh; a missing or mis-sized array is refused with its name.
    fn restore(&mut self, _snapshot: &Snapshot) -> Result<(), StepError> {
        Err(StepError::Restart(
            "this model cannot continue from a checkpoint".into(),
        ))
    }
}

/// The position of field `name` among `names`, and a check that `values`
/// has `len` entries: the errors [`Stepper::set_field`] gives.
pub fn field_slot(names: &[&str], name: &str, len: usize, values: &[f64]) -> Result<usize, String> {
    let k = names.iter().position(|n| *n == name).ok_or_else(|| {
        format!(
            "unknown field '{name}'; this model has: {}",
            names.join(", ")
        )
    })?;
    if values.len() != len {
        return Err(format!(
            "field '{name}' has {len} values; {} given",
            values.len()
        ));
    }
    Ok(k)
}
