//! The [`Mesh`]: points, cell blocks, physical groups and cached topology.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use crate::cell::CellKind;
use crate::error::{MeshError, Result};
use crate::topology::Topology;

/// Cells of one kind, stored flat: cell `i` has nodes
/// `nodes[i * kind.num_nodes()..(i + 1) * kind.num_nodes()]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CellBlock {
    /// The kind of every cell in the block.
    pub kind: CellKind,
    /// Node indices (0-based, into [`Mesh::points`]), `kind.num_nodes()` per cell.
    pub nodes: Vec<usize>,
    /// The geometric entity each cell belongs to (gmsh's elementary tag; 0 if none).
    pub entity: Vec<i32>,
}

impl CellBlock {
    /// An empty block of the given kind.
    pub fn new(kind: CellKind) -> Self {
        CellBlock {
            kind,
            nodes: Vec::new(),
            entity: Vec::new(),
        }
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.entity.len()
    }

    /// Whether the block has no cells.
    pub fn is_empty(&self) -> bool {
        self.entity.is_empty()
    }

    /// The nodes of cell `i`.
    pub fn cell(&self, i: usize) -> &[usize] {
        let n = self.kind.num_nodes();
        &self.nodes[i * n..(i + 1) * n]
    }

    /// Iterator over the node lists of all cells.
    pub fn cells(&self) -> std::slice::ChunksExact<'_, usize> {
        self.nodes.chunks_exact(self.kind.num_nodes())
    }

    /// Appends a cell.
    pub fn push(&mut self, nodes: &[usize], entity: i32) {
        debug_assert_eq!(nodes.len(), self.kind.num_nodes());
        self.nodes.extend_from_slice(nodes);
        self.entity.push(entity);
    }
}

/// A named set of geometric entities of one dimension, as in gmsh: boundary
/// conditions, materials and subdomains are referred to by these names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhysicalGroup {
    /// The name (gmsh `$PhysicalNames`); unnamed groups are called by their tag.
    pub name: String,
    /// Dimension of the entities (0 points, 1 curves, 2 surfaces, 3 volumes).
    pub dim: usize,
    /// The physical tag.
    pub tag: i32,
    /// Tags of the geometric entities (of dimension `dim`) in the group.
    pub entities: Vec<i32>,
}

impl PhysicalGroup {
    /// Whether a cell of dimension `dim` on `entity` belongs to this group.
    pub fn contains(&self, dim: usize, entity: i32) -> bool {
        dim == self.dim && self.entities.contains(&entity)
    }
}

/// Reference to one cell: block index and index within the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellRef {
    /// Index into [`Mesh::blocks`].
    pub block: usize,
    /// Index of the cell within its block.
    pub index: usize,
}

/// An unstructured mesh in 1, 2 or 3 dimensions.
///
/// Points are always stored with three coordinates (`z = 0` for planar
/// meshes); [`Mesh::dim`] is the topological dimension of the highest cells,
/// which are the *domain* cells. Lower-dimensional cells (boundary lines in
/// 2D, boundary faces in 3D, points) carry the physical groups used for
/// boundary conditions.
///
/// ```
/// use pde_mesh::{generate, CellKind};
/// let mesh = generate::rectangle([0.0, 0.0], [2.0, 1.0], [4, 2], CellKind::Tri3).unwrap();
/// assert_eq!(mesh.dim(), 2);
/// assert_eq!(mesh.num_cells_of_dim(2), 16);
/// assert_eq!(mesh.group_nodes("left").unwrap(), vec![0, 5, 10]);
/// ```
#[derive(Debug)]
pub struct Mesh {
    /// Node coordinates.
    pub points: Vec<[f64; 3]>,
    /// Cells, one block per kind.
    pub blocks: Vec<CellBlock>,
    /// Physical groups, in the order they were defined.
    pub groups: Vec<PhysicalGroup>,
    topology: OnceLock<Topology>,
}

impl Clone for Mesh {
    fn clone(&self) -> Self {
        // The topology cache is cheap to rebuild and would be stale after
        // the caller edits the clone, so it is not carried over.
        Mesh::new(
            self.points.clone(),
            self.blocks.clone(),
            self.groups.clone(),
        )
    }
}

impl PartialEq for Mesh {
    fn eq(&self, other: &Self) -> bool {
        self.points == other.points && self.blocks == other.blocks && self.groups == other.groups
    }
}

impl Mesh {
    /// A mesh from its parts. Empty blocks are dropped.
    pub fn new(points: Vec<[f64; 3]>, blocks: Vec<CellBlock>, groups: Vec<PhysicalGroup>) -> Self {
        Mesh {
            points,
            blocks: blocks.into_iter().filter(|b| !b.is_empty()).collect(),
            groups,
            topology: OnceLock::new(),
        }
    }

    /// Checks that every node index is in range and every group has a
    /// dimension cells can have. Readers and generators call this; call it
    /// after building a mesh by hand.
    pub fn validate(&self) -> Result<()> {
        let n = self.points.len();
        for b in &self.blocks {
            if b.nodes.len() != b.entity.len() * b.kind.num_nodes() {
                return Err(MeshError::Topology(format!(
                    "{} block has {} node indices for {} cells",
                    b.kind,
                    b.nodes.len(),
                    b.entity.len()
                )));
            }
            if let Some((i, &v)) = b.nodes.iter().enumerate().find(|(_, &v)| v >= n) {
                return Err(MeshError::Topology(format!(
                    "{} cell {} refers to node {v} but the mesh has {n} points",
                    b.kind,
                    i / b.kind.num_nodes()
                )));
            }
        }
        if let Some(g) = self.groups.iter().find(|g| g.dim > 3) {
            return Err(MeshError::Topology(format!(
                "physical group '{}' has dimension {}",
                g.name, g.dim
            )));
        }
        Ok(())
    }

