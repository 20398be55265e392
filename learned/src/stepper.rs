//! A learned time stepper (MeshGraphNets): from the state at the nodes of a
//! mesh (e.g. the velocity) and the node types, an encode–process–decode
//! network predicts the change over one step. Inputs, edge features and
//! outputs are normalised online; training adds noise to the input state
//! (and asks for the step from the noisy state, so that the model learns to
//! correct its own errors in rollouts) and ignores masked nodes (whose
//! values boundary conditions set).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::error::LearnedError;
use crate::files::{load_weights, read_model_config, save_model};
use crate::gnn::{EncodeProcessDecode, GnnConfig};
use crate::graph::MeshGraph;
use crate::inference::{Network, ReceiverGraph};
use crate::normalizer::GraphNormalizers;
use crate::tensors::GraphTensors;

/// What a stepper model is: its state, its node types and its network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepperConfig {
    /// Names of the state fields per node (e.g. `["u", "v"]`).
    pub fields: Vec<String>,
    /// The physical groups that define node types 1, 2, ... (0: interior).
    pub type_groups: Vec<String>,
    /// The network.
    #[serde(default)]
    pub gnn: GnnConfig,
    /// The time between the states it was trained on, if it has one (a
    /// time stepper is only good for that step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dt: Option<f64>,
}

/// A learned stepper: network, normalisers and their weights.
pub struct LearnedStepper {
    /// Its configuration.
    pub config: StepperConfig,
    /// The weights (trainable and normaliser statistics).
    pub vs: VarStore,
    net: EncodeProcessDecode,
    norms: GraphNormalizers,
}

