//! Case files: a YAML document that is the whole experiment.
//!
//! Reading checks the YAML against the schema (unknown keys and wrong types
//! name the line, column and the keys expected); [`Case::check`] then checks
//! the case against its mesh (groups exist and have the right dimension,
//! values are possible) before any work starts. `docs/cases.md` documents
//! every key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pde_mesh::Mesh;
use serde::{Deserialize, Deserializer};

use crate::driver::Adaptive;
use crate::expr::Expr;
use crate::fvm::geometry::FvMesh;
use crate::fvm::law::NumericalFlux;
use crate::linalg::krylov::Tolerance;
use crate::linalg::registry::{self, IterativeSettings, Options, SolverFamily, SystemInfo};
use crate::mesh_source::MeshSource;
use crate::time::Integrator;

/// A case file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// A name for the run (defaults to the file stem).
    #[serde(default)]
    pub name: Option<String>,
    /// The mesh.
    pub mesh: MeshSource,
    /// The physical model and its parameters.
    pub physics: Physics,
    /// The linear solver.
    #[serde(default)]
    pub solver: SolverSpec,
    /// Time settings (time-dependent models only).
    #[serde(default)]
    pub time: Option<TimeSpec>,
    /// Where and how often to write results.
    #[serde(default)]
    pub output: Output,
    /// Quantities recorded every step into CSV files.
    #[serde(default)]
    pub monitors: Vec<MonitorSpec>,
    /// A learned stepper in place of the classical flow step (needs the
    /// `torch` feature).
    #[serde(default)]
    pub stepper: Option<StepperSpec>,
}

/// Where learned models train and run.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// The CPU (default).
    #[default]
    Cpu,
    /// The first CUDA device.
    Cuda,
}

/// The kinds of learned flow steppers.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StepperKind {
    /// A model folder written by `pde-engine train stepper`.
    Gnn,
    /// A TorchScript module saved by `torch.jit.save`.
    Torchscript,
}

/// `stepper:` a learned step in place of the classical one, checked
/// against the discrete equations every step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepperSpec {
    /// `gnn` or `torchscript`.
    pub kind: StepperKind,
    /// The model folder (`gnn`) or module file (`torchscript`), relative
    /// to the case file.
    pub model: PathBuf,
    /// Classical steps until this time, learned ones after (learned models
    /// are trained on developed flows, not on the start from rest).
    /// Default: the start time.
    #[serde(default)]
    pub from: Option<f64>,
    /// Largest relative residual of the discrete momentum and continuity
    /// equations a learned step may leave; above it the classical step is
    /// taken instead (a fallback). Momentum is measured against the
    /// residual of not stepping (persistence scores 1), continuity against
    /// the size of its terms ([`crate::physics::navier_stokes::StepResidual`]).
    /// Default 0.01.
    #[serde(default = "residual_tolerance_default")]
    pub residual_tolerance: f64,
    /// `cpu` (default) or `cuda`.
    #[serde(default)]
    pub device: DeviceKind,
    /// Node-type groups of a `torchscript` module, in its one-hot order
    /// (a `gnn` folder records its own).
    #[serde(default)]
    pub type_groups: Option<Vec<String>>,
    /// Also run the classical step alongside, on the same mesh, and report
    /// both: forces side by side (`forces.png`, `forces_classical.csv`),
    /// wall time per step of each, the velocity difference. Default false.
    #[serde(default)]
    pub baseline: bool,
}

fn residual_tolerance_default() -> f64 {
    0.01
}

