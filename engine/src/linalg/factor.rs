//! Preconditioners of the form `M = L Lᵀ` with `L` lower triangular on the
//! pattern of the lower triangle of `A`: incomplete Cholesky IC(0), and the
//! factors learned models predict (feature `torch`), which are applied by
//! the same triangular solves, so that one of their iterations costs what
//! an IC(0) iteration costs.

use super::{Preconditioner, SolverError, SparseMatrix};

/// The lower triangle of a square matrix's pattern: for each of its
/// entries, the row, the column and where the value sits in the matrix.
/// Rows are sorted, so each row's diagonal comes last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerPattern {
    /// Row offsets into `cols` (`n + 1` of them).
    pub row_ptr: Vec<usize>,
    /// Column of each entry (sorted within a row; the diagonal last).
    pub cols: Vec<usize>,
    /// Position of each entry in the matrix's value array.
    pub source: Vec<usize>,
}

impl LowerPattern {
    /// The lower triangle of `a`, diagonal included; an error names a row
    /// whose diagonal entry is missing.
    pub fn of(a: &SparseMatrix) -> Result<Self, SolverError> {
        let s = a.symbolic();
        let (ptr, col) = (s.row_ptr(), s.col_idx());
        let mut pattern = LowerPattern {
            row_ptr: vec![0],
            cols: Vec::new(),
            source: Vec::new(),
        };
        for i in 0..a.nrows() {
            for (k, &j) in col.iter().enumerate().take(ptr[i + 1]).skip(ptr[i]) {
                if j <= i {
                    pattern.cols.push(j);
                    pattern.source.push(k);
                }
            }
            if pattern.cols.last() != Some(&i) || pattern.cols.len() == pattern.row_ptr[i] {
                return Err(SolverError::Breakdown {
                    method: "IC(0)",
                    iteration: 0,
                    reason: format!("row {i} has no diagonal entry"),
                });
            }
            pattern.row_ptr.push(pattern.cols.len());
        }
        Ok(pattern)
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.row_ptr.len() - 1
    }

    /// Number of entries.
    pub fn nnz(&self) -> usize {
        self.cols.len()
    }

    /// The values of `a` on this pattern.
    pub fn values_of(&self, a: &SparseMatrix) -> Vec<f64> {
        self.source.iter().map(|&k| a.val()[k]).collect()
    }

    /// Whether this is the lower triangle of `a`'s pattern.
    pub fn matches(&self, a: &SparseMatrix) -> bool {
        Self::of(a).is_ok_and(|p| p == *self)
    }
}

/// A lower-triangular factor `L` with a positive diagonal: the
/// preconditioner `M = L Lᵀ`, symmetric positive definite whatever the
/// off-diagonal values.
#[derive(Clone, Debug, PartialEq)]
pub struct LowerFactor {
    pattern: LowerPattern,
    values: Vec<f64>,
}

impl LowerFactor {
    /// `L` with `values` on `pattern`; an error names the first row whose
    /// diagonal is not positive or whose values are not finite.
    pub fn new(pattern: LowerPattern, values: Vec<f64>) -> Result<Self, String> {
        if values.len() != pattern.nnz() {
            return Err(format!(
                "{} values for a pattern of {} entries",
                values.len(),
                pattern.nnz()
            ));
        }
        for i in 0..pattern.rows() {
            let row = pattern.row_ptr[i]..pattern.row_ptr[i + 1];
            if let Some(k) = row.clone().find(|&k| !values[k].is_finite()) {
                return Err(format!("entry ({i}, {}) is {}", pattern.cols[k], values[k]));
            }
            let pivot = values[row.end - 1];
            if pivot <= 0.0 {
                return Err(format!("pivot {pivot:e} in row {i} is not positive"));
            }
        }
        Ok(LowerFactor { pattern, values })
    }

    /// Its pattern.
    pub fn pattern(&self) -> &LowerPattern {
        &self.pattern
    }

    /// Its values, in the pattern's order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// `z = (L Lᵀ)⁻¹ r`: a forward solve with `L`, then a backward solve
    /// with `Lᵀ` that walks `L`'s rows in reverse (no transpose is stored).
    pub fn solve(&self, r: &[f64], z: &mut [f64]) {
        let LowerPattern { row_ptr, cols, .. } = &self.pattern;
        let l = &self.values;
        for i in 0..r.len() {
            let diagonal = row_ptr[i + 1] - 1;
            let sum: f64 = (row_ptr[i]..diagonal).map(|k| l[k] * z[cols[k]]).sum();
            z[i] = (r[i] - sum) / l[diagonal];
        }
        for i in (0..r.len()).rev() {
            let diagonal = row_ptr[i + 1] - 1;
            z[i] /= l[diagonal];
            let zi = z[i];
            for k in row_ptr[i]..diagonal {
                z[cols[k]] -= l[k] * zi;
            }
        }
    }
}

