//! Assembly of bilinear and linear forms into the CSR pattern of a space,
//! in parallel (one value array per thread, summed; no locks, no hashing).
//!
//! A form is a *kernel*: a function that receives the tabulated basis on one
//! cell ([`CellValues`]) and adds the local matrix (row-major) or vector.
//! Ready-made kernels: [`laplace`], [`mass`], [`advection`], [`source`].

// Index loops over small dense arrays read like the formulas they implement.
#![allow(clippy::needless_range_loop)]

use pde_mesh::topology::cell_adjacency;
use rayon::prelude::*;

use super::element::Lagrange;
use super::quadrature::{simplex, Quadrature};
use super::space::FunctionSpace;
use super::{FemError, Result};
use crate::linalg::{entry_index, zeros_with_pattern, SparseMatrix};

/// The basis of a space tabulated at the quadrature points of one cell.
#[derive(Clone, Debug, Default)]
pub struct CellValues {
    /// Local basis functions.
    pub num_dofs: usize,
    /// Quadrature weights times the Jacobian determinant.
    pub weights: Vec<f64>,
    /// Physical coordinates of the quadrature points.
    pub points: Vec<[f64; 3]>,
    /// `phi[q * num_dofs + i]`: basis function `i` at point `q`.
    pub phi: Vec<f64>,
    /// `grad[q * num_dofs + i]`: its physical gradient (unused components 0).
    pub grad: Vec<[f64; 3]>,
    /// Reference Hessians of the basis (constant on the cell; empty for P1).
    pub hessians: Vec<[[f64; 3]; 3]>,
    /// Inverse Jacobian of the cell map at each point (`inv[b][c] = dξ_b/dx_c`).
    pub inverse_jacobians: Vec<[[f64; 3]; 3]>,
    /// Reference dimension.
    pub dim: usize,
    /// The domain cell these values belong to (for kernels that read
    /// finite-element functions through the space's `cell_dofs`).
    pub cell: usize,
}

impl CellValues {
    /// Number of quadrature points.
    pub fn num_points(&self) -> usize {
        self.weights.len()
    }

    /// Basis values at point `q`.
    pub fn phi_at(&self, q: usize) -> &[f64] {
        &self.phi[q * self.num_dofs..(q + 1) * self.num_dofs]
    }

    /// Basis gradients at point `q`.
    pub fn grad_at(&self, q: usize) -> &[[f64; 3]] {
        &self.grad[q * self.num_dofs..(q + 1) * self.num_dofs]
    }

    /// The physical Laplacian of basis function `i` at point `q`:
    /// `tr(J^{-T} H J^{-1})` with the reference Hessian `H` (zero for P1;
    /// on curved cells the affine part, the usual approximation).
    pub fn laplacian(&self, q: usize, i: usize) -> f64 {
        let Some(h) = self.hessians.get(i) else {
            return 0.0;
        };
        let (inv, d) = (&self.inverse_jacobians[q], self.dim);
        let mut sum = 0.0;
        for c in 0..d {
            for a in 0..d {
                for b in 0..d {
                    sum += inv[a][c] * h[a][b] * inv[b][c];
                }
            }
        }
        sum
    }

    /// The value at point `q` of the finite-element function with local
    /// coefficients `u`.
    pub fn value(&self, q: usize, u: &[f64]) -> f64 {
        self.phi_at(q).iter().zip(u).map(|(p, c)| p * c).sum()
    }

    /// Its gradient at point `q`.
    pub fn gradient(&self, q: usize, u: &[f64]) -> [f64; 3] {
        let mut g = [0.0; 3];
        for (gi, c) in self.grad_at(q).iter().zip(u) {
            for k in 0..3 {
                g[k] += gi[k] * c;
            }
        }
        g
    }
}

/// Basis and geometry tabulated on the reference cell, computed once per form.
struct Tabulation {
    dim: usize,
    element: Lagrange,
    geometry: Lagrange,
    quad: Quadrature,
    phi: Vec<f64>,
    dphi: Vec<[f64; 3]>,
    gphi: Vec<f64>,
    gdphi: Vec<[f64; 3]>,
    /// Reference Hessians of the basis (constant; empty for P1).
    hessians: Vec<[[f64; 3]; 3]>,
}

