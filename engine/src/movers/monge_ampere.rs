//! Monge–Ampère r-adaptation (Budd, Huang & Russell; McRae, Cotter & Budd
//! 2018): the moved mesh is `x = ξ + ∇φ`, where `φ` solves
//! `m(x) det(I + H(φ)) = θ` on the computational mesh `ξ`, so that every
//! cell holds the same share of `∫ m`. `φ` is P1 and is found by the
//! parabolic relaxation `−Δφ_τ = m det(I + H) − θ` (forward Euler in
//! pseudo-time, as Firedrake's `movement` does): each iteration recovers
//! the nodal gradient `g = ∇φ` by lumped L2 projection and the Hessian by
//! the weak form `∫ψ H = −∫∇ψ ⊗ ∇φ + ∫_∂Ω ψ t(∇φ) ⊗ n` (lumped; `t` the
//! tangential part, so `∂φ/∂n = 0` enters weakly), moves the nodes,
//! evaluates the monitor there, and solves one Neumann Laplace problem
//! on `ξ` (Cholesky, factorised once); an update that would invert a
//! cell is halved and tried again (strong monitors overshoot), and the
//! step grows back afterwards.
//! (Taking the Hessian as the gradient of the projected gradient
//! instead let cells next to the boundary invert after some hundred
//! iterations, measured.) Boundary nodes slide along the boundary (the
//! normal part of `g` removed; on a curved part, where the boundary turns
//! by less than 15° at the node, projected back onto the computational
//! mesh's boundary) and corners stay fixed, so the domain keeps its shape.
//! Triangles only, for now.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use pde_mesh::Mesh;

use crate::fem::{assembly, FunctionSpace};
use crate::linalg::direct::Cholesky;
use crate::linalg::{LinearSolver, SparseMatrix};

use super::triangles::{
    boundary_edges, boundary_kinds, signed_area, Boundary, BoundaryEdge, BoundaryPath, Triangles,
};

/// How the relaxation runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MongeAmpereSettings {
    /// Pseudo-time step of the relaxation. Default 0.1.
    pub pseudo_timestep: f64,
    /// Iteration limit. Default 1000.
    pub max_iterations: usize,
    /// Stop when the equidistribution residual `‖m det(I+H) − θ‖ / ‖θ‖`
    /// (lumped-mass weighted) falls below this. Default 1e-6.
    pub rtol: f64,
    /// Give up when the residual grows past this factor of its first
    /// value. Default 2.
    pub dtol: f64,
}

impl Default for MongeAmpereSettings {
    fn default() -> Self {
        MongeAmpereSettings {
            pseudo_timestep: 0.1,
            max_iterations: 1000,
            rtol: 1e-6,
            dtol: 2.0,
        }
    }
}

/// A mesh moved to equidistribute a monitor, and how it got there.
#[derive(Clone, Debug, PartialEq)]
pub struct Equidistributed {
    /// The moved points (the computational mesh's, indexed alike).
    pub points: Vec<[f64; 3]>,
    /// Relaxation iterations done.
    pub iterations: usize,
    /// The residual after each iteration (the first: before any move).
    pub residuals: Vec<f64>,
    /// Whether the residual fell below the tolerance.
    pub converged: bool,
}

/// The coefficient of variation (population standard deviation over the
/// mean) of `∫_K m dx ≈ m(centroid) |K|` over the cells of the mesh with
/// `points`: 0 when the cells equidistribute `m`.
pub fn equidistribution_variation(
    mesh: &Mesh,
    points: &[[f64; 3]],
    monitor: &dyn Fn([f64; 3]) -> f64,
) -> Result<f64> {
    let t = Triangles::of(mesh)?;
    let values: Vec<f64> = t
        .corners
        .iter()
        .map(|k| {
            let p = k.map(|n| points[n]);
            let centroid = [0, 1, 2].map(|d| (p[0][d] + p[1][d] + p[2][d]) / 3.0);
            monitor(centroid) * signed_area(p)
        })
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    Ok(variance.sqrt() / mean)
}

/// Moves the nodes of `mesh` (the computational mesh `ξ`) so that its
/// triangles equidistribute `monitor` (positive), by the relaxation of
/// the module's doc. An error if the mesh is not made of triangles, if a
/// cell inverts, or if the relaxation diverges or does not converge.
pub fn equidistribute(
    mesh: &Mesh,
    monitor: &dyn Fn([f64; 3]) -> f64,
    settings: &MongeAmpereSettings,
) -> Result<Equidistributed> {
    let result = MongeAmpere::new(mesh, *settings)?.relax(monitor)?;
    if !result.converged {
        bail!(
            "the Monge–Ampère mover did not converge: residual {:.3e} after {} iterations \
             (tolerance {:.1e})",
            result.residuals.last().copied().unwrap_or(f64::NAN),
            result.iterations,
            settings.rtol
        );
    }
    Ok(result)
}

