//! A learned step that keeps the classical guarantees, for any model that
//! can check a predicted state against its own step ([`CheckedStep`]):
//! [`LearnedStep`] wraps the model's stepper, asks a [`Predictor`] for the
//! next state, puts the prediction into the discrete system the classical
//! step would solve, and accepts it when the relative residual is within
//! the tolerance; otherwise the classical step is taken instead (a
//! *fallback*), started from the prediction. A predictor may predict a
//! bundle of steps at once: each is checked in its own step, and a
//! fallback drops the rest of the bundle (they followed the rejected
//! state). Accepted and fallen-back steps and their costs are counted. It
//! is a [`Stepper`] like the model itself, so it runs in the same time
//! loop with the same monitors.

use std::collections::VecDeque;
use std::time::Instant;

use pde_learned::extrapolation::{self, MAX_BUNDLE, MAX_WINDOW};

use super::{Model, PhysicsError, Snapshot, StepError, StepReport, Stepper};

/// Predicts a model's state one step ahead, or a bundle of successive
/// steps (a graph network, a TorchScript module, or any other surrogate).
pub trait Predictor {
    /// What it is, for summaries (e.g. `gnn out/cylinder_gnn`).
    fn describe(&self) -> String;
    /// How many successive committed states it reads (1, the default: the
    /// current one; 2: also the one a step before, and so on).
    fn window(&self) -> usize {
        1
    }
    /// Whether it reads the step's extrapolation residual
    /// ([`CheckedStep::extrapolation_residual`]; default false).
    fn reads_step_residual(&self) -> bool {
        false
    }
    /// The states at `t + dt`, `t + 2 dt`, … (one, or a bundle of
    /// successive steps) from the window `states` (the last
    /// [`Predictor::window`] committed states, `dt` apart, the one at `t`
    /// last; each in the layout of [`CheckedStep::predictor_states`]) and,
    /// for a predictor that reads it, the step's extrapolation `residual`
    /// (`None` for one that does not); `None` when it cannot take a step
    /// of `dt` (it was trained for another).
    fn predict(
        &mut self,
        states: &[Vec<f64>],
        residual: Option<&[f64]>,
        dt: f64,
    ) -> Result<Option<Vec<Vec<f64>>>, PhysicsError>;
}

/// Polynomial extrapolation through the last `window` committed states
/// (degree `window − 1`: persistence, linear, quadratic, cubic), one step
/// ahead or a bundle of steps: the control a learned step must beat, in
/// the same check. Linear extrapolation may add a multiple of the step
/// residual ([`Extrapolation::with_residual_correction`]): the control for
/// models that read it.
#[derive(Clone, Debug)]
pub struct Extrapolation {
    /// Per step of the bundle, the weights of the states.
    weights: Vec<Vec<f64>>,
    /// The multiple of the step residual added, if any.
    residual_correction: Option<f64>,
}

impl Extrapolation {
    /// Through `window` states, 1 to [`MAX_WINDOW`], `bundle` steps ahead,
    /// 1 to [`MAX_BUNDLE`]; others are refused.
    pub fn new(window: usize, bundle: usize) -> Result<Self, PhysicsError> {
        if !(1..=MAX_WINDOW).contains(&window) {
            return Err(PhysicsError::Surrogate(format!(
                "extrapolation runs through 1 to {MAX_WINDOW} states, not {window}"
            )));
        }
        if !(1..=MAX_BUNDLE).contains(&bundle) {
            return Err(PhysicsError::Surrogate(format!(
                "an extrapolation bundle has 1 to {MAX_BUNDLE} steps, not {bundle}"
            )));
        }
        Ok(Extrapolation {
            weights: (1..=bundle)
                .map(|k| extrapolation::weights_ahead(window, k))
                .collect(),
            residual_correction: None,
        })
    }

    /// Linear extrapolation one step ahead plus `k` times the step residual
    /// ([`CheckedStep::extrapolation_residual`], the residual of the step's
    /// equations at that same extrapolation): a correction by the step's
    /// own equations, pointwise, with no learning (the flow's residual is
    /// about half the extrapolation's velocity error, so `k` near 2 to 3).
    /// Refused unless `k` is finite and this is linear extrapolation (a
    /// window of 2) one step ahead.
    pub fn with_residual_correction(mut self, k: f64) -> Result<Self, PhysicsError> {
        if !k.is_finite() || self.window() != 2 || self.weights.len() != 1 {
            return Err(PhysicsError::Surrogate(format!(
                "a residual correction ({k}) corrects linear extrapolation (window 2) one \
                 step ahead (bundle 1), the extrapolation the step residual is taken at"
            )));
        }
        self.residual_correction = Some(k);
        Ok(self)
    }
}

