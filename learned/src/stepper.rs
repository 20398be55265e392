//! A learned time stepper (MeshGraphNets): from the state at the nodes of a
//! mesh (e.g. the velocity) and the node types, an encode–process–decode
//! network predicts the change over one step. A model may read a window of
//! successive states (MP-PDE's time window): it then sees the current state
//! and its backward differences, and predicts the correction to the
//! polynomial extrapolation through them (linear for two states), a much
//! smaller quantity than the change itself. A model may also predict a
//! bundle of `K` successive steps in one forward pass (MP-PDE's temporal
//! bundling): `K` corrections, each to the extrapolation that many steps
//! ahead, for a `K`-th of the network's cost per step. Inputs, edge features and
//! outputs are normalised online; training adds noise to the input state
//! (and asks for the step from the noisy state, so that the model learns to
//! correct its own errors in rollouts) and ignores masked nodes (whose
//! values boundary conditions set).

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use crate::error::LearnedError;
use crate::extrapolation;
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
    /// How many successive states it reads, the current one last: 1 (the
    /// default) predicts the change from the current state; `m > 1`
    /// predicts the correction to the extrapolation of degree `m − 1`
    /// through the `m` states (see [`crate::extrapolation::weights`]).
    #[serde(default = "window_default", skip_serializing_if = "is_single")]
    pub window: usize,
    /// How a window of more than one state is shown to the network
    /// ([`StepperConfig::with_window`] sets it); a window model without it
    /// was made by an earlier version and is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_inputs: Option<WindowInputs>,
    /// How many successive steps one forward pass predicts (temporal
    /// bundling), 1 (the default) to [`MAX_BUNDLE`].
    #[serde(default = "window_default", skip_serializing_if = "is_single")]
    pub bundle: usize,
    /// Whether it also reads the step's residual: the residual of the
    /// step's discrete equations at the extrapolation of the window, per
    /// node, laid out as a state (the solver that checks the step
    /// computes it; it shows what the extrapolation leaves, errors of the
    /// history included, as the step's own equations see it). Default
    /// false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub step_residual: bool,
}

/// The network's view of a window of states besides the current state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowInputs {
    /// The backward differences `∇x_n, ∇²x_n, …` of the current state
    /// (`∇x_n = x_n − x_{n−1}`). The error of a state a run accepted
    /// (which the next step must answer as the classical step would) sits
    /// in all of them, while the higher differences of a smooth trajectory
    /// are small: normalised, they show it at the scale of the other
    /// inputs. (Models that saw the changes between successive states
    /// instead had to cancel them against each other to find it.)
    BackwardDifferences,
    /// The current state alone (a window of two): the network predicts the
    /// correction to `(4 x_n − x_{n−1}) / 3`, the part of the BDF2 step
    /// that its mass terms make, i.e. `2/3 dt` times the time derivative
    /// the step solves for. An error in the history then moves the
    /// prediction by BDF2's own weights (4/3 of an error in `x_n`, −1/3 of
    /// one in `x_{n−1}`) and by what the network makes of it as a state,
    /// not by the twice that linear extrapolation through `∇x_n` would.
    Bdf2,
}

fn window_default() -> usize {
    1
}

fn is_single(window: &usize) -> bool {
    *window == 1
}

pub use crate::extrapolation::{MAX_BUNDLE, MAX_WINDOW};

impl StepperConfig {
    /// The same model reading `window` successive states.
    pub fn with_window(mut self, window: usize) -> Self {
        self.window = window;
        self.window_inputs = (window > 1).then_some(WindowInputs::BackwardDifferences);
        self
    }

    /// Features per node of the network's input: the state, its backward
    /// differences through the window, the step residual if it reads it,
    /// and the one-hot node type.
    fn node_inputs(&self) -> i64 {
        let residual = usize::from(self.step_residual);
        (self.fields.len() * (self.state_columns() + residual) + self.type_groups.len() + 1) as i64
    }

