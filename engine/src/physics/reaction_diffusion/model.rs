//! The model: species on one function space, its builder, accessors, and
//! the engine's [`Stepper`] and [`Model`] traits.

use std::collections::VecDeque;
use std::sync::Arc;

use super::factors::Factors;
use super::newton::BlockJacobian;
use super::reaction::Reaction;
use crate::fem::{assembly, FunctionSpace};
use crate::linalg::SparseMatrix;
use crate::physics::heat::SpaceTimeFn;
use crate::physics::{
    field_slot, Model, OutputField, PhysicsError, ProbeColumn, Snapshot, StepError, StepReport,
    Stepper,
};

/// How steps are taken.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Scheme {
    /// Implicit diffusion, explicit reaction (SBDF2; IMEX Euler at order 1).
    /// Species decouple: one SPD solve each, factor kept while `dt` stays.
    #[default]
    Imex,
    /// Fully implicit BDF2 (backward Euler at order 1), the nonlinear
    /// system solved by Newton's method on all species at once.
    Newton {
        /// Converged when every species' update, in max norm, is at most
        /// `tolerance * (1 + max |u_i|)`.
        tolerance: f64,
        /// Iterations before the step fails.
        max_iterations: usize,
    },
}

/// A boundary condition of one species on a physical group.
#[derive(Clone)]
pub enum Boundary {
    /// `u_i = g(x, t)`.
    Dirichlet(SpaceTimeFn),
    /// `D_i ∂u_i/∂n = h(x, t)` (outward normal).
    Neumann(SpaceTimeFn),
}

/// What Newton's method did in the last tried step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewtonReport {
    /// Iterations, summed over the solves of the step (a starting step
    /// makes three).
    pub iterations: usize,
    /// The scaled update `max_i |δu_i|_∞ / (1 + |u_i|_∞)` of each iteration
    /// of the step's last solve.
    pub updates: Vec<f64>,
}

/// A committed (or tried) state, with its nodal reaction once computed.
#[derive(Clone)]
pub(super) struct State {
    pub(super) t: f64,
    /// Species-major: `u[i * n + k]` is species `i` at dof `k`.
    pub(super) u: Vec<f64>,
    pub(super) reaction: Option<Vec<f64>>,
}

/// `N` species with diffusion and reaction on a finite-element space, as a
/// [`Stepper`] and a [`Model`]:
/// `∂u_i/∂t = ∇·(D_i ∇u_i) + R_i(u, x, t)`.
///
/// ```
/// use std::sync::Arc;
/// use pde_engine::fem::FunctionSpace;
/// use pde_engine::physics::reaction_diffusion::{Reaction, ReactionDiffusion};
/// use pde_engine::driver::TimeLoop;
/// use pde_mesh::{generate, CellKind};
/// let mesh = Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [4, 4], CellKind::Tri3).unwrap());
/// // Logistic growth with diffusion, from a uniform 0.5: u = 1 / (1 + e^{-t}).
/// let reaction = Reaction::new(&["u"], &["u*(1-u)"]).unwrap();
/// let mut model = ReactionDiffusion::new(FunctionSpace::new(mesh, 1).unwrap(), reaction, &[0.1])
///     .unwrap()
///     .with_initial("u", |_| 0.5)
///     .unwrap();
/// TimeLoop::new(0.0, 1.0, 0.01).run(&mut model, None, &mut []).unwrap();
/// let exact = 1.0 / (1.0 + (-1.0f64).exp());
/// assert!(model.solution(0).iter().all(|u| (u - exact).abs() < 1e-5));
/// ```
pub struct ReactionDiffusion {
    pub(super) space: FunctionSpace,
    pub(super) reaction: Reaction,
    pub(super) diffusion: Vec<f64>,
    pub(super) scheme: Scheme,
    pub(super) order: usize,
    /// Per species: conditions by group, with the group's dofs.
    pub(super) boundary: Vec<Vec<(String, Boundary, Vec<usize>)>>,
    pub(super) mass: SparseMatrix,
    pub(super) stiffness: SparseMatrix,
    pub(super) factors: Factors,
    pub(super) jacobian: Option<BlockJacobian>,
    /// Committed states, newest last (at most three: the error estimate of
    /// BDF2 needs them).
    pub(super) history: VecDeque<State>,
    pub(super) tried: Option<State>,
    pub(super) last_newton: Option<NewtonReport>,
}

