//! Conservative remap of cell averages onto a moved mesh (r-adaptation):
//! the same cells and faces, new node positions. Planar meshes of
//! triangles and quadrilaterals.
//!
//! **Swept regions.** When the nodes `a`, `b` of a face move to `a'`,
//! `b'`, the face sweeps the quadrilateral `(a, b, b', a')`. Its signed area
//! `δ_f`, positive when the face moves out of its owner (into the
//! neighbour), is the area the owner takes from the neighbour. Summing the
//! shoelace formula of these quadrilaterals around a cell, the terms of
//! each corner's path `(a, a')` cancel between the two faces at the corner,
//! which leaves
//!
//! ```text
//! |K'| = |K| + Σ_f ±δ_f      (+ on the faces K owns, − on the others)
//! ```
//!
//! exactly, for straight-sided polygons. The remap moves mass with the
//! regions: a swept region carries the linear reconstruction of its donor
//! (the cell it is taken from) integrated over it, i.e. `|δ_f|` times the
//! reconstruction at the region's centroid, and
//! `u'_K = (u_K |K| + mass gained − mass given) / |K'|`. A constant stays
//! constant by the identity above; a linear field, which the
//! reconstruction reproduces, is integrated exactly over the new cells
//! wherever the limiter leaves it alone (second order).
//!
//! **Conservation.** What crosses an interior face is added to one cell and
//! taken from the other, and boundary faces pass nothing: boundary nodes
//! slide along the boundary, so on straight boundaries their swept area is
//! zero up to round-off (on curved ones it is small, and changes the
//! boundary cells' averages, not the total). So `Σ u'|K'| = Σ u|K|` to
//! round-off.
//!
//! **Bounds.** Let `O_K` be the area `K` gives away (its outgoing swept
//! regions) and `r_K` the average of what it keeps. Then
//! `u'_K |K'| = (|K| − O_K) r_K + Σ_in |δ_f| u_D(x_f)` with
//! `|K'| = (|K| − O_K) + Σ_in |δ_f|`: while `O_K < |K|`, `u'_K` is a convex
//! combination of `r_K` and the values `u_D(x_f)` coming in. The gradients
//! (least squares, limited by Barth–Jespersen as in the solver, which
//! bounds the values at the face centroids only) are limited further, so
//! that each donor's values at the centroids of the regions it gives, and
//! the average `r_K` of what it keeps, lie within the averages of the cell
//! and its face neighbours. So `u'_K` lies within the old averages of `K`,
//! its neighbours and theirs: no new extrema (a 0/1 indicator stays in
//! `[0, 1]`). The condition, `O_K < |K|` for every cell, asks that the
//! swept areas be small against the cells (nodes move by a fraction of
//! the cells' size); the limiter acts on smooth fields only as `O_K`
//! approaches `|K|`. A move that breaks it is refused, naming the cell, as
//! is one that inverts a cell.
//!
//! A swept quadrilateral that crosses itself (a face turning about a point
//! between its nodes, or two node paths crossing) is split at the crossing
//! into two triangles of opposite sign, each taken from its own donor.

use rayon::prelude::*;

use super::geometry::FvMesh;
use super::reconstruct::{limit, LeastSquares, Limiter};
use super::FvError;

/// A point of the plane.
type Point = [f64; 2];

/// Part of a swept region: signed area (positive where the face's owner
/// gains) and centroid.
type Part = (f64, Point);

/// Twice the signed area of the triangle `(o, p, q)`.
fn orient(o: Point, p: Point, q: Point) -> f64 {
    (p[0] - o[0]) * (q[1] - o[1]) - (p[1] - o[1]) * (q[0] - o[0])
}

/// The triangle `(p, q, r)` as a part: signed area and centroid.
fn triangle(p: Point, q: Point, r: Point) -> Part {
    (
        0.5 * orient(p, q, r),
        [(p[0] + q[0] + r[0]) / 3.0, (p[1] + q[1] + r[1]) / 3.0],
    )
}