/// IC(0) of `A + shift · diag(A)` on `pattern`: `L` with `L Lᵀ` equal to
/// that matrix on the pattern, or the row whose pivot is not positive.
pub fn incomplete_cholesky(
    a: &SparseMatrix,
    pattern: &LowerPattern,
    shift: f64,
) -> Result<Vec<f64>, usize> {
    let LowerPattern { row_ptr, cols, .. } = pattern;
    let mut l = pattern.values_of(a);
    // `at[j]`: position of column j in the current row (usize::MAX: absent).
    let mut at = vec![usize::MAX; pattern.rows()];
    for i in 0..pattern.rows() {
        let row = row_ptr[i]..row_ptr[i + 1];
        for k in row.clone() {
            at[cols[k]] = k;
        }
        for k in row.clone() {
            let j = cols[k];
            // Σ_{m < j} L_im L_jm over the entries both rows have.
            let jrow = row_ptr[j]..row_ptr[j + 1] - 1;
            let sum: f64 = jrow
                .filter(|&m| at[cols[m]] != usize::MAX)
                .map(|m| l[at[cols[m]]] * l[m])
                .sum();
            if j < i {
                l[k] = (l[k] - sum) / l[row_ptr[j + 1] - 1];
            } else {
                let pivot = l[k] * (1.0 + shift) - sum;
                if pivot.is_nan() || pivot <= 0.0 {
                    return Err(i);
                }
                l[k] = pivot.sqrt();
            }
        }
        for k in row {
            at[cols[k]] = usize::MAX;
        }
    }
    Ok(l)
}

/// Incomplete Cholesky without fill, IC(0), as `L Lᵀ`. A matrix that is
/// not an M-matrix (P2 elements, strong anisotropy) can give a
/// non-positive pivot; the factorisation is then retried on
/// `A + shift · diag(A)` with a growing shift (Manteuffel's shifted IC, as
/// PETSc's `-pc_factor_shift_type positive_definite`).
#[derive(Clone, Debug, Default)]
pub struct Ic0 {
    factor: Option<LowerFactor>,
    shift: f64,
}

/// The first shift tried after a breakdown, and the largest.
const FIRST_SHIFT: f64 = 1e-3;
const LARGEST_SHIFT: f64 = 1e3;

impl Ic0 {
    /// The factor of the last set-up.
    pub fn factor(&self) -> Option<&LowerFactor> {
        self.factor.as_ref()
    }

    /// The diagonal shift the last set-up needed (0: none).
    pub fn shift(&self) -> f64 {
        self.shift
    }

    /// IC(0) of `a` on `pattern`, shifted if it must be: the factor and
    /// the shift used.
    pub fn factorize(
        a: &SparseMatrix,
        pattern: LowerPattern,
    ) -> Result<(LowerFactor, f64), SolverError> {
        let mut shift = 0.0;
        loop {
            match incomplete_cholesky(a, &pattern, shift) {
                Ok(values) => {
                    let factor = LowerFactor::new(pattern, values).map_err(|reason| {
                        SolverError::Breakdown {
                            method: "IC(0)",
                            iteration: 0,
                            reason,
                        }
                    })?;
                    return Ok((factor, shift));
                }
                Err(_) if shift < LARGEST_SHIFT => {
                    shift = if shift == 0.0 {
                        FIRST_SHIFT
                    } else {
                        2.0 * shift
                    };
                }
                Err(row) => {
                    return Err(SolverError::Breakdown {
                        method: "IC(0)",
                        iteration: 0,
                        reason: format!(
                            "no positive pivot in row {row} even with a diagonal shift of \
                             {shift:e}: the matrix is not positive definite"
                        ),
                    })
                }
            }
        }
    }
}

impl Preconditioner for Ic0 {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        let (factor, shift) = Self::factorize(a, LowerPattern::of(a)?)?;
        self.factor = Some(factor);
        self.shift = shift;
        Ok(())
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        self.factor
            .as_ref()
            .expect("IC(0) used before setup")
            .solve(r, z);
    }

    fn name(&self) -> &'static str {
        "ic0"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{spmv, zeros_with_pattern};
    use pde_mesh::Csr;

    /// The 1D Laplacian `tridiag(-1, 2, -1)` of size `n`.
    fn laplacian(n: usize) -> SparseMatrix {
        let mut offsets = vec![0];
        let mut indices = Vec::new();
        for i in 0..n {
            indices.extend((i.saturating_sub(1)..(i + 2).min(n)).collect::<Vec<_>>());
            offsets.push(indices.len());
        }
        let values = (0..n)
            .flat_map(|i| {
                let cols = &indices[offsets[i]..offsets[i + 1]];
                cols.iter().map(move |&j| if j == i { 2.0 } else { -1.0 })
            })
            .collect::<Vec<_>>();
        let mut a = zeros_with_pattern(Csr { offsets, indices });
        a.val_mut().copy_from_slice(&values);
        a
    }

    #[test]
    fn ic0_of_a_tridiagonal_matrix_is_its_cholesky_factor() {
        // No fill: IC(0) is exact, so M⁻¹ A x = x.
        let a = laplacian(50);
        let mut ic = Ic0::default();
        ic.setup(&a).unwrap();
        assert_eq!(ic.shift(), 0.0);
        let x: Vec<f64> = (0..50).map(|i| (i as f64 * 0.3).sin()).collect();
        let mut ax = vec![0.0; 50];
        spmv(&a, &x, &mut ax);
        let mut back = vec![0.0; 50];
        ic.apply(&ax, &mut back);
        let err = x
            .iter()
            .zip(&back)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-12, "{err}");
    }

    #[test]
    fn bad_factors_are_refused_with_the_row() {
        let pattern = LowerPattern::of(&laplacian(3)).unwrap();
        let values = vec![1.0, -0.5, 1.0, -0.5, 0.0];
        let err = LowerFactor::new(pattern.clone(), values).unwrap_err();
        assert!(err.contains("row 2"), "{err}");
        let values = vec![1.0, f64::NAN, 1.0, -0.5, 1.0];
        let err = LowerFactor::new(pattern, values).unwrap_err();
        assert!(err.contains("(1, 0)"), "{err}");
    }
}
