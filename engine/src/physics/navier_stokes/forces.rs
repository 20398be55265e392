//! Forces on a body of a flow: the `forces` monitor (drag and lift
//! coefficients, pressure difference, Strouhal number; `forces.csv` and
//! `forces.png`), and the comparison with the classical step when a learned
//! one runs.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Deserialize;

use super::NavierStokes;
use crate::fem::PointEvaluator;
use crate::physics::carried_scalar::{flow_of, FlowWithScalar};
use crate::physics::learned_step::{LearnedStep, StepOutcome};
use crate::physics::{CsvRecords, Monitor, Snapshot, StepError, StepInfo, Stepper, Transient};
use crate::plot::{self, Panel, Reference};

/// Drag and lift coefficients `c = 2 F / (ρ U² L)` (density 1) of a body.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ForcesSpec {
    /// The body's boundary group.
    pub group: String,
    /// Reference velocity `U` (the DFG benchmark: the mean inflow velocity).
    #[serde(default = "one_f64")]
    pub reference_velocity: f64,
    /// Reference length `L` (in 3D, the reference area). Default 1.
    #[serde(default = "one_f64")]
    pub reference_length: f64,
    /// Two points whose pressure difference `p(a) - p(b)` is recorded as `dp`.
    #[serde(default)]
    pub pressure_difference: Option<[Vec<f64>; 2]>,
    /// The summary's extremes and Strouhal number use the record from this
    /// time on (to skip the start-up). Default: the whole run.
    #[serde(default)]
    pub statistics_from: Option<f64>,
}

fn one_f64() -> f64 {
    1.0
}

/// A point from 2 or 3 coordinates.
pub(crate) fn point3(p: &[f64]) -> [f64; 3] {
    std::array::from_fn(|k| p.get(k).copied().unwrap_or(0.0))
}

/// The record of the forces monitor: coefficients over time, kept and
/// written to its CSV file as they come.
pub(crate) struct ForceSeries {
    spec: ForcesSpec,
    /// `2 / (U² L)`.
    scale: f64,
    dp: Option<(PointEvaluator, PointEvaluator)>,
    dim: usize,
    /// `t, cd, cl[, cs][, dp]` per record.
    records: CsvRecords,
}

impl ForceSeries {
    /// The forces `spec` asks for on the body of `ns`, recorded into `csv`.
    pub(crate) fn new(spec: &ForcesSpec, ns: &NavierStokes, csv: PathBuf) -> Result<Self> {
        let dp = match &spec.pressure_difference {
            Some([a, b]) => {
                let locate = |p: &[f64]| {
                    ns.pressure_probe(point3(p)).with_context(|| {
                        format!("monitors: forces.pressure_difference: {p:?} is outside the mesh")
                    })
                };
                Some((locate(a)?, locate(b)?))
            }
            None => None,
        };
        let mut columns = vec!["t", "cd", "cl"];
        if ns.dim() == 3 {
            columns.push("cs");
        }
        if dp.is_some() {
            columns.push("dp");
        }
        Ok(ForceSeries {
            spec: spec.clone(),
            scale: 2.0 / (spec.reference_velocity.powi(2) * spec.reference_length),
            dp,
            dim: ns.dim(),
            records: CsvRecords::new(csv, columns.join(",")),
        })
    }

    /// Records the forces on the body of `ns` at time `t`.
    pub(crate) fn sample(&mut self, t: f64, ns: &NavierStokes) -> Result<(), StepError> {
        let Some(f) = ns.force() else { return Ok(()) };
        let mut row = vec![t];
        row.extend(f[..self.dim].iter().map(|v| v * self.scale));
        if let Some((a, b)) = &self.dp {
            row.push(a.eval(ns.pressure()) - b.eval(ns.pressure()));
        }
        let cells: Vec<String> = row.iter().map(|v| format!("{v:.10e}")).collect();
        self.records.push(row, &cells.join(","))
    }

    fn last(&self) -> Option<(f64, f64)> {
        self.records.rows.last().map(|r| (r[1], r[2]))
    }

