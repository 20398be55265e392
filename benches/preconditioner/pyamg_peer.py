"""pyamg's smoothed aggregation as CG's preconditioner (the peer of
`pde-engine bench preconditioner`) on the held-out systems of a family from
`pde-engine generate systems`: the same Matrix Market files, the same
tolerance (1e-8, relative to |b|), each solution checked against the stored
Cholesky one. Prints each system's row to stderr, then one JSON line:
median and worst iterations, median seconds (set-up plus solve).
    python pyamg_peer.py DATA_DIR [--split test]
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import pyamg
import scipy.io

parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("--split", default="test")
args = parser.parse_args()
index = json.load(open(os.path.join(args.data, "index.json")))
iterations, seconds = [], []
for entry in index["systems"]:
    if entry["split"] != args.split:
        continue
    folder = os.path.join(args.data, entry["split"], entry["name"])
    a = scipy.io.mmread(os.path.join(folder, "A.mtx")).tocsr()
    b = np.asarray(scipy.io.mmread(os.path.join(folder, "b.mtx"))).ravel()
    x_ref = np.asarray(scipy.io.mmread(os.path.join(folder, "x.mtx"))).ravel()
    start = time.perf_counter()
    ml = pyamg.smoothed_aggregation_solver(a, symmetry="symmetric")
    residuals = []
    x = ml.solve(b, tol=1e-8, accel="cg", maxiter=10000, residuals=residuals)
    seconds.append(time.perf_counter() - start)
    iterations.append(len(residuals) - 1)
    print(f"pyamg {entry['name']}: {a.shape[0]} unknowns, {iterations[-1]} iterations, "
          f"{seconds[-1]:.3f} s", file=sys.stderr, flush=True)
    error = np.abs(x - x_ref).max() / np.abs(x_ref).max()
    if error > 1e-6:
        raise SystemExit(f"{folder}: pyamg's solution differs from Cholesky's by {error:.2e}")
print(json.dumps({
    "pyamg_iterations": statistics.median(iterations),
    "pyamg_worst_iterations": max(iterations),
    "pyamg_seconds": statistics.median(seconds),
}))
