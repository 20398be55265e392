//! How a run lives in its output folder: monitors written as it goes, a
//! clean stop on SIGINT/SIGTERM, one run per folder, an earlier run's
//! results replaced, and a `summary.json` that says how the run ended.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A heat run of many short steps (about ten seconds on two cores), with a
/// probe and an output file every 1000 steps.
const LONG_HEAT: &str = "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [24, 24], kind: tri3}\n\
     physics:\n  heat: {initial: \"sin(3*x)*y\"}\n\
     time: {end: 1, dt: 0.0001}\n\
     output: {every: 1000}\n\
     monitors:\n  - probe: {name: centre, point: [0.5, 0.5]}\n";

fn start(case: &Path, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .args([
            "run",
            case.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pde-engine")
}

/// Lines of a CSV file (header included), 0 when it does not exist.
fn lines(file: &Path) -> usize {
    std::fs::read_to_string(file).map_or(0, |s| s.lines().count())
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

/// Waits until `steps.csv` in `out` has more than `rows` rows: the log is
/// written as the run goes.
fn wait_for_rows(out: &Path, rows: usize) {
    let started = Instant::now();
    while lines(&out.join("steps.csv")) <= rows + 1 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no steps written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn files_ending(out: &Path, suffix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

/// SIGINT stops the run after a step: exit 130, the monitors and the
/// series complete up to that step, no partial file or lock left, and a
/// summary that says where it stopped. While the run holds its folder, a
/// second run into it is refused. SIGTERM exits 143 the same way.
#[test]
fn a_signal_stops_the_run_between_steps_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("long.yaml");
    std::fs::write(&case, LONG_HEAT).unwrap();
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let out = dir.path().join(format!("out_{signal}"));
        let mut child = start(&case, &out);
        wait_for_rows(&out, 50);
        // The probe's record is on disk while the run goes on.
        assert!(lines(&out.join("probes.csv")) > 10);

        let second = start(&case, &out).wait_with_output().unwrap();
        assert_eq!(second.status.code(), Some(1));
        let err = String::from_utf8_lossy(&second.stderr);
        assert!(err.contains("another run (process"), "{err}");

        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the run did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(status.code(), Some(code), "{err}");
        assert!(
            err.contains(&format!("interrupted by SIG{signal} after step")),
            "{err}"
        );

        let s = summary(&out);
        assert_eq!(s["status"], "interrupted", "{s}");
        let step = s["step"].as_u64().unwrap() as usize;
        assert!((50..10_000).contains(&step), "{s}");
        assert!(
            (s["t"].as_f64().unwrap() - step as f64 * 1e-4).abs() < 1e-9,
            "{s}"
        );
        // Header and one row per step; the probe also has the start.
        assert_eq!(lines(&out.join("steps.csv")), step + 1);
        assert_eq!(lines(&out.join("probes.csv")), step + 2);
        let pvd = std::fs::read_to_string(out.join("long.pvd")).unwrap();
        assert!(pvd.trim_end().ends_with("</VTKFile>"));
        assert_eq!(pvd.matches("<DataSet").count(), 1 + step / 1000);
        assert!(files_ending(&out, ".partial").is_empty());
        assert!(!out.join(".pde-engine.lock").exists());
    }
}

/// A run into a folder used before replaces that run's results: its later
/// steps' `.vtu` files do not survive into the new series, a failed run's
/// summary says so with the step and time reached, and a lock left by a
/// killed run is taken over.
#[test]
fn a_new_run_replaces_the_earlier_results_and_a_failed_one_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("r.yaml");
    let out = dir.path().join("out");
    let heat = |extra: &str, end: f64| {
        format!(
            "mesh:\n  generate: {{shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}}\n\
             physics:\n  heat: {{{extra}}}\ntime: {{end: {end}, dt: 0.1}}\noutput: {{every: 1}}\n"
        )
    };
    let run = |text: String| {
        std::fs::write(&case, text).unwrap();
        run_case(&case, &out, false)
    };
    assert!(run(heat("", 1.0)).status.success());
    assert!(out.join("r_00010.vtu").exists());
    assert_eq!(summary(&out)["status"], "completed");
    // A lock whose process is gone (above the kernel's pid limit).
    std::fs::write(out.join(".pde-engine.lock"), "4294967295").unwrap();
    std::fs::write(out.join("r_00007.vtu.123.partial"), "half").unwrap();
    // The source is infinite at t = 0.5, step 5.
    let o = run(heat("source: 1/(0.5-t)", 1.0));
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = summary(&out);
    assert_eq!(s["status"], "failed", "{s}");
    assert!(
        s["reason"].as_str().unwrap().contains("diverged at step 5"),
        "{s}"
    );
    assert_eq!(s["step"], 4, "{s}");
    assert!((s["t"].as_f64().unwrap() - 0.4).abs() < 1e-12, "{s}");
    for stale in ["r_00005.vtu", "r_00010.vtu", "r_00007.vtu.123.partial"] {
        assert!(!out.join(stale).exists(), "{stale} survived");
    }
    assert!(out.join("r_00004.vtu").exists());
    assert!(!out.join(".pde-engine.lock").exists());
}

/// When stderr is not a terminal (a batch log), progress comes as plain
/// lines at the interval asked for.
#[test]
fn a_batch_run_prints_progress_lines() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("p.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [8, 8], kind: tri3}\n\
         physics:\n  heat: {}\ntime: {end: 1, dt: 0.01}\noutput: {every: 100}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .args([
            "run",
            case.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ])
        .args(["--progress-every", "1e-9"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let progress: Vec<&str> = err.lines().filter(|l| l.contains("  step ")).collect();
    assert!(progress.len() >= 50, "{err}");
    assert!(
        progress.last().unwrap().contains("step 100") && progress.last().unwrap().contains("100%"),
        "{err}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .args(["run", case.to_str().unwrap(), "--progress-every", "0"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected a positive number of seconds"));
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A shipped case shortened: its mesh path made absolute, `end` and the
/// output replaced.
fn shortened(case: &str, end: f64, output: &str) -> String {
    let text = std::fs::read_to_string(root().join("cases").join(case)).unwrap();
    let meshes = root().join("meshes");
    let mut out = String::new();
    let mut in_output = false;
    for line in text.lines() {
        if line.starts_with("output:") {
            in_output = true;
            continue;
        }
        if in_output && line.starts_with("  ") {
            continue;
        }
        in_output = false;
        let line = line.replace("../meshes", meshes.to_str().unwrap());
        if line.trim_start().starts_with("end:") {
            out.push_str(&format!("  end: {end}\n"));
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push_str(output);
    out
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .args(args)
        .output()
        .unwrap()
}

fn run_case(case: &Path, out: &Path, restart: bool) -> std::process::Output {
    let mut args = vec![
        "run",
        case.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    if restart {
        args.push("--restart");
    }
    run(&args)
}

/// The named files of `out`, byte for byte.
fn contents(out: &Path, files: &[&str]) -> Vec<Vec<u8>> {
    files
        .iter()
        .map(|f| std::fs::read(out.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect()
}

/// Runs `text` to its end (checkpoints on), then again from its
/// second-latest checkpoint: `files` must come out byte for byte the same.
fn restart_reproduces(name: &str, text: &str, files: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&case, text).unwrap();
    let out = dir.path().join("out");
    let o = run_case(&case, &out, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reference = contents(&out, files);
    let movers = |s: &serde_json::Value| {
        // Everything but the seconds.
        let mut m = s["mesh_mover"].clone();
        m.as_object_mut().map(|m| m.remove("seconds_per_move"));
        for mover in m["per_mover"].as_array_mut().into_iter().flatten() {
            mover
                .as_object_mut()
                .map(|m| m.remove("seconds_per_proposal"));
        }
        m
    };
    let moved = movers(&summary(&out));
    let mut checkpoints = files_ending(&out.join("checkpoints"), ".ckpt");
    checkpoints.sort();
    assert_eq!(
        checkpoints.len(),
        2,
        "the latest two are kept: {checkpoints:?}"
    );
    std::fs::remove_file(&checkpoints[1]).unwrap();
    let o = run_case(&case, &out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = summary(&out);
    assert!(
        s["restarted_from"]
            .as_str()
            .unwrap()
            .ends_with(checkpoints[0].file_name().unwrap().to_str().unwrap()),
        "{s}"
    );
    for (file, (a, b)) in files
        .iter()
        .zip(reference.iter().zip(contents(&out, files)))
    {
        assert!(*a == b, "{name}: {file} differs after the restart");
    }
    assert_eq!(movers(&s), moved, "{name}: the movers' counts");
}

/// Every kind of time-dependent model continues from a checkpoint bit for
/// bit: heat with adaptive BDF2 steps (the step history), shallow water
/// (CFL steps, the conservation record), reaction–diffusion (IMEX, two
/// species), and a flow carrying a finite-volume scalar (forces).
#[test]
fn a_restart_from_a_checkpoint_reproduces_the_run_byte_for_byte() {
    let square = "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [12, 12], kind: tri3}\n";
    restart_reproduces(
        "heat",
        &format!(
            "name: heat\n{square}physics:\n  heat: {{initial: \"sin(3*x)*y\", source: \"cos(t)\"}}\n\
             time: {{end: 1, dt: 0.01, integrator: bdf2, adaptive: {{tolerance: 1e-4, dt_min: 1e-6, dt_max: 0.2}}}}\n\
             monitors:\n  - probe: {{name: c, point: [0.5, 0.5]}}\n\
             output: {{every: 3, checkpoint_every: 4}}\n"
        ),
        &["steps.csv", "probes.csv", "heat.pvd"],
    );
    restart_reproduces(
        "dam_break",
        &shortened(
            "dam_break.yaml",
            1.0,
            "output: {every: 5, checkpoint_every: 6}\n",
        ),
        &["steps.csv", "conservation.csv", "dam_break.pvd"],
    );
    restart_reproduces(
        "rd",
        &format!(
            "name: rd\n{square}physics:\n  reaction_diffusion:\n    species:\n\
             \x20     - {{name: u, diffusivity: 0.01, reaction: \"u*(1 - u) - u*v\", initial: \"x\"}}\n\
             \x20     - {{name: v, diffusivity: 0.02, reaction: \"u*v - v\", initial: \"y\"}}\n\
             time: {{end: 0.5, dt: 0.02}}\n\
             monitors:\n  - probe: {{name: c, point: [0.5, 0.5]}}\n\
             output: {{every: 5, checkpoint_every: 7}}\n"
        ),
        &["steps.csv", "probes.csv", "rd.pvd", "rd_00025.vtu"],
    );
    restart_reproduces(
        "cylinder_scalar",
        &shortened(
            "cylinder_scalar.yaml",
            0.1,
            "output: {every: 10, checkpoint_every: 6}\n",
        ),
        &[
            "forces.csv",
            "conservation.csv",
            "steps.csv",
            "cylinder_scalar_00020.vtu",
        ],
    );
}

/// Runs on a moving mesh continue bit for bit too: the checkpoint keeps
/// the moved mesh, the levels' node positions (the ALE velocity of BDF2
/// needs two), the movers' counts and the Monge–Ampère potential the next
/// move starts from. Finite volumes (conservative remap, a move every
/// fourth step), advection–diffusion (ALE, BDF2) and reaction–diffusion
/// (interpolation, a spring mover).
#[test]
fn a_moving_mesh_run_restarts_byte_for_byte() {
    restart_reproduces(
        "rotating_hill",
        &shortened(
            "rotating_hill.yaml",
            0.15,
            "output: {every: 5, checkpoint_every: 7}\n",
        ),
        &[
            "steps.csv",
            "probes.csv",
            "conservation.csv",
            "rotating_hill.pvd",
        ],
    );
    restart_reproduces(
        "moving_front",
        &shortened(
            "moving_front.yaml",
            0.1,
            "output: {every: 5, checkpoint_every: 7}\n",
        )
        .replace("crank_nicolson", "bdf2"),
        &[
            "steps.csv",
            "probes.csv",
            "moving_front.pvd",
            "moving_front_00020.vtu",
        ],
    );
    restart_reproduces(
        "rd_moving",
        "name: rd_moving\nmesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [12, 12], kind: tri3}\n\
         physics:\n  reaction_diffusion:\n    species:\n\
         \x20     - {name: u, diffusivity: 0.001, reaction: \"10*u*(1 - u)\", initial: \"(1 - tanh((x - 0.3)/0.05))/2\"}\n\
         time: {end: 0.3, dt: 0.01}\n\
         mesh_mover: {kind: spring, monitor: {field: u, alpha: 10}, every: 2}\n\
         monitors:\n  - probe: {name: c, point: [0.5, 0.5]}\n\
         output: {every: 5, checkpoint_every: 7}\n",
        &["steps.csv", "probes.csv", "rd_moving.pvd", "rd_moving_00030.vtu"],
    );
}

/// The DFG 2D-2 case, shortened, interrupted part-way by Ctrl-C and
/// continued with `--restart`, ends with the forces and the last output
/// byte for byte those of a run that was never interrupted.
#[test]
fn the_dfg_case_interrupted_and_restarted_matches_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("cylinder_flow.yaml");
    std::fs::write(
        &case,
        shortened("cylinder_flow.yaml", 0.2, "output: {every: 10}\n"),
    )
    .unwrap();
    let files = [
        "forces.csv",
        "steps.csv",
        "cylinder_flow.pvd",
        "cylinder_flow_00040.vtu",
    ];
    let whole = dir.path().join("whole");
    let o = run_case(&case, &whole, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let parts = dir.path().join("parts");
    let child = start(&case, &parts);
    wait_for_rows(&parts, 12);
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let stopped = summary(&parts)["step"].as_u64().unwrap();
    assert!((12..40).contains(&stopped), "stopped at step {stopped}");
    let o = run_case(&case, &parts, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(summary(&parts)["steps"], 40);
    for (file, (a, b)) in files.iter().zip(
        contents(&whole, &files)
            .iter()
            .zip(contents(&parts, &files)),
    ) {
        assert!(
            *a == b,
            "{file} differs after the restart at step {stopped}"
        );
    }
}

/// A checkpoint of another case, mesh or step is refused with the reason;
/// so is a restart without a checkpoint, and checkpoints where they cannot
/// be taken.
#[test]
fn a_foreign_checkpoint_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("a.yaml");
    let out = dir.path().join("out");
    let heat = |name: &str, cells: usize, dt: f64| {
        format!(
            "name: {name}\nmesh:\n  generate: {{shape: rectangle, min: [0, 0], max: [1, 1], cells: [{cells}, {cells}], kind: tri3}}\n\
             physics:\n  heat: {{initial: x}}\ntime: {{end: 0.5, dt: {dt}}}\noutput: {{checkpoint_every: 2}}\n"
        )
    };
    std::fs::write(&case, heat("a", 4, 0.1)).unwrap();
    let o = run_case(&case, &out, true);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no checkpoint to continue from"));
    assert!(run_case(&case, &out, false).status.success());
    for (text, why) in [
        (heat("a", 5, 0.1), "it is of another mesh"),
        (
            heat("a", 4, 0.05),
            "it was taken with time.start 0 and time.dt 0.1",
        ),
        (heat("b", 4, 0.1), "it is of case 'a', this is 'b'"),
    ] {
        std::fs::write(&case, text).unwrap();
        let o = run_case(&case, &out, true);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("cannot continue from this checkpoint") && err.contains(why),
            "{err}"
        );
    }
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n\
         physics:\n  poisson: {}\noutput: {checkpoint_every: 0}\n",
    )
    .unwrap();
    let o = run(&["check", case.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("output.checkpoint_every: must be at least 1")
            && err.contains("output.checkpoint_every: a steady case has no steps to continue"),
        "{err}"
    );
}