    /// How many state-sized columns of the window the network reads: the
    /// current state and its backward differences, or the current state
    /// alone ([`WindowInputs::Bdf2`]).
    fn state_columns(&self) -> usize {
        match self.window_inputs {
            Some(WindowInputs::Bdf2) => 1,
            _ => self.window,
        }
    }

    /// The weights `w` (oldest state first) of the base `Σ w_j x_j` the
    /// network's correction is added to, `ahead` steps after the window:
    /// the polynomial extrapolation through the window
    /// ([`extrapolation::weights_ahead`]), or BDF2's mass terms
    /// ([`WindowInputs::Bdf2`], one step ahead).
    pub fn base_weights(&self, ahead: usize) -> Vec<f64> {
        match self.window_inputs {
            Some(WindowInputs::Bdf2) => vec![-1.0 / 3.0, 4.0 / 3.0],
            _ => extrapolation::weights_ahead(self.window, ahead),
        }
    }

    /// Values per node of the network's output: the fields at each step of
    /// the bundle.
    fn outputs(&self) -> i64 {
        (self.fields.len() * self.bundle) as i64
    }

    /// An error unless the window is 1 to [`MAX_WINDOW`], shown as this
    /// version shows it, and the bundle 1 to [`MAX_BUNDLE`].
    pub fn validate(&self) -> Result<(), LearnedError> {
        if !(1..=MAX_BUNDLE).contains(&self.bundle) {
            return Err(LearnedError::Shape(format!(
                "bundle {}: a stepper predicts 1 to {MAX_BUNDLE} steps per forward pass",
                self.bundle
            )));
        }
        if !(1..=MAX_WINDOW).contains(&self.window) {
            return Err(LearnedError::Shape(format!(
                "window {}: a stepper reads 1 to {MAX_WINDOW} successive states",
                self.window
            )));
        }
        if self.window > 1 && self.window_inputs.is_none() {
            return Err(LearnedError::Shape(format!(
                "window {}: the model was made by an earlier version, which showed the \
                 network the changes between successive states (now their backward \
                 differences, `window_inputs`); train it again",
                self.window
            )));
        }
        if self.window == 1 && self.window_inputs.is_some() {
            return Err(LearnedError::Shape(
                "window 1: `window_inputs` is for a window of two or more states".into(),
            ));
        }
        if self.window_inputs == Some(WindowInputs::Bdf2) && (self.window, self.bundle) != (2, 1) {
            return Err(LearnedError::Shape(format!(
                "window {}, bundle {}: a model on BDF2's base reads a window of 2 and \
                 predicts one step per forward pass",
                self.window, self.bundle
            )));
        }
        Ok(())
    }
}

/// `Σ w_j x_j` over a window of states: their extrapolation `ahead` steps
/// ahead.
pub(crate) fn extrapolate(states: &[&Tensor], ahead: usize) -> Tensor {
    combine(states, &extrapolation::weights_ahead(states.len(), ahead))
}

/// `Σ w_j x_j` over a window of states.
fn combine(states: &[&Tensor], weights: &[f64]) -> Tensor {
    let mut sum = states[0] * weights[0];
    for (x, w) in states.iter().zip(weights).skip(1) {
        sum += *x * *w;
    }
    sum
}

