//! The monitors every time-dependent run can have: the `.vtu`/`.pvd`
//! output [`Series`], [`Probes`] into `probes.csv`, and the [`StepLog`]
//! (`steps.csv`). Models add their own (forces of a flow, conservation of
//! a finite-volume law) next to their runners.

mod probes;
mod series;
mod step_log;

pub use probes::Probes;
pub use series::{write_model, Series};
pub use step_log::StepLog;

use crate::physics::StepError;

/// An output failure as a step error, with its whole chain of causes.
pub(crate) fn output_error(e: impl Into<anyhow::Error>) -> StepError {
    StepError::Output(format!("{:#}", e.into()))
}
