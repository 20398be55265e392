//! Incompressible Navier–Stokes `∂u/∂t + (u·∇)u - νΔu + ∇p = f`, `∇·u = 0`
//! (and Stokes, without the convection term) with Taylor–Hood P2/P1
//! elements on triangles or tetrahedra, isoparametric on quadratic meshes.
//!
//! - Steady: Newton's method from the Stokes solution
//!   ([`NavierStokes::solve_steady`]), with the increment of every iteration
//!   reported.
//! - Unsteady ([`Stepper`]): BDF2 (variable step, started with backward
//!   Euler) or backward Euler, with the convecting velocity extrapolated to
//!   the new time level, so each step is one linear (Oseen) solve whose
//!   symbolic factorisation is reused.
//! - Boundary conditions by physical group: a velocity `g(x, t)`, no-slip,
//!   or do-nothing (`ν ∂u/∂n - p n = 0`, the natural condition).
//! - Forces on a group in the volume (residual) form: the discrete momentum
//!   residual tested with the velocity basis functions of that group, which
//!   is far more accurate than integrating the stress over the boundary.

mod branch;
mod correction;
mod forces;
mod spec;
mod surrogate;

pub use branch::{Branch, BranchErrors};
pub use correction::PredictionCorrection;
pub use forces::ForcesSpec;
pub use spec::{
    CarriedScalarSpec, FlowBoundarySpec, FlowSpec, NavierStokesSpec, NewtonSpec, StokesSpec,
};
pub use surrogate::StepResidual;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{Model, OutputField, PhysicsError, ProbeColumn};
use super::{Snapshot, StepError, StepReport, Stepper};
use crate::fem::assembly::{self, CellValues};
use crate::fem::{bc, FunctionSpace, MixedSpace, PointEvaluator};
use crate::linalg::direct::Cholesky;
use crate::linalg::krylov::{Gmres, Tolerance};
use crate::linalg::precond::Ilu0;
use crate::linalg::{entry_index, principal_block, spmv, LinearSolver, SparseMatrix};
use crate::time::Integrator;

/// A vector field of space and time.
pub type VectorSpaceTimeFn = Arc<dyn Fn([f64; 3], f64) -> [f64; 3] + Send + Sync>;

/// A boundary condition of the flow on a physical group.
#[derive(Clone)]
pub enum FlowBoundary {
    /// `u = g(x, t)` (inflow profiles, moving walls).
    Velocity(VectorSpaceTimeFn),
    /// `u = 0`.
    NoSlip,
    /// `ν ∂u/∂n - p n = 0`: free outflow (the natural condition; listing
    /// it is documentation).
    DoNothing,
}

/// What Newton's method did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewtonReport {
    /// Newton iterations (after the Stokes start).
    pub iterations: usize,
    /// Relative size of each update, `|δx|∞ / |x|∞`.
    pub increments: Vec<f64>,
}

/// A step tried but not yet committed.
struct Tried {
    t: f64,
    x: Vec<f64>,
    force: Option<[f64; 3]>,
}

/// A step system assembled by a check: the step from `t` by `dt` and its
/// right-hand side.
struct CheckedSystem {
    t: f64,
    dt: f64,
    rhs: Vec<f64>,
}

/// The rows of the momentum equations at the force group's velocity dofs,
/// kept from the system before Dirichlet elimination: `(row, entries, b)`.
type ResidualRows = Vec<(usize, Vec<(usize, f64)>, f64)>;

