//! `physics: {advection_diffusion: ...}`: `∂u/∂t + β·∇u - ∇·(κ∇u) = f`,
//! SUPG-stabilised, steady without a time section. The model is
//! [`Heat`] with a velocity; the section is the
//! scalar models'.

use anyhow::Result;
use serde::Deserialize;

use crate::linalg::registry::SystemInfo;
use crate::physics::heat::{scalar_spec, transient, Heat, ScalarSpec};
use crate::physics::scalar::SolvedOnce;
use crate::physics::spec::{BuildContext, Built, ModelSpec, TimeUse};

/// `physics: {advection_diffusion: ...}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct AdvectionDiffusionSpec(pub ScalarSpec);

scalar_spec!(
    AdvectionDiffusionSpec,
    "advection_diffusion",
    SystemInfo::default(),
    TimeUse::Optional,
    adaptive: true
);

impl AdvectionDiffusionSpec {
    fn build_model(&self, cx: &BuildContext) -> Result<Built> {
        let transient_run = cx.time.is_some();
        let heat = self.0.heat(cx, SystemInfo::default(), self.default_solver(transient_run))?;
        Ok(if transient_run {
            transient(heat)
        } else {
            Built::Steady(Box::new(SolvedOnce::new(heat, Heat::solve_steady)))
        })
    }
}
