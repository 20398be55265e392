//! The triangles of a 2D mesh as the movers see them: corners, areas,
//! barycentric gradients, lumped masses, and the boundary (which nodes
//! slide along a straight side and which stay fixed).

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

/// What a boundary node may do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Boundary {
    /// An interior node: free.
    Interior,
    /// On a straight part of the boundary with this unit normal: slides.
    Slides([f64; 2]),
    /// A corner (or a node of a curved boundary): fixed.
    Fixed,
}

impl Boundary {
    /// The part of a displacement `d` this node may make: all of it inside,
    /// its tangential part on a straight boundary, none at a corner.
    pub(crate) fn allowed(self, d: [f64; 2]) -> [f64; 2] {
        match self {
            Boundary::Interior => d,
            Boundary::Slides(n) => {
                let along = d[0] * n[0] + d[1] * n[1];
                [d[0] - along * n[0], d[1] - along * n[1]]
            }
            Boundary::Fixed => [0.0; 2],
        }
    }
}

/// How each node may move, from the boundary edges.
pub(crate) fn boundary_kinds(nodes: usize, edges: &[BoundaryEdge]) -> Vec<Boundary> {
    let mut kinds = vec![Boundary::Interior; nodes];
    for e in edges {
        for n in [e.a, e.b] {
            kinds[n] = match kinds[n] {
                Boundary::Interior => Boundary::Slides(e.normal),
                Boundary::Slides(m) if (m[0] * e.normal[1] - m[1] * e.normal[0]).abs() < 1e-10 => {
                    Boundary::Slides(m)
                }
                _ => Boundary::Fixed,
            };
        }
    }
    kinds
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