    /// Finishes the CSV file and (with at least two records) draws
    /// `forces.png`, with the curves of `classical` (a baseline run
    /// alongside) next to these.
    pub(crate) fn finish(&mut self, out: &Path, title: &str, classical: Option<&ForceSeries>) -> Result<()> {
        self.records.finish()?;
        if self.records.rows.len() >= 2 {
            let series =
                |f: &ForceSeries, k: usize| f.records.rows.iter().map(|r| (r[0], r[k])).collect::<Vec<_>>();
            let panel = |label: &str, k: usize| Panel {
                label: label.into(),
                points: series(self, k),
                from: self.spec.statistics_from,
                reference: classical.map(|c| Reference {
                    own: "learned".into(),
                    label: "classical".into(),
                    points: series(c, k),
                }),
            };
            let panels = [
                panel("drag coefficient c_D", 1),
                panel("lift coefficient c_L", 2),
            ];
            plot::panels(&out.join("forces.png"), title, "t", &panels)?;
        }
        Ok(())
    }

    /// Final values, and for a time series the extremes and the Strouhal
    /// number from the records from `statistics_from` on.
    pub(crate) fn summary(&self) -> serde_json::Value {
        let from = self.spec.statistics_from.unwrap_or(f64::NEG_INFINITY);
        let window: Vec<&Vec<f64>> = self.records.rows.iter().filter(|r| r[0] >= from).collect();
        let column = |k: usize| window.iter().map(|r| r[k]).collect::<Vec<f64>>();
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (cd, cl) = (column(1), column(2));
        let times = column(0);
        let mut s = serde_json::json!({});
        if self.records.rows.len() > 1 {
            s = serde_json::json!({
            "cd_max": max(&cd),
            "cd_min": min(&cd),
            "cl_max": max(&cl),
            "cl_min": min(&cl),
            "t_cd_max": times.get(argmax(&cd)),
            "t_cl_max": times.get(argmax(&cl)),
            "strouhal": strouhal(&times, &cl).map(|f| f * self.spec.reference_length / self.spec.reference_velocity),
            });
        }
        if let Some(last) = self.records.rows.last() {
            s["cd"] = serde_json::json!(last[1]);
            s["cl"] = serde_json::json!(last[2]);
            if self.dp.is_some() {
                s["dp"] = serde_json::json!(last[last.len() - 1]);
            }
        }
        s
    }
}

fn argmax(v: &[f64]) -> usize {
    (0..v.len())
        .max_by(|&a, &b| v[a].total_cmp(&v[b]))
        .unwrap_or(0)
}

/// The frequency of a periodic signal from its upward crossings of its mean
/// (linearly interpolated); `None` with fewer than three crossings.
fn strouhal(t: &[f64], s: &[f64]) -> Option<f64> {
    let mean = s.iter().sum::<f64>() / s.len().max(1) as f64;
    let crossings: Vec<f64> = (1..s.len())
        .filter(|&i| s[i - 1] < mean && s[i] >= mean)
        .map(|i| {
            let (a, b) = (s[i - 1] - mean, s[i] - mean);
            t[i - 1] + (t[i] - t[i - 1]) * (-a) / (b - a)
        })
        .collect();
    if crossings.len() < 3 {
        return None;
    }
    let periods = (crossings.len() - 1) as f64;
    Some(periods / (crossings[crossings.len() - 1] - crossings[0]))
}

/// The classical flow run alongside a learned one (`stepper.baseline`),
/// for comparison in the same run on the same mesh.
pub(crate) struct ClassicalBaseline {
    ns: NavierStokes,
    forces: Option<ForceSeries>,
    seconds: f64,
    steps: usize,
    /// Linear-solver iterations over all steps.
    iterations: usize,
    /// Relative 2-norm difference of the velocity, learned vs classical,
    /// after each step.
    difference: Vec<f64>,
}

impl ClassicalBaseline {
    /// The classical flow `ns`, with the case's forces measured on it
    /// (recorded into `<out>/forces_classical.csv`).
    pub(crate) fn new(forces: Option<&ForcesSpec>, ns: NavierStokes, out: &Path) -> Result<Self> {
        Ok(ClassicalBaseline {
            forces: forces
                .map(|f| ForceSeries::new(f, &ns, out.join("forces_classical.csv")))
                .transpose()?,
            ns,
            seconds: 0.0,
            steps: 0,
            iterations: 0,
            difference: Vec::new(),
        })
    }

