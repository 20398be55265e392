//! Case files, parsed and checked as `pde-engine check` does: any input
//! must give a case or an error, never a panic, a hang or an abort. Meshes
//! come from the structured generator (files are the mesh reader's target);
//! generated meshes too large to make quickly are only sized, which must
//! refuse or accept them at once.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pde_engine::case::Case;
use pde_engine::mesh_source::MeshSource;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(case) = Case::parse(text) else {
        return;
    };
    let MeshSource::Generate(g) = &case.mesh else {
        return;
    };
    let cells = g
        .cells
        .iter()
        .try_fold(1usize, |n, &c| n.checked_mul(c.saturating_add(1)));
    match cells {
        // Small enough to make and check.
        Some(n) if n <= 4096 => {
            if let Ok(mesh) = case.mesh.load(Path::new(".")) {
                let _ = case.check(&mesh);
            }
        }
        // Beyond the generator's limit: refused before any allocation.
        None => assert!(case.mesh.load(Path::new(".")).is_err()),
        Some(n) if n > 50_000_000 => assert!(case.mesh.load(Path::new(".")).is_err()),
        Some(_) => {}
    }
});
