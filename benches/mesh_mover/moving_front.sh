#!/usr/bin/env bash
# Error against wall time on the travelling front of cases/moving_front.yaml
# (advection-diffusion, P1 SUPG, Crank-Nicolson, exact solution known):
# fixed 32k x 8k meshes (k = 1, 2, 4, ...; steps of 0.005/k) against the
# moving 32 x 8 and 64 x 16 meshes of Monge-Ampere, springs and the
# learned mover (CI-size model, trained first), a move every step.
#   benches/mesh_mover/moving_front.sh --quick   fixed k = 1, 2, 4
#   benches/mesh_mover/moving_front.sh           fixed k up to 16
# One JSON line per run (mesh, mover, cells, nodes, steps, error, seconds);
# the last line has, per moving run, the wall time a fixed mesh needs for
# the same error over the moving run's (above 1: moving is the better
# buy). Results: docs/movers.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
benches/mesh_mover/learned_model.sh
levels=5
if [[ ${1:-} == --quick ]]; then
  levels=3
fi
target/release/pde-engine bench moving-front --levels "$levels" --model out/mover_model --polish 10
