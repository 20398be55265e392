//! The registry of linear solvers and preconditioners that case files name
//! by `kind` (`solver: {kind: gmres, preconditioner: amg}`). Each entry
//! checks its options against the system it will solve and builds the
//! trait object; a feature (e.g. `torch`, learned preconditioners) or a
//! program embedding the engine adds entries, and a new kind plugs in
//! exactly where the classical ones do. Nothing outside this module lists
//! the kinds.

use std::collections::BTreeMap;
use std::sync::{OnceLock, RwLock};

use anyhow::{Context, Result};
use serde::{Deserialize, Deserializer};

use super::amg::Amg;
use super::direct::{Cholesky, LaggedLu, SparseLu};
use super::factor::{Ic0, IncompleteCholesky, MIC_OMEGA};
use super::krylov::{BiCgStab, Cg, Gmres, Tolerance};
use super::precond::{Identity, Ilu0, Jacobi, Ssor};
use super::saddle::BlockLsc;
use super::{LinearSolver, Preconditioner};

/// Options of a solver or preconditioner beyond its kind, by key, as the
/// case file gives them.
pub type Options = BTreeMap<String, serde_json::Value>;

/// What a solver will be asked to solve, known from the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemInfo {
    /// The matrix is symmetric positive definite.
    pub symmetric: bool,
    /// A saddle-point (flow) system: the first pressure unknown, or
    /// `Some(0)` when only checking (the split is known once built).
    pub saddle_split: Option<usize>,
}

impl SystemInfo {
    /// A symmetric positive definite system.
    pub const SPD: SystemInfo = SystemInfo {
        symmetric: true,
        saddle_split: None,
    };
}

/// The settings every iterative solver reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IterativeSettings {
    /// Convergence tolerance and iteration limit.
    pub tolerance: Tolerance,
    /// GMRES restart length.
    pub restart: usize,
    /// `lagged_lu`: refactorise when GMRES needs more iterations than this.
    pub refactor_after: usize,
}

/// Builds a preconditioner from its options for a system.
pub type BuildPreconditioner = fn(&Options, &SystemInfo) -> Result<Box<dyn Preconditioner>, String>;

/// Builds a linear solver around a preconditioner (`None` for direct ones).
pub type BuildSolver =
    fn(&IterativeSettings, Option<Box<dyn Preconditioner>>) -> Box<dyn LinearSolver>;

/// A preconditioner kind.
#[derive(Clone, Copy)]
pub struct PreconditionerEntry {
    /// The name case files use.
    pub name: &'static str,
    /// One line for `--help` and the docs.
    pub about: &'static str,
    /// Options that name files or folders: a relative path is taken
    /// relative to the case file ([`SolverSpec::resolve_paths`]).
    pub paths: &'static [&'static str],
    /// Problems with these options for this system (empty: none), each a
    /// message that completes `solver.preconditioner: `.
    pub check: fn(&Options, &SystemInfo) -> Vec<String>,
    /// Builds it (after a successful check).
    pub build: BuildPreconditioner,
}

/// How a solver kind uses a preconditioner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SolverFamily {
    /// A direct factorisation: no preconditioner.
    Direct,
    /// A Krylov method that takes the case's preconditioner.
    Krylov,
}

/// A linear-solver kind.
#[derive(Clone, Copy)]
pub struct SolverEntry {
    /// The name case files use.
    pub name: &'static str,
    /// One line for `--help` and the docs.
    pub about: &'static str,
    /// Whether it takes a preconditioner.
    pub family: SolverFamily,
    /// Whether it needs a symmetric positive definite matrix.
    pub needs_symmetric: bool,
    /// Builds it around `preconditioner` (`None` for direct solvers).
    pub build: BuildSolver,
}

/// The kinds known to this process.
#[derive(Clone)]
pub struct Registry {
    solvers: Vec<SolverEntry>,
    preconditioners: Vec<PreconditionerEntry>,
}

