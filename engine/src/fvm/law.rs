//! Conservation laws `∂u/∂t + ∇·F(u) = 0` with `N` conserved quantities,
//! and the numerical fluxes between two states on a face.
//!
//! - [`LinearAdvection`]: a scalar carried by a given velocity field
//!   (`F = a u`); on it both numerical fluxes are the upwind flux.
//! - [`Burgers`]: inviscid Burgers along a direction `d`, `F = d u²/2`.
//! - [`ShallowWater`]: `(h, hu, hv)` with gravity `g`.

use std::sync::Arc;

use super::geometry::{dot3, FvMesh};

/// A system of conservation laws with `N` conserved quantities.
pub trait ConservationLaw<const N: usize>: Sync {
    /// The physical flux `F(u)·n` through face `face` with unit normal `n`
    /// (the face index lets laws depend on position, e.g. a velocity field).
    fn flux(&self, u: &[f64; N], n: [f64; 3], face: usize) -> [f64; N];
    /// The smallest and largest wave speed of `u` in direction `n`.
    fn wave_speeds(&self, u: &[f64; N], n: [f64; 3], face: usize) -> (f64, f64);
    /// The ghost state behind a wall with normal `n` (mirror image: no
    /// mass through the wall). Scalars keep their value.
    fn wall(&self, u: &[f64; N], _n: [f64; 3]) -> [f64; N] {
        *u
    }
    /// The flux through a wall, when the law fixes it rather than a ghost
    /// state: scalars carried by a velocity pass nothing through a wall,
    /// whatever the (interpolated) velocity there says. `None`: use the
    /// numerical flux against [`ConservationLaw::wall`].
    fn wall_flux(&self) -> Option<[f64; N]> {
        None
    }
    /// The flux through an open (outflow) boundary face from the state
    /// `inside`, when the law fixes it rather than a zero-gradient ghost:
    /// a carried scalar leaves where the velocity points out and nothing
    /// comes back in where it points in (a ghost equal to the inside value
    /// would feed the cell its own value, which grows without bound).
    /// `None`: the numerical flux against the inside state.
    fn outflow_flux(&self, _inside: &[f64; N], _face: usize) -> Option<[f64; N]> {
        None
    }
    /// For laws linear in the state with every quantity carried alike
    /// (`F(u)·n = a_f u` at face `f`): the first-order upwind flux as
    /// `[c_left, c_right]`, the flux being `c_left u_left + c_right u_right`.
    /// Backward Euler needs it; `None` (the default): not linear.
    fn linear_upwind(&self, _face: usize) -> Option<[f64; 2]> {
        None
    }
    /// The HLLC flux (Toro), for systems with a contact wave, given the
    /// outer wave speeds `sl < sr` with `sl < 0 < sr`. `None` (the
    /// default): HLLC is HLL (scalars have no contact wave).
    fn hllc(
        &self,
        _left: &[f64; N],
        _right: &[f64; N],
        _n: [f64; 3],
        _speeds: (f64, f64),
    ) -> Option<[f64; N]> {
        None
    }
    /// The flow velocity of a state, for laws whose state carries one
    /// (shallow water); written as the cell data `velocity`.
    fn velocity(&self, _u: &[f64; N]) -> Option<[f64; 3]> {
        None
    }
    /// Follows the cells onto a moved mesh `mesh` (the same faces with new
    /// geometry, after [`super::solver::FiniteVolume::move_nodes`] has
    /// remapped the state): laws with per-face data recompute it there.
    /// Default: nothing to do (laws that depend on the state alone).
    fn remesh(&mut self, _mesh: &FvMesh) {}
    /// Why a state is not physical (a negative water depth), if it is
    /// not: a step that produces one stops with the cell named.
    fn inadmissible(&self, _u: &[f64; N]) -> Option<String> {
        None
    }
    /// Names of the conserved quantities, for output.
    fn names(&self) -> [&'static str; N];
    /// The law's name, as case files spell it.
    fn name(&self) -> &'static str;
}

/// Numerical fluxes between the states left (owner side) and right.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumericalFlux {
    /// Local Lax–Friedrichs: central flux with dissipation by the largest
    /// wave speed. Upwind for linear advection.
    #[default]
    Rusanov,
    /// Harten–Lax–van Leer with the two outermost wave speeds (Davis
    /// estimates). Upwind for linear advection; less dissipative than
    /// Rusanov for systems.
    Hll,
    /// HLL with the contact wave restored (Toro, Spruce & Speares 1994):
    /// shear waves of shallow water are resolved instead of smeared (a
    /// stationary one is kept exactly). Equal to HLL for scalar laws.
    Hllc,
}

