//! The finite-volume solver of a [`ConservationLaw`]: first-order or MUSCL
//! (limited least-squares) reconstruction, a numerical flux per face, an
//! optional diffusion term with non-orthogonal correction,
//! strong-stability-preserving Runge–Kutta in time with the step from a CFL
//! number (or implicit backward Euler with first-order upwind for linear
//! laws, `implicit`), and boundary conditions by physical group.
//!
//! Fluxes are computed once per face and added to one cell and subtracted
//! from the other, so the scheme is conservative to round-off: the total of
//! each conserved quantity changes only by what crosses the boundary,
//! which the solver accumulates ([`FiniteVolume::boundary_outflow`]).

use std::sync::Arc;

use pde_mesh::Mesh;
use rayon::prelude::*;

use super::geometry::{dot3, FvMesh};
use super::law::{ConservationLaw, NumericalFlux};
use super::reconstruct::{limit, LeastSquares, Limiter};
use super::remap::remap;
use super::FvError;

mod implicit;

/// A state of space and time, for inflow conditions.
pub type StateFn<const N: usize> = Arc<dyn Fn([f64; 3], f64) -> [f64; N] + Send + Sync>;

/// A boundary condition of a finite-volume model on a physical group.
#[derive(Clone)]
pub enum FvBoundary<const N: usize> {
    /// The state outside is given (inflow; also a Dirichlet value).
    Inflow(StateFn<N>),
    /// The state outside equals the state inside (zero gradient): waves
    /// leave freely.
    Outflow,
    /// A wall: the mirror state (no mass crosses).
    Wall,
}

/// Face reconstruction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reconstruction {
    /// Cell averages on both sides of a face: first order (upwind).
    FirstOrder,
    /// Limited linear reconstruction from least-squares gradients: second
    /// order where the solution is smooth.
    Muscl(Limiter),
}

/// Strong-stability-preserving Runge–Kutta methods (Shu–Osher form): each
/// stage is a convex combination of forward-Euler steps, so whatever
/// forward Euler keeps (bounds, positivity) under the CFL limit, they keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SspRk {
    /// Forward Euler (order 1).
    Rk1,
    /// Heun's method (order 2).
    #[default]
    Rk2,
    /// Shu–Osher's three-stage method (order 3).
    Rk3,
}

/// Time integration of a finite-volume model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FvIntegrator {
    /// Explicit SSP Runge–Kutta with the reconstruction and flux of the
    /// model; stable up to CFL 1.
    Ssp(SspRk),
    /// Implicit backward Euler with first-order upwind fluxes, for laws
    /// linear in the state ([`ConservationLaw::linear_upwind`]): stable and
    /// bounded at any step, first order in time and space. One sparse LU
    /// solve per step (the factor is reused while the matrix stays the same).
    BackwardEuler,
}

impl Default for FvIntegrator {
    fn default() -> Self {
        FvIntegrator::Ssp(SspRk::default())
    }
}

impl SspRk {
    /// `a_i` of the stages `u⁽ⁱ⁾ = a_i uⁿ + (1 - a_i)(u⁽ⁱ⁻¹⁾ + dt L(u⁽ⁱ⁻¹⁾))`.
    fn stages(self) -> &'static [f64] {
        match self {
            SspRk::Rk1 => &[0.0],
            SspRk::Rk2 => &[0.0, 0.5],
            SspRk::Rk3 => &[0.0, 0.75, 1.0 / 3.0],
        }
    }
}

