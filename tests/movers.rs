//! Mesh movers: the Monge–Ampère mover equidistributes a ring-shaped
//! monitor (the coefficient of variation of `m |K|` over the cells drops
//! at least 10×, no cell inverts), keeps the domain (boundary nodes slide
//! along their sides, corners stay), leaves a mesh alone under a constant
//! monitor, and refuses meshes it cannot move; on the steep layer
//! `tanh((r − 0.3)/0.01)` its mesh lowers the P1 error ≥ 5× against the
//! uniform mesh with the same nodes. In the time loop (`mesh_mover:`) the
//! moving mesh follows a travelling front with ≥ 5× less error than the
//! fixed twin (ALE), finite volumes stay conservative and bounded through
//! the remap (a Burgers shock: ≥ 3× less error), and `check` refuses
//! movers that cannot run.

use std::sync::Arc;

use pde_engine::case::Case;
use pde_engine::driver::{MeshMotion, Motion, MotionSpec, TimeLoop};
use pde_engine::fem::FunctionSpace;
use pde_engine::fvm::geometry::FvMesh;
use pde_engine::fvm::law::Burgers;
use pde_engine::fvm::solver::{FiniteVolume, FvBoundary};
use pde_engine::movers::monge_ampere::{
    equidistribute, equidistribution_variation, MongeAmpere, MongeAmpereSettings,
};
use pde_engine::movers::monitor::MonitorSpec;
use pde_engine::movers::moving_front::MovingFront;
use pde_engine::movers::registry::Options;
use pde_engine::movers::spring::{Spring, SpringSettings};
use pde_engine::movers::steep_layer::SteepLayer;
use pde_engine::movers::MeshMover;
use pde_engine::runner::{run_case, RunOptions};
use pde_mesh::{generate, CellKind};

/// `1 + a / cosh²(b (|x − c|² − r²))`: large on a ring of radius `r`.
fn ring(a: f64, b: f64, r: f64) -> impl Fn([f64; 3]) -> f64 {
    move |x| {
        let s = (x[0] - 0.5).powi(2) + (x[1] - 0.5).powi(2) - r * r;
        1.0 + a / (b * s).cosh().powi(2)
    }
}

#[test]
fn monge_ampere_equidistributes_a_ring() {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [48, 48], CellKind::Tri3).unwrap();
    let monitor = ring(5.0, 20.0, 0.3);
    let before = equidistribution_variation(&mesh, &mesh.points, &monitor).unwrap();
    let moved = equidistribute(&mesh, &monitor, &MongeAmpereSettings::default()).unwrap();
    let after = equidistribution_variation(&mesh, &moved.points, &monitor).unwrap();
    eprintln!(
        "coefficient of variation {before:.4} -> {after:.4} in {} iterations",
        moved.iterations
    );
    assert!(after * 10.0 < before, "{before} -> {after}");
    let mut moved_mesh = mesh.clone();
    moved_mesh.points = moved.points.clone();
    assert_eq!(pde_mesh::quality::summary(&moved_mesh).inverted, 0);
    // The domain keeps its shape: boundary nodes stay on their sides,
    // corners where they were.
    for (p, q) in mesh.points.iter().zip(&moved.points) {
        for d in 0..2 {
            if p[d] == 0.0 || p[d] == 1.0 {
                assert_eq!(q[d], p[d], "{p:?} -> {q:?}");
            }
        }
        assert!((0.0..=1.0).contains(&q[0]) && (0.0..=1.0).contains(&q[1]));
    }
    let residual = moved.residuals.last().unwrap();
    assert!(
        *residual < 1e-6 && moved.residuals[0] > 0.1,
        "{:?}",
        moved.residuals.first()
    );
}

