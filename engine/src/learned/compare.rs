//! Learned preconditioners measured against classical ones on the same
//! systems: CG to the same tolerance with none, Jacobi, SSOR, IC(0),
//! MIC(0), AMG and the learned factor, every solution checked against the stored
//! Cholesky one; iterations, set-up (inference included) and total
//! seconds per system, medians and worst cases, and a picture of the
//! iterations against size and contrast. `train preconditioner` evaluates
//! with it, `bench preconditioner` reports it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pde_learned::factor::FactorModel;
use pde_learned::tch::Device;

use super::preconditioner::LearnedFactor;
use crate::driver::progress_bar;
use crate::linalg::amg::Amg;
use crate::linalg::factor::{Ic0, IncompleteCholesky, MIC_OMEGA};
use crate::linalg::krylov::{Cg, Tolerance};
use crate::linalg::precond::{Identity, Jacobi, Ssor};
use crate::linalg::{LinearSolver, Preconditioner};
use crate::plot::{self, ScatterPanel};
use crate::systems::SystemSample;

/// What one preconditioner did on one system.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measurement {
    /// CG iterations to the tolerance.
    pub iterations: usize,
    /// Seconds of the set-up alone (inference included).
    pub setup_seconds: f64,
    /// Seconds of the whole solve: set-up and iterations.
    pub total_seconds: f64,
    /// Whether a learned factor gave way to IC(0).
    pub fell_back: bool,
}

/// The relative tolerance of the comparison's CG solves.
pub const COMPARE_RTOL: f64 = 1e-8;

/// PCG with the preconditioners `make` builds on `sample`, timed (the
/// set-up alone on one, the whole solve on another); an error if CG fails
/// or its solution is not the stored one (to `1e-6` relative).
pub fn measure(
    sample: &SystemSample,
    make: &dyn Fn() -> Box<dyn Preconditioner>,
) -> Result<Measurement> {
    let name = sample.entry.dir().display().to_string();
    let started = Instant::now();
    make()
        .setup(&sample.a)
        .with_context(|| format!("{name}: set-up"))?;
    let setup_seconds = started.elapsed().as_secs_f64();
    let tolerance = Tolerance {
        rtol: COMPARE_RTOL,
        atol: 0.0,
        max_iterations: 20 * sample.b.len().max(100),
    };
    let mut cg = Cg::new(make(), tolerance);
    let mut x = vec![0.0; sample.b.len()];
    let started = Instant::now();
    let report = cg
        .solve(&sample.a, &sample.b, &mut x)
        .with_context(|| format!("{name}: CG"))?;
    let total_seconds = started.elapsed().as_secs_f64();
    let difference: Vec<f64> = x.iter().zip(&sample.x).map(|(p, q)| p - q).collect();
    let error = crate::linalg::max_abs(&difference) / crate::linalg::max_abs(&sample.x).max(1e-300);
    if error > 1e-6 {
        bail!("{name}: CG's solution differs from Cholesky's by {error:e} (relative)");
    }
    Ok(Measurement {
        iterations: report.iterations,
        setup_seconds,
        total_seconds,
        fell_back: report.fallback.is_some(),
    })
}

/// Makes a fresh preconditioner.
type Make = Box<dyn Fn() -> Box<dyn Preconditioner>>;

/// The preconditioners compared, by name: the classical ones, then the
/// learned factor of `model`.
fn contenders(model: &Arc<Mutex<FactorModel>>, device: Device) -> Vec<(&'static str, Make)> {
    let model = model.clone();
    vec![
        ("none", Box::new(|| Box::new(Identity))),
        ("jacobi", Box::new(|| Box::new(Jacobi::default()))),
        ("ssor", Box::new(|| Box::new(Ssor::new(1.2)))),
        ("ic0", Box::new(|| Box::new(Ic0::default()))),
        (
            "mic0",
            Box::new(|| Box::new(IncompleteCholesky::modified(MIC_OMEGA))),
        ),
        ("amg", Box::new(|| Box::new(Amg::default()))),
        (
            "learned",
            Box::new(move || Box::new(LearnedFactor::new(model.clone(), device))),
        ),
    ]
}

