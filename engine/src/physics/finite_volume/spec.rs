//! The case sections of the finite-volume models (shallow water,
//! transport, Burgers): their schemes, boundary conditions, checks and
//! builders.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use pde_mesh::Mesh;
use serde::Deserialize;

use super::conservation::Conservation;
use crate::expr::Expr;
use crate::fvm::geometry::FvMesh;
use crate::fvm::law::{Burgers, ConservationLaw, LinearAdvection, NumericalFlux, ShallowWater};
use crate::fvm::reconstruct::Limiter;
use crate::fvm::solver::{FiniteVolume, FvBoundary, FvIntegrator, Reconstruction, SspRk};
use crate::linalg::registry::SystemInfo;
use crate::physics::checks::{check_group, check_point, check_vector, is_positive};
use crate::physics::spec::{
    boundary_uses, BoundaryUse, BuildContext, Built, Capabilities, CheckContext, ModelSpec,
    Stepping, TimeUse, TransientSetup,
};

/// Parameters of the scalar finite-volume models (transport, Burgers).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FvScalarSpec {
    /// Transport: the velocity `a(x, y, z)`, one expression per coordinate
    /// (required).
    #[serde(default)]
    pub velocity: Option<Vec<Expr>>,
    /// Burgers: the direction `d` waves travel along. Default `[1, 0]`.
    #[serde(default)]
    pub direction: Option<Vec<f64>>,
    /// Diffusivity (transport) or viscosity (Burgers) `κ`. Default 0.
    #[serde(default)]
    pub diffusivity: f64,
    /// Initial value, an expression of `x, y, z`. Default 0.
    #[serde(default)]
    pub initial: Option<Expr>,
    /// Boundary conditions by group name; groups not listed are walls.
    #[serde(default)]
    pub boundary: BTreeMap<String, FvBoundarySpec>,
    /// Pairs of boundary groups joined periodically (`[left, right]`: the
    /// second is the first translated).
    #[serde(default)]
    pub periodic: Vec<[String; 2]>,
    /// The finite-volume scheme.
    #[serde(default)]
    pub scheme: FvScheme,
}

/// Parameters of the shallow-water model.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShallowWaterSpec {
    /// Gravitational acceleration. Default 9.81.
    #[serde(default = "gravity_default")]
    pub g: f64,
    /// Initial depth and discharges `[h, hu, hv]`, expressions of `x, y, z`
    /// (discharges default to 0).
    pub initial: Vec<Expr>,
    /// Boundary conditions by group name; groups not listed are walls.
    #[serde(default)]
    pub boundary: BTreeMap<String, FvBoundarySpec>,
    /// Pairs of boundary groups joined periodically.
    #[serde(default)]
    pub periodic: Vec<[String; 2]>,
    /// The finite-volume scheme.
    #[serde(default)]
    pub scheme: FvScheme,
}

fn gravity_default() -> f64 {
    9.81
}

/// A boundary condition of a finite-volume model.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FvBoundarySpec {
    /// The state outside, expressions of `x, y, z, t` (one per quantity).
    Inflow(Vec<Expr>),
    /// Zero gradient: waves leave freely.
    Outflow,
    /// Reflective wall (the default).
    Wall,
}

/// A finite-volume scheme: flux, reconstruction, limiter, time stepping.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FvScheme {
    /// `rusanov`, `hll` (default) or `hllc`.
    #[serde(default = "flux_default")]
    pub flux: NumericalFlux,
    /// `muscl` (second order; the default of explicit schemes) or
    /// `first_order` (upwind; the only choice of backward Euler).
    #[serde(default)]
    pub reconstruction: Option<ReconstructionKind>,
    /// MUSCL slope limiter: `barth_jespersen` (default), `venkatakrishnan`
    /// or `none`.
    #[serde(default)]
    pub limiter: LimiterKind,
    /// `ssp_rk1`, `ssp_rk2` (default), `ssp_rk3`, or `backward_euler`
    /// (implicit; linear laws only).
    #[serde(default)]
    pub runge_kutta: RungeKuttaKind,
    /// Courant number of the step: at most 1 for explicit schemes, any for
    /// backward Euler. Default 0.5.
    #[serde(default = "cfl_default")]
    pub cfl: f64,
}

fn flux_default() -> NumericalFlux {
    NumericalFlux::Hll
}

fn cfl_default() -> f64 {
    0.5
}

impl Default for FvScheme {
    fn default() -> Self {
        FvScheme {
            flux: flux_default(),
            reconstruction: None,
            limiter: LimiterKind::default(),
            runge_kutta: RungeKuttaKind::default(),
            cfl: cfl_default(),
        }
    }
}

