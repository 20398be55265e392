//! A learned stepper as the step of a flow case (`stepper:` in the case
//! file): a model folder from `pde-engine train stepper` or a TorchScript
//! module, run on the mesh graph of the case, as the [`Predictor`] of a
//! [`crate::physics::learned_step::LearnedStep`] (which checks every step).
//! A `gnn` model on the CPU runs by fused inference
//! ([`pde_learned::inference`]), anything else through libtorch.

use std::path::Path;

use anyhow::{bail, Context, Result};
use pde_learned::graph::MeshGraph;
use pde_learned::stepper::{FusedStepper, LearnedStepper};
use pde_learned::tch::Device;
use pde_learned::tensors::{matrix, values, GraphTensors};
use pde_learned::torchscript::{GraphStepper, TorchScriptStepper};

use crate::case::{missing_model, StepperSpec};
use crate::physics::learned_step::Predictor;
use crate::physics::navier_stokes::NavierStokes;
use crate::physics::{Model, PhysicsError};

/// A graph stepper on a flow's mesh.
pub struct GraphFlowStep {
    network: Inference,
    fields: usize,
    /// The step it was trained for, when known.
    dt: Option<f64>,
    description: String,
}

impl Predictor for GraphFlowStep {
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn window(&self) -> usize {
        match &self.network {
            Inference::Fused(stepper) => stepper.window(),
            Inference::Torch { stepper, .. } => stepper.window(),
        }
    }

    fn reads_step_residual(&self) -> bool {
        match &self.network {
            Inference::Fused(stepper) => stepper.reads_step_residual(),
            Inference::Torch { stepper, .. } => stepper.reads_step_residual(),
        }
    }

    fn predict(
        &mut self,
        states: &[Vec<f64>],
        residual: Option<&[f64]>,
        dt: f64,
    ) -> Result<Option<Vec<Vec<f64>>>, PhysicsError> {
        if self
            .dt
            .is_some_and(|trained| (dt - trained).abs() > 1e-9 * trained)
        {
            return Ok(None);
        }
        let next = match &self.network {
            Inference::Fused(stepper) => {
                let states: Vec<&[f64]> = states.iter().map(Vec::as_slice).collect();
                stepper.predict(&states, residual)
            }
            Inference::Torch {
                stepper,
                graph,
                device,
            } => {
                let states: Vec<_> = states
                    .iter()
                    .map(|s| matrix(s, self.fields, *device))
                    .collect();
                let states: Vec<_> = states.iter().collect();
                let residual = residual.map(|r| matrix(r, self.fields, *device));
                stepper
                    .predict(graph, &states, residual.as_ref())
                    .map(|bundle| bundle.iter().map(values).collect())
            }
        };
        next.map(Some)
            .map_err(|e| PhysicsError::Surrogate(e.to_string()))
    }
}

/// Where and how a [`GraphFlowStep`]'s network runs.
enum Inference {
    /// A `gnn` model on the CPU, fused.
    Fused(Box<FusedStepper>),
    /// Through libtorch: TorchScript modules, and any model on CUDA.
    Torch {
        stepper: Box<dyn GraphStepper>,
        graph: GraphTensors,
        device: Device,
    },
}

/// The `gnn` kind: a model folder written by `pde-engine train stepper`,
/// for the flow `ns` stepping by `dt`; paths are relative to `base`.
pub fn gnn_predictor(
    spec: &StepperSpec,
    base: &Path,
    ns: &NavierStokes,
    dt: f64,
) -> Result<Box<dyn Predictor>> {
    flow_predictor(spec, base, ns, dt, Kind::Gnn)
}

/// The `torchscript` kind: a module saved by `torch.jit.save`.
pub fn torchscript_predictor(
    spec: &StepperSpec,
    base: &Path,
    ns: &NavierStokes,
    dt: f64,
) -> Result<Box<dyn Predictor>> {
    flow_predictor(spec, base, ns, dt, Kind::Torchscript)
}

/// The two kinds of graph steppers.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Gnn,
    Torchscript,
}

/// The predictor of either kind on the flow's mesh graph.
fn flow_predictor(
    spec: &StepperSpec,
    base: &Path,
    ns: &NavierStokes,
    dt: f64,
    kind: Kind,
) -> Result<Box<dyn Predictor>> {
    let device = spec.device.device()?;
    let Some(model) = &spec.model else {
        bail!("{}", missing_model(&spec.kind));
    };
    let path = base.join(model);
    let fields = ns.dim() + 1;
    let graph_of = |groups: &[String]| -> Result<MeshGraph> {
        let names: Vec<&str> = groups.iter().map(String::as_str).collect();
        MeshGraph::from_mesh(ns.mesh(), &names)
            .with_context(|| format!("stepper: the node-type groups {groups:?} of the model"))
    };
    let through_libtorch = |stepper: Box<dyn GraphStepper>, graph: &MeshGraph| Inference::Torch {
        stepper,
        graph: GraphTensors::new(graph, device),
        device,
    };
    let (network, trained_dt) = match kind {
        Kind::Gnn => {
            let model = LearnedStepper::load(&path, device)
                .with_context(|| format!("stepper.model: {}", path.display()))?;
            let config = &model.config;
            if config.fields.len() != fields {
                bail!(
                    "stepper.model: {} predicts {:?}; the flow's state is velocity and \
                     pressure per node ({fields} fields, e.g. [u, v, p])",
                    path.display(),
                    config.fields
                );
            }
            if let Some(trained) = config.dt {
                if (trained - dt).abs() > 1e-9 * trained {
                    bail!(
                        "stepper.model: {} was trained for steps of {trained}; time.dt is {dt}",
                        path.display()
                    );
                }
            }
            let graph = graph_of(&config.type_groups)?;
            let trained = config.dt;
            // Latent widths fused inference does not run go through libtorch.
            let fused = match device {
                Device::Cpu => model.fused(&graph).ok(),
                _ => None,
            };
            let network = match fused {
                Some(fused) => Inference::Fused(Box::new(fused)),
                None => through_libtorch(Box::new(model), &graph),
            };
            (network, trained)
        }
        Kind::Torchscript => {
            let module = TorchScriptStepper::load(&path, device)
                .with_context(|| format!("stepper.model: {}", path.display()))?;
            let graph = graph_of(&spec.type_groups.clone().unwrap_or_default())?;
            (through_libtorch(Box::new(module), &graph), None)
        }
    };
    let step = GraphFlowStep {
        network,
        fields,
        dt: trained_dt,
        description: format!("{} {}", spec.kind, path.display()),
    };
    Ok(Box::new(step))
}
