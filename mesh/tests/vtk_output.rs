//! VTK output: the appended data decodes back to the mesh and fields (read
//! here per the VTK file-format spec), files are replaced atomically, and
//! ParaView itself opens a `.pvd` series when `pvbatch` is installed.

use std::path::Path;
use std::process::Command;

use flate2::read::ZlibDecoder;
use pde_mesh::io::gmsh;
use pde_mesh::io::vtk::{self, CellSelection, DataArray, PvdWriter, VtuOptions};
use pde_mesh::{generate, CellKind, Mesh};

/// The arrays of a `.vtu` written by us, decoded: (name, type, bytes).
fn decode_vtu(bytes: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    let marker = b"<AppendedData encoding=\"raw\">\n   _";
    let start = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("appended data")
        + marker.len();
    let header = std::str::from_utf8(&bytes[..start]).unwrap();
    let compressed = header.contains("vtkZLibDataCompressor");
    let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
    let mut out = Vec::new();
    for line in header.lines().filter(|l| l.contains("<DataArray")) {
        let attr = |key: &str| {
            let k = format!("{key}=\"");
            let s = line.find(&k).map(|i| i + k.len())?;
            Some(line[s..s + line[s..].find('"').unwrap()].to_string())
        };
        let at = start + attr("offset").unwrap().parse::<usize>().unwrap();
        let data = if compressed {
            let (n, block, last) = (u64_at(at), u64_at(at + 8), u64_at(at + 16));
            let mut pos = at + 24 + 8 * n;
            let mut data = Vec::new();
            for b in 0..n {
                let size = u64_at(at + 24 + 8 * b);
                let mut chunk = Vec::new();
                std::io::Read::read_to_end(
                    &mut ZlibDecoder::new(&bytes[pos..pos + size]),
                    &mut chunk,
                )
                .unwrap();
                let expect = if b + 1 == n && last != 0 { last } else { block };
                assert_eq!(chunk.len(), expect);
                data.extend(chunk);
                pos += size;
            }
            data
        } else {
            let n = u64_at(at);
            bytes[at + 8..at + 8 + n].to_vec()
        };
        out.push((
            attr("Name").unwrap_or_default(),
            attr("type").unwrap(),
            data,
        ));
    }
    out
}

fn as_f64(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}
fn as_i64(b: &[u8]) -> Vec<i64> {
    b.chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn check_round_trip(mesh: &Mesh, options: VtuOptions) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.vtu");
    let u: Vec<f64> = mesh
        .points
        .iter()
        .map(|p| p[0] + 2.0 * p[1] - p[2])
        .collect();
    let v: Vec<f64> = mesh
        .points
        .iter()
        .flat_map(|p| [p[1], -p[0], 0.0])
        .collect();
    let ncells = vtk::selected_cells(mesh, options.cells);
    let id: Vec<i32> = (0..ncells as i32).collect();
    vtk::write_vtu(
        &file,
        mesh,
        &[
            DataArray::scalars("u", &u),
            DataArray::vectors("velocity", 3, &v),
        ],
        &[DataArray::integers("cell id", &id)],
        &options,
    )
    .unwrap();
    let arrays = decode_vtu(&std::fs::read(&file).unwrap());
    let get = |name: &str| {
        arrays
            .iter()
            .find(|a| a.0 == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(as_f64(&get("u").2), u);
    assert_eq!(as_f64(&get("velocity").2), v);
    assert_eq!(get("cell id").1, "Int32");
    assert_eq!(
        as_f64(&get("Points").2),
        mesh.points.iter().flatten().copied().collect::<Vec<_>>()
    );
    let conn = as_i64(&get("connectivity").2);
    let offsets = as_i64(&get("offsets").2);
    let types = &get("types").2;
    assert_eq!(offsets.len(), ncells);
    assert_eq!(types.len(), ncells);
    assert_eq!(*offsets.last().unwrap() as usize, conn.len());
    // Cells come back in block order, with VTK's node order.
    let mut c = 0;
    for b in mesh
        .blocks
        .iter()
        .filter(|b| options.cells == CellSelection::All || b.kind.dim() == mesh.dim())
    {
        for cell in b.cells() {
            let start = if c == 0 { 0 } else { offsets[c - 1] as usize };
            let mut expected: Vec<i64> = cell.iter().map(|&n| n as i64).collect();
            if b.kind == CellKind::Tet10 {
                expected.swap(8, 9);
            }
            assert_eq!(&conn[start..offsets[c] as usize], &expected[..]);
            assert_eq!(types[c], b.kind.vtk_type());
            c += 1;
        }
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("partial")));
}

#[test]
fn vtu_data_decodes_back_compressed_and_raw() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let meshes = [
        generate::rectangle([0.0, 0.0], [1.0, 1.0], [30, 20], CellKind::Tri3).unwrap(),
        gmsh::read(data.join("cube_tet10_v41_binary.msh")).unwrap(),
        gmsh::read(data.join("square_quad9_v22.msh")).unwrap(),
        // Large enough for several compression blocks.
        generate::cuboid([0.0; 3], [1.0; 3], [40, 40, 40], CellKind::Hex8).unwrap(),
    ];
    for mesh in &meshes {
        for compression in [None, Some(1), Some(9)] {
            for cells in [CellSelection::Domain, CellSelection::All] {
                check_round_trip(mesh, VtuOptions { compression, cells });
            }
        }
    }
}

