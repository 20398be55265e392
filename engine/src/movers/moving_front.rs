//! The movers' time-dependent benchmark problem: the front
//! `u = tanh((x − x₀ − t)/δ)` carried at speed 1 along x with a little
//! diffusion κ (a source makes it exact), P1 with SUPG, Crank–Nicolson,
//! Dirichlet data from `u` on the left and right, on `[0, 1]²`. The same
//! problem as `cases/moving_front.yaml`, with its exact solution, so that a
//! moving mesh's error can be set against fixed meshes' at equal wall time
//! (`pde-engine bench moving-front`); the test suite asserts the error a
//! moving mesh gains.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use pde_mesh::{generate, CellKind, Mesh};

use crate::driver::{MeshMotion, Motion, TimeLoop};
use crate::fem::{norms, FunctionSpace};
use crate::linalg::direct::SparseLu;
use crate::physics::heat::{Heat, HeatBoundary};
use crate::time::Integrator;

/// The travelling front and its run: where it starts, how wide it is, the
/// diffusion, and the time span.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MovingFront {
    /// Where the front is at t = 0.
    pub start: f64,
    /// Its width `δ`.
    pub width: f64,
    /// The diffusivity κ.
    pub kappa: f64,
    /// The end time (the front is at `start + end` then).
    pub end: f64,
}

impl Default for MovingFront {
    /// `cases/moving_front.yaml`: from x = 0.3, width 0.03, κ = 1e-3, to
    /// t = 0.4.
    fn default() -> Self {
        MovingFront {
            start: 0.3,
            width: 0.03,
            kappa: 1e-3,
            end: 0.4,
        }
    }
}

/// What a run of the front gave.
#[derive(Clone, Debug, PartialEq)]
pub struct FrontRun {
    /// Nodes of the mesh.
    pub nodes: usize,
    /// The step size.
    pub dt: f64,
    /// Steps taken.
    pub steps: usize,
    /// L2 error at the end time.
    pub error: f64,
    /// Wall seconds of the whole run (model set-up, initial moves, steps
    /// and moves).
    pub seconds: f64,
    /// The last mesh (moved, or the given one).
    pub mesh: Arc<Mesh>,
}

impl MovingFront {
    /// The exact solution.
    pub fn exact(&self, x: [f64; 3], t: f64) -> f64 {
        ((x[0] - self.start - t) / self.width).tanh()
    }

    /// The `nx` × `ny` triangle mesh of the unit square.
    pub fn mesh(nx: usize, ny: usize) -> Result<Mesh> {
        Ok(generate::rectangle(
            [0.0, 0.0],
            [1.0, 1.0],
            [nx, ny],
            CellKind::Tri3,
        )?)
    }

    /// The advection–diffusion model of the front on `mesh`, at t = 0.
    pub fn model(&self, mesh: Mesh) -> Result<Heat> {
        let space = FunctionSpace::new(Arc::new(mesh), 1)?;
        let (kappa, front) = (self.kappa, *self);
        let mut heat = Heat::new(
            space,
            Arc::new(move |_| kappa),
            move |x| front.exact(x, 0.0),
            0.0,
            Box::new(SparseLu::new()),
        )?;
        heat.set_advection(Arc::new(|_| [1.0, 0.0, 0.0]), true)?;
        heat.integrator = Integrator::CrankNicolson;
        // ∂u/∂t + ∂u/∂x = 0 for the front itself; −κΔu = 2κ T (1 − T²)/δ².
        let width = self.width;
        heat.source = Arc::new(move |x, t| {
            let v = front.exact(x, t);
            2.0 * kappa * v * (1.0 - v * v) / (width * width)
        });
        for side in ["left", "right"] {
            heat.set_boundary(
                side,
                HeatBoundary::Dirichlet(Arc::new(move |x, t| front.exact(x, t))),
            );
        }
        Ok(heat)
    }

    /// Runs the front on `mesh` with steps of `dt`, the mesh moved by
    /// `motion` if given (as `pde-engine run` does: the model built again
    /// on each of `initial_moves` moves first, so that the initial front
    /// is sampled on the moved nodes).
    pub fn run(
        &self,
        mesh: Mesh,
        dt: f64,
        mut motion: Option<&mut Motion>,
        initial_moves: usize,
    ) -> Result<FrontRun> {
        let started = Instant::now();
        let nodes = mesh.num_points();
        let mut heat = self.model(mesh)?;
        if let Some(m) = motion.as_mut() {
            heat = m.initial_moves(
                heat,
                initial_moves,
                |h| Some(h),
                |moved| self.model((*moved).clone()),
            )?;
        }
        let motion = motion.map(|m| m as &mut dyn MeshMotion<Heat>);
        let summary = TimeLoop::new(0.0, self.end, dt)
            .run(&mut heat, motion, &mut [])
            .context("the moving front")?;
        let seconds = started.elapsed().as_secs_f64();
        let error = norms::l2_error(&heat.space, heat.solution(), |x| self.exact(x, self.end))?;
        Ok(FrontRun {
            nodes,
            dt,
            steps: summary.steps,
            error,
            seconds,
            mesh: heat.space.mesh().clone(),
        })
    }
}
