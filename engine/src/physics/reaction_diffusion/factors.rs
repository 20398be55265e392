//! The implicit diffusion solves of the IMEX scheme: `(M + c K) u = b` for
//! each species, with `c = dt D_i / α`. The factor of each distinct matrix
//! (one per distinct `c` and Dirichlet set) is kept while it is used, so a
//! run with a fixed step factorises once per distinct `D_i`.

use crate::fem::bc;
use crate::linalg::direct::Cholesky;
use crate::linalg::{spmv, LinearSolver, SolverError, SparseMatrix};

/// One kept factor.
struct Factor {
    coefficient: f64,
    fixed: Vec<usize>,
    /// `M + c K` as assembled: its columns lift Dirichlet values.
    matrix: SparseMatrix,
    /// With the Dirichlet rows and columns replaced by the identity's.
    eliminated: SparseMatrix,
    solver: Cholesky,
    last_used: u64,
}

/// Kept Cholesky factors of `M + c K`, least recently used dropped first.
pub(super) struct Factors {
    entries: Vec<Factor>,
    capacity: usize,
    clock: u64,
}

impl Factors {
    /// Keeps at most `capacity` factors.
    pub(super) fn new(capacity: usize) -> Self {
        Factors {
            entries: Vec::new(),
            capacity: capacity.max(1),
            clock: 0,
        }
    }

    /// Numeric factorisations done so far, over the factors kept now.
    pub(super) fn factorizations(&self) -> usize {
        self.entries.iter().map(|f| f.solver.factorizations()).sum()
    }

    /// Solves `(M + c K) x = b` with `x[fixed[k]] = values[k]`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn solve(
        &mut self,
        mass: &SparseMatrix,
        stiffness: &SparseMatrix,
        coefficient: f64,
        fixed: &[usize],
        values: &[f64],
        b: &mut [f64],
        x: &mut [f64],
    ) -> Result<(), SolverError> {
        self.clock += 1;
        let found = self
            .entries
            .iter()
            .position(|f| f.coefficient == coefficient && f.fixed == fixed);
        let k = match found {
            Some(k) => k,
            None => {
                if self.entries.len() == self.capacity {
                    let oldest = (0..self.entries.len())
                        .min_by_key(|&k| self.entries[k].last_used)
                        .expect("capacity is at least 1");
                    self.entries.swap_remove(oldest);
                }
                let mut matrix = mass.clone();
                matrix
                    .val_mut()
                    .iter_mut()
                    .zip(stiffness.val())
                    .for_each(|(m, k)| *m += coefficient * k);
                let mut eliminated = matrix.clone();
                bc::apply_dirichlet(&mut eliminated, &mut vec![0.0; b.len()], fixed, values);
                self.entries.push(Factor {
                    coefficient,
                    fixed: fixed.to_vec(),
                    matrix,
                    eliminated,
                    solver: Cholesky::new(),
                    last_used: 0,
                });
                self.entries.len() - 1
            }
        };
        let f = &mut self.entries[k];
        f.last_used = self.clock;
        if !fixed.is_empty() {
            // Lift: b -= A g on the free rows, b = g on the fixed ones.
            let mut g = vec![0.0; b.len()];
            for (&d, &v) in fixed.iter().zip(values) {
                g[d] = v;
            }
            let mut ag = vec![0.0; b.len()];
            spmv(&f.matrix, &g, &mut ag);
            b.iter_mut().zip(&ag).for_each(|(bi, a)| *bi -= a);
            for (&d, &v) in fixed.iter().zip(values) {
                b[d] = v;
            }
        }
        f.solver.solve(&f.eliminated, b, x)?;
        Ok(())
    }
}
