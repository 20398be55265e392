//! What the learned mover reads and how its output becomes a mesh (plain
//! Rust, no libtorch): the graph of the computational mesh `ξ` with
//! features of a monitor `m`, and the decoder from a predicted Laplacian
//! of the Monge–Ampère potential to node positions.
//!
//! The network predicts `s = Δφ` at every node, the linear part of the
//! area change `det(I + H(φ)) − 1` that Monge–Ampère equidistribution
//! asks for, which is local; one Neumann Poisson solve on `ξ` (the
//! Monge–Ampère mover's own, factorised once) turns it into `φ`, and
//! `x = ξ + ∇φ` as in [`MongeAmpere`]: the solve carries the global
//! coupling that message passing would need as many rounds as the mesh
//! has cells across for (UM2N uses attention for it). A predicted
//! `s` equal to the Monge–Ampère mover's reproduces its mesh to round-off.
//!
//! Node features (at node `i`, `μ = m / m̄` with `m̄` the mean of `m` over
//! the domain): `μ(ξᵢ)`, `ln μ(ξᵢ)`; the linearised equation's answer
//! `s₀ = θ₀/m(ξᵢ) − 1` (`θ₀` making it solvable), the displacement `d₀`
//! it gives in units of the mean cell size `h` (two components; over the
//! domain's size instead, the CI model did worse on the steep layer at
//! 1.7·10³ and 10⁴ nodes, measured) and
//! `ln μ(ξᵢ + d₀)`, the monitor where that first guess would put the
//! node; the node's boundary kind one-hot (interior, sliding along a
//! straight or curved side, fixed).
//! Edge features: `(ξ_sender − ξ_receiver)/h`, its length `/h`, and the
//! difference of `ln μ`.

use anyhow::Result;
use pde_mesh::Mesh;

use super::monge_ampere::{MongeAmpere, MongeAmpereSettings};
use super::triangles::Boundary;

/// Features per node.
pub const NODE_FEATURES: usize = 9;
/// Features per directed edge.
pub const EDGE_FEATURES: usize = 4;
/// The node feature that holds the linearised equation's `s₀`.
const LINEAR_GUESS: usize = 2;

/// The computational mesh as the learned mover's graph.
pub struct MoverGraph {
    decoder: MongeAmpere,
    /// Source node of each directed edge (every mesh edge both ways).
    pub senders: Vec<usize>,
    /// Target node of each directed edge.
    pub receivers: Vec<usize>,
    /// The mean cell size `√(2 |Ω| / cells)`.
    h: f64,
}

/// The features of one monitor on a [`MoverGraph`], row-major `f32`.
#[derive(Clone, Debug, PartialEq)]
pub struct MoverFeatures {
    /// `[nodes, NODE_FEATURES]`.
    pub nodes: Vec<f32>,
    /// `[edges, EDGE_FEATURES]`.
    pub edges: Vec<f32>,
}

impl MoverFeatures {
    /// The linearised equation's answer `s₀` at every node (a feature;
    /// decoded by [`MoverGraph::mesh_of`], the control the learned mover
    /// must beat).
    pub fn linear_guess(&self) -> Vec<f64> {
        self.nodes
            .chunks_exact(NODE_FEATURES)
            .map(|f| f64::from(f[LINEAR_GUESS]))
            .collect()
    }
}

impl MoverGraph {
    /// The graph of computational mesh `mesh` (linear triangles).
    pub fn new(mesh: &Mesh) -> Result<MoverGraph> {
        let decoder = MongeAmpere::new(mesh, MongeAmpereSettings::default())?;
        let mut pairs: Vec<(usize, usize)> = decoder
            .t
            .corners
            .iter()
            .flat_map(|k| [(k[0], k[1]), (k[1], k[2]), (k[2], k[0])])
            .map(|(a, b)| (a.min(b), a.max(b)))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let (senders, receivers) = pairs.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).unzip();
        let area: f64 = decoder.t.area.iter().sum();
        let h = (2.0 * area / decoder.t.area.len() as f64).sqrt();
        Ok(MoverGraph {
            decoder,
            senders,
            receivers,
            h,
        })
    }

    /// The features of `monitor` (a positive function of position).
    pub fn features(&mut self, monitor: &dyn Fn([f64; 3]) -> f64) -> Result<MoverFeatures> {
        let (xi, lumped) = (&self.decoder.mesh.points, &self.decoder.t.lumped);
        let m: Vec<f64> = xi.iter().map(|&x| monitor(x)).collect();
        if let Some(bad) = m.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            anyhow::bail!(
                "the monitor is {} at node {bad}; movers need a positive monitor",
                m[bad]
            );
        }
        let total: f64 = lumped.iter().sum();
        let mean = m.iter().zip(lumped).map(|(v, w)| v * w).sum::<f64>() / total;
        let theta0 = total / m.iter().zip(lumped).map(|(v, w)| w / v).sum::<f64>();
        let s0: Vec<f64> = m.iter().map(|v| theta0 / v - 1.0).collect();
        let guess = self.decoder.set_laplacian(&s0)?;
        let xi = &self.decoder.mesh.points;
        let h = self.h;
        let mut nodes = Vec::with_capacity(xi.len() * NODE_FEATURES);
        for i in 0..xi.len() {
            let d = [(guess[i][0] - xi[i][0]) / h, (guess[i][1] - xi[i][1]) / h];
            let at_guess = monitor(guess[i]).max(f64::MIN_POSITIVE);
            let kind = match self.decoder.boundary[i] {
                Boundary::Interior => [1.0, 0.0, 0.0],
                Boundary::Slides(_) | Boundary::Curved(_) => [0.0, 1.0, 0.0],
                Boundary::Fixed => [0.0, 0.0, 1.0],
            };
            let mu = m[i] / mean;
            nodes.extend(
                [
                    mu,
                    mu.ln(),
                    s0[i], // at LINEAR_GUESS
                    d[0],
                    d[1],
                    (at_guess / mean).ln(),
                    kind[0],
                    kind[1],
                    kind[2],
                ]
                .map(|v| v as f32),
            );
        }
        let mut edges = Vec::with_capacity(self.senders.len() * EDGE_FEATURES);
        for (&s, &r) in self.senders.iter().zip(&self.receivers) {
            let d = [(xi[s][0] - xi[r][0]) / h, (xi[s][1] - xi[r][1]) / h];
            edges.extend([d[0], d[1], d[0].hypot(d[1]), (m[s] / m[r]).ln()].map(|v| v as f32));
        }
        Ok(MoverFeatures { nodes, edges })
    }

    /// The mesh of a predicted Laplacian `s` of the potential (one value
    /// per node): `x = ξ + ∇φ` with `Δφ = s` (Neumann).
    pub fn mesh_of(&mut self, s: &[f64]) -> Result<Vec<[f64; 3]>> {
        self.decoder.set_laplacian(s)
    }

    /// [`MoverGraph::mesh_of`], then at most `iterations` Monge–Ampère
    /// relaxation iterations from that mesh's potential
    /// ([`MongeAmpere::polish`]): the prediction as Monge–Ampère's start.
    pub fn polished(
        &mut self,
        s: &[f64],
        monitor: &dyn Fn([f64; 3]) -> f64,
        iterations: usize,
    ) -> Result<Vec<[f64; 3]>> {
        self.decoder.set_laplacian(s)?;
        Ok(self.decoder.polish(monitor, iterations)?.points)
    }
}
