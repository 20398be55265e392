//! Reaction–diffusion: spatial orders with a nonlinear manufactured
//! solution (P1, P2; 2D and 3D), temporal orders of SBDF2 / BDF2 against
//! their first-order controls, adaptive steps in the time loop, Newton's
//! convergence, and refused input.

use std::f64::consts::PI;
use std::sync::Arc;

use pde_engine::driver::{Adaptive, OnStep, StepInfo, TimeLoop};
use pde_engine::fem::{norms, FunctionSpace};
use pde_engine::physics::reaction_diffusion::{Boundary, Reaction, ReactionDiffusion, Scheme};
use pde_engine::physics::Model;
use pde_mesh::{generate, CellKind, Mesh};

fn square(n: usize) -> Arc<Mesh> {
    Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [n, n], CellKind::Tri3).unwrap())
}

const NEWTON: Scheme = Scheme::Newton {
    tolerance: 1e-10,
    max_iterations: 8,
};

/// Numbers in scientific notation, for messages.
fn sci(values: &[f64]) -> String {
    let v: Vec<String> = values.iter().map(|x| format!("{x:.3e}")).collect();
    v.join(", ")
}

fn rates(errors: &[f64]) -> Vec<f64> {
    errors.windows(2).map(|w| (w[0] / w[1]).log2()).collect()
}

// Stationary manufactured solution (2D):
//   u1 = sin(πx) sin(πy) + x          (Dirichlet on all sides),
//   u2 = cos(πx) cos(πy) + y²/2       (D2 ∂u2/∂n = D2 on top, 0 elsewhere:
//                                      the top flux given, the rest default),
// with R1 = -u1² + u2 + f1 (written -(u1^2): exmex binds a leading minus
// before ^), R2 = u1 u2 - 3 u2 + f2 and D = (1, 0.5), so
// f1 = 2π² sin sin + u1² - u2 and f2 = D2 (2π² cos cos - 1) - u1 u2 + 3 u2.
const U1: &str = "(sin(pi*x)*sin(pi*y) + x)";
const U2: &str = "(cos(pi*x)*cos(pi*y) + y^2/2)";

fn exact1(p: [f64; 3]) -> f64 {
    (PI * p[0]).sin() * (PI * p[1]).sin() + p[0]
}

fn exact2(p: [f64; 3]) -> f64 {
    (PI * p[0]).cos() * (PI * p[1]).cos() + 0.5 * p[1] * p[1]
}

fn manufactured_reaction() -> Reaction {
    let r1 = format!("-(u1^2) + u2 + 2*pi^2*sin(pi*x)*sin(pi*y) + {U1}^2 - {U2}");
    let r2 = format!("u1*u2 - 3*u2 + 0.5*(2*pi^2*cos(pi*x)*cos(pi*y) - 1) - {U1}*{U2} + 3*{U2}");
    Reaction::new(&["u1", "u2"], &[r1, r2]).unwrap()
}

/// L2 errors of both species at the steady state reached from 0 by large
/// BDF2 steps (its fixed point is the spatial discretisation's solution).
fn steady_errors(n: usize, degree: usize) -> (f64, f64) {
    let space = FunctionSpace::new(square(n), degree).unwrap();
    let g: Arc<dyn Fn([f64; 3], f64) -> f64 + Send + Sync> = Arc::new(|p, _| exact1(p));
    let mut model = ReactionDiffusion::new(space, manufactured_reaction(), &[1.0, 0.5])
        .unwrap()
        .with_scheme(NEWTON)
        .unwrap()
        .with_boundary("u2", "top", Boundary::Neumann(Arc::new(|_, _| 0.5)))
        .unwrap();
    for side in ["left", "right", "bottom", "top"] {
        model = model
            .with_boundary("u1", side, Boundary::Dirichlet(g.clone()))
            .unwrap();
    }
    TimeLoop::new(0.0, 1e4, 1e3)
        .run(&mut model, None, &mut [])
        .unwrap();
    let space = model.space();
    (
        norms::l2_error(space, model.solution(0), exact1).unwrap(),
        norms::l2_error(space, model.solution(1), exact2).unwrap(),
    )
}

