//! Case files: a YAML document that is the whole experiment, read by
//! section: `mesh`, `physics` (dispatched to the model's own section,
//! [`crate::physics::registry`]), `solver` ([`SolverSpec`]), `time`
//! ([`TimeSpec`]), `output`, `monitors`, `stepper`, `mesh_mover`
//! ([`MeshMoverSpec`]).
//!
//! Reading checks the YAML against the schema (unknown keys, models and
//! solver kinds, wrong types name the line, column and what was
//! expected); [`Case::check`] then checks the case against its mesh
//! (groups exist and have the right dimension, points lie inside, values
//! are possible) before any work starts, so that `check` refuses
//! everything `run` would. `docs/cases.md` documents every key.

mod mesh_mover;
mod monitors;
mod output;
mod stepper;

use std::path::Path;

use anyhow::{bail, Context, Result};
use pde_mesh::{quality, Mesh};
use serde::Deserialize;
use serde_saphyr::Spanned;

pub use crate::linalg::registry::{PreconditionerSpec, SolverSpec};
pub use crate::physics::spec::BoundaryUse;
pub use crate::physics::Physics;
pub use crate::time::TimeSpec;
pub use mesh_mover::MeshMoverSpec;
pub use monitors::MonitorSpec;
pub use output::Output;
#[cfg(feature = "torch")]
pub(crate) use stepper::missing_model;
pub(crate) use stepper::model_predictor;
pub use stepper::{
    register_stepper, stepper_kinds, BuildPredictor, DeviceKind, StepperEntry, StepperSpec,
};

use crate::mesh_source::MeshSource;
use crate::physics::checks::is_positive;
use crate::physics::spec::{CheckContext, Stepping, TimeUse};

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
    pub monitors: Vec<Spanned<MonitorSpec>>,
    /// A learned stepper in place of the classical flow step (needs the
    /// `torch` feature).
    #[serde(default)]
    pub stepper: Option<StepperSpec>,
    /// A mesh mover that moves the nodes during the run (r-adaptation).
    #[serde(default)]
    pub mesh_mover: Option<MeshMoverSpec>,
}

/// The first domain cell of zero (or non-finite) size, named with its
/// corners: finite elements cannot map onto it and finite volumes would
/// divide by its volume.
fn degenerate_cell(mesh: &Mesh) -> Option<String> {
    let sizes: Vec<f64> = quality::domain_measures(mesh)
        .iter()
        .map(|m| m.abs())
        .collect();
    let mean = sizes.iter().sum::<f64>() / sizes.len().max(1) as f64;
    let k = sizes
        .iter()
        .position(|s| !s.is_finite() || *s <= 1e-12 * mean)?;
    let (kind, nodes) = mesh
        .domain_blocks()
        .flat_map(|(_, b)| b.cells().map(move |c| (b.kind, c)))
        .nth(k)?;
    if kind.num_corners() < 2 {
        return None;
    }
    let corners: Vec<String> = nodes[..kind.num_corners()]
        .iter()
        .map(|&v| {
            let p = mesh.points[v];
            format!("({}, {}, {})", p[0], p[1], p[2])
        })
        .collect();
    Some(format!(
        "mesh: domain cell {k} has zero size (corners {}); every model needs cells of \
         positive size",
        corners.join(", ")
    ))
}

