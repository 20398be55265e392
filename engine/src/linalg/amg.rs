//! Smoothed-aggregation algebraic multigrid (Vaněk, Mandel, Brezina 1996)
//! as a preconditioner: strength of connection, aggregation, a tentative
//! prolongator smoothed by damped Jacobi, Galerkin coarse operators, and a
//! V-cycle with symmetric Gauss–Seidel (or damped Jacobi) smoothing. On a
//! symmetric matrix the V-cycle is symmetric, so it preconditions CG; on a
//! nonsymmetric one (convection–diffusion, the velocity block of a flow) it
//! preconditions GMRES.

use faer::sparse::{SparseRowMat, SymbolicSparseRowMat};

use super::{multiply, spmv, transpose, Preconditioner, SolverError, SparseMatrix};

/// Smoothers of the V-cycle.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Smoother {
    /// Forward Gauss–Seidel before, backward after the coarse correction.
    SymmetricGaussSeidel,
    /// Damped Jacobi with the given weight (2/3 is usual).
    Jacobi(f64),
}

/// Smoothed-aggregation AMG. The hierarchy is rebuilt by [`Preconditioner::setup`]
/// only when the matrix changed since the last set-up.
#[derive(Clone, Debug)]
pub struct Amg {
    /// Strength threshold: `a_ij` is strong when `|a_ij| >= theta sqrt(a_ii a_jj)`.
    pub theta: f64,
    /// The smoother.
    pub smoother: Smoother,
    /// Sweeps before and after the coarse correction.
    pub sweeps: usize,
    /// Stop coarsening at this many unknowns (solved directly).
    pub max_coarse: usize,
    /// At most this many levels.
    pub max_levels: usize,
    levels: Vec<Level>,
    coarse: DenseLu,
    coarse_nnz: usize,
    fingerprint: Option<(Vec<usize>, Vec<f64>)>,
    /// Hierarchies built so far.
    pub setups: usize,
}

#[derive(Clone, Debug)]
struct Level {
    a: SparseMatrix,
    diagonal: Vec<usize>,
    /// Prolongation to this level from the next coarser one, and its transpose.
    p: SparseMatrix,
    r: SparseMatrix,
}

impl Default for Amg {
    fn default() -> Self {
        Amg {
            theta: 0.08,
            smoother: Smoother::SymmetricGaussSeidel,
            sweeps: 1,
            max_coarse: 400,
            max_levels: 20,
            levels: Vec::new(),
            coarse: DenseLu::default(),
            coarse_nnz: 0,
            fingerprint: None,
            setups: 0,
        }
    }
}

impl Amg {
    /// AMG with the default settings and the given smoother.
    pub fn with_smoother(smoother: Smoother) -> Self {
        Amg {
            smoother,
            ..Amg::default()
        }
    }

    /// Number of levels (including the coarsest).
    pub fn num_levels(&self) -> usize {
        self.levels.len() + 1
    }

    /// Operator complexity: total nonzeros of all levels over those of the finest.
    pub fn operator_complexity(&self) -> f64 {
        let fine = self.levels.first().map_or(1, |l| l.a.val().len()) as f64;
        let all: usize =
            self.levels.iter().map(|l| l.a.val().len()).sum::<usize>() + self.coarse_nnz;
        all as f64 / fine
    }

    fn vcycle(&self, level: usize, b: &[f64], x: &mut [f64]) {
        if level == self.levels.len() {
            self.coarse.solve(b, x);
            return;
        }
        let l = &self.levels[level];
        let n = b.len();
        for _ in 0..self.sweeps {
            self.smooth(l, b, x, true);
        }
        let mut r = vec![0.0; n];
        spmv(&l.a, x, &mut r);
        r.iter_mut().zip(b).for_each(|(ri, bi)| *ri = bi - *ri);
        let mut rc = vec![0.0; l.r.nrows()];
        spmv(&l.r, &r, &mut rc);
        let mut xc = vec![0.0; rc.len()];
        self.vcycle(level + 1, &rc, &mut xc);
        let mut correction = vec![0.0; n];
        spmv(&l.p, &xc, &mut correction);
        x.iter_mut().zip(&correction).for_each(|(xi, ci)| *xi += ci);
        for _ in 0..self.sweeps {
            self.smooth(l, b, x, false);
        }
    }