impl Tabulation {
    fn new(element: Lagrange, geometry: Lagrange, degree: usize) -> Self {
        let quad = simplex(element.dim(), degree);
        let (n, ng) = (element.num_dofs(), geometry.num_dofs());
        let nq = quad.weights.len();
        let mut t = Tabulation {
            dim: element.dim(),
            element,
            geometry,
            phi: vec![0.0; nq * n],
            dphi: vec![[0.0; 3]; nq * n],
            gphi: vec![0.0; nq * ng],
            gdphi: vec![[0.0; 3]; nq * ng],
            hessians: Vec::new(),
            quad,
        };
        if element.degree > 1 {
            t.hessians = vec![[[0.0; 3]; 3]; n];
            element.hessians(&mut t.hessians);
        }
        for (q, x) in t.quad.points.iter().enumerate() {
            element.values(x, &mut t.phi[q * n..(q + 1) * n]);
            element.gradients(x, &mut t.dphi[q * n..(q + 1) * n]);
            geometry.values(x, &mut t.gphi[q * ng..(q + 1) * ng]);
            geometry.gradients(x, &mut t.gdphi[q * ng..(q + 1) * ng]);
        }
        t
    }

    /// Sizes `v` for this tabulation and copies what does not depend on the
    /// cell (basis values, reference Hessians); then [`Tabulation::reinit`]
    /// maps `v` to each cell in turn.
    fn prepare(&self, v: &mut CellValues) {
        let (n, nq) = (self.element.num_dofs(), self.quad.weights.len());
        v.num_dofs = n;
        v.dim = self.dim;
        v.weights.resize(nq, 0.0);
        v.points.resize(nq, [0.0; 3]);
        v.phi.clear();
        v.phi.extend_from_slice(&self.phi);
        v.grad.clear();
        v.grad.resize(nq * n, [0.0; 3]);
        v.hessians.clone_from(&self.hessians);
        v.inverse_jacobians.resize(nq, [[0.0; 3]; 3]);
    }

    /// The physical point of quadrature point `q` on the cell with geometry
    /// nodes `x`, and the Jacobian `J[a][b] = d x_a / d xi_b` (all three
    /// physical coordinates `a`, reference directions `b < dim`).
    fn map(&self, q: usize, x: &[[f64; 3]]) -> ([f64; 3], [[f64; 3]; 3]) {
        let ng = self.geometry.num_dofs();
        let mut jac = [[0.0; 3]; 3];
        let mut p = [0.0; 3];
        for k in 0..ng {
            let (g, dg) = (self.gphi[q * ng + k], self.gdphi[q * ng + k]);
            for a in 0..3 {
                p[a] += g * x[k][a];
                for b in 0..self.dim {
                    jac[a][b] += x[k][a] * dg[b];
                }
            }
        }
        (p, jac)
    }

    /// Maps to the cell with geometry nodes `x` (cell number `cell` for errors).
    fn reinit(&self, cell: usize, x: &[[f64; 3]], v: &mut CellValues) -> Result<()> {
        let (n, d) = (self.element.num_dofs(), self.dim);
        v.cell = cell;
        for q in 0..self.quad.weights.len() {
            let (p, jac) = self.map(q, x);
            let (det, inv) = invert(&jac, d);
            if det == 0.0 || !det.is_finite() {
                return Err(FemError::DegenerateCell { cell, det });
            }
            v.weights[q] = self.quad.weights[q] * det.abs();
            v.points[q] = p;
            for i in 0..n {
                let r = self.dphi[q * n + i];
                // grad_x phi = J^{-T} grad_xi phi.
                v.grad[q * n + i] = std::array::from_fn(|c| {
                    if c < d {
                        (0..d).map(|b| inv[b][c] * r[b]).sum()
                    } else {
                        0.0
                    }
                });
            }
            v.inverse_jacobians[q] = inv;
        }
        Ok(())
    }
}

