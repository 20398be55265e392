//! Monitor functions from a solution field: `m = 1 + α · e / max e`, with
//! `e` the size of the field's recovered gradient (`indicator: gradient`)
//! or Hessian (`indicator: hessian`, Frobenius norm) at the mesh nodes, so
//! `α` is free of the field's scale and `1 + α` bounds the monitor's
//! contrast (normalising by the mean instead made a small feature's
//! contrast in the hundreds, which no mover follows), then
//! optionally smoothed by `(M + K S) m̃ = M m` with `K = N h̄² / 4` (as
//! UM2N smooths its monitors; `N` is `smoothing`, `h̄` the mean cell
//! size). Gradients are recovered by lumped L2 projection of the
//! piecewise-constant cell gradients, and the Hessian by projecting the
//! cell gradients of the recovered gradient.

use std::sync::Arc;

use anyhow::{Context, Result};
use pde_mesh::Mesh;
use serde::{Deserialize, Serialize};

use super::triangles::Triangles;
use crate::fem::{assembly, FunctionSpace};
use crate::linalg::factor::Ic0;
use crate::linalg::krylov::{Cg, Tolerance};
use crate::linalg::LinearSolver;

/// What of the solution the monitor follows.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// `|∇u|`: fronts and layers.
    #[default]
    Gradient,
    /// `‖H(u)‖`: curvature (interpolation error of P1).
    Hessian,
}

fn default_alpha() -> f64 {
    20.0
}

fn default_smoothing() -> f64 {
    4.0
}

/// `mesh_mover.monitor: {field, indicator, alpha, smoothing}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MonitorSpec {
    /// The model's field the monitor is built from (`u`, a species, `h`).
    pub field: String,
    /// Gradient or Hessian. Default gradient.
    #[serde(default)]
    pub indicator: Indicator,
    /// The monitor's contrast less one: `1 + α` where the indicator is
    /// largest, 1 where it vanishes. Default 20.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Smoothing strength `N` (0: none). Default 4.
    #[serde(default = "default_smoothing")]
    pub smoothing: f64,
}

impl MonitorSpec {
    /// The monitor of `field` with the defaults: gradient, α = 20,
    /// smoothing 4.
    pub fn of(field: &str) -> MonitorSpec {
        MonitorSpec {
            field: field.into(),
            indicator: Indicator::default(),
            alpha: default_alpha(),
            smoothing: default_smoothing(),
        }
    }

    /// What is wrong with the numbers, each completing
    /// `mesh_mover.monitor.`.
    pub fn check(&self, problems: &mut Vec<String>) {
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            problems.push(format!("alpha: {} must be a finite number ≥ 0", self.alpha));
        }
        if !(self.smoothing.is_finite() && self.smoothing >= 0.0) {
            problems.push(format!(
                "smoothing: {} must be a finite number ≥ 0",
                self.smoothing
            ));
        }
    }

    /// The monitor at the nodes of `mesh` (linear triangles) from the
    /// field's values `u` at its nodes.
    pub fn nodal(&self, mesh: &Arc<Mesh>, u: &[f64]) -> Result<Vec<f64>> {
        let t = Triangles::of(mesh)?;
        let gradient = t.project(|c| t.gradient(c, |n| u[n]));
        let size: Vec<f64> = match self.indicator {
            Indicator::Gradient => gradient.iter().map(|g| g[0].hypot(g[1])).collect(),
            Indicator::Hessian => t
                .project(|c| {
                    let gx = t.gradient(c, |n| gradient[n][0]);
                    let gy = t.gradient(c, |n| gradient[n][1]);
                    [gx[0], gx[1], gy[0], gy[1]]
                })
                .iter()
                .map(|h| h.iter().map(|v| v * v).sum::<f64>().sqrt())
                .collect(),
        };
        let largest = size.iter().copied().fold(0.0, f64::max);
        let mut m: Vec<f64> = size
            .iter()
            .map(|e| {
                if largest > 0.0 {
                    1.0 + self.alpha * e / largest
                } else {
                    1.0
                }
            })
            .collect();
        if self.smoothing > 0.0 {
            m = smooth(mesh, &t, &m, self.smoothing)?;
        }
        Ok(m)
    }
}

/// `m` smoothed by `(M + K S) m̃ = M m`, `K = n h̄² / 4`.
fn smooth(mesh: &Arc<Mesh>, t: &Triangles, m: &[f64], n: f64) -> Result<Vec<f64>> {
    let area: f64 = t.area.iter().sum();
    let h2 = 2.0 * area / t.area.len() as f64;
    let k = n * h2 / 4.0;
    let space = FunctionSpace::new(mesh.clone(), 1)?;
    let mass = assembly::assemble_matrix(&space, 2, assembly::mass(|_| 1.0))?;
    let mut a = assembly::assemble_matrix(&space, 2, assembly::laplace(move |_| k))?;
    // Both forms are assembled on the space's one pattern.
    a.val_mut()
        .iter_mut()
        .zip(mass.val())
        .for_each(|(x, y)| *x += y);
    let mut x = vec![0.0; space.num_dofs()];
    for (node, &v) in m.iter().enumerate() {
        if let Some(d) = space.vertex_dof(node) {
            x[d] = v;
        }
    }
    let mut rhs = vec![0.0; x.len()];
    crate::linalg::spmv(&mass, &x, &mut rhs);
    let mut cg = Cg::new(
        Box::new(Ic0::default()),
        Tolerance {
            rtol: 1e-10,
            atol: 0.0,
            max_iterations: 1000,
        },
    );
    cg.solve(&a, &rhs, &mut x)
        .context("smoothing the monitor")?;
    Ok((0..m.len())
        .map(|node| space.vertex_dof(node).map_or(m[node], |d| x[d]))
        .collect())
}

/// A monitor given at the nodes of a mesh, as a function of position (its
/// piecewise-linear interpolant): what the movers evaluate at the points
/// they try.
pub struct NodalMonitor {
    space: FunctionSpace,
    values: Vec<f64>,
    mean: f64,
}

impl NodalMonitor {
    /// The monitor with values `nodal` at the points of `mesh`.
    pub fn new(mesh: Arc<Mesh>, nodal: &[f64]) -> Result<NodalMonitor> {
        let space = FunctionSpace::new(mesh, 1)?;
        let mut values = vec![0.0; space.num_dofs()];
        for (node, v) in nodal.iter().enumerate() {
            if let Some(d) = space.vertex_dof(node) {
                values[d] = *v;
            }
        }
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        Ok(NodalMonitor {
            space,
            values,
            mean,
        })
    }

    /// The monitor at `x`: extrapolated from the nearest cell a sliver
    /// outside the mesh (a node sliding along a curved boundary leaves the
    /// chords of the current mesh by up to ~h²/8R), within that cell's
    /// values ([`FunctionSpace::value_at`]); the mean nodal value further
    /// out (movers keep the domain, so that does not happen).
    pub fn eval(&self, x: [f64; 3]) -> f64 {
        self.space
            .value_at(&self.values, x, 0.25)
            .unwrap_or(self.mean)
    }
}