/// Incompressible flow with Taylor–Hood elements, as a [`Stepper`] or solved
/// for its steady state.
///
/// ```
/// use std::sync::Arc;
/// use pde_engine::linalg::direct::SparseLu;
/// use pde_engine::physics::navier_stokes::{FlowBoundary, NavierStokes};
/// use pde_mesh::{generate, CellKind};
///
/// // Poiseuille flow u = (y (1 - y), 0), p = 2ν (1 - x) is quadratic:
/// // Taylor–Hood reproduces it exactly, convection included.
/// let mesh = Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [4, 4], CellKind::Tri3).unwrap());
/// let mut ns = NavierStokes::new(mesh, 0.1, Box::new(SparseLu::new())).unwrap();
/// let profile = Arc::new(|x: [f64; 3], _t: f64| [x[1] * (1.0 - x[1]), 0.0, 0.0]);
/// ns.set_boundary("left", FlowBoundary::Velocity(profile));
/// ns.set_boundary("bottom", FlowBoundary::NoSlip);
/// ns.set_boundary("top", FlowBoundary::NoSlip);
/// ns.set_boundary("right", FlowBoundary::DoNothing);
/// ns.solve_steady(1e-12, 10).unwrap();
/// let p = ns.pressure_at([0.5, 0.5, 0.0]).unwrap();
/// assert!((p - 2.0 * 0.1 * 0.5).abs() < 1e-10);
/// ```
pub struct NavierStokes {
    /// Velocity (field 0, P2, one component per dimension) and pressure
    /// (field 1, P1).
    pub space: MixedSpace,
    /// Kinematic viscosity.
    pub nu: f64,
    /// Whether the convection term is on (false: Stokes).
    pub convection: bool,
    /// Time integrator: `Bdf2` or `BackwardEuler`.
    pub integrator: Integrator,
    /// Body force `f(x, t)` (none by default).
    pub body_force: Option<VectorSpaceTimeFn>,
    boundary: Vec<(String, FlowBoundary)>,
    /// The group whose force is measured, and its velocity (scalar) dofs.
    force_group: Option<(String, Vec<usize>)>,
    /// A pressure dof fixed to 0 (flows enclosed by velocity conditions).
    pressure_pin: Option<usize>,
    solver: Box<dyn LinearSolver>,
    matrix: SparseMatrix,
    /// Committed states `(t, x)`, newest last (two kept for BDF2, more
    /// for a learned step's window: `kept_states`).
    history: VecDeque<(f64, Vec<f64>)>,
    /// How many committed states `history` keeps (at least 2).
    kept_states: usize,
    tried: Option<Tried>,
    /// The right-hand side of the step system a check (or a predictor's
    /// extrapolation residual) assembled (its matrix is `matrix`), for the
    /// checks and the classical step of the same step that follow; any
    /// other assembly or commit drops it.
    checked: Option<CheckedSystem>,
    /// Whether classical steps keep their extrapolation residual
    /// ([`NavierStokes::record_step_residuals`]), and the last one's.
    step_residuals: (bool, Option<Vec<f64>>),
    force: Option<[f64; 3]>,
    /// The time-step matrix without convection, `a0 M + ν A + B terms`,
    /// for the `a0` and time it was assembled with.
    step_matrix: Option<(f64, f64, Vec<f64>)>,
    /// The scalar P2 mass matrix (history terms, vorticity projection).
    mass: SparseMatrix,
    /// For each cell, component and local pair `(i, j)` of velocity basis
    /// functions, the position of its entry in `matrix`.
    convection_positions: Vec<usize>,
    /// The factor of `mass`, for the vorticity projection.
    projection: Mutex<Cholesky>,
    /// How vertex values (of a predicted step) become the velocity dofs,
    /// and the rows of the edge-midpoint velocity dofs; built at first use.
    vertex_interpolation: Option<(surrogate::VertexInterpolation, Vec<usize>)>,
    /// What is done to predicted states before the check.
    correction: PredictionCorrection,
    /// The factorised Stokes operator of the correction, built at first use.
    stokes: Option<correction::StokesOperator>,
}

/// Quadrature degree: exact for the convection term `(w·∇u)·v` of P2 on
/// straight cells.
const QUAD_DEGREE: usize = 5;

/// Velocity basis functions of a cell at most (P2 on a tetrahedron).
const MAX_VELOCITY_DOFS: usize = 10;

/// For each cell, velocity component `c` and local pair `(i, j)`, the
/// position of entry `(offset_c + dof_i, offset_c + dof_j)` in `a`.
fn velocity_block_positions(space: &MixedSpace, a: &SparseMatrix) -> Vec<usize> {
    let v = space.space(0);
    let d = space.components(0);
    let nv = v.element().num_dofs();
    let mut out = Vec::with_capacity(v.num_cells() * d * nv * nv);
    for cell in 0..v.num_cells() {
        let dofs = v.cell_dofs(cell);
        for c in 0..d {
            let base = space.offset(0, c);
            for &i in dofs {
                for &j in dofs {
                    out.push(
                        entry_index(a, base + i, base + j)
                            .expect("the pattern couples a cell's dofs"),
                    );
                }
            }
        }
    }
    out
}

impl NavierStokes {
    /// The flow at rest with viscosity `nu` on `mesh`, solving its linear
    /// systems with `solver` (sparse LU is the robust choice).
    pub fn new(
        mesh: Arc<pde_mesh::Mesh>,
        nu: f64,
        solver: Box<dyn LinearSolver>,
    ) -> Result<NavierStokes, PhysicsError> {
        let space = MixedSpace::taylor_hood(mesh)?;
        let matrix = space.zero_matrix();
        let x = vec![0.0; space.num_dofs()];
        let v = space.space(0);
        let mass = assembly::assemble_matrix(v, 4, assembly::mass(|_| 1.0))?;
        let convection_positions = velocity_block_positions(&space, &matrix);
        Ok(NavierStokes {
            space,
            nu,
            convection: true,
            integrator: Integrator::Bdf2,
            body_force: None,
            boundary: Vec::new(),
            force_group: None,
            pressure_pin: None,
            solver,
            matrix,
            history: VecDeque::from([(0.0, x)]),
            kept_states: 2,
            tried: None,
            force: None,
            step_matrix: None,
            mass,
            convection_positions,
            projection: Mutex::new(Cholesky::new()),
            vertex_interpolation: None,
            correction: PredictionCorrection::None,
            stokes: None,
            checked: None,
            step_residuals: (false, None),
        })
    }

    /// Replaces the linear solver (e.g. GMRES with
    /// [`crate::linalg::saddle::BlockLsc`], which needs
    /// [`NavierStokes::pressure_offset`] and so the model first).
    pub fn set_solver(&mut self, solver: Box<dyn LinearSolver>) {
        self.solver = solver;
    }

    /// The first pressure unknown: velocities come before it in the system.
    pub fn pressure_offset(&self) -> usize {
        self.space.offset(1, 0)
    }

    /// Sets (or replaces) the condition on a group.
    pub fn set_boundary(&mut self, group: &str, condition: FlowBoundary) {
        self.boundary.retain(|(g, _)| g != group);
        self.boundary.push((group.to_string(), condition));
    }

    /// Measures the force the fluid exerts on `group` (see [`NavierStokes::force`]).
    pub fn measure_force_on(&mut self, group: &str) -> Result<(), PhysicsError> {
        let dofs = self.velocity_space().group_dofs(group)?;
        self.force_group = Some((group.to_string(), dofs));
        Ok(())
    }

