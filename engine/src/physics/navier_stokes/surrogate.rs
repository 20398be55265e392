//! A surrogate of the flow's time step (a learned stepper) that keeps the
//! classical guarantees: every predicted state is put into the discrete
//! BDF2 system the classical step would solve, and when the relative
//! residual of its momentum or continuity rows exceeds the tolerance the
//! classical step is taken instead (a *fallback*), started from the
//! prediction. Accepted and fallen-back steps and their costs are counted.
//!
//! Surrogates work on vertex values (what graph networks see): the state at
//! each mesh vertex `[u, v, p]` of a 2D linear mesh. The P1 pressure lives
//! on the vertices; the P2 velocity at an edge midpoint is rebuilt from the
//! vertex values and vertex gradients recovered from them (the average of
//! the adjacent cells' gradients, weighted by area):
//! `u(m) = (u_a + u_b)/2 + (∇u_a - ∇u_b)·(x_b - x_a)/8`, exact for
//! quadratics with exact gradients, then relaxed by a few symmetric
//! Gauss–Seidel sweeps of the step's momentum equations over the edge
//! values alone (vertex values and pressure stay the prediction's; sweeps
//! stop when they stop helping). For exact vertex values the rebuild alone
//! leaves a residual of 1e-2 of not stepping's in a viscous channel and
//! 0.35 on average in the developed DFG flow on its linear level-1 mesh;
//! the sweeps bring these to 2e-6 (tests/flow_surrogate.rs) and 0.04–0.05:
//! the floor below which the check cannot judge a prediction.

use std::time::Instant;

use super::NavierStokes;
use crate::fem::FunctionSpace;
use crate::physics::PhysicsError;
use crate::physics::{StepError, StepReport};

/// Most symmetric Gauss–Seidel sweeps over the edge values of a prediction
/// (each costs about two products with their rows of the matrix).
const EDGE_SWEEPS: usize = 4;

/// Predicts the vertex state one step ahead.
pub trait FlowSurrogate {
    /// What it is, for summaries (e.g. `gnn out/cylinder_gnn`).
    fn describe(&self) -> String;
    /// The state at `t + dt` from the one at `t`, both node-major
    /// `[u, v, (w,) p]` per mesh vertex; `None` when it cannot take a step
    /// of `dt` (it was trained for another).
    fn predict(&mut self, state: &[f64], dt: f64) -> Result<Option<Vec<f64>>, PhysicsError>;
}

/// Relative residuals of a state `x` in a step's discrete system `A x = b`,
/// in the 2-norm over the rows without Dirichlet conditions. 0 for the
/// exact solution of the step.
///
/// Each is measured against what a useless answer gives. Momentum: against
/// the residual of not stepping (the current state with the new boundary
/// values), so 1 is no better than persistence, whatever the step size
/// (a residual scaled by the size of its terms would be small for any
/// state near the current one, since the mass term dominates at small
/// steps). Continuity (which the current state already satisfies): against
/// the size of its terms, `|B u| / (|B| |u| + |g|)`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepResidual {
    /// Over the momentum rows, relative to not stepping.
    pub momentum: f64,
    /// Over the continuity rows, relative to their terms.
    pub continuity: f64,
}

impl StepResidual {
    /// The larger of the two (NaN if either is).
    pub fn worst(&self) -> f64 {
        if self.momentum.is_nan() || self.continuity.is_nan() {
            f64::NAN
        } else {
            self.momentum.max(self.continuity)
        }
    }
}

/// Counts and costs of a run with a surrogate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SurrogateStats {
    /// Steps taken by the surrogate (accepted by the residual check).
    pub learned_steps: usize,
    /// Steps whose prediction failed the check, taken classically.
    pub fallbacks: usize,
    /// Other classical steps (before `from`, or of a step size the
    /// surrogate cannot take).
    pub classical_steps: usize,
    /// Largest residual of an accepted step.
    pub accepted_residual_max: f64,
    /// Sum of the residuals of accepted steps (for the mean).
    pub accepted_residual_sum: f64,
    /// Largest residual of a rejected prediction.
    pub rejected_residual_max: f64,
    /// Wall time of accepted steps (prediction and check).
    pub learned_seconds: f64,
    /// Wall time of classical steps (fallbacks and others; a fallback's
    /// rejected prediction included).
    pub classical_seconds: f64,
}

impl SurrogateStats {
    /// The record as JSON, with means per step.
    pub fn to_json(&self) -> serde_json::Value {
        let per = |s: f64, n: usize| (n > 0).then(|| s / n as f64);
        serde_json::json!({
            "learned_steps": self.learned_steps,
            "fallbacks": self.fallbacks,
            "classical_steps": self.classical_steps,
            "accepted_residual_max": self.accepted_residual_max,
            "accepted_residual_mean": per(self.accepted_residual_sum, self.learned_steps),
            "rejected_residual_max": self.rejected_residual_max,
            "seconds_per_learned_step": per(self.learned_seconds, self.learned_steps),
            "seconds_per_classical_step":
                per(self.classical_seconds, self.fallbacks + self.classical_steps),
        })
    }
}

