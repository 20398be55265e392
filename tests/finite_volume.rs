//! Finite volumes: geometry, conservation to round-off, boundedness of the
//! limited scheme, convergence orders of smooth advection on irregular
//! meshes, periodic boundaries, diffusion with non-orthogonal correction,
//! implicit backward Euler, the Burgers shock speed, HLLC's contact wave and
//! the shallow-water dam break against its exact solution.

use std::f64::consts::PI;
use std::sync::Arc;

use pde_engine::fvm::geometry::FvMesh;
use pde_engine::fvm::law::{Burgers, LinearAdvection, NumericalFlux, ShallowWater};
use pde_engine::fvm::projection::{FaceRole, FluxProjection};
use pde_engine::fvm::reconstruct::Limiter;
use pde_engine::fvm::solver::{FiniteVolume, FvBoundary, FvIntegrator, Reconstruction, SspRk};
use pde_mesh::{generate, CellKind, Mesh};

/// A rectangle of `n[0]` × `n[1]` squares (two triangles each) whose
/// interior nodes are moved by up to 20% of a square at random, so that no
/// two cells are alike.
fn irregular(lo: [f64; 2], hi: [f64; 2], n: [usize; 2]) -> Mesh {
    let mut mesh = generate::rectangle(lo, hi, n, CellKind::Tri3).unwrap();
    let h = [(hi[0] - lo[0]) / n[0] as f64, (hi[1] - lo[1]) / n[1] as f64];
    let mut seed: u64 = 12345;
    let mut random = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let inside = |v: f64, a: f64, b: f64| (v - a).abs() > 1e-12 && (v - b).abs() > 1e-12;
    for p in &mut mesh.points {
        let (dx, dy) = (random(), random());
        if inside(p[0], lo[0], hi[0]) && inside(p[1], lo[1], hi[1]) {
            p[0] += 0.4 * dx * h[0];
            p[1] += 0.4 * dy * h[1];
        }
    }
    mesh
}

#[test]
fn faces_close_every_cell_and_volumes_fill_the_domain() {
    let meshes = [
        generate::rectangle([0.0, 0.0], [2.0, 1.0], [5, 3], CellKind::Tri3).unwrap(),
        generate::rectangle([0.0, 0.0], [2.0, 1.0], [5, 3], CellKind::Quad4).unwrap(),
        generate::cuboid([0.0; 3], [1.0, 2.0, 1.0], [2, 3, 2], CellKind::Tet4).unwrap(),
        generate::cuboid([0.0; 3], [1.0, 2.0, 1.0], [2, 3, 2], CellKind::Hex8).unwrap(),
        irregular([0.0, 0.0], [2.0, 1.0], [6, 3]),
    ];
    for mesh in &meshes {
        let fv = FvMesh::new(Arc::new(mesh.clone())).unwrap();
        let total: f64 = fv.volume.iter().sum();
        assert!((total - 2.0).abs() < 1e-12, "volume {total}");
        for c in 0..fv.num_cells() {
            // Σ_f |f| n_f = 0 over a closed cell (outward normals).
            let mut s = [0.0; 3];
            for &f in fv.cell_faces.row(c) {
                let face = &fv.faces[f];
                let sign = if face.owner == c { 1.0 } else { -1.0 };
                (0..3).for_each(|k| s[k] += sign * face.area * face.normal[k]);
            }
            assert!(s.iter().all(|v| v.abs() < 1e-12), "cell {c}: {s:?}");
            // The centroid lies inside: every face normal points away from it.
            for &f in fv.cell_faces.row(c) {
                let face = &fv.faces[f];
                let sign = if face.owner == c { 1.0 } else { -1.0 };
                let d: f64 = (0..3)
                    .map(|k| (face.centroid[k] - fv.centroid[c][k]) * face.normal[k])
                    .sum();
                assert!(sign * d > 0.0, "cell {c}, face {f}");
            }
        }
        let boundary = fv.faces.iter().filter(|f| f.neighbour.is_none());
        assert!(boundary.clone().all(|f| f.group.is_some()));
    }
}