/// The Monge–Ampère mover of one computational mesh: what depends only on
/// `ξ` is built once, and `φ` is kept between moves, so that in a time
/// loop, where the monitor changes a little per step, each move starts
/// from the last one's potential (as Firedrake's `movement` does).
pub struct MongeAmpere {
    pub(super) mesh: Mesh,
    settings: MongeAmpereSettings,
    pub(super) t: Triangles,
    boundary_edges: Vec<BoundaryEdge>,
    pub(super) boundary: Vec<Boundary>,
    /// The boundary curved-boundary nodes are projected back onto.
    path: BoundaryPath,
    /// The P1 dof of each mesh node.
    dof: Vec<Option<usize>>,
    /// The Neumann Laplacian on `ξ` with dof 0 pinned (SPD).
    pinned: SparseMatrix,
    /// Its Cholesky factor, computed once (the matrix never changes).
    laplace: Cholesky,
    phi: Vec<f64>,
    /// Stop at the last valid iterate where an update would tangle the
    /// mesh even when cut to a thousandth (instead of an error).
    best_effort: bool,
}

impl MongeAmpere {
    /// The mover of computational mesh `mesh` (linear triangles).
    pub fn new(mesh: &Mesh, settings: MongeAmpereSettings) -> Result<MongeAmpere> {
        let t = Triangles::of(mesh)?;
        let boundary_edges = boundary_edges(mesh, &t);
        let boundary = boundary_kinds(mesh.num_points(), &boundary_edges);
        let path = BoundaryPath::new(mesh, &boundary_edges);
        let space = FunctionSpace::new(Arc::new(mesh.clone()), 1)?;
        let stiffness: SparseMatrix =
            assembly::assemble_matrix(&space, 0, assembly::laplace(|_| 1.0))?;
        // φ is defined up to a constant: pinning dof 0 makes the Neumann
        // Laplacian SPD (the right-hand side sums to zero, so nothing else
        // changes), and the mean is removed after each solve.
        let pinned = {
            let mut k = stiffness;
            let mut rhs = vec![0.0; space.num_dofs()];
            crate::fem::bc::apply_dirichlet(&mut k, &mut rhs, &[0], &[0.0]);
            k
        };
        let dof = (0..mesh.num_points())
            .map(|v| space.vertex_dof(v))
            .collect();
        let laplace = Cholesky::new();
        Ok(MongeAmpere {
            mesh: mesh.clone(),
            settings,
            t,
            boundary_edges,
            boundary,
            path,
            dof,
            pinned,
            laplace,
            phi: vec![0.0; space.num_dofs()],
            best_effort: false,
        })
    }

    /// The mover that, where the next update would tangle the mesh even
    /// cut to a thousandth, returns the last valid iterate (unconverged)
    /// and keeps its potential, instead of failing and starting from zero:
    /// what a time loop wants (the next move continues from there).
    pub fn best_effort(mut self) -> Self {
        self.best_effort = true;
        self
    }

    /// Relaxes `φ` (from where the last call left it) until the mesh
    /// equidistributes `monitor`, or the iteration limit. An error if a
    /// cell inverts or the residual grows past `dtol` times its first
    /// value (then `φ` starts again from zero next time); at the limit the
    /// last mesh is returned with `converged: false`.
    pub fn relax(&mut self, monitor: &dyn Fn([f64; 3]) -> f64) -> Result<Equidistributed> {
        let result = self.iterate(monitor);
        if result.is_err() {
            self.phi.iter_mut().for_each(|p| *p = 0.0);
        }
        result
    }

    /// The potential `φ` (one value per P1 dof) the next relaxation starts
    /// from.
    pub fn potential(&self) -> &[f64] {
        &self.phi
    }

    /// Sets the potential the next relaxation starts from (a
    /// [`MongeAmpere::potential`] kept by a checkpoint).
    pub fn set_potential(&mut self, phi: &[f64]) -> Result<()> {
        if phi.len() != self.phi.len() {
            bail!(
                "{} potential values for a mover of {} dofs",
                phi.len(),
                self.phi.len()
            );
        }
        self.phi = phi.to_vec();
        Ok(())
    }

    /// The gradient of the potential on triangle `c`.
    fn phi_gradient(&self, c: usize) -> [f64; 2] {
        self.t
            .gradient(c, |node| self.dof[node].map_or(0.0, |d| self.phi[d]))
    }

