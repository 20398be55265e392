#!/usr/bin/env bash
# Learned CG preconditioners against none, Jacobi, SSOR, IC(0), MIC(0), our AMG and
# pyamg's smoothed aggregation (the peer), on the same held-out systems
# (Matrix Market files from `pde-engine generate systems`).
#   benches/preconditioner/run.sh --quick   CI-size family and model (minutes)
#   benches/preconditioner/run.sh --grid    structured grids, held out at 10^4 and 10^5
#                                           unknowns (minutes): where the learned factor wins
#   benches/preconditioner/run.sh           held-out systems of 10^4, 10^5, 10^6 unknowns
# Prints the per-system table, then as its last line one JSON object with
# the medians (ic0_iterations, learned_iterations, amg_iterations,
# pyamg_iterations, ic0_seconds, learned_seconds, ...; seconds are whole
# solves, set-up with inference included). Results: docs/learned.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ ${1:-} == --quick ]]; then
  systems=cases/learned/systems.yaml
  train=cases/learned/train_preconditioner.yaml
  data=out/systems
  model=out/preconditioner
elif [[ ${1:-} == --grid ]]; then
  systems=benches/preconditioner/grid_systems.yaml
  train=benches/preconditioner/grid_train.yaml
  data=out/bench_grid_systems
  model=out/bench_grid_preconditioner
elif [[ -n ${1:-} ]]; then
  echo "usage: benches/preconditioner/run.sh [--quick | --grid]" >&2
  exit 2
else
  systems=benches/preconditioner/systems.yaml
  train=benches/preconditioner/train.yaml
  data=out/bench_systems
  model=out/bench_preconditioner
fi
eval "$(scripts/torch.sh)"
cargo build --release -q -p pde-engine --features torch,gmsh
target/release/pde-engine generate systems "$systems" >&2
target/release/pde-engine train preconditioner "$train" > /dev/null
ours=$(target/release/pde-engine bench preconditioner "$data" --model "$model" | tail -n 1)
PY=$(benches/peers/setup.sh)
peer=$("$PY" benches/preconditioner/pyamg_peer.py "$data")
python3 - "$ours" "$peer" <<'PY'
import json, sys
ours, peer = (json.loads(a) for a in sys.argv[1:])
names = ["none", "jacobi", "ssor", "ic0", "mic0", "amg", "learned"]
print("| preconditioner | median iterations | worst | median seconds |")
print("|---|---|---|---|")
for n in names:
    print(f"| {n} | {ours[n + '_iterations']:.0f} | {ours[n + '_worst_iterations']:.0f} | {ours[n + '_seconds']:.4f} |")
print(f"| pyamg SA (peer) | {peer['pyamg_iterations']:.0f} | {peer['pyamg_worst_iterations']:.0f} | {peer['pyamg_seconds']:.4f} |")
print(json.dumps({**ours, **peer}))
PY
