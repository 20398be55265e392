//! Trajectory datasets for learned steppers, on disk:
//!
//! ```text
//! DIR/index.json         fields, node-type groups, dt, and per trajectory
//!                        its folder, split (train/test), parameters, size
//! DIR/000/mesh.msh       the trajectory's mesh (MSH 4.1, binary)
//! DIR/000/states.f32     states, little-endian f32, step-major:
//!                        [steps + 1][nodes][fields]
//! ```
//!
//! `pde-engine generate flows` writes them; `pde-engine train stepper` reads them.
//! Any tool can: the states are one flat array, the mesh a gmsh file.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pde_mesh::io::gmsh::{self, Endian, MshFormat, MshVersion};
use pde_mesh::io::vtk;
use pde_mesh::Mesh;
use serde::{Deserialize, Serialize};

/// Which part of a dataset a trajectory (or a linear system, see
/// [`crate::systems`]) belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Used for training.
    Train,
    /// Held out for evaluation.
    Test,
}

impl Split {
    /// Its name in indexes and folder names: `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// One trajectory in the index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrajectoryEntry {
    /// Its folder, relative to the dataset.
    pub dir: String,
    /// Train or test.
    pub split: Split,
    /// The parameters it was made with (e.g. cylinder position, radius,
    /// inflow speed).
    pub parameters: BTreeMap<String, f64>,
    /// Number of mesh nodes.
    pub nodes: usize,
    /// Number of steps (the file holds `steps + 1` states).
    pub steps: usize,
    /// Wall time per step of the solver that made it (for comparing a
    /// learned stepper's speed on the same mesh), if measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_per_step: Option<f64>,
}

/// The index of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetIndex {
    /// State fields per node (e.g. `["u", "v"]`).
    pub fields: Vec<String>,
    /// Physical groups that define node types (1, 2, ...; 0 is interior).
    pub type_groups: Vec<String>,
    /// Groups whose nodes the boundary conditions set (masked out of
    /// training losses).
    pub fixed_groups: Vec<String>,
    /// The fields the boundary conditions set on `fixed_groups` (the
    /// others, e.g. the pressure on a wall, are free there). Default: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_fields: Option<Vec<String>>,
    /// Time between states.
    pub dt: f64,
    /// The trajectories.
    pub trajectories: Vec<TrajectoryEntry>,
}

/// A trajectory in memory.
#[derive(Clone, Debug)]
pub struct Trajectory {
    /// The mesh.
    pub mesh: Mesh,
    /// `steps + 1` states, each `nodes × fields` values, node-major.
    pub states: Vec<Vec<f64>>,
}

/// The index file of a dataset or a family of systems.
pub(crate) const INDEX: &str = "index.json";
const MESH: &str = "mesh.msh";
const STATES: &str = "states.f32";

/// Reads the index `DIR/index.json` of a `what` folder (an error says
/// which `pde-engine` command makes one).
pub(crate) fn read_index<T: serde::de::DeserializeOwned>(
    dir: &Path,
    what: &str,
    made_by: &str,
) -> Result<T> {
    let path = dir.join(INDEX);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read the {what} index (make one with `pde-engine {made_by}`)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{}: invalid index", path.display()))
}

/// Writes `index` as `DIR/index.json`, whole or not at all.
pub(crate) fn write_index(dir: &Path, index: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(index)?;
    vtk::write_atomically(&dir.join(INDEX), |w| w.write_all(text.as_bytes()))?;
    Ok(())
}

/// The folder of a family that the config file at `config` writes into
/// `output` (relative to the config), made, its index removed so that no
/// index points at a half-made family (the index is written last). An
/// error without the `gmsh` feature, which `command` needs to mesh its
/// domains.
pub(crate) fn start_family(config: &Path, output: &Path, command: &str) -> Result<PathBuf> {
    if !cfg!(feature = "gmsh") {
        bail!(
            "{}: `{command}` meshes every domain with gmsh: rebuild with `--features gmsh` \
             (Debian package libgmsh-dev)",
            config.display()
        );
    }
    let out = config.parent().unwrap_or(Path::new(".")).join(output);
    std::fs::create_dir_all(&out)
        .with_context(|| format!("{}: cannot create the folder", out.display()))?;
    let path = out.join(INDEX);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("{}: cannot remove", path.display()))
        }
        _ => Ok(out),
    }
}

