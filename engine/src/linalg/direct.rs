//! Direct solvers: faer's sparse Cholesky (supernodal, AMD ordering) for
//! symmetric positive definite matrices and sparse LU (COLAMD) for the rest.
//! Both keep their symbolic analysis while the matrix pattern stays the same,
//! and their numeric factor while the values do too (a time loop with a fixed
//! step factorises once).

use faer::linalg::solvers::Solve;
use faer::sparse::linalg::solvers::{Llt, Lu, SymbolicLlt, SymbolicLu};
use faer::Side;

use super::{check_sizes, relative_residual, LinearSolver, SolveReport, SolverError, SparseMatrix};

/// The analysis and factor of the last matrix seen, with the counts of each.
struct FactorCache<S, N> {
    symbolic: Option<(Vec<usize>, Vec<usize>, S)>,
    numeric: Option<(Vec<f64>, N)>,
    analyses: usize,
    factorizations: usize,
}

impl<S, N> Default for FactorCache<S, N> {
    fn default() -> Self {
        FactorCache {
            symbolic: None,
            numeric: None,
            analyses: 0,
            factorizations: 0,
        }
    }
}

impl<S: Clone, N> FactorCache<S, N> {
    /// The factor of `a`, computing the analysis and the factor only when
    /// the pattern or the values changed.
    fn factor(
        &mut self,
        a: &SparseMatrix,
        analyse: impl FnOnce(&SparseMatrix) -> Result<S, SolverError>,
        factorise: impl FnOnce(S, &SparseMatrix) -> Result<N, SolverError>,
    ) -> Result<&N, SolverError> {
        let s = a.symbolic();
        let same_pattern = self
            .symbolic
            .as_ref()
            .is_some_and(|(ptr, col, _)| ptr[..] == s.row_ptr()[..] && col[..] == s.col_idx()[..]);
        if !same_pattern {
            let sym = analyse(a)?;
            self.analyses += 1;
            self.numeric = None;
            self.symbolic = Some((s.row_ptr().to_vec(), s.col_idx().to_vec(), sym));
        }
        let same_values = self
            .numeric
            .as_ref()
            .is_some_and(|(v, _)| v[..] == a.val()[..]);
        if !same_values {
            let sym = self.symbolic.as_ref().expect("analysed above").2.clone();
            let n = factorise(sym, a)?;
            self.factorizations += 1;
            self.numeric = Some((a.val().to_vec(), n));
        }
        Ok(&self.numeric.as_ref().expect("factorised above").1)
    }
}

fn report(a: &SparseMatrix, b: &[f64], x: &[f64]) -> SolveReport {
    SolveReport {
        iterations: 0,
        relative_residual: relative_residual(a, b, x),
        history: Vec::new(),
    }
}

/// Sparse Cholesky `A = L L^T` for symmetric positive definite matrices.
#[derive(Default)]
pub struct Cholesky {
    cache: FactorCache<SymbolicLlt<usize>, Llt<usize, f64>>,
}

impl Cholesky {
    /// A solver with no analysis yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Symbolic analyses done so far (one per distinct pattern).
    pub fn analyses(&self) -> usize {
        self.cache.analyses
    }

    /// Numeric factorisations done so far (one per distinct matrix).
    pub fn factorizations(&self) -> usize {
        self.cache.factorizations
    }
}

impl LinearSolver for Cholesky {
    fn solve(
        &mut self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, SolverError> {
        check_sizes(a, b, x)?;
        // A symmetric CSR matrix is its own CSC transpose.
        let llt = self.cache.factor(
            a,
            |a| {
                SymbolicLlt::try_new(a.as_ref().transpose().symbolic(), Side::Lower)
                    .map_err(|e| SolverError::Factorization(format!("{e:?}")))
            },
            |sym, a| {
                Llt::try_new_with_symbolic(sym, a.as_ref().transpose(), Side::Lower).map_err(|e| {
                    SolverError::Factorization(format!(
                        "{e:?} (is the matrix symmetric positive definite?)"
                    ))
                })
            },
        )?;
        x.copy_from_slice(b);
        llt.solve_in_place(faer::ColMut::from_slice_mut(x).as_mat_mut());
        Ok(report(a, b, x))
    }
}

/// Sparse LU with partial pivoting, for any non-singular matrix.
#[derive(Default)]
pub struct SparseLu {
    cache: FactorCache<SymbolicLu<usize>, Lu<usize, f64>>,
}

impl SparseLu {
    /// A solver with no analysis yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Symbolic analyses done so far (one per distinct pattern).
    pub fn analyses(&self) -> usize {
        self.cache.analyses
    }

    /// Numeric factorisations done so far (one per distinct matrix).
    pub fn factorizations(&self) -> usize {
        self.cache.factorizations
    }
}

impl LinearSolver for SparseLu {
    fn solve(
        &mut self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, SolverError> {
        check_sizes(a, b, x)?;
        // The CSR matrix viewed as CSC is A^T: factorise that, then solve
        // with its transpose, A, without copying the matrix.
        let lu = self.cache.factor(
            a,
            |a| {
                SymbolicLu::try_new(a.as_ref().transpose().symbolic())
                    .map_err(|e| SolverError::Factorization(format!("{e:?}")))
            },
            |sym, a| {
                Lu::try_new_with_symbolic(sym, a.as_ref().transpose()).map_err(|e| {
                    SolverError::Factorization(format!("{e:?} (is the matrix singular?)"))
                })
            },
        )?;
        x.copy_from_slice(b);
        lu.solve_transpose_in_place(faer::ColMut::from_slice_mut(x).as_mat_mut());
        if x.iter().any(|v| !v.is_finite()) {
            return Err(SolverError::Factorization(
                "the LU solution is not finite: the matrix is singular".into(),
            ));
        }
        Ok(report(a, b, x))
    }
}