impl LearnedStepper {
    /// A new (untrained) stepper on `device`.
    pub fn new(config: StepperConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let fields = config.fields.len() as i64;
        let node_inputs = fields + config.type_groups.len() as i64 + 1;
        let net = EncodeProcessDecode::new(&root / "net", node_inputs, 4, fields, &config.gnn);
        let norms = GraphNormalizers::new(&root, node_inputs, 4, fields);
        LearnedStepper {
            config,
            vs,
            net,
            norms,
        }
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    fn check(&self, graph: &GraphTensors, state: &Tensor) -> Result<(), LearnedError> {
        let fields = self.config.fields.len() as i64;
        let types = self.config.type_groups.len() as i64 + 1;
        if state.size() != [graph.num_nodes as i64, fields] {
            return Err(LearnedError::Shape(format!(
                "the state is {:?}; the model expects [{}, {fields}] ({} per node)",
                state.size(),
                graph.num_nodes,
                self.config.fields.join(", ")
            )));
        }
        if graph.type_width() != types {
            return Err(LearnedError::Shape(format!(
                "the graph has {} node types; the model expects {types} (interior, {})",
                graph.type_width(),
                self.config.type_groups.join(", ")
            )));
        }
        Ok(())
    }

    /// The normalised change of the state predicted by the network.
    fn forward(&self, graph: &GraphTensors, state: &Tensor) -> Tensor {
        let nodes = Tensor::cat(&[state, &graph.node_types], 1);
        self.net.forward(
            &self.norms.node.normalize(&nodes),
            &self.norms.edge.normalize(&graph.edge_features),
            &graph.senders,
            &graph.receivers,
        )
    }

    /// The state one step after `state` (`[N, fields]`), predicted.
    pub fn predict(&self, graph: &GraphTensors, state: &Tensor) -> Result<Tensor, LearnedError> {
        self.check(graph, state)?;
        Ok(tch::no_grad(|| {
            state + self.norms.output.denormalize(&self.forward(graph, state))
        }))
    }

    /// The stepper on `graph` for fused CPU inference (a copy of the
    /// weights; [`FusedStepper::predict`] computes [`LearnedStepper::predict`]'s
    /// values to `f32` rounding); an error for a graph of other node types
    /// or a latent width fused inference does not run.
    pub fn fused(&self, graph: &MeshGraph) -> Result<FusedStepper, LearnedError> {
        if graph.type_groups != self.config.type_groups {
            return Err(LearnedError::Shape(format!(
                "the graph's node types are {:?}; the model's {:?}",
                graph.type_groups, self.config.type_groups
            )));
        }
        Ok(FusedStepper {
            network: Network::new(&self.net, Some(&self.norms))?,
            receivers: ReceiverGraph::new(graph.num_nodes, &graph.senders, &graph.receivers)?,
            node_types: graph.one_hot_types(),
            edges: graph
                .edge_features
                .iter()
                .flat_map(|f| f.map(|v| v as f32))
                .collect(),
            fields: self.config.fields.len(),
        })
    }

    /// The training loss of one step `state -> next`: the mean squared
    /// error of the normalised change over the values where `mask`
    /// (`[N, fields]`) is 1, with Gaussian noise of standard deviation `noise` added to the
    /// input state. While `accumulate` holds, the samples also feed the
    /// normalisers.
    pub fn loss(
        &mut self,
        graph: &GraphTensors,
        state: &Tensor,
        next: &Tensor,
        mask: &Tensor,
        noise: f64,
        accumulate: bool,
    ) -> Result<Tensor, LearnedError> {
        self.check(graph, state)?;
        let noisy = if noise > 0.0 {
            state + state.randn_like() * noise
        } else {
            state.shallow_clone()
        };
        let target = next - &noisy;
        if accumulate {
            self.norms.accumulate(
                &Tensor::cat(&[&noisy, &graph.node_types], 1),
                &graph.edge_features,
                &target,
            );
        }
        if mask.size() != state.size() {
            return Err(LearnedError::Shape(format!(
                "the mask is {:?}; the state is {:?}",
                mask.size(),
                state.size()
            )));
        }
        let error = (self.forward(graph, &noisy) - self.norms.output.normalize(&target)).square();
        let weight = mask.to_kind(Kind::Float);
        Ok((error * &weight).sum(Kind::Float) / weight.sum(Kind::Float).clamp_min(1.0))
    }

    /// Freezes the normalisers (done after the first training steps).
    pub fn freeze_normalizers(&mut self) {
        self.norms.freeze();
    }

    /// Saves the model into directory `dir`: `model.json` (the
    /// configuration) and `weights.safetensors`.
    pub fn save(&self, dir: &Path) -> Result<(), LearnedError> {
        save_model(dir, &self.config, &self.vs)
    }

    /// Loads a model saved by [`LearnedStepper::save`] onto `device`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, LearnedError> {
        let config: StepperConfig = read_model_config(dir, "stepper model")?;
        let mut model = LearnedStepper::new(config, device);
        load_weights(&mut model.vs, dir)?;
        Ok(model)
    }
}

/// A [`LearnedStepper`] on one mesh graph, run by fused CPU inference
/// ([`crate::inference`]).
#[derive(Clone, Debug)]
pub struct FusedStepper {
    network: Network,
    receivers: ReceiverGraph,
    /// One-hot node types, `[nodes, types + 1]`.
    node_types: Vec<f32>,
    /// `[edges, 4]`.
    edges: Vec<f32>,
    fields: usize,
}

impl FusedStepper {
    /// The state one step after `state` (`[nodes, fields]`, row-major).
    pub fn predict(&self, state: &[f64]) -> Result<Vec<f64>, LearnedError> {
        let nodes = self.receivers.nodes();
        if state.len() != nodes * self.fields {
            return Err(LearnedError::Shape(format!(
                "{} state values; the model expects {nodes} nodes × {} fields",
                state.len(),
                self.fields
            )));
        }
        let types = self.node_types.len() / nodes.max(1);
        let inputs: Vec<f32> = state
            .chunks_exact(self.fields)
            .zip(self.node_types.chunks_exact(types))
            .flat_map(|(s, t)| s.iter().map(|&v| v as f32).chain(t.iter().copied()))
            .collect();
        let change = self
            .network
            .forward(&self.receivers, &inputs, &self.edges)?;
        Ok(state
            .iter()
            .zip(change)
            .map(|(&s, c)| f64::from(s as f32 + c))
            .collect())
    }
}
