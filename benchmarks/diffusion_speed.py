"""Speed and memory of the diffusion-embedding stage against Arnold's (2025) dense CelebA procedure.

Cases (targets from the workflow-foundation issue, 2-core CPU):

- ``seed`` (the case's name): 2000 images of 178 x 218 greyscale (D = 38,804): Arnold's dense NumPy procedure
  (50-eps sweep + diffusion map, one BLAS thread, ``seed_reference.py``) against repgeo's sweep +
  map in the same run. Target: repgeo under 10 s and >= 20x, with the same coordinates
  (|corr| = 1 per coordinate, celeba convention). Images: the first 2000 CelebA images of
  ../shared/datasets upscaled 2x to Arnold's resolution when present, else random pixels.
- ``n10k``: 10,000 points in D = 784 (a 3-dimensional manifold under random Fourier features),
  k = 10 coordinates. Target under 30 s; top-10 eigenvalues within 1e-6 relative of an
  independent float64 dense eigendecomposition.
- ``n50k``: 50,000 points in D = 784, sparse path. Target under 3 min and 4 GB peak.
- ``celeba_scale``: 202,599 random rows of 64 x 64 x 3 = 12,288 float32 values streamed from a
  memory-mapped file (10 GB): sweep over anchor rows and the sparse map with the neighbour
  search in 128 principal components. Target under 30 min and 8 GB (peak resident memory;
  the file's page cache is reported separately).

Each case runs in its own process (peak memory is per case); the parent samples the child's
resident memory. Results: benchmarks/results/diffusion_speed.parquet (one row per
case x implementation), also printed.

    .venv/bin/python benchmarks/diffusion_speed.py                      # seed, n10k, n50k
    .venv/bin/python benchmarks/diffusion_speed.py --cases celeba_scale
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from harness import append_table, bench_env, child_setup, emit, run_child

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("REPGEO_SHARED", HERE.parent.parent / "shared"))
CASES = ("seed", "n10k", "n50k", "celeba_scale")
DEFAULT_CASES = ("seed", "n10k", "n50k")


# --- data -----------------------------------------------------------------------------------


def manifold_features(n: int, d: int, seed: int = 0):
    """Rows of a 3-dimensional manifold in R^d: random Fourier features of U[0,1]^3, plus noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    z = rng.random((n, 3))
    W = 3.0 * rng.standard_normal((3, d))
    b = rng.uniform(0, 2 * np.pi, d)
    X = np.cos(z @ W + b) * np.sqrt(2.0 / d) + rng.standard_normal((n, d)) * (0.05 / np.sqrt(d))
    return X.astype(np.float32)


def seed_images():
    """2000 x 38,804 greyscale pixel rows (0..255) and where they came from."""
    import numpy as np
    from PIL import Image

    folder = SHARED / "datasets" / "celeba_89x109" / "img_align_celeba"
    if folder.is_dir():
        names = sorted(folder.glob("*.jpg"))[:2000]
        rows = [
            np.asarray(
                Image.open(p).convert("L").resize((178, 218), Image.Resampling.BICUBIC), dtype=np.float32
            ).ravel()
            for p in names
        ]
        return np.stack(rows), "CelebA first 2000, upscaled 2x to 178x218"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(2000, 218 * 178)).astype(np.float32), "random pixels"


def make_memmap(path: Path, n: int, d: int, seed: int = 0) -> None:
    """A float32 .npy file of n x d uniform random values, written block by block."""
    import numpy as np

    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(seed)
    for s in range(0, n, 8192):
        mm[s : s + 8192] = rng.random((min(8192, n - s), d), dtype=np.float32)
    mm.flush()
    del mm


# --- cases (run in a child process) ---------------------------------------------------------


def _repgeo(X, n_components, convention="coifman_lafon", **kw):
    from repgeo.diffusion import diffusion_map, epsilon_sweep

    t0 = time.perf_counter()
    sweep = epsilon_sweep(X, max_rows=kw.pop("max_rows", 20000))
    t1 = time.perf_counter()
    dm = diffusion_map(X, sweep.epsilon, n_components, convention=convention, **kw)
    t2 = time.perf_counter()
    return sweep, dm, t1 - t0, t2 - t1


def case_seed(impl: str) -> dict:
    import numpy as np

    X, source = seed_images()
    out = {"n": X.shape[0], "dimension": X.shape[1], "data": source}
    if impl == "repgeo":
        sweep, dm, ts, tm = _repgeo(X, 5, convention="celeba")
        np.save(os.environ["BENCH_TMP"] + "/seed_repgeo.npy", dm.coordinates)
        out.update(seconds_sweep=ts, seconds_map=tm, epsilon=sweep.epsilon, eigenvalues=dm.eigenvalues[:5].tolist())
    else:
        from seed_reference import diffusion_coords, weight_sums

        eps = json.loads(os.environ["BENCH_EPS"])
        grid = np.logspace(np.log10(eps / 30), np.log10(eps * 30), 50)
        t0 = time.perf_counter()
        weight_sums(X.astype(np.float64), grid)
        t1 = time.perf_counter()
        coords, vals = diffusion_coords(X.astype(np.float64), eps, 5)
        t2 = time.perf_counter()
        ours = np.load(os.environ["BENCH_TMP"] + "/seed_repgeo.npy")
        corr = [abs(np.corrcoef(coords[:, j], ours[:, j])[0, 1]) for j in range(5)]
        out.update(
            seconds_sweep=t1 - t0, seconds_map=t2 - t1, epsilon=eps, eigenvalues=vals.tolist(), min_abs_corr=min(corr)
        )
    return out


