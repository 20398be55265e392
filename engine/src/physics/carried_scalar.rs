//! A flow carrying a passive scalar (dye, a tracer): the Taylor–Hood flow
//! steps by finite elements, then the scalar follows by finite volumes on
//! the same mesh, with the flow's new velocity sampled at the centroids of
//! its faces and projected onto a discretely divergence-free field
//! ([`FluxProjection`]), so that the scalar stays within the bounds of its
//! initial and inflow values. The scalar takes as many CFL-limited
//! sub-steps as its own stability needs inside each flow step, and stays
//! exactly conservative: its total changes only by what the faces carry
//! across the boundary.

use std::sync::Arc;

use pde_mesh::Mesh;

use super::learned_step::{CheckedStep, LearnedStep};
use super::navier_stokes::NavierStokes;
use super::{Model, OutputField, PhysicsError, ProbeColumn, Snapshot};
use super::{StepError, StepReport, Stepper, Transient};
use crate::fem::PointEvaluator;
use crate::fvm::geometry::dot3;
use crate::fvm::law::LinearAdvection;
use crate::fvm::projection::{FaceRole, FluxProjection};
use crate::fvm::solver::{FiniteVolume, FvBoundary};

/// A flow and, optionally, a scalar it carries.
pub struct FlowWithScalar {
    /// The flow.
    pub flow: NavierStokes,
    /// The carried scalar and its name in the output.
    scalar: Option<(String, FiniteVolume<LinearAdvection, 1>)>,
    /// For each face of the scalar's mesh, the velocity evaluator at its
    /// centroid (in the face's owner cell).
    faces: Vec<Option<PointEvaluator>>,
    /// Makes the sampled face velocities divergence-free.
    projection: Option<FluxProjection>,
    /// A failed projection, reported by the next step.
    failed: Option<PhysicsError>,
    /// The step tried by the flow, which the scalar follows on commit.
    tried: Option<(f64, f64)>,
    /// Scalar sub-steps taken so far.
    pub scalar_steps: usize,
}

impl FlowWithScalar {
    /// The flow alone.
    pub fn new(flow: NavierStokes) -> Self {
        FlowWithScalar {
            flow,
            scalar: None,
            faces: Vec::new(),
            projection: None,
            failed: None,
            tried: None,
            scalar_steps: 0,
        }
    }

    /// Adds the scalar `name`, a finite-volume model on the flow's mesh,
    /// and gives it the flow's current velocity. Its boundary conditions
    /// say where the flow may cross the boundary: inflow faces keep the
    /// flow's velocity, outflow faces are open, other faces are walls.
    pub fn carry(
        &mut self,
        name: &str,
        scalar: FiniteVolume<LinearAdvection, 1>,
    ) -> Result<(), PhysicsError> {
        let v = self.flow.velocity_space();
        self.faces = scalar
            .mesh
            .faces
            .iter()
            .map(|f| v.evaluator_in_cell(f.owner, f.centroid))
            .collect();
        self.projection = Some(FluxProjection::new(&scalar.mesh, |face| {
            match scalar.boundary_of(face) {
                Some(FvBoundary::Inflow(_)) => FaceRole::Fixed,
                Some(FvBoundary::Outflow) => FaceRole::Free,
                Some(FvBoundary::Wall) | None => FaceRole::Closed,
            }
        }));
        self.scalar = Some((name.to_string(), scalar));
        self.sample_velocity()
    }

    /// The carried scalar, if any.
    pub fn scalar(&self) -> Option<&FiniteVolume<LinearAdvection, 1>> {
        self.scalar.as_ref().map(|(_, s)| s)
    }

    /// `u·n` of the committed flow at every face centroid, made
    /// divergence-free.
    fn sample_velocity(&mut self) -> Result<(), PhysicsError> {
        let Some((_, scalar)) = self.scalar.as_mut() else {
            return Ok(());
        };
        let d = self.flow.dim();
        let velocity: Vec<&[f64]> = (0..d).map(|c| self.flow.velocity(c)).collect();
        for ((un, face), e) in scalar
            .law
            .face_velocity
            .iter_mut()
            .zip(&scalar.mesh.faces)
            .zip(&self.faces)
        {
            // Face centroids outside every straight cell (on a curved
            // wall) see the wall's velocity, zero.
            *un = e.as_ref().map_or(0.0, |e| {
                let mut u = [0.0; 3];
                for (c, values) in velocity.iter().enumerate() {
                    u[c] = e.eval(values);
                }
                dot3(u, face.normal)
            });
        }
        if let Some(p) = self.projection.as_mut() {
            p.project(&scalar.mesh, &mut scalar.law.face_velocity)?;
        }
        Ok(())
    }
}