impl Registry {
    /// The built-in kinds (and those of the enabled features).
    pub fn builtin() -> Self {
        Registry {
            solvers: builtin_solvers(),
            preconditioners: builtin_preconditioners(),
        }
    }

    /// The solver kind `name`.
    pub fn solver(&self, name: &str) -> Option<&SolverEntry> {
        self.solvers.iter().find(|e| e.name == name)
    }

    /// The preconditioner kind `name`.
    pub fn preconditioner(&self, name: &str) -> Option<&PreconditionerEntry> {
        self.preconditioners.iter().find(|e| e.name == name)
    }

    /// The solver kinds' names, in registration order.
    pub fn solver_names(&self) -> Vec<&'static str> {
        self.solvers.iter().map(|e| e.name).collect()
    }

    /// The preconditioner kinds' names, in registration order.
    pub fn preconditioner_names(&self) -> Vec<&'static str> {
        self.preconditioners.iter().map(|e| e.name).collect()
    }

    /// Adds (or replaces, by name) a preconditioner kind.
    pub fn add_preconditioner(&mut self, entry: PreconditionerEntry) {
        self.preconditioners.retain(|e| e.name != entry.name);
        self.preconditioners.push(entry);
    }

    /// Adds (or replaces, by name) a solver kind.
    pub fn add_solver(&mut self, entry: SolverEntry) {
        self.solvers.retain(|e| e.name != entry.name);
        self.solvers.push(entry);
    }
}

/// The process-wide registry that case files are checked and built
/// against: the built-in kinds until [`register`] adds more.
pub fn global() -> std::sync::RwLockReadGuard<'static, Registry> {
    cell().read().unwrap_or_else(|e| e.into_inner())
}

/// Changes the process-wide registry (e.g. adds a preconditioner of one's
/// own before running case files that name it).
pub fn register(change: impl FnOnce(&mut Registry)) {
    change(&mut cell().write().unwrap_or_else(|e| e.into_inner()));
}

fn cell() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(Registry::builtin()))
}

/// Makes the relative paths among `options[keys]` relative to `base` (a
/// case file's folder).
pub fn resolve_paths(options: &mut Options, keys: &[&str], base: &std::path::Path) {
    for key in keys {
        if let Some(serde_json::Value::String(path)) = options.get_mut(*key) {
            if std::path::Path::new(path.as_str()).is_relative() {
                *path = base.join(path.as_str()).display().to_string();
            }
        }
    }
}

/// Options a kind without options refuses.
fn no_options(options: &Options) -> Vec<String> {
    options
        .keys()
        .map(|k| format!("unknown option '{k}'; this preconditioner takes none"))
        .collect()
}

/// MIC(0)'s `omega` (default [`MIC_OMEGA`]), or the problems with its
/// options.
fn mic_omega(options: &Options) -> Result<f64, Vec<String>> {
    let mut problems: Vec<String> = options
        .keys()
        .filter(|k| *k != "omega")
        .map(|k| format!("unknown option '{k}'; mic0 takes omega"))
        .collect();
    let omega = match options.get("omega") {
        None => MIC_OMEGA,
        Some(v) => match v.as_f64() {
            Some(omega) if omega > 0.0 && omega <= 1.0 => omega,
            _ => {
                problems.push(format!(
                    "omega is {v}; expected a number in (0, 1] (the fraction of the dropped \
                     fill moved to the diagonal)"
                ));
                MIC_OMEGA
            }
        },
    };
    if problems.is_empty() {
        Ok(omega)
    } else {
        Err(problems)
    }
}

/// The problem of the `L Lᵀ` preconditioner `kind` on `system` if the
/// system is not symmetric positive definite.
pub fn needs_spd(kind: &str, system: &SystemInfo) -> Option<String> {
    (!system.symmetric).then(|| {
        format!(
            "{kind} needs a symmetric positive definite matrix, which this model does not \
             give; use ilu0"
        )
    })
}

