//! `stepper:`, a learned step in place of a flow's classical one, and the
//! registry of its kinds (built-in: `gnn`, `torchscript`; a program adds
//! its own with [`register_stepper`]).

use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};

use pde_mesh::Mesh;
use serde::Deserialize;

use super::Case;
use crate::physics::checks::{check_group, is_positive};
use crate::physics::learned_step::{Extrapolation, Predictor};
use crate::physics::navier_stokes::{NavierStokes, PredictionCorrection};
use crate::physics::Physics;
use pde_learned::extrapolation::{MAX_BUNDLE, MAX_WINDOW};

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

/// Builds the predictor of a section for the flow `ns` stepping by `dt`;
/// paths are relative to `base`.
pub type BuildPredictor =
    fn(&StepperSpec, &Path, &NavierStokes, f64) -> anyhow::Result<Box<dyn Predictor>>;

/// A kind of learned step that case files name (`stepper: {kind: ...}`).
#[derive(Clone, Copy)]
pub struct StepperEntry {
    /// The name case files use.
    pub name: &'static str,
    /// One line for the docs.
    pub about: &'static str,
    /// Problems of a section of this kind on this mesh (empty: none).
    pub check: fn(&StepperSpec, &Mesh) -> Vec<String>,
    /// Builds the predictor.
    pub build: BuildPredictor,
}

/// The built-in kinds: a model folder from `pde-engine train stepper`
/// (`gnn`) and a TorchScript module (`torchscript`), whose checks need no
/// libtorch but whose building does (the `torch` feature); and
/// `extrapolation` (plain Rust), the control learned steps must beat.
fn builtin() -> Vec<StepperEntry> {
    vec![
        StepperEntry {
            name: "gnn",
            about: "a model folder written by `pde-engine train stepper`",
            check: |spec, _| {
                let mut problems = needs_torch();
                problems.extend(model_keys(spec));
                if spec.type_groups.is_some() {
                    problems.push(
                        "stepper.type_groups: a gnn model folder records its own; remove the key"
                            .into(),
                    );
                }
                problems
            },
            build: torch_predictor::gnn,
        },
        StepperEntry {
            name: "torchscript",
            about: "a TorchScript module saved by `torch.jit.save`",
            check: |spec, mesh| {
                let mut problems = needs_torch();
                problems.extend(model_keys(spec));
                match &spec.type_groups {
                    None => problems.push(
                        "stepper.type_groups: a torchscript module needs its node-type groups, \
                         e.g. [inlet, outlet, walls, cylinder]"
                            .into(),
                    ),
                    Some(groups) => {
                        for group in groups {
                            check_group(mesh, "stepper.type_groups", group, &mut problems);
                        }
                    }
                }
                problems
            },
            build: torch_predictor::torchscript,
        },
        StepperEntry {
            name: "extrapolation",
            about: "polynomial extrapolation through the last `window` states (a control)",
            check: |spec, _| {
                let mut problems = Vec::new();
                for (given, key) in [
                    (spec.model.is_some(), "model"),
                    (spec.type_groups.is_some(), "type_groups"),
                    (spec.device != DeviceKind::Cpu, "device"),
                ] {
                    if given {
                        problems.push(format!(
                            "stepper.{key}: extrapolation has no model; remove the key"
                        ));
                    }
                }
                match spec.window {
                    Some(w) if (1..=MAX_WINDOW).contains(&w) => {}
                    w => problems.push(format!(
                        "stepper.window: {} extrapolation needs the states it runs through, \
                         1 to {MAX_WINDOW} (persistence, linear, quadratic, cubic)",
                        w.map_or("missing:".to_string(), |w| format!("{w}:"))
                    )),
                }
                if let Some(b) = spec.bundle.filter(|b| !(1..=MAX_BUNDLE).contains(b)) {
                    problems.push(format!(
                        "stepper.bundle: {b}: steps per bundle are 1 to {MAX_BUNDLE}"
                    ));
                }
                if let Some(k) = spec.residual_correction {
                    let linear = spec.window == Some(2) && spec.bundle.unwrap_or(1) == 1;
                    if !k.is_finite() || !linear {
                        problems.push(format!(
                            "stepper.residual_correction: {k}: a finite multiple of the step \
                             residual, added to linear extrapolation (window: 2, bundle: 1), \
                             where the residual is taken"
                        ));
                    }
                }
                problems
            },
            build: |spec, _, _, _| {
                let window = spec.window.unwrap_or(1);
                let extrapolation = Extrapolation::new(window, spec.bundle.unwrap_or(1))?;
                Ok(Box::new(match spec.residual_correction {
                    Some(k) => extrapolation.with_residual_correction(k)?,
                    None => extrapolation,
                }))
            },
        },
    ]
}

/// The refusal of a `kind` stepper without `stepper.model`.
pub(crate) fn missing_model(kind: &str) -> String {
    format!("stepper.model: missing; a {kind} stepper needs the model to load, relative to the case file")
}

/// The predictor of the model folder `model` (written by `train stepper`;
/// relative to `base`) for the flow `ns` stepping by `dt`: what a `gnn`
/// section naming it builds.
pub(crate) fn model_predictor(
    model: &Path,
    base: &Path,
    ns: &NavierStokes,
    dt: f64,
) -> anyhow::Result<Box<dyn Predictor>> {
    let spec = StepperSpec {
        kind: "gnn".into(),
        model: Some(model.to_path_buf()),
        window: None,
        bundle: None,
        residual_correction: None,
        from: None,
        residual_tolerance: residual_tolerance_default(),
        correction: PredictionCorrection::None,
        device: DeviceKind::Cpu,
        type_groups: None,
        baseline: false,
    };
    torch_predictor::gnn(&spec, base, ns, dt)
}

