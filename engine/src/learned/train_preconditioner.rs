//! `pde-engine train preconditioner CONFIG`: trains a learned `L Lᵀ`
//! factor ([`FactorModel`]) on a family of systems from `pde-engine
//! generate systems`, with a progress bar, checkpoints and exact resume,
//! `loss.csv` and `loss.png`, then measures it on the held-out systems next
//! to the classical preconditioners ([`compare`]): `evaluation.json` and
//! `iterations.png`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Result};
use pde_learned::factor::{
    FactorBase, FactorConfig, FactorKind, FactorLoss, FactorModel, SystemTensors,
};
use pde_learned::tch::{Device, Tensor};
use pde_learned::train::{optimize, Schedule};
use serde::Deserialize;

use super::compare::{compare, plot_iterations};
use super::preconditioner::ScaledSystem;
use super::{first_step, plot_loss, read_train_config, show_step, write_evaluation, LossScale};
use crate::case::DeviceKind;
use crate::dataset::Split;
use crate::driver::progress_bar;
use crate::linalg::direct::Cholesky;
use crate::linalg::LinearSolver;
use crate::random::Draws;
use crate::systems::{SystemSample, SystemsIndex};

/// Which loss training minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// `‖(L̂L̂ᵀ − Â)Z‖² / ‖ÂZ‖²` with smooth probes `Z`: the system's
    /// solution and solutions for random right-hand sides (Li et al. 2023,
    /// over several vectors).
    #[default]
    Solution,
    /// `‖(L̂L̂ᵀ − Â)z‖² / ‖Âz‖²` over Gaussian probes (NeuralIF).
    Frobenius,
}

/// The optimisation of a `train preconditioner` run.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Optimization {
    /// Optimiser steps (one system each). Default 500.
    #[serde(default = "steps_default")]
    pub steps: usize,
    /// Initial learning rate. Default 1e-3.
    #[serde(default = "learning_rate_default")]
    pub learning_rate: f64,
    /// Learning rate at the last step (exponential decay). Default 1e-4.
    #[serde(default = "final_learning_rate_default")]
    pub final_learning_rate: f64,
    /// Largest gradient norm. Default 1.
    #[serde(default = "clip_norm_default")]
    pub clip_norm: f64,
    /// Save a checkpoint every this many steps (0: only at the end).
    #[serde(default)]
    pub checkpoint_every: usize,
    /// Seed of the initial weights, the system order and the probes.
    #[serde(default)]
    pub seed: u64,
}

fn steps_default() -> usize {
    500
}
fn learning_rate_default() -> f64 {
    1e-3
}
fn final_learning_rate_default() -> f64 {
    1e-4
}
fn clip_norm_default() -> f64 {
    1.0
}

impl Optimization {
    /// The schedule of these settings, the first `warmup` steps without
    /// updates.
    pub(crate) fn schedule(&self, warmup: usize) -> Schedule {
        Schedule {
            steps: self.steps,
            warmup,
            learning_rate: self.learning_rate,
            final_learning_rate: self.final_learning_rate,
            clip_norm: self.clip_norm,
            checkpoint_every: self.checkpoint_every,
            seed: self.seed,
        }
    }
}

impl Default for Optimization {
    fn default() -> Self {
        Optimization {
            steps: steps_default(),
            learning_rate: learning_rate_default(),
            final_learning_rate: final_learning_rate_default(),
            clip_norm: clip_norm_default(),
            checkpoint_every: 0,
            seed: 0,
        }
    }
}

/// A `train preconditioner` config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainPreconditionerConfig {
    /// The systems folder (from `pde-engine generate systems`), relative
    /// to the config file.
    pub data: PathBuf,
    /// The model: `kind` (`ic0_correction` or `factor`), `base` (`ic0` or
    /// `mic0`) and `gnn`.
    pub model: FactorConfig,
    /// The loss. Default `solution`.
    #[serde(default)]
    pub loss: LossKind,
    /// Probes per system: Gaussian ones drawn every step (`frobenius`), or
    /// the solution and `probes − 1` solutions for random right-hand sides
    /// (`solution`). Default 8.
    #[serde(default = "probes_default")]
    pub probes: usize,
    /// Optimisation settings.
    #[serde(default)]
    pub training: Optimization,
    /// `cpu` (default) or `cuda`.
    #[serde(default)]
    pub device: DeviceKind,
    /// Model folder (checkpoints and the final model), relative to the
    /// config file.
    pub output: PathBuf,
    /// Continue from the checkpoint in `output` if there is one. Default false.
    #[serde(default)]
    pub resume: bool,
}

fn probes_default() -> usize {
    8
}

/// Runs libtorch's CPU operations on one thread: on these graphs (10³–10⁵
/// nodes, narrow layers) its thread pool costs more than it gains, up to
/// 30× on a busy 2-core machine (measured: 0.9 s against 0.03 s for one
/// inference on 3600 unknowns).
pub(crate) fn single_threaded() {
    pde_learned::tch::set_num_threads(1);
}

/// A training system: its tensors and its smooth probes.
struct TrainingSystem {
    tensors: SystemTensors,
    probes: Tensor,
}