/// An entry without options that always builds.
macro_rules! simple_preconditioner {
    ($name:literal, $about:literal, $make:expr) => {
        PreconditionerEntry {
            name: $name,
            about: $about,
            paths: &[],
            check: |o, _| no_options(o),
            build: |_, _| Ok(Box::new($make)),
        }
    };
}

fn builtin_preconditioners() -> Vec<PreconditionerEntry> {
    let learned = {
        #[cfg(feature = "torch")]
        {
            vec![crate::learned::preconditioner::entry()]
        }
        #[cfg(not(feature = "torch"))]
        {
            Vec::new()
        }
    };
    [classical_preconditioners(), learned].concat()
}

fn classical_preconditioners() -> Vec<PreconditionerEntry> {
    vec![
        simple_preconditioner!(
            "jacobi",
            "diagonal scaling (the default)",
            Jacobi::default()
        ),
        simple_preconditioner!(
            "ssor",
            "symmetric successive over-relaxation, relaxation 1.2",
            Ssor::new(1.2)
        ),
        simple_preconditioner!(
            "ilu0",
            "incomplete LU without fill (IC(0) on symmetric matrices)",
            Ilu0::default()
        ),
        PreconditionerEntry {
            name: "ic0",
            paths: &[],
            about: "incomplete Cholesky without fill, L Lᵀ (shifted when a pivot is not \
                    positive); symmetric positive definite systems",
            check: |o, system| {
                let mut problems = no_options(o);
                problems.extend(needs_spd("ic0", system));
                problems
            },
            build: |_, _| Ok(Box::new(Ic0::default())),
        },
        PreconditionerEntry {
            name: "mic0",
            paths: &[],
            about: "modified incomplete Cholesky MIC(0), L Lᵀ with the dropped fill moved to \
                    the diagonal (omega: its fraction, default 0.97); symmetric positive \
                    definite systems",
            check: |o, system| {
                let mut problems = mic_omega(o).err().into_iter().flatten().collect::<Vec<_>>();
                problems.extend(needs_spd("mic0", system));
                problems
            },
            build: |o, _| {
                let omega = mic_omega(o).map_err(|p| p.join("; "))?;
                Ok(Box::new(IncompleteCholesky::modified(omega)))
            },
        },
        simple_preconditioner!(
            "amg",
            "smoothed-aggregation algebraic multigrid, one V-cycle",
            Amg::default()
        ),
        PreconditionerEntry {
            name: "lsc",
            paths: &[],
            about: "block-triangular preconditioner of flow (saddle-point) systems: ILU(0) on \
                    the velocity block, least-squares commutator for the Schur complement",
            check: |o, system| {
                let mut problems = no_options(o);
                if system.saddle_split.is_none() {
                    problems.push(
                        "lsc is for flow (saddle-point) systems, which this model does not \
                         give; use amg, ilu0, ssor or jacobi"
                            .into(),
                    );
                }
                problems
            },
            build: |_, system| {
                let split = system
                    .saddle_split
                    .ok_or("lsc needs a saddle-point system")?;
                Ok(Box::new(BlockLsc::new(split)))
            },
        },
        simple_preconditioner!("none", "no preconditioning", Identity),
    ]
}

fn builtin_solvers() -> Vec<SolverEntry> {
    use SolverFamily::{Direct, Krylov};
    vec![
        SolverEntry {
            name: "cholesky",
            about: "sparse Cholesky (faer), symmetric positive definite systems",
            family: Direct,
            needs_symmetric: true,
            build: |_, _| Box::new(Cholesky::new()),
        },
        SolverEntry {
            name: "lu",
            about: "sparse LU (faer), any non-singular system",
            family: Direct,
            needs_symmetric: false,
            build: |_, _| Box::new(SparseLu::new()),
        },
        SolverEntry {
            name: "lagged_lu",
            about: "sparse LU kept across time steps as the GMRES preconditioner, \
                    refactorised when GMRES needs more than refactor_after iterations",
            family: Direct,
            needs_symmetric: false,
            build: |s, _| Box::new(LaggedLu::new(s.tolerance, s.refactor_after)),
        },
        SolverEntry {
            name: "cg",
            about: "preconditioned conjugate gradients (symmetric positive definite)",
            family: Krylov,
            needs_symmetric: true,
            build: |s, p| Box::new(Cg::new(or_identity(p), s.tolerance)),
        },
        SolverEntry {
            name: "gmres",
            about: "restarted GMRES (any system)",
            family: Krylov,
            needs_symmetric: false,
            build: |s, p| Box::new(Gmres::new(or_identity(p), s.tolerance, s.restart)),
        },
        SolverEntry {
            name: "bicgstab",
            about: "BiCGStab (any system)",
            family: Krylov,
            needs_symmetric: false,
            build: |s, p| Box::new(BiCgStab::new(or_identity(p), s.tolerance)),
        },
    ]
}

