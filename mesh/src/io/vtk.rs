//! VTK output for ParaView: `.vtu` unstructured grids with raw appended
//! binary data (optionally zlib-compressed) and `.pvd` time-series collections.
//!
//! Files are written to a temporary name and renamed into place, so a reader
//! (or a crash) never sees a half-written file, and a `.pvd` is rewritten
//! after every step so an interrupted run leaves a valid collection of the
//! steps done.
//!
//! ```
//! use pde_mesh::{generate, CellKind, io::vtk::{self, DataArray, VtuOptions}};
//! let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [4, 4], CellKind::Tri3).unwrap();
//! let u: Vec<f64> = mesh.points.iter().map(|p| p[0] * p[1]).collect();
//! let dir = tempfile::tempdir().unwrap();
//! let file = dir.path().join("u.vtu");
//! vtk::write_vtu(&file, &mesh, &[DataArray::scalars("u", &u)], &[], &VtuOptions::default()).unwrap();
//! let mut series = vtk::PvdWriter::new(dir.path().join("u.pvd"));
//! series.push(0.0, &file).unwrap();
//! ```

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::write::ZlibEncoder;

use crate::error::{MeshError, Result};
use crate::mesh::Mesh;

/// Values of a data array.
#[derive(Clone, Copy, Debug)]
pub enum Values<'a> {
    /// 64-bit floats.
    F64(&'a [f64]),
    /// 32-bit integers (tags, counts).
    I32(&'a [i32]),
}

impl Values<'_> {
    fn len(&self) -> usize {
        match self {
            Values::F64(v) => v.len(),
            Values::I32(v) => v.len(),
        }
    }
}

/// A named point or cell data array; `components` values per point/cell,
/// interleaved (`[u0x, u0y, u0z, u1x, ...]`). Use 3 components for vectors so
/// that ParaView can draw glyphs and streamlines.
#[derive(Clone, Copy, Debug)]
pub struct DataArray<'a> {
    /// Array name shown in ParaView.
    pub name: &'a str,
    /// Values per point (or cell).
    pub components: usize,
    /// The values.
    pub values: Values<'a>,
}

impl<'a> DataArray<'a> {
    /// A scalar field.
    pub fn scalars(name: &'a str, values: &'a [f64]) -> Self {
        DataArray {
            name,
            components: 1,
            values: Values::F64(values),
        }
    }

    /// A vector field with `components` values per entry.
    pub fn vectors(name: &'a str, components: usize, values: &'a [f64]) -> Self {
        DataArray {
            name,
            components,
            values: Values::F64(values),
        }
    }

    /// An integer scalar field.
    pub fn integers(name: &'a str, values: &'a [i32]) -> Self {
        DataArray {
            name,
            components: 1,
            values: Values::I32(values),
        }
    }
}

/// Which cells go into the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CellSelection {
    /// Only the domain cells (dimension [`Mesh::dim`]); cell data is per domain cell.
    #[default]
    Domain,
    /// Every cell block, boundary and point cells included, in block order.
    All,
}

/// Options of [`write_vtu`].
#[derive(Clone, Copy, Debug)]
pub struct VtuOptions {
    /// zlib level 0-9 (`None` writes uncompressed raw data).
    pub compression: Option<u32>,
    /// Which cells to write.
    pub cells: CellSelection,
}

impl Default for VtuOptions {
    fn default() -> Self {
        VtuOptions {
            compression: Some(1),
            cells: CellSelection::Domain,
        }
    }
}

/// Number of cells that [`write_vtu`] writes for a selection (the length
/// cell data arrays must have).
pub fn selected_cells(mesh: &Mesh, cells: CellSelection) -> usize {
    selected_blocks(mesh, cells)
        .map(|b| mesh.blocks[b].len())
        .sum()
}

fn selected_blocks(mesh: &Mesh, cells: CellSelection) -> impl Iterator<Item = usize> + '_ {
    let dim = mesh.dim();
    (0..mesh.blocks.len())
        .filter(move |&b| cells == CellSelection::All || mesh.blocks[b].kind.dim() == dim)
}

/// Uncompressed block size of compressed arrays (VTK's header counts blocks).
const BLOCK: usize = 1 << 20;

