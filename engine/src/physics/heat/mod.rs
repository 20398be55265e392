//! The heat equation `∂u/∂t - ∇·(κ ∇u) = f(x, t)` with Dirichlet `u = g(x, t)`
//! and Neumann `κ ∂u/∂n = h(x, t)` conditions on physical groups, integrated
//! with backward Euler, Crank–Nicolson or BDF2 ([`Integrator`]).
//!
//! With a velocity field ([`Heat::set_advection`]) the same model is the
//! advection–diffusion equation `∂u/∂t + β·∇u - ∇·(κ ∇u) = f`, stabilised
//! with SUPG (streamline-upwind Petrov–Galerkin) for high Péclet numbers.
//! It can also be solved for its steady state ([`Heat::solve_steady`]).

mod spec;

pub use spec::{BoundarySpec, HeatSpec, ScalarSpec};
pub(crate) use spec::{scalar_spec, transient};

use std::collections::VecDeque;
use std::sync::Arc;

use super::{Model, OutputField, PhysicsError, ProbeColumn, ScalarFn, VectorFn};
use super::{Snapshot, StepError, StepReport, Stepper};
use crate::fem::{assembly, bc, FunctionSpace};
use crate::linalg::{spmv, LinearSolver, SolveReport, SparseMatrix};
use crate::time::Integrator;

/// A field of space and time.
pub type SpaceTimeFn = Arc<dyn Fn([f64; 3], f64) -> f64 + Send + Sync>;

/// A time-dependent boundary condition.
#[derive(Clone)]
pub enum HeatBoundary {
    /// `u = g(x, t)`.
    Dirichlet(SpaceTimeFn),
    /// `κ ∂u/∂n = h(x, t)`.
    Neumann(SpaceTimeFn),
}

/// The heat equation on a function space, as a [`Stepper`].
pub struct Heat {
    /// The discrete space.
    pub space: FunctionSpace,
    /// Source `f(x, t)`.
    pub source: SpaceTimeFn,
    /// Boundary conditions by physical-group name (others: insulated).
    pub boundary: Vec<(String, HeatBoundary)>,
    /// The time integrator.
    pub integrator: Integrator,
    kappa: ScalarFn,
    /// Advection velocity and whether SUPG is on (see [`Heat::set_advection`]).
    advection: Option<(VectorFn, bool)>,
    solver: Box<dyn LinearSolver>,
    /// `M` (plus its SUPG part when advection is stabilised).
    mass: SparseMatrix,
    /// The spatial operator: diffusion, plus advection and SUPG when set.
    stiffness: SparseMatrix,
    /// Committed states `(t, u)`, newest last (at most three kept).
    history: VecDeque<(f64, Vec<f64>)>,
    /// Where the dofs of each kept state sat, aligned with `history`: on
    /// a moving mesh the values travel with their nodes (ALE), and the
    /// mesh velocity is the integrator's derivative of these positions.
    positions: VecDeque<Arc<Vec<[f64; 3]>>>,
    /// The dof positions of the current mesh, shared with the kept states
    /// on it, so that "not moved" is a pointer comparison.
    here: Arc<Vec<[f64; 3]>>,
    tried: Option<(f64, Vec<f64>)>,
    /// `F(t)` of the last tried step's end: Crank–Nicolson's next step
    /// starts there, with the data that were in force then.
    end_load: Option<(f64, Vec<f64>)>,
}

impl Heat {
    /// The heat equation with diffusion `kappa`, initial state `u0` at time
    /// `t0`, and the linear solver to use each step.
    pub fn new(
        space: FunctionSpace,
        kappa: ScalarFn,
        u0: impl Fn([f64; 3]) -> f64,
        t0: f64,
        solver: Box<dyn LinearSolver>,
    ) -> Result<Heat, PhysicsError> {
        let q = 2 * space.degree() + 2;
        let mass = assembly::assemble_matrix(&space, q, assembly::mass(|_| 1.0))?;
        let k = kappa.clone();
        let stiffness = assembly::assemble_matrix(&space, q, assembly::laplace(move |x| k(x)))?;
        let u = space.interpolate(u0);
        let here = Arc::new(space.dof_points().to_vec());
        let positions = VecDeque::from([here.clone()]);
        Ok(Heat {
            space,
            source: Arc::new(|_, _| 0.0),
            boundary: Vec::new(),
            integrator: Integrator::BackwardEuler,
            kappa,
            advection: None,
            solver,
            mass,
            stiffness,
            history: VecDeque::from([(t0, u)]),
            positions,
            here,
            tried: None,
            end_load: None,
        })
    }

