//! How a flow checks a predicted step ([`CheckedStep`], which
//! [`crate::physics::learned_step::LearnedStep`] drives): every predicted
//! state is put into the discrete BDF2 system the classical step would
//! solve, and its relative residual (momentum and continuity rows) decides
//! whether it is accepted or the classical step is taken instead.
//!
//! Surrogates work on vertex values (what graph networks see): the state at
//! each mesh vertex `[u, v, p]` of a 2D linear mesh. The P1 pressure lives
//! on the vertices; the P2 velocity at an edge midpoint is rebuilt from the
//! vertex values and vertex gradients recovered from them (the average of
//! the adjacent cells' gradients, weighted by area):
//! `u(m) = (u_a + u_b)/2 + (∇u_a - ∇u_b)·(x_b - x_a)/8`, exact for
//! quadratics with exact gradients, then solved for from the step's
//! momentum equations in the edge rows, vertex values and pressure held at
//! the prediction's (one GMRES(ILU(0)) solve of the edge block, started
//! from the rebuild). For exact vertex values the rebuild alone leaves a
//! residual of 1e-2 of not stepping's in a viscous channel and 0.35 on
//! average in the developed DFG flow on its linear level-1 mesh; the edge
//! solve leaves round-off (tests/flow_surrogate.rs), so the check judges
//! the model's vertex values and nothing else. (Gauss–Seidel sweeps over
//! the edge rows, before, left 0.04–0.05 on the DFG mesh: a floor below
//! which no prediction could pass.)

use super::{CheckedSystem, NavierStokes};
use crate::fem::FunctionSpace;
use crate::physics::PhysicsError;
use crate::physics::learned_step::CheckedStep;
use crate::physics::{StepError, StepReport};

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

/// Rebuilds the dof values of a P2 (or P1) space on a 2D linear mesh from
/// vertex values.
pub(super) struct VertexInterpolation {
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
    /// Velocity components and pressure at each mesh point, node-major
    /// (`[u, v, (w,) p]` per node): the state learned steppers see.
    pub fn vertex_state(&self) -> Vec<f64> {
        self.vertex_values(self.state())
    }

    /// [`NavierStokes::vertex_state`] of the state `x` (numbered as the
    /// mixed space).
    pub(super) fn vertex_values(&self, x: &[f64]) -> Vec<f64> {
        let d = self.dim();
        let mut columns: Vec<Vec<f64>> = (0..d)
            .map(|c| {
                self.velocity_space()
                    .point_values(&x[self.space.range(0, c)])
            })
            .collect();
        columns.push(
            self.pressure_space()
                .point_values(&x[self.space.range(1, 0)]),
        );
        let nodes = self.mesh_points();
        (0..nodes)
            .flat_map(|n| columns.iter().map(move |col| col[n]))
            .collect()
    }

    /// Makes classical steps keep their extrapolation residual
    /// ([`NavierStokes::last_step_residual`]), for training data: the
    /// input of a stepper that reads it, paired with the step's answer.
    pub fn record_step_residuals(&mut self, on: bool) {
        self.step_residuals = (on, None);
    }

    /// The extrapolation residual of the last classical step tried (see
    /// [`CheckedStep::extrapolation_residual`]), while
    /// [`NavierStokes::record_step_residuals`] is on.
    pub fn last_step_residual(&self) -> Option<&[f64]> {
        self.step_residuals.1.as_deref()
    }

    /// The vertex interpolation and the edge rows, built at first use.
    fn interpolation(&mut self) -> Result<&(VertexInterpolation, Vec<usize>), PhysicsError> {
        if self.vertex_interpolation.is_none() {
            let interpolation = VertexInterpolation::new(self.velocity_space())?;
            let rows = (0..self.dim())
                .flat_map(|c| {
                    let start = self.space.range(0, c).start;
                    interpolation.edge_dofs().map(move |d| start + d)
                })
                .collect();
            self.vertex_interpolation = Some((interpolation, rows));
        }
        Ok(self.vertex_interpolation.as_ref().expect("built above"))
    }