#[test]
fn advection_conserves_mass_up_to_the_boundary_flux() {
    let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 1.0], [24, 24]))).unwrap();
    // A swirl that enters on the left and bottom and leaves on the right and top.
    let law = LinearAdvection::new(&fv, |x| [1.0 + 0.5 * x[1], 0.5 + x[0] * x[0], 0.0]);
    for integrator in [SspRk::Rk1, SspRk::Rk2, SspRk::Rk3] {
        let mut model = FiniteVolume::new(fv.clone(), law.clone());
        model.integrator = FvIntegrator::Ssp(integrator);
        let inflow: Arc<dyn Fn([f64; 3], f64) -> [f64; 1] + Send + Sync> =
            Arc::new(|x, t| [(1.0 + (3.0 * x[1] + 5.0 * t).sin()) * 0.5]);
        model
            .set_boundary("left", FvBoundary::Inflow(inflow.clone()))
            .unwrap();
        model
            .set_boundary("bottom", FvBoundary::Inflow(inflow))
            .unwrap();
        model.set_boundary("right", FvBoundary::Outflow).unwrap();
        model.set_boundary("top", FvBoundary::Outflow).unwrap();
        model.set_initial(|x| [(x[0] * 7.0).sin().powi(2) + x[1]]);
        let m0 = model.total()[0];
        model.run_until(0.4).unwrap();
        let (m, out) = (model.total()[0], model.boundary_outflow()[0]);
        assert!(out.abs() > 0.01, "mass crossed the boundary: {out}");
        assert!(
            (m + out - m0).abs() < 1e-13 * m0,
            "{integrator:?}: {m} + {out} != {m0}"
        );
    }
}

/// A velocity that points into walls (as an interpolated flow velocity can
/// near a curved wall) moves nothing through them: the mass stays, and
/// piles up against the wall instead of growing without bound.
#[test]
fn walls_pass_no_scalar_whatever_the_velocity() {
    let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 1.0], [16, 16]))).unwrap();
    let law = LinearAdvection::new(&fv, |_| [1.0, -0.4, 0.0]);
    let mut model = FiniteVolume::new(fv, law);
    model.set_initial(|x| [1.0 + x[0]]);
    let m0 = model.total()[0];
    model.run_until(1.0).unwrap();
    assert!((model.total()[0] - m0).abs() < 1e-13 * m0);
    assert_eq!(model.boundary_outflow()[0], 0.0);
    // At most all of it in the smallest cell (a ghost state equal to the
    // inside value would pump the scalar in through the inflow walls).
    let peak = model.state().iter().fold(0.0f64, |m, u| m.max(u[0]));
    let smallest = model
        .mesh
        .volume
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert!(
        peak <= m0 / smallest,
        "pile-up {peak} above {}",
        m0 / smallest
    );
    assert!(model.state().iter().all(|u| u[0] >= -1e-12));
}

/// Backflow through an outflow boundary brings nothing in: a velocity
/// pointing into the domain at an open side leaves the scalar bounded by
/// its initial values (a zero-gradient ghost would feed each cell its own
/// value and grow it exponentially).
#[test]
fn backflow_through_an_outlet_brings_no_scalar_in() {
    let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 1.0], [16, 16]))).unwrap();
    let law = LinearAdvection::new(&fv, |_| [-1.0, 0.0, 0.0]);
    let mut model = FiniteVolume::new(fv, law);
    for side in ["left", "right"] {
        model.set_boundary(side, FvBoundary::Outflow).unwrap();
    }
    model.set_initial(|x| [1.0 + x[1]]);
    let m0 = model.total()[0];
    model.run_until(2.0).unwrap();
    let peak = model.state().iter().fold(0.0f64, |m, u| m.max(u[0]));
    assert!(
        peak < 1e-6,
        "the domain empties through the left side: {peak}"
    );
    assert!((model.total()[0] + model.boundary_outflow()[0] - m0).abs() < 1e-13 * m0);
}