    /// Adds advection by the (steady) velocity field `beta`, turning the
    /// model into advection–diffusion; `supg` adds streamline-upwind
    /// stabilisation to the operator, the time derivative and the source, so
    /// the scheme stays consistent. Advection makes the system
    /// non-symmetric: use LU, GMRES or BiCGStab.
    pub fn set_advection(&mut self, beta: VectorFn, supg: bool) -> Result<(), PhysicsError> {
        self.advection = Some((beta, supg));
        self.assemble()
    }

    /// Assembles `M` and the spatial operator on the current space:
    /// diffusion, plus advection and its SUPG terms when set.
    fn assemble(&mut self) -> Result<(), PhysicsError> {
        let q = 2 * self.space.degree() + 2;
        let space = &self.space;
        let k = self.kappa.clone();
        let mut mass = assembly::assemble_matrix(space, q, assembly::mass(|_| 1.0))?;
        let mut stiffness = assembly::assemble_matrix(space, q, assembly::laplace(move |x| k(x)))?;
        if let Some((beta, supg)) = &self.advection {
            let b = beta.clone();
            let advection =
                assembly::assemble_matrix(space, q, assembly::advection(move |x| b(x)))?;
            add_values(&mut stiffness, &advection);
            if *supg {
                let (k, b) = (self.kappa.clone(), beta.clone());
                let s = assembly::assemble_matrix(
                    space,
                    q,
                    assembly::supg_operator(move |x| b(x), move |x| k(x)),
                )?;
                add_values(&mut stiffness, &s);
                let (k, b) = (self.kappa.clone(), beta.clone());
                let s = assembly::assemble_matrix(
                    space,
                    q,
                    assembly::supg_mass(move |x| b(x), move |x| k(x)),
                )?;
                add_values(&mut mass, &s);
            }
        }
        self.mass = mass;
        self.stiffness = stiffness;
        Ok(())
    }

    /// Solves the steady problem `β·∇u - ∇·(κ∇u) = f(x, t)` at the committed
    /// time `t` and makes its solution the committed state.
    pub fn solve_steady(&mut self) -> Result<SolveReport, PhysicsError> {
        let t = self.time();
        let mut k = self.stiffness.clone();
        let mut rhs = self.load(t)?;
        let (dofs, values) = self.dirichlet(t)?;
        bc::apply_dirichlet(&mut k, &mut rhs, &dofs, &values);
        let mut u = self.solution().to_vec();
        let report = self.solver.solve(&k, &rhs, &mut u)?;
        self.set_solution(u);
        Ok(report)
    }

    /// The Dirichlet dofs and their values at time `t`.
    fn dirichlet(&self, t: f64) -> Result<(Vec<usize>, Vec<f64>), PhysicsError> {
        let mut fixed = Vec::new();
        for (group, condition) in &self.boundary {
            if let HeatBoundary::Dirichlet(g) = condition {
                for d in self.space.group_dofs(group)? {
                    fixed.push((d, g(self.space.dof_points()[d], t)));
                }
            }
        }
        Ok(fixed.into_iter().unzip())
    }

    /// Sets (or replaces) the condition on a group.
    pub fn set_boundary(&mut self, group: &str, condition: HeatBoundary) {
        self.boundary.retain(|(g, _)| g != group);
        self.boundary.push((group.to_string(), condition));
    }

    /// The committed state.
    pub fn solution(&self) -> &[f64] {
        &self.history.back().expect("at least the initial state").1
    }

    /// The committed time.
    pub fn time(&self) -> f64 {
        self.history.back().expect("at least the initial state").0
    }

    /// Overwrites the committed state (coupling: another code sets the field).
    pub fn set_solution(&mut self, u: Vec<f64>) {
        let t = self.time();
        self.history.clear();
        self.history.push_back((t, u));
        self.positions = VecDeque::from([self.here.clone()]);
    }

