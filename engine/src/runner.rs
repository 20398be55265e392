//! Runs a case file: loads and checks everything first, then solves, writes
//! `.vtu`/`.pvd` output, monitors (`probes.csv`) and `summary.json`, with a
//! progress bar for time-dependent runs.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pde_mesh::io::vtk;
use pde_mesh::Mesh;

use crate::case::{BoundarySpec, Case, MonitorSpec, Physics, ScalarModel, SolverSpec, TimeSpec};
use crate::driver::monitors::{write_model, Probes, Series, StepLog};
use crate::driver::{Monitor, RunSummary, TimeLoop};
use crate::fem::{FunctionSpace, PointEvaluator};
use crate::linalg::registry::{self, SolverFamily, SystemInfo};
use crate::linalg::{LinearSolver, SolveReport};
use crate::physics::heat::{Heat, HeatBoundary};
use crate::physics::poisson::{BoundaryCondition, Poisson};
use crate::physics::{Model, Stepper, Transient};

mod finite_volume;
mod flow;

pub use flow::flow_from_case;

/// Options of [`run_case`] that do not belong in the case file.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the case's output directory.
    pub output: Option<PathBuf>,
    /// Show a progress bar (on a terminal).
    pub progress: bool,
    /// Ignore the case's learned stepper (run the classical baseline).
    pub classical: bool,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The output directory.
    pub output: PathBuf,
    /// The summary also written to `summary.json`.
    pub summary: serde_json::Value,
}

/// Reads, checks and loads a case: the case, its mesh and its name.
pub fn load_case(path: &Path) -> Result<(Case, Mesh, String)> {
    load_case_as(path, false)
}

