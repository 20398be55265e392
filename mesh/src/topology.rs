//! Topology of the domain cells: edges, facets, cell neighbours and the node
//! graph, all built by sorting (O(n log n)), never by pairwise search.

use crate::error::{MeshError, Result};
use crate::mesh::{CellRef, Mesh};

/// A compressed sparse row adjacency: row `i` is `indices[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Csr {
    /// Row start positions; `offsets.len() == rows + 1`.
    pub offsets: Vec<usize>,
    /// Column indices of all rows, concatenated.
    pub indices: Vec<usize>,
}

impl Csr {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The entries of row `i`.
    pub fn row(&self, i: usize) -> &[usize] {
        &self.indices[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Total number of entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// A CSR from rows of known lengths, filled by `fill(row, slot)`.
    fn from_row_lengths(lengths: impl Iterator<Item = usize>) -> Csr {
        let mut offsets = vec![0];
        let mut total = 0;
        for l in lengths {
            total += l;
            offsets.push(total);
        }
        Csr {
            offsets,
            indices: vec![usize::MAX; total],
        }
    }
}

/// Marks a missing neighbour in [`Topology::facet_cells`].
pub const NO_CELL: usize = usize::MAX;

/// Topology of the domain cells of a [`Mesh`] (cells of dimension
/// [`Mesh::dim`]). Domain cells are numbered globally: block by block in
/// [`Mesh::blocks`] order, see [`Topology::cell_ref`].
///
/// Edges and facets are defined by corner nodes only, so quadratic cells have
/// the same topology as their straight-sided counterparts. In 2D, facets are
/// the edges; in 3D they are the faces.
#[derive(Clone, Debug)]
pub struct Topology {
    /// `(block index, first global cell number)` for each domain block.
    block_offsets: Vec<(usize, usize)>,
    /// Number of domain cells.
    pub num_cells: usize,
    /// Unique edges as sorted node pairs, in lexicographic order.
    pub edges: Vec<[usize; 2]>,
    /// For each cell, its edges (in the cell kind's local edge order).
    pub cell_edges: Csr,
    /// Unique facets as sorted corner lists (padded with `usize::MAX` to four
    /// entries), in lexicographic order so that [`Topology::find_facet`] can
    /// binary-search them.
    pub facet_keys: Vec<[usize; 4]>,
    /// For each facet `[owner, neighbour]` cells; `neighbour == NO_CELL` on the boundary.
    pub facet_cells: Vec<[usize; 2]>,
    /// For each facet, its local number within the owner cell (which gives its
    /// orientation: the owner's facet is oriented with an outward normal).
    pub facet_owner_local: Vec<u8>,
    /// For each cell, its facets (in the kind's local facet order).
    pub cell_facets: Csr,
    /// For each cell, the cells sharing a facet with it (sorted).
    pub cell_neighbours: Csr,
    /// For each node, the other nodes sharing a domain cell with it (sorted):
    /// the sparsity pattern of a nodal finite-element matrix.
    pub node_graph: Csr,
}

/// Sorts `(key, cell, local)` items and numbers distinct keys in key order.
/// Returns the distinct keys and, per run of equal keys, the items in it.
fn number_by_key<K: Ord + Copy>(
    mut items: Vec<(K, usize, u8)>,
) -> (Vec<K>, Vec<(usize, u8)>, Vec<usize>) {
    items.sort_unstable();
    let mut keys = Vec::new();
    let mut run_start = Vec::new();
    let mut members = Vec::with_capacity(items.len());
    for (i, (k, c, l)) in items.iter().enumerate() {
        if i == 0 || items[i - 1].0 != *k {
            keys.push(*k);
            run_start.push(members.len());
        }
        members.push((*c, *l));
    }
    run_start.push(members.len());
    (keys, members, run_start)
}

impl Topology {
    /// Builds the topology of `mesh`'s domain cells.
    pub fn build(mesh: &Mesh) -> Result<Topology> {
        let mut block_offsets = Vec::new();
        let mut num_cells = 0;
        for (bi, b) in mesh.domain_blocks() {
            block_offsets.push((bi, num_cells));
            num_cells += b.len();
        }
        let cells = || {
            block_offsets.iter().flat_map(|&(bi, _)| {
                let b = &mesh.blocks[bi];
                b.cells().map(move |c| (b.kind, c))
            })
        };

        // Edges.
        let mut items = Vec::new();
        for (ci, (kind, nodes)) in cells().enumerate() {
            for (l, e) in kind.edges().iter().enumerate() {
                let (a, b) = (nodes[e[0]], nodes[e[1]]);
                items.push(([a.min(b), a.max(b)], ci, l as u8));
            }
        }
        let cell_edges_len = cells().map(|(k, _)| k.edges().len());
        let mut cell_edges = Csr::from_row_lengths(cell_edges_len);
        let (edges, members, runs) = number_by_key(items);
        for e in 0..edges.len() {
            for &(c, l) in &members[runs[e]..runs[e + 1]] {
                cell_edges.indices[cell_edges.offsets[c] + l as usize] = e;
            }
        }

        // Facets.
        let mut items = Vec::new();
        for (ci, (kind, nodes)) in cells().enumerate() {
            for (l, f) in kind.facets().iter().enumerate() {
                let mut key = [usize::MAX; 4];
                for (k, &c) in f.iter().enumerate() {
                    key[k] = nodes[c];
                }
                key[..f.len()].sort_unstable();
                items.push((key, ci, l as u8));
            }
        }
        let mut cell_facets = Csr::from_row_lengths(cells().map(|(k, _)| k.facets().len()));
        let (facet_keys, members, runs) = number_by_key(items);
        let mut facet_cells = Vec::with_capacity(facet_keys.len());
        let mut facet_owner_local = Vec::with_capacity(facet_keys.len());
        for f in 0..facet_keys.len() {
            let run = &members[runs[f]..runs[f + 1]];
            if run.len() > 2 {
                return Err(MeshError::Topology(format!(
                    "facet with nodes {:?} is shared by {} cells (at most 2 allowed): \
                     duplicated or overlapping cells",
                    facet_keys[f]
                        .iter()
                        .filter(|&&n| n != usize::MAX)
                        .collect::<Vec<_>>(),
                    run.len()
                )));
            }
            for &(c, l) in run {
                cell_facets.indices[cell_facets.offsets[c] + l as usize] = f;
            }
            let neighbour = run.get(1).map_or(NO_CELL, |&(c, _)| c);
            facet_cells.push([run[0].0, neighbour]);
            facet_owner_local.push(run[0].1);
        }

        // Cell neighbours through interior facets.
        let mut degree = vec![0usize; num_cells];
        for fc in facet_cells.iter().filter(|fc| fc[1] != NO_CELL) {
            degree[fc[0]] += 1;
            degree[fc[1]] += 1;
        }
        let mut cell_neighbours = Csr::from_row_lengths(degree.iter().copied());
        let mut fill = cell_neighbours.offsets.clone();
        for fc in facet_cells.iter().filter(|fc| fc[1] != NO_CELL) {
            for (a, b) in [(fc[0], fc[1]), (fc[1], fc[0])] {
                cell_neighbours.indices[fill[a]] = b;
                fill[a] += 1;
            }
        }
        for c in 0..num_cells {
            let (s, e) = (cell_neighbours.offsets[c], cell_neighbours.offsets[c + 1]);
            cell_neighbours.indices[s..e].sort_unstable();
        }

        let node_graph = cell_adjacency(mesh.points.len(), cells().map(|(_, n)| n), false);

        Ok(Topology {
            block_offsets,
            num_cells,
            edges,
            cell_edges,
            facet_keys,
            facet_cells,
            facet_owner_local,
            cell_facets,
            cell_neighbours,
            node_graph,
        })
    }

    /// The block and in-block index of global domain cell `cell`.
    pub fn cell_ref(&self, cell: usize) -> CellRef {
        let k = self.block_offsets.partition_point(|&(_, off)| off <= cell) - 1;
        let (block, off) = self.block_offsets[k];
        CellRef {
            block,
            index: cell - off,
        }
    }

    /// The global domain-cell number of `cell`, if it is a domain cell.
    pub fn cell_number(&self, cell: CellRef) -> Option<usize> {
        self.block_offsets
            .iter()
            .find(|&&(b, _)| b == cell.block)
            .map(|&(_, off)| off + cell.index)
    }

    /// Number of facets.
    pub fn num_facets(&self) -> usize {
        self.facet_keys.len()
    }

    /// Whether facet `f` lies on the boundary (has only one cell).
    pub fn is_boundary_facet(&self, f: usize) -> bool {
        self.facet_cells[f][1] == NO_CELL
    }

    /// Facets with a single cell.
    pub fn boundary_facets(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.num_facets()).filter(|&f| self.is_boundary_facet(f))
    }

    /// The facet whose corner nodes are `corners` (any order), if any.
    pub fn find_facet(&self, corners: &[usize]) -> Option<usize> {
        if corners.is_empty() || corners.len() > 4 {
            return None;
        }
        let mut key = [usize::MAX; 4];
        key[..corners.len()].copy_from_slice(corners);
        key[..corners.len()].sort_unstable();
        self.facet_keys.binary_search(&key).ok()
    }

    /// The corner nodes of facet `f`, oriented as seen from its owner cell
    /// (outward normal).
    pub fn facet_corners(&self, mesh: &Mesh, f: usize) -> Vec<usize> {
        let owner = self.cell_ref(self.facet_cells[f][0]);
        let block = &mesh.blocks[owner.block];
        let nodes = block.cell(owner.index);
        block.kind.facets()[self.facet_owner_local[f] as usize]
            .iter()
            .map(|&c| nodes[c])
            .collect()
    }
}

/// Adjacency through shared cells: row `i` lists, sorted, the entries `j`
/// (node or degree-of-freedom numbers below `num_nodes`) that share at least
/// one cell with `i`, including `i` itself if `with_diagonal`. This is the
/// sparsity pattern of a matrix assembled cell by cell.
pub fn cell_adjacency<'a>(
    num_nodes: usize,
    cells: impl Iterator<Item = &'a [usize]> + Clone,
    with_diagonal: bool,
) -> Csr {
    // Upper bound of each row, fill, then sort and deduplicate each row.
    let mut bound = vec![usize::from(with_diagonal); num_nodes];
    for c in cells.clone() {
        for &a in c {
            bound[a] += c.len() - 1;
        }
    }
    let mut raw = Csr::from_row_lengths(bound.iter().copied());
    let mut fill = raw.offsets.clone();
    if with_diagonal {
        for (i, f) in fill.iter_mut().take(num_nodes).enumerate() {
            raw.indices[*f] = i;
            *f += 1;
        }
    }
    for c in cells {
        for &a in c {
            for &b in c.iter().filter(|&&b| b != a) {
                raw.indices[fill[a]] = b;
                fill[a] += 1;
            }
        }
    }
    let mut offsets = Vec::with_capacity(num_nodes + 1);
    offsets.push(0);
    let mut indices = Vec::with_capacity(raw.indices.len() / 2);
    for (i, &end) in fill.iter().take(num_nodes).enumerate() {
        let row = &mut raw.indices[raw.offsets[i]..end];
        row.sort_unstable();
        let start = indices.len();
        for &j in row.iter() {
            if indices.len() == start || indices[indices.len() - 1] != j {
                indices.push(j);
            }
        }
        offsets.push(indices.len());
    }
    Csr { offsets, indices }
}
