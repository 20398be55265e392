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
        Command::new(env!("CARGO_BIN_EXE_pde-engine"))
            .args([
                "run",
                case.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap()
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
