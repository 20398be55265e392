//! Training: [`optimize`], the loop of any [`Trainable`] model (Adam with
//! an exponentially decaying learning rate and gradient-norm clipping,
//! after a warm-up without optimiser steps), and [`train`], which trains a
//! [`LearnedStepper`] on trajectories with it: random windows and the
//! steps after them (one, or the model's bundle), noise on the inputs,
//! masked loss; the stepper's normalisers learn their
//! statistics during the warm-up, then freeze. Checkpoints hold the saved model, the optimiser's moments, the loss of
//! every step so far (`loss.csv`) and `training.json` (the steps reached).
//! The sample and the input noise of a step depend only on the seed and the
//! step's number, so a run resumed from a checkpoint continues exactly as
//! the uninterrupted run would have.

use std::fmt::Write as _;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

use crate::adam::Adam;
use crate::error::LearnedError;
use crate::files::write_bytes;
use crate::stepper::{LearnedStepper, StepSample, MAX_WINDOW};
use crate::tensors::GraphTensors;

/// Training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimiser steps, warm-up included. Default 10 000.
    #[serde(default = "steps_default")]
    pub steps: usize,
    /// Initial learning rate. Default 1e-4.
    #[serde(default = "learning_rate_default")]
    pub learning_rate: f64,
    /// Learning rate reached at the last step (exponential decay).
    /// Default 1e-6.
    #[serde(default = "final_learning_rate_default")]
    pub final_learning_rate: f64,
    /// Largest gradient norm; larger gradients are scaled down. Default 1.
    #[serde(default = "clip_norm_default")]
    pub clip_norm: f64,
    /// Standard deviation of the noise added to the input states' free
    /// values (those the mask counts). Default 0.02.
    #[serde(default = "noise_default")]
    pub noise: f64,
    /// First steps that only feed the normalisers. Default 100.
    #[serde(default = "warmup_default")]
    pub warmup: usize,
    /// Save a checkpoint every this many steps (0: only at the end).
    #[serde(default)]
    pub checkpoint_every: usize,
    /// Seed of the sample order and the noise (`train stepper` also seeds
    /// the initial weights with it). Default 0.
    #[serde(default)]
    pub seed: u64,
}

fn steps_default() -> usize {
    10_000
}
fn learning_rate_default() -> f64 {
    1e-4
}
fn final_learning_rate_default() -> f64 {
    1e-6
}
fn clip_norm_default() -> f64 {
    1.0
}
fn noise_default() -> f64 {
    0.02
}
fn warmup_default() -> usize {
    100
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: steps_default(),
            learning_rate: learning_rate_default(),
            final_learning_rate: final_learning_rate_default(),
            clip_norm: clip_norm_default(),
            noise: noise_default(),
            warmup: warmup_default(),
            checkpoint_every: 0,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Its optimisation schedule.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            steps: self.steps,
            warmup: self.warmup,
            learning_rate: self.learning_rate,
            final_learning_rate: self.final_learning_rate,
            clip_norm: self.clip_norm,
            checkpoint_every: self.checkpoint_every,
            seed: self.seed,
        }
    }
}

/// How a training run optimises, whatever the model: the steps, the
/// learning rate's exponential decay after a warm-up without optimiser
/// steps, gradient clipping, checkpoints and the seed of the draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    /// Optimiser steps, warm-up included.
    pub steps: usize,
    /// First steps without optimiser steps (they feed normalisers).
    pub warmup: usize,
    /// Initial learning rate.
    pub learning_rate: f64,
    /// Learning rate reached at the last step.
    pub final_learning_rate: f64,
    /// Largest gradient norm.
    pub clip_norm: f64,
    /// Save a checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: usize,
    /// Seed of the draws.
    pub seed: u64,
}

