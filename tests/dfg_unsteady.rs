//! The unsteady DFG benchmarks end to end through the CLI, against the
//! published values (docs/reference/dfg_cylinder.json). They take
//! minutes, so they are ignored in the debug suite and run in release mode
//! by scripts/test.sh (`cargo test --release --test dfg_unsteady -- --ignored`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn run_case(case: &str, out: &Path) -> serde_json::Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let o = Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .current_dir(&root)
        .args(["run", case, "--output", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    eprintln!("{case}: {}", summary["forces"]);
    summary
}

fn within(value: &serde_json::Value, band: [f64; 2]) -> bool {
    value.as_f64().is_some_and(|v| band[0] <= v && v <= band[1])
}

/// 2D-2 (Re = 100): c_D max, c_L max and St inside the 1996 bands, and the
/// plot of the coefficients written.
#[test]
#[ignore = "minutes long; run in release mode by scripts/test.sh"]
fn dfg_2d2_periodic_shedding_is_inside_the_1996_bands() {
    let dir = tempfile::tempdir().unwrap();
    let s = run_case("cases/cylinder_flow.yaml", dir.path());
    let f = &s["forces"];
    assert!(within(&f["cd_max"], [3.22, 3.24]), "{f}");
    assert!(within(&f["cl_max"], [0.99, 1.01]), "{f}");
    assert!(within(&f["strouhal"], [0.295, 0.305]), "{f}");
    let png = std::fs::read(dir.path().join("forces.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

/// 2D-3 (inflow 1.5 sin(πt/8)): c_D max within 0.5% of 2.950921575 and
/// c_L max within 2% of 0.47795.
#[test]
#[ignore = "minutes long; run in release mode by scripts/test.sh"]
fn dfg_2d3_drag_and_lift_maxima_match_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let s = run_case("cases/cylinder_flow_2d3.yaml", dir.path());
    let f = &s["forces"];
    let rel = |key: &str, reference: f64| (f[key].as_f64().unwrap() - reference) / reference;
    assert!(rel("cd_max", 2.950921575).abs() < 0.005, "{f}");
    assert!(rel("cl_max", 0.47795).abs() < 0.02, "{f}");
}
