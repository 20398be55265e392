//! Coupling pde-engine into another program: a heat simulation built from a
//! case file and one built in code, advanced step by step while "another
//! code" reads a probe and changes the source between steps.
//! `cargo run --release -p pde-engine --example coupling` (from the repository root).

use std::sync::Arc;

use pde_engine::fem::FunctionSpace;
use pde_engine::linalg::direct::Cholesky;
use pde_engine::physics::heat::{Heat, HeatBoundary};
use pde_engine::simulation::Simulation;
use pde_mesh::{generate, CellKind};

fn main() -> anyhow::Result<()> {
    // 1. From a case file.
    let mut sim = Simulation::from_case(std::path::Path::new("cases/heat_square.yaml"))?;
    for _ in 0..10 {
        sim.step()?;
    }
    println!(
        "case file: t = {:.2}, u(centre) = {:.6}",
        sim.time(),
        sim.sample("u", [0.5, 0.5, 0.0]).unwrap()
    );

    // 2. Entirely in code: a square heated from a source another code controls.
    let mesh = Arc::new(generate::rectangle(
        [0.0, 0.0],
        [1.0, 1.0],
        [32, 32],
        CellKind::Tri3,
    )?);
    let space = FunctionSpace::new(mesh, 1)?;
    let mut heat = Heat::new(
        space,
        Arc::new(|_| 1.0),
        |_| 0.0,
        0.0,
        Box::new(Cholesky::new()),
    )?;
    for side in ["left", "right", "bottom", "top"] {
        heat.set_boundary(side, HeatBoundary::Dirichlet(Arc::new(|_, _| 0.0)));
    }
    let mut sim = Simulation::new(Box::new(heat), 0.0, 0.01)?;
    for step in 0..20 {
        // The other code decides the source strength from what it reads.
        let centre = sim.sample("u", [0.5, 0.5, 0.0]).unwrap();
        let strength = if centre < 0.05 { 10.0 } else { 0.0 };
        sim.model_mut().source = Arc::new(move |_, _| strength);
        sim.step()?;
        if step % 5 == 4 {
            println!(
                "in code:   t = {:.2}, u(centre) = {centre:.4}, source {strength}",
                sim.time()
            );
        }
    }
    Ok(())
}