#[test]
fn space_orders_p1_p2_with_a_nonlinear_manufactured_solution() {
    for (degree, sizes, expected) in [(1, [8, 16, 32], 2.0), (2, [4, 8, 16], 3.0)] {
        let (e1, e2): (Vec<f64>, Vec<f64>) =
            sizes.iter().map(|&n| steady_errors(n, degree)).unzip();
        for (name, errors) in [("u1", &e1), ("u2", &e2)] {
            let r = rates(errors);
            println!("P{degree} {name}: errors {}, rates {r:.3?}", sci(errors));
            assert!(
                r.iter().all(|r| (r - expected).abs() < 0.25),
                "P{degree} {name}: rates {r:.3?}, expected {expected}"
            );
        }
    }
}

/// 3D, P1, on the unit cube: u = cos(πx) cos(πy) cos(πz) + 1 with zero
/// flux everywhere (the default) and R = -u^2 + f.
#[test]
fn space_order_p1_in_3d() {
    let exact = |p: [f64; 3]| (PI * p[0]).cos() * (PI * p[1]).cos() * (PI * p[2]).cos() + 1.0;
    let c = "(cos(pi*x)*cos(pi*y)*cos(pi*z))";
    // -Δu = 3π² c, so R = -u² + f with f = 3π² c + (c + 1)^2.
    let r = format!("-(u^2) + 3*pi^2*{c} + ({c} + 1)^2");
    let errors: Vec<f64> = [4, 8, 16]
        .iter()
        .map(|&n| {
            let mesh = generate::cuboid([0.0; 3], [1.0; 3], [n, n, n], CellKind::Tet4).unwrap();
            let space = FunctionSpace::new(Arc::new(mesh), 1).unwrap();
            let mut model =
                ReactionDiffusion::new(space, Reaction::new(&["u"], &[&r]).unwrap(), &[1.0])
                    .unwrap()
                    .with_initial("u", |_| 1.0)
                    .unwrap()
                    .with_scheme(NEWTON)
                    .unwrap();
            TimeLoop::new(0.0, 1e4, 1e3)
                .run(&mut model, None, &mut [])
                .unwrap();
            norms::l2_error(model.space(), model.solution(0), exact).unwrap()
        })
        .collect();
    let r = rates(&errors);
    println!("3D P1: errors {}, rates {r:.3?}", sci(&errors));
    assert!(
        r.iter().all(|r| (r - 2.0).abs() < 0.25),
        "3D P1 rates {r:.3?}"
    );
}

/// A Brusselator (a = 1, b = 2) with a smooth spatial start, zero flux.
fn brusselator(n: usize, degree: usize, scheme: Scheme, order: usize) -> ReactionDiffusion {
    oscillator(2.0, n, degree, scheme, order)
}

/// The Brusselator `u' = 1 - (b+1) u + u²v, v' = b u - u²v` with diffusion;
/// b > 2 makes a relaxation limit cycle (slow drifts, fast spikes).
fn oscillator(b: f64, n: usize, degree: usize, scheme: Scheme, order: usize) -> ReactionDiffusion {
    let reaction = Reaction::new(
        &["u", "v"],
        &[
            format!("1 - {}*u + u^2*v", b + 1.0),
            format!("{b}*u - u^2*v"),
        ],
    )
    .unwrap();
    ReactionDiffusion::new(
        FunctionSpace::new(square(n), degree).unwrap(),
        reaction,
        &[0.05, 0.02],
    )
    .unwrap()
    .with_initial("u", |p| 1.0 + 0.5 * (PI * p[0]).cos() * (PI * p[1]).cos())
    .unwrap()
    .with_initial("v", |p| 2.0 + 0.3 * (PI * p[0]).sin())
    .unwrap()
    .with_scheme(scheme)
    .unwrap()
    .with_order(order)
    .unwrap()
}

/// All species' dofs at `end` after fixed steps of `dt`.
fn final_state(mut model: ReactionDiffusion, end: f64, dt: f64) -> Vec<f64> {
    TimeLoop::new(0.0, end, dt)
        .run(&mut model, None, &mut [])
        .unwrap();
    model.fields().into_iter().flat_map(|(_, u)| u).collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
}

