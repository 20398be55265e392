#!/usr/bin/env bash
# Mesh movers on the steep layer tanh((r - 0.3)/0.01) (P1 Poisson on the
# unit square, held out from the learned mover's training: other domains,
# monitors from discrete solutions): the L2 error on the uniform mesh and
# on the same nodes moved by Monge–Ampère, by springs and by the learned
# mover (three solve–move rounds each), and the seconds per move (monitor
# and mover), at several sizes.
#   benches/mesh_mover/run.sh --quick   trains the CI-size learned mover
#                                       (generate meshes + train mover, under
#                                       a minute) and runs the 40x40 mesh
#   benches/mesh_mover/run.sh           also ~10^4 and ~10^5 nodes
# One JSON line per size (uniform_error, monge_ampere_error, spring_error,
# learned_error, inverted_cells after the guard, monge_ampere_seconds,
# learned_seconds (monitor and mover), *_mover_seconds (the mover alone),
# learned_tangled: learned moves with inverted cells before the guard); the
# last line is the largest size's. Results: docs/movers.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
benches/mesh_mover/learned_model.sh
sizes=(40)
if [[ ${1:-} != --quick ]]; then
  sizes+=(100 316)
fi
for n in "${sizes[@]}"; do
  target/release/pde-engine bench mesh-mover --cells "$n" --model out/mover_model
done
