//! Time integrators: the schemes and their coefficients, which models use
//! to build their step. The loop that drives steps is
//! [`crate::driver::TimeLoop`]; the step protocol is
//! [`crate::physics::Stepper`].

use serde::Deserialize;

/// One-step and two-step integrators for `M du/dt + A u = F(t)`.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Integrator {
    /// Backward (implicit) Euler, first order, L-stable.
    #[default]
    BackwardEuler,
    /// Crank–Nicolson (trapezoidal rule), second order.
    CrankNicolson,
    /// Backward differentiation formula of order 2 (variable step), started
    /// with a Crank–Nicolson step so the whole run stays second order.
    Bdf2,
}

impl Integrator {
    /// Order of accuracy.
    pub fn order(self) -> usize {
        match self {
            Integrator::BackwardEuler => 1,
            _ => 2,
        }
    }
}