/// An explicit finite-volume model of the law `L` with `N` conserved
/// quantities per cell.
///
/// ```
/// use pde_engine::fvm::geometry::FvMesh;
/// use pde_engine::fvm::law::LinearAdvection;
/// use pde_engine::fvm::solver::{FiniteVolume, FvBoundary};
/// use pde_mesh::{generate, CellKind};
/// // A pulse carried to the right through a channel with an open outlet.
/// let mesh = generate::rectangle([0.0, 0.0], [1.0, 0.2], [50, 10], CellKind::Tri3).unwrap();
/// let fv = FvMesh::new(std::sync::Arc::new(mesh)).unwrap();
/// let law = LinearAdvection::new(&fv, |_| [1.0, 0.0, 0.0]);
/// let mut model = FiniteVolume::new(fv, law);
/// model.set_boundary("right", FvBoundary::Outflow).unwrap();
/// model.set_initial(|x| [if x[0] < 0.2 { 1.0 } else { 0.0 }]);
/// let mass0 = model.total()[0];
/// model.run_until(0.3).unwrap();
/// // What is missing left through the outlet (exactly), nothing else.
/// assert!((model.total()[0] + model.boundary_outflow()[0] - mass0).abs() < 1e-12);
/// ```
pub struct FiniteVolume<L, const N: usize> {
    /// The cell and face geometry.
    pub mesh: FvMesh,
    /// The conservation law (public: coupled models update its fields).
    pub law: L,
    /// Numerical flux. Default Rusanov.
    pub flux: NumericalFlux,
    /// Reconstruction. Default MUSCL with the Barth–Jespersen limiter.
    pub reconstruction: Reconstruction,
    /// Time integrator. Default SSP-RK2.
    pub integrator: FvIntegrator,
    /// Courant number of [`FiniteVolume::cfl_dt`]. Default 0.5.
    pub cfl: f64,
    /// Diffusivity `κ` of a term `∇·(κ∇u)` added to every conserved
    /// quantity (advection–diffusion, viscous Burgers). Default 0. Face
    /// gradients use the over-relaxed non-orthogonal correction
    /// ([`FvMesh::normal_split`]); inflow faces take the inflow value as a
    /// Dirichlet value, outflow and wall faces pass no diffusive flux.
    pub diffusivity: f64,
    least_squares: LeastSquares,
    /// Condition per boundary group (by index in the mesh's group names);
    /// groups without one are walls.
    boundary: Vec<FvBoundary<N>>,
    state: Vec<[f64; N]>,
    time: f64,
    outflow: [f64; N],
    tried: Option<(f64, Vec<[f64; N]>, [f64; N])>,
    implicit: Option<implicit::System>,
}

/// What lies across a face for the diffusion term.
enum DiffusionPartner<const N: usize> {
    /// A cell (interior or periodic face).
    Cell(usize),
    /// A boundary value (inflow faces).
    Value([f64; N]),
    /// Nothing: no diffusive flux (outflow and wall faces).
    Closed,
}

impl<L: ConservationLaw<N>, const N: usize> FiniteVolume<L, N> {
    /// The model at rest (zero state) at time 0; every boundary group a wall.
    pub fn new(mesh: FvMesh, law: L) -> Self {
        let least_squares = LeastSquares::new(&mesh);
        let boundary = vec![FvBoundary::Wall; mesh.group_names.len()];
        let state = vec![[0.0; N]; mesh.num_cells()];
        FiniteVolume {
            mesh,
            law,
            flux: NumericalFlux::default(),
            reconstruction: Reconstruction::Muscl(Limiter::BarthJespersen),
            integrator: FvIntegrator::default(),
            cfl: 0.5,
            diffusivity: 0.0,
            least_squares,
            boundary,
            state,
            time: 0.0,
            outflow: [0.0; N],
            tried: None,
            implicit: None,
        }
    }

    /// Sets the condition on boundary group `group`.
    pub fn set_boundary(&mut self, group: &str, condition: FvBoundary<N>) -> Result<(), String> {
        let g = self.mesh.group_index(group)?;
        self.boundary[g] = condition;
        Ok(())
    }

    /// The condition on boundary face `face` (`None` inside, or on an
    /// untagged boundary, which is a wall).
    pub fn boundary_of(&self, face: &super::geometry::Face) -> Option<&FvBoundary<N>> {
        face.group.map(|g| &self.boundary[g])
    }