/// The unit disk, meshed by rings: ring `k` (of `n`) has `6k` nodes at
/// radius `k/n`, and neighbouring rings are joined by triangles in angular
/// order; its boundary nodes lie on the circle, where the boundary turns by
/// 360°/6n at each.
fn disk(n: usize) -> pde_mesh::Mesh {
    use std::f64::consts::TAU;
    let mut points = vec![[0.0; 3]];
    let mut first = vec![0];
    for k in 1..=n {
        first.push(points.len());
        let m = 6 * k;
        let r = k as f64 / n as f64;
        points.extend((0..m).map(|j| {
            let a = TAU * j as f64 / m as f64;
            [r * a.cos(), r * a.sin(), 0.0]
        }));
    }
    let mut block = pde_mesh::CellBlock::new(CellKind::Tri3);
    let mut push = |tri: [usize; 3]| {
        block.nodes.extend(tri);
        block.entity.push(0);
    };
    (0..6).for_each(|j| push([0, 1 + j, 1 + (j + 1) % 6]));
    for k in 2..=n {
        // The inner and the outer ring, walked together by angle.
        let (inner, a, outer, b) = (first[k - 1], 6 * (k - 1), first[k], 6 * k);
        let (mut i, mut j) = (0, 0);
        while i < a || j < b {
            let (p, q) = (inner + i % a, outer + j % b);
            let outer_first = i == a || (j < b && (j + 1) * a <= (i + 1) * b);
            if outer_first {
                j += 1;
                push([p, q, outer + j % b]);
            } else {
                i += 1;
                push([p, q, inner + i % a]);
            }
        }
    }
    pde_mesh::Mesh::new(points, vec![block], Vec::new())
}