impl Case {
    /// Reads a case file and checks it against the schema. Errors name the
    /// file and, for YAML and schema errors, the line and column.
    pub fn read(path: &Path) -> Result<Case> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the case file", path.display()))?;
        let mut case =
            Self::parse(&text).with_context(|| format!("{}: invalid case file", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        case.solver.resolve_paths(base);
        if let Some(mover) = &mut case.mesh_mover {
            mover.resolve_paths(base);
        }
        Ok(case)
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

    /// Whether the run steps in time.
    pub fn is_transient(&self) -> bool {
        self.time.is_some()
    }

    /// The linear solver the model uses when the case names none.
    pub fn default_solver(&self) -> &'static str {
        self.physics.spec().default_solver(self.is_transient())
    }

    /// Every boundary group of the mesh with the condition the model will
    /// give it (defaults marked), as `check` prints them.
    pub fn boundary(&self, mesh: &Mesh) -> Vec<BoundaryUse> {
        self.physics.spec().boundary(mesh)
    }

    /// Checks the case against its mesh: every error found, one per line.
    pub fn check(&self, mesh: &Mesh) -> Result<()> {
        let mut problems = Vec::new();
        if let Some(name) = &self.name {
            // The name becomes file names inside the output folder.
            let plain = !name.is_empty()
                && name != "."
                && name != ".."
                && !name.contains(['/', '\\'])
                && !name.chars().any(char::is_control);
            if !plain {
                problems.push(format!(
                    "name: '{name}' must be a plain file name (no /, \\ or ..); it names the \
                     files inside the output folder"
                ));
            }
        }
        if let Some(problem) = degenerate_cell(mesh) {
            problems.push(problem);
        }
        let model = self.physics.spec();
        let cx = CheckContext {
            mesh,
            time: self.time.as_ref(),
        };
        model.check(&cx, &mut problems);
        if model.capabilities().linear_solver {
            self.solver.check(
                self.default_solver(),
                &model.capabilities().system,
                model.name(),
                &mut problems,
            );
        } else if self.solver != SolverSpec::default() {
            problems.push(format!(
                "solver: {} chooses its own linear solvers; remove the solver section",
                model.name()
            ));
        }
        self.check_time(&mut problems);
        if self.output.every == 0 {
            problems.push("output.every: must be at least 1".into());
        }
        if let Some(every) = self.output.checkpoint_every {
            if every == 0 {
                problems.push("output.checkpoint_every: must be at least 1".into());
            }
            if let Some(why) = self.why_no_checkpoints() {
                problems.push(format!("output.checkpoint_every: {why}"));
            }
        }
        self.check_monitors(mesh, &mut problems);
        self.check_mesh_mover(mesh, &mut problems);
        if let Some(stepper) = &self.stepper {
            stepper.check(self, mesh, &mut problems);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("\n"))
        }
    }

    /// Why a run of this case cannot be checkpointed, if it cannot.
    pub fn why_no_checkpoints(&self) -> Option<&'static str> {
        if !self.is_transient() {
            Some("a steady case has no steps to continue")
        } else {
            None
        }
    }

    /// The time section against the model's use of time and way of
    /// stepping.
    fn check_time(&self, problems: &mut Vec<String>) {
        let name = self.physics.name();
        let caps = self.physics.spec().capabilities();
        let Some(t) = &self.time else {
            if caps.time == TimeUse::Required {
                problems.push(format!("time: the {name} model needs `time: {{end, dt}}`"));
            }
            return;
        };
        if caps.time == TimeUse::Never {
            problems.push(format!(
                "time: the {name} model is steady; remove the time section"
            ));
            return;
        }
        if !(t.start.is_finite() && t.end.is_finite()) {
            problems.push(format!(
                "time: start ({}) and end ({}) must be finite numbers",
                t.start, t.end
            ));
        } else if !is_positive(t.end - t.start) {
            problems.push(format!(
                "time.end: {} must be after time.start ({})",
                t.end, t.start
            ));
        }
        if !(is_positive(t.dt) && t.dt.is_finite()) {
            problems.push(format!(
                "time.dt: {} must be a positive finite number",
                t.dt
            ));
        } else if t.start.is_finite() && t.start + t.dt == t.start {
            problems.push(format!(
                "time.dt: {} is below the spacing of floating-point times at time.start \
                 ({}): a step would not advance the time",
                t.dt, t.start
            ));
        }
        if let Some(limit) = t.blow_up {
            if !(is_positive(limit) && limit.is_finite()) {
                problems.push(format!(
                    "time.blow_up: {limit} must be a positive finite number (the largest \
                     absolute value a state may reach before the run stops as diverged)"
                ));
            }
        }
        if let Some(a) = &t.adaptive {
            if !(is_positive(a.tolerance) && is_positive(a.dt_min) && a.dt_min <= a.dt_max) {
                problems.push("time.adaptive: need tolerance > 0 and 0 < dt_min <= dt_max".into());
            }
        }
        match caps.stepping {
            Stepping::OwnScheme if t.integrator.is_some() || t.adaptive.is_some() => {
                problems.push(format!(
                    "time: finite volumes step with physics.{name}.scheme.runge_kutta and the \
                     CFL number; remove time.integrator and time.adaptive (time.dt caps the step)"
                ))
            }
            Stepping::Integrator {
                adaptive: false, ..
            } if t.adaptive.is_some() => problems.push(format!(
                "time.adaptive: {name} runs with a fixed step; remove `adaptive`"
            )),
            _ => {}
        }
    }
}
