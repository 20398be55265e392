//! Continuous Lagrange function spaces on simplex meshes and their
//! degree-of-freedom maps.

use std::sync::{Arc, OnceLock};

use pde_mesh::{CellKind, Mesh};

use super::element::Lagrange;
use super::locate::CellGrid;
use super::{FemError, Result};

/// Evaluates functions of a space at one point: `Σ weights[i] u[dofs[i]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct PointEvaluator {
    /// The dofs of the cell containing the point.
    pub dofs: Vec<usize>,
    /// The basis functions' values at the point.
    pub weights: Vec<f64>,
}

impl PointEvaluator {
    /// The value of `u` at the point.
    pub fn eval(&self, u: &[f64]) -> f64 {
        self.dofs
            .iter()
            .zip(&self.weights)
            .map(|(&d, w)| w * u[d])
            .sum()
    }
}

/// Solves the leading `d x d` system `m xi = r` (Cramer's rule); `None` if singular.
fn solve_small(m: &[[f64; 3]; 3], d: usize, r: [f64; 3]) -> Option<[f64; 3]> {
    let det = |m: &[[f64; 3]; 3]| match d {
        1 => m[0][0],
        2 => m[0][0] * m[1][1] - m[0][1] * m[1][0],
        _ => {
            m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
        }
    };
    let full = det(m);
    if full == 0.0 || !full.is_finite() {
        return None;
    }
    let mut xi = [0.0; 3];
    for (k, x) in xi.iter_mut().enumerate().take(d) {
        let mut mk = *m;
        for a in 0..d {
            mk[a][k] = r[a];
        }
        *x = det(&mk) / full;
    }
    Some(xi)
}

/// A continuous, scalar Lagrange space of degree 1 or 2 on the domain cells
/// of a mesh of lines, triangles or tetrahedra (straight or quadratic:
/// quadratic cells give isoparametric elements with curved boundaries).
///
/// Degrees of freedom: the mesh vertices (corner nodes) first, numbered in
/// node order, then (degree 2) one per mesh edge, in topology edge order.
#[derive(Clone, Debug)]
pub struct FunctionSpace {
    mesh: Arc<Mesh>,
    block: usize,
    element: Lagrange,
    geometry: Lagrange,
    cell_dofs: Vec<usize>,
    num_dofs: usize,
    num_vertex_dofs: usize,
    vertex_dof: Vec<usize>,
    dof_points: Vec<[f64; 3]>,
    /// The cells by bucket, built on the first point query.
    grid: OnceLock<Arc<CellGrid>>,
}

