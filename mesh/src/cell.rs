//! Cell kinds: node counts, dimensions, local edges and facets, gmsh and VTK codes.

use std::fmt;

/// The kinds of cells a [`crate::Mesh`] can hold.
///
/// Node order follows gmsh (corners first, counter-clockwise for 2D cells, then
/// edge mid-nodes, then face/volume nodes). Writers that need another order
/// (VTK's quadratic tetrahedron) reorder on output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CellKind {
    /// A single node (gmsh "Point", type 15).
    Point,
    /// Two-node line.
    Line2,
    /// Three-node (quadratic) line: ends, then midpoint.
    Line3,
    /// Three-node triangle.
    Tri3,
    /// Six-node (quadratic) triangle: corners, then mid-nodes of edges 01, 12, 20.
    Tri6,
    /// Four-node quadrilateral.
    Quad4,
    /// Nine-node (biquadratic) quadrilateral: corners, edge mid-nodes, centre.
    Quad9,
    /// Four-node tetrahedron.
    Tet4,
    /// Ten-node (quadratic) tetrahedron: corners, then mid-nodes of edges
    /// 01, 12, 20, 30, 32, 31 (gmsh order).
    Tet10,
    /// Eight-node hexahedron: bottom face counter-clockwise, then top face.
    Hex8,
    /// Six-node prism (wedge): bottom triangle, then top triangle.
    Prism6,
    /// Five-node pyramid: base quadrilateral, then apex.
    Pyramid5,
}

/// Every supported kind, in a fixed order (used for stable listings).
pub const ALL_KINDS: [CellKind; 12] = [
    CellKind::Point,
    CellKind::Line2,
    CellKind::Line3,
    CellKind::Tri3,
    CellKind::Tri6,
    CellKind::Quad4,
    CellKind::Quad9,
    CellKind::Tet4,
    CellKind::Tet10,
    CellKind::Hex8,
    CellKind::Prism6,
    CellKind::Pyramid5,
];

const TRI_EDGES: &[[usize; 2]] = &[[0, 1], [1, 2], [2, 0]];
const QUAD_EDGES: &[[usize; 2]] = &[[0, 1], [1, 2], [2, 3], [3, 0]];
// In gmsh's tet10 mid-node order, so that edge k carries node 4 + k.
const TET_EDGES: &[[usize; 2]] = &[[0, 1], [1, 2], [2, 0], [0, 3], [2, 3], [1, 3]];
const HEX_EDGES: &[[usize; 2]] = &[
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 0],
    [4, 5],
    [5, 6],
    [6, 7],
    [7, 4],
    [0, 4],
    [1, 5],
    [2, 6],
    [3, 7],
];
const PRISM_EDGES: &[[usize; 2]] = &[
    [0, 1],
    [1, 2],
    [2, 0],
    [3, 4],
    [4, 5],
    [5, 3],
    [0, 3],
    [1, 4],
    [2, 5],
];
const PYRAMID_EDGES: &[[usize; 2]] = &[
    [0, 1],
    [1, 2],
    [2, 3],
    [3, 0],
    [0, 4],
    [1, 4],
    [2, 4],
    [3, 4],
];

// Facets (cells of dimension d-1) by local corner numbers, oriented so that
// the right-hand normal points out of the cell. For simplices facet i is the
// one opposite corner i.
const LINE_FACETS: &[&[usize]] = &[&[0], &[1]];
const TRI_FACETS: &[&[usize]] = &[&[1, 2], &[2, 0], &[0, 1]];
const QUAD_FACETS: &[&[usize]] = &[&[0, 1], &[1, 2], &[2, 3], &[3, 0]];
const TET_FACETS: &[&[usize]] = &[&[1, 2, 3], &[0, 3, 2], &[0, 1, 3], &[0, 2, 1]];
const HEX_FACETS: &[&[usize]] = &[
    &[0, 3, 2, 1],
    &[4, 5, 6, 7],
    &[0, 1, 5, 4],
    &[1, 2, 6, 5],
    &[2, 3, 7, 6],
    &[3, 0, 4, 7],
];
const PRISM_FACETS: &[&[usize]] = &[
    &[0, 2, 1],
    &[3, 4, 5],
    &[0, 1, 4, 3],
    &[1, 2, 5, 4],
    &[2, 0, 3, 5],
];
const PYRAMID_FACETS: &[&[usize]] = &[
    &[0, 3, 2, 1],
    &[0, 1, 4],
    &[1, 2, 4],
    &[2, 3, 4],
    &[3, 0, 4],
];

