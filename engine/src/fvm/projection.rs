//! Discretely divergence-free face velocities. A velocity sampled at face
//! centroids (from a finite-element flow, or an expression) balances in
//! every cell only up to discretisation error; a scalar carried by it then
//! piles up where the face fluxes converge (at stagnation points, against
//! walls) and can exceed the bounds of its initial and inflow values. The
//! projection removes that error: it subtracts the gradient of a potential
//! `φ` (two-point differences across faces) so that every cell's net
//! outflow is zero:
//!
//! `Σ_f (u_f - w_f (φ_Q - φ_P)) |f| = 0`,  `w_f = 1 / |x_Q - x_P|`,
//!
//! a graph-Laplacian system for `φ`, factorised once (Cholesky) and solved
//! once per new velocity. Walls get zero normal velocity, inflow faces keep
//! theirs, and open faces (outflow) take `φ = 0` outside. With such a
//! field, first-order upwinding is a convex combination of neighbouring
//! values: the carried scalar stays within its bounds.

use super::geometry::{dot3, Face, FvMesh};
use crate::linalg::direct::Cholesky;
use crate::linalg::{entry_index, zeros_with_pattern, LinearSolver, SolverError, SparseMatrix};

/// What the projection may do with a face's velocity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaceRole {
    /// Corrected: interior faces, and open boundary faces (`φ = 0`
    /// outside).
    Free,
    /// Kept as given (inflow faces).
    Fixed,
    /// Set to zero (walls).
    Closed,
}

/// The projection of face velocities onto discretely divergence-free ones,
/// for one mesh and one assignment of boundary roles.
pub struct FluxProjection {
    roles: Vec<FaceRole>,
    /// `w_f |f|` of every face (0 where the role is not `Free`).
    conductance: Vec<f64>,
    matrix: SparseMatrix,
    solver: Cholesky,
}

impl FluxProjection {
    /// The projection on `mesh` with the boundary roles `role(face)`
    /// (interior faces are always free). If no boundary face is free, the
    /// potential is fixed in cell 0, and the fluxes balance in every other
    /// cell (exactly everywhere when the fixed inflow balances).
    pub fn new(mesh: &FvMesh, role: impl Fn(&Face) -> FaceRole) -> Self {
        let roles: Vec<FaceRole> = mesh
            .faces
            .iter()
            .map(|f| {
                if f.neighbour.is_some() {
                    FaceRole::Free
                } else {
                    role(f)
                }
            })
            .collect();
        let conductance: Vec<f64> = (0..mesh.faces.len())
            .map(|f| {
                if roles[f] != FaceRole::Free {
                    return 0.0;
                }
                let face = &mesh.faces[f];
                let d = match mesh.across(f, face.owner) {
                    Some((_, d)) => d,
                    None => {
                        let (c, p) = (face.centroid, mesh.centroid[face.owner]);
                        [c[0] - p[0], c[1] - p[1], c[2] - p[2]]
                    }
                };
                face.area / dot3(d, d).sqrt()
            })
            .collect();
        let n = mesh.num_cells();
        let mut matrix = zeros_with_pattern(mesh.cell_adjacency());
        let mut values = vec![0.0; matrix.val().len()];
        let at = |i, j| entry_index(&matrix, i, j).expect("cell adjacency pattern");
        for (face, &g) in mesh.faces.iter().zip(&conductance) {
            let p = face.owner;
            values[at(p, p)] += g;
            if let Some(q) = face.neighbour {
                values[at(q, q)] += g;
                values[at(p, q)] -= g;
                values[at(q, p)] -= g;
            }
        }
        let open = mesh
            .faces
            .iter()
            .zip(&roles)
            .any(|(f, r)| f.neighbour.is_none() && *r == FaceRole::Free);
        if !open && n > 0 {
            values[at(0, 0)] += 1.0;
        }
        matrix.val_mut().copy_from_slice(&values);
        FluxProjection {
            roles,
            conductance,
            matrix,
            solver: Cholesky::new(),
        }
    }

    /// Replaces the face normal velocities `un` (one per face, along the
    /// face normal) by their projection.
    pub fn project(&mut self, mesh: &FvMesh, un: &mut [f64]) -> Result<(), SolverError> {
        for (u, role) in un.iter_mut().zip(&self.roles) {
            if *role == FaceRole::Closed {
                *u = 0.0;
            }
        }
        // -(net outflow) of every cell.
        let mut rhs = vec![0.0; mesh.num_cells()];
        for (face, u) in mesh.faces.iter().zip(un.iter()) {
            rhs[face.owner] -= u * face.area;
            if let Some(q) = face.neighbour {
                rhs[q] += u * face.area;
            }
        }
        let mut phi = vec![0.0; rhs.len()];
        self.solver.solve(&self.matrix, &rhs, &mut phi)?;
        for (f, face) in mesh.faces.iter().enumerate() {
            if self.roles[f] == FaceRole::Free {
                let outside = face.neighbour.map_or(0.0, |q| phi[q]);
                un[f] -= self.conductance[f] * (outside - phi[face.owner]) / face.area;
            }
        }
        Ok(())
    }
}
