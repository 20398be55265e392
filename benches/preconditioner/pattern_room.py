"""How much room the pattern of tril(A) leaves a factor for CG: on the
held-out systems of a family from `pde-engine generate systems`, the values
of a lower-triangular L on that pattern are optimised directly (no network;
dense algebra, L-BFGS from IC(0) of the Jacobi-scaled matrix) for one or two
objectives, and CG runs with each optimised L Lᵀ next to IC(0)'s:

  kaporin    Kaporin's condition number of S = L⁻¹ A L⁻ᵀ, (tr S / n) / det(S)^(1/n),
             the classical criterion for factorised preconditioners (it bounds
             CG's iterations)
  condition  the spectral condition number λ_max(S) / λ_min(S) (slower)

A learned factor on this pattern (`model.kind: factor` or `ic0_correction`)
chooses among the same L. The objectives are proxies, so this measures the
room, it does not bound it: on a structured grid MIC(0) needs fewer
iterations than the Kaporin-optimal L (docs/learned.md, "How much room the
pattern leaves"). Needs only PyTorch (the wheel scripts/torch.sh installs):

    eval "$(scripts/torch.sh)"
    python3 benches/preconditioner/pattern_room.py out/systems --objectives kaporin

Prints one row per system (contrast at least --min-contrast, at most
--max-unknowns unknowns), then one JSON line with the median ratios to IC(0).
"""
import argparse
import json
import os
import statistics
import sys

import torch

torch.set_default_dtype(torch.float64)


def read_mtx(path):
    """A Matrix Market file: a dense vector (array) or a sparse matrix
    (coordinate, symmetric or general) as a dense tensor."""
    with open(path) as f:
        header = f.readline().lower().split()
        line = f.readline()
        while line.startswith("%"):
            line = f.readline()
        dims = [int(v) for v in line.split()]
        values = [float(v) for v in f.read().split()]
    if header[2] == "array":
        return torch.tensor(values)
    rows, cols = dims[0], dims[1]
    a = torch.zeros(rows, cols)
    entries = torch.tensor(values).view(-1, 3)
    i = entries[:, 0].long() - 1
    j = entries[:, 1].long() - 1
    a[i, j] = entries[:, 2]
    if header[4] == "symmetric":
        a[j, i] = entries[:, 2]
    return a


def ic0(a, lower):
    """IC(0): the incomplete Cholesky factor on the pattern `lower` (dense)."""
    n = a.shape[0]
    l = torch.tril(a).clone()
    rows = [torch.nonzero(lower[i, :i]).flatten().tolist() for i in range(n)]
    for i in range(n):
        for j in rows[i]:
            common = [k for k in rows[j] if lower[i, k]]
            s = l[i, j] - sum(l[i, k] * l[j, k] for k in common)
            l[i, j] = s / l[j, j]
        s = l[i, i] - (l[i, :i][lower[i, :i]] ** 2).sum()
        l[i, i] = torch.sqrt(s)
    return l


def cg(a, b, solve, tol=1e-8, limit=20000):
    """Preconditioned CG from 0 to |r| <= tol |b|; the iterations."""
    x = torch.zeros_like(b)
    r = b.clone()
    z = solve(r)
    p = z.clone()
    rz = r @ z
    stop = tol * b.norm()
    for k in range(1, limit + 1):
        ap = a @ p
        alpha = rz / (p @ ap)
        x += alpha * p
        r -= alpha * ap
        if r.norm() <= stop:
            return k
        z = solve(r)
        rz, previous = r @ z, rz
        p = z + (rz / previous) * p
    return limit


def factor_solve(l):
    def solve(r):
        y = torch.linalg.solve_triangular(l, r[:, None], upper=False)
        return torch.linalg.solve_triangular(l.T, y, upper=True).flatten()

    return solve


