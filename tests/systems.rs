//! `pde-engine generate systems`: a tiny family of SPD systems generated
//! into a temporary folder and read back from disk (needs the `gmsh`
//! feature). Every system must be symmetric, positive definite and solved
//! by its stored `x`; the coefficients must span the contrast asked for; the
//! test split must hold out its geometries; the same seed must give the
//! same bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

use pde_engine::dataset::Split;
use pde_engine::linalg::direct::Cholesky;
use pde_engine::linalg::{dot, relative_residual, spmv, LinearSolver, SparseMatrix};
use pde_engine::systems::{
    generate, CoefficientKind, Geometry, Operator, SystemSample, SystemsIndex,
};

/// Train: 2D P1 and P2, both coefficient kinds, heat steps; test: channels
/// with holes at contrast 100 and a cube.
const FAMILY: &str = "
output: family
seed: SEED
train:
  - count: 3
    geometries: [square, l_shape]
    mesh_size: [0.035, 0.05]
    contrast: [1, 1.0e4]
    heat_step: 0.5
  - count: 2
    geometries: [square, polygon]
    mesh_size: [0.07, 0.09]
    coefficients: [inclusions]
    contrast: [10, 1000]
    degree: [2]
    heat_step: 0.5
test:
  - count: 2
    geometries: [channel_with_holes]
    mesh_size: [0.07, 0.09]
    contrast: [100, 100]
  - count: 1
    geometries: [box]
    mesh_size: [0.12, 0.12]
    contrast: [10, 1000]
";

/// Generates the family with `seed` in `dir`; returns its folder.
fn family(dir: &Path, seed: u64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("systems.yaml");
    std::fs::write(&config, FAMILY.replace("SEED", &seed.to_string())).unwrap();
    generate(&config, false).unwrap()
}

/// `max |a_ij - a_ji| / max |a_ij|`.
fn asymmetry(a: &SparseMatrix) -> f64 {
    let s = a.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
    let entry = |i: usize, j: usize| {
        (ptr[i]..ptr[i + 1])
            .find(|&k| col[k] == j)
            .map_or(0.0, |k| val[k])
    };
    let largest = val.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut worst = 0.0f64;
    for i in 0..a.nrows() {
        for k in ptr[i]..ptr[i + 1] {
            worst = worst.max((val[k] - entry(col[k], i)).abs());
        }
    }
    worst / largest
}

/// Checks one system read back from disk.
fn check(system: &SystemSample) {
    let e = &system.entry;
    let (a, b, x) = (&system.a, &system.b, &system.x);
    let what = format!("{} {}", e.split.name(), e.name);
    assert_eq!(a.nrows(), e.unknowns, "{what}");
    assert!(
        (150..=1000).contains(&e.unknowns),
        "{what}: {} unknowns",
        e.unknowns
    );
    assert!(a.val().iter().all(|v| *v != 0.0), "{what}: explicit zeros");
    assert!(
        asymmetry(a) <= 1e-14,
        "{what}: asymmetry {:e}",
        asymmetry(a)
    );
    let residual = relative_residual(a, b, x);
    assert!(residual < 1e-10, "{what}: residual {residual:e}");
    let mut ax = vec![0.0; x.len()];
    spmv(a, x, &mut ax);
    assert!(dot(x, &ax) > 0.0, "{what}");
    let mut y = vec![0.0; b.len()];
    let report = Cholesky::new().solve(a, b, &mut y).unwrap();
    assert!(report.relative_residual < 1e-10, "{what}");
    // Every unknown is a free dof: none on the boundary of the domain.
    if matches!(e.geometry, Geometry::Square | Geometry::Box) {
        let inside = |p: &[f64; 3]| p[..e.dimension].iter().all(|&c| c > 1e-9 && c < 1.0 - 1e-9);
        assert!(system.points.iter().all(inside), "{what}: boundary point");
    }
    let z = |p: &[f64; 3]| p[2];
    let depth = system.points.iter().map(z).fold(0.0, f64::max);
    assert_eq!(depth > 0.0, e.dimension == 3, "{what}: depth {depth}");
}

