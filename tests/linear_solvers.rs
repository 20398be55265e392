//! Linear solvers on finite-element systems: every method reaches its
//! tolerance and agrees with a direct solve; preconditioners cut iterations;
//! failures are reported, not ignored.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use faer::sparse::Triplet;

use pde_engine::fem::{assembly, bc, FunctionSpace};
use pde_engine::linalg::direct::{Cholesky, LaggedLu, SparseLu};
use pde_engine::linalg::factor::{Ic0, IncompleteCholesky};
use pde_engine::linalg::krylov::{BiCgStab, Cg, Gmres, Tolerance};
use pde_engine::linalg::precond::{Identity, Ilu0, Jacobi, Ssor};
use pde_engine::linalg::{LinearSolver, Preconditioner, SolveReport, SolverError, SparseMatrix};
use pde_mesh::{generate, CellKind};

fn space(n: usize, degree: usize) -> FunctionSpace {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [n, n], CellKind::Tri3).unwrap();
    FunctionSpace::new(Arc::new(mesh), degree).unwrap()
}

fn boundary_dofs(s: &FunctionSpace) -> Vec<usize> {
    s.dofs_of_groups(&["left", "right", "bottom", "top"])
        .unwrap()
}

/// -ε Δu + β·∇u = 1 with u = 0 on the boundary: a non-symmetric system.
fn advection_diffusion(n: usize) -> (SparseMatrix, Vec<f64>) {
    let s = space(n, 1);
    let eps = 0.01;
    let diffusion = assembly::assemble_matrix(&s, 2, assembly::laplace(|_| eps)).unwrap();
    let mut a = assembly::assemble_matrix(&s, 2, assembly::advection(|_| [1.0, 0.5, 0.0])).unwrap();
    a.val_mut()
        .iter_mut()
        .zip(diffusion.val())
        .for_each(|(v, d)| *v += d);
    let mut b = assembly::assemble_vector(&s, 2, assembly::source(|_| 1.0)).unwrap();
    let dofs = boundary_dofs(&s);
    bc::apply_dirichlet(&mut a, &mut b, &dofs, &vec![0.0; dofs.len()]);
    (a, b)
}

/// -Δu = 1 with u = 0 on the boundary, P2: symmetric positive definite.
fn poisson(n: usize) -> (SparseMatrix, Vec<f64>) {
    let s = space(n, 2);
    let mut a = assembly::assemble_matrix(&s, 2, assembly::laplace(|_| 1.0)).unwrap();
    let mut b = assembly::assemble_vector(&s, 4, assembly::source(|_| 1.0)).unwrap();
    let dofs = boundary_dofs(&s);
    bc::apply_dirichlet(&mut a, &mut b, &dofs, &vec![0.0; dofs.len()]);
    (a, b)
}