/// The physical model, by name, with its parameters.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Physics {
    /// `-∇·(κ∇u) = f`.
    Poisson(ScalarModel),
    /// `∂u/∂t - ∇·(κ∇u) = f`.
    Heat(ScalarModel),
    /// `∂u/∂t + β·∇u - ∇·(κ∇u) = f` (steady without a time section), SUPG-stabilised.
    AdvectionDiffusion(ScalarModel),
    /// Incompressible Navier–Stokes, Taylor–Hood P2/P1 (steady without a time section).
    NavierStokes(FlowModel),
    /// Stokes flow, Taylor–Hood P2/P1 (steady without a time section).
    Stokes(FlowModel),
    /// Shallow-water equations `(h, hu, hv)`, cell-centred finite volumes.
    ShallowWater(ShallowWaterModel),
    /// `∂c/∂t + ∇·(a c) - ∇·(κ∇c) = 0`, cell-centred finite volumes
    /// (conservative advection–diffusion of a scalar).
    Transport(FvScalarModel),
    /// `∂u/∂t + ∇·(d u²/2) - ∇·(κ∇u) = 0` (inviscid or viscous Burgers
    /// along a direction `d`), cell-centred finite volumes.
    Burgers(FvScalarModel),
}

/// Parameters of the scalar finite-volume models (transport, Burgers).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FvScalarModel {
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
pub struct ShallowWaterModel {
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

/// Parameters of the flow models (Navier–Stokes, Stokes).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowModel {
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

impl Physics {
    /// The model's name as the case file spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Physics::Poisson(_) => "poisson",
            Physics::Heat(_) => "heat",
            Physics::AdvectionDiffusion(_) => "advection_diffusion",
            Physics::NavierStokes(_) => "navier_stokes",
            Physics::Stokes(_) => "stokes",
            Physics::ShallowWater(_) => "shallow_water",
            Physics::Transport(_) => "transport",
            Physics::Burgers(_) => "burgers",
        }
    }

    /// Whether the discrete operator is symmetric positive definite
    /// (Cholesky and CG apply).
    pub fn is_symmetric(&self) -> bool {
        matches!(self, Physics::Poisson(_) | Physics::Heat(_))
    }

    /// Whether a time section is required.
    pub fn needs_time(&self) -> bool {
        matches!(self, Physics::Heat(_)) || self.is_finite_volume()
    }

    /// Whether the model is a finite-volume model (steps with its own
    /// scheme and CFL number).
    pub fn is_finite_volume(&self) -> bool {
        matches!(
            self,
            Physics::ShallowWater(_) | Physics::Transport(_) | Physics::Burgers(_)
        )
    }

    /// Whether the model can be time-dependent.
    pub fn allows_time(&self) -> bool {
        !matches!(self, Physics::Poisson(_))
    }

    /// The solver used when the case names none: Cholesky for symmetric
    /// models, LU for the others, and for time-dependent flows LU kept
    /// across steps (`lagged_lu`).
    pub fn default_solver(&self, transient: bool) -> &'static str {
        match self {
            _ if self.is_symmetric() => "cholesky",
            Physics::NavierStokes(_) | Physics::Stokes(_) if transient => "lagged_lu",
            _ => "lu",
        }
    }

    /// The kind of linear system the model gives, for checking solvers.
    pub fn system(&self) -> SystemInfo {
        SystemInfo {
            symmetric: self.is_symmetric(),
            saddle_split: matches!(self, Physics::NavierStokes(_) | Physics::Stokes(_))
                .then_some(0),
        }
    }
}

/// Parameters of the scalar diffusion models (Poisson, heat).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScalarModel {
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
    pub boundary: BTreeMap<String, BoundarySpec>,
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
#[serde(rename_all = "snake_case")]
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

/// Linear solver choice. The kinds come from the registry
/// ([`crate::linalg::registry`]), so features and embedding programs can
/// add their own.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SolverSpec {
    /// `cholesky`, `lu`, `lagged_lu`, `cg`, `gmres`, `bicgstab`, or a
    /// registered kind. Default: the model's ([`Physics::default_solver`]).
    #[serde(default, deserialize_with = "registered_solver")]
    pub kind: Option<String>,
    /// Preconditioner of iterative solvers: `jacobi` (default), `ssor`,
    /// `ilu0`, `amg`, `lsc` (flows), `none`, or a registered kind, with
    /// its options as `{kind: ..., option: value}`.
    #[serde(default)]
    pub preconditioner: PreconditionerSpec,
    /// Relative tolerance of iterative solvers. Default 1e-10.
    #[serde(default = "rtol_default")]
    pub rtol: f64,
    /// Iteration limit of iterative solvers. Default 10000.
    #[serde(default = "max_iterations_default")]
    pub max_iterations: usize,
    /// GMRES restart length. Default 50.
    #[serde(default = "restart_default")]
    pub restart: usize,
    /// `lagged_lu`: refactorise when GMRES needs more iterations than this. Default 10.
    #[serde(default = "refactor_after_default")]
    pub refactor_after: usize,
}

