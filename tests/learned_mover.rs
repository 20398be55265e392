//! The learned mesh mover end to end (features `torch` and `gmsh`): a
//! family of Monge–Ampère meshes on rectangles and triangles from
//! `pde-engine generate meshes`, the CI-size network trained on it
//! (`pde-engine train mover`, about 20 s), measured on what training never
//! saw: the unit square, and the steep layer's monitors built from discrete
//! solutions. It must reach at least 0.8 of Monge–Ampère's error reduction
//! on the steep layer (UM2N's measure, `1 − moved/uniform error`) with no
//! inverted cell after the guard; the same network untrained (normalisers
//! fitted, weights as drawn) fails that bound. A training resumed from its
//! checkpoint ends with the uninterrupted run's weights, and a case runs
//! with `mesh_mover: {kind: learned}`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use pde_engine::dataset::Split;
use pde_engine::learned::steep_layer_on;
use pde_engine::movers::monitor::NodalMonitor;
use pde_engine::movers::mover_graph::{MoverGraph, EDGE_FEATURES, NODE_FEATURES};
use pde_engine::movers::samples::MeshesIndex;
use pde_learned::gnn::GnnConfig;
use pde_learned::mover::{MoverConfig, MoverGraphTensors, MoverModel};
use pde_learned::tch::{Device, Tensor};

mod common;
use common::{run, succeed};

fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/learned")
}

/// The shipped CI configs with their folders moved into `dir`.
fn config(dir: &Path, name: &str, replace: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(cases().join(name)).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "{name} has no '{from}'");
        text = text.replace(from, to);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The family and the CI model trained on it, made once for all tests.
struct Trained {
    dir: tempfile::TempDir,
    evaluation: serde_json::Value,
}

fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let meshes = config(
            dir.path(),
            "meshes.yaml",
            &[("output: ../../out/meshes", "output: meshes")],
        );
        succeed(&["generate", "meshes", meshes.to_str().unwrap()]);
        let train = config(
            dir.path(),
            "train_mover.yaml",
            &[
                ("data: ../../out/meshes", "data: meshes"),
                ("output: ../../out/mover_model", "output: model"),
            ],
        );
        let out = succeed(&["train", "mover", train.to_str().unwrap()]);
        Trained {
            evaluation: serde_json::from_str(&out).unwrap(),
            dir,
        }
    })
}

#[test]
fn the_trained_mover_reaches_most_of_monge_amperes_error_reduction() {
    let t = trained();
    let e = &t.evaluation["evaluation"];
    eprintln!("{}", serde_json::to_string_pretty(e).unwrap());
    let layer = &e["steep_layer"];
    let ratio = layer["reduction_ratio"].as_f64().unwrap();
    // Measured: uniform 0.0775, Monge–Ampère 0.0093, learned 0.0152: a
    // reduction of 0.80 against 0.88, ratio 0.91.
    assert!(ratio >= 0.8, "{layer}");
    assert_eq!(layer["inverted_cells"].as_u64(), Some(0), "{layer}");
    // On the held-out squares the learned meshes lie nearer Monge–Ampère's
    // than the linearised equation's do (measured 2.1 against 4.1 mean
    // cell sizes; the unmoved mesh 6.1).
    let learned = e["learned_distance"].as_f64().unwrap();
    let linear = e["linear_distance"].as_f64().unwrap();
    assert!(learned < 0.75 * linear, "{e}");
}

#[test]
fn an_untrained_mover_fails_the_same_bound() {
    // The control: the same network with its normalisers fitted to the
    // training family (what training does first) and its weights as drawn.
    let t = trained();
    let data = t.dir.path().join("meshes");
    let index = MeshesIndex::read(&data).unwrap();
    let config = MoverConfig {
        node_features: NODE_FEATURES as i64,
        edge_features: EDGE_FEATURES as i64,
        gnn: GnnConfig {
            latent: 16,
            steps: 4,
            hidden_layers: 1,
        },
    };
    pde_learned::tch::manual_seed(0);
    let mut model = MoverModel::new(config.clone(), Device::Cpu);
    for entry in index.split(Split::Train) {
        let sample = index.load(&data, entry).unwrap();
        let mut graph = MoverGraph::new(&sample.mesh).unwrap();
        let m = NodalMonitor::new(Arc::new(sample.mesh.clone()), &sample.monitor).unwrap();
        let f = graph.features(&|x| m.eval(x)).unwrap();
        let g = MoverGraphTensors::new(
            &config,
            &f.nodes,
            &f.edges,
            &graph.senders,
            &graph.receivers,
            Device::Cpu,
        )
        .unwrap();
        let target = Tensor::from_slice(&sample.laplacian);
        let _ = model.loss(&g, &target, true).unwrap();
    }
    model.freeze_normalizers();
    let layer = steep_layer_on(&Arc::new(Mutex::new(model)), Device::Cpu, 40).unwrap();
    eprintln!("untrained: {layer:?}");
    assert!(layer.reduction_ratio < 0.8, "{layer:?}");
    assert_eq!(layer.inverted_cells, 0);
}