#[test]
fn shallow_water_between_walls_keeps_its_mass_to_round_off() {
    let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [2.0, 1.0], [30, 15]))).unwrap();
    let mut model = FiniteVolume::new(fv, ShallowWater { g: 9.81 });
    model.flux = NumericalFlux::Hll;
    model.set_initial(|x| {
        let r2 = (x[0] - 0.7).powi(2) + (x[1] - 0.4).powi(2);
        [1.0 + 0.5 * (-20.0 * r2).exp(), 0.0, 0.0]
    });
    let m0 = model.total()[0];
    model.run_until(0.5).unwrap();
    let total = model.total();
    assert!((total[0] - m0).abs() < 1e-13 * m0, "{} vs {m0}", total[0]);
    assert_eq!(model.boundary_outflow()[0], 0.0, "no mass through walls");
    let h = model.state().iter().map(|u| u[0]);
    let (lo, hi) = (
        h.clone().fold(f64::INFINITY, f64::min),
        h.fold(0.0, f64::max),
    );
    eprintln!("depth range [{lo}, {hi}]");
    // The collapsing bump leaves a dip behind its ring wave (to 0.896).
    assert!(lo > 0.8 && hi < 1.5, "depth range [{lo}, {hi}]");
}

/// A unit step advected diagonally across an irregular mesh; the range of
/// the solution at the end.
fn step_range(reconstruction: Reconstruction) -> (f64, f64) {
    let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 1.0], [32, 32]))).unwrap();
    let law = LinearAdvection::new(&fv, |_| [1.0, 0.6, 0.0]);
    let mut model = FiniteVolume::new(fv, law);
    model.reconstruction = reconstruction;
    let step = |x: [f64; 3], t: f64| [if x[0] - t < 0.3 { 1.0 } else { 0.0 }];
    for side in ["left", "bottom"] {
        model
            .set_boundary(side, FvBoundary::Inflow(Arc::new(step)))
            .unwrap();
    }
    model.set_boundary("right", FvBoundary::Outflow).unwrap();
    model.set_boundary("top", FvBoundary::Outflow).unwrap();
    model.set_initial(|x| step(x, 0.0));
    model.run_until(0.3).unwrap();
    let values = model.state().iter().map(|u| u[0]);
    (
        values.clone().fold(f64::INFINITY, f64::min),
        values.fold(f64::NEG_INFINITY, f64::max),
    )
}

#[test]
fn the_limited_scheme_keeps_a_step_within_its_bounds() {
    for limiter in [Limiter::BarthJespersen, Limiter::Venkatakrishnan(0.3)] {
        let (lo, hi) = step_range(Reconstruction::Muscl(limiter));
        eprintln!("{limiter:?}: range [{lo:.3e}, {hi:.6}]");
        if limiter == Limiter::BarthJespersen {
            assert!(lo >= -1e-12 && hi <= 1.0 + 1e-12, "[{lo}, {hi}]");
        } else {
            assert!(lo >= -1e-3 && hi <= 1.0 + 1e-3, "[{lo}, {hi}]");
        }
    }
    // Without a limiter the same run over- and undershoots: the test sees it.
    let (lo, hi) = step_range(Reconstruction::Muscl(Limiter::None));
    eprintln!("unlimited: range [{lo:.3e}, {hi:.6}]");
    assert!(lo < -1e-3 || hi > 1.0 + 1e-3, "[{lo}, {hi}]");
}

