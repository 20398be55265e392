//! Solver-in-the-loop samples for learned steppers: branches off a flow's
//! trajectory along which every state is what a learned run commits (an
//! accepted prediction with its error, or, for a model's checked run
//! ([`BranchErrors::Checked`]), a classical fallback where the check refuses
//! it), paired with the classical step's answer from that history.
//!
//! A learned step's error does not stay in its own step: the next
//! prediction reads it. The residual check judges each prediction against
//! the classical step *from the history the run has*, errors included, and
//! that step answers an error `e` in its newest state by about `4/3 e`
//! (BDF2's weight), while an extrapolation through four states answers
//! `4 e`. A model trained only on exact histories never sees the
//! difference; on a branch it learns the check's answer under its own
//! errors (the pushforward idea of MP-PDE with the classical solver as the
//! target, as in "solver-in-the-loop" training).

use super::NavierStokes;
use crate::physics::learned_step::CheckedStep;
use crate::physics::{StepError, Stepper};

/// How large a branch makes the error of each of its steps.
#[derive(Clone, Copy, Debug)]
pub enum BranchErrors<'a> {
    /// Scaled so that the residual check measures these residuals, one per
    /// step.
    Residuals(&'a [f64]),
    /// As a learned run checked at `tolerance` would leave it: the error as
    /// it is where the check accepts it, none (the classical answer, a
    /// fallback) where it does not; `steps` steps.
    Checked {
        /// The residual check's tolerance.
        tolerance: f64,
        /// Steps of the branch.
        steps: usize,
    },
}

impl BranchErrors<'_> {
    fn steps(&self) -> usize {
        match self {
            BranchErrors::Residuals(residuals) => residuals.len(),
            BranchErrors::Checked { steps, .. } => *steps,
        }
    }

    /// The factor of step `k`'s error, whose unscaled residual is `unit`.
    fn scale(&self, k: usize, unit: f64) -> f64 {
        match self {
            BranchErrors::Residuals(residuals) if unit.is_finite() && unit > 0.0 => {
                residuals[k] / unit
            }
            BranchErrors::Residuals(_) => 0.0,
            BranchErrors::Checked { tolerance, .. } => {
                if unit <= *tolerance {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// A branch off a flow's trajectory, in vertex values
/// ([`NavierStokes::vertex_state`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Branch {
    /// The perturbed states, one step apart, the first a step after the
    /// committed state the branch starts from.
    pub perturbed: Vec<Vec<f64>>,
    /// After each perturbed state, the classical step from the history
    /// that ends with it.
    pub targets: Vec<Vec<f64>>,
    /// The extrapolation residual of each target's step, while the flow
    /// records them ([`NavierStokes::record_step_residuals`]); else empty.
    pub residuals: Vec<Vec<f64>>,
}

impl NavierStokes {
    /// A branch from the committed state at `t`. Step `k` takes the
    /// classical step's answer, adds the error `error(history, answer,
    /// residual)` (`history`: the committed vertex states, oldest first;
    /// `residual`: the step's extrapolation residual, while the flow
    /// records them; its failure ends the branch), sized by `errors` (the residual check,
    /// [`CheckedStep::try_prediction`], is linear in it), and commits that
    /// state as an accepted prediction would be; the classical answer from
    /// there is the step's target. `t`
    /// is the committed time. The flow is left with its committed states
    /// (a step tried but not committed is dropped; its linear solver may
    /// have refactorised, so later solves differ within their tolerance).
    pub fn perturbed_branch(
        &mut self,
        t: f64,
        dt: f64,
        errors: BranchErrors,
        error: impl FnMut(&[Vec<f64>], &[f64], Option<&[f64]>) -> Result<Vec<f64>, StepError>,
    ) -> Result<Branch, StepError> {
        debug_assert!((t - self.time()).abs() <= 1e-9 * dt, "a branch starts at the committed time");
        let saved = (self.history.clone(), self.force);
        let branch = self.branch_steps(t, dt, errors, error);
        (self.history, self.force) = saved;
        self.tried = None;
        self.checked = None;
        branch
    }

    fn branch_steps(
        &mut self,
        mut t: f64,
        dt: f64,
        errors: BranchErrors,
        mut error: impl FnMut(&[Vec<f64>], &[f64], Option<&[f64]>) -> Result<Vec<f64>, StepError>,
    ) -> Result<Branch, StepError> {
        let mut branch = Branch::default();
        let mut answer = self.classical_answer(t, dt)?;
        for k in 0..errors.steps() {
            let history: Vec<Vec<f64>> = self
                .history
                .iter()
                .map(|(_, x)| self.vertex_values(x))
                .collect();
            let residual = self.last_step_residual().map(<[f64]>::to_vec);
            let shape = error(&history, &answer, residual.as_deref())?;
            let shifted = |scale: f64| -> Vec<f64> {
                answer
                    .iter()
                    .zip(&shape)
                    .map(|(a, e)| a + scale * e)
                    .collect()
            };
            let (unit, _) = self.try_prediction(t, dt, &shifted(1.0))?;
            let scale = errors.scale(k, unit);
            if scale != 1.0 {
                self.try_prediction(t, dt, &shifted(scale))?;
            }
            self.commit();
            branch.perturbed.push(self.vertex_state());
            t += dt;
            answer = self.classical_answer(t, dt)?;
            branch.targets.push(answer.clone());
            if let Some(residual) = self.last_step_residual() {
                branch.residuals.push(residual.to_vec());
            }
        }
        Ok(branch)
    }

    /// The vertex values of the classical step from `t` (tried, not
    /// committed).
    fn classical_answer(&mut self, t: f64, dt: f64) -> Result<Vec<f64>, StepError> {
        self.try_step(t, dt)?;
        let tried = self.tried.as_ref().expect("a step was tried");
        Ok(self.vertex_values(&tried.x))
    }
}
