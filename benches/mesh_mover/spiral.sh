#!/usr/bin/env bash
# Error against wall time on the spiral wave (cases/spiral_waves_moving.yaml,
# Barkley kinetics on the unstructured disk, t = 40): the fixed mesh against
# the same nodes moved every 10 steps by Monge-Ampere, by springs and by the
# learned mover (CI-size model, trained first; polish 10, springs as its
# fallback). The error is the rotation period's at the probe (upward
# crossings of u = 0.5 after t = 25) against the converged period, about
# 3.04: the Richardson limit of the square meshes' sequence that
# `cargo run --release -p pde-engine --example spiral_period` measures
# (periods 4.06, 3.55, 3.29 at h = 1, 0.714, 0.5 in 21, 49 and 118 s:
# the fixed meshes' frontier).
#   benches/mesh_mover/spiral.sh           four runs, about 25 minutes
#   benches/mesh_mover/spiral.sh --quick   t = 30, two periods counted
# One JSON line per run (mover, seconds, periods counted, period, error).
# Results: docs/movers.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
benches/mesh_mover/learned_model.sh
end=40
if [[ ${1:-} == --quick ]]; then
  end=30
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$PWD
reference=3.04
for mover in fixed monge_ampere spring learned; do
  case=$work/$mover.yaml
  flags=()
  sed -e "s#file: ../meshes/spiral_disk.msh#file: $root/meshes/spiral_disk.msh#" \
    -e "s#^  end: 40#  end: $end#" \
    -e "s#directory: out/spiral_waves_moving#directory: $work/out_$mover#" \
    cases/spiral_waves_moving.yaml >"$case"
  case $mover in
    fixed) flags=(--fixed-mesh) ;;
    spring) sed -i -e "s#^  kind: monge_ampere#  kind: spring#" -e "/^  fallback: spring/d" "$case" ;;
    learned) sed -i "s#^  kind: monge_ampere#  kind: learned\n  model: $root/out/mover_model\n  polish: 10#" "$case" ;;
  esac
  started=$(date +%s.%N)
  target/release/pde-engine run "$case" "${flags[@]}" --progress-every 60 >"$work/$mover.log" 2>&1
  seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  awk -F, -v mover="$mover" -v seconds="$seconds" -v reference="$reference" '
    NR > 1 {
      t = $1; u = $2
      if (NR > 2 && previous_u < 0.5 && u >= 0.5) {
        crossing = previous_t + (t - previous_t) * (0.5 - previous_u) / (u - previous_u)
        if (crossing > 25) { late[n++] = crossing }
      }
      previous_t = t; previous_u = u
    }
    END {
      if (n < 2) { printf "{\"mover\":\"%s\",\"error\":\"fewer than two crossings after t = 25\"}\n", mover; exit }
      period = (late[n - 1] - late[0]) / (n - 1)
      printf "{\"mover\":\"%s\",\"seconds\":%.1f,\"periods\":%d,\"period\":%.4f,\"period_error\":%.4f}\n",
        mover, seconds, n - 1, period, period - reference
    }' "$work/out_$mover/probes.csv"
done
