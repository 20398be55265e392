//! `pde-engine bench poisson`: the Poisson problem of the peer scripts in
//! `benches/peers/`, timed stage by stage, so ratios can be taken in one
//! session (`benches/poisson/run.sh`); `pde-engine bench shallow-water`:
//! finite-volume cell updates per second; `pde-engine bench
//! preconditioner`: CG preconditioners, learned ones included, on a family
//! of systems (`benches/preconditioner/run.sh`); `pde-engine bench
//! mesh-mover`: the movers on the steep layer (`benches/mesh_mover/run.sh`);
//! `pde-engine bench moving-front`: error against wall time, fixed meshes
//! and moving ones, on the travelling front
//! (`benches/mesh_mover/moving_front.sh`).

use std::f64::consts::PI;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use pde_engine::fem::{assembly, bc, norms, FunctionSpace};
use pde_engine::fvm::geometry::FvMesh;
use pde_engine::fvm::law::{NumericalFlux, ShallowWater};
use pde_engine::fvm::solver::FiniteVolume;
use pde_engine::linalg::amg::Amg;
use pde_engine::linalg::direct::Cholesky;
use pde_engine::linalg::krylov::{Cg, Tolerance};
use pde_engine::linalg::{LinearSolver, Preconditioner};
use pde_engine::physics::Stepper;
use pde_mesh::{generate, CellKind};

/// The steep layer on a `cells`×`cells` triangle mesh: uniform, and the
/// same nodes after `rounds` solve–move rounds of Monge–Ampère, of springs
/// and, given a `model` (from `train mover`), of the learned mover (the
/// monitor of the case files' defaults: gradient, α = 20, smoothing 4).
/// One JSON line.
pub fn mesh_mover(
    cells: usize,
    rounds: usize,
    model: Option<&std::path::Path>,
    polish: usize,
) -> Result<()> {
    use pde_engine::movers::monge_ampere::{MongeAmpere, MongeAmpereSettings};
    use pde_engine::movers::monitor::MonitorSpec;
    use pde_engine::movers::spring::{Spring, SpringSettings};
    use pde_engine::movers::steep_layer::SteepLayer;
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [cells, cells], CellKind::Tri3)?;
    let monitor = MonitorSpec::of("u");
    let layer = SteepLayer::default();
    let settings = MongeAmpereSettings {
        rtol: 1e-4,
        ..MongeAmpereSettings::default()
    };
    let ma = layer.adapt(
        &mesh,
        &mut MongeAmpere::new(&mesh, settings)?,
        &monitor,
        rounds,
    )?;
    let springs = layer.adapt(
        &mesh,
        &mut Spring::new(&mesh, SpringSettings::default())?,
        &monitor,
        rounds,
    )?;
    let mut line = serde_json::json!({
        "nodes": mesh.num_points(),
        "uniform_error": ma.errors[0],
        "monge_ampere_error": ma.errors.last(),
        "monge_ampere_errors": ma.errors,
        "monge_ampere_seconds": ma.seconds_per_move,
        "monge_ampere_mover_seconds": ma.mover_seconds_per_move,
        "spring_error": springs.errors.last(),
        "spring_errors": springs.errors,
        "spring_seconds": springs.seconds_per_move,
        "spring_mover_seconds": springs.mover_seconds_per_move,
        "inverted_cells": ma.inverted + springs.inverted,
    });
    if let Some(model) = model {
        let mut mover = learned_mover(model, polish, &mesh)?;
        let learned = layer.adapt(&mesh, &mut *mover, &monitor, rounds)?;
        line["learned_error"] = learned.errors.last().copied().into();
        line["learned_errors"] = learned.errors.clone().into();
        line["learned_seconds"] = learned.seconds_per_move.into();
        line["learned_mover_seconds"] = learned.mover_seconds_per_move.into();
        line["learned_tangled"] = learned.tangled.into();
        line["inverted_cells"] = (ma.inverted + springs.inverted + learned.inverted).into();
    }
    println!("{line}");
    Ok(())
}

