//! The `learned` preconditioner kind (`solver: {kind: cg, preconditioner:
//! {kind: learned, model: PATH}}`): a model folder from `pde-engine train
//! preconditioner` predicts `L` on the lower triangle of the matrix once
//! per matrix (inference), and CG applies `(L Lᵀ)⁻¹` by the same
//! triangular solves as IC(0). A factor with a non-positive or non-finite
//! pivot, or CG failing with it, falls back to the model's base factor
//! (IC(0), or MIC(0)); the solve report says so, and run summaries count
//! it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use pde_learned::factor::{FactorBase, FactorModel, LowerSystem, SystemTensors};
use pde_learned::tch::Device;
use serde::Deserialize as _;

use crate::case::DeviceKind;
use crate::linalg::factor::{IncompleteCholesky, LowerFactor, LowerPattern, MIC_OMEGA};
use crate::linalg::registry::{needs_spd, Options, PreconditionerEntry, SystemInfo};
use crate::linalg::{Preconditioner, SolverError, SparseMatrix};

/// A system as the model reads it, and the way back to its scale.
pub struct ScaledSystem {
    /// The lower triangle of `Â = D^{-1/2} A D^{-1/2}` with the base factor
    /// of `Â`.
    pub lower: LowerSystem,
    /// The lower pattern of `A` (that of `Â`).
    pub pattern: LowerPattern,
    /// `√dᵢ`: row `i` of a factor of `Â` times it is a factor of `A`.
    pub root_diagonal: Vec<f64>,
    /// `Â` itself.
    pub matrix: SparseMatrix,
    /// The base factor of `A` (the fallback).
    pub base: LowerFactor,
}

impl ScaledSystem {
    /// `a` scaled to a unit diagonal, with the `base` factor (IC(0) or
    /// MIC(0)) of `a` scaled likewise (shifted if it must be); an error
    /// names a row with a non-positive diagonal.
    pub fn new(a: &SparseMatrix, base: FactorBase) -> Result<Self, SolverError> {
        let pattern = LowerPattern::of(a)?;
        let diagonal: Vec<f64> = (1..=a.nrows())
            .map(|i| a.val()[pattern.source[pattern.row_ptr[i] - 1]])
            .collect();
        if let Some(i) = diagonal.iter().position(|d| d.is_nan() || *d <= 0.0) {
            return Err(SolverError::Breakdown {
                method: "learned preconditioner",
                iteration: 0,
                reason: format!(
                    "diagonal entry {i} is {}: the matrix is not positive definite",
                    diagonal[i]
                ),
            });
        }
        let root_diagonal: Vec<f64> = diagonal.iter().map(|d| d.sqrt()).collect();
        let mut scaled = a.clone();
        let s = a.symbolic();
        for i in 0..a.nrows() {
            for k in s.row_ptr()[i]..s.row_ptr()[i + 1] {
                scaled.val_mut()[k] /= root_diagonal[i] * root_diagonal[s.col_idx()[k]];
            }
        }
        let factorisation = match base {
            FactorBase::Ic0 => IncompleteCholesky::default(),
            FactorBase::Mic0 => IncompleteCholesky::modified(MIC_OMEGA),
        };
        // Of `A`, then scaled (`L̂ = D^{-1/2} L`): IC(0) commutes with the
        // scaling, MIC(0) does not (it keeps the row sums of the matrix it
        // factorises, and those of `A` are the ones diffusion needs).
        let (base, _) = factorisation.factorize(a, pattern.clone())?;
        let mut scaled_base = base.values().to_vec();
        let inverse_roots: Vec<f64> = root_diagonal.iter().map(|r| 1.0 / r).collect();
        scale_rows(&pattern, &mut scaled_base, &inverse_roots);
        let mean_log = diagonal.iter().map(|d| d.ln()).sum::<f64>() / diagonal.len().max(1) as f64;
        Ok(ScaledSystem {
            lower: LowerSystem {
                row_ptr: pattern.row_ptr.clone(),
                cols: pattern.cols.clone(),
                values: pattern.values_of(&scaled),
                base: scaled_base,
                log_diagonal: diagonal.iter().map(|d| d.ln() - mean_log).collect(),
            },
            pattern,
            root_diagonal,
            matrix: scaled,
            base,
        })
    }

    /// The factor of `A` from values `l̂` of a factor of `Â`.
    pub fn unscale(&self, scaled: &[f64]) -> Result<LowerFactor, String> {
        let mut values = scaled.to_vec();
        scale_rows(&self.pattern, &mut values, &self.root_diagonal);
        LowerFactor::new(self.pattern.clone(), values)
    }
}

/// Multiplies row `i` of the lower factor `values` on `pattern` by `by[i]`.
fn scale_rows(pattern: &LowerPattern, values: &mut [f64], by: &[f64]) {
    for (i, b) in by.iter().enumerate() {
        for v in &mut values[pattern.row_ptr[i]..pattern.row_ptr[i + 1]] {
            *v *= b;
        }
    }
}

/// The factor a [`LearnedFactor`] applies.
enum Active {
    Learned(LowerFactor),
    /// The base factor, and why the learned factor gave way.
    Fallback(LowerFactor, String),
}

/// A learned `L Lᵀ` preconditioner with its base factor (IC(0) or MIC(0))
/// as its fallback.
pub struct LearnedFactor {
    /// Behind a lock: libtorch tensors may move between threads, not be
    /// shared by them.
    model: Arc<Mutex<FactorModel>>,
    device: Device,
    /// The matrix of the last set-up (a time loop reuses its factor while
    /// the matrix stays the same).
    matrix: Option<SparseMatrix>,
    active: Option<Active>,
    /// The base factor of the last matrix, for a fallback during the solve.
    base: Option<LowerFactor>,
}

