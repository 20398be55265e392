//! `pde-engine generate flows`: training data for learned steppers from the
//! classical solver. A family of flows around a cylinder in the DFG channel
//! (like the MeshGraphNets `cylinder_flow` set): for each trajectory the
//! cylinder's centre and radius and the peak inflow speed are drawn from
//! the configured ranges, the channel is meshed anew (gmsh, from a `.geo`
//! with the parameters `xc`, `yc`, `r`, `level`), and Taylor–Hood
//! Navier–Stokes runs from rest; the velocity and pressure at the mesh
//! nodes after every step are written to a [`crate::dataset`] folder. The last `held_out`
//! trajectories form the test split: geometries training never sees.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::case::{model_predictor, SolverSpec, TimeSpec};
use crate::dataset::{write_trajectory, DatasetIndex, Split, Trajectory};
use crate::driver::{progress_bar, OnStep, StepInfo, TimeLoop};
use crate::expr::Expr;
use crate::mesh_source::{GeoSource, MeshSource};
use crate::physics::checks::is_positive;
use crate::physics::learned_step::{CheckedStep, Extrapolation, Predictor};
use crate::physics::navier_stokes::{
    Branch, BranchErrors, FlowBoundarySpec, FlowSpec, NavierStokes, NavierStokesSpec, NewtonSpec,
    PredictionCorrection,
};
use crate::physics::spec::{BuildContext, CheckContext, ModelSpec};
use crate::physics::{Model, PhysicsError, StepError};
use crate::random::Draws;
use pde_learned::extrapolation::MAX_WINDOW;

/// Channel height of the DFG geometry (the inflow profile vanishes at 0
/// and at `H`).
const H: f64 = 0.41;

/// A generation config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateConfig {
    /// The channel-with-cylinder `.geo` (parameters `xc`, `yc`, `r`,
    /// `level`), relative to the config file.
    pub geometry: PathBuf,
    /// Mesh level of the `.geo`. Default 1.
    #[serde(default = "level_default")]
    pub level: f64,
    /// Number of trajectories.
    pub count: usize,
    /// How many of them (the last) form the test split. Default 0.
    #[serde(default)]
    pub held_out: usize,
    /// Seed of the parameter draws. Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Range of the cylinder centre's x.
    pub cylinder_x: [f64; 2],
    /// Range of the cylinder centre's y.
    pub cylinder_y: [f64; 2],
    /// Range of the cylinder radius.
    pub radius: [f64; 2],
    /// Range of the peak inflow speed `U` (profile `4 U y (H - y) / H²`).
    pub inflow: [f64; 2],
    /// Kinematic viscosity. Default 0.001 (Re = 2 r Ū / ν = 100 for the
    /// benchmark's cylinder at U = 1.5).
    #[serde(default = "nu_default")]
    pub nu: f64,
    /// Time step.
    pub dt: f64,
    /// Steps recorded per trajectory.
    pub steps: usize,
    /// Steps run before recording starts (to skip the start-up). Default 0.
    #[serde(default)]
    pub warmup_steps: usize,
    /// Solver-in-the-loop branches off the training trajectories
    /// ([`Branch`]). Default: none.
    #[serde(default)]
    pub solver_in_the_loop: Option<SolverInTheLoop>,
    /// Output folder, relative to the config file.
    pub output: PathBuf,
}

