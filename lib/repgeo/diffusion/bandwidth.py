"""Bandwidth selection from the sum of kernel weights (Coifman, Shkolnisky, Sigworth & Singer 2008).

For a kernel k(a) = exp(-a) of the scaled argument a = |x_i - x_j|^2 / eps (Gaussian) or
|x_i - x_j| / eps (the exponential form of Arnold 2025, section 2.2.1), the curve

    S(eps) = sum_{i, j} exp(-a_ij(eps))        (all ordered pairs, the diagonal included)

rises from S = n (eps -> 0, only self-pairs count) to S = n^2 (eps -> inf, every pair counts).
In between, on data near a d-dimensional manifold, log S grows linearly in log eps with slope
about d/2 (Gaussian) -- the "linear section" from which Arnold (2025) picks eps by eye.

One pass over distance blocks serves every eps: the pass builds a fine log-histogram of the
kernel argument (512 bins per octave of |x-y|^2, with the count and the sum of the argument in
each bin), and S(eps) and its log-log slope are then evaluated from the histogram for any eps.
Using each bin's mean argument makes the error second order in the bin width: the relative error
of S is below 1e-4 (tested against the direct sum).

Rules that pick eps from the curve (all grid-free: they use the histogram's continuous S):

- ``half_plateau`` (default): the eps at which log S is halfway between its plateaus log n and
  2 log n, i.e. the unique root of S(eps) = n^(3/2). On Arnold's first 2000 CelebA images (at
  half resolution) this lands within 11 % of his by-eye choice scaled to that resolution (E. Arnold,
  Durham 2025, Figure 3.1; see docs/paper-settings.md and docs/diffusion.md).
- ``max_slope``: the eps of the steepest point of log S against log eps; twice that slope is a
  dimension estimate (Gaussian kernel). It lands about 2x below the by-eye choice on CelebA.
- ``linear_centre``: the geometric centre of the interval around the steepest point where the
  slope is at least half its maximum.

With more points than ``max_rows`` the pass uses ``max_rows`` seeded anchor rows against all
points and scales by n / max_rows, an unbiased estimate of S (its error is measured in
``benchmarks/``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq, minimize_scalar

from .distances import BLOCK, Centred, Engine, block_rows

logger = logging.getLogger("repgeo")

KERNELS = ("gaussian", "exponential")
RULES = ("half_plateau", "max_slope", "linear_centre")

# float32 bit pattern >> 14 keeps the 8 exponent bits and the top 9 mantissa bits: 512 bins per
# octave of |x-y|^2, bin index monotone in the value, bin 0 holding exact zeros.
_SHIFT = 14
_NBINS = 1 << (31 - _SHIFT)


@dataclass
class DistanceHistogram:
    """Counts and argument sums of all pairwise kernel arguments, binned finely in log scale.

    ``argument`` is |x-y|^2 for the Gaussian kernel and |x-y| for the exponential one.
    ``weight`` scales counts to all n^2 ordered pairs (n / anchor rows; 1 for the exact pass).
    """

    n: int
    kernel: str
    counts: np.ndarray
    sums: np.ndarray
    weight: float = 1.0
    anchors: int | None = None

    @property
    def means(self) -> np.ndarray:
        return self.sums / self.counts

    @property
    def positive_range(self) -> tuple[float, float]:
        """Smallest and largest positive kernel argument (bin means)."""
        m = self.means
        pos = m[m > 0]
        return float(pos.min()), float(pos.max())

    def weight_sum(self, eps) -> np.ndarray:
        """S(eps) for an array of eps."""
        eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
        e = np.exp(-self.means[None, :] / eps[:, None])
        return self.weight * (e @ self.counts)

    def log_slope(self, eps) -> np.ndarray:
        """d log S / d log eps, exactly: sum c a/eps e^{-a/eps} / sum c e^{-a/eps}."""
        eps = np.atleast_1d(np.asarray(eps, dtype=np.float64))
        a = self.means[None, :] / eps[:, None]
        e = np.exp(-a) * self.counts
        return (a * e).sum(1) / e.sum(1)


def distance_histogram(
    X,
    kernel: str = "gaussian",
    max_rows: int = 20000,
    seed: int = 0,
    device: str = "cpu",
) -> DistanceHistogram:
    """One pass over distance blocks: the histogram from which S(eps) is evaluated for every eps.

    With n <= ``max_rows`` every unordered pair is visited once (upper-triangular tiles); above,
    ``max_rows`` seeded anchor rows are compared with all n points.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    C = Centred.of(X)
    n = C.n
    if n < 2:
        raise ValueError(f"the bandwidth sweep needs at least 2 points, got {n}")
    eng = Engine(device)
    counts = np.zeros(_NBINS, dtype=np.float64)
    sums = np.zeros(_NBINS, dtype=np.float64)
    step = block_rows(C.d)

    def add(tile, mult: float) -> None:
        c, s = _bin(eng, tile, kernel)
        counts[: len(c)] += mult * c
        sums[: len(s)] += mult * s

    if n <= max_rows:
        # Every unordered pair once: off-diagonal tiles count for both orders. The centred
        # float32 rows are kept in memory when they fit in 1 GB (re-read per tile otherwise).
        resident = 4 * n * C.d <= 2**30
        step = min(n, BLOCK) if resident else step
        blocks = [(s, min(n, s + step)) for s in range(0, n, step)]
        Z = eng.put(np.concatenate([b for _, _, b in C.blocks()])) if resident else None
        Z2 = eng.sqnorm(Z) if resident else None

        def rows(s: int, e: int):
            if resident:
                return Z[s:e], Z2[s:e]
            b = eng.put(C.rows(s, e))
            return b, eng.sqnorm(b)

        total = len(blocks) * (len(blocks) + 1) // 2
        done, next_log = 0, 0.1
        for bi, (s, e) in enumerate(blocks):
            a, a2 = rows(s, e)
            for bj in range(bi, len(blocks)):
                b, b2 = (a, a2) if bj == bi else rows(*blocks[bj])
                tile = eng.sqdist(a, b, a2, b2)
                if bj == bi:
                    eng.set_diagonal(tile, 0, 0.0)
                add(tile, 1.0 if bj == bi else 2.0)
                done += 1
                if done / total >= next_log:
                    logger.info("bandwidth sweep: %d/%d distance tiles (%.0f%%)", done, total, 100 * done / total)
                    next_log = math.floor(10 * done / total) / 10 + 0.1
        hist = DistanceHistogram(n, kernel, counts, sums)
    else:
        rng = np.random.default_rng([seed, 0xA2C])
        anchor = np.sort(rng.choice(n, size=max_rows, replace=False))
        A = eng.put(C.take(anchor))
        A2 = eng.sqnorm(A)
        # Data blocks outside, anchors inside: the data (possibly on disk) is read once.
        a_step = max(16, (128 * 2**20) // (4 * step))
        next_log = 0.1
        for s, e, b in C.blocks(step):
            b = eng.put(b)
            b2 = eng.sqnorm(b)
            for s0 in range(0, max_rows, a_step):
                tile = eng.sqdist(A[s0 : s0 + a_step], b, A2[s0 : s0 + a_step], b2)
                # The anchors' self-pairs are exact zeros.
                sel = anchor[s0 : s0 + a_step]
                hit = np.nonzero((sel >= s) & (sel < e))[0]
                if len(hit):
                    eng.set_pairs(tile, hit, sel[hit] - s, 0.0)
                add(tile, 1.0)
            if e / n >= next_log or e == n:
                logger.info(
                    "bandwidth sweep: %d/%d points against %d anchor rows (%.0f%%)", e, n, max_rows, 100 * e / n
                )
                next_log = math.floor(10 * e / n) / 10 + 0.1
        hist = DistanceHistogram(n, kernel, counts, sums, weight=n / max_rows, anchors=max_rows)
    keep = counts > 0
    hist.counts, hist.sums = counts[keep], sums[keep]
    return hist


def _bin(eng: Engine, tile, kernel: str) -> tuple[np.ndarray, np.ndarray]:
    """Counts and argument sums of one tile of squared distances, per log bin."""
    if eng.torch:
        t = eng._t
        flat = tile.reshape(-1).float()
        idx = flat.view(t.int32) >> _SHIFT
        arg = flat.double() if kernel == "gaussian" else flat.double().sqrt()
        c = t.bincount(idx, minlength=1).double()
        s = t.bincount(idx, weights=arg, minlength=1)
        return eng.get(c), eng.get(s)
    flat = np.ascontiguousarray(tile, dtype=np.float32).reshape(-1)
    idx = flat.view(np.int32) >> _SHIFT
    arg = flat if kernel == "gaussian" else np.sqrt(flat)
    return np.bincount(idx).astype(np.float64), np.bincount(idx, weights=arg)


def select_epsilon(hist: DistanceHistogram, rule: str = "half_plateau") -> float:
    """Pick eps from the weight-sum curve by ``rule`` (see the module docstring)."""
    if rule not in RULES:
        raise ValueError(f"epsilon_rule must be one of {RULES}, got {rule!r}")
    lo, hi = hist.positive_range
    llo, lhi = math.log(lo) - math.log(1e3), math.log(hi) + math.log(1e3)
    if rule == "half_plateau":
        target = 1.5 * math.log(hist.n)

        def f(le: float) -> float:
            return float(np.log(hist.weight_sum(math.exp(le))[0]) - target)

        if f(llo) >= 0 or f(lhi) <= 0:
            raise ValueError(
                "the weight-sum curve does not cross n^1.5: the data has too many duplicate "
                "points for the half_plateau rule; set epsilon to a number"
            )
        return math.exp(brentq(f, llo, lhi, xtol=1e-12, rtol=1e-12))
    grid = np.linspace(llo, lhi, 4000)
    slope = hist.log_slope(np.exp(grid))
    j = int(np.argmax(slope))
    res = minimize_scalar(
        lambda le: -float(hist.log_slope(math.exp(le))[0]),
        bounds=(grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]),
        method="bounded",
        options={"xatol": 1e-10},
    )
    le_max, s_max = float(res.x), -float(res.fun)
    if rule == "max_slope":
        return math.exp(le_max)
    half = 0.5 * s_max
    g = lambda le: float(hist.log_slope(math.exp(le))[0]) - half  # noqa: E731
    left = grid[: j + 1][slope[: j + 1] < half]
    right = grid[j:][slope[j:] < half]
    le_lo = brentq(g, left[-1], le_max) if len(left) else llo
    le_hi = brentq(g, le_max, right[0]) if len(right) else lhi
    return math.exp(0.5 * (le_lo + le_hi))