#[test]
fn wrong_array_length_is_refused_before_writing() {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [2, 2], CellKind::Quad4).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.vtu");
    std::fs::write(&file, "previous output").unwrap();
    let err = vtk::write_vtu(
        &file,
        &mesh,
        &[DataArray::scalars("u", &[1.0; 5])],
        &[],
        &VtuOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("point data 'u' has 5 values; expected 9"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "previous output");
}

#[test]
fn pvd_is_valid_after_every_step() {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [2, 2], CellKind::Tri3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut pvd = PvdWriter::new(dir.path().join("run.pvd"));
    for step in 0..3 {
        let f = dir.path().join(format!("run_{step:04}.vtu"));
        vtk::write_vtu(&f, &mesh, &[], &[], &VtuOptions::default()).unwrap();
        pvd.push(0.1 * step as f64, &f).unwrap();
        let text = std::fs::read_to_string(pvd.path()).unwrap();
        assert_eq!(text.matches("<DataSet").count(), step + 1);
        assert!(text.trim_end().ends_with("</VTKFile>"));
        assert!(
            text.contains(&format!("file=\"run_{step:04}.vtu\"")),
            "{text}"
        );
    }
}

/// ParaView opens the series: point/cell counts, time steps, a data range,
/// and the quadratic tetrahedron's mid-edge nodes sit on VTK's own edges.
#[test]
fn paraview_opens_the_series() {
    let have = |cmd: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {cmd}"))
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !(have("pvbatch") && have("xvfb-run")) {
        eprintln!("SKIPPED: pvbatch or xvfb-run not installed (scripts/setup.sh installs them)");
        return;
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mesh = gmsh::read(data.join("cube_tet10_v41_binary.msh")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut pvd = PvdWriter::new(dir.path().join("cube.pvd"));
    for step in 0..3 {
        let t = 0.5 * step as f64;
        let u: Vec<f64> = mesh.points.iter().map(|p| p[0] + t).collect();
        let f = dir.path().join(format!("cube_{step}.vtu"));
        vtk::write_vtu(
            &f,
            &mesh,
            &[DataArray::scalars("u", &u)],
            &[],
            &VtuOptions::default(),
        )
        .unwrap();
        pvd.push(t, &f).unwrap();
    }
    let script = dir.path().join("check.py");
    std::fs::write(
        &script,
        r#"
import sys, json
from paraview.simple import OpenDataFile
from paraview import servermanager as sm
r = OpenDataFile(sys.argv[1])
r.UpdatePipelineInformation()
times = list(r.TimestepValues)
r.UpdatePipeline(times[-1])
g = sm.Fetch(r)
u = g.GetPointData().GetArray("u")
worst = 0.0
for c in range(g.GetNumberOfCells()):
    cell = g.GetCell(c)
    for e in range(cell.GetNumberOfEdges()):
        edge = cell.GetEdge(e)
        p = [edge.GetPoints().GetPoint(k) for k in range(3)]
        worst = max(worst, max(abs(p[2][i] - 0.5 * (p[0][i] + p[1][i])) for i in range(3)))
print("RESULT", json.dumps({"times": times, "points": g.GetNumberOfPoints(), "cells": g.GetNumberOfCells(),
      "types": sorted(set(g.GetCellType(c) for c in range(g.GetNumberOfCells()))),
      "range": list(u.GetRange()), "midnode_error": worst}))
"#,
    )
    .unwrap();
    let out = Command::new("xvfb-run")
        .args(["-a", "pvbatch"])
        .arg(&script)
        .arg(pvd.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "pvbatch failed: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["times"], serde_json::json!([0.0, 0.5, 1.0]));
    assert_eq!(v["points"], mesh.num_points());
    assert_eq!(v["cells"], mesh.num_cells_of_dim(3));
    // VTK_QUADRATIC_TETRA
    assert_eq!(v["types"], serde_json::json!([24]));
    assert_eq!(v["range"], serde_json::json!([1.0, 2.0]));
    assert!(v["midnode_error"].as_f64().unwrap() < 1e-12, "{line}");
}
