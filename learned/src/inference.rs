//! Inference of an [`EncodeProcessDecode`] network on the CPU without
//! libtorch's per-operation passes: the weights are copied out once and
//! every round of message passing is one sweep over the edges, grouped by
//! receiver, that updates an edge's latent features and adds them to its
//! receiver's message while they are in cache (libtorch makes a dozen
//! passes over `[edges, latent]` tensors per round: gathers, sums, the
//! activation, the second layer, the norm, the residual and the scatter,
//! each memory-bound on narrow latents). The same function as
//! [`EncodeProcessDecode::forward`] up to `f32` rounding (tested); rows
//! run in parallel on rayon's pool.

use rayon::prelude::*;
use tch::{Kind, Tensor};

use crate::error::LearnedError;
use crate::gnn::{EncodeProcessDecode, Mlp, LAYER_NORM_EPS};
use crate::normalizer::{GraphNormalizers, Normalizer};

/// Rows (nodes or edges) per parallel task.
const ROWS_PER_TASK: usize = 2048;

/// A graph's directed edges grouped by receiver, for [`Network::forward`]:
/// build it once per graph and reuse it while the edges stay.
#[derive(Clone, Debug)]
pub struct ReceiverGraph {
    nodes: usize,
    /// The edges in receiver order: `order[k]` is the caller's index of the
    /// `k`-th.
    order: Vec<usize>,
    /// The sender of each edge, in receiver order.
    senders: Vec<usize>,
    /// The edges that node `i` receives are `offsets[i]..offsets[i + 1]`.
    offsets: Vec<usize>,
}

impl ReceiverGraph {
    /// The graph of `nodes` nodes and directed edges `senders[k] →
    /// receivers[k]`; an error for an edge naming a node outside it.
    pub fn new(nodes: usize, senders: &[usize], receivers: &[usize]) -> Result<Self, LearnedError> {
        if senders.len() != receivers.len() {
            return Err(LearnedError::Shape(format!(
                "{} senders and {} receivers",
                senders.len(),
                receivers.len()
            )));
        }
        if let Some(bad) = senders.iter().chain(receivers).find(|&&k| k >= nodes) {
            return Err(LearnedError::Shape(format!(
                "an edge names node {bad} of a graph of {nodes}"
            )));
        }
        let mut offsets = vec![0; nodes + 1];
        for &r in receivers {
            offsets[r + 1] += 1;
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut order = vec![0; senders.len()];
        for (k, &r) in receivers.iter().enumerate() {
            order[next[r]] = k;
            next[r] += 1;
        }
        let senders = order.iter().map(|&k| senders[k]).collect();
        Ok(ReceiverGraph {
            nodes,
            order,
            senders,
            offsets,
        })
    }

    /// Number of nodes.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Number of directed edges.
    pub fn edges(&self) -> usize {
        self.order.len()
    }
}

/// A dense layer `y = W x + b`, its weights stored input-major (`W`
/// transposed) so that the product runs along contiguous outputs.
#[derive(Clone, Debug)]
struct Dense {
    inputs: usize,
    outputs: usize,
    /// `[inputs, outputs]`.
    transposed: Vec<f32>,
    bias: Vec<f32>,
}

impl Dense {
    /// The columns `from..from + inputs` of `linear`'s weights (all of its
    /// bias if `with_bias`).
    fn columns(linear: &tch::nn::Linear, from: i64, inputs: i64, with_bias: bool) -> Self {
        let outputs = linear.ws.size()[0];
        let transposed = floats(&linear.ws.narrow(1, from, inputs).tr());
        let bias = match (&linear.bs, with_bias) {
            (Some(b), true) => floats(b),
            _ => vec![0.0; outputs as usize],
        };
        Dense {
            inputs: inputs as usize,
            outputs: outputs as usize,
            transposed,
            bias,
        }
    }

    fn of(linear: &tch::nn::Linear) -> Self {
        Dense::columns(linear, 0, linear.ws.size()[1], true)
    }

    /// `W x + b` for a layer of `W` outputs: fixed-size rows, which the
    /// compiler vectorises (over slices of run-time length it did not:
    /// 2.5× slower, measured).
    #[inline(always)]
    fn apply<const W: usize>(&self, x: &[f32]) -> [f32; W] {
        let mut y: [f32; W] = self.bias[..].try_into().expect("W outputs");
        self.add(x, &mut y);
        y
    }

