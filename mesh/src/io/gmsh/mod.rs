//! Reading and writing gmsh `.msh` files: MSH 2.2 and 4.1, text and binary
//! (either byte order), with `$PhysicalNames` and `$Entities`.
//!
//! Every malformed, truncated or inconsistent input is reported as a
//! [`MeshError::Parse`] naming the file and the line (text) or byte offset
//! (binary); no input panics. Element types pde-mesh does not hold are
//! rejected by name. Partitioned files (`$PartitionedEntities`) are rejected.
//!
//! ```no_run
//! let mesh = pde_mesh::io::gmsh::read("meshes/dfg_cylinder_l1.msh")?;
//! println!("{} points, inlet has {} nodes", mesh.num_points(), mesh.group_nodes("inlet")?.len());
//! # Ok::<(), pde_mesh::MeshError>(())
//! ```

mod scanner;
#[cfg(feature = "gmsh")]
pub mod sdk;
mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use scanner::Endian;
use scanner::Scanner;
pub use write::{write, write_to};

use crate::cell::{gmsh_type_description, CellKind, ALL_KINDS};
use crate::error::{MeshError, Position, Result};
use crate::mesh::{CellBlock, Mesh, PhysicalGroup};

/// The MSH format versions read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MshVersion {
    /// MSH 2.2 (also accepts files labelled 2.0 and 2.1, which share the layout).
    V2,
    /// MSH 4.1.
    V4,
}

/// What the `$MeshFormat` header said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MshFormat {
    /// Format version.
    pub version: MshVersion,
    /// Byte order of a binary file; `None` for text files.
    pub binary: Option<Endian>,
}

impl fmt::Display for MshFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = match self.version {
            MshVersion::V2 => "2.2",
            MshVersion::V4 => "4.1",
        };
        match self.binary {
            None => write!(f, "MSH {v} ASCII"),
            Some(Endian::Little) => write!(f, "MSH {v} binary (little-endian)"),
            Some(Endian::Big) => write!(f, "MSH {v} binary (big-endian)"),
        }
    }
}

/// Reads a `.msh` file.
pub fn read(path: impl AsRef<Path>) -> Result<Mesh> {
    read_with_format(path).map(|(mesh, _)| mesh)
}

/// Reads a `.msh` file and reports its format.
pub fn read_with_format(path: impl AsRef<Path>) -> Result<(Mesh, MshFormat)> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| MeshError::io(path, e))?;
    let len = file.metadata().map_err(|e| MeshError::io(path, e))?.len();
    parse_sized(file, path, len)
}

/// Parses MSH data from any reader; `path` is used in messages only.
pub fn parse(reader: impl Read, path: &Path) -> Result<(Mesh, MshFormat)> {
    parse_sized(reader, path, 1 << 20)
}

/// Parses MSH data of about `len` bytes. Counts announced in the file are
/// trusted for pre-allocation only up to what `len` bytes could hold, so a
/// lying header cannot exhaust memory while a true one is read without
/// reallocation.
fn parse_sized(reader: impl Read, path: &Path, len: u64) -> Result<(Mesh, MshFormat)> {
    let mut s = Scanner::new(reader, path);
    let format = read_format(&mut s)?;
    let mut b = Builder {
        byte_budget: len,
        ..Builder::default()
    };
    while s.next_token()? {
        let name = match s.last().strip_prefix('$') {
            Some(name) => name.to_string(),
            None => {
                return Err(s.err_at_token(format!(
                    "expected a section such as $Nodes, found {}",
                    s.shown()
                )))
            }
        };
        match (name.as_str(), format.version) {
            ("PhysicalNames", _) => b.physical_names(&mut s)?,
            ("Entities", MshVersion::V4) => b.entities(&mut s)?,
            ("Nodes", MshVersion::V4) => b.nodes_v4(&mut s)?,
            ("Elements", MshVersion::V4) => b.elements_v4(&mut s)?,
            ("Nodes", MshVersion::V2) => b.nodes_v2(&mut s)?,
            ("Elements", MshVersion::V2) => b.elements_v2(&mut s)?,
            ("PartitionedEntities", _) => {
                return Err(s.err_at_token(
                    "partitioned meshes are not supported: save the mesh without partitions",
                ))
            }
            ("MeshFormat", _) => return Err(s.err_at_token("second $MeshFormat section")),
            _ if name.starts_with("End") => {
                return Err(s.err_at_token(format!("${name} without a matching opening section")))
            }
            // $Periodic, $NodeData, $Comments, ...: not needed for a mesh.
            _ => s.skip_section(&name)?,
        }
    }
    let mesh = b.finish(&s)?;
    Ok((mesh, format))
}

