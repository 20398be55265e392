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

use super::{extend, time_section, Run};
use crate::case::{
    CarriedScalarSpec, Case, FvBoundarySpec, FvScalarModel, FvScheme, LimiterKind, Physics,
    ReconstructionKind, RungeKuttaKind, ShallowWaterModel,
};
use crate::driver::{Monitor, StepInfo};
use crate::expr::Expr;
use crate::fvm::geometry::FvMesh;
use crate::fvm::law::{Burgers, ConservationLaw, LinearAdvection, ShallowWater};
use crate::fvm::reconstruct::Limiter;
use crate::fvm::solver::{FiniteVolume, FvBoundary, FvIntegrator, Reconstruction, SspRk};
use crate::physics::carried_scalar::FlowWithScalar;
use crate::physics::{StepError, Transient};
use crate::plot::{self, Panel};

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
/// `conservation.png`, the plot of the first quantity's. A monitor of
/// finite-volume models and of flows carrying a scalar, written into its
/// directory when the run ends.
pub(super) struct Conservation {
    dir: std::path::PathBuf,
    names: Vec<String>,
    /// Per record: t, then total, outflow, min, max of every quantity.
    rows: Vec<Vec<f64>>,
}

impl Conservation {
    pub(super) fn new(dir: &Path, names: &[&str]) -> Self {
        Conservation {
            dir: dir.to_path_buf(),
            names: names.iter().map(|n| n.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn sample<L: ConservationLaw<N>, const N: usize>(
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

    fn write(&self) -> Result<()> {
        let out = &self.dir;
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

impl<L: ConservationLaw<N>, const N: usize> Monitor<FiniteVolume<L, N>> for Conservation {
    fn start(&mut self, t: f64, model: &FiniteVolume<L, N>) -> Result<(), StepError> {
        self.sample(t, model);
        Ok(())
    }

    fn record(&mut self, step: &StepInfo, model: &FiniteVolume<L, N>) -> Result<(), StepError> {
        self.sample(step.t, model);
        Ok(())
    }

    fn finish(&mut self, _: &FiniteVolume<L, N>) -> Result<(), StepError> {
        self.write().map_err(crate::driver::monitors::output_error)
    }
}

/// The carried scalar of a flow.
impl Monitor<FlowWithScalar> for Conservation {
    fn start(&mut self, t: f64, flow: &FlowWithScalar) -> Result<(), StepError> {
        if let Some(scalar) = flow.scalar() {
            self.sample(t, scalar);
        }
        Ok(())
    }

    fn record(&mut self, step: &StepInfo, flow: &FlowWithScalar) -> Result<(), StepError> {
        if let Some(scalar) = flow.scalar() {
            self.sample(step.t, scalar);
        }
        Ok(())
    }

    fn finish(&mut self, _: &FlowWithScalar) -> Result<(), StepError> {
        self.write().map_err(crate::driver::monitors::output_error)
    }
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

/// What to do with the finite-volume model of a case, whatever its law:
/// run it, or box it for step-by-step use.
pub(crate) trait FvVisitor {
    /// What the visit gives.
    type Output;
    /// Visits the model.
    fn visit<L: ConservationLaw<N> + 'static, const N: usize>(
        self,
        model: FiniteVolume<L, N>,
    ) -> Result<Self::Output>;
}

/// Builds the finite-volume model of a case (shallow water, transport,
/// Burgers) at its start time and hands it to `visitor`.
pub(crate) fn with_finite_volume<V: FvVisitor>(
    case: &Case,
    mesh: Arc<Mesh>,
    visitor: V,
) -> Result<V::Output> {
    let t0 = time_section(case)?.start;
    let key = format!("physics.{}", case.physics.name());
    let scalar_initial = |spec: &FvScalarModel| {
        let f = spec.initial.as_ref().map(|e| e.space_time());
        move |x| [f.as_ref().map_or(0.0, |f| f(x, t0))]
    };
    match &case.physics {
        Physics::ShallowWater(spec) => visitor.visit(shallow_water(spec, mesh, t0, &key)?),
        Physics::Transport(spec) => {
            let velocity = state_fn::<3>(spec.velocity.as_deref().unwrap_or_default());
            let mut model = Setup::scalar(&key, spec)
                .build(mesh, t0, |fv| LinearAdvection::new(fv, |x| velocity(x, t0)))?;
            model.set_initial(scalar_initial(spec));
            visitor.visit(model)
        }
        Physics::Burgers(spec) => {
            let d = spec.direction.as_deref().unwrap_or(&[1.0]);
            let direction = std::array::from_fn(|k| d.get(k).copied().unwrap_or(0.0));
            let mut model = Setup::scalar(&key, spec).build(mesh, t0, |_| Burgers { direction })?;
            model.set_initial(scalar_initial(spec));
            visitor.visit(model)
        }
        other => anyhow::bail!("{} is not a finite-volume model", other.name()),
    }
}

/// Runs a finite-volume case into `out`.
pub(crate) struct RunVisitor<'a> {
    pub(crate) case: &'a Case,
    pub(crate) name: &'a str,
    pub(crate) out: &'a Path,
    pub(crate) progress: bool,
}

impl FvVisitor for RunVisitor<'_> {
    type Output = serde_json::Value;
    fn visit<L: ConservationLaw<N> + 'static, const N: usize>(
        self,
        model: FiniteVolume<L, N>,
    ) -> Result<serde_json::Value> {
        run(self.case, model, self.name, self.out, self.progress)
    }
}

/// Boxes a finite-volume model for step-by-step use.
pub(crate) struct BoxVisitor;

impl FvVisitor for BoxVisitor {
    type Output = Box<dyn Transient>;
    fn visit<L: ConservationLaw<N> + 'static, const N: usize>(
        self,
        model: FiniteVolume<L, N>,
    ) -> Result<Box<dyn Transient>> {
        Ok(Box::new(model))
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
/// time section: output series, probes, conservation record, progress,
/// summary.
fn run<L: ConservationLaw<N>, const N: usize>(
    case: &Case,
    mut model: FiniteVolume<L, N>,
    name: &str,
    out: &Path,
    progress: bool,
) -> Result<serde_json::Value> {
    let initial_total = model.total();
    let names = model.law.names();
    let mut conservation = Conservation::new(out, &names);
    let mut run = Run::new(case, &model, name, out, progress)?;
    let result = run.drive(&mut model, vec![&mut conservation]);
    let mut summary = run.summary(result)?;
    let (total, outflow) = (model.total(), model.boundary_outflow());
    let range: serde_json::Map<String, serde_json::Value> = (0..N)
        .map(|k| {
            let values = model.state().iter().map(|u| u[k]);
            let lo = values.clone().fold(f64::INFINITY, f64::min);
            let hi = values.fold(f64::NEG_INFINITY, f64::max);
            (names[k].to_string(), serde_json::json!([lo, hi]))
        })
        .collect();
    extend(
        &mut summary,
        serde_json::json!({
            "model": case.physics.name(),
            "cells": model.mesh.num_cells(),
            "unknowns": N * model.mesh.num_cells(),
            "conserved": names[0],
            "total": total[0],
            "outflow": outflow[0],
            "balance_error": balance_error(initial_total[0], total[0], outflow[0]),
            "range": range,
        }),
    );
    Ok(summary)
}