    /// Sets every cell to `u0` at its centroid (time unchanged).
    pub fn set_initial(&mut self, u0: impl Fn([f64; 3]) -> [f64; N]) {
        self.state = self.mesh.centroid.iter().map(|&x| u0(x)).collect();
        self.outflow = [0.0; N];
    }

    /// The cell averages.
    pub fn state(&self) -> &[[f64; N]] {
        &self.state
    }

    /// Overwrites the cell averages (coupling, restarts).
    pub fn set_state(&mut self, state: Vec<[f64; N]>) {
        assert_eq!(state.len(), self.mesh.num_cells(), "one state per cell");
        self.state = state;
    }

    /// Sets what has left through the boundary so far (restarts).
    pub fn set_boundary_outflow(&mut self, outflow: [f64; N]) {
        self.outflow = outflow;
    }

    /// The committed time.
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Sets the committed time.
    pub fn set_time(&mut self, t: f64) {
        self.time = t;
    }

    /// Moves the model onto `mesh`: the same connectivity with new node
    /// positions (a mesh mover's output), and the same boundary groups. The
    /// cell averages are remapped conservatively ([`remap`]: the total is
    /// kept, no new extrema appear), the law follows
    /// ([`ConservationLaw::remesh`]), and what was computed for the old mesh
    /// (a tried step, the implicit system) is dropped. A move too far for
    /// one remap is made in up to 16 parts. Refused, the model unchanged,
    /// where [`remap`] refuses even then or the groups differ.
    pub fn move_nodes(&mut self, mesh: Arc<Mesh>) -> Result<(), FvError> {
        let moved = self.same_groups(mesh)?;
        // A move too far for one remap (a cell would give away all it
        // has) is made in 2, 4, ... 16 equal parts.
        let mut parts = 1;
        let (state, moved) = loop {
            match self.remap_in_parts(moved.clone(), parts) {
                Ok(done) => break done,
                Err(_) if parts < 16 => parts *= 2,
                Err(e) => return Err(e),
            }
        };
        self.state = state;
        self.adopt(moved);
        Ok(())
    }

    /// Puts the model on `mesh` (the same connectivity and groups, other
    /// node positions) keeping the cell averages as they are, not
    /// remapped: for a restart, which sets the state next.
    pub fn place_on(&mut self, mesh: Arc<Mesh>) -> Result<(), FvError> {
        let moved = self.same_groups(mesh)?;
        self.adopt(moved);
        Ok(())
    }

    /// The finite-volume mesh of `mesh`, refused unless its boundary
    /// groups are the model's.
    fn same_groups(&self, mesh: Arc<Mesh>) -> Result<FvMesh, FvError> {
        let moved = FvMesh::new(mesh)?;
        if moved.group_names != self.mesh.group_names {
            return Err(FvError::Remap(format!(
                "the moved mesh has the boundary groups [{}], the model's [{}]",
                moved.group_names.join(", "),
                self.mesh.group_names.join(", ")
            )));
        }
        Ok(moved)
    }

    /// Makes `moved` the model's mesh, dropping what was computed for the
    /// old one (a tried step, the implicit system).
    fn adopt(&mut self, moved: FvMesh) {
        self.least_squares = LeastSquares::new(&moved);
        self.mesh = moved;
        self.tried = None;
        self.implicit = None;
        self.law.remesh(&self.mesh);
    }

    /// The state remapped onto `to` through `parts − 1` intermediate meshes
    /// on the straight paths of the nodes.
    fn remap_in_parts(&self, to: FvMesh, parts: usize) -> Result<(Vec<[f64; N]>, FvMesh), FvError> {
        let (from, target) = (&self.mesh.mesh.points, &to.mesh.points);
        let mut state = self.state.clone();
        let mut current = self.mesh.clone();
        for k in 1..parts {
            let s = k as f64 / parts as f64;
            let mut mesh = (*to.mesh).clone();
            for (p, (a, b)) in mesh.points.iter_mut().zip(from.iter().zip(target)) {
                *p = std::array::from_fn(|d| a[d] + s * (b[d] - a[d]));
            }
            let next = FvMesh::new(Arc::new(mesh))?;
            state = remap(&current, &next, &state)?;
            current = next;
        }
        state = remap(&current, &to, &state)?;
        Ok((state, to))
    }

