//! Reaction–diffusion systems of `N` species,
//!
//! ```text
//! ∂u_i/∂t = ∇·(D_i ∇u_i) + R_i(u, x, t),   i = 1..N,
//! ```
//!
//! with constant `D_i >= 0` and reaction terms given as expression strings
//! of the species names and `x, y, z, t, pi` ([`Reaction`]), e.g. Barkley's
//! excitable kinetics `u: "(1/0.02)*u*(1-u)*(u-(v+0.01)/0.75)"`, `v: "u - v"`.
//! Each species may have Dirichlet `u_i = g(x, t)` or flux
//! `D_i ∂u_i/∂n = h(x, t)` conditions on physical groups ([`Boundary`]);
//! other boundaries are zero flux, the usual for excitable media.
//!
//! # Discretisation
//!
//! All species share one P1 or P2 Lagrange space (2D or 3D) with mass
//! matrix `M` and stiffness `K`: `M u_i' + D_i K u_i = M r_i(u, t) + b_i(t)`.
//! P1 lumps `M` (row sums): `M + c K` is then an M-matrix on non-obtuse
//! meshes for every step, so the diffusion solve keeps values within their
//! bounds. With the consistent mass that needs `dt ≳ h²/D`; below it, Barkley
//! fronts overshoot `u = 1`, where the kinetics run away (seen: spiral runs
//! blew up when `dt` was *halved*). P2 keeps the consistent mass (row sums
//! vanish at the vertices of P2 triangles). The reaction is *nodal*: `r_i`
//! is `R_i` evaluated at the dofs, i.e. the interpolant of `R(u_h)`,
//! multiplied by `M`. That costs one expression evaluation per dof and
//! species, no quadrature, and keeps the L2 error of order `p + 1` for
//! smooth `R` (2 for P1, 3 for P2). A species with `D_i = 0` and no
//! Dirichlet condition is then a pure ODE at each dof: `M` cancels and its
//! step needs no solve.
//!
//! # Schemes ([`Scheme`])
//!
//! * `Imex` (default): variable-step SBDF2, implicit diffusion and explicit
//!   reaction, with `w = dt_n / dt_{n-1}`:
//!   `(1+2w)/(1+w) u^{n+1} - (1+w) u^n + w²/(1+w) u^{n-1}
//!    = dt [ -D K u^{n+1} + (1+w) r^n - w r^{n-1} + b^{n+1} ]` (times `M`
//!   where it belongs). Species decouple into SPD systems `M + c K`,
//!   `c = dt D_i / α`, solved by sparse Cholesky; each factor is kept, so a
//!   run with a fixed step factorises once per distinct `D_i`.
//! * `Newton`: variable-step BDF2 with the reaction implicit; the coupled
//!   system is solved by Newton's method with the exact Jacobian
//!   (`∂R_i/∂u_j` from exmex's symbolic derivatives) assembled as one block
//!   sparse matrix and solved by sparse LU.
//!
//! Order 1 ([`ReactionDiffusion::with_order`]) gives IMEX Euler and
//! backward Euler.
//!
//! **First step.** A two-step method needs one start step. IMEX (or
//! backward) Euler there would cost a local error `O(dt²)`, which keeps the
//! global order 2 but with a start error as large as all the rest together
//! on short runs. The start is instead the Richardson extrapolation
//! `2 E(dt/2)∘E(dt/2) - E(dt)` of the Euler step `E`, of local error
//! `O(dt³)` like the two-step steps that follow (three solves, once per
//! run; for the stiff diffusion part the extrapolated implicit Euler is
//! L-stable). The same start follows [`ReactionDiffusion::set_solution`].
//!
//! **Error estimate** (for adaptive steps): the `p+1`-th divided difference
//! of the last committed states and the new one approximates
//! `u^{(p+1)}/(p+1)!`; the estimate is the scheme's error constant times
//! `dt^{p+1} |u^{(p+1)}|`, in the max norm weighted by `1 + max |u_i|` per
//! species, the largest over species (as the heat model does).

mod factors;
mod model;
mod newton;
mod reaction;
mod spec;
mod steps;

pub use model::{Boundary, NewtonReport, ReactionDiffusion, Scheme};
pub use reaction::{Reaction, COORDINATES, MAX_SPECIES};
pub use spec::{ReactionDiffusionSpec, SchemeSpec, SpeciesBoundary, SpeciesSpec};
