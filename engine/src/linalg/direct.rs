//! Direct solvers: faer's sparse Cholesky (supernodal, AMD ordering) for
//! symmetric positive definite matrices and sparse LU (COLAMD) for the rest.
//! Both keep their symbolic analysis while the matrix pattern stays the same,
//! and their numeric factor while the values do too (a time loop with a fixed
//! step factorises once).
//!
//! Factorisations and solves run on one thread unless the system has at
//! least [`PARALLEL_FROM`] unknowns and the pool more than two threads.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::sparse::linalg::{cholesky, lu};
use faer::sparse::SparseColMatRef;
use faer::{Conj, Par, Side};

use std::sync::Arc;

use super::krylov::{Gmres, Tolerance};
use super::{
    check_sizes, relative_residual, LinearSolver, Preconditioner, SolveReport, SolverError,
    SparseMatrix,
};

/// The number of unknowns from which direct factorisations and solves may
/// use faer's global parallelism (rayon's pool) rather than one thread.
pub const PARALLEL_FROM: usize = 200_000;

/// The parallelism of a factorisation or solve with `n` unknowns: faer's
/// global parallelism for `n ≥` [`PARALLEL_FROM`] on more than two threads,
/// one thread otherwise. On two threads the parallel kernels cost more than
/// they save at every size measured, 5,800 to 10⁶ unknowns (LU of the DFG
/// systems, Cholesky of P1 Poisson; docs/performance.md).
fn parallelism(n: usize) -> Par {
    let global = faer::get_global_parallelism();
    if n >= PARALLEL_FROM && global.degree() > 2 {
        global
    } else {
        Par::Seq
    }
}

/// `A^T` without copying: a CSR matrix viewed as CSC is its transpose.
fn transpose(a: &SparseMatrix) -> SparseColMatRef<'_, usize, f64> {
    a.as_ref().transpose()
}

fn factorization_error(e: impl std::fmt::Debug, hint: &str) -> SolverError {
    SolverError::Factorization(format!("{e:?}{hint}"))
}

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

    /// The values last factorised and their factor, if they have `a`'s
    /// pattern (the values may be older than `a`'s).
    fn kept(&self, a: &SparseMatrix) -> Option<(&[f64], &N)> {
        let s = a.symbolic();
        let same_pattern = self
            .symbolic
            .as_ref()
            .is_some_and(|(ptr, col, _)| ptr[..] == s.row_ptr()[..] && col[..] == s.col_idx()[..]);
        same_pattern
            .then(|| self.numeric.as_ref().map(|(v, n)| (&v[..], n)))
            .flatten()
    }
}

/// `‖to − from‖ / ‖from‖` (Euclidean norms): how far a matrix's values
/// have drifted from those of the same pattern.
fn relative_change(from: &[f64], to: &[f64]) -> f64 {
    let (change, size) = from.iter().zip(to).fold((0.0, 0.0), |(c, s), (f, t)| {
        (c + (t - f) * (t - f), s + f * f)
    });
    (change / size).sqrt()
}

fn report(a: &SparseMatrix, b: &[f64], x: &[f64]) -> SolveReport {
    SolveReport {
        iterations: 0,
        relative_residual: relative_residual(a, b, x),
        history: Vec::new(),
        fallback: None,
    }
}

/// The numeric factor `L` of a Cholesky factorisation with its analysis.
struct CholeskyFactor {
    symbolic: Arc<cholesky::SymbolicCholesky<usize>>,
    values: Vec<f64>,
}

impl CholeskyFactor {
    /// Factorises `a` (symmetric: its CSC view is itself) with the
    /// analysis of its pattern.
    fn new(
        symbolic: Arc<cholesky::SymbolicCholesky<usize>>,
        a: &SparseMatrix,
    ) -> Result<Self, SolverError> {
        let par = parallelism(a.nrows());
        let mut values = vec![0.0; symbolic.len_val()];
        let scratch = symbolic.factorize_numeric_llt_scratch::<f64>(par, Default::default());
        let mut buffer = MemBuffer::try_new(scratch).map_err(|e| factorization_error(e, ""))?;
        symbolic
            .factorize_numeric_llt(
                &mut values,
                transpose(a),
                Side::Lower,
                Default::default(),
                par,
                MemStack::new(&mut buffer),
                Default::default(),
            )
            .map_err(|e| factorization_error(e, " (is the matrix symmetric positive definite?)"))?;
        Ok(CholeskyFactor { symbolic, values })
    }