/// Determinant and inverse of the leading `d x d` block.
fn invert(m: &[[f64; 3]; 3], d: usize) -> (f64, [[f64; 3]; 3]) {
    let mut inv = [[0.0; 3]; 3];
    match d {
        1 => {
            inv[0][0] = 1.0 / m[0][0];
            (m[0][0], inv)
        }
        2 => {
            let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
            inv[0][0] = m[1][1] / det;
            inv[0][1] = -m[0][1] / det;
            inv[1][0] = -m[1][0] / det;
            inv[1][1] = m[0][0] / det;
            (det, inv)
        }
        _ => {
            let c = |i: usize, j: usize| {
                let (i1, i2, j1, j2) = ((i + 1) % 3, (i + 2) % 3, (j + 1) % 3, (j + 2) % 3);
                m[i1][j1] * m[i2][j2] - m[i1][j2] * m[i2][j1]
            };
            let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
            for i in 0..3 {
                for j in 0..3 {
                    inv[j][i] = c(i, j) / det;
                }
            }
            (det, inv)
        }
    }
}

/// The sparsity pattern of matrices on `space` (dofs sharing a cell).
pub fn pattern(space: &FunctionSpace) -> pde_mesh::Csr {
    let n = space.element().num_dofs();
    cell_adjacency(
        space.num_dofs(),
        space.all_cell_dofs().chunks_exact(n),
        true,
    )
}

/// Runs `work(cell, values, acc)` over all cells in parallel, one
/// accumulator per thread, and returns the accumulators. `values` holds the
/// basis of each of `spaces` (all on one mesh) at the same quadrature points.
pub(crate) fn over_cells<A: Send>(
    spaces: &[&FunctionSpace],
    quad_degree: usize,
    init: impl Fn() -> A + Sync,
    work: impl Fn(usize, &[CellValues], &mut A) + Sync,
) -> Result<Vec<A>> {
    let tabs: Vec<Tabulation> = spaces
        .iter()
        .map(|s| Tabulation::new(s.element(), s.geometry(), quad_degree))
        .collect();
    let first = spaces[0];
    let cells = first.num_cells();
    let threads = rayon::current_num_threads().max(1);
    let chunk = cells.div_ceil(threads).max(1);
    let mesh = first.mesh();
    (0..cells.div_ceil(chunk))
        .into_par_iter()
        .map(|t| {
            let mut acc = init();
            let mut values = vec![CellValues::default(); tabs.len()];
            for (tab, v) in tabs.iter().zip(values.iter_mut()) {
                tab.prepare(v);
            }
            let mut x = Vec::new();
            for c in t * chunk..((t + 1) * chunk).min(cells) {
                x.clear();
                x.extend(first.cell_nodes(c).iter().map(|&v| mesh.points[v]));
                for (tab, v) in tabs.iter().zip(values.iter_mut()) {
                    tab.reinit(c, &x, v)?;
                }
                work(c, &values, &mut acc);
            }
            Ok(acc)
        })
        .collect()
}

/// The local-to-global dof map of an assembly: `cell_dofs(c, out)` writes
/// the global dofs of cell `c` in the order of the kernel's local numbering.
pub(crate) trait CellDofs: Sync {
    /// Writes cell `c`'s dofs into `out` (cleared first).
    fn cell_dofs(&self, c: usize, out: &mut Vec<usize>);
}

impl CellDofs for FunctionSpace {
    fn cell_dofs(&self, c: usize, out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(FunctionSpace::cell_dofs(self, c));
    }
}

/// Zeroes the values of `a` and assembles into its (fixed) pattern:
/// `kernel(values, dofs, local)` adds the local matrix, row-major in the
/// local numbering of `map`.
pub(crate) fn matrix_into(
    a: &mut SparseMatrix,
    spaces: &[&FunctionSpace],
    map: &impl CellDofs,
    quad_degree: usize,
    kernel: impl Fn(&[CellValues], &[usize], &mut [f64]) + Sync,
) -> Result<()> {
    let nnz = a.val().len();
    let a_ref = &*a;
    let parts = over_cells(
        spaces,
        quad_degree,
        || (vec![0.0; nnz], Vec::new(), Vec::new()),
        |c, values, (acc, local, dofs)| {
            map.cell_dofs(c, dofs);
            let n = dofs.len();
            local.clear();
            local.resize(n * n, 0.0);
            kernel(values, dofs, local);
            for (i, &gi) in dofs.iter().enumerate() {
                for (j, &gj) in dofs.iter().enumerate() {
                    let k =
                        entry_index(a_ref, gi, gj).expect("pattern holds every cell's dof pairs");
                    acc[k] += local[i * n + j];
                }
            }
        },
    )?;
    let val = a.val_mut();
    val.iter_mut().for_each(|v| *v = 0.0);
    for (part, _, _) in parts {
        val.iter_mut().zip(part).for_each(|(v, p)| *v += p);
    }
    Ok(())
}

