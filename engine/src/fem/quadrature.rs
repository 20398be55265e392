//! Quadrature rules on the reference line, triangle and tetrahedron.
//!
//! Simplex rules are collapsed (Duffy) tensor products of Gauss–Legendre
//! rules: positive weights, points inside the cell, and exactness to any
//! requested polynomial degree.

/// A quadrature rule on a reference cell: points (first `dim` coordinates
/// used) and weights summing to the cell's measure.
#[derive(Clone, Debug, PartialEq)]
pub struct Quadrature {
    /// Reference coordinates of the points.
    pub points: Vec<[f64; 3]>,
    /// Weights.
    pub weights: Vec<f64>,
}

/// Gauss–Legendre rule with `n` points on `[0, 1]` (exact to degree `2n - 1`).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let n = n.max(1);
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        // Newton on P_n from Chebyshev-like initial guesses on [-1, 1].
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, z);
            for k in 2..=n {
                let p2 = ((2 * k - 1) as f64 * z * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            let pn = if n == 1 { z } else { p1 };
            let pnm1 = if n == 1 { 1.0 } else { p0 };
            dp = n as f64 * (z * pn - pnm1) / (z * z - 1.0);
            let dz = pn / dp;
            z -= dz;
            if dz.abs() < 1e-16 {
                break;
            }
        }
        let weight = 2.0 / ((1.0 - z * z) * dp * dp);
        // Map [-1, 1] to [0, 1].
        x[i] = 0.5 * (1.0 - z);
        x[n - 1 - i] = 0.5 * (1.0 + z);
        w[i] = 0.5 * weight;
        w[n - 1 - i] = 0.5 * weight;
    }
    (x, w)
}

/// A rule exact for polynomials of total degree `degree` on the reference
/// simplex of dimension `dim` (1: `[0, 1]`; 2: triangle `(0,0),(1,0),(0,1)`;
/// 3: tetrahedron with vertices at the origin and the unit vectors).
pub fn simplex(dim: usize, degree: usize) -> Quadrature {
    if let Some(rule) = symmetric(dim, degree) {
        return rule;
    }
    let mut points = Vec::new();
    let mut weights = Vec::new();
    match dim {
        0 => {
            points.push([0.0; 3]);
            weights.push(1.0);
        }
        1 => {
            let (x, w) = gauss_legendre((degree + 1).div_ceil(2));
            for (xi, wi) in x.into_iter().zip(w) {
                points.push([xi, 0.0, 0.0]);
                weights.push(wi);
            }
        }
        2 => {
            // x = u, y = v (1 - u), dx dy = (1 - u) du dv: degree + 1 in u.
            let (x, w) = gauss_legendre((degree + 2).div_ceil(2));
            for (u, wu) in x.iter().zip(&w) {
                for (v, wv) in x.iter().zip(&w) {
                    points.push([*u, v * (1.0 - u), 0.0]);
                    weights.push(wu * wv * (1.0 - u));
                }
            }
        }
        _ => {
            // x = u, y = v (1 - u), z = w (1 - u)(1 - v): Jacobian (1-u)^2 (1-v).
            let (x, w) = gauss_legendre((degree + 3).div_ceil(2));
            for (u, wu) in x.iter().zip(&w) {
                for (v, wv) in x.iter().zip(&w) {
                    for (s, ws) in x.iter().zip(&w) {
                        points.push([*u, v * (1.0 - u), s * (1.0 - u) * (1.0 - v)]);
                        weights.push(wu * wv * ws * (1.0 - u) * (1.0 - u) * (1.0 - v));
                    }
                }
            }
        }
    }
    Quadrature { points, weights }
}

/// The minimal symmetric rules of degree 1 and 2 on triangles and
/// tetrahedra (the centroid; the 3- and 4-point rules), which the collapsed
/// rules beat in point count only from degree 3 on. Low-degree forms (P1
/// stiffness, loads) are the hot paths of assembly.
fn symmetric(dim: usize, degree: usize) -> Option<Quadrature> {
    let rule = |points: Vec<[f64; 3]>, volume: f64| {
        let w = volume / points.len() as f64;
        Quadrature {
            weights: vec![w; points.len()],
            points,
        }
    };
    match (dim, degree) {
        (2, 0 | 1) => Some(rule(vec![[1.0 / 3.0, 1.0 / 3.0, 0.0]], 0.5)),
        (2, 2) => {
            let (a, b) = (1.0 / 6.0, 2.0 / 3.0);
            Some(rule(vec![[a, a, 0.0], [b, a, 0.0], [a, b, 0.0]], 0.5))
        }
        (3, 0 | 1) => Some(rule(vec![[0.25; 3]], 1.0 / 6.0)),
        (3, 2) => {
            // Barycentric (a, b, b, b) and its permutations.
            let a = 0.585_410_196_624_968_5;
            let b = 0.138_196_601_125_010_5;
            Some(rule(
                vec![[b, b, b], [a, b, b], [b, a, b], [b, b, a]],
                1.0 / 6.0,
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factorial(n: u32) -> f64 {
        (1..=n).map(f64::from).product()
    }

    #[test]
    fn simplex_rules_integrate_monomials_exactly() {
        for degree in 0..=10 {
            let tri = simplex(2, degree);
            let tet = simplex(3, degree);
            for a in 0..=degree as u32 {
                for b in 0..=(degree as u32 - a) {
                    let exact = factorial(a) * factorial(b) / factorial(a + b + 2);
                    let q: f64 = tri
                        .points
                        .iter()
                        .zip(&tri.weights)
                        .map(|(p, w)| w * p[0].powi(a as i32) * p[1].powi(b as i32))
                        .sum();
                    assert!(
                        (q - exact).abs() < 1e-14,
                        "triangle x^{a} y^{b}: {q} vs {exact}"
                    );
                    for c in 0..=(degree as u32 - a - b) {
                        let exact =
                            factorial(a) * factorial(b) * factorial(c) / factorial(a + b + c + 3);
                        let q: f64 = tet
                            .points
                            .iter()
                            .zip(&tet.weights)
                            .map(|(p, w)| {
                                w * p[0].powi(a as i32) * p[1].powi(b as i32) * p[2].powi(c as i32)
                            })
                            .sum();
                        assert!(
                            (q - exact).abs() < 1e-14,
                            "tet x^{a} y^{b} z^{c}: {q} vs {exact}"
                        );
                    }
                }
            }
            let line = simplex(1, degree);
            let q: f64 = line
                .points
                .iter()
                .zip(&line.weights)
                .map(|(p, w)| w * p[0].powi(degree as i32))
                .sum();
            assert!((q - 1.0 / (degree as f64 + 1.0)).abs() < 1e-14);
        }
    }
}