fn read_format<R: Read>(s: &mut Scanner<R>) -> Result<MshFormat> {
    s.token("$MeshFormat")?;
    if s.last() != "$MeshFormat" {
        return Err(s.err_at_token(format!(
            "not a gmsh mesh file: expected $MeshFormat, found {}",
            s.shown()
        )));
    }
    s.token("the format version (2.2 or 4.1)")?;
    let version =
        match s.last().as_str() {
            "2" | "2.0" | "2.1" | "2.2" => MshVersion::V2,
            "4.1" => MshVersion::V4,
            "4" | "4.0" => return Err(s.err_at_token(
                "MSH 4.0 is not supported: re-save the mesh as MSH 4.1 or 2.2 (gmsh -format msh41)",
            )),
            other => {
                return Err(s.err_at_token(format!(
                    "unsupported MSH version '{other}': expected 2.2 or 4.1"
                )))
            }
        };
    let file_type = s.text_i64("the file type (0 for ASCII, 1 for binary)")?;
    let data_size = s.text_i64("the data size")?;
    if data_size != 8 {
        return Err(s.err_at_token(format!(
            "data size {data_size} is not supported: expected 8"
        )));
    }
    let binary = match file_type {
        0 => None,
        1 => {
            s.end_line()?;
            Some(read_endianness(s)?)
        }
        other => {
            return Err(s.err_at_token(format!(
                "file type {other}: expected 0 (ASCII) or 1 (binary)"
            )))
        }
    };
    s.expect("$EndMeshFormat")?;
    s.set_binary(binary);
    Ok(MshFormat { version, binary })
}

fn read_endianness<R: Read>(s: &mut Scanner<R>) -> Result<Endian> {
    let at = Position::Byte(s.offset());
    let one = s.raw_i32(
        Endian::Little,
        "the binary byte-order marker (the integer 1)",
    )?;
    if one == 1 {
        Ok(Endian::Little)
    } else if one.swap_bytes() == 1 {
        Ok(Endian::Big)
    } else {
        Err(s.err_at(
            at,
            format!(
                "binary byte-order marker should be the integer 1, found bytes {:02x?}",
                one.to_le_bytes()
            ),
        ))
    }
}

/// Maps gmsh node tags (any positive integers) to 0-based point indices.
enum NodeIndex {
    /// Tags `min, min + 1, ...` in file order (what gmsh writes): no table.
    Consecutive { min: u64, count: u64 },
    /// Tags within a small range of their count: direct table.
    Dense { min: u64, table: Vec<usize> },
    /// Sparse tags.
    Sparse(HashMap<u64, usize>),
}

impl NodeIndex {
    #[inline]
    fn get(&self, tag: u64) -> Option<usize> {
        match self {
            NodeIndex::Consecutive { min, count } => {
                let i = tag.wrapping_sub(*min);
                (i < *count).then_some(i as usize)
            }
            NodeIndex::Dense { min, table } => {
                let i = tag.checked_sub(*min)?;
                table
                    .get(usize::try_from(i).ok()?)
                    .copied()
                    .filter(|&v| v != usize::MAX)
            }
            NodeIndex::Sparse(map) => map.get(&tag).copied(),
        }
    }
}

/// Accumulates what the sections of a file say, then assembles the mesh.
#[derive(Default)]
struct Builder {
    points: Vec<[f64; 3]>,
    node_tags: Vec<u64>,
    node_index: Option<NodeIndex>,
    blocks: Vec<CellBlock>,
    /// MSH 2.2: the physical tag of each cell, parallel to `blocks[..].entity`.
    physical_v2: Vec<Vec<i32>>,
    names: BTreeMap<(usize, i32), String>,
    /// MSH 4.1: physical tags of each entity `(dim, tag)`.
    entity_physicals: BTreeMap<(usize, i32), Vec<i32>>,
    seen_elements: bool,
    /// Bytes in the input: no section can hold more values than this.
    byte_budget: u64,
}

