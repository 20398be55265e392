//! The learned mesh mover (`mesh_mover: {kind: learned, model: PATH}`): a
//! [`MoverModel`] trained by `pde-engine train mover` predicts the
//! Monge–Ampère potential's Laplacian from the monitor's features on the
//! computational mesh, and [`MoverGraph`] turns it into the mesh. One
//! inference and two Poisson solves (one for the features' linear guess,
//! one for the mesh) per move, against the relaxation's tens of
//! iterations. The time loop's guard checks its meshes like any mover's,
//! and its `fallback` takes over where a mesh is refused. On the CPU the
//! network runs as fused sweeps over the edges ([`Network`]), not as
//! libtorch operations.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use pde_learned::inference::{Network, ReceiverGraph};
use pde_learned::mover::{MoverConfig, MoverGraphTensors, MoverModel};
use pde_learned::tch::Device;
use pde_mesh::Mesh;

use crate::case::DeviceKind;
use crate::movers::mover_graph::{MoverGraph, EDGE_FEATURES, NODE_FEATURES};
use crate::movers::registry::{needs_triangles, settings, MoverEntry};
use crate::movers::MeshMover;

/// A trained mover on one computational mesh.
pub struct LearnedMover {
    network: Inference,
    graph: MoverGraph,
    /// Monge–Ampère iterations after the prediction (0: none).
    pub polish: usize,
}

impl LearnedMover {
    /// The mover of `mesh` (linear triangles) with a trained `model`; an
    /// error if the model reads other features than this engine computes.
    /// On the CPU the weights are copied now (train `model` further and
    /// this mover still predicts with the old ones).
    pub fn new(model: Arc<Mutex<MoverModel>>, mesh: &Mesh, device: Device) -> Result<LearnedMover> {
        let graph = MoverGraph::new(mesh)?;
        let network = {
            let locked = model.lock().unwrap_or_else(|e| e.into_inner());
            check_widths(&locked.config)?;
            // Latent widths fused inference is not compiled for run
            // through libtorch.
            match (device, locked.inference()) {
                (Device::Cpu, Ok(network)) => Inference::Fused {
                    network: Box::new(network),
                    graph: ReceiverGraph::new(mesh.num_points(), &graph.senders, &graph.receivers)?,
                },
                _ => Inference::Torch {
                    model: model.clone(),
                    device,
                },
            }
        };
        Ok(LearnedMover {
            network,
            graph,
            polish: 0,
        })
    }

    /// The predicted Laplacian of the potential for `monitor`.
    pub fn laplacian(&mut self, monitor: &dyn Fn([f64; 3]) -> f64) -> Result<Vec<f64>> {
        let features = self.graph.features(monitor)?;
        match &self.network {
            Inference::Fused { network, graph } => Ok(network
                .forward(graph, &features.nodes, &features.edges)?
                .into_iter()
                .map(f64::from)
                .collect()),
            Inference::Torch { model, device } => {
                let model = model.lock().unwrap_or_else(|e| e.into_inner());
                let tensors = MoverGraphTensors::new(
                    &model.config,
                    &features.nodes,
                    &features.edges,
                    &self.graph.senders,
                    &self.graph.receivers,
                    *device,
                )?;
                Ok(model.predict(&tensors))
            }
        }
    }
}

/// Where and how a [`LearnedMover`]'s network runs.
enum Inference {
    /// On the CPU, fused (a copy of the weights).
    Fused {
        network: Box<Network>,
        graph: ReceiverGraph,
    },
    /// Through libtorch: on CUDA, and latent widths fused inference does
    /// not run.
    Torch {
        model: Arc<Mutex<MoverModel>>,
        device: Device,
    },
}

impl MeshMover for LearnedMover {
    /// One prediction, decoded, then `polish` Monge–Ampère iterations
    /// from it if asked; `current` is not needed (the mover maps the
    /// computational mesh in one shot).
    fn new_points(
        &mut self,
        _current: &[[f64; 3]],
        monitor: &dyn Fn([f64; 3]) -> f64,
    ) -> Result<Vec<[f64; 3]>> {
        let s = self.laplacian(monitor)?;
        if let Some(bad) = s.iter().position(|v| !v.is_finite()) {
            bail!("the learned mover predicted {} at node {bad}", s[bad]);
        }
        match self.polish {
            0 => self.graph.mesh_of(&s),
            n => self.graph.polished(&s, monitor, n),
        }
    }
}

/// An error unless the model reads the features [`MoverGraph`] computes.
pub(crate) fn check_widths(config: &MoverConfig) -> Result<()> {
    if (config.node_features, config.edge_features) != (NODE_FEATURES as i64, EDGE_FEATURES as i64)
    {
        bail!(
            "the model reads {} node and {} edge features; this engine's mover graph has \
             {NODE_FEATURES} and {EDGE_FEATURES} (a model from another version: retrain it)",
            config.node_features,
            config.edge_features
        );
    }
    Ok(())
}

/// The options of `kind: learned`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LearnedOptions {
    /// The model folder (relative to the case file).
    model: String,
    #[serde(default)]
    device: DeviceKind,
    /// Monge–Ampère iterations from the prediction. Default 0.
    #[serde(default)]
    polish: usize,
}

/// The registry entry `learned`.
pub fn entry() -> MoverEntry {
    MoverEntry {
        name: "learned",
        about: "a learned mover (model: the folder from `pde-engine train mover`): one network \
                inference and a Poisson solve per move; options model, device, polish (Monge–Ampère \
                iterations from the prediction)",
        paths: &["model"],
        check: |options, mesh| {
            let mut problems: Vec<String> = needs_triangles(mesh).into_iter().collect();
            match settings::<LearnedOptions>(options) {
                Ok(o) => {
                    let read = MoverConfig::read(Path::new(&o.model))
                        .map_err(anyhow::Error::from)
                        .and_then(|c| check_widths(&c));
                    if let Err(e) = read {
                        problems.push(format!("model: {e:#}"));
                    }
                }
                Err(e) => problems.push(e),
            }
            problems
        },
        build: |options, mesh| {
            let o: LearnedOptions = settings(options).map_err(anyhow::Error::msg)?;
            let device = o.device.device()?;
            super::train_preconditioner::single_threaded();
            let model = MoverModel::load(Path::new(&o.model), device)?;
            let mut mover = LearnedMover::new(Arc::new(Mutex::new(model)), mesh, device)?;
            mover.polish = o.polish;
            Ok(Box::new(mover))
        },
    }
}
