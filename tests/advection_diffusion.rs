//! Advection–diffusion with SUPG: a boundary layer at cell Péclet numbers far
//! above 1 (Galerkin oscillates, SUPG does not and is nodally accurate away
//! from the layer), convergence rates on a manufactured solution, and a
//! rotating hill carried through one revolution.

use std::sync::Arc;

use pde_engine::driver::TimeLoop;
use pde_engine::fem::{norms, FunctionSpace};
use pde_engine::linalg::direct::SparseLu;
use pde_engine::physics::heat::{Heat, HeatBoundary};
use pde_engine::time::Integrator;
use pde_mesh::{generate, CellKind};

fn square(n: usize) -> Arc<pde_mesh::Mesh> {
    Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [n, n], CellKind::Tri3).unwrap())
}

fn model(n: usize, degree: usize, kappa: f64) -> Heat {
    let space = FunctionSpace::new(square(n), degree).unwrap();
    Heat::new(
        space,
        Arc::new(move |_| kappa),
        |_| 0.0,
        0.0,
        Box::new(SparseLu::new()),
    )
    .unwrap()
}

/// `β = (1, 0)`, `κ = 2e-3`, `u = 0` at `x = 0` and `u = 1` at `x = 1`: the
/// exact solution `(e^{x/κ} - 1) / (e^{1/κ} - 1)` (imposed on all sides) is
/// 0 up to a layer of width ~κ at the outflow. With 20 cells across, the cell Péclet number is 12.5.
fn boundary_layer(supg: bool) -> (f64, f64, f64) {
    let kappa = 2e-3;
    let mut m = model(20, 1, kappa);
    m.set_advection(Arc::new(|_| [1.0, 0.0, 0.0]), supg)
        .unwrap();
    let exact = move |x: f64| ((x / kappa).exp_m1()) / (1.0 / kappa).exp_m1();
    for side in ["left", "right", "bottom", "top"] {
        m.set_boundary(
            side,
            HeatBoundary::Dirichlet(Arc::new(move |p, _| exact(p[0]))),
        );
    }
    m.solve_steady().unwrap();
    let u = m.solution();
    let (min, max) = u
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    // Nodal error away from the last cell column (the layer itself).
    let away = m
        .space
        .dof_points()
        .iter()
        .zip(u)
        .filter(|(p, _)| p[0] < 0.95 - 1e-9)
        .map(|(p, v)| (v - exact(p[0])).abs())
        .fold(0.0, f64::max);
    (min, max, away)
}

#[test]
fn supg_removes_the_oscillations_of_galerkin_at_high_peclet_numbers() {
    let (gmin, gmax, gerr) = boundary_layer(false);
    let (smin, smax, serr) = boundary_layer(true);
    eprintln!("galerkin: min {gmin:.3e} max {gmax:.3e} error away {gerr:.3e}");
    eprintln!("supg:     min {smin:.3e} max {smax:.3e} error away {serr:.3e}");
    assert!(gmin < -0.2 && gerr > 0.2, "Galerkin should oscillate here");
    assert!(
        smin > -1e-3 && smax < 1.0 + 1e-3,
        "SUPG stays within [0, 1]"
    );
    assert!(
        serr < 1e-3,
        "SUPG is accurate away from the layer: {serr:e}"
    );
}

/// Rates on `u = sin(πx) sin(πy)` with `β = (1, 0.5)`, `κ = 0.01`: SUPG is
/// consistent, so the rates of the Galerkin method remain.
#[test]
fn supg_keeps_the_optimal_rates_on_a_manufactured_solution() {
    use std::f64::consts::PI;
    let kappa = 0.01;
    let beta = [1.0, 0.5, 0.0];
    let exact = |x: [f64; 3]| (PI * x[0]).sin() * (PI * x[1]).sin();
    let grad = |x: [f64; 3]| {
        [
            PI * (PI * x[0]).cos() * (PI * x[1]).sin(),
            PI * (PI * x[0]).sin() * (PI * x[1]).cos(),
            0.0,
        ]
    };
    for (degree, sizes, expected) in [(1, [16, 32, 64], 2.0), (2, [8, 16, 32], 3.0)] {
        let mut errors = Vec::new();
        for n in sizes {
            let mut m = model(n, degree, kappa);
            m.source = Arc::new(move |x, _| {
                let g = grad(x);
                beta[0] * g[0] + beta[1] * g[1] + kappa * 2.0 * PI * PI * exact(x)
            });
            m.set_advection(Arc::new(move |_| beta), true).unwrap();
            for side in ["left", "right", "bottom", "top"] {
                m.set_boundary(side, HeatBoundary::Dirichlet(Arc::new(|_, _| 0.0)));
            }
            m.solve_steady().unwrap();
            errors.push(norms::l2_error(&m.space, m.solution(), exact).unwrap());
        }
        let rates: Vec<f64> = errors.windows(2).map(|e| (e[0] / e[1]).log2()).collect();
        eprintln!("P{degree}: L2 errors {errors:?}, rates {rates:.2?}");
        assert!(
            (rates[1] - expected).abs() < 0.15,
            "P{degree} SUPG L2 rate {:.2}, expected {expected}",
            rates[1]
        );
    }
}

/// A Gaussian hill in the solid-body rotation `β = 2π (0.5 - y, x - 0.5)`
/// comes back to its start after `t = 1`. Crank–Nicolson + SUPG keeps its
/// peak and its position, with little undershoot.
#[test]
fn a_rotating_hill_returns_after_one_revolution() {
    let hill = |x: [f64; 3]| (-((x[0] - 0.3).powi(2) + (x[1] - 0.5).powi(2)) / 0.01).exp();
    let space = FunctionSpace::new(square(48), 2).unwrap();
    let mut m = Heat::new(
        space,
        Arc::new(|_| 1e-6),
        hill,
        0.0,
        Box::new(SparseLu::new()),
    )
    .unwrap();
    m.integrator = Integrator::CrankNicolson;
    let tau = 2.0 * std::f64::consts::PI;
    m.set_advection(
        Arc::new(move |x| [tau * (0.5 - x[1]), tau * (x[0] - 0.5), 0.0]),
        true,
    )
    .unwrap();
    for side in ["left", "right", "bottom", "top"] {
        m.set_boundary(side, HeatBoundary::Dirichlet(Arc::new(|_, _| 0.0)));
    }
    TimeLoop::new(0.0, 1.0, 1.0 / 200.0)
        .run(&mut m, None, &mut [])
        .unwrap();
    let u = m.solution();
    let min = u.iter().copied().fold(f64::INFINITY, f64::min);
    let error = norms::l2_error(&m.space, u, hill).unwrap();
    let size = norms::l2_error(&m.space, &vec![0.0; u.len()], hill).unwrap();
    let peak = m.space.point_evaluator([0.3, 0.5, 0.0]).unwrap().eval(u);
    eprintln!(
        "rotating hill: peak {peak:.4}, min {min:.3e}, relative L2 error {:.3e}",
        error / size
    );
    assert!(peak > 0.95 && peak < 1.01, "peak {peak}");
    assert!(min > -0.02, "undershoot {min}");
    assert!(error / size < 0.05, "relative L2 error {}", error / size);
}