impl ReactionDiffusion {
    /// The species of `reaction` on `space`, with diffusion coefficients
    /// `diffusion[i] >= 0`; all species start at 0 at `t = 0`, the scheme is
    /// IMEX SBDF2 and every boundary is zero flux.
    pub fn new(
        space: FunctionSpace,
        reaction: Reaction,
        diffusion: &[f64],
    ) -> Result<Self, PhysicsError> {
        if diffusion.len() != reaction.len() {
            return Err(PhysicsError::Unsupported(format!(
                "{} diffusion coefficients for {} species ({})",
                diffusion.len(),
                reaction.len(),
                reaction.species().join(", ")
            )));
        }
        if let Some((name, d)) = reaction
            .species()
            .iter()
            .zip(diffusion)
            .find(|(_, d)| !(d.is_finite() && **d >= 0.0))
        {
            return Err(PhysicsError::Unsupported(format!(
                "the diffusion coefficient of '{name}' is {d}; it must be finite and >= 0"
            )));
        }
        let (mass, stiffness) = operators(&space)?;
        let n = reaction.len();
        let u = vec![0.0; n * space.num_dofs()];
        Ok(ReactionDiffusion {
            space,
            diffusion: diffusion.to_vec(),
            scheme: Scheme::Imex,
            order: 2,
            boundary: vec![Vec::new(); n],
            mass,
            stiffness,
            // Three per species: the steps dt/2 and dt of a start, and the next.
            factors: Factors::new(3 * n),
            jacobian: None,
            history: VecDeque::from([State {
                t: 0.0,
                u,
                reaction: None,
            }]),
            tried: None,
            last_newton: None,
            reaction,
        })
    }

    /// Sets the initial (committed) state of species `name` to the nodal
    /// interpolant of `u0`.
    pub fn with_initial(
        mut self,
        name: &str,
        u0: impl Fn([f64; 3]) -> f64,
    ) -> Result<Self, PhysicsError> {
        let i = self.index(name)?;
        self.set_solution(i, self.space.interpolate(u0))?;
        Ok(self)
    }

    /// Sets the time of the committed state.
    pub fn with_start_time(mut self, t0: f64) -> Self {
        let mut state = self.history.pop_back().expect("at least the initial state");
        state.t = t0;
        state.reaction = None;
        self.history = VecDeque::from([state]);
        self
    }

    /// Sets the scheme; Newton needs a positive tolerance, at least one
    /// iteration, and reaction terms exmex can differentiate.
    pub fn with_scheme(mut self, scheme: Scheme) -> Result<Self, PhysicsError> {
        if let Scheme::Newton {
            tolerance,
            max_iterations,
        } = scheme
        {
            if !(tolerance > 0.0 && tolerance.is_finite()) || max_iterations == 0 {
                return Err(PhysicsError::Unsupported(format!(
                    "Newton needs a tolerance > 0 and at least one iteration \
                     (tolerance {tolerance}, max_iterations {max_iterations})"
                )));
            }
            let entries = self.reaction.jacobian_entries()?;
            self.jacobian = Some(BlockJacobian::new(
                self.reaction.len(),
                &entries,
                &self.mass,
            ));
        }
        self.scheme = scheme;
        Ok(self)
    }

    /// Sets the order in time: 2 (SBDF2 / BDF2, the default) or 1 (IMEX
    /// Euler / backward Euler).
    pub fn with_order(mut self, order: usize) -> Result<Self, PhysicsError> {
        if !(1..=2).contains(&order) {
            return Err(PhysicsError::Unsupported(format!(
                "time order {order}: 1 or 2"
            )));
        }
        self.order = order;
        Ok(self)
    }

