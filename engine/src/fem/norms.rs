//! Error norms against exact solutions, with a quadrature of higher degree
//! than the element so that the integration error does not pollute rates.

use super::assembly::integrate;
use super::space::FunctionSpace;
use super::Result;

/// `‖u_h - u‖_{L2}`.
pub fn l2_error(
    space: &FunctionSpace,
    uh: &[f64],
    exact: impl Fn([f64; 3]) -> f64 + Sync,
) -> Result<f64> {
    let deg = 2 * space.degree() + 4;
    let e = integrate(space, deg, |c, v, q| {
        let local: Vec<f64> = space.cell_dofs(c).iter().map(|&d| uh[d]).collect();
        (v.value(q, &local) - exact(v.points[q])).powi(2)
    })?;
    Ok(e.sqrt())
}

/// `|u_h - u|_{H1}` (the L2 norm of the gradient error).
pub fn h1_seminorm_error(
    space: &FunctionSpace,
    uh: &[f64],
    grad_exact: impl Fn([f64; 3]) -> [f64; 3] + Sync,
) -> Result<f64> {
    let deg = 2 * space.degree() + 4;
    let e = integrate(space, deg, |c, v, q| {
        let local: Vec<f64> = space.cell_dofs(c).iter().map(|&d| uh[d]).collect();
        let (g, ge) = (v.gradient(q, &local), grad_exact(v.points[q]));
        (0..3).map(|k| (g[k] - ge[k]).powi(2)).sum()
    })?;
    Ok(e.sqrt())
}
