//! Training a [`LearnedStepper`] on trajectories: random single steps,
//! noise on the inputs, masked loss, Adam with an exponentially decaying
//! learning rate and gradient-norm clipping; the normalisers learn their
//! statistics during a warm-up without optimiser steps, then freeze.
//! Checkpoints are the saved model plus `training.json` (the step reached),
//! from which training resumes (Adam's moments restart from zero).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig};
use tch::{Kind, Tensor};

use crate::error::LearnedError;
use crate::stepper::LearnedStepper;
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
    /// Standard deviation of the noise added to input states. Default 0.02.
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
    /// The learning rate at `step`.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        let span = self.steps.saturating_sub(self.warmup).max(1) as f64;
        let x = step.saturating_sub(self.warmup) as f64 / span;
        self.learning_rate * (self.final_learning_rate / self.learning_rate).powf(x.min(1.0))
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
}

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

/// The file with the step a checkpoint reached.
const TRAINING_FILE: &str = "training.json";

/// A small deterministic generator (SplitMix64) for the sample order.
struct SampleOrder(u64);

impl SampleOrder {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % below as u64) as usize
    }
}

/// Trains `model` on `data` from step `start` (0, or the step of a
/// checkpoint) to `config.steps`, calling `on_step` after every step and
/// saving checkpoints into `checkpoint` (if given). Returns the loss of
/// every step.
pub fn train(
    model: &mut LearnedStepper,
    data: &[Trajectory],
    config: &TrainConfig,
    start: usize,
    checkpoint: Option<&Path>,
    mut on_step: impl FnMut(&Progress),
) -> Result<Vec<f64>, LearnedError> {
    let samples: Vec<(usize, usize)> = data
        .iter()
        .enumerate()
        .flat_map(|(k, t)| (0..t.states.len().saturating_sub(1)).map(move |i| (k, i)))
        .collect();
    if samples.is_empty() {
        return Err(LearnedError::Shape(
            "no training samples: every trajectory needs at least two states".into(),
        ));
    }
    tch::manual_seed(config.seed as i64 + start as i64);
    let mut order = SampleOrder(config.seed ^ (start as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut optimizer = nn::Adam::default().build(&model.vs, config.learning_rate)?;
    let mut losses = Vec::with_capacity(config.steps.saturating_sub(start));
    for step in start..config.steps {
        let (k, i) = samples[order.next(samples.len())];
        let t = &data[k];
        let warming = step < config.warmup;
        let loss = model.loss(
            &t.graph,
            &t.states[i],
            &t.states[i + 1],
            &t.mask,
            config.noise,
            warming,
        )?;
        let learning_rate = if warming {
            0.0
        } else {
            let lr = config.learning_rate_at(step);
            optimizer.set_lr(lr);
            optimizer.backward_step_clip_norm(&loss, config.clip_norm);
            lr
        };
        if step + 1 == config.warmup {
            model.freeze_normalizers();
        }
        let value = loss.double_value(&[]);
        losses.push(value);
        on_step(&Progress {
            step,
            loss: value,
            learning_rate,
        });
        let last = step + 1 == config.steps;
        let due = config.checkpoint_every > 0 && (step + 1) % config.checkpoint_every == 0;
        if let (Some(dir), true) = (checkpoint, last || due) {
            save_checkpoint(model, dir, step + 1)?;
        }
    }
    Ok(losses)
}

/// Saves the model and the step reached into `dir`.
pub fn save_checkpoint(
    model: &LearnedStepper,
    dir: &Path,
    step: usize,
) -> Result<(), LearnedError> {
    model.save(dir)?;
    let path = dir.join(TRAINING_FILE);
    std::fs::write(&path, serde_json::json!({ "step": step }).to_string())
        .map_err(|source| LearnedError::Io { path, source })
}

/// The step a checkpoint in `dir` reached (0 if it has none).
pub fn checkpoint_step(dir: &Path) -> Result<usize, LearnedError> {
    let path = dir.join(TRAINING_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(0);
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| LearnedError::Config {
        path: path.clone(),
        message: e.to_string(),
    })?;
    v["step"]
        .as_u64()
        .map(|s| s as usize)
        .ok_or_else(|| LearnedError::Config {
            path,
            message: "expected {\"step\": N}".into(),
        })
}

/// Root-mean-square error of one-step predictions over every step of every
/// trajectory (unmasked values only), and the same for persistence (the next
/// state taken equal to the current one), the baseline to beat.
pub fn one_step_rmse(
    model: &LearnedStepper,
    data: &[Trajectory],
) -> Result<(f64, f64), LearnedError> {
    let (mut learned, mut persistence, mut count) = (0.0, 0.0, 0.0);
    for t in data {
        let weight = t.mask.to_kind(Kind::Float);
        for pair in t.states.windows(2) {
            let predicted = model.predict(&t.graph, &pair[0])?;
            let sq = |a: &Tensor| {
                ((a - &pair[1]).square() * &weight)
                    .sum(Kind::Float)
                    .double_value(&[])
            };
            learned += sq(&predicted);
            persistence += sq(&pair[0]);
            count += weight.sum(Kind::Float).double_value(&[]);
        }
    }
    let count = f64::max(count, 1.0);
    Ok(((learned / count).sqrt(), (persistence / count).sqrt()))
}

/// Root-mean-square errors of a rollout: from the first state of `data`,
/// the model's predictions fed back in, with the masked-out values (which
/// boundary conditions set) taken from the data at every step.
/// Returns the RMSE over the unmasked values after each step.
pub fn rollout_rmse(model: &LearnedStepper, data: &Trajectory) -> Result<Vec<f64>, LearnedError> {
    let free = data.mask.to_kind(Kind::Float);
    let fixed = free.ones_like() - &free;
    let count = free.sum(Kind::Float).double_value(&[]).max(1.0);
    let mut state = data.states[0].shallow_clone();
    let mut errors = Vec::with_capacity(data.states.len().saturating_sub(1));
    for truth in &data.states[1..] {
        let predicted = model.predict(&data.graph, &state)?;
        state = &predicted * &free + truth * &fixed;
        let sq = ((&state - truth).square() * &free)
            .sum(Kind::Float)
            .double_value(&[]);
        errors.push((sq / count).sqrt());
    }
    Ok(errors)
}