    /// Fixes the pressure to 0 at the vertex nearest `point`: needed when
    /// velocity conditions enclose the flow (the pressure is then only
    /// defined up to a constant).
    pub fn pin_pressure(&mut self, point: [f64; 3]) {
        let q = self.space.space(1);
        let nearest = (0..q.num_dofs())
            .min_by(|&a, &b| {
                let d = |i: usize| {
                    let x = q.dof_points()[i];
                    (0..3).map(|k| (x[k] - point[k]).powi(2)).sum::<f64>()
                };
                d(a).total_cmp(&d(b))
            })
            .expect("a mesh has vertices");
        self.pressure_pin = Some(self.space.offset(1, 0) + nearest);
    }

    /// Sets the committed state: time `t` and the velocity `u0(x)` (the
    /// pressure starts at 0).
    pub fn set_initial(&mut self, t: f64, u0: impl Fn([f64; 3]) -> [f64; 3]) {
        let mut x = vec![0.0; self.space.num_dofs()];
        let v = self.space.space(0);
        let values: Vec<[f64; 3]> = v.dof_points().iter().map(|&p| u0(p)).collect();
        for c in 0..self.dim() {
            let r = self.space.range(0, c);
            for (xi, val) in x[r].iter_mut().zip(&values) {
                *xi = val[c];
            }
        }
        self.history.clear();
        self.history.push_back((t, x));
        self.force = None;
        self.tried = None;
        self.checked = None;
    }

    /// Space dimension.
    pub fn dim(&self) -> usize {
        self.space.components(0)
    }

    /// The scalar P2 space of each velocity component.
    pub fn velocity_space(&self) -> &FunctionSpace {
        self.space.space(0)
    }

    /// The P1 pressure space.
    pub fn pressure_space(&self) -> &FunctionSpace {
        self.space.space(1)
    }

    /// The committed state (all fields, numbered as [`MixedSpace`]).
    pub fn state(&self) -> &[f64] {
        &self.history.back().expect("at least the initial state").1
    }

    /// The committed time.
    pub fn time(&self) -> f64 {
        self.history.back().expect("at least the initial state").0
    }

    /// Component `c` of the committed velocity (P2 dof values).
    pub fn velocity(&self, c: usize) -> &[f64] {
        &self.state()[self.space.range(0, c)]
    }

    /// The committed pressure (P1 dof values).
    pub fn pressure(&self) -> &[f64] {
        &self.state()[self.space.range(1, 0)]
    }

    /// The pressure at a point (`None` outside the mesh).
    pub fn pressure_at(&self, p: [f64; 3]) -> Option<f64> {
        self.pressure_space()
            .point_evaluator(p)
            .map(|e| e.eval(self.pressure()))
    }

    /// A located point for repeated pressure evaluations.
    pub fn pressure_probe(&self, p: [f64; 3]) -> Option<PointEvaluator> {
        self.pressure_space().point_evaluator(p)
    }

    /// The force the fluid exerts on the group of
    /// [`NavierStokes::measure_force_on`] in the committed state (density 1).
    pub fn force(&self) -> Option<[f64; 3]> {
        self.force
    }

    /// Dirichlet dofs and values at time `t`.
    fn dirichlet(&self, t: f64) -> Result<(Vec<usize>, Vec<f64>), PhysicsError> {
        let v = self.velocity_space();
        let d = self.dim();
        let mut fixed = Vec::new();
        for (group, condition) in &self.boundary {
            let value: Box<dyn Fn([f64; 3]) -> [f64; 3]> = match condition {
                FlowBoundary::DoNothing => continue,
                FlowBoundary::NoSlip => Box::new(|_| [0.0; 3]),
                FlowBoundary::Velocity(g) => Box::new(move |x| g(x, t)),
            };
            for i in v.group_dofs(group)? {
                let g = value(v.dof_points()[i]);
                for (c, gc) in g.iter().enumerate().take(d) {
                    fixed.push((self.space.offset(0, c) + i, *gc));
                }
            }
        }
        if let Some(p) = self.pressure_pin {
            fixed.push((p, 0.0));
        }
        // A dof on two groups (a corner) keeps the condition set first.
        fixed.sort_by_key(|&(i, _)| i);
        fixed.dedup_by_key(|&mut (i, _)| i);
        Ok(fixed.into_iter().unzip())
    }

    /// Sets the boundary values at time `t` in `x`; returns the Dirichlet
    /// dofs and, per unknown, whether it is one.
    fn set_boundary_values(
        &self,
        x: &mut [f64],
        t: f64,
    ) -> Result<(Vec<usize>, Vec<bool>), PhysicsError> {
        let (dofs, values) = self.dirichlet(t)?;
        let mut fixed = vec![false; x.len()];
        for (&i, v) in dofs.iter().zip(values) {
            x[i] = v;
            fixed[i] = true;
        }
        Ok((dofs, fixed))
    }

    /// The residual `b − A x` of the system in `matrix` with right-hand
    /// side `rhs`, 0 in the rows boundary conditions set (`fixed`).
    fn residual_at(&self, rhs: &[f64], x: &[f64], fixed: &[bool]) -> Vec<f64> {
        let mut r = vec![0.0; x.len()];
        spmv(&self.matrix, x, &mut r);
        for ((r, b), fixed) in r.iter_mut().zip(rhs).zip(fixed) {
            *r = if *fixed { 0.0 } else { b - *r };
        }
        r
    }

