//! The case section of the flow models (`navier_stokes`, `stokes`): the
//! boundary conditions, initial state, body force, Newton settings and a
//! carried scalar; their checks, and the builders of the steady and the
//! time-dependent flow with their records.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use pde_mesh::{CellKind, Mesh};
use serde::Deserialize;

use super::forces::{point3, ClassicalBaseline, FlowRecord, ForceSeries, StepRecords};
use super::{FlowBoundary, NavierStokes};
use crate::expr::Expr;
use crate::linalg::direct::SparseLu;
use crate::linalg::registry::{make_solver, SystemInfo};
use crate::physics::carried_scalar::{flow_of, FlowWithScalar};
use crate::physics::checks::{check_group, check_point, check_vector, is_positive};
use crate::physics::finite_volume::{
    carried_scalar, check_fv_scheme, state_fn, Conservation, FvBoundarySpec, FvScheme,
};
use crate::physics::spec::{
    boundary_uses, BoundaryUse, BuildContext, Built, Capabilities, CheckContext, ModelSpec,
    Steady, Stepping, TimeUse, TransientSetup,
};
use crate::physics::Model;
use crate::time::Integrator;

/// The case section of the flow models (Navier–Stokes, Stokes).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    /// Kinematic viscosity `ν` (density 1).
    pub nu: f64,
    /// Boundary conditions by physical-group name. Groups not listed are
    /// do-nothing (free outflow).
    #[serde(default)]
    pub boundary: BTreeMap<String, FlowBoundarySpec>,
    /// Initial velocity, one expression per coordinate. Default: at rest.
    #[serde(default)]
    pub initial: Option<Vec<Expr>>,
    /// Body force per unit mass, one expression of `x, y, z, t` per coordinate.
    #[serde(default)]
    pub body_force: Option<Vec<Expr>>,
    /// Fix the pressure to 0 at the vertex nearest this point (needed when
    /// velocity conditions enclose the flow).
    #[serde(default)]
    pub pressure_reference: Option<Vec<f64>>,
    /// Newton's method of steady runs.
    #[serde(default)]
    pub newton: NewtonSpec,
    /// A passive scalar the flow carries (finite volumes on the same mesh;
    /// time-dependent runs only).
    #[serde(default)]
    pub scalar: Option<CarriedScalarSpec>,
}

/// A passive scalar carried by a flow.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarriedScalarSpec {
    /// Its name in the output. Default `scalar`.
    #[serde(default = "scalar_name_default")]
    pub name: String,
    /// Initial value, an expression of `x, y, z`. Default 0.
    #[serde(default)]
    pub initial: Option<Expr>,
    /// Boundary conditions by group: `{inflow: [value]}`, `outflow`, `wall`.
    /// Groups not listed are walls (nothing crosses where the flow does not).
    #[serde(default)]
    pub boundary: BTreeMap<String, FvBoundarySpec>,
    /// The finite-volume scheme.
    #[serde(default)]
    pub scheme: FvScheme,
}

fn scalar_name_default() -> String {
    "scalar".into()
}

/// A boundary condition of a flow model.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowBoundarySpec {
    /// `u = g(x, y, z, t)`, one expression per coordinate.
    Velocity(Vec<Expr>),
    /// `u = 0`.
    NoSlip,
    /// `ν ∂u/∂n - p n = 0` (free outflow; the default).
    DoNothing,
}

/// Newton's method settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NewtonSpec {
    /// Stop when the relative update `|δx|∞/|x|∞` is below this. Default 1e-10.
    #[serde(default = "newton_tolerance")]
    pub tolerance: f64,
    /// Iteration limit. Default 20.
    #[serde(default = "newton_iterations")]
    pub max_iterations: usize,
}

impl Default for NewtonSpec {
    fn default() -> Self {
        NewtonSpec {
            tolerance: newton_tolerance(),
            max_iterations: newton_iterations(),
        }
    }
}

fn newton_tolerance() -> f64 {
    1e-10
}
fn newton_iterations() -> usize {
    20
}

/// LU for steady flows; for time-dependent ones LU kept across steps.
fn default_solver(transient: bool) -> &'static str {
    if transient {
        "lagged_lu"
    } else {
        "lu"
    }
}