/// L1 error of a smooth wave advected by `(1, 0.5)` to t = 0.25, on an
/// irregular mesh of `n` × `n` squares.
fn smooth_error(n: usize, reconstruction: Reconstruction) -> f64 {
    let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 1.0], [n, n]))).unwrap();
    let a = [1.0, 0.5];
    let law = LinearAdvection::new(&fv, |_| [a[0], a[1], 0.0]);
    let mut model = FiniteVolume::new(fv, law);
    model.reconstruction = reconstruction;
    model.integrator = FvIntegrator::Ssp(SspRk::Rk3);
    let exact = move |x: [f64; 3], t: f64| {
        let (u, v) = (x[0] - a[0] * t, x[1] - a[1] * t);
        [(2.0 * PI * u).sin() * (PI * v).cos()]
    };
    for side in ["left", "bottom"] {
        model
            .set_boundary(side, FvBoundary::Inflow(Arc::new(exact)))
            .unwrap();
    }
    model.set_boundary("right", FvBoundary::Outflow).unwrap();
    model.set_boundary("top", FvBoundary::Outflow).unwrap();
    // Cell averages of the initial state (a 3-point rule per triangle would
    // do; the centroid value is second-order accurate, as is the scheme).
    model.set_initial(|x| exact(x, 0.0));
    let end = 0.25;
    model.run_until(end).unwrap();
    let m = &model.mesh;
    (0..m.num_cells())
        .map(|c| (model.state()[c][0] - exact(m.centroid[c], end)[0]).abs() * m.volume[c])
        .sum()
}

#[test]
fn smooth_advection_converges_at_order_two_with_muscl_and_one_with_upwind() {
    let rate = |reconstruction: Reconstruction| {
        let e: Vec<f64> = [32, 64, 128]
            .iter()
            .map(|&n| smooth_error(n, reconstruction))
            .collect();
        let r = (e[1] / e[2]).log2();
        eprintln!("{reconstruction:?}: L1 errors {e:?}, rate {r:.2}");
        r
    };
    // Measured on 32², 64², 128²: unlimited 2.03, Barth–Jespersen 1.97,
    // upwind 0.96. (Venkatakrishnan's limiter acts on smooth slopes too and
    // loses order here: 1.1–1.3 for k = 1–20.)
    let unlimited = rate(Reconstruction::Muscl(Limiter::None));
    assert!(unlimited > 1.9, "unlimited MUSCL rate {unlimited}");
    let limited = rate(Reconstruction::Muscl(Limiter::BarthJespersen));
    assert!(limited > 1.8, "limited MUSCL rate {limited}");
    let upwind = rate(Reconstruction::FirstOrder);
    assert!((upwind - 1.0).abs() < 0.2, "upwind rate {upwind}");
}

/// Where the solution along the strip's middle crosses `level`, scanning
/// from the left.
fn crossing(model: &FiniteVolume<Burgers, 1>, level: f64) -> f64 {
    let m = &model.mesh;
    let mut cells: Vec<(f64, f64)> = (0..m.num_cells())
        .map(|c| (m.centroid[c][0], model.state()[c][0]))
        .collect();
    cells.sort_by(|a, b| a.0.total_cmp(&b.0));
    let k = cells.iter().position(|&(_, u)| u < level).unwrap();
    let ((x0, u0), (x1, u1)) = (cells[k - 1], cells[k]);
    x0 + (level - u0) / (u1 - u0) * (x1 - x0)
}

#[test]
fn burgers_shock_moves_at_the_rankine_hugoniot_speed() {
    // u = 1 left of x = 0, 0 right: a shock with speed (1 + 0) / 2.
    let n = 400;
    let mesh = generate::rectangle([-1.0, 0.0], [1.0, 0.02], [n, 4], CellKind::Tri3).unwrap();
    let fv = FvMesh::new(Arc::new(mesh)).unwrap();
    let mut model = FiniteVolume::new(
        fv,
        Burgers {
            direction: [1.0, 0.0, 0.0],
        },
    );
    model
        .set_boundary("left", FvBoundary::Inflow(Arc::new(|_, _| [1.0])))
        .unwrap();
    model.set_boundary("right", FvBoundary::Outflow).unwrap();
    model.set_initial(|x| [if x[0] < 0.0 { 1.0 } else { 0.0 }]);
    let end = 0.8;
    model.run_until(end).unwrap();
    let x = crossing(&model, 0.5);
    let h = 2.0 / n as f64;
    eprintln!("shock at {x:.4}, exact {:.4}", 0.5 * end);
    assert!((x - 0.5 * end).abs() < 1.5 * h, "shock at {x}");
    // Behind and ahead of the shock the states are exact.
    assert!(model
        .state()
        .iter()
        .all(|u| u[0] > -1e-9 && u[0] < 1.0 + 1e-9));
}