impl CellKind {
    /// Number of nodes of one cell.
    pub const fn num_nodes(self) -> usize {
        match self {
            CellKind::Point => 1,
            CellKind::Line2 => 2,
            CellKind::Line3 => 3,
            CellKind::Tri3 => 3,
            CellKind::Tri6 => 6,
            CellKind::Quad4 => 4,
            CellKind::Quad9 => 9,
            CellKind::Tet4 => 4,
            CellKind::Tet10 => 10,
            CellKind::Hex8 => 8,
            CellKind::Prism6 => 6,
            CellKind::Pyramid5 => 5,
        }
    }

    /// Number of corner (vertex) nodes; the first `num_corners` nodes are corners.
    pub const fn num_corners(self) -> usize {
        match self {
            CellKind::Line3 => 2,
            CellKind::Tri6 => 3,
            CellKind::Quad9 => 4,
            CellKind::Tet10 => 4,
            other => other.num_nodes(),
        }
    }

    /// Topological dimension (0 for points, 1 for lines, 2 for surfaces, 3 for volumes).
    pub const fn dim(self) -> usize {
        match self {
            CellKind::Point => 0,
            CellKind::Line2 | CellKind::Line3 => 1,
            CellKind::Tri3 | CellKind::Tri6 | CellKind::Quad4 | CellKind::Quad9 => 2,
            _ => 3,
        }
    }

    /// Polynomial order of the geometry (1 for straight-sided, 2 for quadratic cells).
    pub const fn order(self) -> usize {
        match self {
            CellKind::Line3 | CellKind::Tri6 | CellKind::Quad9 | CellKind::Tet10 => 2,
            _ => 1,
        }
    }

    /// The straight-sided kind with the same shape (e.g. `Tri6 -> Tri3`).
    pub const fn linear(self) -> CellKind {
        match self {
            CellKind::Line3 => CellKind::Line2,
            CellKind::Tri6 => CellKind::Tri3,
            CellKind::Quad9 => CellKind::Quad4,
            CellKind::Tet10 => CellKind::Tet4,
            other => other,
        }
    }

    /// Whether the cell is a simplex (point, line, triangle, tetrahedron).
    pub const fn is_simplex(self) -> bool {
        matches!(
            self.linear(),
            CellKind::Point | CellKind::Line2 | CellKind::Tri3 | CellKind::Tet4
        )
    }

