//! Meshes as graphs for message passing (MeshGraphNets style): nodes are mesh
//! nodes, edges join nodes that share a cell, in both directions, with
//! relative positions and lengths as edge features and one-hot node types
//! taken from physical groups.

use pde_mesh::{Mesh, MeshError};

/// A directed graph over the nodes of a mesh.
#[derive(Clone, Debug, PartialEq)]
pub struct MeshGraph {
    /// Number of nodes (the mesh's points).
    pub num_nodes: usize,
    /// Source node of each edge.
    pub senders: Vec<usize>,
    /// Target node of each edge. Every edge `(i, j)` has its reverse `(j, i)`.
    pub receivers: Vec<usize>,
    /// Per edge `[dx, dy, dz, length]` with `d = x[sender] - x[receiver]`.
    pub edge_features: Vec<[f64; 4]>,
    /// Per node, its type: 0 for nodes in none of the typed groups, `k + 1`
    /// for nodes of `type_groups[k]` (the first listed group wins).
    pub node_type: Vec<usize>,
    /// The group names that define node types 1, 2, ...
    pub type_groups: Vec<String>,
}

impl MeshGraph {
    /// Builds the graph of `mesh`. For a mesh of linear simplices the edges
    /// are exactly the mesh edges; for quadratic or non-simplex cells, all
    /// nodes of a cell are joined. `type_groups` name the physical groups
    /// (e.g. `["inlet", "outlet", "walls", "cylinder"]`) that get node types.
    pub fn from_mesh(mesh: &Mesh, type_groups: &[&str]) -> Result<MeshGraph, MeshError> {
        let topo = mesh.topology()?;
        let g = &topo.node_graph;
        let mut senders = Vec::with_capacity(g.nnz());
        let mut receivers = Vec::with_capacity(g.nnz());
        let mut edge_features = Vec::with_capacity(g.nnz());
        for r in 0..g.rows() {
            for &s in g.row(r) {
                let (a, b) = (mesh.points[s], mesh.points[r]);
                let d = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
                let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                senders.push(s);
                receivers.push(r);
                edge_features.push([d[0], d[1], d[2], len]);
            }
        }
        let mut node_type = vec![0usize; mesh.num_points()];
        // Later groups first, so that the first listed group wins.
        for (k, name) in type_groups.iter().enumerate().rev() {
            for n in mesh.group_nodes(name)? {
                node_type[n] = k + 1;
            }
        }
        Ok(MeshGraph {
            num_nodes: mesh.num_points(),
            senders,
            receivers,
            edge_features,
            node_type,
            type_groups: type_groups.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Number of directed edges.
    pub fn num_edges(&self) -> usize {
        self.senders.len()
    }

    /// Node types one-hot encoded, row-major `num_nodes x (type_groups + 1)`.
    pub fn one_hot_types(&self) -> Vec<f32> {
        let width = self.type_groups.len() + 1;
        let mut out = vec![0.0; self.num_nodes * width];
        for (i, &t) in self.node_type.iter().enumerate() {
            out[i * width + t] = 1.0;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pde_mesh::{generate, CellKind};

    #[test]
    fn graph_of_a_triangulated_square() {
        let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [2, 2], CellKind::Tri3).unwrap();
        let g = MeshGraph::from_mesh(&mesh, &["left", "bottom"]).unwrap();
        // 2x2 squares split in two: 16 edges, each in both directions.
        assert_eq!(g.num_edges(), 32);
        for e in 0..g.num_edges() {
            let (s, r) = (g.senders[e], g.receivers[e]);
            assert!((0..g.num_edges()).any(|k| g.senders[k] == r && g.receivers[k] == s));
            let f = g.edge_features[e];
            let d: Vec<f64> = (0..3)
                .map(|i| mesh.points[s][i] - mesh.points[r][i])
                .collect();
            assert_eq!(&f[..3], &d[..]);
            assert!((f[3] - 0.5).abs() < 1e-12 || (f[3] - 0.5 * 2f64.sqrt()).abs() < 1e-12);
        }
        // The corner (0, 0) is on both groups: the first listed wins.
        assert_eq!(g.node_type[0], 1);
        assert_eq!(g.node_type[1], 2); // bottom only
        assert_eq!(g.node_type[4], 0); // centre
        let oh = g.one_hot_types();
        assert_eq!(oh.len(), 9 * 3);
        assert_eq!(&oh[4 * 3..5 * 3], &[1.0, 0.0, 0.0]);
    }

    #[test]
    fn unknown_group_is_an_error() {
        let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [1, 1], CellKind::Quad4).unwrap();
        let err = MeshGraph::from_mesh(&mesh, &["inlet"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("inlet") && err.contains("left (dim 1)"),
            "{err}"
        );
    }
}