/// The exact solution of the wet dam break (Stoker 1957): depth at `x`
/// (dam at 0) and time `t` for depths `hl` > `hr` at rest.
fn stoker(hl: f64, hr: f64, g: f64, x: f64, t: f64) -> f64 {
    // The middle state h* from f_L(h) + f_R(h) = 0 (rarefaction left, shock
    // right), by Newton's method.
    let f = |h: f64| {
        let fl = 2.0 * ((g * h).sqrt() - (g * hl).sqrt());
        let fr = (h - hr) * (0.5 * g * (h + hr) / (h * hr)).sqrt();
        fl + fr
    };
    let mut h = 0.5 * (hl + hr);
    for _ in 0..50 {
        let d = (f(h + 1e-8) - f(h - 1e-8)) / 2e-8;
        h -= f(h) / d;
    }
    let um = 2.0 * ((g * hl).sqrt() - (g * h).sqrt());
    let shock = h * um / (h - hr);
    let (cl, cm) = ((g * hl).sqrt(), (g * h).sqrt());
    let s = x / t;
    if s <= -cl {
        hl
    } else if s <= um - cm {
        let c = (2.0 * cl - s) / 3.0;
        c * c / g
    } else if s <= shock {
        h
    } else {
        hr
    }
}

/// L1 error (per unit width) of the dam break at t = 0.4 on a strip of `n`
/// cells along x.
fn dam_break_error(n: usize) -> f64 {
    let (hl, hr, g) = (1.0, 0.3, 9.81);
    let mesh = irregular([-2.0, 0.0], [2.0, 0.1], [n, 3]);
    let fv = FvMesh::new(Arc::new(mesh)).unwrap();
    let mut model = FiniteVolume::new(fv, ShallowWater { g });
    model.flux = NumericalFlux::Hll;
    model.integrator = FvIntegrator::Ssp(SspRk::Rk2);
    model.cfl = 0.4;
    model.set_initial(|x| [if x[0] < 0.0 { hl } else { hr }, 0.0, 0.0]);
    let end = 0.4;
    model.run_until(end).unwrap();
    let m = &model.mesh;
    (0..m.num_cells())
        .map(|c| {
            let exact = stoker(hl, hr, g, m.centroid[c][0], end);
            (model.state()[c][0] - exact).abs() * m.volume[c]
        })
        .sum::<f64>()
        / 0.1
}

#[test]
fn dam_break_converges_to_stokers_solution() {
    let e: Vec<f64> = [100, 200, 400]
        .iter()
        .map(|&n| dam_break_error(n))
        .collect();
    eprintln!("dam break L1 errors {e:?}");
    assert!(e[1] < 0.75 * e[0] && e[2] < 0.75 * e[1], "{e:?}");
    assert!(e[2] < 0.01, "{e:?}");
}

