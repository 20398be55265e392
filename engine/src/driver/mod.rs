//! The driver: the one [`TimeLoop`] that advances every time-dependent
//! model (from the command line, the Rust API, dataset generation, learned
//! or classical), the [`Monitor`]s that observe it (output series, probes,
//! `steps.csv`, and the models' own records such as forces), and the
//! [`Motion`] that moves the mesh before steps (the case's mesh mover,
//! its monitor and the tangling guard).
//!
//! The loop calls, in order, the mesh mover, the stepper, the monitors and
//! the progress display. A stepper first *tries* a step and the loop
//! *commits* it only when it is acceptable: finite, and within the error
//! tolerance of an adaptive step.

pub mod checkpoint;
mod interrupt;
pub mod monitors;
mod motion;
mod time_loop;

pub use crate::physics::{Monitor, OnStep, StepInfo};
pub use crate::time::Adaptive;
pub use interrupt::{Interrupt, SignalGuard};
pub(crate) use motion::{guarded, Limits};
pub use motion::{nodal_field, MeshMotion, Motion, MotionSpec, Reach};
pub(crate) use time_loop::progress_bar;
pub(crate) use time_loop::restore_checkpoint;
pub use time_loop::{RunSummary, TimeLoop};