impl Predictor for Extrapolation {
    fn describe(&self) -> String {
        let window = self.window();
        match (self.weights.len(), self.residual_correction) {
            (_, Some(k)) => format!("linear extrapolation plus {k} times the step residual"),
            (1, None) => format!("extrapolation through {window} states"),
            (bundle, None) => {
                format!("extrapolation through {window} states, {bundle} steps per bundle")
            }
        }
    }

    fn window(&self) -> usize {
        self.weights[0].len()
    }

    fn reads_step_residual(&self) -> bool {
        self.residual_correction.is_some()
    }

    fn predict(
        &mut self,
        states: &[Vec<f64>],
        residual: Option<&[f64]>,
        _: f64,
    ) -> Result<Option<Vec<Vec<f64>>>, PhysicsError> {
        if states.len() != self.window() {
            return Err(PhysicsError::Surrogate(format!(
                "{} states given; extrapolation runs through {}",
                states.len(),
                self.window()
            )));
        }
        let correction = match (self.residual_correction, residual) {
            (None, _) => None,
            (Some(k), Some(r)) if r.len() == states[0].len() => Some((k, r)),
            (Some(_), r) => {
                return Err(PhysicsError::Surrogate(format!(
                    "a residual correction needs the step residual, one value per state \
                     value ({}); {} given",
                    states[0].len(),
                    r.map_or(0, <[f64]>::len)
                )))
            }
        };
        let ahead = |weights: &[f64]| {
            (0..states[0].len())
                .map(|i| {
                    let x: f64 = states.iter().zip(weights).map(|(x, w)| w * x[i]).sum();
                    x + correction.map_or(0.0, |(k, r)| k * r[i])
                })
                .collect()
        };
        Ok(Some(self.weights.iter().map(|w| ahead(w)).collect()))
    }
}

/// A model whose step a [`Predictor`] can take, checked by the model's own
/// discrete equations.
pub trait CheckedStep: Stepper {
    /// Keeps at least `count` committed states from now on (for a
    /// predictor's window).
    fn keep_states(&mut self, count: usize);
    /// The last `count` committed states as a predictor sees them (e.g.
    /// the values at the mesh vertices), oldest first; `None` unless that
    /// many are kept, each `dt` after the one before (so at the start of a
    /// run, and after a change of step size, a predictor with a window
    /// waits).
    fn predictor_states(&self, count: usize, dt: f64) -> Option<Vec<Vec<f64>>>;
    /// The residual of the step from `t` by `dt` at the extrapolation of
    /// the committed states, in the layout of
    /// [`CheckedStep::predictor_states`]: what the extrapolation leaves
    /// for a predictor to correct, from the step's own discrete equations
    /// (so that it shows the errors of accepted states in the history as
    /// the classical step answers them). The system it assembles serves
    /// the step's check and fallback too.
    fn extrapolation_residual(&mut self, t: f64, dt: f64) -> Result<Vec<f64>, StepError>;
    /// Makes `predicted` the tried step from `t` to `t + dt` and measures
    /// it: the relative residual of the step's discrete system (0 for the
    /// classical answer, about 1 for a state no better than not stepping;
    /// NaN for a state that is not finite), and the step's report.
    fn try_prediction(
        &mut self,
        t: f64,
        dt: f64,
        predicted: &[f64],
    ) -> Result<(f64, StepReport), StepError>;
    /// The classical step, its solve started from the tried (rejected)
    /// prediction where that is finite (and on the system the check
    /// assembled, where the model kept it).
    fn fallback(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError>;
}

/// Counts and costs of a run with a learned step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LearnedStepStats {
    /// Steps taken by the predictor (accepted by the residual check).
    pub learned_steps: usize,
    /// Steps whose prediction failed the check, taken classically.
    pub fallbacks: usize,
    /// Other classical steps (before `from`, of a step size the predictor
    /// cannot take, or before its window of states is there).
    pub classical_steps: usize,
    /// Largest residual of an accepted step.
    pub accepted_residual_max: f64,
    /// Sum of the residuals of accepted steps (for the mean).
    pub accepted_residual_sum: f64,
    /// Largest residual of a rejected prediction.
    pub rejected_residual_max: f64,
    /// Wall time of accepted steps (prediction and check).
    pub learned_seconds: f64,
    /// Wall time of classical steps (fallbacks and others; a fallback's
    /// rejected prediction included).
    pub classical_seconds: f64,
    /// Wall time of the predictor over all predictions (accepted or not):
    /// the states it reads (the step's assembly, for a model that reads
    /// the step residual) and its forward passes.
    pub predict_seconds: f64,
    /// The part of `predict_seconds` spent in the predictor's forward
    /// passes alone (the network).
    pub network_seconds: f64,
    /// Wall time of the checks over all predictions (the model's rebuild
    /// of its state from the prediction and the residual).
    pub check_seconds: f64,
    /// Wall time of the classical solves of fallbacks alone.
    pub fallback_solve_seconds: f64,
    /// Linear-solver iterations of the fallbacks (started from the
    /// rejected prediction).
    pub fallback_iterations: usize,
    /// Linear-solver iterations of the other classical steps (started
    /// from the current state).
    pub classical_iterations: usize,
    /// Sum and count of the (finite) residuals of predictions right after
    /// an accepted step, whose history holds the accepted state's error.
    pub after_accepted: (f64, usize),
    /// The same after a classical step (a fallback or before the learned
    /// steps): the predictor's own error, from classical states.
    pub after_classical: (f64, usize),
}