    /// `y += W x` for a layer of `W` outputs: two inputs at a time into
    /// two sums, which halves the chain of dependent additions.
    #[inline(always)]
    fn add<const W: usize>(&self, x: &[f32], y: &mut [f32; W]) {
        let mut odd = [0.0; W];
        let pairs = self.transposed.chunks_exact(2 * W);
        let last = pairs.remainder();
        for (x, rows) in x.chunks_exact(2).zip(pairs) {
            let (even_row, odd_row) = rows.split_at(W);
            let even_row: &[f32; W] = even_row.try_into().expect("W outputs");
            let odd_row: &[f32; W] = odd_row.try_into().expect("W outputs");
            for o in 0..W {
                y[o] += x[0] * even_row[o];
                odd[o] += x[1] * odd_row[o];
            }
        }
        if let (Some(xi), false) = (x.last(), last.is_empty()) {
            for (yo, w) in y.iter_mut().zip(last) {
                *yo += xi * w;
            }
        }
        for (yo, o) in y.iter_mut().zip(odd) {
            *yo += o;
        }
    }

    /// `y = W x + b` for any number of outputs (a decoder's last layer).
    fn apply_any(&self, x: &[f32], y: &mut [f32]) {
        y.copy_from_slice(&self.bias);
        for (xi, row) in x.iter().zip(self.transposed.chunks_exact(self.outputs)) {
            for (yo, w) in y.iter_mut().zip(row) {
                *yo += xi * w;
            }
        }
    }
}

/// An [`Mlp`]: dense layers with ReLU between, an optional layer norm
/// (scale and shift).
#[derive(Clone, Debug)]
struct DenseMlp {
    layers: Vec<Dense>,
    norm: Option<(Vec<f32>, Vec<f32>)>,
}

impl DenseMlp {
    fn of(mlp: &Mlp) -> Self {
        let (layers, norm) = mlp.parts();
        let layers: Vec<Dense> = layers.iter().map(Dense::of).collect();
        let width = layers.last().map_or(0, |l| l.outputs);
        DenseMlp {
            layers,
            norm: norm.map(|n| {
                let scale = n.ws.as_ref().map_or_else(|| vec![1.0; width], floats);
                let shift = n.bs.as_ref().map_or_else(|| vec![0.0; width], floats);
                (scale, shift)
            }),
        }
    }

    fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// The MLP of `x` into `y`; its hidden layers are `W` wide.
    #[inline(always)]
    fn apply<const W: usize>(&self, x: &[f32], y: &mut [f32]) {
        match self.layers.as_slice() {
            [only] if only.outputs != W => {
                only.apply_any(x, y);
                self.normalize(y);
            }
            [first, ..] => self.after_first(first.apply::<W>(x), y),
            [] => {}
        }
    }

    /// The rest of the MLP from the first layer's output `a` (before its
    /// activation) into `y`.
    #[inline(always)]
    fn after_first<const W: usize>(&self, mut a: [f32; W], y: &mut [f32]) {
        if let Some((last, hidden)) = self.layers[1..].split_last() {
            for layer in hidden {
                a = layer.apply(&relu(a));
            }
            if last.outputs == W {
                a = last.apply(&relu(a));
            } else {
                last.apply_any(&relu(a), y);
                return self.normalize(y);
            }
        }
        y.copy_from_slice(&a);
        self.normalize(y);
    }

    /// The layer norm of `y`, if the MLP has one.
    #[inline(always)]
    fn normalize(&self, y: &mut [f32]) {
        if let Some((scale, shift)) = &self.norm {
            let n = y.len() as f32;
            let mean = sum(y.iter().copied()) / n;
            let var = sum(y.iter().map(|v| (v - mean) * (v - mean))) / n;
            let inv = 1.0 / (var + LAYER_NORM_EPS as f32).sqrt();
            for ((v, a), b) in y.iter_mut().zip(scale).zip(shift) {
                *v = (*v - mean) * inv * a + b;
            }
        }
    }