    /// Assembles the linearised system into `self.matrix` and returns its
    /// right-hand side:
    /// `a0 (u, v) + ν (∇u, ∇v) + ((w·∇)u, v) [+ ((u·∇)w, v)] - (p, ∇·v) - (q, ∇·u)`
    /// `= (h, v) / dt-scaled history + (f, v) [+ ((w·∇)w, v)]`,
    /// with `w` the convecting velocity and the bracketed Newton terms.
    fn assemble(
        &mut self,
        a0: f64,
        history: Option<(f64, &[f64])>,
        convecting: Option<&[f64]>,
        newton: bool,
        t: f64,
    ) -> Result<Vec<f64>, PhysicsError> {
        self.checked = None;
        let d = self.dim();
        let nu = self.nu;
        let space = &self.space;
        let nv = space.space(0).element().num_dofs();
        let np = space.space(1).element().num_dofs();
        let size = d * nv + np;
        let field_at = |x: &[f64], v: &CellValues, dofs: &[usize], q: usize| {
            let mut value = [0.0; 3];
            let mut grad = [[0.0; 3]; 3];
            let (phi, g) = (v.phi_at(q), v.grad_at(q));
            for c in 0..d {
                for i in 0..nv {
                    let coef = x[dofs[c * nv + i]];
                    value[c] += coef * phi[i];
                    for k in 0..d {
                        grad[c][k] += coef * g[i][k];
                    }
                }
            }
            (value, grad)
        };
        space.assemble_matrix_into(&mut self.matrix, QUAD_DEGREE, |values, dofs, local| {
            let (v, p) = (&values[0], &values[1]);
            for q in 0..v.num_points() {
                let wt = v.weights[q];
                let (phi, g, psi) = (v.phi_at(q), v.grad_at(q), p.phi_at(q));
                let (w, gw) = match convecting {
                    Some(x) => field_at(x, v, dofs, q),
                    None => ([0.0; 3], [[0.0; 3]; 3]),
                };
                for i in 0..nv {
                    for j in 0..nv {
                        let conv = w[0] * g[j][0] + w[1] * g[j][1] + w[2] * g[j][2];
                        let diff = g[i][0] * g[j][0] + g[i][1] * g[j][1] + g[i][2] * g[j][2];
                        let s = wt * (a0 * phi[i] * phi[j] + nu * diff + conv * phi[i]);
                        for c in 0..d {
                            local[(c * nv + i) * size + c * nv + j] += s;
                        }
                        if newton {
                            let m = wt * phi[i] * phi[j];
                            for c in 0..d {
                                for c2 in 0..d {
                                    local[(c * nv + i) * size + c2 * nv + j] += m * gw[c][c2];
                                }
                            }
                        }
                    }
                    for k in 0..np {
                        for c in 0..d {
                            let b = -wt * psi[k] * g[i][c];
                            local[(c * nv + i) * size + d * nv + k] += b;
                            local[(d * nv + k) * size + c * nv + i] += b;
                        }
                    }
                }
            }
        })?;
        let body = self.body_force.clone();
        let rhs = space.assemble_vector(QUAD_DEGREE, |values, dofs, local| {
            let v = &values[0];
            for q in 0..v.num_points() {
                let mut f = body.as_ref().map_or([0.0; 3], |f| f(v.points[q], t));
                if let Some((scale, h)) = history {
                    let (hq, _) = field_at(h, v, dofs, q);
                    (0..d).for_each(|c| f[c] += scale * hq[c]);
                }
                if let (true, Some(x)) = (newton, convecting) {
                    let (w, gw) = field_at(x, v, dofs, q);
                    for c in 0..d {
                        f[c] += (0..d).map(|k| w[k] * gw[c][k]).sum::<f64>();
                    }
                }
                let phi = v.phi_at(q);
                for c in 0..d {
                    for i in 0..nv {
                        local[c * nv + i] += v.weights[q] * f[c] * phi[i];
                    }
                }
            }
        })?;
        Ok(rhs)
    }

    /// Assembles the step matrix without convection for `a0` at time `t`
    /// and keeps it.
    fn keep_step_matrix(&mut self, a0: f64, t: f64) -> Result<(), PhysicsError> {
        self.assemble(a0, None, None, false, t)?;
        self.step_matrix = Some((a0, t, self.matrix.val().to_vec()));
        Ok(())
    }