    /// The mesh of the current potential, `x = ξ + ∇φ`: `∇φ` projected
    /// onto the nodes (lumped), its normal part removed on the boundary
    /// (and curved-boundary nodes put back onto the boundary).
    pub fn points(&self) -> Vec<[f64; 3]> {
        let g = self.t.project(|c| self.phi_gradient(c));
        self.mesh
            .points
            .iter()
            .zip(&g)
            .enumerate()
            .map(|(i, (p, gi))| {
                let x = self.path.moved(i, &self.boundary, [p[0], p[1]], *gi);
                [x[0], x[1], p[2]]
            })
            .collect()
    }

    /// The nodal Laplacian `s` of the current potential, `K φ = −M s`
    /// (`K` the stiffness matrix, `M` the lumped mass, on `ξ`): `1 + s` is
    /// the linear part of the area ratio `det(I + H(φ))` of the cells
    /// around each node. What the learned mover predicts
    /// ([`MongeAmpere::set_laplacian`] turns it back into the mesh).
    pub fn laplacian(&self) -> Vec<f64> {
        let t = &self.t;
        let mut k_phi = vec![0.0; self.mesh.num_points()];
        for (c, k) in t.corners.iter().enumerate() {
            let g = self.phi_gradient(c);
            for (a, &node) in k.iter().enumerate() {
                let psi = t.gradients[c][a];
                k_phi[node] += t.area[c] * (psi[0] * g[0] + psi[1] * g[1]);
            }
        }
        k_phi
            .iter()
            .zip(&t.lumped)
            .map(|(k, w)| if *w > 0.0 { -k / w } else { 0.0 })
            .collect()
    }

    /// Sets the potential to the Neumann solution of `−K φ = M s` (the
    /// mean of `s` removed, so that it is solvable; `φ` of mean zero) and
    /// returns its mesh ([`MongeAmpere::points`]). With `s` from
    /// [`MongeAmpere::laplacian`] it restores that potential.
    pub fn set_laplacian(&mut self, s: &[f64]) -> Result<Vec<[f64; 3]>> {
        let (t, n) = (&self.t, self.mesh.num_points());
        if s.len() != n {
            bail!("{} Laplacian values for a mesh of {n} points", s.len());
        }
        let total: f64 = t.lumped.iter().sum();
        let mean = s.iter().zip(&t.lumped).map(|(v, w)| v * w).sum::<f64>() / total;
        let mut rhs = vec![0.0; self.phi.len()];
        for (node, (v, w)) in s.iter().zip(&t.lumped).enumerate() {
            if let Some(d) = self.dof[node] {
                rhs[d] = -w * (v - mean);
            }
        }
        rhs[0] = 0.0;
        let mut phi = vec![0.0; rhs.len()];
        self.laplace
            .solve(&self.pinned, &rhs, &mut phi)
            .context("the Monge–Ampère mover's Laplace solve")?;
        let mean = phi.iter().sum::<f64>() / phi.len() as f64;
        phi.iter_mut().for_each(|p| *p -= mean);
        self.phi = phi;
        Ok(self.points())
    }

    /// At most `iterations` relaxation iterations from the potential set
    /// by [`MongeAmpere::set_laplacian`] (a learned mover's prediction),
    /// that potential treated as the last update, so that a prediction
    /// that tangles the mesh is halved as an update would be; stops at the
    /// last valid iterate (tolerance 1e-4).
    pub fn polish(
        &mut self,
        monitor: &dyn Fn([f64; 3]) -> f64,
        iterations: usize,
    ) -> Result<Equidistributed> {
        let saved = (self.settings, self.best_effort);
        self.settings.max_iterations = iterations;
        self.settings.rtol = 1e-4;
        self.best_effort = true;
        let result = self.iterate_from(monitor, Some(self.phi.clone()));
        (self.settings, self.best_effort) = saved;
        result
    }

    fn iterate(&mut self, monitor: &dyn Fn([f64; 3]) -> f64) -> Result<Equidistributed> {
        self.iterate_from(monitor, None)
    }

