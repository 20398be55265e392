//! The `pde-engine` command-line tool.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use pde_engine::mesh_source::read_mesh_file;
use pde_engine::physics::StepError;
use pde_engine::report::MeshReport;
use pde_engine::runner::{load_case, run_case, RunOptions};
use pde_mesh::io::gmsh::{self, Endian, MshFormat, MshVersion};

mod bench;
use pde_mesh::io::vtk::{self, CellSelection, DataArray, VtuOptions};

/// pde-engine: finite elements and finite volumes on unstructured meshes.
///
/// Start with a mesh:   pde-engine mesh info meshes/dfg_cylinder_l1.msh
/// Look at it:          pde-engine mesh convert meshes/dfg_cylinder_l1.msh out/mesh.vtu
///                      (then open out/mesh.vtu in ParaView)
/// Run a case:          pde-engine run cases/cylinder_flow.yaml
#[derive(Parser, Debug)]
#[command(name = "pde-engine", version, about, long_about, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Inspect and convert meshes.
    #[command(subcommand)]
    Mesh(MeshCommand),
    /// Run a case file (YAML): the whole experiment in one file.
    ///
    /// Mesh, physics, boundary conditions by physical-group name, time
    /// settings, solvers and output are all in the case file; see
    /// docs/cases.md. Results go to out/<name>/ unless --output says otherwise;
    /// one run at a time per folder (a lock file), and an earlier run's
    /// results there are replaced. summary.json says how the run ended.
    ///
    /// Ctrl-C (SIGINT) or SIGTERM stops a time-dependent run after the step
    /// in progress, with the output series and every monitor (.csv) complete
    /// up to it, and exits with 130 or 143; a second Ctrl-C ends it at once.
    Run {
        /// The case file.
        case: PathBuf,
        /// Output directory (overrides the case's output.directory).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Ignore the case's learned `stepper:` and take classical steps
        /// (the baseline of a learned run, as its own run).
        #[arg(long)]
        classical: bool,
        /// Ignore the case's `mesh_mover:` and keep the mesh fixed (the
        /// fixed-mesh twin of a moving-mesh run, with the same nodes).
        #[arg(long)]
        fixed_mesh: bool,
        /// Continue from the latest checkpoint in the output folder
        /// (output.checkpoint_every writes them; so does Ctrl-C): the .pvd
        /// and the monitors go on, and the results are bit for bit those of
        /// a run that never stopped. A checkpoint of another case, model,
        /// mesh or time step is refused with the reason.
        #[arg(long)]
        restart: bool,
        /// When stderr is not a terminal (a batch job's log), print a
        /// progress line (step, t, dt, iterations, monitors, ETA) every this
        /// many seconds; on a terminal a progress bar shows instead.
        #[arg(long, value_name = "SECONDS", default_value_t = 10.0, value_parser = positive_seconds)]
        progress_every: f64,
    },
    /// Check a case file and its mesh without running it: unknown keys,
    /// wrong types, missing physical groups, points outside the mesh and
    /// impossible values are reported with the file, line and key. A valid
    /// case prints every boundary group with the condition it will get
    /// (defaults marked).
    Check {
        /// The case file.
        case: PathBuf,
    },
    /// Performance measurements (see docs/performance.md).
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Make training data for learned components from the classical
    /// solvers: flow trajectories (learned steppers), linear systems
    /// (learned preconditioners) or Monge–Ampère meshes (learned mesh
    /// movers). Needs the `gmsh` feature. See docs/learned.md and
    /// docs/movers.md.
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// Train learned components (needs the `torch` feature).
    #[command(subcommand)]
    Train(TrainCommand),
}

