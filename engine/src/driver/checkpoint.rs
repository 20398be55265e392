//! Checkpoints: everything a time-dependent run needs to continue bit for
//! bit: the model's time levels, the loop's progress and every monitor's
//! records, in `<output>/checkpoints/step_NNNNNNNNN.ckpt`, written
//! atomically, the latest two kept.
//!
//! The file: the line `pde-engine checkpoint 1`, the length of a JSON
//! header (8 bytes, little-endian), the header (what the checkpoint belongs
//! to, the loop's counts, the arrays' names and lengths, the texts), then
//! the arrays' numbers as little-endian `f64`, so that every value comes
//! back exactly.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pde_mesh::io::vtk;
use pde_mesh::Mesh;
use serde::{Deserialize, Serialize};

use super::RunSummary;
use crate::physics::Snapshot;

const MAGIC: &[u8] = b"pde-engine checkpoint 1\n";

/// The folder of a run's checkpoints.
pub const FOLDER: &str = "checkpoints";

/// What a checkpoint belongs to; a run continues only from its own.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Identity {
    /// The run's name (the case's).
    pub case: String,
    /// The model, as case files name it.
    pub model: String,
    /// A fingerprint of the mesh (its points and cells).
    pub mesh: String,
    /// The model's unknowns.
    pub unknowns: usize,
    /// The case's start time and (first) step.
    pub start: f64,
    /// The case's step.
    pub dt: f64,
}

impl Identity {
    /// The identity of `case`'s run of `model` (as built, before its first
    /// step) from `start` with steps of `dt`.
    pub fn of<M: crate::physics::Model + ?Sized>(
        case: &str,
        model: &M,
        start: f64,
        dt: f64,
    ) -> Self {
        Identity {
            case: case.to_string(),
            model: model.name().to_string(),
            mesh: mesh_fingerprint(model.mesh()),
            unknowns: model.unknowns(),
            start,
            dt,
        }
    }

    /// Why a run with this identity cannot continue from `saved`'s
    /// checkpoint, if it cannot.
    pub fn mismatch(&self, saved: &Identity) -> Option<String> {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0);
        if self.case != saved.case {
            Some(format!(
                "it is of case '{}', this is '{}'",
                saved.case, self.case
            ))
        } else if self.model != saved.model {
            Some(format!(
                "it is of a {} model, this case is {}",
                saved.model, self.model
            ))
        } else if self.mesh != saved.mesh || self.unknowns != saved.unknowns {
            Some(format!(
                "it is of another mesh ({} unknowns, fingerprint {}; this mesh: {}, {})",
                saved.unknowns, saved.mesh, self.unknowns, self.mesh
            ))
        } else if !close(self.start, saved.start) || !close(self.dt, saved.dt) {
            Some(format!(
                "it was taken with time.start {} and time.dt {}; the case has {} and {}",
                saved.start, saved.dt, self.start, self.dt
            ))
        } else {
            None
        }
    }
}

/// A fingerprint of a mesh: FNV-1a over its points' bits and its cells.
pub fn mesh_fingerprint(mesh: &Mesh) -> String {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut eat = |word: u64| {
        for byte in word.to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for p in &mesh.points {
        p.iter().for_each(|x| eat(x.to_bits()));
    }
    for block in &mesh.blocks {
        eat(block.nodes.len() as u64);
        block.nodes.iter().for_each(|&n| eat(n as u64));
    }
    format!("{hash:016x}")
}

/// Where a run got to: the loop's counts and the next step size.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// The loop's statistics so far (`steps`, `t`, ...).
    pub summary: RunSummary,
    /// The step size the next step starts from (adaptive runs change it).
    pub dt: f64,
}

/// A checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// What it belongs to.
    pub identity: Identity,
    /// Where the run got to.
    pub progress: Progress,
    /// The model's state ([`crate::physics::Stepper::snapshot`]).
    pub model: Snapshot,
    /// Each monitor's records ([`crate::physics::Monitor::checkpoint`]), in
    /// the loop's order.
    pub monitors: Vec<Snapshot>,
    /// The mesh motion's state ([`super::MeshMotion::snapshot`]: the moved
    /// mesh, the movers' counts and warm starts), in runs with a mover.
    pub motion: Option<Snapshot>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    identity: Identity,
    fallback_reason: Option<String>,
    monitors: usize,
    #[serde(default)]
    motion: bool,
    arrays: Vec<(String, usize)>,
    #[serde(default)]
    texts: Vec<(String, String)>,
}

