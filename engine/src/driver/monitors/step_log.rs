//! `steps.csv`: one row per committed step.

use std::path::Path;

use crate::driver::{Monitor, StepInfo};
use crate::physics::{CsvLog, Snapshot, StepError};

/// `steps.csv`: time, step size, solver iterations and the largest
/// absolute value of the state after every step (a header only when no
/// step was taken), written as the run goes. It also remembers where the
/// run got to, for the summary of a run that stopped.
pub struct StepLog {
    csv: CsvLog,
    reached: Option<(usize, f64)>,
}

impl StepLog {
    /// A log written to `<dir>/steps.csv`.
    pub fn new(dir: &Path) -> Self {
        StepLog {
            csv: CsvLog::new(dir.join("steps.csv"), "t,dt,solver_iterations,max_abs"),
            reached: None,
        }
    }

    /// The last committed step and its time (step 0: the start).
    pub fn reached(&self) -> Option<(usize, f64)> {
        self.reached
    }
}

impl<S: ?Sized> Monitor<S> for StepLog {
    fn start(&mut self, t: f64, _: &S) -> Result<(), StepError> {
        self.reached = Some((0, t));
        Ok(())
    }

    fn record(&mut self, step: &StepInfo, _: &S) -> Result<(), StepError> {
        self.reached = Some((step.step, step.t));
        self.csv.row(&format!(
            "{:.9e},{:.6e},{},{:.9e}",
            step.t, step.dt, step.report.iterations, step.report.max_abs
        ))
    }

    fn finish(&mut self, _: &S) -> Result<(), StepError> {
        self.csv.finish()
    }

    fn checkpoint(&self) -> Snapshot {
        let mut s = Snapshot::new();
        s.push("csv", vec![self.csv.length() as f64]);
        s.push(
            "reached",
            self.reached.map_or(Vec::new(), |(k, t)| vec![k as f64, t]),
        );
        s
    }

    fn resume(&mut self, checkpoint: &Snapshot) -> Result<(), StepError> {
        self.csv.resume(checkpoint.get_len("csv", 1)?[0] as u64)?;
        self.reached = match checkpoint.get("reached")? {
            [k, t] => Some((*k as usize, *t)),
            _ => None,
        };
        Ok(())
    }
}