    /// The system of a time step, fast: the matrix without convection is
    /// kept for its `a0` (it changes only with the step size), the
    /// convection term by `w` is added through precomputed positions, and
    /// the history term of the right-hand side is `scale · M h` per
    /// velocity component.
    fn assemble_step(
        &mut self,
        a0: f64,
        scale: f64,
        h: &[f64],
        w: &[f64],
        t: f64,
    ) -> Result<Vec<f64>, PhysicsError> {
        self.checked = None;
        // Steps of equal size give the same a0 up to the round-off of the
        // accumulated times: keep the matrix then.
        let same = |a: f64| (a - a0).abs() <= 1e-10 * a0.abs();
        if !self.step_matrix.as_ref().is_some_and(|(a, _, _)| same(*a)) {
            self.keep_step_matrix(a0, t)?;
        }
        let d = self.dim();
        let (_, _, constant) = self.step_matrix.as_ref().expect("assembled above");
        let values = self.matrix.val_mut();
        values.copy_from_slice(constant);
        if self.convection {
            let space = &self.space;
            let v = space.space(0);
            let nv = v.element().num_dofs();
            let offsets: Vec<usize> = (0..d).map(|c| space.offset(0, c)).collect();
            let positions = &self.convection_positions;
            let nnz = values.len();
            let parts = assembly::over_cells(
                &[v],
                QUAD_DEGREE,
                || vec![0.0; nnz],
                |cell, values, acc| {
                    let vals = &values[0];
                    let dofs = v.cell_dofs(cell);
                    let mut local = [0.0; MAX_VELOCITY_DOFS * MAX_VELOCITY_DOFS];
                    for q in 0..vals.num_points() {
                        let (phi, g) = (vals.phi_at(q), vals.grad_at(q));
                        let mut wq = [0.0; 3];
                        for (c, wc) in wq.iter_mut().enumerate().take(d) {
                            *wc = (0..nv).map(|i| w[offsets[c] + dofs[i]] * phi[i]).sum();
                        }
                        for j in 0..nv {
                            let conv = vals.weights[q]
                                * (wq[0] * g[j][0] + wq[1] * g[j][1] + wq[2] * g[j][2]);
                            for i in 0..nv {
                                local[i * nv + j] += conv * phi[i];
                            }
                        }
                    }
                    let at = &positions[cell * d * nv * nv..(cell + 1) * d * nv * nv];
                    for c in 0..d {
                        for (k, l) in local[..nv * nv].iter().enumerate() {
                            acc[at[c * nv * nv + k]] += l;
                        }
                    }
                },
            )?;
            for part in parts {
                values.iter_mut().zip(part).for_each(|(a, b)| *a += b);
            }
        }
        let mut rhs = match &self.body_force {
            Some(_) => self.assemble_body_force(t)?,
            None => vec![0.0; self.space.num_dofs()],
        };
        let mut mh = vec![0.0; self.velocity_space().num_dofs()];
        for c in 0..self.dim() {
            let r = self.space.range(0, c);
            spmv(&self.mass, &h[r.clone()], &mut mh);
            rhs[r]
                .iter_mut()
                .zip(&mh)
                .for_each(|(b, m)| *b += scale * m);
        }
        Ok(rhs)
    }

    /// `(f, v)` for the body force at time `t`.
    fn assemble_body_force(&self, t: f64) -> Result<Vec<f64>, PhysicsError> {
        let d = self.dim();
        let nv = self.velocity_space().element().num_dofs();
        let body = self.body_force.clone();
        Ok(self
            .space
            .assemble_vector(QUAD_DEGREE, |values, _, local| {
                let v = &values[0];
                for q in 0..v.num_points() {
                    let f = body.as_ref().map_or([0.0; 3], |f| f(v.points[q], t));
                    for (c, fc) in f.iter().enumerate().take(d) {
                        for (i, p) in v.phi_at(q).iter().enumerate() {
                            local[c * nv + i] += v.weights[q] * fc * p;
                        }
                    }
                }
            })?)
    }

    /// Keeps the momentum rows of the force group before elimination.
    fn residual_rows(&self, rhs: &[f64]) -> ResidualRows {
        let Some((_, dofs)) = &self.force_group else {
            return Vec::new();
        };
        let a = &self.matrix;
        let (ptr, col, val) = (a.symbolic().row_ptr(), a.symbolic().col_idx(), a.val());
        let mut rows = Vec::with_capacity(dofs.len() * self.dim());
        for c in 0..self.dim() {
            for &i in dofs {
                let r = self.space.offset(0, c) + i;
                let entries = (ptr[r]..ptr[r + 1]).map(|k| (col[k], val[k])).collect();
                rows.push((r, entries, rhs[r]));
            }
        }
        rows
    }

    /// The force from the kept rows and the solution: minus the momentum
    /// residual tested with the group's velocity basis functions.
    fn force_from(&self, rows: &ResidualRows, x: &[f64]) -> Option<[f64; 3]> {
        self.force_group.as_ref()?;
        let n = self.velocity_space().num_dofs();
        let base = self.space.offset(0, 0);
        let mut f = [0.0; 3];
        for (r, entries, b) in rows {
            let residual: f64 = entries.iter().map(|&(j, v)| v * x[j]).sum::<f64>() - b;
            f[(r - base) / n] -= residual;
        }
        Some(f)
    }

    /// Eliminates the Dirichlet conditions at `t` and solves, starting from `x`.
    fn solve_system(
        &mut self,
        mut rhs: Vec<f64>,
        t: f64,
        x: &mut [f64],
    ) -> Result<usize, PhysicsError> {
        let (dofs, values) = self.dirichlet(t)?;
        bc::apply_dirichlet(&mut self.matrix, &mut rhs, &dofs, &values);
        let report = self.solver.solve(&self.matrix, &rhs, x)?;
        Ok(report.iterations)
    }

