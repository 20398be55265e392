//! A learned stepper on a graph system it must discover from data: explicit
//! diffusion on the mesh graph, `u ← u + α Σ_j (u_j − u_i)` over the
//! neighbours `j` of every interior node (boundary nodes are held at their
//! values and masked out of the loss). A small network trained for a few
//! hundred steps must lower its loss clearly and beat persistence (next
//! state = current state) on held-out trajectories on a mesh it has not
//! seen; saved and loaded, it predicts the same.

use pde_learned::graph::MeshGraph;
use pde_learned::stepper::{LearnedStepper, StepperConfig, WindowInputs};
use pde_learned::tch::{Device, Kind, Tensor};
use pde_learned::tensors::{matrix, values, GraphTensors};
use pde_learned::train::{
    checkpoint_step, one_step_rmse, read_loss_log, train, TrainConfig, Trajectory,
};
use pde_mesh::{generate, CellKind};

const ALPHA: f64 = 0.08;

/// The tests draw initial weights from libtorch's global generator: one at
/// a time, each from a fixed seed, so that results do not depend on how
/// the test threads interleave.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seeded() -> std::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    pde_learned::tch::manual_seed(7);
    guard
}

/// `steps + 1` states of graph diffusion from a smooth random field.
fn trajectory(n: usize, seed: u64, steps: usize) -> Trajectory {
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [n, n], CellKind::Tri3).unwrap();
    let graph = MeshGraph::from_mesh(&mesh, &["left", "right", "bottom", "top"]).unwrap();
    let tensors = GraphTensors::new(&graph, Device::Cpu);
    let (a, b) = (1.0 + (seed % 3) as f64, 1.0 + (seed % 2) as f64);
    let phase = seed as f64 * 0.7;
    let mut u: Vec<f64> = mesh
        .points
        .iter()
        .map(|p| (a * 3.1 * p[0] + phase).sin() * (b * 2.3 * p[1]).cos() + 0.3 * p[0])
        .collect();
    let interior: Vec<bool> = graph.node_type.iter().map(|&t| t == 0).collect();
    let mut states = vec![matrix(&u, 1, Device::Cpu)];
    for _ in 0..steps {
        let mut next = u.clone();
        for (&s, &r) in graph.senders.iter().zip(&graph.receivers) {
            if interior[r] {
                next[r] += ALPHA * (u[s] - u[r]);
            }
        }
        u = next;
        states.push(matrix(&u, 1, Device::Cpu));
    }
    let mask: Vec<f64> = interior.iter().map(|&i| f64::from(u8::from(i))).collect();
    // Stand-ins for step residuals (the fused test reads them): the
    // squared change of each step.
    let residuals = states
        .windows(2)
        .map(|pair| (&pair[1] - &pair[0]).square())
        .collect();
    Trajectory {
        graph: tensors,
        mask: matrix(&mask, 1, Device::Cpu),
        states,
        residuals,
        branches: Vec::new(),
    }
}

fn config() -> StepperConfig {
    StepperConfig {
        fields: vec!["u".into()],
        type_groups: vec!["left".into(), "right".into(), "bottom".into(), "top".into()],
        gnn: pde_learned::gnn::GnnConfig {
            latent: 32,
            steps: 2,
            hidden_layers: 1,
        },
        dt: None,
        window: 1,
        window_inputs: None,
        bundle: 1,
        step_residual: false,
    }
}

