//! Runs a case file: loads and checks everything first, then solves, writes
//! `.vtu`/`.pvd` output, monitors (`probes.csv`) and `summary.json`, with a
//! progress bar for time-dependent runs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pde_mesh::io::vtk::{self, DataArray, PvdWriter, VtuOptions};
use pde_mesh::Mesh;

use crate::case::{
    BoundarySpec, Case, MonitorSpec, Physics, PreconditionerKind, ScalarModel, SolverKind,
    SolverSpec, TimeSpec,
};
use crate::fem::{FunctionSpace, PointEvaluator};
use crate::linalg::amg::Amg;
use crate::linalg::direct::{Cholesky, LaggedLu, SparseLu};
use crate::linalg::krylov::{BiCgStab, Cg, Gmres, Tolerance};
use crate::linalg::precond::{Identity, Ilu0, Jacobi, Ssor};
use crate::linalg::saddle::BlockLsc;
use crate::linalg::{LinearSolver, Preconditioner, SolveReport};
use crate::physics::heat::{Heat, HeatBoundary};
use crate::physics::poisson::{BoundaryCondition, Poisson};
use crate::physics::{Model, OutputField};
use crate::time::{StepError, Stepper, TimeLoop};

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

/// The linear solver a case asks for (`default` when it names none).
/// `saddle_split` is the first pressure unknown of a flow system, which
/// the `lsc` preconditioner needs (`check` refuses it for other models).
pub fn make_solver(
    spec: &SolverSpec,
    default: SolverKind,
    saddle_split: Option<usize>,
) -> Box<dyn LinearSolver> {
    let tolerance = Tolerance {
        rtol: spec.rtol,
        atol: 0.0,
        max_iterations: spec.max_iterations,
    };
    let preconditioner = || -> Box<dyn Preconditioner> {
        match spec.preconditioner {
            PreconditionerKind::Jacobi => Box::new(Jacobi::default()),
            PreconditionerKind::Ssor => Box::new(Ssor::new(1.2)),
            PreconditionerKind::Ilu0 => Box::new(Ilu0::default()),
            PreconditionerKind::Amg => Box::new(Amg::default()),
            PreconditionerKind::Lsc => Box::new(BlockLsc::new(
                saddle_split.expect("case check allows lsc only for flows"),
            )),
            PreconditionerKind::None => Box::new(Identity),
        }
    };
    match spec.kind.unwrap_or(default) {
        SolverKind::Cholesky => Box::new(Cholesky::new()),
        SolverKind::Lu => Box::new(SparseLu::new()),
        SolverKind::LaggedLu => Box::new(LaggedLu::new(tolerance, spec.refactor_after)),
        SolverKind::Cg => Box::new(Cg::new(preconditioner(), tolerance)),
        SolverKind::Gmres => Box::new(Gmres::new(preconditioner(), tolerance, spec.restart)),
        SolverKind::Bicgstab => Box::new(BiCgStab::new(preconditioner(), tolerance)),
    }
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
            finite_volume::run_finite_volume(&case, mesh, &name, &out, options.progress)?
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
        None,
    );
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
            None,
        ),
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

/// The time section of a time-dependent case.
pub(crate) fn time_section(case: &Case) -> Result<&TimeSpec> {
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
    let probes = probes(case, &heat.space)?;
    let t0 = time.start;

    let mut series = Series::new(out, name, case.output.every, time.end);
    series.write(0, t0, &heat)?;

    let mut csv = String::from("t");
    for (n, _) in &probes {
        let _ = write!(csv, ",{n}");
    }
    csv.push('\n');
    let probe_row = |csv: &mut String, t: f64, u: &[f64]| {
        let _ = write!(csv, "{t:.9e}");
        for (_, e) in &probes {
            let _ = write!(csv, ",{:.9e}", e.eval(u));
        }
        csv.push('\n');
    };
    probe_row(&mut csv, t0, heat.solution());

    let bar = progress_bar(progress);
    let mut log = StepLog::default();
    let mut run = TimeLoop::new(t0, time.end, time.dt);
    run.adaptive = time.adaptive;
    let result = run.run(&mut heat, None, &mut [], |step, t, dt, report, s| {
        probe_row(&mut csv, t, &s.fields()[0].1);
        log.record(t, dt, report);
        bar.set_position((1000.0 * (t - t0) / (time.end - t0)) as u64);
        bar.set_message(format!(
            "t {t:.4e}  dt {dt:.2e}  step {step}  it {}",
            report.iterations
        ));
        series.maybe_write(step, t, s)
    });
    bar.finish_and_clear();
    // Monitors are kept whatever happened, like the output written so far.
    vtk::write_atomically(&out.join("probes.csv"), |w| w.write_all(csv.as_bytes()))?;
    log.write(out)?;
    let summary =
        result.with_context(|| format!("{}: the run stopped", series.path().display()))?;
    let u = heat.solution();
    let probe_values: serde_json::Map<String, serde_json::Value> = probes
        .iter()
        .map(|(n, e)| (n.clone(), serde_json::json!(e.eval(u))))
        .collect();
    Ok(serde_json::json!({
        "model": case.physics.name(),
        "unknowns": heat.space.num_dofs(),
        "degree": heat.space.degree(),
        "integrator": format!("{:?}", time.integrator_for(&case.physics)),
        "steps": summary.steps,
        "rejected_steps": summary.rejected,
        "t_end": summary.t,
        "dt_min": summary.dt_range.0,
        "dt_max": summary.dt_range.1,
        "solver_iterations": summary.iterations,
        "last_output_step": series.last_written(),
        "min": u.iter().copied().fold(f64::INFINITY, f64::min),
        "max": u.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "probes": probe_values,
        "output": series.path().display().to_string(),
    }))
}

