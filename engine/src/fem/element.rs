//! Lagrange basis functions on reference simplices (P1, P2), in barycentric
//! form. Local numbering: vertices, then one node per edge in the order of
//! `CellKind::edges()` (which is gmsh's mid-node order).

use pde_mesh::CellKind;

/// A Lagrange element: polynomial degree on a simplex of a given dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lagrange {
    /// The straight-sided cell kind (`Line2`, `Tri3` or `Tet4`).
    pub shape: CellKind,
    /// Polynomial degree, 1 or 2.
    pub degree: usize,
}

impl Lagrange {
    /// The element of `degree` on cells of `kind` (any order of geometry).
    pub fn new(kind: CellKind, degree: usize) -> Option<Lagrange> {
        let shape = kind.linear();
        (matches!(shape, CellKind::Line2 | CellKind::Tri3 | CellKind::Tet4)
            && (1..=2).contains(&degree))
        .then_some(Lagrange { shape, degree })
    }

    /// Reference dimension.
    pub fn dim(&self) -> usize {
        self.shape.dim()
    }

    /// Number of vertices.
    pub fn num_vertices(&self) -> usize {
        self.shape.num_corners()
    }

    /// Number of basis functions.
    pub fn num_dofs(&self) -> usize {
        match self.degree {
            1 => self.num_vertices(),
            _ => self.num_vertices() + self.shape.edges().len(),
        }
    }

    /// Barycentric coordinates of reference point `x`.
    fn barycentric(&self, x: &[f64; 3]) -> [f64; 4] {
        let d = self.dim();
        let mut l = [0.0; 4];
        l[0] = 1.0 - x[..d].iter().sum::<f64>();
        l[1..=d].copy_from_slice(&x[..d]);
        l
    }

    /// Reference gradient of barycentric coordinate `i`.
    fn barycentric_grad(&self, i: usize) -> [f64; 3] {
        let mut g = [0.0; 3];
        if i == 0 {
            g[..self.dim()].iter_mut().for_each(|v| *v = -1.0);
        } else {
            g[i - 1] = 1.0;
        }
        g
    }

    /// Values of all basis functions at reference point `x`.
    pub fn values(&self, x: &[f64; 3], out: &mut [f64]) {
        let l = self.barycentric(x);
        let nv = self.num_vertices();
        if self.degree == 1 {
            out[..nv].copy_from_slice(&l[..nv]);
            return;
        }
        for i in 0..nv {
            out[i] = l[i] * (2.0 * l[i] - 1.0);
        }
        for (k, e) in self.shape.edges().iter().enumerate() {
            out[nv + k] = 4.0 * l[e[0]] * l[e[1]];
        }
    }

    /// Reference gradients of all basis functions at reference point `x`.
    pub fn gradients(&self, x: &[f64; 3], out: &mut [[f64; 3]]) {
        let l = self.barycentric(x);
        let nv = self.num_vertices();
        let g: Vec<[f64; 3]> = (0..nv).map(|i| self.barycentric_grad(i)).collect();
        if self.degree == 1 {
            out[..nv].copy_from_slice(&g);
            return;
        }
        for i in 0..nv {
            out[i] = g[i].map(|gi| (4.0 * l[i] - 1.0) * gi);
        }
        for (k, e) in self.shape.edges().iter().enumerate() {
            let (a, b) = (e[0], e[1]);
            out[nv + k] = std::array::from_fn(|c| 4.0 * (g[a][c] * l[b] + l[a] * g[b][c]));
        }
    }

    /// Reference Hessians of all basis functions (constant on the cell: zero
    /// for P1; for P2 `4 ∇λ_i ∇λ_iᵀ` at vertices and
    /// `4 (∇λ_a ∇λ_bᵀ + ∇λ_b ∇λ_aᵀ)` at edges).
    pub fn hessians(&self, out: &mut [[[f64; 3]; 3]]) {
        let nv = self.num_vertices();
        out.iter_mut().for_each(|h| *h = [[0.0; 3]; 3]);
        if self.degree == 1 {
            return;
        }
        let g: Vec<[f64; 3]> = (0..nv).map(|i| self.barycentric_grad(i)).collect();
        let outer = |a: usize, b: usize| -> [[f64; 3]; 3] {
            std::array::from_fn(|r| std::array::from_fn(|c| 4.0 * g[a][r] * g[b][c]))
        };
        for (i, h) in out[..nv].iter_mut().enumerate() {
            *h = outer(i, i);
        }
        for (k, e) in self.shape.edges().iter().enumerate() {
            let (ab, ba) = (outer(e[0], e[1]), outer(e[1], e[0]));
            out[nv + k] = std::array::from_fn(|r| std::array::from_fn(|c| ab[r][c] + ba[r][c]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference coordinates of the local nodes.
    fn nodes(e: &Lagrange) -> Vec<[f64; 3]> {
        let mut v: Vec<[f64; 3]> = vec![[0.0; 3]];
        for i in 0..e.dim() {
            let mut p = [0.0; 3];
            p[i] = 1.0;
            v.push(p);
        }
        if e.degree == 2 {
            for edge in e.shape.edges() {
                let (a, b) = (v[edge[0]], v[edge[1]]);
                v.push(std::array::from_fn(|c| 0.5 * (a[c] + b[c])));
            }
        }
        v
    }

    #[test]
    fn nodal_basis_and_gradients() {
        for shape in [CellKind::Line2, CellKind::Tri3, CellKind::Tet4] {
            for degree in [1, 2] {
                let e = Lagrange::new(shape, degree).unwrap();
                let n = e.num_dofs();
                let pts = nodes(&e);
                assert_eq!(pts.len(), n);
                let mut phi = vec![0.0; n];
                for (i, p) in pts.iter().enumerate() {
                    e.values(p, &mut phi);
                    for (j, v) in phi.iter().enumerate() {
                        assert!(
                            (v - f64::from(u8::from(i == j))).abs() < 1e-14,
                            "{shape} P{degree}"
                        );
                    }
                }
                // Gradients against central differences at an interior point.
                let x = [0.21, 0.17, 0.13];
                let mut g = vec![[0.0; 3]; n];
                e.gradients(&x, &mut g);
                let h = 1e-6;
                for c in 0..e.dim() {
                    let (mut xp, mut xm) = (x, x);
                    xp[c] += h;
                    xm[c] -= h;
                    let (mut fp, mut fm) = (vec![0.0; n], vec![0.0; n]);
                    e.values(&xp, &mut fp);
                    e.values(&xm, &mut fm);
                    for i in 0..n {
                        assert!(((fp[i] - fm[i]) / (2.0 * h) - g[i][c]).abs() < 1e-8);
                    }
                }
                // Partition of unity.
                e.values(&x, &mut phi);
                assert!((phi.iter().sum::<f64>() - 1.0).abs() < 1e-14);
            }
        }
    }
}