impl FlowSpec {
/// The flow this section describes, at the start time, with `convection`
/// (Navier–Stokes) or without (Stokes).
pub fn flow(&self, convection: bool, cx: &BuildContext) -> Result<NavierStokes> {
    let model = self;
    let mut ns =
        NavierStokes::new(cx.mesh.clone(), model.nu, Box::new(SparseLu::new())).context("physics")?;
    let system = SystemInfo {
        symmetric: false,
        saddle_split: Some(ns.pressure_offset()),
    };
    ns.set_solver(make_solver(cx.solver, default_solver(cx.time.is_some()), system)?);
    ns.convection = convection;
    let t0 = cx.time.map_or(0.0, |t| t.start);
    if let Some(time) = cx.time {
        ns.integrator = time.integrator_or(Integrator::Bdf2);
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
    if let Some(f) = cx.forces {
        ns.measure_force_on(&f.group)
            .with_context(|| format!("monitors: forces.group '{}'", f.group))?;
    }
    Ok(ns)
}
}

/// The flow `ns` with the case's carried scalar, if any, from time `t0`.
fn with_scalar(ns: NavierStokes, model: &FlowSpec, t0: f64) -> Result<FlowWithScalar> {
    let mesh = ns.mesh().clone();
    let mut flow = FlowWithScalar::new(ns);
    if let Some(spec) = &model.scalar {
        let scalar = carried_scalar(spec, mesh, t0)?;
        flow.carry(&spec.name, scalar)
            .context("physics: the carried scalar's velocity")?;
    }
    Ok(flow)
}

impl FlowSpec {
    fn check_flow(&self, name: &str, cx: &CheckContext, problems: &mut Vec<String>) {
        let model = self;
        let dim = cx.mesh.dim();
        // Taylor–Hood P2/P1 lives on triangles and tetrahedra.
        let simplices = cx.mesh.domain_blocks().all(|(_, b)| {
            matches!(
                b.kind,
                CellKind::Tri3 | CellKind::Tri6 | CellKind::Tet4 | CellKind::Tet10
            )
        });
        if dim < 2 || !simplices {
            let kinds: Vec<&str> = cx.mesh.domain_blocks().map(|(_, b)| b.kind.name()).collect();
            problems.push(format!(
                "physics.{name}: flows need a 2D or 3D mesh of triangles or tetrahedra \
                 (Taylor–Hood P2/P1); this mesh is {dim}D with {} cells",
                kinds.join(", ")
            ));
        }
        if !is_positive(model.nu) {
            problems.push(format!("physics.{name}.nu: {} must be positive", model.nu));
        }
        for (group, bc) in &model.boundary {
            if let FlowBoundarySpec::Velocity(v) = bc {
                check_vector(
                    &format!("physics.{name}.boundary.{group}.velocity"),
                    v,
                    dim,
                    problems,
                );
            }
        }
        for (key, v) in [
            ("initial", &model.initial),
            ("body_force", &model.body_force),
        ] {
            if let Some(v) = v {
                check_vector(&format!("physics.{name}.{key}"), v, dim, problems);
            }
        }
        if cx.time.is_none() && model.initial.is_some() {
            problems.push(format!(
                "physics.{name}.initial: a steady run (no time section) has no initial state"
            ));
        }
        if let Some(scalar) = &model.scalar {
            if cx.time.is_none() {
                problems.push(format!(
                    "physics.{name}.scalar: a carried scalar needs a time section"
                ));
            }
            for (group, bc) in &scalar.boundary {
                if let FvBoundarySpec::Inflow(v) = bc {
                    if v.len() != 1 {
                        problems.push(format!(
                            "physics.{name}.scalar.boundary.{group}.inflow: {} values given; \
                             expected 1",
                            v.len()
                        ));
                    }
                }
            }
            check_fv_scheme(
                &format!("physics.{name}.scalar.scheme"),
                &scalar.scheme,
                problems,
            );
        }
        if let Some(p) = &model.pressure_reference {
            check_point(
                &format!("physics.{name}.pressure_reference"),
                p,
                dim,
                problems,
            );
        }
        if !is_positive(model.newton.tolerance) || model.newton.max_iterations == 0 {
            problems.push(format!(
                "physics.{name}.newton: need tolerance > 0 and max_iterations >= 1"
            ));
        }
        if let Some(t) = cx.time {
            let integrator = t.integrator_or(Integrator::Bdf2);
            if integrator == Integrator::CrankNicolson {
                problems.push(format!(
                    "time.integrator: crank_nicolson is not available for {name}; use bdf2 \
                     (the default) or backward_euler"
                ));
            }
        }
        for group in self.boundary.keys() {
            let key = format!("physics.{name}.boundary.{group}");
            check_group(cx.mesh, &key, group, problems);
        }
        for group in self.scalar.iter().flat_map(|s| s.boundary.keys()) {
            let key = format!("physics.{name}.scalar.boundary.{group}");
            check_group(cx.mesh, &key, group, problems);
        }
    }

    /// Every boundary group with its condition (do-nothing by default).
    fn boundary_uses(&self, mesh: &Mesh) -> Vec<BoundaryUse> {
        boundary_uses(
            mesh,
            |g| {
                self.boundary.get(g).map(|bc| match bc {
                    FlowBoundarySpec::Velocity(v) => format!(
                        "velocity [{}]",
                        v.iter().map(Expr::text).collect::<Vec<_>>().join(", ")
                    ),
                    FlowBoundarySpec::NoSlip => "no_slip".into(),
                    FlowBoundarySpec::DoNothing => "do_nothing".into(),
                })
            },
            "do_nothing",
        )
    }