/// Assembles a vector of length `len`: `kernel(values, dofs, local)` adds
/// the local vector in the local numbering of `map`.
pub(crate) fn vector_over(
    len: usize,
    spaces: &[&FunctionSpace],
    map: &impl CellDofs,
    quad_degree: usize,
    kernel: impl Fn(&[CellValues], &[usize], &mut [f64]) + Sync,
) -> Result<Vec<f64>> {
    let parts = over_cells(
        spaces,
        quad_degree,
        || (vec![0.0; len], Vec::new(), Vec::new()),
        |c, values, (acc, local, dofs)| {
            map.cell_dofs(c, dofs);
            local.clear();
            local.resize(dofs.len(), 0.0);
            kernel(values, dofs, local);
            for (&g, l) in dofs.iter().zip(local.iter()) {
                acc[g] += l;
            }
        },
    )?;
    let mut b = vec![0.0; len];
    for (part, _, _) in parts {
        b.iter_mut().zip(part).for_each(|(v, p)| *v += p);
    }
    Ok(b)
}

/// Assembles the matrix of a bilinear form: `kernel(values, local)` adds the
/// `n x n` local matrix (row-major: test function `i`, trial function `j`)
/// of each cell. `quad_degree` is the polynomial degree integrated exactly.
pub fn assemble_matrix(
    space: &FunctionSpace,
    quad_degree: usize,
    kernel: impl Fn(&CellValues, &mut [f64]) + Sync,
) -> Result<SparseMatrix> {
    let mut a = zeros_with_pattern(pattern(space));
    reassemble_matrix(&mut a, space, quad_degree, kernel)?;
    Ok(a)
}

/// Assembles a bilinear form again into a matrix with the space's pattern
/// (from [`assemble_matrix`]), overwriting its values: the pattern, and a
/// direct solver's symbolic analysis of it, stay.
pub fn reassemble_matrix(
    a: &mut SparseMatrix,
    space: &FunctionSpace,
    quad_degree: usize,
    kernel: impl Fn(&CellValues, &mut [f64]) + Sync,
) -> Result<()> {
    matrix_into(a, &[space], space, quad_degree, |v, _, local| {
        kernel(&v[0], local)
    })
}

/// Assembles the vector of a linear form: `kernel(values, local)` adds the
/// local vector of each cell.
pub fn assemble_vector(
    space: &FunctionSpace,
    quad_degree: usize,
    kernel: impl Fn(&CellValues, &mut [f64]) + Sync,
) -> Result<Vec<f64>> {
    vector_over(
        space.num_dofs(),
        &[space],
        space,
        quad_degree,
        |v, _, local| kernel(&v[0], local),
    )
}

/// Integrates `f(x, values, q)` over the domain, summing over quadrature
/// points (used for functionals such as error norms).
pub fn integrate(
    space: &FunctionSpace,
    quad_degree: usize,
    f: impl Fn(usize, &CellValues, usize) -> f64 + Sync,
) -> Result<f64> {
    let parts = over_cells(
        &[space],
        quad_degree,
        || 0.0,
        |c, values, acc| {
            let v = &values[0];
            *acc += (0..v.num_points())
                .map(|q| v.weights[q] * f(c, v, q))
                .sum::<f64>();
        },
    )?;
    Ok(parts.into_iter().sum())
}

/// Assembles a boundary term over the cells of physical group `group`
/// (dimension `dim - 1`): `kernel(values, local)` adds the local vector of
/// each boundary cell, with the basis of the space restricted to it.
pub fn assemble_boundary_vector(
    space: &FunctionSpace,
    group: &str,
    quad_degree: usize,
    kernel: impl Fn(&CellValues, &mut [f64]),
) -> Result<Vec<f64>> {
    let mut b = vec![0.0; space.num_dofs()];
    over_boundary(space, group, quad_degree, |dofs, values, n| {
        let mut local = vec![0.0; n];
        kernel(values, &mut local);
        for (&g, l) in dofs.iter().zip(&local) {
            b[g] += l;
        }
    })?;
    Ok(b)
}

