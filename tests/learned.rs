//! The learned stepper end to end (features `torch` and `gmsh`): a small
//! dataset of cylinder flows from the classical solver (`pde-engine
//! generate flows`, each cylinder on its own mesh, one held out, with
//! solver-in-the-loop branches off the others), a small GNN
//! trained on it for a short time (`pde-engine train stepper`): its loss
//! must fall clearly and it must beat persistence (next state = current
//! state) on one-step RMSE on the held-out geometry, and its 10-step
//! rollout must beat persistence and linear extrapolation by a margin the
//! untrained control (normalisers fitted, no update) fails. The trained
//! model then steps a flow case on the held-out mesh (`stepper:` in the
//! case, with the classical baseline alongside): with a strict residual
//! tolerance every learned step falls back and the run equals the
//! classical one; at a loose one (0.35 of persistence's residual) most of
//! its steps are accepted (measured 16 of 20) and none of the control's.

use std::path::{Path, PathBuf};
use std::process::Command;

use pde_engine::dataset::DatasetIndex;
use pde_learned::graph::MeshGraph;
use pde_learned::stepper::LearnedStepper;
use pde_learned::tch::Device;
use pde_learned::tensors::{matrix, values, GraphTensors};

fn run(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{args:?}: {stderr}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `pde-engine train stepper CONFIG`, which must fail: its error message.
fn train_refusal(config: &Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_pde-engine"))
        .args(["train", "stepper"])
        .arg(config)
        .output()
        .unwrap();
    assert!(!o.status.success(), "{} was not refused", config.display());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `generate flows` into `dir/output`: small cylinder flows (one held out)
/// with the keys `keys` (count, seed, steps) and solver-in-the-loop
/// branches `{branches}`.
fn generate_flows(dir: &Path, output: &str, keys: &str, branches: &str) {
    let geo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../meshes/dfg_cylinder.geo");
    let config = dir.join(format!("{output}.yaml"));
    std::fs::write(
        &config,
        format!(
            "geometry: {}\nlevel: 1\nheld_out: 1\n{keys}\n\
             cylinder_x: [0.15, 0.3]\ncylinder_y: [0.17, 0.23]\nradius: [0.04, 0.06]\n\
             inflow: [1.2, 1.8]\ndt: 0.01\nwarmup_steps: 20\n\
             solver_in_the_loop: {{{branches}}}\noutput: {output}\n",
            geo.display()
        ),
    )
    .unwrap();
    run(&["generate", "flows", config.to_str().unwrap()]);
}

/// The losses in a `loss.csv`.
fn read_losses(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse().unwrap())
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// For each branch of the first trajectory in the dataset `data`: how far
/// (the largest difference over the free values) its first state is from
/// the prediction of the model in `model` (window 1) and from the
/// classical answer (the next recorded state).
fn first_states(data: &Path, model: &Path) -> Vec<(f64, f64)> {
    let index = DatasetIndex::read(data).unwrap();
    let trajectory = index.load(data, &index.trajectories[0]).unwrap();
    let free = index.free_mask(&trajectory.mesh).unwrap();
    let model = LearnedStepper::load(model, Device::Cpu).unwrap();
    let groups: Vec<&str> = index.type_groups.iter().map(String::as_str).collect();
    let graph = MeshGraph::from_mesh(&trajectory.mesh, &groups).unwrap();
    let graph = GraphTensors::new(&graph, Device::Cpu);
    let fields = index.fields.len();
    let off = |a: &[f64], b: &[f64]| {
        (0..a.len())
            .filter(|&i| free[i] > 0.0)
            .map(|i| (a[i] - b[i]).abs())
            .fold(0.0, f64::max)
    };
    trajectory
        .branches
        .iter()
        .map(|(start, branch)| {
            let state = matrix(&trajectory.states[*start], fields, Device::Cpu);
            let predicted = values(&model.predict(&graph, &[&state], None).unwrap()[0]);
            let first = &branch.perturbed[0];
            (
                off(first, &predicted),
                off(first, &trajectory.states[start + 1]),
            )
        })
        .collect()
}

/// The residual tolerance of the acceptance test.
const LOOSE: f64 = 0.35;
/// Learned steps of 20 the trained models must get accepted at `LOOSE`
/// (measured 15, and 13 for the one that reads the step residual; the
/// control 0).
const ACCEPTED: u64 = 10;
/// The 10-step rollout RMSE over the better baseline's must be below this
/// (measured 0.43; the control 2.4).
const ROLLOUT_MARGIN: f64 = 0.9;

#[test]
fn a_small_gnn_trained_on_generated_flows_beats_persistence() {
    let dir = tempfile::tempdir().unwrap();
    generate_flows(
        dir.path(),
        "data",
        "count: 4\nseed: 3\nsteps: 30",
        "every: 10, length: 2, residual: 0.02",
    );
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("data/index.json")).unwrap())
            .unwrap();
    let trajectories = index["trajectories"].as_array().unwrap();
    assert_eq!(trajectories.len(), 4);
    assert_eq!(trajectories[3]["split"], "test");
    // Every cylinder has its own mesh.
    let nodes: Vec<u64> = trajectories
        .iter()
        .map(|t| t["nodes"].as_u64().unwrap())
        .collect();
    assert!(nodes.windows(2).any(|w| w[0] != w[1]), "{nodes:?}");
    // Solver-in-the-loop branches from recorded states 0, 10 and 20 of the
    // training trajectories (the test split has none).
    for t in trajectories {
        let starts = &t["branches"]["starts"];
        match t["split"].as_str() {
            Some("train") => assert_eq!(starts, &serde_json::json!([0, 10, 20]), "{t}"),
            _ => assert!(starts.is_null(), "{t}"),
        }
    }

    // `steps` optimiser steps after 20 of warm-up (normalisers only) into
    // folder `output`, with the further keys `keys`: the config file.
    let config = |steps: usize, output: &str, keys: &str| -> PathBuf {
        let config = dir.path().join(format!("{output}.yaml"));
        std::fs::write(
            &config,
            format!(
                "data: data\nmodel: {{latent: 32, steps: 4, hidden_layers: 1}}\n\
                 training: {{steps: {steps}, learning_rate: 3.0e-3, final_learning_rate: 1.0e-4, \
                 noise: 0.0, warmup: 20}}\noutput: {output}\n{keys}"
            ),
        )
        .unwrap();
        config
    };
    let train = |steps: usize, output: &str| -> serde_json::Value {
        let config = config(steps, output, "");
        serde_json::from_str(&run(&["train", "stepper", config.to_str().unwrap()])).unwrap()
    };
    let summary = train(1000, "model");
    eprintln!("{summary:#}");
    let losses = read_losses(&dir.path().join("model/loss.csv"));
    let (first, last) = (mean(&losses[20..70]), mean(&losses[950..]));
    assert!(last < 0.5 * first, "loss {first} -> {last}");
    let learned = summary["test_one_step_rmse"].as_f64().unwrap();
    let persistence = summary["test_persistence_rmse"].as_f64().unwrap();
    assert!(
        learned < 0.85 * persistence,
        "held-out one-step RMSE {learned} vs persistence {persistence}"
    );
    for file in [
        "model.json",
        "weights.safetensors",
        "loss.png",
        "evaluation.json",
    ] {
        assert!(dir.path().join("model").join(file).exists(), "{file}");
    }
    // The model in the loop: branches that are the trained model's checked
    // runs (`solver_in_the_loop.model`), and training from it
    // (`initial_model`): the run starts at the model's loss, far below a
    // fresh network's.
    generate_flows(
        dir.path(),
        "data_mil",
        "count: 2\nseed: 4\nsteps: 12",
        "every: 5, length: 2, residual: 0.5, model: model",
    );
    let index: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("data_mil/index.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        index["trajectories"][0]["branches"]["starts"],
        serde_json::json!([0, 5, 10])
    );
    // Each branch is the model's run checked at 0.5: a step commits the
    // model's prediction or, where the check refuses it, the classical
    // answer (the next recorded state). The branches of `data` (the mix of
    // extrapolation and phase errors) commit neither.
    let model_dir = dir.path().join("model");
    let mil = first_states(&dir.path().join("data_mil"), &model_dir);
    let mix = first_states(&dir.path().join("data"), &model_dir);
    eprintln!(
        "first branch states, off the prediction and the answer: in the loop {mil:?}, mix {mix:?}"
    );
    assert!(mil.iter().all(|&(p, a)| p.min(a) < 1e-5), "{mil:?}");
    assert!(mil.iter().any(|&(p, a)| p < 1e-5 && a > 1e-3), "{mil:?}");
    assert!(mix.iter().all(|&(p, a)| p.min(a) > 1e-5), "{mix:?}");
    // With the runs' prediction correction, an accepted step commits the
    // corrected prediction: neither the model's nor the classical answer.
    generate_flows(
        dir.path(),
        "data_mil_stokes",
        "count: 2\nseed: 4\nsteps: 12",
        "every: 5, length: 2, residual: 0.5, model: model, correction: stokes",
    );
    let corrected = first_states(&dir.path().join("data_mil_stokes"), &model_dir);
    eprintln!("in the loop with the stokes correction: {corrected:?}");
    assert!(
        corrected.iter().all(|&(p, a)| a < 1e-5 || p > 1e-4),
        "{corrected:?}"
    );
    assert!(
        corrected.iter().any(|&(p, a)| p > 1e-4 && a > 1e-3),
        "{corrected:?}"
    );
    let tune = dir.path().join("tune.yaml");
    std::fs::write(
        &tune,
        "data: data_mil\nmodel: {latent: 32, steps: 4, hidden_layers: 1}\n\
         training: {steps: 10, learning_rate: 1.0e-4, noise: 0.0, warmup: 0}\n\
         output: tuned\ninitial_model: model\n",
    )
    .unwrap();
    run(&["train", "stepper", tune.to_str().unwrap()]);
    let tuned = read_losses(&dir.path().join("tuned/loss.csv"));
    let (fresh, trained, from) = (mean(&losses[..20]), mean(&losses[950..]), mean(&tuned));
    eprintln!("loss: fresh {fresh:.3}, trained {trained:.3}, fine-tuning from it {from:.3}");
    assert!(from < 0.5 * fresh, "{from} vs a fresh network's {fresh}");
    // Another network is refused, naming the key.
    let other = dir.path().join("other.yaml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&tune)
            .unwrap()
            .replace("latent: 32", "latent: 16"),
    )
    .unwrap();
    let message = train_refusal(&other);
    assert!(message.contains("initial_model"), "{message}");

    // Rollouts of 10 steps on the held-out geometry: the model beats both
    // baselines; the control (the same network, normalisers fitted, no
    // update: `steps` = `warmup`) fails the same bound.
    let control = train(20, "untrained");
    let at10 = |s: &serde_json::Value, k: &str| s[k]["10"].as_f64().unwrap();
    let margin = |s: &serde_json::Value| {
        at10(s, "test_rollout_rmse")
            / at10(s, "test_rollout_persistence").min(at10(s, "test_rollout_linear_extrapolation"))
    };
    let (trained_margin, control_margin) = (margin(&summary), margin(&control));
    eprintln!("rollout at 10 over the better baseline: trained {trained_margin:.3}, untrained {control_margin:.3}");
    assert!(trained_margin < ROLLOUT_MARGIN, "{summary:#}");
    assert!(
        control_margin >= ROLLOUT_MARGIN,
        "the control passes: {control:#}"
    );

    // A window-2 model that also reads the step residual, which the data
    // holds (`residuals.f32`); data without it is refused.
    let residual_keys = "window: 2\nstep_residual: true\n";
    run(&[
        "train",
        "stepper",
        config(1000, "residual", residual_keys).to_str().unwrap(),
    ]);
    let without = dir.path().join("data/index.json");
    let index = std::fs::read_to_string(&without).unwrap();
    std::fs::write(
        &without,
        index.replace("\"residuals\": true", "\"residuals\": false"),
    )
    .unwrap();
    let message = train_refusal(&config(10, "refused", residual_keys));
    std::fs::write(&without, index).unwrap();
    assert!(message.contains("no step residual"), "{message}");
    // BDF2's base (`window_inputs: bdf2`) is for a window of two only.
    let message = train_refusal(&config(10, "bdf2", "window: 3\nwindow_inputs: bdf2\n"));
    assert!(
        message.contains("BDF2's base reads a window of 2"),
        "{message}"
    );

    // The models in a case: the held-out cylinder's mesh and inflow.
    let held_out = &trajectories[3];
    let p = |k: &str| held_out["parameters"][k].as_f64().unwrap();
    for (model, tolerance, name) in [
        ("model", 1e-9, "strict"),
        ("model", LOOSE, "loose"),
        ("residual", LOOSE, "loose_residual"),
        ("untrained", LOOSE, "control"),
    ] {
        let case = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &case,
            format!(
                "mesh: {{file: data/{dir}/mesh.msh}}\n\
                 physics:\n  navier_stokes:\n    nu: 0.001\n    boundary:\n\
                 \x20     inlet: {{velocity: [\"4*{u}*y*(0.41 - y)/0.41^2\", 0]}}\n\
                 \x20     walls: no_slip\n      cylinder: no_slip\n      outlet: do_nothing\n\
                 time: {{end: 0.4, dt: 0.01}}\n\
                 stepper: {{kind: gnn, model: {model}, from: 0.2, \
                 residual_tolerance: {tolerance:e}, baseline: true}}\n\
                 monitors:\n  - forces: {{group: cylinder, reference_velocity: {ubar}, \
                 reference_length: {d}}}\n\
                 output: {{directory: {out}, every: 10, checkpoint_every: 25}}\n",
                dir = held_out["dir"].as_str().unwrap(),
                u = p("inflow"),
                ubar = 2.0 * p("inflow") / 3.0,
                d = 2.0 * p("r"),
                out = dir.path().join(name).display(),
            ),
        )
        .unwrap();
        run(&["run", case.to_str().unwrap()]);
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(name).join("summary.json")).unwrap(),
        )
        .unwrap();
        let stepper = &summary["stepper"];
        eprintln!("{name}: {stepper:#}");
        let count = |k: &str| stepper[k].as_u64().unwrap();
        assert_eq!(count("classical_steps"), 20, "before `from`");
        assert_eq!(count("learned_steps") + count("fallbacks"), 20);
        let baseline = &stepper["classical_baseline"];
        let difference = baseline["velocity_difference_max"].as_f64().unwrap();
        if name == "strict" {
            assert_eq!(count("fallbacks"), 20);
            assert!(
                difference < 1e-9,
                "fallbacks are classical steps: {difference:e}"
            );
        } else {
            // The check judges the model's own vertex values (the edge
            // values are solved for): at LOOSE the trained models are
            // accepted on at least ACCEPTED of the 20 steps, the control
            // on fewer.
            let accepted = count("learned_steps");
            if name.starts_with("loose") {
                assert!(accepted >= ACCEPTED, "{stepper:#}");
                let worst = stepper["accepted_residual_max"].as_f64().unwrap();
                assert!(worst > 0.0 && worst <= tolerance, "{worst}");
                assert!(stepper["seconds_per_learned_step"].as_f64().unwrap() > 0.0);
            } else {
                assert!(accepted < ACCEPTED, "the control is accepted: {stepper:#}");
            }
        }
        assert!(baseline["seconds_per_step"].as_f64().unwrap() > 0.0);
        for file in ["forces.png", "forces_classical.csv"] {
            assert!(dir.path().join(name).join(file).exists(), "{file}");
        }
        if name == "loose" {
            // Continued from the checkpoint at step 25, the learned run and
            // its classical baseline end as they did, byte for byte.
            let out = dir.path().join(name);
            let files = ["forces.csv", "forces_classical.csv", "steps.csv"];
            let read = |f: &&str| std::fs::read(out.join(f)).unwrap();
            let whole: Vec<Vec<u8>> = files.iter().map(read).collect();
            run(&["run", case.to_str().unwrap(), "--restart"]);
            for (file, before) in files.iter().zip(&whole) {
                assert!(read(file) == *before, "{file} differs after the restart");
            }
            let again: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap())
                    .unwrap();
            for key in ["learned_steps", "fallbacks", "classical_steps"] {
                assert_eq!(again["stepper"][key], stepper[key], "{key}");
            }
            assert!(again["restarted_from"]
                .as_str()
                .unwrap()
                .ends_with("step_000000025.ckpt"));
        }
    }
}
