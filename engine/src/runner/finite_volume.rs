//! Running finite-volume cases (shallow water, transport, Burgers): the
//! model from the case, CFL-limited steps in the `TimeLoop`, cell data in
//! the `.pvd` series, `conservation.csv` (total, boundary outflow, min and
//! max of every conserved quantity) and its plot `conservation.png`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use pde_mesh::io::vtk;
use pde_mesh::Mesh;

use super::{progress_bar, time_section, Series, StepLog};
use crate::case::{
    CarriedScalarSpec, Case, FvBoundarySpec, FvScalarModel, FvScheme, LimiterKind, Physics,
    ReconstructionKind, RungeKuttaKind, ShallowWaterModel,
};
use crate::expr::Expr;
use crate::fvm::geometry::FvMesh;
use crate::fvm::law::{Burgers, ConservationLaw, LinearAdvection, ShallowWater};
use crate::fvm::reconstruct::Limiter;
use crate::fvm::solver::{FiniteVolume, FvBoundary, FvIntegrator, Reconstruction, SspRk};
use crate::plot::{self, Panel};
use crate::time::TimeLoop;

/// `N` expressions of `x, y, z, t` as a state function (missing ones 0).
pub(super) fn state_fn<const N: usize>(
    v: &[Expr],
) -> Arc<dyn Fn([f64; 3], f64) -> [f64; N] + Send + Sync> {
    let f: Vec<_> = v.iter().map(|e| e.space_time()).collect();
    Arc::new(move |x, t| std::array::from_fn(|k| f.get(k).map_or(0.0, |g| g(x, t))))
}

/// Applies the scheme settings of a case.
fn configure<L: ConservationLaw<N>, const N: usize>(
    model: &mut FiniteVolume<L, N>,
    scheme: &FvScheme,
) {
    model.flux = scheme.flux;
    model.cfl = scheme.cfl;
    model.reconstruction = match (scheme.reconstruction(), scheme.limiter) {
        (ReconstructionKind::FirstOrder, _) => Reconstruction::FirstOrder,
        (ReconstructionKind::Muscl, LimiterKind::BarthJespersen) => {
            Reconstruction::Muscl(Limiter::BarthJespersen)
        }
        (ReconstructionKind::Muscl, LimiterKind::Venkatakrishnan) => {
            Reconstruction::Muscl(Limiter::Venkatakrishnan(1.0))
        }
        (ReconstructionKind::Muscl, LimiterKind::None) => Reconstruction::Muscl(Limiter::None),
    };
    model.integrator = match scheme.runge_kutta {
        RungeKuttaKind::SspRk1 => FvIntegrator::Ssp(SspRk::Rk1),
        RungeKuttaKind::SspRk2 => FvIntegrator::Ssp(SspRk::Rk2),
        RungeKuttaKind::SspRk3 => FvIntegrator::Ssp(SspRk::Rk3),
        RungeKuttaKind::BackwardEuler => FvIntegrator::BackwardEuler,
    };
}

/// What a finite-volume model takes from its case section, whatever the law.
struct Setup<'a> {
    key: String,
    boundary: &'a BTreeMap<String, FvBoundarySpec>,
    periodic: &'a [[String; 2]],
    scheme: &'a FvScheme,
    diffusivity: f64,
}

impl<'a> Setup<'a> {
    /// The setup of a scalar model (transport, Burgers) under `key`.
    fn scalar(key: &str, spec: &'a FvScalarModel) -> Self {
        Setup {
            key: key.into(),
            boundary: &spec.boundary,
            periodic: &spec.periodic,
            scheme: &spec.scheme,
            diffusivity: spec.diffusivity,
        }
    }

    /// The model of the law `law(geometry)` on `mesh`, at rest, at time `t0`.
    fn build<L: ConservationLaw<N>, const N: usize>(
        &self,
        mesh: Arc<Mesh>,
        t0: f64,
        law: impl FnOnce(&FvMesh) -> L,
    ) -> Result<FiniteVolume<L, N>> {
        let mut fv = FvMesh::new(mesh).context("physics: finite-volume geometry")?;
        for [a, b] in self.periodic {
            fv.make_periodic(a, b)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}.periodic", self.key))?;
        }
        let law = law(&fv);
        let mut model = FiniteVolume::new(fv, law);
        configure(&mut model, self.scheme);
        model.diffusivity = self.diffusivity;
        boundaries(&mut model, self.boundary).with_context(|| self.key.clone())?;
        model.set_time(t0);
        Ok(model)
    }
}