/// The distance of `p` from the boundary polygon of the disk mesh
/// (its boundary nodes `ring`, in angular order).
fn off_polygon(p: [f64; 3], ring: &[[f64; 3]]) -> f64 {
    (0..ring.len())
        .map(|k| {
            let (a, b) = (ring[k], ring[(k + 1) % ring.len()]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let s =
                (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
            (a[0] + s * dx - p[0]).hypot(a[1] + s * dy - p[1])
        })
        .fold(f64::INFINITY, f64::min)
}

/// On a curved boundary the nodes slide along it: Monge–Ampère and the
/// springs gather boundary nodes towards a bump of the monitor on the
/// circle, every boundary node stays on the mesh's boundary polygon (to
/// round-off), and no cell inverts. (With curved boundaries' nodes fixed,
/// as before, none of them moved; moved along the tangent only, they
/// would leave the circle.)
#[test]
fn boundary_nodes_slide_along_a_curved_boundary() {
    let mesh = disk(12);
    let boundary: Vec<usize> = (0..mesh.num_points())
        .filter(|&i| {
            let p = mesh.points[i];
            (p[0].hypot(p[1]) - 1.0).abs() < 1e-12
        })
        .collect();
    let mut ring: Vec<[f64; 3]> = boundary.iter().map(|&i| mesh.points[i]).collect();
    ring.sort_by(|a, b| a[1].atan2(a[0]).total_cmp(&b[1].atan2(b[0])));
    let spacing = 2.0 * std::f64::consts::PI / ring.len() as f64;
    let bump = |x: [f64; 3]| 1.0 + 8.0 * (-((x[0] - 1.0).powi(2) + x[1].powi(2)) / 0.05).exp();
    let relaxed = equidistribute(&mesh, &bump, &MongeAmpereSettings::default()).unwrap();
    let springs = Spring::new(&mesh, SpringSettings::default())
        .unwrap()
        .new_points(&mesh.points, &bump)
        .unwrap();
    for (name, points) in [("monge_ampere", relaxed.points), ("spring", springs)] {
        let slid = boundary
            .iter()
            .map(|&i| {
                let (p, q) = (mesh.points[i], points[i]);
                (q[0] - p[0]).hypot(q[1] - p[1])
            })
            .fold(0.0, f64::max);
        let off = boundary
            .iter()
            .map(|&i| off_polygon(points[i], &ring))
            .fold(0.0, f64::max);
        let mut moved = mesh.clone();
        moved.points = points;
        let inverted = pde_mesh::quality::summary(&moved).inverted;
        eprintln!(
            "{name}: boundary nodes slid up to {:.2} spacings, {off:e} off the boundary, \
             {inverted} inverted",
            slid / spacing
        );
        assert!(slid > 0.3 * spacing, "{name}: slid {slid}");
        assert!(off < 1e-12, "{name}: {off}");
        assert_eq!(inverted, 0, "{name}");
    }
}

/// A state follows a moved mesh by interpolation; a boundary node that
/// slid along a curved boundary lies a sliver outside the last mesh's
/// chords and takes the value extrapolated from its cell within the
/// cell's values (a linear field's value or the cell's extreme one next to
/// it; a spike's height, not more), while a node a cell outside is refused
/// with its name; single values (monitors) alike.
#[test]
fn interpolation_onto_a_moved_mesh_extrapolates_only_a_sliver() {
    let mesh = disk(6);
    let from = FunctionSpace::new(Arc::new(mesh.clone()), 1).unwrap();
    let linear = |x: [f64; 3]| 2.0 * x[0] + 3.0 * x[1] + 1.0;
    let u = from.interpolate(linear);
    // The outer ring's first node is on the circle at angle 0; the cells
    // there are 1/6 deep.
    let node = mesh.num_points() - 36;
    assert_eq!(mesh.points[node], [1.0, 0.0, 0.0]);
    let moved_by = |outwards: f64| {
        let mut moved = mesh.clone();
        moved.points[node][0] += outwards;
        FunctionSpace::new(Arc::new(moved), 1).unwrap()
    };
    let sliver = moved_by(1e-3);
    let values = sliver.interpolate_from(&from, &u).unwrap();
    let p = [1.0 + 1e-3, 0.0, 0.0];
    let d = sliver.dof_points().iter().position(|q| *q == p).unwrap();
    // Extrapolated within the cell's values: the linear field's value
    // there, or the cell's extreme value, |∇u| · 1e-3 from it at most.
    let within = 13f64.sqrt() * 1e-3 + 1e-12;
    assert!(
        (values[d] - linear(p)).abs() <= within,
        "{} at {p:?}",
        values[d]
    );
    // So does a single value (how movers evaluate their monitors).
    let at = from.value_at(&u, p, 0.25).unwrap();
    assert_eq!(at, values[d]);
    assert_eq!(from.value_at(&u, [1.2, 0.0, 0.0], 0.25), None);
    // A spike of 1 at the node: linear extrapolation past it gives more
    // than 1 (a new maximum), bounded extrapolation gives 1.
    let mut spike = vec![0.0; u.len()];
    spike[from.vertex_dof(node).unwrap()] = 1.0;
    let at = from.value_at(&spike, p, 0.25).unwrap();
    assert_eq!(at, 1.0);
    let err = moved_by(0.2).interpolate_from(&from, &u).unwrap_err();
    assert!(
        err.to_string()
            .contains("lies outside the mesh it is interpolated from"),
        "{err}"
    );
}

#[test]
fn a_constant_monitor_moves_nothing() {
    let mesh = generate::rectangle([0.0, 0.0], [2.0, 1.0], [8, 4], CellKind::Tri3).unwrap();
    let moved = equidistribute(&mesh, &|_| 3.0, &MongeAmpereSettings::default()).unwrap();
    assert_eq!(moved.iterations, 0);
    assert_eq!(moved.points, mesh.points);
}

#[test]
fn meshes_it_cannot_move_are_refused() {
    let quads = generate::rectangle([0.0, 0.0], [1.0, 1.0], [4, 4], CellKind::Quad4).unwrap();
    let err = equidistribute(&quads, &|_| 1.0, &MongeAmpereSettings::default()).unwrap_err();
    assert!(err.to_string().contains("triangles"), "{err}");
    // A monitor too steep for the relaxation's pseudo-time step diverges
    // or inverts a cell: an error, never a tangled mesh.
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [8, 8], CellKind::Tri3).unwrap();
    let settings = MongeAmpereSettings {
        pseudo_timestep: 50.0,
        ..MongeAmpereSettings::default()
    };
    let err = equidistribute(&mesh, &ring(100.0, 200.0, 0.3), &settings).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("inverted") || text.contains("diverged"),
        "{text}"
    );
}

#[test]
fn monge_ampere_resolves_a_steep_layer() {
    // A P1 solution of the layer `tanh((r − 0.3)/0.01)` on the uniform
    // 40x40 mesh against the same nodes moved as the time loop moves them:
    // solve, build the monitor from the discrete solution's recovered
    // gradient, move (warm-started), solve again; the spring baseline
    // alongside.
    let uniform = generate::rectangle([0.0, 0.0], [1.0, 1.0], [40, 40], CellKind::Tri3).unwrap();
    let monitor = MonitorSpec::of("u");
    let settings = MongeAmpereSettings {
        rtol: 1e-4,
        ..MongeAmpereSettings::default()
    };
    let layer = SteepLayer::default();
    let mut mover = MongeAmpere::new(&uniform, settings).unwrap();
    let ma = layer.adapt(&uniform, &mut mover, &monitor, 3).unwrap();
    let mut spring = Spring::new(&uniform, SpringSettings::default()).unwrap();
    let springs = layer.adapt(&uniform, &mut spring, &monitor, 3).unwrap();
    eprintln!(
        "L2 errors, uniform then moved: Monge–Ampère {:?}, springs {:?}",
        ma.errors, springs.errors
    );
    assert_eq!(ma.inverted, 0);
    // Measured: 0.0775 on the uniform mesh, then 0.0102, 0.0096, 0.0093
    // (8.3x); the issue asks for 3x.
    assert!(5.0 * ma.errors[3] < ma.errors[0], "{:?}", ma.errors);
}