    /// `Σ u_i |Ω_i|`: the total of each conserved quantity.
    pub fn total(&self) -> [f64; N] {
        let mut s = [0.0; N];
        for (u, v) in self.state.iter().zip(&self.mesh.volume) {
            (0..N).for_each(|k| s[k] += u[k] * v);
        }
        s
    }

    /// What has left through the boundary since the initial state (negative
    /// where it came in): `total() + boundary_outflow()` stays constant.
    pub fn boundary_outflow(&self) -> [f64; N] {
        self.outflow
    }

    /// The step the CFL condition allows (also [`crate::physics::Stepper::stable_dt`]):
    /// `cfl · min_i |Ω_i| / Σ_f (s_f + κ/(d_f·n_f)) |f|`, with `s_f` the
    /// largest wave speed of the cell at each of its faces and `d_f` the
    /// offset across the face (the diffusion part is the explicit
    /// diffusion limit `h²/(2κ)` on uniform meshes). Backward Euler is not
    /// limited by it: there `cfl` may exceed 1.
    pub fn cfl_dt(&self) -> f64 {
        (0..self.mesh.num_cells())
            .into_par_iter()
            .map(|c| {
                let rate: f64 = self
                    .mesh
                    .cell_faces
                    .row(c)
                    .iter()
                    .map(|&f| {
                        let face = &self.mesh.faces[f];
                        let (lo, hi) = self.law.wave_speeds(&self.state[c], face.normal, f);
                        let diffusion = if self.diffusivity > 0.0 {
                            self.diffusivity * self.mesh.normal_split(f).0.abs()
                        } else {
                            0.0
                        };
                        (lo.abs().max(hi.abs()) + diffusion) * face.area
                    })
                    .sum();
                self.cfl * self.mesh.volume[c] / rate
            })
            .reduce(|| f64::INFINITY, f64::min)
    }

    /// The first inflow value that is not finite at any of `times`: the
    /// group's name, the face centroid and the time. Explains a state that
    /// stopped being finite (the fluxes themselves do not check).
    pub fn nonfinite_inflow(&self, times: &[f64]) -> Option<(&str, [f64; 3], f64)> {
        self.mesh.faces.iter().find_map(|face| {
            let g = face.group?;
            let FvBoundary::Inflow(value) = &self.boundary[g] else {
                return None;
            };
            times
                .iter()
                .find(|&&t| value(face.centroid, t).iter().any(|v| !v.is_finite()))
                .map(|&t| (self.mesh.group_names[g].as_str(), face.centroid, t))
        })
    }

    /// The numerical flux (per unit area) through boundary face `f` given
    /// the value `inside`.
    fn boundary_flux(&self, f: usize, inside: &[f64; N], t: f64) -> [f64; N] {
        let face = &self.mesh.faces[f];
        let ghost = match face.group.map(|g| &self.boundary[g]) {
            Some(FvBoundary::Inflow(value)) => value(face.centroid, t),
            Some(FvBoundary::Outflow) => match self.law.outflow_flux(inside, f) {
                Some(flux) => return flux,
                None => *inside,
            },
            Some(FvBoundary::Wall) | None => match self.law.wall_flux() {
                Some(flux) => return flux,
                None => self.law.wall(inside, face.normal),
            },
        };
        self.flux.eval(&self.law, inside, &ghost, face.normal, f)
    }

