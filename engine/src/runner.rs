//! Runs a case file: loads and checks everything first, builds the model
//! from its section ([`crate::physics::spec::ModelSpec::build`]), then
//! solves it once (steady) or steps it through the one
//! [`crate::driver::TimeLoop`] with the output series, probes, `steps.csv`
//! and the model's own monitors, and writes `summary.json`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pde_mesh::Mesh;

use crate::case::{stepper_kinds, Case, StepperSpec, TimeSpec};
use crate::driver::checkpoint::{Checkpoint, Checkpoints, Identity};
use crate::driver::monitors::{write_model, Probes, Series, StepLog};
use crate::driver::{Interrupt, MeshMotion, Monitor, Motion, TimeLoop};
use crate::output_folder::OutputFolder;
use crate::physics::carried_scalar::FlowWithScalar;
use crate::physics::learned_step::LearnedStep;
use crate::physics::spec::{
    default_blow_up, BuildContext, Built, LearnedFlowStep, Steady, TransientSetup,
};
use crate::physics::{StepError, Transient};

/// Options of [`run_case`] that do not belong in the case file.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the case's output directory.
    pub output: Option<PathBuf>,
    /// Show progress: a bar when stderr is a terminal, else a line every
    /// `progress_every` (default 10 s).
    pub progress: bool,
    /// The interval of progress lines when stderr is not a terminal.
    pub progress_every: Option<Duration>,
    /// Stop between steps on SIGINT or SIGTERM (handlers installed while
    /// the time loop runs), with the output flushed; the run's error is then
    /// [`StepError::Interrupted`].
    pub stop_on_signals: bool,
    /// Continue from the latest checkpoint in the output folder: the
    /// series and the monitors go on, and the results are those of a run
    /// that never stopped.
    pub restart: bool,
    /// Ignore the case's learned stepper (run the classical baseline).
    pub classical: bool,
    /// Ignore the case's mesh mover (run the fixed-mesh twin).
    pub fixed_mesh: bool,
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
    load_case_as(path, &RunOptions::default())
}

/// [`load_case`], without its learned stepper or its mesh mover as the
/// options say.
fn load_case_as(path: &Path, options: &RunOptions) -> Result<(Case, Mesh, String)> {
    let mut case = Case::read(path)?;
    if options.classical {
        case.stepper = None;
    }
    if options.fixed_mesh {
        case.mesh_mover = None;
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

/// The time section of a time-dependent case.
pub fn time_section(case: &Case) -> Result<&TimeSpec> {
    case.time
        .as_ref()
        .context("time: a time-dependent run needs a time section")
}

/// The case's learned flow step (`stepper:`): its kind's predictor, from the
/// stepper registry, wrapped around the flow.
struct CaseStepper<'a> {
    spec: &'a StepperSpec,
    base: &'a Path,
    time: &'a TimeSpec,
}

impl LearnedFlowStep for CaseStepper<'_> {
    fn wrap(&self, mut flow: FlowWithScalar) -> Result<LearnedStep<FlowWithScalar>> {
        let build = stepper_kinds()
            .iter()
            .find(|e| e.name == self.spec.kind)
            .map(|e| e.build)
            .with_context(|| format!("stepper.kind: unknown kind '{}'", self.spec.kind))?;
        let predictor = build(self.spec, self.base, &flow.flow, self.time.dt)?;
        let from = self.spec.from.unwrap_or(self.time.start);
        let tolerance = self.spec.residual_tolerance;
        flow.flow.set_prediction_correction(self.spec.correction);
        Ok(LearnedStep::new(flow, predictor, from, tolerance))
    }

    fn baseline(&self) -> bool {
        self.spec.baseline
    }
}

/// Builds the model a checked case describes, writing its records into
/// `out` under `name`; paths in the case are relative to `base`.
pub fn build(case: &Case, mesh: Arc<Mesh>, base: &Path, out: &Path, name: &str) -> Result<Built> {
    let learned = match (&case.stepper, &case.time) {
        (Some(spec), Some(time)) => Some(CaseStepper { spec, base, time }),
        _ => None,
    };
    let cx = BuildContext {
        mesh,
        time: case.time.as_ref(),
        solver: &case.solver,
        forces: case.forces(),
        out,
        name,
        learned: learned.as_ref().map(|l| l as &dyn LearnedFlowStep),
    };
    case.physics.spec().build(&cx)
}

