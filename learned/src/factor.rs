//! Learned preconditioners for conjugate gradients: a message-passing
//! network on the graph of a symmetric positive definite matrix (nodes:
//! unknowns; edges: off-diagonal nonzeros, both ways) predicts the values
//! of a lower-triangular `L` on the pattern of the matrix's lower triangle,
//! so that `M = L Lᵀ` is symmetric positive definite by construction (the
//! diagonal of `L` is an exponential, hence positive).
//!
//! The network sees the matrix after symmetric Jacobi scaling,
//! `Â = D^{-1/2} A D^{-1/2}` (unit diagonal), so one model serves any
//! scale; the caller scales the factor back, `L = D^{1/2} L̂`. Two kinds:
//!
//! - [`FactorKind::Ic0Correction`] (PreCorrector, Trifonov et al. 2024):
//!   `L̂ᵢᵢ = L̂₀ᵢᵢ·sᵢ` with `sᵢ = exp(α·tanh dᵢ)` on the diagonal and
//!   `L̂ᵢⱼ = L̂₀ᵢⱼ·(1 + α·tanh eᵢⱼ)/sⱼ` below it (a pivot scaled by `s`
//!   scales its column by `1/s`, as refactorising would), where `L̂₀` is
//!   the base factor of `Â` ([`FactorBase`]: IC(0), or modified IC(0))
//!   and `α`, a learned scalar, starts at 0: the untrained model is its
//!   base exactly.
//! - [`FactorKind::Factor`] (NeuralIF, Häusner et al. 2024; Li et al.
//!   2023): every value predicted, around the symmetric Gauss–Seidel
//!   factor `I + tril(Â)`: `L̂ᵢᵢ = pᵢ = exp(½ tanh dᵢ)` and
//!   `L̂ᵢⱼ = âᵢⱼ·(1 + tanh eᵢⱼ)/pⱼ`.
//!
//! `d` and `e` are the network's node and edge outputs; the bounds keep
//! every factor, trained or not, within a constant of its base.
//!
//! Two losses: the stochastic Frobenius loss `‖(L̂L̂ᵀ − Â) z‖²` over Gaussian
//! probes `z` (Hutchinson's estimate of `‖L̂L̂ᵀ − Â‖²_F`, which needs only
//! matrix–vector products), and the solution-weighted loss of Li et al.,
//! `‖L̂L̂ᵀ x̂ − b̂‖²`, here over several smooth probes (the system's solution
//! and solutions for random right-hand sides: with one vector the factor
//! learns that vector and CG gets slower, measured), each relative to the
//! same product with `Â` alone. The factor is composed in `f64` from the
//! network's `f32` outputs, so that `α = 0` reproduces the base to
//! round-off.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, VarStore};
use tch::{Device, Kind, Tensor};

use crate::error::LearnedError;
use crate::files::{load_weights, read_model_config, save_model};
use crate::gnn::{EncodeProcessDecode, GnnConfig, Mlp};
use crate::inference::{Network, ReceiverGraph};
use crate::train::Trainable;

/// Which values the network predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorKind {
    /// A learned correction of the base factor (IC(0) or MIC(0)), zero
    /// at the start (PreCorrector).
    Ic0Correction,
    /// Every value of the factor (NeuralIF).
    Factor,
}

/// The incomplete Cholesky factor a model starts from (its features, and
/// the factor an `ic0_correction` corrects).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorBase {
    /// IC(0).
    #[default]
    Ic0,
    /// Modified IC(0), the dropped fill moved to the diagonal (the
    /// classical remedy on structured grids).
    Mic0,
}

impl FactorBase {
    /// Its name in messages: `IC(0)` or `MIC(0)`.
    pub fn label(self) -> &'static str {
        match self {
            FactorBase::Ic0 => "IC(0)",
            FactorBase::Mic0 => "MIC(0)",
        }
    }
}

/// What a factor model is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactorConfig {
    /// Which values the network predicts.
    pub kind: FactorKind,
    /// The factor it starts from. Default IC(0).
    #[serde(default)]
    pub base: FactorBase,
    /// The network. Defaults: latent 128, 15 message-passing steps.
    #[serde(default)]
    pub gnn: GnnConfig,
}

