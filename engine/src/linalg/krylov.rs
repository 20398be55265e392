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

/// The common start of the Krylov methods: checks sizes, sets up the
/// preconditioner, and returns the residual target and `b - A x`.
fn start(
    a: &SparseMatrix,
    b: &[f64],
    x: &[f64],
    preconditioner: &mut dyn Preconditioner,
    tolerance: &Tolerance,
) -> Result<(f64, Vec<f64>), SolverError> {
    check_sizes(a, b, x)?;
    preconditioner.setup(a)?;
    let mut r = vec![0.0; b.len()];
    residual(a, b, x, &mut r);
    Ok(((tolerance.rtol * norm(b)).max(tolerance.atol), r))
}

/// The error of a method that ran out of iterations.
fn not_converged(
    method: &'static str,
    iterations: usize,
    a: &SparseMatrix,
    b: &[f64],
    x: &[f64],
    tolerance: f64,
) -> SolverError {
    SolverError::NotConverged {
        method,
        iterations,
        residual: relative_residual(a, b, x),
        tolerance,
    }
}

/// Preconditioned conjugate gradients for symmetric positive definite systems.
///
/// With a preconditioner that has a fallback (a learned factor), CG gives
/// up on it early when the iteration has visibly failed: the iterate
/// stopped changing in floating point for [`STAGNANT_ITERATIONS`] steps
/// (`|α| |p| ≤ ε |x|`, MATLAB `pcg`'s stagnation test), the preconditioned
/// residual `√(rᵀz)` grew to [`DIVERGENCE`] times its start (PETSc's
/// default divergence tolerance) or `rᵀz` turned negative (the
/// preconditioner is not positive definite). The residual norm itself is no
/// guide: with IC(0) on high-contrast systems it stays above its start for
/// over a hundred iterations before CG converges (measured), so a poor but
/// sound factor costs iterations and CG still reaches the tolerance.
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

/// Consecutive iterations without a change of the iterate after which CG
/// gives up on a preconditioner with a fallback.
pub const STAGNANT_ITERATIONS: usize = 3;
/// Growth of `√(rᵀz)` over its start after which CG gives up on a
/// preconditioner with a fallback.
pub const DIVERGENCE: f64 = 1e5;

