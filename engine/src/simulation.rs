//! A time-dependent simulation to embed in another program: build it from a
//! case file (any time-dependent model: heat, advection–diffusion,
//! Navier–Stokes, finite volumes) or in code, advance it one step at a
//! time through the engine's [`TimeLoop`], and read, overwrite or sample
//! its fields between steps (coupling with another code).
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
//! sim.set_field("u", &u)?;
//! sim.step()?;
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! A flow steps the same way; its fields are `velocity_x`, `velocity_y`
//! and `pressure`:
//!
//! ```
//! # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
//! use pde_engine::simulation::Simulation;
//! let mut sim = Simulation::from_case(std::path::Path::new("cases/cylinder_flow.yaml"))?;
//! sim.step()?;
//! sim.step()?;
//! assert_eq!(sim.steps(), 2);
//! // The inflow profile, 4 * 1.5 y (0.41 - y) / 0.41², holds on the inlet.
//! let u = sim.sample("velocity_x", [0.0, 0.1, 0.0]).unwrap();
//! assert!((u - 6.0 * 0.1 * 0.31 / 0.41f64.powi(2)).abs() < 1e-12);
//! // Behind the cylinder the flow has started to move.
//! assert!(sim.sample("velocity_x", [0.5, 0.2, 0.0]).unwrap() > 0.0);
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! So does a finite-volume model; a step of `dt` takes as many CFL-limited
//! steps as it needs:
//!
//! ```
//! # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
//! use pde_engine::simulation::Simulation;
//! let mut sim = Simulation::from_case(std::path::Path::new("cases/dam_break.yaml"))?;
//! sim.set_dt(0.2)?;
//! sim.step()?;
//! assert!((sim.time() - 0.2).abs() < 1e-12 && sim.steps() > 1);
//! // The bore has not reached the far end of the reservoir yet...
//! assert!((sim.sample("h", [10.0, 100.0, 0.0]).unwrap() - 10.0).abs() < 1e-9);
//! // ...but water runs through the breach.
//! assert!(sim.sample("hu", [100.0, 100.0, 0.0]).unwrap() > 1.0);
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! A checkpoint keeps the whole state; a simulation built again from the
//! same case continues from it bit for bit:
//!
//! ```
//! # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/..")).unwrap();
//! use pde_engine::simulation::Simulation;
//! let case = std::path::Path::new("cases/heat_square.yaml");
//! let dir = tempfile::tempdir()?;
//! let mut sim = Simulation::from_case(case)?;
//! sim.step()?;
//! sim.checkpoint(dir.path())?;
//! sim.step()?;
//! let mut again = Simulation::from_case(case)?;
//! again.restore(dir.path())?;
//! again.step()?;
//! assert_eq!((again.time(), again.steps()), (sim.time(), sim.steps()));
//! assert_eq!(again.field("u"), sim.field("u"));
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::driver::checkpoint::{Checkpoint, Identity, Progress};
use crate::driver::{
    restore_checkpoint, MeshMotion, Monitor, Motion, OnStep, RunSummary, StepInfo, TimeLoop,
};
use crate::physics::{StepReport, Transient};
use crate::runner::{load_case, time_section, transient_model};

/// A time-dependent model advanced step by step: any model (`dyn
/// Transient`, from a case file) or a model type built in code, whose own
/// methods stay at hand through [`Simulation::model_mut`].
pub struct Simulation<M: Transient + ?Sized = dyn Transient> {
    model: Box<M>,
    motion: Option<Motion>,
    /// What its checkpoints belong to: the model, the mesh and the step as
    /// the simulation began.
    origin: Identity,
    t: f64,
    dt: f64,
    steps: usize,
}

impl Simulation {
    /// The simulation described by a case file (a time-dependent model,
    /// with its time section's start and step).
    pub fn from_case(path: &Path) -> Result<Self> {
        let (case, mesh, _) = load_case(path)?;
        let time = time_section(&case)?.clone();
        let base = path.parent().unwrap_or(Path::new("."));
        let (model, motion) = transient_model(&case, mesh, base)
            .map_err(|e| e.context(format!("{}", path.display())))?;
        let mut simulation = Simulation::new(model, time.start, time.dt)?;
        simulation.motion = motion;
        Ok(simulation)
    }
}

impl<M: Transient + ?Sized> Simulation<M> {
    /// A simulation of `model`, at time `t0`, advanced by steps of `dt`.
    pub fn new(model: Box<M>, t0: f64, dt: f64) -> Result<Self> {
        check_dt(dt)?;
        // A simulation has no case name: the model's stands for it.
        let origin = Identity::of(model.name(), model.as_ref(), t0, dt);
        Ok(Simulation {
            model,
            motion: None,
            origin,
            t: t0,
            dt,
            steps: 0,
        })
    }

