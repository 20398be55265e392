//! The case section shared by the scalar models: `heat` (here),
//! `poisson` and `advection_diffusion` (their folders): coefficients,
//! boundary conditions, checks and builders.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use pde_mesh::Mesh;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::{Heat, HeatBoundary};
use crate::expr::Expr;
use crate::fem::FunctionSpace;
use crate::linalg::registry::{make_solver, SystemInfo};
use crate::physics::checks::{check_group, check_vector};
use crate::physics::spec::{
    boundary_uses, BoundaryUse, BuildContext, Built, CheckContext, ModelSpec, TimeUse,
    TransientSetup,
};
use crate::time::Integrator;

/// The case section of the scalar models (Poisson, heat,
/// advection–diffusion).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalarSpec {
    /// Polynomial degree of the Lagrange elements, 1 or 2. Default 1.
    #[serde(default = "one")]
    pub degree: usize,
    /// Diffusion coefficient `κ(x, y, z)`. Default 1.
    #[serde(default = "expr_one")]
    pub kappa: Expr,
    /// Source `f(x, y, z, t)`. Default 0.
    #[serde(default = "expr_zero")]
    pub source: Expr,
    /// Initial state `u(x, y, z, 0)` (heat only). Default 0.
    #[serde(default)]
    pub initial: Option<Expr>,
    /// Boundary conditions by physical-group name. Groups not listed are
    /// insulated (`κ ∂u/∂n = 0`).
    #[serde(default)]
    pub boundary: BTreeMap<String, Spanned<BoundarySpec>>,
    /// Advection velocity `β(x, y, z)`, one expression per coordinate
    /// (advection–diffusion only, where it is required).
    #[serde(default)]
    pub velocity: Option<Vec<Expr>>,
    /// SUPG stabilisation of advection (advection–diffusion only). Default true.
    #[serde(default = "yes")]
    pub supg: bool,
}

/// A boundary condition of a scalar model.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BoundarySpec {
    /// `u = g`.
    Dirichlet(Expr),
    /// `κ ∂u/∂n = h` (outward normal).
    Neumann(Expr),
    /// `κ ∂u/∂n + α u = r`.
    Robin {
        /// `α`.
        alpha: Expr,
        /// `r`.
        value: Expr,
    },
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn expr_one() -> Expr {
    Expr::constant(1.0)
}
fn expr_zero() -> Expr {
    Expr::constant(0.0)
}

impl ScalarSpec {
    pub(crate) fn check(&self, name: &str, cx: &CheckContext, problems: &mut Vec<String>) {
        let model = self;
        let dim = cx.mesh.dim();
        let advection = name == "advection_diffusion";
        match &model.velocity {
            None if advection => problems.push(format!(
                "physics.{name}.velocity: required; one expression per coordinate, e.g. [1, 0]"
            )),
            Some(_) if !advection => problems.push(format!(
                "physics.{name}.velocity: only advection_diffusion has a velocity"
            )),
            Some(v) => {
                check_vector(&format!("physics.{name}.velocity"), v, dim, problems);
                if let Some(e) = v.iter().find(|e| e.is_time_dependent()) {
                    problems.push(format!(
                        "physics.{name}.velocity: '{}' depends on t; the velocity must be steady",
                        e.text()
                    ))
                }
            }
            None => {}
        }
        if !(1..=2).contains(&model.degree) {
            problems.push(format!(
                "physics.{name}.degree: {} is not available; expected 1 or 2",
                model.degree
            ));
        }
        // κ is assembled once; a steady problem has no time at all.
        if model.kappa.is_time_dependent() {
            problems.push(format!(
                "physics.{name}.kappa: '{}' depends on t; κ must be steady (it is assembled once)",
                model.kappa.text()
            ));
        }
        if name == "poisson" {
            let mut exprs = vec![("source".to_string(), &model.source)];
            for (group, bc) in &model.boundary {
                let key = format!("boundary.{group}");
                match &bc.value {
                    BoundarySpec::Dirichlet(e) | BoundarySpec::Neumann(e) => exprs.push((key, e)),
                    BoundarySpec::Robin { alpha, value } => {
                        exprs.push((format!("{key}.alpha"), alpha));
                        exprs.push((format!("{key}.value"), value));
                    }
                }
            }
            for (key, e) in exprs.into_iter().filter(|(_, e)| e.is_time_dependent()) {
                problems.push(format!(
                    "physics.poisson.{key}: '{}' depends on t; poisson is steady (use heat for \
                     a time-dependent problem)",
                    e.text()
                ));
            }
        }
        if name != "poisson" {
            for (group, bc) in &model.boundary {
                if matches!(bc.value, BoundarySpec::Robin { .. }) {
                    problems.push(format!(
                        "line {}: physics.{name}.boundary.{group}: robin conditions are available for \
                         poisson only; use dirichlet or neumann",
                        bc.referenced.line()
                    ));
                }
            }
        }
        if cx.time.is_none() && model.initial.is_some() {
            problems.push(format!(
                "physics.{name}.initial: a steady run (no time section) has no initial state"
            ));
        }
        for group in self.boundary.keys() {
            let key = format!("physics.{name}.boundary.{group}");
            check_group(cx.mesh, &key, group, problems);
        }
    }

