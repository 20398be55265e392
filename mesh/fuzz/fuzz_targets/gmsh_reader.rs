//! Fuzzes the gmsh reader: any bytes must give a mesh or an error, never a
//! panic, and a mesh that is read must be internally consistent.
//!
//!     cd mesh/fuzz && cargo +nightly fuzz run gmsh_reader seeds -- -max_total_time=60
//!
//! `seeds/` is filled from the test fixtures by `scripts/fuzz.sh`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((mesh, _)) = pde_mesh::io::gmsh::parse(data, std::path::Path::new("fuzz.msh")) {
        mesh.validate().expect("a mesh that was read is valid");
        // Topology must not panic either (it may report overlapping cells).
        let _ = mesh.topology();
        let _ = pde_mesh::quality::summary(&mesh);
    }
});
