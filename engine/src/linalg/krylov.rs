//! Krylov methods.

use super::{
    check_sizes, norm, relative_residual, spmv, LinearSolver, Preconditioner, SolveReport,
    SolverError, SparseMatrix,
};

/// Stopping rule of an iteration: stop when `|r| <= max(rtol |b|, atol)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Iteration limit.
    pub max_iterations: usize,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            rtol: 1e-10,
            atol: 0.0,
            max_iterations: 10_000,
        }
    }
}

/// Preconditioned conjugate gradients for symmetric positive definite systems.
pub struct Cg {
    /// Stopping rule.
    pub tolerance: Tolerance,
    /// The preconditioner (set up on every solve).
    pub preconditioner: Box<dyn Preconditioner>,
}

impl Cg {
    /// CG with the given preconditioner and tolerance.
    pub fn new(preconditioner: Box<dyn Preconditioner>, tolerance: Tolerance) -> Self {
        Cg {
            tolerance,
            preconditioner,
        }
    }
}

impl LinearSolver for Cg {
    fn solve(
        &mut self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, SolverError> {
        check_sizes(a, b, x)?;
        self.preconditioner.setup(a)?;
        let n = b.len();
        let Tolerance {
            rtol,
            atol,
            max_iterations,
        } = self.tolerance;
        let target = (rtol * norm(b)).max(atol);
        let mut r = vec![0.0; n];
        spmv(a, x, &mut r);
        r.iter_mut().zip(b).for_each(|(ri, bi)| *ri = bi - *ri);
        let mut z = vec![0.0; n];
        self.preconditioner.apply(&r, &mut z);
        let mut p = z.clone();
        let mut ap = vec![0.0; n];
        let mut rz = super::dot(&r, &z);
        let mut history = vec![norm(&r)];
        let mut it = 0;
        while history[it] > target {
            if it == max_iterations {
                return Err(SolverError::NotConverged {
                    method: "CG",
                    iterations: it,
                    residual: relative_residual(a, b, x),
                    tolerance: rtol,
                });
            }
            spmv(a, &p, &mut ap);
            let pap = super::dot(&p, &ap);
            if pap <= 0.0 || pap.is_nan() {
                return Err(SolverError::Breakdown {
                    method: "CG",
                    iteration: it,
                    reason: format!("p^T A p = {pap:e}: the matrix (or preconditioner) is not positive definite"),
                });
            }
            let alpha = rz / pap;
            x.iter_mut().zip(&p).for_each(|(xi, pi)| *xi += alpha * pi);
            r.iter_mut()
                .zip(&ap)
                .for_each(|(ri, api)| *ri -= alpha * api);
            self.preconditioner.apply(&r, &mut z);
            let rz_new = super::dot(&r, &z);
            let beta = rz_new / rz;
            rz = rz_new;
            p.iter_mut()
                .zip(&z)
                .for_each(|(pi, zi)| *pi = zi + beta * *pi);
            it += 1;
            history.push(norm(&r));
        }
        Ok(SolveReport {
            iterations: it,
            relative_residual: relative_residual(a, b, x),
            history,
        })
    }
}
