//! The config file of `generate systems`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::Deserialize;

use super::fields::CoefficientKind;
use super::geometry::Geometry;
use crate::generate::read_config;

/// A `generate systems` config file: where to write, the seed, and the
/// groups of systems of each split.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemsConfig {
    /// Output folder, relative to the config file.
    pub output: PathBuf,
    /// Seed of every draw (same seed, same family, byte for byte). Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Groups of training systems (at least one).
    pub train: Vec<GroupConfig>,
    /// Groups of test systems: what training never sees (other geometries,
    /// contrasts, sizes). Default none.
    #[serde(default)]
    pub test: Vec<GroupConfig>,
}

/// A group of systems, each drawn from these choices: a list is drawn from
/// uniformly (repeat an item to weight it), a range `[min, max]`
/// log-uniformly.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Number of systems (at least 1).
    pub count: usize,
    /// Domains: `square`, `l_shape`, `channel_with_holes`, `polygon`,
    /// `rectangle`, `triangle`, `box` (3D), `l_box` (3D).
    pub geometries: Vec<Geometry>,
    /// Range of the gmsh mesh size `lc` (in the domains' units: the square
    /// is the unit square).
    pub mesh_size: [f64; 2],
    /// How κ is drawn: `lognormal`, `inclusions`. Default both.
    #[serde(default = "coefficients_default")]
    pub coefficients: Vec<CoefficientKind>,
    /// Range of the contrast: κ ranges over `[1, contrast]` (at least 1).
    pub contrast: [f64; 2],
    /// Lagrange degrees, 1 or 2. Default `[1]`.
    #[serde(default = "degree_default")]
    pub degree: Vec<usize>,
    /// Probability that a system is the heat step `M + dt K` rather than
    /// the stiffness matrix `K`, `dt = r h² / κ_min` with `r` log-uniform
    /// in `[1, 100]` (`h` the mesh size, `κ_min = 1`). Default 0.
    #[serde(default)]
    pub heat_step: f64,
}

fn coefficients_default() -> Vec<CoefficientKind> {
    vec![CoefficientKind::Lognormal, CoefficientKind::Inclusions]
}

fn degree_default() -> Vec<usize> {
    vec![1]
}

impl SystemsConfig {
    /// Reads and checks a config file.
    pub fn read(path: &Path) -> Result<SystemsConfig> {
        read_config(path, "systems", SystemsConfig::check)
    }

    fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.train.is_empty() {
            problems.push("train: no groups; training needs at least one system".to_string());
        }
        for (split, groups) in [("train", &self.train), ("test", &self.test)] {
            for (k, group) in groups.iter().enumerate() {
                group.check(&format!("{split}[{k}]"), &mut problems);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("\n"))
        }
    }
}

impl GroupConfig {
    /// Adds a line per impossible value to `problems`, each naming the key
    /// as `at.key`.
    fn check(&self, at: &str, problems: &mut Vec<String>) {
        if self.count == 0 {
            problems.push(format!("{at}.count: 0 systems; a group needs at least 1"));
        }
        for (key, empty) in [
            ("geometries", self.geometries.is_empty()),
            ("coefficients", self.coefficients.is_empty()),
            ("degree", self.degree.is_empty()),
        ] {
            if empty {
                problems.push(format!("{at}.{key}: the list is empty"));
            }
        }
        let [lo, hi] = self.mesh_size;
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            problems.push(format!(
                "{at}.mesh_size: [{lo}, {hi}] must be a range of positive sizes, min ≤ max"
            ));
        }
        let [lo, hi] = self.contrast;
        if !(lo >= 1.0 && lo <= hi && hi.is_finite()) {
            problems.push(format!(
                "{at}.contrast: [{lo}, {hi}] must be a range with 1 ≤ min ≤ max"
            ));
        }
        if let Some(d) = self.degree.iter().find(|d| !(1..=2).contains(*d)) {
            problems.push(format!("{at}.degree: {d}; the degrees are 1 and 2"));
        }
        if !(0.0..=1.0).contains(&self.heat_step) {
            problems.push(format!(
                "{at}.heat_step: {} is not a probability (0 to 1)",
                self.heat_step
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configs shipped in cases/learned/ are valid.
    #[test]
    fn shipped_configs_are_valid() {
        let cases = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/learned");
        for name in ["systems.yaml", "systems_contrast100.yaml"] {
            let config = SystemsConfig::read(&cases.join(name)).unwrap();
            assert!(
                !config.train.is_empty() && !config.test.is_empty(),
                "{name}"
            );
        }
    }
}