    /// The MLP of every `inputs`-wide row of `x`, `[rows, outputs]`.
    fn rows<const W: usize>(&self, x: &[f32]) -> Vec<f32> {
        let (inputs, outputs) = (self.layers[0].inputs, self.outputs());
        let mut y = vec![0.0; x.len() / inputs * outputs];
        y.par_chunks_mut(ROWS_PER_TASK * outputs)
            .zip(x.par_chunks(ROWS_PER_TASK * inputs))
            .for_each(|(y, x)| {
                for (y, x) in y.chunks_exact_mut(outputs).zip(x.chunks_exact(inputs)) {
                    self.apply::<W>(x, y);
                }
            });
        y
    }
}

/// The sum of `values` in eight interleaved partial sums: independent
/// additions the compiler vectorises (one running sum is a chain of
/// dependent ones).
#[inline(always)]
fn sum(values: impl Iterator<Item = f32>) -> f32 {
    let mut lanes = [0.0f32; 8];
    for (k, v) in values.enumerate() {
        lanes[k % 8] += v;
    }
    lanes.iter().sum()
}

/// `max(a, 0)`.
#[inline(always)]
fn relu<const W: usize>(a: [f32; W]) -> [f32; W] {
    a.map(|v| v.max(0.0))
}

/// One round of message passing: the edge MLP's first layer split into
/// its edge, sender and receiver blocks, and the node MLP.
#[derive(Clone, Debug)]
struct Round {
    edge_own: Dense,
    edge_sender: Dense,
    edge_receiver: Dense,
    edge: DenseMlp,
    node: DenseMlp,
}

/// Per-feature `(mean, std)` of a normaliser.
fn statistics(n: &Normalizer) -> (Vec<f32>, Vec<f32>) {
    let (mean, std) = n.mean_std();
    (floats(&mean), floats(&std))
}

/// The latent widths [`Network`] runs, each compiled for its width: the
/// narrow ones, where libtorch's passes are memory-bound. From 32 up its
/// matrix products win where the graph fits in cache (one thread, 4
/// rounds, 10⁴ nodes: fused 0.044 s against 0.063 at latent 16, 0.134
/// against 0.095 at 32; at 10⁵ nodes fused won at both, 0.44 against
/// 1.46 and 1.54 against 2.97; MeshGraphNets' latent 128 with 15 rounds
/// on 4.5·10³ nodes: 2.9 s against 1.07).
pub const LATENT_WIDTHS: [usize; 2] = [8, 16];

/// An [`EncodeProcessDecode`] network with its normalisers, copied out of
/// libtorch for CPU inference.
#[derive(Clone, Debug)]
pub struct Network {
    latent: usize,
    node_encoder: DenseMlp,
    edge_encoder: DenseMlp,
    rounds: Vec<Round>,
    decoder: DenseMlp,
    /// Per-feature `(mean, std)` of the node inputs, edge inputs and
    /// outputs (none for a network without normalisers).
    node_norm: Option<(Vec<f32>, Vec<f32>)>,
    edge_norm: Option<(Vec<f32>, Vec<f32>)>,
    output_norm: Option<(Vec<f32>, Vec<f32>)>,
}

impl Network {
    /// A copy of `net` and its normalisers `norms`, if it has any (cheap:
    /// the weights only; copy again after the weights change); an error
    /// for a latent width not in [`LATENT_WIDTHS`] (run such a network
    /// through libtorch).
    pub fn new(
        net: &EncodeProcessDecode,
        norms: Option<&GraphNormalizers>,
    ) -> Result<Self, LearnedError> {
        let (node_encoder, edge_encoder, processors, decoder) = net.parts();
        let latent = node_encoder.parts().0[0].ws.size()[0] as usize;
        if !LATENT_WIDTHS.contains(&latent) {
            return Err(LearnedError::Shape(format!(
                "fused inference runs latent widths {LATENT_WIDTHS:?}, not {latent}"
            )));
        }
        Ok(tch::no_grad(|| {
            let rounds = processors
                .iter()
                .map(|(edge, node)| {
                    let first = &edge.parts().0[0];
                    let l = latent as i64;
                    Round {
                        edge_own: Dense::columns(first, 0, l, false),
                        edge_sender: Dense::columns(first, l, l, false),
                        // The first layer's bias goes with the receiver's part.
                        edge_receiver: Dense::columns(first, 2 * l, l, true),
                        edge: DenseMlp::of(edge),
                        node: DenseMlp::of(node),
                    }
                })
                .collect();
            Network {
                latent,
                node_encoder: DenseMlp::of(node_encoder),
                edge_encoder: DenseMlp::of(edge_encoder),
                rounds,
                decoder: DenseMlp::of(decoder),
                node_norm: norms.map(|n| statistics(&n.node)),
                edge_norm: norms.map(|n| statistics(&n.edge)),
                output_norm: norms.map(|n| statistics(&n.output)),
            }
        }))
    }