impl LinearSolver for Cg {
    fn solve(
        &mut self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, SolverError> {
        let (target, _) = start(a, b, x, self.preconditioner.as_mut(), &self.tolerance)?;
        let x0 = x.to_vec();
        let mut report = SolveReport {
            fallback: self.preconditioner.fell_back_in_setup(),
            ..SolveReport::default()
        };
        // A preconditioner with a fallback (a learned factor) gets one
        // attempt; if CG fails with it, CG restarts from the initial guess
        // with the fallback, and the report says so.
        let watch = self.preconditioner.can_fall_back();
        let Err(error) = self.attempt(a, b, x, target, &mut report, watch) else {
            return Ok(finish(report, a, b, x));
        };
        let Some(fallback) = self.preconditioner.fall_back(a) else {
            return Err(error);
        };
        report.fallback = Some(format!("{} ({error})", fallback?));
        x.copy_from_slice(&x0);
        self.attempt(a, b, x, target, &mut report, false)?;
        Ok(finish(report, a, b, x))
    }
}

/// `report` with the final residual of `x`.
fn finish(mut report: SolveReport, a: &SparseMatrix, b: &[f64], x: &[f64]) -> SolveReport {
    report.relative_residual = relative_residual(a, b, x);
    report
}

impl Cg {
    /// Preconditioned CG from `x` until `|r| <= target`, adding its
    /// iterations and residuals to `report`; with `watch`, stagnation and
    /// divergence (see [`Cg`]) fail the attempt.
    fn attempt(
        &self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
        target: f64,
        report: &mut SolveReport,
        watch: bool,
    ) -> Result<(), SolverError> {
        let (preconditioner, tolerance) = (self.preconditioner.as_ref(), &self.tolerance);
        let mut r = vec![0.0; b.len()];
        residual(a, b, x, &mut r);
        let n = b.len();
        let mut z = vec![0.0; n];
        preconditioner.apply(&r, &mut z);
        let mut p = z.clone();
        let mut ap = vec![0.0; n];
        let mut rz = super::dot(&r, &z);
        let mut residual_norm = norm(&r);
        report.history.push(residual_norm);
        let (start_rz, mut stagnant) = (rz, 0);
        // Each attempt has the whole iteration budget.
        let first = report.iterations;
        while residual_norm > target {
            if report.iterations - first >= tolerance.max_iterations {
                let e = not_converged("CG", report.iterations - first, a, b, x, tolerance.rtol);
                return Err(e);
            }
            spmv(a, &p, &mut ap);
            let pap = super::dot(&p, &ap);
            if pap <= 0.0 || pap.is_nan() {
                return Err(SolverError::Breakdown {
                    method: "CG",
                    iteration: report.iterations,
                    reason: format!(
                        "p^T A p = {pap:e}: the matrix (or preconditioner) is not positive definite"
                    ),
                });
            }
            let alpha = rz / pap;
            if watch && alpha.abs() * norm(&p) <= f64::EPSILON * norm(x) {
                stagnant += 1;
            } else {
                stagnant = 0;
            }
            x.iter_mut().zip(&p).for_each(|(xi, pi)| *xi += alpha * pi);
            r.iter_mut()
                .zip(&ap)
                .for_each(|(ri, api)| *ri -= alpha * api);
            preconditioner.apply(&r, &mut z);
            let rz_new = super::dot(&r, &z);
            if watch {
                give_up(report.iterations + 1, rz_new, start_rz, stagnant)?;
            }
            let beta = rz_new / rz;
            rz = rz_new;
            p.iter_mut()
                .zip(&z)
                .for_each(|(pi, zi)| *pi = zi + beta * *pi);
            report.iterations += 1;
            residual_norm = norm(&r);
            report.history.push(residual_norm);
        }
        Ok(())
    }
}

/// The breakdown that makes CG give up on a preconditioner with a fallback
/// after `iteration`, if any, from `rᵀz` now and at the start and the count
/// of iterations without a change of the iterate (the rules on [`Cg`]).
fn give_up(iteration: usize, rz: f64, start_rz: f64, stagnant: usize) -> Result<(), SolverError> {
    let reason = if stagnant >= STAGNANT_ITERATIONS {
        format!("the iterate stopped changing for {stagnant} iterations")
    } else if rz < 0.0 || rz.is_nan() {
        format!("r^T z = {rz:e}: the preconditioner is not positive definite")
    } else if rz > DIVERGENCE * DIVERGENCE * start_rz {
        let growth = (rz / start_rz).sqrt();
        format!("the preconditioned residual grew to {growth:.1e} times its start")
    } else {
        return Ok(());
    };
    Err(SolverError::Breakdown {
        method: "CG",
        iteration,
        reason,
    })
}

/// `r = b - A x`.
fn residual(a: &SparseMatrix, b: &[f64], x: &[f64], r: &mut [f64]) {
    spmv(a, x, r);
    r.iter_mut().zip(b).for_each(|(ri, bi)| *ri = bi - *ri);
}

/// Restarted GMRES(m) with right preconditioning (the residual it watches
/// is the true one), for any non-singular system.
pub struct Gmres {
    /// Stopping rule.
    pub tolerance: Tolerance,
    /// Krylov vectors kept between restarts.
    pub restart: usize,
    /// The preconditioner (set up on every solve).
    pub preconditioner: Box<dyn Preconditioner>,
}

impl Gmres {
    /// GMRES(`restart`) with the given preconditioner and tolerance.
    pub fn new(
        preconditioner: Box<dyn Preconditioner>,
        tolerance: Tolerance,
        restart: usize,
    ) -> Self {
        Gmres {
            tolerance,
            restart: restart.max(1),
            preconditioner,
        }
    }
}

impl LinearSolver for Gmres {
    fn solve(
        &mut self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, SolverError> {
        let (target, mut r) = start(a, b, x, self.preconditioner.as_mut(), &self.tolerance)?;
        let n = b.len();
        let Tolerance {
            rtol,
            max_iterations,
            ..
        } = self.tolerance;
        let m = self.restart;
        let mut history = vec![norm(&r)];
        let mut it = 0;
        let mut w = vec![0.0; n];
        while history[history.len() - 1] > target {
            let beta = norm(&r);
            let mut v: Vec<Vec<f64>> = vec![r.iter().map(|ri| ri / beta).collect()];
            let mut z: Vec<Vec<f64>> = Vec::with_capacity(m);
            let mut h = vec![vec![0.0; m]; m + 1];
            let (mut cs, mut sn) = (vec![0.0; m], vec![0.0; m]);
            let mut g = vec![0.0; m + 1];
            g[0] = beta;
            let mut k = 0;
            while k < m && it < max_iterations {
                let mut zk = vec![0.0; n];
                self.preconditioner.apply(&v[k], &mut zk);
                spmv(a, &zk, &mut w);
                z.push(zk);
                // Modified Gram–Schmidt.
                for i in 0..=k {
                    h[i][k] = super::dot(&w, &v[i]);
                    w.iter_mut()
                        .zip(&v[i])
                        .for_each(|(wj, vj)| *wj -= h[i][k] * vj);
                }
                h[k + 1][k] = norm(&w);
                // Earlier rotations, then a new one that zeroes h[k+1][k].
                for i in 0..k {
                    let t = cs[i] * h[i][k] + sn[i] * h[i + 1][k];
                    h[i + 1][k] = -sn[i] * h[i][k] + cs[i] * h[i + 1][k];
                    h[i][k] = t;
                }
                let rho = h[k][k].hypot(h[k + 1][k]);
                if rho == 0.0 {
                    return Err(SolverError::Breakdown {
                        method: "GMRES",
                        iteration: it,
                        reason: "zero column in the Hessenberg matrix (singular system?)".into(),
                    });
                }
                cs[k] = h[k][k] / rho;
                sn[k] = h[k + 1][k] / rho;
                let hk1 = h[k + 1][k];
                h[k][k] = rho;
                g[k + 1] = -sn[k] * g[k];
                g[k] *= cs[k];
                it += 1;
                k += 1;
                history.push(g[k].abs());
                if g[k].abs() <= target || hk1 == 0.0 {
                    break;
                }
                v.push(w.iter().map(|wj| wj / hk1).collect());
            }
            // Back substitution for y in H y = g, then x += Z y.
            let mut y = vec![0.0; k];
            for i in (0..k).rev() {
                let s: f64 = (i + 1..k).map(|j| h[i][j] * y[j]).sum();
                y[i] = (g[i] - s) / h[i][i];
            }
            for (yi, zi) in y.iter().zip(&z) {
                x.iter_mut().zip(zi).for_each(|(xj, zj)| *xj += yi * zj);
            }
            residual(a, b, x, &mut r);
            let true_residual = norm(&r);
            *history
                .last_mut()
                .expect("history has the initial residual") = true_residual;
            if true_residual <= target {
                break;
            }
            if it >= max_iterations {
                return Err(not_converged("GMRES", it, a, b, x, rtol));
            }
        }
        Ok(SolveReport {
            iterations: it,
            relative_residual: relative_residual(a, b, x),
            history,
            fallback: None,
        })
    }
}

/// BiCGStab with right preconditioning, for non-symmetric systems.
pub struct BiCgStab {
    /// Stopping rule.
    pub tolerance: Tolerance,
    /// The preconditioner (set up on every solve).
    pub preconditioner: Box<dyn Preconditioner>,
}

impl BiCgStab {
    /// BiCGStab with the given preconditioner and tolerance.
    pub fn new(preconditioner: Box<dyn Preconditioner>, tolerance: Tolerance) -> Self {
        BiCgStab {
            tolerance,
            preconditioner,
        }
    }
}

impl LinearSolver for BiCgStab {
    fn solve(
        &mut self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, SolverError> {
        let (target, mut r) = start(a, b, x, self.preconditioner.as_mut(), &self.tolerance)?;
        let n = b.len();
        let Tolerance {
            rtol,
            max_iterations,
            ..
        } = self.tolerance;
        let r_hat = r.clone();
        let (mut rho, mut alpha, mut omega) = (1.0, 1.0, 1.0);
        let (mut v, mut p) = (vec![0.0; n], vec![0.0; n]);
        let (mut p_hat, mut s_hat, mut t) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut history = vec![norm(&r)];
        let mut it = 0;
        let breakdown = |it: usize, what: &str| SolverError::Breakdown {
            method: "BiCGStab",
            iteration: it,
            reason: what.to_string(),
        };
        while history[it] > target {
            if it == max_iterations {
                return Err(not_converged("BiCGStab", it, a, b, x, rtol));
            }
            let rho_new = super::dot(&r_hat, &r);
            if rho_new == 0.0 {
                return Err(breakdown(it, "r_hat . r = 0"));
            }
            let beta = (rho_new / rho) * (alpha / omega);
            rho = rho_new;
            for j in 0..n {
                p[j] = r[j] + beta * (p[j] - omega * v[j]);
            }
            self.preconditioner.apply(&p, &mut p_hat);
            spmv(a, &p_hat, &mut v);
            let rv = super::dot(&r_hat, &v);
            if rv == 0.0 {
                return Err(breakdown(it, "r_hat . A p = 0"));
            }
            alpha = rho / rv;
            // r becomes s = r - alpha v.
            r.iter_mut().zip(&v).for_each(|(rj, vj)| *rj -= alpha * vj);
            x.iter_mut()
                .zip(&p_hat)
                .for_each(|(xj, pj)| *xj += alpha * pj);
            it += 1;
            let s_norm = norm(&r);
            if s_norm <= target {
                history.push(s_norm);
                break;
            }
            self.preconditioner.apply(&r, &mut s_hat);
            spmv(a, &s_hat, &mut t);
            let tt = super::dot(&t, &t);
            omega = if tt > 0.0 {
                super::dot(&t, &r) / tt
            } else {
                0.0
            };
            if omega == 0.0 {
                return Err(breakdown(it, "omega = 0"));
            }
            x.iter_mut()
                .zip(&s_hat)
                .for_each(|(xj, sj)| *xj += omega * sj);
            r.iter_mut().zip(&t).for_each(|(rj, tj)| *rj -= omega * tj);
            history.push(norm(&r));
        }
        Ok(SolveReport {
            iterations: it,
            relative_residual: relative_residual(a, b, x),
            history,
            fallback: None,
        })
    }
}