/// What a family config asks for, in order: for each split, `count(g)`
/// samples of each of its groups `g`, with their index within the split.
pub(crate) fn family_plan<'a, G>(
    train: &'a [G],
    test: &'a [G],
    count: impl Fn(&G) -> usize + Copy,
) -> Vec<(Split, usize, &'a G)> {
    [(Split::Train, train), (Split::Test, test)]
        .into_iter()
        .flat_map(|(split, groups)| {
            groups
                .iter()
                .flat_map(move |g| std::iter::repeat_n(g, count(g)))
                .enumerate()
                .map(move |(k, g)| (split, k, g))
        })
        .collect()
}

impl DatasetIndex {
    /// Reads `DIR/index.json`.
    pub fn read(dir: &Path) -> Result<DatasetIndex> {
        read_index(dir, "dataset", "generate flows")
    }

    /// Writes `DIR/index.json` (atomically).
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_index(dir, self)
    }

    /// The loss mask of a trajectory's mesh, `nodes × fields` node-major:
    /// 0 where a boundary condition sets the value, 1 elsewhere.
    pub fn free_mask(&self, mesh: &Mesh) -> Result<Vec<f32>> {
        let fields = self.fields.len();
        let fixed: Vec<bool> = self
            .fields
            .iter()
            .map(|f| self.fixed_fields.as_ref().is_none_or(|fx| fx.contains(f)))
            .collect();
        let mut mask = vec![1.0f32; mesh.num_points() * fields];
        for group in &self.fixed_groups {
            for n in mesh.group_nodes(group)? {
                for (f, _) in fixed.iter().enumerate().filter(|(_, x)| **x) {
                    mask[n * fields + f] = 0.0;
                }
            }
        }
        Ok(mask)
    }

    /// Reads trajectory `entry` of the dataset in `dir`.
    pub fn load(&self, dir: &Path, entry: &TrajectoryEntry) -> Result<Trajectory> {
        let folder = dir.join(&entry.dir);
        let mesh = gmsh::read(folder.join(MESH))?;
        if mesh.num_points() != entry.nodes {
            bail!(
                "{}: the mesh has {} nodes; the index says {}",
                folder.join(MESH).display(),
                mesh.num_points(),
                entry.nodes
            );
        }
        let path = folder.join(STATES);
        let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
        let width = entry.nodes * self.fields.len();
        let expected = 4 * width * (entry.steps + 1);
        if bytes.len() != expected {
            bail!(
                "{}: {} bytes; expected {expected} ({} states of {} nodes × {} fields, f32)",
                path.display(),
                bytes.len(),
                entry.steps + 1,
                entry.nodes,
                self.fields.len()
            );
        }
        let values: Vec<f64> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect();
        Ok(Trajectory {
            mesh,
            states: values.chunks(width).map(<[f64]>::to_vec).collect(),
        })
    }
}

/// Writes a trajectory's mesh and states into `DIR/name/`; returns its
/// index entry.
pub fn write_trajectory(
    dir: &Path,
    name: &str,
    split: Split,
    parameters: BTreeMap<String, f64>,
    trajectory: &Trajectory,
) -> Result<TrajectoryEntry> {
    let folder: PathBuf = dir.join(name);
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("{}: cannot create the folder", folder.display()))?;
    gmsh::write(
        folder.join(MESH),
        &trajectory.mesh,
        MshFormat {
            version: MshVersion::V4,
            binary: Some(Endian::Little),
        },
    )?;
    vtk::write_atomically(&folder.join(STATES), |w| {
        for state in &trajectory.states {
            for v in state {
                w.write_all(&(*v as f32).to_le_bytes())?;
            }
        }
        Ok(())
    })?;
    Ok(TrajectoryEntry {
        dir: name.into(),
        split,
        parameters,
        nodes: trajectory.mesh.num_points(),
        steps: trajectory.states.len().saturating_sub(1),
        seconds_per_step: None,
    })
}
