//! `physics: {poisson: ...}`: `-∇·(κ∇u) = f`, steady, on the scalar
//! models' section.

use anyhow::Result;
use serde::Deserialize;

use super::{BoundaryCondition, Poisson};
use crate::linalg::registry::{make_solver, SystemInfo};
use crate::physics::heat::{scalar_spec, BoundarySpec, ScalarSpec};
use crate::physics::scalar::SolvedOnce;
use crate::physics::spec::{BuildContext, Built, ModelSpec, TimeUse};

/// `physics: {poisson: ...}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(transparent)]
pub struct PoissonSpec(pub ScalarSpec);

scalar_spec!(PoissonSpec, "poisson", SystemInfo::SPD, TimeUse::Never, adaptive: false);

impl PoissonSpec {
    fn build_model(&self, cx: &BuildContext) -> Result<Built> {
        let spec = &self.0;
        let mut p = Poisson::new(spec.space(cx.mesh.clone())?);
        p.kappa = spec.kappa.at_time(0.0);
        p.source = spec.source.at_time(0.0);
        for (group, bc) in &spec.boundary {
            let condition = match &bc.value {
                BoundarySpec::Dirichlet(g) => BoundaryCondition::Dirichlet(g.at_time(0.0)),
                BoundarySpec::Neumann(h) => BoundaryCondition::Neumann(h.at_time(0.0)),
                BoundarySpec::Robin { alpha, value } => BoundaryCondition::Robin {
                    alpha: alpha.at_time(0.0),
                    value: value.at_time(0.0),
                },
            };
            p.set_boundary(group, condition);
        }
        let mut solver = make_solver(cx.solver, self.default_solver(false), SystemInfo::SPD)?;
        Ok(Built::Steady(Box::new(SolvedOnce::new(p, move |p| {
            p.solve(solver.as_mut()).map(|(_, report)| report)
        }))))
    }
}
