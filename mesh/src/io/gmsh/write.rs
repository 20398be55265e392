//! Writing `.msh` files (MSH 4.1 or 2.2, text or binary in either byte order).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;

use super::{Endian, MshFormat, MshVersion};
use crate::error::Result;
use crate::io::vtk::write_atomically;
use crate::mesh::Mesh;

/// Emits values as text (space-separated) or as binary in a byte order.
struct Out<'w, W: Write> {
    w: &'w mut W,
    binary: Option<Endian>,
}

impl<W: Write> Out<'_, W> {
    fn text(&mut self, s: &str) -> io::Result<()> {
        self.w.write_all(s.as_bytes())
    }

    fn bytes<const N: usize>(
        &mut self,
        le: [u8; N],
        be: [u8; N],
        text: impl std::fmt::Display,
    ) -> io::Result<()> {
        match self.binary {
            None => write!(self.w, "{text} "),
            Some(Endian::Little) => self.w.write_all(&le),
            Some(Endian::Big) => self.w.write_all(&be),
        }
    }

    fn int(&mut self, v: i32) -> io::Result<()> {
        self.bytes(v.to_le_bytes(), v.to_be_bytes(), v)
    }

    fn size(&mut self, v: u64) -> io::Result<()> {
        self.bytes(v.to_le_bytes(), v.to_be_bytes(), v)
    }

    fn float(&mut self, v: f64) -> io::Result<()> {
        // `{:?}` prints the shortest text that reads back to the same f64.
        self.bytes(v.to_le_bytes(), v.to_be_bytes(), format!("{v:?}"))
    }

    /// Closes a section: binary data is followed by a newline first.
    fn end_section(&mut self, name: &str) -> io::Result<()> {
        let newline = if self.binary.is_some() { "\n" } else { "" };
        writeln!(self.w, "{newline}$End{name}")
    }

    /// Ends a text record; nothing in binary.
    fn end(&mut self) -> io::Result<()> {
        match self.binary {
            None => self.w.write_all(b"\n"),
            Some(_) => Ok(()),
        }
    }
}

/// Writes `mesh` to `path` in the given format. Node tags are `1..=n` in
/// point order; each cell's entity and the physical groups are kept, so
/// reading the file back gives the same mesh.
pub fn write(path: impl AsRef<Path>, mesh: &Mesh, format: MshFormat) -> Result<()> {
    write_atomically(path.as_ref(), |w| write_to(w, mesh, format))
}

/// Writes `mesh` in MSH format to any writer.
pub fn write_to<W: Write>(w: &mut W, mesh: &Mesh, format: MshFormat) -> io::Result<()> {
    let version = match format.version {
        MshVersion::V2 => "2.2",
        MshVersion::V4 => "4.1",
    };
    writeln!(
        w,
        "$MeshFormat\n{version} {} 8",
        u8::from(format.binary.is_some())
    )?;
    let mut out = Out {
        w,
        binary: format.binary,
    };
    if out.binary.is_some() {
        out.int(1)?;
        out.text("\n")?;
    }
    out.text("$EndMeshFormat\n")?;
    if !mesh.groups.is_empty() {
        writeln!(out.w, "$PhysicalNames\n{}", mesh.groups.len())?;
        for g in &mesh.groups {
            writeln!(
                out.w,
                "{} {} \"{}\"",
                g.dim,
                g.tag,
                g.name.replace('"', "'")
            )?;
        }
        out.text("$EndPhysicalNames\n")?;
    }
    match format.version {
        MshVersion::V4 => write_v4(&mut out, mesh)?,
        MshVersion::V2 => write_v2(&mut out, mesh)?,
    }
    Ok(())
}

/// The entities used by cells, by dimension, with their physical tags.
fn entities(mesh: &Mesh) -> [BTreeMap<i32, Vec<i32>>; 4] {
    let mut e: [BTreeMap<i32, Vec<i32>>; 4] = Default::default();
    for b in &mesh.blocks {
        for &t in &b.entity {
            e[b.kind.dim()].entry(t).or_default();
        }
    }
    for g in &mesh.groups {
        for t in &g.entities {
            if let Some(phys) = e[g.dim].get_mut(t) {
                phys.push(g.tag);
            }
        }
    }
    e
}

