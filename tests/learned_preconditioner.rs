//! Learned CG preconditioners end to end (features `torch` and `gmsh`): a
//! small family of SPD systems from `pde-engine generate systems`, a small
//! IC(0)-correcting network trained on it for a short time (`pde-engine
//! train preconditioner`), and the guarantees that hold whatever the
//! weights: untrained factors of both kinds are SPD (PCG converges and
//! matches Cholesky on 20 systems), α = 0 is the base (IC(0), or MIC(0))
//! to round-off with the same iterations, a factor that is not finite falls back to IC(0) and
//! says so, and a case file runs with `preconditioner: {kind: learned}`.
//! Training must lower the held-out loss clearly below the α = 0
//! control's; on unstructured meshes the iterations it costs against IC(0)
//! are measured and bounded (docs/learned.md reports why the loss does not
//! buy iterations there), on structured grids a model trained likewise
//! needs at most 0.9× IC(0)'s iterations on held-out systems of contrast
//! 100 and larger size, where the α = 0 control needs 1×.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use pde_engine::dataset::Split;
use pde_engine::learned::preconditioner::{LearnedFactor, ScaledSystem};
use pde_engine::linalg::direct::Cholesky;
use pde_engine::linalg::factor::{Ic0, IncompleteCholesky, MIC_OMEGA};
use pde_engine::linalg::krylov::{Cg, Tolerance};
use pde_engine::linalg::{LinearSolver, Preconditioner, SparseMatrix};
use pde_engine::systems::{SystemSample, SystemsIndex};
use pde_learned::factor::{FactorBase, FactorConfig, FactorKind, FactorModel, SystemTensors};
use pde_learned::gnn::GnnConfig;
use pde_learned::tch::Device;

mod common;
use common::{run, succeed};

/// A family of systems and a model trained on it, made once for all tests.
struct Trained {
    dir: tempfile::TempDir,
    evaluation: serde_json::Value,
}

impl Trained {
    fn data(&self) -> PathBuf {
        self.dir.path().join("systems")
    }
    fn model(&self) -> PathBuf {
        self.dir.path().join("model")
    }
    fn samples(&self, split: Split) -> Vec<SystemSample> {
        let index = SystemsIndex::read(&self.data()).unwrap();
        index
            .split(split)
            .map(|e| index.load(&self.data(), e).unwrap())
            .collect()
    }

    /// Generates the family of `systems` (a YAML config writing to
    /// `systems`) and trains the model of `model` and `steps` on it.
    fn new(systems: &str, model: &str, steps: usize) -> Trained {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("systems.yaml");
        std::fs::write(&config, systems).unwrap();
        succeed(&["generate", "systems", config.to_str().unwrap()]);
        let train = dir.path().join("train.yaml");
        std::fs::write(
            &train,
            format!(
                "data: systems\nmodel: {model}\ntraining: {{steps: {steps}, learning_rate: 3.0e-3, \
                 final_learning_rate: 3.0e-4}}\noutput: model\n"
            ),
        )
        .unwrap();
        let out = succeed(&["train", "preconditioner", train.to_str().unwrap()]);
        let evaluation = serde_json::from_str(&out).unwrap();
        Trained { dir, evaluation }
    }
}

/// The CI model.
const MODEL: &str = "{kind: ic0_correction, gnn: {latent: 16, steps: 3, hidden_layers: 1}}";

fn trained() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        Trained::new(
            "output: systems\nseed: 5\n\
             train:\n\
             \x20 - {count: 14, geometries: [square, l_shape, polygon], mesh_size: [0.04, 0.08], \
             contrast: [1, 1.0e4], heat_step: 0.25}\n\
             \x20 - {count: 6, geometries: [square, polygon], mesh_size: [0.08, 0.15], \
             contrast: [1, 1.0e4], degree: [2]}\n\
             test:\n\
             \x20 - {count: 4, geometries: [channel_with_holes], mesh_size: [0.03, 0.04], \
             contrast: [100, 100]}\n",
            MODEL,
            300,
        )
    })
}

/// Structured grids (the five-point stencil, where IC(0) is weak): 16
/// training grids of 289–1089 unknowns, 4 held out of 4356 at contrast 100.
fn trained_on_grids() -> &'static Trained {
    static TRAINED: OnceLock<Trained> = OnceLock::new();
    TRAINED.get_or_init(|| {
        Trained::new(
            "output: systems\nseed: 5\n\
             train:\n\
             \x20 - {count: 16, geometries: [grid], mesh_size: [0.03, 0.06], \
             coefficients: [lognormal, inclusions], contrast: [1, 1.0e4]}\n\
             test:\n\
             \x20 - {count: 4, geometries: [grid], mesh_size: [0.015, 0.015], \
             coefficients: [lognormal, inclusions], contrast: [100, 100]}\n",
            MODEL,
            600,
        )
    })
}