fn solve(solver: &mut dyn LinearSolver, a: &SparseMatrix, b: &[f64]) -> (Vec<f64>, usize) {
    let mut x = vec![0.0; b.len()];
    let report = solver.solve(a, b, &mut x).unwrap();
    assert!(
        report.relative_residual < 1e-9,
        "residual {}",
        report.relative_residual
    );
    (x, report.iterations)
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

const TOL: Tolerance = Tolerance {
    rtol: 1e-10,
    atol: 0.0,
    max_iterations: 5000,
};

#[test]
fn nonsymmetric_solvers_agree_with_lu() {
    let (a, b) = advection_diffusion(32);
    let mut lu = SparseLu::new();
    let (exact, _) = solve(&mut lu, &a, &b);
    solve(&mut lu, &a, &b);
    assert_eq!((lu.analyses(), lu.factorizations()), (1, 1));
    let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut iterations = Vec::new();
    let methods: Vec<(&str, Box<dyn LinearSolver>)> = vec![
        (
            "gmres(30)",
            Box::new(Gmres::new(Box::new(Identity), TOL, 30)),
        ),
        (
            "gmres(30)+ilu0",
            Box::new(Gmres::new(Box::new(Ilu0::default()), TOL, 30)),
        ),
        (
            "bicgstab+jacobi",
            Box::new(BiCgStab::new(Box::new(Jacobi::default()), TOL)),
        ),
        (
            "bicgstab+ilu0",
            Box::new(BiCgStab::new(Box::new(Ilu0::default()), TOL)),
        ),
    ];
    for (name, mut s) in methods {
        let (x, it) = solve(s.as_mut(), &a, &b);
        assert!(
            max_diff(&x, &exact) < 1e-8 * scale,
            "{name}: differs from LU by {}",
            max_diff(&x, &exact)
        );
        iterations.push((name, it));
    }
    // ILU(0) pays for itself.
    assert!(iterations[1].1 * 3 < iterations[0].1, "{iterations:?}");
    assert!(iterations[3].1 < iterations[2].1, "{iterations:?}");
}

/// A sequence of slowly drifting matrices: `LaggedLu` keeps its factor
/// while GMRES converges from it, factorises again when it fails, and
/// past the drift of that failure factorises without trying; every answer
/// meets the tolerance.
#[test]
fn lagged_lu_learns_the_drift_at_which_its_factor_fails() {
    let (a0, b) = advection_diffusion(24);
    // Drift k: each value scaled by 1 + 0.002 k sin(i), about 0.14 % k.
    let drifted = |k: f64| {
        let mut a = a0.clone();
        for (i, v) in a.val_mut().iter_mut().enumerate() {
            *v *= 1.0 + 0.002 * k * (i as f64).sin();
        }
        a
    };
    let mut lu = LaggedLu::new(TOL, 4);
    solve(&mut lu, &drifted(0.0), &b);
    let mut k = 0.0;
    while lu.failed_attempts() == 0 {
        k += 1.0;
        assert!(k < 50.0, "GMRES never needed more than 4 iterations");
        solve(&mut lu, &drifted(k), &b);
    }
    // Refactorised at drift k; a solve twice as far from the new factor
    // as the failed one was from the old factorises at once.
    let failed_at = k;
    let factorizations = lu.factorizations();
    let (_, iterations) = solve(&mut lu, &drifted(3.0 * failed_at), &b);
    assert_eq!(iterations, 0);
    assert_eq!(lu.factorizations(), factorizations + 1);
    assert_eq!(lu.failed_attempts(), 1);
    // A small drift from the new factor is still solved by GMRES with it.
    let (_, iterations) = solve(&mut lu, &drifted(3.0 * failed_at + 0.25), &b);
    assert!(iterations > 0);
    assert_eq!(lu.factorizations(), factorizations + 1);
}

#[test]
fn preconditioned_cg_on_poisson() {
    let (a, b) = poisson(24);
    let (exact, _) = solve(&mut Cholesky::new(), &a, &b);
    let mut iterations = Vec::new();
    let preconditioners: Vec<(&str, Box<dyn Preconditioner>)> = vec![
        ("none", Box::new(Identity)),
        ("jacobi", Box::new(Jacobi::default())),
        ("ssor(1.5)", Box::new(Ssor::new(1.5))),
        ("ic0", Box::new(Ilu0::default())),
    ];
    for (name, p) in preconditioners {
        let (x, it) = solve(&mut Cg::new(p, TOL), &a, &b);
        assert!(max_diff(&x, &exact) < 1e-8, "{name}");
        iterations.push((name, it));
    }
    assert!(
        iterations[2].1 < iterations[1].1 && iterations[3].1 < iterations[1].1,
        "{iterations:?}"
    );
}

#[test]
fn ic0_is_ilu0_on_symmetric_matrices() {
    // L Lᵀ and L D Lᵀ are the same incomplete factorisation of an SPD
    // M-matrix: the same application to round-off, the same iterations.
    let (a, b) = poisson(24);
    let (mut ic, mut ilu) = (Ic0::default(), Ilu0::default());
    ic.setup(&a).unwrap();
    ilu.setup(&a).unwrap();
    assert_eq!(ic.shift(), 0.0);
    let (mut zi, mut zl) = (vec![0.0; b.len()], vec![0.0; b.len()]);
    ic.apply(&b, &mut zi);
    ilu.apply(&b, &mut zl);
    let scale = zl.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(max_diff(&zi, &zl) < 1e-12 * scale, "{}", max_diff(&zi, &zl));
    let (_, it_ic) = solve(&mut Cg::new(Box::new(Ic0::default()), TOL), &a, &b);
    let (_, it_ilu) = solve(&mut Cg::new(Box::new(Ilu0::default()), TOL), &a, &b);
    assert_eq!(it_ic, it_ilu);
}

/// What a preconditioner with an IC(0) fallback does before it falls back,
/// as a learned factor might.
enum Primary {
    /// `M⁻¹ = 0`: not positive definite.
    Zero,
    /// `M⁻¹ = c I` with `c` ten times larger at every application: the
    /// preconditioned residual grows without bound.
    Growing(AtomicI32),
    /// IC(0) itself: sound.
    Sound(Ic0),
}

/// A preconditioner that falls back to IC(0) when CG fails with it.
struct WithFallback {
    primary: Primary,
    fallback: Option<Ic0>,
}

impl WithFallback {
    fn new(primary: Primary) -> Box<Self> {
        Box::new(WithFallback {
            primary,
            fallback: None,
        })
    }
}

impl Preconditioner for WithFallback {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        match &mut self.primary {
            Primary::Sound(ic) => ic.setup(a),
            _ => Ok(()),
        }
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        match (&self.fallback, &self.primary) {
            (Some(ic), _) | (None, Primary::Sound(ic)) => ic.apply(r, z),
            (None, Primary::Zero) => z.fill(0.0),
            (None, Primary::Growing(applications)) => {
                let c = 10f64.powi(applications.fetch_add(1, Ordering::Relaxed) + 1);
                z.iter_mut().zip(r).for_each(|(z, r)| *z = c * r);
            }
        }
    }
    fn name(&self) -> &'static str {
        "with fallback"
    }
    fn can_fall_back(&self) -> bool {
        self.fallback.is_none()
    }
    fn fall_back(&mut self, a: &SparseMatrix) -> Option<Result<String, SolverError>> {
        let mut ic = Ic0::default();
        Some(ic.setup(a).map(|()| {
            self.fallback = Some(ic);
            "fell back to IC(0)".to_string()
        }))
    }
}