    /// Sets (or replaces) the condition of species `name` on physical group
    /// `group`. Groups with no condition are zero flux. A flux condition on
    /// a species without diffusion is refused.
    pub fn with_boundary(
        mut self,
        name: &str,
        group: &str,
        condition: Boundary,
    ) -> Result<Self, PhysicsError> {
        let i = self.index(name)?;
        if matches!(condition, Boundary::Neumann(_)) && self.diffusion[i] == 0.0 {
            return Err(PhysicsError::Unsupported(format!(
                "species '{name}' does not diffuse (D = 0): a flux condition on '{group}' \
                 has no meaning"
            )));
        }
        let dofs = self.space.group_dofs(group)?;
        let list = &mut self.boundary[i];
        list.retain(|(g, _, _)| g != group);
        list.push((group.to_string(), condition, dofs));
        Ok(self)
    }

    /// The committed time.
    pub fn time(&self) -> f64 {
        self.latest().t
    }

    /// The species names.
    pub fn species(&self) -> &[String] {
        self.reaction.species()
    }

    /// The committed dof values of species `i`.
    pub fn solution(&self, i: usize) -> &[f64] {
        let n = self.space.num_dofs();
        &self.latest().u[i * n..(i + 1) * n]
    }

    /// Overwrites the committed dof values of species `i`; the next step
    /// starts afresh (its history is dropped).
    pub fn set_solution(&mut self, i: usize, values: Vec<f64>) -> Result<(), PhysicsError> {
        let n = self.space.num_dofs();
        if i >= self.reaction.len() || values.len() != n {
            return Err(PhysicsError::Unsupported(format!(
                "species {i} with {} values: there are {} species of {n} dofs",
                values.len(),
                self.reaction.len()
            )));
        }
        let mut state = self.history.pop_back().expect("at least the initial state");
        state.u[i * n..(i + 1) * n].copy_from_slice(&values);
        state.reaction = None;
        self.history = VecDeque::from([state]);
        Ok(())
    }

    /// The discrete space (shared by all species).
    pub fn space(&self) -> &FunctionSpace {
        &self.space
    }

