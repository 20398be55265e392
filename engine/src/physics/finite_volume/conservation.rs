//! `conservation.csv` and `conservation.png`: the record of a conservative
//! finite-volume law (its own, or a scalar carried by a flow).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::fvm::law::ConservationLaw;
use crate::fvm::solver::FiniteVolume;
use crate::physics::{CsvRecords, Monitor, Snapshot, StepError, StepInfo, Transient};
use crate::plot::{self, Panel};

/// Reads the finite-volume law of a model: the law itself, or the scalar a
/// flow carries. `None` when the model has none (yet).
type Sampler = Box<dyn Fn(&dyn Transient) -> Option<Vec<f64>>>;

/// `conservation.csv`: per conserved quantity its total, the boundary
/// outflow so far, and its minimum and maximum over the cells, written as
/// the run goes; and `conservation.png`, the plot of the first quantity's,
/// drawn when the run ends, however it ends.
pub struct Conservation {
    dir: PathBuf,
    names: Vec<String>,
    sample: Sampler,
    /// Per record: t, then total, outflow, min, max of every quantity.
    records: CsvRecords,
}

impl Conservation {
    /// The record of the finite-volume model `find` finds in the model it
    /// is given, written into `dir`.
    pub fn new<L: ConservationLaw<N>, const N: usize>(
        dir: &Path,
        names: &[&str],
        find: impl Fn(&dyn Transient) -> Option<&FiniteVolume<L, N>> + 'static,
    ) -> Self {
        let mut header = String::from("t");
        for n in names {
            let _ = write!(header, ",total_{n},outflow_{n},min_{n},max_{n}");
        }
        Conservation {
            dir: dir.to_path_buf(),
            records: CsvRecords::new(dir.join("conservation.csv"), header),
            names: names.iter().map(|n| n.to_string()).collect(),
            sample: Box::new(move |m| find(m).map(row)),
        }
    }

    /// What is held plus what has left minus what was there at the start,
    /// relative to the largest of the three (round-off for a conservative
    /// scheme).
    pub fn balance_error(&self) -> Option<f64> {
        let (first, last) = (self.records.rows.first()?, self.records.rows.last()?);
        Some(balance_error(first[1], last[1], last[2]))
    }

    fn record(&mut self, t: f64, model: &dyn Transient) -> Result<(), StepError> {
        let Some(values) = (self.sample)(model) else {
            return Ok(());
        };
        let mut line = format!("{t:.9e}");
        for q in values.chunks(4) {
            let _ = write!(
                line,
                ",{:.12e},{:.12e},{:.9e},{:.9e}",
                q[0], q[1], q[2], q[3]
            );
        }
        let mut r = vec![t];
        r.extend(values);
        self.records.push(r, &line)
    }

    /// Draws `conservation.png` (with at least two records).
    fn plot(&self) -> Result<()> {
        let out = &self.dir;
        if self.records.rows.len() >= 2 {
            let name = &self.names[0];
            let series = |k: usize| self.records.rows.iter().map(|r| (r[0], r[k])).collect();
            let panel = |label: String, k: usize| Panel {
                label,
                points: series(k),
                from: None,
                reference: None,
            };
            let initial = self.records.rows[0][1];
            let balance = self
                .records
                .rows
                .iter()
                .map(|r| (r[0], balance_error(initial, r[1], r[2])))
                .collect();
            let panels = [
                panel(format!("total {name}"), 1),
                Panel {
                    label: "balance error".into(),
                    points: balance,
                    from: None,
                    reference: None,
                },
                panel(format!("min {name}"), 3),
                panel(format!("max {name}"), 4),
            ];
            plot::panels(
                &out.join("conservation.png"),
                &format!("conservation of {name}"),
                "t",
                &panels,
            )?;
        }
        Ok(())
    }
}

/// Total, outflow, min and max of every quantity.
fn row<L: ConservationLaw<N>, const N: usize>(model: &FiniteVolume<L, N>) -> Vec<f64> {
    let (total, out) = (model.total(), model.boundary_outflow());
    let mut row = Vec::with_capacity(4 * N);
    for k in 0..N {
        let values = model.state().iter().map(|u| u[k]);
        let lo = values.clone().fold(f64::INFINITY, f64::min);
        let hi = values.fold(f64::NEG_INFINITY, f64::max);
        row.extend([total[k], out[k], lo, hi]);
    }
    row
}

/// What is held plus what has left minus what was there, relative to the
/// largest of the three: round-off for a conservative scheme.
fn balance_error(initial: f64, total: f64, outflow: f64) -> f64 {
    let scale = [initial, total, outflow]
        .iter()
        .fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
    (total + outflow - initial) / scale
}

impl Monitor<dyn Transient> for Conservation {
    fn start(&mut self, t: f64, model: &dyn Transient) -> Result<(), StepError> {
        self.record(t, model)
    }

    fn record(&mut self, step: &StepInfo, model: &dyn Transient) -> Result<(), StepError> {
        Conservation::record(self, step.t, model)
    }

    fn finish(&mut self, _: &dyn Transient) -> Result<(), StepError> {
        self.records.finish()?;
        self.plot()
            .map_err(|e| StepError::Output(format!("{e:#}")))
    }

    fn checkpoint(&self) -> Snapshot {
        self.records.checkpoint()
    }

    fn resume(&mut self, checkpoint: &Snapshot) -> Result<(), StepError> {
        self.records.resume(checkpoint)
    }

    fn summarize(&self, _: &dyn Transient, summary: &mut serde_json::Value) {
        if let Some(e) = self.balance_error() {
            summary["balance_error"] = serde_json::json!(e);
        }
    }
}