    /// The residual `b − A x̃` of the step from `t` by `dt` (its system
    /// assembled into `matrix`, right-hand side `rhs`) at the extrapolated
    /// state `x̃` (the BDF2 convecting velocity `(1 + ω) xₙ − ω xₙ₋₁` with
    /// the new boundary values), per mesh vertex in the layout of
    /// [`NavierStokes::vertex_state`]: the momentum equations tested with
    /// the vertex's linear hat function (the residual of its P2 vertex row
    /// plus half of those of the edge midpoints around it, since the hat
    /// is the P2 vertex function plus half the edge functions) and the
    /// continuity row of its pressure dof, each times `dt` over the area
    /// of the cells around the vertex. The mass term dominates the
    /// momentum equations, so those are about half the extrapolation's
    /// velocity error near the vertex. Rows boundary conditions set count
    /// 0.
    pub(super) fn extrapolation_residual(
        &mut self,
        t: f64,
        dt: f64,
        rhs: &[f64],
    ) -> Result<Vec<f64>, PhysicsError> {
        self.interpolation()?;
        let mut x = self.extrapolated(t, dt);
        let (_, fixed) = self.set_boundary_values(&mut x, t + dt)?;
        let residual = self.residual_at(rhs, &x, &fixed);
        let (interpolation, _) = self.vertex_interpolation.as_ref().expect("built above");
        let (d, width) = (self.dim(), self.dim() + 1);
        let mut out = vec![0.0; self.mesh_points() * width];
        for c in 0..d {
            let offset = self.space.offset(0, c);
            for (dof, site) in interpolation.dofs.iter().enumerate() {
                let r = residual[offset + dof];
                match *site {
                    DofSite::Vertex(n) => out[n * width + c] += r,
                    DofSite::Edge(a, b) => {
                        out[a * width + c] += 0.5 * r;
                        out[b * width + c] += 0.5 * r;
                    }
                }
            }
        }
        let q = self.pressure_space();
        for n in 0..self.mesh_points() {
            if let Some(i) = q.vertex_dof(n) {
                out[n * width + d] = residual[self.space.offset(1, 0) + i];
            }
        }
        for (values, area) in out.chunks_mut(width).zip(&interpolation.node_area) {
            let scale = if *area > 0.0 { dt / area } else { 0.0 };
            values.iter_mut().for_each(|v| *v *= scale);
        }
        Ok(out)
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
}

/// Vertex values in, the P2 edge values rebuilt and solved for, and the state
/// judged by the BDF2 system the classical step would solve.
impl CheckedStep for NavierStokes {
    fn keep_states(&mut self, count: usize) {
        self.kept_states = self.kept_states.max(count);
    }

    fn predictor_states(&self, count: usize, dt: f64) -> Option<Vec<Vec<f64>>> {
        let kept = self.history.len().checked_sub(count)?;
        let window = self.history.range(kept..);
        let times: Vec<f64> = window.clone().map(|(t, _)| *t).collect();
        let even = times
            .windows(2)
            .all(|pair| ((pair[1] - pair[0]) - dt).abs() <= 1e-9 * dt.max(pair[1].abs()));
        even.then(|| window.map(|(_, x)| self.vertex_values(x)).collect())
    }

    fn try_prediction(
        &mut self,
        t: f64,
        dt: f64,
        predicted: &[f64],
    ) -> Result<(f64, StepReport), StepError> {
        let width = self.dim() + 1;
        if predicted.len() != self.mesh_points() * width {
            return Err(StepError::Model(PhysicsError::Surrogate(format!(
                "it returned {} values; the flow has {} nodes × {width} fields",
                predicted.len(),
                self.mesh_points()
            ))));
        }
        self.interpolation()?;
        let (interpolation, edge_rows) = self.vertex_interpolation.take().expect("built above");
        let x = self.state_from_vertices(&interpolation, predicted);
        let residual = self.try_completed_state(t, dt, x, &edge_rows);
        self.vertex_interpolation = Some((interpolation, edge_rows));
        let residual = residual?.worst();
        let x = &self.tried.as_ref().expect("tried above").x;
        let report = StepReport {
            iterations: 0,
            error_estimate: None,
            max_abs: self.velocity_max_abs(x),
            fallback: None,
        };
        Ok((residual, report))
    }

    fn extrapolation_residual(&mut self, t: f64, dt: f64) -> Result<Vec<f64>, StepError> {
        let rhs = self.step_rhs(t, dt)?;
        let residual = NavierStokes::extrapolation_residual(self, t, dt, &rhs)?;
        self.checked = Some(CheckedSystem { t, dt, rhs });
        Ok(residual)
    }

    fn fallback(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError> {
        let guess = match self.tried.take() {
            Some(tried) if tried.x.iter().all(|v| v.is_finite()) => tried.x,
            _ => self.state().to_vec(),
        };
        self.classical_step(t, dt, guess)
    }
}
