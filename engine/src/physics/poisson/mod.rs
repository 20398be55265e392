//! Poisson's equation with a variable coefficient:
//! `-∇·(κ ∇u) = f`, with Dirichlet `u = g`, Neumann `κ ∂u/∂n = h` and Robin
//! `κ ∂u/∂n + α u = r` conditions on physical groups.

mod spec;

pub use spec::PoissonSpec;

use std::sync::Arc;

use super::{Model, OutputField, PhysicsError, ProbeColumn, ScalarFn};
use crate::fem::{assembly, bc, FunctionSpace};
use crate::linalg::{LinearSolver, SolveReport};

/// A boundary condition on a physical group.
#[derive(Clone)]
pub enum BoundaryCondition {
    /// `u = g`.
    Dirichlet(ScalarFn),
    /// `κ ∂u/∂n = h` (outward normal).
    Neumann(ScalarFn),
    /// `κ ∂u/∂n + α u = r`.
    Robin {
        /// `α`.
        alpha: ScalarFn,
        /// `r`.
        value: ScalarFn,
    },
}

/// The Poisson problem on a function space.
///
/// ```
/// use std::sync::Arc;
/// use pde_engine::fem::FunctionSpace;
/// use pde_engine::linalg::direct::Cholesky;
/// use pde_engine::physics::poisson::{BoundaryCondition, Poisson};
/// use pde_mesh::{generate, CellKind};
///
/// let mesh = Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [4, 4], CellKind::Tri3).unwrap());
/// let mut p = Poisson::new(FunctionSpace::new(mesh, 2).unwrap());
/// // u = 1 + x^2 + 2 y^2 is quadratic: P2 reproduces it exactly.
/// p.source = Arc::new(|_| -6.0);
/// for side in ["left", "right", "bottom", "top"] {
///     p.set_boundary(side, BoundaryCondition::Dirichlet(Arc::new(|x| 1.0 + x[0] * x[0] + 2.0 * x[1] * x[1])));
/// }
/// let (u, _) = p.solve(&mut Cholesky::new()).unwrap();
/// let exact = p.space.interpolate(|x| 1.0 + x[0] * x[0] + 2.0 * x[1] * x[1]);
/// assert!(u.iter().zip(&exact).all(|(a, b)| (a - b).abs() < 1e-12));
/// ```
pub struct Poisson {
    /// The discrete space.
    pub space: FunctionSpace,
    /// Diffusion coefficient `κ` (default 1).
    pub kappa: ScalarFn,
    /// Source `f` (default 0).
    pub source: ScalarFn,
    /// Boundary conditions by physical-group name; groups not listed get
    /// the natural condition `κ ∂u/∂n = 0`.
    pub boundary: Vec<(String, BoundaryCondition)>,
    solution: Vec<f64>,
}

impl Poisson {
    /// `-Δu = 0` with natural boundary conditions everywhere.
    pub fn new(space: FunctionSpace) -> Self {
        Poisson {
            space,
            kappa: Arc::new(|_| 1.0),
            source: Arc::new(|_| 0.0),
            boundary: Vec::new(),
            solution: Vec::new(),
        }
    }

    /// The last solution (empty before the first solve).
    pub fn solution(&self) -> &[f64] {
        &self.solution
    }

    /// Sets (or replaces) the condition on a group.
    pub fn set_boundary(&mut self, group: &str, condition: BoundaryCondition) {
        self.boundary.retain(|(g, _)| g != group);
        self.boundary.push((group.to_string(), condition));
    }

    /// Assembles and solves; returns the dof values (also kept as the
    /// model's state) and the solver's report.
    pub fn solve(
        &mut self,
        solver: &mut dyn LinearSolver,
    ) -> Result<(Vec<f64>, SolveReport), PhysicsError> {
        let space = &self.space;
        // Exact for the element's products on straight cells, plus margin for
        // the coefficients and curved geometry.
        let q = 2 * space.degree() + 2;
        let kappa = self.kappa.clone();
        let mut a = assembly::assemble_matrix(space, q, assembly::laplace(move |x| kappa(x)))?;
        let f = self.source.clone();
        let mut b = assembly::assemble_vector(space, q, assembly::source(move |x| f(x)))?;
        let mut fixed = Vec::new();
        for (group, condition) in &self.boundary {
            match condition {
                BoundaryCondition::Dirichlet(g) => {
                    for d in space.group_dofs(group)? {
                        fixed.push((d, g(space.dof_points()[d])));
                    }
                }
                BoundaryCondition::Neumann(h) => {
                    let h = h.clone();
                    let bn = assembly::assemble_boundary_vector(
                        space,
                        group,
                        q,
                        assembly::source(move |x| h(x)),
                    )?;
                    b.iter_mut().zip(bn).for_each(|(bi, v)| *bi += v);
                }
                BoundaryCondition::Robin { alpha, value } => {
                    let (alpha, value) = (alpha.clone(), value.clone());
                    assembly::add_boundary_matrix(
                        &mut a,
                        space,
                        group,
                        q,
                        assembly::mass(move |x| alpha(x)),
                    )?;
                    let br = assembly::assemble_boundary_vector(
                        space,
                        group,
                        q,
                        assembly::source(move |x| value(x)),
                    )?;
                    b.iter_mut().zip(br).for_each(|(bi, v)| *bi += v);
                }
            }
        }
        let (dofs, values): (Vec<usize>, Vec<f64>) = fixed.into_iter().unzip();
        bc::apply_dirichlet(&mut a, &mut b, &dofs, &values);
        let mut u = vec![0.0; space.num_dofs()];
        let report = solver.solve(&a, &b, &mut u)?;
        self.solution.clone_from(&u);
        Ok((u, report))
    }
}

impl Model for Poisson {
    fn name(&self) -> &'static str {
        "poisson"
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
            self.space.point_values(&self.solution),
        )])
    }

    fn fields(&self) -> Vec<(String, Vec<f64>)> {
        vec![("u".into(), self.solution.clone())]
    }

    fn probe(&self, point: [f64; 3]) -> Option<Vec<ProbeColumn>> {
        super::scalar::probe(&self.space, point)
    }

    fn summary(&self) -> serde_json::Value {
        super::scalar::summary(self.name(), &self.space, &self.solution)
    }
}