    /// `x ← A⁻¹ x`.
    fn solve_in_place(&self, x: &mut [f64]) {
        let par = parallelism(x.len());
        let mut buffer = MemBuffer::new(self.symbolic.solve_in_place_scratch::<f64>(1, par));
        cholesky::LltRef::new(&self.symbolic, &self.values).solve_in_place_with_conj(
            Conj::No,
            faer::ColMut::from_slice_mut(x).as_mat_mut(),
            par,
            MemStack::new(&mut buffer),
        );
    }
}

/// Sparse Cholesky `A = L L^T` for symmetric positive definite matrices.
#[derive(Default)]
pub struct Cholesky {
    cache: FactorCache<Arc<cholesky::SymbolicCholesky<usize>>, CholeskyFactor>,
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
        let llt = self.cache.factor(
            a,
            |a| {
                cholesky::factorize_symbolic_cholesky(
                    transpose(a).symbolic(),
                    Side::Lower,
                    cholesky::SymmetricOrdering::Amd,
                    Default::default(),
                )
                .map(Arc::new)
                .map_err(|e| factorization_error(e, ""))
            },
            CholeskyFactor::new,
        )?;
        x.copy_from_slice(b);
        llt.solve_in_place(x);
        Ok(report(a, b, x))
    }
}

/// The numeric LU factor of `A^T` with its analysis (see [`SparseLu`]).
struct LuParts {
    symbolic: Arc<lu::SymbolicLu<usize>>,
    numeric: lu::NumericLu<usize, f64>,
}

impl LuParts {
    /// Factorises `A^T` with the analysis of its pattern.
    fn new(symbolic: Arc<lu::SymbolicLu<usize>>, a: &SparseMatrix) -> Result<Self, SolverError> {
        let par = parallelism(a.nrows());
        let mut numeric = lu::NumericLu::new();
        let scratch = symbolic.factorize_numeric_lu_scratch::<f64>(par, Default::default());
        let mut buffer = MemBuffer::try_new(scratch).map_err(|e| factorization_error(e, ""))?;
        symbolic
            .factorize_numeric_lu(
                &mut numeric,
                transpose(a),
                par,
                MemStack::new(&mut buffer),
                Default::default(),
            )
            .map_err(|e| factorization_error(e, " (is the matrix singular?)"))?;
        Ok(LuParts { symbolic, numeric })
    }

    /// `x ← A⁻¹ x`, solving with the transpose of the factor of `A^T`.
    fn solve_in_place(&self, x: &mut [f64]) {
        let par = parallelism(x.len());
        let scratch = self
            .symbolic
            .solve_transpose_in_place_scratch::<f64>(1, par);
        let mut buffer = MemBuffer::new(scratch);
        lu::LuRef::new_unchecked(&self.symbolic, &self.numeric).solve_transpose_in_place_with_conj(
            Conj::No,
            faer::ColMut::from_slice_mut(x).as_mat_mut(),
            par,
            MemStack::new(&mut buffer),
        );
    }
}

/// Sparse LU with partial pivoting, for any non-singular matrix.
#[derive(Default)]
pub struct SparseLu {
    cache: FactorCache<Arc<lu::SymbolicLu<usize>>, Arc<LuParts>>,
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
        let lu = self.factor(a)?;
        solve_with(&lu, b, x)?;
        Ok(report(a, b, x))
    }
}

impl SparseLu {
    /// The factor of `a` (computed unless `a` is the matrix last factorised).
    fn factor(&mut self, a: &SparseMatrix) -> Result<Arc<LuParts>, SolverError> {
        // The CSR matrix viewed as CSC is A^T: factorise that, then solve
        // with its transpose, A, without copying the matrix.
        self.cache
            .factor(
                a,
                |a| {
                    lu::factorize_symbolic_lu(transpose(a).symbolic(), Default::default())
                        .map(Arc::new)
                        .map_err(|e| factorization_error(e, ""))
                },
                |sym, a| LuParts::new(sym, a).map(Arc::new),
            )
            .cloned()
    }
}