/// Adds a boundary bilinear form over group `group` to `a` (whose pattern is
/// [`pattern`] of the space): `kernel` adds the local matrix of each
/// boundary cell (e.g. the `alpha u v` of a Robin condition).
pub fn add_boundary_matrix(
    a: &mut SparseMatrix,
    space: &FunctionSpace,
    group: &str,
    quad_degree: usize,
    kernel: impl Fn(&CellValues, &mut [f64]),
) -> Result<()> {
    let mut entries = Vec::new();
    over_boundary(space, group, quad_degree, |dofs, values, n| {
        let mut local = vec![0.0; n * n];
        kernel(values, &mut local);
        for (i, &gi) in dofs.iter().enumerate() {
            for (j, &gj) in dofs.iter().enumerate() {
                entries.push((gi, gj, local[i * n + j]));
            }
        }
    })?;
    for (i, j, v) in entries {
        let k = entry_index(a, i, j).ok_or_else(|| {
            FemError::Unsupported(format!("entry ({i}, {j}) is not in the matrix pattern"))
        })?;
        a.val_mut()[k] += v;
    }
    Ok(())
}

/// Tabulates the space's trace on each boundary cell of `group` and calls
/// `f(dofs, values, num_local_dofs)`. Weights carry the surface measure.
fn over_boundary(
    space: &FunctionSpace,
    group: &str,
    quad_degree: usize,
    mut f: impl FnMut(&[usize], &CellValues, usize),
) -> Result<()> {
    let mesh = space.mesh();
    let g = mesh.group(group)?;
    if g.dim + 1 != space.dim() {
        return Err(FemError::Unsupported(format!(
            "boundary terms need a group of dimension {}; '{group}' has dimension {}",
            space.dim() - 1,
            g.dim
        )));
    }
    let mut values = CellValues::default();
    for c in mesh.cells_of(g) {
        let block = &mesh.blocks[c.block];
        let kind = block.kind;
        let element = Lagrange::new(kind, space.degree())
            .ok_or_else(|| FemError::Unsupported(format!("boundary cells of kind {kind}")))?;
        let geometry = Lagrange::new(kind, kind.order())
            .ok_or_else(|| FemError::Unsupported(format!("boundary cells of kind {kind}")))?;
        let nodes = block.cell(c.index);
        let corners = &nodes[..kind.num_corners()];
        let mut dofs: Vec<usize> = corners
            .iter()
            .map(|&v| {
                space.vertex_dof(v).ok_or_else(|| {
                    FemError::Unsupported(format!(
                        "boundary node {v} is not a vertex of the domain"
                    ))
                })
            })
            .collect::<Result<_>>()?;
        if space.degree() == 2 {
            dofs.extend(space.facet_edge_dofs(kind, corners)?);
        }
        let tab = Tabulation::new(element, geometry, quad_degree);
        let x: Vec<[f64; 3]> = nodes.iter().map(|&v| mesh.points[v]).collect();
        tab.reinit_facet(&x, &mut values);
        f(&dofs, &values, element.num_dofs());
    }
    Ok(())
}

impl Tabulation {
    /// Maps to a boundary cell (a line in 2D, a triangle in 3D): weights carry
    /// the length/area element; gradients are left zero.
    fn reinit_facet(&self, x: &[[f64; 3]], v: &mut CellValues) {
        self.prepare(v);
        for q in 0..self.quad.weights.len() {
            let (p, jac) = self.map(q, x);
            // Tangents are the Jacobian's columns.
            let t = |b: usize| [jac[0][b], jac[1][b], jac[2][b]];
            let measure = match self.dim {
                0 => 1.0,
                1 => t(0).iter().map(|c| c * c).sum::<f64>().sqrt(),
                _ => {
                    let (u, w) = (t(0), t(1));
                    let c = [
                        u[1] * w[2] - u[2] * w[1],
                        u[2] * w[0] - u[0] * w[2],
                        u[0] * w[1] - u[1] * w[0],
                    ];
                    c.iter().map(|v| v * v).sum::<f64>().sqrt()
                }
            };
            v.weights[q] = self.quad.weights[q] * measure;
            v.points[q] = p;
        }
    }
}