impl FactorConfig {
    /// The configuration of the model saved in folder `dir`.
    pub fn read(dir: &Path) -> Result<Self, LearnedError> {
        read_model_config(dir, "preconditioner model")
    }
}

/// Features per node: the base factor's diagonal, the row sum of `Â`, the
/// base's row-sum defect `((L̂₀L̂₀ᵀ − Â) 1)ᵢ` (for IC(0) the fill it drops,
/// which modified IC adds back to the diagonal), the log of the unscaled diagonal relative to its
/// mean, the number of neighbours / 10.
const NODE_FEATURES: i64 = 5;
/// Features per directed edge: `âᵢⱼ`, the base factor's value, and +1 for an edge
/// from a lower to a higher unknown (−1 the other way).
const EDGE_FEATURES: i64 = 3;

/// The lower triangle of a Jacobi-scaled SPD matrix `Â` (rows sorted, each
/// row's diagonal last), what the network reads and the factor lives on.
#[derive(Clone, Debug, PartialEq)]
pub struct LowerSystem {
    /// Offsets of the rows into `cols` (`n + 1`).
    pub row_ptr: Vec<usize>,
    /// Column of each entry.
    pub cols: Vec<usize>,
    /// `âᵢⱼ` of each entry (1 on the diagonal).
    pub values: Vec<f64>,
    /// The base factor of `Â` (IC(0) or MIC(0)) on the same entries.
    pub base: Vec<f64>,
    /// `ln dᵢ − mean(ln d)` per row, `d` the unscaled diagonal (where the
    /// coefficients jump).
    pub log_diagonal: Vec<f64>,
}

impl LowerSystem {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.row_ptr.len() - 1
    }

    fn check(&self) -> Result<(), LearnedError> {
        let (n, nnz) = (self.rows(), self.cols.len());
        if self.values.len() != nnz || self.base.len() != nnz || self.log_diagonal.len() != n {
            return Err(LearnedError::Shape(format!(
                "a lower system of {n} rows and {nnz} entries has {} values, {} base values \
                 and {} diagonal logs",
                self.values.len(),
                self.base.len(),
                self.log_diagonal.len()
            )));
        }
        for i in 0..n {
            let (a, b) = (self.row_ptr[i], self.row_ptr[i + 1]);
            if b <= a || self.cols[b - 1] != i || self.cols[a..b - 1].iter().any(|&j| j >= i) {
                return Err(LearnedError::Shape(format!(
                    "row {i} of the lower system must end with its diagonal and hold only \
                     columns below it"
                )));
            }
        }
        Ok(())
    }
}

/// A [`LowerSystem`] as tensors on a device.
#[derive(Debug)]
pub struct SystemTensors {
    /// Number of unknowns.
    pub n: usize,
    /// Row of each lower entry (`i64`).
    rows: Tensor,
    /// Column of each lower entry (`i64`).
    cols: Tensor,
    /// Positions of the diagonal entries, and of the off-diagonal ones.
    diagonal: Tensor,
    off_diagonal: Tensor,
    /// The column of each off-diagonal entry.
    off_diagonal_cols: Tensor,
    /// `[E]` end nodes of the directed edges: off-diagonal entry `k` gives
    /// edges `2k` (column to row) and `2k + 1` (row to column).
    senders: Tensor,
    receivers: Tensor,
    node_features: Tensor,
    edge_features: Tensor,
    /// The same graph and features for fused CPU inference.
    graph: ReceiverGraph,
    node_values: Vec<f32>,
    edge_values: Vec<f32>,
    /// `âᵢⱼ` and the base factor on the lower entries, `f64`.
    values: Tensor,
    base: Tensor,
}

fn index_tensor(v: impl IntoIterator<Item = usize>, device: Device) -> Tensor {
    let v: Vec<i64> = v.into_iter().map(|i| i as i64).collect();
    Tensor::from_slice(&v).to_device(device)
}