    /// Solves the steady problem at the committed time by Newton's method
    /// started from the Stokes solution, until the relative update is below
    /// `tolerance`; the solution becomes the committed state.
    pub fn solve_steady(
        &mut self,
        tolerance: f64,
        max_iterations: usize,
    ) -> Result<NewtonReport, PhysicsError> {
        let t = self.time();
        let mut x = self.state().to_vec();
        let mut report = NewtonReport::default();
        let rhs = self.assemble(0.0, None, None, false, t)?;
        let mut rows = self.residual_rows(&rhs);
        self.solve_system(rhs, t, &mut x)?;
        if self.convection {
            loop {
                if report.iterations == max_iterations {
                    return Err(PhysicsError::NotConverged(format!(
                        "Newton's method did not converge in {max_iterations} iterations \
                         (relative updates {})",
                        report
                            .increments
                            .iter()
                            .map(|v| format!("{v:.1e}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
                let w = x.clone();
                let rhs = self.assemble(0.0, None, Some(&w), true, t)?;
                rows = self.residual_rows(&rhs);
                self.solve_system(rhs, t, &mut x)?;
                let scale = x.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
                let change = x
                    .iter()
                    .zip(&w)
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                report.iterations += 1;
                report.increments.push(change / scale);
                if !(change / scale).is_finite() {
                    return Err(PhysicsError::NotConverged(
                        "Newton's method diverged (the update is not finite)".into(),
                    ));
                }
                if change / scale < tolerance {
                    break;
                }
            }
        }
        self.force = self.force_from(&rows, &x);
        self.history.clear();
        self.history.push_back((t, x));
        Ok(report)
    }

    /// The vorticity at the velocity dofs, by L2 projection onto P2: a
    /// scalar `∂u_y/∂x - ∂u_x/∂y` in 2D, three components in 3D.
    pub fn vorticity(&self) -> Result<Vec<Vec<f64>>, PhysicsError> {
        let v = self.velocity_space();
        let d = self.dim();
        let x = self.state();
        let mut solver = self.projection.lock().expect("not poisoned");
        let offsets: Vec<usize> = (0..d).map(|c| self.space.offset(0, c)).collect();
        let components: &[(usize, usize)] = if d == 2 {
            &[(1, 0)]
        } else {
            &[(2, 1), (0, 2), (1, 0)]
        };
        let mut out = Vec::new();
        for &(a, b) in components {
            // ω = ∂u_a/∂x_b - ∂u_b/∂x_a.
            let rhs = assembly::assemble_vector(v, 4, |values, local| {
                let dofs = v.cell_dofs(values.cell);
                for q in 0..values.num_points() {
                    let g = values.grad_at(q);
                    let mut w = 0.0;
                    for (i, &dof) in dofs.iter().enumerate() {
                        w += x[offsets[a] + dof] * g[i][b] - x[offsets[b] + dof] * g[i][a];
                    }
                    for (l, p) in local.iter_mut().zip(values.phi_at(q)) {
                        *l += values.weights[q] * w * p;
                    }
                }
            })?;
            let mut omega = vec![0.0; v.num_dofs()];
            solver.solve(&self.mass, &rhs, &mut omega)?;
            out.push(omega);
        }
        Ok(out)
    }
}

impl NavierStokes {
    /// Assembles the system of the step from `t` to `t + dt` (matrix into
    /// `self.matrix`, before Dirichlet elimination); returns its right-hand
    /// side.
    fn step_system(&mut self, t: f64, dt: f64) -> Result<Vec<f64>, PhysicsError> {
        let star = self.extrapolated(t, dt);
        // Variable-step BDF2: (α u^{n+1} - h) / dt with the extrapolated
        // convecting velocity u* = (1 + ω) u^n - ω u^{n-1}, ω = dt / dt_old.
        let (_, x_n) = self.history.back().expect("initial state");
        let (alpha, h) = match self.bdf2_ratio(t, dt) {
            Some(w) => {
                let (_, x_1) = &self.history[self.history.len() - 2];
                let h: Vec<f64> = x_n
                    .iter()
                    .zip(x_1)
                    .map(|(a, b)| (1.0 + w) * a - w * w / (1.0 + w) * b)
                    .collect();
                ((1.0 + 2.0 * w) / (1.0 + w), h)
            }
            None => (1.0, x_n.clone()),
        };
        self.assemble_step(alpha / dt, 1.0 / dt, &h, &star, t + dt)
    }

    /// The system of the step from `t` by `dt` in `matrix`, and its
    /// right-hand side: the one a check (or a predictor's extrapolation
    /// residual) assembled for this step, which nothing has changed since,
    /// or else assembled now.
    fn step_rhs(&mut self, t: f64, dt: f64) -> Result<Vec<f64>, PhysicsError> {
        match self.checked.take().filter(|c| c.t == t && c.dt == dt) {
            Some(c) => Ok(c.rhs),
            None => self.step_system(t, dt),
        }
    }

    /// `ω = dt / dt_old` of a BDF2 step from `t` by `dt`; `None` for a
    /// backward-Euler step (the integrator, or the first step).
    fn bdf2_ratio(&self, t: f64, dt: f64) -> Option<f64> {
        let bdf2 = self.integrator == Integrator::Bdf2 && self.history.len() >= 2;
        bdf2.then(|| dt / (t - self.history[self.history.len() - 2].0))
    }

    /// The committed states extrapolated to `t + dt`: `(1 + ω) xₙ − ω xₙ₋₁`
    /// for a BDF2 step (its convecting velocity), else `xₙ`.
    fn extrapolated(&self, t: f64, dt: f64) -> Vec<f64> {
        let (_, x_n) = self.history.back().expect("initial state");
        match self.bdf2_ratio(t, dt) {
            Some(w) => {
                let (_, x_1) = &self.history[self.history.len() - 2];
                x_n.iter()
                    .zip(x_1)
                    .map(|(a, b)| (1.0 + w) * a - w * b)
                    .collect()
            }
            None => x_n.clone(),
        }
    }

    /// Largest absolute velocity value of `x` (NaN if any is).
    fn velocity_max_abs(&self, x: &[f64]) -> f64 {
        let velocity = self.space.range(0, 0).start..self.space.range(0, self.dim() - 1).end;
        crate::linalg::max_abs(&x[velocity])
    }

    /// The classical step from `t` to `t + dt`, its solver started from
    /// `guess`, on the system a check assembled for this step if there is
    /// one (the same system: nothing has changed since), else assembled.
    fn classical_step(
        &mut self,
        t: f64,
        dt: f64,
        guess: Vec<f64>,
    ) -> Result<StepReport, StepError> {
        let rhs = self.step_rhs(t, dt)?;
        if self.step_residuals.0 {
            self.step_residuals.1 = Some(self.extrapolation_residual(t, dt, &rhs)?);
        }
        let rows = self.residual_rows(&rhs);
        let mut x = guess;
        let iterations = self.solve_system(rhs, t + dt, &mut x)?;
        let max_abs = self.velocity_max_abs(&x);
        let force = self.force_from(&rows, &x);
        self.tried = Some(Tried {
            t: t + dt,
            x,
            force,
        });
        Ok(StepReport {
            iterations,
            error_estimate: None,
            max_abs,
            fallback: None,
        })
    }

    /// Tries `x` (numbered as the mixed space; e.g. a learned prediction)
    /// as the state at `t + dt`: its boundary values are set, it becomes the
    /// tried step (force included), and its residuals in the step's
    /// discrete system are returned.
    pub fn try_state(
        &mut self,
        t: f64,
        dt: f64,
        x: Vec<f64>,
    ) -> Result<StepResidual, PhysicsError> {
        self.try_completed_state(t, dt, x, &[])
    }

    /// [`NavierStokes::try_state`], after the unknowns `solved` are
    /// recomputed from the step's equations in their rows, the other
    /// unknowns held at their values: `A_SS x_S = b_S − A_SO x_O` by
    /// GMRES(ILU(0)) to a relative 1e-12, started from `x_S`. (Symmetric
    /// Gauss–Seidel sweeps over these rows instead stalled where convection
    /// dominates and left exact vertex values a residual of 0.04–0.05 on
    /// the DFG mesh, measured.) If the solve fails (a NaN prediction), `x`
    /// is judged as it is. Then the prediction correction
    /// ([`NavierStokes::set_prediction_correction`]) is applied.
    pub(super) fn try_completed_state(
        &mut self,
        t: f64,
        dt: f64,
        mut x: Vec<f64>,
        solved: &[usize],
    ) -> Result<StepResidual, PhysicsError> {
        let rhs = self.step_rhs(t, dt)?;
        let (dofs, fixed) = self.set_boundary_values(&mut x, t + dt)?;
        let a = &self.matrix;
        let (ptr, col, val) = (a.symbolic().row_ptr(), a.symbolic().col_idx(), a.val());
        let mut in_block = vec![false; x.len()];
        for &row in solved.iter().filter(|&&r| !fixed[r]) {
            in_block[row] = true;
        }
        let block: Vec<usize> = (0..x.len()).filter(|&r| in_block[r]).collect();
        if !block.is_empty() {
            let b: Vec<f64> = block
                .iter()
                .map(|&row| {
                    let outside: f64 = (ptr[row]..ptr[row + 1])
                        .filter(|&k| !in_block[col[k]])
                        .map(|k| val[k] * x[col[k]])
                        .sum();
                    rhs[row] - outside
                })
                .collect();
            let mut y: Vec<f64> = block.iter().map(|&row| x[row]).collect();
            let mut gmres = Gmres::new(
                Box::new(Ilu0::default()),
                Tolerance {
                    rtol: 1e-12,
                    atol: 0.0,
                    max_iterations: 500,
                },
                50,
            );
            if gmres.solve(&principal_block(a, &in_block), &b, &mut y).is_ok() {
                for (&row, v) in block.iter().zip(y) {
                    x[row] = v;
                }
            }
        }
        self.correct_prediction(&mut x, &rhs, &dofs, &fixed)?;
        let a = &self.matrix;
        let (ptr, col, val) = (a.symbolic().row_ptr(), a.symbolic().col_idx(), a.val());
        // Squared norms of the residual of `x` and of its scale (the sum
        // of the magnitudes of its terms), [momentum, continuity].
        let split = self.pressure_offset();
        let residual_sums = |x: &[f64]| {
            let mut sums = [[0.0; 2]; 2];
            for row in (0..x.len()).filter(|&r| !fixed[r]) {
                let (mut r, mut scale) = (-rhs[row], rhs[row].abs());
                for k in ptr[row]..ptr[row + 1] {
                    let term = val[k] * x[col[k]];
                    r += term;
                    scale += term.abs();
                }
                let part = usize::from(row >= split);
                sums[part][0] += r * r;
                sums[part][1] += scale * scale;
            }
            sums
        };
        let sums = residual_sums(&x);
        // Not stepping: the current state with the new boundary values.
        let mut stay = self.state().to_vec();
        for &i in &dofs {
            stay[i] = x[i];
        }
        let stay = residual_sums(&stay);
        let ratio = |r: f64, s: f64| if s > 0.0 { (r / s).sqrt() } else { r.sqrt() };
        let momentum = ratio(sums[0][0], stay[0][0].max(1e-28 * stay[0][1]));
        let continuity = ratio(sums[1][0], sums[1][1]);
        let rows = self.residual_rows(&rhs);
        let force = self.force_from(&rows, &x);
        self.tried = Some(Tried {
            t: t + dt,
            x,
            force,
        });
        self.checked = Some(CheckedSystem { t, dt, rhs });
        Ok(StepResidual {
            momentum,
            continuity,
        })
    }
}

impl Stepper for NavierStokes {
    fn try_step(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError> {
        let x_n = self.state().to_vec();
        self.classical_step(t, dt, x_n)
    }

    fn commit(&mut self) {
        self.checked = None;
        if let Some(tried) = self.tried.take() {
            self.history.push_back((tried.t, tried.x));
            while self.history.len() > self.kept_states {
                self.history.pop_front();
            }
            self.force = tried.force;
        }
    }

    fn set_field(&mut self, name: &str, values: &[f64]) -> Result<(), String> {
        let names = &["velocity_x", "velocity_y", "velocity_z"][..self.dim()];
        let mut all = names.to_vec();
        all.push("pressure");
        let k = all.iter().position(|n| *n == name).unwrap_or(all.len());
        let range = if k < self.dim() {
            self.space.range(0, k)
        } else {
            self.space.range(1, 0)
        };
        super::field_slot(&all, name, range.len(), values)?;
        let (t, mut x) = (self.time(), self.state().to_vec());
        x[range].copy_from_slice(values);
        self.checked = None;
        self.history.clear();
        self.history.push_back((t, x));
        Ok(())
    }

    fn snapshot(&self) -> Option<Snapshot> {
        let mut s = Snapshot::of_history(&self.history);
        s.push_solver("solver", self.solver.as_ref());
        // The kept step matrix serves steps whose a0 differs from its own by
        // round-off: the restarted run must keep the same one.
        if let Some((a0, t, _)) = &self.step_matrix {
            s.push("step_matrix", vec![*a0, *t]);
        }
        Some(s)
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StepError> {
        self.history = snapshot.history(self.space.num_dofs())?;
        snapshot.restore_solver("solver", self.solver.as_mut(), &self.matrix)?;
        self.step_matrix = None;
        if let Ok([a0, t]) = snapshot.get("step_matrix") {
            self.keep_step_matrix(*a0, *t)?;
        }
        self.tried = None;
        self.checked = None;
        self.force = None;
        Ok(())
    }
}

impl Model for NavierStokes {
    fn name(&self) -> &'static str {
        if self.convection {
            "navier_stokes"
        } else {
            "stokes"
        }
    }

    fn mesh(&self) -> &Arc<pde_mesh::Mesh> {
        self.space.mesh()
    }

    fn unknowns(&self) -> usize {
        self.space.num_dofs()
    }

    /// Velocity (3 components), pressure and vorticity (3 components in 3D)
    /// at every mesh point.
    fn point_data(&self) -> Result<Vec<OutputField>, PhysicsError> {
        let v = self.velocity_space();
        let points = v.mesh().num_points();
        let interleave = |fields: &[&[f64]]| {
            let mut out = vec![0.0; 3 * points];
            for (c, f) in fields.iter().enumerate() {
                for (i, value) in v.point_values(f).into_iter().enumerate() {
                    out[3 * i + c] = value;
                }
            }
            out
        };
        let velocity: Vec<&[f64]> = (0..self.dim()).map(|c| self.velocity(c)).collect();
        let vorticity = self.vorticity()?;
        let vorticity = if self.dim() == 2 {
            OutputField::scalars("vorticity", v.point_values(&vorticity[0]))
        } else {
            let parts: Vec<&[f64]> = vorticity.iter().map(|w| w.as_slice()).collect();
            OutputField::vectors("vorticity", 3, interleave(&parts))
        };
        Ok(vec![
            OutputField::vectors("velocity", 3, interleave(&velocity)),
            OutputField::scalars(
                "pressure",
                self.pressure_space().point_values(self.pressure()),
            ),
            vorticity,
        ])
    }

    fn fields(&self) -> Vec<(String, Vec<f64>)> {
        let names = ["velocity_x", "velocity_y", "velocity_z"];
        let mut out: Vec<(String, Vec<f64>)> = (0..self.dim())
            .map(|c| (names[c].to_string(), self.velocity(c).to_vec()))
            .collect();
        out.push(("pressure".into(), self.pressure().to_vec()));
        out
    }

    /// Every velocity component (`u`, `v`, `w`) and the pressure (`p`).
    fn probe(&self, point: [f64; 3]) -> Option<Vec<ProbeColumn>> {
        let velocity = self.velocity_space().point_evaluator(point)?;
        let pressure = self.pressure_probe(point)?;
        let mut columns: Vec<ProbeColumn> = ["u", "v", "w"][..self.dim()]
            .iter()
            .enumerate()
            .map(|(c, label)| ProbeColumn {
                label: label.to_string(),
                field: c,
                at: velocity.clone(),
            })
            .collect();
        columns.push(ProbeColumn {
            label: "p".into(),
            field: self.dim(),
            at: pressure,
        });
        Some(columns)
    }

    fn summary(&self) -> serde_json::Value {
        let mut summary = serde_json::json!({
            "model": self.name(),
            "elements": "Taylor-Hood P2/P1",
            "unknowns": self.space.num_dofs(),
            "nu": self.nu,
            "integrator": format!("{:?}", self.integrator),
        });
        if self.correction != PredictionCorrection::None {
            summary["prediction_correction"] = self.correction.name().into();
        }
        summary
    }
}