impl Schedule {
    /// The learning rate at `step`.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        let span = self.steps.saturating_sub(self.warmup).max(1) as f64;
        let x = step.saturating_sub(self.warmup) as f64 / span;
        self.learning_rate * (self.final_learning_rate / self.learning_rate).powf(x.min(1.0))
    }
}

/// A model the training loop can optimise and checkpoint.
pub trait Trainable {
    /// Its weights (the trainable ones are optimised).
    fn var_store(&self) -> &VarStore;
    /// Saves it (configuration and weights) into `dir`.
    fn save_into(&self, dir: &Path) -> Result<(), LearnedError>;
}

impl Trainable for LearnedStepper {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn save_into(&self, dir: &Path) -> Result<(), LearnedError> {
        self.save(dir)
    }
}

/// One trajectory of a system: its graph, the mask of values the loss
/// counts (`[N, fields]`, 1 or 0), and its states `[N, fields]` at
/// successive steps.
pub struct Trajectory {
    /// The mesh graph.
    pub graph: GraphTensors,
    /// 1 where the model's prediction counts, 0 where boundary conditions
    /// set the value (per node and field: a wall fixes the velocity, not
    /// the pressure).
    pub mask: Tensor,
    /// The states, one per step.
    pub states: Vec<Tensor>,
    /// The residual of each step's equations at the extrapolated state
    /// (from state `i` to `i + 1`), for models that read it
    /// ([`crate::stepper::StepperConfig::step_residual`]); empty where not
    /// recorded.
    pub residuals: Vec<Tensor>,
    /// Solver-in-the-loop branches off it (none for plain trajectories).
    pub branches: Vec<Branch>,
}

/// A branch off a trajectory: states as accepted predictions with errors
/// leave them, and the classical step's answer after each.
pub struct Branch {
    /// The state of the trajectory it starts from.
    pub start: usize,
    /// Perturbed states, the first standing for state `start + 1`.
    pub perturbed: Vec<Tensor>,
    /// After each perturbed state, the classical step from the history
    /// that ends with it: the state a model should predict there.
    pub targets: Vec<Tensor>,
    /// The step residual of each target's step (empty where not recorded).
    pub residuals: Vec<Tensor>,
}

/// A training sample: where its window ends and what follows it.
#[derive(Clone, Copy)]
enum Sample {
    /// Trajectory `k`: the window ending at state `i`, and the bundle's
    /// states from `i + 1`.
    Plain { k: usize, i: usize },
    /// Branch `b` of trajectory `k`: the window ending at its perturbed
    /// state `j` (with the trajectory's states before the branch), and
    /// target `j` (the first step of a bundle alone: the steps after it
    /// would start from other histories).
    Branched { k: usize, b: usize, j: usize },
}

impl Sample {
    /// All samples of `data` for a model reading `window` states and
    /// predicting `bundle` steps (and the step residual, if `residual`);
    /// an error for a branch that starts past the end of its trajectory,
    /// or data without the residuals a model reads.
    fn all(
        data: &[Trajectory],
        window: usize,
        bundle: usize,
        residual: bool,
    ) -> Result<Vec<Sample>, LearnedError> {
        let mut samples = Vec::new();
        for (k, t) in data.iter().enumerate() {
            let steps = t.states.len().saturating_sub(1);
            let lacking = t.residuals.len() != steps
                || t.branches
                    .iter()
                    .any(|b| b.residuals.len() != b.targets.len());
            if residual && lacking {
                return Err(LearnedError::Shape(format!(
                    "trajectory {k} has no step residual for every step ({} for {steps} \
                     steps); the model reads them (generate the data again)",
                    t.residuals.len()
                )));
            }
            let plain = window - 1..t.states.len().saturating_sub(bundle);
            samples.extend(plain.map(|i| Sample::Plain { k, i }));
            for (b, branch) in t.branches.iter().enumerate() {
                if branch.start >= t.states.len() {
                    return Err(LearnedError::Shape(format!(
                        "branch {b} of trajectory {k} starts from state {}; the trajectory has {}",
                        branch.start,
                        t.states.len()
                    )));
                }
                // The window reaches back into the trajectory before it.
                let fits = |j: usize| branch.start + j + 2 >= window;
                let steps = branch.perturbed.len().min(branch.targets.len());
                samples.extend((0..steps).filter(|&j| fits(j)).map(|j| Sample::Branched {
                    k,
                    b,
                    j,
                }));
            }
        }
        Ok(samples)
    }