/// The median of `v` (NaN if empty).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// PCG on every system with each preconditioner: per system the
/// iterations and seconds of each, and over the systems, per
/// preconditioner `NAME_iterations` (median), `NAME_worst_iterations` and
/// `NAME_seconds` (median of the whole solve, set-up with inference
/// included), with the medians `learned_to_ic0_iterations` and
/// `learned_to_mic0_iterations` and the learned factor's `fallbacks`.
pub fn compare(
    systems: &[SystemSample],
    model: &Arc<Mutex<FactorModel>>,
    device: Device,
    progress: bool,
) -> Result<serde_json::Value> {
    let bar = progress_bar(progress);
    let contenders = contenders(model, device);
    let mut rows = Vec::with_capacity(systems.len());
    let mut by_name: Vec<Vec<Measurement>> = vec![Vec::new(); contenders.len()];
    for (k, sample) in systems.iter().enumerate() {
        bar.set_position((1000 * k / systems.len().max(1)) as u64);
        let mut row = serde_json::json!({
            "system": sample.entry.dir().display().to_string(),
            "unknowns": sample.b.len(),
            "contrast": sample.entry.contrast,
            "geometry": sample.entry.geometry,
            "degree": sample.entry.degree,
            "operator": sample.entry.operator,
        });
        for ((name, make), all) in contenders.iter().zip(&mut by_name) {
            bar.set_message(format!(
                "system {}/{} ({} unknowns): CG with {name}",
                k + 1,
                systems.len(),
                sample.b.len()
            ));
            let m = measure(sample, make.as_ref())?;
            row[*name] = serde_json::json!({
                "iterations": m.iterations,
                "setup_seconds": m.setup_seconds,
                "total_seconds": m.total_seconds,
                "fell_back": m.fell_back,
            });
            all.push(m);
        }
        rows.push(row);
    }
    bar.finish_and_clear();
    let mut summary = serde_json::Map::new();
    for ((name, _), all) in contenders.iter().zip(&by_name) {
        let iterations: Vec<f64> = all.iter().map(|m| m.iterations as f64).collect();
        let worst = iterations.iter().copied().fold(f64::NAN, f64::max);
        summary.insert(format!("{name}_iterations"), median(iterations).into());
        summary.insert(format!("{name}_worst_iterations"), worst.into());
        let seconds = all.iter().map(|m| m.total_seconds).collect();
        summary.insert(format!("{name}_seconds"), median(seconds).into());
    }
    let position = |name: &str| contenders.iter().position(|(n, _)| *n == name);
    if let Some(l) = position("learned") {
        for base in ["ic0", "mic0"] {
            let Some(b) = position(base) else { continue };
            let ratios = by_name[l]
                .iter()
                .zip(&by_name[b])
                .map(|(l, b)| l.iterations as f64 / b.iterations.max(1) as f64)
                .collect();
            summary.insert(
                format!("learned_to_{base}_iterations"),
                median(ratios).into(),
            );
        }
        let fallbacks = by_name[l].iter().filter(|m| m.fell_back).count();
        summary.insert("fallbacks".into(), fallbacks.into());
    }
    summary.insert("systems".into(), rows.into());
    Ok(summary.into())
}

/// The preconditioners [`plot_iterations`] draws, with their legends.
const PLOTTED: [(&str, &str); 4] = [
    ("ic0", "IC(0)"),
    ("mic0", "MIC(0)"),
    ("learned", "learned"),
    ("amg", "AMG"),
];

/// Draws the CG iterations of IC(0), MIC(0), the learned factor and AMG on each
/// system of a [`compare`] result against the system's unknowns and its
/// contrast (log–log) into the PNG `path`.
pub fn plot_iterations(comparison: &serde_json::Value, title: &str, path: &Path) -> Result<()> {
    let systems = comparison["systems"].as_array().map_or(&[][..], |v| v);
    let panel = |x_key: &str, x_label: &str| ScatterPanel {
        x_label: x_label.into(),
        y_label: format!("CG iterations to {COMPARE_RTOL:e}"),
        series: PLOTTED
            .iter()
            .map(|(key, legend)| {
                let points = systems
                    .iter()
                    .filter_map(|s| Some((s[x_key].as_f64()?, s[*key]["iterations"].as_f64()?)))
                    .collect();
                (legend.to_string(), points)
            })
            .collect(),
    };
    plot::scatter(
        path,
        title,
        &[
            panel("unknowns", "unknowns"),
            panel("contrast", "contrast max κ / min κ"),
        ],
    )
}