impl Stepper for FlowWithScalar {
    fn try_step(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError> {
        if let Some(e) = self.failed.take() {
            return Err(e.into());
        }
        let report = self.flow.try_step(t, dt)?;
        self.tried = Some((t, dt));
        Ok(report)
    }

    /// Commits the flow, then carries the scalar over the step with the new
    /// velocity (explicit sub-steps, which cannot fail).
    fn commit(&mut self) {
        self.flow.commit();
        let Some((t, dt)) = self.tried.take() else {
            return;
        };
        if let Err(e) = self.sample_velocity() {
            self.failed = Some(e);
            return;
        }
        if let Some((_, scalar)) = self.scalar.as_mut() {
            scalar.set_time(t);
            // Explicit finite-volume steps do not fail.
            if let Ok(steps) = scalar.run_until(t + dt) {
                self.scalar_steps += steps;
            }
        }
    }

    fn set_field(&mut self, name: &str, values: &[f64]) -> Result<(), String> {
        self.flow.set_field(name, values)
    }

    fn snapshot(&self) -> Option<Snapshot> {
        let mut s = Snapshot::new();
        s.nest("flow", self.flow.snapshot()?);
        if let Some((_, scalar)) = &self.scalar {
            s.nest("scalar", scalar.snapshot()?);
            s.push("scalar_steps", vec![self.scalar_steps as f64]);
        }
        Some(s)
    }

    /// The scalar's face velocities are sampled again at the next commit.
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StepError> {
        self.flow.restore(&snapshot.section("flow"))?;
        if let Some((_, scalar)) = self.scalar.as_mut() {
            scalar.restore(&snapshot.section("scalar"))?;
            self.scalar_steps = snapshot.get_len("scalar_steps", 1)?[0] as usize;
        }
        self.tried = None;
        Ok(())
    }
}

impl Model for FlowWithScalar {
    fn name(&self) -> &'static str {
        self.flow.name()
    }

    fn mesh(&self) -> &Arc<Mesh> {
        self.flow.mesh()
    }

    fn unknowns(&self) -> usize {
        self.flow.unknowns() + self.scalar().map_or(0, |s| s.unknowns())
    }

    fn point_data(&self) -> Result<Vec<OutputField>, PhysicsError> {
        self.flow.point_data()
    }

    /// The scalar, under its name.
    fn cell_data(&self) -> Result<Vec<OutputField>, PhysicsError> {
        Ok(self
            .scalar
            .iter()
            .map(|(name, s)| OutputField::scalars(name, s.state().iter().map(|u| u[0]).collect()))
            .collect())
    }

    fn fields(&self) -> Vec<(String, Vec<f64>)> {
        self.flow.fields()
    }

    fn probe(&self, point: [f64; 3]) -> Option<Vec<ProbeColumn>> {
        self.flow.probe(point)
    }

    /// The flow's, and the carried scalar's total, outflow and range.
    fn summary(&self) -> serde_json::Value {
        let mut summary = self.flow.summary();
        if let Some((name, scalar)) = &self.scalar {
            let values = scalar.state().iter().map(|u| u[0]);
            summary["scalar"] = serde_json::json!({
                "name": name,
                "total": scalar.total()[0],
                "outflow": scalar.boundary_outflow()[0],
                "min": values.clone().fold(f64::INFINITY, f64::min),
                "max": values.fold(f64::NEG_INFINITY, f64::max),
                "steps": self.scalar_steps,
            });
        }
        summary
    }
}

/// The flow's own check; the scalar follows whichever step is taken.
impl CheckedStep for FlowWithScalar {
    fn keep_states(&mut self, count: usize) {
        self.flow.keep_states(count);
    }

    fn predictor_states(&self, count: usize, dt: f64) -> Option<Vec<Vec<f64>>> {
        self.flow.predictor_states(count, dt)
    }

    fn extrapolation_residual(&mut self, t: f64, dt: f64) -> Result<Vec<f64>, StepError> {
        self.flow.extrapolation_residual(t, dt)
    }

    fn try_prediction(
        &mut self,
        t: f64,
        dt: f64,
        predicted: &[f64],
    ) -> Result<(f64, StepReport), StepError> {
        if let Some(e) = self.failed.take() {
            return Err(e.into());
        }
        let tried = self.flow.try_prediction(t, dt, predicted)?;
        self.tried = Some((t, dt));
        Ok(tried)
    }

    fn fallback(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError> {
        let report = self.flow.fallback(t, dt)?;
        self.tried = Some((t, dt));
        Ok(report)
    }
}

/// The flow of a time-dependent flow model, learned step or not.
pub fn flow_of(model: &dyn Transient) -> Option<&FlowWithScalar> {
    let any = model.as_any();
    any.downcast_ref::<FlowWithScalar>().or_else(|| {
        any.downcast_ref::<LearnedStep<FlowWithScalar>>()
            .map(LearnedStep::model)
    })
}
