//! `physics: {advection_diffusion: ...}`: `∂u/∂t + β·∇u - ∇·(κ∇u) = f`,
//! SUPG-stabilised, steady without a time section. The model is
//! [`Heat`](crate::physics::heat::Heat) with a velocity; the section is the
//! scalar models'.

use anyhow::Result;
use pde_mesh::Mesh;
use serde::Deserialize;

use crate::linalg::registry::SystemInfo;
use crate::physics::heat::{transient, Heat, ScalarSpec};
use crate::physics::scalar::SolvedOnce;
use crate::physics::spec::{
    BoundaryUse, BuildContext, Built, Capabilities, CheckContext, ModelSpec, Stepping, TimeUse,
};
use crate::time::Integrator;

/// `physics: {advection_diffusion: ...}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct AdvectionDiffusionSpec(pub ScalarSpec);

impl ModelSpec for AdvectionDiffusionSpec {
    fn name(&self) -> &'static str {
        "advection_diffusion"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            system: SystemInfo::default(),
            time: TimeUse::Optional,
            stepping: Stepping::Integrator {
                default: Integrator::BackwardEuler,
                adaptive: true,
            },
            forces: false,
            linear_solver: true,
        }
    }

    fn check(&self, cx: &CheckContext, problems: &mut Vec<String>) {
        self.0.check(self.name(), cx, problems);
    }

    fn boundary(&self, mesh: &Mesh) -> Vec<BoundaryUse> {
        self.0.boundary_uses(mesh)
    }

    fn build(&self, cx: &BuildContext) -> Result<Built> {
        let transient_run = cx.time.is_some();
        let heat = self.0.heat(
            cx,
            self.capabilities().system,
            self.default_solver(transient_run),
        )?;
        Ok(if transient_run {
            transient(heat)
        } else {
            Built::Steady(Box::new(SolvedOnce::new(heat, Heat::solve_steady)))
        })
    }
}