    /// Load vector `F(t)`: sources and Neumann fluxes.
    fn load(&self, t: f64) -> Result<Vec<f64>, PhysicsError> {
        let q = 2 * self.space.degree() + 2;
        let f = self.source.clone();
        let mut b = assembly::assemble_vector(&self.space, q, assembly::source(move |x| f(x, t)))?;
        if let Some((beta, true)) = &self.advection {
            let (f, k, beta) = (self.source.clone(), self.kappa.clone(), beta.clone());
            let s = assembly::assemble_vector(
                &self.space,
                q,
                assembly::supg_source(move |x| beta(x), move |x| k(x), move |x| f(x, t)),
            )?;
            b.iter_mut().zip(s).for_each(|(bi, v)| *bi += v);
        }
        for (group, condition) in &self.boundary {
            if let HeatBoundary::Neumann(h) = condition {
                let h = h.clone();
                let bn = assembly::assemble_boundary_vector(
                    &self.space,
                    group,
                    q,
                    assembly::source(move |x| h(x, t)),
                )?;
                b.iter_mut().zip(bn).for_each(|(bi, v)| *bi += v);
            }
        }
        Ok(b)
    }

    /// The spatial operator plus the ALE term `−w·∇u` when the mesh moved
    /// within the levels the step uses; `w` is the integrator's
    /// derivative of the dof positions (backward differences of BDF2, the
    /// step's difference otherwise). `None` on a fixed mesh.
    fn operator_on_moving_mesh(
        &self,
        t: f64,
        dt: f64,
    ) -> Result<Option<SparseMatrix>, PhysicsError> {
        let now = self.space.dof_points();
        let k = self.positions.len();
        let last = &self.positions[k - 1];
        let bdf2 = self.integrator == Integrator::Bdf2 && k >= 2;
        let previous = bdf2.then(|| &self.positions[k - 2]);
        let moved = |p: &Arc<Vec<[f64; 3]>>| !Arc::ptr_eq(p, &self.here);
        if !moved(last) && !previous.is_some_and(moved) {
            return Ok(None);
        }
        // Coefficients of x_new, x_last, x_previous in dt·(dx/dt).
        let (c0, c1, c2) = match previous {
            Some(_) => {
                let w = dt / (t - self.history[k - 2].0);
                ((1.0 + 2.0 * w) / (1.0 + w), 1.0 + w, w * w / (1.0 + w))
            }
            None => (1.0, 1.0, 0.0),
        };
        let velocity: Vec<[f64; 3]> = (0..now.len())
            .map(|i| {
                std::array::from_fn(|d| {
                    let older = previous.map_or(0.0, |p| p[i][d]);
                    (c0 * now[i][d] - c1 * last[i][d] + c2 * older) / dt
                })
            })
            .collect();
        let space = &self.space;
        let q = 2 * space.degree() + 2;
        let minus_w = |v: &assembly::CellValues, q: usize| {
            let mut b = [0.0; 3];
            for (&dof, p) in space.cell_dofs(v.cell).iter().zip(v.phi_at(q)) {
                (0..3).for_each(|d| b[d] -= p * velocity[dof][d]);
            }
            b
        };
        let mut ale = assembly::assemble_matrix(space, q, assembly::advection_by(minus_w))?;
        if let Some((beta, true)) = &self.advection {
            // SUPG weighs the residual along the node paths: with `−w·∇u`.
            let (k, b) = (self.kappa.clone(), beta.clone());
            let s = assembly::assemble_matrix(
                space,
                q,
                assembly::supg_advection_by(move |x| b(x), move |x| k(x), minus_w),
            )?;
            add_values(&mut ale, &s);
        }
        let mut operator = self.stiffness.clone();
        add_values(&mut operator, &ale);
        Ok(Some(operator))
    }

