//! # pde-learned
//!
//! Learned components for pde-engine. It knows graphs, tensors and training,
//! and nothing of any particular PDE.
//!
//! - [`graph::MeshGraph`]: a mesh as a graph for message passing, and
//!   [`extrapolation`] (polynomial extrapolation in time, the baseline of a
//!   stepper with a window of states); always built, pure Rust.
//! - With the `torch` feature (libtorch through `tch`): [`tensors`] (graphs
//!   as tensors), [`gnn`] (encode–process–decode message passing),
//!   [`normalizer`] (online statistics), [`stepper`] (a learned time
//!   stepper with save/load), [`torchscript`] (steppers trained in
//!   PyTorch, behind the same [`torchscript::GraphStepper`] trait) and
//!   [`train`] (the training loop of any model, with [`adam`], the
//!   optimiser whose state checkpoints save), and [`factor`] (learned
//!   `L Lᵀ` preconditioners for conjugate gradients), [`mover`] (the
//!   network of a learned mesh mover) and [`inference`] (a network's
//!   forward pass on the CPU in fused sweeps over the edges).

pub mod extrapolation;
pub mod graph;

#[cfg(feature = "torch")]
pub mod adam;
#[cfg(feature = "torch")]
pub mod error;
#[cfg(feature = "torch")]
pub mod factor;
#[cfg(feature = "torch")]
mod files;
#[cfg(feature = "torch")]
pub mod gnn;
#[cfg(feature = "torch")]
pub mod inference;
#[cfg(feature = "torch")]
pub mod mover;
#[cfg(feature = "torch")]
pub mod normalizer;
#[cfg(feature = "torch")]
pub mod stepper;
#[cfg(feature = "torch")]
pub mod tensors;
#[cfg(feature = "torch")]
pub mod torchscript;
#[cfg(feature = "torch")]
pub mod train;

#[cfg(feature = "torch")]
pub use tch;
