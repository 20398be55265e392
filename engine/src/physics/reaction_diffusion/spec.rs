//! `physics: {reaction_diffusion: ...}`: the species (name, diffusivity,
//! reaction, initial state, boundary conditions), the scheme and the
//! degree; their checks and the builder.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use pde_mesh::Mesh;
use serde::Deserialize;

use super::{Boundary, Reaction, ReactionDiffusion, Scheme};
use crate::expr::Expr;
use crate::fem::FunctionSpace;
use crate::linalg::registry::SystemInfo;
use crate::physics::checks::check_group;
use crate::physics::spec::{
    boundary_uses, BoundaryUse, BuildContext, Built, Capabilities, CheckContext, ModelSpec,
    Stepping, TimeUse, TransientSetup,
};
use crate::time::Integrator;

/// The case section of a reaction–diffusion system.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReactionDiffusionSpec {
    /// Lagrange degree, 1 (lumped mass) or 2. Default 1.
    #[serde(default = "one")]
    pub degree: usize,
    /// The species, in order.
    pub species: Vec<SpeciesSpec>,
    /// `imex` (SBDF2: implicit diffusion, explicit reaction; the default)
    /// or `{newton: {tolerance, max_iterations}}` (BDF2, fully implicit).
    #[serde(default)]
    pub scheme: SchemeSpec,
}

/// One species.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeciesSpec {
    /// Its name, which reactions use.
    pub name: String,
    /// Its diffusion coefficient `D >= 0`. Default 0.
    #[serde(default)]
    pub diffusivity: f64,
    /// Its reaction term, an expression of the species and `x, y, z, t`.
    pub reaction: String,
    /// Its initial state, an expression of `x, y, z`. Default 0.
    #[serde(default)]
    pub initial: Option<Expr>,
    /// Conditions by group: `{dirichlet: g}` or `{neumann: h}`
    /// (`D ∂u/∂n = h`); groups not listed are zero flux.
    #[serde(default)]
    pub boundary: BTreeMap<String, SpeciesBoundary>,
}

/// A boundary condition of a species.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeciesBoundary {
    /// `u = g(x, y, z, t)`.
    Dirichlet(Expr),
    /// `D ∂u/∂n = h(x, y, z, t)`.
    Neumann(Expr),
}

/// The scheme of a reaction–diffusion system in a case file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum SchemeSpec {
    /// SBDF2 (or IMEX Euler with `time.integrator: backward_euler`).
    #[default]
    Imex,
    /// BDF2 (or backward Euler) with Newton's method.
    Newton {
        /// Stop when the relative update is below this. Default 1e-10.
        #[serde(default = "newton_tolerance")]
        tolerance: f64,
        /// Iteration limit. Default 20.
        #[serde(default = "newton_iterations")]
        max_iterations: usize,
    },
}

fn one() -> usize {
    1
}
fn newton_tolerance() -> f64 {
    1e-10
}
fn newton_iterations() -> usize {
    20
}

const KEY: &str = "physics.reaction_diffusion";

impl ReactionDiffusionSpec {
    /// The reaction terms, parsed.
    fn reaction(&self) -> Result<Reaction> {
        let names: Vec<&str> = self.species.iter().map(|s| s.name.as_str()).collect();
        let terms: Vec<&str> = self.species.iter().map(|s| s.reaction.as_str()).collect();
        Reaction::new(&names, &terms).map_err(|e| anyhow::anyhow!("{KEY}.species: {e}"))
    }

    fn scheme(&self) -> Scheme {
        match self.scheme {
            SchemeSpec::Imex => Scheme::Imex,
            SchemeSpec::Newton {
                tolerance,
                max_iterations,
            } => Scheme::Newton {
                tolerance,
                max_iterations,
            },
        }
    }
}

