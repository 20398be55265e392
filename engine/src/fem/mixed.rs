//! Mixed and vector-valued spaces: several scalar Lagrange spaces on one
//! mesh, each with a number of components, numbered one after another
//! (e.g. Taylor–Hood: P2 velocity with `dim` components, then P1 pressure).
//!
//! ```
//! use std::sync::Arc;
//! use pde_engine::fem::{FunctionSpace, MixedSpace};
//! use pde_mesh::{generate, CellKind};
//! let mesh = Arc::new(generate::rectangle([0.0, 0.0], [1.0, 1.0], [4, 4], CellKind::Tri3).unwrap());
//! let th = MixedSpace::taylor_hood(mesh).unwrap();
//! assert_eq!(th.num_dofs(), 2 * 81 + 25);
//! assert_eq!(th.offset(1, 0), 2 * 81); // pressure after both velocity components
//! ```

use std::ops::Range;
use std::sync::Arc;

use pde_mesh::topology::cell_adjacency;
use pde_mesh::{Csr, Mesh};

use super::assembly::{self, CellDofs, CellValues};
use super::{FemError, FunctionSpace, Result};
use crate::linalg::{zeros_with_pattern, SparseMatrix};

/// One field of a mixed space: a scalar space and its number of components.
#[derive(Clone, Debug)]
struct Field {
    space: FunctionSpace,
    components: usize,
    offset: usize,
}

/// Fields numbered one after another, component by component: the global
/// dof of component `c` of field `f` at scalar dof `i` is
/// `offset(f, c) + i`. Local (cell) numbering follows the same order.
#[derive(Clone, Debug)]
pub struct MixedSpace {
    fields: Vec<Field>,
    num_dofs: usize,
}

impl MixedSpace {
    /// The product of `fields` (space, components), all on the same mesh.
    pub fn new(fields: Vec<(FunctionSpace, usize)>) -> Result<MixedSpace> {
        let Some((first, _)) = fields.first() else {
            return Err(FemError::Unsupported("a mixed space needs a field".into()));
        };
        if fields
            .iter()
            .any(|(s, _)| !Arc::ptr_eq(s.mesh(), first.mesh()))
        {
            return Err(FemError::Unsupported(
                "the fields of a mixed space must share one mesh".into(),
            ));
        }
        let mut offset = 0;
        let fields = fields
            .into_iter()
            .map(|(space, components)| {
                let f = Field {
                    offset,
                    components,
                    space,
                };
                offset += f.components * f.space.num_dofs();
                f
            })
            .collect();
        Ok(MixedSpace {
            fields,
            num_dofs: offset,
        })
    }

    /// Taylor–Hood P2/P1: a P2 velocity with one component per space
    /// dimension (field 0) and a P1 pressure (field 1).
    pub fn taylor_hood(mesh: Arc<Mesh>) -> Result<MixedSpace> {
        let d = mesh.dim();
        let velocity = FunctionSpace::new(mesh.clone(), 2)?;
        let pressure = FunctionSpace::new(mesh, 1)?;
        MixedSpace::new(vec![(velocity, d), (pressure, 1)])
    }

    /// The scalar space of field `f`.
    pub fn space(&self, f: usize) -> &FunctionSpace {
        &self.fields[f].space
    }

    /// The number of components of field `f`.
    pub fn components(&self, f: usize) -> usize {
        self.fields[f].components
    }

    /// The global dof of component `c` of field `f` at scalar dof 0.
    pub fn offset(&self, f: usize, c: usize) -> usize {
        let field = &self.fields[f];
        field.offset + c * field.space.num_dofs()
    }

    /// The global dofs of component `c` of field `f`.
    pub fn range(&self, f: usize, c: usize) -> Range<usize> {
        let start = self.offset(f, c);
        start..start + self.fields[f].space.num_dofs()
    }

    /// Where component `c` of field `f` sits in a cell's local numbering.
    pub fn local_range(&self, f: usize, c: usize) -> Range<usize> {
        let mut start = 0;
        for field in &self.fields[..f] {
            start += field.components * field.space.element().num_dofs();
        }
        let n = self.fields[f].space.element().num_dofs();
        start + c * n..start + (c + 1) * n
    }

    /// Total number of dofs.
    pub fn num_dofs(&self) -> usize {
        self.num_dofs
    }

    /// The mesh.
    pub fn mesh(&self) -> &Arc<Mesh> {
        self.fields[0].space.mesh()
    }

    /// The sparsity pattern: every pair of dofs that share a cell.
    pub fn pattern(&self) -> Csr {
        let cells = self.fields[0].space.num_cells();
        let mut all = Vec::new();
        let mut dofs = Vec::new();
        for c in 0..cells {
            self.cell_dofs(c, &mut dofs);
            all.extend_from_slice(&dofs);
        }
        let n = all.len() / cells.max(1);
        cell_adjacency(self.num_dofs, all.chunks_exact(n.max(1)), true)
    }

    fn spaces(&self) -> Vec<&FunctionSpace> {
        self.fields.iter().map(|f| &f.space).collect()
    }

    /// A zero matrix with the space's pattern.
    pub fn zero_matrix(&self) -> SparseMatrix {
        zeros_with_pattern(self.pattern())
    }

    /// Assembles a bilinear form into `a` (from [`MixedSpace::zero_matrix`]),
    /// overwriting its values: `kernel(values, dofs, local)` gets the basis
    /// of each field (`values[f]`), the cell's global dofs and the local
    /// matrix to add to (row-major, local numbering as
    /// [`MixedSpace::local_range`]).
    pub fn assemble_matrix_into(
        &self,
        a: &mut SparseMatrix,
        quad_degree: usize,
        kernel: impl Fn(&[CellValues], &[usize], &mut [f64]) + Sync,
    ) -> Result<()> {
        assembly::matrix_into(a, &self.spaces(), self, quad_degree, kernel)
    }

    /// Assembles a linear form (same conventions as the matrix).
    pub fn assemble_vector(
        &self,
        quad_degree: usize,
        kernel: impl Fn(&[CellValues], &[usize], &mut [f64]) + Sync,
    ) -> Result<Vec<f64>> {
        assembly::vector_over(self.num_dofs, &self.spaces(), self, quad_degree, kernel)
    }
}

impl CellDofs for MixedSpace {
    fn cell_dofs(&self, c: usize, out: &mut Vec<usize>) {
        out.clear();
        for f in &self.fields {
            let n = f.space.num_dofs();
            for comp in 0..f.components {
                let base = f.offset + comp * n;
                out.extend(f.space.cell_dofs(c).iter().map(|&d| base + d));
            }
        }
    }
}