impl FvScheme {
    /// The reconstruction: as given, else MUSCL for explicit schemes and
    /// first order for backward Euler.
    pub fn reconstruction(&self) -> ReconstructionKind {
        self.reconstruction
            .unwrap_or(if self.runge_kutta == RungeKuttaKind::BackwardEuler {
                ReconstructionKind::FirstOrder
            } else {
                ReconstructionKind::Muscl
            })
    }
}

/// Face reconstruction of a finite-volume scheme.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReconstructionKind {
    /// Cell averages (first order).
    FirstOrder,
    /// Limited least-squares slopes (second order).
    Muscl,
}

/// Slope limiters in case files.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LimiterKind {
    /// Barth–Jespersen.
    #[default]
    BarthJespersen,
    /// Venkatakrishnan with k = 1.
    Venkatakrishnan,
    /// No limiting.
    None,
}

/// SSP Runge–Kutta methods in case files.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RungeKuttaKind {
    /// Forward Euler.
    SspRk1,
    /// Heun (order 2).
    #[default]
    SspRk2,
    /// Shu–Osher (order 3).
    SspRk3,
    /// Implicit backward Euler with first-order upwind (linear laws:
    /// transport); any CFL number.
    BackwardEuler,
}

/// `N` expressions of `x, y, z, t` as a state function (missing ones 0).
pub(crate) fn state_fn<const N: usize>(
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
pub(crate) struct Setup<'a> {
    key: String,
    boundary: &'a BTreeMap<String, FvBoundarySpec>,
    periodic: &'a [[String; 2]],
    scheme: &'a FvScheme,
    diffusivity: f64,
}

