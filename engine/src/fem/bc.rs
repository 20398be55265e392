//! Dirichlet conditions by elimination, keeping the matrix symmetric.

use crate::linalg::SparseMatrix;

/// Imposes `u[d] = values[k]` for `dofs[k]` on the system `A u = b`: the
/// known values move to the right-hand side, their rows and columns become
/// those of the identity. A symmetric (positive definite) matrix stays so.
pub fn apply_dirichlet(a: &mut SparseMatrix, b: &mut [f64], dofs: &[usize], values: &[f64]) {
    let n = b.len();
    let mut fixed: Vec<Option<f64>> = vec![None; n];
    for (&d, &v) in dofs.iter().zip(values) {
        fixed[d] = Some(v);
    }
    let (ptr, col) = {
        let s = a.symbolic();
        (s.row_ptr().to_vec(), s.col_idx().to_vec())
    };
    let val = a.val_mut();
    for i in 0..n {
        if let Some(g) = fixed[i] {
            for k in ptr[i]..ptr[i + 1] {
                val[k] = if col[k] == i { 1.0 } else { 0.0 };
            }
            b[i] = g;
        } else {
            for k in ptr[i]..ptr[i + 1] {
                if let Some(g) = fixed[col[k]] {
                    b[i] -= val[k] * g;
                    val[k] = 0.0;
                }
            }
        }
    }
}
