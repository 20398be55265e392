//! Block preconditioning of saddle-point systems
//!
//! ```text
//! [ F  Bᵀ ] [u]   [f]
//! [ B  C  ] [p] = [g]
//! ```
//!
//! as incompressible flow gives them (velocity unknowns first, pressure
//! after; `C = 0` except for pinned pressure rows). [`BlockLsc`] is the
//! block upper-triangular preconditioner
//!
//! ```text
//! P = [ F  Bᵀ ]
//!     [ 0  -S ]
//! ```
//!
//! with `F⁻¹` and the Schur complement `S = B F⁻¹ Bᵀ` replaced by
//! approximations. With both exact GMRES converges in two iterations; the
//! approximations keep the count small: `F⁻¹` is ILU(0) by default and
//! `S⁻¹` is the least-squares commutator (LSC) of Elman, Howle, Shadid,
//! Shuttleworth and Tuminaro (2006),
//!
//! ```text
//! S⁻¹ ≈ (B Q⁻¹ Bᵀ)⁻¹ (B Q⁻¹ F Q⁻¹ Bᵀ) (B Q⁻¹ Bᵀ)⁻¹,   Q = diag(F),
//! ```
//!
//! which needs nothing but the matrix (no pressure mass or Laplacian from
//! the discretisation) and follows the operator from mass- (small time
//! steps) through diffusion- to convection-dominated regimes. The two
//! pressure solves with `B Q⁻¹ Bᵀ` (a pressure Laplacian, symmetric) are
//! AMG V-cycles.
//!
//! Why ILU(0) and not AMG for `F`: smoothed aggregation is built for
//! symmetric diffusion; on the convection-dominated velocity block of the
//! DFG cylinder its V-cycle stalled GMRES (the first BDF2 step after the
//! impulsive start, and Newton at Re 20 on the 83k-unknown mesh), while
//! ILU(0) converged in every case. At the time steps flows run with, the
//! mass term keeps `F` well conditioned, so ILU(0) needs no multilevel help;
//! [`BlockLsc::with_inner`] takes any other choice.

use std::ops::Range;

use faer::sparse::{SparseRowMat, SymbolicSparseRowMat};

use super::amg::Amg;
use super::precond::Ilu0;
use super::{multiply, spmv, Preconditioner, SolverError, SparseMatrix};

/// The block-triangular LSC preconditioner of a saddle-point matrix whose
/// first `split` unknowns are velocities and the rest pressures.
///
/// ```
/// use pde_engine::linalg::krylov::{Gmres, Tolerance};
/// use pde_engine::linalg::saddle::BlockLsc;
/// use pde_engine::linalg::LinearSolver;
/// # use faer::sparse::{SparseRowMat, Triplet};
/// // [F Bᵀ; B 0] with F = diag(2, 3), B = (1 1).
/// let triplets = [(0, 0, 2.0), (1, 1, 3.0), (0, 2, 1.0), (1, 2, 1.0), (2, 0, 1.0), (2, 1, 1.0)]
///     .map(|(i, j, v)| Triplet::new(i, j, v));
/// let a = SparseRowMat::<usize, f64>::try_new_from_triplets(3, 3, &triplets).unwrap();
/// let mut gmres = Gmres::new(Box::new(BlockLsc::new(2)), Tolerance::default(), 30);
/// let mut x = vec![0.0; 3];
/// gmres.solve(&a, &[1.0, 2.0, 3.0], &mut x).unwrap();
/// assert!((x[0] + x[1] - 3.0).abs() < 1e-8);
/// ```
pub struct BlockLsc {
    split: usize,
    velocity: Box<dyn Preconditioner>,
    pressure: Box<dyn Preconditioner>,
    blocks: Option<Blocks>,
}

/// The blocks of the matrix last set up, and the pressure operator.
struct Blocks {
    f: SparseMatrix,
    b: SparseMatrix,
    bt: SparseMatrix,
    /// `1 / diag(F)`.
    q_inv: Vec<f64>,
    /// Pressure rows without velocity coupling (pinned pressures): their
    /// local index and `1 / C_ii`.
    isolated: Vec<(usize, f64)>,
}

impl BlockLsc {
    /// LSC with ILU(0) for the velocity block and AMG for the pressure
    /// Laplacian.
    pub fn new(split: usize) -> Self {
        BlockLsc::with_inner(split, Box::new(Ilu0::default()), Box::new(Amg::default()))
    }

    /// LSC with the given approximations of `F⁻¹` and `(B Q⁻¹ Bᵀ)⁻¹`.
    pub fn with_inner(
        split: usize,
        velocity: Box<dyn Preconditioner>,
        pressure: Box<dyn Preconditioner>,
    ) -> Self {
        BlockLsc {
            split,
            velocity,
            pressure,
            blocks: None,
        }
    }

    /// The number of velocity unknowns (the first pressure unknown).
    pub fn split(&self) -> usize {
        self.split
    }
}

