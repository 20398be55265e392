#!/usr/bin/env bash
# Mesh-reading benchmark: pde-engine against meshio on the same ~1.2M-triangle
# MSH 4.1 files (binary and ASCII), in one session on one machine. Prints a
# Markdown table with the ratios (docs/performance.md).
#   benches/mesh_read/run.sh [REPEAT]
set -euo pipefail
cd "$(dirname "$0")/../.."
repeat=${1:-5}
data=bench-data
mkdir -p "$data"
if [ ! -f "$data/tri1m_v41_binary.msh" ]; then
  echo "meshing the benchmark square with gmsh (about a minute)" >&2
  gmsh benches/mesh_read/square.geo -2 -format msh41 -bin -o "$data/tri1m_v41_binary.msh" -v 2
fi
[ -f "$data/tri1m_v41_ascii.msh" ] ||
  gmsh "$data/tri1m_v41_binary.msh" -save -format msh41 -o "$data/tri1m_v41_ascii.msh" -v 2
V=${PDE_BENCH_VENV:-$HOME/.cache/pde-bench/venv}
if ! "$V/bin/python" -c "import meshio" 2>/dev/null; then
  python3 -m venv "$V"
  "$V/bin/pip" install -q meshio==5.3.5 numpy >&2
fi
cargo build --release -q -p pde-engine
echo "| file | cells | pde-engine s | meshio s | speed-up | pde-engine peak / mesh | meshio peak / mesh |"
echo "|---|---|---|---|---|---|---|"
for f in binary ascii; do
  file="$data/tri1m_v41_$f.msh"
  ours=$(target/release/pde-engine bench mesh-read "$file" --repeat "$repeat")
  peer=$("$V/bin/python" benches/mesh_read/meshio_read.py "$file" --repeat "$repeat")
  python3 - "$ours" "$peer" <<'PY'
import json, sys
o, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert o["points"] == p["points"] and o["cells"] == p["cells"], "the two readers disagree"
print(f"| {o['file'].split('/')[-1]} | {o['cells']} | {o['seconds']:.3f} | {p['seconds']:.3f} | "
      f"{p['seconds'] / o['seconds']:.1f}x | {o['peak_over_mesh']:.2f} | {p['peak_over_mesh']:.2f} |")
PY
done