impl NumericalFlux {
    /// The flux through face `face` (unit normal `n`, left to right).
    pub fn eval<L: ConservationLaw<N>, const N: usize>(
        self,
        law: &L,
        left: &[f64; N],
        right: &[f64; N],
        n: [f64; 3],
        face: usize,
    ) -> [f64; N] {
        let fl = law.flux(left, n, face);
        let fr = law.flux(right, n, face);
        let (l_min, l_max) = law.wave_speeds(left, n, face);
        let (r_min, r_max) = law.wave_speeds(right, n, face);
        match self {
            NumericalFlux::Rusanov => {
                let s = l_min
                    .abs()
                    .max(l_max.abs())
                    .max(r_min.abs())
                    .max(r_max.abs());
                std::array::from_fn(|k| 0.5 * (fl[k] + fr[k]) - 0.5 * s * (right[k] - left[k]))
            }
            NumericalFlux::Hll | NumericalFlux::Hllc => {
                let (sl, sr) = (l_min.min(r_min), l_max.max(r_max));
                if sl >= 0.0 {
                    fl
                } else if sr <= 0.0 {
                    fr
                } else if let Some(flux) = (self == NumericalFlux::Hllc)
                    .then(|| law.hllc(left, right, n, (sl, sr)))
                    .flatten()
                {
                    flux
                } else {
                    std::array::from_fn(|k| {
                        (sr * fl[k] - sl * fr[k] + sl * sr * (right[k] - left[k])) / (sr - sl)
                    })
                }
            }
        }
    }
}

/// A velocity field `a(x)`.
type VelocityField = Arc<dyn Fn([f64; 3]) -> [f64; 3] + Send + Sync>;

/// A scalar carried by a velocity field: `∂c/∂t + ∇·(a c) = 0`. The
/// velocity enters only through its normal component at each face, which
/// another model (the FEM flow) may overwrite every step.
#[derive(Clone)]
pub struct LinearAdvection {
    /// `a·n` at each face (normal of [`super::geometry::Face`]).
    pub face_velocity: Vec<f64>,
    /// The field `face_velocity` was sampled from, kept by
    /// [`LinearAdvection::of_field`] to sample it again on a moved mesh.
    field: Option<VelocityField>,
}

impl std::fmt::Debug for LinearAdvection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinearAdvection")
            .field("face_velocity", &self.face_velocity)
            .field(
                "field",
                &self.field.as_ref().map(|_| "Fn([f64; 3]) -> [f64; 3]"),
            )
            .finish()
    }
}

impl LinearAdvection {
    /// The velocity field `a(x)` sampled at the face centroids (once: on a
    /// moved mesh the samples are only resized; see
    /// [`LinearAdvection::of_field`]).
    pub fn new(mesh: &FvMesh, a: impl Fn([f64; 3]) -> [f64; 3]) -> Self {
        let mut law = LinearAdvection {
            face_velocity: vec![0.0; mesh.faces.len()],
            field: None,
        };
        law.sample(mesh, a);
        law
    }

    /// The velocity field `a(x)` sampled at the face centroids, and sampled
    /// again at the moved faces when the mesh moves
    /// ([`ConservationLaw::remesh`]).
    pub fn of_field(
        mesh: &FvMesh,
        a: impl Fn([f64; 3]) -> [f64; 3] + Send + Sync + 'static,
    ) -> Self {
        let mut law = LinearAdvection::new(mesh, &a);
        law.field = Some(Arc::new(a));
        law
    }

    /// Samples a new velocity field at the face centroids; the field given
    /// to [`LinearAdvection::of_field`], if any, is forgotten (it no longer
    /// describes the samples).
    pub fn set_velocity(&mut self, mesh: &FvMesh, a: impl Fn([f64; 3]) -> [f64; 3]) {
        self.field = None;
        self.sample(mesh, a);
    }

    /// `a·n` at each face centroid of `mesh`.
    fn sample(&mut self, mesh: &FvMesh, a: impl Fn([f64; 3]) -> [f64; 3]) {
        for (v, f) in self.face_velocity.iter_mut().zip(&mesh.faces) {
            *v = dot3(a(f.centroid), f.normal);
        }
    }
}

impl ConservationLaw<1> for LinearAdvection {
    fn flux(&self, u: &[f64; 1], _n: [f64; 3], face: usize) -> [f64; 1] {
        [self.face_velocity[face] * u[0]]
    }

    fn wave_speeds(&self, _u: &[f64; 1], _n: [f64; 3], face: usize) -> (f64, f64) {
        let a = self.face_velocity[face];
        (a, a)
    }

    fn names(&self) -> [&'static str; 1] {
        ["c"]
    }

    fn name(&self) -> &'static str {
        "transport"
    }

    fn wall_flux(&self) -> Option<[f64; 1]> {
        Some([0.0])
    }

    fn outflow_flux(&self, inside: &[f64; 1], face: usize) -> Option<[f64; 1]> {
        Some([self.face_velocity[face].max(0.0) * inside[0]])
    }

    fn linear_upwind(&self, face: usize) -> Option<[f64; 2]> {
        let a = self.face_velocity[face];
        Some([a.max(0.0), a.min(0.0)])
    }

    /// Samples the field of [`LinearAdvection::of_field`] at the moved
    /// faces. Without one (a scalar carried by a flow, whose coupling
    /// overwrites the samples every step) only their number follows the
    /// mesh.
    fn remesh(&mut self, mesh: &FvMesh) {
        self.face_velocity.resize(mesh.faces.len(), 0.0);
        if let Some(a) = self.field.clone() {
            self.sample(mesh, &*a);
        }
    }
}