impl Default for SolverSpec {
    fn default() -> Self {
        SolverSpec {
            kind: None,
            preconditioner: PreconditionerSpec::default(),
            rtol: rtol_default(),
            max_iterations: max_iterations_default(),
            restart: restart_default(),
            refactor_after: refactor_after_default(),
        }
    }
}

impl SolverSpec {
    /// The settings of iterative solvers.
    pub fn iterative(&self) -> IterativeSettings {
        IterativeSettings {
            tolerance: Tolerance {
                rtol: self.rtol,
                atol: 0.0,
                max_iterations: self.max_iterations,
            },
            restart: self.restart,
            refactor_after: self.refactor_after,
        }
    }

    /// Checks the kinds against the registry and the system they will
    /// solve; `default` is the model's solver when the case names none.
    fn check(&self, default: &str, system: &SystemInfo, model: &str, problems: &mut Vec<String>) {
        let registry = registry::global();
        let kind = self.kind.as_deref().unwrap_or(default);
        // Reading refused unknown kinds, naming the line.
        let Some(solver) = registry.solver(kind) else {
            return;
        };
        if solver.needs_symmetric && !system.symmetric {
            problems.push(format!(
                "solver.kind: {kind} needs a symmetric positive definite matrix, which \
                 {model} does not give; use lu, gmres or bicgstab"
            ));
        }
        let p = &self.preconditioner;
        let Some(entry) = registry.preconditioner(&p.kind) else {
            return;
        };
        for problem in (entry.check)(&p.options, system) {
            problems.push(format!("solver.preconditioner: {problem}"));
        }
        let named = p.kind != PreconditionerSpec::default().kind || !p.options.is_empty();
        if named && solver.family == SolverFamily::Direct && self.kind.is_some() {
            problems.push(format!(
                "solver.preconditioner: {} preconditions an iterative solver; {kind} is \
                 direct: set solver.kind: gmres (or cg for symmetric systems)",
                p.kind
            ));
        } else if named && solver.family == SolverFamily::Direct {
            problems.push(format!(
                "solver.preconditioner: {} preconditions an iterative solver; set \
                 solver.kind: gmres",
                p.kind
            ));
        }
        if !is_positive(self.rtol) {
            problems.push(format!("solver.rtol: {} must be positive", self.rtol));
        }
    }
}

/// `solver.preconditioner`: a kind, alone (`amg`) or with options
/// (`{kind: amg, ...}`).
#[derive(Clone, Debug, PartialEq)]
pub struct PreconditionerSpec {
    /// The registered kind.
    pub kind: String,
    /// Its options.
    pub options: Options,
}

impl Default for PreconditionerSpec {
    fn default() -> Self {
        PreconditionerSpec {
            kind: "jacobi".into(),
            options: Options::new(),
        }
    }
}

impl<'de> Deserialize<'de> for PreconditionerSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Kind(String),
            WithOptions {
                kind: String,
                #[serde(flatten)]
                options: Options,
            },
        }
        let spec = match Raw::deserialize(d)? {
            Raw::Kind(kind) => PreconditionerSpec {
                kind,
                options: Options::new(),
            },
            Raw::WithOptions { kind, options } => PreconditionerSpec { kind, options },
        };
        let names = registry::global().preconditioner_names();
        if !names.contains(&spec.kind.as_str()) {
            return Err(unknown_kind(&spec.kind, &names));
        }
        Ok(spec)
    }
}

/// A solver kind, refused while reading (with its line) unless registered.
fn registered_solver<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let kind = String::deserialize(d)?;
    let names = registry::global().solver_names();
    if !names.contains(&kind.as_str()) {
        return Err(unknown_kind(&kind, &names));
    }
    Ok(Some(kind))
}

