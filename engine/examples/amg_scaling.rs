//! AMG-CG iteration counts on P1 Poisson from 10^4 to 10^6 unknowns:
//! `cargo run --release -p pde-engine --example amg_scaling`.

use std::sync::Arc;
use std::time::Instant;

use pde_engine::fem::{assembly, bc, FunctionSpace};
use pde_engine::linalg::amg::Amg;
use pde_engine::linalg::krylov::{Cg, Tolerance};
use pde_engine::linalg::LinearSolver;
use pde_mesh::{generate, CellKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("| unknowns | levels | operator complexity | iterations | setup + solve s |");
    println!("|---|---|---|---|---|");
    for n in [99, 316, 999] {
        let mesh = Arc::new(generate::rectangle(
            [0.0, 0.0],
            [1.0, 1.0],
            [n, n],
            CellKind::Tri3,
        )?);
        let space = FunctionSpace::new(mesh, 1)?;
        let mut a = assembly::assemble_matrix(&space, 2, assembly::laplace(|_| 1.0))?;
        let mut b = assembly::assemble_vector(&space, 2, assembly::source(|_| 1.0))?;
        let dofs = space.dofs_of_groups(&["left", "right", "bottom", "top"])?;
        bc::apply_dirichlet(&mut a, &mut b, &dofs, &vec![0.0; dofs.len()]);
        let mut amg = Amg::default();
        let t = Instant::now();
        use pde_engine::linalg::Preconditioner;
        amg.setup(&a)?;
        let (levels, complexity) = (amg.num_levels(), amg.operator_complexity());
        let mut cg = Cg::new(
            Box::new(amg),
            Tolerance {
                rtol: 1e-10,
                ..Tolerance::default()
            },
        );
        let mut x = vec![0.0; b.len()];
        let report = cg.solve(&a, &b, &mut x)?;
        println!(
            "| {} | {levels} | {complexity:.2} | {} | {:.2} |",
            b.len(),
            report.iterations,
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