/// The time loop's Monge–Ampère mover of `mesh` for `monitor`, springs as
/// its fallback, a move before every step.
fn monge_ampere_every_step(mesh: &pde_mesh::Mesh, monitor: &MonitorSpec) -> Motion {
    Motion::new(
        &MotionSpec {
            kind: "monge_ampere",
            options: &Options::new(),
            fallback: Some("spring"),
            monitor,
            every: 1,
        },
        mesh,
    )
    .unwrap()
}

#[test]
fn a_moving_mesh_follows_a_front_in_the_time_loop() {
    let front = MovingFront::default();
    let mesh = MovingFront::mesh(32, 8).unwrap();
    let fixed = front.run(mesh.clone(), 0.005, None, 0).unwrap();
    let mut motion = monge_ampere_every_step(&mesh, &MonitorSpec::of("u"));
    let moved = front
        .run(mesh.clone(), 0.005, Some(&mut motion), 3)
        .unwrap();
    let summary = motion.summary();
    let (fixed, moved_error) = (fixed.error, moved.error);
    eprintln!(
        "L2 error at t = {}: fixed {fixed:.3e}, moved {moved_error:.3e}; {summary}",
        front.end
    );
    // Every step moved the mesh, and the last mesh is not the first.
    assert_eq!(summary["moves"], 83, "{summary}");
    assert_eq!(summary["moves_skipped"], 0, "{summary}");
    assert_ne!(moved.mesh.points, mesh.points);
    assert_eq!(pde_mesh::quality::summary(&moved.mesh).inverted, 0);
    // Measured: fixed 5.6e-2, moved 5.1e-3 (11x).
    assert!(
        5.0 * moved_error < fixed,
        "fixed {fixed:e}, moved {moved_error:e}"
    );
}

/// The rotating-hill case (finite volumes), coarser and shorter, as text.
fn rotating_hill(extra: &str) -> String {
    format!(
        "mesh:\n  generate: {{shape: rectangle, min: [0, 0], max: [1, 1], cells: [16, 16], kind: tri3}}\n\
         physics:\n  transport:\n    velocity: [\"2*pi*(0.5 - y)\", \"2*pi*(x - 0.5)\"]\n    \
         initial: exp(0 - ((x - 0.5)^2 + (y - 0.75)^2)/0.01)\n    \
         boundary: {{left: outflow, right: outflow, bottom: outflow, top: outflow}}\n\
         time: {{end: 0.25, dt: 0.01}}\n{extra}"
    )
}

const MOVER: &str =
    "mesh_mover:\n  kind: monge_ampere\n  monitor: {field: c}\n  fallback: spring\n";

