//! Trajectory datasets for learned steppers, on disk:
//!
//! ```text
//! DIR/index.json         fields, node-type groups, dt, and per trajectory
//!                        its folder, split (train/test), parameters, size
//! DIR/000/mesh.msh       the trajectory's mesh (MSH 4.1, binary)
//! DIR/000/states.f32     states, little-endian f32, step-major:
//!                        [steps + 1][nodes][fields]
//! DIR/000/branches.f32   solver-in-the-loop branches, if the index lists
//!                        any: per branch its perturbed states, then its
//!                        targets, [branches][2][length][nodes][fields]
//! DIR/000/residuals.f32  if the index says so: per step, the residual of
//!                        the step's system at the extrapolated state
//!                        (what a stepper reading it sees), [steps][nodes][fields]
//! DIR/000/branch_residuals.f32   the same for each branch step,
//!                        [branches][length][nodes][fields]
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

use crate::physics::navier_stokes::Branch;

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
    /// Its solver-in-the-loop branches (`branches.f32`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<BranchesEntry>,
    /// Whether each step's extrapolation residual was recorded
    /// (`residuals.f32`, and `branch_residuals.f32` with branches).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub residuals: bool,
}

/// The solver-in-the-loop branches off a trajectory
/// ([`crate::physics::navier_stokes::Branch`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchesEntry {
    /// The state each branch starts from (its first perturbed state stands
    /// for the state after it).
    pub starts: Vec<usize>,
    /// Perturbed states (and targets) per branch.
    pub length: usize,
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
    /// Per step `i` (from state `i` to `i + 1`), the residual of its
    /// system at the extrapolated state
    /// ([`crate::physics::learned_step::CheckedStep::extrapolation_residual`]),
    /// laid out as a state; empty where not recorded.
    pub residuals: Vec<Vec<f64>>,
    /// Solver-in-the-loop branches, each with the index of the state it
    /// starts from (all of one length).
    pub branches: Vec<(usize, Branch)>,
}

/// The index file of a dataset or a family of systems.
pub(crate) const INDEX: &str = "index.json";
const MESH: &str = "mesh.msh";
const STATES: &str = "states.f32";
const BRANCHES: &str = "branches.f32";
const RESIDUALS: &str = "residuals.f32";
const BRANCH_RESIDUALS: &str = "branch_residuals.f32";

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
        let width = entry.nodes * self.fields.len();
        let states = read_states(&folder.join(STATES), width, entry.steps.saturating_add(1))?;
        let mut branches = match &entry.branches {
            None => Vec::new(),
            Some(b) => {
                let path = folder.join(BRANCHES);
                if b.length == 0 {
                    bail!("{}: branches of length 0", path.display());
                }
                let count = b
                    .length
                    .checked_mul(2 * b.starts.len())
                    .with_context(|| format!("{}: too many branch states", path.display()))?;
                let states = read_states(&path, width, count)?;
                let mut branches = Vec::with_capacity(b.starts.len());
                for (&start, block) in b.starts.iter().zip(states.chunks(2 * b.length)) {
                    if start >= entry.steps {
                        bail!(
                            "{}: a branch starts from state {start}; the trajectory has {} steps",
                            path.display(),
                            entry.steps
                        );
                    }
                    let (perturbed, targets) = block.split_at(b.length);
                    let (perturbed, targets) = (perturbed.to_vec(), targets.to_vec());
                    let residuals = Vec::new();
                    branches.push((
                        start,
                        Branch {
                            perturbed,
                            targets,
                            residuals,
                        },
                    ));
                }
                branches
            }
        };
        let mut residuals = Vec::new();
        if entry.residuals {
            residuals = read_states(&folder.join(RESIDUALS), width, entry.steps)?;
            if let Some(b) = &entry.branches {
                let path = folder.join(BRANCH_RESIDUALS);
                let all = read_states(&path, width, b.length * b.starts.len())?;
                for ((_, branch), block) in branches.iter_mut().zip(all.chunks(b.length)) {
                    branch.residuals = block.to_vec();
                }
            }
        }
        Ok(Trajectory {
            mesh,
            states,
            residuals,
            branches,
        })
    }
}

/// Reads `count` states of `width` values (little-endian f32) from `path`,
/// which must hold exactly that many.
fn read_states(path: &Path, width: usize, count: usize) -> Result<Vec<Vec<f64>>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    let expected = width.checked_mul(count).and_then(|n| n.checked_mul(4));
    if expected != Some(bytes.len()) {
        bail!(
            "{}: {} bytes; expected {count} states of {width} values (f32)",
            path.display(),
            bytes.len(),
        );
    }
    let values: Vec<f64> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
        .collect();
    Ok(values.chunks(width.max(1)).map(<[f64]>::to_vec).collect())
}