#[derive(Subcommand, Debug)]
enum GenerateCommand {
    /// Flows around cylinders of drawn positions and radii at drawn inflow
    /// speeds, each on its own mesh, solved by Navier–Stokes: trajectories
    /// for training learned steppers.
    Flows {
        /// The generation config (YAML), e.g. cases/learned/cylinder_family.yaml.
        config: PathBuf,
    },
    /// Families of symmetric positive definite systems A x = b for training
    /// and benchmarking learned CG preconditioners.
    ///
    /// Each system is diffusion -div(kappa grad u) = f, u = 0 on the whole
    /// boundary, on a gmsh mesh of a drawn domain (square, l_shape,
    /// channel_with_holes, polygon; box, l_box in 3D), P1 or P2, kappa a
    /// smooth log-normal field or inclusions with contrasts drawn from the
    /// config; the matrix is the stiffness matrix K or a heat step M + dt K.
    /// The Dirichlet unknowns are removed, and sparse Cholesky solves each
    /// system (relative residual below 1e-10, or below rounding's floor
    /// where that is higher). It writes:
    ///
    ///   OUTPUT/index.json                  every system: name, split, unknowns,
    ///                                      nonzeros, geometry, dimension,
    ///                                      degree, operator, contrast, ...
    ///   OUTPUT/<split>/<name>/A.mtx        the matrix (Matrix Market, coordinate)
    ///   OUTPUT/<split>/<name>/b.mtx        the right-hand side (array n x 1)
    ///   OUTPUT/<split>/<name>/x.mtx        the solution (array n x 1)
    ///   OUTPUT/<split>/<name>/points.mtx   the unknowns' points (array n x 3)
    ///   OUTPUT/<split>/<name>/domain.geo   the domain (gmsh)
    ///
    /// with <split> train or test (the test groups hold out geometries,
    /// contrasts and sizes). The index is written last. Example:
    ///
    ///   pde-engine generate systems cases/learned/systems.yaml
    ///
    /// Config keys: docs/learned.md.
    #[command(
        verbatim_doc_comment,
        about = "Families of SPD systems A x = b (Matrix Market, with their Cholesky solutions) \
                 for training and benchmarking learned CG preconditioners"
    )]
    Systems {
        /// The config (YAML), e.g. cases/learned/systems.yaml.
        config: PathBuf,
    },
    /// Meshes moved by Monge–Ampère for training learned mesh movers.
    ///
    /// Each sample is a 2D domain drawn anew (square, l_shape,
    /// channel_with_holes, polygon) meshed by gmsh, a field on it (a ring
    /// or a straight front tanh(./w), or Gaussian bumps), the monitor a
    /// time loop would build from it (gradient or Hessian indicator, alpha,
    /// smoothing, all drawn), and the Monge–Ampère mover's answer from the
    /// unmoved mesh: the nodal Laplacian of its potential, which the
    /// learned mover predicts. It writes:
    ///
    ///   OUTPUT/index.json                   every sample: name, split, domain,
    ///                                       nodes, field, monitor, and the
    ///                                       Monge–Ampère solve (iterations,
    ///                                       residual, seconds)
    ///   OUTPUT/<split>/<name>/mesh.msh      the mesh (MSH 4.1, binary)
    ///   OUTPUT/<split>/<name>/nodes.f64     per node: monitor, Laplacian (f64 LE)
    ///   OUTPUT/<split>/<name>/domain.geo    the domain (gmsh)
    ///
    /// Example:
    ///
    ///   pde-engine generate meshes cases/learned/meshes.yaml
    ///
    /// Config keys: docs/movers.md.
    #[command(
        verbatim_doc_comment,
        about = "Meshes moved by Monge–Ampère (drawn domains, fields and monitors) for training \
                 learned mesh movers"
    )]
    Meshes {
        /// The config (YAML), e.g. cases/learned/meshes.yaml.
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum TrainCommand {
    /// Train a GNN time stepper on a dataset from `generate flows`:
    /// progress bar (loss, steps/s, ETA), checkpoints, loss.csv and
    /// loss.png, and the held-out errors against persistence in
    /// evaluation.json.
    Stepper {
        /// The training config (YAML), e.g. cases/learned/train_cylinder.yaml.
        config: PathBuf,
    },
    /// Train a learned L Lᵀ preconditioner for CG on a family from
    /// `generate systems`: a message-passing network on the matrix graph
    /// that corrects IC(0) or MIC(0) (kind ic0_correction, base ic0 or
    /// mic0) or predicts the whole factor (kind factor). Progress bar,
    /// checkpoints (resume: true continues exactly), loss.csv and loss.png;
    /// then CG on every held-out system with the classical preconditioners
    /// (IC(0), MIC(0), AMG, ...) and the learned factor, iterations and
    /// seconds in evaluation.json. Use the model in a case with
    /// `solver: {kind: cg, preconditioner: {kind: learned, model: PATH}}`.
    Preconditioner {
        /// The training config (YAML), e.g. cases/learned/train_preconditioner.yaml.
        config: PathBuf,
    },
    /// Train a learned mesh mover on a family from `generate meshes`: a
    /// message-passing network that predicts the Monge–Ampère potential's
    /// Laplacian from the monitor, decoded into the mesh by one Poisson
    /// solve. Progress bar, checkpoints (resume: true continues exactly),
    /// loss.csv and loss.png; then, in evaluation.json, its meshes against
    /// Monge–Ampère's on the held-out samples and the steep layer's errors
    /// (uniform, Monge–Ampère, learned). Use the model in a case with
    /// `mesh_mover: {kind: learned, model: PATH}`.
    Mover {
        /// The training config (YAML), e.g. cases/learned/train_mover.yaml.
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum MeshCommand {
    /// Summarise a mesh: points, cells by kind, physical groups, bounding
    /// box, quality, and boundary facets no physical group covers.
    Info {
        /// A gmsh .msh file (MSH 2.2 or 4.1, ASCII or binary).
        file: PathBuf,
        /// Print JSON (stable keys; see docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Convert a mesh: to .vtu for ParaView, or to another .msh format.
    ///
    /// A .vtu holds every cell (boundary lines/faces too) with the cell data
    /// `entity` (gmsh elementary tag) and `dim`; use --domain-only for just
    /// the domain cells.
    Convert {
        /// Input mesh (.msh).
        file: PathBuf,
        /// Output file: .vtu, or .msh.
        out: PathBuf,
        /// .vtu: write only the domain cells.
        #[arg(long)]
        domain_only: bool,
        /// .msh: format version.
        #[arg(long, value_enum, default_value_t = MshVersionArg::V41)]
        msh_version: MshVersionArg,
        /// .msh: write binary (little-endian) instead of ASCII.
        #[arg(long)]
        binary: bool,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MshVersionArg {
    /// MSH 4.1
    #[value(name = "4.1")]
    V41,
    /// MSH 2.2
    #[value(name = "2.2")]
    V22,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Time reading a mesh file and measure peak memory; prints one JSON line.
    MeshRead {
        /// The .msh file.
        file: PathBuf,
        /// Timed repetitions after the first read (the minimum is reported).
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// P1 Poisson on the unit square (the problem of
    /// benches/peers/poisson_*.py): mesh, assembly, AMG-CG and Cholesky
    /// timings, residuals, L2 error and peak memory, as one JSON line.
    Poisson {
        /// Target number of unknowns (boundary included).
        #[arg(long, default_value_t = 100_000)]
        n: usize,
        /// Threads for assembly and matrix products.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Shallow water by finite volumes (MUSCL, HLL, SSP-RK2) on a strip of
    /// triangles: cell updates per second, as one JSON line.
    ShallowWater {
        /// Target number of triangles.
        #[arg(long, default_value_t = 1_000_000)]
        cells: usize,
        /// Time steps to take.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// CG preconditioners on a family of systems from `generate systems`:
    /// none, Jacobi, SSOR, IC(0), MIC(0), AMG and a learned factor, to the same
    /// tolerance (1e-8), each solution checked against the stored Cholesky
    /// one. Prints per system the iterations, set-up (inference included)
    /// and total seconds of each as JSON, then one line of medians and
    /// worst cases (benches/preconditioner/run.sh adds pyamg's). Needs the
    /// `torch` feature.
    Preconditioner {
        /// The systems folder (from `generate systems`).
        data: PathBuf,
        /// The learned model folder (from `train preconditioner`).
        #[arg(long)]
        model: PathBuf,
        /// Which split to measure on.
        #[arg(long, value_enum, default_value_t = SplitArg::Test)]
        split: SplitArg,
    },
    /// Mesh movers on the steep layer tanh((r - 0.3)/0.01) (P1 Poisson on
    /// the unit square): the L2 error on the uniform mesh and on the same
    /// nodes moved by Monge–Ampère, by springs and (with --model) by the
    /// learned mover after each solve–move round, and the seconds per move,
    /// as one JSON line.
    MeshMover {
        /// Cells per side of the uniform triangle mesh.
        #[arg(long, default_value_t = 40)]
        cells: usize,
        /// Solve–move rounds.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// A learned mover's folder (from `train mover`; needs the torch
        /// feature).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Monge–Ampère iterations after each learned prediction (the
        /// learned mover's `polish` option).
        #[arg(long, default_value_t = 0)]
        polish: usize,
    },
    /// Error against wall time on the travelling front of
    /// cases/moving_front.yaml (exact solution known): fixed 32k × 8k
    /// meshes (k = 1, 2, 4, ...) against the moving 32 × 8 and 64 × 16
    /// meshes of Monge–Ampère, springs and (with --model) the learned
    /// mover. One JSON line per run, then one line with, per moving run,
    /// the wall time a fixed mesh needs for its error over its own.
    MovingFront {
        /// Fixed-mesh refinement levels (k up to 2^(levels-1)).
        #[arg(long, default_value_t = 4)]
        levels: usize,
        /// A learned mover's folder (from `train mover`; needs the torch
        /// feature).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Monge–Ampère iterations after each learned prediction.
        #[arg(long, default_value_t = 0)]
        polish: usize,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SplitArg {
    /// The training systems.
    Train,
    /// The held-out systems.
    Test,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A run stopped by a signal exits as the shell expects (128 + n).
            let signal = e.chain().find_map(|c| match c.downcast_ref() {
                Some(StepError::Interrupted { signal, .. }) => u8::try_from(*signal).ok(),
                _ => None,
            });
            signal.map_or(ExitCode::FAILURE, |n| {
                ExitCode::from(128u8.saturating_add(n))
            })
        }
    }
}

/// A number of seconds above zero (clap's parser of `--progress-every`).
fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Ok(s),
        _ => Err(format!("{text}: expected a positive number of seconds")),
    }
}

fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Mesh(MeshCommand::Info { file, json }) => mesh_info(&file, json),
        Command::Mesh(MeshCommand::Convert {
            file,
            out,
            domain_only,
            msh_version,
            binary,
        }) => mesh_convert(&file, &out, domain_only, msh_version, binary),
        Command::Run {
            case,
            output,
            classical,
            fixed_mesh,
            restart,
            progress_every,
        } => run(
            &case,
            RunOptions {
                output,
                progress: true,
                progress_every: Some(Duration::from_secs_f64(progress_every)),
                stop_on_signals: true,
                restart,
                classical,
                fixed_mesh,
            },
        ),
        Command::Check { case } => check(&case),
        Command::Bench(BenchCommand::MeshRead { file, repeat }) => bench_mesh_read(&file, repeat),
        Command::Bench(BenchCommand::Poisson { n, threads }) => bench::poisson(n, threads),
        Command::Bench(BenchCommand::ShallowWater {
            cells,
            steps,
            threads,
        }) => bench::shallow_water(cells, steps, threads),
        Command::Bench(BenchCommand::MeshMover {
            cells,
            rounds,
            model,
            polish,
        }) => bench::mesh_mover(cells, rounds, model.as_deref(), polish),
        Command::Bench(BenchCommand::MovingFront {
            levels,
            model,
            polish,
        }) => bench::moving_front(levels, model.as_deref(), polish),
        Command::Bench(BenchCommand::Preconditioner { data, model, split }) => {
            let split = match split {
                SplitArg::Train => pde_engine::dataset::Split::Train,
                SplitArg::Test => pde_engine::dataset::Split::Test,
            };
            bench::preconditioner(&data, &model, split, interactive())
        }
        Command::Generate(command) => {
            let out = match command {
                GenerateCommand::Flows { config } => {
                    pde_engine::generate::generate(&config, interactive())?
                }
                GenerateCommand::Systems { config } => {
                    pde_engine::systems::generate(&config, interactive())?
                }
                GenerateCommand::Meshes { config } => {
                    pde_engine::movers::samples::generate(&config, interactive())?
                }
            };
            eprintln!("dataset in {}/ (index.json)", out.display());
            Ok(())
        }
        Command::Train(TrainCommand::Stepper { config }) => train(&config, Trained::Stepper),
        Command::Train(TrainCommand::Preconditioner { config }) => {
            train(&config, Trained::Preconditioner)
        }
        Command::Train(TrainCommand::Mover { config }) => train(&config, Trained::Mover),
    }
}

/// Whether progress bars are wanted (stderr is a terminal).
fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal()
}

/// What `train` trains.
#[derive(Clone, Copy, Debug)]
enum Trained {
    Stepper,
    Preconditioner,
    Mover,
}

#[cfg(feature = "torch")]
fn train(config: &Path, what: Trained) -> Result<()> {
    let summary = match what {
        Trained::Stepper => pde_engine::learned::train_stepper(config, interactive())?,
        Trained::Preconditioner => {
            pde_engine::learned::train_preconditioner(config, interactive())?
        }
        Trained::Mover => pde_engine::learned::train_mover(config, interactive())?,
    };
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

#[cfg(not(feature = "torch"))]
fn train(config: &Path, _: Trained) -> Result<()> {
    bail!(
        "{}: this pde-engine was built without the `torch` feature; run `eval \"$(scripts/torch.sh)\"` \
         and build with `cargo build --release --features torch`",
        config.display()
    )
}

fn mesh_info(file: &Path, json: bool) -> Result<()> {
    let (mesh, format) = match file.extension().and_then(|e| e.to_str()) {
        Some("msh") => {
            let (m, f) = gmsh::read_with_format(file)?;
            (m, f.to_string())
        }
        _ => (
            read_mesh_file(file)?,
            "generated by gmsh from a .geo".to_string(),
        ),
    };
    let report = MeshReport::new(&mesh, &file.display().to_string(), &format);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

fn mesh_convert(
    file: &Path,
    out: &Path,
    domain_only: bool,
    version: MshVersionArg,
    binary: bool,
) -> Result<()> {
    let format = out.extension().and_then(|e| e.to_str());
    if !matches!(format, Some("vtu" | "msh")) {
        bail!(
            "{}: unknown output format; expected .vtu or .msh",
            out.display()
        );
    }
    let mesh = read_mesh_file(file)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    }
    match format {
        Some("vtu") => {
            let cells = if domain_only {
                CellSelection::Domain
            } else {
                CellSelection::All
            };
            let blocks = mesh
                .blocks
                .iter()
                .filter(|b| cells == CellSelection::All || b.kind.dim() == mesh.dim());
            let entity: Vec<i32> = blocks
                .clone()
                .flat_map(|b| b.entity.iter().copied())
                .collect();
            let dim: Vec<i32> = blocks
                .flat_map(|b| std::iter::repeat_n(b.kind.dim() as i32, b.len()))
                .collect();
            let data = [
                DataArray::integers("entity", &entity),
                DataArray::integers("dim", &dim),
            ];
            vtk::write_vtu(
                out,
                &mesh,
                &[],
                &data,
                &VtuOptions {
                    cells,
                    ..VtuOptions::default()
                },
            )?;
        }
        Some("msh") => {
            let version = match version {
                MshVersionArg::V41 => MshVersion::V4,
                MshVersionArg::V22 => MshVersion::V2,
            };
            let binary = binary.then_some(Endian::Little);
            gmsh::write(out, &mesh, MshFormat { version, binary })?;
        }
        _ => unreachable!("checked above"),
    }
    eprintln!(
        "wrote {} ({} points, {} cells)",
        out.display(),
        mesh.num_points(),
        mesh.blocks.iter().map(|b| b.len()).sum::<usize>()
    );
    Ok(())
}

fn run(case_path: &Path, options: RunOptions) -> Result<()> {
    let result = run_case(case_path, &options)?;
    println!("{}", summary_table(&result.summary));
    println!("results in {}/ (summary.json)", result.output.display());
    Ok(())
}

/// The summary as aligned `key  value` lines; nested objects (forces,
/// probes) appear as `group.key` lines.
fn summary_table(summary: &serde_json::Value) -> String {
    let mut out = String::from("summary\n");
    summary_lines(&mut out, "", summary);
    out
}

fn summary_lines(out: &mut String, prefix: &str, value: &serde_json::Value) {
    let Some(map) = value.as_object() else { return };
    for (k, v) in map {
        let key = format!("{prefix}{k}");
        let text = match v {
            serde_json::Value::Object(_) => {
                summary_lines(out, &format!("{key}."), v);
                continue;
            }
            serde_json::Value::Number(n) => n.as_f64().map_or(n.to_string(), number),
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| i.as_f64().map_or(i.to_string(), number))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        out.push_str(&format!("  {key:<24} {text}\n"));
    }
}

/// A number as people read it: integers plainly, others to 7 significant
/// digits (scientific notation when very large or small).
fn number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else if (1e-3..1e6).contains(&f.abs()) {
        let digits = (6 - f.abs().log10().floor() as i32).max(0) as usize;
        format!("{f:.digits$}")
    } else {
        format!("{f:.6e}")
    }
}

fn check(case_path: &Path) -> Result<()> {
    let (case, mesh, name) = load_case(case_path)?;
    let model = case.physics.name();
    println!(
        "{}: ok ({name}: {model} on {} points, {} domain cells)",
        case_path.display(),
        mesh.num_points(),
        mesh.num_cells_of_dim(mesh.dim())
    );
    let groups = case.boundary(&mesh);
    let width = groups.iter().map(|g| g.group.len()).max().unwrap_or(0);
    println!("boundary conditions:");
    for g in &groups {
        let default = if g.default { "  (default)" } else { "" };
        println!("  {:width$}  {}{default}", g.group, g.condition);
    }
    Ok(())
}

/// Resident-set figures of this process from /proc (Linux), in bytes.
pub(crate) fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn bench_mesh_read(file: &Path, repeat: usize) -> Result<()> {
    let (baseline, _) = rss();
    let t = std::time::Instant::now();
    let mesh = gmsh::read(file)?;
    let first = t.elapsed().as_secs_f64();
    let (_, peak) = rss();
    let mesh_bytes = mesh.memory_bytes();
    let (points, cells) = (
        mesh.num_points(),
        mesh.blocks.iter().map(|b| b.len()).sum::<usize>(),
    );
    drop(mesh);
    let mut times = vec![first];
    for _ in 0..repeat {
        let t = std::time::Instant::now();
        let m = gmsh::read(file)?;
        times.push(t.elapsed().as_secs_f64());
        drop(m);
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let report = serde_json::json!({
        "tool": "pde-engine",
        "file": file.display().to_string(),
        "points": points,
        "cells": cells,
        "seconds": best,
        "seconds_all": times,
        "mesh_bytes": mesh_bytes,
        "peak_rss_bytes": peak,
        "baseline_rss_bytes": baseline,
        "peak_over_mesh": (peak.saturating_sub(baseline)) as f64 / mesh_bytes as f64,
    });
    println!("{report}");
    Ok(())
}