/// The error of a kind the registry does not have, worded as serde words
/// unknown variants.
fn unknown_kind<E: serde::de::Error>(kind: &str, names: &[&str]) -> E {
    E::custom(format!(
        "unknown variant `{kind}`, expected one of {}",
        names.join(", ")
    ))
}

/// Time settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    /// Start time. Default 0.
    #[serde(default)]
    pub start: f64,
    /// End time.
    pub end: f64,
    /// Time step (the first step when adaptive).
    pub dt: f64,
    /// `backward_euler`, `crank_nicolson` or `bdf2`. Default: the model's
    /// ([`TimeSpec::integrator_for`]).
    #[serde(default)]
    pub integrator: Option<Integrator>,
    /// Adaptive steps: `{tolerance, dt_min, dt_max}`.
    #[serde(default)]
    pub adaptive: Option<Adaptive>,
}

impl TimeSpec {
    /// The integrator of a run of `physics`: the one named, else BDF2 for
    /// flows and backward Euler for the scalar models.
    pub fn integrator_for(&self, physics: &Physics) -> Integrator {
        self.integrator.unwrap_or(match physics {
            Physics::NavierStokes(_) | Physics::Stokes(_) => Integrator::Bdf2,
            _ => Integrator::BackwardEuler,
        })
    }
}

/// Output settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// Output directory, relative to the working directory. Default `out/<name>`.
    #[serde(default)]
    pub directory: Option<PathBuf>,
    /// Write every N steps. Default 1.
    #[serde(default = "one")]
    pub every: usize,
}

impl Default for Output {
    fn default() -> Self {
        Output {
            directory: None,
            every: 1,
        }
    }
}

/// A monitor: a quantity recorded after every step.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MonitorSpec {
    /// The solution at a point, into `probes.csv` (flows: every velocity
    /// component and the pressure).
    Probe {
        /// Column name.
        name: String,
        /// The point (2 or 3 coordinates).
        point: Vec<f64>,
    },
    /// Force coefficients on a group (flows): `forces.csv` with `t,cd,cl`
    /// (and `cs` in 3D), plus `dp` when `pressure_difference` is given, and
    /// `forces.png`.
    Forces(ForcesSpec),
}

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