/// A pulse carried once around a doubly periodic square comes back where it
/// started: mass is exact (there is no boundary), and the error falls at
/// second order with MUSCL on irregular meshes.
#[test]
fn periodic_advection_brings_the_pulse_back_after_one_period() {
    let error = |n: usize| {
        let mut fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 1.0], [n, n]))).unwrap();
        fv.make_periodic("left", "right").unwrap();
        fv.make_periodic("bottom", "top").unwrap();
        assert!(fv.faces.iter().all(|f| f.neighbour.is_some()));
        // Over t = 1 the velocity (1, 1) moves everything by one period.
        let law = LinearAdvection::new(&fv, |_| [1.0, 1.0, 0.0]);
        let mut model = FiniteVolume::new(fv, law);
        model.integrator = FvIntegrator::Ssp(SspRk::Rk3);
        let pulse = |x: [f64; 3]| {
            let (s, c) = ((2.0 * PI * x[0]).sin(), (2.0 * PI * x[1]).cos());
            [1.0 + s * c]
        };
        model.set_initial(pulse);
        let m0 = model.total()[0];
        model.run_until(1.0).unwrap();
        assert!((model.total()[0] - m0).abs() < 1e-13 * m0);
        assert_eq!(model.boundary_outflow()[0], 0.0);
        let m = &model.mesh;
        (0..m.num_cells())
            .map(|c| (model.state()[c][0] - pulse(m.centroid[c])[0]).abs() * m.volume[c])
            .sum::<f64>()
    };
    let (coarse, fine) = (error(24), error(48));
    let order = (coarse / fine).log2();
    eprintln!("periodic L1 errors {coarse:.3e}, {fine:.3e}: order {order:.2}");
    assert!(
        order > 1.7 && fine < 1e-2,
        "errors {coarse:.3e}, {fine:.3e}: order {order:.2}"
    );
}

#[test]
fn periodic_groups_must_match_face_by_face() {
    let mesh = generate::rectangle([0.0, 0.0], [2.0, 1.0], [6, 3], CellKind::Tri3).unwrap();
    let mut fv = FvMesh::new(Arc::new(mesh)).unwrap();
    let e = fv.make_periodic("left", "top").unwrap_err();
    assert!(e.contains("'left' has 3 faces and 'top' 6"), "{e}");
    let e = fv.make_periodic("left", "nowhere").unwrap_err();
    assert!(e.contains("no boundary group 'nowhere'"), "{e}");
}

/// `cos(πx) cos(πy) e^{-2π²κt}` solves the heat equation with zero normal
/// flux on the unit square. On irregular triangles, whose faces are not
/// orthogonal to the lines between centroids, the corrected diffusive flux
/// converges at order two.
#[test]
fn diffusion_with_non_orthogonal_correction_converges_at_order_two() {
    let (kappa, end) = (1.0, 0.02);
    let exact = move |x: [f64; 3], t: f64| {
        (PI * x[0]).cos() * (PI * x[1]).cos() * (-2.0 * PI * PI * kappa * t).exp()
    };
    let error = |n: usize| {
        let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 1.0], [n, n]))).unwrap();
        let law = LinearAdvection::new(&fv, |_| [0.0; 3]);
        let mut model = FiniteVolume::new(fv, law);
        model.diffusivity = kappa;
        model.reconstruction = Reconstruction::FirstOrder;
        model.set_initial(|x| [exact(x, 0.0)]);
        let m0 = model.total()[0];
        model.run_until(end).unwrap();
        // Nothing crosses the closed boundary.
        assert!((model.total()[0] - m0).abs() < 1e-14);
        let m = &model.mesh;
        (0..m.num_cells())
            .map(|c| (model.state()[c][0] - exact(m.centroid[c], end)).abs() * m.volume[c])
            .sum::<f64>()
    };
    let e: Vec<f64> = [16, 32].iter().map(|&n| error(n)).collect();
    let order = (e[0] / e[1]).log2();
    eprintln!("diffusion L1 errors {e:?}: order {order:.2}");
    assert!(order > 1.8, "errors {e:?}: order {order:.2}");
}

