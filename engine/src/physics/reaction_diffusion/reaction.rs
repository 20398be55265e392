//! Reaction terms `R_i(u, x, t)` given as expression strings of the species
//! names and `x, y, z, t, pi`, with their Jacobian `∂R_i/∂u_j` from exmex's
//! symbolic differentiation.

use exmex::prelude::*;
use exmex::Differentiate;

use crate::expr::expand_exponents;
use crate::physics::PhysicsError;

/// The names besides the species that a reaction term may use, in the order
/// they follow the species in the evaluation vector.
pub const COORDINATES: [&str; 5] = ["x", "y", "z", "t", "pi"];

/// Most species a [`Reaction`] takes: evaluation gathers its variables on
/// the stack, so that evaluating at a node allocates nothing.
pub const MAX_SPECIES: usize = 32;

/// One parsed expression and, for each of exmex's variables (in its order),
/// where its value sits in `[u_1 .. u_N, x, y, z, t, pi]`.
#[derive(Clone, Debug)]
struct Term {
    flat: FlatEx<f64>,
    slots: Vec<usize>,
}

impl Term {
    fn eval(&self, all: &[f64]) -> f64 {
        let mut vars = [0.0; MAX_SPECIES + COORDINATES.len()];
        for (v, &s) in vars.iter_mut().zip(&self.slots) {
            *v = all[s];
        }
        // exmex fails only on a wrong variable count, which `slots` rules
        // out; NaN then flags the state as diverged rather than panicking.
        self.flat
            .eval(&vars[..self.slots.len()])
            .unwrap_or(f64::NAN)
    }
}

/// The reaction terms of `N` species.
///
/// Beware exmex's precedence of a leading minus: `-u^2` is `(-u)^2`; write
/// `-(u^2)` or `0 - u^2`.
///
/// ```
/// use pde_engine::physics::reaction_diffusion::Reaction;
/// // Barkley kinetics.
/// let r = Reaction::new(&["u", "v"], &["(1/0.02)*u*(1-u)*(u-(v+0.01)/0.75)", "u - v"]).unwrap();
/// let mut out = [0.0; 2];
/// r.eval(&[0.5, 0.2], [0.0; 3], 0.0, &mut out);
/// assert!((out[1] - 0.3).abs() < 1e-15);
/// let mut jac = [0.0; 4];
/// r.jacobian(&[0.5, 0.2], [0.0; 3], 0.0, &mut jac).unwrap();
/// assert_eq!(jac[2..], [1.0, -1.0]); // ∂R_v/∂u, ∂R_v/∂v
/// assert!(Reaction::new(&["u"], &["u*w"]).unwrap_err().to_string().contains("'w'"));
/// ```
#[derive(Clone, Debug)]
pub struct Reaction {
    species: Vec<String>,
    texts: Vec<String>,
    terms: Vec<Term>,
    /// The entries `(i, j, ∂R_i/∂u_j)` that are not identically zero, or
    /// why a term could not be differentiated.
    jacobian: Result<Vec<(usize, usize, Term)>, String>,
}