/// Solves with CG and `p` to `tolerance`, checks the solution against
/// Cholesky's, and returns the report.
fn cg_report(
    p: Box<dyn Preconditioner>,
    tolerance: Tolerance,
    a: &SparseMatrix,
    b: &[f64],
) -> SolveReport {
    let mut exact = vec![0.0; b.len()];
    Cholesky::new().solve(a, b, &mut exact).unwrap();
    let mut x = vec![0.0; b.len()];
    let report = Cg::new(p, tolerance).solve(a, b, &mut x).unwrap();
    let scale = exact.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(max_diff(&x, &exact) < 1e-7 * scale);
    report
}

#[test]
fn cg_falls_back_when_a_preconditioner_breaks_down() {
    let (a, b) = poisson(16);
    let report = cg_report(WithFallback::new(Primary::Zero), TOL, &a, &b);
    let why = report.fallback.expect("the fallback is reported");
    assert!(
        why.contains("IC(0)") && why.contains("not positive definite"),
        "{why}"
    );
    // It counts the failed attempt's iterations too.
    assert!(report.iterations >= 1 && report.history.len() == report.iterations + 2);
    // A preconditioned residual growing without bound, and an iterate that
    // stopped changing (a tolerance below round-off), give up too.
    let growing = WithFallback::new(Primary::Growing(AtomicI32::new(0)));
    let why = cg_report(growing, TOL, &a, &b).fallback.unwrap();
    assert!(
        why.contains("grew to 1.") && why.contains("e5 times"),
        "{why}"
    );
    let unreachable = Tolerance { rtol: 1e-24, ..TOL };
    let sound = WithFallback::new(Primary::Sound(Ic0::default()));
    let why = cg_report(sound, unreachable, &a, &b).fallback.unwrap();
    assert!(why.contains("stopped changing for 3 iterations"), "{why}");
}

