//! Monge–Ampère r-adaptation (Budd, Huang & Russell; McRae, Cotter & Budd
//! 2018): the moved mesh is `x = ξ + ∇φ`, where `φ` solves
//! `m(x) det(I + H(φ)) = θ` on the computational mesh `ξ`, so that every
//! cell holds the same share of `∫ m`. `φ` is P1 and is found by the
//! parabolic relaxation `−Δφ_τ = m det(I + H) − θ` (forward Euler in
//! pseudo-time, as Firedrake's `movement` does): each iteration recovers
//! the nodal gradient `g = ∇φ` by lumped L2 projection and the Hessian by
//! the weak form `∫ψ H = −∫∇ψ ⊗ ∇φ + ∫_∂Ω ψ t(∇φ) ⊗ n` (lumped; `t` the
//! tangential part, so `∂φ/∂n = 0` enters weakly), moves the nodes,
//! evaluates the monitor there, and solves one Neumann Laplace problem on
//! `ξ`. (Taking the Hessian as the gradient of the projected gradient
//! instead let cells next to the boundary invert after some hundred
//! iterations, measured.) Boundary nodes slide along straight
//! boundary segments (the normal part of `g` removed) and corners (nodes
//! whose boundary edges are not collinear) stay fixed, so the domain keeps
//! its shape. Triangles only, for now.

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use pde_mesh::{CellKind, Mesh};

use crate::fem::{assembly, FunctionSpace};
use crate::linalg::factor::Ic0;
use crate::linalg::krylov::{Cg, Tolerance};
use crate::linalg::{LinearSolver, SparseMatrix};

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
}

/// The triangles of a mesh with what the relaxation needs of them.
struct Triangles {
    /// Corner nodes of each triangle.
    corners: Vec<[usize; 3]>,
    /// Area on the computational mesh.
    area: Vec<f64>,
    /// Gradients of the three barycentric functions on the computational
    /// mesh.
    gradients: Vec<[[f64; 2]; 3]>,
    /// Lumped mass of each node (`Σ |K| / 3`).
    lumped: Vec<f64>,
}

/// Signed area of a triangle.
fn signed_area(p: [[f64; 3]; 3]) -> f64 {
    0.5 * ((p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[2][0] - p[0][0]) * (p[1][1] - p[0][1]))
}

impl Triangles {
    fn of(mesh: &Mesh) -> Result<Self> {
        let block = mesh
            .domain_blocks()
            .map(|(_, b)| b)
            .find(|b| b.kind == CellKind::Tri3)
            .filter(|_| mesh.dim() == 2 && mesh.domain_blocks().count() == 1)
            .context("the Monge–Ampère mover needs a mesh of linear triangles (Tri3) only")?;
        let mut t = Triangles {
            corners: Vec::with_capacity(block.len()),
            area: Vec::with_capacity(block.len()),
            gradients: Vec::with_capacity(block.len()),
            lumped: vec![0.0; mesh.num_points()],
        };
        for (c, nodes) in block.cells().enumerate() {
            let k = [nodes[0], nodes[1], nodes[2]];
            let p = k.map(|n| mesh.points[n]);
            let area = signed_area(p);
            if area <= 0.0 {
                bail!("triangle {c} has a non-positive area ({area:e}); the mover needs counter-clockwise cells");
            }
            // ∇λ_a = (perpendicular of the opposite edge) / (2 |K|).
            let gradient = |a: usize| {
                let (b, d) = (p[(a + 1) % 3], p[(a + 2) % 3]);
                [(b[1] - d[1]) / (2.0 * area), (d[0] - b[0]) / (2.0 * area)]
            };
            t.gradients.push([gradient(0), gradient(1), gradient(2)]);
            for n in k {
                t.lumped[n] += area / 3.0;
            }
            t.corners.push(k);
            t.area.push(area);
        }
        Ok(t)
    }

