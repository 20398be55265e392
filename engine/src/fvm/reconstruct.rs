//! Second-order reconstruction: cell gradients by weighted least squares
//! over the face neighbours, and slope limiters that keep the values
//! reconstructed at the faces within the range of the neighbouring cell
//! averages (Barth–Jespersen), or nearly so and smoothly (Venkatakrishnan).

use rayon::prelude::*;

use super::geometry::{dot3, FvMesh};

/// Slope limiters of the MUSCL reconstruction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limiter {
    /// No limiting (second order also at extrema; oscillates at jumps).
    None,
    /// Barth–Jespersen (1989): the largest slope that keeps every face
    /// value within the min/max of the cell and its neighbours.
    BarthJespersen,
    /// Venkatakrishnan (1995): a smooth version, which lets small
    /// oscillations of size `(k h)^1.5` through and converges better;
    /// `k` ≈ 0.3–5.
    Venkatakrishnan(f64),
}

/// Weighted least-squares gradients: for each cell the inverse of
/// `Σ w d dᵀ` over its face neighbours (`d` the centroid offset,
/// `w = 1/|d|²`), computed once.
#[derive(Clone, Debug)]
pub struct LeastSquares {
    /// Row-major 3×3 inverses (zero where the neighbours do not span the
    /// space: those cells get a zero gradient, i.e. first order).
    inverse: Vec<[f64; 9]>,
}

/// The face neighbours of `cell` with their centroid offsets.
fn neighbours(mesh: &FvMesh, cell: usize) -> impl Iterator<Item = (usize, [f64; 3])> + '_ {
    mesh.cell_faces
        .row(cell)
        .iter()
        .filter_map(move |&f| mesh.across(f, cell))
}

/// Inverse of a symmetric `dim`×`dim` matrix stored 3×3 row-major; zero if
/// it is (nearly) singular.
fn inverse(m: [f64; 9], dim: usize) -> [f64; 9] {
    let scale = (0..dim).map(|k| m[4 * k]).fold(0.0f64, f64::max);
    let tiny = 1e-12 * scale.powi(dim as i32);
    if dim == 2 {
        let det = m[0] * m[4] - m[1] * m[3];
        if det.abs() <= tiny || det == 0.0 {
            return [0.0; 9];
        }
        return [
            m[4] / det,
            -m[1] / det,
            0.0,
            -m[3] / det,
            m[0] / det,
            0.0,
            0.0,
            0.0,
            0.0,
        ];
    }
    let c = |i: usize, j: usize| m[3 * i + j];
    let cof = |i: usize, j: usize| {
        let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
        let (j1, j2) = ((j + 1) % 3, (j + 2) % 3);
        c(i1, j1) * c(i2, j2) - c(i1, j2) * c(i2, j1)
    };
    let det = c(0, 0) * cof(0, 0) + c(0, 1) * cof(0, 1) + c(0, 2) * cof(0, 2);
    if det.abs() <= tiny || det == 0.0 {
        return [0.0; 9];
    }
    std::array::from_fn(|k| cof(k % 3, k / 3) / det)
}

impl LeastSquares {
    /// The least-squares operators of `mesh`'s cells.
    pub fn new(mesh: &FvMesh) -> Self {
        let inverse = (0..mesh.num_cells())
            .map(|c| {
                let mut m = [0.0; 9];
                for (_, d) in neighbours(mesh, c) {
                    let w = 1.0 / dot3(d, d);
                    for i in 0..3 {
                        for j in 0..3 {
                            m[3 * i + j] += w * d[i] * d[j];
                        }
                    }
                }
                inverse(m, mesh.dim)
            })
            .collect();
        LeastSquares { inverse }
    }

    /// The gradient of each of the `N` components in every cell.
    pub fn gradients<const N: usize>(&self, mesh: &FvMesh, u: &[[f64; N]]) -> Vec<[[f64; 3]; N]> {
        (0..mesh.num_cells())
            .into_par_iter()
            .map(|c| {
                let mut rhs = [[0.0; 3]; N];
                for (other, d) in neighbours(mesh, c) {
                    let w = 1.0 / dot3(d, d);
                    for k in 0..N {
                        let du = u[other][k] - u[c][k];
                        (0..3).for_each(|i| rhs[k][i] += w * d[i] * du);
                    }
                }
                let inv = &self.inverse[c];
                rhs.map(|r| std::array::from_fn(|i| (0..3).map(|j| inv[3 * i + j] * r[j]).sum()))
            })
            .collect()
    }
}

/// Scales each cell's gradients by the limiter's factor in `[0, 1]`.
pub fn limit<const N: usize>(
    mesh: &FvMesh,
    limiter: Limiter,
    u: &[[f64; N]],
    gradients: &mut [[[f64; 3]; N]],
) {
    if limiter == Limiter::None {
        return;
    }
    gradients.par_iter_mut().enumerate().for_each(|(c, g)| {
        let mut lo = u[c];
        let mut hi = u[c];
        for (other, _) in neighbours(mesh, c) {
            for k in 0..N {
                lo[k] = lo[k].min(u[other][k]);
                hi[k] = hi[k].max(u[other][k]);
            }
        }
        let eps2 = match limiter {
            Limiter::Venkatakrishnan(k) => (k * mesh.volume[c].powf(1.0 / mesh.dim as f64)).powi(3),
            _ => 0.0,
        };
        for k in 0..N {
            let mut phi = 1.0f64;
            for &f in mesh.cell_faces.row(c) {
                let x = mesh.face_point(f, c);
                let xc = mesh.centroid[c];
                let d2 = dot3(g[k], [x[0] - xc[0], x[1] - xc[1], x[2] - xc[2]]);
                if d2 == 0.0 {
                    continue;
                }
                let d1 = if d2 > 0.0 {
                    hi[k] - u[c][k]
                } else {
                    lo[k] - u[c][k]
                };
                let phi_f = match limiter {
                    Limiter::Venkatakrishnan(_) => {
                        ((d1 * d1 + eps2) + 2.0 * d2 * d1)
                            / (d1 * d1 + 2.0 * d2 * d2 + d1 * d2 + eps2)
                    }
                    _ => (d1 / d2).min(1.0),
                };
                phi = phi.min(phi_f);
            }
            let phi = phi.max(0.0);
            g[k].iter_mut().for_each(|v| *v *= phi);
        }
    });
}
