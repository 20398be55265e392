#!/usr/bin/env bash
# Regenerates the committed meshes from their .geo sources (gmsh 4.8, Debian).
# Second-order triangles: the mid-edge nodes on the cylinder lie on the circle,
# which the DFG forces need (a straight-sided cylinder costs an order of
# magnitude in drag accuracy; docs/reference/README.md).
set -euo pipefail
cd "$(dirname "$0")"
for level in 1 2 3; do
  gmsh dfg_cylinder.geo -2 -order 2 -setnumber level "$level" -format msh41 \
       -o "dfg_cylinder_l$level.msh" -v 2
done
gmsh lshape.geo -2 -format msh41 -o lshape.msh -v 2
gmsh dam_break.geo -2 -format msh41 -o dam_break.msh -v 2
# Linear (order 1) level 1, the mesh family learned steppers train on.
gmsh dfg_cylinder.geo -2 -setnumber level 1 -format msh41 -o dfg_cylinder_l1_p1.msh -v 2
gmsh spiral_disk.geo -2 -format msh41 -o spiral_disk.msh -v 2
