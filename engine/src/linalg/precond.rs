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
        let s = a.symbolic();
        self.inverse_diagonal = (0..a.nrows())
            .map(|i| {
                let d = super::entry_index(a, i, i).map_or(0.0, |k| a.val()[k]);
                if d == 0.0 || !d.is_finite() {
                    Err(SolverError::Breakdown {
                        method: "Jacobi",
                        iteration: 0,
                        reason: format!(
                            "diagonal entry {i} is {d} (row has {} entries)",
                            s.row_ptr()[i + 1] - s.row_ptr()[i]
                        ),
                    })
                } else {
                    Ok(1.0 / d)
                }
            })
            .collect::<Result<_, _>>()?;
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
