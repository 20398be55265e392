//! Taylor–Hood Navier–Stokes: convergence orders on the Kovasznay flow (an
//! exact solution) and the DFG 2D-1 benchmark against its reference values,
//! with the direct solver and with the iterative path (GMRES preconditioned
//! by the block-triangular LSC preconditioner), whose iteration counts stay
//! nearly flat under mesh refinement.

use std::f64::consts::PI;
use std::sync::Arc;

use pde_engine::fem::{assembly, norms};
use pde_engine::linalg::direct::SparseLu;
use pde_engine::linalg::krylov::{Gmres, Tolerance};
use pde_engine::linalg::saddle::BlockLsc;
use pde_engine::linalg::LinearSolver;
use pde_engine::physics::navier_stokes::{FlowBoundary, NavierStokes};
use pde_engine::physics::Stepper;
use pde_mesh::{generate, CellKind, Mesh};

/// Kovasznay flow at Re = 40 on [-0.5, 1] x [-0.5, 1.5].
struct Kovasznay {
    lambda: f64,
}

impl Kovasznay {
    fn new(re: f64) -> Self {
        Kovasznay {
            lambda: re / 2.0 - (re * re / 4.0 + 4.0 * PI * PI).sqrt(),
        }
    }
    fn velocity(&self, x: [f64; 3]) -> [f64; 3] {
        let e = (self.lambda * x[0]).exp();
        [
            1.0 - e * (2.0 * PI * x[1]).cos(),
            self.lambda / (2.0 * PI) * e * (2.0 * PI * x[1]).sin(),
            0.0,
        ]
    }
    fn gradient(&self, x: [f64; 3], c: usize) -> [f64; 3] {
        let (l, e) = (self.lambda, (self.lambda * x[0]).exp());
        let (s, co) = ((2.0 * PI * x[1]).sin(), (2.0 * PI * x[1]).cos());
        if c == 0 {
            [-l * e * co, 2.0 * PI * e * s, 0.0]
        } else {
            [l * l / (2.0 * PI) * e * s, l * e * co, 0.0]
        }
    }
    fn pressure(&self, x: [f64; 3]) -> f64 {
        0.5 * (1.0 - (2.0 * self.lambda * x[0]).exp())
    }
}

/// Errors (velocity L2, velocity H1 semi-norm, pressure L2 up to a
/// constant) of the steady Taylor–Hood solution on an n x n mesh.
fn kovasznay_errors(n: usize) -> [f64; 3] {
    let re = 40.0;
    let k = Arc::new(Kovasznay::new(re));
    let mesh =
        Arc::new(generate::rectangle([-0.5, -0.5], [1.0, 1.5], [n, n], CellKind::Tri3).unwrap());
    let mut ns = NavierStokes::new(mesh, 1.0 / re, Box::new(SparseLu::new())).unwrap();
    let kk = k.clone();
    let exact = FlowBoundary::Velocity(Arc::new(move |x, _| kk.velocity(x)));
    for side in ["left", "right", "bottom", "top"] {
        ns.set_boundary(side, exact.clone());
    }
    ns.pin_pressure([0.0, 0.0, 0.0]);
    let report = ns.solve_steady(1e-11, 12).unwrap();
    assert!(report.iterations <= 6, "{report:?}");
    let v = ns.velocity_space();
    let (mut l2, mut h1) = (0.0f64, 0.0f64);
    for c in 0..2 {
        let kc = k.clone();
        l2 += norms::l2_error(v, ns.velocity(c), move |x| kc.velocity(x)[c])
            .unwrap()
            .powi(2);
        let kc = k.clone();
        h1 += norms::h1_seminorm_error(v, ns.velocity(c), move |x| kc.gradient(x, c))
            .unwrap()
            .powi(2);
    }
    // The pressure is defined up to a constant: compare after removing the
    // mean difference.
    let q = ns.pressure_space();
    let ph = ns.pressure();
    let kc = k.clone();
    let diff = assembly::integrate(q, 4, |_, v, i| {
        v.value(i, &q_local(q, v, ph)) - kc.pressure(v.points[i])
    })
    .unwrap();
    let area = 1.5 * 2.0;
    let shift = diff / area;
    let kc = k.clone();
    let p = norms::l2_error(q, ph, move |x| kc.pressure(x) + shift).unwrap();
    [l2.sqrt(), h1.sqrt(), p]
}

/// The local coefficients of `u` on the cell of `values`.
fn q_local(
    space: &pde_engine::fem::FunctionSpace,
    values: &assembly::CellValues,
    u: &[f64],
) -> Vec<f64> {
    space.cell_dofs(values.cell).iter().map(|&d| u[d]).collect()
}