    /// The lumped L2 projection onto the nodes of a per-cell vector field.
    fn project<const D: usize>(&self, per_cell: impl Fn(usize) -> [f64; D]) -> Vec<[f64; D]> {
        let mut nodal = vec![[0.0; D]; self.lumped.len()];
        for (c, k) in self.corners.iter().enumerate() {
            let v = per_cell(c);
            for &n in k {
                for d in 0..D {
                    nodal[n][d] += self.area[c] / 3.0 * v[d];
                }
            }
        }
        for (v, &w) in nodal.iter_mut().zip(&self.lumped) {
            if w > 0.0 {
                v.iter_mut().for_each(|x| *x /= w);
            }
        }
        nodal
    }
}

/// What a boundary node may do.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Boundary {
    /// An interior node: free.
    Interior,
    /// On a straight part of the boundary with this unit normal: slides.
    Slides([f64; 2]),
    /// A corner (or a node of a curved boundary): fixed.
    Fixed,
}

/// How each node may move, from the boundary edges.
fn boundary_kinds(nodes: usize, edges: &[BoundaryEdge]) -> Vec<Boundary> {
    let mut kinds = vec![Boundary::Interior; nodes];
    for e in edges {
        for n in [e.a, e.b] {
            kinds[n] = match kinds[n] {
                Boundary::Interior => Boundary::Slides(e.normal),
                Boundary::Slides(m) if (m[0] * e.normal[1] - m[1] * e.normal[0]).abs() < 1e-10 => {
                    Boundary::Slides(m)
                }
                _ => Boundary::Fixed,
            };
        }
    }
    kinds
}

/// An edge on the boundary of the triangulation.
#[derive(Clone, Copy, Debug)]
struct BoundaryEdge {
    /// The triangle that has it.
    cell: usize,
    /// Its nodes, in the triangle's (counter-clockwise) order.
    a: usize,
    b: usize,
    /// Its outward unit normal.
    normal: [f64; 2],
    /// Its length.
    length: f64,
}

