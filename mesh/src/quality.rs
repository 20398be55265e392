//! Cell quality: signed measures (length, area, volume), angles, aspect
//! ratios, inverted cells.
//!
//! Definitions (all on corner nodes, i.e. the straight-sided cell):
//! - *measure*: signed length/area/volume; negative for cells whose node order
//!   is clockwise (2D, measured in the x-y plane) or left-handed (3D). A
//!   quadrilateral or hexahedron is *inverted* if the Jacobian at any corner is
//!   not positive.
//! - *angles*: interior angles for 2D cells, dihedral angles for tetrahedra,
//!   and the angles between edges meeting at each corner for other 3D cells.
//! - *aspect ratio*: for triangles and tetrahedra the radius ratio
//!   `R / (d r)` (circumradius over dimension times inradius), 1 for the
//!   equilateral cell; for other cells the longest over the shortest edge.

use crate::cell::CellKind;
use crate::mesh::Mesh;

type P = [f64; 3];

fn sub(a: P, b: P) -> P {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: P, b: P) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: P, b: P) -> P {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: P) -> f64 {
    dot(a, a).sqrt()
}
fn angle(a: P, b: P) -> f64 {
    let c = dot(a, b) / (norm(a) * norm(b));
    c.clamp(-1.0, 1.0).acos().to_degrees()
}
fn det3(a: P, b: P, c: P) -> f64 {
    dot(a, cross(b, c))
}

/// Quality measures of one cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellQuality {
    /// Signed length, area or volume.
    pub measure: f64,
    /// Whether the cell is inverted (non-positive Jacobian somewhere).
    pub inverted: bool,
    /// Smallest angle in degrees (`NaN` for points and lines).
    pub min_angle: f64,
    /// Largest angle in degrees (`NaN` for points and lines).
    pub max_angle: f64,
    /// Aspect ratio (1 is ideal; `inf` for degenerate cells).
    pub aspect_ratio: f64,
}

/// Signed volume of the tetrahedron `a b c d`.
fn tet_volume(a: P, b: P, c: P, d: P) -> f64 {
    det3(sub(b, a), sub(c, a), sub(d, a)) / 6.0
}

/// z-component of `(b - a) x (c - a)` / 2: signed area in the x-y plane.
fn tri_area_xy(a: P, b: P, c: P) -> f64 {
    cross(sub(b, a), sub(c, a))[2] / 2.0
}

fn edge_ratio(kind: CellKind, x: &[P]) -> f64 {
    let (lo, hi) = kind
        .edges()
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), e| {
            let l = norm(sub(x[e[1]], x[e[0]]));
            (lo.min(l), hi.max(l))
        });
    hi / lo
}

/// Angles between the edges meeting at each corner.
fn corner_angles(kind: CellKind, x: &[P]) -> (f64, f64) {
    let mut range = (f64::INFINITY, 0.0f64);
    for c in 0..kind.num_corners() {
        let dirs: Vec<P> = kind
            .edges()
            .iter()
            .filter_map(|e| match (e[0] == c, e[1] == c) {
                (true, _) => Some(sub(x[e[1]], x[c])),
                (_, true) => Some(sub(x[e[0]], x[c])),
                _ => None,
            })
            .collect();
        for i in 0..dirs.len() {
            for j in i + 1..dirs.len() {
                let a = angle(dirs[i], dirs[j]);
                range = (range.0.min(a), range.1.max(a));
            }
        }
    }
    range
}

/// Signed Jacobian determinants at the corners of a hexahedron, prism or
/// pyramid (the three edges leaving each corner, in right-handed order).
fn corner_jacobians(kind: CellKind, x: &[P]) -> Vec<f64> {
    // For each corner, its three neighbours ordered so that the determinant
    // is positive for a well-formed cell.
    const HEX: [[usize; 4]; 8] = [
        [0, 1, 3, 4],
        [1, 2, 0, 5],
        [2, 3, 1, 6],
        [3, 0, 2, 7],
        [4, 7, 5, 0],
        [5, 4, 6, 1],
        [6, 5, 7, 2],
        [7, 6, 4, 3],
    ];
    const PRISM: [[usize; 4]; 6] = [
        [0, 1, 2, 3],
        [1, 2, 0, 4],
        [2, 0, 1, 5],
        [3, 5, 4, 0],
        [4, 3, 5, 1],
        [5, 4, 3, 2],
    ];
    const PYRAMID: [[usize; 4]; 4] = [[0, 1, 3, 4], [1, 2, 0, 4], [2, 3, 1, 4], [3, 0, 2, 4]];
    let table: &[[usize; 4]] = match kind {
        CellKind::Hex8 => &HEX,
        CellKind::Prism6 => &PRISM,
        CellKind::Pyramid5 => &PYRAMID,
        _ => &[],
    };
    table
        .iter()
        .map(|[c, a, b, d]| det3(sub(x[*a], x[*c]), sub(x[*b], x[*c]), sub(x[*d], x[*c])))
        .collect()
}

