//! The time steps: variable-step SBDF2 / BDF2, their Richardson-extrapolated
//! Euler start, the per-species diffusion solves, Newton's iteration, the
//! nodal reaction and the local error estimate.

use rayon::prelude::*;

use super::model::{Boundary, NewtonReport, ReactionDiffusion, Scheme, State};
use super::reaction::MAX_SPECIES;
use crate::fem::{assembly, bc};
use crate::linalg::{spmv, LinearSolver};
use crate::physics::PhysicsError;

/// Nodes below which the nodal reaction runs on one thread.
const PARALLEL_NODES: usize = 4096;

impl ReactionDiffusion {
    /// The state at `time() + dt` and the Newton iterations it took.
    pub(super) fn advance(&mut self, dt: f64) -> Result<(Vec<f64>, usize), PhysicsError> {
        let imex = self.scheme == Scheme::Imex;
        let len = self.history.len();
        for k in len.saturating_sub(2)..len {
            if imex && self.history[k].reaction.is_none() {
                let s = &self.history[k];
                let r = self.nodal_reaction(s.t, &s.u);
                self.history[k].reaction = Some(r);
            }
        }
        self.last_newton = (!imex).then(NewtonReport::default);
        let State { t, u, reaction } = self.latest().clone();
        if self.order == 2 && len >= 2 {
            // Variable-step BDF2 with w = dt_n / dt_{n-1}; SBDF2 takes the
            // reaction at t + dt from the linear extrapolation of the last two.
            let previous = &self.history[len - 2];
            let w = dt / (t - previous.t);
            let alpha = (1.0 + 2.0 * w) / (1.0 + w);
            let (c0, c1) = (1.0 + w, w * w / (1.0 + w));
            let mut y: Vec<f64> = u
                .iter()
                .zip(&previous.u)
                .map(|(a, b)| c0 * a - c1 * b)
                .collect();
            let guess: Vec<f64> = u
                .iter()
                .zip(&previous.u)
                .map(|(a, b)| a + w * (a - b))
                .collect();
            if let (Some(r), Some(r1)) = (&reaction, &previous.reaction) {
                y.iter_mut()
                    .zip(r.iter().zip(r1))
                    .for_each(|(yi, (a, b))| *yi += dt * ((1.0 + w) * a - w * b));
            }
            return self.implicit(t + dt, alpha, dt, y, guess);
        }
        let full = self.euler(t, &u, reaction.as_deref(), dt)?;
        if self.order == 1 {
            return Ok(full);
        }
        // Start of a second-order run: Richardson extrapolation of two half
        // Euler steps and a full one has a local error O(dt^3), as the
        // two-step steps that follow.
        let half = self.euler(t, &u, reaction.as_deref(), 0.5 * dt)?;
        let r_half = imex.then(|| self.nodal_reaction(t + 0.5 * dt, &half.0));
        let second = self.euler(t + 0.5 * dt, &half.0, r_half.as_deref(), 0.5 * dt)?;
        let u_new = second
            .0
            .iter()
            .zip(&full.0)
            .map(|(b, a)| 2.0 * b - a)
            .collect();
        Ok((u_new, full.1 + half.1 + second.1))
    }

    /// One IMEX Euler (with `reaction`, the nodal reaction of `u`) or
    /// backward Euler (without) step from `(t, u)`.
    fn euler(
        &mut self,
        t: f64,
        u: &[f64],
        reaction: Option<&[f64]>,
        dt: f64,
    ) -> Result<(Vec<f64>, usize), PhysicsError> {
        let mut y = u.to_vec();
        if let Some(r) = reaction {
            y.iter_mut().zip(r).for_each(|(yi, ri)| *yi += dt * ri);
        }
        self.implicit(t + dt, 1.0, dt, y, u.to_vec())
    }

    /// Solves `α M u + dt D K u = M y + dt (M R(u) + b)(t_new)` for `u`, the
    /// reaction part left out under IMEX (there `y` holds it).
    fn implicit(
        &mut self,
        t_new: f64,
        alpha: f64,
        dt: f64,
        y: Vec<f64>,
        guess: Vec<f64>,
    ) -> Result<(Vec<f64>, usize), PhysicsError> {
        match self.scheme {
            Scheme::Imex => {
                let n = self.space.num_dofs();
                let mut u = Vec::with_capacity(y.len());
                for (i, yi) in y.chunks(n).enumerate() {
                    u.extend(self.diffusion_solve(i, t_new, alpha, dt, yi)?);
                }
                Ok((u, 0))
            }
            Scheme::Newton {
                tolerance,
                max_iterations,
            } => self.newton(t_new, alpha, dt, &y, guess, tolerance, max_iterations),
        }
    }

