//! Where a mesh comes from: a file (`.msh`), a `.geo` meshed through the gmsh
//! SDK (feature `gmsh`), or a structured generator.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use pde_mesh::{generate, CellKind, Mesh};
use serde::Deserialize;

/// A mesh description, as written in a case file under `mesh:`.
///
/// ```
/// # use pde_engine::mesh_source::MeshSource;
/// let src: MeshSource = serde_saphyr::from_str(
///     "generate: {shape: rectangle, min: [0, 0], max: [2, 1], cells: [8, 4], kind: quad4}",
/// ).unwrap();
/// let mesh = src.load(std::path::Path::new(".")).unwrap();
/// assert_eq!(mesh.num_cells_of_dim(2), 32);
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum MeshSource {
    /// A gmsh `.msh` file (MSH 2.2 or 4.1), relative to the case file.
    File(PathBuf),
    /// A gmsh `.geo` file meshed on the fly (needs the `gmsh` feature).
    Geo(GeoSource),
    /// A structured mesh.
    Generate(Generator),
}

/// A `.geo` file and how to mesh it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GeoSource {
    /// The `.geo` file, relative to the case file.
    pub path: PathBuf,
    /// Element order: 1 (straight) or 2 (curved, quadratic). Default 1.
    #[serde(default = "one")]
    pub order: usize,
    /// Multiplies every mesh size (0.5 halves the cells' size). Default 1.
    #[serde(default = "one_f64")]
    pub size_factor: f64,
    /// Values for the file's `DefineConstant` parameters (e.g. `level: 2`).
    #[serde(default)]
    pub parameters: BTreeMap<String, f64>,
}

fn one() -> usize {
    1
}

fn one_f64() -> f64 {
    1.0
}

/// Shapes the structured generator makes.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A rectangle (2D).
    Rectangle,
    /// A box (3D).
    Box,
}

/// A structured mesh of a rectangle or box.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Generator {
    /// `rectangle` or `box`.
    pub shape: Shape,
    /// Lower corner.
    pub min: Vec<f64>,
    /// Upper corner.
    pub max: Vec<f64>,
    /// Cells along each axis.
    pub cells: Vec<usize>,
    /// Cell kind: `tri3`/`quad4` for rectangles, `tet4`/`hex8` for boxes.
    pub kind: String,
}

impl MeshSource {
    /// Loads or makes the mesh; relative paths are taken from `base` (the
    /// directory of the case file).
    pub fn load(&self, base: &Path) -> Result<Mesh> {
        match self {
            MeshSource::File(p) => read_mesh_file(&base.join(p)),
            MeshSource::Geo(g) => mesh_geo(base, g),
            MeshSource::Generate(g) => g.make(),
        }
    }
}

/// The most points `mesh: {generate: ...}` makes (about 3 GB of mesh with
/// its topology).
const MAX_GENERATED_POINTS: u128 = 50_000_000;

impl Generator {
    fn make(&self) -> Result<Mesh> {
        let kind = match self.kind.as_str() {
            "tri3" => CellKind::Tri3,
            "quad4" => CellKind::Quad4,
            "tet4" => CellKind::Tet4,
            "hex8" => CellKind::Hex8,
            other => bail!("mesh.generate.kind: unknown cell kind '{other}'; expected tri3, quad4, tet4 or hex8"),
        };
        let dim = match self.shape {
            Shape::Rectangle => 2,
            Shape::Box => 3,
        };
        for (key, len) in [
            ("min", self.min.len()),
            ("max", self.max.len()),
            ("cells", self.cells.len()),
        ] {
            if len != dim {
                bail!(
                    "mesh.generate.{key}: a {:?} needs {dim} values, found {len}",
                    self.shape
                );
            }
        }
        // Refused before any allocation: a mesh this large would not fit
        // in memory (and the product may not even fit in a usize).
        let points = self
            .cells
            .iter()
            .try_fold(1u128, |n, &c| n.checked_mul(c as u128 + 1));
        if points.is_none_or(|n| n > MAX_GENERATED_POINTS) {
            bail!(
                "mesh.generate.cells: {:?} makes more than {MAX_GENERATED_POINTS} points; \
                 use a gmsh mesh file for meshes this large",
                self.cells
            );
        }
        let mesh = match self.shape {
            Shape::Rectangle => generate::rectangle(
                [self.min[0], self.min[1]],
                [self.max[0], self.max[1]],
                [self.cells[0], self.cells[1]],
                kind,
            ),
            Shape::Box => generate::cuboid(
                [self.min[0], self.min[1], self.min[2]],
                [self.max[0], self.max[1], self.max[2]],
                [self.cells[0], self.cells[1], self.cells[2]],
                kind,
            ),
        };
        mesh.context("mesh.generate")
    }
}

/// Reads a mesh file, choosing the reader by extension.
pub fn read_mesh_file(path: &Path) -> Result<Mesh> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("msh") => Ok(pde_mesh::io::gmsh::read(path)?),
        Some("geo") => mesh_geo(
            Path::new(""),
            &GeoSource {
                path: path.to_path_buf(),
                order: 1,
                size_factor: 1.0,
                parameters: BTreeMap::new(),
            },
        ),
        _ => bail!(
            "{}: unknown mesh format; expected a gmsh .msh file (or a .geo with the gmsh feature)",
            path.display()
        ),
    }
}

#[cfg(feature = "gmsh")]
fn mesh_geo(base: &Path, g: &GeoSource) -> Result<Mesh> {
    use pde_mesh::io::gmsh::sdk::{mesh_geo, GeoOptions};
    let options = GeoOptions {
        dim: None,
        order: g.order,
        size_factor: g.size_factor,
        parameters: g
            .parameters
            .iter()
            .map(|(k, v)| (format!("Parameters/{k}"), *v))
            .collect(),
    };
    Ok(mesh_geo(base.join(&g.path), &options)?)
}

#[cfg(not(feature = "gmsh"))]
fn mesh_geo(base: &Path, g: &GeoSource) -> Result<Mesh> {
    bail!(
        "{}: meshing .geo files needs the gmsh SDK: rebuild with `--features gmsh` \
         (Debian package libgmsh-dev), or mesh it first: gmsh {} -2 -format msh41 -o mesh.msh",
        base.join(&g.path).display(),
        g.path.display()
    )
}
