//! One system of a family: draw its domain, mesh and coefficients, assemble
//! it, remove the Dirichlet unknowns and solve it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use pde_mesh::io::vtk;

use super::config::GroupConfig;
use super::fields::{FourierField, Kappa, Source};
use super::geometry::Domain;
use super::index::{folder, Operator, SystemEntry, SystemSample};
use crate::dataset::Split;
use crate::fem::assembly::{assemble_matrix, assemble_vector, laplace, mass, source};
use crate::fem::FunctionSpace;
use crate::linalg::direct::Cholesky;
use crate::linalg::{norm, principal_block, relative_residual, spmv, LinearSolver, SparseMatrix};
use crate::mesh_source::{GeoSource, MeshSource};
use crate::random::Draws;

/// The largest relative residual a stored solution may have (unless
/// rounding alone leaves more).
const RESIDUAL: f64 = 1e-10;

/// Steps of iterative refinement at most.
const REFINEMENTS: usize = 3;

/// The range of `dt κ_min / h²` of heat steps.
const HEAT_RATIO: [f64; 2] = [1.0, 100.0];

/// The `.geo` of each system, kept next to its matrices.
const GEO: &str = "domain.geo";

/// Draws system `name` of `split` from `group` and solves it; its folder
/// (`DIR/<split>/<name>/`) gets the domain's `.geo`, the caller writes the
/// rest.
pub(crate) fn make(
    dir: &Path,
    split: Split,
    name: &str,
    group: &GroupConfig,
    draws: &mut Draws,
) -> Result<SystemSample> {
    let geometry = *draws.pick(&group.geometries);
    let mesh_size = draws.log_uniform(group.mesh_size);
    let degree = *draws.pick(&group.degree);
    let coefficient = *draws.pick(&group.coefficients);
    let contrast = draws.log_uniform(group.contrast);
    let dt = (draws.unit() < group.heat_step)
        .then(|| draws.log_uniform(HEAT_RATIO) * mesh_size * mesh_size);
    let domain = Domain::draw(geometry, draws);
    let space = mesh(&dir.join(folder(split, name)), &domain, mesh_size, degree)?;
    let kappa = Kappa::draw(
        coefficient,
        contrast,
        &domain,
        mesh_size,
        space.dof_points(),
        draws,
    );
    let field = (draws.unit() < 0.5).then(|| {
        let size = domain.size();
        FourierField::draw(draws, domain.dimension(), [0.2 * size, 0.5 * size])
    });
    let (a, b) = assemble(&space, &kappa, dt, field.as_ref())?;

    let mut free = vec![true; space.num_dofs()];
    for d in space.group_dofs("boundary")? {
        free[d] = false;
    }
    let (a, b, points) = (
        principal_block(&a, &free),
        kept(&b, &free),
        kept(space.dof_points(), &free),
    );
    let started = Instant::now();
    let Solution { x, residual, floor } = solve(&a, &b)?;
    let cholesky_seconds = started.elapsed().as_secs_f64();

    let kappas = space.dof_points().iter().map(|&p| kappa.at(p));
    let entry = SystemEntry {
        name: name.into(),
        split,
        unknowns: b.len(),
        nonzeros: a.val().len(),
        geometry,
        dimension: domain.dimension(),
        mesh_size,
        degree,
        operator: if dt.is_some() {
            Operator::HeatStep
        } else {
            Operator::Diffusion
        },
        dt,
        coefficient,
        contrast,
        kappa_min: kappas.clone().fold(f64::INFINITY, f64::min),
        kappa_max: kappas.fold(f64::NEG_INFINITY, f64::max),
        source: if field.is_some() {
            Source::Smooth
        } else {
            Source::One
        },
        relative_residual: residual,
        residual_floor: floor,
        cholesky_seconds,
    };
    Ok(SystemSample {
        entry,
        a,
        b,
        x,
        points,
    })
}

