//! Encode–process–decode message passing (Pfaff et al., *Learning
//! mesh-based simulation with graph networks*, ICLR 2021): node and edge
//! features are encoded into a latent space by MLPs, updated by `steps`
//! rounds of message passing with residual connections (edges from their
//! two end nodes, nodes from the sum of their incoming edges, by
//! `index_add`), and decoded per node. The edge MLP's first layer on
//! `[e, v_sender, v_receiver]` is applied as `W_e e + (W_s v)[sender] +
//! (W_r v)[receiver]`: the node parts are multiplied once per node rather
//! than once per edge (a triangle mesh has about six directed edges per
//! node), the same function with a third of the first layer's work.

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
        let norm = layer_norm.then(|| {
            let config = nn::LayerNormConfig {
                eps: LAYER_NORM_EPS,
                ..Default::default()
            };
            nn::layer_norm(&path / "norm", vec![outputs], config)
        });
        Mlp { layers, norm }
    }

    /// Its dense layers (ReLU between them) and its layer norm, if any.
    pub(crate) fn parts(&self) -> (&[nn::Linear], Option<&nn::LayerNorm>) {
        (&self.layers, self.norm.as_ref())
    }
}

impl Mlp {
    /// The rest of the MLP from the first layer's output `h` (before its
    /// activation).
    fn after_first(&self, mut h: Tensor) -> Tensor {
        for layer in &self.layers[1..] {
            h = layer.forward(&h.relu());
        }
        match &self.norm {
            Some(norm) => norm.forward(&h),
            None => h,
        }
    }

    /// The MLP on the concatenation `[parts[0] | parts[1] | ...]` of
    /// blocks, each part given as `(x, gather)`: the block is `x` itself,
    /// or `x`'s rows `gather` (`i64`), as wide as `x`. The first layer
    /// multiplies each `x` before gathering its rows, so a block of node
    /// features gathered onto edges costs a product per node, not per
    /// edge.
    pub fn forward_gathered(&self, parts: &[(&Tensor, Option<&Tensor>)]) -> Tensor {
        let first = &self.layers[0];
        let mut offset = 0;
        let mut h: Option<Tensor> = None;
        for (x, gather) in parts {
            let width = x.size()[1];
            let product = x.matmul(&first.ws.narrow(1, offset, width).tr());
            offset += width;
            let block = match gather {
                Some(rows) => product.index_select(0, rows),
                None => product,
            };
            h = Some(match h {
                Some(sum) => sum + block,
                None => block,
            });
        }
        let mut h = h.expect("at least one part");
        if let Some(bias) = &first.bs {
            h += bias;
        }
        self.after_first(h)
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.after_first(self.layers[0].forward(x))
    }
}

/// The layer norms' `ε`.
pub(crate) const LAYER_NORM_EPS: f64 = 1e-5;

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
            e = &e
                + p.edge.forward_gathered(&[
                    (&e, None),
                    (&v, Some(senders)),
                    (&v, Some(receivers)),
                ]);
            // Sum of the messages each node receives.
            let messages = v.zeros_like().index_add(0, receivers, &e);
            v = &v + p.node.forward(&Tensor::cat(&[&v, &messages], 1));
        }
        (v, e)
    }

    /// Its node encoder, edge encoder, rounds (edge and node MLPs) and
    /// decoder.
    pub(crate) fn parts(&self) -> (&Mlp, &Mlp, Vec<(&Mlp, &Mlp)>, &Mlp) {
        let rounds = self.processors.iter().map(|p| (&p.edge, &p.node)).collect();
        (
            &self.node_encoder,
            &self.edge_encoder,
            rounds,
            &self.decoder,
        )
    }

    /// The per-node outputs of latent node features from [`Self::process`].
    pub fn decode(&self, latent_nodes: &Tensor) -> Tensor {
        self.decoder.forward(latent_nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    /// The gathered first layer is the MLP on the concatenated blocks.
    #[test]
    fn the_gathered_mlp_is_the_mlp_on_the_concatenation() {
        tch::manual_seed(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let config = GnnConfig {
            latent: 8,
            steps: 1,
            hidden_layers: 1,
        };
        let mlp = Mlp::new(vs.root(), 24, 8, &config, true);
        let options = (Kind::Float, Device::Cpu);
        let (e, v) = (
            Tensor::randn([7, 8], options),
            Tensor::randn([4, 8], options),
        );
        let senders = Tensor::from_slice(&[0i64, 1, 2, 3, 0, 2, 1]);
        let receivers = Tensor::from_slice(&[1i64, 0, 3, 2, 2, 0, 3]);
        let joined = Tensor::cat(
            &[
                &e,
                &v.index_select(0, &senders),
                &v.index_select(0, &receivers),
            ],
            1,
        );
        let expected = mlp.forward(&joined);
        let gathered =
            mlp.forward_gathered(&[(&e, None), (&v, Some(&senders)), (&v, Some(&receivers))]);
        let difference = (&expected - &gathered).abs().max().double_value(&[]);
        assert!(difference < 1e-5, "{difference}");
        assert!(expected.abs().max().double_value(&[]) > 0.1);
    }
}
