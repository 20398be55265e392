//! The output time series: `<name>_NNNNN.vtu` files listed in `<name>.pvd`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use pde_mesh::io::vtk::{self, DataArray, PvdWriter, VtuOptions};

use super::output_error;
use crate::driver::{Monitor, StepInfo};
use crate::physics::{Model, OutputField, Snapshot, StepError};

/// Writes a model's state as a `.vtu` file.
pub fn write_model<M: Model + ?Sized>(model: &M, file: &Path) -> Result<()> {
    let (points, cells) = (model.point_data()?, model.cell_data()?);
    vtk::write_vtu(
        file,
        model.mesh(),
        &arrays(&points),
        &arrays(&cells),
        &VtuOptions::default(),
    )?;
    Ok(())
}

/// VTK arrays viewing output fields.
fn arrays(fields: &[OutputField]) -> Vec<DataArray<'_>> {
    fields
        .iter()
        .map(|a| match a.components {
            1 => DataArray::scalars(&a.name, &a.values),
            c => DataArray::vectors(&a.name, c, &a.values),
        })
        .collect()
}

/// A time series in the output directory: `<name>_NNNNN.vtu` files listed
/// in `<name>.pvd`, which is valid after every write. As a monitor it
/// writes the initial state, every `every`-th step and the last one.
pub struct Series {
    pvd: PvdWriter,
    dir: PathBuf,
    name: String,
    every: usize,
    end: f64,
    /// The steps written and their times.
    written: Vec<(usize, f64)>,
}

impl Series {
    /// A series in `dir` written every `every` steps and at time `end`.
    pub fn new(dir: &Path, name: &str, every: usize, end: f64) -> Self {
        Series {
            pvd: PvdWriter::new(dir.join(format!("{name}.pvd"))),
            dir: dir.to_path_buf(),
            name: name.to_string(),
            every: every.max(1),
            end,
            written: Vec::new(),
        }
    }

    /// The `.pvd` file.
    pub fn path(&self) -> &Path {
        self.pvd.path()
    }

    /// The last step written.
    pub fn last_written(&self) -> usize {
        self.written.last().map_or(0, |(step, _)| *step)
    }

    fn file_name(&self, step: usize) -> String {
        format!("{}_{step:05}.vtu", self.name)
    }

    /// Writes `model`'s state as step `step` at time `t`.
    pub fn write<M: Model + ?Sized>(
        &mut self,
        step: usize,
        t: f64,
        model: &M,
    ) -> Result<(), StepError> {
        let file = self.dir.join(self.file_name(step));
        write_model(model, &file).map_err(output_error)?;
        self.pvd.push(t, &file).map_err(output_error)?;
        self.written.push((step, t));
        Ok(())
    }
}

impl<S: Model + ?Sized> Monitor<S> for Series {
    fn start(&mut self, t: f64, model: &S) -> Result<(), StepError> {
        self.write(0, t, model)
    }

    fn record(&mut self, step: &StepInfo, model: &S) -> Result<(), StepError> {
        let at_end = (self.end - step.t).abs() <= 1e-12 * self.end.abs().max(1.0);
        if step.step % self.every == 0 || at_end {
            self.write(step.step, step.t, model)?;
        }
        Ok(())
    }

    fn checkpoint(&self) -> Snapshot {
        let mut s = Snapshot::new();
        s.push(
            "steps",
            self.written.iter().map(|(k, _)| *k as f64).collect(),
        );
        s.push("times", self.written.iter().map(|(_, t)| *t).collect());
        s
    }

    /// The series as it was at the checkpoint (the `.pvd` rewritten).
    fn resume(&mut self, checkpoint: &Snapshot) -> Result<(), StepError> {
        let steps = checkpoint.get("steps")?;
        let times = checkpoint.get_len("times", steps.len())?;
        self.written = steps
            .iter()
            .map(|k| *k as usize)
            .zip(times.iter().copied())
            .collect();
        let entries = self
            .written
            .iter()
            .map(|(k, t)| (*t, self.file_name(*k)))
            .collect();
        self.pvd = PvdWriter::with_entries(self.pvd.path(), entries).map_err(output_error)?;
        Ok(())
    }
}