    /// Its trajectory, input window (oldest first), the step residual
    /// (where recorded) and targets (the next state first; up to `bundle`
    /// of them).
    fn of<'a>(&self, data: &'a [Trajectory], window: usize, bundle: usize) -> SampleTensors<'a> {
        match *self {
            Sample::Plain { k, i } => {
                let t = &data[k];
                let inputs = t.states[i + 1 - window..=i].iter().collect();
                let residual = t.residuals.get(i);
                (
                    t,
                    inputs,
                    residual,
                    t.states[i + 1..=i + bundle].iter().collect(),
                )
            }
            Sample::Branched { k, b, j } => {
                let t = &data[k];
                let branch = &t.branches[b];
                let own = (j + 1).min(window);
                let before = window - own;
                let inputs = t.states[branch.start + 1 - before..=branch.start]
                    .iter()
                    .chain(&branch.perturbed[j + 1 - own..=j])
                    .collect();
                let residual = branch.residuals.get(j);
                (t, inputs, residual, vec![&branch.targets[j]])
            }
        }
    }
}

/// A sample's trajectory, input window, step residual and targets.
type SampleTensors<'a> = (
    &'a Trajectory,
    Vec<&'a Tensor>,
    Option<&'a Tensor>,
    Vec<&'a Tensor>,
);

/// What a training step reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// The step just done.
    pub step: usize,
    /// Its loss.
    pub loss: f64,
    /// Its learning rate (0 during the warm-up).
    pub learning_rate: f64,
}

/// The files of a checkpoint besides the model: the steps reached, the
/// optimiser's moments, the loss history.
const TRAINING_FILE: &str = "training.json";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const LOSS_FILE: &str = "loss.csv";

