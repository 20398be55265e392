//! The triangles of a 2D mesh as the movers see them: corners, areas,
//! barycentric gradients, lumped masses, and the boundary (which nodes
//! slide along a straight side, which along a curved one, and which stay
//! fixed).

use anyhow::{bail, Context, Result};
use pde_mesh::{CellKind, Mesh};

/// The triangles of a mesh with what the relaxation needs of them.
pub(crate) struct Triangles {
    /// Corner nodes of each triangle.
    pub(crate) corners: Vec<[usize; 3]>,
    /// Area on the computational mesh.
    pub(crate) area: Vec<f64>,
    /// Gradients of the three barycentric functions on the computational
    /// mesh.
    pub(crate) gradients: Vec<[[f64; 2]; 3]>,
    /// Lumped mass of each node (`Σ |K| / 3`).
    pub(crate) lumped: Vec<f64>,
}

/// Signed area of a triangle.
pub(crate) fn signed_area(p: [[f64; 3]; 3]) -> f64 {
    0.5 * ((p[1][0] - p[0][0]) * (p[2][1] - p[0][1]) - (p[2][0] - p[0][0]) * (p[1][1] - p[0][1]))
}

impl Triangles {
    /// The triangles of `mesh` (linear triangles only, counter-clockwise).
    pub(crate) fn of(mesh: &Mesh) -> Result<Self> {
        let block = mesh
            .domain_blocks()
            .map(|(_, b)| b)
            .find(|b| b.kind == CellKind::Tri3)
            .filter(|_| mesh.dim() == 2 && mesh.domain_blocks().count() == 1)
            .context("mesh movers need a 2D mesh of linear triangles (Tri3) only")?;
        let mut t = Triangles {
            corners: Vec::with_capacity(block.len()),
            area: Vec::with_capacity(block.len()),
            gradients: Vec::with_capacity(block.len()),
            lumped: vec![0.0; mesh.num_points()],
        };
        for (c, nodes) in block.cells().enumerate() {
            let k = [nodes[0], nodes[1], nodes[2]];
            let p = k.map(|n| mesh.points[n]);
            let area = signed_area(p);
            if area <= 0.0 {
                bail!("triangle {c} has a non-positive area ({area:e}); mesh movers need counter-clockwise cells");
            }
            // ∇λ_a = (perpendicular of the opposite edge) / (2 |K|).
            let gradient = |a: usize| {
                let (b, d) = (p[(a + 1) % 3], p[(a + 2) % 3]);
                [(b[1] - d[1]) / (2.0 * area), (d[0] - b[0]) / (2.0 * area)]
            };
            t.gradients.push([gradient(0), gradient(1), gradient(2)]);
            for n in k {
                t.lumped[n] += area / 3.0;
            }
            t.corners.push(k);
            t.area.push(area);
        }
        Ok(t)
    }

    /// The gradient on triangle `c` of the P1 function with nodal values
    /// `value(node)`.
    pub(crate) fn gradient(&self, c: usize, value: impl Fn(usize) -> f64) -> [f64; 2] {
        let mut g = [0.0; 2];
        for (a, &node) in self.corners[c].iter().enumerate() {
            let v = value(node);
            g[0] += v * self.gradients[c][a][0];
            g[1] += v * self.gradients[c][a][1];
        }
        g
    }

    /// The lumped L2 projection onto the nodes of a per-cell vector field.
    pub(crate) fn project<const D: usize>(
        &self,
        per_cell: impl Fn(usize) -> [f64; D],
    ) -> Vec<[f64; D]> {
        let mut nodal = vec![[0.0; D]; self.lumped.len()];
        for (c, k) in self.corners.iter().enumerate() {
            let v = per_cell(c);
            for &n in k {
                for d in 0..D {
                    nodal[n][d] += self.area[c] / 3.0 * v[d];
                }
            }
        }
        for (v, &w) in nodal.iter_mut().zip(&self.lumped) {
            if w > 0.0 {
                v.iter_mut().for_each(|x| *x /= w);
            }
        }
        nodal
    }
}

/// Where the boundary turns by less than this (degrees) at a node, the
/// node is on a curve and slides along it; where it turns by more, it is a
/// corner and stays.
pub(crate) const CURVE_TURN_DEGREES: f64 = 15.0;

/// What a boundary node may do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Boundary {
    /// An interior node: free.
    Interior,
    /// On a straight part of the boundary with this unit normal: slides.
    Slides([f64; 2]),
    /// On a curved part of the boundary (it turns by less than
    /// [`CURVE_TURN_DEGREES`] here) with this mean unit normal: slides
    /// along the tangent and is projected back onto the boundary
    /// ([`BoundaryPath::moved`]).
    Curved([f64; 2]),
    /// A corner (or a node where several boundary chains meet): fixed.
    Fixed,
}

impl Boundary {
    /// The part of a displacement `d` this node may make: all of it inside,
    /// its tangential part on the boundary, none at a corner.
    pub(crate) fn allowed(self, d: [f64; 2]) -> [f64; 2] {
        match self {
            Boundary::Interior => d,
            Boundary::Slides(n) | Boundary::Curved(n) => {
                let along = d[0] * n[0] + d[1] * n[1];
                [d[0] - along * n[0], d[1] - along * n[1]]
            }
            Boundary::Fixed => [0.0; 2],
        }
    }
}