/// The LU factor of one matrix kept for many solves with it (a constant
/// operator), without [`SparseLu`]'s comparison of each matrix it is
/// given with the one it factorised.
///
/// ```
/// use pde_engine::linalg::direct::LuFactor;
/// use pde_engine::linalg::zeros_with_pattern;
/// use pde_mesh::Csr;
/// let pattern = Csr { offsets: vec![0, 2, 4], indices: vec![0, 1, 0, 1] };
/// let mut a = zeros_with_pattern(pattern);
/// a.val_mut().copy_from_slice(&[4.0, 1.0, 2.0, 3.0]);
/// let lu = LuFactor::new(&a).unwrap();
/// let mut x = vec![0.0; 2];
/// lu.solve(&[5.0, 5.0], &mut x).unwrap();
/// assert!((x[0] - 1.0).abs() < 1e-14 && (x[1] - 1.0).abs() < 1e-14);
/// assert!(lu.solve(&[5.0], &mut x).is_err());
/// ```
pub struct LuFactor {
    lu: Arc<LuParts>,
    rows: usize,
}

impl LuFactor {
    /// Factorises `a` (square, non-singular).
    pub fn new(a: &SparseMatrix) -> Result<Self, SolverError> {
        if a.nrows() != a.ncols() {
            return Err(SolverError::Dimension(format!(
                "a {}x{} matrix has no LU factor",
                a.nrows(),
                a.ncols()
            )));
        }
        let lu = SparseLu::new().factor(a)?;
        Ok(LuFactor {
            lu,
            rows: a.nrows(),
        })
    }

    /// `x = A⁻¹ b`.
    pub fn solve(&self, b: &[f64], x: &mut [f64]) -> Result<(), SolverError> {
        if b.len() != self.rows || x.len() != self.rows {
            return Err(SolverError::Dimension(format!(
                "a factor of {} rows, right-hand side {}, solution {}",
                self.rows,
                b.len(),
                x.len()
            )));
        }
        solve_with(&self.lu, b, x)
    }
}

/// `x = A^{-1} b` with the factor of `A^T` (see [`SparseLu`]).
fn solve_with(lu: &LuParts, b: &[f64], x: &mut [f64]) -> Result<(), SolverError> {
    x.copy_from_slice(b);
    lu.solve_in_place(x);
    if x.iter().any(|v| !v.is_finite()) {
        return Err(SolverError::Factorization(
            "the LU solution is not finite: the matrix is singular".into(),
        ));
    }
    Ok(())
}

/// A kept LU factor used as a preconditioner.
struct FactorPreconditioner(Arc<LuParts>);

impl Preconditioner for FactorPreconditioner {
    fn setup(&mut self, _a: &SparseMatrix) -> Result<(), SolverError> {
        Ok(())
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        z.copy_from_slice(r);
        self.0.solve_in_place(z);
    }

    fn name(&self) -> &'static str {
        "lagged LU"
    }
}

/// Sparse LU for sequences of slowly changing matrices (time steps of a
/// flow): the factor of an earlier matrix preconditions GMRES on the
/// current one, and the matrix is factorised again only when GMRES needs
/// more than `refactor_after` iterations. The answer meets the GMRES
/// tolerance either way; a fresh factorisation solves directly.
///
/// A GMRES attempt that fails costs `refactor_after` iterations for
/// nothing, so the solver remembers the drift (relative change of the
/// matrix values from the factorised ones) at which the last one failed,
/// and past that drift factorises without trying. The limit is raised a
/// little at each such factorisation, so that it follows a flow whose
/// matrices grow easier to precondition. (A learned time step that falls
/// back to this solver only now and then meets a factor several steps
/// old: measured on the DFG case, half of those solves failed first.)
///
/// ```
/// use pde_engine::linalg::direct::LaggedLu;
/// use pde_engine::linalg::krylov::Tolerance;
/// use pde_engine::linalg::{zeros_with_pattern, LinearSolver};
/// use pde_mesh::Csr;
/// let pattern = Csr { offsets: vec![0, 2, 4], indices: vec![0, 1, 0, 1] };
/// let mut a = zeros_with_pattern(pattern);
/// a.val_mut().copy_from_slice(&[4.0, 1.0, 2.0, 3.0]);
/// let mut lu = LaggedLu::new(Tolerance::default(), 10);
/// let mut x = vec![0.0; 2];
/// lu.solve(&a, &[1.0, 2.0], &mut x).unwrap();
/// a.val_mut()[0] = 4.1; // a small change: GMRES with the old factor
/// let report = lu.solve(&a, &[1.0, 2.0], &mut x).unwrap();
/// assert!(report.iterations > 0 && lu.factorizations() == 1);
/// ```
pub struct LaggedLu {
    lu: SparseLu,
    tolerance: Tolerance,
    refactor_after: usize,
    /// The drift past which GMRES is not tried (infinite until it fails).
    drift_limit: f64,
    failed_attempts: usize,
}