#[test]
fn a_resumed_training_ends_where_the_uninterrupted_one_does() {
    let t = trained();
    let data = t.dir.path().join("meshes");
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, steps: usize, resume: bool| {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &path,
            format!(
                "data: {}\nmodel: {{latent: 8, steps: 2, hidden_layers: 1}}\n\
                 training: {{steps: {steps}, learning_rate: 1.0e-3, final_learning_rate: 1.0e-3, \
                 checkpoint_every: 10}}\n\
                 output: {name}\nresume: {resume}\n",
                data.display()
            ),
        )
        .unwrap();
        path
    };
    // A constant learning rate, so that the first 10 steps follow the
    // same schedule as in the 24-step run.
    succeed(&[
        "train",
        "mover",
        write("whole", 24, false).to_str().unwrap(),
    ]);
    succeed(&[
        "train",
        "mover",
        write("parts", 10, false).to_str().unwrap(),
    ]);
    let out = succeed(&["train", "mover", write("parts", 24, true).to_str().unwrap()]);
    // It resumed (rather than starting again, which would also match).
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["first_step"], 10);
    let weights = |name: &str| std::fs::read(dir.path().join(name).join("weights.safetensors"));
    assert!(
        weights("whole").unwrap() == weights("parts").unwrap(),
        "the resumed run's weights differ"
    );
    let losses = |name: &str| std::fs::read_to_string(dir.path().join(name).join("loss.csv"));
    assert_eq!(losses("whole").unwrap(), losses("parts").unwrap());
}

#[test]
fn a_case_moves_its_mesh_with_the_learned_mover() {
    let t = trained();
    let model = t.dir.path().join("model");
    let dir = tempfile::tempdir().unwrap();
    let case = dir.path().join("front.yaml");
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../cases/moving_front.yaml"),
    )
    .unwrap()
    .replace(
        "  kind: monge_ampere\n",
        // Unpolished, the CI model's moves tangle the stretched cells and the
        // front blows up (docs/movers.md): the divergence limit stops it.
        &format!(
            "  kind: learned\n  model: {}\n  polish: 10\n",
            model.display()
        ),
    )
    .replace("  fallback: spring", "  fallback: monge_ampere")
    .replace("end: 0.4", "end: 0.1")
    .replace(
        "out/moving_front",
        &dir.path().join("out").display().to_string(),
    );
    std::fs::write(&case, text).unwrap();
    succeed(&["check", case.to_str().unwrap()]);
    succeed(&["run", case.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    let mover = &summary["mesh_mover"];
    eprintln!("{mover}");
    assert_eq!(mover["mover"], "learned");
    assert!(mover["moves"].as_u64().unwrap() > 0, "{mover}");
    // A folder that holds another kind of model is refused by `check`.
    let other = dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(
        other.join("model.json"),
        r#"{"kind": "factor", "gnn": {"latent": 8}}"#,
    )
    .unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&case)
            .unwrap()
            .replace(&model.display().to_string(), &other.display().to_string()),
    )
    .unwrap();
    let (ok, _, err) = run(&["check", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("not a mesh mover model"), "{err}");
}

#[test]
fn polishing_the_prediction_with_monge_ampere_closes_the_gap() {
    // The prediction as Monge–Ampère's start: ten relaxation iterations
    // from it (a prediction that tangles is halved like an update) bring
    // the steep layer's error to Monge–Ampère's own.
    use pde_engine::learned::mover::LearnedMover;
    use pde_engine::movers::monitor::MonitorSpec;
    use pde_engine::movers::steep_layer::SteepLayer;
    use pde_mesh::{generate, CellKind};
    let t = trained();
    let model = MoverModel::load(&t.dir.path().join("model"), Device::Cpu).unwrap();
    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [40, 40], CellKind::Tri3).unwrap();
    let mut mover = LearnedMover::new(Arc::new(Mutex::new(model)), &mesh, Device::Cpu).unwrap();
    mover.polish = 10;
    let polished = SteepLayer::default()
        .adapt(&mesh, &mut mover, &MonitorSpec::of("u"), 3)
        .unwrap();
    let layer = &t.evaluation["evaluation"]["steep_layer"];
    let (uniform, ma) = (
        layer["uniform_error"].as_f64().unwrap(),
        layer["monge_ampere_error"].as_f64().unwrap(),
    );
    let error = *polished.errors.last().unwrap();
    let ratio = (1.0 - error / uniform) / (1.0 - ma / uniform);
    eprintln!(
        "polished: {:?}, {ratio:.3} of Monge–Ampère's reduction",
        polished.errors
    );
    // Measured 9.4e-3 against Monge–Ampère's 9.3e-3: 0.999.
    assert!(ratio > 0.98, "{ratio}");
    assert_eq!((polished.inverted, polished.refused), (0, 0));
}