    /// Steps to `t` (from `t - dt`), times it and compares with `learned`.
    pub(crate) fn step(&mut self, t: f64, dt: f64, learned: &NavierStokes) -> Result<(), StepError> {
        let started = Instant::now();
        self.iterations += self.ns.try_step(t - dt, dt)?.iterations;
        self.ns.commit();
        self.seconds += started.elapsed().as_secs_f64();
        self.steps += 1;
        if let Some(f) = self.forces.as_mut() {
            f.sample(t, &self.ns)?;
        }
        let velocity = |ns: &NavierStokes| -> Vec<f64> {
            (0..ns.dim())
                .flat_map(|c| ns.velocity(c).to_vec())
                .collect()
        };
        let (a, b) = (velocity(learned), velocity(&self.ns));
        let diff: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
        let norm: f64 = b.iter().map(|y| y * y).sum();
        self.difference
            .push((diff / norm.max(f64::MIN_POSITIVE)).sqrt());
        Ok(())
    }

    /// The classical flow, its forces and the differences so far.
    fn checkpoint(&self) -> Option<Snapshot> {
        let mut s = Snapshot::new();
        s.nest("ns", self.ns.snapshot()?);
        if let Some(f) = &self.forces {
            s.nest("forces", f.records.checkpoint());
        }
        s.push("difference", self.difference.clone());
        s.push(
            "time",
            vec![self.seconds, self.steps as f64, self.iterations as f64],
        );
        Some(s)
    }

    fn resume(&mut self, checkpoint: &Snapshot) -> Result<(), StepError> {
        self.ns.restore(&checkpoint.section("ns"))?;
        if let Some(f) = self.forces.as_mut() {
            f.records.resume(&checkpoint.section("forces"))?;
        }
        self.difference = checkpoint.get("difference")?.to_vec();
        let time = checkpoint.get_len("time", 3)?;
        (self.seconds, self.steps, self.iterations) =
            (time[0], time[1] as usize, time[2] as usize);
        Ok(())
    }

    fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "seconds_per_step": self.seconds / self.steps.max(1) as f64,
            "iterations_per_step": self.iterations as f64 / self.steps.max(1) as f64,
            "forces": self.forces.as_ref().map(ForceSeries::summary),
            "velocity_difference_final": self.difference.last(),
            "velocity_difference_max": self.difference.iter().copied().fold(0.0, f64::max),
        })
    }
}

/// The records of a time-dependent flow: its forces (if asked for), the
/// classical baseline run alongside a learned step (if asked for), and the
/// learned step's counts. Writes `forces.csv` and `forces_classical.csv`
/// as the run goes, and `forces.png` (with the baseline's curves) when it
/// ends.
pub(crate) struct FlowRecord {
    pub(crate) forces: Option<ForceSeries>,
    pub(crate) baseline: Option<ClassicalBaseline>,
    pub(crate) out: PathBuf,
    pub(crate) title: String,
    /// The learned steps and fallbacks so far, for the progress display.
    pub(crate) learned: Option<String>,
    /// With a learned step: per step `t`, the prediction's residual (NaN
    /// for none) and whether it was accepted (`stepper.csv`, `stepper.png`).
    pub(crate) steps: Option<StepRecords>,
}

/// The learned step's outcome at every step, and its tolerance.
pub(crate) struct StepRecords {
    records: CsvRecords,
    tolerance: f64,
}

impl StepRecords {
    /// Records into `out/stepper.csv`, for a learned step accepting
    /// residuals up to `tolerance`.
    pub(crate) fn new(out: &Path, tolerance: f64) -> Self {
        StepRecords {
            records: CsvRecords::new(out.join("stepper.csv"), "t,residual,accepted"),
            tolerance,
        }
    }

    fn sample(&mut self, t: f64, outcome: StepOutcome) -> Result<(), StepError> {
        let accepted = f64::from(u8::from(outcome.accepted));
        let line = format!("{t:.10e},{:.6e},{accepted}", outcome.residual);
        self.records
            .push(vec![t, outcome.residual, accepted], &line)
    }

    /// Finishes the CSV file and draws the residuals of the predictions
    /// against the tolerance (`stepper.png`).
    fn finish(&mut self, out: &Path, title: &str) -> Result<()> {
        self.records.finish()?;
        let points: Vec<(f64, f64)> = self
            .records
            .rows
            .iter()
            .filter(|r| r[1].is_finite())
            .map(|r| (r[0], r[1]))
            .collect();
        if let (Some(&(first, _)), Some(&(last, _))) = (points.first(), points.last()) {
            let panel = Panel {
                label: "relative residual of the prediction".into(),
                points,
                from: None,
                reference: Some(Reference {
                    own: "prediction".into(),
                    label: "tolerance".into(),
                    points: vec![(first, self.tolerance), (last, self.tolerance)],
                }),
            };
            plot::panels(&out.join("stepper.png"), title, "t", &[panel])?;
        }
        Ok(())
    }
}

