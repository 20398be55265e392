//! Steppers trained in PyTorch: a TorchScript module (`torch.jit.save`)
//! whose `forward(state, node_types, edge_features, senders, receivers)`
//! returns the next state, with the tensors of [`GraphTensors`]: state
//! `[N, F]` and node types `[N, T]` (`f32`), edge features `[E, 4]`
//! (`f32`), senders and receivers `[E]` (`i64`). It runs where a
//! [`crate::stepper::LearnedStepper`] does ([`GraphStepper`]).

use std::path::Path;

use tch::{CModule, Device, IValue, Tensor};

use crate::error::LearnedError;
use crate::stepper::LearnedStepper;
use crate::tensors::GraphTensors;

/// Anything that predicts the next state on a graph.
pub trait GraphStepper {
    /// How many successive states it reads (1: the current one).
    fn window(&self) -> usize {
        1
    }
    /// Whether it reads the step residual (default false; see
    /// [`crate::stepper::StepperConfig::step_residual`]).
    fn reads_step_residual(&self) -> bool {
        false
    }
    /// The states of the steps after the window `states` (each `[N,
    /// fields]`, the current one last, as many as
    /// [`GraphStepper::window`]), with the step's `residual` for a model
    /// that reads it: the next one, and more for a model that predicts a
    /// bundle of steps.
    fn predict(
        &self,
        graph: &GraphTensors,
        states: &[&Tensor],
        residual: Option<&Tensor>,
    ) -> Result<Vec<Tensor>, LearnedError>;
}

impl GraphStepper for LearnedStepper {
    fn window(&self) -> usize {
        LearnedStepper::window(self)
    }
    fn reads_step_residual(&self) -> bool {
        self.config.step_residual
    }
    fn predict(
        &self,
        graph: &GraphTensors,
        states: &[&Tensor],
        residual: Option<&Tensor>,
    ) -> Result<Vec<Tensor>, LearnedError> {
        LearnedStepper::predict(self, graph, states, residual)
    }
}

/// A TorchScript module used as a stepper.
#[derive(Debug)]
pub struct TorchScriptStepper {
    module: CModule,
}

impl TorchScriptStepper {
    /// Loads the module at `path` onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<Self, LearnedError> {
        let module = CModule::load_on_device(path, device).map_err(|e| LearnedError::Config {
            path: path.to_path_buf(),
            message: format!("not a TorchScript module saved by torch.jit.save ({e})"),
        })?;
        Ok(TorchScriptStepper { module })
    }
}

impl GraphStepper for TorchScriptStepper {
    fn predict(
        &self,
        graph: &GraphTensors,
        states: &[&Tensor],
        residual: Option<&Tensor>,
    ) -> Result<Vec<Tensor>, LearnedError> {
        if residual.is_some() {
            return Err(LearnedError::Shape(
                "a TorchScript stepper reads the state alone, not the step residual".into(),
            ));
        }
        let [state] = states else {
            return Err(LearnedError::Shape(format!(
                "{} states given; a TorchScript stepper reads the current one",
                states.len()
            )));
        };
        let inputs = [
            state,
            &graph.node_types,
            &graph.edge_features,
            &graph.senders,
            &graph.receivers,
        ]
        .map(|t| IValue::Tensor(t.shallow_clone()));
        let next = tch::no_grad(|| self.module.forward_is(&inputs))?;
        match next {
            IValue::Tensor(t) if t.size() == state.size() => Ok(vec![t]),
            IValue::Tensor(t) => Err(LearnedError::Shape(format!(
                "the TorchScript module returned {:?}; the state is {:?}",
                t.size(),
                state.size()
            ))),
            other => Err(LearnedError::Shape(format!(
                "the TorchScript module returned {other:?}; expected the next state (a tensor)"
            ))),
        }
    }
}
