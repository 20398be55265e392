//! Mesh movers: the Monge–Ampère mover equidistributes a ring-shaped
//! monitor (the coefficient of variation of `m |K|` over the cells drops
//! at least 10×, no cell inverts), keeps the domain (boundary nodes slide
//! along their sides, corners stay), leaves a mesh alone under a constant
//! monitor, and refuses meshes it cannot move.

use pde_engine::movers::monge_ampere::{
    equidistribute, equidistribution_variation, MongeAmpereSettings,
};
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