    /// What lies across face `f` for the diffusion term at time `t`.
    fn diffusion_partner(&self, f: usize, t: f64) -> DiffusionPartner<N> {
        let face = &self.mesh.faces[f];
        match (face.neighbour, face.group.map(|g| &self.boundary[g])) {
            (Some(q), _) => DiffusionPartner::Cell(q),
            (None, Some(FvBoundary::Inflow(value))) => {
                DiffusionPartner::Value(value(face.centroid, t))
            }
            (None, _) => DiffusionPartner::Closed,
        }
    }

    /// The non-orthogonal part `-κ k·∇u` of the diffusive flux per unit
    /// area through face `f` (out of the owner), from the cell gradients
    /// `g` (averaged over the two cells of an interior face).
    fn cross_diffusion(
        &self,
        f: usize,
        partner: &DiffusionPartner<N>,
        g: &[[[f64; 3]; N]],
    ) -> [f64; N] {
        let p = self.mesh.faces[f].owner;
        let k = self.mesh.normal_split(f).1;
        std::array::from_fn(|c| {
            let gradient = match partner {
                DiffusionPartner::Cell(q) => {
                    std::array::from_fn(|i| 0.5 * (g[p][c][i] + g[*q][c][i]))
                }
                DiffusionPartner::Value(_) => g[p][c],
                DiffusionPartner::Closed => return 0.0,
            };
            -self.diffusivity * dot3(k, gradient)
        })
    }

    /// The diffusive flux per unit area through face `f`, out of the owner:
    /// `-κ ∂u/∂n` with the non-orthogonal correction from gradients `g`.
    fn diffusive_flux(&self, f: usize, u: &[[f64; N]], g: &[[[f64; 3]; N]], t: f64) -> [f64; N] {
        let p = self.mesh.faces[f].owner;
        let partner = self.diffusion_partner(f, t);
        let other = match partner {
            DiffusionPartner::Cell(q) => u[q],
            DiffusionPartner::Value(v) => v,
            DiffusionPartner::Closed => return [0.0; N],
        };
        let inv_dn = self.mesh.normal_split(f).0;
        let cross = self.cross_diffusion(f, &partner, g);
        std::array::from_fn(|c| -self.diffusivity * (other[c] - u[p][c]) * inv_dn + cross[c])
    }

    /// `du/dt` of every cell, and the flux out through the boundary.
    fn rate(&self, u: &[[f64; N]], t: f64) -> (Vec<[f64; N]>, [f64; N]) {
        let mesh = &self.mesh;
        let gradients = match self.reconstruction {
            Reconstruction::FirstOrder => None,
            Reconstruction::Muscl(limiter) => {
                let mut g = self.least_squares.gradients(mesh, u);
                limit(mesh, limiter, u, &mut g);
                Some(g)
            }
        };
        // Diffusion takes the unlimited gradients.
        let diffusion_gradients =
            (self.diffusivity > 0.0).then(|| self.least_squares.gradients(mesh, u));
        let at_face = |c: usize, x: [f64; 3]| -> [f64; N] {
            match &gradients {
                None => u[c],
                Some(g) => {
                    let xc = mesh.centroid[c];
                    let d = [x[0] - xc[0], x[1] - xc[1], x[2] - xc[2]];
                    std::array::from_fn(|k| {
                        u[c][k] + g[c][k][0] * d[0] + g[c][k][1] * d[1] + g[c][k][2] * d[2]
                    })
                }
            }
        };
        let fluxes: Vec<[f64; N]> = mesh
            .faces
            .par_iter()
            .enumerate()
            .map(|(f, face)| {
                let left = at_face(face.owner, face.centroid);
                let mut flux = match face.neighbour {
                    Some(nb) => {
                        let right = at_face(nb, mesh.face_point(f, nb));
                        self.flux.eval(&self.law, &left, &right, face.normal, f)
                    }
                    None => self.boundary_flux(f, &left, t),
                };
                if let Some(g) = &diffusion_gradients {
                    let d = self.diffusive_flux(f, u, g, t);
                    (0..N).for_each(|k| flux[k] += d[k]);
                }
                flux.map(|v| v * face.area)
            })
            .collect();
        let rate = (0..mesh.num_cells())
            .into_par_iter()
            .map(|c| {
                let mut r = [0.0; N];
                for &f in mesh.cell_faces.row(c) {
                    let sign = if mesh.faces[f].owner == c { -1.0 } else { 1.0 };
                    (0..N).for_each(|k| r[k] += sign * fluxes[f][k]);
                }
                r.map(|v| v / mesh.volume[c])
            })
            .collect();
        let mut out = [0.0; N];
        for (face, flux) in mesh.faces.iter().zip(&fluxes) {
            if face.neighbour.is_none() {
                (0..N).for_each(|k| out[k] += flux[k]);
            }
        }
        (rate, out)
    }