#[test]
fn kovasznay_flow_converges_at_the_taylor_hood_orders() {
    let sizes = [8, 16, 32];
    let errors: Vec<[f64; 3]> = sizes.iter().map(|&n| kovasznay_errors(n)).collect();
    let rate = |k: usize, i: usize| (errors[i][k] / errors[i + 1][k]).log2();
    eprintln!("Kovasznay errors (u L2, u H1, p L2): {errors:?}");
    for (k, name, expected) in [
        (0, "velocity L2", 3.0),
        (1, "velocity H1", 2.0),
        (2, "pressure L2", 2.0),
    ] {
        eprintln!("{name}: rates {:.2} {:.2}", rate(k, 0), rate(k, 1));
        assert!(
            rate(k, 1) > expected - 0.1,
            "{name} rate {:.2}, expected {expected}",
            rate(k, 1)
        );
    }
}

/// GMRES(50) with LSC for `ns`, to a relative residual of `rtol`.
fn lsc_gmres(ns: &NavierStokes, rtol: f64) -> Box<dyn LinearSolver> {
    let tolerance = Tolerance {
        rtol,
        atol: 0.0,
        max_iterations: 2000,
    };
    Box::new(Gmres::new(
        Box::new(BlockLsc::new(ns.pressure_offset())),
        tolerance,
        50,
    ))
}

/// DFG 2D-1 (Re = 20, steady) on a mesh level, with sparse LU or (if
/// `iterative`) LSC-GMRES: `(cd, cl, dp, unknowns)`.
fn dfg_2d1(level: usize, iterative: bool) -> (f64, f64, f64, usize) {
    let path = format!(
        "{}/../meshes/dfg_cylinder_l{level}.msh",
        env!("CARGO_MANIFEST_DIR")
    );
    let mesh = Arc::new(pde_mesh::io::gmsh::read(std::path::Path::new(&path)).unwrap());
    let mut ns = NavierStokes::new(mesh, 1e-3, Box::new(SparseLu::new())).unwrap();
    if iterative {
        ns.set_solver(lsc_gmres(&ns, 1e-10));
    }
    let um = 0.3;
    ns.set_boundary(
        "inlet",
        FlowBoundary::Velocity(Arc::new(move |x, _| {
            [4.0 * um * x[1] * (0.41 - x[1]) / (0.41 * 0.41), 0.0, 0.0]
        })),
    );
    ns.set_boundary("walls", FlowBoundary::NoSlip);
    ns.set_boundary("cylinder", FlowBoundary::NoSlip);
    ns.set_boundary("outlet", FlowBoundary::DoNothing);
    ns.measure_force_on("cylinder").unwrap();
    let report = ns.solve_steady(1e-10, 10).unwrap();
    eprintln!("2D-1 level {level}: Newton {report:?}");
    let f = ns.force().unwrap();
    let ubar = 2.0 * um / 3.0;
    let scale = 2.0 / (ubar * ubar * 0.1);
    let dp = ns.pressure_at([0.15, 0.2, 0.0]).unwrap() - ns.pressure_at([0.25, 0.2, 0.0]).unwrap();
    (scale * f[0], scale * f[1], dp, ns.space.num_dofs())
}

/// Reference values: docs/reference/dfg_cylinder.json (2D-1).
#[test]
fn dfg_2d1_drag_lift_and_pressure_difference_match_the_reference() {
    let (cd_ref, cl_ref, dp_ref) = (5.57953523384, 0.010618948146, 0.11752016697);
    let (cd, cl, dp, n) = dfg_2d1(2, false);
    eprintln!(
        "2D-1 ({n} unknowns): cd {cd:.6} ({:+.2e}), cl {cl:.6} ({:+.2e}), dp {dp:.6} ({:+.2e})",
        (cd - cd_ref) / cd_ref,
        (cl - cl_ref) / cl_ref,
        (dp - dp_ref) / dp_ref
    );
    assert!(((cd - cd_ref) / cd_ref).abs() < 1e-3, "cd {cd}");
    assert!(((cl - cl_ref) / cl_ref).abs() < 0.02, "cl {cl}");
    assert!(((dp - dp_ref) / dp_ref).abs() < 0.005, "dp {dp}");
}