def optimise(a, lower, l0, objective, steps):
    """L on the pattern `lower`, from `l0`, minimising `objective`."""
    n = a.shape[0]
    strict = lower & ~torch.eye(n, dtype=torch.bool)
    off = torch.nn.Parameter(l0[strict].clone())
    log_diagonal = torch.nn.Parameter(torch.log(torch.diagonal(l0)).clone())
    chol = torch.linalg.cholesky(a)
    logdet_a = 2 * torch.log(torch.diagonal(chol)).sum()

    def factor():
        l = torch.zeros(n, n)
        l = l.masked_scatter(strict, off)
        return l + torch.diag(torch.exp(log_diagonal))

    def loss():
        l = factor()
        if objective == "kaporin":
            trace = torch.linalg.solve_triangular(l, chol, upper=False).square().sum()
            logdet = logdet_a - 2 * log_diagonal.sum()
            return torch.log(trace / n) - logdet / n
        w = torch.linalg.solve_triangular(l, chol, upper=False)
        eig = torch.linalg.eigvalsh(w @ w.T)
        return torch.log(eig[-1]) - torch.log(eig[0])

    optimizer = torch.optim.LBFGS(
        [off, log_diagonal], lr=1, max_iter=steps, history_size=20,
        line_search_fn="strong_wolfe", tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        optimizer.zero_grad()
        value = loss()
        value.backward()
        return value

    start = loss().item()
    optimizer.step(closure)
    with torch.no_grad():
        return factor(), start, loss().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="a folder from `pde-engine generate systems`")
    parser.add_argument("--split", default="test")
    parser.add_argument("--min-contrast", type=float, default=100.0)
    parser.add_argument("--max-unknowns", type=int, default=3000,
                        help="dense algebra: larger systems are left out")
    parser.add_argument("--steps", type=int, default=200, help="L-BFGS iterations per objective")
    parser.add_argument("--objectives", default="kaporin,condition",
                        help="which to optimise, comma-separated (condition is the slower)")
    args = parser.parse_args()
    index = json.load(open(os.path.join(args.data, "index.json")))
    names = {"kaporin": "Kaporin-optimal its (log K: IC(0) → optimum)",
             "condition": "κ-optimal its (log κ: IC(0) → optimum)"}
    chosen = args.objectives.split(",")
    if not chosen or any(o not in names for o in chosen):
        sys.exit(f"--objectives: choose from {', '.join(names)}")
    ratios = {o: [] for o in chosen}
    print("| system | unknowns | contrast | IC(0) its | " + " | ".join(names[o] for o in chosen)
          + " | best / IC(0) |")
    print("|---|---|---|---|" + "---|" * len(chosen) + "---|")
    for entry in index["systems"]:
        if entry["split"] != args.split or entry.get("contrast", 0) < args.min_contrast:
            continue
        folder = os.path.join(args.data, entry["split"], entry["name"])
        a = read_mtx(os.path.join(folder, "A.mtx"))
        if a.shape[0] > args.max_unknowns:
            continue
        b = read_mtx(os.path.join(folder, "b.mtx"))
        d = torch.diagonal(a).rsqrt()
        a_hat, b_hat = d[:, None] * a * d[None, :], d * b
        lower = torch.tril(a_hat != 0)
        l0 = ic0(a_hat, lower)
        base = cg(a_hat, b_hat, factor_solve(l0))
        cells = []
        for objective in ratios:
            l, start, end = optimise(a_hat, lower, l0, objective, args.steps)
            its = cg(a_hat, b_hat, factor_solve(l))
            ratios[objective].append(its / base)
            cells.append(f"{its} ({start:.3f} → {end:.3f})")
        best = min(r[-1] for r in ratios.values())
        print(f"| {entry['name']} | {a.shape[0]} | {entry.get('contrast', 0):.0f} | {base} | "
              + " | ".join(cells) + f" | {best:.3f} |", flush=True)
    best = [min(r) for r in zip(*ratios.values())]
    if not best:
        sys.exit("no held-out system within --min-contrast and --max-unknowns")
    summary = {"systems": len(best)}
    summary.update({f"{o}_optimal_over_ic0": statistics.median(r) for o, r in ratios.items()})
    summary.update({"best_over_ic0": statistics.median(best), "best_over_ic0_min": min(best)})
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