/// Where the segment `pq` crosses `rs` (at a point inside both), if it does.
fn crossing(p: Point, q: Point, r: Point, s: Point) -> Option<Point> {
    let (a, b) = (orient(r, s, p), orient(r, s, q));
    (a * b < 0.0 && orient(p, q, r) * orient(p, q, s) < 0.0).then(|| {
        let t = a / (a - b);
        [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]
    })
}

/// The signed parts of the quadrilateral `q`: the quadrilateral itself
/// when it is simple (the second part then has zero area), its two lobes
/// when two opposite edges cross.
fn parts(q: [Point; 4]) -> [Part; 2] {
    if let Some(p) = crossing(q[0], q[1], q[2], q[3]) {
        return [triangle(q[0], p, q[3]), triangle(p, q[1], q[2])];
    }
    if let Some(p) = crossing(q[1], q[2], q[3], q[0]) {
        return [triangle(q[0], q[1], p), triangle(p, q[2], q[3])];
    }
    // A simple quadrilateral has a diagonal inside it, on which both
    // triangles have the same sign: its centroid is their weighted mean,
    // without cancellation however thin it is.
    let (mut s, mut t) = (triangle(q[0], q[1], q[2]), triangle(q[0], q[2], q[3]));
    if s.0 * t.0 < 0.0 {
        (s, t) = (triangle(q[0], q[1], q[3]), triangle(q[1], q[2], q[3]));
    }
    let area = s.0 + t.0;
    if s.0 * t.0 < 0.0 || area == 0.0 {
        // Degenerate (three corners in line): the triangles as they are.
        return [s, t];
    }
    let w = s.0 / area;
    let centroid = std::array::from_fn(|k| w * s.1[k] + (1.0 - w) * t.1[k]);
    [(area, centroid), (0.0, centroid)]
}

/// The refusals of [`remap`] that need no geometry: the dimension,
/// periodic faces, and meshes that do not share their connectivity.
fn check_meshes(old: &FvMesh, new: &FvMesh, states: usize) -> Result<(), FvError> {
    let refuse = |why: String| Err(FvError::Remap(why));
    if old.dim != 2 || new.dim != 2 {
        return refuse(format!(
            "the remap treats planar meshes (triangles and quadrilaterals); this one is {}D",
            if old.dim != 2 { old.dim } else { new.dim }
        ));
    }
    let periodic = |m: &FvMesh| m.faces.iter().position(|f| f.shift != [0.0; 3]);
    if let Some(f) = periodic(old).or_else(|| periodic(new)) {
        return refuse(format!(
            "face {f} is periodic; the remap follows the mesh's own faces, and periodic \
             meshes cannot move"
        ));
    }
    let counts = |m: &FvMesh| (m.num_cells(), m.faces.len());
    if counts(old) != counts(new) {
        return refuse(format!(
            "the mesh had {} cells and {} faces, the moved one has {} and {}; a moved mesh \
             keeps its connectivity",
            old.num_cells(),
            old.faces.len(),
            new.num_cells(),
            new.faces.len()
        ));
    }
    let (a, b) = (old.mesh.topology()?, new.mesh.topology()?);
    if let Some(f) = (0..a.num_facets())
        .find(|&f| a.facet_keys[f] != b.facet_keys[f] || a.facet_cells[f] != b.facet_cells[f])
    {
        return refuse(format!(
            "face {f} joins nodes {:?} and cells {:?} on the mesh, {:?} and {:?} on the moved \
             one; a moved mesh keeps its connectivity",
            a.facet_keys[f], a.facet_cells[f], b.facet_keys[f], b.facet_cells[f]
        ));
    }
    if states != old.num_cells() {
        return refuse(format!(
            "{states} cell values given for {} cells",
            old.num_cells()
        ));
    }
    Ok(())
}