/// The five-point finite-volume matrix of `-∇·(κ∇u) = 1` on an `m × m`
/// grid of the unit square, `u = 0` outside, `κ` a checkerboard of blocks
/// of `block` cells alternating between 1 and `contrast`.
fn checkerboard(m: usize, block: usize, contrast: f64) -> (SparseMatrix, Vec<f64>) {
    let kappa = |i: usize, j: usize| {
        if (i / block + j / block) % 2 == 0 {
            contrast
        } else {
            1.0
        }
    };
    let mut triplets = Vec::new();
    for (i, j) in (0..m).flat_map(|i| (0..m).map(move |j| (i, j))) {
        let mut diagonal = 0.0;
        for (p, q) in [
            (i.wrapping_sub(1), j),
            (i + 1, j),
            (i, j.wrapping_sub(1)),
            (i, j + 1),
        ] {
            if p < m && q < m {
                let (a, b) = (kappa(i, j), kappa(p, q));
                let face = 2.0 * a * b / (a + b);
                diagonal += face;
                triplets.push(Triplet::new(i * m + j, p * m + q, -face));
            } else {
                diagonal += 2.0 * kappa(i, j);
            }
        }
        triplets.push(Triplet::new(i * m + j, i * m + j, diagonal));
    }
    let a = SparseMatrix::try_new_from_triplets(m * m, m * m, &triplets).unwrap();
    (a, vec![1.0; m * m])
}

#[test]
fn cg_keeps_a_sound_preconditioner_while_the_residual_rises() {
    // With IC(0) on a contrast of 10⁶ the residual norm rises ~10³-fold and
    // stays above its start for over a hundred iterations before CG
    // converges: a rule on the residual norm gave up on it here.
    let (a, b) = checkerboard(128, 8, 1e6);
    let tolerance = Tolerance { rtol: 1e-8, ..TOL };
    let ic0 = cg_report(Box::new(Ic0::default()), tolerance, &a, &b);
    let start = ic0.history[0];
    let first_below = ic0.history.iter().position(|&r| r < start).unwrap();
    assert!(first_below > 100, "{first_below}");
    let sound = WithFallback::new(Primary::Sound(Ic0::default()));
    let report = cg_report(sound, tolerance, &a, &b);
    assert_eq!(report.fallback, None);
    assert_eq!(report.iterations, ic0.iterations);
}

#[test]
fn failures_are_reported() {
    let (a, b) = advection_diffusion(16);
    // An iteration budget too small is an error with the numbers, not a
    // silently inaccurate answer.
    let mut x = vec![0.0; b.len()];
    let tight = Tolerance {
        max_iterations: 3,
        ..TOL
    };
    let err = Gmres::new(Box::new(Identity), tight, 2)
        .solve(&a, &b, &mut x)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("GMRES did not converge") && err.contains("after 3 iterations"),
        "{err}"
    );
    let err = Ssor::new(2.5).setup(&a).unwrap_err().to_string();
    assert!(err.contains("relaxation 2.5 must lie in (0, 2)"), "{err}");
    let mut wrong = vec![0.0; 3];
    let err = SparseLu::new()
        .solve(&a, &b, &mut wrong)
        .unwrap_err()
        .to_string();
    assert!(err.contains("dimension mismatch"), "{err}");
}

#[test]
fn mic0_iterations_grow_like_the_square_root_of_ic0s() {
    // On the five-point Laplacian IC(0) leaves a condition number of order
    // h⁻², MIC(0) one of order h⁻¹ (Gustafsson 1978): halving h doubles
    // IC(0)'s CG iterations and multiplies MIC(0)'s by about √2.
    let tolerance = Tolerance { rtol: 1e-8, ..TOL };
    let iterations = |m: usize, p: Box<dyn Preconditioner>| {
        let (a, b) = checkerboard(m, m, 1.0);
        cg_report(p, tolerance, &a, &b).iterations as f64
    };
    let (mut ic0, mut mic0) = (Vec::new(), Vec::new());
    for m in [32, 64, 128] {
        ic0.push(iterations(m, Box::<Ic0>::default()));
        mic0.push(iterations(m, Box::new(IncompleteCholesky::modified(1.0))));
    }
    // Measured: IC(0) 29, 51, 99; MIC(0) 24, 36, 54.
    let growth = |v: &[f64]| v[2] / v[1];
    assert!(growth(&ic0) > 1.8 && growth(&ic0) < 2.2, "{ic0:?}");
    assert!(growth(&mic0) < 1.6, "{mic0:?}");
    assert!(mic0[2] < 0.6 * ic0[2], "{mic0:?} {ic0:?}");
}
