//! Spiral waves in Barkley's excitable medium (a = 0.75, b = 0.02,
//! ε = 0.02, D_u = 1, D_v = 0) with IMEX Euler on P1 (lumped mass): the
//! rotation period at a probe, from upward crossings of u = 0.5 after the
//! transient, on square meshes of three resolutions and on the unstructured
//! disk of meshes/spiral_disk.msh.
//! `cargo run --release -p pde-engine --example spiral_period` (~4 min).
//!
//! Measured (dt = 0.005): periods 4.0637, 3.5500, 3.2913 at h = 1, 0.714,
//! 0.5 (changes -0.514, -0.259: order ≈ 2 in h, towards ≈ 3.04); the disk
//! (h ≈ 0.8) gives 3.6720 (docs/validation.md). SBDF2 (order 2) blew up on
//! these under-resolved fronts: its extrapolation overshoots u = 1 near the
//! tip, and above 1 Barkley's kinetics run away once v > a - b; IMEX Euler
//! with the lumped mass keeps u in [0, 1].

use std::sync::Arc;
use std::time::Instant;

use pde_engine::driver::{OnStep, StepInfo, TimeLoop};
use pde_engine::fem::FunctionSpace;
use pde_engine::physics::reaction_diffusion::{Reaction, ReactionDiffusion};
use pde_mesh::{generate, CellKind, Mesh};

const A: f64 = 0.75;
const B: f64 = 0.02;
const EPSILON: f64 = 0.02;
/// Half the side of the square (the disk's radius).
const HALF: f64 = 40.0;
const DT: f64 = 0.005;
/// IMEX Euler: with the lumped mass it keeps u in [0, 1] on fronts the mesh
/// under-resolves, where SBDF2's extrapolation overshoots (see below).
const ORDER: usize = 1;
const END: f64 = 60.0;
/// Crossings before this are transient.
const TRANSIENT: f64 = 25.0;
const PROBE: [f64; 3] = [15.0, 15.0, 0.0];

/// The crossing times at the probe, the dofs and the run time.
fn run(mesh: Arc<Mesh>) -> Result<(Vec<f64>, usize, f64), Box<dyn std::error::Error>> {
    let reaction = Reaction::new(
        &["u", "v"],
        &[
            format!("(1/{EPSILON})*u*(1-u)*(u-(v+{B})/{A})"),
            "u - v".to_string(),
        ],
    )?;
    let space = FunctionSpace::new(mesh, 1)?;
    let probe = space
        .point_evaluator(PROBE)
        .ok_or("probe outside the mesh")?;
    let dofs = space.num_dofs();
    // A broken wavefront: excited lower-left quadrant, its free end at the
    // origin, refractory upper half; the end curls into a spiral.
    let mut model = ReactionDiffusion::new(space, reaction, &[1.0, 0.0])?
        .with_initial("u", |p| if p[0] < 0.0 && p[1] < 0.0 { 1.0 } else { 0.0 })?
        .with_initial("v", |p| if p[1] > 0.0 { A / 2.0 } else { 0.0 })?
        .with_order(ORDER)?;
    let mut crossings = Vec::new();
    let mut last = (0.0, probe.eval(model.solution(0)));
    let start = Instant::now();
    let mut watch = OnStep(|info: &StepInfo, s: &ReactionDiffusion| {
        let t = info.t;
        let u = probe.eval(s.solution(0));
        if last.1 < 0.5 && u >= 0.5 {
            crossings.push(last.0 + (t - last.0) * (0.5 - last.1) / (u - last.1));
        }
        last = (t, u);
        Ok(())
    });
    TimeLoop::new(0.0, END, DT).run(&mut model, None, &mut [&mut watch])?;
    Ok((crossings, dofs, start.elapsed().as_secs_f64()))
}

/// Mean period from the crossings after the transient.
fn period(crossings: &[f64]) -> Option<(f64, usize)> {
    let late: Vec<f64> = crossings
        .iter()
        .copied()
        .filter(|&t| t > TRANSIENT)
        .collect();
    (late.len() >= 2).then(|| {
        let n = late.len() - 1;
        ((late[n] - late[0]) / n as f64, n)
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("Barkley a = {A}, b = {B}, ε = {EPSILON}; dt = {DT}, t ≤ {END}, probe {PROBE:?}");
    println!("| mesh | dofs | periods | period | change | run time (s) |");
    println!("|---|---|---|---|---|---|");
    let mut previous: Option<f64> = None;
    for n in [80, 112, 160] {
        let mesh = generate::rectangle([-HALF, -HALF], [HALF, HALF], [n, n], CellKind::Tri3)?;
        let label = format!("square h = {:.3}", 2.0 * HALF / n as f64);
        previous = report(&label, Arc::new(mesh), previous)?;
    }
    let disk = concat!(env!("CARGO_MANIFEST_DIR"), "/../meshes/spiral_disk.msh");
    report(
        "disk (gmsh, h ≈ 0.8)",
        Arc::new(pde_mesh::io::gmsh::read(disk)?),
        None,
    )?;
    Ok(())
}

/// Runs on `mesh` and prints its row (a run that fails says why); the
/// period, if any, for the next row's change.
fn report(
    label: &str,
    mesh: Arc<Mesh>,
    previous: Option<f64>,
) -> Result<Option<f64>, Box<dyn std::error::Error>> {
    let dofs = mesh.num_points();
    match run(mesh) {
        Ok((crossings, dofs, seconds)) => {
            let (p, count) = period(&crossings).ok_or("no rotation seen at the probe")?;
            let change = previous.map_or("".to_string(), |q| format!("{:+.4}", p - q));
            println!("| {label} | {dofs} | {count} | {p:.4} | {change} | {seconds:.1} |");
            Ok(Some(p))
        }
        Err(e) => {
            println!("| {label} | {dofs} | | failed: {e} | | |");
            Ok(None)
        }
    }
}