/// The travelling front (`cases/moving_front.yaml` with its exact
/// solution) on fixed `32k × 8k` meshes for k = 1, 2, 4, ... up to
/// `2^(levels−1)` (with steps of 0.005, and of `0.005/k`: the same Courant
/// number), and on
/// the moving `32k × 8k` meshes for k = 1, 2 with each mover (Monge–Ampère,
/// springs, and the learned one given a `model`), a move every step: one
/// JSON line per run (mesh, mover, nodes, steps, L2 error, wall seconds),
/// then one line with, for each moving run, the wall time a fixed mesh
/// needs for the same error (interpolated log–log along the fixed runs
/// that no other fixed run beats in both) over the moving run's: above 1,
/// the moving mesh is the better buy.
pub fn moving_front(levels: usize, model: Option<&std::path::Path>, polish: usize) -> Result<()> {
    use pde_engine::driver::{Motion, MotionSpec};
    use pde_engine::movers::monitor::MonitorSpec;
    use pde_engine::movers::moving_front::{FrontRun, MovingFront};
    use pde_engine::movers::registry::Options;
    let front = MovingFront::default();
    let line = |mesh: &str, mover: &str, k: usize, run: &FrontRun| {
        let line = serde_json::json!({
            "mesh": mesh,
            "mover": mover,
            "cells": [32 * k, 8 * k],
            "dt": run.dt,
            "nodes": run.nodes,
            "steps": run.steps,
            "error": run.error,
            "seconds": run.seconds,
        });
        println!("{line}");
    };
    let mut fixed = Vec::new();
    for k in (0..levels.max(1)).map(|l| 1usize << l) {
        for dt in [0.005, 0.005 / k as f64] {
            let run = front.run(MovingFront::mesh(32 * k, 8 * k)?, dt, None, 0)?;
            line("fixed", "none", k, &run);
            fixed.push((run.error, run.seconds));
            if k == 1 {
                break;
            }
        }
    }
    let fixed = frontier(fixed);
    let monitor = MonitorSpec::of("u");
    let mut learned = Options::new();
    if let Some(model) = model {
        anyhow::ensure!(
            cfg!(feature = "torch"),
            "{}: the learned mover needs a build with --features torch",
            model.display()
        );
        learned.insert("model".into(), model.display().to_string().into());
        learned.insert("polish".into(), polish.into());
    }
    let mut movers = vec![("monge_ampere", Options::new()), ("spring", Options::new())];
    if model.is_some() {
        movers.push(("learned", learned));
    }
    let mut ratios = serde_json::Map::new();
    for k in [1usize, 2].into_iter().take(levels.max(1)) {
        let mesh = MovingFront::mesh(32 * k, 8 * k)?;
        for (kind, options) in &movers {
            let mut motion = Motion::new(
                &MotionSpec {
                    kind,
                    options,
                    fallback: Some("spring"),
                    monitor: &monitor,
                    every: 1,
                },
                &mesh,
            )?;
            let run = front.run(mesh.clone(), 0.005 / k as f64, Some(&mut motion), 3)?;
            line("moving", kind, k, &run);
            let equal = seconds_for_error(&fixed, run.error);
            ratios.insert(
                format!("{kind}_{}x{}", 32 * k, 8 * k),
                serde_json::json!({
                    "error": run.error,
                    "seconds": run.seconds,
                    "fixed_seconds_for_this_error": equal,
                    "ratio": equal.map(|s| s / run.seconds),
                }),
            );
        }
    }
    println!("{}", serde_json::Value::Object(ratios));
    Ok(())
}

/// The runs `(error, seconds)` that no other run beats in both, fastest
/// (and least accurate) first.
fn frontier(mut runs: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    runs.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut best = f64::INFINITY;
    runs.retain(|&(error, _)| {
        let better = error < best;
        best = best.min(error);
        better
    });
    runs
}

/// The wall time at which the fixed runs `(error, seconds)` (the
/// frontier, fastest first) reach `error`, interpolated log–log between
/// the two that bracket it; `None` when no fixed run is as accurate or
/// the fastest is already.
fn seconds_for_error(fixed: &[(f64, f64)], error: f64) -> Option<f64> {
    fixed.windows(2).find_map(|w| {
        let ((e0, s0), (e1, s1)) = (w[0], w[1]);
        (e1 <= error && error <= e0).then(|| {
            let f = (error.ln() - e0.ln()) / (e1.ln() - e0.ln());
            (s0.ln() + f * (s1.ln() - s0.ln())).exp()
        })
    })
}

