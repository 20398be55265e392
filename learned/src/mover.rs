//! The network of a learned mesh mover: encode–process–decode message
//! passing on the graph of a mesh (nodes and edges with features the caller
//! computes from the mesh and a monitor function) that predicts one value
//! per node. In pde-engine that value is the Laplacian of the
//! Monge–Ampère potential, the local change of cell area, which one Poisson
//! solve turns into node positions; this module knows nothing of that, only
//! the shapes.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::error::LearnedError;
use crate::files::{load_weights, read_model_config, save_model};
use crate::gnn::{EncodeProcessDecode, GnnConfig};
use crate::inference::Network;
use crate::normalizer::GraphNormalizers;
use crate::train::Trainable;

/// What a mover model is: the widths of its inputs and its network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoverConfig {
    /// Features per node.
    pub node_features: i64,
    /// Features per directed edge.
    pub edge_features: i64,
    /// The network.
    #[serde(default)]
    pub gnn: GnnConfig,
}

impl MoverConfig {
    /// The configuration of the model saved in folder `dir` (an error for
    /// a folder that holds another kind of model).
    pub fn read(dir: &Path) -> Result<Self, LearnedError> {
        read_model_config(dir, "mesh mover model")
    }
}

/// A mesh graph with its features, as tensors on a device.
#[derive(Debug)]
pub struct MoverGraphTensors {
    nodes: Tensor,
    edges: Tensor,
    senders: Tensor,
    receivers: Tensor,
}

impl MoverGraphTensors {
    /// The graph with row-major node features `nodes` (`[N, node_features]`)
    /// and edge features `edges` (`[E, edge_features]`) of the directed
    /// edges `senders[k] → receivers[k]`, for a model of `config`.
    pub fn new(
        config: &MoverConfig,
        nodes: &[f32],
        edges: &[f32],
        senders: &[usize],
        receivers: &[usize],
        device: Device,
    ) -> Result<Self, LearnedError> {
        let (fn_, fe) = (config.node_features as usize, config.edge_features as usize);
        let n = nodes.len() / fn_.max(1);
        let e = senders.len();
        if nodes.len() != n * fn_ || edges.len() != e * fe || receivers.len() != e {
            return Err(LearnedError::Shape(format!(
                "{} node values, {} edge values and {e} senders / {} receivers do not fit \
                 {fn_} features per node and {fe} per edge",
                nodes.len(),
                edges.len(),
                receivers.len()
            )));
        }
        if let Some(bad) = senders.iter().chain(receivers).find(|&&k| k >= n) {
            return Err(LearnedError::Shape(format!(
                "an edge names node {bad} of a graph of {n}"
            )));
        }
        let index = |v: &[usize]| {
            let v: Vec<i64> = v.iter().map(|&i| i as i64).collect();
            Tensor::from_slice(&v).to_device(device)
        };
        Ok(MoverGraphTensors {
            nodes: Tensor::from_slice(nodes)
                .view([n as i64, fn_ as i64])
                .to_device(device),
            edges: Tensor::from_slice(edges)
                .view([e as i64, fe as i64])
                .to_device(device),
            senders: index(senders),
            receivers: index(receivers),
        })
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.nodes.size()[0] as usize
    }
}

/// A mover network with its normalisers.
pub struct MoverModel {
    /// Its configuration.
    pub config: MoverConfig,
    /// The weights (trainable and normaliser statistics).
    pub vs: VarStore,
    net: EncodeProcessDecode,
    norms: GraphNormalizers,
}

impl MoverModel {
    /// A new (untrained) model on `device`.
    pub fn new(config: MoverConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let net = EncodeProcessDecode::new(
            &root / "net",
            config.node_features,
            config.edge_features,
            1,
            &config.gnn,
        );
        let norms = GraphNormalizers::new(&root, config.node_features, config.edge_features, 1);
        MoverModel {
            config,
            vs,
            net,
            norms,
        }
    }

    /// The normalised prediction `[N, 1]`.
    fn forward(&self, g: &MoverGraphTensors) -> Tensor {
        self.net.forward(
            &self.norms.node.normalize(&g.nodes),
            &self.norms.edge.normalize(&g.edges),
            &g.senders,
            &g.receivers,
        )
    }

    /// The value predicted at every node (inference, `f64`).
    pub fn predict(&self, g: &MoverGraphTensors) -> Vec<f64> {
        let y = tch::no_grad(|| self.norms.output.denormalize(&self.forward(g)))
            .to_kind(Kind::Double)
            .to_device(Device::Cpu)
            .view([-1]);
        Vec::<f64>::try_from(&y).unwrap_or_default()
    }

    /// A copy of the network and its normalisers for fused CPU inference
    /// ([`Network::forward`] computes [`MoverModel::predict`]'s values).
    pub fn inference(&self) -> Result<Network, LearnedError> {
        Network::new(&self.net, Some(&self.norms))
    }

    /// The training loss of one graph: the mean squared error of the
    /// normalised prediction against the normalised `target` (`[N]`).
    /// While `accumulate` holds, the graph also feeds the normalisers.
    pub fn loss(
        &mut self,
        g: &MoverGraphTensors,
        target: &Tensor,
        accumulate: bool,
    ) -> Result<Tensor, LearnedError> {
        if target.size() != [g.num_nodes() as i64] {
            return Err(LearnedError::Shape(format!(
                "a target of {:?} for a graph of {} nodes",
                target.size(),
                g.num_nodes()
            )));
        }
        let target = target.to_kind(Kind::Float).view([-1, 1]);
        if accumulate {
            self.norms.accumulate(&g.nodes, &g.edges, &target);
        }
        Ok((self.forward(g) - self.norms.output.normalize(&target))
            .square()
            .mean(Kind::Float))
    }

    /// Freezes the normalisers (done after the first training steps).
    pub fn freeze_normalizers(&mut self) {
        self.norms.freeze();
    }

    /// Saves the model into directory `dir`: `model.json` and
    /// `weights.safetensors`.
    pub fn save(&self, dir: &Path) -> Result<(), LearnedError> {
        save_model(dir, &self.config, &self.vs)
    }

    /// Loads a model saved by [`MoverModel::save`] onto `device`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, LearnedError> {
        let mut model = MoverModel::new(MoverConfig::read(dir)?, device);
        load_weights(&mut model.vs, dir)?;
        Ok(model)
    }
}

impl Trainable for MoverModel {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn save_into(&self, dir: &Path) -> Result<(), LearnedError> {
        self.save(dir)
    }
}