    /// Builds the steady flow or the time-dependent one with its records.
    fn build_flow(&self, convection: bool, cx: &BuildContext) -> Result<Built> {
        let ns = self.flow(convection, cx)?;
        let forces = cx
            .forces
            .map(|f| ForceSeries::new(f, &ns, cx.out.join("forces.csv")))
            .transpose()?;
        let Some(time) = cx.time else {
            return Ok(Built::Steady(Box::new(SteadyFlow {
                ns,
                newton: self.newton.clone(),
                forces,
                out: cx.out.to_path_buf(),
                name: cx.name.to_string(),
            })));
        };
        let baseline = match cx.learned {
            Some(l) if l.baseline() => {
                let classical = self.flow(convection, cx)?;
                Some(ClassicalBaseline::new(cx.forces, classical, cx.out)?)
            }
            _ => None,
        };
        // Velocities this far above the reference scale mean divergence.
        let blow_up = 1e4 * cx.forces.map_or(1.0, |f| f.reference_velocity);
        let flow = with_scalar(ns, self, time.start)?;
        let (model, steps): (Box<dyn crate::physics::Transient>, _) = match cx.learned {
            Some(learned) => {
                let step = learned.wrap(flow)?;
                let records = StepRecords::new(cx.out, step.tolerance);
                (Box::new(step), Some(records))
            }
            None => (Box::new(flow), None),
        };
        let mut monitors: Vec<Box<dyn crate::physics::Monitor<dyn crate::physics::Transient>>> =
            vec![Box::new(FlowRecord {
                forces,
                baseline,
                out: cx.out.to_path_buf(),
                title: cx.name.to_string(),
                learned: None,
                steps,
            })];
        if let Some(spec) = &self.scalar {
            monitors.push(Box::new(Conservation::new(
                cx.out,
                &[spec.name.as_str()],
                |m| flow_of(m).and_then(FlowWithScalar::scalar),
            )));
        }
        Ok(Built::Transient(TransientSetup {
            model,
            monitors,
            blow_up: Some(blow_up),
        }))
    }
}

/// A steady flow, solved by Newton's method; its forces (if asked for) are
/// written with it.
struct SteadyFlow {
    ns: NavierStokes,
    newton: NewtonSpec,
    forces: Option<ForceSeries>,
    out: std::path::PathBuf,
    name: String,
}

impl Steady for SteadyFlow {
    fn solve(&mut self) -> Result<serde_json::Value> {
        let started = Instant::now();
        let newton = self
            .ns
            .solve_steady(self.newton.tolerance, self.newton.max_iterations)
            .context("the steady solve failed")?;
        let mut summary = serde_json::json!({
            "newton_iterations": newton.iterations,
            "newton_updates": newton.increments,
            "solve_seconds": started.elapsed().as_secs_f64(),
        });
        if let Some(f) = self.forces.as_mut() {
            f.sample(self.ns.time(), &self.ns)?;
            f.finish(&self.out, &self.name, None)?;
            summary["forces"] = f.summary();
        }
        Ok(summary)
    }
}

impl Model for SteadyFlow {
    crate::physics::model_of_inner!(ns);

    fn summary(&self) -> serde_json::Value {
        let mut s = self.ns.summary();
        if let Some(o) = s.as_object_mut() {
            o.remove("integrator");
        }
        s
    }
}

/// `physics: {navier_stokes: ...}`: incompressible Navier–Stokes,
/// Taylor–Hood P2/P1, steady without a time section.
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct NavierStokesSpec(pub FlowSpec);

/// `physics: {stokes: ...}`: Stokes flow, Taylor–Hood P2/P1.
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct StokesSpec(pub FlowSpec);

/// What both flows are.
fn capabilities() -> Capabilities {
    Capabilities {
        system: SystemInfo {
            symmetric: false,
            saddle_split: Some(0),
        },
        time: TimeUse::Optional,
        stepping: Stepping::Integrator {
            default: Integrator::Bdf2,
            adaptive: false,
        },
        forces: true,
        linear_solver: true,
    }
}

/// Implements [`ModelSpec`] for a flow section under `name`.
macro_rules! flow_spec {
    ($spec:ty, $name:literal, $convection:literal) => {
        impl ModelSpec for $spec {
            fn name(&self) -> &'static str {
                $name
            }
            fn capabilities(&self) -> Capabilities {
                capabilities()
            }
            fn default_solver(&self, transient: bool) -> &'static str {
                default_solver(transient)
            }
            fn check(&self, cx: &CheckContext, problems: &mut Vec<String>) {
                self.0.check_flow($name, cx, problems);
            }
            fn boundary(&self, mesh: &Mesh) -> Vec<BoundaryUse> {
                self.0.boundary_uses(mesh)
            }
            fn is_wall(&self, group: &str) -> bool {
                matches!(
                    self.0.boundary.get(group),
                    Some(FlowBoundarySpec::NoSlip | FlowBoundarySpec::Velocity(_))
                )
            }
            fn build(&self, cx: &BuildContext) -> Result<Built> {
                self.0.build_flow($convection, cx)
            }
        }
    };
}

flow_spec!(NavierStokesSpec, "navier_stokes", true);
flow_spec!(StokesSpec, "stokes", false);