/// How each node may move, from the boundary edges.
pub(crate) fn boundary_kinds(nodes: usize, edges: &[BoundaryEdge]) -> Vec<Boundary> {
    let mut normals = vec![Vec::new(); nodes];
    for e in edges {
        normals[e.a].push(e.normal);
        normals[e.b].push(e.normal);
    }
    let curve = CURVE_TURN_DEGREES.to_radians().cos();
    normals
        .iter()
        .map(|ns| match ns[..] {
            [] => Boundary::Interior,
            [m, n] => {
                let cross = m[0] * n[1] - m[1] * n[0];
                let dot = m[0] * n[0] + m[1] * n[1];
                if cross.abs() < 1e-10 && dot > 0.0 {
                    Boundary::Slides(m)
                } else if dot > curve {
                    let mean = [m[0] + n[0], m[1] + n[1]];
                    let length = mean[0].hypot(mean[1]);
                    Boundary::Curved([mean[0] / length, mean[1] / length])
                } else {
                    Boundary::Fixed
                }
            }
            _ => Boundary::Fixed,
        })
        .collect()
}

/// The computational mesh's boundary as chains of edges, along which
/// boundary nodes move: a node on a curved part is projected back onto
/// the chain (the piecewise-linear boundary of the computational mesh),
/// so the domain stays what the mesh file made it.
pub(crate) struct BoundaryPath {
    /// Every node's position on the computational mesh.
    points: Vec<[f64; 2]>,
    /// Along the boundary (counter-clockwise), the next and the previous
    /// node of each boundary node (`usize::MAX` elsewhere).
    next: Vec<usize>,
    previous: Vec<usize>,
}

/// How many boundary edges either way a curved node may be projected
/// onto (a move is about a cell; the guard refuses more).
const PATH_REACH: usize = 8;

impl BoundaryPath {
    /// The boundary of `mesh` from its boundary edges.
    pub(crate) fn new(mesh: &Mesh, edges: &[BoundaryEdge]) -> BoundaryPath {
        let n = mesh.num_points();
        let (mut next, mut previous) = (vec![usize::MAX; n], vec![usize::MAX; n]);
        for e in edges {
            next[e.a] = e.b;
            previous[e.b] = e.a;
        }
        BoundaryPath {
            points: mesh.points.iter().map(|p| [p[0], p[1]]).collect(),
            next,
            previous,
        }
    }

    /// Where node `node` (of kind `kinds[node]`, now at `from`) goes when
    /// displaced by `d`: all of it inside, the tangential part along a
    /// straight side, the tangential part projected back onto the
    /// boundary along a curved one (onto the nearest of the edges within
    /// [`PATH_REACH`] either way, not past a corner), nowhere at a corner.
    pub(crate) fn moved(
        &self,
        node: usize,
        kinds: &[Boundary],
        from: [f64; 2],
        d: [f64; 2],
    ) -> [f64; 2] {
        let d = kinds[node].allowed(d);
        let p = [from[0] + d[0], from[1] + d[1]];
        if !matches!(kinds[node], Boundary::Curved(_)) {
            return p;
        }
        let mut best = (f64::INFINITY, p);
        for step in [&self.next, &self.previous] {
            let mut a = node;
            for _ in 0..PATH_REACH {
                let b = step[a];
                if b == usize::MAX {
                    break;
                }
                let q = nearest_on_segment(p, self.points[a], self.points[b]);
                let distance = (q[0] - p[0]).hypot(q[1] - p[1]);
                if distance < best.0 {
                    best = (distance, q);
                }
                if kinds[b] == Boundary::Fixed || b == node {
                    break;
                }
                a = b;
            }
        }
        best.1
    }
}

/// The point of segment `a`–`b` nearest to `p`.
fn nearest_on_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let length2 = dx * dx + dy * dy;
    let s = if length2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    [a[0] + s * dx, a[1] + s * dy]
}

/// An edge on the boundary of the triangulation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BoundaryEdge {
    /// The triangle that has it.
    pub(crate) cell: usize,
    /// Its nodes, in the triangle's (counter-clockwise) order.
    pub(crate) a: usize,
    pub(crate) b: usize,
    /// Its outward unit normal.
    pub(crate) normal: [f64; 2],
    /// Its length.
    pub(crate) length: f64,
}

/// The edges only one triangle has.
pub(crate) fn boundary_edges(mesh: &Mesh, t: &Triangles) -> Vec<BoundaryEdge> {
    // Per undirected edge: (triangle, first node, second node) of each side.
    let mut owners = std::collections::HashMap::<_, Vec<(usize, usize, usize)>>::new();
    for (c, k) in t.corners.iter().enumerate() {
        for e in 0..3 {
            let (a, b) = (k[e], k[(e + 1) % 3]);
            owners
                .entry((a.min(b), a.max(b)))
                .or_default()
                .push((c, a, b));
        }
    }
    let mut edges: Vec<BoundaryEdge> = owners
        .values()
        .filter_map(|cells| match cells[..] {
            [(cell, a, b)] => {
                // Counter-clockwise triangle: edge a→b's outward normal is
                // (dy, −dx).
                let (p, q) = (mesh.points[a], mesh.points[b]);
                let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
                let length = dx.hypot(dy);
                Some(BoundaryEdge {
                    cell,
                    a,
                    b,
                    normal: [dy / length, -dx / length],
                    length,
                })
            }
            _ => None,
        })
        .collect();
    // A fixed order, whatever the hash map's.
    edges.sort_by_key(|e| (e.cell, e.a));
    edges
}