fn float_matrix(v: &[f32], cols: i64, device: Device) -> Tensor {
    Tensor::from_slice(v).view([-1, cols]).to_device(device)
}

impl SystemTensors {
    /// The tensors of `system` on `device`.
    pub fn new(system: &LowerSystem, device: Device) -> Result<Self, LearnedError> {
        system.check()?;
        let n = system.rows();
        let mut rows = Vec::with_capacity(system.cols.len());
        for i in 0..n {
            rows.extend(std::iter::repeat_n(
                i,
                system.row_ptr[i + 1] - system.row_ptr[i],
            ));
        }
        let diagonal: Vec<usize> = (1..=n).map(|i| system.row_ptr[i] - 1).collect();
        let off: Vec<usize> = (0..system.cols.len())
            .filter(|&k| system.cols[k] != rows[k])
            .collect();
        let mut row_sum = vec![0.0; n];
        let mut degree = vec![0usize; n];
        for (k, (&i, &j)) in rows.iter().zip(&system.cols).enumerate() {
            row_sum[i] += system.values[k];
            if i != j {
                row_sum[j] += system.values[k];
                degree[i] += 1;
                degree[j] += 1;
            }
        }
        // (L̂₀L̂₀ᵀ 1)ᵢ: y = L̂₀ᵀ 1, then L̂₀ y.
        let mut y = vec![0.0; n];
        for (k, &j) in system.cols.iter().enumerate() {
            y[j] += system.base[k];
        }
        let mut defect: Vec<f64> = row_sum.iter().map(|r| -r).collect();
        for (k, (&i, &j)) in rows.iter().zip(&system.cols).enumerate() {
            defect[i] += system.base[k] * y[j];
        }
        let nodes: Vec<f32> = (0..n)
            .flat_map(|i| {
                [
                    system.base[diagonal[i]],
                    row_sum[i],
                    defect[i],
                    system.log_diagonal[i],
                    degree[i] as f64 / 10.0,
                ]
                .map(|v| v as f32)
            })
            .collect();
        let (mut senders, mut receivers, mut edges) = (Vec::new(), Vec::new(), Vec::new());
        for &k in &off {
            let (i, j) = (rows[k], system.cols[k]);
            let (a, l) = (system.values[k] as f32, system.base[k] as f32);
            senders.extend([j, i]);
            receivers.extend([i, j]);
            edges.extend([a, l, 1.0, a, l, -1.0]);
        }
        let graph = ReceiverGraph::new(n, &senders, &receivers)?;
        Ok(SystemTensors {
            n,
            rows: index_tensor(rows, device),
            cols: index_tensor(system.cols.iter().copied(), device),
            diagonal: index_tensor(diagonal, device),
            off_diagonal_cols: index_tensor(off.iter().map(|&k| system.cols[k]), device),
            off_diagonal: index_tensor(off, device),
            senders: index_tensor(senders, device),
            receivers: index_tensor(receivers, device),
            node_features: float_matrix(&nodes, NODE_FEATURES, device),
            edge_features: float_matrix(&edges, EDGE_FEATURES, device),
            graph,
            node_values: nodes,
            edge_values: edges,
            values: Tensor::from_slice(&system.values).to_device(device),
            base: Tensor::from_slice(&system.base).to_device(device),
        })
    }

    /// `L Lᵀ z` for a factor `l` on the lower entries (`[nnz]`) and probes
    /// `z` (`[n, k]`), by gathers and `index_add` (differentiable).
    pub fn apply_factor(&self, l: &Tensor, z: &Tensor) -> Tensor {
        let l = l.unsqueeze(1);
        // y = Lᵀ z: entry (i, j) adds L_ij z_i to y_j.
        let y = z
            .zeros_like()
            .index_add(0, &self.cols, &(&l * z.index_select(0, &self.rows)));
        z.zeros_like()
            .index_add(0, &self.rows, &(&l * y.index_select(0, &self.cols)))
    }

