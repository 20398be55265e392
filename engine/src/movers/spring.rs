//! The cheap baseline mover: every mesh edge a spring whose stiffness is
//! the monitor at its midpoint, relaxed by Gauss–Seidel sweeps. At
//! equilibrium each node sits at the stiffness-weighted mean of its
//! neighbours, so in 1D every cell holds the same `m h` (equidistribution);
//! in 2D it concentrates cells where `m` is large, without Monge–Ampère's
//! control of cell shape. Boundary nodes slide along straight sides and
//! corners stay fixed, as in [`super::monge_ampere`]. Each move starts
//! from the current nodes (a time loop's monitor changes a little per
//! step), re-reading the stiffnesses every few sweeps.

use anyhow::{bail, Result};
use pde_mesh::Mesh;
use serde::Deserialize;

use super::triangles::{
    boundary_edges, boundary_kinds, signed_area, Boundary, BoundaryPath, Triangles,
};
use super::MeshMover;

/// `mesh_mover: {kind: spring, ...}` options.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpringSettings {
    /// Gauss–Seidel sweeps per move. Default 30.
    #[serde(default = "default_sweeps")]
    pub sweeps: usize,
    /// Sweeps between re-reading the stiffnesses at the moved edges'
    /// midpoints. Default 5.
    #[serde(default = "default_refresh")]
    pub refresh: usize,
}

fn default_sweeps() -> usize {
    30
}

fn default_refresh() -> usize {
    5
}

impl Default for SpringSettings {
    fn default() -> Self {
        SpringSettings {
            sweeps: default_sweeps(),
            refresh: default_refresh(),
        }
    }
}

/// The spring mover of one mesh.
pub struct Spring {
    settings: SpringSettings,
    t: Triangles,
    boundary: Vec<Boundary>,
    /// The boundary curved-boundary nodes are projected back onto.
    path: BoundaryPath,
    /// The mesh's edges, each once, and for every node its edges (CSR).
    edges: Vec<[usize; 2]>,
    node_start: Vec<usize>,
    node_edges: Vec<usize>,
}

impl Spring {
    /// The mover of `mesh` (linear triangles).
    pub fn new(mesh: &Mesh, settings: SpringSettings) -> Result<Spring> {
        if settings.sweeps == 0 || settings.refresh == 0 {
            bail!("the spring mover needs sweeps ≥ 1 and refresh ≥ 1");
        }
        let t = Triangles::of(mesh)?;
        let outline = boundary_edges(mesh, &t);
        let boundary = boundary_kinds(mesh.num_points(), &outline);
        let path = BoundaryPath::new(mesh, &outline);
        let mut edges: Vec<[usize; 2]> = t
            .corners
            .iter()
            .flat_map(|k| (0..3).map(move |e| [k[e].min(k[(e + 1) % 3]), k[e].max(k[(e + 1) % 3])]))
            .collect();
        edges.sort_unstable();
        edges.dedup();
        let n = mesh.num_points();
        let mut node_start = vec![0; n + 1];
        for e in &edges {
            node_start[e[0] + 1] += 1;
            node_start[e[1] + 1] += 1;
        }
        for i in 0..n {
            node_start[i + 1] += node_start[i];
        }
        let mut node_edges = vec![0; node_start[n]];
        let mut next = node_start.clone();
        for (k, e) in edges.iter().enumerate() {
            for v in e {
                node_edges[next[*v]] = k;
                next[*v] += 1;
            }
        }
        Ok(Spring {
            settings,
            t,
            boundary,
            path,
            edges,
            node_start,
            node_edges,
        })
    }
}

impl MeshMover for Spring {
    fn new_points(
        &mut self,
        current: &[[f64; 3]],
        monitor: &dyn Fn([f64; 3]) -> f64,
    ) -> Result<Vec<[f64; 3]>> {
        let mut x = current.to_vec();
        let mut stiffness = Vec::new();
        for sweep in 0..self.settings.sweeps {
            if sweep % self.settings.refresh == 0 {
                stiffness = self
                    .edges
                    .iter()
                    .map(|&[a, b]| monitor(std::array::from_fn(|d| 0.5 * (x[a][d] + x[b][d]))))
                    .collect();
            }
            for (i, kind) in self.boundary.iter().enumerate() {
                if *kind == Boundary::Fixed {
                    continue;
                }
                let (mut sum, mut weight) = ([0.0; 2], 0.0);
                for &k in &self.node_edges[self.node_start[i]..self.node_start[i + 1]] {
                    let [a, b] = self.edges[k];
                    let j = if a == i { b } else { a };
                    let w = stiffness[k];
                    sum[0] += w * x[j][0];
                    sum[1] += w * x[j][1];
                    weight += w;
                }
                if weight > 0.0 {
                    let d = [sum[0] / weight - x[i][0], sum[1] / weight - x[i][1]];
                    let moved = self.path.moved(i, &self.boundary, [x[i][0], x[i][1]], d);
                    x[i][0] = moved[0];
                    x[i][1] = moved[1];
                }
            }
        }
        if let Some(c) = self
            .t
            .corners
            .iter()
            .position(|k| signed_area(k.map(|n| x[n])) <= 0.0)
        {
            bail!("the spring mover inverted triangle {c}");
        }
        Ok(x)
    }
}
