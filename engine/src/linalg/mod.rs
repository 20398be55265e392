//! Linear algebra: one sparse matrix type (faer's CSR [`SparseMatrix`]), the
//! [`LinearSolver`] and [`Preconditioner`] traits that classical and learned
//! components implement, direct solvers (faer Cholesky) and Krylov methods.

pub mod amg;
pub mod direct;
pub mod factor;
pub mod krylov;
pub mod matrix_market;
pub mod precond;
pub mod registry;
pub mod saddle;

use faer::sparse::{SparseRowMat, SymbolicSparseRowMat};
use pde_mesh::Csr;
use rayon::prelude::*;

/// The sparse matrix type used everywhere: compressed sparse rows, sorted
/// column indices, `usize` indices, `f64` values.
pub type SparseMatrix = SparseRowMat<usize, f64>;

/// A square matrix with the given pattern (rows sorted) and zero values.
pub fn zeros_with_pattern(pattern: Csr) -> SparseMatrix {
    let n = pattern.rows();
    let nnz = pattern.nnz();
    let symbolic = SymbolicSparseRowMat::new_checked(n, n, pattern.offsets, None, pattern.indices);
    SparseRowMat::new(symbolic, vec![0.0; nnz])
}

/// Position of entry `(i, j)` in the value array, if it is in the pattern.
pub fn entry_index(a: &SparseMatrix, i: usize, j: usize) -> Option<usize> {
    let s = a.symbolic();
    let (start, end) = (s.row_ptr()[i], s.row_ptr()[i + 1]);
    s.col_idx()[start..end]
        .binary_search(&j)
        .ok()
        .map(|k| start + k)
}

/// Rows below which a product runs on one thread (spawning costs more).
const PARALLEL_ROWS: usize = 20_000;

/// `y = A x` (parallel over rows for large matrices; faer's own product is
/// single-threaded, measured).
pub fn spmv(a: &SparseMatrix, x: &[f64], y: &mut [f64]) {
    let s = a.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
    let row = |i: usize| -> f64 { (ptr[i]..ptr[i + 1]).map(|k| val[k] * x[col[k]]).sum() };
    if y.len() < PARALLEL_ROWS {
        y.iter_mut().enumerate().for_each(|(i, yi)| *yi = row(i));
    } else {
        y.par_iter_mut()
            .enumerate()
            .for_each(|(i, yi)| *yi = row(i));
    }
}

/// `A^T` of a CSR matrix (counting sort by column).
pub fn transpose(a: &SparseMatrix) -> SparseMatrix {
    let s = a.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
    let (rows, cols) = (a.nrows(), a.ncols());
    let mut count = vec![0usize; cols + 1];
    for &c in col {
        count[c + 1] += 1;
    }
    for c in 0..cols {
        count[c + 1] += count[c];
    }
    let mut fill = count.clone();
    let mut tcol = vec![0usize; col.len()];
    let mut tval = vec![0.0; col.len()];
    for i in 0..rows {
        for k in ptr[i]..ptr[i + 1] {
            let dst = fill[col[k]];
            tcol[dst] = i;
            tval[dst] = val[k];
            fill[col[k]] += 1;
        }
    }
    SparseRowMat::new(
        SymbolicSparseRowMat::new_checked(cols, rows, count, None, tcol),
        tval,
    )
}

/// `A B` of CSR matrices (row by row with a dense accumulator).
pub fn multiply(a: &SparseMatrix, b: &SparseMatrix) -> SparseMatrix {
    let (sa, sb) = (a.symbolic(), b.symbolic());
    let (aptr, acol, aval) = (sa.row_ptr(), sa.col_idx(), a.val());
    let (bptr, bcol, bval) = (sb.row_ptr(), sb.col_idx(), b.val());
    let cols = b.ncols();
    let mut acc = vec![0.0; cols];
    let mut mark = vec![usize::MAX; cols];
    let mut ptr = vec![0];
    let mut col = Vec::new();
    let mut val = Vec::new();
    let mut row_cols = Vec::new();
    for i in 0..a.nrows() {
        row_cols.clear();
        for k in aptr[i]..aptr[i + 1] {
            let (j, aij) = (acol[k], aval[k]);
            for m in bptr[j]..bptr[j + 1] {
                let c = bcol[m];
                if mark[c] != i {
                    mark[c] = i;
                    acc[c] = 0.0;
                    row_cols.push(c);
                }
                acc[c] += aij * bval[m];
            }
        }
        row_cols.sort_unstable();
        for &c in &row_cols {
            col.push(c);
            val.push(acc[c]);
        }
        ptr.push(col.len());
    }
    SparseRowMat::new(
        SymbolicSparseRowMat::new_checked(a.nrows(), cols, ptr, None, col),
        val,
    )
}

/// Euclidean dot product.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The largest absolute value, or NaN if any value is NaN: what the
/// divergence check of a step looks at. (`f64::max` would drop a NaN that
/// a finite value follows.)
///
/// ```
/// use pde_engine::linalg::max_abs;
/// assert_eq!(max_abs(&[1.0, -3.0, 2.0]), 3.0);
/// assert!(max_abs(&[1.0, f64::NAN, 2.0]).is_nan());
/// ```
pub fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0f64, |m, v| {
        if m.is_nan() || v.is_nan() {
            f64::NAN
        } else {
            m.max(v.abs())
        }
    })
}