    /// The reaction terms.
    pub fn reaction(&self) -> &Reaction {
        &self.reaction
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// What Newton did in the last tried step (None under IMEX).
    pub fn last_newton(&self) -> Option<&NewtonReport> {
        self.last_newton.as_ref()
    }

    /// Cholesky factorisations of the diffusion matrices done by the
    /// factors kept now (IMEX): one per distinct `D_i` while `dt` stays.
    pub fn factorizations(&self) -> usize {
        self.factors.factorizations()
    }

    fn index(&self, name: &str) -> Result<usize, PhysicsError> {
        self.species()
            .iter()
            .position(|s| s == name)
            .ok_or_else(|| {
                PhysicsError::Unsupported(format!(
                    "unknown species '{name}'; the species are {}",
                    self.species().join(", ")
                ))
            })
    }

    pub(super) fn latest(&self) -> &State {
        self.history.back().expect("at least the initial state")
    }
}

/// The mass matrix (lumped for P1) and the Laplacian on `space`.
fn operators(space: &FunctionSpace) -> Result<(SparseMatrix, SparseMatrix), PhysicsError> {
    let q = 2 * space.degree() + 2;
    let mut mass = assembly::assemble_matrix(space, q, assembly::mass(|_| 1.0))?;
    if space.degree() == 1 {
        lump(&mut mass);
    }
    let stiffness = assembly::assemble_matrix(space, q, assembly::laplace(|_| 1.0))?;
    Ok((mass, stiffness))
}

/// Row-sum lumping, in place: the row sums on the diagonal, zeros (kept in
/// the pattern, which `M + c K` and Newton's blocks share) elsewhere.
fn lump(mass: &mut SparseMatrix) {
    let (ptr, col) = {
        let s = mass.symbolic();
        (s.row_ptr().to_vec(), s.col_idx().to_vec())
    };
    let values = mass.val_mut();
    for i in 0..ptr.len() - 1 {
        let row = ptr[i]..ptr[i + 1];
        let sum: f64 = values[row.clone()].iter().sum();
        for k in row {
            values[k] = if col[k] == i { sum } else { 0.0 };
        }
    }
}

impl Stepper for ReactionDiffusion {
    fn try_step(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError> {
        debug_assert!((self.time() - t).abs() <= 1e-9 * t.abs().max(1.0));
        let (u, iterations) = self.advance(dt)?;
        let max_abs = crate::linalg::max_abs(&u);
        let error_estimate = self.error_estimate(t + dt, &u);
        self.tried = Some(State {
            t: t + dt,
            u,
            reaction: None,
        });
        Ok(StepReport {
            iterations,
            error_estimate,
            max_abs,
            fallback: None,
        })
    }

    fn commit(&mut self) {
        if let Some(state) = self.tried.take() {
            self.history.push_back(state);
            while self.history.len() > 3 {
                self.history.pop_front();
            }
        }
    }

    fn set_field(&mut self, name: &str, values: &[f64]) -> Result<(), String> {
        let names: Vec<&str> = self.species().iter().map(String::as_str).collect();
        let i = field_slot(&names, name, self.space.num_dofs(), values)?;
        self.set_solution(i, values.to_vec())
            .map_err(|e| e.to_string())
    }

    fn snapshot(&self) -> Option<Snapshot> {
        let levels = self.history.iter().map(|s| (s.t, s.u.clone())).collect();
        Some(Snapshot::of_history(&levels))
    }

    /// The kept reaction terms are evaluated again from the levels.
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StepError> {
        let levels = snapshot.history(self.unknowns())?;
        self.history = levels
            .into_iter()
            .map(|(t, u)| State {
                t,
                u,
                reaction: None,
            })
            .collect();
        self.tried = None;
        Ok(())
    }

    /// Interpolates every species of every kept time level onto the moved
    /// mesh and rebuilds the operators and factors there.
    fn move_nodes(&mut self, mesh: Arc<pde_mesh::Mesh>) -> Result<(), StepError> {
        let space = FunctionSpace::new(mesh, self.space.degree()).map_err(PhysicsError::from)?;
        let n = self.space.num_dofs();
        for state in self.history.iter_mut() {
            let mut moved = Vec::with_capacity(state.u.len());
            for species in state.u.chunks(n) {
                moved.extend(
                    space
                        .interpolate_from(&self.space, species)
                        .map_err(PhysicsError::from)?,
                );
            }
            state.u = moved;
            state.reaction = None;
        }
        let (mass, stiffness) = operators(&space)?;
        if self.jacobian.is_some() {
            let entries = self.reaction.jacobian_entries()?;
            self.jacobian = Some(BlockJacobian::new(self.reaction.len(), &entries, &mass));
        }
        self.space = space;
        self.mass = mass;
        self.stiffness = stiffness;
        self.factors = Factors::new(3 * self.reaction.len());
        self.tried = None;
        Ok(())
    }
}

impl Model for ReactionDiffusion {
    fn name(&self) -> &'static str {
        "reaction_diffusion"
    }

    fn mesh(&self) -> &Arc<pde_mesh::Mesh> {
        self.space.mesh()
    }

    fn unknowns(&self) -> usize {
        self.reaction.len() * self.space.num_dofs()
    }

    fn point_data(&self) -> Result<Vec<OutputField>, PhysicsError> {
        Ok(self
            .species()
            .iter()
            .enumerate()
            .map(|(i, name)| OutputField::scalars(name, self.space.point_values(self.solution(i))))
            .collect())
    }

    fn fields(&self) -> Vec<(String, Vec<f64>)> {
        self.species()
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), self.solution(i).to_vec()))
            .collect()
    }

    /// Every species at the point.
    fn probe(&self, point: [f64; 3]) -> Option<Vec<ProbeColumn>> {
        let at = self.space.point_evaluator(point)?;
        Some(
            self.species()
                .iter()
                .enumerate()
                .map(|(field, name)| ProbeColumn {
                    label: name.clone(),
                    field,
                    at: at.clone(),
                })
                .collect(),
        )
    }

    /// The scheme, and every species' range.
    fn summary(&self) -> serde_json::Value {
        let range: serde_json::Map<String, serde_json::Value> = self
            .species()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let u = self.solution(i);
                let lo = u.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = u.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                (name.clone(), serde_json::json!([lo, hi]))
            })
            .collect();
        serde_json::json!({
            "model": self.name(),
            "unknowns": self.unknowns(),
            "degree": self.space.degree(),
            "scheme": format!("{:?}", self.scheme),
            "order": self.order,
            "range": range,
        })
    }
}