impl<'a> Setup<'a> {
    /// The setup of a scalar model (transport, Burgers) under `key`.
    fn scalar(key: &str, spec: &'a FvScalarSpec) -> Self {
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

/// The finite-volume model of a scalar carried by a flow on `mesh`, at
/// time `t0` (its velocity comes from the flow).
pub(crate) fn carried_scalar(
    spec: &crate::physics::navier_stokes::CarriedScalarSpec,
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
    let mut model = setup.build(mesh, t0, |fv| LinearAdvection::new(fv, |_| [0.0; 3]))?;
    let initial = spec.initial.as_ref().map(|e| e.space_time());
    model.set_initial(|x| [initial.as_ref().map_or(0.0, |f| f(x, t0))]);
    Ok(model)
}

/// The shallow-water model of a case, its initial depth checked.
fn shallow_water(
    spec: &ShallowWaterSpec,
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

/// A finite-volume scheme's CFL number suits its integrator, and backward
/// Euler is not asked for MUSCL.
pub(crate) fn check_fv_scheme(key: &str, scheme: &FvScheme, problems: &mut Vec<String>) {
    let cfl = scheme.cfl;
    if scheme.runge_kutta == RungeKuttaKind::BackwardEuler {
        if scheme.reconstruction == Some(ReconstructionKind::Muscl) {
            problems.push(format!(
                "{key}.reconstruction: backward_euler uses first-order upwind; remove \
                 reconstruction or set it to first_order"
            ));
        }
        if !is_positive(cfl) {
            problems.push(format!("{key}.cfl: {cfl} must be positive"));
        }
    } else if !(is_positive(cfl) && cfl <= 1.0) {
        problems.push(format!(
            "{key}.cfl: {cfl} must lie in (0, 1] (explicit schemes; runge_kutta: \
             backward_euler takes any)"
        ));
    }
}

/// The groups a finite-volume model names: boundary keys and periodic pairs.
fn fv_groups<'a>(
    boundary: &'a BTreeMap<String, FvBoundarySpec>,
    periodic: &'a [[String; 2]],
) -> Vec<&'a String> {
    boundary.keys().chain(periodic.iter().flatten()).collect()
}

/// Checks shared by the finite-volume models: periodic pairs, the
/// scheme, and a time section without FEM integrator settings.
fn check_setup(
    name: &str,
    cx: &CheckContext,
    boundary: &BTreeMap<String, FvBoundarySpec>,
    periodic: &[[String; 2]],
    scheme: &FvScheme,
    problems: &mut Vec<String>,
) {
    let key = format!("physics.{name}");
    for [a, b] in periodic {
        if a == b {
            problems.push(format!(
                "{key}.periodic: '{a}' cannot be paired with itself"
            ));
        }
        for g in [a, b] {
            if boundary.contains_key(g) {
                problems.push(format!(
                    "{key}.boundary.{g}: the group is periodic; it takes no boundary \
                     condition"
                ));
            }
        }
    }
    check_fv_scheme(&format!("{key}.scheme"), scheme, problems);
    for group in fv_groups(boundary, periodic) {
        check_group(cx.mesh, &format!("{key}.boundary.{group}"), group, problems);
    }
}

impl ShallowWaterSpec {
    fn check_law(&self, dim: usize, problems: &mut Vec<String>) {
        let model = self;
        let key = "physics.shallow_water";
        if dim != 2 {
            problems.push(format!(
                "{key}: the shallow-water equations live in the plane; the mesh is {dim}D"
            ));
        }
        if !is_positive(model.g) {
            problems.push(format!("{key}.g: {} must be positive", model.g));
        }
        let states = std::iter::once(("initial".to_string(), &model.initial)).chain(
            model.boundary.iter().filter_map(|(g, bc)| match bc {
                FvBoundarySpec::Inflow(v) => Some((format!("boundary.{g}.inflow"), v)),
                _ => None,
            }),
        );
        for (what, v) in states {
            if v.is_empty() || v.len() > 3 {
                problems.push(format!(
                    "{key}.{what}: {} expressions given; expected 1 to 3 (h, hu, hv)",
                    v.len()
                ));
            }
        }
    }
}

impl FvScalarSpec {
    fn check_law(&self, name: &str, dim: usize, problems: &mut Vec<String>) {
        let model = self;
        let key = format!("physics.{name}");
        if dim < 2 {
            problems.push(format!(
                "{key}: finite volumes need a 2D or 3D mesh; this one is {dim}D"
            ));
        }
        let transport = name == "transport";
        match (&model.velocity, transport) {
            (None, true) => problems.push(format!(
                "{key}.velocity: required; one expression per coordinate, e.g. [1, 0]"
            )),
            (Some(v), true) => {
                check_vector(&format!("{key}.velocity"), v, dim, problems);
                if let Some(e) = v.iter().find(|e| e.is_time_dependent()) {
                    problems.push(format!(
                        "{key}.velocity: '{}' depends on t; the velocity must be steady",
                        e.text()
                    ))
                }
            }
            (Some(_), false) => problems.push(format!(
                "{key}.velocity: burgers carries itself; give its direction instead"
            )),
            (None, false) => {}
        }
        match &model.direction {
            Some(_) if transport => problems.push(format!(
                "{key}.direction: only burgers has a direction; transport has a velocity"
            )),
            Some(d) => {
                check_point(&format!("{key}.direction"), d, dim, problems);
                if d.iter().all(|v| *v == 0.0) {
                    problems.push(format!("{key}.direction: must not be zero"));
                }
            }
            None => {}
        }
        if !(model.diffusivity >= 0.0 && model.diffusivity.is_finite()) {
            problems.push(format!(
                "{key}.diffusivity: {} must be zero or positive",
                model.diffusivity
            ));
        }
        for (group, bc) in &model.boundary {
            if let FvBoundarySpec::Inflow(v) = bc {
                if v.len() != 1 {
                    problems.push(format!(
                        "{key}.boundary.{group}.inflow: {} values given; expected 1",
                        v.len()
                    ));
                }
            }
        }
        if model.scheme.runge_kutta == RungeKuttaKind::BackwardEuler && !transport {
            problems.push(format!(
                "{key}.scheme.runge_kutta: backward_euler needs a linear law (transport); \
                 {name} is not linear: use ssp_rk2 or ssp_rk3"
            ));
        }
    }
}

/// `physics: {transport: ...}`: `∂c/∂t + ∇·(a c) - ∇·(κ∇c) = 0`.
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct TransportSpec(pub FvScalarSpec);

/// `physics: {burgers: ...}`: `∂u/∂t + ∇·(d u²/2) - ∇·(κ∇u) = 0`.
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct BurgersSpec(pub FvScalarSpec);

/// What every finite-volume model is: explicit (or linear implicit) steps
/// in time only, with its own scheme.
fn capabilities() -> Capabilities {
    Capabilities {
        system: SystemInfo::default(),
        time: TimeUse::Required,
        stepping: Stepping::OwnScheme,
        forces: false,
        linear_solver: false,
    }
}

/// Boundary groups: the given conditions, periodic pairs, walls elsewhere.
fn fv_boundary(
    mesh: &Mesh,
    boundary: &BTreeMap<String, FvBoundarySpec>,
    periodic: &[[String; 2]],
) -> Vec<BoundaryUse> {
    boundary_uses(
        mesh,
        |g| {
            if let Some(bc) = boundary.get(g) {
                return Some(match bc {
                    FvBoundarySpec::Inflow(v) => format!(
                        "inflow [{}]",
                        v.iter().map(Expr::text).collect::<Vec<_>>().join(", ")
                    ),
                    FvBoundarySpec::Outflow => "outflow".into(),
                    FvBoundarySpec::Wall => "wall".into(),
                });
            }
            periodic
                .iter()
                .find(|pair| pair.iter().any(|p| p == g))
                .map(|[a, b]| format!("periodic ({a} ~ {b})"))
        },
        "wall",
    )
}

/// The start time of a run (finite-volume models need a time section,
/// which checking has ensured).
fn start(cx: &BuildContext) -> f64 {
    cx.time.map_or(0.0, |t| t.start)
}

/// A finite-volume model with its conservation record.
fn transient<L: ConservationLaw<N> + 'static, const N: usize>(
    model: FiniteVolume<L, N>,
    cx: &BuildContext,
) -> Built {
    let names = model.law.names();
    let record = Conservation::new(cx.out, &names, |m| {
        m.as_any().downcast_ref::<FiniteVolume<L, N>>()
    });
    Built::Transient(TransientSetup {
        model: Box::new(model),
        monitors: vec![Box::new(record)],
        blow_up: None,
    })
}