    /// The function space of the section's degree.
    pub(crate) fn space(&self, mesh: Arc<Mesh>) -> Result<FunctionSpace> {
        FunctionSpace::new(mesh, self.degree).map_err(|e| anyhow::anyhow!("physics: {e:#}"))
    }

    /// Every boundary group with its condition (insulated by default).
    pub(crate) fn boundary_uses(&self, mesh: &Mesh) -> Vec<BoundaryUse> {
        boundary_uses(
            mesh,
            |g| {
                self.boundary.get(g).map(|bc| match &bc.value {
                    BoundarySpec::Dirichlet(e) => format!("dirichlet {}", e.text()),
                    BoundarySpec::Neumann(e) => format!("neumann {}", e.text()),
                    BoundarySpec::Robin { alpha, value } => {
                        format!("robin alpha {} value {}", alpha.text(), value.text())
                    }
                })
            },
            "neumann 0 (insulated)",
        )
    }

    /// The heat or advection–diffusion model of this section, at the start
    /// time (0 for a steady case), solving with `system`'s default solver.
    pub(crate) fn heat(&self, cx: &BuildContext, system: SystemInfo, default_solver: &str) -> Result<Heat> {
        let space = self.space(cx.mesh.clone())?;
        let initial = self.initial.clone().unwrap_or_else(expr_zero);
        let t0 = cx.time.map_or(0.0, |t| t.start);
        let mut heat = Heat::new(
            space,
            self.kappa.at_time(t0),
            |x| initial.eval(x, t0),
            t0,
            make_solver(cx.solver, default_solver, system)?,
        )?;
        heat.source = self.source.space_time();
        if let Some(time) = cx.time {
            heat.integrator = time.integrator_or(Integrator::BackwardEuler);
        }
        if let Some(velocity) = &self.velocity {
            let beta = velocity.iter().map(|e| e.at_time(t0)).collect::<Vec<_>>();
            heat.set_advection(
                Arc::new(move |x| std::array::from_fn(|k| beta.get(k).map_or(0.0, |b| b(x)))),
                self.supg,
            )?;
        }
        for (group, bc) in &self.boundary {
            let condition = match &bc.value {
                BoundarySpec::Dirichlet(g) => HeatBoundary::Dirichlet(g.space_time()),
                BoundarySpec::Neumann(h) => HeatBoundary::Neumann(h.space_time()),
                // Refused by the check.
                BoundarySpec::Robin { .. } => anyhow::bail!(
                    "physics.boundary.{group}: robin conditions are available for poisson only"
                ),
            };
            heat.set_boundary(group, condition);
        }
        Ok(heat)
    }
}

/// A time-dependent scalar model with no records of its own.
pub(crate) fn transient(heat: Heat) -> Built {
    Built::Transient(TransientSetup {
        model: Box::new(heat),
        monitors: Vec::new(),
        blow_up: None,
    })
}

/// `physics: {heat: ...}`: `∂u/∂t - ∇·(κ∇u) = f`.
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct HeatSpec(pub ScalarSpec);

impl HeatSpec {
    fn build_model(&self, cx: &BuildContext) -> Result<Built> {
        let heat = self.0.heat(cx, SystemInfo::SPD, self.default_solver(true))?;
        Ok(transient(heat))
    }
}

/// Implements [`ModelSpec`] for a scalar model's section (a newtype of
/// [`ScalarSpec`]) under `$name`, with its system, use of time and
/// adaptivity; it builds with its own `build_model`.
macro_rules! scalar_spec {
    ($spec:ty, $name:literal, $system:expr, $time:expr, adaptive: $adaptive:expr) => {
        impl $crate::physics::spec::ModelSpec for $spec {
            fn name(&self) -> &'static str {
                $name
            }
            fn capabilities(&self) -> $crate::physics::spec::Capabilities {
                $crate::physics::spec::Capabilities {
                    system: $system,
                    time: $time,
                    stepping: $crate::physics::spec::Stepping::Integrator {
                        default: $crate::time::Integrator::BackwardEuler,
                        adaptive: $adaptive,
                    },
                    forces: false,
                    linear_solver: true,
                }
            }
            fn check(
                &self,
                cx: &$crate::physics::spec::CheckContext,
                problems: &mut Vec<String>,
            ) {
                self.0.check($name, cx, problems);
            }
            fn boundary(&self, mesh: &pde_mesh::Mesh) -> Vec<$crate::physics::spec::BoundaryUse> {
                self.0.boundary_uses(mesh)
            }
            fn moving_mesh(&self) -> Result<Vec<String>, String> {
                if $time == $crate::physics::spec::TimeUse::Never {
                    Err(format!("the {} model is steady: it has no steps to move the mesh between", $name))
                } else {
                    Ok(vec!["u".into()])
                }
            }
            fn build(
                &self,
                cx: &$crate::physics::spec::BuildContext,
            ) -> anyhow::Result<$crate::physics::spec::Built> {
                self.build_model(cx)
            }
        }
    };
}
pub(crate) use scalar_spec;

scalar_spec!(HeatSpec, "heat", SystemInfo::SPD, TimeUse::Required, adaptive: true);