impl LearnedStepStats {
    /// The record as JSON, with means per step.
    pub fn to_json(&self) -> serde_json::Value {
        let per = |s: f64, n: usize| (n > 0).then(|| s / n as f64);
        serde_json::json!({
            "learned_steps": self.learned_steps,
            "fallbacks": self.fallbacks,
            "classical_steps": self.classical_steps,
            "accepted_residual_max": self.accepted_residual_max,
            "accepted_residual_mean": per(self.accepted_residual_sum, self.learned_steps),
            "rejected_residual_max": self.rejected_residual_max,
            "seconds_per_learned_step": per(self.learned_seconds, self.learned_steps),
            "seconds_per_classical_step":
                per(self.classical_seconds, self.fallbacks + self.classical_steps),
            "cost_per_prediction": {
                "predict_seconds": per(self.predict_seconds, self.learned_steps + self.fallbacks),
                "network_seconds": per(self.network_seconds, self.learned_steps + self.fallbacks),
                "check_seconds": per(self.check_seconds, self.learned_steps + self.fallbacks),
            },
            "seconds_per_fallback_solve": per(self.fallback_solve_seconds, self.fallbacks),
            "iterations_per_fallback": per(self.fallback_iterations as f64, self.fallbacks),
            "iterations_per_classical_step":
                per(self.classical_iterations as f64, self.classical_steps),
            "residual_after_accepted_mean": per(self.after_accepted.0, self.after_accepted.1),
            "residual_after_classical_mean": per(self.after_classical.0, self.after_classical.1),
        })
    }
}

/// How the last step was taken.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepOutcome {
    /// The prediction's relative residual; NaN where none was made (a
    /// classical step) or the prediction was not finite.
    pub residual: f64,
    /// Whether the prediction was accepted as the step.
    pub accepted: bool,
}

/// A model stepped by a predictor, each step checked (and taken
/// classically when the check fails).
pub struct LearnedStep<M> {
    model: M,
    predictor: Box<dyn Predictor>,
    /// Steps starting before this time are classical.
    pub from: f64,
    /// Largest residual accepted.
    pub tolerance: f64,
    /// What happened so far.
    pub stats: LearnedStepStats,
    /// The last step tried (for per-step records).
    pub last: Option<StepOutcome>,
    /// The rest of the last bundle: predicted states and their times, for
    /// the steps after the one taken (cleared by a fallback or any other
    /// change of the history they followed).
    pending: VecDeque<(f64, Vec<f64>)>,
}

impl<M: CheckedStep> LearnedStep<M> {
    /// `model` stepped by `predictor` from time `from` on, predictions
    /// accepted up to the relative residual `tolerance`.
    pub fn new(mut model: M, predictor: Box<dyn Predictor>, from: f64, tolerance: f64) -> Self {
        model.keep_states(predictor.window());
        LearnedStep {
            model,
            predictor,
            from,
            tolerance,
            stats: LearnedStepStats::default(),
            last: None,
            pending: VecDeque::new(),
        }
    }