/// Kernel of `∫ κ(x) ∇u·∇v`.
pub fn laplace(kappa: impl Fn([f64; 3]) -> f64 + Sync) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    move |v, a| {
        let n = v.num_dofs;
        for q in 0..v.num_points() {
            let w = v.weights[q] * kappa(v.points[q]);
            let g = v.grad_at(q);
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] += w * (g[i][0] * g[j][0] + g[i][1] * g[j][1] + g[i][2] * g[j][2]);
                }
            }
        }
    }
}

/// Kernel of `∫ (β(x)·∇u) v` (advection by the velocity field `β`; not symmetric).
pub fn advection(
    beta: impl Fn([f64; 3]) -> [f64; 3] + Sync,
) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    advection_by(move |v, q| beta(v.points[q]))
}

/// Kernel of `∫ (β·∇u) v` with `β` given at each quadrature point `q` of
/// the cell (e.g. a finite-element velocity read through
/// [`CellValues::cell`]).
pub fn advection_by(
    beta: impl Fn(&CellValues, usize) -> [f64; 3] + Sync,
) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    move |v, a| {
        let n = v.num_dofs;
        for q in 0..v.num_points() {
            let b = beta(v, q);
            let (p, g) = (v.phi_at(q), v.grad_at(q));
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] +=
                        v.weights[q] * (b[0] * g[j][0] + b[1] * g[j][1] + b[2] * g[j][2]) * p[i];
                }
            }
        }
    }
}

/// Kernel of `∫ c(x) u v`.
pub fn mass(c: impl Fn([f64; 3]) -> f64 + Sync) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    move |v, a| {
        let n = v.num_dofs;
        for q in 0..v.num_points() {
            let w = v.weights[q] * c(v.points[q]);
            let p = v.phi_at(q);
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] += w * p[i] * p[j];
                }
            }
        }
    }
}

/// Kernel of `∫ f(x) v`.
pub fn source(f: impl Fn([f64; 3]) -> f64 + Sync) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    move |v, b| {
        for q in 0..v.num_points() {
            let w = v.weights[q] * f(v.points[q]);
            for (bi, p) in b.iter_mut().zip(v.phi_at(q)) {
                *bi += w * p;
            }
        }
    }
}

/// The streamline-upwind weights `τ (β·∇φ_i)` at quadrature point `q` for
/// velocity `beta` and diffusion `kappa`, written into `out`.
///
/// `τ = h / (2|β|) (coth Pe - 1/Pe)` with the cell Péclet number
/// `Pe = |β| h / (2κ)` and `h = 2|β| / Σ_i |β·∇φ_i|`, the cell's length
/// along the flow seen by its basis (Tezduyar's `h_UGN`, which also shrinks
/// with the degree). This is the choice that makes P1 SUPG nodally exact for
/// 1D advection–diffusion.
fn streamline_weights(v: &CellValues, q: usize, beta: [f64; 3], kappa: f64, out: &mut [f64]) {
    let g = v.grad_at(q);
    let speed = beta.iter().map(|b| b * b).sum::<f64>().sqrt();
    let mut sum = 0.0;
    for (o, gi) in out.iter_mut().zip(g) {
        *o = beta[0] * gi[0] + beta[1] * gi[1] + beta[2] * gi[2];
        sum += o.abs();
    }
    if speed == 0.0 || sum == 0.0 {
        out.iter_mut().for_each(|o| *o = 0.0);
        return;
    }
    let h = 2.0 * speed / sum;
    let peclet = speed * h / (2.0 * kappa.max(f64::MIN_POSITIVE));
    // coth(Pe) - 1/Pe, by its series where the closed form cancels.
    let xi = if peclet < 1e-3 {
        peclet / 3.0
    } else {
        1.0 / peclet.tanh() - 1.0 / peclet
    };
    let tau = h / (2.0 * speed) * xi;
    out.iter_mut().for_each(|o| *o *= tau);
}

/// Largest number of local basis functions of the elements (P2 on a tetrahedron).
const MAX_LOCAL_DOFS: usize = 10;