impl Reaction {
    /// Parses one expression per species (`expressions[i]` is `R_i`). Names
    /// must be identifiers other than `x, y, z, t, pi` and function names;
    /// expressions may use the species and `x, y, z, t, pi`.
    pub fn new(
        species: &[impl AsRef<str>],
        expressions: &[impl AsRef<str>],
    ) -> Result<Reaction, PhysicsError> {
        let invalid = |msg: String| PhysicsError::Unsupported(msg);
        let species: Vec<String> = species.iter().map(|s| s.as_ref().to_string()).collect();
        if species.is_empty() || species.len() > MAX_SPECIES {
            return Err(invalid(format!(
                "a reaction needs 1 to {MAX_SPECIES} species; {} given",
                species.len()
            )));
        }
        if expressions.len() != species.len() {
            return Err(invalid(format!(
                "{} reaction expressions for {} species ({}): give one per species",
                expressions.len(),
                species.len(),
                species.join(", ")
            )));
        }
        for (k, name) in species.iter().enumerate() {
            check_species_name(name)?;
            if species[..k].contains(name) {
                return Err(invalid(format!("species '{name}' is named twice")));
            }
        }
        let allowed = format!(
            "reaction terms may use the species {} and {}",
            species.join(", "),
            COORDINATES.join(", ")
        );
        let mut terms = Vec::with_capacity(species.len());
        for (name, text) in species.iter().zip(expressions) {
            let text = text.as_ref();
            let context = || format!("reaction of '{name}' = '{text}'");
            let flat = exmex::parse::<f64>(&expand_exponents(text))
                .map_err(|e| invalid(format!("{}: {}", context(), e.msg())))?;
            let slots = flat
                .var_names()
                .iter()
                .map(|v| {
                    species
                        .iter()
                        .position(|s| s == v)
                        .or_else(|| {
                            COORDINATES
                                .iter()
                                .position(|c| c == v)
                                .map(|c| species.len() + c)
                        })
                        .ok_or_else(|| {
                            invalid(format!("{}: unknown name '{v}'; {allowed}", context()))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            terms.push(Term { flat, slots });
        }
        let jacobian = differentiate(&species, &terms);
        Ok(Reaction {
            texts: expressions.iter().map(|e| e.as_ref().to_string()).collect(),
            species,
            terms,
            jacobian,
        })
    }

    /// The species names, in order.
    pub fn species(&self) -> &[String] {
        &self.species
    }

    /// The expressions as given, one per species.
    pub fn expressions(&self) -> &[String] {
        &self.texts
    }

    /// Number of species.
    pub fn len(&self) -> usize {
        self.species.len()
    }

    /// Whether there are no species (never: [`Reaction::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.species.is_empty()
    }

    /// `out[i] = R_i(u, x, t)` (NaN where a term is undefined, e.g. `log(-1)`).
    pub fn eval(&self, u: &[f64], x: [f64; 3], t: f64, out: &mut [f64]) {
        let all = self.gather(u, x, t);
        for (o, term) in out.iter_mut().zip(&self.terms) {
            *o = term.eval(&all);
        }
    }

    /// The pairs `(i, j)` where `∂R_i/∂u_j` is not identically zero, row by
    /// row; an error when some term cannot be differentiated.
    pub fn jacobian_entries(&self) -> Result<Vec<(usize, usize)>, PhysicsError> {
        Ok(self.entries()?.iter().map(|(i, j, _)| (*i, *j)).collect())
    }

    /// `out[i * N + j] = ∂R_i/∂u_j (u, x, t)`.
    pub fn jacobian(
        &self,
        u: &[f64],
        x: [f64; 3],
        t: f64,
        out: &mut [f64],
    ) -> Result<(), PhysicsError> {
        let n = self.len();
        let entries = self.entries()?;
        let all = self.gather(u, x, t);
        out.fill(0.0);
        for (i, j, term) in entries {
            out[i * n + j] = term.eval(&all);
        }
        Ok(())
    }

    fn entries(&self) -> Result<&[(usize, usize, Term)], PhysicsError> {
        self.jacobian
            .as_deref()
            .map_err(|e| PhysicsError::Unsupported(e.clone()))
    }

    /// `[u_1 .. u_N, x, y, z, t, pi]`, on the stack.
    fn gather(&self, u: &[f64], x: [f64; 3], t: f64) -> [f64; MAX_SPECIES + 5] {
        let n = self.len();
        let mut all = [0.0; MAX_SPECIES + COORDINATES.len()];
        all[..n].copy_from_slice(&u[..n]);
        all[n..n + 5].copy_from_slice(&[x[0], x[1], x[2], t, std::f64::consts::PI]);
        all
    }
}

/// Refuses names that are not identifiers, that clash with the coordinates,
/// or that exmex would not read as a variable (function names).
fn check_species_name(name: &str) -> Result<(), PhysicsError> {
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let clash = COORDINATES.contains(&name);
    let variable = exmex::parse::<f64>(name).is_ok_and(|e| e.var_names() == [name]);
    if identifier && !clash && variable {
        return Ok(());
    }
    Err(PhysicsError::Unsupported(format!(
        "species name '{name}' is not allowed: names are identifiers (letters, digits, _), \
         not a function name, and not one of {}",
        COORDINATES.join(", ")
    )))
}

/// The nonzero entries of the Jacobian: the derivative of each term with
/// respect to each species it names (it keeps the term's variables).
fn differentiate(species: &[String], terms: &[Term]) -> Result<Vec<(usize, usize, Term)>, String> {
    let mut entries = Vec::new();
    for (i, term) in terms.iter().enumerate() {
        let mut row: Vec<(usize, usize, Term)> = Vec::new();
        for (k, &slot) in term.slots.iter().enumerate() {
            if slot < species.len() {
                let flat = term.flat.clone().partial(k).map_err(|e| {
                    format!(
                        "cannot differentiate the reaction of '{}' = '{}' by '{}' (Newton needs \
                         it): {}",
                        species[i],
                        term.flat.unparse(),
                        species[slot],
                        e.msg()
                    )
                })?;
                row.push((
                    i,
                    slot,
                    Term {
                        flat,
                        slots: term.slots.clone(),
                    },
                ));
            }
        }
        row.sort_by_key(|(_, j, _)| *j);
        entries.extend(row);
    }
    Ok(entries)
}
