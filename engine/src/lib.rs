//! # pde-engine
//!
//! The PDE engine: meshes in ([`mesh_source`]), finite elements ([`fem`]),
//! linear algebra ([`linalg`]), physical models ([`physics`]), case files
//! ([`case`]), mesh reports ([`report`]), time integration ([`time`]),
//! mesh movers ([`movers`]), a run's output folder ([`output_folder`]),
//! training data for learned components (flow trajectories: [`generate`],
//! [`dataset`]; linear systems for learned preconditioners: [`systems`]),
//! and the `pde-engine` command-line tool.

pub mod case;
pub mod dataset;
pub mod driver;
pub mod expr;
pub mod fem;
pub mod fvm;
pub mod generate;
#[cfg(feature = "torch")]
pub mod learned;
pub mod linalg;
pub mod mesh_source;
pub mod movers;
pub mod output_folder;
pub mod physics;
pub mod plot;
pub mod random;
pub mod report;
pub mod runner;
pub mod simulation;
pub mod systems;
pub mod time;

/// The examples of `docs/api.md`, run as doc tests so the tour stays true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/api.md")]
pub struct ApiTour;