/// A training sample of a stepper on one graph.
#[derive(Clone, Copy)]
pub struct StepSample<'a> {
    /// The window of states, the current one last.
    pub states: &'a [&'a Tensor],
    /// The step residual, for a model that reads it.
    pub residual: Option<&'a Tensor>,
    /// The states that follow (1 to [`LearnedStepper::bundle`] of them;
    /// steps of the bundle past them are not counted).
    pub next: &'a [&'a Tensor],
    /// 1 where the loss counts the value, 0 where not (`[N, fields]`).
    pub mask: &'a Tensor,
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
        let (node_inputs, outputs) = (config.node_inputs(), config.outputs());
        let net = EncodeProcessDecode::new(&root / "net", node_inputs, 4, outputs, &config.gnn);
        let norms = GraphNormalizers::new(&root, node_inputs, 4, outputs);
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

    /// How many successive states it reads ([`StepperConfig::window`]).
    pub fn window(&self) -> usize {
        self.config.window
    }

    /// How many steps one forward pass predicts ([`StepperConfig::bundle`]).
    pub fn bundle(&self) -> usize {
        self.config.bundle
    }

    /// The base the network corrects `ahead` steps after the window
    /// ([`StepperConfig::base_weights`]).
    fn base(&self, states: &[&Tensor], ahead: usize) -> Tensor {
        combine(states, &self.config.base_weights(ahead))
    }

    /// The bases the bundle's corrections `correction` (`[N, bundle ×
    /// fields]`) are added to, and so the states it predicts.
    fn corrected(&self, states: &[&Tensor], correction: &Tensor) -> Vec<Tensor> {
        let fields = self.config.fields.len() as i64;
        (0..self.config.bundle)
            .map(|k| self.base(states, k + 1) + correction.narrow(1, k as i64 * fields, fields))
            .collect()
    }

    fn check(
        &self,
        graph: &GraphTensors,
        states: &[&Tensor],
        residual: Option<&Tensor>,
    ) -> Result<(), LearnedError> {
        let fields = self.config.fields.len() as i64;
        let types = self.config.type_groups.len() as i64 + 1;
        self.config.validate()?;
        if states.len() != self.config.window {
            return Err(LearnedError::Shape(format!(
                "{} states given; the model reads a window of {}",
                states.len(),
                self.config.window
            )));
        }
        match (self.config.step_residual, residual.is_some()) {
            (true, false) => {
                return Err(LearnedError::Shape(
                    "the model reads the step residual; none was given".into(),
                ))
            }
            (false, true) => {
                return Err(LearnedError::Shape(
                    "a step residual was given; the model does not read one".into(),
                ))
            }
            _ => {}
        }
        if let Some(state) = states
            .iter()
            .chain(residual.as_ref())
            .find(|s| s.size() != [graph.num_nodes as i64, fields])
        {
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

    /// The network's node inputs: the current state, its backward
    /// differences `∇x_n, ∇²x_n, …` through the window (unless it reads the
    /// current state alone), the step residual (for a model that reads it),
    /// the node types.
    fn node_inputs(
        &self,
        graph: &GraphTensors,
        states: &[&Tensor],
        residual: Option<&Tensor>,
    ) -> Tensor {
        let mut columns: Vec<Tensor> = vec![states[states.len() - 1].shallow_clone()];
        let mut level: Vec<Tensor> = states.iter().map(|x| x.shallow_clone()).collect();
        while level.len() > 1 && columns.len() < self.config.state_columns() {
            level = level.windows(2).map(|pair| &pair[1] - &pair[0]).collect();
            columns.push(level[level.len() - 1].shallow_clone());
        }
        columns.extend(residual.map(Tensor::shallow_clone));
        columns.push(graph.node_types.shallow_clone());
        Tensor::cat(&columns, 1)
    }

    /// The normalised correction predicted by the network.
    fn forward(
        &self,
        graph: &GraphTensors,
        states: &[&Tensor],
        residual: Option<&Tensor>,
    ) -> Tensor {
        let nodes = self.node_inputs(graph, states, residual);
        self.net.forward(
            &self.norms.node.normalize(&nodes),
            &self.norms.edge.normalize(&graph.edge_features),
            &graph.senders,
            &graph.receivers,
        )
    }

    /// The states of the [`LearnedStepper::bundle`] steps after the window
    /// `states` (each `[N, fields]`, the current one last; as many as
    /// [`LearnedStepper::window`]), predicted, the next one first; with the
    /// step's `residual` (`[N, fields]`) for a model that reads it
    /// ([`StepperConfig::step_residual`]), `None` for one that does not.
    pub fn predict(
        &self,
        graph: &GraphTensors,
        states: &[&Tensor],
        residual: Option<&Tensor>,
    ) -> Result<Vec<Tensor>, LearnedError> {
        self.check(graph, states, residual)?;
        Ok(tch::no_grad(|| {
            let forward = self.forward(graph, states, residual);
            let correction = self.norms.output.denormalize(&forward);
            self.corrected(states, &correction)
        }))
    }

    /// The stepper on `graph` for fused CPU inference (a copy of the
    /// weights; [`FusedStepper::predict`] computes [`LearnedStepper::predict`]'s
    /// values to `f32` rounding); an error for a graph of other node types
    /// or a latent width fused inference does not run.
    pub fn fused(&self, graph: &MeshGraph) -> Result<FusedStepper, LearnedError> {
        self.config.validate()?;
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
            window: self.config.window,
            state_columns: self.config.state_columns(),
            base_weights: (1..=self.config.bundle)
                .map(|k| self.config.base_weights(k))
                .collect(),
            step_residual: self.config.step_residual,
        })
    }

    /// The training loss of `sample`: the mean squared error of the
    /// normalised corrections over the values where its mask is 1, with
    /// Gaussian noise of standard deviation `noise` added to those values
    /// of each input state. While `accumulate` holds, samples with the
    /// whole bundle also feed the normalisers.
    pub fn loss(
        &mut self,
        graph: &GraphTensors,
        sample: &StepSample,
        noise: f64,
        accumulate: bool,
    ) -> Result<Tensor, LearnedError> {
        let StepSample {
            states,
            residual,
            next,
            mask,
        } = *sample;
        self.check(graph, states, residual)?;
        let bundle = self.config.bundle;
        if next.is_empty() || next.len() > bundle {
            return Err(LearnedError::Shape(format!(
                "{} following states given; the model predicts {bundle} per pass",
                next.len()
            )));
        }
        if let Some(state) = next.iter().find(|s| s.size() != mask.size()) {
            return Err(LearnedError::Shape(format!(
                "the mask is {:?}; the state is {:?}",
                mask.size(),
                state.size()
            )));
        }
        let mask = mask.to_kind(Kind::Float);
        let noisy: Vec<Tensor> = states.iter().map(|s| with_noise(s, &mask, noise)).collect();
        let noisy: Vec<&Tensor> = noisy.iter().collect();
        // Steps of the bundle without a state to compare with get a zero
        // target and weight.
        let (targets, weights): (Vec<Tensor>, Vec<Tensor>) = (0..bundle)
            .map(|k| match next.get(k) {
                Some(x) => (*x - self.base(&noisy, k + 1), mask.shallow_clone()),
                None => (mask.zeros_like(), mask.zeros_like()),
            })
            .unzip();
        let (target, weight) = (Tensor::cat(&targets, 1), Tensor::cat(&weights, 1));
        if accumulate && next.len() == bundle {
            self.norms.accumulate(
                &self.node_inputs(graph, &noisy, residual),
                &graph.edge_features,
                &target,
            );
        }
        let error =
            (self.forward(graph, &noisy, residual) - self.norms.output.normalize(&target)).square();
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
        config.validate().map_err(|e| LearnedError::Config {
            path: dir.join("model.json"),
            message: e.to_string(),
        })?;
        let mut model = LearnedStepper::new(config, device);
        load_weights(&mut model.vs, dir)?;
        Ok(model)
    }
}