/// The flow of the model the record was built with.
fn flow(model: &dyn Transient) -> Result<&FlowWithScalar, StepError> {
    flow_of(model).ok_or_else(|| StepError::Output("the flow's records need the flow".into()))
}

/// The learned step of the model, if it has one.
fn learned(model: &dyn Transient) -> Option<&LearnedStep<FlowWithScalar>> {
    model.as_any().downcast_ref()
}

impl Monitor<dyn Transient> for FlowRecord {
    fn record(&mut self, step: &StepInfo, model: &dyn Transient) -> Result<(), StepError> {
        let ns = &flow(model)?.flow;
        let step_taken = learned(model);
        self.learned = step_taken.map(|s| {
            format!(
                "learned {}  fallbacks {}",
                s.stats.learned_steps, s.stats.fallbacks
            )
        });
        if let (Some(records), Some(outcome)) =
            (self.steps.as_mut(), step_taken.and_then(|s| s.last))
        {
            records.sample(step.t, outcome)?;
        }
        if let Some(b) = self.baseline.as_mut() {
            b.step(step.t, step.dt, ns)?;
        }
        if let Some(f) = self.forces.as_mut() {
            f.sample(step.t, ns)?;
        }
        Ok(())
    }

    fn finish(&mut self, _: &dyn Transient) -> Result<(), StepError> {
        if let Some(steps) = self.steps.as_mut() {
            steps
                .finish(&self.out, &self.title)
                .map_err(|e| StepError::Output(format!("{e:#}")))?;
        }
        let Some(f) = self.forces.as_mut() else {
            return Ok(());
        };
        let mut classical = self.baseline.as_mut().and_then(|b| b.forces.as_mut());
        if let Some(c) = classical.as_mut() {
            c.records.finish()?;
        }
        f.finish(&self.out, &self.title, classical.as_deref())
            .map_err(|e| StepError::Output(format!("{e:#}")))
    }

    fn status(&self) -> Option<String> {
        let mut parts: Vec<String> = self.learned.iter().cloned().collect();
        if let Some(d) = self.baseline.as_ref().and_then(|b| b.difference.last()) {
            parts.push(format!("vs classical {:.1}%", 100.0 * d));
        }
        if let Some((cd, cl)) = self.forces.as_ref().and_then(ForceSeries::last) {
            parts.push(format!("cD {cd:.4}  cL {cl:+.4}"));
        }
        (!parts.is_empty()).then(|| parts.join("  "))
    }

    /// The forces' records and the classical baseline's state.
    fn checkpoint(&self) -> Snapshot {
        let mut s = Snapshot::new();
        if let Some(f) = &self.forces {
            s.nest("forces", f.records.checkpoint());
        }
        if let Some(b) = self.baseline.as_ref().and_then(ClassicalBaseline::checkpoint) {
            s.nest("baseline", b);
        }
        if let Some(steps) = &self.steps {
            s.nest("stepper", steps.records.checkpoint());
        }
        s
    }

    fn resume(&mut self, checkpoint: &Snapshot) -> Result<(), StepError> {
        if let Some(f) = self.forces.as_mut() {
            f.records.resume(&checkpoint.section("forces"))?;
        }
        if let Some(steps) = self.steps.as_mut() {
            steps.records.resume(&checkpoint.section("stepper"))?;
        }
        match self.baseline.as_mut() {
            Some(b) => b.resume(&checkpoint.section("baseline")),
            None => Ok(()),
        }
    }

    fn summarize(&self, _: &dyn Transient, summary: &mut serde_json::Value) {
        if let Some(f) = &self.forces {
            summary["forces"] = f.summary();
        }
        // The learned step's own record is in the model's summary.
        if let (Some(b), Some(record)) = (&self.baseline, summary.get_mut("stepper")) {
            record["classical_baseline"] = b.summary();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::strouhal;

    #[test]
    fn frequency_of_a_sampled_sine_from_its_mean_crossings() {
        let t: Vec<f64> = (0..2000).map(|i| i as f64 * 0.01).collect();
        let s: Vec<f64> = t
            .iter()
            .map(|t| 0.3 + (2.0 * std::f64::consts::PI * 3.1 * t + 0.4).sin())
            .collect();
        let f = strouhal(&t, &s).unwrap();
        assert!((f - 3.1).abs() < 2e-3, "{f}");
        assert!(strouhal(&t[..20], &s[..20]).is_none(), "too short a record");
    }
}
