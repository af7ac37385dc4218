"""Speed and accuracy of diffusion spectral entropy (DSE) against a dense baseline of the reference's recipe.

Cases (targets from the entropy issue, 2-core CPU, every implementation in the same run):

- ``dse_n10k``: compatible-mode DSE (sigma = 10, t = 1) of n = 10,000 points in D = 2048, this
  project's timing data (uniform on 50 intrinsic dimensions, the other coordinates one shared
  constant, plus 1 % uniform noise; ``repgeo.data.dse_toy``). Implementations:
  ``baseline`` -- a dense float64 pipeline following the recipe of the authors' ``dse-dsmi`` 1.1
  (``dse_dsmi/diffusion.py``, ``dse_dsmi/dse.py``; :func:`repgeo.entropy.toys.reference_recipe_dse`:
  sklearn pairwise distances, squared again, Gaussian with its prefactor, the degree scaling as two products
  with diagonal matrices, the symmetry check, ``numpy.linalg.eigvalsh``, the entropy with
  epsilon added);
  ``float64`` and ``float32`` -- :func:`repgeo.entropy.diffusion_spectral_entropy`. Targets:
  float64 >= 2x faster than the baseline, float32 >= 3x with |error| < 1e-4 bits.
- ``slq_n10k``: the sparse SLQ path on n = 10,000 points of a 2-D manifold in D = 64 whose
  neighbour spacing is at the scale of sigma = 10 (so the kernel is local), against the exact
  dense DSE (float64) of the same data. Target |error| < 0.02 bits.
- ``slq_n100k``: the SLQ path at n = 100,000 of the same kind of data in D = 2048. Target under
  5 minutes.

Each case and implementation runs in its own process (peak memory per process, sampled by the
parent); ``seconds`` is wall time of the entropy computation only (data generation excluded),
``cpu_seconds`` the process CPU time over the same span. Results:
benchmarks/results/entropy_speed.parquet (one row per case x implementation), also printed.

    .venv/bin/python benchmarks/entropy_speed.py [--cases dse_n10k,slq_n10k,slq_n100k] [--threads 2]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from harness import append_table, bench_env, child_setup, emit, run_child

HERE = Path(__file__).resolve().parent
CASES = {  # case: implementations
    "dse_n10k": ("baseline", "float64", "float32"),
    "slq_n10k": ("slq",),
    "slq_n100k": ("slq",),
}


# --- data -----------------------------------------------------------------------------------


def toy_cube(n: int, seed: int = 0):
    """The timing data: uniform, d = 50 in D = 2048, 1 % noise (as :func:`repgeo.entropy.toys.runtime_data`)."""
    import numpy as np

    from repgeo.data.dse_toy import add_uniform_noise, subspace_data

    rng = np.random.default_rng(seed)
    return add_uniform_noise(subspace_data(n, 50, 2048, "uniform", rng), 0.01, rng)


def local_plane(n: int, dim: int, seed: int = 0):
    """A noisy 2-D square in R^dim, scaled so that 64 neighbours lie within ~4 sigma (sigma = 10).

    The noise (squared norm ~16 whatever dim) keeps the geometry the same in every dimension.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    side = 40.0 * math.sqrt(math.pi * n / 64)
    basis = np.linalg.qr(rng.standard_normal((dim, 2)))[0]
    return (rng.uniform(0.0, side, (n, 2)) @ basis.T + 4.0 / math.sqrt(dim) * rng.standard_normal((n, dim))).astype(
        np.float32
    )


# --- implementations --------------------------------------------------------------------------


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - t0, time.process_time() - c0


def case_dse_n10k(impl: str) -> dict:
    from repgeo.entropy import diffusion_spectral_entropy
    from repgeo.entropy.toys import reference_recipe_dse

    Z = toy_cube(10_000)
    if impl == "baseline":
        value, sec, cpu = _timed(lambda: reference_recipe_dse(Z))
    else:
        value, sec, cpu = _timed(lambda: diffusion_spectral_entropy(Z, dtype=impl))
    return {"n": len(Z), "dimension": Z.shape[1], "dse": value, "seconds": sec, "cpu_seconds": cpu}


