//! Runs the flow models (Navier–Stokes, Stokes): steady by Newton's method,
//! or in time; writes velocity, pressure and vorticity, `forces.csv` and
//! `forces.png` (drag and lift coefficients, pressure difference),
//! `probes.csv`, and the summary (extremes of the coefficients, Strouhal
//! number, time per step).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use pde_mesh::io::vtk;
use pde_mesh::Mesh;

use super::finite_volume::{self, state_fn, Conservation};
use super::{extend, make_solver, probe_points, Run};
use crate::case::{Case, FlowBoundarySpec, FlowModel, ForcesSpec, MonitorSpec, Physics};
use crate::driver::monitors::{write_model, Probes};
use crate::driver::{Monitor, StepInfo};
use crate::fem::PointEvaluator;
use crate::linalg::direct::SparseLu;
use crate::linalg::registry::SystemInfo;
use crate::physics::carried_scalar::FlowWithScalar;
use crate::physics::navier_stokes::{FlowBoundary, NavierStokes};
use crate::physics::{Model, StepError, Stepper};
use crate::plot::{self, Panel, Reference};

/// A point from 2 or 3 coordinates.
fn point3(p: &[f64]) -> [f64; 3] {
    std::array::from_fn(|k| p.get(k).copied().unwrap_or(0.0))
}

/// The forces monitor of a case, if any.
fn forces_spec(case: &Case) -> Option<&ForcesSpec> {
    case.monitors.iter().find_map(|m| match m {
        MonitorSpec::Forces(f) => Some(f),
        MonitorSpec::Probe { .. } => None,
    })
}

/// The flow a case describes, at its start time.
pub fn flow_from_case(case: &Case, model: &FlowModel, mesh: Arc<Mesh>) -> Result<NavierStokes> {
    let mut ns = NavierStokes::new(mesh, model.nu, Box::new(SparseLu::new())).context("physics")?;
    let system = SystemInfo {
        saddle_split: Some(ns.pressure_offset()),
        ..case.physics.system()
    };
    ns.set_solver(make_solver(
        &case.solver,
        case.physics.default_solver(case.time.is_some()),
        system,
    )?);
    ns.convection = matches!(case.physics, Physics::NavierStokes(_));
    let t0 = case.time.as_ref().map_or(0.0, |t| t.start);
    if let Some(time) = &case.time {
        ns.integrator = time.integrator_for(&case.physics);
    }
    for (group, bc) in &model.boundary {
        let condition = match bc {
            FlowBoundarySpec::Velocity(v) => FlowBoundary::Velocity(state_fn::<3>(v)),
            FlowBoundarySpec::NoSlip => FlowBoundary::NoSlip,
            FlowBoundarySpec::DoNothing => FlowBoundary::DoNothing,
        };
        ns.set_boundary(group, condition);
    }
    ns.body_force = model.body_force.as_deref().map(state_fn::<3>);
    if let Some(p) = &model.pressure_reference {
        ns.pin_pressure(point3(p));
    }
    let initial = model.initial.as_deref().map(state_fn::<3>);
    ns.set_initial(t0, |x| initial.as_ref().map_or([0.0; 3], |f| f(x, t0)));
    if let Some(f) = forces_spec(case) {
        ns.measure_force_on(&f.group)
            .with_context(|| format!("monitors: forces.group '{}'", f.group))?;
    }
    Ok(ns)
}

/// The record of the forces monitor: coefficients over time.
struct ForceSeries {
    spec: ForcesSpec,
    /// `2 / (U² L)`.
    scale: f64,
    dp: Option<(PointEvaluator, PointEvaluator)>,
    dim: usize,
    /// `t, cd, cl[, cs][, dp]` per record.
    rows: Vec<Vec<f64>>,
}

impl ForceSeries {
    fn new(spec: &ForcesSpec, ns: &NavierStokes) -> Result<Self> {
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
        Ok(ForceSeries {
            spec: spec.clone(),
            scale: 2.0 / (spec.reference_velocity.powi(2) * spec.reference_length),
            dp,
            dim: ns.dim(),
            rows: Vec::new(),
        })
    }