/// The learned mover of `mesh` with the model in folder `model`, `polish`
/// Monge–Ampère iterations after each prediction.
#[cfg(feature = "torch")]
fn learned_mover(
    model: &std::path::Path,
    polish: usize,
    mesh: &pde_mesh::Mesh,
) -> Result<Box<dyn pde_engine::movers::MeshMover>> {
    let mut options = pde_engine::movers::registry::Options::new();
    options.insert("model".into(), model.display().to_string().into());
    options.insert("polish".into(), polish.into());
    let entry = pde_engine::movers::registry::kind("learned").expect("built in with torch");
    let problems = (entry.check)(&options, mesh);
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
    (entry.build)(&options, mesh)
}

/// Without libtorch there is no learned mover.
#[cfg(not(feature = "torch"))]
fn learned_mover(
    model: &std::path::Path,
    _: usize,
    _: &pde_mesh::Mesh,
) -> Result<Box<dyn pde_engine::movers::MeshMover>> {
    anyhow::bail!(
        "{}: the learned mover needs a build with --features torch",
        model.display()
    )
}

/// -Δu = 2π² sin(πx) sin(πy) on the unit square, u = 0 on the boundary;
/// `nx = round(sqrt(n) - 1)` squares per side split along the (0,0)-(1,1)
/// diagonal, as in the peer scripts.
pub fn poisson(n: usize, threads: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    let exact = |x: [f64; 3]| (PI * x[0]).sin() * (PI * x[1]).sin();
    let nx = ((n as f64).sqrt() - 1.0).round().max(2.0) as usize;
    let t = Instant::now();
    let mesh = Arc::new(generate::rectangle(
        [0.0, 0.0],
        [1.0, 1.0],
        [nx, nx],
        CellKind::Tri3,
    )?);
    let space = FunctionSpace::new(mesh, 1)?;
    let t_mesh = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let a0 = assembly::assemble_matrix(&space, 0, assembly::laplace(|_| 1.0))?;
    let t_matrix = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let b0 = assembly::assemble_vector(
        &space,
        2,
        assembly::source(move |x| 2.0 * PI * PI * exact(x)),
    )?;
    let t_rhs = t.elapsed().as_secs_f64();
    let dofs = space.dofs_of_groups(&["left", "right", "bottom", "top"])?;
    let (mut a, mut b) = (a0, b0);
    bc::apply_dirichlet(&mut a, &mut b, &dofs, &vec![0.0; dofs.len()]);

    let mut solvers = serde_json::Map::new();
    // AMG-CG, relative tolerance 1e-10 as the peers.
    let t = Instant::now();
    let mut amg = Amg::default();
    amg.setup(&a)?;
    let t_setup = t.elapsed().as_secs_f64();
    let (levels, complexity) = (amg.num_levels(), amg.operator_complexity());
    let t = Instant::now();
    let mut x = vec![0.0; b.len()];
    let report = Cg::new(
        Box::new(amg),
        Tolerance {
            rtol: 1e-10,
            ..Tolerance::default()
        },
    )
    .solve(&a, &b, &mut x)?;
    let t_solve = t.elapsed().as_secs_f64();
    solvers.insert(
        "cg_amg".into(),
        serde_json::json!({"t_setup": t_setup, "t_solve": t_solve, "t_total": t_setup + t_solve,
            "iterations": report.iterations, "levels": levels, "operator_complexity": complexity,
            "relres": report.relative_residual, "l2_error": norms::l2_error(&space, &x, exact)?}),
    );
    // Cholesky.
    let t = Instant::now();
    let mut y = vec![0.0; b.len()];
    let report = Cholesky::new().solve(&a, &b, &mut y)?;
    let t_chol = t.elapsed().as_secs_f64();
    solvers.insert(
        "cholesky".into(),
        serde_json::json!({"t_total": t_chol, "relres": report.relative_residual,
            "l2_error": norms::l2_error(&space, &y, exact)?}),
    );
    let (_, peak) = crate::rss();
    println!(
        "{}",
        serde_json::json!({"lib": "pde-engine", "order": 1, "threads": threads, "nx": nx, "ndof": space.num_dofs(),
            "nnz": a.val().len(), "t_mesh": t_mesh, "t_assemble_matrix": t_matrix, "t_assemble_rhs": t_rhs,
            "t_assemble": t_matrix + t_rhs, "solvers": solvers, "maxrss_MiB": peak as f64 / 1048576.0})
    );
    Ok(())
}