/// An advection–diffusion channel: inflow 1 on the left into a channel at
/// 0, outflow on the right, walls above and below. The velocity is uniform:
/// its face fluxes balance in every cell, which boundedness needs.
fn channel(integrator: FvIntegrator, cfl: f64) -> FiniteVolume<LinearAdvection, 1> {
    let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 0.25], [20, 5]))).unwrap();
    let law = LinearAdvection::new(&fv, |_| [1.0, 0.0, 0.0]);
    let mut model = FiniteVolume::new(fv, law);
    model.integrator = integrator;
    model.reconstruction = Reconstruction::FirstOrder;
    model.diffusivity = 0.01;
    model.cfl = cfl;
    let one: Arc<dyn Fn([f64; 3], f64) -> [f64; 1] + Send + Sync> = Arc::new(|_, _| [1.0]);
    model.set_boundary("left", FvBoundary::Inflow(one)).unwrap();
    model.set_boundary("right", FvBoundary::Outflow).unwrap();
    model
}

/// Backward Euler at CFL 20: bounded, conservative to round-off, and its
/// steady state is the steady state of the explicit scheme with the same
/// fluxes (both are the zero of the same discrete operator).
#[test]
fn backward_euler_is_bounded_conservative_and_reaches_the_explicit_steady_state() {
    let mut implicit = channel(FvIntegrator::BackwardEuler, 20.0);
    let mut steps = 0;
    while implicit.time() < 0.3 {
        let dt = implicit.cfl_dt();
        implicit.run_until(implicit.time() + dt).unwrap();
        steps += 1;
        let (lo, hi) = implicit
            .state()
            .iter()
            .fold((1.0f64, 0.0f64), |(a, b), u| (a.min(u[0]), b.max(u[0])));
        assert!(
            lo >= -1e-12 && hi <= 1.0 + 1e-12,
            "step {steps}: [{lo}, {hi}]"
        );
    }
    assert!(steps < 10, "{steps} steps: CFL 20 steps are long");
    let balance = implicit.total()[0] + implicit.boundary_outflow()[0];
    assert!(
        balance.abs() < 1e-13,
        "mass in - mass out - held = {balance:e}"
    );
    implicit.run_until(40.0).unwrap();
    let mut explicit = channel(FvIntegrator::Ssp(SspRk::Rk1), 0.5);
    explicit.run_until(40.0).unwrap();
    let difference = implicit
        .state()
        .iter()
        .zip(explicit.state())
        .map(|(a, b)| (a[0] - b[0]).abs())
        .fold(0.0, f64::max);
    eprintln!("backward Euler: {steps} steps to t = 0.3; steady states differ by {difference:.2e}");
    assert!(difference < 1e-9, "steady states differ by {difference:e}");
    let profile = implicit.state().iter().map(|u| u[0]);
    assert!(
        profile.clone().fold(1.0, f64::min) > 0.9,
        "the channel fills with the inflow"
    );
}

#[test]
fn backward_euler_refuses_nonlinear_laws() {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [4, 4], CellKind::Tri3).unwrap();
    let fv = FvMesh::new(Arc::new(mesh)).unwrap();
    let mut model = FiniteVolume::new(
        fv,
        Burgers {
            direction: [1.0, 0.0, 0.0],
        },
    );
    model.integrator = FvIntegrator::BackwardEuler;
    model.set_initial(|x| [x[0]]);
    let e = model.run_until(0.1).unwrap_err().to_string();
    assert!(
        e.contains("backward Euler needs a law linear in the state; burgers is not"),
        "{e}"
    );
}