    fn smooth(&self, l: &Level, b: &[f64], x: &mut [f64], forward: bool) {
        let s = l.a.symbolic();
        let (ptr, col, val) = (s.row_ptr(), s.col_idx(), l.a.val());
        let row =
            |i: usize, x: &[f64]| -> f64 { (ptr[i]..ptr[i + 1]).map(|k| val[k] * x[col[k]]).sum() };
        match self.smoother {
            Smoother::SymmetricGaussSeidel => {
                let n = b.len();
                let update = |i: usize, x: &mut [f64]| {
                    let d = val[l.diagonal[i]];
                    x[i] += (b[i] - row(i, x)) / d;
                };
                if forward {
                    (0..n).for_each(|i| update(i, x));
                } else {
                    (0..n).rev().for_each(|i| update(i, x));
                }
            }
            Smoother::Jacobi(w) => {
                let old = x.to_vec();
                for (i, xi) in x.iter_mut().enumerate() {
                    *xi += w * (b[i] - row(i, &old)) / val[l.diagonal[i]];
                }
            }
        }
    }
}

impl Preconditioner for Amg {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        let print = (a.symbolic().col_idx().to_vec(), a.val().to_vec());
        if self.fingerprint.as_ref() == Some(&print) {
            return Ok(());
        }
        self.levels.clear();
        let mut current = a.clone();
        while current.nrows() > self.max_coarse && self.levels.len() + 1 < self.max_levels {
            let diagonal = diagonals(&current)?;
            let aggregates = aggregate(&current, &diagonal, self.theta);
            let num_aggregates = aggregates
                .iter()
                .filter_map(|a| *a)
                .max()
                .map_or(0, |m| m + 1);
            if num_aggregates == 0 || num_aggregates * 10 > current.nrows() * 9 {
                break; // coarsening stalled
            }
            let p = smoothed_prolongator(&current, &diagonal, &aggregates, num_aggregates);
            let r = transpose(&p);
            let coarse = multiply(&multiply(&r, &current), &p);
            self.levels.push(Level {
                a: current,
                diagonal,
                p,
                r,
            });
            current = coarse;
        }
        self.coarse = DenseLu::new(&current)?;
        self.coarse_nnz = current.val().len();
        self.fingerprint = Some(print);
        self.setups += 1;
        Ok(())
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        z.iter_mut().for_each(|v| *v = 0.0);
        self.vcycle(0, r, z);
    }

    fn name(&self) -> &'static str {
        "amg"
    }
}

fn diagonals(a: &SparseMatrix) -> Result<Vec<usize>, SolverError> {
    (0..a.nrows())
        .map(|i| {
            super::entry_index(a, i, i)
                .filter(|&k| a.val()[k] > 0.0)
                .ok_or_else(|| SolverError::Breakdown {
                    method: "AMG",
                    iteration: 0,
                    reason: format!(
                        "row {i} has no positive diagonal entry (AMG needs an SPD-like matrix)"
                    ),
                })
        })
        .collect()
}

/// Aggregates of strongly connected nodes (standard three passes); nodes with
/// no strong neighbour (e.g. Dirichlet rows) stay out (`None`): the smoother
/// handles them.
fn aggregate(a: &SparseMatrix, diagonal: &[usize], theta: f64) -> Vec<Option<usize>> {
    let n = a.nrows();
    let s = a.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
    let d = |i: usize| val[diagonal[i]];
    let strong: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            (ptr[i]..ptr[i + 1])
                .filter(|&k| col[k] != i && val[k].abs() >= theta * (d(i) * d(col[k])).sqrt())
                .map(|k| col[k])
                .collect()
        })
        .collect();
    let mut agg: Vec<Option<usize>> = vec![None; n];
    let mut count = 0;
    // Pass 1: a node whose strong neighbours are all free roots an aggregate.
    for i in 0..n {
        if agg[i].is_none() && !strong[i].is_empty() && strong[i].iter().all(|&j| agg[j].is_none())
        {
            agg[i] = Some(count);
            for &j in &strong[i] {
                agg[j] = Some(count);
            }
            count += 1;
        }
    }
    // Pass 2: join a neighbouring aggregate.
    let snapshot = agg.clone();
    for i in 0..n {
        if agg[i].is_none() {
            if let Some(&j) = strong[i].iter().find(|&&j| snapshot[j].is_some()) {
                agg[i] = snapshot[j];
            }
        }
    }
    // Pass 3: what is left (with strong neighbours) forms new aggregates.
    for i in 0..n {
        if agg[i].is_none() && !strong[i].is_empty() {
            agg[i] = Some(count);
            for &j in &strong[i] {
                if agg[j].is_none() {
                    agg[j] = Some(count);
                }
            }
            count += 1;
        }
    }
    agg
}

