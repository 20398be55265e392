//! `probes.csv`: the state at named points, for every model.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use pde_mesh::Mesh;

use crate::driver::{Monitor, StepInfo};
use crate::physics::{CsvLog, Model, ProbeColumn, Snapshot, StepError};

/// Probes: every quantity of the state at named points, located once
/// (again when a mesh mover has moved the mesh), recorded at the start and
/// after every step into `probes.csv` as the run goes (one column per
/// quantity: `<probe>` for a model with one, `<probe>_<label>` otherwise).
pub struct Probes {
    points: Vec<(String, [f64; 3])>,
    /// The mesh the columns were located on.
    located_on: Option<Arc<Mesh>>,
    /// Column name and how to read it.
    columns: Vec<(String, ProbeColumn)>,
    csv: CsvLog,
    last: Vec<f64>,
}

/// The columns of the probes at `points` in `model`: an error names a
/// probe outside the mesh.
fn locate<S: Model + ?Sized>(
    points: &[(String, [f64; 3])],
    model: &S,
) -> Result<Vec<(String, ProbeColumn)>> {
    let mut columns = Vec::new();
    for (name, point) in points {
        let located = model.probe(*point).with_context(|| {
            format!("monitors: probe '{name}' at {point:?} is outside the mesh")
        })?;
        let single = located.len() == 1;
        for c in located {
            let column = if single {
                name.clone()
            } else {
                format!("{name}_{}", c.label)
            };
            columns.push((column, c));
        }
    }
    Ok(columns)
}

impl Probes {
    /// Probes of `model` at the named points, written to `<dir>/probes.csv`;
    /// a point outside the mesh is an error naming the probe.
    pub fn new<S: Model + ?Sized>(
        dir: &Path,
        points: &[(String, [f64; 3])],
        model: &S,
    ) -> Result<Self> {
        let columns = locate(points, model)?;
        let mut header = String::from("t");
        for (name, _) in &columns {
            let _ = write!(header, ",{name}");
        }
        Ok(Probes {
            csv: CsvLog::new(dir.join("probes.csv"), header),
            points: points.to_vec(),
            located_on: Some(model.mesh().clone()),
            columns,
            last: Vec::new(),
        })
    }

    /// The values recorded last, by column name, for the run's summary.
    pub fn summary(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .columns
            .iter()
            .zip(&self.last)
            .map(|((name, _), v)| (name.clone(), serde_json::json!(v)))
            .collect();
        serde_json::Value::Object(map)
    }

    /// Records the model's state at time `t`, locating the probes again
    /// on a moved mesh (movers keep the domain, so they stay inside; one
    /// that does not keeps its last cell), and appends them to the file.
    pub fn sample<S: Model + ?Sized>(&mut self, t: f64, model: &S) -> Result<(), StepError> {
        if self.columns.is_empty() {
            return Ok(());
        }
        let moved = self
            .located_on
            .as_ref()
            .is_some_and(|m| !Arc::ptr_eq(m, model.mesh()));
        if moved {
            if let Ok(columns) = locate(&self.points, model) {
                self.columns = columns;
            }
            self.located_on = Some(model.mesh().clone());
        }
        let fields = model.fields();
        self.last = self
            .columns
            .iter()
            .map(|(_, c)| c.at.eval(&fields[c.field].1))
            .collect();
        let mut row = format!("{t:.9e}");
        for v in &self.last {
            let _ = write!(row, ",{v:.9e}");
        }
        self.csv.row(&row)
    }
}

impl<S: Model + ?Sized> Monitor<S> for Probes {
    fn start(&mut self, t: f64, model: &S) -> Result<(), StepError> {
        self.sample(t, model)
    }

    fn record(&mut self, step: &StepInfo, model: &S) -> Result<(), StepError> {
        self.sample(step.t, model)
    }

    fn finish(&mut self, _: &S) -> Result<(), StepError> {
        self.csv.finish()
    }

    fn checkpoint(&self) -> Snapshot {
        let mut s = Snapshot::new();
        s.push("csv", vec![self.csv.length() as f64]);
        s.push("last", self.last.clone());
        s
    }

    fn resume(&mut self, checkpoint: &Snapshot) -> Result<(), StepError> {
        self.csv.resume(checkpoint.get_len("csv", 1)?[0] as u64)?;
        self.last = checkpoint.get("last")?.to_vec();
        Ok(())
    }
}