    /// Advances by `dt` through the engine's time loop (explicit schemes
    /// take as many stable steps as they need); a non-finite result is
    /// refused and the state stays at the last good step. The report is
    /// the last step's, with the iterations of all of them.
    pub fn step(&mut self) -> Result<StepReport> {
        let mut last = StepReport::default();
        let mut iterations = 0;
        let mut keep = OnStep(|info: &StepInfo, _: &M| {
            last = info.report.clone();
            iterations += info.report.iterations;
            Ok(())
        });
        let monitors: &mut [&mut dyn Monitor<M>] = &mut [&mut keep];
        let run = TimeLoop::new(self.t, self.t + self.dt, self.dt);
        let motion = self.motion.as_mut().map(|m| m as &mut dyn MeshMotion<M>);
        let summary = run.run(self.model.as_mut(), motion, monitors)?;
        self.t = summary.t;
        self.steps += summary.steps;
        last.iterations = iterations;
        Ok(last)
    }

    /// Current time.
    pub fn time(&self) -> f64 {
        self.t
    }

    /// Steps taken (stable sub-steps of explicit schemes included).
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

    /// The names of the model's fields.
    pub fn field_names(&self) -> Vec<String> {
        self.model.fields().into_iter().map(|(n, _)| n).collect()
    }

    /// A field's values by name: per degree of freedom (finite elements)
    /// or per cell (finite volumes).
    pub fn field(&self, name: &str) -> Option<Vec<f64>> {
        self.model
            .fields()
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }

    /// Overwrites a field (same length as [`Simulation::field`] gives).
    pub fn set_field(&mut self, name: &str, values: &[f64]) -> Result<()> {
        self.model
            .set_field(name, values)
            .map_err(anyhow::Error::msg)
    }

    /// A field's value at a point (`None` outside the mesh or for an unknown field).
    pub fn sample(&self, name: &str, point: [f64; 3]) -> Option<f64> {
        let fields = self.model.fields();
        let k = fields.iter().position(|(n, _)| n == name)?;
        let columns = self.model.probe(point)?;
        let column = columns.iter().find(|c| c.field == k)?;
        Some(column.at.eval(&fields[k].1))
    }

    /// Moves the mesh with `motion` before its steps (a case's
    /// `mesh_mover:` does this in [`Simulation::from_case`]).
    pub fn set_motion(&mut self, motion: Option<Motion>) {
        self.motion = motion;
    }

    /// Writes the simulation's state (every time level the model's
    /// integrator keeps, the moved mesh and the movers' state, the time,
    /// the step count and the step) as a checkpoint into
    /// `<dir>/checkpoints/` (atomically, the latest two kept); the file.
    /// [`Simulation::restore`] continues from it bit for bit.
    pub fn checkpoint(&self, dir: &Path) -> Result<PathBuf> {
        let model = self
            .model
            .snapshot()
            .with_context(|| format!("the {} model cannot be checkpointed", self.model.name()))?;
        let checkpoint = Checkpoint {
            identity: self.origin.clone(),
            progress: Progress {
                summary: RunSummary {
                    steps: self.steps,
                    t: self.t,
                    ..RunSummary::default()
                },
                dt: self.dt,
            },
            model,
            monitors: Vec::new(),
            motion: self
                .motion
                .as_ref()
                .map(|m| MeshMotion::<M>::snapshot(m, self.model.as_ref())),
        };
        checkpoint.write(dir)
    }

    /// Continues from the latest checkpoint in `<dir>/checkpoints/`, which
    /// a simulation of the same model on the same mesh, from the same
    /// start and step, wrote ([`Simulation::checkpoint`]); another is
    /// refused with the reason.
    pub fn restore(&mut self, dir: &Path) -> Result<()> {
        let (file, checkpoint) = Checkpoint::latest(dir)?;
        let refuse = |why: String| {
            anyhow::anyhow!(
                "{}: cannot continue from this checkpoint: {why}",
                file.display()
            )
        };
        if let Some(why) = self.origin.mismatch(&checkpoint.identity) {
            return Err(refuse(why));
        }
        let motion = self.motion.as_mut().map(|m| m as &mut dyn MeshMotion<M>);
        restore_checkpoint(&checkpoint, self.model.as_mut(), motion, &mut [])
            .with_context(|| file.display().to_string())?;
        self.t = checkpoint.progress.summary.t;
        self.steps = checkpoint.progress.summary.steps;
        self.dt = checkpoint.progress.dt;
        Ok(())
    }

    /// The model, to change its data between steps.
    pub fn model_mut(&mut self) -> &mut M {
        self.model.as_mut()
    }

    /// The model.
    pub fn model(&self) -> &M {
        self.model.as_ref()
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
