//! Polynomial extrapolation in time through equally spaced states: the
//! baseline a learned stepper with a window of states corrects, and the
//! controls it must beat (persistence, linear, quadratic, cubic).

/// The most states a stepper's window (and an extrapolation) runs through:
/// cubic extrapolation.
pub const MAX_WINDOW: usize = 4;

/// The most steps one prediction covers (temporal bundling), of a stepper
/// or an extrapolation.
pub const MAX_BUNDLE: usize = 16;

/// The weights of the extrapolation of degree `m − 1` through `m` equally
/// spaced states, oldest first: `x_{n+1} ≈ Σ w_k x_k`. One state:
/// persistence `[1]`; two: linear `[−1, 2]`; three: quadratic `[1, −3, 3]`;
/// four: cubic `[−1, 4, −6, 4]`.
pub fn weights(m: usize) -> Vec<f64> {
    weights_ahead(m, 1)
}

/// The weights of the same extrapolation `k` steps ahead: `x_{n+k} ≈ Σ w_j
/// x_j` (the Lagrange polynomial through the `m` states, at `n + k`; e.g.
/// linear, `k` ahead: `[−k, 1 + k]`). Integers, computed exactly.
pub fn weights_ahead(m: usize, k: usize) -> Vec<f64> {
    // The states sit at 0..m, the point asked for at s = m − 1 + k.
    let s = (m - 1 + k) as i64;
    (0..m as i64)
        .map(|j| {
            let (mut numerator, mut denominator) = (1i64, 1i64);
            for i in (0..m as i64).filter(|&i| i != j) {
                numerator *= s - i;
                denominator *= j - i;
            }
            (numerator / denominator) as f64
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::weights;

    /// Degree `m − 1` extrapolation is exact for polynomials of that degree.
    #[test]
    fn extrapolation_is_exact_for_polynomials_of_its_degree() {
        assert_eq!(weights(1), [1.0]);
        assert_eq!(weights(2), [-1.0, 2.0]);
        assert_eq!(weights(3), [1.0, -3.0, 3.0]);
        assert_eq!(weights(4), [-1.0, 4.0, -6.0, 4.0]);
        let p = |t: f64| 0.5 - 2.0 * t + 0.25 * t * t * t;
        let next: f64 = weights(4)
            .iter()
            .enumerate()
            .map(|(k, w)| w * p(k as f64))
            .sum();
        assert!((next - p(4.0)).abs() < 1e-12, "{next}");
        // One degree short, it is not.
        let next: f64 = weights(3)
            .iter()
            .enumerate()
            .map(|(k, w)| w * p(k as f64 + 1.0))
            .sum();
        assert!((next - p(4.0)).abs() > 0.1, "{next}");
    }

    /// `k` steps ahead, the same polynomial is exact `k` steps out.
    #[test]
    fn extrapolation_ahead_is_exact_for_polynomials_of_its_degree() {
        use super::weights_ahead;
        assert_eq!(weights_ahead(1, 5), [1.0]);
        assert_eq!(weights_ahead(2, 3), [-3.0, 4.0]);
        let p = |t: f64| 0.5 - 2.0 * t + 0.25 * t * t * t;
        for k in 1..=8 {
            let ahead: f64 = weights_ahead(4, k)
                .iter()
                .enumerate()
                .map(|(j, w)| w * p(j as f64))
                .sum();
            assert!((ahead - p(3.0 + k as f64)).abs() < 1e-9, "{k}: {ahead}");
        }
    }
}
