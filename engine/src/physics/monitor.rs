//! The observer seam of the time loop: monitors see the initial state,
//! every committed step and the end of a run. They sit with the step
//! protocol so that models can bring their own (forces, conservation).

use super::{StepError, StepReport};

/// A committed step, as monitors see it.
#[derive(Clone, Copy, Debug)]
pub struct StepInfo<'a> {
    /// Step number (1 for the first step).
    pub step: usize,
    /// Time reached.
    pub t: f64,
    /// The step size taken.
    pub dt: f64,
    /// What the step did.
    pub report: &'a StepReport,
}

/// Observes a run of a model of type `S` (often `dyn` something): the
/// initial state, every committed step, and the end, whether the run
/// finished or failed. Monitors write their records as the run goes, so a
/// failed or interrupted run keeps what it had.
pub trait Monitor<S: ?Sized> {
    /// The initial state at time `t`, before the first step.
    fn start(&mut self, _t: f64, _model: &S) -> Result<(), StepError> {
        Ok(())
    }
    /// A committed step.
    fn record(&mut self, step: &StepInfo, model: &S) -> Result<(), StepError>;
    /// The run ended (finished or failed): flush what is kept in memory.
    fn finish(&mut self, _model: &S) -> Result<(), StepError> {
        Ok(())
    }
    /// A short status for the progress display (e.g. `cD 3.1412`).
    fn status(&self) -> Option<String> {
        None
    }
    /// Adds what the monitor measured to the run's summary (an object).
    fn summarize(&self, _model: &S, _summary: &mut serde_json::Value) {}
}

/// A closure as a monitor: `OnStep(|info, model| ...)` is called after
/// every committed step.
pub struct OnStep<F>(pub F);

impl<S: ?Sized, F: FnMut(&StepInfo, &S) -> Result<(), StepError>> Monitor<S> for OnStep<F> {
    fn record(&mut self, step: &StepInfo, model: &S) -> Result<(), StepError> {
        (self.0)(step, model)
    }
}
