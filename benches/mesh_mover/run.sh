#!/usr/bin/env bash
# Mesh movers on the steep layer tanh((r - 0.3)/0.01) (P1 Poisson on the
# unit square): the L2 error on the uniform mesh and on the same nodes
# moved by Monge–Ampère and by springs (three solve–move rounds), and the
# seconds per move, at several sizes.
#   benches/mesh_mover/run.sh --quick   the 40x40 mesh (seconds)
#   benches/mesh_mover/run.sh           also ~10^4 and ~10^5 nodes
# One JSON line per size; the last line is the largest size's. Results:
# docs/movers.md. (The neural mover's columns join when it exists, issue 16.)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p pde-engine
sizes=(40)
if [[ ${1:-} != --quick ]]; then
  sizes+=(100 316)
fi
for n in "${sizes[@]}"; do
  target/release/pde-engine bench mesh-mover --cells "$n"
done
