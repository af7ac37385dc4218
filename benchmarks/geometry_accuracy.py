"""Accuracy of the geometry estimators on manifolds with closed-form dimension and curvature.

Both modes (``parity``: Jones' reference algorithm; ``improved``: repgeo's estimator,
lib/repgeo/geometry/improved.py), the test manifolds on which Jones' code was measured for this project and
the geometry issue's targets: unit S^2 and S^3, the torus R = 2, r = 1, the saddle z = x^2 - y^2
on [-1, 1]^2, the flat square [-1, 1]^2 (with and without noise of s.d. 0.05), the Swiss roll;
n = 2000 and 4000 with seeds 0, 1, 2, and S^2 also at n = 8000 and 16000 (seed 0) for the growth
of the bias with n. Curvature assumes the true dimension.

Columns: mode, manifold, n, seed, global_dimension, frac_dim_correct (all points),
frac_dim_correct_unflagged (points not flagged as boundary; improved only), frac_flagged,
curv_mean, curv_true_mean, curv_bias_pct, curv_mae, curv_corr, seconds.

Results: benchmarks/results/geometry_accuracy.parquet (one row per run), and a summary (mean
over seeds) printed as a markdown table for docs/geometry.md.

    .venv/bin/python benchmarks/geometry_accuracy.py [--modes parity,improved] [--quick]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from harness import append_table, bench_env, child_setup

HERE = Path(__file__).resolve().parent
CASES = {
    "sphere2": {"manifold": "sphere"},
    "sphere3": {"manifold": "sphere", "dim": 3},
    "torus": {"manifold": "torus"},
    "saddle": {"manifold": "saddle"},
    "flat_square": {"manifold": "flat_square", "side": 2.0},
    "flat_square_noise0.05": {"manifold": "flat_square", "side": 2.0, "noise": 0.05},
    "swiss_roll": {"manifold": "swiss_roll"},
}


def run_case(mode: str, name: str, n: int, seed: int) -> dict:
    from repgeo.data.manifolds import draw_manifold
    from repgeo.geometry.estimate import estimate_curvature, estimate_dimension
    from repgeo.geometry.neighbors import knn_graph

    draw = draw_manifold({"source": "manifold", "n": n, "seed": seed, **CASES[name]})
    X, truth = draw.x, draw.sample
    t0 = time.perf_counter()
    g = knn_graph(X, 128 if mode == "improved" else 32)
    dim = estimate_dimension(X, mode=mode, graph=g)
    curv = estimate_curvature(X, truth.true_dim, mode=mode, graph=g)
    seconds = time.perf_counter() - t0
    ok = dim.pointwise == truth.true_dim
    flagged = dim.boundary if dim.boundary is not None else np.zeros(n, bool)
    S, St = curv.scalar, truth.scalar_curvature
    return {
        "mode": mode,
        "manifold": name,
        "n": n,
        "seed": seed,
        "global_dimension": dim.global_dim,
        "frac_dim_correct": float(ok.mean()),
        "frac_dim_correct_unflagged": float(ok[~flagged].mean()),
        "frac_flagged": float(flagged.mean()),
        "curv_mean": float(S.mean()),
        "curv_true_mean": float(St.mean()),
        "curv_bias_pct": float(100 * (S.mean() - St.mean()) / abs(St.mean())) if abs(St.mean()) > 0.5 else float("nan"),
        "curv_mae": float(np.abs(S - St).mean()),
        "curv_corr": float(np.corrcoef(S, St)[0, 1]) if St.std() > 0 else float("nan"),
        "seconds": seconds,
    }


def summary(df):
    """Mean over seeds per (manifold, n, mode), in the layout of the table in docs/geometry.md."""
    cols = [
        "global_dimension",
        "frac_dim_correct",
        "frac_dim_correct_unflagged",
        "curv_mean",
        "curv_bias_pct",
        "curv_mae",
        "curv_corr",
    ]
    return df.groupby(["manifold", "n", "mode"], sort=False)[cols].mean().round(4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modes", default="parity,improved")
    ap.add_argument("--quick", action="store_true", help="n = 2000, seed 0 only")
    ap.add_argument("--out", default=str(HERE / "results" / "geometry_accuracy.parquet"))
    args = ap.parse_args()
    import pandas as pd

    _, coretype = bench_env()
    child_setup(1)
    runs = [
        (name, n, seed)
        for name in CASES
        for n in ((2000,) if args.quick else (2000, 4000))
        for seed in ((0,) if args.quick else (0, 1, 2))
    ]
    if not args.quick:
        runs += [("sphere2", 8000, 0), ("sphere2", 16000, 0)]
    rows = []
    for name, n, seed in runs:
        for mode in args.modes.split(","):
            r = run_case(mode, name, n, seed)
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}, flush=True)
            rows.append(r)
    df = pd.DataFrame(rows)
    append_table(df, Path(args.out), coretype)
    print(summary(df).to_markdown())


if __name__ == "__main__":
    main()