/// Calls `f(q, β, κ, s)` at every quadrature point of `v` with the
/// streamline-upwind weights `s_i = τ (β·∇φ_i)` there.
fn over_streamline_weights(
    v: &CellValues,
    beta: &impl Fn([f64; 3]) -> [f64; 3],
    kappa: &impl Fn([f64; 3]) -> f64,
    mut f: impl FnMut(usize, [f64; 3], f64, &[f64]),
) {
    let n = v.num_dofs;
    let mut s = [0.0; MAX_LOCAL_DOFS];
    for q in 0..v.num_points() {
        let x = v.points[q];
        let (b, k) = (beta(x), kappa(x));
        streamline_weights(v, q, b, k, &mut s[..n]);
        f(q, b, k, &s[..n]);
    }
}

/// Kernel of the SUPG terms of the operator `β·∇u - ∇·(κ∇u)`:
/// `Σ_cells ∫ (β·∇u - κΔu) τ (β·∇v)`. The diffusive part of the residual
/// (zero for P1) keeps P2 consistent, hence of optimal order; the `∇κ·∇u`
/// part of a variable coefficient is left out.
pub fn supg_operator(
    beta: impl Fn([f64; 3]) -> [f64; 3] + Sync,
    kappa: impl Fn([f64; 3]) -> f64 + Sync,
) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    move |v, a| {
        let n = v.num_dofs;
        over_streamline_weights(v, &beta, &kappa, |q, b, k, s| {
            let g = v.grad_at(q);
            let mut r = [0.0; MAX_LOCAL_DOFS];
            for (j, rj) in r[..n].iter_mut().enumerate() {
                *rj = b[0] * g[j][0] + b[1] * g[j][1] + b[2] * g[j][2] - k * v.laplacian(q, j);
            }
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] += v.weights[q] * s[i] * r[j];
                }
            }
        });
    }
}

/// Kernel of the SUPG term of an extra advection `c·∇u` (with `c` given
/// at each quadrature point, as in [`advection_by`]) stabilised along
/// `β`: `Σ_cells ∫ (c·∇u) τ (β·∇v)`. A moving mesh adds `c = −w` (its
/// velocity) to the residual SUPG weighs, which keeps it consistent.
pub fn supg_advection_by(
    beta: impl Fn([f64; 3]) -> [f64; 3] + Sync,
    kappa: impl Fn([f64; 3]) -> f64 + Sync,
    c: impl Fn(&CellValues, usize) -> [f64; 3] + Sync,
) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    move |v, a| {
        let n = v.num_dofs;
        over_streamline_weights(v, &beta, &kappa, |q, _, _, s| {
            let (g, c) = (v.grad_at(q), c(v, q));
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] +=
                        v.weights[q] * s[i] * (c[0] * g[j][0] + c[1] * g[j][1] + c[2] * g[j][2]);
                }
            }
        });
    }
}

/// Kernel of the SUPG term of `∂u/∂t`: `Σ_cells ∫ u τ (β·∇v)` (added to the
/// mass matrix, which keeps the stabilisation consistent in time).
pub fn supg_mass(
    beta: impl Fn([f64; 3]) -> [f64; 3] + Sync,
    kappa: impl Fn([f64; 3]) -> f64 + Sync,
) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    move |v, a| {
        let n = v.num_dofs;
        over_streamline_weights(v, &beta, &kappa, |q, _, _, s| {
            let p = v.phi_at(q);
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] += v.weights[q] * s[i] * p[j];
                }
            }
        });
    }
}

/// Kernel of the SUPG term of the source: `Σ_cells ∫ f τ (β·∇v)`.
pub fn supg_source(
    beta: impl Fn([f64; 3]) -> [f64; 3] + Sync,
    kappa: impl Fn([f64; 3]) -> f64 + Sync,
    f: impl Fn([f64; 3]) -> f64 + Sync,
) -> impl Fn(&CellValues, &mut [f64]) + Sync {
    move |v, b| {
        over_streamline_weights(v, &beta, &kappa, |q, _, _, s| {
            let w = v.weights[q] * f(v.points[q]);
            for (bi, si) in b.iter_mut().zip(s) {
                *bi += w * si;
            }
        });
    }
}