    /// Local error estimate of the tried step from divided differences of
    /// the committed history and the new state (None while history is short).
    fn error_estimate(&self, t_new: f64, u_new: &[f64]) -> Option<f64> {
        let p = self.integrator.order();
        if self.history.len() < p + 1 {
            return None;
        }
        let pts: Vec<(f64, &[f64])> = self
            .history
            .iter()
            .skip(self.history.len() - (p + 1))
            .map(|(t, u)| (*t, u.as_slice()))
            .chain(std::iter::once((t_new, u_new)))
            .collect();
        // Divided difference of order p + 1 approximates u^{(p+1)} / (p+1)!.
        let mut dd: Vec<Vec<f64>> = pts.iter().map(|(_, u)| u.to_vec()).collect();
        for level in 1..=p + 1 {
            for i in 0..dd.len() - level {
                let span = pts[i + level].0 - pts[i].0;
                let next = dd[i + 1].clone();
                dd[i]
                    .iter_mut()
                    .zip(&next)
                    .for_each(|(a, b)| *a = (b - *a) / span);
            }
        }
        let h = t_new - pts[p].0;
        let factorial = if p == 1 { 2.0 } else { 6.0 };
        // Local error constants: BE h^2/2 u'', CN h^3/12 u''', BDF2 2h^3/9 u'''.
        let constant = match self.integrator {
            Integrator::BackwardEuler => 0.5,
            Integrator::CrankNicolson => 1.0 / 12.0,
            Integrator::Bdf2 => 2.0 / 9.0,
        };
        let scale = 1.0 + u_new.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let derivative = dd[0].iter().fold(0.0f64, |m, v| m.max(v.abs())) * factorial;
        Some(constant * h.powi(p as i32 + 1) * derivative / scale)
    }
}

