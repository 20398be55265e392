//! The DFG 2D-2 flow the learned-step tests share.

use std::sync::Arc;

use pde_engine::linalg::direct::SparseLu;
use pde_engine::physics::navier_stokes::{FlowBoundary, NavierStokes};

/// The DFG 2D-2 channel (Re = 100) on the linear level-1 mesh learned
/// steppers are trained on, from rest.
pub fn dfg_channel() -> NavierStokes {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../meshes/dfg_cylinder_l1_p1.msh"
    );
    let mesh = Arc::new(pde_mesh::io::gmsh::read(path).unwrap());
    let mut ns = NavierStokes::new(mesh, 0.001, Box::new(SparseLu::new())).unwrap();
    let inflow = Arc::new(|x: [f64; 3], _: f64| {
        [4.0 * 1.5 * x[1] * (0.41 - x[1]) / (0.41 * 0.41), 0.0, 0.0]
    });
    ns.set_boundary("inlet", FlowBoundary::Velocity(inflow));
    ns.set_boundary("walls", FlowBoundary::NoSlip);
    ns.set_boundary("cylinder", FlowBoundary::NoSlip);
    ns.set_boundary("outlet", FlowBoundary::DoNothing);
    ns
}
