//! Checks that model sections and the case share: positive numbers,
//! boundary groups, vectors and points of the right size.

use pde_mesh::Mesh;

use crate::expr::Expr;

/// `v > 0`, false for NaN.
pub fn is_positive(v: f64) -> bool {
    v > 0.0
}

/// A boundary group must exist and have dimension `dim - 1`.
pub fn check_group(mesh: &Mesh, key: &str, group: &str, problems: &mut Vec<String>) {
    let dim = mesh.dim();
    match mesh.group(group) {
        Ok(g) if g.dim + 1 != dim => problems.push(format!(
            "{key}: the group has dimension {}; boundary conditions need dimension {}",
            g.dim,
            dim.saturating_sub(1)
        )),
        Ok(_) => {}
        Err(_) => problems.push(format!(
            "{key}: the mesh has no such group; it has {}",
            mesh.group_names().join(", ")
        )),
    }
}

/// A vector of expressions needs `dim` to 3 components.
pub fn check_vector(key: &str, v: &[Expr], dim: usize, problems: &mut Vec<String>) {
    if v.len() < dim || v.len() > 3 {
        problems.push(format!(
            "{key}: {} components given; expected {dim} to 3",
            v.len()
        ));
    }
}

/// A point needs `dim` to 3 coordinates.
pub fn check_point(key: &str, p: &[f64], dim: usize, problems: &mut Vec<String>) {
    if p.len() < dim || p.len() > 3 {
        problems.push(format!(
            "{key} has {} coordinates; expected {dim} to 3",
            p.len()
        ));
    }
}