/// The time-dependent model a case describes, at its start time, for
/// step-by-step use ([`crate::simulation::Simulation`]), with the case's
/// mesh motion (its initial moves made); paths in the case are relative
/// to `base`. The model's own records are not kept.
pub fn transient_model(
    case: &Case,
    mesh: Mesh,
    base: &Path,
) -> Result<(Box<dyn Transient>, Option<Motion>)> {
    time_section(case)?;
    let scratch = std::env::temp_dir();
    match adapted_build(case, mesh, |m| build(case, m, base, &scratch, "simulation"))? {
        (Built::Transient(setup), motion) => Ok((setup.model, motion)),
        (Built::Steady(_), _) => {
            anyhow::bail!("{} is steady; it has no steps", case.physics.name())
        }
    }
}

/// The model built by `build` with the case's mesh motion: the mover of
/// `mesh` and the model built again on each of its `initial_moves`, so
/// that the initial condition is sampled where the mesh has put its nodes.
fn adapted_build(
    case: &Case,
    mesh: Mesh,
    build: impl Fn(Arc<Mesh>) -> Result<Built>,
) -> Result<(Built, Option<Motion>)> {
    let mover = case.mesh_mover.as_ref().filter(|_| case.is_transient());
    let mut motion = mover
        .map(|spec| Motion::new(&spec.motion(), &mesh))
        .transpose()?;
    let mut built = build(Arc::new(mesh))?;
    if let (Some(motion), Some(spec)) = (motion.as_mut(), mover) {
        fn transient(built: &Built) -> Option<&(dyn Transient + 'static)> {
            match built {
                Built::Transient(setup) => Some(setup.model.as_ref()),
                Built::Steady(_) => None,
            }
        }
        built = motion.initial_moves(built, spec.initial_moves, transient, &build)?;
    }
    Ok((built, motion))
}

/// Runs the case at `path` into its output folder, which it holds for the
/// run ([`OutputFolder`]); `summary.json` says how the run ended
/// (`"status"`: `completed`, `failed` or `interrupted`, with the reason,
/// and the step and time reached when the time loop stopped).
pub fn run_case(path: &Path, options: &RunOptions) -> Result<RunResult> {
    let started = Instant::now();
    let (case, mesh, name) = load_case_as(path, options)?;
    let out = options
        .output
        .clone()
        .or_else(|| case.output.directory.clone())
        .unwrap_or_else(|| Path::new("out").join(&name));
    if let Some(why) = case.why_no_checkpoints().filter(|_| options.restart) {
        bail!("--restart: {why}");
    }
    let folder = OutputFolder::claim(&out, &name, options.restart)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let result = adapted_build(&case, mesh, |m| build(&case, m, base, &out, &name)).and_then(
        |(built, motion)| match built {
            Built::Steady(model) => run_steady(&case, model, &name, &out),
            Built::Transient(setup) => run_transient(&case, setup, motion, &name, &out, options),
        },
    );
    let mut summary = match &result {
        Ok(summary) => {
            let mut s = serde_json::json!({"status": "completed"});
            extend(&mut s, summary.clone());
            s
        }
        Err(e) => failure(e),
    };
    summary["case"] = serde_json::json!(path.display().to_string());
    summary["wall_seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
    let written = folder.write_summary(&summary);
    result?;
    written?;
    Ok(RunResult {
        output: out,
        summary,
    })
}

/// The summary of a run that did not finish: why, and where the time loop
/// stopped.
fn failure(e: &anyhow::Error) -> serde_json::Value {
    let interrupted = e
        .chain()
        .any(|c| matches!(c.downcast_ref(), Some(StepError::Interrupted { .. })));
    let mut s = serde_json::json!({
        "status": if interrupted { "interrupted" } else { "failed" },
        "reason": format!("{e:#}"),
    });
    if let Some(Stopped {
        reached: Some((step, t)),
        ..
    }) = e.downcast_ref::<Stopped>()
    {
        s["step"] = serde_json::json!(step);
        s["t"] = serde_json::json!(t);
    }
    s
}

/// The context of a time loop's failure: its series and the last committed
/// step and time.
#[derive(Debug)]
struct Stopped {
    series: PathBuf,
    reached: Option<(usize, f64)>,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: the run stopped", self.series.display())
    }
}

/// Solves a steady model and writes `<name>.vtu`; the summary has the
/// model's keys, the solve's and the probes' values.
fn run_steady(
    case: &Case,
    mut model: Box<dyn Steady>,
    name: &str,
    out: &Path,
) -> Result<serde_json::Value> {
    let mut summary = model.solve()?;
    let file = out.join(format!("{name}.vtu"));
    write_model(model.as_ref(), &file)?;
    extend(&mut summary, model.summary());
    let mut probes = Probes::new(out, &case.probe_points(), model.as_ref())?;
    probes.sample(0.0, model.as_ref())?;
    summary["probes"] = probes.summary();
    summary["output"] = serde_json::json!(file.display().to_string());
    Ok(summary)
}

