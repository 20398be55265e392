//! Classical preconditioners.

use super::{Preconditioner, SolverError, SparseMatrix};

/// No preconditioning (`M = I`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl Preconditioner for Identity {
    fn setup(&mut self, _a: &SparseMatrix) -> Result<(), SolverError> {
        Ok(())
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        z.copy_from_slice(r);
    }
    fn name(&self) -> &'static str {
        "none"
    }
}

/// Jacobi: `M = diag(A)`.
#[derive(Clone, Debug, Default)]
pub struct Jacobi {
    inverse_diagonal: Vec<f64>,
}

impl Preconditioner for Jacobi {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        let diagonal = diagonal_positions(a, "Jacobi")?;
        self.inverse_diagonal = diagonal.iter().map(|&k| 1.0 / a.val()[k]).collect();
        Ok(())
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        for ((zi, ri), di) in z.iter_mut().zip(r).zip(&self.inverse_diagonal) {
            *zi = ri * di;
        }
    }
    fn name(&self) -> &'static str {
        "jacobi"
    }
}

/// Positions of the diagonal entries of each row (an error names a row without one).
fn diagonal_positions(a: &SparseMatrix, method: &'static str) -> Result<Vec<usize>, SolverError> {
    (0..a.nrows())
        .map(|i| {
            super::entry_index(a, i, i)
                .filter(|&k| a.val()[k] != 0.0)
                .ok_or_else(|| SolverError::Breakdown {
                    method,
                    iteration: 0,
                    reason: format!("row {i} has no (non-zero) diagonal entry"),
                })
        })
        .collect()
}

/// Symmetric successive over-relaxation: a forward then a backward
/// Gauss–Seidel sweep with relaxation `omega` in (0, 2). Symmetric for
/// symmetric matrices, so it can precondition CG.
#[derive(Clone, Debug)]
pub struct Ssor {
    /// Relaxation factor.
    pub omega: f64,
    matrix: Option<SparseMatrix>,
    diagonal: Vec<usize>,
}

impl Ssor {
    /// SSOR with relaxation `omega`.
    pub fn new(omega: f64) -> Self {
        Ssor {
            omega,
            matrix: None,
            diagonal: Vec::new(),
        }
    }
}

impl Preconditioner for Ssor {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        if !(self.omega > 0.0 && self.omega < 2.0) {
            return Err(SolverError::Breakdown {
                method: "SSOR",
                iteration: 0,
                reason: format!("relaxation {} must lie in (0, 2)", self.omega),
            });
        }
        self.diagonal = diagonal_positions(a, "SSOR")?;
        self.matrix = Some(a.clone());
        Ok(())
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        let a = self.matrix.as_ref().expect("SSOR used before setup");
        let s = a.symbolic();
        let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
        let w = self.omega;
        let n = r.len();
        // (D/w + L) y = r
        for i in 0..n {
            let mut sum = r[i];
            for k in ptr[i]..self.diagonal[i] {
                sum -= val[k] * z[col[k]];
            }
            z[i] = sum * w / val[self.diagonal[i]];
        }
        // scale by (2 - w) / w D, then (D/w + U) z = that
        for i in 0..n {
            z[i] *= (2.0 - w) / w * val[self.diagonal[i]];
        }
        for i in (0..n).rev() {
            let mut sum = z[i];
            for k in self.diagonal[i] + 1..ptr[i + 1] {
                sum -= val[k] * z[col[k]];
            }
            z[i] = sum * w / val[self.diagonal[i]];
        }
    }

    fn name(&self) -> &'static str {
        "ssor"
    }
}

/// Incomplete LU without fill, ILU(0): `L U` on the pattern of `A` (unit
/// lower `L`). On a symmetric matrix it is IC(0) in `L D L^T` form, which is
/// symmetric, so it can precondition CG as well as GMRES and BiCGStab.
#[derive(Clone, Debug, Default)]
pub struct Ilu0 {
    factors: Option<SparseMatrix>,
    diagonal: Vec<usize>,
}

impl Preconditioner for Ilu0 {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        let mut lu = a.clone();
        let diagonal = diagonal_positions(a, "ILU(0)")?;
        let (ptr, col) = {
            let s = lu.symbolic();
            (s.row_ptr().to_vec(), s.col_idx().to_vec())
        };
        let n = a.nrows();
        let val = lu.val_mut();
        // Row-wise IKJ elimination restricted to the pattern; `where_in_row`
        // maps a column to its position in the current row.
        let mut where_in_row = vec![usize::MAX; n];
        for i in 0..n {
            for k in ptr[i]..ptr[i + 1] {
                where_in_row[col[k]] = k;
            }
            for kk in ptr[i]..diagonal[i] {
                let j = col[kk];
                let pivot = val[diagonal[j]];
                if pivot == 0.0 || !pivot.is_finite() {
                    return Err(SolverError::Breakdown {
                        method: "ILU(0)",
                        iteration: 0,
                        reason: format!("zero pivot in row {j}"),
                    });
                }
                val[kk] /= pivot;
                let lij = val[kk];
                for m in diagonal[j] + 1..ptr[j + 1] {
                    let p = where_in_row[col[m]];
                    if p != usize::MAX {
                        val[p] -= lij * val[m];
                    }
                }
            }
            for k in ptr[i]..ptr[i + 1] {
                where_in_row[col[k]] = usize::MAX;
            }
            if val[diagonal[i]] == 0.0 {
                return Err(SolverError::Breakdown {
                    method: "ILU(0)",
                    iteration: 0,
                    reason: format!("zero pivot in row {i}"),
                });
            }
        }
        self.diagonal = diagonal;
        self.factors = Some(lu);
        Ok(())
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        let lu = self.factors.as_ref().expect("ILU(0) used before setup");
        let s = lu.symbolic();
        let (ptr, col, val) = (s.row_ptr(), s.col_idx(), lu.val());
        let n = r.len();
        for i in 0..n {
            let mut sum = r[i];
            for k in ptr[i]..self.diagonal[i] {
                sum -= val[k] * z[col[k]];
            }
            z[i] = sum;
        }
        for i in (0..n).rev() {
            let mut sum = z[i];
            for k in self.diagonal[i] + 1..ptr[i + 1] {
                sum -= val[k] * z[col[k]];
            }
            z[i] = sum / val[self.diagonal[i]];
        }
    }

    fn name(&self) -> &'static str {
        "ilu0"
    }
}