/// The cell averages `state` on `old` remapped onto `new`, the same mesh
/// with moved nodes: conservative (the totals `Σ u|K|` agree to
/// round-off), exact for linear fields where unlimited, and free of new
/// extrema (see the module documentation for the method and its
/// condition).
///
/// Refused for meshes that are not planar, are periodic, or differ in
/// their cells or faces; for a move under which a cell would give away
/// at least its own area (the cell is named: smaller steps of the mover
/// pass), or which inverts a cell.
pub fn remap<const N: usize>(
    old: &FvMesh,
    new: &FvMesh,
    state: &[[f64; N]],
) -> Result<Vec<[f64; N]>, FvError> {
    check_meshes(old, new, state.len())?;
    let topo = old.mesh.topology()?;
    let xy = |p: [f64; 3]| [p[0], p[1]];
    let sweeps: Vec<[Part; 2]> = old
        .faces
        .iter()
        .enumerate()
        .map(|(f, face)| {
            let nodes = topo.facet_corners(&old.mesh, f);
            let (a, b) = (nodes[0], nodes[1]);
            let (a0, b0) = (xy(old.mesh.points[a]), xy(old.mesh.points[b]));
            let (a1, b1) = (xy(new.mesh.points[a]), xy(new.mesh.points[b]));
            // The shoelace area of (a, b, b', a') is positive when the face
            // moves to the left of a→b: out of the owner where its outward
            // normal points left.
            let right = (b0[1] - a0[1]) * face.normal[0] - (b0[0] - a0[0]) * face.normal[1];
            let sign = if right > 0.0 { -1.0 } else { 1.0 };
            parts([a0, b0, b1, a1]).map(|(area, x)| (sign * area, x))
        })
        .collect();
    // What each cell gives away: the parts of its interior faces' swept
    // regions that the cell across gains, with that cell.
    let n = old.num_cells();
    let mut outgoing: Vec<Vec<(usize, f64, Point)>> = vec![Vec::new(); n];
    for (face, parts) in old.faces.iter().zip(&sweeps) {
        let Some(nb) = face.neighbour else { continue };
        for &(area, x) in parts {
            if area > 0.0 {
                outgoing[nb].push((face.owner, area, x));
            } else if area < 0.0 {
                outgoing[face.owner].push((nb, -area, x));
            }
        }
    }
    let given: Vec<f64> = outgoing
        .iter()
        .map(|parts| parts.iter().map(|p| p.1).sum())
        .collect();
    if let Some(c) = (0..n).find(|&c| given[c] >= old.volume[c]) {
        return Err(FvError::Remap(format!(
            "cell {c} (at {:?}) would give away {:.3e} of its area {:.3e}: the nodes moved \
             too far for one remap (move them in smaller steps)",
            old.centroid[c], given[c], old.volume[c]
        )));
    }
    // The signed area of each moved cell, in the old cell's orientation.
    let mut area = old.volume.clone();
    for (face, parts) in old.faces.iter().zip(&sweeps) {
        for &(a, _) in parts {
            area[face.owner] += a;
            if let Some(nb) = face.neighbour {
                area[nb] -= a;
            }
        }
    }
    // Only possible where boundary nodes leave the boundary: a cell that
    // gives away less than its area keeps a positive one otherwise.
    if let Some(c) = (0..n).find(|&c| area[c] <= 0.0) {
        return Err(FvError::Remap(format!(
            "cell {c} (at {:?}) is inverted on the moved mesh (signed area {:.3e})",
            old.centroid[c], area[c]
        )));
    }
    let gradients = reconstruction(old, state, &outgoing, &given);
    let value = |c: usize, x: Point| -> [f64; N] {
        let d = [x[0] - old.centroid[c][0], x[1] - old.centroid[c][1]];
        let g = &gradients[c];
        std::array::from_fn(|k| state[c][k] + g[k][0] * d[0] + g[k][1] * d[1])
    };
    let mut mass: Vec<[f64; N]> = state
        .iter()
        .zip(&old.volume)
        .map(|(u, v)| u.map(|u| u * v))
        .collect();
    for (donor, parts) in outgoing.iter().enumerate() {
        for &(receiver, area, x) in parts {
            let u = value(donor, x);
            for k in 0..N {
                mass[donor][k] -= area * u[k];
                mass[receiver][k] += area * u[k];
            }
        }
    }
    Ok(mass
        .iter()
        .zip(&new.volume)
        .map(|(m, v)| m.map(|m| m / v))
        .collect())
}