#[test]
fn a_small_model_learns_graph_diffusion_and_beats_persistence() {
    let _serial = seeded();
    let training: Vec<Trajectory> = (0..12)
        .map(|s| trajectory(8 + (s as usize % 4) * 2, s, 12))
        .collect();
    // Held out: other initial fields on a mesh of another size.
    let held_out: Vec<Trajectory> = (20..22).map(|s| trajectory(11, s, 8)).collect();
    let mut model = LearnedStepper::new(config(), Device::Cpu);
    let settings = TrainConfig {
        steps: 2000,
        learning_rate: 1e-3,
        final_learning_rate: 1e-4,
        noise: 0.0,
        warmup: 20,
        ..TrainConfig::default()
    };
    let losses = train(&mut model, &training, &settings, 0, None, |_| {}).unwrap();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (first, last) = (mean(&losses[20..70]), mean(&losses[1900..]));
    let (learned, persistence) = one_step_rmse(&model, &held_out).unwrap();
    eprintln!(
        "loss {first:.3e} -> {last:.3e}; held-out one-step RMSE {learned:.3e}, persistence {persistence:.3e}"
    );
    assert!(
        last < 0.1 * first,
        "the loss fell from {first} to {last} only"
    );
    // 0.17 to 0.30 of persistence's, depending on the initial weights.
    assert!(
        learned < 0.5 * persistence,
        "learned {learned} vs persistence {persistence}"
    );

    // Saved and loaded, the same predictions; a model directory is refused
    // where it does not fit.
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = LearnedStepper::load(dir.path(), Device::Cpu).unwrap();
    let t = &held_out[0];
    let a = values(&model.predict(&t.graph, &[&t.states[0]], None).unwrap()[0]);
    let b = values(&loaded.predict(&t.graph, &[&t.states[0]], None).unwrap()[0]);
    assert_eq!(a, b);
    let two_fields = Tensor::zeros(
        [t.graph.num_nodes as i64, 2],
        (pde_learned::tch::Kind::Float, Device::Cpu),
    );
    let err = loaded
        .predict(&t.graph, &[&two_fields], None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the model expects [144, 1] (u per node)"),
        "{err}"
    );
    std::fs::write(dir.path().join("model.json"), "{\"fields\": 1}").unwrap();
    let err = LearnedStepper::load(dir.path(), Device::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("model.json") && err.contains("invalid type"),
        "{err}"
    );
}

/// Largest difference between the variables of two models.
fn max_difference(a: &LearnedStepper, b: &LearnedStepper) -> f64 {
    let b_vars = b.vs.variables();
    a.vs.variables()
        .iter()
        .map(|(name, t)| (t - &b_vars[name]).abs().max().double_value(&[]))
        .fold(0.0, f64::max)
}

/// Fused CPU inference (a latent width it runs) predicts what libtorch
/// does, to `f32` rounding, after a few training steps (so that the
/// normalisers hold statistics), for a model of one state, for ones that
/// read a window of two or four (their backward differences) and correct
/// their linear or cubic extrapolation, and for one predicting a bundle
/// of three steps.
#[test]
fn a_fused_stepper_predicts_what_libtorch_predicts() {
    let _serial = seeded();
    let training: Vec<Trajectory> = (0..2).map(|s| trajectory(8, s, 6)).collect();
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [11, 11], CellKind::Tri3).unwrap();
    let graph = MeshGraph::from_mesh(&mesh, &["left", "right", "bottom", "top"]).unwrap();
    let held_out = trajectory(11, 20, 4);
    let states = held_out.states;
    for (window, bundle, residual, bdf2) in [
        (1, 1, false, false),
        (2, 1, false, false),
        (4, 1, false, false),
        (2, 3, false, false),
        (2, 1, true, false),
        (2, 1, false, true),
        (2, 1, true, true),
    ] {
        let mut narrow = config().with_window(window);
        if bdf2 {
            narrow.window_inputs = Some(WindowInputs::Bdf2);
        }
        narrow.gnn.latent = 16;
        narrow.bundle = bundle;
        narrow.step_residual = residual;
        let residual = residual.then(|| &held_out.residuals[window - 1]);
        let mut model = LearnedStepper::new(narrow, Device::Cpu);
        let settings = TrainConfig {
            steps: 40,
            warmup: 5,
            ..TrainConfig::default()
        };
        train(&mut model, &training, &settings, 0, None, |_| {}).unwrap();
        let inputs: Vec<&Tensor> = states[..window].iter().collect();
        let expected: Vec<Vec<f64>> = model
            .predict(&GraphTensors::new(&graph, Device::Cpu), &inputs, residual)
            .unwrap()
            .iter()
            .map(values)
            .collect();
        let inputs: Vec<Vec<f64>> = inputs.iter().map(|s| values(s)).collect();
        let inputs: Vec<&[f64]> = inputs.iter().map(Vec::as_slice).collect();
        let residual = residual.map(values);
        let fused = model.fused(&graph).unwrap();
        let fused = fused.predict(&inputs, residual.as_deref()).unwrap();
        assert_eq!((expected.len(), fused.len()), (bundle, bundle));
        for (expected, fused) in expected.iter().zip(&fused) {
            let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let difference = expected
                .iter()
                .zip(fused)
                .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
            assert!(scale > 0.1, "{scale}");
            assert!(
                difference < 1e-5 * scale,
                "window {window}, bundle {bundle}: {difference} of {scale}"
            );
        }
        // A window of the wrong length is refused.
        let wrong = if window == 1 {
            vec![inputs[0], inputs[0]]
        } else {
            vec![inputs[0]]
        };
        let err = model
            .fused(&graph)
            .unwrap()
            .predict(&wrong, residual.as_deref());
        assert!(
            err.unwrap_err().to_string().contains("window of"),
            "window {window}"
        );
        // So is a residual the model does not read, or none where it does.
        let other = match &residual {
            Some(_) => None,
            None => Some(inputs[0]),
        };
        let err = model.fused(&graph).unwrap().predict(&inputs, other);
        assert!(
            err.unwrap_err().to_string().contains("step residual"),
            "window {window}"
        );
    }
}