/// The sub-matrix of `a` on `rows` × `cols`.
fn block(a: &SparseMatrix, rows: Range<usize>, cols: Range<usize>) -> SparseMatrix {
    let s = a.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
    let mut out_ptr = vec![0];
    let mut out_col = Vec::new();
    let mut out_val = Vec::new();
    for i in rows.clone() {
        for k in ptr[i]..ptr[i + 1] {
            if cols.contains(&col[k]) {
                out_col.push(col[k] - cols.start);
                out_val.push(val[k]);
            }
        }
        out_ptr.push(out_col.len());
    }
    SparseRowMat::new(
        SymbolicSparseRowMat::new_checked(rows.len(), cols.len(), out_ptr, None, out_col),
        out_val,
    )
}

/// `B Q⁻¹ Bᵀ`, with a unit diagonal on the rows in `isolated` (which are
/// empty otherwise) so that it stays non-singular.
fn pressure_laplacian(
    b: &SparseMatrix,
    bt: &SparseMatrix,
    q_inv: &[f64],
    isolated: &[(usize, f64)],
) -> SparseMatrix {
    let mut scaled = b.clone();
    let cols = b.symbolic().col_idx().to_vec();
    scaled
        .val_mut()
        .iter_mut()
        .zip(&cols)
        .for_each(|(v, &j)| *v *= q_inv[j]);
    let lp = multiply(&scaled, bt);
    if isolated.is_empty() {
        return lp;
    }
    let s = lp.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), lp.val());
    let mut out_ptr = vec![0];
    let mut out_col = Vec::with_capacity(col.len() + isolated.len());
    let mut out_val = Vec::with_capacity(col.len() + isolated.len());
    let mut next = isolated.iter().map(|&(i, _)| i).peekable();
    for i in 0..lp.nrows() {
        if next.peek() == Some(&i) {
            next.next();
            out_col.push(i);
            out_val.push(1.0);
        } else {
            out_col.extend_from_slice(&col[ptr[i]..ptr[i + 1]]);
            out_val.extend_from_slice(&val[ptr[i]..ptr[i + 1]]);
        }
        out_ptr.push(out_col.len());
    }
    SparseRowMat::new(
        SymbolicSparseRowMat::new_checked(lp.nrows(), lp.ncols(), out_ptr, None, out_col),
        out_val,
    )
}

impl Preconditioner for BlockLsc {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        let (n, m) = (a.nrows(), self.split);
        if m == 0 || m >= n {
            return Err(SolverError::Dimension(format!(
                "saddle-point split {m} must lie inside the matrix of size {n}"
            )));
        }
        let f = block(a, 0..m, 0..m);
        let b = block(a, m..n, 0..m);
        let bt = block(a, 0..m, m..n);
        let q_inv = (0..m)
            .map(|i| match super::entry_index(&f, i, i).map(|k| f.val()[k]) {
                Some(d) if d != 0.0 => Ok(1.0 / d),
                _ => Err(SolverError::Breakdown {
                    method: "LSC",
                    iteration: 0,
                    reason: format!("velocity row {i} has no diagonal entry"),
                }),
            })
            .collect::<Result<Vec<f64>, _>>()?;
        let bptr = b.symbolic().row_ptr();
        let isolated = (0..n - m)
            .filter(|&i| b.val()[bptr[i]..bptr[i + 1]].iter().all(|&v| v == 0.0))
            .map(|i| {
                let c = super::entry_index(a, m + i, m + i).map_or(0.0, |k| a.val()[k]);
                if c == 0.0 {
                    Err(SolverError::Breakdown {
                        method: "LSC",
                        iteration: 0,
                        reason: format!("pressure row {} couples to nothing", m + i),
                    })
                } else {
                    Ok((i, 1.0 / c))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let lp = pressure_laplacian(&b, &bt, &q_inv, &isolated);
        self.velocity.setup(&f)?;
        self.pressure.setup(&lp)?;
        self.blocks = Some(Blocks {
            f,
            b,
            bt,
            q_inv,
            isolated,
        });
        Ok(())
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        let blocks = self.blocks.as_ref().expect("BlockLsc::setup before apply");
        let m = self.split;
        let (ru, rp) = r.split_at(m);
        let (zu, zp) = z.split_at_mut(m);
        // z_p = -S⁻¹ r_p with the LSC approximation.
        let mut rhs = rp.to_vec();
        for &(i, _) in &blocks.isolated {
            rhs[i] = 0.0;
        }
        let mut y = vec![0.0; rp.len()];
        self.pressure.apply(&rhs, &mut y);
        let mut v = vec![0.0; m];
        spmv(&blocks.bt, &y, &mut v);
        v.iter_mut().zip(&blocks.q_inv).for_each(|(a, q)| *a *= q);
        let mut w = vec![0.0; m];
        spmv(&blocks.f, &v, &mut w);
        w.iter_mut().zip(&blocks.q_inv).for_each(|(a, q)| *a *= q);
        spmv(&blocks.b, &w, &mut rhs);
        for &(i, _) in &blocks.isolated {
            rhs[i] = 0.0;
        }
        self.pressure.apply(&rhs, zp);
        zp.iter_mut().for_each(|p| *p = -*p);
        for &(i, c_inv) in &blocks.isolated {
            zp[i] = rp[i] * c_inv;
        }
        // z_u = F⁻¹ (r_u - Bᵀ z_p).
        spmv(&blocks.bt, zp, &mut v);
        v.iter_mut().zip(ru).for_each(|(a, r)| *a = r - *a);
        self.velocity.apply(&v, zu);
    }

    fn name(&self) -> &'static str {
        "lsc"
    }
}
