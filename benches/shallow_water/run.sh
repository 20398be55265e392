#!/usr/bin/env bash
# Finite-volume throughput: MUSCL (Barth–Jespersen) + HLL + SSP-RK2 shallow
# water on about CELLS triangles (default 10^6), one and two threads.
# Prints one JSON line per run (docs/performance.md).
#   benches/shallow_water/run.sh [CELLS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/../.."
cells=${1:-1000000}
steps=${2:-20}
cargo build --release -q -p pde-engine
for threads in 1 2; do
  target/release/pde-engine bench shallow-water --cells "$cells" --steps "$steps" --threads "$threads"
done