impl ModelSpec for ShallowWaterSpec {
    fn name(&self) -> &'static str {
        "shallow_water"
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    fn check(&self, cx: &CheckContext, problems: &mut Vec<String>) {
        self.check_law(cx.mesh.dim(), problems);
        check_setup(
            self.name(),
            cx,
            &self.boundary,
            &self.periodic,
            &self.scheme,
            problems,
        );
    }

    fn boundary(&self, mesh: &Mesh) -> Vec<BoundaryUse> {
        fv_boundary(mesh, &self.boundary, &self.periodic)
    }

    fn moving_mesh(&self) -> Result<Vec<String>, String> {
        fv_moving_mesh(self.name(), &self.periodic, "h")
    }

    fn build(&self, cx: &BuildContext) -> Result<Built> {
        let model = shallow_water(self, cx.mesh.clone(), start(cx), "physics.shallow_water")?;
        Ok(transient(model, cx))
    }
}

impl FvScalarSpec {
    /// The model of law `law(geometry)` from this section, at the start.
    fn build_law<L: ConservationLaw<1> + 'static>(
        &self,
        name: &str,
        cx: &BuildContext,
        law: impl FnOnce(&FvMesh) -> L,
    ) -> Result<Built> {
        let t0 = start(cx);
        let key = format!("physics.{name}");
        let mut model = Setup::scalar(&key, self).build(cx.mesh.clone(), t0, law)?;
        let initial = self.initial.as_ref().map(|e| e.space_time());
        model.set_initial(|x| [initial.as_ref().map_or(0.0, |f| f(x, t0))]);
        Ok(transient(model, cx))
    }
}

impl TransportSpec {
    /// Linear advection by the (steady) velocity field, kept to be sampled
    /// again when the mesh moves.
    fn build_model(&self, cx: &BuildContext) -> Result<Built> {
        let t0 = start(cx);
        let velocity = state_fn::<3>(self.0.velocity.as_deref().unwrap_or_default());
        self.0.build_law("transport", cx, |fv| {
            LinearAdvection::of_field(fv, move |x| velocity(x, t0))
        })
    }
}

impl BurgersSpec {
    /// Burgers' flux along the direction.
    fn build_model(&self, cx: &BuildContext) -> Result<Built> {
        let d = self.0.direction.as_deref().unwrap_or(&[1.0]);
        let direction = std::array::from_fn(|k| d.get(k).copied().unwrap_or(0.0));
        self.0.build_law("burgers", cx, |_| Burgers { direction })
    }
}

/// The monitor fields of a finite-volume model on a moving mesh (its
/// first conserved quantity), or why it cannot move: periodic groups are
/// joined by a fixed shift that moved nodes would break.
fn fv_moving_mesh(
    name: &str,
    periodic: &[[String; 2]],
    field: &str,
) -> Result<Vec<String>, String> {
    if periodic.is_empty() {
        Ok(vec![field.to_string()])
    } else {
        Err(format!(
            "the {name} model cannot move a mesh with periodic groups; remove `periodic`"
        ))
    }
}

/// Implements [`ModelSpec`] for a scalar finite-volume section under
/// `name`, built by its `build_model`.
macro_rules! fv_scalar_spec {
    ($spec:ty, $name:literal, $field:literal) => {
        impl ModelSpec for $spec {
            fn name(&self) -> &'static str {
                $name
            }
            fn capabilities(&self) -> Capabilities {
                capabilities()
            }
            fn check(&self, cx: &CheckContext, problems: &mut Vec<String>) {
                let s = &self.0;
                s.check_law($name, cx.mesh.dim(), problems);
                check_setup($name, cx, &s.boundary, &s.periodic, &s.scheme, problems);
            }
            fn boundary(&self, mesh: &Mesh) -> Vec<BoundaryUse> {
                fv_boundary(mesh, &self.0.boundary, &self.0.periodic)
            }
            fn moving_mesh(&self) -> Result<Vec<String>, String> {
                fv_moving_mesh($name, &self.0.periodic, $field)
            }
            fn build(&self, cx: &BuildContext) -> Result<Built> {
                self.build_model(cx)
            }
        }
    };
}

fv_scalar_spec!(TransportSpec, "transport", "c");
fv_scalar_spec!(BurgersSpec, "burgers", "u");
