//! Finite-volume geometry of a mesh: cell volumes and centroids, and for
//! every face its area, unit normal (out of the owner cell), centroid, its
//! two cells and, on the boundary, its physical group. Built once from the
//! topology of `pde-mesh` (facets found by sorting, never by search).
//!
//! Cells are the domain cells of the mesh (triangles and quadrilaterals in
//! 2D, tetrahedra and hexahedra in 3D), numbered as
//! [`pde_mesh::topology::Topology`] numbers them; quadratic cells are taken
//! by their corners (straight faces).
//!
//! Two boundary groups that are translates of each other can be joined
//! ([`FvMesh::make_periodic`]): their faces become interior faces whose
//! neighbour lies across the domain, seen through a shift.

use std::sync::Arc;

use pde_mesh::topology::NO_CELL;
use pde_mesh::{Csr, Mesh, MeshError};

/// One face between two cells, or between a cell and the boundary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Face {
    /// The cell the normal points out of.
    pub owner: usize,
    /// The cell on the other side (`None` on the boundary).
    pub neighbour: Option<usize>,
    /// Length (2D) or area (3D).
    pub area: f64,
    /// Unit normal, from the owner towards the neighbour (outward on the
    /// boundary).
    pub normal: [f64; 3],
    /// Centroid.
    pub centroid: [f64; 3],
    /// Index into [`FvMesh::group_names`] of the boundary group the face is
    /// on (`None` inside, or on an untagged boundary).
    pub group: Option<usize>,
    /// Where the neighbour is seen from the owner: its centroid plus
    /// `shift` lies across this face. Zero except on periodic faces, where
    /// it undoes the translation between the two joined groups.
    pub shift: [f64; 3],
}

