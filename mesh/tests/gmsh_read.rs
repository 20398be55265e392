//! Reading gmsh files: every format variant gmsh writes gives the same mesh,
//! round trips through our writer in all formats and byte orders, sparse
//! node numbering, and geometry checks (areas, volumes, group sizes).

use std::path::{Path, PathBuf};

use pde_mesh::io::gmsh::{self, Endian, MshFormat, MshVersion};
use pde_mesh::{generate, quality, CellKind, Mesh};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn all_formats() -> Vec<MshFormat> {
    let mut v = Vec::new();
    for version in [MshVersion::V2, MshVersion::V4] {
        for binary in [None, Some(Endian::Little), Some(Endian::Big)] {
            v.push(MshFormat { version, binary });
        }
    }
    v
}

/// Same cells and groups, and points equal up to the last digit gmsh's text
/// output keeps (16 significant digits).
fn assert_same_mesh(a: &Mesh, b: &Mesh, label: &str) {
    assert_eq!(a.blocks, b.blocks, "{label}: cells differ");
    assert_eq!(a.groups, b.groups, "{label}: groups differ");
    assert_eq!(
        a.points.len(),
        b.points.len(),
        "{label}: point counts differ"
    );
    for (p, q) in a.points.iter().zip(&b.points) {
        for i in 0..3 {
            assert!(
                (p[i] - q[i]).abs() <= 1e-15 * p[i].abs().max(1.0),
                "{label}: {p:?} vs {q:?}"
            );
        }
    }
}

/// Every boundary facet of the domain has a lower-dimensional cell on it
/// that belongs to a physical group.
fn assert_boundary_fully_tagged(mesh: &Mesh) {
    let topo = mesh.topology().unwrap();
    let tagged = mesh.tagged_facets().unwrap();
    assert_eq!(
        topo.boundary_facets().filter(|&f| !tagged[f]).count(),
        0,
        "boundary facets without a group"
    );
    assert!(topo.boundary_facets().count() > 0);
}

#[test]
fn square_is_the_same_in_every_format_gmsh_writes() {
    let files = [
        ("square_v41_ascii.msh", "MSH 4.1 ASCII"),
        ("square_v41_binary.msh", "MSH 4.1 binary (little-endian)"),
        ("square_v22_ascii.msh", "MSH 2.2 ASCII"),
        ("square_v22_binary.msh", "MSH 2.2 binary (little-endian)"),
    ];
    let (reference, _) = gmsh::read_with_format(data(files[0].0)).unwrap();
    for (file, format) in files {
        let (mesh, f) = gmsh::read_with_format(data(file)).unwrap();
        assert_eq!(f.to_string(), format);
        assert_same_mesh(&mesh, &reference, file);
    }
    let m = &reference;
    assert_eq!(m.dim(), 2);
    let q = quality::summary(m);
    assert!(
        (q.total_measure - 1.0).abs() < 1e-12,
        "area {}",
        q.total_measure
    );
    assert_eq!(q.inverted, 0);
    // Mesh size 0.25: five nodes along each side.
    for side in ["left", "right", "top", "bottom"] {
        let nodes = m.group_nodes(side).unwrap();
        assert_eq!(nodes.len(), 5, "{side}");
    }
    for &n in &m.group_nodes("left").unwrap() {
        assert!(m.points[n][0].abs() < 1e-14);
    }
    let corner = m.group_nodes("corner").unwrap();
    assert_eq!(corner.len(), 1);
    assert_eq!(m.points[corner[0]], [0.0, 0.0, 0.0]);
    assert_eq!(m.group("domain").unwrap().dim, 2);
    assert_boundary_fully_tagged(m);
}

#[test]
fn quadratic_and_quad_cells() {
    let tri6 = gmsh::read(data("square_tri6_v41.msh")).unwrap();
    assert!(tri6.block(CellKind::Tri6).is_some() && tri6.block(CellKind::Line3).is_some());
    assert!((quality::summary(&tri6).total_measure - 1.0).abs() < 1e-12);
    // Mid-edge nodes lie halfway between the corners on a straight square.
    let b = tri6.block(CellKind::Tri6).unwrap();
    for c in b.cells() {
        for (k, (a, bb)) in [(0, 1), (1, 2), (2, 0)].into_iter().enumerate() {
            let mid = tri6.points[c[3 + k]];
            let (pa, pb) = (tri6.points[c[a]], tri6.points[c[bb]]);
            for i in 0..3 {
                assert!((mid[i] - 0.5 * (pa[i] + pb[i])).abs() < 1e-12);
            }
        }
    }
    assert_boundary_fully_tagged(&tri6);

    let quad9 = gmsh::read(data("square_quad9_v22.msh")).unwrap();
    let q = quad9.block(CellKind::Quad9).expect("quad9 cells");
    assert_eq!(q.len(), 16);
    assert!((quality::summary(&quad9).total_measure - 1.0).abs() < 1e-12);
    assert_boundary_fully_tagged(&quad9);
}