    /// Features per node the network reads.
    pub fn node_inputs(&self) -> usize {
        self.node_encoder.layers[0].inputs
    }

    /// Features per edge the network reads.
    pub fn edge_inputs(&self) -> usize {
        self.edge_encoder.layers[0].inputs
    }

    /// Values per node the network outputs.
    pub fn outputs(&self) -> usize {
        self.decoder.outputs()
    }

    /// The denormalised outputs `[nodes, outputs]` from the raw node
    /// features `nodes` (`[nodes, node_inputs]`, row-major) and edge
    /// features `edges` (`[edges, edge_inputs]`, in the order of the edges
    /// `graph` was built from), as the model's `predict` computes them.
    pub fn forward(
        &self,
        graph: &ReceiverGraph,
        nodes: &[f32],
        edges: &[f32],
    ) -> Result<Vec<f32>, LearnedError> {
        let (v, _) = self.latent(graph, nodes, edges)?;
        Ok(self.decode(&v))
    }

    /// The latent node features `[nodes, latent]` and edge features
    /// `[edges, latent]` (in the caller's edge order) after message
    /// passing, before decoding: [`EncodeProcessDecode::process`].
    pub fn process(
        &self,
        graph: &ReceiverGraph,
        nodes: &[f32],
        edges: &[f32],
    ) -> Result<(Vec<f32>, Vec<f32>), LearnedError> {
        let (v, by_receiver) = self.latent(graph, nodes, edges)?;
        let l = self.latent;
        let mut e = vec![0.0; by_receiver.len()];
        for (row, &k) in by_receiver.chunks_exact(l).zip(&graph.order) {
            e[k * l..(k + 1) * l].copy_from_slice(row);
        }
        Ok((v, e))
    }

    /// The denormalised per-node outputs of latent node features `v`.
    pub fn decode(&self, v: &[f32]) -> Vec<f32> {
        let mut y = match self.latent {
            8 => self.decoder.rows::<8>(v),
            _ => self.decoder.rows::<16>(v),
        };
        if let Some((mean, std)) = &self.output_norm {
            for row in y.chunks_exact_mut(mean.len()) {
                for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
                    *v = *v * s + m;
                }
            }
        }
        y
    }

    /// The latent nodes and the latent edges in receiver order.
    fn latent(
        &self,
        graph: &ReceiverGraph,
        nodes: &[f32],
        edges: &[f32],
    ) -> Result<(Vec<f32>, Vec<f32>), LearnedError> {
        let (fn_, fe) = (self.node_inputs(), self.edge_inputs());
        if nodes.len() != graph.nodes * fn_ || edges.len() != graph.edges() * fe {
            return Err(LearnedError::Shape(format!(
                "{} node and {} edge values for a graph of {} nodes and {} edges with {fn_} \
                 and {fe} features",
                nodes.len(),
                edges.len(),
                graph.nodes,
                graph.edges()
            )));
        }
        let mut node_inputs = nodes.to_vec();
        normalize(&mut node_inputs, &self.node_norm);
        let mut edge_inputs: Vec<f32> = graph
            .order
            .iter()
            .flat_map(|&k| &edges[k * fe..(k + 1) * fe])
            .copied()
            .collect();
        normalize(&mut edge_inputs, &self.edge_norm);
        Ok(match self.latent {
            8 => self.latent_pass::<8>(graph, &node_inputs, &edge_inputs),
            _ => self.latent_pass::<16>(graph, &node_inputs, &edge_inputs),
        })
    }

    /// Encoding and the rounds at latent width `W`.
    fn latent_pass<const W: usize>(
        &self,
        graph: &ReceiverGraph,
        nodes: &[f32],
        edges: &[f32],
    ) -> (Vec<f32>, Vec<f32>) {
        let mut v = self.node_encoder.rows::<W>(nodes);
        let mut e = self.edge_encoder.rows::<W>(edges);
        let mut per_node = [vec![0.0; v.len()], vec![0.0; v.len()], vec![0.0; v.len()]];
        for round in &self.rounds {
            round.pass::<W>(graph, &mut v, &mut e, &mut per_node);
        }
        (v, e)
    }
}

