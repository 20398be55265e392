//! Manufactured solutions: measured convergence rates of Lagrange P1 and P2
//! against theory (L2 order k+1, H1 order k), in 2D and 3D, with a variable
//! coefficient and Dirichlet, Neumann and Robin boundaries; and the solvers'
//! agreement.

use std::f64::consts::PI;
use std::sync::Arc;

use pde_engine::fem::{norms, FunctionSpace};
use pde_engine::linalg::direct::Cholesky;
use pde_engine::linalg::krylov::{Cg, Tolerance};
use pde_engine::linalg::precond::Jacobi;
use pde_engine::physics::poisson::{BoundaryCondition, Poisson};
use pde_mesh::{generate, CellKind, Mesh};

type Field = Arc<dyn Fn([f64; 3]) -> f64 + Send + Sync>;

/// u = sin(πx) sin(πy) + x, κ = 1 + x y on the unit square.
fn exact_2d(x: [f64; 3]) -> f64 {
    (PI * x[0]).sin() * (PI * x[1]).sin() + x[0]
}
fn grad_2d(x: [f64; 3]) -> [f64; 3] {
    [
        PI * (PI * x[0]).cos() * (PI * x[1]).sin() + 1.0,
        PI * (PI * x[0]).sin() * (PI * x[1]).cos(),
        0.0,
    ]
}
fn kappa_2d(x: [f64; 3]) -> f64 {
    1.0 + x[0] * x[1]
}
fn source_2d(x: [f64; 3]) -> f64 {
    // -div(κ grad u) = -(κ Δu + grad κ . grad u)
    let lap = -2.0 * PI * PI * (PI * x[0]).sin() * (PI * x[1]).sin();
    let g = grad_2d(x);
    -(kappa_2d(x) * lap + x[1] * g[0] + x[0] * g[1])
}

fn problem_2d(mesh: Mesh, degree: usize) -> Poisson {
    let mut p = Poisson::new(FunctionSpace::new(Arc::new(mesh), degree).unwrap());
    p.kappa = Arc::new(kappa_2d);
    p.source = Arc::new(source_2d);
    let u: Field = Arc::new(exact_2d);
    p.set_boundary("left", BoundaryCondition::Dirichlet(u.clone()));
    p.set_boundary("bottom", BoundaryCondition::Dirichlet(u));
    // Outward normal +x on the right: κ ∂u/∂x.
    p.set_boundary(
        "right",
        BoundaryCondition::Neumann(Arc::new(|x| kappa_2d(x) * grad_2d(x)[0])),
    );
    // Robin on the top (normal +y): κ ∂u/∂y + 2 u.
    p.set_boundary(
        "top",
        BoundaryCondition::Robin {
            alpha: Arc::new(|_| 2.0),
            value: Arc::new(|x| kappa_2d(x) * grad_2d(x)[1] + 2.0 * exact_2d(x)),
        },
    );
    p
}

/// Rates between successive refinements (mesh size halves each time).
fn rates(errors: &[f64]) -> Vec<f64> {
    errors.windows(2).map(|w| (w[0] / w[1]).log2()).collect()
}

fn assert_rate(label: &str, errors: &[f64], expected: f64) {
    let r = rates(errors);
    let last = *r.last().unwrap();
    assert!(
        (last - expected).abs() <= 0.1,
        "{label}: errors {errors:?}, rates {r:.3?}, expected {expected}"
    );
}

#[test]
fn poisson_2d_p1_and_p2_rates_with_all_boundary_kinds() {
    for degree in [1, 2] {
        let (mut l2, mut h1) = (Vec::new(), Vec::new());
        for n in [4, 8, 16, 32] {
            let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [n, n], CellKind::Tri3).unwrap();
            let mut p = problem_2d(mesh, degree);
            let (u, report) = p.solve(&mut Cholesky::new()).unwrap();
            assert!(
                report.relative_residual < 1e-12,
                "{}",
                report.relative_residual
            );
            l2.push(norms::l2_error(&p.space, &u, exact_2d).unwrap());
            h1.push(norms::h1_seminorm_error(&p.space, &u, grad_2d).unwrap());
        }
        assert_rate(&format!("2D P{degree} L2"), &l2, degree as f64 + 1.0);
        assert_rate(&format!("2D P{degree} H1"), &h1, degree as f64);
    }
}