    /// The wrapped model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The wrapped model, to change its data between steps.
    pub fn model_mut(&mut self) -> &mut M {
        &mut self.model
    }

    /// What the predictor is.
    pub fn describe(&self) -> String {
        self.predictor.describe()
    }
}

impl<M> LearnedStep<M> {
    /// The record of the learned step, for summaries.
    pub fn record(&self) -> serde_json::Value {
        let mut record = self.stats.to_json();
        record["model"] = serde_json::json!(self.predictor.describe());
        record["from"] = serde_json::json!(self.from);
        record["residual_tolerance"] = serde_json::json!(self.tolerance);
        record
    }
}

impl<M: CheckedStep> LearnedStep<M> {
    /// The bundle's prediction for the step from `t` to `t + dt`, if the
    /// last bundle has one; the rest of the bundle is dropped when the step
    /// is not its next one (a retried step of another size).
    fn pending_for(&mut self, t: f64, dt: f64) -> Option<Vec<f64>> {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * dt.max(b.abs());
        // Steps already taken (or retried from `t`) go.
        while self
            .pending
            .front()
            .is_some_and(|(at, _)| *at < t + dt && !close(*at, t + dt))
        {
            self.pending.pop_front();
        }
        match self.pending.front() {
            Some((at, x)) if close(*at, t + dt) => Some(x.clone()),
            _ => {
                self.pending.clear();
                None
            }
        }
    }

    /// A new bundle from the committed states at `t`: its first state (for
    /// the step to `t + dt`) is returned, the rest kept for the steps
    /// after; `None` when the predictor has no prediction (its window of
    /// states is not there yet, or it cannot step by `dt`).
    fn predict_bundle(&mut self, t: f64, dt: f64) -> Result<Option<Vec<f64>>, StepError> {
        let Some(states) = self.model.predictor_states(self.predictor.window(), dt) else {
            return Ok(None);
        };
        let residual = match self.predictor.reads_step_residual() {
            true => Some(self.model.extrapolation_residual(t, dt)?),
            false => None,
        };
        let forward = Instant::now();
        let bundle = self.predictor.predict(&states, residual.as_deref(), dt)?;
        self.stats.network_seconds += forward.elapsed().as_secs_f64();
        let Some(bundle) = bundle else {
            return Ok(None);
        };
        self.pending = bundle
            .into_iter()
            .enumerate()
            .map(|(k, x)| (t + (k + 1) as f64 * dt, x))
            .collect();
        Ok(self.pending.front().map(|(_, x)| x.clone()))
    }
}