/// Sets the boundary conditions of a case.
fn boundaries<L: ConservationLaw<N>, const N: usize>(
    model: &mut FiniteVolume<L, N>,
    boundary: &BTreeMap<String, FvBoundarySpec>,
) -> Result<()> {
    for (group, bc) in boundary {
        let condition = match bc {
            FvBoundarySpec::Inflow(v) => FvBoundary::Inflow(state_fn(v)),
            FvBoundarySpec::Outflow => FvBoundary::Outflow,
            FvBoundarySpec::Wall => FvBoundary::Wall,
        };
        model
            .set_boundary(group, condition)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("boundary.{group}"))?;
    }
    Ok(())
}

/// `conservation.csv`: per conserved quantity its total, the boundary
/// outflow so far, and its minimum and maximum over the cells; and
/// `conservation.png`, the plot of the first quantity's.
pub(super) struct Conservation {
    names: Vec<String>,
    /// Per record: t, then total, outflow, min, max of every quantity.
    rows: Vec<Vec<f64>>,
}

impl Conservation {
    pub(super) fn new(names: &[&str]) -> Self {
        Conservation {
            names: names.iter().map(|n| n.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub(super) fn record<L: ConservationLaw<N>, const N: usize>(
        &mut self,
        t: f64,
        model: &FiniteVolume<L, N>,
    ) {
        let (total, out) = (model.total(), model.boundary_outflow());
        let mut row = vec![t];
        for k in 0..N {
            let values = model.state().iter().map(|u| u[k]);
            let lo = values.clone().fold(f64::INFINITY, f64::min);
            let hi = values.fold(f64::NEG_INFINITY, f64::max);
            row.extend([total[k], out[k], lo, hi]);
        }
        self.rows.push(row);
    }

    pub(super) fn write(&self, out: &Path) -> Result<()> {
        let mut csv = String::from("t");
        for n in &self.names {
            let _ = write!(csv, ",total_{n},outflow_{n},min_{n},max_{n}");
        }
        csv.push('\n');
        for row in &self.rows {
            let _ = write!(csv, "{:.9e}", row[0]);
            for q in row[1..].chunks(4) {
                let _ = write!(
                    csv,
                    ",{:.12e},{:.12e},{:.9e},{:.9e}",
                    q[0], q[1], q[2], q[3]
                );
            }
            csv.push('\n');
        }
        vtk::write_atomically(&out.join("conservation.csv"), |w| {
            w.write_all(csv.as_bytes())
        })?;
        if self.rows.len() >= 2 {
            let name = &self.names[0];
            let series = |k: usize| self.rows.iter().map(|r| (r[0], r[k])).collect();
            let panel = |label: String, k: usize| Panel {
                label,
                points: series(k),
                from: None,
                reference: None,
            };
            let initial = self.rows[0][1];
            let balance = self
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

/// What is held plus what has left minus what was there, relative to the
/// largest of the three: round-off for a conservative scheme.
fn balance_error(initial: f64, total: f64, outflow: f64) -> f64 {
    let scale = [initial, total, outflow]
        .iter()
        .fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
    (total + outflow - initial) / scale
}

/// The finite-volume model of a scalar carried by a flow on `mesh`, at
/// time `t0` (its velocity comes from the flow).
pub(super) fn carried_scalar(
    spec: &CarriedScalarSpec,
    mesh: Arc<Mesh>,
    t0: f64,
) -> Result<FiniteVolume<LinearAdvection, 1>> {
    let setup = Setup {
        key: "physics.scalar".into(),
        boundary: &spec.boundary,
        periodic: &[],
        scheme: &spec.scheme,
        diffusivity: 0.0,
    };
    let mut model = setup.build(mesh, t0, |fv| LinearAdvection {
        face_velocity: vec![0.0; fv.faces.len()],
    })?;
    let initial = spec.initial.as_ref().map(|e| e.space_time());
    model.set_initial(|x| [initial.as_ref().map_or(0.0, |f| f(x, t0))]);
    Ok(model)
}

/// Runs a finite-volume case (shallow water, transport, Burgers).
pub(crate) fn run_finite_volume(
    case: &Case,
    mesh: Arc<Mesh>,
    name: &str,
    out: &Path,
    progress: bool,
) -> Result<serde_json::Value> {
    let t0 = time_section(case)?.start;
    let key = format!("physics.{}", case.physics.name());
    let scalar_initial = |spec: &FvScalarModel| {
        let f = spec.initial.as_ref().map(|e| e.space_time());
        move |x| [f.as_ref().map_or(0.0, |f| f(x, t0))]
    };
    match &case.physics {
        Physics::ShallowWater(spec) => {
            let model = shallow_water(spec, mesh, t0, &key)?;
            run(case, model, name, out, progress)
        }
        Physics::Transport(spec) => {
            let velocity = state_fn::<3>(spec.velocity.as_deref().unwrap_or_default());
            let mut model = Setup::scalar(&key, spec)
                .build(mesh, t0, |fv| LinearAdvection::new(fv, |x| velocity(x, t0)))?;
            model.set_initial(scalar_initial(spec));
            run(case, model, name, out, progress)
        }
        Physics::Burgers(spec) => {
            let d = spec.direction.as_deref().unwrap_or(&[1.0]);
            let direction = std::array::from_fn(|k| d.get(k).copied().unwrap_or(0.0));
            let mut model = Setup::scalar(&key, spec).build(mesh, t0, |_| Burgers { direction })?;
            model.set_initial(scalar_initial(spec));
            run(case, model, name, out, progress)
        }
        other => anyhow::bail!("{} is not a finite-volume model", other.name()),
    }
}

/// The shallow-water model of a case, its initial depth checked.
fn shallow_water(
    spec: &ShallowWaterModel,
    mesh: Arc<Mesh>,
    t0: f64,
    key: &str,
) -> Result<FiniteVolume<ShallowWater, 3>> {
    let setup = Setup {
        key: key.into(),
        boundary: &spec.boundary,
        periodic: &spec.periodic,
        scheme: &spec.scheme,
        diffusivity: 0.0,
    };
    let mut model = setup.build(mesh, t0, |_| ShallowWater { g: spec.g })?;
    let initial = state_fn::<3>(&spec.initial);
    model.set_initial(|x| initial(x, t0));
    // NaN depths (from a bad expression) are refused too.
    if let Some(c) = model
        .state()
        .iter()
        .position(|u| u[0].is_nan() || u[0] <= 0.0)
    {
        anyhow::bail!(
            "{key}.initial: the depth must be positive; it is {} in cell {c} at {:?}",
            model.state()[c][0],
            model.mesh.centroid[c]
        );
    }
    Ok(model)
}

/// Runs a finite-volume model from its initial state through the case's
/// time section: output series, conservation record, progress, summary.
fn run<L: ConservationLaw<N>, const N: usize>(
    case: &Case,
    mut model: FiniteVolume<L, N>,
    name: &str,
    out: &Path,
    progress: bool,
) -> Result<serde_json::Value> {
    let time = time_section(case)?;
    let initial_total = model.total();
    let mut series = Series::new(out, name, case.output.every, time.end);
    series.write(0, time.start, &model)?;
    let names = model.law.names();
    let mut conservation = Conservation::new(&names);
    conservation.record(time.start, &model);
    let bar = progress_bar(progress);
    let mut log = StepLog::default();
    let run = TimeLoop::new(time.start, time.end, time.dt);
    let span = time.end - time.start;
    let result = run.run(&mut model, None, &mut [], |step, t, dt, report, m| {
        conservation.record(t, m);
        log.record(t, dt, report);
        bar.set_position((1000.0 * (t - time.start) / span) as u64);
        bar.set_message(format!("t {t:.4e}  dt {dt:.2e}  step {step}"));
        series.maybe_write(step, t, m)
    });
    bar.finish_and_clear();
    conservation.write(out)?;
    log.write(out)?;
    let summary =
        result.with_context(|| format!("{}: the run stopped", series.path().display()))?;
    let (total, outflow) = (model.total(), model.boundary_outflow());
    let range: serde_json::Map<String, serde_json::Value> = (0..N)
        .map(|k| {
            let values = model.state().iter().map(|u| u[k]);
            let lo = values.clone().fold(f64::INFINITY, f64::min);
            let hi = values.fold(f64::NEG_INFINITY, f64::max);
            (names[k].to_string(), serde_json::json!([lo, hi]))
        })
        .collect();
    Ok(serde_json::json!({
        "model": case.physics.name(),
        "cells": model.mesh.num_cells(),
        "unknowns": N * model.mesh.num_cells(),
        "steps": summary.steps,
        "t_end": summary.t,
        "dt_min": summary.dt_range.0,
        "dt_max": summary.dt_range.1,
        "conserved": names[0],
        "total": total[0],
        "outflow": outflow[0],
        "balance_error": balance_error(initial_total[0], total[0], outflow[0]),
        "range": range,
        "last_output_step": series.last_written(),
        "output": series.path().display().to_string(),
    }))
}