fn or_identity(p: Option<Box<dyn Preconditioner>>) -> Box<dyn Preconditioner> {
    p.unwrap_or_else(|| Box::new(Identity))
}

/// The `solver` section of a case: a solver kind, its preconditioner and
/// their settings. The kinds come from this registry, so features and
/// embedding programs can add their own.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SolverSpec {
    /// `cholesky`, `lu`, `lagged_lu`, `cg`, `gmres`, `bicgstab`, or a
    /// registered kind. Default: the model's.
    #[serde(default, deserialize_with = "registered_solver")]
    pub kind: Option<String>,
    /// Preconditioner of iterative solvers: `jacobi` (default), `ssor`,
    /// `ilu0`, `ic0`, `mic0`, `amg`, `lsc` (flows), `none`, or a registered kind, with
    /// its options as `{kind: ..., option: value}`.
    #[serde(default)]
    pub preconditioner: PreconditionerSpec,
    /// Relative tolerance of iterative solvers. Default 1e-10.
    #[serde(default = "rtol_default")]
    pub rtol: f64,
    /// Iteration limit of iterative solvers. Default 10000.
    #[serde(default = "max_iterations_default")]
    pub max_iterations: usize,
    /// GMRES restart length. Default 50.
    #[serde(default = "restart_default")]
    pub restart: usize,
    /// `lagged_lu`: refactorise when GMRES needs more iterations than this. Default 10.
    #[serde(default = "refactor_after_default")]
    pub refactor_after: usize,
}

impl Default for SolverSpec {
    fn default() -> Self {
        SolverSpec {
            kind: None,
            preconditioner: PreconditionerSpec::default(),
            rtol: rtol_default(),
            max_iterations: max_iterations_default(),
            restart: restart_default(),
            refactor_after: refactor_after_default(),
        }
    }
}

impl SolverSpec {
    /// The settings of iterative solvers.
    pub fn iterative(&self) -> IterativeSettings {
        IterativeSettings {
            tolerance: Tolerance {
                rtol: self.rtol,
                atol: 0.0,
                max_iterations: self.max_iterations,
            },
            restart: self.restart,
            refactor_after: self.refactor_after,
        }
    }

    /// Makes the relative paths among the preconditioner's options (those
    /// its kind lists in [`PreconditionerEntry::paths`]) relative to
    /// `base`, the case file's folder.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        let Some(entry) = global().preconditioner(&self.preconditioner.kind).copied() else {
            return;
        };
        resolve_paths(&mut self.preconditioner.options, entry.paths, base);
    }

    /// Checks the kinds against the registry and the system they will
    /// solve; `default` is the model's solver when the case names none.
    pub fn check(
        &self,
        default: &str,
        system: &SystemInfo,
        model: &str,
        problems: &mut Vec<String>,
    ) {
        let registry = global();
        let kind = self.kind.as_deref().unwrap_or(default);
        // Reading refused unknown kinds, naming the line.
        let Some(solver) = registry.solver(kind) else {
            return;
        };
        if solver.needs_symmetric && !system.symmetric {
            problems.push(format!(
                "solver.kind: {kind} needs a symmetric positive definite matrix, which \
                 {model} does not give; use lu, gmres or bicgstab"
            ));
        }
        let p = &self.preconditioner;
        let Some(entry) = registry.preconditioner(&p.kind) else {
            return;
        };
        for problem in (entry.check)(&p.options, system) {
            problems.push(format!("solver.preconditioner: {problem}"));
        }
        let named = p.kind != PreconditionerSpec::default().kind || !p.options.is_empty();
        if named && solver.family == SolverFamily::Direct && self.kind.is_some() {
            problems.push(format!(
                "solver.preconditioner: {} preconditions an iterative solver; {kind} is \
                 direct: set solver.kind: gmres (or cg for symmetric systems)",
                p.kind
            ));
        } else if named && solver.family == SolverFamily::Direct {
            problems.push(format!(
                "solver.preconditioner: {} preconditions an iterative solver; set \
                 solver.kind: gmres",
                p.kind
            ));
        }
        // NaN is not positive either.
        if self.rtol.is_nan() || self.rtol <= 0.0 {
            problems.push(format!("solver.rtol: {} must be positive", self.rtol));
        }
    }
}