    /// `Â z` for probes `z` (`[n, k]`).
    pub fn apply_matrix(&self, z: &Tensor) -> Tensor {
        let a = self.values.unsqueeze(1);
        let lower = z
            .zeros_like()
            .index_add(0, &self.rows, &(&a * z.index_select(0, &self.cols)));
        let a_off = a.index_select(0, &self.off_diagonal);
        let rows_off = self.rows.index_select(0, &self.off_diagonal);
        let cols_off = self.cols.index_select(0, &self.off_diagonal);
        lower.index_add(0, &cols_off, &(&a_off * z.index_select(0, &rows_off)))
    }

    /// Hutchinson's estimate of `‖L Lᵀ − Â‖²_F` from probes `z` (`[n, k]`,
    /// entries of zero mean and unit variance): the mean of
    /// `‖(L Lᵀ − Â) z_k‖²`.
    pub fn frobenius_estimate(&self, l: &Tensor, z: &Tensor) -> Tensor {
        let residual = self.apply_factor(l, z) - self.apply_matrix(z);
        residual.square().sum(Kind::Double) / z.size()[1] as f64
    }
}

/// The vectors a training step compares `L̂L̂ᵀ` and `Â` on.
#[derive(Debug)]
pub enum FactorLoss<'a> {
    /// This many fresh Gaussian probes (the stochastic Frobenius loss).
    Frobenius(i64),
    /// Given probes `[n, k]` (`f64`): the system's scaled solution and
    /// solutions for random right-hand sides, smooth vectors like the
    /// errors CG is slow to remove (the solution-weighted loss).
    Probes(&'a Tensor),
}

/// A learned factor: the network and its weights.
pub struct FactorModel {
    /// Its configuration.
    pub config: FactorConfig,
    /// The weights.
    pub vs: VarStore,
    net: EncodeProcessDecode,
    edge_decoder: Mlp,
    /// `α` of a correction of the base (starts at 0).
    alpha: Tensor,
}

impl FactorModel {
    /// A new (untrained) model on `device`.
    pub fn new(config: FactorConfig, device: Device) -> Self {
        let vs = VarStore::new(device);
        let root = vs.root();
        let net =
            EncodeProcessDecode::new(&root / "net", NODE_FEATURES, EDGE_FEATURES, 1, &config.gnn);
        let latent = config.gnn.latent;
        let edge_decoder = Mlp::new(&root / "edge_decoder", 2 * latent, 1, &config.gnn, false);
        let alpha = root.var("alpha", &[1], nn::Init::Const(0.0));
        FactorModel {
            config,
            vs,
            net,
            edge_decoder,
            alpha,
        }
    }

    /// The factor `L̂` of a system (`[nnz]`, `f64`, on the lower entries).
    pub fn factor(&self, s: &SystemTensors) -> Tensor {
        let (v, e) = self
            .net
            .process(&s.node_features, &s.edge_features, &s.senders, &s.receivers);
        let d = self.net.decode(&v).squeeze_dim(1).to_kind(Kind::Double);
        self.compose(s, &d, &e)
    }

    /// The factor from the node outputs `d` (`[n]`, `f64`) and the latent
    /// edges `e` (`[edges, latent]`).
    fn compose(&self, s: &SystemTensors, d: &Tensor, e: &Tensor) -> Tensor {
        // Both directions of an entry's edge, side by side.
        let pairs = e.view([-1, 2 * self.config.gnn.latent]);
        let off = self
            .edge_decoder
            .forward(&pairs)
            .squeeze_dim(1)
            .to_kind(Kind::Double);
        let (diagonal, off_values) = match self.config.kind {
            // Corrections are bounded (tanh), so that whatever the weights
            // the factor stays within a factor of its base: an SPD factor
            // can still be too ill-conditioned for CG in floating point
            // (measured: unbounded random corrections made CG diverge).
            FactorKind::Ic0Correction => {
                let alpha = self.alpha.to_kind(Kind::Double);
                let scale = (&alpha * d.tanh()).exp();
                // A pivot scaled by sⱼ scales the entries below it by
                // 1/sⱼ, as refactorising with that pivot would.
                let below = scale.index_select(0, &s.off_diagonal_cols);
                (
                    s.base.index_select(0, &s.diagonal) * &scale,
                    s.base.index_select(0, &s.off_diagonal) * (alpha * off.tanh() + 1.0) / below,
                )
            }
            // Around the symmetric Gauss–Seidel factor of Â, I + tril(Â).
            FactorKind::Factor => {
                let pivots = (d.tanh() * 0.5).exp();
                let below = pivots.index_select(0, &s.off_diagonal_cols);
                (
                    pivots,
                    s.values.index_select(0, &s.off_diagonal) * (off.tanh() + 1.0) / below,
                )
            }
        };
        s.values
            .zeros_like()
            .index_copy(0, &s.diagonal, &diagonal)
            .index_copy(0, &s.off_diagonal, &off_values)
    }