/// 3D Poiseuille flow between plates on tetrahedra, `u = (y (1 - y), 0, 0)`,
/// `p = 2ν (1 - x)`, solved steadily with LU or (if `iterative`)
/// LSC-GMRES to relative residual `rtol`; asserts the exact solution to
/// `tolerance` and returns the model.
fn poiseuille_3d(iterative: bool, rtol: f64, tolerance: f64) -> NavierStokes {
    let nu = 0.05;
    let mesh = Arc::new(generate::cuboid([0.0; 3], [1.0; 3], [3, 3, 3], CellKind::Tet4).unwrap());
    let mut ns = NavierStokes::new(mesh, nu, Box::new(SparseLu::new())).unwrap();
    if iterative {
        ns.set_solver(lsc_gmres(&ns, rtol));
    }
    let exact = |x: [f64; 3]| [x[1] * (1.0 - x[1]), 0.0, 0.0];
    let g = FlowBoundary::Velocity(Arc::new(move |x, _| exact(x)));
    for side in ["left", "front", "back", "bottom", "top"] {
        ns.set_boundary(side, g.clone());
    }
    ns.set_boundary("right", FlowBoundary::DoNothing);
    // Newton's update stalls near the GMRES tolerance on the iterative path.
    let newton = if iterative { 1e-11 } else { 1e-12 };
    ns.solve_steady(newton, 10).unwrap();
    let v = ns.velocity_space();
    for (i, p) in v.dof_points().iter().enumerate() {
        for c in 0..3 {
            assert!(
                (ns.velocity(c)[i] - exact(*p)[c]).abs() < tolerance,
                "u_{c} at {p:?}"
            );
        }
    }
    let p = ns.pressure_at([0.3, 0.4, 0.6]).unwrap();
    assert!((p - 2.0 * nu * 0.7).abs() < tolerance, "p {p}");
    ns
}

/// The same code on tetrahedra: 3D Poiseuille flow lies in Taylor–Hood
/// P2/P1, so the steady Navier–Stokes solution reproduces it to round-off.
#[test]
fn taylor_hood_reproduces_3d_poiseuille_flow_on_tetrahedra() {
    let ns = poiseuille_3d(false, 1e-12, 1e-10);
    assert_eq!(
        ns.vorticity().unwrap().len(),
        3,
        "three vorticity components in 3D"
    );
}

/// The iterative path reproduces it to the solver tolerance.
#[test]
fn lsc_gmres_reproduces_3d_poiseuille_flow() {
    poiseuille_3d(true, 1e-12, 1e-8);
}

#[test]
fn lsc_gmres_gives_the_direct_dfg_2d1_forces() {
    let (cd, cl, dp, _) = dfg_2d1(2, false);
    let (cd_i, cl_i, dp_i, _) = dfg_2d1(2, true);
    eprintln!(
        "direct {:?}, LSC-GMRES {:?}",
        (cd, cl, dp),
        (cd_i, cl_i, dp_i)
    );
    // Both agree far inside the discretisation error of this mesh (c_L is
    // 1.8e-3 off the reference): the GMRES tolerance, not the method, sets
    // the difference.
    for (d, i) in [(cd, cd_i), (cl, cl_i), (dp, dp_i)] {
        assert!((d - i).abs() < 1e-5 * d.abs(), "{d} vs {i}");
    }
}

/// A channel `[0, 2] × [0, 1]` with a parabolic inflow, no-slip walls and a
/// free outlet, `n` × `n/2` squares of two triangles.
fn channel(n: usize, nu: f64) -> NavierStokes {
    let mesh: Arc<Mesh> =
        Arc::new(generate::rectangle([0.0, 0.0], [2.0, 1.0], [n, n / 2], CellKind::Tri3).unwrap());
    let mut ns = NavierStokes::new(mesh, nu, Box::new(SparseLu::new())).unwrap();
    let inflow = Arc::new(|x: [f64; 3], _t: f64| [4.0 * x[1] * (1.0 - x[1]), 0.0, 0.0]);
    ns.set_boundary("left", FlowBoundary::Velocity(inflow));
    ns.set_boundary("bottom", FlowBoundary::NoSlip);
    ns.set_boundary("top", FlowBoundary::NoSlip);
    ns.set_boundary("right", FlowBoundary::DoNothing);
    ns.set_solver(lsc_gmres(&ns, 1e-8));
    ns
}

/// GMRES iterations of the first two time steps (backward Euler start, then
/// BDF2 with convection) of a channel flow started from rest.
fn step_iterations(n: usize) -> usize {
    let mut ns = channel(n, 0.01);
    let mut iterations = 0;
    let dt = 0.01;
    for k in 0..2 {
        iterations = iterations.max(ns.try_step(k as f64 * dt, dt).unwrap().iterations);
        ns.commit();
    }
    iterations
}

#[test]
fn lsc_iterations_stay_nearly_flat_under_refinement() {
    // Measured: 11, 15, 19 (1.3x per halving of h, the known boundary
    // effect of LSC: with exact inner solves 6, 8, 12).
    let counts: Vec<usize> = [16, 32, 64].iter().map(|&n| step_iterations(n)).collect();
    eprintln!("LSC-GMRES iterations per time step on 16, 32, 64 squares: {counts:?}");
    assert!(counts[2] <= counts[0] * 2, "{counts:?}");
    assert!(counts[2] <= 25, "{counts:?}");
}
