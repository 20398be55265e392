//! Time integrators (the schemes models build their steps from) and the
//! time settings of a run ([`TimeSpec`], [`Adaptive`]). The loop that
//! drives steps is [`crate::driver::TimeLoop`]; the step protocol is
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

/// Adaptive time stepping: keep the stepper's error estimate below `tolerance`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Adaptive {
    /// Target local error per step.
    pub tolerance: f64,
    /// Smallest step allowed.
    pub dt_min: f64,
    /// Largest step allowed.
    pub dt_max: f64,
}

/// The `time` section of a case: the span, the step, the integrator.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    /// Start time. Default 0.
    #[serde(default)]
    pub start: f64,
    /// End time.
    pub end: f64,
    /// Time step (the first step when adaptive).
    pub dt: f64,
    /// `backward_euler`, `crank_nicolson` or `bdf2`. Default: the model's.
    #[serde(default)]
    pub integrator: Option<Integrator>,
    /// Adaptive steps: `{tolerance, dt_min, dt_max}`.
    #[serde(default)]
    pub adaptive: Option<Adaptive>,
    /// A state whose largest absolute value exceeds this stops the run as
    /// diverged. Default: 10⁴ × the reference velocity for flows,
    /// 10¹⁰ × max(1, largest initial value) otherwise.
    #[serde(default)]
    pub blow_up: Option<f64>,
}

impl TimeSpec {
    /// The integrator named, else the model's `default`.
    pub fn integrator_or(&self, default: Integrator) -> Integrator {
        self.integrator.unwrap_or(default)
    }
}