    /// The relaxation from the current potential; `first`, if given, is
    /// taken as the update that led there (halved if its mesh tangles).
    fn iterate_from(
        &mut self,
        monitor: &dyn Fn([f64; 3]) -> f64,
        first: Option<Vec<f64>>,
    ) -> Result<Equidistributed> {
        let (t, dof, settings) = (&self.t, &self.dof, self.settings);
        let n = self.mesh.num_points();
        let total: f64 = t.lumped.iter().sum();
        let mut residuals = Vec::new();
        let mut iteration = 0;
        // The last update of φ, and the fraction of Δτ it was made with.
        let mut last_update: Option<Vec<f64>> = first;
        let mut fraction = 1.0;
        let mut cuts = 0;
        // The last iterate whose cells were all valid.
        let mut last_valid: Option<Vec<[f64; 3]>> = None;
        loop {
            let points = self.points();
            let cell_gradient = |c: usize| self.phi_gradient(c);
            if let Some(c) = t
                .corners
                .iter()
                .position(|k| signed_area(k.map(|n| points[n])) <= 0.0)
            {
                // Strong monitors overshoot: halve the last update and
                // try again, down to a thousandth of it.
                match last_update.as_mut() {
                    Some(update) if cuts < 10 => {
                        cuts += 1;
                        for (p, u) in self.phi.iter_mut().zip(update.iter_mut()) {
                            *u *= 0.5;
                            *p -= *u;
                        }
                        fraction *= 0.5;
                        continue;
                    }
                    Some(update) if self.best_effort => {
                        // Back to the last valid iterate, and stop there.
                        for (p, u) in self.phi.iter_mut().zip(update.iter()) {
                            *p -= *u;
                        }
                        return Ok(Equidistributed {
                            points: last_valid
                                .take()
                                .unwrap_or_else(|| self.mesh.points.clone()),
                            iterations: iteration,
                            residuals,
                            converged: false,
                        });
                    }
                    _ => bail!(
                        "the Monge–Ampère mover inverted triangle {c} at iteration {iteration}"
                    ),
                }
            }
            last_valid = Some(points.clone());
            // H by the weak form ∫ψ H_ab = −∫∂_b ψ ∂_a φ + ∫_∂Ω ψ t(∇φ)_a n_b
            // (lumped mass; t: the tangential part, so that ∂φ/∂n = 0 enters
            // weakly), from the cell gradients of φ.
            let mut hessian = vec![[0.0; 4]; n];
            for (c, k) in t.corners.iter().enumerate() {
                let grad_phi = cell_gradient(c);
                for (a, &node) in k.iter().enumerate() {
                    let psi = t.gradients[c][a];
                    for (r, gp) in grad_phi.iter().enumerate() {
                        for (col, ps) in psi.iter().enumerate() {
                            hessian[node][2 * r + col] -= t.area[c] * ps * gp;
                        }
                    }
                }
            }
            for &BoundaryEdge {
                cell,
                a,
                b,
                normal,
                length,
            } in &self.boundary_edges
            {
                let tangential = Boundary::Slides(normal).allowed(cell_gradient(cell));
                for node in [a, b] {
                    for r in 0..2 {
                        for col in 0..2 {
                            hessian[node][2 * r + col] +=
                                0.5 * length * tangential[r] * normal[col];
                        }
                    }
                }
            }
            for (h, &w) in hessian.iter_mut().zip(&t.lumped) {
                h.iter_mut().for_each(|v| *v /= w);
            }
            let density: Vec<f64> = (0..n)
                .map(|i| {
                    let h = hessian[i];
                    let m = monitor(points[i]);
                    m * ((1.0 + h[0]) * (1.0 + h[3]) - h[1] * h[2])
                })
                .collect();
            let theta = density
                .iter()
                .zip(&t.lumped)
                .map(|(d, w)| d * w)
                .sum::<f64>()
                / total;
            let weighted: Vec<f64> = density
                .iter()
                .zip(&t.lumped)
                .map(|(d, w)| w * (d - theta))
                .collect();
            let residual = crate::linalg::norm(&weighted)
                / crate::linalg::norm(&t.lumped.iter().map(|w| w * theta).collect::<Vec<_>>());
            residuals.push(residual);
            let converged = residual < settings.rtol;
            if converged || iteration == settings.max_iterations {
                return Ok(Equidistributed {
                    points,
                    iterations: iteration,
                    residuals,
                    converged,
                });
            }
            if residual > settings.dtol * residuals[0] {
                bail!(
                    "the Monge–Ampère mover diverged: residual {residual:.3e} at iteration \
                     {iteration}, {:.3e} at the start",
                    residuals[0]
                );
            }
            // One pseudo-time step: K δ = Δτ M (m det − θ), δ of mean zero.
            let mut rhs = vec![0.0; self.phi.len()];
            for (v, value) in weighted.iter().enumerate() {
                if let Some(d) = dof[v] {
                    rhs[d] = fraction * settings.pseudo_timestep * value;
                }
            }
            let mut delta = vec![0.0; rhs.len()];
            rhs[0] = 0.0;
            self.laplace
                .solve(&self.pinned, &rhs, &mut delta)
                .context("the Monge–Ampère mover's Laplace solve")?;
            let mean = delta.iter().sum::<f64>() / delta.len() as f64;
            delta.iter_mut().for_each(|d| *d -= mean);
            for (p, d) in self.phi.iter_mut().zip(&delta) {
                *p += d;
            }
            last_update = Some(delta);
            cuts = 0;
            // After a cut, the step grows back towards Δτ.
            fraction = (1.5 * fraction).min(1.0);
            iteration += 1;
        }
    }
}