    fn columns(&self) -> Vec<&'static str> {
        let mut c = vec!["t", "cd", "cl"];
        if self.dim == 3 {
            c.push("cs");
        }
        if self.dp.is_some() {
            c.push("dp");
        }
        c
    }

    fn sample(&mut self, t: f64, ns: &NavierStokes) {
        let Some(f) = ns.force() else { return };
        let mut row = vec![t];
        row.extend(f[..self.dim].iter().map(|v| v * self.scale));
        if let Some((a, b)) = &self.dp {
            row.push(a.eval(ns.pressure()) - b.eval(ns.pressure()));
        }
        self.rows.push(row);
    }

    fn last(&self) -> Option<(f64, f64)> {
        self.rows.last().map(|r| (r[1], r[2]))
    }

    /// Writes the records as CSV into `path`.
    fn write_csv(&self, path: &Path) -> Result<()> {
        let mut csv = self.columns().join(",");
        csv.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:.10e}")).collect();
            let _ = writeln!(csv, "{}", cells.join(","));
        }
        vtk::write_atomically(path, |w| w.write_all(csv.as_bytes()))?;
        Ok(())
    }

    /// Writes `forces.csv` and (with at least two records) `forces.png`,
    /// with the curves of `classical` (a baseline run alongside) drawn
    /// next to these.
    fn write(&self, out: &Path, title: &str, classical: Option<&ForceSeries>) -> Result<()> {
        self.write_csv(&out.join("forces.csv"))?;
        if self.rows.len() >= 2 {
            let series =
                |f: &ForceSeries, k: usize| f.rows.iter().map(|r| (r[0], r[k])).collect::<Vec<_>>();
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
    fn summary(&self) -> serde_json::Value {
        let from = self.spec.statistics_from.unwrap_or(f64::NEG_INFINITY);
        let window: Vec<&Vec<f64>> = self.rows.iter().filter(|r| r[0] >= from).collect();
        let column = |k: usize| window.iter().map(|r| r[k]).collect::<Vec<f64>>();
        let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
        let (cd, cl) = (column(1), column(2));
        let times = column(0);
        let mut s = serde_json::json!({});
        if self.rows.len() > 1 {
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
        if let Some(last) = self.rows.last() {
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
struct ClassicalBaseline {
    ns: NavierStokes,
    forces: Option<ForceSeries>,
    seconds: f64,
    steps: usize,
    /// Relative 2-norm difference of the velocity, learned vs classical,
    /// after each step.
    difference: Vec<f64>,
}

impl ClassicalBaseline {
    /// Steps to `t` (from `t - dt`), times it and compares with `learned`.
    fn step(&mut self, t: f64, dt: f64, learned: &NavierStokes) -> Result<(), StepError> {
        let started = Instant::now();
        self.ns.try_step(t - dt, dt)?;
        self.ns.commit();
        self.seconds += started.elapsed().as_secs_f64();
        self.steps += 1;
        if let Some(f) = self.forces.as_mut() {
            f.sample(t, &self.ns);
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

    fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "seconds_per_step": self.seconds / self.steps.max(1) as f64,
            "forces": self.forces.as_ref().map(ForceSeries::summary),
            "velocity_difference_final": self.difference.last(),
            "velocity_difference_max": self.difference.iter().copied().fold(0.0, f64::max),
        })
    }
}

impl Monitor<FlowWithScalar> for ForceSeries {
    fn record(&mut self, step: &StepInfo, flow: &FlowWithScalar) -> Result<(), StepError> {
        self.sample(step.t, &flow.flow);
        Ok(())
    }

    fn status(&self) -> Option<String> {
        self.last()
            .map(|(cd, cl)| format!("cD {cd:.4}  cL {cl:+.4}"))
    }
}

impl Monitor<FlowWithScalar> for ClassicalBaseline {
    fn record(&mut self, step: &StepInfo, flow: &FlowWithScalar) -> Result<(), StepError> {
        self.step(step.t, step.dt, &flow.flow)
    }

    fn status(&self) -> Option<String> {
        self.difference
            .last()
            .map(|d| format!("vs classical {:.1}%", 100.0 * d))
    }
}

/// The learned steps and fallbacks so far, for the progress display.
struct SurrogateStatus(String);

impl Monitor<FlowWithScalar> for SurrogateStatus {
    fn record(&mut self, _: &StepInfo, flow: &FlowWithScalar) -> Result<(), StepError> {
        if let Some(s) = flow.flow.surrogate() {
            self.0.clear();
            let _ = write!(
                self.0,
                "learned {}  fallbacks {}",
                s.stats.learned_steps, s.stats.fallbacks
            );
        }
        Ok(())
    }

    fn status(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.clone())
    }
}

/// Puts the learned stepper of the case's `stepper:` into the flow.
#[cfg(feature = "torch")]
fn attach_stepper(case: &Case, ns: &mut NavierStokes, base: &Path) -> Result<()> {
    if let (Some(spec), Some(time)) = (&case.stepper, &case.time) {
        let surrogate = crate::learned::flow_surrogate(spec, base, ns, time.start, time.dt)?;
        ns.set_surrogate(surrogate);
    }
    Ok(())
}

/// Without libtorch there is none (`Case::check` refuses the key).
#[cfg(not(feature = "torch"))]
fn attach_stepper(case: &Case, _: &mut NavierStokes, _: &Path) -> Result<()> {
    anyhow::ensure!(
        case.stepper.is_none(),
        "stepper: learned steppers need a build with --features torch"
    );
    Ok(())
}

/// The flow `ns` with the case's carried scalar, if any, from time `t0`.
fn with_scalar(ns: NavierStokes, model: &FlowModel, t0: f64) -> Result<FlowWithScalar> {
    let mesh = ns.mesh().clone();
    let mut flow = FlowWithScalar::new(ns);
    if let Some(spec) = &model.scalar {
        let scalar = finite_volume::carried_scalar(spec, mesh, t0)?;
        flow.carry(&spec.name, scalar)
            .context("physics: the carried scalar's velocity")?;
    }
    Ok(flow)
}

/// The time-dependent flow a case describes, with its learned stepper and
/// carried scalar; paths in the case are relative to `base`.
pub(super) fn transient_flow(
    case: &Case,
    model: &FlowModel,
    mesh: Arc<Mesh>,
    base: &Path,
) -> Result<FlowWithScalar> {
    let mut ns = flow_from_case(case, model, mesh)?;
    attach_stepper(case, &mut ns, base)?;
    with_scalar(ns, model, super::time_section(case)?.start)
}

/// Runs a flow case (steady without a time section); paths in the case
/// are relative to `base`.
pub(super) fn run_flow(
    case: &Case,
    model: &FlowModel,
    mesh: Arc<Mesh>,
    base: &Path,
    name: &str,
    out: &Path,
    progress: bool,
) -> Result<serde_json::Value> {
    let mut ns = flow_from_case(case, model, mesh)?;
    attach_stepper(case, &mut ns, base)?;
    let mut forces = forces_spec(case)
        .map(|f| ForceSeries::new(f, &ns))
        .transpose()?;
    let mut summary = serde_json::json!({
        "model": case.physics.name(),
        "elements": "Taylor-Hood P2/P1",
        "unknowns": ns.space.num_dofs(),
        "nu": model.nu,
    });
    let Some(time) = &case.time else {
        let points: Vec<(String, [f64; 3])> = probe_points(case)
            .map(|(n, p)| (n.to_string(), p))
            .collect();
        let mut probes = Probes::new(out, &points, &ns)?;
        let started = Instant::now();
        let newton = ns
            .solve_steady(model.newton.tolerance, model.newton.max_iterations)
            .context("the steady solve failed")?;
        let file = out.join(format!("{name}.vtu"));
        write_model(&ns, &file)?;
        if let Some(f) = forces.as_mut() {
            f.sample(ns.time(), &ns);
            f.write(out, name, None)?;
            summary["forces"] = f.summary();
        }
        Monitor::<NavierStokes>::start(&mut probes, ns.time(), &ns)?;
        summary["newton_iterations"] = serde_json::json!(newton.iterations);
        summary["newton_updates"] = serde_json::json!(newton.increments);
        summary["solve_seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
        summary["probes"] = probes.summary();
        summary["output"] = serde_json::json!(file.display().to_string());
        return Ok(summary);
    };

    let mut flow = with_scalar(ns, model, time.start)?;
    let mut conservation = model
        .scalar
        .as_ref()
        .map(|spec| Conservation::new(out, &[spec.name.as_str()]));
    let mut baseline = match &case.stepper {
        Some(spec) if spec.baseline => {
            let ns = flow_from_case(case, model, flow.flow.mesh().clone())?;
            Some(ClassicalBaseline {
                forces: forces_spec(case)
                    .map(|f| ForceSeries::new(f, &ns))
                    .transpose()?,
                ns,
                seconds: 0.0,
                steps: 0,
                difference: Vec::new(),
            })
        }
        _ => None,
    };
    let mut learned = SurrogateStatus(String::new());
    let mut run = Run::new(case, &flow, name, out, progress)?;
    // Velocities this far above the reference scale mean divergence.
    run.time_loop.blow_up = 1e4 * forces.as_ref().map_or(1.0, |f| f.spec.reference_velocity);
    let mut extra: Vec<&mut dyn Monitor<FlowWithScalar>> = vec![&mut learned];
    if let Some(b) = baseline.as_mut() {
        extra.push(b);
    }
    if let Some(f) = forces.as_mut() {
        extra.push(f);
    }
    if let Some(c) = conservation.as_mut() {
        extra.push(c);
    }
    let result = run.drive(&mut flow, extra);
    // Forces are kept whatever happened, like the output written so far.
    if let Some(f) = &forces {
        let classical = baseline.as_ref().and_then(|b| b.forces.as_ref());
        f.write(out, name, classical)?;
        if let Some(c) = classical {
            c.write_csv(&out.join("forces_classical.csv"))?;
        }
        summary["forces"] = f.summary();
    }
    if let (Some(spec), Some(scalar)) = (&model.scalar, flow.scalar()) {
        let values = scalar.state().iter().map(|u| u[0]);
        summary["scalar"] = serde_json::json!({
            "name": spec.name,
            "total": scalar.total()[0],
            "outflow": scalar.boundary_outflow()[0],
            "min": values.clone().fold(f64::INFINITY, f64::min),
            "max": values.fold(f64::NEG_INFINITY, f64::max),
            "steps": flow.scalar_steps,
        });
    }
    extend(&mut summary, run.summary(result)?);
    let ns = &flow.flow;
    summary["integrator"] = serde_json::json!(format!("{:?}", ns.integrator));
    summary["dt"] = serde_json::json!(time.dt);
    if let Some(s) = ns.surrogate() {
        let mut record = s.stats.to_json();
        record["model"] = serde_json::json!(s.describe());
        record["from"] = serde_json::json!(s.from);
        record["residual_tolerance"] = serde_json::json!(s.tolerance);
        if let Some(b) = &baseline {
            record["classical_baseline"] = b.summary();
        }
        summary["stepper"] = record;
    }
    Ok(summary)
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