    /// Topological dimension of the domain (the highest cell dimension; 0 for
    /// a mesh without cells).
    pub fn dim(&self) -> usize {
        self.blocks.iter().map(|b| b.kind.dim()).max().unwrap_or(0)
    }

    /// Number of points.
    pub fn num_points(&self) -> usize {
        self.points.len()
    }

    /// Number of cells of the given topological dimension.
    pub fn num_cells_of_dim(&self, dim: usize) -> usize {
        self.blocks_of_dim(dim).map(|(_, b)| b.len()).sum()
    }

    /// The blocks of a given dimension, with their indices.
    pub fn blocks_of_dim(&self, dim: usize) -> impl Iterator<Item = (usize, &CellBlock)> {
        self.blocks
            .iter()
            .enumerate()
            .filter(move |(_, b)| b.kind.dim() == dim)
    }

    /// The blocks holding domain cells (dimension [`Mesh::dim`]).
    pub fn domain_blocks(&self) -> impl Iterator<Item = (usize, &CellBlock)> {
        self.blocks_of_dim(self.dim())
    }

    /// The block of a given kind, if the mesh has cells of that kind.
    pub fn block(&self, kind: CellKind) -> Option<&CellBlock> {
        self.blocks.iter().find(|b| b.kind == kind)
    }

    /// Axis-aligned bounding box `(min, max)`; `None` for a mesh without points.
    pub fn bounding_box(&self) -> Option<([f64; 3], [f64; 3])> {
        let first = *self.points.first()?;
        Some(self.points.iter().fold((first, first), |(lo, hi), p| {
            (
                std::array::from_fn(|i| lo[i].min(p[i])),
                std::array::from_fn(|i| hi[i].max(p[i])),
            )
        }))
    }

    /// Heap bytes held by points and cells (the mesh's "own size").
    pub fn memory_bytes(&self) -> usize {
        let pts = self.points.capacity() * std::mem::size_of::<[f64; 3]>();
        let cells: usize = self
            .blocks
            .iter()
            .map(|b| {
                b.nodes.capacity() * std::mem::size_of::<usize>()
                    + b.entity.capacity() * std::mem::size_of::<i32>()
            })
            .sum();
        pts + cells
    }

    /// The physical group with this name (the highest-dimensional one if the
    /// name is used in several dimensions).
    pub fn group(&self, name: &str) -> Result<&PhysicalGroup> {
        self.groups
            .iter()
            .filter(|g| g.name == name)
            .max_by_key(|g| g.dim)
            .ok_or_else(|| MeshError::UnknownGroup {
                name: name.to_string(),
                available: self.group_names().join(", "),
            })
    }

    /// Names of all physical groups, as `name (dim D)`.
    pub fn group_names(&self) -> Vec<String> {
        if self.groups.is_empty() {
            return vec!["(no physical groups)".to_string()];
        }
        self.groups
            .iter()
            .map(|g| format!("{} (dim {})", g.name, g.dim))
            .collect()
    }

    /// The cells in a physical group.
    pub fn group_cells(&self, name: &str) -> Result<Vec<CellRef>> {
        let g = self.group(name)?;
        Ok(self.cells_of(g))
    }

    /// The cells belonging to a given group.
    pub fn cells_of(&self, group: &PhysicalGroup) -> Vec<CellRef> {
        let entities: BTreeSet<i32> = group.entities.iter().copied().collect();
        self.blocks_of_dim(group.dim)
            .flat_map(|(bi, b)| {
                let entities = &entities;
                b.entity
                    .iter()
                    .enumerate()
                    .filter(move |(_, e)| entities.contains(e))
                    .map(move |(i, _)| CellRef {
                        block: bi,
                        index: i,
                    })
            })
            .collect()
    }

    /// Sorted, distinct nodes of all cells of a physical group (for example the
    /// nodes on which a Dirichlet condition acts).
    pub fn group_nodes(&self, name: &str) -> Result<Vec<usize>> {
        let mut nodes: Vec<usize> = self
            .group_cells(name)?
            .into_iter()
            .flat_map(|c| self.blocks[c.block].cell(c.index).iter().copied())
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        Ok(nodes)
    }

    /// The nodes of one cell.
    pub fn cell_nodes(&self, cell: CellRef) -> &[usize] {
        self.blocks[cell.block].cell(cell.index)
    }

    /// For each facet of [`Mesh::topology`], whether a cell of a physical
    /// group of dimension `dim - 1` lies on it. Boundary facets that are not
    /// tagged cannot receive boundary conditions.
    pub fn tagged_facets(&self) -> Result<Vec<bool>> {
        let topo = self.topology()?;
        let mut tagged = vec![false; topo.num_facets()];
        for g in self.groups.iter().filter(|g| g.dim + 1 == self.dim()) {
            for c in self.cells_of(g) {
                let block = &self.blocks[c.block];
                let corners = &block.cell(c.index)[..block.kind.num_corners()];
                if let Some(f) = topo.find_facet(corners) {
                    tagged[f] = true;
                }
            }
        }
        Ok(tagged)
    }

    /// Topology of the domain cells (edges, facets, neighbours, node graph),
    /// computed on first use and cached.
    pub fn topology(&self) -> Result<&Topology> {
        if let Some(t) = self.topology.get() {
            return Ok(t);
        }
        let t = Topology::build(self)?;
        Ok(self.topology.get_or_init(|| t))
    }
}