/// Encodes one array as VTK appended data: a UInt64 byte count followed by
/// the bytes, or the zlib block header followed by compressed blocks.
fn encode(raw: &[u8], compression: Option<u32>) -> Vec<u8> {
    let Some(level) = compression else {
        let mut out = Vec::with_capacity(raw.len() + 8);
        out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
        out.extend_from_slice(raw);
        return out;
    };
    let blocks: Vec<Vec<u8>> = raw
        .chunks(BLOCK)
        .map(|chunk| {
            let mut z = ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
            // Writing into a Vec cannot fail.
            z.write_all(chunk).expect("in-memory compression");
            z.finish().expect("in-memory compression")
        })
        .collect();
    let mut out = Vec::new();
    let header = [
        blocks.len() as u64,
        BLOCK as u64,
        (raw.len() % BLOCK) as u64,
    ];
    for h in header
        .into_iter()
        .chain(blocks.iter().map(|b| b.len() as u64))
    {
        out.extend_from_slice(&h.to_le_bytes());
    }
    for b in &blocks {
        out.extend_from_slice(b);
    }
    out
}

fn f64_bytes(v: impl Iterator<Item = f64>) -> Vec<u8> {
    v.flat_map(f64::to_le_bytes).collect()
}

fn i64_bytes(v: impl Iterator<Item = i64>) -> Vec<u8> {
    v.flat_map(i64::to_le_bytes).collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// renamed into place when complete.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_name(path);
    let result = File::create(&tmp).and_then(|f| {
        let mut w = BufWriter::with_capacity(1 << 20, f);
        write(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    match result.and_then(|()| fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(MeshError::io(path, e))
        }
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.partial", std::process::id()));
    path.with_file_name(name)
}

/// Writes the mesh and its data as a `.vtu` file.
///
/// Point data arrays need `components * num_points` values; cell data arrays
/// `components * selected_cells(mesh, options.cells)` values.
pub fn write_vtu(
    path: impl AsRef<Path>,
    mesh: &Mesh,
    point_data: &[DataArray],
    cell_data: &[DataArray],
    options: &VtuOptions,
) -> Result<()> {
    let path = path.as_ref();
    let num_points = mesh.num_points();
    let num_cells = selected_cells(mesh, options.cells);
    for (arrays, count, what) in [
        (point_data, num_points, "point"),
        (cell_data, num_cells, "cell"),
    ] {
        for a in arrays {
            if a.components == 0 || a.values.len() != a.components * count {
                return Err(MeshError::Argument(format!(
                    "{what} data '{}' has {} values; expected {} ({} components x {count} {what}s)",
                    a.name,
                    a.values.len(),
                    a.components * count,
                    a.components
                )));
            }
        }
    }

    let blocks: Vec<usize> = selected_blocks(mesh, options.cells).collect();
    let points = f64_bytes(mesh.points.iter().flatten().copied());
    let connectivity = i64_bytes(blocks.iter().flat_map(|&b| {
        let block = &mesh.blocks[b];
        let order = block.kind.vtk_node_order();
        block
            .cells()
            .flat_map(move |c| (0..c.len()).map(move |k| c[order.map_or(k, |o| o[k])] as i64))
    }));
    let offsets = i64_bytes(
        blocks
            .iter()
            .flat_map(|&b| {
                std::iter::repeat_n(mesh.blocks[b].kind.num_nodes(), mesh.blocks[b].len())
            })
            .scan(0i64, |acc, n| {
                *acc += n as i64;
                Some(*acc)
            }),
    );
    let types: Vec<u8> = blocks
        .iter()
        .flat_map(|&b| std::iter::repeat_n(mesh.blocks[b].kind.vtk_type(), mesh.blocks[b].len()))
        .collect();

    let mut xml = String::new();
    let mut appended: Vec<Vec<u8>> = Vec::new();
    let mut offset = 0usize;
    let mut array = |xml: &mut String, ty: &str, name: Option<&str>, comps: usize, raw: &[u8]| {
        let data = encode(raw, options.compression);
        let name = name
            .map(|n| format!(" Name=\"{}\"", escape(n)))
            .unwrap_or_default();
        let _ = writeln!(
            xml,
            "        <DataArray type=\"{ty}\"{name} NumberOfComponents=\"{comps}\" format=\"appended\" offset=\"{offset}\"/>"
        );
        offset += data.len();
        appended.push(data);
    };
    let compressor = match options.compression {
        Some(_) => " compressor=\"vtkZLibDataCompressor\"",
        None => "",
    };
    let _ = writeln!(xml, "<?xml version=\"1.0\"?>");
    let _ = writeln!(
        xml,
        "<VTKFile type=\"UnstructuredGrid\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\"{compressor}>"
    );
    let _ = writeln!(xml, "  <UnstructuredGrid>");
    let _ = writeln!(
        xml,
        "    <Piece NumberOfPoints=\"{num_points}\" NumberOfCells=\"{num_cells}\">"
    );
    for (tag, arrays) in [("PointData", point_data), ("CellData", cell_data)] {
        let _ = writeln!(xml, "      <{tag}>");
        for a in arrays {
            let (ty, raw) = match a.values {
                Values::F64(v) => ("Float64", f64_bytes(v.iter().copied())),
                Values::I32(v) => ("Int32", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            };
            array(&mut xml, ty, Some(a.name), a.components, &raw);
        }
        let _ = writeln!(xml, "      </{tag}>");
    }
    let _ = writeln!(xml, "      <Points>");
    array(&mut xml, "Float64", Some("Points"), 3, &points);
    let _ = writeln!(xml, "      </Points>");
    let _ = writeln!(xml, "      <Cells>");
    array(&mut xml, "Int64", Some("connectivity"), 1, &connectivity);
    array(&mut xml, "Int64", Some("offsets"), 1, &offsets);
    array(&mut xml, "UInt8", Some("types"), 1, &types);
    let _ = writeln!(xml, "      </Cells>");
    let _ = writeln!(xml, "    </Piece>");
    let _ = writeln!(xml, "  </UnstructuredGrid>");
    let _ = write!(xml, "  <AppendedData encoding=\"raw\">\n   _");

    write_atomically(path, |w| {
        w.write_all(xml.as_bytes())?;
        for a in &appended {
            w.write_all(a)?;
        }
        w.write_all(b"\n  </AppendedData>\n</VTKFile>\n")
    })
}

/// A `.pvd` collection: a time series of `.vtu` files that ParaView opens as
/// one dataset with a time axis. The file is rewritten (atomically) on every
/// [`PvdWriter::push`], so it is always valid.
#[derive(Clone, Debug)]
pub struct PvdWriter {
    path: PathBuf,
    entries: Vec<(f64, String)>,
}

impl PvdWriter {
    /// A new, empty series to be written at `path`. Nothing is written until
    /// the first [`PvdWriter::push`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        PvdWriter {
            path: path.into(),
            entries: Vec::new(),
        }
    }

    /// Path of the `.pvd` file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `(time, file)` entries so far, files relative to the `.pvd`.
    pub fn entries(&self) -> &[(f64, String)] {
        &self.entries
    }

    /// Adds a step (a `.vtu` already written) at physical time `time` and
    /// rewrites the collection.
    pub fn push(&mut self, time: f64, vtu: impl AsRef<Path>) -> Result<()> {
        let vtu = vtu.as_ref();
        let dir = self.path.parent().unwrap_or(Path::new(""));
        let rel = vtu.strip_prefix(dir).unwrap_or(vtu);
        self.entries
            .push((time, rel.to_string_lossy().into_owned()));
        self.write()
    }

    /// A series at `path` with these `(time, file)` entries (files relative
    /// to the `.pvd`), written now: a run continued from a checkpoint goes
    /// on from the entries it had then.
    pub fn with_entries(path: impl Into<PathBuf>, entries: Vec<(f64, String)>) -> Result<Self> {
        let pvd = PvdWriter {
            path: path.into(),
            entries,
        };
        pvd.write()?;
        Ok(pvd)
    }

    fn write(&self) -> Result<()> {
        let mut xml = String::from(
            "<?xml version=\"1.0\"?>\n<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n  <Collection>\n",
        );
        for (t, file) in &self.entries {
            let _ = writeln!(
                xml,
                "    <DataSet timestep=\"{t:e}\" group=\"\" part=\"0\" file=\"{}\"/>",
                escape(file)
            );
        }
        xml.push_str("  </Collection>\n</VTKFile>\n");
        write_atomically(&self.path, |w| w.write_all(xml.as_bytes()))
    }
}