    /// One step of size `dt` from the committed state at `t`: the new
    /// state and the boundary outflow during the step.
    fn advance(&mut self, t: f64, dt: f64) -> Result<(Vec<[f64; N]>, [f64; N]), FvError> {
        match self.integrator {
            FvIntegrator::Ssp(method) => Ok(self.explicit_step(method, t, dt)),
            FvIntegrator::BackwardEuler => self.implicit_step(t, dt),
        }
    }

    /// One SSP-RK step.
    fn explicit_step(&self, method: SspRk, t: f64, dt: f64) -> (Vec<[f64; N]>, [f64; N]) {
        let un = &self.state;
        let mut u = un.clone();
        let mut out = [0.0; N];
        // Stage times: t, t + dt, then t + dt/2 for the third stage of RK3.
        let stages = method.stages();
        for (i, &a) in stages.iter().enumerate() {
            let ts = match (method, i) {
                (_, 0) => t,
                (SspRk::Rk3, 2) => t + 0.5 * dt,
                _ => t + dt,
            };
            let (rate, b) = self.rate(&u, ts);
            u.par_iter_mut()
                .zip(un.par_iter())
                .zip(rate.par_iter())
                .for_each(|((ui, uni), ri)| {
                    for k in 0..N {
                        ui[k] = a * uni[k] + (1.0 - a) * (ui[k] + dt * ri[k]);
                    }
                });
            for k in 0..N {
                out[k] = (1.0 - a) * (out[k] + dt * b[k]);
            }
        }
        (u, out)
    }

    /// Tries one step of size `dt` from the committed state at `t` (kept
    /// until [`FiniteVolume::commit_tried`]); returns the largest absolute
    /// value of the tried state (NaN if any value is).
    pub fn try_advance(&mut self, t: f64, dt: f64) -> Result<f64, FvError> {
        let (u, out) = self.advance(t, dt)?;
        let max_abs = crate::linalg::max_abs(u.as_flattened());
        self.tried = Some((t + dt, u, out));
        Ok(max_abs)
    }

    /// The first cell of the tried state the law finds unphysical: its
    /// index, its centroid and why.
    pub fn inadmissible_tried(&self) -> Option<(usize, [f64; 3], String)> {
        let (_, u, _) = self.tried.as_ref()?;
        u.iter().enumerate().find_map(|(c, u)| {
            self.law
                .inadmissible(u)
                .map(|why| (c, self.mesh.centroid[c], why))
        })
    }

    /// Makes the last tried step the committed state.
    pub fn commit_tried(&mut self) {
        if let Some((t, u, out)) = self.tried.take() {
            self.time = t;
            self.state = u;
            (0..N).for_each(|k| self.outflow[k] += out[k]);
        }
    }

    /// Advances with CFL-limited steps to time `end`; returns the number of
    /// steps.
    pub fn run_until(&mut self, end: f64) -> Result<usize, FvError> {
        let mut steps = 0;
        while self.time < end * (1.0 - 1e-14) {
            let dt = self.cfl_dt().min(end - self.time);
            self.try_advance(self.time, dt)?;
            self.commit_tried();
            steps += 1;
        }
        Ok(steps)
    }
}