/// Observed orders from differences of solutions at dt, dt/2, dt/4, ...
fn time_rates(scheme: Scheme, order: usize) -> Vec<f64> {
    let states: Vec<Vec<f64>> = (0..5)
        .map(|k| {
            final_state(
                brusselator(6, 2, scheme, order),
                2.0,
                0.1 / f64::from(1 << k),
            )
        })
        .collect();
    let diffs: Vec<f64> = states.windows(2).map(|w| max_diff(&w[0], &w[1])).collect();
    let r = rates(&diffs);
    println!(
        "{scheme:?} order {order}: differences {}, rates {r:.3?}",
        sci(&diffs)
    );
    r
}

#[test]
fn imex_sbdf2_is_second_order_and_imex_euler_first() {
    let r2 = time_rates(Scheme::Imex, 2);
    assert!(r2.iter().all(|&r| r >= 1.8), "SBDF2 rates {r2:.3?}");
    let r1 = time_rates(Scheme::Imex, 1);
    assert!(
        r1.iter().all(|&r| (r - 1.0).abs() < 0.2),
        "IMEX Euler rates {r1:.3?}"
    );
}

#[test]
fn newton_bdf2_is_second_order_and_backward_euler_first() {
    let r2 = time_rates(NEWTON, 2);
    assert!(r2.iter().all(|&r| r >= 1.8), "BDF2 rates {r2:.3?}");
    let r1 = time_rates(NEWTON, 1);
    assert!(
        r1.iter().all(|&r| (r - 1.0).abs() < 0.2),
        "backward Euler rates {r1:.3?}"
    );
}

#[test]
fn newton_converges_fast_and_agrees_with_imex() {
    let (end, dt) = (2.0, 0.02);
    let reference = final_state(brusselator(6, 2, Scheme::Imex, 2), end, dt / 16.0);
    let mut newton = brusselator(6, 2, NEWTON, 2);
    let mut worst_iterations = 0;
    let mut check = OnStep(|info: &StepInfo, s: &ReactionDiffusion| {
        let step = info.step;
        let report = s.last_newton().expect("a Newton step");
        let u = &report.updates;
        // The start step makes three solves; the others one.
        if step > 1 {
            worst_iterations = worst_iterations.max(report.iterations);
        }
        assert!(
            *u.last().unwrap() <= 1e-10,
            "step {step}: updates {}",
            sci(u)
        );
        // Quadratic: each update about the square of the one before.
        for w in u.windows(2).filter(|w| w[0] < 1e-2 && w[1] > 1e-14) {
            assert!(
                w[1] <= 10.0 * w[0] * w[0],
                "step {step}: updates {}",
                sci(u)
            );
        }
        Ok(())
    });
    TimeLoop::new(0.0, end, dt)
        .run(&mut newton, None, &mut [&mut check])
        .unwrap();
    assert!(
        worst_iterations <= 3,
        "{worst_iterations} Newton iterations in a step"
    );
    let newton: Vec<f64> = newton.fields().into_iter().flat_map(|(_, u)| u).collect();
    let imex = final_state(brusselator(6, 2, Scheme::Imex, 2), end, dt);
    let (e_newton, e_imex) = (max_diff(&newton, &reference), max_diff(&imex, &reference));
    let gap = max_diff(&newton, &imex);
    // Both converge to the same solution: the gap is a time-discretisation
    // error, of their errors' size, and falls as dt^2.
    let halved = max_diff(
        &final_state(brusselator(6, 2, NEWTON, 2), end, dt / 2.0),
        &final_state(brusselator(6, 2, Scheme::Imex, 2), end, dt / 2.0),
    );
    println!(
        "errors: Newton {e_newton:.3e}, IMEX {e_imex:.3e}; gap {gap:.3e}, at dt/2 {halved:.3e}"
    );
    assert!(
        gap < 1e-3 && gap <= 2.0 * e_newton.max(e_imex),
        "gap {gap:e}"
    );
    assert!(halved < gap / 3.0, "gap {gap:e}, at dt/2 {halved:e}");
}

