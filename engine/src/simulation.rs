//! A time-dependent simulation to embed in another program: build it from a
//! case file or in code, advance it one step at a time, and read, overwrite
//! or sample its fields between steps (coupling with another code).
//!
//! ```
//! # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
//! use pde_engine::simulation::Simulation;
//! let mut sim = Simulation::from_case(std::path::Path::new("cases/heat_square.yaml"))?;
//! for _ in 0..5 {
//!     sim.step()?;
//! }
//! // u = 1 + x^2 + 3 y^2 + 1.2 t is the exact solution of this case.
//! let centre = sim.sample("u", [0.5, 0.5, 0.0]).unwrap();
//! assert!((centre - (2.0 + 1.2 * sim.time())).abs() < 1e-10);
//! // Another code overwrites the field; the simulation carries on from it.
//! let u: Vec<f64> = sim.field("u").unwrap().iter().map(|v| v + 1.0).collect();
//! sim.set_field("u", u)?;
//! sim.step()?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::path::Path;

use anyhow::{bail, Result};

use crate::case::Physics;
use crate::physics::heat::Heat;
use crate::runner::{load_case, scalar_model_from_case};
use crate::time::{StepReport, Stepper};

/// A time-dependent model advanced step by step.
pub struct Simulation {
    heat: Heat,
    dt: f64,
    steps: usize,
}

impl Simulation {
    /// A simulation of a heat model built in code, advanced by steps of `dt`.
    pub fn new(heat: Heat, dt: f64) -> Result<Self> {
        check_dt(dt)?;
        Ok(Simulation { heat, dt, steps: 0 })
    }

    /// The simulation described by a case file (a time-dependent model).
    pub fn from_case(path: &Path) -> Result<Self> {
        let (case, mesh, _) = load_case(path)?;
        let (Physics::Heat(model) | Physics::AdvectionDiffusion(model), Some(time)) =
            (&case.physics, &case.time)
        else {
            bail!(
                "{}: a step-by-step simulation needs a time-dependent model (heat or \
                 advection_diffusion with a time section)",
                path.display()
            );
        };
        let heat = scalar_model_from_case(&case, model, std::sync::Arc::new(mesh))?;
        Simulation::new(heat, time.dt)
    }

    /// Advances one step of `dt`; a non-finite result is refused and the
    /// state stays at the last good step.
    pub fn step(&mut self) -> Result<StepReport> {
        let t = self.heat.time();
        let report = self.heat.try_step(t, self.dt)?;
        if !report.max_abs.is_finite() {
            bail!(
                "step {} from t = {t:.6e} diverged; the state is kept at t = {t:.6e}",
                self.steps + 1
            );
        }
        self.heat.commit();
        self.steps += 1;
        Ok(report)
    }

    /// Current time.
    pub fn time(&self) -> f64 {
        self.heat.time()
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The time step.
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// Changes the time step for the following steps.
    pub fn set_dt(&mut self, dt: f64) -> Result<()> {
        check_dt(dt)?;
        self.dt = dt;
        Ok(())
    }

    /// A field's degree-of-freedom values by name (`"u"`).
    pub fn field(&self, name: &str) -> Option<&[f64]> {
        (name == "u").then(|| self.heat.solution())
    }

    /// Overwrites a field (same length as [`Simulation::field`] gives).
    pub fn set_field(&mut self, name: &str, values: Vec<f64>) -> Result<()> {
        if name != "u" {
            bail!("unknown field '{name}'; this model has: u");
        }
        let n = self.heat.solution().len();
        if values.len() != n {
            bail!("field 'u' has {n} values; {} given", values.len());
        }
        self.heat.set_solution(values);
        Ok(())
    }

    /// A field's value at a point (`None` outside the mesh or for an unknown field).
    pub fn sample(&self, name: &str, point: [f64; 3]) -> Option<f64> {
        let u = self.field(name)?;
        self.heat.space.point_evaluator(point).map(|e| e.eval(u))
    }

    /// The model, to change its source or boundary conditions between steps.
    pub fn model_mut(&mut self) -> &mut Heat {
        &mut self.heat
    }

    /// The model.
    pub fn model(&self) -> &Heat {
        &self.heat
    }
}

/// A time step must be positive (and not NaN).
fn check_dt(dt: f64) -> Result<()> {
    if dt > 0.0 {
        Ok(())
    } else {
        bail!("time step {dt} must be positive")
    }
}
