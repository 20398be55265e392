//! Time integration: the backward-Euler exactness test, temporal orders of
//! backward Euler, Crank–Nicolson and BDF2, adaptive steps, and the loop's
//! divergence stop.

use std::sync::Arc;

use pde_engine::driver::{Adaptive, Monitor, OnStep, StepInfo, TimeLoop};
use pde_engine::fem::FunctionSpace;
use pde_engine::linalg::direct::Cholesky;
use pde_engine::physics::heat::{Heat, HeatBoundary};
use pde_engine::physics::{Model, StepError, StepReport, Stepper};
use pde_engine::time::Integrator;
use pde_mesh::{generate, CellKind};

fn square(n: usize) -> Arc<pde_mesh::Mesh> {
    Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [n, n], CellKind::Tri3).unwrap())
}

fn dirichlet_everywhere(heat: &mut Heat, g: impl Fn([f64; 3], f64) -> f64 + Send + Sync + 'static) {
    let g: Arc<dyn Fn([f64; 3], f64) -> f64 + Send + Sync> = Arc::new(g);
    for side in ["left", "right", "bottom", "top"] {
        heat.set_boundary(side, HeatBoundary::Dirichlet(g.clone()));
    }
}

/// docs/reference/README.md: backward Euler with P1 reproduces
/// u = 1 + x^2 + 3 y^2 + 1.2 t (f = 1.2 - 2 - 6) exactly at the nodes.
#[test]
fn backward_euler_p1_reproduces_the_reference_solution_exactly() {
    let exact = |x: [f64; 3], t: f64| 1.0 + x[0] * x[0] + 3.0 * x[1] * x[1] + 1.2 * t;
    let space = FunctionSpace::new(square(8), 1).unwrap();
    let points = space.dof_points().to_vec();
    let mut heat = Heat::new(
        space,
        Arc::new(|_| 1.0),
        |x| exact(x, 0.0),
        0.0,
        Box::new(Cholesky::new()),
    )
    .unwrap();
    heat.source = Arc::new(|_, _| 1.2 - 2.0 - 6.0);
    dirichlet_everywhere(&mut heat, exact);
    let mut worst = 0.0f64;
    let mut check = OnStep(|info: &StepInfo, s: &Heat| {
        let u = &s.fields()[0].1;
        for (ui, p) in u.iter().zip(&points) {
            worst = worst.max((ui - exact(*p, info.t)).abs());
        }
        Ok(())
    });
    TimeLoop::new(0.0, 1.0, 0.1)
        .run(&mut heat, None, &mut [&mut check])
        .unwrap();
    assert!(worst < 1e-12, "largest nodal error {worst:e}");
}

fn spatial(x: [f64; 3]) -> f64 {
    1.0 + x[0] * x[0] + 3.0 * x[1] * x[1]
}

/// Heat with the exact solution `u = (1 + x^2 + 3 y^2) a(t)`, which P2 holds
/// at every t, so errors are the integrator's alone:
/// `f = (1 + x^2 + 3 y^2) a'(t) - 8 a(t)`.
fn separable(integrator: Integrator, a: fn(f64) -> f64, da: fn(f64) -> f64) -> Heat {
    let exact = move |x: [f64; 3], t: f64| spatial(x) * a(t);
    let space = FunctionSpace::new(square(4), 2).unwrap();
    let mut heat = Heat::new(
        space,
        Arc::new(|_| 1.0),
        |x| exact(x, 0.0),
        0.0,
        Box::new(Cholesky::new()),
    )
    .unwrap();
    heat.integrator = integrator;
    heat.source = Arc::new(move |x, t| spatial(x) * da(t) - 8.0 * a(t));
    dirichlet_everywhere(&mut heat, exact);
    heat
}

/// Largest nodal error against `(1 + x^2 + 3 y^2) a(t)`.
fn nodal_error(heat: &Heat, a: f64) -> f64 {
    let reference = heat.space.interpolate(|x| spatial(x) * a);
    heat.solution()
        .iter()
        .zip(&reference)
        .map(|(u, r)| (u - r).abs())
        .fold(0.0, f64::max)
}

fn temporal_error(integrator: Integrator, dt: f64) -> f64 {
    let mut heat = separable(integrator, f64::cos, |t| -t.sin());
    TimeLoop::new(0.0, 1.0, dt)
        .run(&mut heat, None, &mut [])
        .unwrap();
    nodal_error(&heat, 1f64.cos())
}