/// `P = (I - ω D^{-1} A) P0`, with `P0` the normalised aggregate indicator
/// (the constants, the near-null space of scalar diffusion) and
/// `ω = 4 / (3 ρ(D^{-1} A))`.
fn smoothed_prolongator(
    a: &SparseMatrix,
    diagonal: &[usize],
    agg: &[Option<usize>],
    num: usize,
) -> SparseMatrix {
    let n = a.nrows();
    let mut sizes = vec![0usize; num];
    for g in agg.iter().flatten() {
        sizes[*g] += 1;
    }
    let mut ptr = vec![0];
    let mut col = Vec::new();
    let mut val = Vec::new();
    for g in agg {
        if let Some(g) = g {
            col.push(*g);
            val.push(1.0 / (sizes[*g] as f64).sqrt());
        }
        ptr.push(col.len());
    }
    let p0 = SparseRowMat::new(
        SymbolicSparseRowMat::new_checked(n, num, ptr, None, col),
        val,
    );
    let omega = 4.0 / (3.0 * spectral_radius(a, diagonal));
    // S = I - ω D^{-1} A, then P = S P0.
    let mut smoother = a.clone();
    let (sptr, scol) = {
        let s = smoother.symbolic();
        (s.row_ptr().to_vec(), s.col_idx().to_vec())
    };
    let dval: Vec<f64> = diagonal.iter().map(|&k| a.val()[k]).collect();
    let v = smoother.val_mut();
    for i in 0..n {
        for k in sptr[i]..sptr[i + 1] {
            v[k] = -omega * v[k] / dval[i] + if scol[k] == i { 1.0 } else { 0.0 };
        }
    }
    multiply(&smoother, &p0)
}

/// Estimate of the spectral radius of `D^{-1} A` (power iteration).
fn spectral_radius(a: &SparseMatrix, diagonal: &[usize]) -> f64 {
    let n = a.nrows();
    let mut x: Vec<f64> = (0..n)
        .map(|i| 1.0 + ((i as f64) * 0.618_034).fract())
        .collect();
    let mut y = vec![0.0; n];
    let mut rho = 1.0;
    for _ in 0..15 {
        spmv(a, &x, &mut y);
        for (i, yi) in y.iter_mut().enumerate() {
            *yi /= a.val()[diagonal[i]];
        }
        let norm = super::norm(&y);
        rho = norm / super::norm(&x);
        if norm == 0.0 {
            break;
        }
        x.iter_mut().zip(&y).for_each(|(xi, yi)| *xi = yi / norm);
    }
    rho.max(1e-12)
}

/// Dense LU with partial pivoting of the coarsest operator (exact for the
/// nonsymmetric coarse operators of convection–diffusion as well).
#[derive(Clone, Debug, Default)]
struct DenseLu {
    n: usize,
    /// `L` (unit diagonal, below) and `U` (on and above), row-major.
    lu: Vec<f64>,
    /// Row `i` of the factors is row `pivot[i]` of the matrix.
    pivot: Vec<usize>,
}

impl DenseLu {
    fn new(a: &SparseMatrix) -> Result<Self, SolverError> {
        let n = a.nrows();
        let mut lu = vec![0.0; n * n];
        let s = a.symbolic();
        for i in 0..n {
            for k in s.row_ptr()[i]..s.row_ptr()[i + 1] {
                lu[i * n + s.col_idx()[k]] = a.val()[k];
            }
        }
        let scale = lu.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if !scale.is_finite() {
            return Err(SolverError::Factorization(
                "AMG coarsest level is not finite".into(),
            ));
        }
        let mut pivot: Vec<usize> = (0..n).collect();
        for j in 0..n {
            let p = (j..n)
                .max_by(|&a, &b| lu[a * n + j].abs().total_cmp(&lu[b * n + j].abs()))
                .expect("j < n");
            if p != j {
                for k in 0..n {
                    lu.swap(j * n + k, p * n + k);
                }
                pivot.swap(j, p);
            }
            // Rows outside every aggregate can leave the coarsest operator
            // singular on a null space; regularise gently.
            if lu[j * n + j].abs() <= 1e-14 * scale {
                lu[j * n + j] = 1e-14 * scale.max(1e-300);
            }
            let d = lu[j * n + j];
            for i in j + 1..n {
                let f = lu[i * n + j] / d;
                lu[i * n + j] = f;
                if f != 0.0 {
                    for k in j + 1..n {
                        lu[i * n + k] -= f * lu[j * n + k];
                    }
                }
            }
        }
        Ok(DenseLu { n, lu, pivot })
    }

    fn solve(&self, b: &[f64], x: &mut [f64]) {
        let n = self.n;
        for i in 0..n {
            let s: f64 = (0..i).map(|k| self.lu[i * n + k] * x[k]).sum();
            x[i] = b[self.pivot[i]] - s;
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| self.lu[i * n + k] * x[k]).sum();
            x[i] = (x[i] - s) / self.lu[i * n + i];
        }
    }
}