/// The geometry finite volumes need, computed once per mesh.
///
/// ```
/// use std::sync::Arc;
/// use pde_engine::fvm::geometry::FvMesh;
/// use pde_mesh::{generate, CellKind};
/// let mesh = generate::rectangle([0.0, 0.0], [2.0, 1.0], [4, 2], CellKind::Quad4).unwrap();
/// let fv = FvMesh::new(Arc::new(mesh)).unwrap();
/// assert_eq!(fv.num_cells(), 8);
/// assert!((fv.volume.iter().sum::<f64>() - 2.0).abs() < 1e-14);
/// // The boundary faces of a closed domain have normals that sum to zero.
/// let sum: f64 = fv.faces.iter().filter(|f| f.neighbour.is_none()).map(|f| f.area * f.normal[0]).sum();
/// assert!(sum.abs() < 1e-14);
/// ```
#[derive(Clone, Debug)]
pub struct FvMesh {
    /// The mesh the geometry is of.
    pub mesh: Arc<Mesh>,
    /// Space dimension (2 or 3).
    pub dim: usize,
    /// Cell areas (2D) or volumes (3D).
    pub volume: Vec<f64>,
    /// Cell centroids.
    pub centroid: Vec<[f64; 3]>,
    /// All faces, in the facet order of the mesh topology (less the faces
    /// of the second group of each periodic pair).
    pub faces: Vec<Face>,
    /// For each cell, its faces.
    pub cell_faces: Csr,
    /// Names of the boundary groups (physical groups of dimension `dim - 1`).
    pub group_names: Vec<String>,
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Dot product of two 3-vectors.
pub(crate) fn dot3(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Measure and centroid of a set of weighted parts.
fn weighted(parts: impl Iterator<Item = (f64, [f64; 3])>) -> (f64, [f64; 3]) {
    let mut total = 0.0;
    let mut c = [0.0; 3];
    for (w, x) in parts {
        total += w;
        (0..3).for_each(|k| c[k] += w * x[k]);
    }
    (total, c.map(|v| v / total))
}

fn mean(points: &[[f64; 3]]) -> [f64; 3] {
    let n = points.len() as f64;
    let mut c = [0.0; 3];
    for p in points {
        (0..3).for_each(|k| c[k] += p[k] / n);
    }
    c
}

/// Area vector (area times unit normal, orientation of the corner order)
/// and centroid of a planar polygon in 3D, by a fan from its first corner.
fn polygon(points: &[[f64; 3]]) -> ([f64; 3], [f64; 3]) {
    let mut vector = [0.0; 3];
    let parts = (1..points.len() - 1).map(|i| {
        let a = cross(sub(points[i], points[0]), sub(points[i + 1], points[0]));
        (0..3).for_each(|k| vector[k] += 0.5 * a[k]);
        let area = 0.5 * dot3(a, a).sqrt();
        (area, mean(&[points[0], points[i], points[i + 1]]))
    });
    let (_, centroid) = weighted(parts.collect::<Vec<_>>().into_iter());
    (vector, centroid)
}

impl FvMesh {
    /// The geometry of `mesh`'s domain cells and their faces.
    pub fn new(source: Arc<Mesh>) -> Result<FvMesh, MeshError> {
        let mesh = &*source;
        let topo = mesh.topology()?;
        let dim = mesh.dim();
        let corners_of = |cell: usize| -> (pde_mesh::CellKind, Vec<[f64; 3]>) {
            let r = topo.cell_ref(cell);
            let kind = mesh.blocks[r.block].kind;
            let nodes = mesh.cell_nodes(r);
            let x = nodes[..kind.num_corners()]
                .iter()
                .map(|&n| mesh.points[n])
                .collect();
            (kind, x)
        };
        let mut volume = Vec::with_capacity(topo.num_cells);
        let mut centroid = Vec::with_capacity(topo.num_cells);
        for cell in 0..topo.num_cells {
            let (kind, x) = corners_of(cell);
            let (v, c) = if dim == 2 {
                let (a, c) = polygon(&x);
                (dot3(a, a).sqrt(), c)
            } else {
                // Tetrahedra from the corner mean to each (fanned) facet.
                let m = mean(&x);
                weighted(kind.facets().iter().flat_map(|facet| {
                    let f: Vec<[f64; 3]> = facet.iter().map(|&l| x[l]).collect();
                    (1..f.len() - 1).map(move |i| {
                        let (a, b, c) = (sub(f[0], m), sub(f[i], m), sub(f[i + 1], m));
                        let v = dot3(a, cross(b, c)).abs() / 6.0;
                        (v, mean(&[m, f[0], f[i], f[i + 1]]))
                    })
                }))
            };
            volume.push(v);
            centroid.push(c);
        }
        let mut face_group = vec![None; topo.num_facets()];
        let mut group_names = Vec::new();
        for g in mesh.groups.iter().filter(|g| g.dim + 1 == dim) {
            let index = group_names.len();
            group_names.push(g.name.clone());
            for c in mesh.cells_of(g) {
                let block = &mesh.blocks[c.block];
                let corners = &block.cell(c.index)[..block.kind.num_corners()];
                if let Some(f) = topo.find_facet(corners) {
                    face_group[f] = Some(index);
                }
            }
        }
        let faces = (0..topo.num_facets())
            .map(|f| {
                let [owner, other] = topo.facet_cells[f];
                let x: Vec<[f64; 3]> = topo
                    .facet_corners(mesh, f)
                    .iter()
                    .map(|&n| mesh.points[n])
                    .collect();
                let (mut n, area, c) = if dim == 2 {
                    let t = sub(x[1], x[0]);
                    let len = dot3(t, t).sqrt();
                    ([t[1] / len, -t[0] / len, 0.0], len, mean(&x))
                } else {
                    let (a, c) = polygon(&x);
                    let area = dot3(a, a).sqrt();
                    (a.map(|v| v / area), area, c)
                };
                // Out of the owner, whatever the corner order.
                if dot3(n, sub(c, centroid[owner])) < 0.0 {
                    n = n.map(|v| -v);
                }
                Face {
                    owner,
                    neighbour: (other != NO_CELL).then_some(other),
                    area,
                    normal: n,
                    centroid: c,
                    group: if other == NO_CELL {
                        face_group[f]
                    } else {
                        None
                    },
                    shift: [0.0; 3],
                }
            })
            .collect();
        let cell_faces = topo.cell_facets.clone();
        Ok(FvMesh {
            mesh: source.clone(),
            dim,
            volume,
            centroid,
            faces,
            cell_faces,
            group_names,
        })
    }

    /// Number of cells.
    pub fn num_cells(&self) -> usize {
        self.volume.len()
    }

    /// The cell containing `point` (on the inner side of all its faces,
    /// boundary included), `None` outside the mesh. Exact for the convex
    /// cells of linear meshes; a linear search, for probes located once.
    pub fn locate(&self, point: [f64; 3]) -> Option<usize> {
        (0..self.num_cells()).find(|&c| {
            let h = self.volume[c].abs().powf(1.0 / self.dim as f64);
            self.cell_faces.row(c).iter().all(|&f| {
                let face = &self.faces[f];
                let side = if face.owner == c { 1.0 } else { -1.0 };
                side * dot3(face.normal, sub(point, face.centroid)) <= 1e-10 * h
            })
        })
    }

    /// For cell `c` and one of its faces `f`: the cell across the face and
    /// the offset from `c`'s centroid to that cell's centroid (its image,
    /// across a periodic face). `None` on the boundary.
    pub fn across(&self, f: usize, c: usize) -> Option<(usize, [f64; 3])> {
        let face = &self.faces[f];
        let nb = face.neighbour?;
        let (p, q) = (self.centroid[face.owner], self.centroid[nb]);
        let d = [
            q[0] + face.shift[0] - p[0],
            q[1] + face.shift[1] - p[1],
            q[2] + face.shift[2] - p[2],
        ];
        Some(if face.owner == c {
            (nb, d)
        } else {
            (face.owner, d.map(|v| -v))
        })
    }

    /// The centroid of face `f` as cell `c` sees it: the face's centroid,
    /// moved by the periodic shift on the neighbour's side.
    pub fn face_point(&self, f: usize, c: usize) -> [f64; 3] {
        let face = &self.faces[f];
        if face.owner == c {
            face.centroid
        } else {
            sub(face.centroid, face.shift)
        }
    }

    /// The split of face `f`'s unit normal for diffusive fluxes (over-relaxed
    /// non-orthogonal correction): `n = d/(d·n) + k`, with `d` the offset
    /// from the owner's centroid to the neighbour's (or to the face centroid
    /// on the boundary). Returns `(1/(d·n), k)`: the normal derivative is
    /// `(u_N - u_P)/(d·n) + k·∇u`, exact for linear `u`, and `k` vanishes
    /// where `d` is parallel to `n` (orthogonal meshes).
    pub fn normal_split(&self, f: usize) -> (f64, [f64; 3]) {
        let face = &self.faces[f];
        let d = match self.across(f, face.owner) {
            Some((_, d)) => d,
            None => sub(face.centroid, self.centroid[face.owner]),
        };
        let dn = dot3(d, face.normal);
        (
            1.0 / dn,
            std::array::from_fn(|k| face.normal[k] - d[k] / dn),
        )
    }

    /// Joins boundary groups `a` and `b` into a periodic pair: `b` must be
    /// `a` translated (face by face, to 1e-6 of the face size). Each face
    /// of `a` becomes an interior face whose neighbour is the cell on the
    /// matching face of `b` (seen through the translation); `b`'s faces are
    /// removed. The groups stay in [`FvMesh::group_names`] but own no face.
    pub fn make_periodic(&mut self, a: &str, b: &str) -> Result<(), String> {
        let (ga, gb) = (self.group_index(a)?, self.group_index(b)?);
        if ga == gb {
            return Err(format!("periodic: '{a}' cannot be paired with itself"));
        }
        let of_group = |g: usize| -> Vec<usize> {
            (0..self.faces.len())
                .filter(|&f| self.faces[f].group == Some(g))
                .collect()
        };
        let (fa, fb) = (of_group(ga), of_group(gb));
        if fa.len() != fb.len() || fa.is_empty() {
            return Err(format!(
                "periodic: '{a}' has {} faces and '{b}' {}; a periodic pair needs the same \
                 (nonzero) number, one the translate of the other",
                fa.len(),
                fb.len()
            ));
        }
        let centre = |faces: &[usize]| {
            weighted(
                faces
                    .iter()
                    .map(|&f| (self.faces[f].area, self.faces[f].centroid)),
            )
            .1
        };
        let shift = sub(centre(&fb), centre(&fa));
        let size = |f: usize| self.faces[f].area.powf(1.0 / (self.dim - 1) as f64);
        let tol = 1e-6 * fa.iter().map(|&f| size(f)).fold(f64::INFINITY, f64::min);
        // Sort b's faces along their widest coordinate; each of a's faces,
        // moved by the shift, is looked for in a window of that coordinate.
        let spread = |k: usize| {
            let v = fb.iter().map(|&f| self.faces[f].centroid[k]);
            v.clone().fold(f64::NEG_INFINITY, f64::max) - v.fold(f64::INFINITY, f64::min)
        };
        let axis = (0..self.dim)
            .max_by(|&i, &j| spread(i).total_cmp(&spread(j)))
            .unwrap_or(0);
        let mut sorted = fb.clone();
        sorted.sort_by(|&i, &j| {
            self.faces[i].centroid[axis].total_cmp(&self.faces[j].centroid[axis])
        });
        let keys: Vec<f64> = sorted
            .iter()
            .map(|&f| self.faces[f].centroid[axis])
            .collect();
        let mut partner = vec![usize::MAX; self.faces.len()];
        for &f in &fa {
            let x = self.faces[f].centroid;
            let target: [f64; 3] = std::array::from_fn(|k| x[k] + shift[k]);
            let start = keys.partition_point(|&v| v < target[axis] - tol);
            let found = sorted[start..]
                .iter()
                .take_while(|&&g| self.faces[g].centroid[axis] <= target[axis] + tol)
                .find(|&&g| {
                    let d = sub(self.faces[g].centroid, target);
                    dot3(d, d).sqrt() <= tol
                });
            let Some(&g) = found else {
                return Err(format!(
                    "periodic: the face of '{a}' at {x:?} has no partner on '{b}' at {target:?} \
                     (the translation between the groups is {shift:?}); the two boundaries must \
                     be meshed alike"
                ));
            };
            let (na, nb) = (self.faces[f].normal, self.faces[g].normal);
            if dot3(na, nb) > -1.0 + 1e-9 {
                return Err(format!(
                    "periodic: the faces of '{a}' at {x:?} and of '{b}' at {target:?} are not \
                     parallel (normals {na:?} and {nb:?})"
                ));
            }
            if partner[g] != usize::MAX {
                return Err(format!(
                    "periodic: two faces of '{a}' match one face of '{b}'"
                ));
            }
            if self.faces[g].owner == self.faces[f].owner {
                return Err(format!(
                    "periodic: cell {} touches both '{a}' and '{b}'; the mesh must be at least \
                     two cells across",
                    self.faces[f].owner
                ));
            }
            partner[g] = f;
        }
        // a's faces look across to b's cells; b's faces go, and the cells
        // that had them now have the matching face of a.
        for (g, &f) in partner.iter().enumerate() {
            if f != usize::MAX {
                let q = self.faces[g].owner;
                let face = &mut self.faces[f];
                face.neighbour = Some(q);
                face.group = None;
                face.shift = shift.map(|v| -v);
            }
        }
        let mut new_index = vec![0; self.faces.len()];
        let mut kept = 0;
        for (f, &p) in partner.iter().enumerate() {
            if p == usize::MAX {
                new_index[f] = kept;
                kept += 1;
            }
        }
        for (f, &p) in partner.iter().enumerate() {
            if p != usize::MAX {
                new_index[f] = new_index[p];
            }
        }
        for i in &mut self.cell_faces.indices {
            *i = new_index[*i];
        }
        let mut f = 0;
        self.faces.retain(|_| {
            f += 1;
            partner[f - 1] == usize::MAX
        });
        Ok(())
    }

    /// Each cell and its face neighbours (periodic ones included), sorted:
    /// the pattern of matrices that couple cells across faces.
    pub fn cell_adjacency(&self) -> Csr {
        let mut offsets = vec![0];
        let mut indices = Vec::new();
        for c in 0..self.num_cells() {
            let start = indices.len();
            indices.push(c);
            indices.extend(
                self.cell_faces
                    .row(c)
                    .iter()
                    .filter_map(|&f| self.across(f, c).map(|(q, _)| q)),
            );
            indices[start..].sort_unstable();
            offsets.push(indices.len());
        }
        Csr { offsets, indices }
    }

    /// The index of boundary group `name`, or an error listing those there are.
    pub fn group_index(&self, name: &str) -> Result<usize, String> {
        self.group_names
            .iter()
            .position(|g| g == name)
            .ok_or_else(|| {
                format!(
                    "the mesh has no boundary group '{name}'; it has {}",
                    self.group_names.join(", ")
                )
            })
    }
}