/// The edges only one triangle has.
fn boundary_edges(mesh: &Mesh, t: &Triangles) -> Vec<BoundaryEdge> {
    // Per undirected edge: (triangle, first node, second node) of each side.
    let mut owners = std::collections::HashMap::<_, Vec<(usize, usize, usize)>>::new();
    for (c, k) in t.corners.iter().enumerate() {
        for e in 0..3 {
            let (a, b) = (k[e], k[(e + 1) % 3]);
            owners
                .entry((a.min(b), a.max(b)))
                .or_default()
                .push((c, a, b));
        }
    }
    let mut edges: Vec<BoundaryEdge> = owners
        .values()
        .filter_map(|cells| match cells[..] {
            [(cell, a, b)] => {
                // Counter-clockwise triangle: edge a→b's outward normal is
                // (dy, −dx).
                let (p, q) = (mesh.points[a], mesh.points[b]);
                let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
                let length = dx.hypot(dy);
                Some(BoundaryEdge {
                    cell,
                    a,
                    b,
                    normal: [dy / length, -dx / length],
                    length,
                })
            }
            _ => None,
        })
        .collect();
    // A fixed order, whatever the hash map's.
    edges.sort_by_key(|e| (e.cell, e.a));
    edges
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
    let t = Triangles::of(mesh)?;
    let boundary_edges = boundary_edges(mesh, &t);
    let boundary = boundary_kinds(mesh.num_points(), &boundary_edges);
    let n = mesh.num_points();
    // The Neumann Laplacian on ξ, on the P1 dofs (vertex numbering aside).
    let space = FunctionSpace::new(Arc::new(mesh.clone()), 1)?;
    let stiffness: SparseMatrix = assembly::assemble_matrix(&space, 0, assembly::laplace(|_| 1.0))?;
    // φ is defined up to a constant: pinning dof 0 makes the Neumann
    // Laplacian SPD (the right-hand side sums to zero, so nothing else
    // changes), and the mean is removed after each solve.
    let pinned = {
        let mut k = stiffness.clone();
        let mut rhs = vec![0.0; space.num_dofs()];
        crate::fem::bc::apply_dirichlet(&mut k, &mut rhs, &[0], &[0.0]);
        k
    };
    let dof: Vec<Option<usize>> = (0..n).map(|v| space.vertex_dof(v)).collect();
    let mut laplace = Cg::new(
        Box::new(Ic0::default()),
        Tolerance {
            rtol: 1e-10,
            atol: 0.0,
            max_iterations: 2000,
        },
    );
    let mut phi = vec![0.0; space.num_dofs()];
    let total: f64 = t.lumped.iter().sum();
    let mut residuals = Vec::new();
    let mut iteration = 0;
    loop {
        let cell_gradient = |c: usize| {
            let mut v = [0.0; 2];
            for (a, &node) in t.corners[c].iter().enumerate() {
                let value = dof[node].map_or(0.0, |d| phi[d]);
                v[0] += value * t.gradients[c][a][0];
                v[1] += value * t.gradients[c][a][1];
            }
            v
        };
        // g = ∇φ at the nodes, the normal part removed on the boundary.
        let mut g = t.project(cell_gradient);
        for (gi, kind) in g.iter_mut().zip(&boundary) {
            match kind {
                Boundary::Interior => {}
                Boundary::Slides(nrm) => {
                    let along = gi[0] * nrm[0] + gi[1] * nrm[1];
                    gi[0] -= along * nrm[0];
                    gi[1] -= along * nrm[1];
                }
                Boundary::Fixed => *gi = [0.0; 2],
            }
        }
        let points: Vec<[f64; 3]> = mesh
            .points
            .iter()
            .zip(&g)
            .map(|(p, gi)| [p[0] + gi[0], p[1] + gi[1], p[2]])
            .collect();
        if let Some(c) = t
            .corners
            .iter()
            .position(|k| signed_area(k.map(|n| points[n])) <= 0.0)
        {
            bail!("the Monge–Ampère mover inverted triangle {c} at iteration {iteration}");
        }
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
        } in &boundary_edges
        {
            let gp = cell_gradient(cell);
            let along = gp[0] * normal[0] + gp[1] * normal[1];
            let tangential = [gp[0] - along * normal[0], gp[1] - along * normal[1]];
            for node in [a, b] {
                for r in 0..2 {
                    for col in 0..2 {
                        hessian[node][2 * r + col] += 0.5 * length * tangential[r] * normal[col];
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
        if residual < settings.rtol {
            return Ok(Equidistributed {
                points,
                iterations: iteration,
                residuals,
            });
        }
        if iteration == settings.max_iterations {
            bail!(
                "the Monge–Ampère mover did not converge: residual {residual:.3e} after \
                 {iteration} iterations (tolerance {:.1e})",
                settings.rtol
            );
        }
        if residual > settings.dtol * residuals[0] {
            bail!(
                "the Monge–Ampère mover diverged: residual {residual:.3e} at iteration \
                 {iteration}, {:.3e} at the start",
                residuals[0]
            );
        }
        // One pseudo-time step: K δ = Δτ M (m det − θ), δ of mean zero.
        let mut rhs = vec![0.0; space.num_dofs()];
        for (v, value) in weighted.iter().enumerate() {
            if let Some(d) = dof[v] {
                rhs[d] = settings.pseudo_timestep * value;
            }
        }
        let mut delta = vec![0.0; rhs.len()];
        rhs[0] = 0.0;
        laplace
            .solve(&pinned, &rhs, &mut delta)
            .context("the Monge–Ampère mover's Laplace solve")?;
        let mean = delta.iter().sum::<f64>() / delta.len() as f64;
        for (p, d) in phi.iter_mut().zip(&delta) {
            *p += d - mean;
        }
        iteration += 1;
    }
}
