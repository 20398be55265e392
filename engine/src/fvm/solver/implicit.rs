//! Backward Euler with first-order upwind fluxes for laws linear in the
//! state: `|Ω_i| (u_i - u_iⁿ)/dt + Σ_f F_f(u) = 0`, one sparse linear system
//! per step, shared by all quantities. Upwinding makes the matrix an
//! M-matrix (diagonally dominant by columns), so the step is bounded and
//! positive at any `dt`; the non-orthogonal part of diffusion is taken from
//! the old state (deferred correction). Every face flux is linear in the
//! two states across it, and the same linear form both fills the matrix
//! and measures the boundary outflow, so mass is conserved to the accuracy
//! of the solve.

use super::{DiffusionPartner, FiniteVolume, FvBoundary};
use crate::fvm::law::ConservationLaw;
use crate::fvm::FvError;
use crate::linalg::direct::SparseLu;
use crate::linalg::{entry_index, zeros_with_pattern, LinearSolver, SparseMatrix};

/// The matrix (cell adjacency pattern, built once) and its LU solver.
pub(super) struct System {
    matrix: SparseMatrix,
    lu: SparseLu,
}

/// The flux through a face (times its area, out of the owner) as a linear
/// form of the states: `owner·u_P + neighbour.1·u_{neighbour.0} + constant`.
struct LinearFlux<const N: usize> {
    owner: f64,
    neighbour: Option<(usize, f64)>,
    constant: [f64; N],
}

impl<const N: usize> LinearFlux<N> {
    fn eval(&self, u: &[[f64; N]], p: usize) -> [f64; N] {
        std::array::from_fn(|k| {
            self.owner * u[p][k]
                + self.neighbour.map_or(0.0, |(q, c)| c * u[q][k])
                + self.constant[k]
        })
    }
}

impl<L: ConservationLaw<N>, const N: usize> FiniteVolume<L, N> {
    /// The linear form of the flux through face `f` at time `t`: upwind
    /// advection, implicit orthogonal diffusion, and the non-orthogonal
    /// correction from the gradients of the old state.
    fn linear_flux(
        &self,
        f: usize,
        t: f64,
        gradients: Option<&[[[f64; 3]; N]]>,
    ) -> Result<LinearFlux<N>, FvError> {
        let face = &self.mesh.faces[f];
        let [cl, cr] = self.law.linear_upwind(f).ok_or_else(|| {
            FvError::Unsupported(format!(
                "backward Euler needs a law linear in the state; {} is not (use an SSP \
                 Runge–Kutta method)",
                self.law.name()
            ))
        })?;
        let mut flux = LinearFlux {
            owner: 0.0,
            neighbour: None,
            constant: [0.0; N],
        };
        match (face.neighbour, face.group.map(|g| &self.boundary[g])) {
            (Some(q), _) => {
                flux.owner = cl;
                flux.neighbour = Some((q, cr));
            }
            (None, Some(FvBoundary::Inflow(value))) => {
                let v = value(face.centroid, t);
                flux.owner = cl;
                flux.constant = v.map(|v| cr * v);
            }
            // What leaves leaves; nothing comes back in (as
            // `LinearAdvection::outflow_flux`).
            (None, Some(FvBoundary::Outflow)) => flux.owner = cl,
            (None, Some(FvBoundary::Wall) | None) => {}
        }
        if let Some(g) = gradients {
            let partner = self.diffusion_partner(f, t);
            let c = self.diffusivity * self.mesh.normal_split(f).0;
            let cross = self.cross_diffusion(f, &partner, g);
            match partner {
                DiffusionPartner::Cell(q) => {
                    flux.owner += c;
                    let (_, cq) = flux.neighbour.get_or_insert((q, 0.0));
                    *cq -= c;
                    (0..N).for_each(|k| flux.constant[k] += cross[k]);
                }
                DiffusionPartner::Value(v) => {
                    flux.owner += c;
                    (0..N).for_each(|k| flux.constant[k] += cross[k] - c * v[k]);
                }
                DiffusionPartner::Closed => {}
            }
        }
        flux.owner *= face.area;
        if let Some((_, c)) = &mut flux.neighbour {
            *c *= face.area;
        }
        flux.constant = flux.constant.map(|v| v * face.area);
        Ok(flux)
    }

    /// One backward-Euler step from the committed state at `t`: the new
    /// state and the boundary outflow during the step.
    pub(super) fn implicit_step(
        &mut self,
        t: f64,
        dt: f64,
    ) -> Result<(Vec<[f64; N]>, [f64; N]), FvError> {
        let t1 = t + dt;
        let gradients =
            (self.diffusivity > 0.0).then(|| self.least_squares.gradients(&self.mesh, &self.state));
        let fluxes = (0..self.mesh.faces.len())
            .map(|f| self.linear_flux(f, t1, gradients.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let mesh = &self.mesh;
        let system = self.implicit.get_or_insert_with(|| System {
            matrix: zeros_with_pattern(mesh.cell_adjacency()),
            lu: SparseLu::new(),
        });
        let n = mesh.num_cells();
        let mut values = vec![0.0; system.matrix.val().len()];
        let mut rhs = vec![[0.0; N]; n];
        let at = |i, j| entry_index(&system.matrix, i, j).expect("cell adjacency pattern");
        for c in 0..n {
            values[at(c, c)] += mesh.volume[c] / dt;
            rhs[c] = self.state[c].map(|v| v * mesh.volume[c] / dt);
        }
        for (face, flux) in mesh.faces.iter().zip(&fluxes) {
            let p = face.owner;
            values[at(p, p)] += flux.owner;
            (0..N).for_each(|k| rhs[p][k] -= flux.constant[k]);
            if let Some((q, c)) = flux.neighbour {
                values[at(p, q)] += c;
                values[at(q, p)] -= flux.owner;
                values[at(q, q)] -= c;
                (0..N).for_each(|k| rhs[q][k] += flux.constant[k]);
            }
        }
        system.matrix.val_mut().copy_from_slice(&values);
        let mut u = vec![[0.0; N]; n];
        let mut x = vec![0.0; n];
        for k in 0..N {
            let b: Vec<f64> = rhs.iter().map(|r| r[k]).collect();
            system.lu.solve(&system.matrix, &b, &mut x)?;
            u.iter_mut().zip(&x).for_each(|(ui, xi)| ui[k] = *xi);
        }
        let mut out = [0.0; N];
        for (face, flux) in mesh.faces.iter().zip(&fluxes) {
            if face.neighbour.is_none() {
                let v = flux.eval(&u, face.owner);
                (0..N).for_each(|k| out[k] += dt * v[k]);
            }
        }
        Ok((u, out))
    }
}
