#!/usr/bin/env bash
# P1 Poisson at N unknowns (default 10^6), one thread: pde-engine against
# NGSolve and scikit-fem (benches/peers/poisson_*.py) in the same session.
# Prints one JSON line per tool, then a Markdown table (docs/performance.md).
#   benches/poisson/run.sh [N] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000000}
threads=${2:-1}
PY=$(benches/peers/setup.sh)
cargo build --release -q -p pde-engine
ours=$(target/release/pde-engine bench poisson --n "$n" --threads "$threads")
ngs=$("$PY" benches/peers/poisson_ngsolve.py --n "$n" --order 1 --threads "$threads" --solvers sparsecholesky,cg_h1amg)
skf=$("$PY" benches/peers/poisson_skfem.py --n "$n" --order 1 --threads "$threads" --solvers cholmod,cg_pyamg_sa)
printf '%s\n%s\n%s\n' "$ours" "$ngs" "$skf"
python3 - "$ours" "$ngs" "$skf" <<'PY'
import json, sys
o, g, s = (json.loads(a) for a in sys.argv[1:])
def solver(d, *names):
    for n in names:
        if n in d["solvers"] and "error" not in d["solvers"][n]:
            r = d["solvers"][n]
            return r.get("t_total", r.get("t_solve")), r.get("iterations", "")
    return float("nan"), ""
rows = [("pde-engine", o, ("cg_amg",), ("cholesky",)),
        ("NGSolve", g, ("cg_h1amg",), ("sparsecholesky",)),
        ("scikit-fem", s, ("cg_pyamg_sa",), ("cholmod",))]
print(f"| tool | unknowns | assembly s | AMG-CG s (its) | Cholesky s | peak MiB |")
print("|---|---|---|---|---|---|")
for name, d, amg, chol in rows:
    ta, it = solver(d, *amg)
    tc, _ = solver(d, *chol)
    print(f"| {name} | {d['ndof']} | {d['t_assemble']:.2f} | {ta:.2f} ({it}) | {tc:.2f} | {d['maxrss_MiB']:.0f} |")
PY