    /// `(α M + dt D_i K) u_i = M y_i + dt b_i(t_new)` for species `i`.
    fn diffusion_solve(
        &mut self,
        i: usize,
        t_new: f64,
        alpha: f64,
        dt: f64,
        y: &[f64],
    ) -> Result<Vec<f64>, PhysicsError> {
        let (fixed, values) = self.dirichlet(i, t_new);
        let d = self.diffusion[i];
        if d == 0.0 && fixed.is_empty() {
            // M cancels: a pure ODE at each dof.
            return Ok(y.iter().map(|v| v / alpha).collect());
        }
        let mut b = vec![0.0; y.len()];
        spmv(&self.mass, y, &mut b);
        b.iter_mut().for_each(|v| *v /= alpha);
        if let Some(flux) = self.flux(i, t_new)? {
            b.iter_mut()
                .zip(flux)
                .for_each(|(v, f)| *v += dt / alpha * f);
        }
        let mut u = y.to_vec();
        self.factors.solve(
            &self.mass,
            &self.stiffness,
            dt * d / alpha,
            &fixed,
            &values,
            &mut b,
            &mut u,
        )?;
        Ok(u)
    }

    /// Newton's method on all species for the fully implicit stage.
    #[allow(clippy::too_many_arguments)]
    fn newton(
        &mut self,
        t_new: f64,
        alpha: f64,
        dt: f64,
        y: &[f64],
        mut u: Vec<f64>,
        tolerance: f64,
        max_iterations: usize,
    ) -> Result<(Vec<f64>, usize), PhysicsError> {
        let (ns, n) = (self.reaction.len(), self.space.num_dofs());
        let mut fixed = Vec::new();
        let mut fluxes = Vec::with_capacity(ns);
        for i in 0..ns {
            let (dofs, values) = self.dirichlet(i, t_new);
            for (d, v) in dofs.into_iter().zip(values) {
                u[i * n + d] = v;
                fixed.push(i * n + d);
            }
            fluxes.push(self.flux(i, t_new)?);
        }
        let entries = self.reaction.jacobian_entries()?;
        let mut jac = vec![vec![0.0; n]; entries.len()];
        let mut updates = Vec::new();
        let (mut tmp, mut mass_part, mut stiff_part) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut delta = vec![0.0; ns * n];
        for _ in 0..max_iterations {
            let r = self.nodal_reaction(t_new, &u);
            self.nodal_jacobian(t_new, &u, &entries, &mut jac)?;
            // -G(u), G = M (α u - y - dt R(u)) + dt D K u - dt b.
            let mut rhs = vec![0.0; ns * n];
            for (i, (flux, d)) in fluxes.iter().zip(&self.diffusion).enumerate() {
                let s = i * n..(i + 1) * n;
                tmp.iter_mut()
                    .zip(u[s.clone()].iter().zip(&y[s.clone()]).zip(&r[s.clone()]))
                    .for_each(|(t, ((ui, yi), ri))| *t = alpha * ui - yi - dt * ri);
                spmv(&self.mass, &tmp, &mut mass_part);
                spmv(&self.stiffness, &u[s.clone()], &mut stiff_part);
                for (k, g) in rhs[s].iter_mut().enumerate() {
                    let b = flux.as_ref().map_or(0.0, |f| f[k]);
                    *g = -(mass_part[k] + dt * d * stiff_part[k] - dt * b);
                }
            }
            let system = self
                .jacobian
                .as_mut()
                .expect("built when the Newton scheme was set");
            system.fill(
                &self.mass,
                &self.stiffness,
                alpha,
                dt,
                &self.diffusion,
                &jac,
            );
            bc::apply_dirichlet(
                &mut system.matrix,
                &mut rhs,
                &fixed,
                &vec![0.0; fixed.len()],
            );
            system.lu.solve(&system.matrix, &rhs, &mut delta)?;
            u.iter_mut().zip(&delta).for_each(|(a, d)| *a += d);
            let update = (0..ns)
                .map(|i| {
                    let s = i * n..(i + 1) * n;
                    let size = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
                    size(&delta[s.clone()]) / (1.0 + size(&u[s]))
                })
                .fold(0.0f64, f64::max);
            updates.push(update);
            if update <= tolerance {
                let report = self.last_newton.get_or_insert_with(NewtonReport::default);
                report.iterations += updates.len();
                let iterations = updates.len();
                report.updates = updates;
                return Ok((u, iterations));
            }
            if !update.is_finite() {
                break;
            }
        }
        let updates: Vec<String> = updates.iter().map(|u| format!("{u:.2e}")).collect();
        Err(PhysicsError::NotConverged(format!(
            "Newton did not converge at t = {t_new:.6e} in {max_iterations} iterations \
             (updates {}, tolerance {tolerance:.1e}); try a smaller step",
            updates.join(", ")
        )))
    }

    /// Species-major `R_i(u, x_k, t)` at every dof `k`.
    pub(super) fn nodal_reaction(&self, t: f64, u: &[f64]) -> Vec<f64> {
        let (ns, n) = (self.reaction.len(), self.space.num_dofs());
        let mut nodal = vec![0.0; ns * n];
        let at_node = |(k, out): (usize, &mut [f64])| {
            let mut uk = [0.0; MAX_SPECIES];
            for (i, v) in uk[..ns].iter_mut().enumerate() {
                *v = u[i * n + k];
            }
            self.reaction
                .eval(&uk[..ns], self.space.dof_points()[k], t, out);
        };
        if n < PARALLEL_NODES {
            nodal.chunks_mut(ns).enumerate().for_each(at_node);
        } else {
            nodal.par_chunks_mut(ns).enumerate().for_each(at_node);
        }
        // Node-major (for the parallel loop) to species-major.
        let mut r = vec![0.0; ns * n];
        for (k, values) in nodal.chunks(ns).enumerate() {
            for (i, v) in values.iter().enumerate() {
                r[i * n + k] = *v;
            }
        }
        r
    }

