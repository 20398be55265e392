//! Smoothed-aggregation AMG: mesh-independent CG iteration counts on P1
//! Poisson from 10^4 to 10^6 unknowns, hierarchy reuse, and agreement with a
//! direct solve.

use std::sync::Arc;

use pde_engine::fem::{assembly, bc, FunctionSpace};
use pde_engine::linalg::amg::{Amg, Smoother};
use pde_engine::linalg::direct::Cholesky;
use pde_engine::linalg::krylov::{Cg, Gmres, Tolerance};
use pde_engine::linalg::{LinearSolver, Preconditioner, SparseMatrix};
use pde_mesh::{generate, CellKind};

/// -Δu = 1 on the unit square, u = 0 on the boundary, P1 with (n+1)^2 unknowns.
fn poisson(n: usize) -> (SparseMatrix, Vec<f64>) {
    let mesh =
        Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [n, n], CellKind::Tri3).unwrap());
    let space = FunctionSpace::new(mesh, 1).unwrap();
    let mut a = assembly::assemble_matrix(&space, 2, assembly::laplace(|_| 1.0)).unwrap();
    let mut b = assembly::assemble_vector(&space, 2, assembly::source(|_| 1.0)).unwrap();
    let dofs = space
        .dofs_of_groups(&["left", "right", "bottom", "top"])
        .unwrap();
    bc::apply_dirichlet(&mut a, &mut b, &dofs, &vec![0.0; dofs.len()]);
    (a, b)
}

const TOL: Tolerance = Tolerance {
    rtol: 1e-10,
    atol: 0.0,
    max_iterations: 500,
};

fn amg_cg_iterations(a: &SparseMatrix, b: &[f64], smoother: Smoother) -> usize {
    let amg = Amg::with_smoother(smoother);
    let mut x = vec![0.0; b.len()];
    let report = Cg::new(Box::new(amg), TOL).solve(a, b, &mut x).unwrap();
    assert!(report.relative_residual < 1e-10);
    report.iterations
}

#[test]
fn iterations_do_not_grow_with_the_mesh() {
    // 10^4, 10^5 and 10^6 unknowns.
    let counts: Vec<usize> = [99, 316, 999]
        .iter()
        .map(|&n| {
            let (a, b) = poisson(n);
            amg_cg_iterations(&a, &b, Smoother::SymmetricGaussSeidel)
        })
        .collect();
    assert!(counts[0] <= 25, "{counts:?}");
    assert!(
        counts[2] as f64 <= 1.3 * counts[0] as f64,
        "growth over 30%: {counts:?}"
    );
}

#[test]
fn jacobi_smoothing_also_works_and_agrees_with_cholesky() {
    let (a, b) = poisson(64);
    let mut exact = vec![0.0; b.len()];
    Cholesky::new().solve(&a, &b, &mut exact).unwrap();
    let amg = Amg::with_smoother(Smoother::Jacobi(2.0 / 3.0));
    let mut x = vec![0.0; b.len()];
    let report = Cg::new(Box::new(amg), TOL).solve(&a, &b, &mut x).unwrap();
    assert!(report.iterations < 40, "{}", report.iterations);
    let diff = x
        .iter()
        .zip(&exact)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max);
    assert!(diff < 1e-9, "{diff}");
    // Against plain CG: many times fewer iterations.
    let mut y = vec![0.0; b.len()];
    let plain = Cg::new(Box::new(pde_engine::linalg::precond::Identity), TOL)
        .solve(&a, &b, &mut y)
        .unwrap();
    assert!(
        plain.iterations > 4 * report.iterations,
        "{} vs {}",
        plain.iterations,
        report.iterations
    );
}

#[test]
fn hierarchy_is_reused_while_the_matrix_is_unchanged() {
    let (a, _) = poisson(40);
    let mut amg = Amg::default();
    amg.setup(&a).unwrap();
    amg.setup(&a).unwrap();
    assert_eq!(amg.setups, 1);
    assert!(
        amg.num_levels() >= 2 && amg.operator_complexity() < 2.5,
        "{} levels, {}",
        amg.num_levels(),
        amg.operator_complexity()
    );
    let mut scaled = a.clone();
    scaled.val_mut().iter_mut().for_each(|v| *v *= 2.0);
    amg.setup(&scaled).unwrap();
    assert_eq!(amg.setups, 2);
}

/// `-Δu + β·∇u = 1` with `β = (20, 10)` (nonsymmetric; mesh Péclet number
/// below 1): the V-cycle, with its exact LU on the coarsest level,
/// preconditions GMRES with counts that stay flat under refinement.
#[test]
fn amg_preconditions_gmres_on_convection_diffusion() {
    let counts: Vec<usize> = [32, 64, 128]
        .iter()
        .map(|&n| {
            let mesh = Arc::new(
                generate::rectangle([0.0, 0.0], [1.0, 1.0], [n, n], CellKind::Tri3).unwrap(),
            );
            let space = FunctionSpace::new(mesh, 1).unwrap();
            let mut a = assembly::assemble_matrix(&space, 2, assembly::laplace(|_| 1.0)).unwrap();
            let c =
                assembly::assemble_matrix(&space, 2, assembly::advection(|_| [20.0, 10.0, 0.0]))
                    .unwrap();
            a.val_mut()
                .iter_mut()
                .zip(c.val())
                .for_each(|(x, y)| *x += y);
            let mut b = assembly::assemble_vector(&space, 2, assembly::source(|_| 1.0)).unwrap();
            let dofs = space
                .dofs_of_groups(&["left", "right", "bottom", "top"])
                .unwrap();
            bc::apply_dirichlet(&mut a, &mut b, &dofs, &vec![0.0; dofs.len()]);
            let mut x = vec![0.0; b.len()];
            let report = Gmres::new(Box::new(Amg::default()), TOL, 50)
                .solve(&a, &b, &mut x)
                .unwrap();
            assert!(report.relative_residual < 1e-10);
            report.iterations
        })
        .collect();
    eprintln!("AMG-GMRES iterations on 32², 64², 128² squares: {counts:?}");
    assert!(counts[2] <= counts[0] + 4 && counts[2] <= 25, "{counts:?}");
}
