//! Direct solvers: faer's sparse Cholesky (supernodal, AMD ordering), with
//! the symbolic analysis kept while the matrix pattern stays the same.

use faer::linalg::solvers::Solve;
use faer::sparse::linalg::solvers::{Llt, SymbolicLlt};
use faer::Side;

use super::{check_sizes, relative_residual, LinearSolver, SolveReport, SolverError, SparseMatrix};

/// Sparse Cholesky `A = L L^T` for symmetric positive definite matrices.
///
/// The symbolic analysis is kept while the pattern stays the same, and the
/// numeric factor while the values do too (a time loop with a fixed step
/// factorises once).
#[derive(Default)]
pub struct Cholesky {
    symbolic: Option<(Vec<usize>, Vec<usize>, SymbolicLlt<usize>)>,
    numeric: Option<(Vec<f64>, Llt<usize, f64>)>,
    /// Symbolic analyses done so far (one per distinct pattern).
    pub analyses: usize,
    /// Numeric factorisations done so far (one per distinct matrix).
    pub factorizations: usize,
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
        // A new pattern: the numeric factor of the old one is useless.
        self.numeric = None;
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
        let same_matrix = self
            .numeric
            .as_ref()
            .is_some_and(|(values, _)| values[..] == a.val()[..]);
        if !same_matrix {
            let llt = Llt::try_new_with_symbolic(symbolic, a.as_ref().transpose(), Side::Lower)
                .map_err(|e| {
                    SolverError::Factorization(format!(
                        "{e:?} (is the matrix symmetric positive definite?)"
                    ))
                })?;
            self.factorizations += 1;
            self.numeric = Some((a.val().to_vec(), llt));
        }
        let (_, llt) = self.numeric.as_ref().expect("factorised above");
        x.copy_from_slice(b);
        llt.solve_in_place(faer::ColMut::from_slice_mut(x).as_mat_mut());
        Ok(SolveReport {
            iterations: 0,
            relative_residual: relative_residual(a, b, x),
            history: Vec::new(),
        })
    }
}
