//! The `learned` preconditioner kind (`solver: {kind: cg, preconditioner:
//! {kind: learned, model: PATH}}`): a model folder from `pde-engine train
//! preconditioner` predicts `L` on the lower triangle of the matrix once
//! per matrix (inference), and CG applies `(L Lᵀ)⁻¹` by the same
//! triangular solves as IC(0). A factor with a non-positive or non-finite
//! pivot, or CG failing with it, falls back to IC(0); the solve report says
//! so, and run summaries count it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use pde_learned::factor::{FactorModel, LowerSystem, SystemTensors};
use pde_learned::tch::Device;
use serde::Deserialize as _;

use crate::case::DeviceKind;
use crate::linalg::factor::{Ic0, LowerFactor, LowerPattern};
use crate::linalg::registry::{needs_spd, Options, PreconditionerEntry, SystemInfo};
use crate::linalg::{Preconditioner, SolverError, SparseMatrix};

/// A system as the model reads it, and the way back to its scale.
pub struct ScaledSystem {
    /// The lower triangle of `Â = D^{-1/2} A D^{-1/2}` with IC(0) of `Â`.
    pub lower: LowerSystem,
    /// The lower pattern of `A` (that of `Â`).
    pub pattern: LowerPattern,
    /// `√dᵢ`: row `i` of a factor of `Â` times it is a factor of `A`.
    pub root_diagonal: Vec<f64>,
    /// `Â` itself.
    pub matrix: SparseMatrix,
}

impl ScaledSystem {
    /// `a` scaled to a unit diagonal, with IC(0) of the scaled matrix
    /// (shifted if it must be); an error names a row with a non-positive
    /// diagonal.
    pub fn new(a: &SparseMatrix) -> Result<Self, SolverError> {
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
        let (ic0, _) = Ic0::factorize(&scaled, pattern.clone())?;
        let mean_log = diagonal.iter().map(|d| d.ln()).sum::<f64>() / diagonal.len().max(1) as f64;
        Ok(ScaledSystem {
            lower: LowerSystem {
                row_ptr: pattern.row_ptr.clone(),
                cols: pattern.cols.clone(),
                values: pattern.values_of(&scaled),
                ic0: ic0.values().to_vec(),
                log_diagonal: diagonal.iter().map(|d| d.ln() - mean_log).collect(),
            },
            pattern,
            root_diagonal,
            matrix: scaled,
        })
    }

    /// The factor of `A` from values `l̂` of a factor of `Â`.
    pub fn unscale(&self, scaled: &[f64]) -> Result<LowerFactor, String> {
        let mut values = scaled.to_vec();
        for i in 0..self.root_diagonal.len() {
            for v in &mut values[self.pattern.row_ptr[i]..self.pattern.row_ptr[i + 1]] {
                *v *= self.root_diagonal[i];
            }
        }
        LowerFactor::new(self.pattern.clone(), values)
    }

    /// IC(0) of `A` (that of `Â`, unscaled).
    pub fn ic0(&self) -> LowerFactor {
        self.unscale(&self.lower.ic0)
            .expect("IC(0) has a positive diagonal")
    }
}

/// The factor a [`LearnedFactor`] applies.
enum Active {
    Learned(LowerFactor),
    /// IC(0), and why the learned factor gave way.
    Fallback(LowerFactor, String),
}

/// A learned `L Lᵀ` preconditioner with IC(0) as its fallback.
pub struct LearnedFactor {
    /// Behind a lock: libtorch tensors may move between threads, not be
    /// shared by them.
    model: Arc<Mutex<FactorModel>>,
    device: Device,
    /// The matrix of the last set-up (a time loop reuses its factor while
    /// the matrix stays the same).
    matrix: Option<SparseMatrix>,
    active: Option<Active>,
    /// IC(0) of the last matrix, for a fallback during the solve.
    ic0: Option<LowerFactor>,
}

impl LearnedFactor {
    /// The preconditioner of `model` running on `device`.
    pub fn new(model: Arc<Mutex<FactorModel>>, device: Device) -> Self {
        LearnedFactor {
            model,
            device,
            matrix: None,
            active: None,
            ic0: None,
        }
    }

    /// The factor the model predicts for `a`, and IC(0) of `a`.
    fn factors(
        &self,
        a: &SparseMatrix,
    ) -> Result<(Result<LowerFactor, String>, LowerFactor), SolverError> {
        let system = ScaledSystem::new(a)?;
        let tensors =
            SystemTensors::new(&system.lower, self.device).map_err(|e| SolverError::Breakdown {
                method: "learned preconditioner",
                iteration: 0,
                reason: e.to_string(),
            })?;
        let model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let learned = system.unscale(&model.factor_values(&tensors));
        Ok((learned, system.ic0()))
    }
}

impl Preconditioner for LearnedFactor {
    fn setup(&mut self, a: &SparseMatrix) -> Result<(), SolverError> {
        let same = self.matrix.as_ref().is_some_and(|m| same_matrix(m, a));
        if same {
            return Ok(());
        }
        let (learned, ic0) = self.factors(a)?;
        self.active = Some(match learned {
            Ok(factor) => Active::Learned(factor),
            Err(reason) => Active::Fallback(
                ic0.clone(),
                format!("the learned factor was refused ({reason}); IC(0) used instead"),
            ),
        });
        self.ic0 = Some(ic0);
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
                let ic0 = self.ic0.clone()?;
                let why = "CG failed with the learned factor; IC(0) used instead".to_string();
                self.active = Some(Active::Fallback(ic0, why.clone()));
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
                preconditioner`), applied like IC(0), falling back to IC(0); symmetric \
                positive definite systems",
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