impl Round {
    /// Updates the latent edges `e` (receiver order) and nodes `v`;
    /// `per_node` is scratch, three arrays as long as `v`.
    fn pass<const W: usize>(
        &self,
        graph: &ReceiverGraph,
        v: &mut [f32],
        e: &mut [f32],
        per_node: &mut [Vec<f32>; 3],
    ) {
        // The first layer's sender and receiver parts, once per node.
        let [from_sender, from_receiver, messages] = per_node;
        from_sender
            .par_chunks_mut(ROWS_PER_TASK * W)
            .zip(from_receiver.par_chunks_mut(ROWS_PER_TASK * W))
            .zip(v.par_chunks(ROWS_PER_TASK * W))
            .for_each(|((ps, pr), v)| {
                for ((ps, pr), v) in ps
                    .chunks_exact_mut(W)
                    .zip(pr.chunks_exact_mut(W))
                    .zip(v.chunks_exact(W))
                {
                    ps.copy_from_slice(&self.edge_sender.apply::<W>(v));
                    pr.copy_from_slice(&self.edge_receiver.apply::<W>(v));
                }
            });
        // Each task owns a run of receivers and so the contiguous run of
        // edges they receive.
        messages.fill(0.0);
        let mut tasks = Vec::new();
        let mut rest_e: &mut [f32] = e;
        let mut rest_m: &mut [f32] = messages;
        for first in (0..graph.nodes).step_by(ROWS_PER_TASK) {
            let last = (first + ROWS_PER_TASK).min(graph.nodes);
            let edges = graph.offsets[last] - graph.offsets[first];
            let (task_e, tail_e) = std::mem::take(&mut rest_e).split_at_mut(edges * W);
            let (task_m, tail_m) = std::mem::take(&mut rest_m).split_at_mut((last - first) * W);
            tasks.push((first..last, task_e, task_m));
            (rest_e, rest_m) = (tail_e, tail_m);
        }
        tasks.into_par_iter().for_each(|(receivers, e, m)| {
            let base = graph.offsets[receivers.start];
            for (r, message) in receivers.zip(m.chunks_exact_mut(W)) {
                let at_receiver: &[f32; W] = from_receiver[r * W..(r + 1) * W]
                    .try_into()
                    .expect("W wide");
                for k in graph.offsets[r]..graph.offsets[r + 1] {
                    let edge = &mut e[(k - base) * W..(k - base + 1) * W];
                    let sender = graph.senders[k];
                    let at_sender = &from_sender[sender * W..(sender + 1) * W];
                    let mut h = *at_receiver;
                    h.iter_mut().zip(at_sender).for_each(|(h, s)| *h += s);
                    self.edge_own.add(edge, &mut h);
                    let mut update = [0.0; W];
                    self.edge.after_first(h, &mut update);
                    for ((x, u), msg) in edge.iter_mut().zip(update).zip(message.iter_mut()) {
                        *x += u;
                        *msg += *x;
                    }
                }
            }
        });
        v.par_chunks_mut(ROWS_PER_TASK * W)
            .zip(messages.par_chunks(ROWS_PER_TASK * W))
            .for_each(|(v, m)| {
                let mut joined = vec![0.0; 2 * W];
                let mut update = [0.0; W];
                for (v, m) in v.chunks_exact_mut(W).zip(m.chunks_exact(W)) {
                    joined[..W].copy_from_slice(v);
                    joined[W..].copy_from_slice(m);
                    self.node.apply::<W>(&joined, &mut update);
                    v.iter_mut().zip(update).for_each(|(x, u)| *x += u);
                }
            });
    }
}

/// `(x − mean) / std` row by row (nothing without statistics).
fn normalize(x: &mut [f32], statistics: &Option<(Vec<f32>, Vec<f32>)>) {
    let Some((mean, std)) = statistics else {
        return;
    };
    for row in x.chunks_exact_mut(mean.len()) {
        for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
            *v = (*v - m) / s;
        }
    }
}