impl<M: CheckedStep> Stepper for LearnedStep<M> {
    fn try_step(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError> {
        let started = Instant::now();
        let learned = t >= self.from - 1e-9 * dt;
        let next = match self.pending_for(t, dt) {
            Some(next) => Some(next),
            None if learned => self.predict_bundle(t, dt)?,
            None => None,
        };
        let Some(next) = next else {
            let report = self.model.try_step(t, dt)?;
            self.last = Some(StepOutcome {
                residual: f64::NAN,
                accepted: false,
            });
            self.stats.classical_steps += 1;
            self.stats.classical_iterations += report.iterations;
            self.stats.classical_seconds += started.elapsed().as_secs_f64();
            return Ok(report);
        };
        let predicted = Instant::now();
        let (residual, report) = self.model.try_prediction(t, dt, &next)?;
        let accepted = residual <= self.tolerance;
        let history = match self.last {
            Some(StepOutcome { accepted: true, .. }) => &mut self.stats.after_accepted,
            _ => &mut self.stats.after_classical,
        };
        if residual.is_finite() {
            history.0 += residual;
            history.1 += 1;
        }
        self.last = Some(StepOutcome { residual, accepted });
        let stats = &mut self.stats;
        stats.predict_seconds += (predicted - started).as_secs_f64();
        stats.check_seconds += predicted.elapsed().as_secs_f64();
        if accepted {
            stats.learned_steps += 1;
            stats.accepted_residual_max = stats.accepted_residual_max.max(residual);
            stats.accepted_residual_sum += residual;
            stats.learned_seconds += started.elapsed().as_secs_f64();
            return Ok(report);
        }
        // NaN compares false above and lands here too. The rest of the
        // bundle followed the rejected state.
        self.pending.clear();
        stats.fallbacks += 1;
        stats.rejected_residual_max = if residual.is_nan() {
            f64::NAN
        } else {
            stats.rejected_residual_max.max(residual)
        };
        let solving = Instant::now();
        let report = self.model.fallback(t, dt)?;
        self.stats.fallback_solve_seconds += solving.elapsed().as_secs_f64();
        self.stats.fallback_iterations += report.iterations;
        self.stats.classical_seconds += started.elapsed().as_secs_f64();
        Ok(report)
    }

    fn commit(&mut self) {
        self.model.commit();
    }

    fn set_field(&mut self, name: &str, values: &[f64]) -> Result<(), String> {
        self.pending.clear();
        self.model.set_field(name, values)
    }

    fn stable_dt(&self) -> Option<f64> {
        self.model.stable_dt()
    }

    /// The model's state, the rest of the bundle and the record so far
    /// (the predictor keeps no state between steps).
    fn snapshot(&self) -> Option<Snapshot> {
        let mut s = Snapshot::new();
        s.nest("model", self.model.snapshot()?);
        s.push(
            "pending_times",
            self.pending.iter().map(|(t, _)| *t).collect(),
        );
        let pending: Vec<Vec<f64>> = self.pending.iter().map(|(_, x)| x.clone()).collect();
        s.push_rows("pending", &pending);
        let t = &self.stats;
        s.push(
            "stats",
            vec![
                t.learned_steps as f64,
                t.fallbacks as f64,
                t.classical_steps as f64,
                t.accepted_residual_max,
                t.accepted_residual_sum,
                t.rejected_residual_max,
                t.learned_seconds,
                t.classical_seconds,
                t.predict_seconds,
                t.check_seconds,
                t.fallback_solve_seconds,
                t.fallback_iterations as f64,
                t.classical_iterations as f64,
            ],
        );
        s.push("network_seconds", vec![t.network_seconds]);
        let last_accepted = self.last.is_some_and(|l| l.accepted);
        s.push(
            "history_stats",
            vec![
                t.after_accepted.0,
                t.after_accepted.1 as f64,
                t.after_classical.0,
                t.after_classical.1 as f64,
                f64::from(u8::from(last_accepted)),
            ],
        );
        Some(s)
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StepError> {
        self.model.restore(&snapshot.section("model"))?;
        // Checkpoints from before bundles have no pending predictions.
        let times = snapshot.find("pending_times").unwrap_or_default();
        let states = match times {
            [] => Vec::new(),
            _ => snapshot.rows("pending")?,
        };
        if states.len() != times.len() {
            return Err(StepError::Restart(format!(
                "the checkpoint has {} pending predictions for {} times",
                states.len(),
                times.len()
            )));
        }
        self.pending = times.iter().copied().zip(states).collect();
        let v = snapshot.get_len("stats", 13)?;
        self.stats = LearnedStepStats {
            learned_steps: v[0] as usize,
            fallbacks: v[1] as usize,
            classical_steps: v[2] as usize,
            accepted_residual_max: v[3],
            accepted_residual_sum: v[4],
            rejected_residual_max: v[5],
            learned_seconds: v[6],
            classical_seconds: v[7],
            predict_seconds: v[8],
            // Checkpoints from before session 26 have no network time.
            network_seconds: snapshot
                .find("network_seconds")
                .and_then(|n| n.first().copied())
                .unwrap_or(0.0),
            check_seconds: v[9],
            fallback_solve_seconds: v[10],
            fallback_iterations: v[11] as usize,
            classical_iterations: v[12] as usize,
            after_accepted: (0.0, 0),
            after_classical: (0.0, 0),
        };
        // Checkpoints from before session 22 have no history statistics.
        if let Some(h) = snapshot.find("history_stats").filter(|h| h.len() == 5) {
            self.stats.after_accepted = (h[0], h[1] as usize);
            self.stats.after_classical = (h[2], h[3] as usize);
            self.last = Some(StepOutcome {
                residual: f64::NAN,
                accepted: h[4] == 1.0,
            });
        }
        Ok(())
    }
}

impl<M: Model> Model for LearnedStep<M> {
    super::model_of_inner!(model);

    /// The model's, and the learned step's record under `stepper`.
    fn summary(&self) -> serde_json::Value {
        let mut summary = self.model.summary();
        summary["stepper"] = self.record();
        summary
    }
}
