//! Snapshots: the named arrays (and a few texts) a checkpoint keeps of a
//! model, a monitor or a mesh motion.

use std::collections::VecDeque;

use super::StepError;
use crate::linalg::{LinearSolver, SparseMatrix};

/// Named arrays of numbers: what a checkpoint keeps of a model's state
/// (every time level its integrator needs) or of a monitor's records.
/// Counts are stored as numbers (exact below 2⁵³); messages (why a first
/// move was refused) as texts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    arrays: Vec<(String, Vec<f64>)>,
    texts: Vec<(String, String)>,
}

impl Snapshot {
    /// No arrays.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the array `name`.
    pub fn push(&mut self, name: impl Into<String>, values: Vec<f64>) {
        self.arrays.push((name.into(), values));
    }

    /// The arrays, in the order pushed.
    pub fn arrays(&self) -> &[(String, Vec<f64>)] {
        &self.arrays
    }

    /// Adds the text `name`.
    pub fn push_text(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.texts.push((name.into(), text.into()));
    }

    /// The texts, in the order pushed.
    pub fn texts(&self) -> &[(String, String)] {
        &self.texts
    }

    /// The text `name`, if there is one.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.texts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.as_str())
    }

    /// The array `name`, if there is one.
    pub fn find(&self, name: &str) -> Option<&[f64]> {
        self.arrays
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The array `name`; an error names it when it is missing.
    pub fn get(&self, name: &str) -> Result<&[f64], StepError> {
        self.find(name)
            .ok_or_else(|| StepError::Restart(format!("the checkpoint has no '{name}'")))
    }

    /// The array `name`, which must have `len` values.
    pub fn get_len(&self, name: &str, len: usize) -> Result<&[f64], StepError> {
        let values = self.get(name)?;
        if values.len() != len {
            return Err(StepError::Restart(format!(
                "'{name}' has {} values in the checkpoint; the model has {len}",
                values.len()
            )));
        }
        Ok(values)
    }

    /// Adds the points `points` (a mesh's, or dof positions) as `name`.
    pub fn push_points(&mut self, name: impl Into<String>, points: &[[f64; 3]]) {
        self.push(name, points.iter().flatten().copied().collect());
    }

    /// The `len` points [`Snapshot::push_points`] kept as `name`.
    pub fn points(&self, name: &str, len: usize) -> Result<Vec<[f64; 3]>, StepError> {
        Ok(self
            .get_len(name, 3 * len)?
            .chunks_exact(3)
            .map(|p| [p[0], p[1], p[2]])
            .collect())
    }

    /// Adds `other`'s arrays and texts under `prefix.`.
    pub fn nest(&mut self, prefix: &str, other: Snapshot) {
        for (name, values) in other.arrays {
            self.arrays.push((format!("{prefix}.{name}"), values));
        }
        for (name, text) in other.texts {
            self.texts.push((format!("{prefix}.{name}"), text));
        }
    }

    /// The arrays and texts under `prefix.`, without it.
    pub fn section(&self, prefix: &str) -> Snapshot {
        let head = format!("{prefix}.");
        fn under<T: Clone>(all: &[(String, T)], head: &str) -> Vec<(String, T)> {
            all.iter()
                .filter_map(|(n, v)| n.strip_prefix(head).map(|n| (n.to_string(), v.clone())))
                .collect()
        }
        Snapshot {
            arrays: under(&self.arrays, &head),
            texts: under(&self.texts, &head),
        }
    }

    /// Adds records of equal length (a monitor's rows) as `name`.
    pub fn push_rows(&mut self, name: &str, rows: &[Vec<f64>]) {
        let width = rows.first().map_or(0, Vec::len);
        self.push(format!("{name}.width"), vec![width as f64]);
        self.push(name, rows.concat());
    }

    /// The rows [`Snapshot::push_rows`] kept.
    pub fn rows(&self, name: &str) -> Result<Vec<Vec<f64>>, StepError> {
        let width = self.get_len(&format!("{name}.width"), 1)?[0] as usize;
        let values = self.get(name)?;
        if width == 0 {
            return Ok(Vec::new());
        }
        Ok(values.chunks(width).map(<[f64]>::to_vec).collect())
    }

    /// Adds what `solver` keeps that changes later solves (a lagged
    /// factor's matrix) as `name`.
    pub fn push_solver(&mut self, name: &str, solver: &dyn LinearSolver) {
        if let Some(values) = solver.kept_factor() {
            self.push(name, values);
        }
    }

    /// Gives `solver` back what [`Snapshot::push_solver`] kept, on the
    /// pattern of `a`.
    pub fn restore_solver(
        &self,
        name: &str,
        solver: &mut dyn LinearSolver,
        a: &SparseMatrix,
    ) -> Result<(), StepError> {
        match self.find(name) {
            Some(values) => solver
                .restore_factor(a, values)
                .map_err(|e| StepError::Restart(format!("the kept factor: {e}"))),
            None => Ok(()),
        }
    }

    /// The time levels of a multistep integrator, `(t, state)` oldest first.
    pub fn of_history(history: &VecDeque<(f64, Vec<f64>)>) -> Self {
        let mut s = Snapshot::new();
        s.push("times", history.iter().map(|(t, _)| *t).collect());
        for (k, (_, x)) in history.iter().enumerate() {
            s.push(format!("level{k}"), x.clone());
        }
        s
    }

    /// The time levels [`Snapshot::of_history`] kept, each of `len` values.
    pub fn history(&self, len: usize) -> Result<VecDeque<(f64, Vec<f64>)>, StepError> {
        let times = self.get("times")?;
        if times.is_empty() {
            return Err(StepError::Restart(
                "the checkpoint has no time level".into(),
            ));
        }
        times
            .iter()
            .enumerate()
            .map(|(k, t)| Ok((*t, self.get_len(&format!("level{k}"), len)?.to_vec())))
            .collect()
    }
}
