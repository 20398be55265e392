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

use crate::expr::Expr;
use crate::mesh_source::MeshSource;
use crate::time::{Adaptive, Integrator};

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
}

impl Physics {
    /// The model's name as the case file spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Physics::Poisson(_) => "poisson",
            Physics::Heat(_) => "heat",
            Physics::AdvectionDiffusion(_) => "advection_diffusion",
        }
    }

    /// Whether the discrete operator is symmetric (Cholesky and CG apply).
    pub fn is_symmetric(&self) -> bool {
        !matches!(self, Physics::AdvectionDiffusion(_))
    }

    /// The direct solver used when the case names none.
    pub fn default_solver(&self) -> SolverKind {
        if self.is_symmetric() {
            SolverKind::Cholesky
        } else {
            SolverKind::Lu
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

/// Linear solver choice.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SolverSpec {
    /// `cholesky`, `lu`, `cg`, `gmres` or `bicgstab`. Default: the model's
    /// direct solver ([`Physics::default_solver`]).
    #[serde(default)]
    pub kind: Option<SolverKind>,
    /// Preconditioner of iterative solvers: `jacobi` (default), `ssor`,
    /// `ilu0`, `amg` or `none`.
    #[serde(default)]
    pub preconditioner: PreconditionerKind,
    /// Relative tolerance of iterative solvers. Default 1e-10.
    #[serde(default = "rtol_default")]
    pub rtol: f64,
    /// Iteration limit of iterative solvers. Default 10000.
    #[serde(default = "max_iterations_default")]
    pub max_iterations: usize,
    /// GMRES restart length. Default 50.
    #[serde(default = "restart_default")]
    pub restart: usize,
}

impl Default for SolverSpec {
    fn default() -> Self {
        SolverSpec {
            kind: None,
            preconditioner: PreconditionerKind::default(),
            rtol: rtol_default(),
            max_iterations: max_iterations_default(),
            restart: restart_default(),
        }
    }
}

/// Linear solvers available in case files.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SolverKind {
    /// Sparse Cholesky (faer), for symmetric positive definite systems.
    Cholesky,
    /// Sparse LU (faer), for any non-singular system.
    Lu,
    /// Preconditioned conjugate gradients (symmetric positive definite).
    Cg,
    /// Restarted GMRES (any system).
    Gmres,
    /// BiCGStab (any system).
    Bicgstab,
}

/// Preconditioners available in case files.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PreconditionerKind {
    /// Diagonal scaling.
    #[default]
    Jacobi,
    /// Symmetric successive over-relaxation (relaxation 1.2).
    Ssor,
    /// Incomplete LU without fill (IC(0) on symmetric matrices).
    Ilu0,
    /// Smoothed-aggregation algebraic multigrid (one V-cycle).
    Amg,
    /// None.
    None,
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
    /// `backward_euler` (default), `crank_nicolson` or `bdf2`.
    #[serde(default)]
    pub integrator: Integrator,
    /// Adaptive steps: `{tolerance, dt_min, dt_max}`.
    #[serde(default)]
    pub adaptive: Option<Adaptive>,
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
#[serde(rename_all = "snake_case")]
pub enum MonitorSpec {
    /// The solution at a point, into `probes.csv`.
    Probe {
        /// Column name.
        name: String,
        /// The point (2 or 3 coordinates).
        point: Vec<f64>,
    },
}

/// `v > 0`, false for NaN.
fn is_positive(v: f64) -> bool {
    v > 0.0
}

fn one() -> usize {
    1
}
fn yes() -> bool {
    true
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
        let (Physics::Poisson(model) | Physics::Heat(model) | Physics::AdvectionDiffusion(model)) =
            &self.physics;
        match (&self.physics, &model.velocity) {
            (Physics::AdvectionDiffusion(_), None) => problems.push(format!(
                "physics.{name}.velocity: required; one expression per coordinate, e.g. [1, 0]"
            )),
            (Physics::AdvectionDiffusion(_), Some(v)) if v.len() < dim || v.len() > 3 => problems
                .push(format!(
                    "physics.{name}.velocity: {} components given; expected {dim} to 3",
                    v.len()
                )),
            (Physics::AdvectionDiffusion(_), Some(v)) => {
                if let Some(e) = v.iter().find(|e| e.is_time_dependent()) {
                    problems.push(format!(
                        "physics.{name}.velocity: '{}' depends on t; the velocity must be steady",
                        e.text()
                    ))
                }
            }
            (_, Some(_)) => problems.push(format!(
                "physics.{name}.velocity: only advection_diffusion has a velocity"
            )),
            _ => {}
        }
        if let Some(kind @ (SolverKind::Cholesky | SolverKind::Cg)) = self.solver.kind {
            if !self.physics.is_symmetric() {
                problems.push(format!(
                    "solver.kind: {kind:?} needs a symmetric matrix, which {name} does not \
                     give; use lu, gmres or bicgstab"
                ));
            }
        }
        if !(1..=2).contains(&model.degree) {
            problems.push(format!(
                "physics.{name}.degree: {} is not available; expected 1 or 2",
                model.degree
            ));
        }
        for group in model.boundary.keys() {
            match mesh.group(group) {
                Ok(g) if g.dim + 1 != dim => problems.push(format!(
                    "physics.{name}.boundary.{group}: the group has dimension {}; boundary conditions need dimension {}",
                    g.dim,
                    dim.saturating_sub(1)
                )),
                Ok(_) => {}
                Err(_) => problems.push(format!(
                    "physics.{name}.boundary.{group}: the mesh has no such group; it has {}",
                    mesh.group_names().join(", ")
                )),
            }
        }
        match (&self.physics, &self.time) {
            (Physics::Poisson(_), Some(_)) => {
                problems.push("time: the poisson model is steady; remove the time section".into())
            }
            (Physics::AdvectionDiffusion(m), None) if m.initial.is_some() => {
                problems.push(format!(
                    "physics.{name}.initial: a steady run (no time section) has no initial state"
                ))
            }
            (Physics::Heat(_), None) => {
                problems.push("time: the heat model needs `time: {end, dt}`".into())
            }
            (_, Some(t)) => {
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
            _ => {}
        }
        if self.output.every == 0 {
            problems.push("output.every: must be at least 1".into());
        }
        if !is_positive(self.solver.rtol) {
            problems.push(format!(
                "solver.rtol: {} must be positive",
                self.solver.rtol
            ));
        }
        for m in &self.monitors {
            let MonitorSpec::Probe { name, point } = m;
            if point.len() < dim || point.len() > 3 {
                problems.push(format!(
                    "monitors: probe '{name}' has {} coordinates; expected {dim} to 3",
                    point.len()
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("\n"))
        }
    }
}