impl Checkpoint {
    /// Writes the checkpoint into `<dir>/checkpoints/` (atomically) and
    /// removes all but the latest two there.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let folder = dir.join(FOLDER);
        fs::create_dir_all(&folder)
            .with_context(|| format!("{}: cannot create the folder", folder.display()))?;
        let s = &self.progress.summary;
        let mut all = Snapshot::new();
        all.push(
            "loop",
            vec![
                s.steps as f64,
                s.rejected as f64,
                s.t,
                s.dt_range.0,
                s.dt_range.1,
                s.iterations as f64,
                s.fallbacks.0 as f64,
                self.progress.dt,
            ],
        );
        all.nest("model", self.model.clone());
        for (k, m) in self.monitors.iter().enumerate() {
            all.nest(&format!("monitor{k}"), m.clone());
        }
        if let Some(motion) = &self.motion {
            all.nest("motion", motion.clone());
        }
        let header = Header {
            identity: self.identity.clone(),
            fallback_reason: s.fallbacks.1.clone(),
            monitors: self.monitors.len(),
            motion: self.motion.is_some(),
            arrays: all
                .arrays()
                .iter()
                .map(|(n, v)| (n.clone(), v.len()))
                .collect(),
            texts: all.texts().to_vec(),
        };
        let header = serde_json::to_vec(&header)?;
        let file = folder.join(format!("step_{:09}.ckpt", s.steps));
        vtk::write_atomically(&file, |w| {
            w.write_all(MAGIC)?;
            w.write_all(&(header.len() as u64).to_le_bytes())?;
            w.write_all(&header)?;
            for (_, values) in all.arrays() {
                for v in values {
                    w.write_all(&v.to_le_bytes())?;
                }
            }
            Ok(())
        })?;
        for old in list(&folder)?.iter().rev().skip(2) {
            fs::remove_file(old)
                .with_context(|| format!("{}: cannot remove the old checkpoint", old.display()))?;
        }
        Ok(file)
    }

    /// Reads a checkpoint file; a truncated or foreign file is refused.
    pub fn read(file: &Path) -> Result<Self> {
        let bytes = fs::read(file).with_context(|| format!("{}: cannot read", file.display()))?;
        let bad = |why: &str| {
            anyhow::anyhow!(
                "{}: not a checkpoint of this engine ({why})",
                file.display()
            )
        };
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("no header line"))?;
        if rest.len() < 8 {
            return Err(bad("truncated"));
        }
        let (length, rest) = rest.split_at(8);
        let length = u64::from_le_bytes(length.try_into().expect("8 bytes")) as usize;
        if rest.len() < length {
            return Err(bad("truncated header"));
        }
        let (header, mut data) = rest.split_at(length);
        let header: Header = serde_json::from_slice(header).map_err(|e| bad(&e.to_string()))?;
        let mut all = Snapshot::new();
        for (name, len) in &header.arrays {
            if data.len() / 8 < *len {
                return Err(bad("truncated data"));
            }
            let (values, tail) = data.split_at(8 * len);
            all.push(
                name.clone(),
                values
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
                    .collect(),
            );
            data = tail;
        }
        if !data.is_empty() {
            return Err(bad("data after the arrays"));
        }
        for (name, text) in header.texts {
            all.push_text(name, text);
        }
        let counts = all.get_len("loop", 8).map_err(|e| bad(&e.to_string()))?;
        let progress = Progress {
            summary: RunSummary {
                steps: counts[0] as usize,
                rejected: counts[1] as usize,
                t: counts[2],
                dt_range: (counts[3], counts[4]),
                iterations: counts[5] as usize,
                fallbacks: (counts[6] as usize, header.fallback_reason),
            },
            dt: counts[7],
        };
        Ok(Checkpoint {
            identity: header.identity,
            progress,
            model: all.section("model"),
            monitors: (0..header.monitors)
                .map(|k| all.section(&format!("monitor{k}")))
                .collect(),
            motion: header.motion.then(|| all.section("motion")),
        })
    }

    /// The latest checkpoint in `<dir>/checkpoints/`.
    pub fn latest(dir: &Path) -> Result<(PathBuf, Self)> {
        let folder = dir.join(FOLDER);
        let Some(file) = list(&folder).ok().and_then(|files| files.last().cloned()) else {
            bail!(
                "{}: no checkpoint to continue from (a run writes them with \
                 output.checkpoint_every, and when Ctrl-C or SIGTERM stops it)",
                folder.display()
            );
        };
        let checkpoint = Self::read(&file)?;
        Ok((file, checkpoint))
    }
}

/// The checkpoint files in `folder`, oldest first.
fn list(folder: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(folder)
        .with_context(|| format!("{}: cannot list", folder.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("step_") && n.ends_with(".ckpt"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Where and how often a run writes checkpoints.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    /// The run's output folder (checkpoints go into its `checkpoints/`).
    pub dir: PathBuf,
    /// Every this many steps; `None`: only when the run is interrupted.
    pub every: Option<usize>,
    /// What they belong to.
    pub identity: Identity,
}