impl Builder {
    /// Pre-allocation for `count` announced items of at least
    /// `min_bytes` bytes each in the file, and at most 2²⁰ (vectors grow
    /// past it as items come): a sparse file's length says nothing of its
    /// contents (a 64 GiB hole behind a header announcing 2·10⁹ nodes once
    /// asked for 48 GB up front and aborted).
    fn capacity(&self, count: u64, min_bytes: u64) -> usize {
        count.min(self.byte_budget / min_bytes).min(1 << 20) as usize
    }

    fn block_for(&mut self, kind: CellKind) -> usize {
        if let Some(i) = self.blocks.iter().position(|b| b.kind == kind) {
            return i;
        }
        self.blocks.push(CellBlock::new(kind));
        self.physical_v2.push(Vec::new());
        self.blocks.len() - 1
    }

    fn physical_names<R: Read>(&mut self, s: &mut Scanner<R>) -> Result<()> {
        let n = s.text_u64("the number of physical names")?;
        for _ in 0..n {
            let dim = s.text_i64("the dimension of a physical name")?;
            if !(0..=3).contains(&dim) {
                return Err(s.err_at_token(format!("physical dimension {dim}: expected 0 to 3")));
            }
            let tag = s.text_i64("the tag of a physical name")?;
            let tag = i32::try_from(tag)
                .map_err(|_| s.err_at_token(format!("physical tag {tag} is out of range")))?;
            let name = s.quoted("the physical name")?;
            self.names.insert((dim as usize, tag), name);
        }
        s.expect("$EndPhysicalNames")
    }

    fn entities<R: Read>(&mut self, s: &mut Scanner<R>) -> Result<()> {
        if s.is_binary() {
            s.end_line()?;
        }
        let counts = [
            s.size("the number of point entities")?,
            s.size("the number of curve entities")?,
            s.size("the number of surface entities")?,
            s.size("the number of volume entities")?,
        ];
        for (dim, &count) in counts.iter().enumerate() {
            for _ in 0..count {
                let tag = read_i32(s, "an entity tag")?;
                let nbox = if dim == 0 { 3 } else { 6 };
                for _ in 0..nbox {
                    s.float("an entity bounding-box coordinate")?;
                }
                let nphys = s.size("the number of physical tags of an entity")?;
                let mut phys = Vec::with_capacity(self.capacity(nphys, 2));
                for _ in 0..nphys {
                    phys.push(read_i32(s, "a physical tag")?);
                }
                if dim > 0 {
                    let nbound = s.size("the number of bounding entities")?;
                    for _ in 0..nbound {
                        s.int("a bounding entity tag")?;
                    }
                }
                self.entity_physicals.insert((dim, tag), phys);
            }
        }
        s.expect("$EndEntities")
    }

    fn check_first_nodes<R: Read>(&self, s: &Scanner<R>) -> Result<()> {
        if self.node_index.is_some() {
            return Err(s.err_at_token("second $Nodes section"));
        }
        Ok(())
    }

    fn nodes_v4<R: Read>(&mut self, s: &mut Scanner<R>) -> Result<()> {
        self.check_first_nodes(s)?;
        if s.is_binary() {
            s.end_line()?;
        }
        let num_blocks = s.size("the number of node blocks")?;
        let header = header_position(s);
        let num_nodes = s.size("the number of nodes")?;
        s.size("the minimum node tag")?;
        s.size("the maximum node tag")?;
        // A node takes at least 8 bytes of text ("1 0 0 0\n").
        self.points.reserve(self.capacity(num_nodes, 8));
        self.node_tags.reserve(self.capacity(num_nodes, 8));
        for _ in 0..num_blocks {
            let dim = s.int("the entity dimension of a node block")?;
            if !(0..=3).contains(&dim) {
                return Err(s.err(format!(
                    "node block entity dimension {dim}: expected 0 to 3"
                )));
            }
            s.int("the entity tag of a node block")?;
            let parametric = s.int("the parametric flag of a node block")?;
            if parametric != 0 && parametric != 1 {
                return Err(s.err(format!("parametric flag {parametric}: expected 0 or 1")));
            }
            let n = s.size("the number of nodes in a block")?;
            if n > num_nodes - self.node_tags.len() as u64 {
                return Err(s.err(format!(
                    "node blocks hold more nodes than the {num_nodes} the $Nodes header announces"
                )));
            }
            let tags = &mut self.node_tags;
            s.sizes(n, "a node tag", |batch, _| {
                tags.extend_from_slice(batch);
                Ok(())
            })?;
            let width = 3 + if parametric == 1 { dim as usize } else { 0 };
            let points = &mut self.points;
            let mut p = [0.0; 3];
            let mut k = 0;
            // n <= num_nodes, bounded by the buffer-checked reads above.
            let values = n
                .checked_mul(width as u64)
                .ok_or_else(|| s.err(format!("{n} nodes is too many")))?;
            s.floats(values, "a node coordinate", |batch, s| {
                for (i, &c) in batch.iter().enumerate() {
                    if k < 3 {
                        p[k] = c;
                    }
                    k += 1;
                    if k == width {
                        k = 0;
                        if p.iter().any(|c| !c.is_finite()) {
                            return Err(s.err_in_batch(
                                i,
                                8,
                                format!("node coordinates {p:?} are not finite"),
                            ));
                        }
                        points.push(p);
                    }
                }
                Ok(())
            })?;
        }
        if self.node_tags.len() as u64 != num_nodes {
            return Err(s.err_at(
                header,
                format!(
                    "the $Nodes header announces {num_nodes} nodes but its blocks hold {}",
                    self.node_tags.len()
                ),
            ));
        }
        self.index_nodes(s)?;
        s.expect("$EndNodes")
    }

