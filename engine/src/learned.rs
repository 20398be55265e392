//! Learned steppers in the engine (feature `torch`): `pde-engine train
//! stepper CONFIG` trains a [`LearnedStepper`] on a dataset written by
//! `pde-engine generate flows`, with a progress bar, checkpoints, `loss.csv` and
//! `loss.png`, and measures it on the held-out trajectories against
//! persistence (one step, and rollouts); [`gnn_predictor`] (or [`torchscript_predictor`]) puts a trained
//! model (or a TorchScript one) in a flow case's time loop. Also learned CG
//! preconditioners ([`preconditioner`], `train preconditioner`) and the
//! learned mesh mover ([`mover`], `train mover`).

mod compare;
mod flow_step;
pub mod mover;
pub mod preconditioner;
mod train_mover;
mod train_preconditioner;

pub use compare::{compare, measure, plot_iterations, Measurement, COMPARE_RTOL};
pub use flow_step::{gnn_predictor, torchscript_predictor, GraphFlowStep};
pub use train_mover::{
    evaluate as evaluate_mover, steep_layer_on, train_mover, MoverEvaluation, SteepLayerResult,
    TrainMoverConfig,
};
pub use train_preconditioner::{
    train_preconditioner, LossKind, Optimization, TrainPreconditionerConfig,
};

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pde_learned::gnn::GnnConfig;
use pde_learned::graph::MeshGraph;
use pde_learned::stepper::{LearnedStepper, StepperConfig, WindowInputs};
use pde_learned::tch::{Device, Tensor};
use pde_learned::tensors::{matrix, GraphTensors};
use pde_learned::train::{
    checkpoint_step, read_loss_log, rollouts, train, Branch, OneStepErrors, Rollouts, TrainConfig,
    Trajectory,
};
use pde_mesh::io::vtk;
use serde::Deserialize;

use crate::case::DeviceKind;
use crate::dataset::{DatasetIndex, Split};
use crate::driver::progress_bar;
use crate::plot::{self, Panel};

impl DeviceKind {
    /// The libtorch device, or an error if CUDA was asked for and is not there.
    pub fn device(self) -> Result<Device> {
        match self {
            DeviceKind::Cpu => Ok(Device::Cpu),
            DeviceKind::Cuda if pde_learned::tch::Cuda::is_available() => Ok(Device::Cuda(0)),
            DeviceKind::Cuda => bail!(
                "device: cuda, but libtorch sees no CUDA device (driver, or a CPU-only \
                 libtorch); use device: cpu"
            ),
        }
    }
}

/// How a loss history is plotted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LossScale {
    /// Its decimal logarithm (a positive loss over decades).
    Log10,
    /// As it is (a loss that is a logarithm already).
    Linear,
}

/// Plots the whole loss history of the model folder `out` (earlier runs
/// of a resumed training included) into `out/loss.png`, the steps after
/// `warmup` marked.
fn plot_loss(out: &Path, title: &str, scale: LossScale, warmup: Option<usize>) -> Result<()> {
    let history = read_loss_log(out)?;
    if history.len() < 2 {
        return Ok(());
    }
    let (label, value): (&str, fn(f64) -> f64) = match scale {
        LossScale::Log10 => ("log10 training loss", |l| l.max(1e-30).log10()),
        LossScale::Linear => ("training loss", |l| l),
    };
    let panel = Panel {
        label: label.into(),
        points: history
            .iter()
            .map(|p| (p.step as f64, value(p.loss)))
            .collect(),
        from: warmup.map(|w| w as f64),
        reference: None,
    };
    plot::panels(&out.join("loss.png"), title, "step", &[panel])
}

/// Reads and parses the `train` config file at `path`.
fn read_train_config<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config", path.display()))?;
    serde_saphyr::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("{}: invalid training config", path.display()))
}

/// What the progress bar shows after each training step of a run of
/// `steps` steps that began at step `start`: the step, its loss and the
/// rate.
fn show_step(
    bar: &indicatif::ProgressBar,
    start: usize,
    steps: usize,
) -> impl Fn(&pde_learned::train::Progress) + '_ {
    let started = Instant::now();
    move |p| {
        let rate = (p.step + 1 - start) as f64 / started.elapsed().as_secs_f64().max(1e-9);
        bar.set_position((1000 * (p.step + 1) / steps.max(1)) as u64);
        bar.set_message(format!(
            "step {}/{steps}  loss {:.3e}  {rate:.1} steps/s",
            p.step + 1,
            p.loss
        ));
    }
}

