//! Running finite-volume cases: the model from the case, CFL-limited steps
//! in the `TimeLoop`, cell data in the `.pvd` series, and `conservation.csv`
//! (total, boundary outflow, min and max of every conserved quantity).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use pde_mesh::io::vtk;
use pde_mesh::Mesh;

use super::{progress_bar, time_section, Series, StepLog};
use crate::case::{
    CarriedScalarSpec, Case, FvBoundarySpec, FvScheme, LimiterKind, ReconstructionKind,
    RungeKuttaKind, ShallowWaterModel,
};
use crate::expr::Expr;
use crate::fvm::geometry::FvMesh;
use crate::fvm::law::{ConservationLaw, LinearAdvection, ShallowWater};
use crate::fvm::reconstruct::Limiter;
use crate::fvm::solver::{FiniteVolume, FvBoundary, Reconstruction, SspRk};
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
    model.reconstruction = match (scheme.reconstruction, scheme.limiter) {
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
        RungeKuttaKind::SspRk1 => SspRk::Rk1,
        RungeKuttaKind::SspRk2 => SspRk::Rk2,
        RungeKuttaKind::SspRk3 => SspRk::Rk3,
    };
}

/// Sets the boundary conditions of a case.
fn boundaries<L: ConservationLaw<N>, const N: usize>(
    model: &mut FiniteVolume<L, N>,
    boundary: &std::collections::BTreeMap<String, FvBoundarySpec>,
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
            .with_context(|| format!("physics: boundary.{group}"))?;
    }
    Ok(())
}

/// `conservation.csv`: per conserved quantity its total, the boundary
/// outflow so far, and its minimum and maximum over the cells.
pub(super) struct Conservation {
    csv: String,
}

impl Conservation {
    pub(super) fn new(names: &[&str]) -> Self {
        let mut csv = String::from("t");
        for n in names {
            let _ = write!(csv, ",total_{n},outflow_{n},min_{n},max_{n}");
        }
        csv.push('\n');
        Conservation { csv }
    }

    pub(super) fn record<L: ConservationLaw<N>, const N: usize>(
        &mut self,
        t: f64,
        model: &FiniteVolume<L, N>,
    ) {
        let (total, out) = (model.total(), model.boundary_outflow());
        let _ = write!(self.csv, "{t:.9e}");
        for k in 0..N {
            let values = model.state().iter().map(|u| u[k]);
            let lo = values.clone().fold(f64::INFINITY, f64::min);
            let hi = values.fold(f64::NEG_INFINITY, f64::max);
            let _ = write!(
                self.csv,
                ",{:.12e},{:.12e},{lo:.9e},{hi:.9e}",
                total[k], out[k]
            );
        }
        self.csv.push('\n');
    }

    pub(super) fn write(&self, out: &Path) -> Result<()> {
        vtk::write_atomically(&out.join("conservation.csv"), |w| {
            w.write_all(self.csv.as_bytes())
        })?;
        Ok(())
    }
}

/// The finite-volume model of a scalar carried by a flow on `mesh`, at
/// time `t0` (its velocity comes from the flow).
pub(super) fn carried_scalar(
    spec: &CarriedScalarSpec,
    mesh: Arc<Mesh>,
    t0: f64,
) -> Result<FiniteVolume<LinearAdvection, 1>> {
    let fv = FvMesh::new(mesh).context("physics: finite-volume geometry")?;
    let law = LinearAdvection {
        face_velocity: vec![0.0; fv.faces.len()],
    };
    let mut model = FiniteVolume::new(fv, law);
    configure(&mut model, &spec.scheme);
    boundaries(&mut model, &spec.boundary).context("physics: scalar")?;
    let initial = spec.initial.as_ref().map(|e| e.space_time());
    model.set_initial(|x| [initial.as_ref().map_or(0.0, |f| f(x, t0))]);
    model.set_time(t0);
    Ok(model)
}

/// Runs a shallow-water case.
pub(crate) fn run_shallow_water(
    case: &Case,
    spec: &ShallowWaterModel,
    mesh: Arc<Mesh>,
    name: &str,
    out: &Path,
    progress: bool,
) -> Result<serde_json::Value> {
    let time = time_section(case)?;
    let fv = FvMesh::new(mesh).context("physics: finite-volume geometry")?;
    let mut model = FiniteVolume::new(fv, ShallowWater { g: spec.g });
    configure(&mut model, &spec.scheme);
    boundaries(&mut model, &spec.boundary)?;
    let initial = state_fn::<3>(&spec.initial);
    model.set_initial(|x| initial(x, time.start));
    model.set_time(time.start);
    // NaN depths (from a bad expression) are refused too.
    if let Some(c) = model
        .state()
        .iter()
        .position(|u| u[0].is_nan() || u[0] <= 0.0)
    {
        anyhow::bail!(
            "physics.shallow_water.initial: the depth must be positive; it is {} in cell {c} \
             at {:?}",
            model.state()[c][0],
            model.mesh.centroid[c]
        );
    }
    let initial_total = model.total();

    let mut series = Series::new(out, name, case.output.every, time.end);
    series.write(0, time.start, &model)?;
    let mut conservation = Conservation::new(&model.law.names());
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
    let depth = model.state().iter().map(|u| u[0]);
    Ok(serde_json::json!({
        "model": case.physics.name(),
        "cells": model.mesh.num_cells(),
        "unknowns": 3 * model.mesh.num_cells(),
        "steps": summary.steps,
        "t_end": summary.t,
        "dt_min": summary.dt_range.0,
        "dt_max": summary.dt_range.1,
        "mass": total[0],
        "mass_outflow": outflow[0],
        "mass_balance_error": (total[0] + outflow[0] - initial_total[0]) / initial_total[0],
        "min_depth": depth.clone().fold(f64::INFINITY, f64::min),
        "max_depth": depth.fold(f64::NEG_INFINITY, f64::max),
        "last_output_step": series.last_written(),
        "output": series.path().display().to_string(),
    }))
}