/// The gradients of the remap: least squares, Barth–Jespersen (as the
/// solver's), and then scaled so that each cell's values at the centroids
/// of the parts it gives away (`outgoing`: receiver, area and centroid of
/// each), and the average of what it keeps (`given`: the area it gives),
/// stay within the averages of the cell and its face neighbours.
fn reconstruction<const N: usize>(
    mesh: &FvMesh,
    u: &[[f64; N]],
    outgoing: &[Vec<(usize, f64, Point)>],
    given: &[f64],
) -> Vec<[[f64; 3]; N]> {
    let mut gradients = LeastSquares::new(mesh).gradients(mesh, u);
    limit(mesh, Limiter::BarthJespersen, u, &mut gradients);
    gradients.par_iter_mut().enumerate().for_each(|(c, g)| {
        let mut lo = u[c];
        let mut hi = u[c];
        for &f in mesh.cell_faces.row(c) {
            if let Some((q, _)) = mesh.across(f, c) {
                for k in 0..N {
                    lo[k] = lo[k].min(u[q][k]);
                    hi[k] = hi[k].max(u[q][k]);
                }
            }
        }
        let out = &outgoing[c];
        let xc = mesh.centroid[c];
        for k in 0..N {
            let offset = |x: Point| g[k][0] * (x[0] - xc[0]) + g[k][1] * (x[1] - xc[1]);
            // The average of what stays is u_c + kept (unlimited).
            let kept = -out.iter().map(|&(_, a, x)| a * offset(x)).sum::<f64>()
                / (mesh.volume[c] - given[c]);
            let phi = out
                .iter()
                .map(|&(_, _, x)| offset(x))
                .chain([kept])
                .filter(|&s| s != 0.0)
                .map(|s| {
                    let room = if s > 0.0 {
                        hi[k] - u[c][k]
                    } else {
                        lo[k] - u[c][k]
                    };
                    room / s
                })
                .fold(1.0f64, f64::min);
            g[k].iter_mut().for_each(|v| *v *= phi);
        }
    });
    gradients
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use pde_mesh::{generate, CellKind, Mesh};

    use super::*;
    use crate::fvm::law::LinearAdvection;
    use crate::fvm::solver::{FiniteVolume, FvBoundary};
    use crate::physics::Stepper;

    const N: usize = 20;

    fn unit_square(kind: CellKind) -> Mesh {
        generate::rectangle([0.0, 0.0], [1.0, 1.0], [N, N], kind).unwrap()
    }

    /// `mesh` with its interior nodes displaced smoothly by up to
    /// `amplitude` cell sizes (boundary nodes stay).
    fn moved(mesh: &Mesh, amplitude: f64) -> Mesh {
        let scale = amplitude / (N as f64 * 2f64.sqrt());
        let pi = std::f64::consts::PI;
        let mut m = mesh.clone();
        for p in &mut m.points {
            let [x, y, _] = *p;
            if x > 1e-12 && x < 1.0 - 1e-12 && y > 1e-12 && y < 1.0 - 1e-12 {
                p[0] += scale * (pi * x).sin() * (2.0 * pi * y).sin();
                p[1] += scale * (2.0 * pi * x).sin() * (pi * y).sin();
            }
        }
        m
    }

    fn geometry(mesh: Mesh) -> FvMesh {
        FvMesh::new(Arc::new(mesh)).unwrap()
    }

    fn total<const M: usize>(mesh: &FvMesh, u: &[[f64; M]]) -> [f64; M] {
        std::array::from_fn(|k| u.iter().zip(&mesh.volume).map(|(u, v)| u[k] * v).sum())
    }

    /// A rough value per cell (a hash) and a smooth bump.
    fn bumpy(mesh: &FvMesh) -> Vec<[f64; 2]> {
        mesh.centroid
            .iter()
            .enumerate()
            .map(|(c, x)| {
                let rough = ((c as u64).wrapping_mul(2654435761) % 1000) as f64 / 1000.0;
                [
                    rough,
                    (-20.0 * ((x[0] - 0.4).powi(2) + (x[1] - 0.6).powi(2))).exp(),
                ]
            })
            .collect()
    }

    #[test]
    fn remap_conserves_the_total() {
        for kind in [CellKind::Tri3, CellKind::Quad4] {
            let mesh = unit_square(kind);
            let (old, new) = (geometry(mesh.clone()), geometry(moved(&mesh, 0.3)));
            let u = bumpy(&old);
            let v = remap(&old, &new, &u).unwrap();
            let (before, after) = (total(&old, &u), total(&new, &v));
            for k in 0..2 {
                let error = (after[k] - before[k]).abs() / before[k];
                eprintln!("{kind:?} component {k}: relative change of the total {error:.2e}");
                assert!(error < 1e-12, "{error:e}");
            }
        }
    }

    #[test]
    fn remap_keeps_a_constant() {
        for kind in [CellKind::Tri3, CellKind::Quad4] {
            let mesh = unit_square(kind);
            let (old, new) = (geometry(mesh.clone()), geometry(moved(&mesh, 0.3)));
            let v = remap(&old, &new, &vec![[2.5]; old.num_cells()]).unwrap();
            let error = v.iter().map(|v| (v[0] - 2.5).abs()).fold(0.0, f64::max);
            eprintln!("{kind:?}: constant 2.5 off by {error:.2e}");
            assert!(error < 1e-13, "{error:e}");
        }
    }

    #[test]
    fn remap_reproduces_a_linear_field() {
        let f = |x: [f64; 3]| 1.0 + 2.0 * x[0] - 3.0 * x[1];
        for kind in [CellKind::Tri3, CellKind::Quad4] {
            let mesh = unit_square(kind);
            let (old, new) = (geometry(mesh.clone()), geometry(moved(&mesh, 0.3)));
            let u: Vec<[f64; 1]> = old.centroid.iter().map(|&x| [f(x)]).collect();
            let v = remap(&old, &new, &u).unwrap();
            // Barth–Jespersen flattens the cells along the boundary (their
            // neighbours lie on one side); inside, nothing is limited at
            // these moves (the remap's own limiter acts on a linear field
            // only where cells give away most of their area: at moves of
            // 0.42 h it does on triangles, by up to 8e-3).
            let (mut inside, mut all) = (0.0f64, 0.0f64);
            for (c, v) in v.iter().enumerate() {
                let error = (v[0] - f(new.centroid[c])).abs();
                all = all.max(error);
                let x = old.centroid[c];
                if x.iter().take(2).all(|&x| x > 0.1 && x < 0.9) {
                    inside = inside.max(error);
                }
            }
            eprintln!("{kind:?}: linear field off by {inside:.2e} inside, {all:.2e} anywhere");
            assert!(inside < 1e-12, "{inside:e}");
        }
    }

    #[test]
    fn remap_keeps_a_step_within_its_bounds() {
        for kind in [CellKind::Tri3, CellKind::Quad4] {
            let mesh = unit_square(kind);
            let (old, new) = (geometry(mesh.clone()), geometry(moved(&mesh, 0.3)));
            let u: Vec<[f64; 1]> = old
                .centroid
                .iter()
                .map(|x| [if x[0] + 0.3 * x[1] < 0.55 { 1.0 } else { 0.0 }])
                .collect();
            let v = remap(&old, &new, &u).unwrap();
            let lo = v.iter().map(|v| v[0]).fold(f64::INFINITY, f64::min);
            let hi = v.iter().map(|v| v[0]).fold(f64::NEG_INFINITY, f64::max);
            eprintln!("{kind:?}: step remapped into [{lo:e}, 1 + {:e}]", hi - 1.0);
            assert!(lo >= -1e-15 && hi <= 1.0 + 1e-15, "[{lo:e}, {hi:e}]");
            let mixed = v
                .iter()
                .filter(|v| v[0] > 1e-9 && v[0] < 1.0 - 1e-9)
                .count();
            assert!(mixed > 0, "the step moved with the nodes");
        }
    }

    /// The smallest and largest value of `u` over each cell, its face
    /// neighbours and theirs.
    fn two_ring_bounds(mesh: &FvMesh, u: &[[f64; 1]]) -> Vec<(f64, f64)> {
        let ring = |c: usize| {
            let faces = mesh.cell_faces.row(c).iter();
            std::iter::once(c).chain(faces.filter_map(move |&f| mesh.across(f, c).map(|q| q.0)))
        };
        (0..mesh.num_cells())
            .map(|c| {
                ring(c)
                    .flat_map(ring)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), q| {
                        (lo.min(u[q][0]), hi.max(u[q][0]))
                    })
            })
            .collect()
    }

    #[test]
    fn remap_creates_no_new_extrema() {
        for kind in [CellKind::Tri3, CellKind::Quad4] {
            for amplitude in [0.3, 0.45] {
                let mesh = unit_square(kind);
                let (old, new) = (geometry(mesh.clone()), geometry(moved(&mesh, amplitude)));
                // A cone: the Barth–Jespersen limiter alone lets its apex overshoot.
                let u: Vec<[f64; 1]> = old
                    .centroid
                    .iter()
                    .map(|x| [1.0 - 10.0 * ((x[0] - 0.5).powi(2) + (x[1] - 0.47).powi(2)).sqrt()])
                    .collect();
                let v = remap(&old, &new, &u).unwrap();
                let bounds = two_ring_bounds(&old, &u);
                let excess = v
                    .iter()
                    .zip(&bounds)
                    .map(|(v, &(lo, hi))| (lo - v[0]).max(v[0] - hi))
                    .fold(f64::NEG_INFINITY, f64::max);
                eprintln!("{kind:?}, moves up to {amplitude} h: largest excess over the local bounds {excess:.2e}");
                assert!(excess <= 1e-14, "{excess:e}");
            }
        }
    }

    #[test]
    fn remap_refuses_too_large_moves() {
        let mesh = unit_square(CellKind::Tri3);
        let old = geometry(mesh.clone());
        let u = vec![[1.0]; old.num_cells()];
        // A smooth move by more than a cell: no cell inverts, but the
        // middle ones give away more than they have.
        let far = remap(&old, &geometry(moved(&mesh, 1.5)), &u).unwrap_err();
        eprintln!("{far}");
        assert!(far.to_string().contains("give away"), "{far}");
        // A boundary node pulled inwards along a line of faces, past the
        // next node: nothing is swept between cells, but two cells invert.
        let mesh = unit_square(CellKind::Quad4);
        let old = geometry(mesh.clone());
        let mut tangled = mesh.clone();
        tangled.points[N / 2][1] += 2.5 / N as f64;
        let u = vec![[1.0]; old.num_cells()];
        let err = remap(&old, &geometry(tangled), &u).unwrap_err();
        eprintln!("{err}");
        assert!(err.to_string().contains("inverted"), "{err}");
    }

    #[test]
    fn remap_refuses_meshes_that_do_not_match() {
        let mesh = unit_square(CellKind::Tri3);
        let old = geometry(mesh.clone());
        let u = vec![[1.0]; old.num_cells()];
        let other =
            geometry(generate::rectangle([0.0; 2], [1.0; 2], [N, N + 1], CellKind::Tri3).unwrap());
        let err = remap(&old, &other, &u).unwrap_err();
        assert!(err.to_string().contains("connectivity"), "{err}");
        // The same counts, but the first square split along its other diagonal.
        let mut flipped = mesh.clone();
        let (a, b, c, d) = (0, 1, N + 2, N + 1);
        flipped.blocks[0].nodes[..6].copy_from_slice(&[a, b, d, b, c, d]);
        let err = remap(&old, &geometry(flipped), &u).unwrap_err();
        assert!(err.to_string().contains("joins nodes"), "{err}");
        let quads =
            geometry(generate::rectangle([0.0; 2], [1.0; 2], [N, 2 * N], CellKind::Quad4).unwrap());
        let err = remap(&old, &quads, &u).unwrap_err();
        assert!(err.to_string().contains("connectivity"), "{err}");
        let mut periodic = old.clone();
        periodic.make_periodic("left", "right").unwrap();
        let err = remap(&periodic, &periodic, &u).unwrap_err();
        assert!(err.to_string().contains("periodic"), "{err}");
        let cube =
            geometry(generate::cuboid([0.0; 3], [1.0; 3], [2, 2, 2], CellKind::Hex8).unwrap());
        let err = remap(&cube, &cube, &[[1.0]; 8]).unwrap_err();
        assert!(err.to_string().contains("3D"), "{err}");
        let err = remap(&old, &old, &u[1..]).unwrap_err();
        assert!(err.to_string().contains("cell values"), "{err}");
    }

    #[test]
    fn remap_follows_moves_of_a_transport_model() {
        let mesh = unit_square(CellKind::Tri3);
        let fv = geometry(mesh.clone());
        let law = LinearAdvection::of_field(&fv, |_| [1.0, 0.5, 0.0]);
        let mut model = FiniteVolume::new(fv, law);
        model.set_boundary("right", FvBoundary::Outflow).unwrap();
        model.set_boundary("top", FvBoundary::Outflow).unwrap();
        model.set_initial(|x| {
            let r2 = (x[0] - 0.6).powi(2) + (x[1] - 0.5).powi(2);
            [if r2 < 0.06 { 1.0 } else { 0.0 }]
        });
        let total0 = model.total()[0];
        let steps = |model: &mut FiniteVolume<LinearAdvection, 1>| {
            for _ in 0..5 {
                let (t, dt) = (model.time(), model.cfl_dt());
                model.try_advance(t, dt).unwrap();
                model.commit_tried();
            }
        };
        steps(&mut model);
        model.move_nodes(Arc::new(moved(&mesh, 0.3))).unwrap();
        let resampled = LinearAdvection::of_field(&model.mesh, |_| [1.0, 0.5, 0.0]);
        assert_eq!(model.law.face_velocity, resampled.face_velocity);
        steps(&mut model);
        // And back, through the stepper protocol.
        Stepper::move_nodes(&mut model, Arc::new(mesh)).unwrap();
        steps(&mut model);
        let balance = model.total()[0] + model.boundary_outflow()[0];
        let error = (balance - total0).abs() / total0;
        let lo = model
            .state()
            .iter()
            .map(|u| u[0])
            .fold(f64::INFINITY, f64::min);
        let hi = model
            .state()
            .iter()
            .map(|u| u[0])
            .fold(f64::NEG_INFINITY, f64::max);
        eprintln!(
            "transport: total + outflow off by {error:.2e} (relative), outflow {:.3e}, state in [{lo:e}, 1 + {:e}]",
            model.boundary_outflow()[0],
            hi - 1.0
        );
        assert!(model.boundary_outflow()[0] > 0.0);
        assert!(error < 1e-12, "{error:e}");
        assert!(lo >= -1e-14 && hi <= 1.0 + 1e-14, "[{lo:e}, {hi:e}]");
    }
}
