//! `pde-engine generate meshes`: training data for learned mesh movers.
//! Each sample is a domain drawn anew (the 2D families of `generate
//! systems`; Monge–Ampère's targets are equidistributed only where every
//! corner is at most 90°: rectangles, acute triangles, squares), meshed by
//! gmsh, a field drawn on it (a ring or a straight front `tanh(·/w)`, or
//! Gaussian bumps), the monitor a time loop would build from that field
//! ([`MonitorSpec`]: gradient or Hessian indicator, contrast `α`,
//! smoothing), and the Monge–Ampère mover's answer for that monitor from
//! the uniform mesh: its potential's nodal Laplacian `s = Δφ`, which is
//! what the learned mover predicts ([`super::mover_graph`]). On disk:
//!
//! ```text
//! DIR/index.json                the seed and, per sample, its name, split,
//!                               domain, mesh size, nodes, field, monitor,
//!                               and the Monge–Ampère solve (iterations,
//!                               residual, converged, seconds)
//! DIR/<split>/<name>/mesh.msh   the computational mesh (MSH 4.1, binary)
//! DIR/<split>/<name>/domain.geo the domain (gmsh; parameter lc)
//! DIR/<split>/<name>/nodes.f64  per node, little-endian f64: the monitor
//!                               m and the Laplacian s ([nodes][2])
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pde_mesh::io::gmsh::{self, Endian, MshFormat, MshVersion};
use pde_mesh::io::vtk;
use pde_mesh::Mesh;
use serde::{Deserialize, Serialize};

use super::monge_ampere::{MongeAmpere, MongeAmpereSettings};
use super::monitor::{Indicator, MonitorSpec, NodalMonitor};
use crate::dataset::{family_plan, read_index, start_family, write_index, Split};
use crate::driver::progress_bar;
use crate::generate::read_config;
use crate::random::Draws;
use crate::systems::{mesh_domain, Domain, Geometry};

/// The field a sample's monitor follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// `tanh((|x − c| − r)/w)`: a circular layer (centre inside the
    /// domain, radius 0.1–0.4 of its size).
    Ring,
    /// `tanh((x − p)·n / w)`: a straight front through a point inside, in
    /// a random direction.
    Front,
    /// 1–3 Gaussian bumps of standard deviation `3w` at points inside.
    Bumps,
}

/// A `generate meshes` config file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshesConfig {
    /// Output folder, relative to the config file.
    pub output: PathBuf,
    /// Seed of every draw (same seed, same family). Default 0.
    #[serde(default)]
    pub seed: u64,
    /// Groups of training samples (at least one).
    pub train: Vec<MeshGroup>,
    /// Groups of held-out samples (other domains, fields, monitors).
    #[serde(default)]
    pub test: Vec<MeshGroup>,
}

/// A group of samples, each drawn from these choices: a list uniformly, a
/// range `[min, max]` log-uniformly (`smoothing` uniformly).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshGroup {
    /// Number of samples (at least 1).
    pub count: usize,
    /// Domains: `square`, `l_shape`, `channel_with_holes`, `polygon`.
    pub geometries: Vec<Geometry>,
    /// Range of the gmsh mesh size `lc`.
    pub mesh_size: [f64; 2],
    /// Fields: `ring`, `front`, `bumps`. Default all three.
    #[serde(default = "fields_default")]
    pub fields: Vec<FieldKind>,
    /// Range of the layer width `w`, relative to the domain's size.
    /// Default `[0.01, 0.05]`.
    #[serde(default = "width_default")]
    pub width: [f64; 2],
    /// Monitor indicators: `gradient`, `hessian`. Default both.
    #[serde(default = "indicators_default")]
    pub indicators: Vec<Indicator>,
    /// Range of the monitor's `α`. Default `[5, 30]`.
    #[serde(default = "alpha_default")]
    pub alpha: [f64; 2],
    /// Range of the monitor's smoothing `N`. Default `[0, 8]`.
    #[serde(default = "smoothing_default")]
    pub smoothing: [f64; 2],
}

fn fields_default() -> Vec<FieldKind> {
    vec![FieldKind::Ring, FieldKind::Front, FieldKind::Bumps]
}
fn width_default() -> [f64; 2] {
    [0.01, 0.05]
}
fn indicators_default() -> Vec<Indicator> {
    vec![Indicator::Gradient, Indicator::Hessian]
}
fn alpha_default() -> [f64; 2] {
    [5.0, 30.0]
}
fn smoothing_default() -> [f64; 2] {
    [0.0, 8.0]
}

impl MeshesConfig {
    /// Reads and checks a config file.
    pub fn read(path: &Path) -> Result<MeshesConfig> {
        read_config(path, "meshes", MeshesConfig::check)
    }

    fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.train.is_empty() {
            problems.push("train: no groups; training needs at least one sample".to_string());
        }
        for (split, groups) in [("train", &self.train), ("test", &self.test)] {
            for (k, g) in groups.iter().enumerate() {
                let at = format!("{split}[{k}]");
                if g.count == 0 {
                    problems.push(format!("{at}.count: 0 samples; a group needs at least 1"));
                }
                for (key, empty) in [
                    ("geometries", g.geometries.is_empty()),
                    ("fields", g.fields.is_empty()),
                    ("indicators", g.indicators.is_empty()),
                ] {
                    if empty {
                        problems.push(format!("{at}.{key}: the list is empty"));
                    }
                }
                if let Some(d) = g.geometries.iter().find(|d| d.dimension() != 2) {
                    problems.push(format!(
                        "{at}.geometries: {d:?} is 3D; the movers need 2D triangles"
                    ));
                }
                for (key, [lo, hi], min) in [
                    ("mesh_size", g.mesh_size, f64::MIN_POSITIVE),
                    ("width", g.width, f64::MIN_POSITIVE),
                    ("alpha", g.alpha, 0.0),
                    ("smoothing", g.smoothing, 0.0),
                ] {
                    if !(lo >= min && lo <= hi && hi.is_finite()) {
                        problems.push(format!(
                            "{at}.{key}: [{lo}, {hi}] must be a finite range, min ≤ max, of \
                             values {}",
                            if min > 0.0 { "> 0" } else { "≥ 0" }
                        ));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            bail!("{}", problems.join("\n"))
        }
    }
}

/// One sample in the index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshEntry {
    /// Its name, unique within its split.
    pub name: String,
    /// Train or test.
    pub split: Split,
    /// The family of its domain.
    pub geometry: Geometry,
    /// The gmsh mesh size `lc`.
    pub mesh_size: f64,
    /// Mesh nodes.
    pub nodes: usize,
    /// The field.
    pub field: FieldKind,
    /// Its width relative to the domain's size.
    pub width: f64,
    /// The monitor built from it.
    pub monitor: MonitorSpec,
    /// Monge–Ampère iterations.
    pub iterations: usize,
    /// The equidistribution residual it reached.
    pub residual: f64,
    /// Whether it reached its tolerance.
    pub converged: bool,
    /// Seconds of the Monge–Ampère solve (from the uniform mesh).
    pub seconds: f64,
}

/// The index of a mesh family, `DIR/index.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeshesIndex {
    /// The seed the family was drawn with.
    pub seed: u64,
    /// The samples, the training split first.
    pub samples: Vec<MeshEntry>,
}

/// One sample in memory.
#[derive(Clone, Debug)]
pub struct MeshSample {
    /// How it was made.
    pub entry: MeshEntry,
    /// The computational mesh.
    pub mesh: Mesh,
    /// The monitor at its nodes.
    pub monitor: Vec<f64>,
    /// The Monge–Ampère potential's nodal Laplacian.
    pub laplacian: Vec<f64>,
}

const MESH: &str = "mesh.msh";
const NODES: &str = "nodes.f64";

/// The Monge–Ampère solve of the targets: to a residual of 1e-3, from the
/// uniform mesh, stopping at the last valid mesh where it cannot go on.
fn target_settings() -> MongeAmpereSettings {
    MongeAmpereSettings {
        rtol: 1e-3,
        max_iterations: 300,
        ..MongeAmpereSettings::default()
    }
}

impl MeshEntry {
    fn dir(&self) -> PathBuf {
        Path::new(self.split.name()).join(&self.name)
    }
}

impl MeshesIndex {
    /// Reads `DIR/index.json`.
    pub fn read(dir: &Path) -> Result<MeshesIndex> {
        read_index(dir, "meshes", "generate meshes")
    }

    /// The samples of one split, in order.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &MeshEntry> + '_ {
        self.samples.iter().filter(move |s| s.split == split)
    }

    /// Reads sample `entry` of the family in `dir`.
    pub fn load(&self, dir: &Path, entry: &MeshEntry) -> Result<MeshSample> {
        let folder = dir.join(entry.dir());
        let mesh = gmsh::read(folder.join(MESH))?;
        let path = folder.join(NODES);
        let bytes =
            std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let n = mesh.num_points();
        if mesh.num_points() != entry.nodes || bytes.len() != 16 * n {
            bail!(
                "{}: {} bytes for a mesh of {n} nodes (the index says {}); expected {}",
                path.display(),
                bytes.len(),
                entry.nodes,
                16 * n
            );
        }
        let values: Vec<f64> = bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        Ok(MeshSample {
            entry: entry.clone(),
            mesh,
            monitor: values.iter().step_by(2).copied().collect(),
            laplacian: values.iter().skip(1).step_by(2).copied().collect(),
        })
    }
}

