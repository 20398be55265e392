//! `pde-engine train mover CONFIG`: trains a [`MoverModel`] on a family
//! from `pde-engine generate meshes` (the Monge–Ampère potential's
//! Laplacian per node; the loss is its mean squared error, normalised),
//! with a progress bar, checkpoints and exact resume, `loss.csv` and
//! `loss.png`, then measures it ([`evaluate`]): on the held-out samples
//! against the Monge–Ampère meshes, and on the steep layer against the
//! Monge–Ampère mover and the uniform mesh: `evaluation.json`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Result};
use pde_learned::gnn::GnnConfig;
use pde_learned::mover::{MoverConfig, MoverGraphTensors, MoverModel};
use pde_learned::tch::{Device, Tensor};
use pde_learned::train::optimize;
use pde_mesh::{generate, CellKind, Mesh};
use serde::{Deserialize, Serialize};

use super::mover::LearnedMover;
use super::train_preconditioner::single_threaded;
use super::{
    first_step, plot_loss, read_train_config, show_step, write_evaluation, LossScale, Optimization,
};
use crate::case::DeviceKind;
use crate::dataset::Split;
use crate::driver::progress_bar;
use crate::movers::monge_ampere::{equidistribution_variation, MongeAmpere, MongeAmpereSettings};
use crate::movers::monitor::{MonitorSpec, NodalMonitor};
use crate::movers::mover_graph::{MoverGraph, EDGE_FEATURES, NODE_FEATURES};
use crate::movers::samples::{MeshSample, MeshesIndex};
use crate::movers::steep_layer::SteepLayer;

/// A `train mover` config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainMoverConfig {
    /// The family folder (from `pde-engine generate meshes`), relative to
    /// the config file.
    pub data: PathBuf,
    /// The network. Defaults: latent 16, 4 message-passing steps, 1 hidden
    /// layer (the best of those measured, docs/movers.md).
    #[serde(default = "gnn_default")]
    pub model: GnnConfig,
    /// Optimisation settings (one sample per step).
    #[serde(default)]
    pub training: Optimization,
    /// `cpu` (default) or `cuda`.
    #[serde(default)]
    pub device: DeviceKind,
    /// Model folder, relative to the config file.
    pub output: PathBuf,
    /// Continue from the checkpoint in `output` if there is one.
    #[serde(default)]
    pub resume: bool,
}

fn gnn_default() -> GnnConfig {
    GnnConfig {
        latent: 16,
        steps: 4,
        hidden_layers: 1,
    }
}

/// A training sample as the model reads it.
struct TrainingSample {
    graph: MoverGraphTensors,
    target: Tensor,
}

/// The monitor of a stored sample, as a function of position.
fn sample_monitor(sample: &MeshSample) -> Result<NodalMonitor> {
    NodalMonitor::new(Arc::new(sample.mesh.clone()), &sample.monitor)
}

fn training_sample(
    sample: &MeshSample,
    config: &MoverConfig,
    device: Device,
) -> Result<TrainingSample> {
    let mut graph = MoverGraph::new(&sample.mesh)?;
    let m = sample_monitor(sample)?;
    let f = graph.features(&|x| m.eval(x))?;
    Ok(TrainingSample {
        graph: MoverGraphTensors::new(
            config,
            &f.nodes,
            &f.edges,
            &graph.senders,
            &graph.receivers,
            device,
        )?,
        target: Tensor::from_slice(&sample.laplacian).to_device(device),
    })
}