    /// The factor's values, `f64`, without gradients (inference): the
    /// message passing fused on the CPU where [`Network`] runs the model's
    /// width (the factor to `f32` rounding of the network's outputs), else
    /// through libtorch.
    pub fn factor_values(&self, s: &SystemTensors) -> Vec<f64> {
        let l = tch::no_grad(|| self.fused_factor(s).unwrap_or_else(|| self.factor(s)))
            .to_device(Device::Cpu);
        Vec::<f64>::try_from(&l).unwrap_or_default()
    }

    /// [`FactorModel::factor`] with the message passing fused, for a model
    /// on the CPU of a width [`Network`] runs; `None` otherwise.
    fn fused_factor(&self, s: &SystemTensors) -> Option<Tensor> {
        if self.vs.device() != Device::Cpu {
            return None;
        }
        let network = Network::new(&self.net, None).ok()?;
        let (v, e) = network
            .process(&s.graph, &s.node_values, &s.edge_values)
            .ok()?;
        let d: Vec<f64> = network.decode(&v).into_iter().map(f64::from).collect();
        let e = Tensor::from_slice(&e).view([s.graph.edges() as i64, -1]);
        Some(self.compose(s, &Tensor::from_slice(&d), &e))
    }

    /// `α` of a correction of the base.
    pub fn alpha(&self) -> f64 {
        self.alpha.double_value(&[0])
    }

    /// Sets `α` (0: the model is its base exactly, a control).
    pub fn set_alpha(&mut self, alpha: f64) {
        tch::no_grad(|| {
            let _ = self.alpha.fill_(alpha);
        });
    }

    /// The training loss of one system: `ln(‖(L̂L̂ᵀ − Â) Z‖² / ‖Â Z‖²)` over
    /// the probes `Z` (the logarithm, so that every system counts by its
    /// relative improvement, whatever its conditioning).
    pub fn loss(&self, s: &SystemTensors, loss: &FactorLoss) -> Tensor {
        let l = self.factor(s);
        let z = match loss {
            FactorLoss::Frobenius(probes) => {
                Tensor::randn([s.n as i64, *probes], (Kind::Double, self.vs.device()))
            }
            FactorLoss::Probes(z) => z.shallow_clone(),
        };
        let reference = s.apply_matrix(&z);
        let residual = s.apply_factor(&l, &z) - &reference;
        (residual.square().sum(Kind::Double) / reference.square().sum(Kind::Double)).log()
    }

    /// Saves the model into directory `dir`: `model.json` and
    /// `weights.safetensors`.
    pub fn save(&self, dir: &Path) -> Result<(), LearnedError> {
        save_model(dir, &self.config, &self.vs)
    }

    /// Loads a model saved by [`FactorModel::save`] onto `device`.
    pub fn load(dir: &Path, device: Device) -> Result<Self, LearnedError> {
        let mut model = FactorModel::new(FactorConfig::read(dir)?, device);
        load_weights(&mut model.vs, dir)?;
        Ok(model)
    }
}

impl Trainable for FactorModel {
    fn var_store(&self) -> &VarStore {
        &self.vs
    }
    fn save_into(&self, dir: &Path) -> Result<(), LearnedError> {
        self.save(dir)
    }
}
