//! File formats: gmsh input, VTK output.

pub mod gmsh;
pub mod vtk;