/// How the solver-in-the-loop branches are made: from every `every`-th
/// recorded state (with three states before it), `length` steps, each an
/// accepted prediction's error on the classical answer, followed by the
/// classical step from there.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolverInTheLoop {
    /// A branch from every this many recorded states.
    pub every: usize,
    /// Perturbed steps per branch.
    pub length: usize,
    /// The largest residual an error is scaled to (the check's tolerance
    /// it stands for); each step's is drawn uniformly below it.
    pub residual: f64,
    /// A stepper model folder (written by `train stepper`; relative to the
    /// config file) run in the loop: each branch is that model's learned
    /// run, checked at `residual`: a step commits the model's prediction
    /// where its residual is at most `residual`, the classical answer
    /// where not (so that a model trained further on the data meets the
    /// histories its own runs make, accepted and fallen-back steps mixed).
    /// Default: the mix of extrapolation and phase errors, each scaled to a
    /// residual drawn below `residual`. Needs the `torch` feature.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// What the runs the branches stand for do to a prediction before its
    /// check (a case's `stepper.correction`): each perturbed state is
    /// committed corrected, as such a run commits an accepted step.
    /// Default `none`.
    #[serde(default)]
    pub correction: PredictionCorrection,
}

impl SolverInTheLoop {
    /// Whether a branch starts from recorded state `start`: every
    /// `every`-th, with the three states before it that cubic
    /// extrapolation (one of the errors) reads.
    fn branches_from(&self, start: usize, config: &GenerateConfig) -> bool {
        start % self.every == 0 && config.warmup_steps + start >= MAX_WINDOW - 1
    }

    /// A branch of `flow` from `t`: `model`'s run checked at `residual`, or
    /// else errors of a random mix of the two kinds a learned step makes
    /// most: the one cubic extrapolation makes (which a window model
    /// corrects, not always fully) and a phase error (the step's change,
    /// too large or too small), scaled to residuals drawn below `residual`.
    fn branch(
        &self,
        flow: &mut NavierStokes,
        t: f64,
        dt: f64,
        draws: &mut Draws,
        model: Option<&mut Box<dyn Predictor>>,
    ) -> Result<Branch> {
        if let Some(model) = model {
            let window = model.window();
            let errors = BranchErrors::Checked {
                tolerance: self.residual,
                steps: self.length,
            };
            let branch = flow.perturbed_branch(t, dt, errors, |history, answer, residual| {
                let states = &history[history.len() - window..];
                let residual = residual.filter(|_| model.reads_step_residual());
                let predicted = model
                    .predict(states, residual, dt)?
                    .and_then(|mut bundle| (!bundle.is_empty()).then(|| bundle.swap_remove(0)));
                let predicted = predicted.ok_or_else(|| {
                    StepError::Model(PhysicsError::Surrogate(format!(
                        "solver_in_the_loop.model ({}) made no prediction for steps of {dt}",
                        model.describe()
                    )))
                })?;
                Ok(predicted.iter().zip(answer).map(|(p, a)| p - a).collect())
            })?;
            return Ok(branch);
        }
        let residuals: Vec<f64> = (0..self.length)
            .map(|_| draws.uniform([0.0, self.residual]))
            .collect();
        let mut cubic = Extrapolation::new(MAX_WINDOW, 1)?;
        let errors = BranchErrors::Residuals(&residuals);
        let branch = flow.perturbed_branch(t, dt, errors, |history, answer, _| {
            let window = &history[history.len() - MAX_WINDOW..];
            let (a, b) = (draws.uniform([-1.0, 1.0]), draws.uniform([-1.0, 1.0]));
            let newest = &window[MAX_WINDOW - 1];
            // Extrapolation takes any step size.
            let extrapolated = cubic
                .predict(window, None, dt)?
                .map_or_else(|| newest.clone(), |mut bundle| bundle.swap_remove(0));
            Ok((0..answer.len())
                .map(|i| a * (extrapolated[i] - answer[i]) + b * (answer[i] - newest[i]))
                .collect())
        })?;
        Ok(branch)
    }
}

fn level_default() -> f64 {
    1.0
}
fn nu_default() -> f64 {
    1e-3
}

impl GenerateConfig {
    /// Reads and checks a config file.
    pub fn read(path: &Path) -> Result<GenerateConfig> {
        read_config(path, "generate", GenerateConfig::check)
    }

    fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        for (key, [lo, hi]) in [
            ("cylinder_x", self.cylinder_x),
            ("cylinder_y", self.cylinder_y),
            ("radius", self.radius),
            ("inflow", self.inflow),
        ] {
            if !(lo <= hi && lo > 0.0) {
                problems.push(format!("{key}: [{lo}, {hi}] must be a positive range"));
            }
        }
        let r = self.radius[1];
        if self.cylinder_y[0] - r < 0.02 || self.cylinder_y[1] + r > H - 0.02 {
            problems.push(format!(
                "cylinder_y, radius: the cylinder must stay 0.02 inside the channel (0 < y < {H})"
            ));
        }
        if self.cylinder_x[0] - r < 0.05 || self.cylinder_x[1] + r > 1.0 {
            problems.push("cylinder_x, radius: keep the cylinder within 0.05 < x < 1".into());
        }
        if self.count == 0 || self.held_out >= self.count {
            problems.push(format!(
                "count: {} trajectories with {} held out leaves none to train on",
                self.count, self.held_out
            ));
        }
        if self.steps == 0 || !is_positive(self.dt) || !is_positive(self.nu) {
            problems.push("steps, dt, nu: must be positive".into());
        }
        if let Some(sil) = &self.solver_in_the_loop {
            if sil.every == 0 || sil.length == 0 {
                problems.push("solver_in_the_loop: every and length must be at least 1".into());
            }
            if !(sil.residual > 0.0 && sil.residual < 1.0) {
                problems.push(format!(
                    "solver_in_the_loop.residual: {} must be in (0, 1) (the check's tolerance \
                     an error stands for)",
                    sil.residual
                ));
            }
            if sil.model.is_some() && !cfg!(feature = "torch") {
                problems.push(
                    "solver_in_the_loop.model: a model in the loop needs libtorch; build with \
                     --features torch, or remove the key"
                        .into(),
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("\n"))
        }
    }
}

/// Reads a YAML config file and checks it with `check`: unknown keys,
/// wrong types (with their line) and impossible values are refused, every
/// message naming the file as an invalid `what` config (`generate` for
/// flows, `systems`).
pub(crate) fn read_config<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    check: impl FnOnce(&T) -> Result<()>,
) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the config", path.display()))?;
    let invalid = || format!("{}: invalid {what} config", path.display());
    let config: T = serde_saphyr::from_str(&text)
        .map_err(|e| {
            let msg = e.to_string();
            anyhow::anyhow!("{}", msg.strip_prefix("error: ").unwrap_or(&msg))
        })
        .with_context(invalid)?;
    check(&config).with_context(invalid)?;
    Ok(config)
}

/// The groups of the channel geometry.
const TYPE_GROUPS: [&str; 4] = ["inlet", "outlet", "walls", "cylinder"];
/// The state at a node: velocity and pressure (the order of
/// [`crate::physics::navier_stokes::NavierStokes::vertex_state`]).
const FIELDS: [&str; 3] = ["u", "v", "p"];
/// The groups whose nodes carry prescribed velocities.
const FIXED_GROUPS: [&str; 3] = ["inlet", "walls", "cylinder"];

/// The flow of one trajectory: the DFG channel's boundary conditions with
/// a parabolic inflow of peak velocity `u`.
fn flow_spec(config: &GenerateConfig, u: f64) -> Result<NavierStokesSpec> {
    let inflow = Expr::parse(&format!("4*{u:e}*y*({H} - y)/{H}^2")).map_err(anyhow::Error::msg)?;
    let boundary = BTreeMap::from([
        (
            "inlet".to_string(),
            FlowBoundarySpec::Velocity(vec![inflow, Expr::constant(0.0)]),
        ),
        ("walls".to_string(), FlowBoundarySpec::NoSlip),
        ("cylinder".to_string(), FlowBoundarySpec::NoSlip),
        ("outlet".to_string(), FlowBoundarySpec::DoNothing),
    ]);
    Ok(NavierStokesSpec(FlowSpec {
        nu: config.nu,
        boundary,
        initial: None,
        body_force: None,
        pressure_reference: None,
        newton: NewtonSpec::default(),
        scalar: None,
    }))
}