def _slq_case(n: int, dim: int, exact: bool) -> dict:
    from repgeo.entropy import diffusion_spectral_entropy, slq_diffusion_spectral_entropy

    Z = local_plane(n, dim)
    est, sec, cpu = _timed(lambda: slq_diffusion_spectral_entropy(Z))
    out = {
        "n": n,
        "dimension": dim,
        "dse": est.value,
        "slq_stderr": est.stderr,
        "captured_mass": est.captured_mass,
        "seconds": sec,
        "cpu_seconds": cpu,
    }
    if exact:
        ref, sec_ref, _ = _timed(lambda: diffusion_spectral_entropy(Z, max_n=None, method="exact"))
        out.update(exact_dse=ref, error_vs_exact=est.value - ref, seconds_exact=sec_ref)
    return out


def case_slq_n10k(impl: str) -> dict:
    return _slq_case(10_000, 64, exact=True)


def case_slq_n100k(impl: str) -> dict:
    return _slq_case(100_000, 2048, exact=False)


# --- driver ---------------------------------------------------------------------------------


def _child(case: str, impl: str, threads: int) -> None:
    child_setup(threads)
    emit(globals()[f"case_{case}"](impl))


TARGETS = {  # (case, implementation): (seconds, speed-up over the baseline, |error| in bits)
    ("dse_n10k", "float64"): (None, 2.0, 1e-9),
    ("dse_n10k", "float32"): (None, 3.0, 1e-4),
    ("slq_n10k", "slq"): (None, None, 0.02),
    ("slq_n100k", "slq"): (300.0, None, None),
}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {tuple(CASES)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "entropy_speed.parquet"))
    args = ap.parse_args()
    import pandas as pd

    env, coretype = bench_env()
    rows = []
    for case in args.cases.split(","):
        if case not in CASES:
            raise SystemExit(f"unknown case {case!r}; choose from {tuple(CASES)}")
        for impl in CASES[case]:
            print(f"== {case} {impl}", flush=True)
            r = run_child(Path(__file__), [case, impl], args.threads, env)
            r.update(case=case, implementation=impl)
            print(f"   {r['seconds']:.1f} s, DSE {r['dse']:.6f}, peak {r['peak_rss_anon_mb']} MB", flush=True)
            rows.append(r)
    df = pd.DataFrame(rows)
    base = df[df["implementation"] == "baseline"].set_index("case")
    if len(base):
        df["speedup_vs_baseline"] = [
            base["seconds"].get(c, math.nan) / s for c, s in zip(df["case"], df["seconds"], strict=True)
        ]
        df["error_vs_baseline"] = [d - base["dse"].get(c, math.nan) for c, d in zip(df["case"], df["dse"], strict=True)]
    err = df["error_vs_baseline"] if "error_vs_baseline" in df else pd.Series(math.nan, index=df.index)
    if "error_vs_exact" in df:
        err = err.fillna(df["error_vs_exact"])
    meets = []
    for (case, impl), sec, e, sp in zip(
        df[["case", "implementation"]].itertuples(index=False),
        df["seconds"],
        err,
        df.get("speedup_vs_baseline", pd.Series(math.nan, index=df.index)),
        strict=True,
    ):
        target = TARGETS.get((case, impl))
        if target is None:
            meets.append(None)
            continue
        t_sec, t_speed, t_err = target
        meets.append(
            bool(
                (t_sec is None or sec <= t_sec)
                and (t_speed is None or sp >= t_speed)
                and (t_err is None or abs(e) <= t_err)
            )
        )
    df["meets_target"] = meets
    append_table(df, Path(args.out), coretype)
    cols = [
        c
        for c in (
            "case",
            "implementation",
            "n",
            "dimension",
            "seconds",
            "cpu_seconds",
            "speedup_vs_baseline",
            "dse",
            "error_vs_baseline",
            "error_vs_exact",
            "slq_stderr",
            "captured_mass",
            "peak_rss_anon_mb",
            "meets_target",
        )
        if c in df
    ]
    print(df[cols].to_string(index=False))


if __name__ == "__main__":
    main()