#[test]
fn a_resumed_run_continues_exactly_where_it_stopped() {
    let _serial = seeded();
    let data = vec![trajectory(6, 1, 4), trajectory(7, 2, 4)];
    let settings = TrainConfig {
        steps: 40,
        warmup: 5,
        learning_rate: 1e-3,
        noise: 0.01,
        checkpoint_every: 10,
        seed: 3,
        ..TrainConfig::default()
    };
    // The checkpoint at step 20 is what a run killed then leaves behind.
    let copy_of = |from: &std::path::Path| {
        let to = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, to.path().join(path.file_name().unwrap())).unwrap();
        }
        to
    };
    let whole_dir = tempfile::tempdir().unwrap();
    let mut whole = LearnedStepper::new(config(), Device::Cpu);
    let mut seen = Vec::new();
    let mut killed = Vec::new();
    let all = train(
        &mut whole,
        &data,
        &settings,
        0,
        Some(whole_dir.path()),
        |p| {
            seen.push(p.step);
            if p.step == 20 {
                killed.push(copy_of(whole_dir.path()));
                killed.push(copy_of(whole_dir.path()));
            }
        },
    )
    .unwrap();
    assert_eq!(seen, (0..40).collect::<Vec<_>>());
    assert_eq!(checkpoint_step(whole_dir.path()).unwrap(), 40);
    let (cold_dir, split_dir) = (killed.pop().unwrap(), killed.pop().unwrap());

    // Resumed from there, the run continues as the uninterrupted one did.
    let resume = |dir: &std::path::Path| {
        let start = checkpoint_step(dir).unwrap();
        assert_eq!(start, 20);
        let mut model = LearnedStepper::load(dir, Device::Cpu).unwrap();
        let losses = train(&mut model, &data, &settings, start, Some(dir), |_| {}).unwrap();
        (model, losses)
    };
    let (resumed, rest) = resume(split_dir.path());
    assert_eq!(rest, all[20..]);
    assert_eq!(max_difference(&whole, &resumed), 0.0);
    let log = read_loss_log(split_dir.path()).unwrap();
    assert_eq!(log.iter().map(|p| p.step).collect::<Vec<_>>(), seen);
    let logged: Vec<f64> = log.iter().map(|p| p.loss).collect();
    assert_eq!(logged, all, "loss.csv holds both segments");

    // Without the optimiser's moments the continuation differs: the test
    // above sees what resuming restores.
    std::fs::remove_file(cold_dir.path().join("optimizer.safetensors")).unwrap();
    let (cold, _) = resume(cold_dir.path());
    let gap = max_difference(&whole, &cold);
    assert!(
        gap > 1e-4,
        "restarted moments changed the weights by {gap} only"
    );
}

