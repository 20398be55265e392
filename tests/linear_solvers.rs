//! Linear solvers on finite-element systems: every method reaches its
//! tolerance and agrees with a direct solve; preconditioners cut iterations;
//! failures are reported, not ignored.

use std::sync::Arc;

use pde_engine::fem::{assembly, bc, FunctionSpace};
use pde_engine::linalg::direct::{Cholesky, SparseLu};
use pde_engine::linalg::factor::Ic0;
use pde_engine::linalg::krylov::{BiCgStab, Cg, Gmres, Tolerance};
use pde_engine::linalg::precond::{Identity, Ilu0, Jacobi, Ssor};
use pde_engine::linalg::{LinearSolver, Preconditioner, SolverError, SparseMatrix};
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

/// A preconditioner that is not positive definite (`M⁻¹ = 0`) and falls
/// back to IC(0), as a bad learned factor does.
struct Misleading {
    fallback: Option<Ic0>,
}

impl Preconditioner for Misleading {
    fn setup(&mut self, _a: &SparseMatrix) -> Result<(), SolverError> {
        Ok(())
    }
    fn apply(&self, r: &[f64], z: &mut [f64]) {
        match &self.fallback {
            Some(ic) => ic.apply(r, z),
            None => z.fill(0.0),
        }
    }
    fn name(&self) -> &'static str {
        "misleading"
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

#[test]
fn cg_falls_back_when_a_preconditioner_breaks_down() {
    let (a, b) = poisson(16);
    let (exact, _) = solve(&mut Cholesky::new(), &a, &b);
    let mut cg = Cg::new(Box::new(Misleading { fallback: None }), TOL);
    let mut x = vec![0.0; b.len()];
    let report = cg.solve(&a, &b, &mut x).unwrap();
    assert!(max_diff(&x, &exact) < 1e-8);
    let why = report.fallback.expect("the fallback is reported");
    assert!(
        why.contains("IC(0)") && why.contains("not positive definite"),
        "{why}"
    );
    // It counts the failed attempt's iterations too.
    assert!(report.iterations >= 1 && report.history.len() == report.iterations + 2);
    // A classical preconditioner has no fallback: CG never gives up on it
    // for a stalling residual, however short the window.
    let mut jacobi_cg = Cg::new(Box::new(Jacobi::default()), TOL);
    jacobi_cg.stall = Some(1);
    let mut x = vec![0.0; b.len()];
    let report = jacobi_cg.solve(&a, &b, &mut x).unwrap();
    assert!(report.fallback.is_none() && max_diff(&x, &exact) < 1e-8);
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
