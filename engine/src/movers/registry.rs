//! The mover kinds case files name (`mesh_mover: {kind: ...}`): each entry
//! checks its options against the mesh and builds the mover. A feature
//! (the learned mover under `torch`) or a program embedding the engine
//! adds entries with [`register`]; nothing outside this module lists the
//! kinds.

use std::sync::{OnceLock, RwLock};

use anyhow::Result;
use pde_mesh::Mesh;
use serde::de::DeserializeOwned;

use super::monge_ampere::{MongeAmpere, MongeAmpereSettings};
use super::spring::{Spring, SpringSettings};
use super::MeshMover;
pub use crate::linalg::registry::Options;

/// A mover kind.
#[derive(Clone, Copy)]
pub struct MoverEntry {
    /// The name case files use.
    pub name: &'static str,
    /// One line for `--help` and the docs.
    pub about: &'static str,
    /// Options that name files or folders: a relative path is taken
    /// relative to the case file.
    pub paths: &'static [&'static str],
    /// Problems with these options on this mesh (empty: none), each a
    /// message that completes `mesh_mover: `.
    pub check: fn(&Options, &Mesh) -> Vec<String>,
    /// Builds the mover of this (computational) mesh, after a successful
    /// check.
    pub build: fn(&Options, &Mesh) -> Result<Box<dyn MeshMover>>,
}

/// The mover kinds known to this process, in registration order.
pub fn kinds() -> Vec<MoverEntry> {
    cell().read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The mover kind `name`.
pub fn kind(name: &str) -> Option<MoverEntry> {
    kinds().into_iter().find(|e| e.name == name)
}

/// Adds (or replaces, by name) a mover kind.
pub fn register(entry: MoverEntry) {
    let mut kinds = cell().write().unwrap_or_else(|e| e.into_inner());
    kinds.retain(|e| e.name != entry.name);
    kinds.push(entry);
}

fn cell() -> &'static RwLock<Vec<MoverEntry>> {
    static KINDS: OnceLock<RwLock<Vec<MoverEntry>>> = OnceLock::new();
    KINDS.get_or_init(|| {
        #[cfg_attr(not(feature = "torch"), allow(unused_mut))]
        let mut kinds = vec![monge_ampere(), spring()];
        #[cfg(feature = "torch")]
        kinds.push(crate::learned::mover::entry());
        RwLock::new(kinds)
    })
}

/// A kind's options read into its settings struct (unknown keys and wrong
/// types refused, each message naming the key).
pub fn settings<T: DeserializeOwned>(options: &Options) -> Result<T, String> {
    let map: serde_json::Map<String, serde_json::Value> = options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| e.to_string())
}

/// The problem of a mover that needs linear triangles, if `mesh` is not
/// made of them.
pub fn needs_triangles(mesh: &Mesh) -> Option<String> {
    let triangles = mesh.dim() == 2
        && mesh.domain_blocks().count() == 1
        && mesh
            .domain_blocks()
            .all(|(_, b)| b.kind == pde_mesh::CellKind::Tri3);
    (!triangles).then(|| "this mover needs a 2D mesh of linear triangles (Tri3) only".into())
}

/// `monge_ampere`: options `pseudo_timestep`, `max_iterations`, `rtol`,
/// `dtol` ([`MongeAmpereSettings`]).
fn monge_ampere() -> MoverEntry {
    MoverEntry {
        name: "monge_ampere",
        about: "Monge–Ampère equidistribution (relaxation, warm-started between moves); \
                options pseudo_timestep, max_iterations, rtol, dtol",
        paths: &[],
        check: |options, mesh| {
            let mut problems: Vec<String> = needs_triangles(mesh).into_iter().collect();
            match settings::<MongeAmpereOptions>(options) {
                Ok(o) => {
                    let s = o.settings();
                    if !(s.pseudo_timestep > 0.0 && s.rtol > 0.0 && s.dtol > 1.0) {
                        problems
                            .push("need pseudo_timestep > 0, rtol > 0 and dtol > 1".to_string());
                    }
                }
                Err(e) => problems.push(e),
            }
            problems
        },
        build: |options, mesh| {
            let o: MongeAmpereOptions = settings(options).map_err(anyhow::Error::msg)?;
            Ok(Box::new(
                MongeAmpere::new(mesh, o.settings())?.best_effort(),
            ))
        },
    }
}

/// `spring`: options `sweeps`, `refresh` ([`SpringSettings`]).
fn spring() -> MoverEntry {
    MoverEntry {
        name: "spring",
        about: "monitor-weighted springs relaxed by Gauss–Seidel sweeps (the cheap \
                baseline); options sweeps, refresh",
        paths: &[],
        check: |options, mesh| {
            let mut problems: Vec<String> = needs_triangles(mesh).into_iter().collect();
            match settings::<SpringSettings>(options) {
                Ok(s) if s.sweeps == 0 || s.refresh == 0 => {
                    problems.push("need sweeps ≥ 1 and refresh ≥ 1".into())
                }
                Ok(_) => {}
                Err(e) => problems.push(e),
            }
            problems
        },
        build: |options, mesh| {
            let s: SpringSettings = settings(options).map_err(anyhow::Error::msg)?;
            Ok(Box::new(Spring::new(mesh, s)?))
        },
    }
}

/// The Monge–Ampère options of a time loop: a looser tolerance and fewer
/// iterations than a single equidistribution, since each move starts from
/// the last one.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MongeAmpereOptions {
    #[serde(default)]
    pseudo_timestep: Option<f64>,
    #[serde(default)]
    max_iterations: Option<usize>,
    #[serde(default)]
    rtol: Option<f64>,
    #[serde(default)]
    dtol: Option<f64>,
}

impl MongeAmpereOptions {
    fn settings(&self) -> MongeAmpereSettings {
        let d = MongeAmpereSettings::default();
        MongeAmpereSettings {
            pseudo_timestep: self.pseudo_timestep.unwrap_or(d.pseudo_timestep),
            max_iterations: self.max_iterations.unwrap_or(50),
            rtol: self.rtol.unwrap_or(1e-3),
            dtol: self.dtol.unwrap_or(d.dtol),
        }
    }
}