/// The random number of step `step` of a run seeded with `seed` (SplitMix64
/// of the pair): it picks the step's sample and seeds its noise, so that
/// neither depends on where a run was resumed.
fn step_draw(seed: u64, step: usize) -> u64 {
    let mut z = seed
        .wrapping_add((step as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Trains `model` on `data` from step `start` to `config.steps`, calling
/// `on_step` after every step. With a `checkpoint` folder, checkpoints are
/// saved there (every `config.checkpoint_every` steps and at the end), and
/// a run with `start > 0` continues the one whose checkpoint it holds: its
/// optimiser moments and loss history (`start` is then
/// [`checkpoint_step`], and `model` the model loaded from there). Returns
/// the loss of every step of this run.
pub fn train(
    model: &mut LearnedStepper,
    data: &[Trajectory],
    config: &TrainConfig,
    start: usize,
    checkpoint: Option<&Path>,
    on_step: impl FnMut(&Progress),
) -> Result<Vec<f64>, LearnedError> {
    model.config.validate()?;
    let (window, bundle) = (model.window(), model.bundle());
    let residual = model.config.step_residual;
    let samples = Sample::all(data, window, bundle, residual)?;
    if samples.is_empty() {
        return Err(LearnedError::Shape(format!(
            "no training samples: every trajectory needs at least {} states",
            window + bundle
        )));
    }
    let schedule = config.schedule();
    optimize(
        model,
        &schedule,
        start,
        checkpoint,
        on_step,
        |model, step, draw| {
            let sample = samples[(draw % samples.len() as u64) as usize];
            let (t, inputs, r, next) = sample.of(data, window, bundle);
            let r = r.filter(|_| residual);
            let warming = step < config.warmup;
            let sample = StepSample {
                states: &inputs,
                residual: r,
                next: &next,
                mask: &t.mask,
            };
            let loss = model.loss(&t.graph, &sample, config.noise, warming)?;
            if step + 1 == config.warmup {
                model.freeze_normalizers();
            }
            Ok(loss)
        },
    )
}

/// The training loop of any [`Trainable`] model: from step `start` to
/// `schedule.steps`, `step_loss(model, step, draw)` gives the loss of a
/// step (`draw`, from the seed and the step's number alone, picks its
/// sample; libtorch's generator is seeded with it too), which Adam
/// minimises after the warm-up; `on_step` sees every step. With a
/// `checkpoint` folder, checkpoints (the model, the optimiser's moments,
/// `loss.csv`, `training.json`) are saved there every
/// `schedule.checkpoint_every` steps and at the end, and a run with
/// `start > 0` continues the one whose checkpoint it holds ([`checkpoint_step`]).
/// Returns the loss of every step of this run.
pub fn optimize<M: Trainable>(
    model: &mut M,
    schedule: &Schedule,
    start: usize,
    checkpoint: Option<&Path>,
    mut on_step: impl FnMut(&Progress),
    mut step_loss: impl FnMut(&mut M, usize, u64) -> Result<Tensor, LearnedError>,
) -> Result<Vec<f64>, LearnedError> {
    let (mut optimizer, mut history) = match checkpoint {
        Some(dir) if start > 0 => resume_state(model.var_store(), dir, start)?,
        _ => (Adam::new(model.var_store()), Vec::new()),
    };
    let mut losses = Vec::with_capacity(schedule.steps.saturating_sub(start));
    for step in start..schedule.steps {
        let draw = step_draw(schedule.seed, step);
        tch::manual_seed(draw as i64);
        let loss = step_loss(model, step, draw)?;
        let learning_rate = if step < schedule.warmup {
            0.0
        } else {
            let lr = schedule.learning_rate_at(step);
            optimizer.backward_step(&loss, lr, schedule.clip_norm);
            lr
        };
        let value = loss.double_value(&[]);
        losses.push(value);
        let progress = Progress {
            step,
            loss: value,
            learning_rate,
        };
        history.push(progress);
        on_step(&progress);
        let last = step + 1 == schedule.steps;
        let due = schedule.checkpoint_every > 0 && (step + 1) % schedule.checkpoint_every == 0;
        if let (Some(dir), true) = (checkpoint, last || due) {
            save_checkpoint(model, &optimizer, &history, dir, step + 1)?;
        }
    }
    Ok(losses)
}

/// The optimiser and the loss history of the checkpoint in `dir`, which
/// reached step `start`. A checkpoint without optimiser state (written
/// before it was saved) resumes with fresh moments.
fn resume_state(
    vs: &VarStore,
    dir: &Path,
    start: usize,
) -> Result<(Adam, Vec<Progress>), LearnedError> {
    let (_, optimizer_steps) = read_training_file(dir)?;
    let moments = dir.join(OPTIMIZER_FILE);
    let optimizer = match optimizer_steps {
        Some(steps) if moments.exists() => Adam::load(vs, &moments, steps)?,
        _ => Adam::new(vs),
    };
    let mut history = read_loss_log(dir)?;
    history.retain(|p| p.step < start);
    Ok((optimizer, history))
}

/// Saves a checkpoint into `dir`: the model, the optimiser's moments, the
/// loss history and the step reached.
fn save_checkpoint(
    model: &impl Trainable,
    optimizer: &Adam,
    history: &[Progress],
    dir: &Path,
    step: usize,
) -> Result<(), LearnedError> {
    model.save_into(dir)?;
    let optimizer_steps = optimizer.save(&dir.join(OPTIMIZER_FILE))?;
    let mut log = String::from("step,loss,learning_rate\n");
    for p in history {
        let _ = writeln!(log, "{},{:e},{:e}", p.step, p.loss, p.learning_rate);
    }
    write_bytes(&dir.join(LOSS_FILE), log.as_bytes())?;
    let state = serde_json::json!({ "step": step, "optimizer_steps": optimizer_steps });
    write_bytes(&dir.join(TRAINING_FILE), state.to_string().as_bytes())
}

/// The step a checkpoint in `dir` reached (0 if it has none).
pub fn checkpoint_step(dir: &Path) -> Result<usize, LearnedError> {
    Ok(read_training_file(dir)?.0)
}

/// The steps reached by training and by the optimiser in the checkpoint
/// in `dir` ((0, None) if it has none).
fn read_training_file(dir: &Path) -> Result<(usize, Option<u64>), LearnedError> {
    let path = dir.join(TRAINING_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok((0, None));
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| LearnedError::Config {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let step = v["step"].as_u64().ok_or_else(|| LearnedError::Config {
        path,
        message: "expected {\"step\": N, \"optimizer_steps\": M}".into(),
    })?;
    Ok((step as usize, v["optimizer_steps"].as_u64()))
}

/// The loss of every step saved in the checkpoint in `dir` (`loss.csv`:
/// `step,loss,learning_rate`), empty if it has none.
pub fn read_loss_log(dir: &Path) -> Result<Vec<Progress>, LearnedError> {
    let path = dir.join(LOSS_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    let bad = |line: usize| LearnedError::Config {
        path: path.clone(),
        message: format!("line {line}: expected step,loss,learning_rate"),
    };
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(k, line)| {
            let mut parts = line.split(',');
            let mut next = || parts.next().map(str::trim).ok_or_else(|| bad(k + 1));
            Ok(Progress {
                step: next()?.parse().map_err(|_| bad(k + 1))?,
                loss: next()?.parse().map_err(|_| bad(k + 1))?,
                learning_rate: next()?.parse().map_err(|_| bad(k + 1))?,
            })
        })
        .collect()
}

/// Sums of squared errors of one-step predictions (unmasked values only),
/// of the model and of persistence (the next state taken equal to the
/// current one), the baseline to beat. Sums over trajectories add up.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct OneStepErrors {
    learned: f64,
    persistence: f64,
    count: f64,
}

impl OneStepErrors {
    /// The errors over every step of `t`.
    pub fn of(model: &LearnedStepper, t: &Trajectory) -> Result<Self, LearnedError> {
        let mut sums = OneStepErrors::default();
        let weight = t.mask.to_kind(Kind::Float);
        let values = weight.sum(Kind::Float).double_value(&[]);
        let window = model.window();
        for (i, states) in t.states.windows(window + 1).enumerate() {
            let (inputs, next) = states.split_at(window);
            let inputs: Vec<&Tensor> = inputs.iter().collect();
            // The residual of the step from the window's last state.
            let residual = match model.config.step_residual {
                true => Some(t.residuals.get(i + window - 1).ok_or_else(|| {
                    LearnedError::Shape("a held-out trajectory has no step residuals".into())
                })?),
                false => None,
            };
            let predicted = model.predict(&t.graph, &inputs, residual)?;
            let sq = |a: &Tensor| {
                ((a - &next[0]).square() * &weight)
                    .sum(Kind::Float)
                    .double_value(&[])
            };
            sums.learned += sq(&predicted[0]);
            sums.persistence += sq(inputs[window - 1]);
            sums.count += values;
        }
        Ok(sums)
    }

    /// Root-mean-square errors: (the model's, persistence's).
    pub fn rmse(&self) -> (f64, f64) {
        let count = self.count.max(1.0);
        (
            (self.learned / count).sqrt(),
            (self.persistence / count).sqrt(),
        )
    }
}

impl std::ops::AddAssign for OneStepErrors {
    fn add_assign(&mut self, other: OneStepErrors) {
        self.learned += other.learned;
        self.persistence += other.persistence;
        self.count += other.count;
    }
}

/// Root-mean-square error of one-step predictions over every step of every
/// trajectory, and persistence's (see [`OneStepErrors`]).
pub fn one_step_rmse(
    model: &LearnedStepper,
    data: &[Trajectory],
) -> Result<(f64, f64), LearnedError> {
    let mut sums = OneStepErrors::default();
    for t in data {
        sums += OneStepErrors::of(model, t)?;
    }
    Ok(sums.rmse())
}

/// How a rollout steps: from the states so far (newest last), the next
/// (and more after it, for a model predicting a bundle of steps).
pub type RolloutStep<'a> = dyn FnMut(&[Tensor]) -> Result<Vec<Tensor>, LearnedError> + 'a;

/// The states of `data` a rollout starts from: the first [`MAX_WINDOW`]
/// (every stepper and baseline has its window of the data), so that all
/// rollouts of a trajectory cover the same steps.
pub const ROLLOUT_START: usize = MAX_WINDOW;

/// Root-mean-square errors of a rollout: from the first
/// [`ROLLOUT_START`] states of `data`, `step`'s outputs fed back in, with
/// the masked-out values (which boundary conditions set) taken from the
/// data at every step. Returns the RMSE over the unmasked values after
/// each step.
pub fn rollout_errors(data: &Trajectory, step: &mut RolloutStep) -> Result<Vec<f64>, LearnedError> {
    let free = data.mask.to_kind(Kind::Float);
    let fixed = free.ones_like() - &free;
    let count = free.sum(Kind::Float).double_value(&[]).max(1.0);
    if data.states.len() <= ROLLOUT_START {
        return Ok(Vec::new());
    }
    let mut states: Vec<Tensor> = data.states[..ROLLOUT_START]
        .iter()
        .map(Tensor::shallow_clone)
        .collect();
    let mut errors = Vec::with_capacity(data.states.len() - ROLLOUT_START);
    while states.len() < data.states.len() {
        let bundle = step(&states)?;
        if bundle.is_empty() {
            return Err(LearnedError::Shape(
                "a rollout step predicted no state".into(),
            ));
        }
        for next in bundle {
            let Some(truth) = data.states.get(states.len()) else {
                break;
            };
            let next = &next * &free + truth * &fixed;
            let sq = ((&next - truth).square() * &free)
                .sum(Kind::Float)
                .double_value(&[]);
            errors.push((sq / count).sqrt());
            states.push(next);
        }
    }
    Ok(errors)
}

/// The extrapolation of degree `m − 1` through the last `m` states, one
/// step ahead.
fn extrapolation(states: &[Tensor], m: usize) -> Vec<Tensor> {
    let window: Vec<&Tensor> = states[states.len() - m..].iter().collect();
    vec![crate::stepper::extrapolate(&window, 1)]
}

/// The rollout errors ([`rollout_errors`]) of the model, and of the
/// baselines a learned stepper must beat: persistence (the state stays),
/// and linear (`2 xₙ − xₙ₋₁`), quadratic and cubic extrapolation
/// ([`crate::extrapolation::weights`]). A model that reads the step
/// residual has none here (the residual of its own states needs the
/// solver: a run with the check off measures its rollouts).
pub fn rollouts(model: &LearnedStepper, data: &Trajectory) -> Result<Rollouts, LearnedError> {
    let window = model.window();
    let learned = match model.config.step_residual {
        true => Vec::new(),
        false => rollout_errors(data, &mut |states| {
            let inputs: Vec<&Tensor> = states[states.len() - window..].iter().collect();
            model.predict(&data.graph, &inputs, None)
        })?,
    };
    Ok(Rollouts {
        learned,
        persistence: rollout_errors(data, &mut |states| Ok(extrapolation(states, 1)))?,
        linear: rollout_errors(data, &mut |states| Ok(extrapolation(states, 2)))?,
        quadratic: rollout_errors(data, &mut |states| Ok(extrapolation(states, 3)))?,
        cubic: rollout_errors(data, &mut |states| Ok(extrapolation(states, 4)))?,
    })
}

/// Per-step rollout RMSEs of a model and its baselines on one trajectory.
#[derive(Clone, Debug, PartialEq)]
pub struct Rollouts {
    /// The model's (empty for a model that reads the step residual).
    pub learned: Vec<f64>,
    /// Persistence's.
    pub persistence: Vec<f64>,
    /// Linear extrapolation's.
    pub linear: Vec<f64>,
    /// Quadratic extrapolation's.
    pub quadratic: Vec<f64>,
    /// Cubic extrapolation's.
    pub cubic: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::MeshGraph;
    use pde_mesh::{generate, CellKind};
    use tch::Device;

    /// A branch's windows reach back into the trajectory before it, and
    /// windows that would reach past its start are left out.
    #[test]
    fn branch_samples_read_the_trajectory_before_the_branch() {
        let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [1, 1], CellKind::Tri3).unwrap();
        let value = |v: f64| Tensor::from_slice(&[v]);
        let trajectory = |start: usize| Trajectory {
            graph: GraphTensors::new(&MeshGraph::from_mesh(&mesh, &[]).unwrap(), Device::Cpu),
            mask: value(1.0),
            states: (0..5).map(|k| value(k as f64)).collect(),
            residuals: Vec::new(),
            branches: vec![Branch {
                start,
                perturbed: vec![value(10.0), value(11.0)],
                targets: vec![value(20.0), value(21.0)],
                residuals: Vec::new(),
            }],
        };
        let read = |data: &[Trajectory], window: usize| -> Vec<(Vec<f64>, f64)> {
            Sample::all(data, window, 1, false)
                .unwrap()
                .iter()
                .filter(|s| matches!(s, Sample::Branched { .. }))
                .map(|s| {
                    let (_, inputs, _, targets) = s.of(data, window, 1);
                    let inputs = inputs.iter().map(|x| x.double_value(&[0])).collect();
                    (inputs, targets[0].double_value(&[0]))
                })
                .collect()
        };
        let data = [trajectory(2)];
        assert_eq!(
            read(&data, 3),
            [(vec![1.0, 2.0, 10.0], 20.0), (vec![2.0, 10.0, 11.0], 21.0)]
        );
        assert_eq!(read(&data, 1), [(vec![10.0], 20.0), (vec![11.0], 21.0)]);
        // From state 0 a window of 4 fits no step of a 2-step branch.
        assert!(read(&[trajectory(0)], 4).is_empty());
        assert_eq!(read(&[trajectory(0)], 3), [(vec![0.0, 10.0, 11.0], 21.0)]);
        assert!(Sample::all(&[trajectory(5)], 1, 1, false).is_err());
        // A model that reads step residuals is refused data without them.
        let error = Sample::all(&data, 1, 1, true).err().unwrap().to_string();
        assert!(error.contains("no step residual"), "{error}");
        // A bundle of 2: plain samples end where two states follow;
        // branch samples keep their one target.
        let bundled: Vec<(Vec<f64>, Vec<f64>)> = Sample::all(&data, 2, 2, false)
            .unwrap()
            .iter()
            .map(|s| {
                let (_, inputs, _, targets) = s.of(&data, 2, 2);
                let v = |x: Vec<&Tensor>| x.iter().map(|x| x.double_value(&[0])).collect();
                (v(inputs), v(targets))
            })
            .collect();
        assert_eq!(
            bundled,
            [
                (vec![0.0, 1.0], vec![2.0, 3.0]),
                (vec![1.0, 2.0], vec![3.0, 4.0]),
                (vec![2.0, 10.0], vec![20.0]),
                (vec![10.0, 11.0], vec![21.0]),
            ]
        );
    }
}