/// Inviscid Burgers along a direction: `∂u/∂t + ∇·(d u²/2) = 0`, a scalar
/// law whose smooth solutions steepen into shocks.
#[derive(Clone, Copy, Debug)]
pub struct Burgers {
    /// The direction `d` the waves travel along.
    pub direction: [f64; 3],
}

impl ConservationLaw<1> for Burgers {
    fn flux(&self, u: &[f64; 1], n: [f64; 3], _face: usize) -> [f64; 1] {
        [0.5 * u[0] * u[0] * dot3(self.direction, n)]
    }

    fn wave_speeds(&self, u: &[f64; 1], n: [f64; 3], _face: usize) -> (f64, f64) {
        let s = u[0] * dot3(self.direction, n);
        (s, s)
    }

    fn names(&self) -> [&'static str; 1] {
        ["u"]
    }

    fn name(&self) -> &'static str {
        "burgers"
    }

    fn wall_flux(&self) -> Option<[f64; 1]> {
        Some([0.0])
    }
}

/// The shallow-water equations in conservative form, `(h, hu, hv)`, in the
/// plane: water depth `h`, discharge `h u`, gravity `g`.
#[derive(Clone, Copy, Debug)]
pub struct ShallowWater {
    /// Gravitational acceleration.
    pub g: f64,
}

/// Depths below which a cell counts as dry (velocity taken as 0).
const DRY: f64 = 1e-12;

impl ShallowWater {
    /// Velocity of a state (0 where dry).
    fn flow_velocity(u: &[f64; 3]) -> [f64; 2] {
        if u[0] > DRY {
            [u[1] / u[0], u[2] / u[0]]
        } else {
            [0.0, 0.0]
        }
    }
}

impl ConservationLaw<3> for ShallowWater {
    fn flux(&self, u: &[f64; 3], n: [f64; 3], _face: usize) -> [f64; 3] {
        let [vx, vy] = ShallowWater::flow_velocity(u);
        let un = vx * n[0] + vy * n[1];
        let p = 0.5 * self.g * u[0] * u[0];
        [u[0] * un, u[1] * un + p * n[0], u[2] * un + p * n[1]]
    }

    fn wave_speeds(&self, u: &[f64; 3], n: [f64; 3], _face: usize) -> (f64, f64) {
        let [vx, vy] = ShallowWater::flow_velocity(u);
        let un = vx * n[0] + vy * n[1];
        let c = (self.g * u[0].max(0.0)).sqrt();
        (un - c, un + c)
    }

    /// The contact speed `s*` from the outer speeds, then the star states
    /// `h_K (s_K - u_K)/(s_K - s*)·(1, v_K + (s* - u_K) n)` (normal
    /// velocity `u_K`, tangential part kept): Toro, *Shock-capturing
    /// methods for free-surface shallow flows* (2001), §10.4.
    fn hllc(
        &self,
        left: &[f64; 3],
        right: &[f64; 3],
        n: [f64; 3],
        (sl, sr): (f64, f64),
    ) -> Option<[f64; 3]> {
        let (vl, vr) = (
            ShallowWater::flow_velocity(left),
            ShallowWater::flow_velocity(right),
        );
        let (ul, ur) = (vl[0] * n[0] + vl[1] * n[1], vr[0] * n[0] + vr[1] * n[1]);
        let denominator = right[0] * (ur - sr) - left[0] * (ul - sl);
        if denominator.abs() <= DRY {
            return None;
        }
        let s_star = (sl * right[0] * (ur - sr) - sr * left[0] * (ul - sl)) / denominator;
        let (u, v, un, s) = if s_star >= 0.0 {
            (left, vl, ul, sl)
        } else {
            (right, vr, ur, sr)
        };
        let h_star = u[0] * (s - un) / (s - s_star);
        let star = [
            h_star,
            h_star * (v[0] + (s_star - un) * n[0]),
            h_star * (v[1] + (s_star - un) * n[1]),
        ];
        let f = self.flux(u, n, 0);
        Some(std::array::from_fn(|k| f[k] + s * (star[k] - u[k])))
    }

    fn velocity(&self, u: &[f64; 3]) -> Option<[f64; 3]> {
        let [vx, vy] = ShallowWater::flow_velocity(u);
        Some([vx, vy, 0.0])
    }

    /// Reflects the normal discharge.
    fn wall(&self, u: &[f64; 3], n: [f64; 3]) -> [f64; 3] {
        let qn = u[1] * n[0] + u[2] * n[1];
        [u[0], u[1] - 2.0 * qn * n[0], u[2] - 2.0 * qn * n[1]]
    }

    fn inadmissible(&self, u: &[f64; 3]) -> Option<String> {
        // Below round-off of a dry cell: the scheme lost positivity.
        (u[0] < -DRY).then(|| format!("a negative depth h = {:e}", u[0]))
    }

    fn names(&self) -> [&'static str; 3] {
        ["h", "hu", "hv"]
    }

    fn name(&self) -> &'static str {
        "shallow_water"
    }
}