/// A tensor's values as `f32`, row-major.
fn floats(t: &Tensor) -> Vec<f32> {
    let flat = t
        .detach()
        .to_kind(Kind::Float)
        .to_device(tch::Device::Cpu)
        .contiguous()
        .view([-1]);
    Vec::<f32>::try_from(&flat).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gnn::GnnConfig;
    use tch::{nn, Device};

    /// The copied network computes libtorch's forward pass, normalisers
    /// included, on a random graph with edges in no particular order, with
    /// two hidden layers, one and none.
    #[test]
    fn the_copy_computes_the_libtorch_forward_pass() {
        for (latent, hidden_layers) in [(8, 2), (16, 1), (16, 0)] {
            forward_pass_matches(GnnConfig {
                latent,
                steps: 3,
                hidden_layers,
            });
        }
    }

    fn forward_pass_matches(config: GnnConfig) {
        tch::manual_seed(11);
        let vs = nn::VarStore::new(Device::Cpu);
        let net = EncodeProcessDecode::new(vs.root() / "net", 5, 3, 2, &config);
        let mut norms = GraphNormalizers::new(&vs.root(), 5, 3, 2);
        let (n, edges) = (40usize, 150usize);
        let options = (Kind::Float, Device::Cpu);
        let nodes = Tensor::randn([n as i64, 5], options) * 3.0 + 1.0;
        let edge_features = Tensor::randn([edges as i64, 3], options) * 0.5 - 2.0;
        let outputs = Tensor::randn([n as i64, 2], options) * 4.0 + 7.0;
        norms.accumulate(&nodes, &edge_features, &outputs);
        let senders: Vec<usize> = (0..edges).map(|k| (k * 7 + 3) % n).collect();
        let receivers: Vec<usize> = (0..edges).map(|k| (k * 13 + 1) % n).collect();
        let index =
            |v: &[usize]| Tensor::from_slice(&v.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let expected = tch::no_grad(|| {
            norms.output.denormalize(&net.forward(
                &norms.node.normalize(&nodes),
                &norms.edge.normalize(&edge_features),
                &index(&senders),
                &index(&receivers),
            ))
        });
        let graph = ReceiverGraph::new(n, &senders, &receivers).unwrap();
        let copy = Network::new(&net, Some(&norms)).unwrap();
        let got = copy
            .forward(&graph, &floats(&nodes), &floats(&edge_features))
            .unwrap();
        let (difference, scale) = largest_difference(&floats(&expected), &got);
        assert!(scale > 1.0, "{scale}");
        assert!(
            difference < 1e-5 * scale,
            "{config:?}: {difference} of {scale}"
        );
        // Without normalisers, the latent edges in the caller's order.
        let (_, expected_edges) = tch::no_grad(|| {
            net.process(&nodes, &edge_features, &index(&senders), &index(&receivers))
        });
        let (_, got_edges) = Network::new(&net, None)
            .unwrap()
            .process(&graph, &floats(&nodes), &floats(&edge_features))
            .unwrap();
        let (difference, scale) = largest_difference(&floats(&expected_edges), &got_edges);
        assert!(
            difference < 1e-5 * scale,
            "{config:?}: edges {difference} of {scale}"
        );
    }

    /// The largest difference of `got` from `expected`, and the largest
    /// size in `expected`.
    fn largest_difference(expected: &[f32], got: &[f32]) -> (f32, f32) {
        let scale = expected.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        let difference = expected
            .iter()
            .zip(got)
            .fold(0.0f32, |a, (x, y)| a.max((x - y).abs()));
        (difference, scale)
    }

    #[test]
    fn a_latent_width_not_compiled_in_is_refused() {
        let vs = nn::VarStore::new(Device::Cpu);
        let config = GnnConfig {
            latent: 32,
            steps: 1,
            hidden_layers: 1,
        };
        let net = EncodeProcessDecode::new(vs.root() / "net", 2, 2, 1, &config);
        let norms = GraphNormalizers::new(&vs.root(), 2, 2, 1);
        let error = Network::new(&net, Some(&norms)).unwrap_err();
        assert!(error.to_string().contains("not 32"), "{error}");
    }

    #[test]
    fn a_graph_naming_a_missing_node_is_refused() {
        let error = ReceiverGraph::new(3, &[0, 1], &[1, 3]).unwrap_err();
        assert!(
            error.to_string().contains("node 3 of a graph of 3"),
            "{error}"
        );
    }
}