/// A surrogate with its check: used for the steps from `from` on.
pub struct CheckedSurrogate {
    surrogate: Box<dyn FlowSurrogate>,
    /// Steps starting before this time are classical.
    pub from: f64,
    /// Largest [`StepResidual::worst`] accepted.
    pub tolerance: f64,
    /// What happened so far.
    pub stats: SurrogateStats,
    /// How vertex values become the velocity dofs, and the rows of the
    /// edge-midpoint velocity dofs in the mixed system (set at first use).
    interpolation: Option<(VertexInterpolation, Vec<usize>)>,
}

impl CheckedSurrogate {
    /// `surrogate` for the steps from `from` on, accepted up to `tolerance`.
    pub fn new(surrogate: Box<dyn FlowSurrogate>, from: f64, tolerance: f64) -> Self {
        CheckedSurrogate {
            surrogate,
            from,
            tolerance,
            stats: SurrogateStats::default(),
            interpolation: None,
        }
    }

    /// What the surrogate is.
    pub fn describe(&self) -> String {
        self.surrogate.describe()
    }
}

/// Rebuilds the dof values of a P2 (or P1) space on a 2D linear mesh from
/// vertex values.
struct VertexInterpolation {
    /// For each dof: its vertex, or the two ends of its edge.
    dofs: Vec<DofSite>,
    /// Per cell: its vertices, area and the gradients of its barycentric
    /// coordinates.
    cells: Vec<([usize; 3], f64, [[f64; 2]; 3])>,
    /// The area of the cells around each node.
    node_area: Vec<f64>,
}

/// Where a dof sits.
#[derive(Clone, Copy)]
enum DofSite {
    Vertex(usize),
    /// The midpoint of the edge between two vertices.
    Edge(usize, usize),
}

impl VertexInterpolation {
    fn new(space: &FunctionSpace) -> Result<Self, PhysicsError> {
        let mesh = space.mesh();
        let unsupported = || {
            PhysicsError::Surrogate(
                "learned steps need P1 or P2 on a 2D linear mesh of triangles".into(),
            )
        };
        if space.dim() != 2 {
            return Err(unsupported());
        }
        let mut dofs = vec![None; space.num_dofs()];
        let mut cells = Vec::with_capacity(space.num_cells());
        let mut node_area = vec![0.0; mesh.num_points()];
        for cell in 0..space.num_cells() {
            let nodes: [usize; 3] = space.cell_nodes(cell)[..3]
                .try_into()
                .map_err(|_| unsupported())?;
            let p = nodes.map(|n| mesh.points[n]);
            let e = [1, 2].map(|k| [p[k][0] - p[0][0], p[k][1] - p[0][1]]);
            let det = e[0][0] * e[1][1] - e[1][0] * e[0][1];
            let g1 = [e[1][1] / det, -e[1][0] / det];
            let g2 = [-e[0][1] / det, e[0][0] / det];
            let gradients = [[-g1[0] - g2[0], -g1[1] - g2[1]], g1, g2];
            let area = det.abs() / 2.0;
            cells.push((nodes, area, gradients));
            for n in nodes {
                node_area[n] += area;
            }
            for &dof in space.cell_dofs(cell) {
                if dofs[dof].is_some() {
                    continue;
                }
                let x = space.dof_points()[dof];
                let r = [x[0] - p[0][0], x[1] - p[0][1]];
                let l1 = g1[0] * r[0] + g1[1] * r[1];
                let l2 = g2[0] * r[0] + g2[1] * r[1];
                let lambda = [1.0 - l1 - l2, l1, l2];
                let at: Vec<usize> = (0..3).filter(|&k| lambda[k].abs() > 1e-9).collect();
                dofs[dof] = Some(match at[..] {
                    [k] => DofSite::Vertex(nodes[k]),
                    [a, b] => DofSite::Edge(nodes[a], nodes[b]),
                    _ => return Err(unsupported()),
                });
            }
        }
        let dofs = dofs
            .into_iter()
            .collect::<Option<_>>()
            .ok_or_else(unsupported)?;
        Ok(VertexInterpolation {
            dofs,
            cells,
            node_area,
        })
    }

    /// The dofs at edge midpoints.
    fn edge_dofs(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.dofs.len()).filter(|&d| matches!(self.dofs[d], DofSite::Edge(..)))
    }

    /// Dof values from `value(node)` at the vertices.
    fn dof_values(&self, points: &[[f64; 3]], value: impl Fn(usize) -> f64) -> Vec<f64> {
        let mut gradient = vec![[0.0; 2]; self.node_area.len()];
        for (nodes, area, g) in &self.cells {
            let cell: [f64; 2] =
                std::array::from_fn(|i| (0..3).map(|k| g[k][i] * value(nodes[k])).sum());
            for n in nodes {
                gradient[*n][0] += area * cell[0];
                gradient[*n][1] += area * cell[1];
            }
        }
        for (g, area) in gradient.iter_mut().zip(&self.node_area) {
            g[0] /= area;
            g[1] /= area;
        }
        self.dofs
            .iter()
            .map(|site| match *site {
                DofSite::Vertex(n) => value(n),
                DofSite::Edge(a, b) => {
                    let d = [points[b][0] - points[a][0], points[b][1] - points[a][1]];
                    let (ga, gb) = (gradient[a], gradient[b]);
                    0.5 * (value(a) + value(b))
                        + ((ga[0] - gb[0]) * d[0] + (ga[1] - gb[1]) * d[1]) / 8.0
                }
            })
            .collect()
    }
}