/// Trains the mover the config file at `path` describes; returns the
/// summary (also written to `OUTPUT/evaluation.json`).
pub fn train_mover(path: &Path, progress: bool) -> Result<serde_json::Value> {
    let config: TrainMoverConfig = read_train_config(path)?;
    let o = &config.training;
    if o.steps == 0
        || o.learning_rate.is_nan()
        || o.learning_rate <= 0.0
        || config.model.latent <= 0
    {
        bail!(
            "{}: training.steps, training.learning_rate and model.latent must be positive",
            path.display()
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let (data, out) = (base.join(&config.data), base.join(&config.output));
    let device = config.device.device()?;
    single_threaded();
    let index = MeshesIndex::read(&data)?;
    let model_config = MoverConfig {
        node_features: NODE_FEATURES as i64,
        edge_features: EDGE_FEATURES as i64,
        gnn: config.model.clone(),
    };
    let bar = progress_bar(progress);
    bar.set_message("reading the training meshes");
    let samples = index
        .split(Split::Train)
        .map(|e| training_sample(&index.load(&data, e)?, &model_config, device))
        .collect::<Result<Vec<_>>>()?;
    if samples.is_empty() {
        bail!("{}: the family has no training samples", data.display());
    }
    let start = first_step(config.resume, &out, o.seed)?;
    let mut model = if start > 0 {
        MoverModel::load(&out, device)?
    } else {
        MoverModel::new(model_config, device)
    };
    if start == 0 {
        // The normalisers are fitted to the whole training family before
        // the first step (a resumed run has them in its checkpoint).
        pde_learned::tch::no_grad(|| {
            samples
                .iter()
                .try_for_each(|s| model.loss(&s.graph, &s.target, true).map(drop))
        })?;
        model.freeze_normalizers();
    }
    let schedule = o.schedule(0);
    let started = Instant::now();
    let on_step = show_step(&bar, start, o.steps);
    let losses = optimize(
        &mut model,
        &schedule,
        start,
        Some(&out),
        on_step,
        |m, _, draw| {
            let s = &samples[(draw % samples.len() as u64) as usize];
            m.loss(&s.graph, &s.target, false)
        },
    )?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    plot_loss(
        &out,
        "learned mesh mover (normalised MSE of Δφ)",
        LossScale::Log10,
        None,
    )?;
    let test: Vec<MeshSample> = index
        .split(Split::Test)
        .map(|e| index.load(&data, e))
        .collect::<Result<_>>()?;
    let model = Arc::new(Mutex::new(model));
    let evaluation = evaluate(&model, &test, device, progress)?;
    let summary = serde_json::json!({
        "model": out.display().to_string(),
        "train_samples": samples.len(),
        "test_samples": test.len(),
        "steps": o.steps,
        "first_step": start,
        "final_loss": losses.last(),
        "train_seconds": seconds,
        "evaluation": evaluation,
    });
    write_evaluation(&out, &summary)?;
    Ok(summary)
}

/// How a mover did on the held-out samples and the steep layer.
#[derive(Clone, Debug, Serialize)]
pub struct MoverEvaluation {
    /// Held-out samples measured.
    pub samples: usize,
    /// Mean distance of the learned mesh's nodes from the Monge–Ampère
    /// mesh's, in mean cell sizes (RMS per sample, then the median).
    pub learned_distance: f64,
    /// The same for the linearised equation's mesh (the first guess the
    /// network reads), a control.
    pub linear_distance: f64,
    /// The same for the unmoved mesh.
    pub uniform_distance: f64,
    /// Median coefficient of variation of `m |K|` (0: equidistributed):
    /// unmoved, Monge–Ampère, learned.
    pub variation: [f64; 3],
    /// Held-out samples whose learned mesh had inverted cells (before any
    /// guard).
    pub tangled: usize,
    /// Median seconds per move: learned (features, inference, decoding)
    /// and the Monge–Ampère solve from the unmoved mesh (when generated).
    pub seconds: [f64; 2],
    /// The steep layer.
    pub steep_layer: SteepLayerResult,
}

/// The steep layer `tanh((r − 0.3)/0.01)` on a 40×40 triangle mesh of the
/// unit square, three solve–move rounds, every mesh through the guard.
#[derive(Clone, Debug, Serialize)]
pub struct SteepLayerResult {
    /// Nodes.
    pub nodes: usize,
    /// L2 error on the uniform mesh.
    pub uniform_error: f64,
    /// After Monge–Ampère's moves.
    pub monge_ampere_error: f64,
    /// After the learned mover's.
    pub learned_error: f64,
    /// `1 − moved/uniform` error of each (UM2N's error reduction).
    pub reduction: [f64; 2],
    /// The learned reduction over Monge–Ampère's.
    pub reduction_ratio: f64,
    /// Inverted cells of the final meshes, both movers (after the guard).
    pub inverted_cells: usize,
    /// Learned moves with inverted cells before the guard, of three.
    pub learned_tangled: usize,
    /// Seconds per move (monitor and mover): Monge–Ampère, learned.
    pub seconds: [f64; 2],
    /// Seconds per move of the mover alone: Monge–Ampère, learned.
    pub mover_seconds: [f64; 2],
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// RMS distance between two meshes' nodes over the mean cell size.
fn distance(a: &[[f64; 3]], b: &[[f64; 3]], h: f64) -> f64 {
    let sum: f64 = a
        .iter()
        .zip(b)
        .map(|(p, q)| (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2))
        .sum();
    (sum / a.len().max(1) as f64).sqrt() / h
}

fn mean_cell_size(mesh: &Mesh) -> f64 {
    let q = pde_mesh::quality::summary(mesh);
    (2.0 * q.total_measure / q.cells.max(1) as f64).sqrt()
}

/// Measures `model` on held-out `samples` and on the steep layer.
pub fn evaluate(
    model: &Arc<Mutex<MoverModel>>,
    samples: &[MeshSample],
    device: Device,
    progress: bool,
) -> Result<MoverEvaluation> {
    let bar = progress_bar(progress);
    let mut learned_d = Vec::new();
    let mut linear_d = Vec::new();
    let mut uniform_d = Vec::new();
    let mut variation = [Vec::new(), Vec::new(), Vec::new()];
    let mut seconds = [Vec::new(), Vec::new()];
    let mut tangled = 0;
    for (k, sample) in samples.iter().enumerate() {
        bar.set_position((1000 * k / samples.len().max(1)) as u64);
        bar.set_message(format!("held-out mesh {}/{}", k + 1, samples.len()));
        let mesh = &sample.mesh;
        let m = sample_monitor(sample)?;
        let monitor = |x| m.eval(x);
        let started = Instant::now();
        let mut mover = LearnedMover::new(model.clone(), mesh, device)?;
        let learned = crate::movers::MeshMover::new_points(&mut mover, &mesh.points, &monitor)?;
        seconds[0].push(started.elapsed().as_secs_f64());
        seconds[1].push(sample.entry.seconds);
        let mut graph = MoverGraph::new(mesh)?;
        let target = graph.mesh_of(&sample.laplacian)?;
        let s0 = graph.features(&monitor)?.linear_guess();
        let linear = graph.mesh_of(&s0)?;
        let h = mean_cell_size(mesh);
        learned_d.push(distance(&learned, &target, h));
        linear_d.push(distance(&linear, &target, h));
        uniform_d.push(distance(&mesh.points, &target, h));
        for (v, points) in variation.iter_mut().zip([&mesh.points, &target, &learned]) {
            v.push(equidistribution_variation(mesh, points, &monitor)?);
        }
        let mut moved = mesh.clone();
        moved.points = learned;
        if pde_mesh::quality::summary(&moved).inverted > 0 {
            tangled += 1;
        }
    }
    bar.finish_and_clear();
    let steep_layer = steep_layer(model, device)?;
    Ok(MoverEvaluation {
        samples: samples.len(),
        learned_distance: median(learned_d),
        linear_distance: median(linear_d),
        uniform_distance: median(uniform_d),
        variation: variation.map(median),
        tangled,
        seconds: seconds.map(median),
        steep_layer,
    })
}

/// The steep layer with Monge–Ampère and with the learned mover.
pub fn steep_layer(model: &Arc<Mutex<MoverModel>>, device: Device) -> Result<SteepLayerResult> {
    steep_layer_on(model, device, 40)
}

/// [`steep_layer`] on a `cells`×`cells` mesh.
pub fn steep_layer_on(
    model: &Arc<Mutex<MoverModel>>,
    device: Device,
    cells: usize,
) -> Result<SteepLayerResult> {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [cells, cells], CellKind::Tri3)?;
    let layer = SteepLayer::default();
    let monitor = MonitorSpec::of("u");
    let settings = MongeAmpereSettings {
        rtol: 1e-4,
        ..MongeAmpereSettings::default()
    };
    let ma = layer.adapt(&mesh, &mut MongeAmpere::new(&mesh, settings)?, &monitor, 3)?;
    let mut mover = LearnedMover::new(model.clone(), &mesh, device)?;
    let learned = layer.adapt(&mesh, &mut mover, &monitor, 3)?;
    let uniform = ma.errors[0];
    let (ma_error, learned_error) = (
        *ma.errors.last().unwrap_or(&uniform),
        *learned.errors.last().unwrap_or(&uniform),
    );
    let reduction = [1.0 - ma_error / uniform, 1.0 - learned_error / uniform];
    Ok(SteepLayerResult {
        nodes: mesh.num_points(),
        uniform_error: uniform,
        monge_ampere_error: ma_error,
        learned_error,
        reduction,
        reduction_ratio: reduction[1] / reduction[0],
        inverted_cells: ma.inverted + learned.inverted,
        learned_tangled: learned.tangled,
        seconds: [ma.seconds_per_move, learned.seconds_per_move],
        mover_seconds: [ma.mover_seconds_per_move, learned.mover_seconds_per_move],
    })
}