fn tolerance() -> Tolerance {
    Tolerance {
        rtol: 1e-10,
        atol: 0.0,
        max_iterations: 20_000,
    }
}

/// PCG with `p` on `sample`: the iterations, the largest difference from
/// the stored Cholesky solution relative to its largest value, and the
/// fallback if any.
fn pcg(sample: &SystemSample, p: Box<dyn Preconditioner>) -> (usize, f64, Option<String>) {
    let mut x = vec![0.0; sample.b.len()];
    let mut cg = Cg::new(p, tolerance());
    let report = cg.solve(&sample.a, &sample.b, &mut x).unwrap();
    let scale = sample.x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let error = x
        .iter()
        .zip(&sample.x)
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
    (report.iterations, error / scale, report.fallback)
}

fn untrained(kind: FactorKind, base: FactorBase) -> FactorModel {
    let config = FactorConfig {
        kind,
        base,
        gnn: GnnConfig {
            latent: 16,
            steps: 2,
            hidden_layers: 1,
        },
    };
    FactorModel::new(config, Device::Cpu)
}

#[test]
fn untrained_factors_are_spd_and_pcg_matches_cholesky() {
    let samples = trained().samples(Split::Train);
    assert_eq!(samples.len(), 20);
    for kind in [FactorKind::Ic0Correction, FactorKind::Factor] {
        pde_learned::tch::manual_seed(11);
        let mut model = untrained(kind, FactorBase::Ic0);
        if kind == FactorKind::Ic0Correction {
            // Untrained means α away from 0 too: the random correction acts.
            model.set_alpha(0.3);
        }
        let model = Arc::new(Mutex::new(model));
        for sample in &samples {
            let p = Box::new(LearnedFactor::new(model.clone(), Device::Cpu));
            let (iterations, error, fallback) = pcg(sample, p);
            assert!(
                error < 1e-8,
                "{kind:?} on {}: {error:e}",
                sample.entry.dir().display()
            );
            assert!(fallback.is_none(), "{fallback:?}");
            assert!(iterations > 0);
        }
    }
}

#[test]
fn alpha_zero_is_the_base_to_round_off_with_the_same_iterations() {
    let mut model = FactorModel::load(&trained().model(), Device::Cpu).unwrap();
    assert!(model.alpha() != 0.0, "training moved α");
    model.set_alpha(0.0);
    assert_applies(model, Ic0::default());
    let mic0 = untrained(FactorKind::Ic0Correction, FactorBase::Mic0);
    assert_applies(mic0, IncompleteCholesky::modified(MIC_OMEGA));
}

/// `model` applies `base` on every held-out system to 1e-12, and PCG with
/// either takes the same iterations.
fn assert_applies(model: FactorModel, base: IncompleteCholesky) {
    let model = Arc::new(Mutex::new(model));
    for sample in &trained().samples(Split::Test) {
        let mut learned = LearnedFactor::new(model.clone(), Device::Cpu);
        let mut reference = base.clone();
        learned.setup(&sample.a).unwrap();
        reference.setup(&sample.a).unwrap();
        let (mut zl, mut zi) = (vec![0.0; sample.b.len()], vec![0.0; sample.b.len()]);
        learned.apply(&sample.b, &mut zl);
        reference.apply(&sample.b, &mut zi);
        let scale = zi.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let diff = zl
            .iter()
            .zip(&zi)
            .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
        assert!(diff <= 1e-12 * scale, "{diff:e} of {scale:e}");
        let (it_learned, ..) = pcg(sample, Box::new(learned));
        let (it_base, ..) = pcg(sample, Box::new(base.clone()));
        assert_eq!(it_learned, it_base);
    }
}

