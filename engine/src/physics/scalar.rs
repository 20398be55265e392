//! What the scalar finite-element models (Poisson, heat,
//! advection–diffusion) share: one field `u` on a Lagrange space, read at
//! points and summarised the same way.

use super::spec::Steady;
use super::{Model, PhysicsError, ProbeColumn};
use crate::fem::FunctionSpace;
use crate::linalg::SolveReport;

/// The field `u` at `point` (`None` outside the mesh).
pub(crate) fn probe(space: &FunctionSpace, point: [f64; 3]) -> Option<Vec<ProbeColumn>> {
    let at = space.point_evaluator(point)?;
    Some(vec![ProbeColumn {
        label: "u".into(),
        field: 0,
        at,
    }])
}

/// The summary keys of a scalar model `name` with dof values `u`.
pub(crate) fn summary(name: &str, space: &FunctionSpace, u: &[f64]) -> serde_json::Value {
    serde_json::json!({
        "model": name,
        "unknowns": space.num_dofs(),
        "degree": space.degree(),
        "min": u.iter().copied().fold(f64::INFINITY, f64::min),
        "max": u.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

/// How a [`SolvedOnce`] model is solved.
type Solve<M> = Box<dyn FnMut(&mut M) -> Result<SolveReport, PhysicsError>>;

/// A scalar model solved once by `solve` (Poisson; steady
/// advection–diffusion), as a [`Steady`] model.
pub(crate) struct SolvedOnce<M> {
    model: M,
    solve: Solve<M>,
}

impl<M: Model> SolvedOnce<M> {
    /// `model`, to be solved by `solve`.
    pub(crate) fn new(
        model: M,
        solve: impl FnMut(&mut M) -> Result<SolveReport, PhysicsError> + 'static,
    ) -> Self {
        SolvedOnce {
            model,
            solve: Box::new(solve),
        }
    }
}

impl<M: Model> Steady for SolvedOnce<M> {
    fn solve(&mut self) -> anyhow::Result<serde_json::Value> {
        let report = (self.solve)(&mut self.model)?;
        let finite = self
            .model
            .fields()
            .iter()
            .all(|(_, v)| v.iter().all(|x| x.is_finite()));
        if !finite {
            anyhow::bail!(
                "the solution is not finite (check the coefficients for division by zero or \
                 log of negatives)"
            );
        }
        let mut summary = serde_json::json!({
            "solver_iterations": report.iterations,
            "relative_residual": report.relative_residual,
        });
        if let Some(why) = report.fallback {
            summary["preconditioner_fallback"] = serde_json::json!(why);
        }
        Ok(summary)
    }
}

impl<M: Model> Model for SolvedOnce<M> {
    super::model_of_inner!(model);

    fn summary(&self) -> serde_json::Value {
        self.model.summary()
    }
}