impl Stepper for Heat {
    fn try_step(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError> {
        let (t_prev, u) = self.history.back().expect("initial state").clone();
        debug_assert!((t_prev - t).abs() <= 1e-9 * t.abs().max(1.0));
        let n = u.len();
        let f_new = self.load(t + dt)?;
        let operator = self.operator_on_moving_mesh(t, dt)?;
        let operator = operator.as_ref().unwrap_or(&self.stiffness);
        let (m, a) = (self.mass.val(), operator.val());
        let mut mu = vec![0.0; n];
        let mut au = vec![0.0; n];
        spmv(&self.mass, &u, &mut mu);
        // System K = alpha M + beta A, right-hand side by integrator.
        let bdf2_history = self.integrator == Integrator::Bdf2 && self.history.len() >= 2;
        let (alpha, beta, mut rhs) = match self.integrator {
            Integrator::BackwardEuler => (
                1.0,
                dt,
                mu.iter()
                    .zip(&f_new)
                    .map(|(a, f)| a + dt * f)
                    .collect::<Vec<_>>(),
            ),
            Integrator::Bdf2 if bdf2_history => {
                let (t1, u1) = &self.history[self.history.len() - 2];
                let w = dt / (t - t1);
                let mut mu1 = vec![0.0; n];
                spmv(&self.mass, u1, &mut mu1);
                let rhs = (0..n)
                    .map(|i| (1.0 + w) * mu[i] - w * w / (1.0 + w) * mu1[i] + dt * f_new[i])
                    .collect();
                ((1.0 + 2.0 * w) / (1.0 + w), dt, rhs)
            }
            // Crank–Nicolson, also the first step of BDF2.
            _ => {
                spmv(operator, &u, &mut au);
                let f_old = match self.end_load.take() {
                    Some((t_load, f)) if t_load == t => f,
                    _ => self.load(t)?,
                };
                let rhs = (0..n)
                    .map(|i| mu[i] - 0.5 * dt * au[i] + 0.5 * dt * (f_old[i] + f_new[i]))
                    .collect();
                (1.0, 0.5 * dt, rhs)
            }
        };
        let mut k = self.mass.clone();
        k.val_mut()
            .iter_mut()
            .zip(m.iter().zip(a))
            .for_each(|(kv, (mv, av))| *kv = alpha * mv + beta * av);
        let (dofs, values) = self.dirichlet(t + dt)?;
        bc::apply_dirichlet(&mut k, &mut rhs, &dofs, &values);
        let mut u_new = u.clone();
        let report = self
            .solver
            .solve(&k, &rhs, &mut u_new)
            .map_err(PhysicsError::from)?;
        let max_abs = crate::linalg::max_abs(&u_new);
        let error_estimate = self.error_estimate(t + dt, &u_new);
        self.end_load = Some((t + dt, f_new));
        self.tried = Some((t + dt, u_new));
        Ok(StepReport {
            iterations: report.iterations,
            error_estimate,
            max_abs,
            fallback: report.fallback,
        })
    }

    fn commit(&mut self) {
        if let Some(state) = self.tried.take() {
            self.history.push_back(state);
            self.positions.push_back(self.here.clone());
            while self.history.len() > 3 {
                self.history.pop_front();
                self.positions.pop_front();
            }
        }
    }

    fn set_field(&mut self, name: &str, values: &[f64]) -> Result<(), String> {
        super::field_slot(&["u"], name, self.solution().len(), values)?;
        self.set_solution(values.to_vec());
        Ok(())
    }

    /// The time levels, a lagged factor, and where the dofs of each level
    /// sat that was computed on an earlier mesh (`positions{k}`; a moving
    /// mesh's ALE velocity is their derivative).
    fn snapshot(&self) -> Option<Snapshot> {
        let mut s = Snapshot::of_history(&self.history);
        s.push_solver("solver", self.solver.as_ref());
        for (k, p) in self.positions.iter().enumerate() {
            if !Arc::ptr_eq(p, &self.here) {
                s.push_points(format!("positions{k}"), p);
            }
        }
        Some(s)
    }

    /// Levels without saved positions sat on the nodes as they are (after
    /// a mesh motion's restore has put them where they were).
    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StepError> {
        let n = self.space.num_dofs();
        self.history = snapshot.history(n)?;
        // Every system matrix has the mass matrix's pattern.
        snapshot.restore_solver("solver", self.solver.as_mut(), &self.mass)?;
        self.positions = (0..self.history.len())
            .map(|k| {
                let name = format!("positions{k}");
                Ok(match snapshot.find(&name) {
                    Some(_) => Arc::new(snapshot.points(&name, n)?),
                    None => self.here.clone(),
                })
            })
            .collect::<Result<_, StepError>>()?;
        self.tried = None;
        self.end_load = None;
        Ok(())
    }

    /// Arbitrary Lagrangian–Eulerian: the values stay with their nodes
    /// (no interpolation, which would smear a front a little at every
    /// move), and the next step adds the advection `−w·∇u` by the mesh
    /// velocity `w` (`operator_on_moving_mesh`). The operators are
    /// reassembled on the moved mesh.
    fn move_nodes(&mut self, mesh: Arc<pde_mesh::Mesh>) -> Result<(), StepError> {
        let space = FunctionSpace::new(mesh, self.space.degree()).map_err(PhysicsError::from)?;
        if space.num_dofs() != self.space.num_dofs() {
            return Err(StepError::Model(PhysicsError::Unsupported(
                "the moved mesh has another number of dofs; movers keep the connectivity".into(),
            )));
        }
        self.here = Arc::new(space.dof_points().to_vec());
        self.space = space;
        self.tried = None;
        self.end_load = None;
        self.assemble()?;
        Ok(())
    }
}

/// `a += b` for matrices on the same pattern.
fn add_values(a: &mut SparseMatrix, b: &SparseMatrix) {
    debug_assert_eq!(a.col_idx(), b.col_idx());
    a.val_mut()
        .iter_mut()
        .zip(b.val())
        .for_each(|(x, y)| *x += y);
}

impl Model for Heat {
    fn name(&self) -> &'static str {
        if self.advection.is_some() {
            "advection_diffusion"
        } else {
            "heat"
        }
    }

    fn mesh(&self) -> &Arc<pde_mesh::Mesh> {
        self.space.mesh()
    }

    fn unknowns(&self) -> usize {
        self.space.num_dofs()
    }

    fn point_data(&self) -> Result<Vec<OutputField>, PhysicsError> {
        Ok(vec![OutputField::scalars(
            "u",
            self.space.point_values(self.solution()),
        )])
    }

    fn fields(&self) -> Vec<(String, Vec<f64>)> {
        vec![("u".to_string(), self.solution().to_vec())]
    }

    fn probe(&self, point: [f64; 3]) -> Option<Vec<ProbeColumn>> {
        super::scalar::probe(&self.space, point)
    }

    fn summary(&self) -> serde_json::Value {
        let mut s = super::scalar::summary(self.name(), &self.space, self.solution());
        // Only a stepped model has used its integrator.
        if self.history.len() > 1 {
            s["integrator"] = serde_json::json!(format!("{:?}", self.integrator));
        }
        s
    }
}