/// How much the drift limit of [`LaggedLu`] rises at each factorisation it
/// decides on without trying GMRES.
const DRIFT_PROBE: f64 = 1.1;

impl LaggedLu {
    /// GMRES to `tolerance` with the kept factor, refactorising when it
    /// needs more than `refactor_after` iterations.
    pub fn new(tolerance: Tolerance, refactor_after: usize) -> Self {
        LaggedLu {
            lu: SparseLu::new(),
            tolerance,
            refactor_after,
            drift_limit: f64::INFINITY,
            failed_attempts: 0,
        }
    }

    /// Numeric factorisations done so far.
    pub fn factorizations(&self) -> usize {
        self.lu.factorizations()
    }

    /// GMRES attempts with the kept factor that failed (each followed by
    /// a factorisation), so far.
    pub fn failed_attempts(&self) -> usize {
        self.failed_attempts
    }

    /// GMRES preconditioned by the factor `lu`, from `x`, for at most
    /// `refactor_after` iterations: its report (and `x` its answer) if it
    /// converged, `None` (and `x` as it was) if not.
    fn gmres_with(
        &self,
        lu: &Arc<LuParts>,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<Option<SolveReport>, SolverError> {
        let tolerance = Tolerance {
            max_iterations: self.refactor_after,
            ..self.tolerance
        };
        let restart = self.refactor_after.max(1);
        let mut gmres = Gmres::new(
            Box::new(FactorPreconditioner(lu.clone())),
            tolerance,
            restart,
        );
        let mut guess = x.to_vec();
        match gmres.solve(a, b, &mut guess) {
            Ok(report) => {
                x.copy_from_slice(&guess);
                Ok(Some(report))
            }
            Err(SolverError::NotConverged { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl LinearSolver for LaggedLu {
    fn solve(
        &mut self,
        a: &SparseMatrix,
        b: &[f64],
        x: &mut [f64],
    ) -> Result<SolveReport, SolverError> {
        check_sizes(a, b, x)?;
        let kept = self.lu.cache.kept(a);
        match kept.map(|(values, lu)| (relative_change(values, a.val()), lu)) {
            None => {}
            Some((drift, _)) if drift >= self.drift_limit => self.drift_limit *= DRIFT_PROBE,
            Some((drift, lu)) => match self.gmres_with(lu, a, b, x)? {
                Some(report) => return Ok(report),
                None => {
                    self.drift_limit = drift;
                    self.failed_attempts += 1;
                }
            },
        }
        let lu = self.lu.factor(a)?;
        solve_with(&lu, b, x)?;
        Ok(report(a, b, x))
    }

    fn kept_factor(&self) -> Option<Vec<f64>> {
        self.lu
            .cache
            .numeric
            .as_ref()
            .map(|(values, _)| values.clone())
    }

    fn restore_factor(&mut self, a: &SparseMatrix, values: &[f64]) -> Result<(), SolverError> {
        if values.len() != a.val().len() {
            return Err(SolverError::Dimension(format!(
                "a kept factor of {} values for a matrix of {}",
                values.len(),
                a.val().len()
            )));
        }
        let mut kept = a.clone();
        kept.val_mut().copy_from_slice(values);
        self.lu.factor(&kept).map(drop)
    }
}
