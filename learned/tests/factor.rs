//! Learned `L Lᵀ` factors: the tensor products agree with dense algebra,
//! Hutchinson's estimate of `‖L Lᵀ − Â‖²_F` is within 2% of the exact
//! value, an IC(0) correction with `α = 0` returns IC(0) bit for bit, the
//! diagonal is positive whatever the weights, and a saved model loads to
//! the same factor.

use pde_learned::factor::{
    FactorBase, FactorConfig, FactorKind, FactorModel, LowerSystem, SystemTensors,
};
use pde_learned::gnn::GnnConfig;
use pde_learned::tch::{Device, Kind, Tensor};

/// The Jacobi-scaled 5-point Laplacian on a `k × k` grid (lower triangle),
/// with `base` set to a lower factor with the given diagonal.
fn laplacian(k: usize, diagonal: f64) -> LowerSystem {
    let mut s = LowerSystem {
        row_ptr: vec![0],
        cols: Vec::new(),
        values: Vec::new(),
        base: Vec::new(),
        log_diagonal: vec![0.0; k * k],
    };
    for i in 0..k * k {
        let (x, y) = (i % k, i / k);
        let mut below = Vec::new();
        if y > 0 {
            below.push(i - k);
        }
        if x > 0 {
            below.push(i - 1);
        }
        for j in below {
            s.cols.push(j);
            s.values.push(-0.25);
            s.base.push(-0.25 / diagonal);
        }
        s.cols.push(i);
        s.values.push(1.0);
        s.base.push(diagonal);
        s.row_ptr.push(s.cols.len());
    }
    s
}

/// The dense `n × n` matrix of lower entries `l` (lower only, or the
/// symmetric matrix they are the lower triangle of).
fn dense(s: &LowerSystem, l: &[f64], symmetric: bool) -> Vec<Vec<f64>> {
    let n = s.rows();
    let mut m = vec![vec![0.0; n]; n];
    let rows = (0..n).flat_map(|i| std::iter::repeat_n(i, s.row_ptr[i + 1] - s.row_ptr[i]));
    for ((i, &j), &v) in rows.zip(&s.cols).zip(l) {
        m[i][j] = v;
        if symmetric {
            m[j][i] = v;
        }
    }
    m
}

fn config(kind: FactorKind) -> FactorConfig {
    FactorConfig {
        kind,
        base: FactorBase::Ic0,
        gnn: GnnConfig {
            latent: 16,
            steps: 2,
            hidden_layers: 1,
        },
    }
}

#[test]
fn hutchinson_estimates_the_frobenius_norm() {
    let system = laplacian(6, 0.9);
    let tensors = SystemTensors::new(&system, Device::Cpu).unwrap();
    let n = system.rows();
    let (l, a) = (
        dense(&system, &system.base, false),
        dense(&system, &system.values, true),
    );
    let mut exact = 0.0;
    for i in 0..n {
        for j in 0..n {
            let llt: f64 = (0..n).map(|k| l[i][k] * l[j][k]).sum();
            exact += (llt - a[i][j]).powi(2);
        }
    }
    pde_learned::tch::manual_seed(3);
    let probes = Tensor::randn([n as i64, 40_000], (Kind::Double, Device::Cpu));
    let factor = Tensor::from_slice(&system.base);
    let estimate = tensors
        .frobenius_estimate(&factor, &probes)
        .double_value(&[]);
    assert!(
        (estimate - exact).abs() < 0.02 * exact,
        "estimate {estimate:e}, exact {exact:e}"
    );
    // The products themselves agree with dense algebra.
    let z: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let zt = Tensor::from_slice(&z).view([-1, 1]);
    let az = Vec::<f64>::try_from(tensors.apply_matrix(&zt).flatten(0, -1)).unwrap();
    for i in 0..n {
        let expected: f64 = (0..n).map(|j| a[i][j] * z[j]).sum();
        assert!((az[i] - expected).abs() < 1e-14, "row {i}");
    }
}

#[test]
fn a_correction_with_alpha_zero_is_ic0_and_the_diagonal_stays_positive() {
    pde_learned::tch::manual_seed(5);
    let system = laplacian(8, 0.8);
    let tensors = SystemTensors::new(&system, Device::Cpu).unwrap();
    let mut model = FactorModel::new(config(FactorKind::Ic0Correction), Device::Cpu);
    assert_eq!(model.alpha(), 0.0);
    assert_eq!(model.factor_values(&tensors), system.base);
    // A large α changes the factor, never the sign of its diagonal.
    model.set_alpha(3.0);
    let l = model.factor_values(&tensors);
    assert_ne!(l, system.base);
    for i in 0..system.rows() {
        assert!(l[system.row_ptr[i + 1] - 1] > 0.0);
    }
    let direct = FactorModel::new(config(FactorKind::Factor), Device::Cpu);
    let l = direct.factor_values(&tensors);
    for i in 0..system.rows() {
        assert!(l[system.row_ptr[i + 1] - 1] > 0.0);
    }
}

/// Inference fuses the message passing on the CPU: the same factor as
/// the libtorch forward pass (training's) to `f32` rounding, both kinds.
#[test]
fn the_fused_factor_is_the_libtorch_factor() {
    pde_learned::tch::manual_seed(13);
    let system = laplacian(9, 0.8);
    let tensors = SystemTensors::new(&system, Device::Cpu).unwrap();
    for kind in [FactorKind::Ic0Correction, FactorKind::Factor] {
        let mut model = FactorModel::new(config(kind), Device::Cpu);
        model.set_alpha(2.0);
        let fused = model.factor_values(&tensors);
        let libtorch =
            Vec::<f64>::try_from(&pde_learned::tch::no_grad(|| model.factor(&tensors))).unwrap();
        let scale = libtorch.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let difference = fused
            .iter()
            .zip(&libtorch)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            difference < 1e-5 * scale,
            "{kind:?}: {difference} of {scale}"
        );
        assert_ne!(fused, system.base, "{kind:?}");
    }
}

#[test]
fn losses_have_gradients_and_models_round_trip() {
    pde_learned::tch::manual_seed(9);
    let system = laplacian(5, 0.85);
    let tensors = SystemTensors::new(&system, Device::Cpu).unwrap();
    let mut model = FactorModel::new(config(FactorKind::Ic0Correction), Device::Cpu);
    model.set_alpha(0.5);
    let x = Tensor::ones([25, 2], (Kind::Double, Device::Cpu));
    for loss in [
        pde_learned::factor::FactorLoss::Probes(&x),
        pde_learned::factor::FactorLoss::Frobenius(4),
    ] {
        let value = model.loss(&tensors, &loss);
        assert!(value.double_value(&[]).is_finite());
        value.backward();
    }
    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = FactorModel::load(dir.path(), Device::Cpu).unwrap();
    assert_eq!(
        loaded.factor_values(&tensors),
        model.factor_values(&tensors)
    );
    // A stepper's folder is not a preconditioner.
    std::fs::write(dir.path().join("model.json"), "{\"fields\": [\"u\"]}").unwrap();
    let err = FactorModel::load(dir.path(), Device::Cpu).err().unwrap();
    assert!(
        err.to_string().contains("not a preconditioner model"),
        "{err}"
    );
}

#[test]
fn malformed_systems_are_refused() {
    let mut system = laplacian(3, 1.0);
    system.cols.swap(1, 2);
    let err = SystemTensors::new(&system, Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("row"), "{err}");
}
