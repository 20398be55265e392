//! Direct solvers: faer's sparse Cholesky (supernodal, AMD ordering), with
//! the symbolic analysis kept while the matrix pattern stays the same.

use faer::linalg::solvers::Solve;
use faer::sparse::linalg::solvers::{Llt, SymbolicLlt};
use faer::Side;

use super::{check_sizes, relative_residual, LinearSolver, SolveReport, SolverError, SparseMatrix};

/// Sparse Cholesky `A = L L^T` for symmetric positive definite matrices.
#[derive(Default)]
pub struct Cholesky {
    symbolic: Option<(Vec<usize>, Vec<usize>, SymbolicLlt<usize>)>,
    /// Symbolic analyses done so far (one per distinct pattern).
    pub analyses: usize,
}

impl Cholesky {
    /// A solver with no analysis yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn symbolic_for(&mut self, a: &SparseMatrix) -> Result<SymbolicLlt<usize>, SolverError> {
        let s = a.symbolic();
        if let Some((ptr, col, sym)) = &self.symbolic {
            if ptr[..] == s.row_ptr()[..] && col[..] == s.col_idx()[..] {
                return Ok(sym.clone());
            }
        }
        // A symmetric CSR matrix is its own CSC transpose.
        let sym = SymbolicLlt::try_new(a.as_ref().transpose().symbolic(), Side::Lower)
            .map_err(|e| SolverError::Factorization(format!("{e:?}")))?;
        self.analyses += 1;
        self.symbolic = Some((s.row_ptr().to_vec(), s.col_idx().to_vec(), sym.clone()));
        Ok(sym)
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
        let symbolic = self.symbolic_for(a)?;
        let llt = Llt::try_new_with_symbolic(symbolic, a.as_ref().transpose(), Side::Lower)
            .map_err(|e| {
                SolverError::Factorization(format!(
                    "{e:?} (is the matrix symmetric positive definite?)"
                ))
            })?;
        x.copy_from_slice(b);
        llt.solve_in_place(faer::ColMut::from_slice_mut(x).as_mat_mut());
        Ok(SolveReport {
            iterations: 0,
            relative_residual: relative_residual(a, b, x),
            history: Vec::new(),
        })
    }
}
