//! Time integration: integrators, the plug-in traits of the time loop
//! ([`Stepper`], [`MeshMover`], [`Monitor`]) and the [`TimeLoop`] itself.
//!
//! The loop calls, in order, the mesh mover, the stepper, the monitors and
//! the output. Each is a trait object, so classical and learned versions are
//! interchangeable. A stepper first *tries* a step and the loop *commits* it
//! only when it is acceptable: finite, within the error tolerance of an
//! adaptive step, and (for learned steppers) within its residual check.

use serde::Deserialize;

/// One-step and two-step integrators for `M du/dt + A u = F(t)`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Integrator {
    /// Backward (implicit) Euler, first order, L-stable.
    #[default]
    BackwardEuler,
    /// Crank–Nicolson (trapezoidal rule), second order.
    CrankNicolson,
    /// Backward differentiation formula of order 2 (variable step), started
    /// with a Crank–Nicolson step so the whole run stays second order.
    Bdf2,
}

impl Integrator {
    /// Order of accuracy.
    pub fn order(self) -> usize {
        match self {
            Integrator::BackwardEuler => 1,
            _ => 2,
        }
    }
}

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
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The model failed (solver breakdown, assembly error, ...).
    #[error(transparent)]
    Model(#[from] crate::physics::PhysicsError),
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
    /// Adaptive stepping could not meet the tolerance.
    #[error("time step fell below the minimum {dt_min:.3e} at t = {t:.6e}")]
    StepTooSmall {
        /// Time reached.
        t: f64,
        /// The minimum step.
        dt_min: f64,
    },
    /// A moved mesh has inverted cells.
    #[error("the mesh mover inverted {count} cells at t = {t:.6e}")]
    InvertedMesh {
        /// Inverted cells.
        count: usize,
        /// Time.
        t: f64,
    },
    /// A monitor or output failed (e.g. the disk is full).
    #[error("{0}")]
    Output(String),
}

/// Advances a model's state in time. Classical models and learned steppers
/// implement it alike.
pub trait Stepper {
    /// Computes the state at `t + dt` from the committed state at `t`,
    /// without committing it.
    fn try_step(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError>;
    /// Makes the last tried step the committed state.
    fn commit(&mut self);
    /// Named fields of the committed state, for output and monitors: one
    /// value per dof of the model's space (finite elements) or per cell
    /// (finite volumes).
    fn fields(&self) -> Vec<(String, Vec<f64>)>;
    /// The largest step the stepper can take stably from its committed
    /// state (explicit schemes: the CFL limit); the loop never steps
    /// further. `None`: no limit.
    fn stable_dt(&self) -> Option<f64> {
        None
    }
    /// Moves the nodes of the model's mesh (for moving-mesh runs). Models
    /// that cannot follow a moving mesh refuse.
    fn move_nodes(&mut self, _points: &[[f64; 3]]) -> Result<(), StepError> {
        Err(StepError::Output(
            "this model does not support moving meshes".into(),
        ))
    }
}

/// Moves mesh nodes before each step (Monge–Ampère, prescribed motion, or
/// a neural mover). The loop checks the moved mesh for inverted cells.
pub trait MeshMover {
    /// New positions of the mesh's points for the step from `t` to `t + dt`.
    fn new_points(&mut self, mesh: &pde_mesh::Mesh, t: f64, dt: f64) -> Vec<[f64; 3]>;
}

/// Observes the committed state after each step (forces, probes, norms, ...).
pub trait Monitor {
    /// Records step `step` at time `t` with the stepper's committed state.
    fn record(
        &mut self,
        step: usize,
        t: f64,
        stepper: &dyn Stepper,
        report: &StepReport,
    ) -> Result<(), StepError>;
}

/// Adaptive time stepping: keep the stepper's error estimate below `tolerance`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Adaptive {
    /// Target local error per step.
    pub tolerance: f64,
    /// Smallest step allowed.
    pub dt_min: f64,
    /// Largest step allowed.
    pub dt_max: f64,
}

