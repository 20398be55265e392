//! What a flow does to a predicted state before the check judges it
//! ([`PredictionCorrection`]): nothing, or one solve with the step's Stokes
//! operator `S = [a0 M + νA, Bᵀ; B, 0]` (the step matrix without
//! convection, Dirichlet rows and columns eliminated), which does not
//! change while the step size does not, so it is factorised once.
//!
//! A graph network sees a few rings of neighbours, but incompressibility
//! acts through the pressure over the whole domain: the classical step
//! answers an error in the history through it, a network cannot (measured
//! in docs/learned.md). The correction gives the prediction that global
//! answer and leaves the dynamics, the convection at the step's Courant
//! number, to the network: linear extrapolation, which knows no dynamics,
//! stays far from the tolerance with it (the control).

use serde::Deserialize;

use super::NavierStokes;
use crate::fem::bc;
use crate::linalg::direct::LuFactor;
use crate::physics::PhysicsError;

/// What is done to a predicted state (its edge values solved for) before
/// the check judges it; `r = b − A x` is the residual of the step's system
/// at the prediction `x`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PredictionCorrection {
    /// Nothing: the check judges the network's values.
    #[default]
    None,
    /// The nearest velocity that satisfies the discrete continuity
    /// equations, in the norm of the Stokes operator's velocity block, and
    /// the pressure that goes with it: `x += S⁻¹ [0; r_continuity]`.
    Projection,
    /// One correction of the whole residual by the Stokes operator,
    /// `x += S⁻¹ r`: the projection, and the mass and viscous answer to the
    /// momentum residual (the convection's is left).
    Stokes,
}

impl PredictionCorrection {
    /// The name a case file uses.
    pub fn name(self) -> &'static str {
        match self {
            PredictionCorrection::None => "none",
            PredictionCorrection::Projection => "projection",
            PredictionCorrection::Stokes => "stokes",
        }
    }
}

/// The eliminated Stokes operator of the steps of one size and its factor.
pub(super) struct StokesOperator {
    /// The `a0 = α / dt` of the steps it belongs to.
    a0: f64,
    /// The Dirichlet dofs eliminated.
    dofs: Vec<usize>,
    lu: LuFactor,
}

impl NavierStokes {
    /// Sets what is done to predicted states before the check
    /// ([`PredictionCorrection`]; none by default).
    pub fn set_prediction_correction(&mut self, correction: PredictionCorrection) {
        self.correction = correction;
    }

    /// Applies the prediction correction to `x`, a state with the step's
    /// boundary values (`dofs`, marked in `fixed`) in the step's system
    /// (`matrix`, right-hand side `rhs`, the matrix without convection in
    /// `step_matrix`). A state whose residual is not finite (a NaN
    /// prediction) is left for the check to refuse.
    pub(super) fn correct_prediction(
        &mut self,
        x: &mut [f64],
        rhs: &[f64],
        dofs: &[usize],
        fixed: &[bool],
    ) -> Result<(), PhysicsError> {
        let first_row = match self.correction {
            PredictionCorrection::None => return Ok(()),
            PredictionCorrection::Projection => self.pressure_offset(),
            PredictionCorrection::Stokes => 0,
        };
        let mut r = self.residual_at(rhs, x, fixed);
        r[..first_row].fill(0.0);
        if r.iter().any(|v| !v.is_finite()) {
            return Ok(());
        }
        let (a0, _, constant) = self
            .step_matrix
            .as_ref()
            .expect("the step's system is assembled before a prediction is tried");
        let current = |s: &StokesOperator| s.a0 == *a0 && s.dofs[..] == dofs[..];
        if !self.stokes.as_ref().is_some_and(current) {
            let mut matrix = self.matrix.clone();
            matrix.val_mut().copy_from_slice(constant);
            let mut unused = vec![0.0; x.len()];
            bc::apply_dirichlet(&mut matrix, &mut unused, dofs, &vec![0.0; dofs.len()]);
            self.stokes = Some(StokesOperator {
                a0: *a0,
                dofs: dofs.to_vec(),
                lu: LuFactor::new(&matrix)?,
            });
        }
        let stokes = self.stokes.as_ref().expect("built above");
        let mut delta = vec![0.0; x.len()];
        stokes.lu.solve(&r, &mut delta)?;
        x.iter_mut().zip(delta).for_each(|(v, d)| *v += d);
        Ok(())
    }
}