/// Writes the domain's `.geo` into `folder`, meshes it (gmsh) and returns
/// the space of degree `degree` on it.
pub(crate) fn mesh(
    folder: &Path,
    domain: &Domain,
    mesh_size: f64,
    degree: usize,
) -> Result<FunctionSpace> {
    std::fs::create_dir_all(folder)
        .with_context(|| format!("{}: cannot create the folder", folder.display()))?;
    let geo = domain.geo(mesh_size);
    vtk::write_atomically(&folder.join(GEO), |w| w.write_all(geo.as_bytes()))?;
    // `lc` is set although the file's default is the same: gmsh keeps
    // ONELAB parameters from one meshing to the next within a process.
    let mesh = MeshSource::Geo(GeoSource {
        path: GEO.into(),
        order: 1,
        size_factor: 1.0,
        parameters: BTreeMap::from([("lc".to_string(), mesh_size)]),
    })
    .load(folder)?;
    Ok(FunctionSpace::new(Arc::new(mesh), degree)?)
}

/// `A` (`K`, or `M + dt K` for a heat step) and `b = ∫ f v` on every dof,
/// `f` the field or 1.
fn assemble(
    space: &FunctionSpace,
    kappa: &Kappa,
    dt: Option<f64>,
    field: Option<&FourierField>,
) -> Result<(SparseMatrix, Vec<f64>)> {
    let quadrature = 2 * space.degree();
    let stiffness = laplace(|x| dt.unwrap_or(1.0) * kappa.at(x));
    let a = match dt {
        None => assemble_matrix(space, quadrature, stiffness)?,
        Some(_) => {
            let mass = mass(|_| 1.0);
            assemble_matrix(space, quadrature, |v, a| {
                mass(v, a);
                stiffness(v, a);
            })?
        }
    };
    let b = assemble_vector(
        space,
        quadrature,
        source(|x| field.map_or(1.0, |f| f.at(x))),
    )?;
    Ok((a, b))
}

/// A solution and how accurate it is.
struct Solution {
    x: Vec<f64>,
    /// `|b - A x| / |b|`.
    residual: f64,
    /// `ε ‖ |A| |x| ‖ / ‖b‖`: the relative residual that rounding `x` and
    /// the product alone leave.
    floor: f64,
}

/// Solves `A x = b` by sparse Cholesky, then refines `x` with the same
/// factor while that lowers the residual (at most [`REFINEMENTS`] times).
/// The residual must be below [`RESIDUAL`], or below the rounding floor
/// where the system's conditioning puts that higher.
fn solve(a: &SparseMatrix, b: &[f64]) -> Result<Solution> {
    let mut cholesky = Cholesky::new();
    let mut x = vec![0.0; b.len()];
    cholesky
        .solve(a, b, &mut x)
        .context("the sparse Cholesky solve")?;
    let mut residual = relative_residual(a, b, &x);
    let (mut ax, mut dx) = (vec![0.0; b.len()], vec![0.0; b.len()]);
    for _ in 0..REFINEMENTS {
        spmv(a, &x, &mut ax);
        let r: Vec<f64> = b.iter().zip(&ax).map(|(b, ax)| b - ax).collect();
        cholesky.solve(a, &r, &mut dx)?;
        let refined: Vec<f64> = x.iter().zip(&dx).map(|(x, d)| x + d).collect();
        let after = relative_residual(a, b, &refined);
        if after < residual {
            (x, residual) = (refined, after);
        } else {
            break;
        }
    }
    let floor = rounding_floor(a, &x, b);
    if residual < RESIDUAL.max(floor) {
        Ok(Solution { x, residual, floor })
    } else {
        bail!(
            "the direct solve left a relative residual of {residual:.2e}: more than {RESIDUAL:e} \
             and than rounding's floor {floor:.2e} (is the matrix positive definite?)"
        )
    }
}

/// `ε ‖ |A| |x| ‖ / ‖b‖`.
fn rounding_floor(a: &SparseMatrix, x: &[f64], b: &[f64]) -> f64 {
    let s = a.symbolic();
    let (ptr, col, val) = (s.row_ptr(), s.col_idx(), a.val());
    let sizes: Vec<f64> = (0..a.nrows())
        .map(|i| {
            (ptr[i]..ptr[i + 1])
                .map(|k| (val[k] * x[col[k]]).abs())
                .sum()
        })
        .collect();
    f64::EPSILON * norm(&sizes) / norm(b)
}

/// The items of `values` whose `keep` is true.
fn kept<T: Copy>(values: &[T], keep: &[bool]) -> Vec<T> {
    values
        .iter()
        .zip(keep)
        .filter(|(_, k)| **k)
        .map(|(v, _)| *v)
        .collect()
}
