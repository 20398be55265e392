//! Meshing `.geo` files through the gmsh SDK (feature `gmsh`).
#![cfg(feature = "gmsh")]

use std::path::Path;

use pde_mesh::io::gmsh::sdk::{mesh_geo, GeoOptions};
use pde_mesh::{quality, CellKind};

fn geo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../meshes/dfg_cylinder.geo")
}

#[test]
fn dfg_geometry_through_the_sdk() {
    let coarse = mesh_geo(geo(), &GeoOptions::default()).unwrap();
    assert!(coarse.block(CellKind::Tri3).is_some());
    for g in ["inlet", "outlet", "walls", "cylinder", "fluid"] {
        coarse.group(g).unwrap();
    }
    let area = 2.2 * 0.41 - std::f64::consts::PI * 0.0025;
    let q = quality::summary(&coarse);
    assert_eq!(q.inverted, 0);
    assert!((q.total_measure - area).abs() < 1e-4, "{}", q.total_measure);

    // The level parameter of the .geo and the size factor both refine.
    let level2 = GeoOptions {
        parameters: vec![("Parameters/level".into(), 2.0)],
        ..GeoOptions::default()
    };
    let fine = mesh_geo(geo(), &level2).unwrap();
    assert!(fine.num_points() > 3 * coarse.num_points());
    let halved = GeoOptions {
        size_factor: 0.5,
        order: 2,
        ..GeoOptions::default()
    };
    let curved = mesh_geo(geo(), &halved).unwrap();
    assert!(curved.block(CellKind::Tri6).is_some());
    assert!(curved.num_points() > 3 * coarse.num_points());
}

#[test]
fn broken_geo_reports_gmsh_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.geo");
    std::fs::write(&bad, "Point(1) = {0, 0, 0;\n").unwrap();
    let err = mesh_geo(&bad, &GeoOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.geo"), "{err}");
    let missing = mesh_geo(dir.path().join("none.geo"), &GeoOptions::default())
        .unwrap_err()
        .to_string();
    assert!(missing.contains("none.geo"), "{missing}");
}