/// [`load_case`], without its learned stepper if `classical`.
fn load_case_as(path: &Path, classical: bool) -> Result<(Case, Mesh, String)> {
    let mut case = Case::read(path)?;
    if classical {
        case.stepper = None;
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let mesh = case
        .mesh
        .load(base)
        .with_context(|| format!("{}: mesh", path.display()))?;
    case.check(&mesh)
        .with_context(|| format!("{}: the case does not fit its mesh", path.display()))?;
    let name = case.run_name(path);
    Ok((case, mesh, name))
}

/// The linear solver a case asks for (`default` when it names none),
/// built from the registry for `system` (`check` has refused kinds and
/// options that do not fit it).
pub fn make_solver(
    spec: &SolverSpec,
    default: &str,
    system: SystemInfo,
) -> Result<Box<dyn LinearSolver>> {
    let registry = registry::global();
    let kind = spec.kind.as_deref().unwrap_or(default);
    let solver = registry
        .solver(kind)
        .with_context(|| format!("solver.kind: unknown kind '{kind}'"))?;
    let preconditioner = match solver.family {
        SolverFamily::Direct => None,
        SolverFamily::Krylov => {
            let p = &spec.preconditioner;
            let entry = registry
                .preconditioner(&p.kind)
                .with_context(|| format!("solver.preconditioner: unknown kind '{}'", p.kind))?;
            Some(
                (entry.build)(&p.options, &system)
                    .map_err(|e| anyhow::anyhow!("solver.preconditioner: {e}"))?,
            )
        }
    };
    Ok((solver.build)(&spec.iterative(), preconditioner))
}

/// Probes: name and evaluator on `space`, located once.
fn probes(case: &Case, space: &FunctionSpace) -> Result<Vec<(String, PointEvaluator)>> {
    probe_points(case)
        .map(|(name, p)| {
            let e = space.point_evaluator(p).with_context(|| {
                format!("monitors: probe '{name}' at {p:?} is outside the mesh")
            })?;
            Ok((name.to_string(), e))
        })
        .collect()
}

/// The probes of a case: name and point (missing coordinates 0).
pub(crate) fn probe_points(case: &Case) -> impl Iterator<Item = (&str, [f64; 3])> {
    case.monitors.iter().filter_map(|m| match m {
        MonitorSpec::Probe { name, point } => Some((
            name.as_str(),
            std::array::from_fn(|k| point.get(k).copied().unwrap_or(0.0)),
        )),
        MonitorSpec::Forces(_) => None,
    })
}

/// Runs the case at `path`.
pub fn run_case(path: &Path, options: &RunOptions) -> Result<RunResult> {
    let started = Instant::now();
    let (case, mesh, name) = load_case_as(path, options.classical)?;
    let out = options
        .output
        .clone()
        .or_else(|| case.output.directory.clone())
        .unwrap_or_else(|| Path::new("out").join(&name));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("{}: cannot create the output directory", out.display()))?;
    let mesh = Arc::new(mesh);
    let mut summary = match &case.physics {
        Physics::Poisson(model) => run_poisson(&case, model, mesh, &name, &out)?,
        Physics::AdvectionDiffusion(model) if case.time.is_none() => {
            run_steady_transport(&case, model, mesh, &name, &out)?
        }
        Physics::Heat(model) | Physics::AdvectionDiffusion(model) => {
            run_transient(&case, model, mesh, &name, &out, options.progress)?
        }
        Physics::NavierStokes(model) | Physics::Stokes(model) => {
            let base = path.parent().unwrap_or(Path::new("."));
            flow::run_flow(&case, model, mesh, base, &name, &out, options.progress)?
        }
        Physics::ShallowWater(_) | Physics::Transport(_) | Physics::Burgers(_) => {
            let visitor = finite_volume::RunVisitor {
                case: &case,
                name: &name,
                out: &out,
                progress: options.progress,
            };
            finite_volume::with_finite_volume(&case, mesh, visitor)?
        }
    };
    summary["case"] = serde_json::json!(path.display().to_string());
    summary["wall_seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
    let text = serde_json::to_string_pretty(&summary)?;
    vtk::write_atomically(&out.join("summary.json"), |w| w.write_all(text.as_bytes()))?;
    Ok(RunResult {
        output: out,
        summary,
    })
}

fn space_for(model: &ScalarModel, mesh: Arc<Mesh>) -> Result<FunctionSpace> {
    FunctionSpace::new(mesh, model.degree).context("physics")
}

fn run_poisson(
    case: &Case,
    model: &ScalarModel,
    mesh: Arc<Mesh>,
    name: &str,
    out: &Path,
) -> Result<serde_json::Value> {
    let mut p = Poisson::new(space_for(model, mesh)?);
    p.kappa = model.kappa.at_time(0.0);
    p.source = model.source.at_time(0.0);
    for (group, bc) in &model.boundary {
        let condition = match bc {
            BoundarySpec::Dirichlet(g) => BoundaryCondition::Dirichlet(g.at_time(0.0)),
            BoundarySpec::Neumann(h) => BoundaryCondition::Neumann(h.at_time(0.0)),
            BoundarySpec::Robin { alpha, value } => BoundaryCondition::Robin {
                alpha: alpha.at_time(0.0),
                value: value.at_time(0.0),
            },
        };
        p.set_boundary(group, condition);
    }
    let probes = probes(case, &p.space)?;
    let mut solver = make_solver(
        &case.solver,
        case.physics.default_solver(case.time.is_some()),
        case.physics.system(),
    )?;
    let (u, report) = p.solve(solver.as_mut())?;
    let file = out.join(format!("{name}.vtu"));
    steady_output(case, &p, &p.space, &u, &report, &probes, &file)
}

/// Steady advection–diffusion: the transport model's steady state.
fn run_steady_transport(
    case: &Case,
    model: &ScalarModel,
    mesh: Arc<Mesh>,
    name: &str,
    out: &Path,
) -> Result<serde_json::Value> {
    let mut m = scalar_model_from_case(case, model, mesh)?;
    let probes = probes(case, &m.space)?;
    let report = m.solve_steady()?;
    let file = out.join(format!("{name}.vtu"));
    steady_output(case, &m, &m.space, m.solution(), &report, &probes, &file)
}

/// Writes a steady scalar model's solution as `<name>.vtu` and returns its
/// summary.
fn steady_output(
    case: &Case,
    model: &dyn Model,
    space: &FunctionSpace,
    u: &[f64],
    report: &SolveReport,
    probes: &[(String, PointEvaluator)],
    file: &Path,
) -> Result<serde_json::Value> {
    if u.iter().any(|v| !v.is_finite()) {
        bail!("the solution is not finite (check the coefficients for division by zero or log of negatives)");
    }
    write_model(model, file)?;
    let probe_values: serde_json::Map<String, serde_json::Value> = probes
        .iter()
        .map(|(n, e)| (n.clone(), serde_json::json!(e.eval(u))))
        .collect();
    Ok(serde_json::json!({
        "model": case.physics.name(),
        "unknowns": space.num_dofs(),
        "degree": space.degree(),
        "solver_iterations": report.iterations,
        "relative_residual": report.relative_residual,
        "min": u.iter().copied().fold(f64::INFINITY, f64::min),
        "max": u.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "probes": probe_values,
        "output": file.display().to_string(),
    }))
}

/// The heat or advection–diffusion model a case describes, at its start
/// time (0 for a steady case).
pub fn scalar_model_from_case(case: &Case, model: &ScalarModel, mesh: Arc<Mesh>) -> Result<Heat> {
    let space = space_for(model, mesh)?;
    let initial = model
        .initial
        .clone()
        .unwrap_or_else(|| crate::expr::Expr::parse("0").expect("constant"));
    let t0 = case.time.as_ref().map_or(0.0, |t| t.start);
    let mut heat = Heat::new(
        space,
        model.kappa.at_time(t0),
        |x| initial.eval(x, t0),
        t0,
        make_solver(
            &case.solver,
            case.physics.default_solver(case.time.is_some()),
            case.physics.system(),
        )?,
    )?;
    heat.source = model.source.space_time();
    if let Some(time) = &case.time {
        heat.integrator = time.integrator_for(&case.physics);
    }
    if let Some(velocity) = &model.velocity {
        let beta = velocity.iter().map(|e| e.at_time(t0)).collect::<Vec<_>>();
        heat.set_advection(
            Arc::new(move |x| std::array::from_fn(|k| beta.get(k).map_or(0.0, |b| b(x)))),
            model.supg,
        )?;
    }
    for (group, bc) in &model.boundary {
        let condition = match bc {
            BoundarySpec::Dirichlet(g) => HeatBoundary::Dirichlet(g.space_time()),
            BoundarySpec::Neumann(h) => HeatBoundary::Neumann(h.space_time()),
            BoundarySpec::Robin { .. } => bail!(
                "physics.{}.boundary.{group}: robin conditions are available for poisson only",
                case.physics.name()
            ),
        };
        heat.set_boundary(group, condition);
    }
    Ok(heat)
}

/// The time-dependent model a case describes, at its start time, for
/// step-by-step use ([`crate::simulation::Simulation`]); paths in the case
/// are relative to `base`.
pub fn transient_model(case: &Case, mesh: Arc<Mesh>, base: &Path) -> Result<Box<dyn Transient>> {
    time_section(case)?;
    Ok(match &case.physics {
        Physics::Poisson(_) => bail!("poisson is steady; it has no steps"),
        Physics::Heat(model) | Physics::AdvectionDiffusion(model) => {
            Box::new(scalar_model_from_case(case, model, mesh)?)
        }
        Physics::NavierStokes(model) | Physics::Stokes(model) => {
            Box::new(flow::transient_flow(case, model, mesh, base)?)
        }
        Physics::ShallowWater(_) | Physics::Transport(_) | Physics::Burgers(_) => {
            finite_volume::with_finite_volume(case, mesh, finite_volume::BoxVisitor)?
        }
    })
}

/// The time section of a time-dependent case.
pub fn time_section(case: &Case) -> Result<&TimeSpec> {
    case.time
        .as_ref()
        .context("time: a time-dependent run needs a time section")
}

fn run_transient(
    case: &Case,
    model: &ScalarModel,
    mesh: Arc<Mesh>,
    name: &str,
    out: &Path,
    progress: bool,
) -> Result<serde_json::Value> {
    let time = time_section(case)?;
    let mut heat = scalar_model_from_case(case, model, mesh)?;
    let mut run = Run::new(case, &heat, name, out, progress)?;
    run.time_loop.adaptive = time.adaptive;
    let result = run.drive(&mut heat, Vec::new());
    let mut summary = run.summary(result)?;
    let u = heat.solution();
    extend(
        &mut summary,
        serde_json::json!({
            "model": case.physics.name(),
            "unknowns": heat.space.num_dofs(),
            "degree": heat.space.degree(),
            "integrator": format!("{:?}", time.integrator_for(&case.physics)),
            "min": u.iter().copied().fold(f64::INFINITY, f64::min),
            "max": u.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }),
    );
    Ok(summary)
}

/// A time-dependent run of a case: its time loop and the monitors every
/// model gets (the `.vtu`/`.pvd` series, the case's probes, `steps.csv`).
pub(crate) struct Run {
    /// The loop over the case's time section.
    pub(crate) time_loop: TimeLoop,
    series: Series,
    probes: Probes,
    log: StepLog,
    wall_seconds: f64,
}

impl Run {
    /// The run of `case` for `model` (probes are located in it), writing
    /// into `out` under `name`.
    pub(crate) fn new<S: Stepper + ?Sized>(
        case: &Case,
        model: &S,
        name: &str,
        out: &Path,
        progress: bool,
    ) -> Result<Self> {
        let time = time_section(case)?;
        let mut time_loop = TimeLoop::new(time.start, time.end, time.dt);
        time_loop.progress = progress;
        let points: Vec<(String, [f64; 3])> = probe_points(case)
            .map(|(n, p)| (n.to_string(), p))
            .collect();
        Ok(Run {
            time_loop,
            series: Series::new(out, name, case.output.every, time.end),
            probes: Probes::new(out, &points, model)?,
            log: StepLog::new(out),
            wall_seconds: 0.0,
        })
    }

    /// Runs `model` through the time loop with the standard monitors and
    /// the model's own (`extra`).
    pub(crate) fn drive<'a, S: Stepper + Model>(
        &'a mut self,
        model: &mut S,
        extra: Vec<&'a mut dyn Monitor<S>>,
    ) -> Result<RunSummary, crate::physics::StepError> {
        let started = Instant::now();
        let mut monitors: Vec<&'a mut dyn Monitor<S>> =
            vec![&mut self.series, &mut self.probes, &mut self.log];
        monitors.extend(extra);
        let result = self.time_loop.run(model, None, &mut monitors);
        self.wall_seconds = started.elapsed().as_secs_f64();
        result
    }

    /// The summary of a finished run (the keys every time-dependent model
    /// has), or the error of a failed one, naming the output kept.
    pub(crate) fn summary(
        &self,
        result: Result<RunSummary, crate::physics::StepError>,
    ) -> Result<serde_json::Value> {
        let s =
            result.with_context(|| format!("{}: the run stopped", self.series.path().display()))?;
        Ok(serde_json::json!({
            "steps": s.steps,
            "rejected_steps": s.rejected,
            "t_end": s.t,
            "dt_min": s.dt_range.0,
            "dt_max": s.dt_range.1,
            "solver_iterations": s.iterations,
            "time_loop_seconds": self.wall_seconds,
            "seconds_per_step": self.wall_seconds / s.steps.max(1) as f64,
            "last_output_step": self.series.last_written(),
            "probes": self.probes.summary(),
            "output": self.series.path().display().to_string(),
        }))
    }
}

/// Adds the keys of `more` (an object) to `summary` (an object).
pub(crate) fn extend(summary: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(s), serde_json::Value::Object(m)) = (summary.as_object_mut(), more) {
        s.extend(m);
    }
}