def case_n10k(impl: str) -> dict:
    import numpy as np
    import scipy.linalg as la
    from sklearn.metrics.pairwise import euclidean_distances

    X = manifold_features(10000, 784)
    sweep, dm, ts, tm = _repgeo(X, 10)
    out = {
        "n": 10000,
        "dimension": 784,
        "data": "3-d manifold, random Fourier features",
        "seconds_sweep": ts,
        "seconds_map": tm,
    }
    out["method"] = dm.method
    # Independent float64 dense result: sklearn distances, explicit normalisation, LAPACK.
    X64 = X.astype(np.float64)
    K = np.exp(-euclidean_distances(X64, squared=True) / sweep.epsilon)
    d = K.sum(1)
    A = K / np.sqrt(np.outer(d, d))
    ref = la.eigh(A, subset_by_index=[10000 - 11, 10000 - 1], eigvals_only=True)[::-1]
    out["max_rel_err_top10"] = float(np.max(np.abs(dm.eigenvalues[1:11] - ref[1:11]) / ref[1:11]))
    del K, A
    from repgeo.diffusion import diffusion_map

    sp = diffusion_map(X, sweep.epsilon, 10, method="sparse", n_neighbors=64)
    out["sparse_k64_max_rel_err_top10"] = float(np.max(np.abs(sp.eigenvalues[1:11] - ref[1:11]) / ref[1:11]))
    return out


def case_n50k(impl: str) -> dict:
    X = manifold_features(50000, 784)
    sweep, dm, ts, tm = _repgeo(X, 10)
    return {
        "n": 50000,
        "dimension": 784,
        "data": "3-d manifold, random Fourier features",
        "seconds_sweep": ts,
        "seconds_map": tm,
        "method": dm.method,
        "eigenvalues": dm.eigenvalues[:11].tolist(),
    }


def case_celeba_scale(impl: str) -> dict:
    import numpy as np

    path = Path(os.environ["BENCH_TMP"]) / "celeba_scale.npy"
    X = np.load(path, mmap_mode="r")
    sweep, dm, ts, tm = _repgeo(X, 10, method="sparse", n_neighbors=32, pca_components=128, max_rows=2000)
    return {
        "n": X.shape[0],
        "dimension": X.shape[1],
        "data": "uniform random, memory-mapped float32",
        "seconds_sweep": ts,
        "seconds_map": tm,
        "method": dm.method,
        "timings": dm.timings,
    }


# --- driver ---------------------------------------------------------------------------------


def _child(case: str, impl: str, threads: int) -> None:
    child_setup(threads)
    out = globals()[f"case_{case}"](impl)
    # Data loading and verification are not timed: sweep + map only.
    out["seconds_total"] = out["seconds_sweep"] + out["seconds_map"]
    emit(out)


def run_case(case: str, impl: str, threads: int, env: dict) -> dict:
    out = run_child(Path(__file__), [case, impl], threads, env)
    out.update(case=case, implementation=impl)
    return out


TARGETS = {  # case: (seconds, peak MB)
    "seed": (10.0, None),
    "n10k": (30.0, None),
    "n50k": (180.0, 4096),
    "celeba_scale": (1800.0, 8192),
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES), help=f"comma-separated subset of {CASES}")
    ap.add_argument("--threads", type=int, default=2, help="threads for repgeo (the reference runs on one)")
    ap.add_argument("--out", default=str(HERE / "results" / "diffusion_speed.parquet"))
    args = ap.parse_args()
    import pandas as pd

    env, coretype = bench_env()
    rows = []
    with tempfile.TemporaryDirectory(prefix="repgeo-bench-") as tmp:
        env["BENCH_TMP"] = tmp
        for case in args.cases.split(","):
            if case not in CASES:
                raise SystemExit(f"unknown case {case!r}; choose from {CASES}")
            print(f"== {case}", flush=True)
            if case == "celeba_scale":
                t0 = time.perf_counter()
                make_memmap(Path(tmp) / "celeba_scale.npy", 202599, 12288)
                print(f"   wrote the 10 GB input in {time.perf_counter() - t0:.0f} s", flush=True)
            ours = run_case(case, "repgeo", args.threads, env)
            rows.append(ours)
            if case == "seed":
                rows.append(run_case(case, "reference", 1, {**env, "BENCH_EPS": json.dumps(ours["epsilon"])}))
                rows.append(run_case(case, "repgeo", 1, env))
            for r in rows[-3:] if case == "seed" else rows[-1:]:
                print(
                    f"   {r['implementation']:9s} threads={r['threads']} total={r['seconds_total']:.2f}s peak={r['peak_rss_mb']} MB",
                    flush=True,
                )
            if case == "celeba_scale":
                (Path(tmp) / "celeba_scale.npy").unlink()
    df = pd.DataFrame(rows)
    df["target_seconds"] = df["case"].map(lambda c: TARGETS[c][0])
    df["target_peak_mb"] = df["case"].map(lambda c: TARGETS[c][1])
    ref = df[df["implementation"] == "reference"].set_index("case")["seconds_total"]
    df["speedup_vs_reference"] = [
        ref.get(c, float("nan")) / s for c, s in zip(df["case"], df["seconds_total"], strict=True)
    ]
    df["meets_time"] = (df["implementation"] == "reference") | (df["seconds_total"] <= df["target_seconds"])
    df["meets_memory"] = df["target_peak_mb"].isna() | (df["peak_rss_anon_mb"] <= df["target_peak_mb"].fillna(0))
    append_table(df, Path(args.out), coretype)
    cols = [
        c
        for c in (
            "case",
            "implementation",
            "threads",
            "seconds_total",
            "speedup_vs_reference",
            "peak_rss_mb",
            "peak_rss_anon_mb",
            "min_abs_corr",
            "max_rel_err_top10",
            "meets_time",
            "meets_memory",
        )
        if c in df
    ]
    print(df[cols].to_string(index=False))


if __name__ == "__main__":
    main()