#[test]
fn cubes_tet10_and_hex() {
    let tet = gmsh::read(data("cube_tet10_v41_binary.msh")).unwrap();
    assert_eq!(tet.dim(), 3);
    assert!(tet.block(CellKind::Tet10).is_some() && tet.block(CellKind::Tri6).is_some());
    let q = quality::summary(&tet);
    assert!(
        (q.total_measure - 1.0).abs() < 1e-12,
        "volume {}",
        q.total_measure
    );
    assert_eq!(q.inverted, 0);
    assert_eq!(tet.group("walls").unwrap().entities.len(), 4);
    assert_boundary_fully_tagged(&tet);

    let hex = gmsh::read(data("cube_hex_v22_binary.msh")).unwrap();
    assert_eq!(hex.block(CellKind::Hex8).unwrap().len(), 27);
    let q = quality::summary(&hex);
    assert!((q.total_measure - 1.0).abs() < 1e-12);
    assert!((q.min_angle - 90.0).abs() < 1e-9);
    assert_boundary_fully_tagged(&hex);

    let tet4 = gmsh::read(data("cube_tet4_v41_ascii.msh")).unwrap();
    assert!((quality::summary(&tet4).total_measure - 1.0).abs() < 1e-12);
}

#[test]
fn round_trip_in_every_format_and_byte_order() {
    let meshes = [
        gmsh::read(data("square_v41_ascii.msh")).unwrap(),
        gmsh::read(data("cube_tet10_v41_binary.msh")).unwrap(),
        generate::cuboid([0.0; 3], [1.0, 2.0, 3.0], [2, 3, 1], CellKind::Hex8).unwrap(),
        generate::rectangle([-1.0, 0.5], [1.0, 0.75], [3, 2], CellKind::Quad4).unwrap(),
    ];
    for mesh in &meshes {
        for format in all_formats() {
            let mut bytes = Vec::new();
            gmsh::write_to(&mut bytes, mesh, format).unwrap();
            let (back, f) = gmsh::parse(&bytes[..], Path::new("memory.msh")).unwrap();
            assert_eq!(f, format);
            assert_eq!(&back, mesh, "round trip through {format}");
        }
    }
}

#[test]
fn big_endian_files_read_like_little_endian_ones() {
    let mesh = gmsh::read(data("square_v22_binary.msh")).unwrap();
    for version in [MshVersion::V2, MshVersion::V4] {
        let mut le = Vec::new();
        let mut be = Vec::new();
        gmsh::write_to(
            &mut le,
            &mesh,
            MshFormat {
                version,
                binary: Some(Endian::Little),
            },
        )
        .unwrap();
        gmsh::write_to(
            &mut be,
            &mesh,
            MshFormat {
                version,
                binary: Some(Endian::Big),
            },
        )
        .unwrap();
        assert_ne!(le, be);
        let a = gmsh::parse(&le[..], Path::new("le.msh")).unwrap().0;
        let b = gmsh::parse(&be[..], Path::new("be.msh")).unwrap().0;
        assert_eq!(a, b);
    }
}

#[test]
fn sparse_node_tags_and_unnamed_groups() {
    let text = "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$Nodes\n4\n\
                1000000 0 0 0\n7 1 0 0\n99999999 1 1 0\n3 0 1 0\n$EndNodes\n\
                $Elements\n3\n10 2 2 8 1 1000000 7 99999999\n11 2 2 8 1 1000000 99999999 3\n\
                12 1 2 9 2 3 1000000\n$EndElements\n";
    let (mesh, _) = gmsh::parse(text.as_bytes(), Path::new("sparse.msh")).unwrap();
    let tri = mesh.block(CellKind::Tri3).unwrap();
    assert_eq!(tri.nodes, vec![0, 1, 2, 0, 2, 3]);
    // Groups without $PhysicalNames are called by their tag.
    assert_eq!(mesh.group_nodes("9").unwrap(), vec![0, 3]);
    assert_eq!(mesh.group("8").unwrap().dim, 2);
    assert!((quality::summary(&mesh).total_measure - 1.0).abs() < 1e-15);
}

