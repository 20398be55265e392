//! Structured meshes of rectangles and boxes, with named boundaries, for tests
//! and quick experiments.
//!
//! Boundary groups: `left` (x = min), `right` (x = max), `bottom` (y = min),
//! `top` (y = max) in 2D; in 3D `left`/`right` (x), `front`/`back` (y),
//! `bottom`/`top` (z). The domain group is `domain`.

use crate::cell::CellKind;
use crate::error::{MeshError, Result};
use crate::mesh::{CellBlock, Mesh, PhysicalGroup};

fn check_counts(n: &[usize], lo: &[f64], hi: &[f64]) -> Result<()> {
    if n.contains(&0) {
        return Err(MeshError::Argument(format!(
            "cell counts {n:?} must all be at least 1"
        )));
    }
    if lo
        .iter()
        .zip(hi)
        .any(|(a, b)| !(a.is_finite() && b.is_finite() && a < b))
    {
        return Err(MeshError::Argument(format!(
            "box corners {lo:?} and {hi:?}: each lower coordinate must be finite and below the upper one"
        )));
    }
    Ok(())
}

fn lerp(lo: f64, hi: f64, i: usize, n: usize) -> f64 {
    if i == n {
        hi
    } else {
        lo + (hi - lo) * i as f64 / n as f64
    }
}

fn group(name: &str, dim: usize, tag: i32) -> PhysicalGroup {
    PhysicalGroup {
        name: name.to_string(),
        dim,
        tag,
        entities: vec![tag],
    }
}

/// A rectangle `[lo, hi]` with `n[0] x n[1]` squares, each split into two
/// triangles along the lower-left to upper-right diagonal (`Tri3`), or kept
/// as quadrilaterals (`Quad4`). Nodes are numbered row by row from `lo`.
pub fn rectangle(lo: [f64; 2], hi: [f64; 2], n: [usize; 2], kind: CellKind) -> Result<Mesh> {
    check_counts(&n, &lo, &hi)?;
    if !matches!(kind, CellKind::Tri3 | CellKind::Quad4) {
        return Err(MeshError::Argument(format!(
            "rectangle cells must be tri3 or quad4, not {kind}"
        )));
    }
    let [nx, ny] = n;
    let id = |i: usize, j: usize| j * (nx + 1) + i;
    let mut points = Vec::with_capacity((nx + 1) * (ny + 1));
    for j in 0..=ny {
        for i in 0..=nx {
            points.push([lerp(lo[0], hi[0], i, nx), lerp(lo[1], hi[1], j, ny), 0.0]);
        }
    }
    let mut cells = CellBlock::new(kind);
    for j in 0..ny {
        for i in 0..nx {
            let (a, b, c, d) = (id(i, j), id(i + 1, j), id(i + 1, j + 1), id(i, j + 1));
            if kind == CellKind::Tri3 {
                cells.push(&[a, b, c], 5);
                cells.push(&[a, c, d], 5);
            } else {
                cells.push(&[a, b, c, d], 5);
            }
        }
    }
    let mut lines = CellBlock::new(CellKind::Line2);
    for i in 0..nx {
        lines.push(&[id(i, 0), id(i + 1, 0)], 3);
        lines.push(&[id(i + 1, ny), id(i, ny)], 4);
    }
    for j in 0..ny {
        lines.push(&[id(0, j + 1), id(0, j)], 1);
        lines.push(&[id(nx, j), id(nx, j + 1)], 2);
    }
    let groups = vec![
        group("left", 1, 1),
        group("right", 1, 2),
        group("bottom", 1, 3),
        group("top", 1, 4),
        group("domain", 2, 5),
    ];
    let mesh = Mesh::new(points, vec![cells, lines], groups);
    mesh.validate()?;
    Ok(mesh)
}

