//! Structured generators and topology: counts, orientation, conformity,
//! Euler characteristic, neighbours and the node graph.

use pde_mesh::{generate, quality, CellKind, Mesh};

fn check_topology(mesh: &Mesh) {
    let topo = mesh.topology().unwrap();
    // Facets: interior ones shared by two cells, each cell's list consistent.
    for c in 0..topo.num_cells {
        for &f in topo.cell_facets.row(c) {
            assert!(topo.facet_cells[f].contains(&c));
        }
        for &n in topo.cell_neighbours.row(c) {
            assert!(
                topo.cell_neighbours.row(n).contains(&c),
                "neighbours are symmetric"
            );
        }
    }
    // Node graph: symmetric, sorted, no self loops.
    let g = &topo.node_graph;
    for i in 0..g.rows() {
        let row = g.row(i);
        assert!(row.windows(2).all(|w| w[0] < w[1]) && !row.contains(&i));
        for &j in row {
            assert!(g.row(j).binary_search(&i).is_ok());
        }
    }
    // The boundary cells of the generator are exactly the boundary facets.
    let mut boundary_cells = 0;
    for (_, b) in mesh.blocks_of_dim(mesh.dim() - 1) {
        for cell in b.cells() {
            let f = topo.find_facet(cell).expect("boundary cell is a facet");
            assert!(topo.is_boundary_facet(f));
            boundary_cells += 1;
        }
    }
    assert_eq!(boundary_cells, topo.boundary_facets().count());
}

#[test]
fn rectangles() {
    for kind in [CellKind::Tri3, CellKind::Quad4] {
        let (nx, ny) = (7, 4);
        let m = generate::rectangle([1.0, -1.0], [3.0, 0.5], [nx, ny], kind).unwrap();
        let per = if kind == CellKind::Tri3 { 2 } else { 1 };
        assert_eq!(m.num_cells_of_dim(2), per * nx * ny);
        assert_eq!(m.num_points(), (nx + 1) * (ny + 1));
        let q = quality::summary(&m);
        assert!((q.total_measure - 3.0).abs() < 1e-12 && q.inverted == 0);
        assert_eq!(m.group_nodes("left").unwrap().len(), ny + 1);
        assert_eq!(m.group_nodes("top").unwrap().len(), nx + 1);
        for &n in &m.group_nodes("top").unwrap() {
            assert_eq!(m.points[n][1], 0.5);
        }
        let topo = m.topology().unwrap();
        // Euler for a disc: V - E + F = 1.
        assert_eq!(m.num_points() + topo.num_cells, topo.edges.len() + 1);
        assert_eq!(topo.boundary_facets().count(), 2 * (nx + ny));
        check_topology(&m);
    }
}

#[test]
fn boxes() {
    for kind in [CellKind::Tet4, CellKind::Hex8] {
        let n = [3, 2, 4];
        let m = generate::cuboid([0.0; 3], [1.0, 2.0, 0.5], n, kind).unwrap();
        let per = if kind == CellKind::Tet4 { 6 } else { 1 };
        assert_eq!(m.num_cells_of_dim(3), per * 24);
        let q = quality::summary(&m);
        assert!((q.total_measure - 1.0).abs() < 1e-12, "{}", q.total_measure);
        assert_eq!(q.inverted, 0);
        let topo = m.topology().unwrap();
        // Euler for a ball: V - E + F - C = 1.
        assert_eq!(
            m.num_points() + topo.num_facets(),
            topo.edges.len() + topo.num_cells + 1
        );
        let faces_per_side = if kind == CellKind::Tet4 { 2 } else { 1 };
        assert_eq!(
            topo.boundary_facets().count(),
            faces_per_side * 2 * (3 * 2 + 2 * 4 + 3 * 4)
        );
        for (name, axis, value) in [("left", 0, 0.0), ("back", 1, 2.0), ("top", 2, 0.5)] {
            for &v in &m.group_nodes(name).unwrap() {
                assert_eq!(m.points[v][axis], value, "{name}");
            }
        }
        check_topology(&m);
        // Boundary faces are oriented outwards: their normal points away from the box centre.
        let centre = [0.5, 1.0, 0.25];
        for (_, b) in m.blocks_of_dim(2) {
            for f in b.cells() {
                let p: Vec<[f64; 3]> = f.iter().map(|&i| m.points[i]).collect();
                let (u, v) = (sub(p[1], p[0]), sub(p[2], p[0]));
                let normal = [
                    u[1] * v[2] - u[2] * v[1],
                    u[2] * v[0] - u[0] * v[2],
                    u[0] * v[1] - u[1] * v[0],
                ];
                let out = sub(p[0], centre);
                assert!(normal.iter().zip(out).map(|(a, b)| a * b).sum::<f64>() > 0.0);
            }
        }
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

#[test]
fn bad_generator_arguments() {
    let e = generate::rectangle([0.0, 0.0], [1.0, 1.0], [0, 3], CellKind::Tri3).unwrap_err();
    assert!(e.to_string().contains("at least 1"), "{e}");
    let e = generate::rectangle([1.0, 0.0], [0.0, 1.0], [2, 2], CellKind::Tri3).unwrap_err();
    assert!(e.to_string().contains("below the upper"), "{e}");
    let e = generate::cuboid([0.0; 3], [1.0; 3], [1, 1, 1], CellKind::Tri3).unwrap_err();
    assert!(e.to_string().contains("tet4 or hex8"), "{e}");
}

#[test]
fn overlapping_cells_are_reported() {
    let mut m = generate::cuboid([0.0; 3], [1.0; 3], [1, 1, 1], CellKind::Tet4).unwrap();
    // Duplicate the first tetrahedron: its faces now have three cells.
    let first: Vec<usize> = m.blocks[0].cell(0).to_vec();
    m.blocks[0].push(&first, 7);
    let m = m.clone();
    let err = m.topology().unwrap_err().to_string();
    assert!(err.contains("shared by 3 cells"), "{err}");
}

#[test]
fn topology_of_two_million_triangles() {
    // Sort-based construction; a quadratic step would not finish.
    let m = generate::rectangle([0.0, 0.0], [1.0, 1.0], [1000, 1000], CellKind::Tri3).unwrap();
    let topo = m.topology().unwrap();
    assert_eq!(topo.num_cells, 2_000_000);
    assert_eq!(topo.edges.len(), 3 * 1000 * 1000 + 2 * 1000);
    assert_eq!(topo.node_graph.nnz(), 2 * topo.edges.len());
}