#[test]
fn a_generated_family_is_spd_solved_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let out = family(dir.path(), 1);
    let index = SystemsIndex::read(&out).unwrap();
    assert_eq!(index.systems.len(), 8);
    let (train, test): (Vec<_>, Vec<_>) = (
        index.split(Split::Train).collect(),
        index.split(Split::Test).collect(),
    );
    assert_eq!((train.len(), test.len()), (5, 3));
    for entry in &index.systems {
        check(&index.load(&out, entry).unwrap());
    }

    // The coefficient spans the contrast drawn, within the range asked for.
    for e in &index.systems {
        let range = match (e.split, e.degree, e.dimension) {
            (Split::Train, 1, _) => [1.0, 1e4],
            (Split::Test, _, 2) => [100.0, 100.0],
            _ => [10.0, 1000.0],
        };
        let contrast = e.kappa_max / e.kappa_min;
        assert_eq!(e.kappa_min, 1.0, "{}", e.name);
        assert!(
            contrast >= range[0] * (1.0 - 1e-12) && contrast <= range[1] * (1.0 + 1e-12),
            "{} {}: contrast {contrast} outside {range:?}",
            e.split.name(),
            e.name
        );
        assert!((contrast / e.contrast - 1.0).abs() < 1e-12, "{}", e.name);
    }
    // The family covers what it should, and the test split holds out its
    // geometries.
    let any = |f: &dyn Fn(&&pde_engine::systems::SystemEntry) -> bool| train.iter().any(f);
    assert!(any(&|e| e.operator == Operator::HeatStep && e.dt.is_some()));
    assert!(any(&|e| e.operator == Operator::Diffusion && e.dt.is_none()));
    assert!(any(&|e| e.degree == 2) && any(&|e| e.degree == 1));
    assert!(any(&|e| e.coefficient == CoefficientKind::Lognormal));
    assert!(any(&|e| e.coefficient == CoefficientKind::Inclusions));
    assert!(train
        .iter()
        .all(|e| !matches!(e.geometry, Geometry::ChannelWithHoles | Geometry::Box)));
    let cube = test.iter().find(|e| e.geometry == Geometry::Box).unwrap();
    assert_eq!(cube.dimension, 3);
    assert!(test[..2]
        .iter()
        .all(|e| e.geometry == Geometry::ChannelWithHoles && e.contrast == 100.0));

    // Same seed, same bytes; another seed, other systems.
    let again = family(&dir.path().join("again"), 1);
    let other = family(&dir.path().join("other"), 2);
    let bytes = |dir: &Path, e: &pde_engine::systems::SystemEntry| {
        std::fs::read(dir.join(e.dir()).join("A.mtx")).unwrap()
    };
    for e in &index.systems {
        assert!(bytes(&out, e) == bytes(&again, e), "{}", e.name);
    }
    assert!(index
        .systems
        .iter()
        .all(|e| bytes(&out, e) != bytes(&other, e)));
}

/// A config with an impossible value or an unknown key is refused, the key
/// named, before anything is written.
#[test]
fn generate_systems_refuses_bad_configs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("systems.yaml");
    let run = |text: &str| {
        std::fs::write(&config, text).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_pde-engine"))
            .args(["generate", "systems", config.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let group =
        "output: out\ntrain:\n  - count: 2\n    geometries: [square]\n    mesh_size: [0.1, 0.2]\n";
    let err = run(&format!("{group}    contrast: [0.5, 10]\n"));
    assert!(
        err.contains("systems.yaml: invalid systems config")
            && err.contains("train[0].contrast: [0.5, 10] must be a range with 1 ≤ min ≤ max"),
        "{err}"
    );
    let err = run(&format!("{group}    contrats: [1, 10]\n"));
    assert!(
        err.contains("line 6") && err.contains("unknown field `contrats`"),
        "{err}"
    );
    let err = run(&format!(
        "{}    contrast: [1, 10]\n",
        group.replace("[square]", "[square, sphere]")
    ));
    assert!(
        err.contains("line 4") && err.contains("unknown variant `sphere`"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn a_grid_is_meshed_structured_and_gives_the_five_point_stencil() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("grid.yaml");
    std::fs::write(
        &config,
        "output: grid\nseed: 1\ntrain:\n  - {count: 1, geometries: [grid], mesh_size: [0.05, 0.05], \
         contrast: [1, 1]}\ntest:\n  - {count: 1, geometries: [grid], mesh_size: [0.1, 0.1], \
         contrast: [1, 1]}\n",
    )
    .unwrap();
    let out = generate(&config, false).unwrap();
    let index = SystemsIndex::read(&out).unwrap();
    for entry in &index.systems {
        let cells = if entry.split == Split::Train { 20 } else { 10 };
        let system = index.load(&out, entry).unwrap();
        // The interior nodes of a grid of `cells`² squares.
        assert_eq!(entry.unknowns, (cells - 1) * (cells - 1));
        let h = 1.0 / cells as f64;
        for p in &system.points {
            for c in &p[..2] {
                assert!(
                    ((c / h).round() * h - c).abs() < 1e-9,
                    "{p:?} is off the grid"
                );
            }
        }
        // κ = 1: 4 on the diagonal, −1 to the four neighbours, nothing
        // across the triangles' diagonals.
        let (a, s) = (&system.a, system.a.symbolic());
        for i in 0..a.nrows() {
            let row = s.row_ptr()[i]..s.row_ptr()[i + 1];
            let mut entries: Vec<f64> = a.val()[row]
                .iter()
                .copied()
                .filter(|v| v.abs() > 1e-9)
                .collect();
            entries.sort_by(f64::total_cmp);
            assert!(
                entries.len() <= 5 && (entries[entries.len() - 1] - 4.0).abs() < 1e-9,
                "row {i}: {entries:?}"
            );
            assert!(
                entries[..entries.len() - 1]
                    .iter()
                    .all(|v| (v + 1.0).abs() < 1e-9),
                "row {i}: {entries:?}"
            );
        }
    }
}