/// A box `[lo, hi]` with `n[0] x n[1] x n[2]` hexahedra (`Hex8`), or each
/// hexahedron split into six tetrahedra around its main diagonal (`Tet4`,
/// conforming across faces). Boundary faces are `Quad4` or `Tri3`.
pub fn cuboid(lo: [f64; 3], hi: [f64; 3], n: [usize; 3], kind: CellKind) -> Result<Mesh> {
    check_counts(&n, &lo, &hi)?;
    if !matches!(kind, CellKind::Tet4 | CellKind::Hex8) {
        return Err(MeshError::Argument(format!(
            "box cells must be tet4 or hex8, not {kind}"
        )));
    }
    let [nx, ny, nz] = n;
    let id = |i: usize, j: usize, k: usize| (k * (ny + 1) + j) * (nx + 1) + i;
    let mut points = Vec::with_capacity((nx + 1) * (ny + 1) * (nz + 1));
    for k in 0..=nz {
        for j in 0..=ny {
            for i in 0..=nx {
                points.push([
                    lerp(lo[0], hi[0], i, nx),
                    lerp(lo[1], hi[1], j, ny),
                    lerp(lo[2], hi[2], k, nz),
                ]);
            }
        }
    }
    // Corner `c` of the cube at (i, j, k) has offsets given by the bits of c.
    let corner = |i: usize, j: usize, k: usize, c: usize| {
        id(i + (c & 1), j + ((c >> 1) & 1), k + ((c >> 2) & 1))
    };
    // Hexahedron node order (gmsh) as corner bit patterns.
    const HEX: [usize; 8] = [0, 1, 3, 2, 4, 5, 7, 6];
    // Six tetrahedra from corner 0 to corner 7 along each axis permutation,
    // listed with positive orientation.
    const TETS: [[usize; 4]; 6] = [
        [0, 1, 3, 7],
        [0, 3, 2, 7],
        [0, 2, 6, 7],
        [0, 6, 4, 7],
        [0, 4, 5, 7],
        [0, 5, 1, 7],
    ];
    let mut cells = CellBlock::new(kind);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                if kind == CellKind::Hex8 {
                    cells.push(&HEX.map(|c| corner(i, j, k, c)), 7);
                } else {
                    for t in TETS {
                        cells.push(&t.map(|c| corner(i, j, k, c)), 7);
                    }
                }
            }
        }
    }
    // Boundary faces: each face of the box is a structured grid of quads in
    // the plane of two axes; triangles split them along the same diagonal as
    // the tetrahedra (from the lowest corner).
    let face_kind = if kind == CellKind::Hex8 {
        CellKind::Quad4
    } else {
        CellKind::Tri3
    };
    let mut faces = CellBlock::new(face_kind);
    // (entity, fixed axis, at max?, the two in-plane axes in outward-normal order)
    let sides: [(i32, usize, bool, [usize; 2]); 6] = [
        (1, 0, false, [2, 1]),
        (2, 0, true, [1, 2]),
        (3, 1, false, [0, 2]),
        (4, 1, true, [2, 0]),
        (5, 2, false, [1, 0]),
        (6, 2, true, [0, 1]),
    ];
    for (entity, axis, at_max, [u, v]) in sides {
        for a in 0..n[u] {
            for b in 0..n[v] {
                let node = |du: usize, dv: usize| {
                    let mut ijk = [0usize; 3];
                    ijk[axis] = if at_max { n[axis] } else { 0 };
                    ijk[u] = a + du;
                    ijk[v] = b + dv;
                    id(ijk[0], ijk[1], ijk[2])
                };
                let (p, q, r, s) = (node(0, 0), node(1, 0), node(1, 1), node(0, 1));
                if face_kind == CellKind::Quad4 {
                    faces.push(&[p, q, r, s], entity);
                } else {
                    faces.push(&[p, q, r], entity);
                    faces.push(&[p, r, s], entity);
                }
            }
        }
    }
    let groups = vec![
        group("left", 2, 1),
        group("right", 2, 2),
        group("front", 2, 3),
        group("back", 2, 4),
        group("bottom", 2, 5),
        group("top", 2, 6),
        group("domain", 3, 7),
    ];
    let mesh = Mesh::new(points, vec![cells, faces], groups);
    mesh.validate()?;
    Ok(mesh)
}