/// Temporal bundling: a model predicting three steps per forward pass
/// learns all three; its rollout (a forward pass every three steps) beats
/// persistence at each step of the first bundle and at the end on
/// held-out fields, which the untrained model does not.
#[test]
fn a_bundled_model_learns_three_steps_per_pass() {
    let _serial = seeded();
    let training: Vec<Trajectory> = (0..12)
        .map(|s| trajectory(8 + (s as usize % 4) * 2, s, 12))
        .collect();
    let held_out: Vec<Trajectory> = (20..22).map(|s| trajectory(11, s, 12)).collect();
    let bundled = StepperConfig {
        bundle: 3,
        ..config()
    };
    let untrained = LearnedStepper::new(bundled.clone(), Device::Cpu);
    let mut model = LearnedStepper::new(bundled, Device::Cpu);
    let settings = TrainConfig {
        steps: 1500,
        learning_rate: 1e-3,
        final_learning_rate: 1e-4,
        noise: 0.0,
        warmup: 20,
        ..TrainConfig::default()
    };
    train(&mut model, &training, &settings, 0, None, |_| {}).unwrap();
    // Rollout RMSE over the unmasked values after each step, summed over
    // the held-out fields: (the model's, persistence's).
    let errors = |model: &LearnedStepper| {
        let mut sums = (vec![0.0; 9], vec![0.0; 9]);
        for t in &held_out {
            let r = pde_learned::train::rollouts(model, t).unwrap();
            assert_eq!(r.learned.len(), 9, "a rollout covers every state");
            for k in 0..9 {
                sums.0[k] += r.learned[k];
                sums.1[k] += r.persistence[k];
            }
        }
        sums
    };
    let (learned, persistence) = errors(&model);
    eprintln!("bundled rollout RMSE {learned:.3?}; persistence {persistence:.3?}");
    for k in [0, 1, 2, 8] {
        assert!(
            learned[k] < 0.5 * persistence[k],
            "step {}: {} vs persistence {}",
            k + 1,
            learned[k],
            persistence[k]
        );
    }
    let (control, _) = errors(&untrained);
    assert!(
        [0, 1, 2, 8]
            .iter()
            .any(|&k| control[k] >= 0.5 * persistence[k]),
        "the untrained model passes: {control:?}"
    );
}

#[test]
fn rollout_baselines_are_persistence_and_extrapolations() {
    // States that grow quadratically in time, x_k = x_0 + k²: rollouts
    // start after the first four states (ROLLOUT_START); persistence then
    // stays at x_3 (error n² − 9 at state n), linear extrapolation keeps
    // the last slope (error j² + j after j steps), quadratic and cubic
    // extrapolation are exact.
    let mut t = trajectory(4, 1, 7);
    let first = t.states[0].shallow_clone();
    t.states = (0..8).map(|k| &first + (k * k) as f64).collect();
    let _guard = seeded();
    let model = LearnedStepper::new(config(), Device::Cpu);
    let r = pde_learned::train::rollouts(&model, &t).unwrap();
    assert_eq!(pde_learned::train::ROLLOUT_START, 4);
    assert_eq!(r.learned.len(), 4);
    for (j, &p) in r.persistence.iter().enumerate() {
        let n = (j + 4) as f64;
        assert!((p - (n * n - 9.0)).abs() < 1e-4, "persistence at {n}: {p}");
        let j = (j + 1) as f64;
        let l = r.linear[j as usize - 1];
        assert!(
            (l - (j * j + j)).abs() < 1e-4,
            "linear after {j} steps: {l}"
        );
    }
    for e in r.quadratic.iter().chain(&r.cubic) {
        assert!(e.abs() < 1e-4, "{r:?}");
    }
}