    /// `jac[e][k] = ∂R_i/∂u_j` at dof `k` for the entries `e = (i, j)`.
    fn nodal_jacobian(
        &self,
        t: f64,
        u: &[f64],
        entries: &[(usize, usize)],
        jac: &mut [Vec<f64>],
    ) -> Result<(), PhysicsError> {
        let (ns, n) = (self.reaction.len(), self.space.num_dofs());
        let mut uk = [0.0; MAX_SPECIES];
        let mut full = vec![0.0; ns * ns];
        for (k, &p) in self.space.dof_points().iter().enumerate() {
            for (i, v) in uk[..ns].iter_mut().enumerate() {
                *v = u[i * n + k];
            }
            self.reaction.jacobian(&uk[..ns], p, t, &mut full)?;
            for (e, &(i, j)) in entries.iter().enumerate() {
                jac[e][k] = full[i * ns + j];
            }
        }
        Ok(())
    }

    /// The Dirichlet dofs of species `i` (sorted, each once) and their
    /// values at time `t`.
    fn dirichlet(&self, i: usize, t: f64) -> (Vec<usize>, Vec<f64>) {
        let points = self.space.dof_points();
        let mut fixed: Vec<(usize, f64)> = Vec::new();
        for (_, condition, dofs) in &self.boundary[i] {
            if let Boundary::Dirichlet(g) = condition {
                fixed.extend(dofs.iter().map(|&d| (d, g(points[d], t))));
            }
        }
        fixed.sort_by_key(|(d, _)| *d);
        fixed.dedup_by_key(|(d, _)| *d);
        fixed.into_iter().unzip()
    }

    /// `∫_Γ h v` over the flux conditions of species `i` at time `t`.
    fn flux(&self, i: usize, t: f64) -> Result<Option<Vec<f64>>, PhysicsError> {
        let q = 2 * self.space.degree() + 2;
        let mut total: Option<Vec<f64>> = None;
        for (group, condition, _) in &self.boundary[i] {
            if let Boundary::Neumann(h) = condition {
                let h = h.clone();
                let b = assembly::assemble_boundary_vector(
                    &self.space,
                    group,
                    q,
                    assembly::source(move |x| h(x, t)),
                )?;
                match &mut total {
                    Some(sum) => sum.iter_mut().zip(b).for_each(|(s, v)| *s += v),
                    None => total = Some(b),
                }
            }
        }
        Ok(total)
    }

    /// Local error of the step to `(t_new, u_new)`: the error constant times
    /// `dt^{p+1} |u^{(p+1)}|`, the derivative from the divided difference of
    /// the last `p + 1` committed states and the new one; per species in the
    /// max norm weighted by `1 + max |u_i|`, the largest over species.
    pub(super) fn error_estimate(&self, t_new: f64, u_new: &[f64]) -> Option<f64> {
        let p = self.order;
        let len = self.history.len();
        if len < p + 1 {
            return None;
        }
        let times: Vec<f64> = self.history.range(len - p - 1..).map(|s| s.t).collect();
        let times = [times, vec![t_new]].concat();
        let mut dd: Vec<Vec<f64>> = self
            .history
            .range(len - p - 1..)
            .map(|s| s.u.clone())
            .collect();
        dd.push(u_new.to_vec());
        for level in 1..=p + 1 {
            for k in 0..dd.len() - level {
                let span = times[k + level] - times[k];
                let (low, high) = dd.split_at_mut(k + 1);
                low[k]
                    .iter_mut()
                    .zip(&high[0])
                    .for_each(|(a, b)| *a = (b - *a) / span);
            }
        }
        // Local error constants: Euler h^2/2 u''; BDF2 2h^3/9 u'''; SBDF2's
        // extrapolated reaction adds 2h^3/3 F'', about 4h^3/9 u''' in all
        // where the reaction drives the dynamics.
        let constant = match (p, self.scheme) {
            (1, _) => 0.5,
            (_, Scheme::Imex) => 4.0 / 9.0,
            _ => 2.0 / 9.0,
        };
        let factorial = if p == 1 { 2.0 } else { 6.0 };
        let h = t_new - times[p];
        let n = self.space.num_dofs();
        let size = |v: &[f64]| v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let weighted = dd[0]
            .chunks(n)
            .zip(u_new.chunks(n))
            .map(|(d, u)| size(d) / (1.0 + size(u)))
            .fold(0.0f64, f64::max);
        Some(constant * h.powi(p as i32 + 1) * factorial * weighted)
    }
}