/// The step a training run starts from: the checkpoint's in `out` if
/// `resume` (0 without one), else 0; libtorch's generator seeded with
/// `seed`, so that new weights are reproducible.
fn first_step(resume: bool, out: &Path, seed: u64) -> Result<usize> {
    let start = if resume { checkpoint_step(out)? } else { 0 };
    pde_learned::tch::manual_seed(seed as i64);
    Ok(start)
}

/// Writes a training run's summary to `OUTPUT/evaluation.json`.
fn write_evaluation(out: &Path, summary: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(summary)?;
    vtk::write_atomically(&out.join("evaluation.json"), |w| {
        w.write_all(text.as_bytes())
    })?;
    Ok(())
}

/// A `train stepper` config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainStepperConfig {
    /// The dataset folder (from `pde-engine generate flows`), relative to the
    /// config file.
    pub data: PathBuf,
    /// The network. Defaults: latent 128, 15 message-passing steps.
    #[serde(default)]
    pub model: GnnConfig,
    /// Successive states the model reads (1 to 4, default 1): with more
    /// than one it predicts the correction to their extrapolation.
    #[serde(default = "one")]
    pub window: usize,
    /// How the network sees a window of two or more states:
    /// `backward_differences` (the default: the current state and its
    /// backward differences, correcting the polynomial extrapolation) or
    /// `bdf2` (window 2: the current state alone, correcting BDF2's mass
    /// terms `(4 x_n − x_{n−1}) / 3`; see [`WindowInputs::Bdf2`]).
    #[serde(default)]
    pub window_inputs: Option<WindowInputs>,
    /// Successive steps one forward pass predicts (temporal bundling, 1 to
    /// 16, default 1): the network's cost per step shrinks by as much,
    /// and every step is still checked when a run takes it.
    #[serde(default = "one")]
    pub bundle: usize,
    /// Whether the model also reads the step residual: the residual of the
    /// step's discrete equations at the extrapolation of its window, which
    /// `generate flows` records (default false).
    #[serde(default)]
    pub step_residual: bool,
    /// Optimisation settings.
    #[serde(default)]
    pub training: TrainConfig,
    /// `cpu` (default) or `cuda`.
    #[serde(default)]
    pub device: DeviceKind,
    /// Model folder (checkpoints and the final model), relative to the
    /// config file.
    pub output: PathBuf,
    /// Continue from the checkpoint in `output` if there is one. Default false.
    #[serde(default)]
    pub resume: bool,
    /// A model folder to start from instead of fresh weights (fine-tuning,
    /// e.g. on data generated with that model in the loop), relative to the
    /// config file: the same network, window and bundle as this config
    /// asks for; its normalisers stay as they are. A checkpoint to resume
    /// from takes precedence.
    #[serde(default)]
    pub initial_model: Option<PathBuf>,
}

fn one() -> usize {
    1
}

/// The dataset's trajectories of one split as tensors.
fn load_split(
    index: &DatasetIndex,
    dir: &Path,
    split: Split,
    device: Device,
) -> Result<Vec<Trajectory>> {
    let groups: Vec<&str> = index.type_groups.iter().map(String::as_str).collect();
    index
        .trajectories
        .iter()
        .filter(|e| e.split == split)
        .map(|entry| {
            let data = index.load(dir, entry)?;
            let graph = MeshGraph::from_mesh(&data.mesh, &groups)
                .with_context(|| format!("{}: node types", entry.dir))?;
            let mask = index
                .free_mask(&data.mesh)
                .with_context(|| format!("{}: fixed groups", entry.dir))?;
            let fields = index.fields.len();
            let tensors = |states: &[Vec<f64>]| -> Vec<Tensor> {
                states.iter().map(|s| matrix(s, fields, device)).collect()
            };
            Ok(Trajectory {
                graph: GraphTensors::new(&graph, device),
                mask: Tensor::from_slice(&mask)
                    .view([-1, fields as i64])
                    .to_device(device),
                states: tensors(&data.states),
                residuals: tensors(&data.residuals),
                branches: data
                    .branches
                    .iter()
                    .map(|(start, b)| Branch {
                        start: *start,
                        perturbed: tensors(&b.perturbed),
                        targets: tensors(&b.targets),
                        residuals: tensors(&b.residuals),
                    })
                    .collect(),
            })
        })
        .collect()
}