/// Generates the family the config file at `path` describes (progress bar
/// if `progress`); returns its folder.
pub fn generate(path: &Path, progress: bool) -> Result<PathBuf> {
    let config = MeshesConfig::read(path)?;
    let out = start_family(path, &config.output, "generate meshes")?;
    let plan = family_plan(&config.train, &config.test, |g| g.count);
    let bar = progress_bar(progress);
    let mut samples = Vec::with_capacity(plan.len());
    for (done, &(split, k, group)) in plan.iter().enumerate() {
        let name = format!("{k:03}");
        let mut draws = Draws::stream(config.seed, split as u64, k as u64);
        let entry = make(&out, split, &name, group, &mut draws)
            .with_context(|| format!("{} sample {name}", split.name()))?;
        bar.set_position((1000 * (done + 1) / plan.len()) as u64);
        bar.set_message(format!(
            "mesh {}/{}  {} nodes, Monge–Ampère {} iterations",
            done + 1,
            plan.len(),
            entry.nodes,
            entry.iterations
        ));
        samples.push(entry);
    }
    bar.finish_and_clear();
    write_index(
        &out,
        &MeshesIndex {
            seed: config.seed,
            samples,
        },
    )?;
    Ok(out)
}

/// Draws sample `name` of `split`, moves its mesh by Monge–Ampère and
/// writes its files.
fn make(
    dir: &Path,
    split: Split,
    name: &str,
    group: &MeshGroup,
    draws: &mut Draws,
) -> Result<MeshEntry> {
    let geometry = *draws.pick(&group.geometries);
    let mesh_size = draws.log_uniform(group.mesh_size);
    let field = *draws.pick(&group.fields);
    let width = draws.log_uniform(group.width);
    let monitor = MonitorSpec {
        field: "u".into(),
        indicator: *draws.pick(&group.indicators),
        alpha: draws.log_uniform(group.alpha),
        smoothing: draws.uniform(group.smoothing),
    };
    let domain = Domain::draw(geometry, draws);
    let folder = dir.join(split.name()).join(name);
    let mesh: Arc<Mesh> = mesh_domain(&folder, &domain, mesh_size, 1)?.mesh().clone();
    let u = draw_field(field, width * domain.size(), &domain, draws);
    let values: Vec<f64> = mesh.points.iter().map(|&x| u(x)).collect();
    let nodal = monitor.nodal(&mesh, &values)?;
    let m = NodalMonitor::new(mesh.clone(), &nodal)?;
    let started = Instant::now();
    let mut ma = MongeAmpere::new(&mesh, target_settings())?.best_effort();
    let moved = ma.relax(&|x| m.eval(x))?;
    let seconds = started.elapsed().as_secs_f64();
    let laplacian = ma.laplacian();
    gmsh::write(
        folder.join(MESH),
        &mesh,
        MshFormat {
            version: MshVersion::V4,
            binary: Some(Endian::Little),
        },
    )?;
    vtk::write_atomically(&folder.join(NODES), |w| {
        for (m, s) in nodal.iter().zip(&laplacian) {
            w.write_all(&m.to_le_bytes())?;
            w.write_all(&s.to_le_bytes())?;
        }
        Ok(())
    })?;
    Ok(MeshEntry {
        name: name.into(),
        split,
        geometry,
        mesh_size,
        nodes: mesh.num_points(),
        field,
        width,
        monitor,
        iterations: moved.iterations,
        residual: moved.residuals.last().copied().unwrap_or(f64::NAN),
        converged: moved.converged,
        seconds,
    })
}

/// The field of a sample, `width` in the domain's units.
fn draw_field(
    kind: FieldKind,
    width: f64,
    domain: &Domain,
    draws: &mut Draws,
) -> Box<dyn Fn([f64; 3]) -> f64> {
    let size = domain.size();
    let centre = domain.draw_point(draws);
    match kind {
        FieldKind::Ring => {
            let radius = draws.uniform([0.1, 0.4]) * size;
            Box::new(move |x| {
                (((x[0] - centre[0]).hypot(x[1] - centre[1]) - radius) / width).tanh()
            })
        }
        FieldKind::Front => {
            let angle = draws.uniform([0.0, std::f64::consts::TAU]);
            let n = [angle.cos(), angle.sin()];
            Box::new(move |x| {
                (((x[0] - centre[0]) * n[0] + (x[1] - centre[1]) * n[1]) / width).tanh()
            })
        }
        FieldKind::Bumps => {
            let mut centres = vec![centre];
            for _ in 0..draws.index(3) {
                centres.push(domain.draw_point(draws));
            }
            let sigma = 3.0 * width;
            Box::new(move |x| {
                centres
                    .iter()
                    .map(|c| {
                        let r2 = (x[0] - c[0]).powi(2) + (x[1] - c[1]).powi(2);
                        (-r2 / (2.0 * sigma * sigma)).exp()
                    })
                    .sum()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped config is valid; impossible values are refused, each
    /// naming its key.
    #[test]
    fn configs_are_checked() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/learned/meshes.yaml");
        let config = MeshesConfig::read(&shipped).unwrap();
        assert!(!config.train.is_empty() && !config.test.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            "output: m\ntrain:\n  - {count: 0, geometries: [box], mesh_size: [0.1, 0.05], \
             alpha: [-1, 2], fields: []}\n",
        )
        .unwrap();
        let e = format!("{:#}", MeshesConfig::read(&bad).unwrap_err());
        for key in [
            "train[0].count",
            "train[0].geometries: Box is 3D",
            "train[0].mesh_size",
            "train[0].alpha",
            "train[0].fields: the list is empty",
        ] {
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
