"""Speed and memory of the geometry stage (dimension and curvature).

Cases (targets from the geometry issue; one BLAS thread unless stated):

- ``parity_n4000``: parity mode on the unit 2-sphere and the torus (n = 4000), dimension and
  curvature each from scratch (kNN, operator, eigenbasis, estimator), and both from one
  operator and 80-function eigenbasis (``estimate_geometry``). Reference (Jones' code,
  Iolo-Jones/ManifoldDiffusionGeometry at commit 4eae5b2, measured for this project on the same
  2-core VM, one BLAS thread, min of 3): dimension 1.08 s (S^2) / 1.07 s (torus), curvature 0.84 / 0.73 s.
  Target: at least 5x faster.
- ``improved_n4000``: improved mode, same data.
- ``scale_400k``: improved mode, 400,000 points of a torus in R^3 and of the torus placed
  isometrically in R^5 (five coordinates, as Arnold 2025's diffusion maps), two threads. Target:
  dimension and curvature together under 10 minutes and 8 GB.

Results: benchmarks/results/geometry_speed.parquet.

    .venv/bin/python benchmarks/geometry_speed.py [--cases parity_n4000,improved_n4000,scale_400k]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness import append_table, bench_env, child_setup, emit, run_child

HERE = Path(__file__).resolve().parent
CASES = ("parity_n4000", "improved_n4000", "scale_400k")
REFERENCE_SECONDS = {
    ("sphere", "dimension"): 1.08,
    ("torus", "dimension"): 1.07,
    ("sphere", "curvature"): 0.84,
    ("torus", "curvature"): 0.73,
}


def _points(manifold: str, n: int, ambient: int | None = None):
    from repgeo.data.manifolds import draw_manifold

    spec = {"source": "manifold", "manifold": manifold, "n": n, "seed": 0}
    if ambient:
        spec["ambient_dim"] = ambient
    return draw_manifold(spec).x


def _time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def case_n4000(mode: str, manifold: str) -> dict:
    from repgeo.geometry.estimate import estimate_curvature, estimate_dimension, estimate_geometry
    from repgeo.geometry.neighbors import knn_graph

    X = _points(manifold, 4000)
    estimate_dimension(X, mode=mode)  # warm-up (imports, caches)
    out = {
        "seconds_dimension": _time(lambda: estimate_dimension(X, mode=mode), 3),
        "seconds_curvature": _time(lambda: estimate_curvature(X, 2, mode=mode), 3),
    }

    def both() -> None:
        if mode == "parity":  # one operator and eigenbasis for both
            estimate_geometry(X, d=2)
        else:
            g = knn_graph(X, 128)  # the widest list the improved estimators use (k_fit)
            estimate_dimension(X, mode=mode, graph=g)
            estimate_curvature(X, 2, mode=mode, graph=g)

    out["seconds_both_shared"] = _time(both, 3)
    return out


def case_scale(ambient: int) -> dict:
    from repgeo.geometry.estimate import estimate_curvature, estimate_dimension
    from repgeo.geometry.neighbors import knn_graph

    X = _points("torus", 400_000, ambient)
    t0 = time.perf_counter()
    g = knn_graph(X, 128)  # the widest list the improved estimators use (k_fit)
    t1 = time.perf_counter()
    dim = estimate_dimension(X, mode="improved", graph=g)
    t2 = time.perf_counter()
    curv = estimate_curvature(X, 2, mode="improved", graph=g)
    t3 = time.perf_counter()
    return {
        "seconds_knn": t1 - t0,
        "seconds_dimension": t2 - t1,
        "seconds_curvature": t3 - t2,
        "seconds_total": t3 - t0,
        "global_dimension": dim.global_dim,
        "curvature_median": float(sorted(curv.scalar)[len(curv.scalar) // 2]),
    }


def _child(case: str, arg: str, threads: int) -> None:
    child_setup(threads)
    if case == "scale_400k":
        emit(case_scale(int(arg)))
    else:
        emit(case_n4000("parity" if case == "parity_n4000" else "improved", arg))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--out", default=str(HERE / "results" / "geometry_speed.parquet"))
    args = ap.parse_args()
    import pandas as pd

    env, coretype = bench_env()
    rows = []
    for case in args.cases.split(","):
        if case not in CASES:
            raise SystemExit(f"unknown case {case!r}; choose from {CASES}")
        variants = [("3", 2), ("5", 2)] if case == "scale_400k" else [("sphere", 1), ("torus", 1)]
        for arg, threads in variants:
            r = run_child(Path(__file__), [case, arg], threads, env)
            r.update(case=case, data=f"torus in R^{arg}" if case == "scale_400k" else arg)
            if case != "scale_400k":
                for stage in ("dimension", "curvature"):
                    r[f"speedup_{stage}"] = REFERENCE_SECONDS[(arg, stage)] / r[f"seconds_{stage}"]
                r["speedup_both"] = (REFERENCE_SECONDS[(arg, "dimension")] + REFERENCE_SECONDS[(arg, "curvature")]) / r[
                    "seconds_both_shared"
                ]
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
            rows.append(r)
    append_table(pd.DataFrame(rows), Path(args.out), coretype)


if __name__ == "__main__":
    main()