/// u = sin(πx) sin(πy) sin(πz) + y on the unit cube, Dirichlet everywhere.
#[test]
fn poisson_3d_p1_and_p2_rates() {
    let exact = |x: [f64; 3]| (PI * x[0]).sin() * (PI * x[1]).sin() * (PI * x[2]).sin() + x[1];
    let grad = |x: [f64; 3]| {
        let (s, c) = (x.map(|v| (PI * v).sin()), x.map(|v| (PI * v).cos()));
        [
            PI * c[0] * s[1] * s[2],
            PI * s[0] * c[1] * s[2] + 1.0,
            PI * s[0] * s[1] * c[2],
        ]
    };
    for (degree, sizes) in [(1, [4, 8, 16]), (2, [2, 4, 8])] {
        let (mut l2, mut h1) = (Vec::new(), Vec::new());
        for n in sizes {
            let mesh = generate::cuboid([0.0; 3], [1.0; 3], [n, n, n], CellKind::Tet4).unwrap();
            let mut p = Poisson::new(FunctionSpace::new(Arc::new(mesh), degree).unwrap());
            p.source = Arc::new(move |x| {
                3.0 * PI * PI * (PI * x[0]).sin() * (PI * x[1]).sin() * (PI * x[2]).sin()
            });
            for side in ["left", "right", "front", "back", "bottom", "top"] {
                p.set_boundary(side, BoundaryCondition::Dirichlet(Arc::new(exact)));
            }
            let (u, _) = p.solve(&mut Cholesky::new()).unwrap();
            l2.push(norms::l2_error(&p.space, &u, exact).unwrap());
            h1.push(norms::h1_seminorm_error(&p.space, &u, grad).unwrap());
        }
        assert_rate(&format!("3D P{degree} L2"), &l2, degree as f64 + 1.0);
        assert_rate(&format!("3D P{degree} H1"), &h1, degree as f64);
    }
}

#[test]
fn cg_matches_cholesky_and_the_analysis_is_reused() {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [24, 24], CellKind::Tri3).unwrap();
    let mut p = problem_2d(mesh, 2);
    let mut chol = Cholesky::new();
    let (direct, _) = p.solve(&mut chol).unwrap();
    let (_, again) = p.solve(&mut chol).unwrap();
    assert_eq!(chol.analyses(), 1, "same pattern: one symbolic analysis");
    assert_eq!(
        chol.factorizations(),
        1,
        "same values: one numeric factorisation"
    );
    assert!(again.relative_residual < 1e-12);
    let tol = Tolerance {
        rtol: 1e-12,
        ..Tolerance::default()
    };
    let (iterative, report) = p
        .solve(&mut Cg::new(Box::new(Jacobi::default()), tol))
        .unwrap();
    assert!(
        report.relative_residual < 1e-11,
        "{}",
        report.relative_residual
    );
    assert!(report.iterations > 10 && report.history.len() == report.iterations + 1);
    let diff = direct
        .iter()
        .zip(&iterative)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-9, "CG and Cholesky differ by {diff}");
    // A too-small iteration budget is reported, not ignored.
    let tight = Tolerance {
        rtol: 1e-12,
        atol: 0.0,
        max_iterations: 5,
    };
    let err = p
        .solve(&mut Cg::new(Box::new(Jacobi::default()), tight))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("CG did not converge") && err.contains("after 5 iterations"),
        "{err}"
    );
}

/// Isoparametric P2 on the curved DFG mesh: the area of the fluid domain
/// (the integral of 1) carries only the O(h^4) error of the quadratic
/// boundary: about 2e-8 here, where straight cells miss 5e-5.
#[test]
fn isoparametric_p2_on_the_curved_dfg_mesh() {
    let mesh = pde_mesh::io::gmsh::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../meshes/dfg_cylinder_l1.msh"
    ))
    .unwrap();
    let space = FunctionSpace::new(Arc::new(mesh), 2).unwrap();
    let ones = vec![1.0; space.num_dofs()];
    let area = norms::l2_error(&space, &ones, |_| 0.0).unwrap().powi(2);
    let exact = 2.2 * 0.41 - PI * 0.05f64.powi(2);
    assert!((area - exact).abs() < 1e-7, "area {area} vs {exact}");
}