/// `pde-engine bench shallow-water`: MUSCL (Barth–Jespersen) + HLL +
/// SSP-RK2 shallow water, a dam break on a structured strip of about
/// `cells` triangles, `steps` CFL-limited steps: set-up time and cell
/// updates per second (cells × steps / time; two flux evaluations per
/// face and step), as one JSON line.
pub fn shallow_water(cells: usize, steps: usize, threads: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()?;
    // nx × nx/4 squares of two triangles on [0, 4] × [0, 1].
    let nx = ((2.0 * cells as f64).sqrt()).round().max(4.0) as usize;
    let ny = (nx / 4).max(1);
    let t = Instant::now();
    let mesh = Arc::new(generate::rectangle(
        [0.0, 0.0],
        [4.0, 1.0],
        [nx, ny],
        CellKind::Tri3,
    )?);
    let t_mesh = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let fv = FvMesh::new(mesh)?;
    let mut model = FiniteVolume::new(fv, ShallowWater { g: 9.81 });
    model.flux = NumericalFlux::Hll;
    let t_setup = t.elapsed().as_secs_f64();
    model.set_initial(|x| [if x[0] < 2.0 { 1.0 } else { 0.5 }, 0.0, 0.0]);
    let t = Instant::now();
    let mut time = 0.0;
    for _ in 0..steps {
        let dt = model.cfl_dt();
        model.try_step(time, dt)?;
        model.commit();
        time += dt;
    }
    let t_steps = t.elapsed().as_secs_f64();
    let n = model.mesh.num_cells();
    let (_, peak) = crate::rss();
    println!(
        "{}",
        serde_json::json!({
            "lib": "pde-engine",
            "scheme": "MUSCL-BJ HLL SSP-RK2",
            "cells": n,
            "faces": model.mesh.faces.len(),
            "threads": threads,
            "steps": steps,
            "t_mesh": t_mesh,
            "t_geometry": t_setup,
            "t_steps": t_steps,
            "seconds_per_step": t_steps / steps as f64,
            "cell_updates_per_second": (n * steps) as f64 / t_steps,
            "maxrss_MiB": peak as f64 / 1048576.0,
        })
    );
    Ok(())
}

/// CG with every preconditioner on the `split` systems of the family in
/// `data`, the learned one from `model`: the whole comparison as JSON, then
/// one line with the medians and worst cases.
#[cfg(feature = "torch")]
pub fn preconditioner(
    data: &std::path::Path,
    model: &std::path::Path,
    split: pde_engine::dataset::Split,
    progress: bool,
) -> Result<()> {
    use pde_engine::systems::SystemsIndex;
    use pde_learned::factor::FactorModel;
    use pde_learned::tch::Device;
    let index = SystemsIndex::read(data)?;
    let systems = index
        .split(split)
        .map(|e| index.load(data, e))
        .collect::<Result<Vec<_>>>()?;
    anyhow::ensure!(
        !systems.is_empty(),
        "{}: no {} systems",
        data.display(),
        split.name()
    );
    let learned = FactorModel::load(model, Device::Cpu)?;
    let learned = Arc::new(std::sync::Mutex::new(learned));
    let mut result = pde_engine::learned::compare(&systems, &learned, Device::Cpu, progress)?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    if let Some(map) = result.as_object_mut() {
        map.remove("systems");
        map.insert("unknowns_median".into(), median_unknowns(&systems).into());
    }
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}

#[cfg(feature = "torch")]
fn median_unknowns(systems: &[pde_engine::systems::SystemSample]) -> usize {
    let mut n: Vec<usize> = systems.iter().map(|s| s.b.len()).collect();
    n.sort_unstable();
    n[n.len() / 2]
}

/// Without libtorch there is no learned preconditioner to measure.
#[cfg(not(feature = "torch"))]
pub fn preconditioner(
    data: &std::path::Path,
    _: &std::path::Path,
    _: pde_engine::dataset::Split,
    _: bool,
) -> Result<()> {
    anyhow::bail!(
        "{}: bench preconditioner measures a learned factor; build with --features torch \
         (see scripts/torch.sh)",
        data.display()
    )
}
