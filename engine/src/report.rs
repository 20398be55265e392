//! The mesh summary behind `pde-engine mesh info`: counts, groups, bounding
//! box, quality and boundary coverage, as text or stable JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use pde_mesh::{quality, Mesh};
use serde::Serialize;

/// One physical group in a [`MeshReport`].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GroupReport {
    /// Group name.
    pub name: String,
    /// Dimension.
    pub dim: usize,
    /// Physical tag.
    pub tag: i32,
    /// Number of geometric entities in the group.
    pub entities: usize,
    /// Number of mesh cells in the group.
    pub cells: usize,
}

/// Bounding box of the points.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BoundingBox {
    /// Lower corner.
    pub min: [f64; 3],
    /// Upper corner.
    pub max: [f64; 3],
}

/// Quality of the domain cells (see `pde_mesh::quality` for definitions).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct QualityReport {
    /// Domain cells.
    pub cells: usize,
    /// Sum of signed measures (length, area or volume of the domain).
    pub total_measure: f64,
    /// Smallest cell measure.
    pub min_measure: f64,
    /// Largest cell measure.
    pub max_measure: f64,
    /// Smallest angle, degrees.
    pub min_angle: f64,
    /// Largest angle, degrees.
    pub max_angle: f64,
    /// Largest aspect ratio (1 ideal).
    pub max_aspect_ratio: f64,
    /// Inverted cells.
    pub inverted: usize,
}

/// Boundary coverage: facets of the domain on its boundary, and how many of
/// them no physical group covers (boundary conditions cannot reach those).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BoundaryReport {
    /// Boundary facets.
    pub facets: usize,
    /// Boundary facets not in any physical group.
    pub untagged: usize,
}

/// Everything `mesh info` reports. The JSON form (`--json`) is stable: keys
/// are only ever added.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct MeshReport {
    /// The file read.
    pub file: String,
    /// The file format (`MSH 4.1 binary (little-endian)`, ...).
    pub format: String,
    /// Topological dimension of the domain.
    pub dim: usize,
    /// Number of points.
    pub points: usize,
    /// Cell counts by kind (`tri3`, `line2`, ...).
    pub cells: BTreeMap<String, usize>,
    /// Physical groups.
    pub physical_groups: Vec<GroupReport>,
    /// Bounding box (absent for a mesh without points).
    pub bounding_box: Option<BoundingBox>,
    /// Quality of the domain cells.
    pub quality: QualityReport,
    /// Boundary coverage (absent if the topology is inconsistent).
    pub boundary: Option<BoundaryReport>,
    /// Topology problem, if any (e.g. a facet shared by three cells).
    pub topology_error: Option<String>,
}

impl MeshReport {
    /// Examines `mesh`, read from `file` in `format`.
    pub fn new(mesh: &Mesh, file: &str, format: &str) -> MeshReport {
        let cells = mesh
            .blocks
            .iter()
            .map(|b| (b.kind.name().to_string(), b.len()))
            .collect();
        let physical_groups = mesh
            .groups
            .iter()
            .map(|g| GroupReport {
                name: g.name.clone(),
                dim: g.dim,
                tag: g.tag,
                entities: g.entities.len(),
                cells: mesh.cells_of(g).len(),
            })
            .collect();
        let q = quality::summary(mesh);
        let (boundary, topology_error) = match boundary_coverage(mesh) {
            Ok(b) => (Some(b), None),
            Err(e) => (None, Some(e.to_string())),
        };
        MeshReport {
            file: file.to_string(),
            format: format.to_string(),
            dim: mesh.dim(),
            points: mesh.num_points(),
            cells,
            physical_groups,
            bounding_box: mesh
                .bounding_box()
                .map(|(min, max)| BoundingBox { min, max }),
            quality: QualityReport {
                cells: q.cells,
                total_measure: q.total_measure,
                min_measure: q.min_measure,
                max_measure: q.max_measure,
                min_angle: q.min_angle,
                max_angle: q.max_angle,
                max_aspect_ratio: q.max_aspect_ratio,
                inverted: q.inverted,
            },
            boundary,
            topology_error,
        }
    }

    /// Human-readable text.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "file        {} ({})", self.file, self.format);
        let _ = writeln!(s, "dimension   {}", self.dim);
        let _ = writeln!(s, "points      {}", self.points);
        let cells: Vec<String> = self
            .cells
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        let _ = writeln!(s, "cells       {}", cells.join(", "));
        if let Some(b) = &self.bounding_box {
            let _ = writeln!(s, "bounding box {:?} to {:?}", b.min, b.max);
        }
        let _ = writeln!(s, "physical groups");
        if self.physical_groups.is_empty() {
            let _ = writeln!(s, "  (none: boundary conditions need named groups)");
        } else {
            let _ = writeln!(
                s,
                "  {:<20} {:>3} {:>5} {:>9} {:>9}",
                "name", "dim", "tag", "entities", "cells"
            );
            for g in &self.physical_groups {
                let _ = writeln!(
                    s,
                    "  {:<20} {:>3} {:>5} {:>9} {:>9}",
                    g.name, g.dim, g.tag, g.entities, g.cells
                );
            }
        }
        let q = &self.quality;
        let measure = ["count", "length", "area", "volume"][self.dim.min(3)];
        let _ = writeln!(s, "quality of the {} domain cells", q.cells);
        let _ = writeln!(s, "  total {measure:<7} {:.6e}", q.total_measure);
        let _ = writeln!(
            s,
            "  cell {measure:<8} min {:.3e}, max {:.3e}",
            q.min_measure, q.max_measure
        );
        if self.dim >= 2 {
            let _ = writeln!(
                s,
                "  angles        min {:.1} deg, max {:.1} deg",
                q.min_angle, q.max_angle
            );
        }
        let _ = writeln!(s, "  aspect ratio  max {:.2}", q.max_aspect_ratio);
        let _ = writeln!(s, "  inverted      {}", q.inverted);
        if let Some(b) = &self.boundary {
            let _ = writeln!(
                s,
                "boundary    {} facets, {} without a physical group",
                b.facets, b.untagged
            );
        }
        if let Some(e) = &self.topology_error {
            let _ = writeln!(s, "topology    {e}");
        }
        s
    }
}

fn boundary_coverage(mesh: &Mesh) -> pde_mesh::Result<BoundaryReport> {
    let topo = mesh.topology()?;
    let tagged = mesh.tagged_facets()?;
    Ok(BoundaryReport {
        facets: topo.boundary_facets().count(),
        untagged: topo.boundary_facets().filter(|&f| !tagged[f]).count(),
    })
}
