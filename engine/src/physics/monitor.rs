//! The observer seam of the time loop: monitors see the initial state,
//! every committed step and the end of a run. They sit with the step
//! protocol so that models can bring their own (forces, conservation).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

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

/// A monitor's CSV file, written as the run goes: created (replacing an
/// earlier run's) with its header when the first row comes, then each row
/// appended by one write, so a run that is killed keeps its history to the
/// last step. Nothing is created for a run that records nothing until
/// [`CsvLog::finish`], which leaves the header alone.
#[derive(Debug)]
pub struct CsvLog {
    path: PathBuf,
    header: String,
    file: Option<File>,
}

impl CsvLog {
    /// A log into `path` whose first line is `header` (without newline).
    pub fn new(path: PathBuf, header: impl Into<String>) -> Self {
        CsvLog {
            path,
            header: header.into(),
            file: None,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one row (without newline).
    pub fn row(&mut self, row: &str) -> Result<(), StepError> {
        self.write(&format!("{row}\n"))
    }

    /// Makes sure the file exists: the header alone when no row came.
    pub fn finish(&mut self) -> Result<(), StepError> {
        self.write("")
    }

    fn write(&mut self, text: &str) -> Result<(), StepError> {
        let failed = |e: std::io::Error| StepError::Output(format!("{}: {e}", self.path.display()));
        if self.file.is_none() {
            let mut file = File::create(&self.path).map_err(failed)?;
            file.write_all(format!("{}\n", self.header).as_bytes())
                .map_err(failed)?;
            self.file = Some(file);
        }
        match self.file.as_mut() {
            Some(file) if !text.is_empty() => file.write_all(text.as_bytes()).map_err(failed),
            _ => Ok(()),
        }
    }
}