impl ModelSpec for ReactionDiffusionSpec {
    fn name(&self) -> &'static str {
        "reaction_diffusion"
    }

    fn moving_mesh(&self) -> Result<Vec<String>, String> {
        Ok(self.species.iter().map(|s| s.name.clone()).collect())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            system: SystemInfo::SPD,
            time: TimeUse::Required,
            stepping: Stepping::Integrator {
                default: Integrator::Bdf2,
                adaptive: true,
            },
            forces: false,
            linear_solver: false,
        }
    }

    fn check(&self, cx: &CheckContext, problems: &mut Vec<String>) {
        if !(1..=2).contains(&self.degree) {
            problems.push(format!(
                "{KEY}.degree: {} is not available; expected 1 or 2",
                self.degree
            ));
        }
        if let Err(e) = self.reaction() {
            problems.push(format!("{e:#}"));
        }
        for s in &self.species {
            let key = format!("{KEY}.species.{}", s.name);
            if !(s.diffusivity.is_finite() && s.diffusivity >= 0.0) {
                problems.push(format!(
                    "{key}.diffusivity: {} must be zero or positive",
                    s.diffusivity
                ));
            }
            for (group, bc) in &s.boundary {
                check_group(cx.mesh, &format!("{key}.boundary.{group}"), group, problems);
                if matches!(bc, SpeciesBoundary::Neumann(_)) && s.diffusivity == 0.0 {
                    problems.push(format!(
                        "{key}.boundary.{group}: a species that does not diffuse \
                         (diffusivity 0) takes no flux condition"
                    ));
                }
            }
        }
        if let SchemeSpec::Newton {
            tolerance,
            max_iterations,
        } = self.scheme
        {
            if !(tolerance.is_finite() && tolerance > 0.0) || max_iterations == 0 {
                problems.push(format!(
                    "{KEY}.scheme.newton: need tolerance > 0 and max_iterations >= 1"
                ));
            }
        }
        if let Some(t) = cx.time {
            if t.integrator == Some(Integrator::CrankNicolson) {
                problems.push(
                    "time.integrator: reaction_diffusion steps with bdf2 (SBDF2 or BDF2, the \
                     default) or backward_euler; crank_nicolson is not available"
                        .into(),
                );
            }
        }
    }

    fn boundary(&self, mesh: &Mesh) -> Vec<BoundaryUse> {
        boundary_uses(
            mesh,
            |g| {
                let given: Vec<String> = self
                    .species
                    .iter()
                    .filter_map(|s| {
                        s.boundary.get(g).map(|bc| match bc {
                            SpeciesBoundary::Dirichlet(e) => {
                                format!("{}: dirichlet {}", s.name, e.text())
                            }
                            SpeciesBoundary::Neumann(e) => {
                                format!("{}: neumann {}", s.name, e.text())
                            }
                        })
                    })
                    .collect();
                (!given.is_empty()).then(|| given.join("; ") + "; others zero flux")
            },
            "zero flux",
        )
    }

    fn build(&self, cx: &BuildContext) -> Result<Built> {
        let space = FunctionSpace::new(cx.mesh.clone(), self.degree)
            .map_err(|e| anyhow::anyhow!("physics: {e:#}"))?;
        let t0 = cx.time.map_or(0.0, |t| t.start);
        let order = match cx.time.and_then(|t| t.integrator) {
            Some(Integrator::BackwardEuler) => 1,
            _ => 2,
        };
        let diffusion: Vec<f64> = self.species.iter().map(|s| s.diffusivity).collect();
        let mut model = ReactionDiffusion::new(space, self.reaction()?, &diffusion)?
            .with_start_time(t0)
            .with_order(order)?
            .with_scheme(self.scheme())
            .with_context(|| format!("{KEY}.scheme"))?;
        for s in &self.species {
            if let Some(initial) = &s.initial {
                model = model.with_initial(&s.name, |x| initial.eval(x, t0))?;
            }
            for (group, bc) in &s.boundary {
                let condition = match bc {
                    SpeciesBoundary::Dirichlet(g) => Boundary::Dirichlet(g.space_time()),
                    SpeciesBoundary::Neumann(h) => Boundary::Neumann(h.space_time()),
                };
                model = model
                    .with_boundary(&s.name, group, condition)
                    .with_context(|| format!("{KEY}.species.{}.boundary.{group}", s.name))?;
            }
        }
        Ok(Built::Transient(TransientSetup {
            model: Box::new(model),
            monitors: Vec::new(),
            blow_up: None,
        }))
    }
}