/// Statistics of a finished run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Steps committed.
    pub steps: usize,
    /// Steps rejected by the adaptive controller.
    pub rejected: usize,
    /// Final time.
    pub t: f64,
    /// Smallest and largest step taken.
    pub dt_range: (f64, f64),
    /// Solver iterations summed over steps.
    pub iterations: usize,
}

/// The time loop: from `t0` to `t_end` with step `dt` (or adaptive).
#[derive(Clone, Debug)]
pub struct TimeLoop {
    /// Start time.
    pub t0: f64,
    /// End time.
    pub t_end: f64,
    /// (Initial) step.
    pub dt: f64,
    /// Adaptive control, if any.
    pub adaptive: Option<Adaptive>,
    /// States whose largest absolute value exceeds this are divergent.
    pub blow_up: f64,
}

impl TimeLoop {
    /// Fixed steps of `dt` from `t0` to `t_end` (the last step is shortened
    /// to land on `t_end`).
    pub fn new(t0: f64, t_end: f64, dt: f64) -> Self {
        TimeLoop {
            t0,
            t_end,
            dt,
            adaptive: None,
            blow_up: 1e100,
        }
    }

    /// Runs the loop. `on_step(step, t, dt, report, stepper)` is called after
    /// every committed step (output and progress go there); it sees the
    /// stepper's own type, so it can read model-specific state.
    pub fn run<S: Stepper>(
        &self,
        stepper: &mut S,
        mut mover: Option<(&mut dyn MeshMover, &pde_mesh::Mesh)>,
        monitors: &mut [&mut dyn Monitor],
        mut on_step: impl FnMut(usize, f64, f64, &StepReport, &S) -> Result<(), StepError>,
    ) -> Result<RunSummary, StepError> {
        let mut t = self.t0;
        let mut dt = self.dt;
        let mut summary = RunSummary {
            t,
            dt_range: (f64::INFINITY, 0.0),
            ..RunSummary::default()
        };
        let eps = 1e-12 * (self.t_end - self.t0).abs().max(1.0);
        while t < self.t_end - eps {
            let h = dt
                .min(self.t_end - t)
                .min(stepper.stable_dt().unwrap_or(f64::INFINITY));
            if let Some((m, mesh)) = mover.as_mut() {
                let points = m.new_points(mesh, t, h);
                let mut moved = (*mesh).clone();
                moved.points = points.clone();
                let bad = pde_mesh::quality::summary(&moved).inverted;
                if bad > 0 {
                    return Err(StepError::InvertedMesh { count: bad, t });
                }
                stepper.move_nodes(&points)?;
            }
            let report = stepper.try_step(t, h)?;
            summary.iterations += report.iterations;
            if !report.max_abs.is_finite() || report.max_abs > self.blow_up {
                return Err(StepError::Diverged {
                    step: summary.steps + 1,
                    t: t + h,
                    reason: format!("largest value {:e}", report.max_abs),
                });
            }
            if let (Some(a), Some(err)) = (self.adaptive, report.error_estimate) {
                // Controller for a local error of order p + 1.
                let factor = (a.tolerance / err.max(1e-300))
                    .powf(1.0 / 3.0)
                    .clamp(0.2, 2.0)
                    * 0.9;
                if err > a.tolerance && h > a.dt_min {
                    summary.rejected += 1;
                    dt = (h * factor).max(a.dt_min);
                    continue;
                }
                if err > a.tolerance {
                    return Err(StepError::StepTooSmall {
                        t,
                        dt_min: a.dt_min,
                    });
                }
                dt = (h * factor).clamp(a.dt_min, a.dt_max);
            }
            stepper.commit();
            t += h;
            summary.steps += 1;
            summary.dt_range = (summary.dt_range.0.min(h), summary.dt_range.1.max(h));
            for m in monitors.iter_mut() {
                m.record(summary.steps, t, &*stepper, &report)?;
            }
            on_step(summary.steps, t, h, &report, stepper)?;
        }
        summary.t = t;
        Ok(summary)
    }
}