/// A window outside 1 to 4 is refused with its value, by prediction and by
/// training, not a panic.
#[test]
fn a_window_outside_its_range_is_refused() {
    let _serial = seeded();
    let t = trajectory(4, 1, 6);
    for window in [0, pde_learned::stepper::MAX_WINDOW + 1] {
        let bad = config().with_window(window);
        let mut model = LearnedStepper::new(bad, Device::Cpu);
        let states: Vec<&Tensor> = t.states.iter().take(window).collect();
        let err = model
            .predict(&t.graph, &states, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("window {window}")), "{err}");
        let settings = TrainConfig {
            steps: 2,
            warmup: 1,
            ..TrainConfig::default()
        };
        let err = train(
            &mut model,
            std::slice::from_ref(&t),
            &settings,
            0,
            None,
            |_| {},
        );
        assert!(
            err.unwrap_err().to_string().contains("1 to 4"),
            "window {window}"
        );
    }
    // A window model from before the backward differences (its inputs
    // were the changes between successive states) is refused.
    let mut old = config().with_window(2);
    old.window_inputs = None;
    let model = LearnedStepper::new(old, Device::Cpu);
    let states: Vec<&Tensor> = t.states.iter().take(2).collect();
    let err = model
        .predict(&t.graph, &states, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("earlier version"), "{err}");
    // BDF2's base takes a window of 2 and one step per pass.
    for (window, bundle) in [(3, 1), (2, 2)] {
        let mut bad = config().with_window(window);
        bad.window_inputs = Some(WindowInputs::Bdf2);
        bad.bundle = bundle;
        let model = LearnedStepper::new(bad, Device::Cpu);
        let states: Vec<&Tensor> = t.states.iter().take(window).collect();
        let err = model
            .predict(&t.graph, &states, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("BDF2's base"), "{err}");
    }
    // A window of one has no window inputs to choose.
    let mut single = config();
    single.window_inputs = Some(WindowInputs::BackwardDifferences);
    let model = LearnedStepper::new(single, Device::Cpu);
    let err = model
        .predict(&t.graph, &[&t.states[0]], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`window_inputs`"), "{err}");
}

/// On BDF2's base the network reads the current state alone, and a
/// network whose decoder is zeroed (no correction) predicts
/// `(4 x_n − x_{n−1}) / 3`: the older state enters through the base only.
#[test]
fn a_bdf2_model_corrects_the_mass_terms_of_bdf2() {
    let _serial = seeded();
    let t = trajectory(6, 3, 4);
    let mut bdf2 = config().with_window(2);
    bdf2.window_inputs = Some(WindowInputs::Bdf2);
    bdf2.gnn.latent = 16;
    let model = LearnedStepper::new(bdf2, Device::Cpu);
    // Every decoder weight zero: no correction at all.
    pde_learned::tch::no_grad(|| {
        for (name, mut tensor) in model.vs.variables() {
            if name.contains("decoder") {
                let _ = tensor.zero_();
            }
        }
    });
    let states: Vec<&Tensor> = t.states.iter().take(2).collect();
    let predicted = &model.predict(&t.graph, &states, None).unwrap()[0];
    let expected = (states[1] * 4.0 - states[0]) / 3.0;
    let difference = (predicted - &expected).abs().max().double_value(&[]);
    assert!(difference < 1e-6, "{difference}");
    // Changing the older state moves the prediction by −1/3 of it.
    let older = states[0] + 0.3;
    let moved = &model.predict(&t.graph, &[&older, states[1]], None).unwrap()[0];
    let shift = (moved - predicted).mean(Kind::Float).double_value(&[]);
    assert!((shift + 0.1).abs() < 1e-6, "{shift}");
}
