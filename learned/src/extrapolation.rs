//! Polynomial extrapolation in time through equally spaced states: the
//! baseline a learned stepper with a window of states corrects, and the
//! controls it must beat (persistence, linear, quadratic, cubic).

/// The most states a stepper's window (and an extrapolation) runs through:
/// cubic extrapolation.
pub const MAX_WINDOW: usize = 4;

/// The weights of the extrapolation of degree `m − 1` through `m` equally
/// spaced states, oldest first: `x_{n+1} ≈ Σ w_k x_k`. One state:
/// persistence `[1]`; two: linear `[−1, 2]`; three: quadratic `[1, −3, 3]`;
/// four: cubic `[−1, 4, −6, 4]`.
pub fn weights(m: usize) -> Vec<f64> {
    // (−1)^j binom(m, j + 1) for the state j steps back.
    let mut weights = vec![0.0; m];
    let mut binomial = 1.0;
    for j in 0..m {
        binomial *= (m - j) as f64 / (j + 1) as f64;
        let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
        weights[m - 1 - j] = sign * binomial;
    }
    weights
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
}