#[test]
fn a_moving_finite_volume_run_conserves_and_stays_within_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hill.yaml");
    std::fs::write(&path, rotating_hill(MOVER)).unwrap();
    let run = |fixed_mesh: bool| {
        let options = RunOptions {
            output: Some(dir.path().join(if fixed_mesh { "fixed" } else { "moving" })),
            fixed_mesh,
            ..Default::default()
        };
        run_case(&path, &options).unwrap().summary
    };
    let moving = run(false);
    let fixed = run(true);
    eprintln!("moving: {moving}\nfixed: {fixed}");
    // Remaps conserve: what is held plus what left is what was there.
    assert!(
        moving["balance_error"].as_f64().unwrap().abs() < 1e-12,
        "{moving}"
    );
    let mover = &moving["mesh_mover"];
    assert!(mover["moves"].as_u64().unwrap() > 10, "{mover}");
    assert_eq!(mover["moves_skipped"], 0, "{mover}");
    // Each mover's own record: every move is proposed by the primary, the
    // fallback proposes what the guard refused of it.
    let count = |m: &serde_json::Value, key: &str| m[key].as_u64().unwrap();
    let per_mover = mover["per_mover"].as_array().unwrap();
    let (primary, fallback) = (&per_mover[0], &per_mover[1]);
    assert_eq!(
        (&primary["mover"], &primary["role"]),
        (&"monge_ampere".into(), &"primary".into())
    );
    assert_eq!(
        (&fallback["mover"], &fallback["role"]),
        (&"spring".into(), &"fallback".into())
    );
    assert_eq!(
        count(primary, "proposals"),
        count(mover, "moves"),
        "{mover}"
    );
    assert_eq!(
        count(fallback, "proposals"),
        count(primary, "proposals") - count(primary, "accepted"),
        "{mover}"
    );
    assert_eq!(
        count(fallback, "accepted"),
        count(mover, "mover_fallbacks"),
        "{mover}"
    );
    assert!(
        primary["seconds_per_proposal"].as_f64().unwrap() > 0.0,
        "{mover}"
    );
    assert!(fixed.get("mesh_mover").is_none());
    // Within the initial bounds [0, 1], and the peak better kept.
    let range = |s: &serde_json::Value| {
        let r = s["range"]["c"].as_array().unwrap().clone();
        (r[0].as_f64().unwrap(), r[1].as_f64().unwrap())
    };
    let (lo, hi) = range(&moving);
    assert!(lo >= -1e-14 && hi <= 1.0 + 1e-14, "[{lo}, {hi}]");
    assert!(hi > range(&fixed).1, "{hi} against {:?}", range(&fixed));
}

#[test]
fn check_refuses_movers_that_cannot_run() {
    let refused = |text: String, expect: &str| {
        let case = Case::parse(&text).unwrap();
        let mesh = case.mesh.load(std::path::Path::new(".")).unwrap();
        let err = case.check(&mesh).unwrap_err().to_string();
        assert!(err.contains(expect), "{err}\n(expected: {expect})");
    };
    refused(
        rotating_hill("mesh_mover: {kind: monge_ampere, monitor: {field: u}}\n"),
        "monitor.field: 'u' is not a field of the transport model (it has: c)",
    );
    refused(
        rotating_hill("mesh_mover: {kind: laplace, monitor: {field: c}}\n"),
        "kind: unknown mover 'laplace'; known: monge_ampere, spring",
    );
    refused(
        rotating_hill("mesh_mover: {kind: spring, sweep: 3, monitor: {field: c}}\n"),
        "unknown field `sweep`",
    );
    refused(
        rotating_hill("mesh_mover: {kind: spring, monitor: {field: c, alpha: -1}}\n"),
        "mesh_mover: monitor.alpha: -1 must be a finite number ≥ 0",
    );
    refused(
        rotating_hill("mesh_mover: {kind: spring, fallback: tps, monitor: {field: c}}\n"),
        "fallback: unknown mover 'tps'",
    );
    refused(
        rotating_hill(MOVER).replace("kind: tri3", "kind: quad4"),
        "this mover needs a 2D mesh of linear triangles",
    );
    refused(
        rotating_hill(MOVER).replace(
            "top: outflow}",
            "top: outflow}\n    periodic: [[left, right]]",
        ),
        "cannot move a mesh with periodic groups",
    );
    refused(
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n\
         physics:\n  poisson: {boundary: {left: {dirichlet: 0}}}\n"
            .to_string()
            + MOVER.replace("field: c", "field: u").as_str(),
        "the poisson model is steady",
    );
}

#[test]
fn the_learned_movers_decoder_reproduces_monge_ampere_from_its_laplacian() {
    // What the learned mover predicts, the nodal Laplacian s = Δφ of the
    // Monge–Ampère potential, gives back the Monge–Ampère mesh through one
    // Poisson solve: a network that predicted s exactly would be the
    // Monge–Ampère mover. The linearised guess (the first feature) does
    // not: the control.
    use pde_engine::movers::mover_graph::{MoverGraph, EDGE_FEATURES, NODE_FEATURES};
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [24, 24], CellKind::Tri3).unwrap();
    let monitor = ring(5.0, 20.0, 0.3);
    let mut ma = MongeAmpere::new(&mesh, MongeAmpereSettings::default()).unwrap();
    let moved = ma.relax(&monitor).unwrap();
    assert!(moved.converged);
    let s = ma.laplacian();
    let mut graph = MoverGraph::new(&mesh).unwrap();
    let points = graph.mesh_of(&s).unwrap();
    let distance = |a: &[[f64; 3]], b: &[[f64; 3]]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| (p[0] - q[0]).hypot(p[1] - q[1]))
            .fold(0.0, f64::max)
    };
    let error = distance(&points, &moved.points);
    assert!(error < 1e-10, "{error}");
    let features = graph.features(&monitor).unwrap();
    let n = mesh.num_points();
    assert_eq!(features.nodes.len(), n * NODE_FEATURES);
    assert_eq!(features.edges.len(), graph.senders.len() * EDGE_FEATURES);
    // The linearised equation's s₀ = θ₀/m − 1, one of the features.
    let s0 = features.linear_guess();
    assert_eq!(s0.len(), n);
    let guess = graph.mesh_of(&s0).unwrap();
    let off = distance(&guess, &moved.points);
    eprintln!("decoder: {error:.2e} from Monge–Ampère's mesh; the linear guess {off:.3e}");
    assert!(off > 1e-2, "{off}");
}