/// Euclidean norm.
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// What a solve did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SolveReport {
    /// Iterations (0 for direct solvers).
    pub iterations: usize,
    /// Final residual norm `|b - A x|` relative to `|b|`.
    pub relative_residual: f64,
    /// Residual norm (of the preconditioned iteration) after each iteration.
    pub history: Vec<f64>,
    /// Why the preconditioner gave way to its classical fallback during
    /// this solve, if it did (a learned preconditioner falls back to IC(0)).
    pub fallback: Option<String>,
}

/// Why a solve failed.
#[derive(Debug, thiserror::Error)]
pub enum SolverError {
    /// The iteration did not reach the tolerance.
    #[error("{method} did not converge: relative residual {residual:.3e} after {iterations} iterations (tolerance {tolerance:.1e})")]
    NotConverged {
        /// Method name.
        method: &'static str,
        /// Iterations done.
        iterations: usize,
        /// Relative residual reached.
        residual: f64,
        /// Relative tolerance asked for.
        tolerance: f64,
    },
    /// The method broke down (e.g. CG on a matrix that is not positive definite).
    #[error("{method} broke down at iteration {iteration}: {reason}")]
    Breakdown {
        /// Method name.
        method: &'static str,
        /// Iteration of the breakdown.
        iteration: usize,
        /// What happened.
        reason: String,
    },
    /// A direct factorisation failed.
    #[error("factorisation failed: {0}")]
    Factorization(String),
    /// Sizes do not match.
    #[error("dimension mismatch: {0}")]
    Dimension(String),
}

/// Solves `A x = b`. Implementations may keep state between calls (a
/// symbolic factorisation, a preconditioner's set-up) and reuse it while the
/// matrix pattern stays the same. `x` holds the initial guess on entry.
pub trait LinearSolver {
    /// Solves `A x = b`.
    fn solve(
        &mut self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, SolverError>;
    /// The values of the matrix whose factor the solver keeps and reuses
    /// for later, different matrices (a lagged factor), for a checkpoint;
    /// `None` when nothing it keeps changes later solves.
    fn kept_factor(&self) -> Option<Vec<f64>> {
        None
    }
    /// Factorises `a`'s pattern with `values` again (a run continued from a
    /// checkpoint), so that later solves are those of the run that never
    /// stopped.
    fn restore_factor(&mut self, _a: &SparseMatrix, _values: &[f64]) -> Result<(), SolverError> {
        Ok(())
    }
}

/// An approximation of `A^{-1}` applied inside Krylov methods. Classical
/// ones (Jacobi, incomplete factorisations, AMG) and learned ones implement
/// it alike; the Krylov method keeps its own convergence check, so a poor
/// preconditioner costs iterations, never accuracy.
pub trait Preconditioner: Send + Sync {
    /// Prepares for matrix `a` (called when the matrix changes).
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError>;
    /// `z = M^{-1} r`.
    fn apply(&self, r: &[f64], z: &mut [f64]);
    /// A short name for reports.
    fn name(&self) -> &'static str;
    /// Replaces this preconditioner by its classical fallback for the
    /// matrix `a` after the Krylov method failed (broke down, stagnated or
    /// ran out of iterations) with it, and says why; `None` when it has no
    /// fallback (classical ones). A learned factor falls back to IC(0).
    fn fall_back(&mut self, _a: &SparseMatrix) -> Option<Result<String, SolverError>> {
        None
    }
    /// Whether [`fall_back`](Self::fall_back) would switch to a fallback
    /// (so that a Krylov method may give up on this preconditioner early).
    fn can_fall_back(&self) -> bool {
        false
    }
    /// Why the last [`setup`](Self::setup) used the fallback instead of
    /// this preconditioner (e.g. a learned factor with a non-positive
    /// pivot), if it did.
    fn fell_back_in_setup(&self) -> Option<String> {
        None
    }
}

fn check_sizes(a: &SparseMatrix, b: &[f64], x: &[f64]) -> Result<(), SolverError> {
    if a.nrows() != a.ncols() || b.len() != a.nrows() || x.len() != a.nrows() {
        return Err(SolverError::Dimension(format!(
            "matrix {}x{}, right-hand side {}, solution {}",
            a.nrows(),
            a.ncols(),
            b.len(),
            x.len()
        )));
    }
    Ok(())
}

/// `|b - A x| / |b|` (or `|b - A x|` when `b = 0`).
pub fn relative_residual(a: &SparseMatrix, b: &[f64], x: &[f64]) -> f64 {
    let mut r = vec![0.0; b.len()];
    spmv(a, x, &mut r);
    let res = r
        .iter()
        .zip(b)
        .map(|(ax, bi)| (bi - ax).powi(2))
        .sum::<f64>()
        .sqrt();
    let nb = norm(b);
    if nb > 0.0 {
        res / nb
    } else {
        res
    }
}

/// The rows and columns of `a` whose `keep` is true, renumbered in order,
/// without entries that are exactly zero.
pub fn principal_block(a: &SparseMatrix, keep: &[bool]) -> SparseMatrix {
    let mut new_index = vec![usize::MAX; keep.len()];
    let mut n = 0;
    for (i, _) in keep.iter().enumerate().filter(|(_, k)| **k) {
        new_index[i] = n;
        n += 1;
    }
    let s = a.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
    let (mut rows, mut cols, mut vals) = (vec![0], Vec::new(), Vec::new());
    for i in (0..a.nrows()).filter(|&i| keep[i]) {
        for k in ptr[i]..ptr[i + 1] {
            if keep[col[k]] && val[k] != 0.0 {
                cols.push(new_index[col[k]]);
                vals.push(val[k]);
            }
        }
        rows.push(cols.len());
    }
    SparseRowMat::new(
        SymbolicSparseRowMat::new_checked(n, n, rows, None, cols),
        vals,
    )
}