/// `v > 0`, false for NaN.
pub(crate) fn is_positive(v: f64) -> bool {
    v > 0.0
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn one_f64() -> f64 {
    1.0
}
fn newton_tolerance() -> f64 {
    1e-10
}
fn newton_iterations() -> usize {
    20
}
fn rtol_default() -> f64 {
    1e-10
}
fn max_iterations_default() -> usize {
    10_000
}
fn restart_default() -> usize {
    50
}
fn refactor_after_default() -> usize {
    10
}
fn expr_one() -> Expr {
    Expr::parse("1").expect("constant")
}
fn expr_zero() -> Expr {
    Expr::parse("0").expect("constant")
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Number(v) => format!("{v:?}"),
            Raw::Text(t) => t,
        };
        Expr::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Case {
    /// Reads a case file and checks it against the schema. Errors name the
    /// file and, for YAML and schema errors, the line and column.
    pub fn read(path: &Path) -> Result<Case> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the case file", path.display()))?;
        Self::parse(&text).with_context(|| format!("{}: invalid case file", path.display()))
    }

    /// Parses a case from YAML text.
    pub fn parse(text: &str) -> Result<Case> {
        let case: Case = serde_saphyr::from_str(text).map_err(|e| {
            let msg = e.to_string();
            anyhow::anyhow!("{}", msg.strip_prefix("error: ").unwrap_or(&msg))
        })?;
        Ok(case)
    }

    /// The run's name: `name`, or the case file's stem.
    pub fn run_name(&self, path: &Path) -> String {
        self.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map_or("run".into(), |s| s.to_string_lossy().into_owned())
        })
    }

    /// Checks the case against its mesh: every error found, one per line.
    pub fn check(&self, mesh: &Mesh) -> Result<()> {
        let mut problems = Vec::new();
        let dim = mesh.dim();
        let name = self.physics.name();
        let groups: Vec<&String> = match &self.physics {
            Physics::Poisson(m) | Physics::Heat(m) | Physics::AdvectionDiffusion(m) => {
                self.check_scalar(m, dim, &mut problems);
                m.boundary.keys().collect()
            }
            Physics::NavierStokes(m) | Physics::Stokes(m) => {
                self.check_flow(m, dim, &mut problems);
                for group in m.scalar.iter().flat_map(|s| s.boundary.keys()) {
                    let key = format!("physics.{name}.scalar.boundary.{group}");
                    check_group(mesh, &key, group, &mut problems);
                }
                m.boundary.keys().collect()
            }
            Physics::ShallowWater(m) => {
                self.check_shallow_water(m, dim, &mut problems);
                self.check_fv_setup(&m.boundary, &m.periodic, &m.scheme, &mut problems);
                fv_groups(&m.boundary, &m.periodic)
            }
            Physics::Transport(m) | Physics::Burgers(m) => {
                self.check_fv_scalar(m, dim, &mut problems);
                self.check_fv_setup(&m.boundary, &m.periodic, &m.scheme, &mut problems);
                fv_groups(&m.boundary, &m.periodic)
            }
        };
        for group in groups {
            check_group(
                mesh,
                &format!("physics.{name}.boundary.{group}"),
                group,
                &mut problems,
            );
        }
        self.solver.check(
            self.physics.default_solver(self.time.is_some()),
            &self.physics.system(),
            name,
            &mut problems,
        );
        self.check_time(&mut problems);
        if self.output.every == 0 {
            problems.push("output.every: must be at least 1".into());
        }
        self.check_monitors(mesh, &mut problems);
        if let Some(stepper) = &self.stepper {
            self.check_stepper(stepper, mesh, &mut problems);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("\n"))
        }
    }

    fn check_stepper(&self, stepper: &StepperSpec, mesh: &Mesh, problems: &mut Vec<String>) {
        if !cfg!(feature = "torch") {
            problems.push(
                "stepper: learned steppers need libtorch; build with --features torch \
                 (docs/learned.md), or remove the key for the classical step"
                    .into(),
            );
        }
        let Some(time) = self.time.as_ref() else {
            problems.push("stepper: a learned stepper needs a time section".into());
            return;
        };
        if !matches!(self.physics, Physics::NavierStokes(_)) || mesh.dim() != 2 {
            problems.push(format!(
                "stepper: learned steppers replace the step of 2D navier_stokes, not of {} \
                 in {}D",
                self.physics.name(),
                mesh.dim()
            ));
        }
        if mesh.domain_blocks().any(|(_, b)| b.kind.order() != 1) {
            problems.push(
                "stepper: learned steppers work on the vertices of a linear mesh (order 1)".into(),
            );
        }
        if time.adaptive.is_some() {
            problems.push(
                "stepper: learned steppers take the fixed step they were trained for; remove \
                 time.adaptive"
                    .into(),
            );
        }
        if !is_positive(stepper.residual_tolerance) {
            problems.push(format!(
                "stepper.residual_tolerance: {} must be positive",
                stepper.residual_tolerance
            ));
        }
        if let Some(from) = stepper.from {
            if !(time.start..=time.end).contains(&from) {
                problems.push(format!(
                    "stepper.from: {from} is outside the run [{}, {}]",
                    time.start, time.end
                ));
            }
        }
        match (stepper.kind, &stepper.type_groups) {
            (StepperKind::Torchscript, None) => problems.push(
                "stepper.type_groups: a torchscript module needs its node-type groups, e.g. \
                 [inlet, outlet, walls, cylinder]"
                    .into(),
            ),
            (StepperKind::Gnn, Some(_)) => problems.push(
                "stepper.type_groups: a gnn model folder records its own; remove the key".into(),
            ),
            (_, Some(groups)) => {
                for group in groups {
                    check_group(mesh, "stepper.type_groups", group, problems);
                }
            }
            _ => {}
        }
    }

    fn check_scalar(&self, model: &ScalarModel, dim: usize, problems: &mut Vec<String>) {
        let name = self.physics.name();
        let advection = matches!(self.physics, Physics::AdvectionDiffusion(_));
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
        if !matches!(self.physics, Physics::Poisson(_)) {
            for (group, bc) in &model.boundary {
                if matches!(bc, BoundarySpec::Robin { .. }) {
                    problems.push(format!(
                        "physics.{name}.boundary.{group}: robin conditions are available for \
                         poisson only; use dirichlet or neumann"
                    ));
                }
            }
        }
        if self.time.is_none() && model.initial.is_some() {
            problems.push(format!(
                "physics.{name}.initial: a steady run (no time section) has no initial state"
            ));
        }
    }

    fn check_shallow_water(
        &self,
        model: &ShallowWaterModel,
        dim: usize,
        problems: &mut Vec<String>,
    ) {
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

    fn check_fv_scalar(&self, model: &FvScalarModel, dim: usize, problems: &mut Vec<String>) {
        let name = self.physics.name();
        let key = format!("physics.{name}");
        let transport = matches!(self.physics, Physics::Transport(_));
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

    /// Checks shared by the finite-volume models: periodic pairs, the
    /// scheme, and a time section without FEM integrator settings.
    fn check_fv_setup(
        &self,
        boundary: &BTreeMap<String, FvBoundarySpec>,
        periodic: &[[String; 2]],
        scheme: &FvScheme,
        problems: &mut Vec<String>,
    ) {
        let key = format!("physics.{}", self.physics.name());
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
        if let Some(t) = &self.time {
            if t.integrator.is_some() || t.adaptive.is_some() {
                problems.push(format!(
                    "time: finite volumes step with {key}.scheme.runge_kutta and the CFL \
                     number; remove time.integrator and time.adaptive (time.dt caps the step)"
                ));
            }
        }
    }

    fn check_flow(&self, model: &FlowModel, dim: usize, problems: &mut Vec<String>) {
        let name = self.physics.name();
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
        if self.time.is_none() && model.initial.is_some() {
            problems.push(format!(
                "physics.{name}.initial: a steady run (no time section) has no initial state"
            ));
        }
        if let Some(scalar) = &model.scalar {
            if self.time.is_none() {
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
        if let Some(t) = &self.time {
            let integrator = t.integrator_for(&self.physics);
            if integrator == Integrator::CrankNicolson {
                problems.push(format!(
                    "time.integrator: crank_nicolson is not available for {name}; use bdf2 \
                     (the default) or backward_euler"
                ));
            }
            if t.adaptive.is_some() {
                problems.push(format!(
                    "time.adaptive: {name} runs with a fixed step; remove `adaptive`"
                ));
            }
        }
    }

    fn check_time(&self, problems: &mut Vec<String>) {
        let name = self.physics.name();
        match &self.time {
            Some(_) if !self.physics.allows_time() => problems.push(format!(
                "time: the {name} model is steady; remove the time section"
            )),
            None if self.physics.needs_time() => {
                problems.push(format!("time: the {name} model needs `time: {{end, dt}}`"))
            }
            Some(t) => {
                if !is_positive(t.end - t.start) {
                    problems.push(format!(
                        "time.end: {} must be after time.start ({})",
                        t.end, t.start
                    ));
                }
                if !is_positive(t.dt) {
                    problems.push(format!("time.dt: {} must be positive", t.dt));
                }
                if let Some(a) = &t.adaptive {
                    if !(is_positive(a.tolerance) && is_positive(a.dt_min) && a.dt_min <= a.dt_max)
                    {
                        problems.push(
                            "time.adaptive: need tolerance > 0 and 0 < dt_min <= dt_max".into(),
                        );
                    }
                }
            }
            None => {}
        }
    }

    fn check_monitors(&self, mesh: &Mesh, problems: &mut Vec<String>) {
        let dim = mesh.dim();
        let flow = matches!(self.physics, Physics::NavierStokes(_) | Physics::Stokes(_));
        let mut forces = 0;
        // Located on the straight-sided cells, as the run locates them.
        let geometry = std::cell::OnceCell::new();
        let check_inside = |key: &str, p: &[f64], problems: &mut Vec<String>| {
            let fv = geometry.get_or_init(|| FvMesh::new(std::sync::Arc::new(mesh.clone())).ok());
            let point = std::array::from_fn(|k| p.get(k).copied().unwrap_or(0.0));
            if let Some(fv) = fv {
                if fv.locate(point).is_none() {
                    problems.push(format!("{key}: {p:?} is outside the mesh"));
                }
            }
        };
        for m in &self.monitors {
            match m {
                MonitorSpec::Probe { name, point } => {
                    let key = format!("monitors: probe '{name}'");
                    let before = problems.len();
                    check_point(&key, point, dim, problems);
                    if problems.len() == before {
                        check_inside(&key, point, problems);
                    }
                }
                MonitorSpec::Forces(_) if !flow => problems.push(format!(
                    "monitors: forces are measured on flows (navier_stokes, stokes), not {}",
                    self.physics.name()
                )),
                MonitorSpec::Forces(f) => {
                    check_group(mesh, "monitors: forces.group", &f.group, problems);
                    self.check_force_group(&f.group, problems);
                    forces += 1;
                    if !(is_positive(f.reference_velocity) && is_positive(f.reference_length)) {
                        problems.push(
                            "monitors: forces: reference_velocity and reference_length must be positive"
                                .into(),
                        );
                    }
                    for p in f.pressure_difference.iter().flatten() {
                        let key = "monitors: forces.pressure_difference";
                        let before = problems.len();
                        check_point(key, p, dim, problems);
                        if problems.len() == before {
                            check_inside(key, p, problems);
                        }
                    }
                }
            }
        }
        if forces > 1 {
            problems.push("monitors: one forces monitor per case".into());
        }
    }

    /// Forces are measured on a body: a group with a wall condition
    /// (`no_slip`, or a prescribed `velocity` of a moving wall).
    fn check_force_group(&self, group: &str, problems: &mut Vec<String>) {
        let (Physics::NavierStokes(m) | Physics::Stokes(m)) = &self.physics else {
            return;
        };
        let wall = matches!(
            m.boundary.get(group),
            Some(FlowBoundarySpec::NoSlip | FlowBoundarySpec::Velocity(_))
        );
        if !wall {
            problems.push(format!(
                "monitors: forces.group '{group}' has no wall condition (it is do-nothing, a \
                 free outflow, so the force would be meaningless); give it \
                 `physics.{}.boundary.{group}: no_slip`",
                self.physics.name()
            ));
        }
    }
}

/// A finite-volume scheme's CFL number suits its integrator, and backward
/// Euler is not asked for MUSCL.
fn check_fv_scheme(key: &str, scheme: &FvScheme, problems: &mut Vec<String>) {
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

/// A boundary group must exist and have dimension `dim - 1`.
fn check_group(mesh: &Mesh, key: &str, group: &str, problems: &mut Vec<String>) {
    let dim = mesh.dim();
    match mesh.group(group) {
        Ok(g) if g.dim + 1 != dim => problems.push(format!(
            "{key}: the group has dimension {}; boundary conditions need dimension {}",
            g.dim,
            dim.saturating_sub(1)
        )),
        Ok(_) => {}
        Err(_) => problems.push(format!(
            "{key}: the mesh has no such group; it has {}",
            mesh.group_names().join(", ")
        )),
    }
}

/// A vector of expressions needs `dim` to 3 components.
fn check_vector(key: &str, v: &[Expr], dim: usize, problems: &mut Vec<String>) {
    if v.len() < dim || v.len() > 3 {
        problems.push(format!(
            "{key}: {} components given; expected {dim} to 3",
            v.len()
        ));
    }
}

/// A point needs `dim` to 3 coordinates.
fn check_point(key: &str, p: &[f64], dim: usize, problems: &mut Vec<String>) {
    if p.len() < dim || p.len() > 3 {
        problems.push(format!(
            "{key} has {} coordinates; expected {dim} to 3",
            p.len()
        ));
    }
}