/// `solver.preconditioner`: a kind, alone (`amg`) or with options
/// (`{kind: amg, ...}`).
#[derive(Clone, Debug, PartialEq)]
pub struct PreconditionerSpec {
    /// The registered kind.
    pub kind: String,
    /// Its options.
    pub options: Options,
}

impl Default for PreconditionerSpec {
    fn default() -> Self {
        PreconditionerSpec {
            kind: "jacobi".into(),
            options: Options::new(),
        }
    }
}

impl<'de> Deserialize<'de> for PreconditionerSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Kind(String),
            WithOptions {
                kind: String,
                #[serde(flatten)]
                options: Options,
            },
        }
        let spec = match Raw::deserialize(d)? {
            Raw::Kind(kind) => PreconditionerSpec {
                kind,
                options: Options::new(),
            },
            Raw::WithOptions { kind, options } => PreconditionerSpec { kind, options },
        };
        let names = global().preconditioner_names();
        if !names.contains(&spec.kind.as_str()) {
            return Err(unknown_kind(&spec.kind, &names));
        }
        Ok(spec)
    }
}

/// A solver kind, refused while reading (with its line) unless registered.
fn registered_solver<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let kind = String::deserialize(d)?;
    let names = global().solver_names();
    if !names.contains(&kind.as_str()) {
        return Err(unknown_kind(&kind, &names));
    }
    Ok(Some(kind))
}

/// The error of a kind the registry does not have, worded as serde words
/// unknown variants.
fn unknown_kind<E: serde::de::Error>(kind: &str, names: &[&str]) -> E {
    E::custom(format!(
        "unknown variant `{kind}`, expected one of {}",
        names.join(", ")
    ))
}

/// The linear solver `spec` asks for (`default` when it names none), built
/// from the registry for `system` (checking has refused kinds and options
/// that do not fit it).
pub fn make_solver(
    spec: &SolverSpec,
    default: &str,
    system: SystemInfo,
) -> Result<Box<dyn LinearSolver>> {
    let registry = global();
    let kind = spec.kind.as_deref().unwrap_or(default);
    let solver = registry
        .solver(kind)
        .with_context(|| format!("solver.kind: unknown kind '{kind}'"))?;
    let preconditioner = match solver.family {
        SolverFamily::Direct => None,
        SolverFamily::Krylov => {
            let p = &spec.preconditioner;
            let entry = registry
                .preconditioner(&p.kind)
                .with_context(|| format!("solver.preconditioner: unknown kind '{}'", p.kind))?;
            Some(
                (entry.build)(&p.options, &system)
                    .map_err(|e| anyhow::anyhow!("solver.preconditioner: {e}"))?,
            )
        }
    };
    Ok((solver.build)(&spec.iterative(), preconditioner))
}

fn rtol_default() -> f64 {
    1e-10
}
fn max_iterations_default() -> usize {
    10_000
}
fn restart_default() -> usize {
    50
}
fn refactor_after_default() -> usize {
    10
}