/// `state` with Gaussian noise of standard deviation `noise` on the values
/// where `mask` is 1 (MeshGraphNets' noise injection). Values boundary
/// conditions set are exact in every run, so they get none: the model need
/// not learn to undo noise there.
fn with_noise(state: &Tensor, mask: &Tensor, noise: f64) -> Tensor {
    if noise > 0.0 {
        state + state.randn_like() * mask * noise
    } else {
        state.shallow_clone()
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
    window: usize,
    /// [`StepperConfig::state_columns`].
    state_columns: usize,
    /// [`StepperConfig::base_weights`] of each step of the bundle.
    base_weights: Vec<Vec<f64>>,
    step_residual: bool,
}

impl FusedStepper {
    /// How many successive states it reads.
    pub fn window(&self) -> usize {
        self.window
    }

    /// Whether it reads the step residual.
    pub fn reads_step_residual(&self) -> bool {
        self.step_residual
    }

    /// The states of the bundle's steps after the window `states` (each
    /// `[nodes, fields]`, row-major, the current one last), the next one
    /// first; with the step's `residual` (laid out as a state) for a model
    /// that reads it, `None` for one that does not.
    pub fn predict(
        &self,
        states: &[&[f64]],
        residual: Option<&[f64]>,
    ) -> Result<Vec<Vec<f64>>, LearnedError> {
        let nodes = self.receivers.nodes();
        let width = self.fields;
        if states.len() != self.window {
            return Err(LearnedError::Shape(format!(
                "{} states given; the model reads a window of {}",
                states.len(),
                self.window
            )));
        }
        if self.step_residual != residual.is_some() {
            return Err(LearnedError::Shape(format!(
                "the model {} the step residual; {} given",
                if self.step_residual {
                    "reads"
                } else {
                    "does not read"
                },
                if residual.is_some() {
                    "one was"
                } else {
                    "none was"
                }
            )));
        }
        if let Some(state) = states
            .iter()
            .chain(residual.as_ref())
            .find(|s| s.len() != nodes * width)
        {
            return Err(LearnedError::Shape(format!(
                "{} state values; the model expects {nodes} nodes × {width} fields",
                state.len()
            )));
        }
        let types = self.node_types.len() / nodes.max(1);
        let current = states[states.len() - 1];
        // Per node, as LearnedStepper's node inputs: the state, its
        // backward differences, the node type; rounded as libtorch's f32
        // would.
        let mut level: Vec<Vec<f32>> = states
            .iter()
            .map(|x| x.iter().map(|&v| v as f32).collect())
            .collect();
        let mut differences = Vec::with_capacity(self.window - 1);
        while level.len() > 1 && differences.len() + 1 < self.state_columns {
            level = level
                .windows(2)
                .map(|pair| pair[1].iter().zip(&pair[0]).map(|(a, b)| a - b).collect())
                .collect();
            differences.push(level[level.len() - 1].clone());
        }
        let columns = self.state_columns + usize::from(self.step_residual);
        let mut inputs = Vec::with_capacity(nodes * (width * columns + types));
        for (n, t) in self.node_types.chunks_exact(types).enumerate() {
            let row = n * width..(n + 1) * width;
            inputs.extend(current[row.clone()].iter().map(|&v| v as f32));
            for difference in &differences {
                inputs.extend_from_slice(&difference[row.clone()]);
            }
            if let Some(r) = residual {
                inputs.extend(r[row.clone()].iter().map(|&v| v as f32));
            }
            inputs.extend_from_slice(t);
        }
        let correction = self
            .network
            .forward(&self.receivers, &inputs, &self.edges)?;
        let outputs = width * self.base_weights.len();
        Ok(self
            .base_weights
            .iter()
            .enumerate()
            .map(|(k, weights)| {
                (0..nodes * width)
                    .map(|i| {
                        let base: f32 = states
                            .iter()
                            .zip(weights)
                            .map(|(s, &w)| s[i] as f32 * w as f32)
                            .sum();
                        let (n, field) = (i / width, i % width);
                        f64::from(base + correction[n * outputs + k * width + field])
                    })
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_falls_on_the_free_values_only() {
        tch::manual_seed(0);
        let state = Tensor::ones([1000, 3], (Kind::Float, Device::Cpu));
        let mask = Tensor::ones([1000, 3], (Kind::Float, Device::Cpu));
        let _ = mask.narrow(0, 0, 500).fill_(0.0);
        let noisy = with_noise(&state, &mask, 0.1);
        let change = &noisy - &state;
        let fixed = change.narrow(0, 0, 500).abs().max().double_value(&[]);
        let free = change.narrow(0, 500, 500).std(true).double_value(&[]);
        assert_eq!(fixed, 0.0);
        assert!((free - 0.1).abs() < 0.01, "std {free}");
        assert!(with_noise(&state, &mask, 0.0).equal(&state));
    }
}