/// The signed measure (length, area in the xy-plane, volume) of one cell
/// of the given kind with corner coordinates `x`: [`cell_quality`]'s
/// `measure` without the angles and ratios.
pub fn cell_measure(kind: CellKind, x: &[P]) -> f64 {
    match kind.linear() {
        CellKind::Point => 0.0,
        CellKind::Line2 => norm(sub(x[1], x[0])),
        CellKind::Tri3 => tri_area_xy(x[0], x[1], x[2]),
        CellKind::Quad4 => tri_area_xy(x[0], x[1], x[2]) + tri_area_xy(x[0], x[2], x[3]),
        CellKind::Tet4 => tet_volume(x[0], x[1], x[2], x[3]),
        other => volume_by_tets(other, x),
    }
}

/// Quality of one cell of the given kind with corner coordinates `x`
/// (at least `kind.num_corners()` points; extra nodes are ignored).
pub fn cell_quality(kind: CellKind, x: &[P]) -> CellQuality {
    let nan = f64::NAN;
    match kind.linear() {
        CellKind::Point => CellQuality {
            measure: 0.0,
            inverted: false,
            min_angle: nan,
            max_angle: nan,
            aspect_ratio: 1.0,
        },
        CellKind::Line2 => {
            let l = cell_measure(kind, x);
            CellQuality {
                measure: l,
                inverted: l <= 0.0,
                min_angle: nan,
                max_angle: nan,
                aspect_ratio: 1.0,
            }
        }
        CellKind::Tri3 => {
            let area = cell_measure(kind, x);
            let (a, b, c) = (
                norm(sub(x[1], x[2])),
                norm(sub(x[2], x[0])),
                norm(sub(x[0], x[1])),
            );
            let abs_area = norm(cross(sub(x[1], x[0]), sub(x[2], x[0]))) / 2.0;
            // R = abc / (4A), r = A / s with s the half perimeter.
            let ratio = (a * b * c / (4.0 * abs_area)) / (2.0 * abs_area / ((a + b + c) / 2.0));
            let (lo, hi) = corner_angles(kind.linear(), x);
            CellQuality {
                measure: area,
                inverted: area <= 0.0,
                min_angle: lo,
                max_angle: hi,
                aspect_ratio: ratio,
            }
        }
        CellKind::Quad4 => {
            let area = cell_measure(kind, x);
            let inverted = (0..4).any(|c| tri_area_xy(x[c], x[(c + 1) % 4], x[(c + 3) % 4]) <= 0.0);
            let (lo, hi) = corner_angles(CellKind::Quad4, x);
            CellQuality {
                measure: area,
                inverted,
                min_angle: lo,
                max_angle: hi,
                aspect_ratio: edge_ratio(CellKind::Quad4, x),
            }
        }
        CellKind::Tet4 => {
            let vol = cell_measure(kind, x);
            let faces: Vec<P> = CellKind::Tet4
                .facets()
                .iter()
                .map(|f| cross(sub(x[f[1]], x[f[0]]), sub(x[f[2]], x[f[0]])))
                .collect();
            let total_area: f64 = faces.iter().map(|n| norm(*n) / 2.0).sum();
            let inradius = 3.0 * vol.abs() / total_area;
            let (a, b, c) = (sub(x[1], x[0]), sub(x[2], x[0]), sub(x[3], x[0]));
            let num = [cross(b, c), cross(c, a), cross(a, b)];
            let w = [dot(a, a), dot(b, b), dot(c, c)];
            let centre: P = std::array::from_fn(|i| {
                (w[0] * num[0][i] + w[1] * num[1][i] + w[2] * num[2][i]) / (12.0 * vol)
            });
            let ratio = norm(centre) / (3.0 * inradius);
            // Dihedral angle along the edge shared by two faces: pi minus the
            // angle between their outward normals.
            let mut lo = f64::INFINITY;
            let mut hi = 0.0f64;
            for i in 0..4 {
                for j in i + 1..4 {
                    let d = 180.0 - angle(faces[i], faces[j]);
                    lo = lo.min(d);
                    hi = hi.max(d);
                }
            }
            CellQuality {
                measure: vol,
                inverted: vol <= 0.0,
                min_angle: lo,
                max_angle: hi,
                aspect_ratio: ratio,
            }
        }
        other => {
            let jac = corner_jacobians(other, x);
            let measure = cell_measure(other, x);
            let (lo, hi) = corner_angles(other, x);
            CellQuality {
                measure,
                inverted: jac.iter().any(|&j| j <= 0.0),
                min_angle: lo,
                max_angle: hi,
                aspect_ratio: edge_ratio(other, x),
            }
        }
    }
}

