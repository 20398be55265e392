//! `stepper:`, a learned step in place of a flow's classical one.

use std::path::PathBuf;

use pde_mesh::Mesh;
use serde::Deserialize;

use super::Case;
use crate::physics::checks::{check_group, is_positive};
use crate::physics::Physics;

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

impl StepperSpec {
    /// Checks the learned step against the case.
    pub(crate) fn check(&self, case: &Case, mesh: &Mesh, problems: &mut Vec<String>) {
        let stepper = self;
        if !cfg!(feature = "torch") {
            problems.push(
                "stepper: learned steppers need libtorch; build with --features torch \
                 (docs/learned.md), or remove the key for the classical step"
                    .into(),
            );
        }
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
}
