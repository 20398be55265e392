//! `steps.csv`: one row per committed step.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use pde_mesh::io::vtk;

use super::output_error;
use crate::driver::{Monitor, StepInfo};
use crate::physics::StepError;

/// `steps.csv`: time, step size, solver iterations and the largest
/// absolute value of the state after every step (a header only when no
/// step was taken), written when the run ends, however it ends.
pub struct StepLog {
    file: PathBuf,
    csv: String,
}

impl StepLog {
    /// A log written to `<dir>/steps.csv`.
    pub fn new(dir: &Path) -> Self {
        StepLog {
            file: dir.join("steps.csv"),
            csv: "t,dt,solver_iterations,max_abs\n".into(),
        }
    }
}

impl<S: ?Sized> Monitor<S> for StepLog {
    fn record(&mut self, step: &StepInfo, _: &S) -> Result<(), StepError> {
        let _ = writeln!(
            self.csv,
            "{:.9e},{:.6e},{},{:.9e}",
            step.t, step.dt, step.report.iterations, step.report.max_abs
        );
        Ok(())
    }

    fn finish(&mut self, _: &S) -> Result<(), StepError> {
        vtk::write_atomically(&self.file, |w| w.write_all(self.csv.as_bytes()))
            .map_err(output_error)
    }
}