#[test]
fn integrators_converge_at_their_order() {
    for (integrator, order) in [
        (Integrator::BackwardEuler, 1.0),
        (Integrator::CrankNicolson, 2.0),
        (Integrator::Bdf2, 2.0),
    ] {
        let errors: Vec<f64> = [0.1, 0.05, 0.025]
            .iter()
            .map(|&dt| temporal_error(integrator, dt))
            .collect();
        let rate = (errors[1] / errors[2]).log2();
        assert!(
            (rate - order).abs() < 0.1,
            "{integrator:?}: errors {errors:?}, rate {rate}"
        );
    }
}

#[test]
fn fixed_steps_land_on_the_end_time() {
    let space = FunctionSpace::new(square(6), 1).unwrap();
    let mut heat = Heat::new(
        space,
        Arc::new(|_| 1.0),
        |_| 0.0,
        0.0,
        Box::new(Cholesky::new()),
    )
    .unwrap();
    dirichlet_everywhere(&mut heat, |_, t| t);
    let summary = TimeLoop::new(0.0, 0.5, 0.1)
        .run(&mut heat, None, &mut [])
        .unwrap();
    assert_eq!(summary.steps, 5);
    assert!((summary.t - 0.5).abs() < 1e-12);
}

#[test]
fn adaptive_steps_follow_the_solution() {
    // A decaying mode: fast at first, then slow; steps should grow.
    let mut heat = separable(
        Integrator::Bdf2,
        |t| (-5.0 * t).exp(),
        |t| -5.0 * (-5.0 * t).exp(),
    );
    let mut run = TimeLoop::new(0.0, 2.0, 1e-3);
    run.adaptive = Some(Adaptive {
        tolerance: 1e-5,
        dt_min: 1e-6,
        dt_max: 0.5,
    });
    let summary = run.run(&mut heat, None, &mut []).unwrap();
    assert!(
        summary.dt_range.1 > 20.0 * summary.dt_range.0,
        "{summary:?}"
    );
    assert!(summary.steps < 200, "{summary:?}");
    let err = nodal_error(&heat, (-10.0f64).exp());
    assert!(err < 1e-3, "final error {err:e} after {summary:?}");
}

/// A stepper whose state blows up on the third step.
struct Exploding(usize, f64);
impl Stepper for Exploding {
    fn try_step(&mut self, _t: f64, _dt: f64) -> Result<StepReport, StepError> {
        self.1 = if self.0 == 2 { f64::NAN } else { 1.0 };
        Ok(StepReport {
            max_abs: self.1,
            ..StepReport::default()
        })
    }
    fn commit(&mut self) {
        self.0 += 1;
    }
    fn set_field(&mut self, _: &str, _: &[f64]) -> Result<(), String> {
        Err("read-only".into())
    }
}

#[test]
fn divergence_stops_the_loop_with_step_and_time() {
    let mut outputs = 0;
    let mut count = OnStep(|_: &StepInfo, _: &Exploding| {
        outputs += 1;
        Ok(())
    });
    let monitors: &mut [&mut dyn Monitor<Exploding>] = &mut [&mut count];
    let err = TimeLoop::new(0.0, 1.0, 0.25)
        .run(&mut Exploding(0, 0.0), None, monitors)
        .unwrap_err();
    assert!(matches!(err, StepError::Diverged { step: 3, .. }), "{err}");
    assert!(err.to_string().contains("t = 7.5"), "{err}");
    assert_eq!(
        outputs, 2,
        "the two good steps were output, the bad one was not"
    );
}

/// A monitor file that cannot be written (the disk is full) stops the run
/// with the step, the time and the file, not with a bare OS error.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_names_the_step_and_the_file() {
    let mut full = pde_engine::physics::CsvLog::new("/dev/full".into(), "t");
    let mut record = OnStep(|info: &StepInfo, _: &Exploding| full.row(&info.t.to_string()));
    let monitors: &mut [&mut dyn Monitor<Exploding>] = &mut [&mut record];
    let err = TimeLoop::new(0.0, 1.0, 0.25)
        .run(&mut Exploding(0, 0.0), None, monitors)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("step 1, t = 2.500000e-1: /dev/full: No space left on device"),
        "{err}"
    );
}