/// Problems with the keys of a kind that loads a model: `model` is
/// required; `window` and `bundle` are the model's own.
fn model_keys(spec: &StepperSpec) -> Vec<String> {
    let mut problems = Vec::new();
    if spec.model.is_none() {
        problems.push(missing_model(&spec.kind));
    }
    for (given, key) in [
        (spec.window.is_some(), "window"),
        (spec.bundle.is_some(), "bundle"),
    ] {
        if given {
            problems.push(format!(
                "stepper.{key}: a model records its own {key} (train stepper's `{key}`); \
                 remove the key"
            ));
        }
    }
    if spec.residual_correction.is_some() {
        problems.push(
            "stepper.residual_correction: extrapolation only (a model that reads the step \
             residual learns its own correction: train stepper's `step_residual`); remove the key"
                .into(),
        );
    }
    problems
}

/// The built-in kinds run on libtorch: without the `torch` feature a case
/// naming one is refused.
fn needs_torch() -> Vec<String> {
    if cfg!(feature = "torch") {
        Vec::new()
    } else {
        vec![
            "stepper: learned steppers need libtorch; build with --features torch \
             (docs/learned.md), or remove the key for the classical step"
                .into(),
        ]
    }
}

/// The built-in kinds' builders: libtorch's, or a refusal without it.
#[cfg(feature = "torch")]
mod torch_predictor {
    pub(super) use crate::learned::{gnn_predictor as gnn, torchscript_predictor as torchscript};
}

#[cfg(not(feature = "torch"))]
mod torch_predictor {
    use super::*;

    pub(super) fn gnn(_: &StepperSpec, _: &Path, _: &NavierStokes, _: f64) -> PredictorResult {
        refuse()
    }

    pub(super) fn torchscript(
        _: &StepperSpec,
        _: &Path,
        _: &NavierStokes,
        _: f64,
    ) -> PredictorResult {
        refuse()
    }

    fn refuse() -> PredictorResult {
        anyhow::bail!("stepper: learned steppers need a build with --features torch")
    }

    type PredictorResult = anyhow::Result<Box<dyn Predictor>>;
}

/// The process-wide stepper kinds: the built-in ones until
/// [`register_stepper`] adds more.
pub fn stepper_kinds() -> std::sync::RwLockReadGuard<'static, Vec<StepperEntry>> {
    kinds().read().unwrap_or_else(|e| e.into_inner())
}

/// Adds (or replaces, by name) a stepper kind, e.g. a predictor of one's
/// own, before running case files that name it.
pub fn register_stepper(entry: StepperEntry) {
    let mut kinds = kinds().write().unwrap_or_else(|e| e.into_inner());
    kinds.retain(|e| e.name != entry.name);
    kinds.push(entry);
}

fn kinds() -> &'static RwLock<Vec<StepperEntry>> {
    static KINDS: OnceLock<RwLock<Vec<StepperEntry>>> = OnceLock::new();
    KINDS.get_or_init(|| RwLock::new(builtin()))
}

/// `stepper:` a learned step in place of the classical one, checked
/// against the discrete equations every step.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepperSpec {
    /// `gnn`, `torchscript`, `extrapolation`, or a registered kind
    /// ([`register_stepper`]).
    pub kind: String,
    /// The model folder (`gnn`) or module file (`torchscript`), relative
    /// to the case file; kinds without a model (`extrapolation`) refuse it.
    #[serde(default)]
    pub model: Option<PathBuf>,
    /// `extrapolation` only: through how many committed states (1 to 4:
    /// persistence, linear, quadratic, cubic). A model records its own.
    #[serde(default)]
    pub window: Option<usize>,
    /// `extrapolation` only: how many successive steps one prediction
    /// covers (temporal bundling, 1 to [`MAX_BUNDLE`]; default 1), each checked in its
    /// own step. A model records its own.
    #[serde(default)]
    pub bundle: Option<usize>,
    /// `extrapolation` only: add this multiple of the step residual (the
    /// residual of the step's equations at the extrapolation) to linear
    /// extrapolation (`window: 2`, one step per bundle): the control for
    /// models that read the step residual.
    #[serde(default)]
    pub residual_correction: Option<f64>,
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
    /// What is done to each prediction before the check judges it: `none`
    /// (default), `projection` (onto the discretely divergence-free
    /// velocities) or `stokes` (one correction of its residual by the
    /// step's Stokes operator; [`PredictionCorrection`]).
    #[serde(default)]
    pub correction: PredictionCorrection,
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

impl StepperSpec {
    /// Checks the learned step against the case.
    pub(crate) fn check(&self, case: &Case, mesh: &Mesh, problems: &mut Vec<String>) {
        let stepper = self;
        let Some(time) = case.time.as_ref() else {
            problems.push("stepper: a learned stepper needs a time section".into());
            return;
        };
        if !matches!(case.physics, Physics::NavierStokes(_)) || mesh.dim() != 2 {
            problems.push(format!(
                "stepper: learned steppers replace the step of 2D navier_stokes, not of {} \
                 in {}D",
                case.physics.name(),
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
        let kinds = stepper_kinds();
        match kinds.iter().find(|e| e.name == stepper.kind) {
            Some(entry) => problems.extend((entry.check)(stepper, mesh)),
            None => problems.push(format!(
                "stepper.kind: unknown kind '{}'; expected one of {}",
                stepper.kind,
                kinds.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
            )),
        }
    }
}
