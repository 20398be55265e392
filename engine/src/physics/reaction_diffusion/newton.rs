//! The Jacobian of the fully implicit step as one sparse matrix over all
//! species (species-major unknowns `i * n + k`): block `(i, j)` is
//! `δ_ij (α M + dt D_i K) - dt M diag(∂R_i/∂u_j)`, present where `i = j` or
//! `R_i` depends on `u_j`. Every block has the pattern of `M`.

use crate::linalg::direct::SparseLu;
use crate::linalg::{zeros_with_pattern, SparseMatrix};
use pde_mesh::Csr;

/// The block matrix, its LU solver (the symbolic analysis is kept across
/// steps, the pattern never changes) and which blocks are present.
pub(super) struct BlockJacobian {
    pub(super) matrix: SparseMatrix,
    pub(super) lu: SparseLu,
    /// Per block row `i`: `(j, k)` in increasing `j`, with `k` the index of
    /// `∂R_i/∂u_j` among the reaction's Jacobian entries (None: zero).
    rows: Vec<Vec<(usize, Option<usize>)>>,
}

impl BlockJacobian {
    /// The pattern for `species` species coupled through `entries` (the
    /// nonzero `(i, j)` of `∂R/∂u`, as [`super::Reaction::jacobian_entries`]
    /// gives them), on the scalar pattern `mass`.
    pub(super) fn new(species: usize, entries: &[(usize, usize)], mass: &SparseMatrix) -> Self {
        let rows: Vec<Vec<(usize, Option<usize>)>> = (0..species)
            .map(|i| {
                let mut row: Vec<(usize, Option<usize>)> = (0..species)
                    .filter_map(|j| {
                        let k = entries.iter().position(|&e| e == (i, j));
                        (i == j || k.is_some()).then_some((j, k))
                    })
                    .collect();
                row.sort_by_key(|(j, _)| *j);
                row
            })
            .collect();
        let s = mass.symbolic();
        let (ptr, col) = (s.row_ptr(), s.col_idx());
        let n = mass.nrows();
        let mut offsets = vec![0];
        let mut indices = Vec::new();
        for row in &rows {
            for r in 0..n {
                for &(j, _) in row {
                    indices.extend(col[ptr[r]..ptr[r + 1]].iter().map(|c| j * n + c));
                }
                offsets.push(indices.len());
            }
        }
        BlockJacobian {
            matrix: zeros_with_pattern(Csr { offsets, indices }),
            lu: SparseLu::new(),
            rows,
        }
    }

    /// Fills the values: `alpha M + dt D_i K` on the diagonal blocks minus
    /// `dt M diag(jac[k])` for each entry `k` (`jac[k][c]`: `∂R_i/∂u_j` at
    /// dof `c`).
    pub(super) fn fill(
        &mut self,
        mass: &SparseMatrix,
        stiffness: &SparseMatrix,
        alpha: f64,
        dt: f64,
        diffusion: &[f64],
        jac: &[Vec<f64>],
    ) {
        let s = mass.symbolic();
        let (ptr, col) = (s.row_ptr(), s.col_idx());
        let (m, a) = (mass.val(), stiffness.val());
        let n = mass.nrows();
        let values = self.matrix.val_mut();
        let mut pos = 0;
        for (i, row) in self.rows.iter().enumerate() {
            for r in 0..n {
                for &(j, k) in row {
                    for p in ptr[r]..ptr[r + 1] {
                        let mut v = k.map_or(0.0, |k| -dt * m[p] * jac[k][col[p]]);
                        if i == j {
                            v += alpha * m[p] + dt * diffusion[i] * a[p];
                        }
                        values[pos] = v;
                        pos += 1;
                    }
                }
            }
        }
    }
}