#[test]
fn training_lowers_the_held_out_loss_and_cg_keeps_its_guarantees() {
    let e = &trained().evaluation;
    let (learned, control) = (
        e["held_out_loss"].as_f64().unwrap(),
        e["held_out_loss_alpha_zero"].as_f64().unwrap(),
    );
    // The loss is a logarithm: at least a factor e below IC(0)'s.
    assert!(learned < control - 1.0, "{learned} against {control}");
    let test = &e["test"];
    assert_eq!(test["systems"].as_array().unwrap().len(), 4);
    assert_eq!(test["fallbacks"], 0);
    let ratio = test["learned_to_ic0_iterations"].as_f64().unwrap();
    let amg = test["amg_iterations"].as_f64().unwrap();
    let ic0 = test["ic0_iterations"].as_f64().unwrap();
    // Measured, not won: within 1.5× of IC(0); AMG far ahead of both.
    assert!(ratio < 1.5, "learned/IC(0) iterations {ratio}");
    assert!(amg < 0.5 * ic0, "AMG {amg}, IC(0) {ic0}");
    let model = trained().model();
    for file in [
        "model.json",
        "weights.safetensors",
        "loss.csv",
        "loss.png",
        "evaluation.json",
        "iterations.png",
    ] {
        assert!(model.join(file).exists(), "{file}");
    }
}

#[test]
fn on_structured_grids_the_trained_factor_needs_under_0_9_of_ic0s_iterations() {
    let t = trained_on_grids();
    let test = &t.evaluation["test"];
    assert_eq!(test["fallbacks"], 0);
    let systems = test["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 4);
    let ratio = test["learned_to_ic0_iterations"].as_f64().unwrap();
    assert!(ratio <= 0.9, "learned/IC(0) iterations {ratio}");
    for s in systems {
        assert_eq!(s["unknowns"], 4356);
        assert!(
            s["learned"]["iterations"].as_u64() < s["ic0"]["iterations"].as_u64(),
            "{s}"
        );
    }
    // The control, the same model with α = 0 (IC(0) itself), fails the
    // bound: a ratio of 1 on every system.
    let mut control = FactorModel::load(&t.model(), Device::Cpu).unwrap();
    control.set_alpha(0.0);
    let control = Arc::new(Mutex::new(control));
    for sample in t.samples(Split::Test) {
        let (it_control, error, fallback) = pcg(
            &sample,
            Box::new(LearnedFactor::new(control.clone(), Device::Cpu)),
        );
        let (it_ic0, ..) = pcg(&sample, Box::new(Ic0::default()));
        assert!(error < 1e-8 && fallback.is_none());
        assert_eq!(it_control, it_ic0);
    }
}

#[test]
fn a_resumed_training_continues_exactly() {
    // 40 steps at once, and 20 + 20 with `resume: true` (a constant
    // learning rate, so that the first 20 follow the same schedule as in
    // the 40-step run): the same losses and the same weights, bit for bit
    // (the draws depend on the step, the optimiser's moments are saved).
    let t = trained();
    let train = |name: &str, steps: usize, resume: bool| -> (Vec<String>, serde_json::Value) {
        let config = t.dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &config,
            format!(
                "data: systems
model: {{kind: ic0_correction, gnn: {{latent: 8, steps: 2, hidden_layers: 1}}}}
\
                 loss: frobenius
probes: 2
\
                 training: {{steps: {steps}, learning_rate: 3.0e-3, final_learning_rate: 3.0e-3, checkpoint_every: 20, seed: 4}}
\
                 output: {name}
resume: {resume}
"
            ),
        )
        .unwrap();
        let out = succeed(&["train", "preconditioner", config.to_str().unwrap()]);
        let log = std::fs::read_to_string(t.dir.path().join(name).join("loss.csv")).unwrap();
        let log = log.lines().map(str::to_string).collect();
        (log, serde_json::from_str(&out).unwrap())
    };
    let (whole, _) = train("whole", 40, false);
    train("split", 20, false);
    let (split, summary) = train("split", 40, true);
    // It resumed (rather than starting again, which would also match).
    assert_eq!(summary["first_step"], 20);
    assert_eq!(whole.len(), 41);
    assert_eq!(whole, split);
    let weights =
        |name: &str| std::fs::read(t.dir.path().join(name).join("weights.safetensors")).unwrap();
    assert_eq!(weights("whole"), weights("split"));
}

/// Sets every weight of the model in `dir` to NaN and saves it to `to`.
fn poisoned(dir: &Path, to: &Path) {
    let model = FactorModel::load(dir, Device::Cpu).unwrap();
    pde_learned::tch::no_grad(|| {
        for (_, mut t) in model.vs.variables() {
            let _ = t.fill_(f64::NAN);
        }
    });
    model.save(to).unwrap();
}