/// Writes a model's state as a `.vtu` file.
pub(crate) fn write_model(model: &dyn Model, file: &Path) -> Result<()> {
    let (points, cells) = (model.point_data()?, model.cell_data()?);
    vtk::write_vtu(
        file,
        model.mesh(),
        &arrays(&points),
        &arrays(&cells),
        &VtuOptions::default(),
    )?;
    Ok(())
}

/// VTK arrays viewing output fields.
fn arrays(fields: &[OutputField]) -> Vec<DataArray<'_>> {
    fields
        .iter()
        .map(|a| match a.components {
            1 => DataArray::scalars(&a.name, &a.values),
            c => DataArray::vectors(&a.name, c, &a.values),
        })
        .collect()
}

/// A time series in the output directory: `<name>_NNNNN.vtu` files listed
/// in `<name>.pvd`, which is valid after every write.
pub(crate) struct Series {
    pvd: PvdWriter,
    dir: PathBuf,
    name: String,
    every: usize,
    end: f64,
    last_written: usize,
}

impl Series {
    /// A series written every `every` steps and at time `end`.
    pub(crate) fn new(dir: &Path, name: &str, every: usize, end: f64) -> Self {
        Series {
            pvd: PvdWriter::new(dir.join(format!("{name}.pvd"))),
            dir: dir.to_path_buf(),
            name: name.to_string(),
            every,
            end,
            last_written: 0,
        }
    }

    /// The `.pvd` file.
    pub(crate) fn path(&self) -> &Path {
        self.pvd.path()
    }

    /// The last step written.
    pub(crate) fn last_written(&self) -> usize {
        self.last_written
    }

    /// Writes `model`'s state as step `step` at time `t`.
    pub(crate) fn write(
        &mut self,
        step: usize,
        t: f64,
        model: &dyn Model,
    ) -> Result<(), StepError> {
        let file = self.dir.join(format!("{}_{step:05}.vtu", self.name));
        write_model(model, &file).map_err(|e| StepError::Output(format!("{e:#}")))?;
        self.pvd
            .push(t, &file)
            .map_err(|e| StepError::Output(e.to_string()))?;
        self.last_written = step;
        Ok(())
    }

    /// Writes step `step` if it is due: every `every` steps, and at the end.
    pub(crate) fn maybe_write(
        &mut self,
        step: usize,
        t: f64,
        model: &dyn Model,
    ) -> Result<(), StepError> {
        if step % self.every == 0 || (self.end - t).abs() <= 1e-12 * self.end.abs().max(1.0) {
            self.write(step, t, model)?;
        }
        Ok(())
    }
}

/// `steps.csv`: time, step size, solver iterations and the largest
/// absolute value of the state after every step of a time-dependent run.
#[derive(Default)]
pub(crate) struct StepLog {
    csv: String,
}

impl StepLog {
    /// Records a committed step ending at `t`.
    pub(crate) fn record(&mut self, t: f64, dt: f64, report: &crate::time::StepReport) {
        if self.csv.is_empty() {
            self.csv.push_str("t,dt,solver_iterations,max_abs\n");
        }
        let _ = writeln!(
            self.csv,
            "{t:.9e},{dt:.6e},{},{:.9e}",
            report.iterations, report.max_abs
        );
    }

    /// Writes `steps.csv` into `out` (header only when no step was taken).
    pub(crate) fn write(&self, out: &Path) -> Result<()> {
        let text = if self.csv.is_empty() {
            "t,dt,solver_iterations,max_abs\n"
        } else {
            &self.csv
        };
        vtk::write_atomically(&out.join("steps.csv"), |w| w.write_all(text.as_bytes()))?;
        Ok(())
    }
}

/// A progress bar (hidden unless `show`): position in thousandths of the
/// run, a message, elapsed time and ETA.
pub(crate) fn progress_bar(show: bool) -> indicatif::ProgressBar {
    let bar = if show {
        indicatif::ProgressBar::new(1000)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {percent:>3}% {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("valid template"),
    );
    bar
}