/// Volume of a hexahedron, prism or pyramid: the sum of tetrahedra from its
/// centroid to a fan triangulation of each face (exact for planar faces).
fn volume_by_tets(kind: CellKind, x: &[P]) -> f64 {
    let n = kind.num_corners();
    let centre: P = std::array::from_fn(|i| x[..n].iter().map(|p| p[i]).sum::<f64>() / n as f64);
    kind.facets()
        .iter()
        .map(|f| {
            // Face centre, then one tetrahedron per face edge. Facets are
            // oriented outward, so (a, b, fc) seen from the cell centre is
            // right-handed in the order (centre, fc, b, a).
            let fc: P =
                std::array::from_fn(|i| f.iter().map(|&c| x[c][i]).sum::<f64>() / f.len() as f64);
            (0..f.len())
                .map(|k| tet_volume(centre, x[f[k]], x[f[(k + 1) % f.len()]], fc))
                .sum::<f64>()
        })
        .sum()
}

/// Summary of the quality of a mesh's domain cells.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QualitySummary {
    /// Number of domain cells examined.
    pub cells: usize,
    /// Smallest signed measure.
    pub min_measure: f64,
    /// Largest signed measure.
    pub max_measure: f64,
    /// Sum of the signed measures (the domain's length, area or volume).
    pub total_measure: f64,
    /// Smallest angle in degrees.
    pub min_angle: f64,
    /// Largest angle in degrees.
    pub max_angle: f64,
    /// Largest aspect ratio.
    pub max_aspect_ratio: f64,
    /// Number of inverted cells.
    pub inverted: usize,
}

/// `f` of every domain cell's kind and corner coordinates, in
/// [`crate::Topology`] global cell order.
fn per_domain_cell<T>(mesh: &Mesh, f: impl Fn(CellKind, &[P]) -> T + Copy) -> Vec<T> {
    mesh.domain_blocks()
        .flat_map(|(_, b)| {
            b.cells().map(move |c| {
                let x: Vec<P> = c[..b.kind.num_corners()]
                    .iter()
                    .map(|&v| mesh.points[v])
                    .collect();
                f(b.kind, &x)
            })
        })
        .collect()
}

/// Quality of every domain cell, in [`crate::Topology`] global cell order.
pub fn domain_quality(mesh: &Mesh) -> Vec<CellQuality> {
    per_domain_cell(mesh, cell_quality)
}

/// The signed measure of every domain cell, in [`domain_quality`]'s order:
/// its `measure`s, at a fraction of the cost.
pub fn domain_measures(mesh: &Mesh) -> Vec<f64> {
    per_domain_cell(mesh, cell_measure)
}

