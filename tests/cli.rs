//! End-to-end tests of the `pde-engine` command line on the shipped meshes
//! and cases: what a user types, what they see, and the exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pde(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run pde-engine")
}

/// `pde-engine run CASE --output OUT`.
fn run_into(case: &std::path::Path, out: &std::path::Path) -> Output {
    pde(&[
        "run",
        case.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ])
}

/// Runs `case` into `out`, which must succeed, and reads its summary.
fn run_ok(case: &std::path::Path, out: &std::path::Path) -> serde_json::Value {
    let o = run_into(case, out);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn mesh_info_json_describes_the_dfg_mesh() {
    let o = pde(&["mesh", "info", "meshes/dfg_cylinder_l1.msh", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["format"], "MSH 4.1 ASCII");
    assert_eq!(v["dim"], 2);
    assert_eq!(v["points"], 2542);
    assert!(v["cells"]["tri6"].as_u64().unwrap() > 1000);
    let names: Vec<&str> = v["physical_groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["inlet", "outlet", "walls", "cylinder", "fluid"]);
    assert_eq!(v["quality"]["inverted"], 0);
    assert_eq!(v["boundary"]["untagged"], 0);
    // Quality works on the straight-sided cells: the channel minus the
    // polygon inscribed in the cylinder, one side per cylinder edge.
    let sides = v["physical_groups"][3]["cells"].as_f64().unwrap();
    let polygon = sides / 2.0 * 0.05f64.powi(2) * (2.0 * std::f64::consts::PI / sides).sin();
    let area = v["quality"]["total_measure"].as_f64().unwrap();
    assert!((area - (2.2 * 0.41 - polygon)).abs() < 1e-12, "{area}");
    assert_eq!(
        v["bounding_box"]["max"],
        serde_json::json!([2.2, 0.41, 0.0])
    );
}

#[test]
fn mesh_info_text_is_readable() {
    let o = pde(&["mesh", "info", "mesh/tests/data/cube_tet10_v41_binary.msh"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("MSH 4.1 binary (little-endian)"), "{text}");
    assert!(text.contains("total volume"), "{text}");
    assert!(text.contains("walls"), "{text}");
}

#[test]
fn bad_mesh_fails_with_location_and_no_panic() {
    let o = pde(&[
        "mesh",
        "info",
        "mesh/tests/data/broken/v22_missing_node.msh",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.starts_with("error: mesh/tests/data/broken/v22_missing_node.msh: line 12: element refers to node 99"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn convert_to_vtu_and_between_msh_formats() {
    let dir = tempfile::tempdir().unwrap();
    let vtu = dir.path().join("sub/dfg.vtu");
    let o = pde(&[
        "mesh",
        "convert",
        "meshes/dfg_cylinder_l1.msh",
        vtu.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let head = std::fs::read(&vtu).unwrap();
    assert!(head.starts_with(b"<?xml version=\"1.0\"?>\n<VTKFile type=\"UnstructuredGrid\""));

    let msh = dir.path().join("dfg22.msh");
    let o = pde(&[
        "mesh",
        "convert",
        "meshes/dfg_cylinder_l1.msh",
        msh.to_str().unwrap(),
        "--msh-version",
        "2.2",
        "--binary",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let a = pde(&["mesh", "info", "--json", "meshes/dfg_cylinder_l1.msh"]);
    let b = pde(&["mesh", "info", "--json", msh.to_str().unwrap()]);
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&a.stdout).unwrap(),
        serde_json::from_slice(&b.stdout).unwrap(),
    );
    assert_eq!(b["format"], "MSH 2.2 binary (little-endian)");
    for key in ["points", "cells", "physical_groups", "quality", "boundary"] {
        assert_eq!(a[key], b[key], "{key}");
    }

    let o = pde(&["mesh", "convert", "meshes/dfg_cylinder_l1.msh", "out.stl"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("out.stl: unknown output format; expected .vtu or .msh"));
}

#[test]
fn case_file_errors_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("bad.yaml");
    std::fs::write(
        &case,
        "name: x\nmesh:\n  file: m.msh\nphysics:\n  poisson: {}\noutput:\n  directroy: out\n",
    )
    .unwrap();
    let o = pde(&["run", case.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.yaml: invalid case file"), "{err}");
    assert!(err.contains("directroy") && err.contains("line 7"), "{err}");

    std::fs::write(
        &case,
        "mesh:\n  file: missing.msh\nphysics:\n  poisson: {}\n",
    )
    .unwrap();
    let err = stderr(&pde(&["run", case.to_str().unwrap()]));
    assert!(err.contains("missing.msh"), "{err}");

    // Expressions are checked when the file is read, with their line.
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [2, 2], kind: tri3}\nphysics:\n  poisson:\n    source: sin(w*x)\n",
    )
    .unwrap();
    let err = stderr(&pde(&["check", case.to_str().unwrap()]));
    assert!(
        err.contains("line 5") && err.contains("unknown name 'w'"),
        "{err}"
    );
}

#[test]
fn check_lists_the_groups_the_mesh_has() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("groups.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [2, 2], kind: tri3}\n\
         physics:\n  heat:\n    boundary:\n      inlet: {dirichlet: 0}\ntime: {end: 1, dt: -0.1}\n",
    )
    .unwrap();
    let o = pde(&["check", case.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains(
            "physics.heat.boundary.inlet: the mesh has no such group; it has left (dim 1)"
        ),
        "{err}"
    );
    assert!(
        err.contains("time.dt: -0.1 must be a positive finite number"),
        "{err}"
    );
    let ok = pde(&["check", "cases/heat_square.yaml"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
}

#[test]
fn check_refuses_the_flow_preconditioner_where_it_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("lsc.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [2, 2], kind: tri3}\n\
         physics:\n  heat:\n    boundary:\n      left: {dirichlet: 0}\n\
         solver: {preconditioner: lsc}\n",
    )
    .unwrap();
    let o = pde(&["check", case.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("solver.preconditioner: lsc is for flow (saddle-point) systems"),
        "{err}"
    );
    assert!(err.contains("set solver.kind: gmres"), "{err}");
}

#[test]
fn check_refuses_a_learned_stepper_where_it_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("stepper.yaml");
    // The curved (order 2) DFG mesh.
    let mesh = root().join("meshes/dfg_cylinder_l1.msh");
    std::fs::write(
        &case,
        format!(
            "mesh: {{file: {}}}\n\
         physics:\n  heat:\n    boundary:\n      inlet: {{dirichlet: 0}}\n\
         time: {{end: 1, dt: 0.1, adaptive: {{tolerance: 1e-3, dt_min: 1e-4, dt_max: 0.5}}}}\n\
         stepper: {{kind: torchscript, model: m.pt, from: 2, residual_tolerance: 0}}\n",
            mesh.display()
        ),
    )
    .unwrap();
    let o = pde(&["check", case.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for expected in [
        "stepper: learned steppers replace the step of 2D navier_stokes, not of heat",
        "stepper: learned steppers work on the vertices of a linear mesh",
        "remove time.adaptive",
        "stepper.residual_tolerance: 0 must be positive",
        "stepper.from: 2 is outside the run [0, 1]",
        "stepper.type_groups: a torchscript module needs its node-type groups",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    assert_eq!(
        err.contains("build with --features torch"),
        !cfg!(feature = "torch"),
        "{err}"
    );
}

/// A dam break in a closed strip of quadrilaterals: cell data in the
/// series, `conservation.csv`, mass kept to round-off.
#[test]
fn shallow_water_runs_write_cell_data_and_conserve_mass() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("dam.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [-1, 0], max: [1, 0.1], cells: [80, 4], kind: quad4}\n\
         physics:\n  shallow_water:\n    initial: [\"0.75 - 0.25*signum(x)\"]\n\
         time: {end: 0.2, dt: 0.05}\noutput: {every: 5}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let summary = run_ok(&case, &out);
    assert!(
        summary["balance_error"].as_f64().unwrap().abs() < 1e-13,
        "{summary}"
    );
    // The CFL limit (about 0.5 · 0.025 / 3.1), not time.dt, sets the steps.
    assert!(summary["dt_max"].as_f64().unwrap() < 0.005, "{summary}");
    let conservation = std::fs::read_to_string(out.join("conservation.csv")).unwrap();
    assert!(conservation.starts_with("t,total_h,outflow_h,min_h,max_h,total_hu"));
    assert_eq!(
        conservation.lines().count(),
        summary["steps"].as_u64().unwrap() as usize + 2
    );
    let vtu =
        String::from_utf8_lossy(&std::fs::read(out.join("dam_00000.vtu")).unwrap()).into_owned();
    assert!(
        vtu.contains("<CellData") && vtu.contains("Name=\"h\""),
        "cell data h"
    );
    assert!(
        vtu.contains("Name=\"velocity\" NumberOfComponents=\"3\""),
        "the velocity hu/h, hv/h as cell data"
    );

    let shipped = pde(&["check", "cases/dam_break.yaml"]);
    assert!(shipped.status.success(), "{}", stderr(&shipped));

    // A dry start and a 3D mesh are refused before any work.
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: box, min: [0, 0, 0], max: [1, 1, 1], cells: [1, 1, 1], kind: tet4}\n\
         physics:\n  shallow_water:\n    initial: [1]\n    scheme: {cfl: 2}\n\
         time: {end: 0.2, dt: 0.05, integrator: bdf2}\n",
    )
    .unwrap();
    let err = stderr(&pde(&["check", case.to_str().unwrap()]));
    for expected in [
        "the shallow-water equations live in the plane; the mesh is 3D",
        "physics.shallow_water.scheme.cfl: 2 must lie in (0, 1]",
        "remove time.integrator and time.adaptive",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [2, 2], kind: tri3}\n\
         physics:\n  shallow_water:\n    initial: [\"x - 0.5\"]\ntime: {end: 0.2, dt: 0.05}\n",
    )
    .unwrap();
    let o = run_into(&case, &out);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("physics.shallow_water.initial: the depth must be positive"),
        "{}",
        stderr(&o)
    );
}

/// A periodic transport run with backward Euler, and Burgers: both balance
/// their totals against the boundary to round-off, write cell data, the
/// conservation record and its plot; the shipped cases are valid; wrong
/// combinations are refused before any work.
#[test]
fn transport_and_burgers_cases_run_and_conserve() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("plume.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [2, 1], cells: [20, 10], kind: tri3}\n\
         physics:\n  transport:\n    velocity: [1, 0.2]\n    diffusivity: 0.01\n\
         \x20   boundary: {left: {inflow: [1]}, right: outflow}\n    periodic: [[bottom, top]]\n\
         \x20   scheme: {runge_kutta: backward_euler, cfl: 10}\n\
         time: {end: 1, dt: 0.5}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let summary = run_ok(&case, &out);
    assert!(
        summary["balance_error"].as_f64().unwrap().abs() < 1e-13,
        "{summary}"
    );
    // Inflow came in (negative outflow), in steps ten times the explicit
    // limit (about 0.018 here, diffusion included).
    assert!(summary["outflow"].as_f64().unwrap() < -0.1, "{summary}");
    assert!(summary["dt_max"].as_f64().unwrap() > 0.15, "{summary}");
    let range = &summary["range"]["c"];
    assert!(range[0].as_f64().unwrap() > -1e-3 && range[1].as_f64().unwrap() < 1.0 + 1e-3);
    assert!(out.join("conservation.png").exists());
    let vtu =
        String::from_utf8_lossy(&std::fs::read(out.join("plume_00000.vtu")).unwrap()).into_owned();
    assert!(vtu.contains("<CellData") && vtu.contains("Name=\"c\""));

    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [20, 4], kind: quad4}\n\
         physics:\n  burgers:\n    initial: \"0.5 + sin(2*pi*x)\"\n    periodic: [[left, right]]\n\
         time: {end: 0.3, dt: 0.1}\n",
    )
    .unwrap();
    let summary = run_ok(&case, &out);
    assert!(
        summary["balance_error"].as_f64().unwrap().abs() < 1e-13,
        "{summary}"
    );
    assert_eq!(summary["outflow"].as_f64().unwrap(), 0.0);

    for shipped in [
        "cases/transport.yaml",
        "cases/burgers.yaml",
        "cases/plume.yaml",
    ] {
        let o = pde(&["check", shipped]);
        assert!(o.status.success(), "{shipped}: {}", stderr(&o));
    }

    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n\
         physics:\n  burgers:\n    velocity: [1, 0]\n    boundary: {left: outflow}\n\
         \x20   periodic: [[left, right], [top, nowhere]]\n\
         \x20   scheme: {runge_kutta: backward_euler, reconstruction: muscl}\n\
         time: {end: 0.3, dt: 0.1}\n",
    )
    .unwrap();
    let err = stderr(&pde(&["check", case.to_str().unwrap()]));
    for expected in [
        "physics.burgers.velocity: burgers carries itself; give its direction instead",
        "physics.burgers.scheme.runge_kutta: backward_euler needs a linear law (transport)",
        "physics.burgers.scheme.reconstruction: backward_euler uses first-order upwind",
        "physics.burgers.boundary.left: the group is periodic",
        "physics.burgers.boundary.nowhere: the mesh has no such group",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    // Groups that do not match face by face are found when the run starts.
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [2, 1], cells: [4, 2], kind: tri3}\n\
         physics:\n  transport:\n    velocity: [1, 0]\n    periodic: [[left, top]]\n\
         time: {end: 0.3, dt: 0.1}\n",
    )
    .unwrap();
    let o = run_into(&case, &out);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("physics.transport.periodic: periodic: 'left' has 2 faces and 'top' 4"),
        "{}",
        stderr(&o)
    );
}

/// A channel flow carrying dye in from the left: the finite-volume scalar
/// follows the finite-element flow, balances its total against what
/// crossed the boundary to round-off, and is written as cell data.
#[test]
fn a_flow_carries_a_finite_volume_scalar() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("dye.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [2, 1], cells: [16, 8], kind: tri3}\n\
         physics:\n  navier_stokes:\n    nu: 0.01\n    boundary:\n\
         \x20     left: {velocity: [\"4*y*(1 - y)\", 0]}\n      top: no_slip\n      bottom: no_slip\n\
         \x20   scalar:\n      name: dye\n      boundary: {left: {inflow: [1]}, right: outflow}\n\
         time: {end: 0.6, dt: 0.05}\noutput: {every: 4}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let summary = run_ok(&case, &out);
    let dye = &summary["scalar"];
    let (total, outflow) = (
        dye["total"].as_f64().unwrap(),
        dye["outflow"].as_f64().unwrap(),
    );
    // Nothing at the start: what is inside came in through the inlet.
    assert!(total > 0.3, "{summary}");
    assert!((total + outflow).abs() < 1e-12 * total, "{summary}");
    assert!(
        dye["steps"].as_u64().unwrap() >= 12,
        "at least one sub-step per flow step"
    );
    // The sampled velocity is made divergence-free, so the dye stays within
    // the bounds of its inflow (0 and 1) to round-off.
    let (lo, hi) = (dye["min"].as_f64().unwrap(), dye["max"].as_f64().unwrap());
    assert!(hi > 0.9 && hi <= 1.0 + 1e-12 && lo >= -1e-12, "{summary}");
    let conservation = std::fs::read_to_string(out.join("conservation.csv")).unwrap();
    assert!(conservation.starts_with("t,total_dye,outflow_dye,min_dye,max_dye\n"));
    let vtu =
        String::from_utf8_lossy(&std::fs::read(out.join("dye_00012.vtu")).unwrap()).into_owned();
    assert!(vtu.contains("Name=\"dye\"") && vtu.contains("Name=\"velocity\""));
    let shipped = pde(&["check", "cases/cylinder_scalar.yaml"]);
    assert!(shipped.status.success(), "{}", stderr(&shipped));
}

#[test]
fn shipped_cases_run_and_write_their_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("heat");
    let o = pde(&[
        "run",
        "cases/heat_square.yaml",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("summary"));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["steps"], 40);
    // The exact solution at the centre at t = 2: 1 + 0.25 + 0.75 + 2.4.
    assert!(
        (summary["probes"]["centre"].as_f64().unwrap() - 4.4).abs() < 1e-12,
        "{summary}"
    );
    let pvd = std::fs::read_to_string(out.join("heat_square.pvd")).unwrap();
    assert_eq!(pvd.matches("<DataSet").count(), 11, "steps 0, 4, ..., 40");
    let probes = std::fs::read_to_string(out.join("probes.csv")).unwrap();
    assert_eq!(probes.lines().count(), 42, "header, t = 0 and 40 steps");
    let steps = std::fs::read_to_string(out.join("steps.csv")).unwrap();
    assert_eq!(steps.lines().count(), 41, "header and 40 steps");
    assert!(steps.starts_with("t,dt,solver_iterations,max_abs\n"));
    // The largest value at t = 2 is u(1, 1) = 1 + 1 + 3 + 2.4.
    let last: Vec<f64> = steps
        .lines()
        .last()
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(
        (last[0] - 2.0).abs() < 1e-12 && (last[3] - 7.4).abs() < 1e-9,
        "{last:?}"
    );

    let out = dir.path().join("lshape");
    let o = pde(&[
        "run",
        "cases/poisson_lshape.yaml",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.join("poisson_lshape.vtu").is_file());
}

/// The steady DFG case end to end: summary values within the 2D-1
/// accuracy targets, forces.csv, the output file, and a flow-specific
/// check error.
#[test]
fn steady_cylinder_case_reproduces_dfg_2d1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("re20");
    let o = pde(&[
        "run",
        "cases/cylinder_flow_re20.yaml",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("forces.cd"), "{}", stdout(&o));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let f = &summary["forces"];
    let rel = |key: &str, reference: f64| (f[key].as_f64().unwrap() - reference) / reference;
    assert!(rel("cd", 5.57953523384).abs() < 1e-3, "{summary}");
    assert!(rel("cl", 0.010618948146).abs() < 0.02, "{summary}");
    assert!(rel("dp", 0.11752016697).abs() < 0.005, "{summary}");
    let csv = std::fs::read_to_string(out.join("forces.csv")).unwrap();
    assert!(csv.starts_with("t,cd,cl,dp\n"), "{csv}");
    assert!(out.join("cylinder_flow_re20.vtu").is_file());

    let case = dir.path().join("bad_flow.yaml");
    std::fs::write(
        &case,
        "mesh:\n  file: ../../work/none.msh\nphysics:\n  navier_stokes: {nu: 0.001, boundary: {inlet: slip}}\n",
    )
    .unwrap();
    let err = stderr(&pde(&["check", case.to_str().unwrap()]));
    assert!(
        err.contains("unknown variant `slip`") && err.contains("velocity, no_slip, do_nothing"),
        "{err}"
    );
}

/// A flow whose inflow becomes infinite at t = 0.3 stops there, naming the
/// step and time, and keeps the series and the forces written so far.
#[test]
fn flow_divergence_stops_with_a_message_and_keeps_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("burst.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [2, 1], cells: [8, 4], kind: tri3}\n\
         physics:\n  navier_stokes:\n    nu: 0.01\n    boundary:\n\
         \x20     left: {velocity: [\"y*(1 - y)/(0.3 - t)\", 0]}\n      bottom: no_slip\n      top: no_slip\n\
         time: {end: 1, dt: 0.1}\n\
         monitors:\n  - forces: {group: bottom}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run_into(&case, &out);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("the run stopped") && err.contains("diverged at step 3, t = 3.0"),
        "{err}"
    );
    let pvd = std::fs::read_to_string(out.join("burst.pvd")).unwrap();
    assert_eq!(
        pvd.matches("<DataSet").count(),
        3,
        "t = 0 and the two good steps"
    );
    let forces = std::fs::read_to_string(out.join("forces.csv")).unwrap();
    assert_eq!(
        forces.lines().count(),
        3,
        "header and the two good steps: {forces}"
    );
}

#[test]
fn advection_diffusion_case_carries_the_hill_round_and_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ad");
    let o = pde(&[
        "run",
        "cases/advection_diffusion.yaml",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    // After one revolution the hill (peak 1) is back at `start`, nothing is
    // left at `opposite`, and SUPG has kept undershoots small.
    let start = summary["probes"]["start"].as_f64().unwrap();
    let opposite = summary["probes"]["opposite"].as_f64().unwrap();
    assert!(start > 0.95 && opposite.abs() < 1e-3, "{summary}");
    assert!(summary["min"].as_f64().unwrap() > -0.01, "{summary}");

    // The steady problem: no time section; a symmetric solver is refused.
    let case = dir.path().join("steady.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n\
         physics:\n  advection_diffusion:\n    kappa: 1e-3\n    boundary: {left: {dirichlet: 1}}\n\
         solver: {kind: cholesky}\n",
    )
    .unwrap();
    let err = stderr(&pde(&["check", case.to_str().unwrap()]));
    assert!(
        err.contains("physics.advection_diffusion.velocity: required")
            && err.contains("solver.kind: cholesky needs a symmetric positive definite matrix"),
        "{err}"
    );
}

#[test]
fn solvers_are_chosen_in_the_case_file() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("amg.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [64, 64], kind: tri3}\n\
         physics:\n  poisson:\n    source: 2*pi^2*sin(pi*x)*sin(pi*y)\n    boundary:\n\
         \x20     left: {dirichlet: 0}\n      right: {dirichlet: 0}\n      bottom: {dirichlet: 0}\n      top: {dirichlet: 0}\n\
         solver: {kind: cg, preconditioner: amg, rtol: 1e-12}\n\
         monitors:\n  - probe: {name: centre, point: [0.5, 0.5]}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let summary = run_ok(&case, &out);
    let iterations = summary["solver_iterations"].as_u64().unwrap();
    assert!((1..30).contains(&iterations), "{summary}");
    // CG stops on its recursive residual; the true one may differ by round-off.
    assert!(
        summary["relative_residual"].as_f64().unwrap() < 1e-11,
        "{summary}"
    );
    // The exact solution is 1 at the centre; P1 on 64x64 is within 1e-3.
    assert!(
        (summary["probes"]["centre"].as_f64().unwrap() - 1.0).abs() < 1e-3,
        "{summary}"
    );
    // MIC(0) by its options: the same solution, fewer iterations than IC(0).
    let with = |preconditioner: &str| {
        let text = std::fs::read_to_string(&case).unwrap();
        let text = text.replace("preconditioner: amg", preconditioner);
        let other = dir.path().join("other.yaml");
        std::fs::write(&other, text).unwrap();
        run_ok(&other, &dir.path().join("other"))
    };
    let ic0 = with("preconditioner: ic0");
    let mic0 = with("preconditioner: {kind: mic0, omega: 1}");
    let centre = |s: &serde_json::Value| s["probes"]["centre"].as_f64().unwrap();
    assert!((centre(&mic0) - centre(&summary)).abs() < 1e-9, "{mic0}");
    let iterations = |s: &serde_json::Value| s["solver_iterations"].as_u64().unwrap();
    assert!(iterations(&mic0) < iterations(&ic0), "{mic0} {ic0}");

    std::fs::write(
        &case,
        "mesh: {file: x.msh}\nphysics: {poisson: {}}\nsolver: {kind: multigrid}\n",
    )
    .unwrap();
    let err = stderr(&pde(&["check", case.to_str().unwrap()]));
    assert!(
        err.contains("unknown variant `multigrid`")
            && err.contains("cholesky, lu, lagged_lu, cg, gmres, bicgstab"),
        "{err}"
    );
}

#[test]
fn divergence_stops_with_a_message_and_keeps_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("blowup.yaml");
    // The source is infinite at t = 0.5.
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n\
         physics:\n  heat:\n    source: 1/(0.5-t)\ntime: {end: 1, dt: 0.1}\noutput: {every: 1}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = run_into(&case, &out);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("the run stopped") && err.contains("diverged at step 5, t = 5.0"),
        "{err}"
    );
    let pvd = std::fs::read_to_string(out.join("blowup.pvd")).unwrap();
    assert!(pvd.trim_end().ends_with("</VTKFile>"));
    assert_eq!(
        pvd.matches("<DataSet").count(),
        5,
        "t = 0 and the four good steps"
    );
    assert!(std::fs::read_to_string(out.join("probes.csv")).is_ok());
}

/// A state that grows far beyond its initial scale but stays finite stops
/// the run (10¹⁰ × max(1, largest initial value) by default); `time.blow_up`
/// raises the limit for a case whose units need it, and `check` refuses a
/// limit that is not a positive number.
#[test]
fn a_huge_finite_state_is_divergence_unless_the_case_allows_it() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("huge.yaml");
    // Insulated, so u = 1e12 t: 1e11 after the first step.
    let write = |time: &str| {
        std::fs::write(
            &case,
            format!(
                "mesh:\n  generate: {{shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}}\n\
                 physics:\n  heat: {{source: 1e12}}\ntime: {{{time}}}\n"
            ),
        )
        .unwrap()
    };
    write("end: 1, dt: 0.1");
    let o = run_into(&case, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("diverged at step 1")
            && err.contains("above the divergence limit 1e10 (time.blow_up)"),
        "{err}"
    );
    write("end: 1, dt: 0.1, blow_up: 1e13");
    let o = run_into(&case, &dir.path().join("out2"));
    assert!(o.status.success(), "{}", stderr(&o));
    write("end: 1, dt: 0.1, blow_up: -1");
    let err = stderr(&pde(&["check", case.to_str().unwrap()]));
    assert!(err.contains("time.blow_up: -1 must be a positive"), "{err}");
}

#[test]
fn help_teaches_the_first_commands() {
    let o = pde(&["--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(
        text.contains("pde-engine mesh info")
            && text.contains("pde-engine run cases/cylinder_flow.yaml"),
        "{text}"
    );
}

/// A generation config with impossible values is refused before any work,
/// every problem named.
#[test]
fn generate_refuses_bad_configs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gen.yaml");
    std::fs::write(
        &config,
        "geometry: ../meshes/dfg_cylinder.geo\ncount: 2\nheld_out: 2\n\
         cylinder_x: [0.2, 0.1]\ncylinder_y: [0.05, 0.2]\nradius: [0.04, 0.06]\n\
         inflow: [1, 2]\ndt: 0.01\nsteps: 10\noutput: data\n",
    )
    .unwrap();
    let o = pde(&["generate", "flows", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    for expected in [
        "gen.yaml: invalid generate config",
        "cylinder_x: [0.2, 0.1] must be a positive range",
        "the cylinder must stay 0.02 inside the channel",
        "2 trajectories with 2 held out leaves none to train on",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    // A model in the loop that is not a model folder: refused before
    // anything is written.
    std::fs::write(
        &config,
        "geometry: ../meshes/dfg_cylinder.geo\ncount: 2\nheld_out: 1\n\
         cylinder_x: [0.2, 0.3]\ncylinder_y: [0.18, 0.22]\nradius: [0.04, 0.06]\n\
         inflow: [1, 2]\ndt: 0.01\nsteps: 10\noutput: data\n\
         solver_in_the_loop: {every: 4, length: 2, residual: 0.02, model: nowhere}\n",
    )
    .unwrap();
    let o = pde(&["generate", "flows", config.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("solver_in_the_loop.model"), "{err}");
    assert!(!dir.path().join("data").exists(), "{err}");
    std::fs::write(&config, "geometry: x.geo\ncount: 2\nsteps: ten\n").unwrap();
    let err = stderr(&pde(&["generate", "flows", config.to_str().unwrap()]));
    assert!(err.contains("line 3") && err.contains("steps"), "{err}");
}

/// `generate systems --help` teaches what it writes, the layout, and an
/// example config that exists.
#[test]
fn generate_systems_help_shows_the_layout_and_an_example() {
    let o = pde(&["generate", "systems", "--help"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for expected in [
        "OUTPUT/index.json",
        "OUTPUT/<split>/<name>/A.mtx",
        "b.mtx",
        "x.mtx",
        "points.mtx",
        "pde-engine generate systems cases/learned/systems.yaml",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert!(root().join("cases/learned/systems.yaml").is_file());
}

/// Probes work for every time-dependent model: on a shallow-water case
/// they read the cell that holds the point, every step, into probes.csv.
#[test]
fn a_probe_on_a_shallow_water_case_writes_probes_csv() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("dam.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [-1, 0], max: [1, 0.1], cells: [40, 2], kind: quad4}\n\
         physics:\n  shallow_water:\n    initial: [\"0.75 - 0.25*signum(x)\"]\n\
         time: {end: 0.1, dt: 0.05}\n\
         monitors:\n  - probe: {name: far, point: [-0.95, 0.05]}\n  - probe: {name: gate, point: [0.01, 0.05]}\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let summary = run_ok(&case, &out);
    let csv = std::fs::read_to_string(out.join("probes.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("t,far_h,far_hu,far_hv,gate_h,gate_hu,gate_hv")
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), summary["steps"].as_u64().unwrap() as usize + 1);
    // The far end of the reservoir is still at rest and 1 deep at t = 0.1;
    // at the gate the depth fell and water runs downstream.
    let last = rows.last().unwrap();
    assert!((last[1] - 1.0).abs() < 1e-12, "{last:?}");
    assert!(last[4] < 0.95 && last[4] > 0.5, "{last:?}");
    assert!(last[5] > 0.05, "{last:?}");
    assert_eq!(rows[0][4], 0.5, "initially the cell right of the gate");
    assert_eq!(summary["probes"]["far_h"].as_f64(), Some(last[1]));
}

/// Mistakes that used to pass `check` and fail (or mislead) in the run are
/// refused by `check`, before any output exists, naming the file, the key
/// and the reason.
#[test]
fn check_refuses_what_the_run_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("bad.yaml");
    let square = "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n";
    let cases = [
        (
            format!(
                "{square}physics:\n  heat:\n    boundary:\n      left: {{robin: {{alpha: 1, value: 0}}}}\n\
                 time: {{end: 1, dt: 0.1}}\n"
            ),
            "line 6: physics.heat.boundary.left: robin conditions are available for poisson only",
        ),
        (
            format!(
                "{square}physics:\n  heat: {{}}\ntime: {{end: 1, dt: 0.1}}\n\
                 monitors:\n  - probe: {{name: away, point: [2, 0.5]}}\n"
            ),
            "line 7: monitors: probe 'away': [2.0, 0.5] is outside the mesh",
        ),
        (
            format!(
                "{square}physics:\n  heat: {{}}\ntime: {{end: 1, dt: 0.1}}\n\
                 monitors:\n  - probe: {{name: c, point: [0.5, 0.5], every: 2}}\n"
            ),
            "line 7 column 41: unknown field `every`, expected one of name, point",
        ),
        (
            format!(
                "{square}physics:\n  navier_stokes:\n    nu: 0.01\n    boundary:\n      \
                 left: {{velocity: [1, 0]}}\n\
                 monitors:\n  - forces: {{group: right}}\n"
            ),
            "line 9: monitors: forces.group 'right' has no wall condition",
        ),
        (
            format!("{square}physics:\n  heat: {{}}\ntime: {{end: 1, dt: 0.1}}\nsolver: {{kind: cg, preconditioner: magic}}\n"),
            "line 6 column 36: unknown variant `magic`, expected one of jacobi, ssor, ilu0, ic0, mic0, amg, lsc, none",
        ),
        (
            format!("{square}physics:\n  heat: {{}}\ntime: {{end: 1, dt: 0.1}}\nsolver: {{kind: cg, preconditioner: {{kind: mic0, omega: 1.5}}}}\n"),
            "solver.preconditioner: omega is 1.5; expected a number in (0, 1]",
        ),
        (
            format!("{square}physics:\n  heat: {{}}\ntime: {{end: 1, dt: 0.1}}\nstepper: {{kind: extrapolation, window: 2, correction: magic}}\n"),
            "line 6 column 55: unknown variant `magic`, expected one of none, projection, stokes",
        ),
        (
            format!("{square}physics:\n  heat: {{}}\ntime: {{end: 1, dt: 0.1}}\nsolver: {{kind: pardiso}}\n"),
            "line 6 column 16: unknown variant `pardiso`, expected one of cholesky, lu, lagged_lu, cg, gmres, bicgstab",
        ),
        (
            format!("{square}physics:\n  heat: {{}}\ntime: {{end: 1, dt: 0.1}}\nsolver: {{kind: lu, preconditioner: amg}}\n"),
            "solver.preconditioner: amg preconditions an iterative solver; lu is direct",
        ),
        (
            format!("{square}physics:\n  transport: {{velocity: [1, 0]}}\ntime: {{end: 1, dt: 0.1}}\nsolver: {{kind: gmres}}\n"),
            "solver: transport chooses its own linear solvers; remove the solver section",
        ),
        // Issue 14's list: each used to pass `check` (or hang, or exit 0).
        (
            format!("{square}physics:\n  heat: {{}}\ntime: {{end: .inf, dt: 0.1}}\n"),
            "time: start (0) and end (inf) must be finite numbers",
        ),
        (
            format!("{square}physics:\n  heat: {{}}\ntime: {{start: 1e17, end: 1.0000000000000002e17, dt: 1}}\n"),
            "a step would not advance the time",
        ),
        (
            format!("{square}physics:\n  heat: {{kappa: 1 + t}}\ntime: {{end: 1, dt: 0.1}}\n"),
            "physics.heat.kappa: '1 + t' depends on t",
        ),
        (
            format!("{square}physics:\n  poisson: {{source: t}}\n"),
            "physics.poisson.source: 't' depends on t; poisson is steady",
        ),
        (
            format!("{square}physics:\n  poisson:\n    boundary:\n      left: {{robin: {{alpha: 1, value: 0, bogus: 1}}}}\n"),
            "unknown field `bogus`",
        ),
        (
            format!("{square}physics:\n  poisson: {{source: foo(x)}}\n"),
            "unknown function 'foo'",
        ),
        (
            format!("{square}physics:\n  poisson: {{source: \"é + x\"}}\n"),
            "'é' at column 1 is not ASCII",
        ),
        (
            format!("name: ../escaped\n{square}physics:\n  poisson: {{}}\n"),
            "name: '../escaped' must be a plain file name",
        ),
        (
            "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [100000, 100000], kind: tri3}\nphysics:\n  poisson: {}\n".to_string(),
            "mesh.generate.cells: [100000, 100000] makes more than 50000000 points",
        ),
        (
            "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [18446744073709551615, 2], kind: tri3}\nphysics:\n  poisson: {}\n".to_string(),
            "makes more than 50000000 points",
        ),
        (
            "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [2, 2], kind: quad4}\nphysics:\n  navier_stokes: {nu: 1, boundary: {left: {velocity: [1, 0]}}}\n".to_string(),
            "flows need a 2D or 3D mesh of triangles or tetrahedra",
        ),
        // A mesh of line cells used to pass `check` and panic in the run.
        (
            "mesh: {file: line.msh}\nphysics:\n  stokes: {nu: 1, boundary: {left: {velocity: [1]}}}\n".to_string(),
            "this mesh is 1D with line2 cells",
        ),
    ];
    std::fs::write(
        dir.path().join("line.msh"),
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$PhysicalNames\n2\n0 1 \"left\"\n1 2 \"domain\"\n$EndPhysicalNames\n\
         $Nodes\n3\n1 0 0 0\n2 0.5 0 0\n3 1 0 0\n$EndNodes\n\
         $Elements\n3\n1 15 2 1 1 1\n2 1 2 2 1 1 2\n3 1 2 2 1 2 3\n$EndElements\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    for (text, expected) in &cases {
        std::fs::write(&case, text).unwrap();
        for command in ["check", "run"] {
            let o = pde(&[
                command,
                case.to_str().unwrap(),
                "--output",
                out.to_str().unwrap(),
            ][..if command == "check" { 2 } else { 4 }]);
            assert_eq!(o.status.code(), Some(1), "{command}: {text}");
            let err = stderr(&o);
            assert!(err.contains(expected), "{command}: {expected}\n{err}");
            assert!(err.contains("bad.yaml"), "names the file: {err}");
            assert!(!out.exists(), "{command} created output for a refused case");
        }
    }
}

/// `check` shows every boundary group with the condition it will get,
/// marking the model's defaults.
#[test]
fn check_prints_the_boundary_conditions_with_defaults_marked() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("heat.yaml");
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [2, 2], kind: tri3}\n\
         physics:\n  heat:\n    boundary:\n      left: {dirichlet: 1 + x}\n      top: {neumann: 2}\n\
         time: {end: 1, dt: 0.5}\n",
    )
    .unwrap();
    let o = pde(&["check", case.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for line in [
        "left    dirichlet 1 + x\n",
        "top     neumann 2.0\n",
        "right   neumann 0 (insulated)  (default)\n",
        "bottom  neumann 0 (insulated)  (default)\n",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

/// The reaction–diffusion section end to end: two coupled species with a
/// spatially uniform exact solution (`u' = -u + v`, `v' = -v`, zero flux:
/// `v = e^{-t}`, `u = (1 + t) e^{-t}`), by IMEX SBDF2 and by Newton BDF2,
/// probed and summarised; mistakes in the section are refused by `check`.
#[test]
fn reaction_diffusion_cases_run_and_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("rd.yaml");
    let section = |scheme: &str, extra: &str| {
        format!(
            "mesh:\n  generate: {{shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}}\n\
             physics:\n  reaction_diffusion:\n    species:\n\
             \x20     - {{name: u, diffusivity: 1, reaction: \"v - u\", initial: 1}}\n\
             \x20     - {{name: v, diffusivity: 0.5, reaction: \"0 - v\", initial: 1{extra}}}\n\
             \x20   scheme: {scheme}\n\
             time: {{end: 1, dt: 0.01}}\n\
             monitors:\n  - probe: {{name: c, point: [0.5, 0.5]}}\n"
        )
    };
    let e = (-1.0f64).exp();
    for scheme in ["imex", "{newton: {tolerance: 1e-12}}"] {
        std::fs::write(&case, section(scheme, "")).unwrap();
        let out = dir.path().join("out");
        let summary = run_ok(&case, &out);
        let (u, v) = (
            summary["probes"]["c_u"].as_f64().unwrap(),
            summary["probes"]["c_v"].as_f64().unwrap(),
        );
        // Second order in time: errors of order dt² = 1e-4.
        assert!((u - 2.0 * e).abs() < 2e-4, "{scheme}: u {u} vs {}", 2.0 * e);
        assert!((v - e).abs() < 2e-4, "{scheme}: v {v} vs {e}");
        assert!(
            (u - 2.0 * e).abs() > 1e-9,
            "{scheme}: not exact, so the test can fail"
        );
        assert_eq!(summary["model"], "reaction_diffusion");
        assert_eq!(summary["steps"], 100);
        let csv = std::fs::read_to_string(out.join("probes.csv")).unwrap();
        assert!(csv.starts_with("t,c_u,c_v\n"), "{csv}");
    }
    let no_diffusion = section("imex", ", boundary: {left: {neumann: 1}}")
        .replace("diffusivity: 0.5", "diffusivity: 0");
    let refused = [
        (
            section("imex", "").replace("\"0 - v\"", "\"0 - w\""),
            "unknown name 'w'",
        ),
        (
            no_diffusion,
            "physics.reaction_diffusion.species.v.boundary.left: a species that does not \
             diffuse (diffusivity 0) takes no flux condition",
        ),
        (
            section("imex", "").replace(
                "time: {end: 1, dt: 0.01}",
                "time: {end: 1, dt: 0.01, integrator: crank_nicolson}",
            ),
            "crank_nicolson is not available",
        ),
        (
            section("imex", "") + "solver: {kind: lu}\n",
            "solver: reaction_diffusion chooses its own linear solvers",
        ),
        (
            section("{newton: {tolerance: 0}}", ""),
            "physics.reaction_diffusion.scheme.newton: need tolerance > 0",
        ),
    ];
    for (text, expected) in &refused {
        std::fs::write(&case, text).unwrap();
        let o = pde(&["check", case.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(stderr(&o).contains(expected), "{expected}: {}", stderr(&o));
    }
}

/// The shipped spiral case, shortened to t = 6: IMEX Euler with the lumped
/// mass keeps Barkley's `u` within [0, 1] on its coarse disk while a wave
/// runs; the second-order SBDF2 on the same mesh overshoots and runs away
/// (the control that shows why the case uses IMEX Euler).
#[test]
fn spiral_case_stays_bounded_where_sbdf2_runs_away() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(root().join("cases/spiral_waves.yaml")).unwrap();
    let mesh = root().join("meshes/spiral_disk.msh");
    let shortened = shipped
        .replace("../meshes/spiral_disk.msh", mesh.to_str().unwrap())
        .replace("  end: 40\n", "  end: 6\n");
    let largest = |text: &str, name: &str| {
        let case = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&case, text).unwrap();
        let summary = run_ok(&case, &dir.path().join(name));
        summary["range"]["u"][1].as_f64().unwrap()
    };
    let imex_euler = largest(&shortened, "imex_euler");
    assert!(imex_euler <= 1.0 + 1e-2 && imex_euler > 0.9, "{imex_euler}");
    let sbdf2 = largest(
        &shortened.replace("integrator: backward_euler", "integrator: bdf2"),
        "sbdf2",
    );
    assert!(sbdf2 > 1.5, "SBDF2 reached only {sbdf2}");
}

/// Runs whose step collapses (an adaptive tolerance nothing meets) or whose
/// state turns unphysical (a shallow-water layer a picometre deep goes
/// negative) stop with the time and the step (or the cell)
/// instead of running forever; a failed run into a used folder leaves its
/// own `summary.json` (status failed), not the earlier run's.
#[test]
fn runs_that_cannot_finish_stop_and_failed_runs_leave_no_stale_summary() {
    let dir = tempfile::tempdir().unwrap();
    let square = "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n";
    let cases = [
        (
            format!(
                "{square}physics:\n  heat: {{initial: x}}\n\
                 time: {{end: 1, dt: 0.1, adaptive: {{tolerance: 1e-300, dt_min: 1e-300, dt_max: 0.1}}}}\n"
            ),
            "the time step collapsed",
        ),
        // The layer's depth goes negative (the step then collapsed): the
        // cell is named.
        (
            format!(
                "{square}physics:\n  shallow_water:\n    \
                 initial: [\"1e-12 + (1 - 1e-12)*(1 + signum(0.5 - x))/2\", 0, 0]\n\
                 time: {{end: 0.5, dt: 0.01}}\n"
            ),
            "left cell 4 at (0.6666666666666666, 0.08333333333333333, 0) with a negative depth",
        ),
    ];
    for (k, (text, expected)) in cases.iter().enumerate() {
        let case = dir.path().join(format!("collapse{k}.yaml"));
        std::fs::write(&case, text).unwrap();
        let out = dir.path().join(format!("out{k}"));
        let o = pde(&[
            "run",
            case.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{text}\n{err}");
        assert!(err.contains(expected), "{err}");
    }
    // A good run, then one that diverges into the same folder.
    let out = dir.path().join("reuse");
    let good = dir.path().join("good.yaml");
    let bad = dir.path().join("bad.yaml");
    let heat = |extra: &str| {
        format!("name: r\n{square}physics:\n  heat: {{{extra}}}\ntime: {{end: 0.2, dt: 0.1}}\n")
    };
    std::fs::write(&good, heat("")).unwrap();
    std::fs::write(&bad, heat("source: 1e20")).unwrap();
    let o = pde(&[
        "run",
        good.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert!(out.join("summary.json").exists());
    let o = pde(&[
        "run",
        bad.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "failed", "a stale summary.json stayed");
}

/// Commands that fail on their arguments create nothing first.
#[test]
fn refused_commands_create_no_folders() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("sub").join("out.xyz");
    let o = pde(&[
        "mesh",
        "convert",
        "meshes/dfg_cylinder_l1.msh",
        target.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown output format; expected .vtu or .msh"));
    assert!(
        !dir.path().join("sub").exists(),
        "mesh convert created a folder"
    );
}

/// A mesh with a cell of zero area is refused by `check` naming the cell
/// and its corners (finite volumes used to report "diverged"), and a
/// finite-volume inflow that is not a number stops the run naming the
/// group, the point and the time.
#[test]
fn degenerate_cells_and_nonfinite_inflow_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flat.msh"),
        "$MeshFormat\n2.2 0 8\n$EndMeshFormat\n$PhysicalNames\n1\n2 2 \"domain\"\n$EndPhysicalNames\n\
         $Nodes\n5\n1 0 0 0\n2 1 0 0\n3 1 1 0\n4 0 1 0\n5 0.5 0 0\n$EndNodes\n\
         $Elements\n3\n1 2 2 2 1 1 2 3\n2 2 2 2 1 1 3 4\n3 2 2 2 1 1 5 2\n$EndElements\n",
    )
    .unwrap();
    let case = dir.path().join("flat.yaml");
    std::fs::write(
        &case,
        "mesh: {file: flat.msh}\nphysics:\n  transport: {velocity: [1, 0], initial: x}\ntime: {end: 0.2, dt: 0.01}\n",
    )
    .unwrap();
    for command in ["check", "run"] {
        let o = pde(&[command, case.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert!(
            err.contains("flat.yaml")
                && err.contains(
                    "mesh: domain cell 2 has zero size (corners (0, 0, 0), (0.5, 0, 0), (1, 0, 0))"
                ),
            "{command}: {err}"
        );
    }
    std::fs::write(
        &case,
        "mesh:\n  generate: {shape: rectangle, min: [0, 0], max: [1, 1], cells: [4, 4], kind: tri3}\n\
         physics:\n  transport:\n    velocity: [1, 0]\n    boundary:\n      left: {inflow: [\"x/x\"]}\n\
         \x20     right: outflow\ntime: {end: 0.2, dt: 0.01}\n",
    )
    .unwrap();
    let o = run_into(&case, &dir.path().join("out"));
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("boundary.left: the inflow value is not finite at (0, ")
            && err.contains("t = 0e0"),
        "{err}"
    );
}

/// An operating-system error is said once, after the file it concerns.
#[test]
fn os_errors_are_not_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("missing_mesh.yaml");
    std::fs::write(&case, "mesh: {file: none.msh}\nphysics:\n  poisson: {}\n").unwrap();
    let missing = dir.path().join("none.msh");
    for args in [
        vec!["mesh", "info", missing.to_str().unwrap()],
        vec!["run", case.to_str().unwrap()],
    ] {
        let o = pde(&args);
        assert_eq!(o.status.code(), Some(1));
        let err = stderr(&o);
        assert_eq!(
            err.matches("No such file or directory").count(),
            1,
            "{args:?}: {err}"
        );
        assert!(err.contains("none.msh: No such file or directory"), "{err}");
    }
}