#[test]
fn a_factor_that_is_not_finite_falls_back_to_ic0() {
    let t = trained();
    let bad = t.dir.path().join("poisoned");
    poisoned(&t.model(), &bad);
    let model = Arc::new(Mutex::new(FactorModel::load(&bad, Device::Cpu).unwrap()));
    let sample = &t.samples(Split::Test)[0];
    let (it_learned, error, fallback) =
        pcg(sample, Box::new(LearnedFactor::new(model, Device::Cpu)));
    let why = fallback.expect("the fallback is reported");
    assert!(why.contains("IC(0)") && why.contains("NaN"), "{why}");
    assert!(error < 1e-8);
    let (it_ic0, ..) = pcg(sample, Box::new(Ic0::default()));
    assert_eq!(it_learned, it_ic0);
}

#[test]
fn a_case_file_runs_cg_with_the_learned_factor() {
    let t = trained();
    let dir = t.dir.path().join("case");
    std::fs::create_dir_all(&dir).unwrap();
    let mesh = Path::new(env!("CARGO_MANIFEST_DIR")).join("../meshes/lshape.msh");
    let case = |preconditioner: &str, physics: &str| {
        format!(
            "mesh: {{file: {}}}\nphysics:\n  {physics}\n\
             solver: {{kind: cg, preconditioner: {preconditioner}}}\noutput: {{directory: out}}\n",
            mesh.display()
        )
    };
    let poisson = "poisson: {source: 1, boundary: {boundary: {dirichlet: 0}}}";
    // The model path is relative to the case file.
    std::fs::write(
        dir.join("learned.yaml"),
        case("{kind: learned, model: ../model}", poisson),
    )
    .unwrap();
    std::fs::write(dir.join("ic0.yaml"), case("ic0", poisson)).unwrap();
    let learned = dir.join("learned.yaml");
    succeed(&["check", learned.to_str().unwrap()]);
    let summary = |file: &str| -> serde_json::Value {
        let out = dir.join(format!("out_{file}"));
        succeed(&[
            "run",
            dir.join(file).to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
    };
    let (l, i) = (summary("learned.yaml"), summary("ic0.yaml"));
    assert!(l.get("preconditioner_fallback").is_none(), "{l}");
    let (il, ii) = (
        l["solver_iterations"].as_f64().unwrap(),
        i["solver_iterations"].as_f64().unwrap(),
    );
    assert!(il > 0.0 && il < 1.5 * ii, "learned {il}, IC(0) {ii}");
    // `check` refuses what `run` would: a missing folder, a bad option, a
    // system that is not SPD.
    let refused = |preconditioner: &str, physics: &str, expected: &str| {
        let file = dir.join("bad.yaml");
        std::fs::write(&file, case(preconditioner, physics)).unwrap();
        let (ok, _, err) = run(&["check", file.to_str().unwrap()]);
        assert!(!ok && err.contains(expected), "{preconditioner}: {err}");
    };
    refused("{kind: learned, model: nowhere}", poisson, "nowhere");
    refused(
        "{kind: learned, model: ../model, device: tpu}",
        poisson,
        "device",
    );
    refused("{kind: learned}", poisson, "needs model");
    let advection = "advection_diffusion: {kappa: 0.1, velocity: [1, 0], \
                     boundary: {boundary: {dirichlet: 0}}}";
    refused("{kind: learned, model: ../model}", advection, "symmetric");
}

/// The model reads `Â = D^{-1/2} A D^{-1/2}`: a unit diagonal, and the
/// solution `x̂ = D^{1/2} x`.
#[test]
fn the_model_reads_the_jacobi_scaled_matrix() {
    let sample = &trained().samples(Split::Test)[1];
    let scaled = ScaledSystem::new(&sample.a, FactorBase::Ic0).unwrap();
    let a: &SparseMatrix = &scaled.matrix;
    for i in 0..a.nrows() {
        let k = pde_engine::linalg::entry_index(a, i, i).unwrap();
        assert!((a.val()[k] - 1.0).abs() < 1e-14);
    }
    let tensors = SystemTensors::new(&scaled.lower, Device::Cpu).unwrap();
    assert_eq!(tensors.n, sample.b.len());
    // Cholesky of Â agrees with the stored solution scaled: x̂ = D^{1/2} x.
    let b_hat: Vec<f64> = sample
        .b
        .iter()
        .zip(&scaled.root_diagonal)
        .map(|(b, r)| b / r)
        .collect();
    let mut x_hat = vec![0.0; b_hat.len()];
    Cholesky::new().solve(a, &b_hat, &mut x_hat).unwrap();
    for ((xh, x), r) in x_hat.iter().zip(&sample.x).zip(&scaled.root_diagonal) {
        assert!((xh - x * r).abs() < 1e-8 * (x * r).abs().max(1e-3));
    }
}