/// Generates the dataset described by the config file at `path`; returns
/// the dataset folder.
pub fn generate(path: &Path, progress: bool) -> Result<PathBuf> {
    let config = GenerateConfig::read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let out = base.join(&config.output);
    if let Some(model) = config
        .solver_in_the_loop
        .as_ref()
        .and_then(|s| s.model.as_ref())
    {
        let folder = base.join(model);
        if !folder.join("model.json").is_file() {
            bail!(
                "{}: solver_in_the_loop.model: {} is not a model folder (no model.json; \
                 `pde-engine train stepper` writes one)",
                path.display(),
                folder.display()
            );
        }
    }
    // Every trajectory meshes its channel anew: without gmsh nothing can
    // be made, and no folder should be left behind.
    if !cfg!(feature = "gmsh") {
        bail!(
            "{}: generate flows meshes every channel with gmsh: rebuild with `--features gmsh` \
             (Debian package libgmsh-dev)",
            path.display()
        );
    }
    std::fs::create_dir_all(&out)
        .with_context(|| format!("{}: cannot create the folder", out.display()))?;
    let mut draws = Draws::new(config.seed);
    // The recorded states that branches start from, in every training
    // trajectory.
    let branch_starts: Vec<usize> = config
        .solver_in_the_loop
        .as_ref()
        .map_or(Vec::new(), |sil| {
            (0..config.steps)
                .filter(|&s| sil.branches_from(s, &config))
                .collect()
        });
    let branch_steps = config.solver_in_the_loop.as_ref().map_or(0, |sil| {
        (config.count - config.held_out) * branch_starts.len() * sil.length
    });
    let total = config.count * (config.warmup_steps + config.steps) + branch_steps;
    let bar = progress_bar(progress);
    let mut done = 0;
    let mut entries = Vec::with_capacity(config.count);
    for k in 0..config.count {
        let (xc, yc, r) = (
            draws.uniform(config.cylinder_x),
            draws.uniform(config.cylinder_y),
            draws.uniform(config.radius),
        );
        let u = draws.uniform(config.inflow);
        let parameters = BTreeMap::from([
            ("xc".to_string(), xc),
            ("yc".to_string(), yc),
            ("r".to_string(), r),
            ("level".to_string(), config.level),
        ]);
        let mesh = MeshSource::Geo(GeoSource {
            path: config.geometry.clone(),
            order: 1,
            size_factor: 1.0,
            parameters: parameters.clone(),
        })
        .load(base)
        .with_context(|| format!("trajectory {k}: meshing {}", config.geometry.display()))?;
        let steps = config.warmup_steps + config.steps;
        let spec = flow_spec(&config, u)?;
        let time = TimeSpec {
            start: 0.0,
            end: steps as f64 * config.dt,
            dt: config.dt,
            integrator: None,
            adaptive: None,
            blow_up: None,
        };
        let mut problems = Vec::new();
        let check = CheckContext {
            mesh: &mesh,
            time: Some(&time),
        };
        spec.check(&check, &mut problems);
        if !problems.is_empty() {
            bail!(
                "{}: the mesh does not fit: {}",
                config.geometry.display(),
                problems.join("; ")
            );
        }
        let solver = SolverSpec::default();
        let build = BuildContext {
            mesh: Arc::new(mesh),
            time: Some(&time),
            solver: &solver,
            forces: None,
            out: &out,
            name: "trajectory",
            learned: None,
        };
        let mut flow = spec.0.flow(true, &build)?;
        // Step residuals (an assembly each) from the first recorded state
        // on: none are recorded for the warm-up.
        flow.record_step_residuals(config.warmup_steps == 0);
        let branching = config
            .solver_in_the_loop
            .as_ref()
            .filter(|_| k + config.held_out < config.count);
        if let Some(sil) = branching {
            flow.keep_states(MAX_WINDOW);
            flow.set_prediction_correction(sil.correction);
        }
        // The model in the loop, on this flow's mesh.
        let mut model = match branching.and_then(|sil| sil.model.as_ref()) {
            Some(path) => Some(
                model_predictor(path, base, &flow, config.dt)
                    .with_context(|| format!("solver_in_the_loop.model: {}", path.display()))?,
            ),
            None => None,
        };
        let mut states = Vec::with_capacity(config.steps + 1);
        let mut residuals = Vec::with_capacity(config.steps);
        if config.warmup_steps == 0 {
            states.push(flow.vertex_state());
        }
        // The time loop runs from branch point to branch point (steps
        // counted from 0); a branch needs the flow between them.
        let branch_points: Vec<usize> = match branching {
            Some(_) => branch_starts
                .iter()
                .map(|s| config.warmup_steps + s)
                .collect(),
            None => Vec::new(),
        };
        let mut branches = Vec::new();
        let mut branch_draws = Draws::stream(config.seed, 1, k as u64);
        // The classical steps alone are timed (the solver's speed, for
        // comparison with a learned stepper).
        let mut solving = Duration::ZERO;
        let mut from = 0;
        let mut ends: Vec<usize> = branch_points
            .iter()
            .copied()
            .chain([config.warmup_steps, steps])
            .filter(|&end| end > 0)
            .collect();
        ends.sort_unstable();
        ends.dedup();
        for end in ends {
            let started = Instant::now();
            let mut record = OnStep(|info: &StepInfo, m: &NavierStokes| {
                if from + info.step >= config.warmup_steps {
                    // The residual of the step to this state, from the last
                    // (a count that does not match is refused when written).
                    if let (false, Some(r)) = (states.is_empty(), m.last_step_residual()) {
                        residuals.push(r.to_vec());
                    }
                    states.push(m.vertex_state());
                }
                done += 1;
                bar.set_position((1000 * done / total.max(1)) as u64);
                bar.set_message(format!(
                    "trajectory {}/{}  step {}  branches {}",
                    k + 1,
                    config.count,
                    from + info.step,
                    branches.len()
                ));
                Ok(())
            });
            TimeLoop::new(from as f64 * config.dt, end as f64 * config.dt, config.dt)
                .run(&mut flow, None, &mut [&mut record])
                .with_context(|| format!("trajectory {k} (U = {u:.3})"))?;
            solving += started.elapsed();
            if end == config.warmup_steps {
                flow.record_step_residuals(true);
            }
            if let Some(sil) = branching.filter(|_| end < steps && branch_points.contains(&end)) {
                let t = end as f64 * config.dt;
                let branch = sil
                    .branch(&mut flow, t, config.dt, &mut branch_draws, model.as_mut())
                    .with_context(|| format!("trajectory {k}: branch at t = {t:.4}"))?;
                branches.push((end - config.warmup_steps, branch));
                done += sil.length;
            }
            from = end;
        }
        let split = if k + config.held_out >= config.count {
            Split::Test
        } else {
            Split::Train
        };
        let mut parameters = parameters;
        parameters.insert("inflow".into(), u);
        let trajectory = Trajectory {
            mesh: flow.mesh().as_ref().clone(),
            states,
            residuals,
            branches,
        };
        let mut entry = write_trajectory(&out, &format!("{k:03}"), split, parameters, &trajectory)?;
        entry.seconds_per_step = Some(solving.as_secs_f64() / steps as f64);
        entries.push(entry);
    }
    bar.finish_and_clear();
    DatasetIndex {
        fields: FIELDS.map(String::from).to_vec(),
        type_groups: TYPE_GROUPS.map(String::from).to_vec(),
        fixed_groups: FIXED_GROUPS.map(String::from).to_vec(),
        fixed_fields: Some(vec!["u".into(), "v".into()]),
        dt: config.dt,
        trajectories: entries,
    }
    .write(&out)?;
    Ok(out)
}