#[test]
fn entity_in_two_physical_groups() {
    // MSH 4.1: curve 1 belongs to physical groups "wall" and "all".
    let text = "$MeshFormat\n4.1 0 8\n$EndMeshFormat\n$PhysicalNames\n2\n1 1 \"wall\"\n1 2 \"all\"\n$EndPhysicalNames\n\
                $Entities\n0 1 0 0\n1 0 0 0 1 0 0 2 1 2 0\n$EndEntities\n\
                $Nodes\n1 2 1 2\n1 1 0 2\n1\n2\n0 0 0\n1 0 0\n$EndNodes\n\
                $Elements\n1 1 1 1\n1 1 1 1\n5 1 2\n$EndElements\n";
    let (mesh, _) = gmsh::parse(text.as_bytes(), Path::new("two.msh")).unwrap();
    assert_eq!(mesh.group_nodes("wall").unwrap(), vec![0, 1]);
    assert_eq!(mesh.group_nodes("all").unwrap(), vec![0, 1]);
}

#[test]
fn unknown_group_lists_the_available_ones() {
    let mesh = gmsh::read(data("square_v41_ascii.msh")).unwrap();
    let err = mesh.group_nodes("inlet").unwrap_err().to_string();
    assert!(err.contains("no physical group named 'inlet'"), "{err}");
    assert!(
        err.contains("left (dim 1)") && err.contains("domain (dim 2)"),
        "{err}"
    );
}

#[test]
fn dfg_meshes_have_the_benchmark_geometry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../meshes");
    let mut previous = 0;
    for level in 1..=3 {
        let mesh = gmsh::read(root.join(format!("dfg_cylinder_l{level}.msh"))).unwrap();
        let q = quality::summary(&mesh);
        assert_eq!(q.inverted, 0);
        // Channel minus the disc; quadratic cells follow the circle, so the
        // area is close to exact (straight edges would miss ~1e-5 at level 1).
        let exact = 2.2 * 0.41 - std::f64::consts::PI * 0.05f64.powi(2);
        let curved_area: f64 = curved_tri6_area(&mesh);
        assert!(
            (curved_area - exact).abs() < 1e-7,
            "level {level}: area {curved_area} vs {exact}"
        );
        for n in mesh.group_nodes("cylinder").unwrap() {
            let p = mesh.points[n];
            let r = ((p[0] - 0.2).powi(2) + (p[1] - 0.2).powi(2)).sqrt();
            assert!((r - 0.05).abs() < 1e-9, "cylinder node at radius {r}");
        }
        for (name, x) in [("inlet", 0.0), ("outlet", 2.2)] {
            for n in mesh.group_nodes(name).unwrap() {
                assert!((mesh.points[n][0] - x).abs() < 1e-12);
            }
        }
        assert!(
            mesh.num_points() > 3 * previous,
            "level {level} refines level {}",
            level - 1
        );
        previous = mesh.num_points();
        assert_boundary_fully_tagged(&mesh);
    }
}

/// Area of a mesh of quadratic triangles with the isoparametric map
/// (3-point rule on each cell, exact for quadratic geometry's Jacobian).
fn curved_tri6_area(mesh: &Mesh) -> f64 {
    let b = mesh.block(CellKind::Tri6).expect("tri6 cells");
    // Gradients of the six P2 shape functions at (s, t).
    let grads = |s: f64, t: f64| -> [[f64; 2]; 6] {
        let l = 1.0 - s - t;
        [
            [-(4.0 * l - 1.0), -(4.0 * l - 1.0)],
            [4.0 * s - 1.0, 0.0],
            [0.0, 4.0 * t - 1.0],
            [4.0 * (l - s), -4.0 * s],
            [4.0 * t, 4.0 * s],
            [-4.0 * t, 4.0 * (l - t)],
        ]
    };
    let qp = [
        (1.0 / 6.0, 1.0 / 6.0),
        (2.0 / 3.0, 1.0 / 6.0),
        (1.0 / 6.0, 2.0 / 3.0),
    ];
    b.cells()
        .map(|c| {
            qp.iter()
                .map(|&(s, t)| {
                    let g = grads(s, t);
                    let mut j = [[0.0; 2]; 2];
                    for (k, gk) in g.iter().enumerate() {
                        let p = mesh.points[c[k]];
                        for a in 0..2 {
                            for d in 0..2 {
                                j[a][d] += p[a] * gk[d];
                            }
                        }
                    }
                    (j[0][0] * j[1][1] - j[0][1] * j[1][0]) / 6.0
                })
                .sum::<f64>()
        })
        .sum()
}