fn write_v4<W: Write>(out: &mut Out<W>, mesh: &Mesh) -> io::Result<()> {
    let ents = entities(mesh);
    out.text("$Entities\n")?;
    for d in &ents {
        out.size(d.len() as u64)?;
    }
    out.end()?;
    for (dim, d) in ents.iter().enumerate() {
        for (&tag, phys) in d {
            out.int(tag)?;
            // Bounding boxes are informative only; write the mesh's.
            let (lo, hi) = mesh.bounding_box().unwrap_or(([0.0; 3], [0.0; 3]));
            let corners = if dim == 0 { 3 } else { 6 };
            for c in lo.iter().chain(&hi).take(corners) {
                out.float(*c)?;
            }
            out.size(phys.len() as u64)?;
            for &p in phys {
                out.int(p)?;
            }
            if dim > 0 {
                out.size(0)?;
            }
            out.end()?;
        }
    }
    out.end_section("Entities")?;

    // All nodes in one block on the first domain entity.
    let n = mesh.num_points() as u64;
    let dim = mesh.dim();
    let host = ents[dim].keys().next().copied().unwrap_or(0);
    out.text("$Nodes\n")?;
    for v in [u64::from(n > 0), n, n.min(1), n] {
        out.size(v)?;
    }
    out.end()?;
    if n > 0 {
        out.int(dim as i32)?;
        out.int(host)?;
        out.int(0)?;
        out.size(n)?;
        out.end()?;
        for t in 1..=n {
            out.size(t)?;
            out.end()?;
        }
        for p in &mesh.points {
            for &c in p {
                out.float(c)?;
            }
            out.end()?;
        }
    }
    out.end_section("Nodes")?;

    // One element block per run of consecutive cells on the same entity,
    // so that cells keep their order.
    let mut runs: Vec<(usize, i32, std::ops::Range<usize>)> = Vec::new();
    for (bi, b) in mesh.blocks.iter().enumerate() {
        for (i, &e) in b.entity.iter().enumerate() {
            match runs.last_mut() {
                Some((rb, re, r)) if *rb == bi && *re == e => r.end = i + 1,
                _ => runs.push((bi, e, i..i + 1)),
            }
        }
    }
    let total: usize = mesh.blocks.iter().map(|b| b.len()).sum();
    out.text("$Elements\n")?;
    for v in [
        runs.len() as u64,
        total as u64,
        u64::from(total > 0),
        total as u64,
    ] {
        out.size(v)?;
    }
    out.end()?;
    let mut tag = 0u64;
    for (bi, entity, cells) in runs {
        let b = &mesh.blocks[bi];
        out.int(b.kind.dim() as i32)?;
        out.int(entity)?;
        out.int(b.kind.gmsh_type())?;
        out.size(cells.len() as u64)?;
        out.end()?;
        for i in cells {
            tag += 1;
            out.size(tag)?;
            for &v in b.cell(i) {
                out.size(v as u64 + 1)?;
            }
            out.end()?;
        }
    }
    out.end_section("Elements")
}

fn write_v2<W: Write>(out: &mut Out<W>, mesh: &Mesh) -> io::Result<()> {
    let ents = entities(mesh);
    writeln!(out.w, "$Nodes\n{}", mesh.num_points())?;
    for (i, p) in mesh.points.iter().enumerate() {
        out.int(i as i32 + 1)?;
        for &c in p {
            out.float(c)?;
        }
        out.end()?;
    }
    out.end_section("Nodes")?;
    let total: usize = mesh.blocks.iter().map(|b| b.len()).sum();
    writeln!(out.w, "$Elements\n{total}")?;
    let mut tag = 0;
    for b in &mesh.blocks {
        if out.binary.is_some() && !b.is_empty() {
            // Header: type, count, number of tags (physical, elementary).
            out.int(b.kind.gmsh_type())?;
            out.int(b.len() as i32)?;
            out.int(2)?;
        }
        for (i, &e) in b.entity.iter().enumerate() {
            tag += 1;
            out.int(tag)?;
            if out.binary.is_none() {
                out.int(b.kind.gmsh_type())?;
                out.int(2)?;
            }
            // MSH 2.2 holds one physical tag per element: the first group's.
            let phys = ents[b.kind.dim()]
                .get(&e)
                .and_then(|p| p.first())
                .copied()
                .unwrap_or(0);
            out.int(phys)?;
            out.int(e)?;
            for &v in b.cell(i) {
                out.int(v as i32 + 1)?;
            }
            out.end()?;
        }
    }
    out.end_section("Elements")
}
