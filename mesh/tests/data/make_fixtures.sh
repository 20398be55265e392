#!/usr/bin/env bash
# Regenerates the reader-test fixtures with gmsh (Debian 4.8).
set -euo pipefail
cd "$(dirname "$0")"
g() { gmsh "$@" -v 1; }
g square.geo -2 -format msh41 -o square_v41_ascii.msh
g square.geo -2 -format msh41 -bin -o square_v41_binary.msh
g square.geo -2 -format msh22 -o square_v22_ascii.msh
g square.geo -2 -format msh22 -bin -o square_v22_binary.msh
g square.geo -2 -order 2 -format msh41 -o square_tri6_v41.msh
g square.geo -2 -setnumber quads 1 -order 2 -format msh22 -o square_quad9_v22.msh
g cube.geo -3 -order 2 -format msh41 -bin -o cube_tet10_v41_binary.msh
g cube.geo -3 -setnumber hexes 1 -format msh22 -bin -o cube_hex_v22_binary.msh
g cube.geo -3 -format msh41 -o cube_tet4_v41_ascii.msh