impl NavierStokes {
    /// Uses `surrogate` for the steps from its `from` time on; the run's
    /// mesh must be linear (vertex values are the surrogate's state).
    pub fn set_surrogate(&mut self, surrogate: CheckedSurrogate) {
        self.surrogate = Some(surrogate);
    }

    /// The surrogate, with its statistics.
    pub fn surrogate(&self) -> Option<&CheckedSurrogate> {
        self.surrogate.as_ref()
    }

    /// Velocity components and pressure at each mesh point, node-major
    /// (`[u, v, (w,) p]` per node): the state learned steppers see.
    pub fn vertex_state(&self) -> Vec<f64> {
        let d = self.dim();
        let mut columns: Vec<Vec<f64>> = (0..d)
            .map(|c| self.velocity_space().point_values(self.velocity(c)))
            .collect();
        columns.push(self.pressure_space().point_values(self.pressure()));
        let nodes = self.mesh_points();
        (0..nodes)
            .flat_map(|n| columns.iter().map(move |col| col[n]))
            .collect()
    }

    fn mesh_points(&self) -> usize {
        self.velocity_space().mesh().num_points()
    }

    /// The full state (numbered as the mixed space) from a vertex state.
    fn state_from_vertices(&self, interpolation: &VertexInterpolation, next: &[f64]) -> Vec<f64> {
        let d = self.dim();
        let width = d + 1;
        let points = &self.velocity_space().mesh().points;
        let mut x = self.state().to_vec();
        for c in 0..d {
            let values = interpolation.dof_values(points, |n| next[n * width + c]);
            x[self.space.range(0, c)].copy_from_slice(&values);
        }
        let offset = self.space.offset(1, 0);
        let q = self.pressure_space();
        for n in 0..self.mesh_points() {
            if let Some(dof) = q.vertex_dof(n) {
                x[offset + dof] = next[n * width + d];
            }
        }
        x
    }

    /// A step with the surrogate: predict, check, accept or fall back.
    pub(super) fn surrogate_step(
        &mut self,
        surrogate: &mut CheckedSurrogate,
        t: f64,
        dt: f64,
    ) -> Result<StepReport, StepError> {
        let started = Instant::now();
        let eps = 1e-9 * dt;
        let prediction = if t >= surrogate.from - eps {
            surrogate.surrogate.predict(&self.vertex_state(), dt)?
        } else {
            None
        };
        let Some(next) = prediction else {
            let report = self.classical_step(t, dt, self.state().to_vec())?;
            surrogate.stats.classical_steps += 1;
            surrogate.stats.classical_seconds += started.elapsed().as_secs_f64();
            return Ok(report);
        };
        let width = self.dim() + 1;
        if next.len() != self.mesh_points() * width {
            return Err(StepError::Model(PhysicsError::Surrogate(format!(
                "it returned {} values; the flow has {} nodes × {width} fields",
                next.len(),
                self.mesh_points()
            ))));
        }
        if surrogate.interpolation.is_none() {
            let interpolation = VertexInterpolation::new(self.velocity_space())?;
            let rows = (0..self.dim())
                .flat_map(|c| {
                    let start = self.space.range(0, c).start;
                    interpolation.edge_dofs().map(move |d| start + d)
                })
                .collect();
            surrogate.interpolation = Some((interpolation, rows));
        }
        let (interpolation, edge_rows) = surrogate.interpolation.as_ref().expect("set above");
        let x = self.state_from_vertices(interpolation, &next);
        let residual = self
            .try_relaxed_state(t, dt, x, edge_rows, EDGE_SWEEPS)?
            .worst();
        let stats = &mut surrogate.stats;
        if residual <= surrogate.tolerance {
            stats.learned_steps += 1;
            stats.accepted_residual_max = stats.accepted_residual_max.max(residual);
            stats.accepted_residual_sum += residual;
            stats.learned_seconds += started.elapsed().as_secs_f64();
            let x = &self.tried.as_ref().expect("tried above").x;
            return Ok(StepReport {
                iterations: 0,
                error_estimate: None,
                max_abs: self.velocity_max_abs(x),
            });
        }
        // NaN compares false above and lands here too.
        stats.fallbacks += 1;
        stats.rejected_residual_max = if residual.is_nan() {
            f64::NAN
        } else {
            stats.rejected_residual_max.max(residual)
        };
        let guess = self.tried.take().expect("tried above").x;
        let guess = if guess.iter().all(|v| v.is_finite()) {
            guess
        } else {
            self.state().to_vec()
        };
        let report = self.classical_step(t, dt, guess)?;
        surrogate.stats.classical_seconds += started.elapsed().as_secs_f64();
        Ok(report)
    }
}