@dataclass
class EpsilonSweep:
    """The tabulated weight-sum curve and the eps picked from it.

    ``table`` has one row per evaluated eps: ``epsilon``, ``weight_sum``, ``log_slope``,
    ``kind`` ("grid", a rule name, or "configured") and ``chosen`` (exactly one True row).
    """

    table: pd.DataFrame
    epsilon: float
    rule: str
    picks: dict[str, float] = field(default_factory=dict)
    n: int = 0
    anchors: int | None = None

    @property
    def max_slope(self) -> float:
        return float(self.table["log_slope"].max())


def epsilon_sweep(
    X,
    kernel: str = "gaussian",
    epsilon: float | str = "auto",
    rule: str = "half_plateau",
    n_epsilons: int = 50,
    max_rows: int = 20000,
    seed: int = 0,
    device: str = "cpu",
    hist: DistanceHistogram | None = None,
) -> EpsilonSweep:
    """Sweep S(eps) over ``n_epsilons`` log-spaced values and pick eps.

    The grid spans [a_min / 10, a_max * 10] with a_min, a_max the smallest and largest positive
    kernel argument (as the reference fixtures define it). The picks of every rule are added as
    rows of their own; ``epsilon`` = "auto" chooses the one named by ``rule``, a number is used
    as given (and added as a "configured" row).
    """
    hist = hist or distance_histogram(X, kernel, max_rows=max_rows, seed=seed, device=device)
    lo, hi = hist.positive_range
    grid = np.logspace(math.log10(lo / 10), math.log10(hi * 10), int(n_epsilons))
    picks = {r: select_epsilon(hist, r) for r in RULES}
    if epsilon == "auto":
        chosen, kind = picks[rule], rule
    else:
        chosen, kind = float(epsilon), "configured"
        if not chosen > 0:
            raise ValueError(f"epsilon must be 'auto' or a positive number, got {epsilon!r}")
    eps = np.concatenate([grid, list(picks.values()), [chosen] if kind == "configured" else []])
    kinds = ["grid"] * len(grid) + list(picks) + (["configured"] if kind == "configured" else [])
    table = pd.DataFrame(
        {
            "epsilon": eps,
            "weight_sum": hist.weight_sum(eps),
            "log_slope": hist.log_slope(eps),
            "kind": kinds,
            "chosen": [k == kind for k in kinds],
        }
    ).sort_values("epsilon", kind="stable", ignore_index=True)
    logger.info(
        "bandwidth: %s eps = %.6g (%s); picks %s",
        kernel,
        chosen,
        kind,
        ", ".join(f"{r}={v:.4g}" for r, v in picks.items()),
    )
    return EpsilonSweep(table, chosen, kind, picks, n=hist.n, anchors=hist.anchors)
