//! Builds Poisson problems entirely in code and prints the convergence table
//! of docs/validation.md: `cargo run --release -p pde-engine --example poisson_convergence`.

use std::f64::consts::PI;
use std::sync::Arc;

use pde_engine::fem::{norms, FunctionSpace};
use pde_engine::linalg::direct::Cholesky;
use pde_engine::physics::poisson::{BoundaryCondition, Poisson};
use pde_mesh::{generate, CellKind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exact = |x: [f64; 3]| (PI * x[0]).sin() * (PI * x[1]).sin();
    let grad = |x: [f64; 3]| {
        [
            PI * (PI * x[0]).cos() * (PI * x[1]).sin(),
            PI * (PI * x[0]).sin() * (PI * x[1]).cos(),
            0.0,
        ]
    };
    println!("| degree | cells per side | unknowns | L2 error | rate | H1 error | rate |");
    println!("|---|---|---|---|---|---|---|");
    for degree in [1, 2] {
        let mut previous: Option<(f64, f64)> = None;
        for n in [8, 16, 32, 64, 128] {
            let mesh = Arc::new(generate::rectangle(
                [0.0, 0.0],
                [1.0, 1.0],
                [n, n],
                CellKind::Tri3,
            )?);
            let mut p = Poisson::new(FunctionSpace::new(mesh, degree)?);
            p.source = Arc::new(move |x| 2.0 * PI * PI * exact(x));
            for side in ["left", "right", "bottom", "top"] {
                p.set_boundary(side, BoundaryCondition::Dirichlet(Arc::new(|_| 0.0)));
            }
            let (u, _) = p.solve(&mut Cholesky::new())?;
            let (l2, h1) = (
                norms::l2_error(&p.space, &u, exact)?,
                norms::h1_seminorm_error(&p.space, &u, grad)?,
            );
            let rate = |now: f64, before: Option<f64>| {
                before.map_or("".to_string(), |b| format!("{:.2}", (b / now).log2()))
            };
            println!(
                "| P{degree} | {n} | {} | {l2:.4e} | {} | {h1:.4e} | {} |",
                p.space.num_dofs(),
                rate(l2, previous.map(|p| p.0)),
                rate(h1, previous.map(|p| p.1))
            );
            previous = Some((l2, h1));
        }
    }
    Ok(())
}