#[test]
fn adaptive_steps_reach_the_end_with_fewer_steps_and_error_following_the_tolerance() {
    let end = 12.0;
    let reference = final_state(oscillator(4.0, 4, 1, Scheme::Imex, 2), end, 1e-3);
    let mut previous: Option<f64> = None;
    for tolerance in [1e-4, 1e-5, 1e-6] {
        let mut model = oscillator(4.0, 4, 1, Scheme::Imex, 2);
        let mut run = TimeLoop::new(0.0, end, 1e-3);
        run.adaptive = Some(Adaptive {
            tolerance,
            dt_min: 1e-8,
            dt_max: 1.0,
        });
        let summary = run.run(&mut model, None, &mut []).unwrap();
        assert!((summary.t - end).abs() < 1e-12, "ended at {}", summary.t);
        let u: Vec<f64> = model.fields().into_iter().flat_map(|(_, u)| u).collect();
        let error = max_diff(&u, &reference);
        // The same number of fixed steps is less accurate.
        let fixed = final_state(
            oscillator(4.0, 4, 1, Scheme::Imex, 2),
            end,
            end / summary.steps as f64,
        );
        let fixed_error = max_diff(&fixed, &reference);
        println!(
            "tolerance {tolerance:.0e}: {} steps ({} rejected), dt in [{:.2e}, {:.2e}], \
             error {error:.3e}; fixed steps: {fixed_error:.3e}",
            summary.steps, summary.rejected, summary.dt_range.0, summary.dt_range.1
        );
        assert!(
            fixed_error > 1.5 * error,
            "adaptive {error:e}, fixed {fixed_error:e}"
        );
        if let Some(p) = previous {
            // Error per step ~ tol: the global error falls with it.
            assert!(error < p / 3.0, "error {error:e} after {p:e}");
        }
        previous = Some(error);
    }
}

#[test]
fn bad_input_is_refused_with_a_message() {
    let e = Reaction::new(&["u", "v"], &["u*w", "v"])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'w'") && e.contains("u*w") && e.contains("u, v"),
        "{e}"
    );
    let e = Reaction::new(&["u", "v"], &["u", "v", "u"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 reaction expressions for 2 species"), "{e}");
    let e = Reaction::new(&["u", "t"], &["u", "t"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("'t'"), "{e}");
    assert!(Reaction::new(&["u", "u"], &["u", "u"]).is_err());
    assert!(Reaction::new(&["sin"], &["1"]).is_err());
    let e = Reaction::new(&["u"], &["u*(1-"]).unwrap_err().to_string();
    assert!(e.contains("u*(1-"), "{e}");
    let space = FunctionSpace::new(square(2), 1).unwrap();
    let reaction = Reaction::new(&["u", "v"], &["u", "v"]).unwrap();
    let e = ReactionDiffusion::new(space.clone(), reaction.clone(), &[1.0])
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("1 diffusion coefficients for 2 species"), "{e}");
    assert!(ReactionDiffusion::new(space.clone(), reaction.clone(), &[1.0, -1.0]).is_err());
    let model = ReactionDiffusion::new(space, reaction, &[1.0, 0.0]).unwrap();
    let flux = Boundary::Neumann(Arc::new(|_, _| 1.0));
    assert!(model.with_boundary("v", "top", flux).is_err());
}

/// Fixed steps reuse the diffusion factors: the start factorises `M + c K`
/// for dt and dt/2, the two-step steps for theirs, once per distinct `D_i`
/// (none for a species without diffusion), however many steps follow.
#[test]
fn imex_factorises_once_per_distinct_diffusion_and_step() {
    for (diffusion, expected) in [([0.05, 0.02], 6), ([0.05, 0.05], 3), ([0.05, 0.0], 3)] {
        let reaction = Reaction::new(&["u", "v"], &["1 - 3*u + u^2*v", "2*u - u^2*v"]).unwrap();
        let mut model = ReactionDiffusion::new(
            FunctionSpace::new(square(4), 1).unwrap(),
            reaction,
            &diffusion,
        )
        .unwrap()
        .with_initial("u", |p| 1.0 + p[0])
        .unwrap();
        // Steps of 1/16 land on the end exactly: no shortened last step.
        TimeLoop::new(0.0, 2.0, 0.0625)
            .run(&mut model, None, &mut [])
            .unwrap();
        assert_eq!(model.factorizations(), expected, "D = {diffusion:?}");
    }
}