/// Writes `states` as little-endian f32 to `path` (atomically).
fn write_states<'a>(path: &Path, states: impl IntoIterator<Item = &'a Vec<f64>>) -> Result<()> {
    vtk::write_atomically(path, |w| {
        for state in states {
            for v in state {
                w.write_all(&(*v as f32).to_le_bytes())?;
            }
        }
        Ok(())
    })?;
    Ok(())
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
    write_states(&folder.join(STATES), &trajectory.states)?;
    let branches = (!trajectory.branches.is_empty()).then(|| BranchesEntry {
        starts: trajectory
            .branches
            .iter()
            .map(|(start, _)| *start)
            .collect(),
        length: trajectory.branches[0].1.perturbed.len(),
    });
    if let Some(entry) = &branches {
        if entry.length == 0 {
            bail!("{name}: branches of length 0");
        }
        if let Some((start, _)) = trajectory
            .branches
            .iter()
            .find(|(_, b)| b.perturbed.len() != entry.length || b.targets.len() != entry.length)
        {
            bail!(
                "{name}: the branch from state {start} is not {} steps long",
                entry.length
            );
        }
        write_states(
            &folder.join(BRANCHES),
            trajectory
                .branches
                .iter()
                .flat_map(|(_, b)| b.perturbed.iter().chain(&b.targets)),
        )?;
    }
    let residuals = !trajectory.residuals.is_empty();
    if residuals {
        let steps = trajectory.states.len().saturating_sub(1);
        if trajectory.residuals.len() != steps {
            bail!(
                "{name}: {} step residuals for {steps} steps",
                trajectory.residuals.len()
            );
        }
        write_states(&folder.join(RESIDUALS), &trajectory.residuals)?;
        if let Some(entry) = &branches {
            if let Some((start, _)) = trajectory
                .branches
                .iter()
                .find(|(_, b)| b.residuals.len() != entry.length)
            {
                bail!("{name}: the branch from state {start} lacks step residuals");
            }
            write_states(
                &folder.join(BRANCH_RESIDUALS),
                trajectory.branches.iter().flat_map(|(_, b)| &b.residuals),
            )?;
        }
    }
    Ok(TrajectoryEntry {
        dir: name.into(),
        split,
        parameters,
        nodes: trajectory.mesh.num_points(),
        steps: trajectory.states.len().saturating_sub(1),
        seconds_per_step: None,
        branches,
        residuals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pde_mesh::{generate, CellKind};

    /// Branches and step residuals go to disk and come back (to f32), with
    /// the branches' starts; an index that promises more than the file
    /// holds is refused.
    #[test]
    fn trajectories_with_branches_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [2, 2], CellKind::Tri3).unwrap();
        let nodes = mesh.num_points();
        let state = |v: f64| vec![v; nodes];
        let branch = |v: f64| Branch {
            perturbed: vec![state(v), state(v + 0.25)],
            targets: vec![state(-v), state(-v - 0.25)],
            residuals: vec![state(v + 0.5), state(v + 0.75)],
        };
        let trajectory = Trajectory {
            mesh,
            states: (0..4).map(|k| state(k as f64)).collect(),
            residuals: (0..3).map(|k| state(0.5 + k as f64)).collect(),
            branches: vec![(1, branch(10.0)), (2, branch(20.0))],
        };
        let entry = write_trajectory(
            dir.path(),
            "000",
            Split::Train,
            BTreeMap::new(),
            &trajectory,
        )
        .unwrap();
        let index = DatasetIndex {
            fields: vec!["u".into()],
            type_groups: vec![],
            fixed_groups: vec![],
            fixed_fields: None,
            dt: 0.1,
            trajectories: vec![entry.clone()],
        };
        let back = index.load(dir.path(), &entry).unwrap();
        assert_eq!(back.states, trajectory.states);
        assert_eq!(back.residuals, trajectory.residuals);
        assert_eq!(back.branches, trajectory.branches);
        let mut longer = entry;
        longer.branches.as_mut().unwrap().length = 3;
        let error = index.load(dir.path(), &longer).unwrap_err();
        assert!(format!("{error:#}").contains("branches.f32"), "{error:#}");
    }
}