impl FunctionSpace {
    /// The space of degree `degree` on `mesh`'s domain cells.
    pub fn new(mesh: Arc<Mesh>, degree: usize) -> Result<FunctionSpace> {
        let dim = mesh.dim();
        let blocks: Vec<usize> = mesh.domain_blocks().map(|(i, _)| i).collect();
        let [block] = blocks[..] else {
            return Err(FemError::Unsupported(format!(
                "finite-element spaces need one kind of domain cell; this mesh has {}",
                blocks
                    .iter()
                    .map(|&b| mesh.blocks[b].kind.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let kind = mesh.blocks[block].kind;
        let unsupported = || {
            FemError::Unsupported(format!(
                "P{degree} elements on {kind} cells are not available (lines, triangles and \
                 tetrahedra, straight or quadratic, with degree 1 or 2)"
            ))
        };
        let element = Lagrange::new(kind, degree).ok_or_else(unsupported)?;
        let geometry = Lagrange::new(kind, kind.order()).ok_or_else(unsupported)?;
        if dim == 0 {
            return Err(unsupported());
        }
        let cells = &mesh.blocks[block];
        let nc = kind.num_corners();

        // Vertex dofs in node order.
        let mut vertex_dof = vec![usize::MAX; mesh.num_points()];
        for c in cells.cells() {
            for &v in &c[..nc] {
                vertex_dof[v] = 0;
            }
        }
        let mut num_vertex_dofs = 0;
        let mut dof_points = Vec::new();
        for (node, d) in vertex_dof.iter_mut().enumerate() {
            if *d == 0 {
                *d = num_vertex_dofs;
                num_vertex_dofs += 1;
                dof_points.push(mesh.points[node]);
            }
        }

        let ndof = element.num_dofs();
        let mut cell_dofs = Vec::with_capacity(cells.len() * ndof);
        let mut num_dofs = num_vertex_dofs;
        if degree == 1 {
            for c in cells.cells() {
                cell_dofs.extend(c[..nc].iter().map(|&v| vertex_dof[v]));
            }
        } else {
            let topo = mesh.topology()?;
            num_dofs += topo.edges.len();
            dof_points.resize(num_dofs, [0.0; 3]);
            for (i, c) in cells.cells().enumerate() {
                cell_dofs.extend(c[..nc].iter().map(|&v| vertex_dof[v]));
                for (k, &e) in topo.cell_edges.row(i).iter().enumerate() {
                    cell_dofs.push(num_vertex_dofs + e);
                    // The edge's point: the mid-node of a quadratic cell (on a
                    // curved boundary), else the midpoint.
                    dof_points[num_vertex_dofs + e] = if kind.order() == 2 {
                        mesh.points[c[nc + k]]
                    } else {
                        let [a, b] = kind.edges()[k];
                        let (pa, pb) = (mesh.points[c[a]], mesh.points[c[b]]);
                        std::array::from_fn(|j| 0.5 * (pa[j] + pb[j]))
                    };
                }
            }
        }
        Ok(FunctionSpace {
            mesh,
            block,
            element,
            geometry,
            cell_dofs,
            num_dofs,
            num_vertex_dofs,
            vertex_dof,
            dof_points,
            grid: OnceLock::new(),
        })
    }

    /// The mesh.
    pub fn mesh(&self) -> &Arc<Mesh> {
        &self.mesh
    }

    /// The finite element.
    pub fn element(&self) -> Lagrange {
        self.element
    }

    /// The element describing the geometry of each cell (degree 2 for quadratic cells).
    pub fn geometry(&self) -> Lagrange {
        self.geometry
    }

    /// Polynomial degree.
    pub fn degree(&self) -> usize {
        self.element.degree
    }

    /// Spatial dimension of the domain.
    pub fn dim(&self) -> usize {
        self.element.dim()
    }

    /// Number of degrees of freedom.
    pub fn num_dofs(&self) -> usize {
        self.num_dofs
    }

    /// Number of domain cells.
    pub fn num_cells(&self) -> usize {
        self.mesh.blocks[self.block].len()
    }

    /// The dofs of cell `c`, in the element's local order.
    pub fn cell_dofs(&self, c: usize) -> &[usize] {
        let n = self.element.num_dofs();
        &self.cell_dofs[c * n..(c + 1) * n]
    }

    /// All cells' dofs, `element().num_dofs()` per cell.
    pub fn all_cell_dofs(&self) -> &[usize] {
        &self.cell_dofs
    }

    /// The geometry nodes (mesh point indices) of cell `c`.
    pub fn cell_nodes(&self, c: usize) -> &[usize] {
        self.mesh.blocks[self.block].cell(c)
    }

    /// The point each dof sits at (vertices; edge mid-nodes for degree 2).
    pub fn dof_points(&self) -> &[[f64; 3]] {
        &self.dof_points
    }

    /// The dof of mesh vertex `node`, if it is a vertex of a domain cell.
    pub fn vertex_dof(&self, node: usize) -> Option<usize> {
        self.vertex_dof
            .get(node)
            .copied()
            .filter(|&d| d != usize::MAX)
    }

    /// The nodal interpolant of `f`.
    pub fn interpolate(&self, f: impl Fn([f64; 3]) -> f64) -> Vec<f64> {
        self.dof_points.iter().map(|&p| f(p)).collect()
    }

    /// Values of the finite-element function `u` at every mesh point (for
    /// output on the mesh): vertices take their dof; mid-edge nodes of
    /// quadratic cells take the edge dof (P2) or the mean of the edge's
    /// vertices (P1); points outside the domain cells get 0.
    pub fn point_values(&self, u: &[f64]) -> Vec<f64> {
        let mesh = &self.mesh;
        let mut out: Vec<f64> = (0..mesh.num_points())
            .map(|p| self.vertex_dof(p).map_or(0.0, |d| u[d]))
            .collect();
        let kind = mesh.blocks[self.block].kind;
        if kind.order() == 2 {
            let nc = kind.num_corners();
            for c in 0..self.num_cells() {
                let nodes = self.cell_nodes(c);
                let dofs = self.cell_dofs(c);
                for (k, e) in kind.edges().iter().enumerate() {
                    out[nodes[nc + k]] = if self.degree() == 2 {
                        u[dofs[nc + k]]
                    } else {
                        0.5 * (u[dofs[e[0]]] + u[dofs[e[1]]])
                    };
                }
            }
        }
        out
    }

    /// How to evaluate functions of this space at point `p`: the cell that
    /// contains it (located on its straight-sided corners) and the basis
    /// weights. `None` outside the mesh.
    pub fn point_evaluator(&self, p: [f64; 3]) -> Option<PointEvaluator> {
        let (cell, xi) = self.locate(p)?;
        Some(self.evaluator_at(cell, &xi))
    }

    /// The cell that contains `p` (boundary included) and `p`'s reference
    /// coordinates there.
    fn locate(&self, p: [f64; 3]) -> Option<(usize, [f64; 3])> {
        let d = self.dim();
        self.cell_grid().candidates(p).iter().find_map(|&c| {
            let xi = self.reference_point(c, p)?;
            contains(&xi, d).then_some((c, xi))
        })
    }

    /// The cells by bucket of their corners' bounding boxes.
    fn cell_grid(&self) -> &CellGrid {
        self.grid.get_or_init(|| {
            let nc = self.mesh.blocks[self.block].kind.num_corners();
            let boxes: Vec<_> = (0..self.num_cells())
                .map(|c| {
                    let mut b = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
                    for &n in &self.cell_nodes(c)[..nc] {
                        for (a, &x) in self.mesh.points[n].iter().enumerate() {
                            b.0[a] = b.0[a].min(x);
                            b.1[a] = b.1[a].max(x);
                        }
                    }
                    b
                })
                .collect();
            Arc::new(CellGrid::new(self.dim(), &boxes))
        })
    }

    /// The function `u` of space `from` interpolated into this space (its
    /// values at this space's dof points): how a state follows a moved
    /// mesh. A dof point just outside `from`'s mesh (a boundary node that
    /// slid along a curved boundary leaves the chords of the last mesh by
    /// a sliver) takes the value extrapolated from the cell it is least
    /// outside of (within that cell's values), if that is by less than a
    /// quarter of the cell; an error
    /// names the first dof point further out.
    pub fn interpolate_from(&self, from: &FunctionSpace, u: &[f64]) -> Result<Vec<f64>> {
        self.dof_points
            .iter()
            .enumerate()
            .map(|(d, &p)| {
                from.value_at(u, p, 0.25).ok_or_else(|| {
                    FemError::Unsupported(format!(
                        "dof {d} at {p:?} lies outside the mesh it is interpolated from"
                    ))
                })
            })
            .collect()
    }

    /// The cell near `p` that `p` is least outside of, and `p`'s reference
    /// coordinates there, if it is outside by less than `slack` in
    /// barycentric coordinates.
    fn nearest_reference(&self, p: [f64; 3], slack: f64) -> Option<(usize, [f64; 3])> {
        let d = self.dim();
        let (cell, xi, _) = self
            .cell_grid()
            .around(p)
            .into_iter()
            .filter_map(|c| {
                let xi = self.reference_point(c, p)?;
                let lowest = xi[..d]
                    .iter()
                    .copied()
                    .fold(1.0 - xi[..d].iter().sum::<f64>(), f64::min);
                Some((c, xi, lowest))
            })
            .filter(|(_, _, lowest)| *lowest > -slack)
            .max_by(|a, b| a.2.total_cmp(&b.2))?;
        Some((cell, xi))
    }

    /// The value at `p` of the function with dof values `u`, as
    /// [`Self::point_evaluator`] gives it but without its allocations
    /// (movers evaluate their monitor at every node in every iteration);
    /// a point outside the mesh by less than `slack` (in barycentric
    /// coordinates) gets the value extrapolated from its nearest cell,
    /// within the range of that cell's values (no new extremum: a front
    /// at the boundary extrapolated past 1 made Barkley's kinetics run
    /// away there), one further out `None`.
    pub fn value_at(&self, u: &[f64], p: [f64; 3], slack: f64) -> Option<f64> {
        let (cell, xi, outside) = match self.locate(p) {
            Some((cell, xi)) => (cell, xi, false),
            None => {
                let (cell, xi) = self.nearest_reference(p, slack)?;
                (cell, xi, true)
            }
        };
        let n = self.element.num_dofs();
        let mut local = [0.0; 32];
        let mut heap = Vec::new();
        let weights: &mut [f64] = if n <= local.len() {
            &mut local[..n]
        } else {
            heap.resize(n, 0.0);
            &mut heap
        };
        self.element.values(&xi, weights);
        let dofs = self.cell_dofs(cell);
        let value = dofs
            .iter()
            .zip(weights.iter())
            .map(|(&dof, w)| u[dof] * w)
            .sum();
        Some(if outside {
            let (lo, hi) = dofs
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &d| {
                    (lo.min(u[d]), hi.max(u[d]))
                });
            f64::clamp(value, lo, hi)
        } else {
            value
        })
    }

    /// The reference coordinates of `p` under the affine map of `cell`'s
    /// corners (`x = x0 + J ξ`); `None` for a degenerate cell.
    fn reference_point(&self, cell: usize, p: [f64; 3]) -> Option<[f64; 3]> {
        let d = self.dim();
        let mesh = &self.mesh;
        let nodes = self.cell_nodes(cell);
        let x0 = mesh.points[nodes[0]];
        let mut jac = [[0.0; 3]; 3];
        for b in 0..d {
            let xb = mesh.points[nodes[b + 1]];
            for a in 0..d {
                jac[a][b] = xb[a] - x0[a];
            }
        }
        solve_small(&jac, d, std::array::from_fn(|a| p[a] - x0[a]))
    }

    /// The evaluator of reference point `xi` of `cell`.
    fn evaluator_at(&self, cell: usize, xi: &[f64; 3]) -> PointEvaluator {
        let mut weights = vec![0.0; self.element.num_dofs()];
        self.element.values(xi, &mut weights);
        PointEvaluator {
            dofs: self.cell_dofs(cell).to_vec(),
            weights,
        }
    }

    /// How to evaluate functions of this space at point `p` of cell `cell`
    /// (on its straight-sided corners, boundary included); `None` if the
    /// point lies outside that cell.
    pub fn evaluator_in_cell(&self, cell: usize, p: [f64; 3]) -> Option<PointEvaluator> {
        let xi = self.reference_point(cell, p)?;
        contains(&xi, self.dim()).then(|| self.evaluator_at(cell, &xi))
    }

    /// The dofs on the cells of a physical group of dimension `dim - 1`
    /// (boundary conditions), sorted.
    pub fn group_dofs(&self, group: &str) -> Result<Vec<usize>> {
        self.dofs_of_groups(&[group])
    }

    /// The dofs on the cells of several boundary groups, sorted and distinct
    /// (e.g. all sides of a box that share a Dirichlet condition).
    pub fn dofs_of_groups(&self, groups: &[&str]) -> Result<Vec<usize>> {
        let mut dofs = Vec::new();
        for group in groups {
            let g = self.mesh.group(group)?;
            if g.dim + 1 != self.dim() && g.dim != 0 {
                return Err(FemError::Unsupported(format!(
                    "group '{group}' has dimension {}; boundary conditions need a group of dimension {}",
                    g.dim,
                    self.dim() - 1
                )));
            }
            for c in self.mesh.cells_of(g) {
                let block = &self.mesh.blocks[c.block];
                let nodes = block.cell(c.index);
                let corners = &nodes[..block.kind.num_corners()];
                dofs.extend(corners.iter().filter_map(|&v| self.vertex_dof(v)));
                if self.degree() == 2 {
                    dofs.extend(self.facet_edge_dofs(block.kind, corners)?);
                }
            }
        }
        dofs.sort_unstable();
        dofs.dedup();
        Ok(dofs)
    }

    /// The edge dofs of a boundary cell, in its kind's edge order.
    pub(crate) fn facet_edge_dofs(&self, kind: CellKind, corners: &[usize]) -> Result<Vec<usize>> {
        let topo = self.mesh.topology()?;
        kind.edges()
            .iter()
            .map(|e| {
                let (a, b) = (corners[e[0]], corners[e[1]]);
                topo.edges
                    .binary_search(&[a.min(b), a.max(b)])
                    .map(|i| self.num_vertex_dofs + i)
                    .map_err(|_| {
                        FemError::Unsupported(format!(
                            "boundary edge {a}-{b} is not an edge of the domain"
                        ))
                    })
            })
            .collect()
    }
}

/// Whether reference point `xi` (of a `d`-dimensional cell, through its
/// first `d + 1` corners) lies in the cell, boundary included (to 1e-10).
fn contains(xi: &[f64; 3], d: usize) -> bool {
    let tol = 1e-10;
    xi[..d].iter().all(|&v| v >= -tol) && xi[..d].iter().sum::<f64>() <= 1.0 + tol
}
