//! The movers' benchmark problem: the steady steep layer
//! `u = tanh((r − r₀)/δ)` around a point, solved by P1 Poisson (`−Δu = f`
//! with `f` from `u`, Dirichlet data from `u`) on a mesh and on the same
//! nodes moved by a mover, in solve–move rounds as a time loop would do
//! them (the monitor from the discrete solution, not from `u`). The test
//! suite asserts the error it gains; `pde-engine bench mesh-mover` times
//! it (`benches/mesh_mover/run.sh`).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use pde_mesh::Mesh;

use super::monitor::{MonitorSpec, NodalMonitor};
use super::MeshMover;
use crate::driver::{guarded, Limits, Reach};
use crate::fem::{norms, FunctionSpace};
use crate::linalg::direct::Cholesky;
use crate::physics::poisson::{BoundaryCondition, Poisson};

/// `tanh((|x − centre| − radius)/width)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SteepLayer {
    /// Centre of the circle the layer lies on.
    pub centre: [f64; 2],
    /// Its radius.
    pub radius: f64,
    /// The layer's width `δ`.
    pub width: f64,
}

impl Default for SteepLayer {
    /// Radius 0.3 around the unit square's centre, width 0.01.
    fn default() -> Self {
        SteepLayer {
            centre: [0.5, 0.5],
            radius: 0.3,
            width: 0.01,
        }
    }
}

/// What solve–move rounds gave.
#[derive(Clone, Debug, PartialEq)]
pub struct Adapted {
    /// The L2 error on the given mesh, then after each move.
    pub errors: Vec<f64>,
    /// Seconds per move (monitor and mover; the solves not counted).
    pub seconds_per_move: f64,
    /// Seconds per move of the mover alone (the monitor not counted).
    pub mover_seconds_per_move: f64,
    /// Inverted cells of the last mesh (after the guard: 0 unless the
    /// given mesh had some).
    pub inverted: usize,
    /// Moves whose mesh had inverted cells before the guard (the raw
    /// tangling count).
    pub tangled: usize,
    /// Moves the guard refused (the mesh stayed as it was).
    pub refused: usize,
    /// The last mesh.
    pub mesh: Mesh,
}

impl SteepLayer {
    fn radius_at(&self, x: [f64; 3]) -> f64 {
        (x[0] - self.centre[0]).hypot(x[1] - self.centre[1])
    }

    /// The solution at `x`.
    pub fn exact(&self, x: [f64; 3]) -> f64 {
        ((self.radius_at(x) - self.radius) / self.width).tanh()
    }

    /// `−Δu` at `x` (in polar coordinates, `−(u'' + u'/r)`).
    pub fn source(&self, x: [f64; 3]) -> f64 {
        let r = self.radius_at(x);
        let t = ((r - self.radius) / self.width).tanh();
        let d1 = (1.0 - t * t) / self.width;
        let d2 = -2.0 * t * d1 / self.width;
        // u' vanishes to round-off at the centre, far from the layer.
        -(d2 + if r > 1e-12 { d1 / r } else { 0.0 })
    }

    /// The P1 solution on `mesh` (boundary groups `left`, `right`,
    /// `bottom`, `top`): its L2 error and its values at the mesh points.
    pub fn solve(&self, mesh: Arc<Mesh>) -> Result<(f64, Vec<f64>)> {
        let mut p = Poisson::new(FunctionSpace::new(mesh.clone(), 1)?);
        let layer = *self;
        p.source = Arc::new(move |x| layer.source(x));
        for side in ["left", "right", "bottom", "top"] {
            p.set_boundary(
                side,
                BoundaryCondition::Dirichlet(Arc::new(move |x| layer.exact(x))),
            );
        }
        let (u, _) = p.solve(&mut Cholesky::new())?;
        let error = norms::l2_error(&p.space, &u, |x| layer.exact(x))?;
        let nodal = (0..mesh.num_points())
            .map(|n| p.space.vertex_dof(n).map_or(0.0, |d| u[d]))
            .collect();
        Ok((error, nodal))
    }

    /// `rounds` solve–move rounds from `mesh` with `mover` (built on
    /// `mesh`) and the monitor `monitor` of the solution. Every moved mesh
    /// passes the time loop's guard (no inverted, degenerate or sliver
    /// cells; a move is scaled back up to three times, else refused and
    /// the mesh kept), without its per-step reach limit.
    pub fn adapt(
        &self,
        mesh: &Mesh,
        mover: &mut dyn MeshMover,
        monitor: &MonitorSpec,
        rounds: usize,
    ) -> Result<Adapted> {
        let mut current = Arc::new(mesh.clone());
        let (error, mut u) = self.solve(current.clone())?;
        let mut errors = vec![error];
        let (mut seconds, mut mover_seconds) = (0.0, 0.0);
        let (mut tangled, mut refused) = (0, 0);
        for round in 0..rounds {
            let started = Instant::now();
            let nodal = monitor.nodal(&current, &u)?;
            let m = NodalMonitor::new(current.clone(), &nodal)?;
            let built = Instant::now();
            let points = mover
                .new_points(&current.points, &|x| m.eval(x))
                .with_context(|| format!("move {}", round + 1))?;
            seconds += started.elapsed().as_secs_f64();
            mover_seconds += built.elapsed().as_secs_f64();
            let mut raw = mesh.clone();
            raw.points = points.clone();
            if pde_mesh::quality::summary(&raw).inverted > 0 {
                tangled += 1;
            }
            let limits = Limits::of(&current, Reach::Any);
            match guarded(&current, Ok(points), &limits) {
                Ok((moved, _, _)) => current = Arc::new(moved),
                Err(_) => refused += 1,
            }
            let (error, nodal) = self.solve(current.clone())?;
            errors.push(error);
            u = nodal;
        }
        Ok(Adapted {
            errors,
            seconds_per_move: seconds / rounds.max(1) as f64,
            mover_seconds_per_move: mover_seconds / rounds.max(1) as f64,
            inverted: pde_mesh::quality::summary(&current).inverted,
            tangled,
            refused,
            mesh: (*current).clone(),
        })
    }
}