/// A shear layer at rest in shallow water (depth 1, tangential velocity ±1
/// across x = 0.5, periodic in y) is a stationary contact wave: HLLC keeps it
/// exactly, HLL smears it.
#[test]
fn hllc_keeps_a_stationary_shear_layer_that_hll_smears() {
    let smear = |flux: NumericalFlux| {
        let mesh = generate::rectangle([0.0, 0.0], [1.0, 0.2], [40, 8], CellKind::Quad4).unwrap();
        let mut fv = FvMesh::new(Arc::new(mesh)).unwrap();
        fv.make_periodic("bottom", "top").unwrap();
        let mut model = FiniteVolume::new(fv, ShallowWater { g: 9.81 });
        model.flux = flux;
        let shear = |x: [f64; 3]| [1.0, 0.0, if x[0] < 0.5 { 1.0 } else { -1.0 }];
        model.set_initial(shear);
        model.run_until(0.2).unwrap();
        let m = &model.mesh;
        (0..m.num_cells())
            .map(|c| {
                let d: [f64; 3] =
                    std::array::from_fn(|k| model.state()[c][k] - shear(m.centroid[c])[k]);
                d.iter().map(|v| v.abs()).fold(0.0, f64::max)
            })
            .fold(0.0, f64::max)
    };
    let (hllc, hll) = (smear(NumericalFlux::Hllc), smear(NumericalFlux::Hll));
    eprintln!("shear layer max change: HLLC {hllc:.2e}, HLL {hll:.3}");
    assert!(hllc < 1e-12, "HLLC moved the shear layer by {hllc:e}");
    assert!(hll > 0.1, "HLL smears it ({hll})");
}

/// The divergence-free field (1 + x², -2xy) sampled at face centroids
/// balances in each cell only approximately (the midpoint rule is not exact
/// for it); projected, every cell's net outflow is
/// zero to round-off, the field moves little, and a step carried by it
/// stays within [0, 1].
#[test]
fn projected_face_velocities_balance_in_every_cell() {
    let fv = FvMesh::new(Arc::new(irregular([0.0, 0.0], [1.0, 1.0], [24, 24]))).unwrap();
    let mut law = LinearAdvection::new(&fv, |x| [1.0 + x[0] * x[0], -2.0 * x[0] * x[1], 0.0]);
    let net = |un: &[f64]| {
        let mut net = vec![0.0; fv.num_cells()];
        for (face, u) in fv.faces.iter().zip(un) {
            net[face.owner] += u * face.area;
            if let Some(q) = face.neighbour {
                net[q] -= u * face.area;
            }
        }
        net.iter().map(|v| v.abs()).fold(0.0, f64::max)
    };
    let groups: Vec<String> = fv.group_names.clone();
    let role = |face: &pde_engine::fvm::geometry::Face| match face.group.map(|g| groups[g].as_str())
    {
        Some("left") => FaceRole::Fixed,
        Some("right" | "top") => FaceRole::Free,
        _ => FaceRole::Closed,
    };
    let sampled = law.face_velocity.clone();
    let before = net(&sampled);
    FluxProjection::new(&fv, role)
        .project(&fv, &mut law.face_velocity)
        .unwrap();
    let after = net(&law.face_velocity);
    let change = sampled
        .iter()
        .zip(&law.face_velocity)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    eprintln!("largest net cell outflow: sampled {before:.2e}, projected {after:.2e}; largest change {change:.2e}");
    assert!(
        after < 1e-14 && before > 1e3 * after,
        "{before:e} -> {after:e}"
    );
    assert!(change < 0.05, "the projection moved the field by {change}");

    let mut model = FiniteVolume::new(fv.clone(), law);
    let one: Arc<dyn Fn([f64; 3], f64) -> [f64; 1] + Send + Sync> = Arc::new(|_, _| [1.0]);
    model.set_boundary("left", FvBoundary::Inflow(one)).unwrap();
    model.set_boundary("right", FvBoundary::Outflow).unwrap();
    model.set_boundary("top", FvBoundary::Outflow).unwrap();
    model.set_initial(|x| [if x[1] > 0.5 { 1.0 } else { 0.0 }]);
    model.run_until(0.5).unwrap();
    let (lo, hi) = model
        .state()
        .iter()
        .fold((1.0f64, 0.0f64), |(a, b), u| (a.min(u[0]), b.max(u[0])));
    assert!(lo >= -1e-12 && hi <= 1.0 + 1e-12, "[{lo}, {hi}]");
}