    /// Edges as pairs of local corner numbers (a line's only edge is itself;
    /// points have none). For quadratic cells, edge `k` carries the mid-node
    /// `num_corners() + k` (gmsh order).
    pub const fn edges(self) -> &'static [[usize; 2]] {
        match self.linear() {
            CellKind::Line2 => &[[0, 1]],
            CellKind::Tri3 => TRI_EDGES,
            CellKind::Quad4 => QUAD_EDGES,
            CellKind::Tet4 => TET_EDGES,
            CellKind::Hex8 => HEX_EDGES,
            CellKind::Prism6 => PRISM_EDGES,
            CellKind::Pyramid5 => PYRAMID_EDGES,
            _ => &[],
        }
    }

    /// Facets (sub-cells of dimension `dim - 1`) as lists of local corner
    /// numbers, oriented with outward normals.
    pub const fn facets(self) -> &'static [&'static [usize]] {
        match self.linear() {
            CellKind::Line2 => LINE_FACETS,
            CellKind::Tri3 => TRI_FACETS,
            CellKind::Quad4 => QUAD_FACETS,
            CellKind::Tet4 => TET_FACETS,
            CellKind::Hex8 => HEX_FACETS,
            CellKind::Prism6 => PRISM_FACETS,
            CellKind::Pyramid5 => PYRAMID_FACETS,
            _ => &[],
        }
    }

    /// Short stable name used in listings and JSON (`tri3`, `tet10`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            CellKind::Point => "point",
            CellKind::Line2 => "line2",
            CellKind::Line3 => "line3",
            CellKind::Tri3 => "tri3",
            CellKind::Tri6 => "tri6",
            CellKind::Quad4 => "quad4",
            CellKind::Quad9 => "quad9",
            CellKind::Tet4 => "tet4",
            CellKind::Tet10 => "tet10",
            CellKind::Hex8 => "hex8",
            CellKind::Prism6 => "prism6",
            CellKind::Pyramid5 => "pyramid5",
        }
    }

    /// The gmsh element type number.
    pub const fn gmsh_type(self) -> i32 {
        match self {
            CellKind::Line2 => 1,
            CellKind::Tri3 => 2,
            CellKind::Quad4 => 3,
            CellKind::Tet4 => 4,
            CellKind::Hex8 => 5,
            CellKind::Prism6 => 6,
            CellKind::Pyramid5 => 7,
            CellKind::Line3 => 8,
            CellKind::Tri6 => 9,
            CellKind::Quad9 => 10,
            CellKind::Tet10 => 11,
            CellKind::Point => 15,
        }
    }

    /// The kind for a gmsh element type number, if supported.
    pub fn from_gmsh_type(code: i32) -> Option<CellKind> {
        ALL_KINDS.into_iter().find(|k| k.gmsh_type() == code)
    }

    /// The VTK cell type number (`VTK_TRIANGLE = 5`, `VTK_QUADRATIC_TETRA = 24`, ...).
    pub const fn vtk_type(self) -> u8 {
        match self {
            CellKind::Point => 1,
            CellKind::Line2 => 3,
            CellKind::Line3 => 21,
            CellKind::Tri3 => 5,
            CellKind::Tri6 => 22,
            CellKind::Quad4 => 9,
            CellKind::Quad9 => 28,
            CellKind::Tet4 => 10,
            CellKind::Tet10 => 24,
            CellKind::Hex8 => 12,
            CellKind::Prism6 => 13,
            CellKind::Pyramid5 => 14,
        }
    }

    /// For each VTK node position, the index of the gmsh node that goes there.
    /// Identity except for the quadratic tetrahedron, whose last two edge nodes
    /// (edges 1-3 and 2-3) come in the opposite order in VTK.
    pub const fn vtk_node_order(self) -> Option<&'static [usize]> {
        match self {
            CellKind::Tet10 => Some(&[0, 1, 2, 3, 4, 5, 6, 7, 9, 8]),
            _ => None,
        }
    }
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// gmsh's own description of an element type number, for error messages
/// about types pde-mesh does not read.
pub fn gmsh_type_description(code: i32) -> &'static str {
    match code {
        1 => "2-node line",
        2 => "3-node triangle",
        3 => "4-node quadrangle",
        4 => "4-node tetrahedron",
        5 => "8-node hexahedron",
        6 => "6-node prism",
        7 => "5-node pyramid",
        8 => "3-node second order line",
        9 => "6-node second order triangle",
        10 => "9-node second order quadrangle",
        11 => "10-node second order tetrahedron",
        12 => "27-node second order hexahedron",
        13 => "18-node second order prism",
        14 => "14-node second order pyramid",
        15 => "1-node point",
        16 => "8-node second order quadrangle",
        17 => "20-node second order hexahedron",
        18 => "15-node second order prism",
        19 => "13-node second order pyramid",
        20 => "9-node third order incomplete triangle",
        21 => "10-node third order triangle",
        22 => "12-node fourth order incomplete triangle",
        23 => "15-node fourth order triangle",
        24 => "15-node fifth order incomplete triangle",
        25 => "21-node fifth order complete triangle",
        26 => "4-node third order edge",
        27 => "5-node fourth order edge",
        28 => "6-node fifth order edge",
        29 => "20-node third order tetrahedron",
        30 => "35-node fourth order tetrahedron",
        31 => "56-node fifth order tetrahedron",
        92 => "64-node third order hexahedron",
        93 => "125-node fourth order hexahedron",
        _ => "unknown element type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmsh_codes_round_trip() {
        for k in ALL_KINDS {
            assert_eq!(CellKind::from_gmsh_type(k.gmsh_type()), Some(k));
        }
        assert_eq!(CellKind::from_gmsh_type(12), None);
    }

    #[test]
    fn local_topology_is_consistent() {
        for k in ALL_KINDS {
            assert!(k.num_corners() <= k.num_nodes());
            for e in k.edges() {
                assert!(e[0] < k.num_corners() && e[1] < k.num_corners(), "{k}");
            }
            for f in k.facets() {
                assert!(f.iter().all(|&c| c < k.num_corners()), "{k}");
            }
            if k.dim() == 3 {
                // Euler: V - E + F = 2 for every polyhedron.
                let (v, e, f) = (k.num_corners(), k.edges().len(), k.facets().len());
                assert_eq!(v + f, e + 2, "{k}");
            }
        }
    }
}
