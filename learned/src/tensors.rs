//! A [`MeshGraph`] as the tensors message passing consumes: edge endpoints
//! as `i64` index vectors, edge features and one-hot node types as `f32`
//! matrices, all on one device.

use tch::{Device, Kind, Tensor};

use crate::graph::MeshGraph;

/// The tensors of a graph.
#[derive(Debug)]
pub struct GraphTensors {
    /// Number of nodes.
    pub num_nodes: usize,
    /// Source node of each edge, `[E]` (`i64`).
    pub senders: Tensor,
    /// Target node of each edge, `[E]` (`i64`).
    pub receivers: Tensor,
    /// `[dx, dy, dz, |d|]` per edge, `[E, 4]` (`f32`).
    pub edge_features: Tensor,
    /// One-hot node types, `[N, types + 1]` (`f32`).
    pub node_types: Tensor,
}

fn indices(v: &[usize], device: Device) -> Tensor {
    let v: Vec<i64> = v.iter().map(|&i| i as i64).collect();
    Tensor::from_slice(&v).to_device(device)
}

impl GraphTensors {
    /// The tensors of `graph` on `device`.
    pub fn new(graph: &MeshGraph, device: Device) -> Self {
        let edges: Vec<f32> = graph
            .edge_features
            .iter()
            .flat_map(|f| f.map(|v| v as f32))
            .collect();
        let width = graph.type_groups.len() as i64 + 1;
        GraphTensors {
            num_nodes: graph.num_nodes,
            senders: indices(&graph.senders, device),
            receivers: indices(&graph.receivers, device),
            edge_features: Tensor::from_slice(&edges)
                .view([graph.num_edges() as i64, 4])
                .to_device(device),
            node_types: Tensor::from_slice(&graph.one_hot_types())
                .view([graph.num_nodes as i64, width])
                .to_device(device),
        }
    }

    /// Number of node types (the width of [`GraphTensors::node_types`]).
    pub fn type_width(&self) -> i64 {
        self.node_types.size()[1]
    }
}

/// A row-major `rows × cols` matrix of `f64` values as an `f32` tensor.
pub fn matrix(values: &[f64], cols: usize, device: Device) -> Tensor {
    let v: Vec<f32> = values.iter().map(|&x| x as f32).collect();
    Tensor::from_slice(&v)
        .view([(values.len() / cols.max(1)) as i64, cols as i64])
        .to_device(device)
}

/// The values of a tensor as `f64`, row-major.
pub fn values(t: &Tensor) -> Vec<f64> {
    let flat = t
        .to_kind(Kind::Double)
        .to_device(Device::Cpu)
        .flatten(0, -1);
    Vec::<f64>::try_from(&flat).unwrap_or_default()
}
