"""Power and false-positive rate of the two GAMM engines' tests, by simulation (issue 17, point 5).

Design: :func:`repgeo.stats.synthetic_design` (4 words x 12 tokens x 64 points, token random
intercepts and slopes, AR(1) noise rho = 0.7), a fresh seed per simulation. Word D equals the
reference A (offset and shape): its tests measure the false-positive rate. Word B is A plus a
Gaussian bump of height 0.35 (shape) and an offset of 0.3: its tests measure power. Both engines
fit the same data sets. Tests: the shape difference s(time):wordO<w> (mgcv: Wood 2013 F test;
python: GEE AR(1) cluster-robust Wald chi2) and the level difference wordO<w> (mgcv: t test;
python: GEE z test), at alpha = 0.05.

    .venv/bin/python benchmarks/gamm_calibration.py --sims 40  # -> benchmarks/results/gamm_calibration.{csv,md}

writes <out>.csv (one row per simulation, engine and test) and <out>.md (the rates with their
binomial 95% intervals).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from repgeo.stats import fit_gamm, mgcv_available, synthetic_design

ALPHA = 0.05
CONTRASTS = {"D": "false-positive rate (D = A)", "B": "power (B = A + bump 0.35, offset 0.3)"}


def one(seed: int, engines: list[str]) -> list[dict]:
    data = synthetic_design(seed)
    rows = []
    for engine in engines:
        started = time.perf_counter()
        fit = fit_gamm(data, reference="A", engine=engine)
        seconds = time.perf_counter() - started
        smooth = fit.smooths.set_index("term")["p"]
        parametric = fit.parametric.set_index("term")["p"]
        for word in CONTRASTS:
            rows.append(
                {
                    "seed": seed,
                    "engine": engine,
                    "word": word,
                    "test": "shape",
                    "p": float(smooth[f"s(time):wordO{word}"]),
                    "seconds": seconds,
                }
            )
            rows.append(
                {
                    "seed": seed,
                    "engine": engine,
                    "word": word,
                    "test": "level",
                    "p": float(parametric[f"wordO{word}"]),
                    "seconds": seconds,
                }
            )
    return rows


def summary(results: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (engine, word, test), part in results.groupby(["engine", "word", "test"]):
        hits, n = int((part["p"] < ALPHA).sum()), len(part)
        low, high = stats.binomtest(hits, n).proportion_ci(0.95, method="exact")
        out.append(
            {
                "engine": engine,
                "test": test,
                "contrast": CONTRASTS[word],
                "rejections": hits,
                "simulations": n,
                "rate": hits / n,
                "ci95": f"[{low:.2f}, {high:.2f}]",
                "median_p": part["p"].median(),
            }
        )
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=40)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "gamm_calibration"))
    args = parser.parse_args()
    engines = ["mgcv", "python"] if mgcv_available() else ["python"]
    rows = []
    with threadpool_limits(limits=1):
        for seed in range(args.first_seed, args.first_seed + args.sims):
            rows += one(seed, engines)
            print(f"seed {seed} done", flush=True)
    results = pd.DataFrame(rows)
    results.to_csv(f"{args.out}.csv", index=False, float_format="%.6g")
    table = summary(results)
    header = (
        f"# GAMM test calibration: {args.sims} simulations of the synthetic design "
        f"(seeds {args.first_seed}-{args.first_seed + args.sims - 1}), alpha = {ALPHA}\n\n"
        f"Produced by `benchmarks/gamm_calibration.py --sims {args.sims}`.\n\n"
    )
    Path(f"{args.out}.md").write_text(header + table.to_markdown(index=False, floatfmt=".3f") + "\n")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