/// Steps a model through the case's time section with the output series,
/// the probes, `steps.csv`, progress and the model's own monitors; the
/// summary has the loop's keys, the model's and the monitors'.
fn run_transient(
    case: &Case,
    setup: TransientSetup,
    mut motion: Option<Motion>,
    name: &str,
    out: &Path,
    options: &RunOptions,
) -> Result<serde_json::Value> {
    let time = time_section(case)?;
    let TransientSetup {
        mut model,
        mut monitors,
        blow_up,
    } = setup;
    let mut time_loop = TimeLoop::new(time.start, time.end, time.dt);
    time_loop.progress = options.progress;
    if let Some(every) = options.progress_every {
        time_loop.progress_every = every;
    }
    time_loop.blow_up = time
        .blow_up
        .or(blow_up)
        .unwrap_or_else(|| default_blow_up(model.as_ref()));
    time_loop.adaptive = time.adaptive;
    let mut series = Series::new(out, name, case.output.every, time.end);
    let mut probes = Probes::new(out, &case.probe_points(), model.as_ref())?;
    let mut log = StepLog::new(out);
    let identity = Identity::of(name, model.as_ref(), time.start, time.dt);
    let restart = options
        .restart
        .then(|| -> Result<_> {
            let (file, checkpoint) = Checkpoint::latest(out)?;
            if let Some(why) = identity.mismatch(&checkpoint.identity) {
                bail!(
                    "{}: cannot continue from this checkpoint: {why}",
                    file.display()
                );
            }
            Ok((file, checkpoint))
        })
        .transpose()?;
    if case.why_no_checkpoints().is_none() {
        time_loop.checkpoints = Some(Checkpoints {
            dir: out.to_path_buf(),
            every: case.output.checkpoint_every,
            identity,
        });
    }
    let interrupt = Interrupt::new();
    let _signals = options
        .stop_on_signals
        .then(|| interrupt.on_signals())
        .transpose()
        .context("cannot install the SIGINT/SIGTERM handlers")?;
    time_loop.interrupt = Some(interrupt);
    let started = Instant::now();
    let result = {
        let mut all: Vec<&mut dyn Monitor<dyn Transient>> =
            vec![&mut series, &mut probes, &mut log];
        all.extend(
            monitors
                .iter_mut()
                .map(|m| m.as_mut() as &mut dyn Monitor<dyn Transient>),
        );
        let motion = motion
            .as_mut()
            .map(|m| m as &mut dyn MeshMotion<dyn Transient>);
        match &restart {
            Some((_, checkpoint)) => time_loop.resume(checkpoint, model.as_mut(), motion, &mut all),
            None => time_loop.run(model.as_mut(), motion, &mut all),
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let s = result.with_context(|| Stopped {
        series: series.path().to_path_buf(),
        reached: log.reached(),
    })?;
    let mut summary = model.summary();
    for m in &monitors {
        m.summarize(model.as_ref(), &mut summary);
    }
    extend(
        &mut summary,
        serde_json::json!({
            "steps": s.steps,
            "rejected_steps": s.rejected,
            "t_end": s.t,
            "dt": time.dt,
            "dt_min": s.dt_range.0,
            "dt_max": s.dt_range.1,
            "solver_iterations": s.iterations,
            "preconditioner_fallbacks": s.fallbacks.0,
            "time_loop_seconds": wall,
            "seconds_per_step": wall / s.steps.max(1) as f64,
            "last_output_step": series.last_written(),
            "probes": probes.summary(),
            "output": series.path().display().to_string(),
        }),
    );
    if let Some((file, _)) = &restart {
        summary["restarted_from"] = serde_json::json!(file.display().to_string());
    }
    if let Some(why) = s.fallbacks.1 {
        summary["preconditioner_fallback"] = serde_json::json!(why);
    }
    if let Some(motion) = &motion {
        summary["mesh_mover"] = motion.summary();
    }
    Ok(summary)
}

/// Adds the keys of `more` (an object) to `summary` (an object).
fn extend(summary: &mut serde_json::Value, more: serde_json::Value) {
    if let (Some(s), serde_json::Value::Object(m)) = (summary.as_object_mut(), more) {
        s.extend(m);
    }
}