    fn nodes_v2<R: Read>(&mut self, s: &mut Scanner<R>) -> Result<()> {
        self.check_first_nodes(s)?;
        let n = s.text_u64("the number of nodes")?;
        if s.is_binary() {
            s.end_line()?;
        }
        self.points.reserve(self.capacity(n, 8));
        self.node_tags.reserve(self.capacity(n, 8));
        for _ in 0..n {
            let tag = s.int("a node number")?;
            let tag =
                u64::try_from(tag).map_err(|_| s.err(format!("node number {tag} is negative")))?;
            self.node_tags.push(tag);
            let p = read_point(s)?;
            self.points.push(p);
        }
        self.index_nodes(s)?;
        s.expect("$EndNodes")
    }

    fn index_nodes<R: Read>(&mut self, s: &Scanner<R>) -> Result<()> {
        let tags = std::mem::take(&mut self.node_tags);
        let n = tags.len() as u64;
        let (min, max) = tags
            .iter()
            .fold((u64::MAX, 0), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        let duplicate = |t: u64| s.err(format!("node tag {t} appears more than once in $Nodes"));
        let index = if n == 0 {
            NodeIndex::Sparse(HashMap::new())
        } else if tags.iter().enumerate().all(|(i, &t)| t == min + i as u64) {
            NodeIndex::Consecutive { min, count: n }
        } else if max - min < 4 * n + 1024 {
            let mut table = vec![usize::MAX; (max - min + 1) as usize];
            for (i, &t) in tags.iter().enumerate() {
                let slot = &mut table[(t - min) as usize];
                if *slot != usize::MAX {
                    return Err(duplicate(t));
                }
                *slot = i;
            }
            NodeIndex::Dense { min, table }
        } else {
            let mut map = HashMap::with_capacity(tags.len());
            for (i, &t) in tags.iter().enumerate() {
                if map.insert(t, i).is_some() {
                    return Err(duplicate(t));
                }
            }
            NodeIndex::Sparse(map)
        };
        self.node_index = Some(index);
        Ok(())
    }

    fn node<R: Read>(&self, s: &Scanner<R>, tag: i128) -> Result<usize> {
        let index = self
            .node_index
            .as_ref()
            .ok_or_else(|| s.err("$Elements before $Nodes"))?;
        u64::try_from(tag)
            .ok()
            .and_then(|t| index.get(t))
            .ok_or_else(|| {
                s.err(format!(
                    "element refers to node {tag}, which is not in $Nodes"
                ))
            })
    }

    fn check_first_elements<R: Read>(&mut self, s: &Scanner<R>) -> Result<()> {
        if self.seen_elements {
            return Err(s.err_at_token("second $Elements section"));
        }
        if self.node_index.is_none() {
            return Err(s.err_at_token("$Elements before $Nodes"));
        }
        self.seen_elements = true;
        Ok(())
    }

    fn elements_v4<R: Read>(&mut self, s: &mut Scanner<R>) -> Result<()> {
        self.check_first_elements(s)?;
        if s.is_binary() {
            s.end_line()?;
        }
        let num_blocks = s.size("the number of element blocks")?;
        let header = header_position(s);
        let num_elements = s.size("the number of elements")?;
        s.size("the minimum element tag")?;
        s.size("the maximum element tag")?;
        let mut read = 0u64;
        for _ in 0..num_blocks {
            let dim = s.int("the entity dimension of an element block")?;
            let entity = read_i32(s, "the entity tag of an element block")?;
            let ty = s.int("an element type")?;
            let kind = element_kind(s, ty)?;
            if kind.dim() as i64 != dim {
                return Err(s.err(format!(
                    "element block of {kind} cells (dimension {}) on an entity of dimension {dim}",
                    kind.dim()
                )));
            }
            let n = s.size("the number of elements in a block")?;
            read = read.saturating_add(n);
            if read > num_elements {
                return Err(s.err(format!(
                    "element blocks hold more elements than the {num_elements} the $Elements header announces"
                )));
            }
            let bi = self.block_for(kind);
            // Each number of an element takes at least 2 bytes of text.
            let cells = self.capacity(n, 2 * (1 + kind.num_nodes() as u64));
            self.blocks[bi].nodes.reserve(cells * kind.num_nodes());
            self.blocks[bi].entity.reserve(cells);
            let index = self
                .node_index
                .as_ref()
                .ok_or_else(|| s.err("$Elements before $Nodes"))?;
            let block = &mut self.blocks[bi];
            let per = 1 + kind.num_nodes();
            let mut k = 0;
            let values = n
                .checked_mul(per as u64)
                .ok_or_else(|| s.err(format!("{n} elements is too many")))?;
            s.sizes(values, "an element tag or node", |batch, s| {
                // The first value of each element is its tag, then its nodes.
                for (i, &v) in batch.iter().enumerate() {
                    if k > 0 {
                        let node = index.get(v).ok_or_else(|| {
                            s.err_in_batch(
                                i,
                                8,
                                format!("element refers to node {v}, which is not in $Nodes"),
                            )
                        })?;
                        block.nodes.push(node);
                    }
                    k += 1;
                    if k == per {
                        block.entity.push(entity);
                        k = 0;
                    }
                }
                Ok(())
            })?;
        }
        if read != num_elements {
            return Err(s.err_at(
                header,
                format!(
                "the $Elements header announces {num_elements} elements but its blocks hold {read}"
            ),
            ));
        }
        s.expect("$EndElements")
    }

    fn elements_v2<R: Read>(&mut self, s: &mut Scanner<R>) -> Result<()> {
        self.check_first_elements(s)?;
        let n = s.text_u64("the number of elements")?;
        let binary = s.is_binary();
        if binary {
            s.end_line()?;
        }
        // Binary files group elements under headers (type, count, number of tags).
        let (mut header_left, mut header_type, mut header_ntags) = (0i64, 0i64, 0i64);
        let mut nodes = Vec::with_capacity(16);
        let mut tags = Vec::with_capacity(4);
        for _ in 0..n {
            if binary && header_left == 0 {
                header_type = s.int("the element type of a binary element header")?;
                header_left = s.int("the element count of a binary element header")?;
                header_ntags = s.int("the number of tags of a binary element header")?;
                if header_left <= 0 {
                    return Err(s.err(format!("binary element header with {header_left} elements")));
                }
            }
            s.int("an element number")?;
            let (ty, ntags) = if binary {
                header_left -= 1;
                (header_type, header_ntags)
            } else {
                (
                    s.int("an element type")?,
                    s.int("the number of element tags")?,
                )
            };
            let kind = element_kind(s, ty)?;
            if !(0..=64).contains(&ntags) {
                return Err(s.err(format!("{ntags} element tags: expected 0 to 64")));
            }
            tags.clear();
            for _ in 0..ntags {
                tags.push(read_i32(s, "an element tag")?);
            }
            nodes.clear();
            for _ in 0..kind.num_nodes() {
                let tag = s.int("a node number of an element")?;
                nodes.push(self.node(s, tag as i128)?);
            }
            // tags[0] is the physical group, tags[1] the elementary entity.
            let physical = tags.first().copied().unwrap_or(0);
            let entity = tags.get(1).copied().unwrap_or(physical);
            let bi = self.block_for(kind);
            self.blocks[bi].push(&nodes, entity);
            self.physical_v2[bi].push(physical);
        }
        if binary && header_left != 0 {
            return Err(s.err(format!(
                "a binary element header announces {header_left} more elements than the section holds"
            )));
        }
        s.expect("$EndElements")
    }

    /// MSH 2.2 has no entities section: physical membership is per element.
    /// When each entity carries a single physical tag, the file's entities are
    /// kept; otherwise one entity per (physical, elementary) pair is made.
    fn entities_from_v2(&mut self) {
        let mut pairs: BTreeMap<(usize, i32), BTreeSet<i32>> = BTreeMap::new();
        for (b, phys) in self.blocks.iter().zip(&self.physical_v2) {
            for (&e, &p) in b.entity.iter().zip(phys) {
                pairs.entry((b.kind.dim(), e)).or_default().insert(p);
            }
        }
        let consistent = pairs.values().all(|p| p.len() == 1);
        if !consistent {
            let mut synthetic: BTreeMap<(usize, i32, i32), i32> = BTreeMap::new();
            for (b, phys) in self.blocks.iter_mut().zip(&self.physical_v2) {
                let dim = b.kind.dim();
                for (e, &p) in b.entity.iter_mut().zip(phys) {
                    let next = synthetic.len() as i32 + 1;
                    *e = *synthetic.entry((dim, p, *e)).or_insert(next);
                }
            }
            pairs = synthetic
                .into_iter()
                .map(|((d, p, _), e)| ((d, e), BTreeSet::from([p])))
                .collect();
        }
        for ((dim, entity), phys) in pairs {
            let phys: Vec<i32> = phys.into_iter().filter(|&p| p != 0).collect();
            self.entity_physicals.insert((dim, entity), phys);
        }
    }

    fn finish<R: Read>(mut self, s: &Scanner<R>) -> Result<Mesh> {
        let invalid = |message: &str| MeshError::Invalid {
            path: s.path().to_path_buf(),
            message: message.to_string(),
        };
        if self.node_index.is_none() {
            return Err(invalid("the file has no $Nodes section"));
        }
        if !self.seen_elements {
            return Err(invalid("the file has no $Elements section"));
        }
        if self.physical_v2.iter().any(|p| !p.is_empty()) {
            self.entities_from_v2();
        }
        let mut groups: BTreeMap<(usize, i32), PhysicalGroup> = BTreeMap::new();
        let keys = self.names.keys().map(|&k| (k, None));
        let members = self
            .entity_physicals
            .iter()
            .flat_map(|(&(dim, entity), phys)| phys.iter().map(move |&p| ((dim, p), Some(entity))));
        for ((dim, tag), entity) in keys.chain(members) {
            let g = groups.entry((dim, tag)).or_insert_with(|| PhysicalGroup {
                name: self
                    .names
                    .get(&(dim, tag))
                    .cloned()
                    .unwrap_or_else(|| tag.to_string()),
                dim,
                tag,
                entities: Vec::new(),
            });
            g.entities.extend(entity);
        }
        let mesh = Mesh::new(self.points, self.blocks, groups.into_values().collect());
        mesh.validate().map_err(|e| invalid(&e.to_string()))?;
        Ok(mesh)
    }
}

/// Position of a section header just read (its first value, in binary).
fn header_position<R: Read>(s: &Scanner<R>) -> Position {
    match s.token_position() {
        Position::Byte(_) => Position::Byte(s.offset() - 8),
        line => line,
    }
}

fn read_i32<R: Read>(s: &mut Scanner<R>, what: &str) -> Result<i32> {
    let v = s.int(what)?;
    i32::try_from(v).map_err(|_| s.err(format!("{what} {v} is out of range")))
}

fn read_point<R: Read>(s: &mut Scanner<R>) -> Result<[f64; 3]> {
    let p = [
        s.float("a node x coordinate")?,
        s.float("a node y coordinate")?,
        s.float("a node z coordinate")?,
    ];
    if p.iter().any(|c| !c.is_finite()) {
        return Err(s.err(format!("node coordinates {p:?} are not finite")));
    }
    Ok(p)
}

fn element_kind<R: Read>(s: &Scanner<R>, code: i64) -> Result<CellKind> {
    i32::try_from(code)
        .ok()
        .and_then(CellKind::from_gmsh_type)
        .ok_or_else(|| {
            let supported: Vec<&str> = ALL_KINDS.iter().map(|k| k.name()).collect();
            let desc = i32::try_from(code).map_or("unknown element type", gmsh_type_description);
            s.err(format!(
                "element type {code} ({desc}) is not supported; supported kinds: {}",
                supported.join(", ")
            ))
        })
}