/// `sample` as a model on `base` trains on it, with `probes` smooth
/// probes: the scaled solution `x̂ = D^{1/2} x`, then `Â⁻¹ w` for Gaussian
/// `w` drawn from `seed` (sparse Cholesky).
fn training_system(
    sample: &SystemSample,
    base: FactorBase,
    probes: usize,
    seed: u64,
    device: Device,
) -> Result<TrainingSystem> {
    let scaled = ScaledSystem::new(&sample.a, base)?;
    let n = sample.x.len();
    let mut columns: Vec<Vec<f64>> = vec![sample
        .x
        .iter()
        .zip(&scaled.root_diagonal)
        .map(|(x, r)| x * r)
        .collect()];
    let mut cholesky = Cholesky::new();
    let mut draws = Draws::new(seed);
    for _ in 1..probes {
        let w: Vec<f64> = (0..n).map(|_| draws.normal()).collect();
        let mut z = vec![0.0; n];
        cholesky.solve(&scaled.matrix, &w, &mut z)?;
        columns.push(z);
    }
    // Row-major [n, probes].
    let values: Vec<f64> = (0..n)
        .flat_map(|i| columns.iter().map(move |c| c[i]))
        .collect();
    Ok(TrainingSystem {
        tensors: SystemTensors::new(&scaled.lower, device)?,
        probes: Tensor::from_slice(&values)
            .view([n as i64, columns.len() as i64])
            .to_device(device),
    })
}

/// Trains the preconditioner the config file at `path` describes; returns
/// the summary (also written to `OUTPUT/evaluation.json`).
pub fn train_preconditioner(path: &Path, progress: bool) -> Result<serde_json::Value> {
    let config: TrainPreconditionerConfig = read_train_config(path)?;
    let o = &config.training;
    if o.steps == 0 || o.learning_rate.is_nan() || o.learning_rate <= 0.0 || config.probes == 0 {
        bail!(
            "{}: training.steps, training.learning_rate and probes must be positive",
            path.display()
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let (data, out) = (base.join(&config.data), base.join(&config.output));
    let device = config.device.device()?;
    single_threaded();
    let index = SystemsIndex::read(&data)?;
    let factor_base = config.model.base;
    let bar = progress_bar(progress);
    bar.set_message("reading the training systems");
    let systems = index
        .split(Split::Train)
        .enumerate()
        .map(|(k, e)| {
            let sample = index.load(&data, e)?;
            training_system(
                &sample,
                factor_base,
                config.probes,
                o.seed + k as u64,
                device,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    if systems.is_empty() {
        bail!("{}: the family has no training systems", data.display());
    }
    let start = first_step(config.resume, &out, o.seed)?;
    let mut model = if start > 0 {
        FactorModel::load(&out, device)?
    } else {
        FactorModel::new(config.model.clone(), device)
    };
    let schedule = o.schedule(0);
    let started = Instant::now();
    let on_step = show_step(&bar, start, o.steps);
    let probes = config.probes as i64;
    let losses = optimize(
        &mut model,
        &schedule,
        start,
        Some(&out),
        on_step,
        |m, _, draw| {
            let s = &systems[(draw % systems.len() as u64) as usize];
            let loss = match config.loss {
                LossKind::Solution => FactorLoss::Probes(&s.probes),
                LossKind::Frobenius => FactorLoss::Frobenius(probes),
            };
            Ok(m.loss(&s.tensors, &loss))
        },
    )?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    plot_loss(
        &out,
        "learned preconditioner (ln loss)",
        LossScale::Linear,
        None,
    )?;
    let test: Vec<SystemSample> = index
        .split(Split::Test)
        .map(|e| index.load(&data, e))
        .collect::<Result<_>>()?;
    let held_out = test
        .iter()
        .enumerate()
        .map(|(k, sample)| {
            let seed = o.seed + (1 << 32) + k as u64;
            training_system(sample, factor_base, config.probes, seed, device)
        })
        .collect::<Result<Vec<_>>>()?;
    let held_out_loss = mean_loss(&model, &held_out, &config);
    // The control: the same model with α = 0, which is its base.
    let control_loss = (config.model.kind == FactorKind::Ic0Correction).then(|| {
        let alpha = model.alpha();
        model.set_alpha(0.0);
        let loss = mean_loss(&model, &held_out, &config);
        model.set_alpha(alpha);
        loss
    });
    let alpha = model.alpha();
    let model = Arc::new(Mutex::new(model));
    let comparison = compare(&test, &model, device, progress)?;
    let summary = serde_json::json!({
        "model": out.display().to_string(),
        "kind": config.model.kind,
        "base": config.model.base,
        "loss": format!("{:?}", config.loss).to_lowercase(),
        "train_systems": systems.len(),
        "test_systems": test.len(),
        "steps": o.steps,
        "first_step": start,
        "final_loss": losses.last(),
        "alpha": alpha,
        "held_out_loss": held_out_loss,
        "held_out_loss_alpha_zero": control_loss,
        "train_seconds": seconds,
        "test": comparison,
    });
    write_evaluation(&out, &summary)?;
    let title = "held-out systems: CG iterations";
    plot_iterations(&summary["test"], title, &out.join("iterations.png"))?;
    Ok(summary)
}

/// The mean loss of `model` over `systems` (seeded: the same probes for
/// every model).
fn mean_loss(
    model: &FactorModel,
    systems: &[TrainingSystem],
    config: &TrainPreconditionerConfig,
) -> f64 {
    pde_learned::tch::manual_seed(config.training.seed as i64);
    let total: f64 = systems
        .iter()
        .map(|s| {
            let loss = match config.loss {
                LossKind::Solution => FactorLoss::Probes(&s.probes),
                LossKind::Frobenius => FactorLoss::Frobenius(config.probes as i64),
            };
            pde_learned::tch::no_grad(|| model.loss(&s.tensors, &loss)).double_value(&[])
        })
        .sum();
    total / systems.len().max(1) as f64
}