/// Trains the stepper the config file at `path` describes; returns the
/// summary (also written to `OUTPUT/evaluation.json`).
pub fn train_stepper(path: &Path, progress: bool) -> Result<serde_json::Value> {
    let config: TrainStepperConfig = read_train_config(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let (data_dir, out) = (base.join(&config.data), base.join(&config.output));
    let device = config.device.device()?;
    let index = DatasetIndex::read(&data_dir)?;
    let training = load_split(&index, &data_dir, Split::Train, device)?;
    let test = load_split(&index, &data_dir, Split::Test, device)?;
    let start = first_step(config.resume, &out, config.training.seed)?;
    let mut stepper = StepperConfig {
        fields: index.fields.clone(),
        type_groups: index.type_groups.clone(),
        gnn: config.model.clone(),
        dt: Some(index.dt),
        window: 1,
        window_inputs: None,
        bundle: config.bundle,
        step_residual: config.step_residual,
    }
    .with_window(config.window);
    if let Some(inputs) = config.window_inputs {
        stepper.window_inputs = Some(inputs);
    }
    stepper
        .validate()
        .with_context(|| format!("{}: window and bundle", path.display()))?;
    let from = match (start, &config.initial_model) {
        (0, None) => None,
        (0, Some(initial)) => Some(("initial_model", base.join(initial))),
        _ => Some(("resume", out.clone())),
    };
    let mut model = match from {
        Some((key, dir)) => {
            let model = LearnedStepper::load(&dir, device)
                .with_context(|| format!("{}: {key}: {}", path.display(), dir.display()))?;
            if model.config != stepper {
                bail!(
                    "{}: {key}: the model in {} is another one ({:?}; the config asks for {:?})",
                    path.display(),
                    dir.display(),
                    model.config,
                    stepper
                );
            }
            model
        }
        None => LearnedStepper::new(stepper, device),
    };
    let settings = &config.training;
    let bar = progress_bar(progress);
    let started = Instant::now();
    let losses = train(
        &mut model,
        &training,
        settings,
        start,
        Some(&out),
        show_step(&bar, start, settings.steps),
    )?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    plot_loss(
        &out,
        "learned stepper",
        LossScale::Log10,
        Some(settings.warmup),
    )?;
    let bar = progress_bar(progress);
    let mut one_step = OneStepErrors::default();
    let mut runs: Vec<Rollouts> = Vec::with_capacity(test.len());
    for (k, t) in test.iter().enumerate() {
        bar.set_position((1000 * k / test.len()) as u64);
        bar.set_message(format!(
            "evaluating held-out trajectory {}/{}: one-step and rollout errors",
            k + 1,
            test.len()
        ));
        one_step += OneStepErrors::of(&model, t)?;
        runs.push(rollouts(&model, t)?);
    }
    bar.finish_and_clear();
    let (learned, persistence) = one_step.rmse();
    let full = runs.iter().map(|r| r.persistence.len()).min().unwrap_or(0);
    // Per kind of rollout: the RMSE after 10 and 50 steps and at the end
    // (ours), and MeshGraphNets' definition, the root of the mean squared
    // error over steps 1..k; each the mean over the held-out trajectories.
    let table = |of: fn(&Rollouts) -> &Vec<f64>| {
        let mean = |value: &dyn Fn(&[f64]) -> Option<f64>| -> Option<f64> {
            let v: Vec<f64> = runs.iter().filter_map(|r| value(of(r))).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        };
        let at = |k: usize| mean(&|e: &[f64]| e.get(k - 1).copied());
        let cumulative = |k: usize| {
            mean(&|e: &[f64]| {
                (e.len() >= k)
                    .then(|| (e[..k].iter().map(|x| x * x).sum::<f64>() / k as f64).sqrt())
            })
        };
        let k = full.max(1);
        serde_json::json!({
            "10": at(10), "50": at(50), "full": at(k), "full_length": full,
            "meshgraphnets": {"10": cumulative(10), "50": cumulative(50), "full": cumulative(k)},
        })
    };
    let summary = serde_json::json!({
        "model": out.display().to_string(),
        "train_trajectories": training.len(),
        "test_trajectories": test.len(),
        "steps": settings.steps,
        "first_step": start,
        "initial_model": config.initial_model,
        "final_loss": losses.last(),
        "train_seconds": seconds,
        "steps_per_second": losses.len() as f64 / seconds.max(1e-9),
        "test_one_step_rmse": learned,
        "test_persistence_rmse": persistence,
        "test_rollout_rmse": table(|r| &r.learned),
        "test_rollout_persistence": table(|r| &r.persistence),
        "test_rollout_linear_extrapolation": table(|r| &r.linear),
        "test_rollout_quadratic_extrapolation": table(|r| &r.quadratic),
        "test_rollout_cubic_extrapolation": table(|r| &r.cubic),
    });
    write_evaluation(&out, &summary)?;
    Ok(summary)
}
