//! # pde-learned
//!
//! Learned components for pde-engine. It knows graphs, tensors and sparse
//! matrices, and nothing of any particular PDE. This version holds the
//! mesh-to-graph conversion that message-passing models consume
//! ([`graph::MeshGraph`]); the models (`tch`) build on it.

pub mod graph;