/// A Burgers shock from `u = 1` into `u = 0`, travelling at speed ½ from
/// x = 0.3 (the smoothed step steepens into it at once): the finite-volume
/// model on `mesh`.
fn burgers_shock(mesh: pde_mesh::Mesh) -> FiniteVolume<Burgers, 1> {
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
    model.set_initial(|x| [0.5 * (1.0 - ((x[0] - 0.3) / 0.02).tanh())]);
    model
}

/// Burgers follows a moving mesh: the shock (at `0.3 + t/2`, where the
/// total puts it) on a mesh that gathers its nodes there has a smaller L1
/// error than on the fixed mesh with the same nodes, the remaps keep the
/// total (with what crossed the boundary) to round-off, and the state
/// stays within its bounds [0, 1].
#[test]
fn a_moving_mesh_sharpens_a_burgers_shock() {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 0.25], [40, 10], CellKind::Tri3).unwrap();
    let end = 0.5;
    let exact = |x: [f64; 3]| if x[0] < 0.3 + 0.5 * end { 1.0 } else { 0.0 };
    let run = |mut motion: Option<&mut Motion>| {
        let mut model = burgers_shock(mesh.clone());
        if let Some(m) = motion.as_mut() {
            // A refused move is counted: `moves_skipped` is asserted 0.
            model = m
                .initial_moves(
                    model,
                    3,
                    |m| Some(m),
                    |moved| Ok(burgers_shock((*moved).clone())),
                )
                .unwrap();
        }
        let before = model.total()[0];
        let motion = motion.map(|m| m as &mut dyn MeshMotion<FiniteVolume<Burgers, 1>>);
        let s = TimeLoop::new(0.0, end, 0.01)
            .run(&mut model, motion, &mut [])
            .unwrap();
        let balance = model.total()[0] + model.boundary_outflow()[0] - before;
        let m = &model.mesh;
        let error: f64 = (0..m.num_cells())
            .map(|c| (model.state()[c][0] - exact(m.centroid[c])).abs() * m.volume[c])
            .sum();
        let values = model.state().iter().map(|u| u[0]);
        let range = (
            values.clone().fold(f64::INFINITY, f64::min),
            values.fold(f64::NEG_INFINITY, f64::max),
        );
        (error, balance, range, s.steps)
    };
    let fixed = run(None);
    // A strong monitor, little smoothed: the shock is a cell wide.
    let monitor = MonitorSpec {
        alpha: 50.0,
        smoothing: 2.0,
        ..MonitorSpec::of("u")
    };
    let mut motion = monge_ampere_every_step(&mesh, &monitor);
    let moved = run(Some(&mut motion));
    let summary = motion.summary();
    eprintln!("L1 error at t = {end}: fixed {fixed:?}, moved {moved:?}; {summary}");
    assert!(moved.1.abs() < 1e-12, "balance {:e}", moved.1);
    assert!(
        moved.2 .0 >= -1e-12 && moved.2 .1 <= 1.0 + 1e-12,
        "{:?}",
        moved.2
    );
    assert_eq!(summary["moves_skipped"], 0, "{summary}");
    // Measured: fixed 8.7e-4 in 160 steps, moved 1.5e-4 (5.6x) in 1127
    // (the small cells at the shock shorten the CFL step).
    assert!(
        3.0 * moved.0 < fixed.0,
        "fixed {:e}, moved {:e}",
        fixed.0,
        moved.0
    );
}
