#!/usr/bin/env python3
"""Peer side of the mesh-reading benchmark: meshio reads a .msh file.

Prints one JSON line like `pde-engine bench mesh-read`: best time over
1 + REPEAT reads, the mesh's own size (its numpy arrays), and the peak
resident memory above the baseline after imports.
"""
import argparse
import json
import resource
import time

import meshio
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("file")
ap.add_argument("--repeat", type=int, default=3)
args = ap.parse_args()


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


baseline = rss_bytes()
times = []
t = time.perf_counter()
m = meshio.read(args.file)
times.append(time.perf_counter() - t)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
mesh_bytes = m.points.nbytes + sum(c.data.nbytes for c in m.cells)
mesh_bytes += sum(a.nbytes for arrays in m.cell_data.values() for a in arrays)
points, cells = len(m.points), sum(len(c.data) for c in m.cells)
del m
for _ in range(args.repeat):
    t = time.perf_counter()
    m = meshio.read(args.file)
    times.append(time.perf_counter() - t)
    del m
print(json.dumps({
    "tool": f"meshio {meshio.__version__} (numpy {np.__version__})",
    "file": args.file, "points": points, "cells": cells,
    "seconds": min(times), "seconds_all": times, "mesh_bytes": mesh_bytes,
    "peak_rss_bytes": peak, "baseline_rss_bytes": baseline,
    "peak_over_mesh": (peak - baseline) / mesh_bytes,
}))
