//! Online normalisers (MeshGraphNets): per-feature mean and standard
//! deviation accumulated over the first training batches, then frozen.
//! The statistics are variables of the model's `VarStore` that the
//! optimiser does not train, so they are saved and loaded with the weights.

use tch::{nn, Kind, Tensor};

/// Per-feature statistics of a stream of `[rows, features]` tensors.
#[derive(Debug)]
pub struct Normalizer {
    count: Tensor,
    sum: Tensor,
    sum_squares: Tensor,
    /// Accumulate no more after this many rows (saved with the rest, so a
    /// loaded normaliser stays frozen).
    limit: Tensor,
}

/// Standard deviations below this are taken as this (constant features).
const MIN_STD: f64 = 1e-8;

impl Normalizer {
    /// A normaliser of `features` features under `path`, which stops
    /// accumulating after `max_rows` rows.
    pub fn new(path: nn::Path, features: i64, max_rows: f64) -> Self {
        let mut limit = path.zeros_no_train("limit", &[1]);
        tch::no_grad(|| {
            let _ = limit.fill_(max_rows);
        });
        Normalizer {
            count: path.zeros_no_train("count", &[1]),
            sum: path.zeros_no_train("sum", &[features]),
            sum_squares: path.zeros_no_train("sum_squares", &[features]),
            limit,
        }
    }

    /// Stops accumulating: the statistics are final.
    pub fn freeze(&mut self) {
        let rows = self.rows();
        tch::no_grad(|| {
            let _ = self.limit.fill_(rows);
        });
    }

    /// Adds the rows of `x` to the statistics (until frozen).
    pub fn accumulate(&mut self, x: &Tensor) {
        if self.rows() >= self.limit.double_value(&[0]) {
            return;
        }
        tch::no_grad(|| {
            let x = x.detach().to_kind(Kind::Float);
            self.count += x.size()[0] as f64;
            self.sum += x.sum_dim_intlist(0, false, Kind::Float);
            self.sum_squares += (&x * &x).sum_dim_intlist(0, false, Kind::Float);
        });
    }

    /// Rows accumulated so far.
    pub fn rows(&self) -> f64 {
        self.count.double_value(&[0])
    }

    /// Per-feature mean and standard deviation.
    pub(crate) fn mean_std(&self) -> (Tensor, Tensor) {
        let n = self.count.clamp_min(1.0);
        let mean = &self.sum / &n;
        let var = (&self.sum_squares / &n - &mean * &mean).clamp_min(0.0);
        (mean, var.sqrt().clamp_min(MIN_STD))
    }

    /// `(x - mean) / std`.
    pub fn normalize(&self, x: &Tensor) -> Tensor {
        let (mean, std) = self.mean_std();
        (x - mean) / std
    }

    /// `x std + mean`: back to physical units.
    pub fn denormalize(&self, x: &Tensor) -> Tensor {
        let (mean, std) = self.mean_std();
        x * std + mean
    }
}

/// The normalisers of a graph network: its node inputs, edge inputs and
/// outputs (variables `node_norm`, `edge_norm`, `output_norm` under the
/// path they are made on).
#[derive(Debug)]
pub struct GraphNormalizers {
    /// Of the node inputs.
    pub node: Normalizer,
    /// Of the edge inputs.
    pub edge: Normalizer,
    /// Of the outputs.
    pub output: Normalizer,
}

/// Rows a graph normaliser sees before it freezes, unless frozen earlier.
const GRAPH_ROWS: f64 = 1e7;

impl GraphNormalizers {
    /// Normalisers of `nodes` node, `edges` edge and `outputs` output
    /// features under `root`.
    pub fn new(root: &nn::Path, nodes: i64, edges: i64, outputs: i64) -> Self {
        GraphNormalizers {
            node: Normalizer::new(root / "node_norm", nodes, GRAPH_ROWS),
            edge: Normalizer::new(root / "edge_norm", edges, GRAPH_ROWS),
            output: Normalizer::new(root / "output_norm", outputs, GRAPH_ROWS),
        }
    }

    /// Adds a sample's node inputs, edge inputs and outputs (until frozen).
    pub fn accumulate(&mut self, nodes: &Tensor, edges: &Tensor, outputs: &Tensor) {
        self.node.accumulate(nodes);
        self.edge.accumulate(edges);
        self.output.accumulate(outputs);
    }

    /// Stops accumulating (done after the first training samples).
    pub fn freeze(&mut self) {
        self.node.freeze();
        self.edge.freeze();
        self.output.freeze();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn statistics_match_the_data_and_freeze() {
        let vs = nn::VarStore::new(Device::Cpu);
        let mut n = Normalizer::new(vs.root() / "n", 2, 4.0);
        let x = Tensor::from_slice(&[1.0f32, 10.0, 3.0, 10.0, 5.0, 10.0, 7.0, 10.0]).view([4, 2]);
        n.accumulate(&x);
        // Frozen after four rows: more data changes nothing.
        n.accumulate(&(x.shallow_clone() * 100.0));
        let z = n.normalize(&x);
        let mean = Vec::<f32>::try_from(z.mean_dim(0, false, Kind::Float)).unwrap();
        assert!(mean.iter().all(|m| m.abs() < 1e-6), "{mean:?}");
        // std of 1, 3, 5, 7 is sqrt(5); the constant column stays finite.
        let first = z.double_value(&[0, 0]);
        assert!((first + 3.0 / 5f64.sqrt()).abs() < 1e-5, "{first}");
        assert_eq!(z.double_value(&[2, 1]), 0.0);
        let back = n.denormalize(&z);
        assert!((back - x).abs().max().double_value(&[]) < 1e-5);
    }
}