/// Summarises [`domain_quality`].
pub fn summary(mesh: &Mesh) -> QualitySummary {
    let q = domain_quality(mesh);
    let mut s = QualitySummary {
        cells: q.len(),
        min_measure: f64::INFINITY,
        max_measure: f64::NEG_INFINITY,
        total_measure: 0.0,
        min_angle: f64::INFINITY,
        max_angle: f64::NEG_INFINITY,
        max_aspect_ratio: 0.0,
        inverted: 0,
    };
    for c in &q {
        s.min_measure = s.min_measure.min(c.measure);
        s.max_measure = s.max_measure.max(c.measure);
        s.total_measure += c.measure;
        s.min_angle = s.min_angle.min(c.min_angle);
        s.max_angle = s.max_angle.max(c.max_angle);
        s.max_aspect_ratio = s.max_aspect_ratio.max(c.aspect_ratio);
        s.inverted += usize::from(c.inverted);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    #[test]
    fn measures_are_the_qualities_measures() {
        for (dim, kind) in [
            (2, CellKind::Tri3),
            (2, CellKind::Quad4),
            (3, CellKind::Tet4),
            (3, CellKind::Hex8),
        ] {
            let mut mesh = if dim == 2 {
                crate::generate::rectangle([0.0, 0.0], [2.0, 1.0], [3, 2], kind).unwrap()
            } else {
                crate::generate::cuboid([0.0; 3], [2.0, 1.0, 1.0], [2, 2, 1], kind).unwrap()
            };
            // Skewed, so the measures differ from cell to cell.
            for p in &mut mesh.points {
                p[0] += 0.1 * p[1] * p[1];
            }
            let measures = domain_measures(&mesh);
            let qualities: Vec<f64> = domain_quality(&mesh).iter().map(|q| q.measure).collect();
            assert_eq!(measures, qualities, "{kind}");
            assert!((measures.iter().sum::<f64>() - 2.0).abs() < 1e-12, "{kind}");
        }
    }

    #[test]
    fn equilateral_triangle_is_ideal() {
        let h = 3f64.sqrt() / 2.0;
        let q = cell_quality(
            CellKind::Tri3,
            &[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.5, h, 0.0]],
        );
        assert!((q.measure - h / 2.0).abs() < EPS);
        assert!((q.aspect_ratio - 1.0).abs() < 1e-12);
        assert!((q.min_angle - 60.0).abs() < 1e-9 && (q.max_angle - 60.0).abs() < 1e-9);
        assert!(!q.inverted);
        let flipped = cell_quality(
            CellKind::Tri3,
            &[[0.0, 0.0, 0.0], [0.5, h, 0.0], [1.0, 0.0, 0.0]],
        );
        assert!(flipped.inverted && flipped.measure < 0.0);
    }

    #[test]
    fn regular_tetrahedron_is_ideal() {
        let x = [
            [1.0, 1.0, 1.0],
            [-1.0, 1.0, -1.0],
            [1.0, -1.0, -1.0],
            [-1.0, -1.0, 1.0],
        ];
        let q = cell_quality(CellKind::Tet4, &x);
        // Edge sqrt(8): volume a^3 / (6 sqrt 2) = 8/3.
        assert!((q.measure - 8.0 / 3.0).abs() < 1e-12, "{}", q.measure);
        assert!((q.aspect_ratio - 1.0).abs() < 1e-12);
        let dihedral = (1.0f64 / 3.0).acos().to_degrees();
        assert!((q.min_angle - dihedral).abs() < 1e-9 && (q.max_angle - dihedral).abs() < 1e-9);
    }

    #[test]
    fn unit_hexahedron_and_its_inversion() {
        let x = [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [1.0, 0.0, 1.0],
            [1.0, 1.0, 1.0],
            [0.0, 1.0, 1.0],
        ];
        let q = cell_quality(CellKind::Hex8, &x);
        assert!((q.measure - 1.0).abs() < EPS && !q.inverted);
        assert!((q.min_angle - 90.0).abs() < 1e-9 && (q.max_angle - 90.0).abs() < 1e-9);
        let mut bad = x;
        bad[6] = [0.2, 0.2, -0.5]; // top corner pushed through the bottom face
        assert!(cell_quality(CellKind::Hex8, &bad).inverted);
        // Prism and pyramid halves of the unit cube.
        let prism = [x[0], x[1], x[3], x[4], x[5], x[7]];
        let qp = cell_quality(CellKind::Prism6, &prism);
        assert!((qp.measure - 0.5).abs() < EPS && !qp.inverted);
        let pyramid = [x[0], x[1], x[2], x[3], [0.5, 0.5, 1.0]];
        let qy = cell_quality(CellKind::Pyramid5, &pyramid);
        assert!((qy.measure - 1.0 / 3.0).abs() < EPS && !qy.inverted);
    }

    #[test]
    fn quad_inversion_is_detected() {
        let q = [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0],
        ];
        let good = cell_quality(CellKind::Quad4, &q);
        assert!((good.measure - 1.0).abs() < EPS && !good.inverted);
        // A non-convex ("arrow") quad has positive area but a bad corner.
        let arrow = [
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [0.2, 0.2, 0.0],
            [0.0, 1.0, 0.0],
        ];
        assert!(cell_quality(CellKind::Quad4, &arrow).inverted);
    }
}