impl LearnedFactor {
    /// The preconditioner of `model` running on `device`.
    pub fn new(model: Arc<Mutex<FactorModel>>, device: Device) -> Self {
        LearnedFactor {
            model,
            device,
            matrix: None,
            active: None,
            base: None,
        }
    }

    /// The factor the model predicts for `a`, and the base factor of `a`.
    fn factors(
        &self,
        a: &SparseMatrix,
    ) -> Result<(Result<LowerFactor, String>, LowerFactor), SolverError> {
        let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let system = ScaledSystem::new(a, model.config.base)?;
        let tensors =
            SystemTensors::new(&system.lower, self.device).map_err(|e| SolverError::Breakdown {
                method: "learned preconditioner",
                iteration: 0,
                reason: e.to_string(),
            })?;
        let learned = system.unscale(&model.factor_values(&tensors));
        Ok((learned, system.base))
    }

    /// The base factor of the model.
    fn factor_base(&self) -> FactorBase {
        self.model
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config
            .base
    }
}

impl Preconditioner for LearnedFactor {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        let same = self.matrix.as_ref().is_some_and(|m| same_matrix(m, a));
        if same {
            return Ok(());
        }
        let (learned, base) = self.factors(a)?;
        self.active = Some(match learned {
            Ok(factor) => Active::Learned(factor),
            Err(reason) => Active::Fallback(
                base.clone(),
                format!(
                    "the learned factor was refused ({reason}); {} used instead",
                    self.factor_base().label()
                ),
            ),
        });
        self.base = Some(base);
        self.matrix = Some(a.clone());
        Ok(())
    }

    fn apply(&self, r: &[f64], z: &mut [f64]) {
        match self
            .active
            .as_ref()
            .expect("learned preconditioner used before setup")
        {
            Active::Learned(l) | Active::Fallback(l, _) => l.solve(r, z),
        }
    }

    fn name(&self) -> &'static str {
        "learned"
    }

    fn fall_back(&mut self, _a: &SparseMatrix) -> Option<Result<String, SolverError>> {
        match self.active.as_ref()? {
            Active::Fallback(..) => None,
            Active::Learned(_) => {
                let base = self.base.clone()?;
                let why = format!(
                    "CG failed with the learned factor; {} used instead",
                    self.factor_base().label()
                );
                self.active = Some(Active::Fallback(base, why.clone()));
                Some(Ok(why))
            }
        }
    }

    fn can_fall_back(&self) -> bool {
        matches!(self.active, Some(Active::Learned(_)))
    }

    fn fell_back_in_setup(&self) -> Option<String> {
        match self.active.as_ref()? {
            Active::Fallback(_, why) => Some(why.clone()),
            Active::Learned(_) => None,
        }
    }
}

/// Whether `a` and `b` have the same pattern and values.
fn same_matrix(a: &SparseMatrix, b: &SparseMatrix) -> bool {
    let (sa, sb) = (a.symbolic(), b.symbolic());
    sa.row_ptr() == sb.row_ptr() && sa.col_idx() == sb.col_idx() && a.val() == b.val()
}

/// The option naming the model folder.
const MODEL: &str = "model";
/// The option naming the device.
const DEVICE: &str = "device";

/// The model folder and device of `options`, or what is wrong with them.
fn model_options(options: &Options) -> Result<(String, DeviceKind), Vec<String>> {
    let mut problems: Vec<String> = options
        .keys()
        .filter(|k| *k != MODEL && *k != DEVICE)
        .map(|k| format!("unknown option '{k}'; learned takes {MODEL} and {DEVICE}"))
        .collect();
    let model = match options.get(MODEL).map(|v| v.as_str()) {
        Some(Some(path)) => path.to_string(),
        Some(None) => {
            problems.push(format!("{MODEL} must be a folder path"));
            String::new()
        }
        None => {
            problems.push(format!(
                "learned needs {MODEL}: the folder `pde-engine train preconditioner` wrote"
            ));
            String::new()
        }
    };
    let device = match options.get(DEVICE).map(DeviceKind::deserialize) {
        None => DeviceKind::default(),
        Some(Ok(device)) => device,
        Some(Err(e)) => {
            problems.push(format!("{DEVICE}: {e}"));
            DeviceKind::default()
        }
    };
    if problems.is_empty() {
        Ok((model, device))
    } else {
        Err(problems)
    }
}

/// The registry entry of the `learned` kind.
pub fn entry() -> PreconditionerEntry {
    PreconditionerEntry {
        name: "learned",
        about: "a learned L Lᵀ factor (model: the folder from `pde-engine train \
                preconditioner`), applied like IC(0), falling back to the model's base \
                factor (IC(0) or MIC(0)); symmetric positive definite systems",
        paths: &[MODEL],
        check: |options, system| {
            let mut problems = match model_options(options) {
                Ok((model, _)) => {
                    match pde_learned::factor::FactorConfig::read(Path::new(&model)) {
                        Ok(_) => Vec::new(),
                        Err(e) => vec![format!("{MODEL}: {e}")],
                    }
                }
                Err(problems) => problems,
            };
            problems.extend(needs_spd("learned", system));
            problems
        },
        build: |options, _: &SystemInfo| {
            let (model, device) = model_options(options).map_err(|p| p.join("; "))?;
            let device = device.device().map_err(|e| e.to_string())?;
            super::train_preconditioner::single_threaded();
            let model = FactorModel::load(Path::new(&model), device).map_err(|e| e.to_string())?;
            Ok(Box::new(LearnedFactor::new(
                Arc::new(Mutex::new(model)),
                device,
            )))
        },
    }
}
