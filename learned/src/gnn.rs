//! Encode–process–decode message passing (Pfaff et al., *Learning
//! mesh-based simulation with graph networks*, ICLR 2021): node and edge
//! features are encoded into a latent space by MLPs, updated by `steps`
//! rounds of message passing with residual connections (edges from their
//! two end nodes, nodes from the sum of their incoming edges, by
//! `index_add`), and decoded per node.

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::Tensor;

/// The shape of an encode–process–decode network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GnnConfig {
    /// Width of the latent node and edge features. Default 128.
    #[serde(default = "latent_default")]
    pub latent: i64,
    /// Rounds of message passing. Default 15.
    #[serde(default = "steps_default")]
    pub steps: usize,
    /// Hidden layers of every MLP. Default 2.
    #[serde(default = "hidden_layers_default")]
    pub hidden_layers: usize,
}

fn latent_default() -> i64 {
    128
}
fn steps_default() -> usize {
    15
}
fn hidden_layers_default() -> usize {
    2
}

impl Default for GnnConfig {
    fn default() -> Self {
        GnnConfig {
            latent: latent_default(),
            steps: steps_default(),
            hidden_layers: hidden_layers_default(),
        }
    }
}

/// A multilayer perceptron: `hidden_layers` ReLU layers of width `latent`,
/// a linear output layer, and optionally a LayerNorm on the output.
#[derive(Debug)]
pub struct Mlp {
    layers: Vec<nn::Linear>,
    norm: Option<nn::LayerNorm>,
}

impl Mlp {
    /// An MLP from `inputs` to `outputs` features under `path`.
    pub fn new(
        path: nn::Path,
        inputs: i64,
        outputs: i64,
        config: &GnnConfig,
        layer_norm: bool,
    ) -> Self {
        let mut layers = Vec::with_capacity(config.hidden_layers + 1);
        let mut width = inputs;
        for k in 0..config.hidden_layers {
            layers.push(nn::linear(
                &path / k,
                width,
                config.latent,
                Default::default(),
            ));
            width = config.latent;
        }
        layers.push(nn::linear(
            &path / "out",
            width,
            outputs,
            Default::default(),
        ));
        let norm =
            layer_norm.then(|| nn::layer_norm(&path / "norm", vec![outputs], Default::default()));
        Mlp { layers, norm }
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        let last = self.layers.len() - 1;
        let mut h = x.shallow_clone();
        for (k, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h);
            if k < last {
                h = h.relu();
            }
        }
        match &self.norm {
            Some(norm) => norm.forward(&h),
            None => h,
        }
    }
}

/// One round of message passing.
#[derive(Debug)]
struct Processor {
    edge: Mlp,
    node: Mlp,
}

/// The encode–process–decode network.
#[derive(Debug)]
pub struct EncodeProcessDecode {
    node_encoder: Mlp,
    edge_encoder: Mlp,
    processors: Vec<Processor>,
    decoder: Mlp,
}

impl EncodeProcessDecode {
    /// A network from `node_inputs` and `edge_inputs` features to
    /// `outputs` per node, its weights under `path`.
    pub fn new(
        path: nn::Path,
        node_inputs: i64,
        edge_inputs: i64,
        outputs: i64,
        config: &GnnConfig,
    ) -> Self {
        let l = config.latent;
        let processors = (0..config.steps)
            .map(|k| {
                let p = &path / format!("processor{k}");
                Processor {
                    edge: Mlp::new(&p / "edge", 3 * l, l, config, true),
                    node: Mlp::new(&p / "node", 2 * l, l, config, true),
                }
            })
            .collect();
        EncodeProcessDecode {
            node_encoder: Mlp::new(&path / "node_encoder", node_inputs, l, config, true),
            edge_encoder: Mlp::new(&path / "edge_encoder", edge_inputs, l, config, true),
            processors,
            decoder: Mlp::new(&path / "decoder", l, outputs, config, false),
        }
    }

    /// The per-node outputs `[N, outputs]` from node features `[N, node_inputs]`,
    /// edge features `[E, edge_inputs]` and the edges' end nodes (`[E]`, `i64`).
    pub fn forward(
        &self,
        nodes: &Tensor,
        edges: &Tensor,
        senders: &Tensor,
        receivers: &Tensor,
    ) -> Tensor {
        let (v, _) = self.process(nodes, edges, senders, receivers);
        self.decode(&v)
    }

    /// The latent node and edge features after message passing, before
    /// decoding (for models that decode edges too).
    pub fn process(
        &self,
        nodes: &Tensor,
        edges: &Tensor,
        senders: &Tensor,
        receivers: &Tensor,
    ) -> (Tensor, Tensor) {
        let mut v = self.node_encoder.forward(nodes);
        let mut e = self.edge_encoder.forward(edges);
        for p in &self.processors {
            let edge_in = Tensor::cat(
                &[
                    &e,
                    &v.index_select(0, senders),
                    &v.index_select(0, receivers),
                ],
                1,
            );
            e = &e + p.edge.forward(&edge_in);
            // Sum of the messages each node receives.
            let messages = v.zeros_like().index_add(0, receivers, &e);
            v = &v + p.node.forward(&Tensor::cat(&[&v, &messages], 1));
        }
        (v, e)
    }

    /// The per-node outputs of latent node features from [`Self::process`].
    pub fn decode(&self, latent_nodes: &Tensor) -> Tensor {
        self.decoder.forward(latent_nodes)
    }
}
