"""Curvature regions and curvature against attributes.

Arnold 2025 (the CelebA study, section 3.4) reads "hyperbolic and elliptic regions" off a colour
map; this module makes that a test:

- :func:`sign_regions`: connected regions of one curvature sign on the embedding -- the
  components of the kNN graph (on the embedding coordinates) restricted to edges between points
  of the same sign -- with their size, mean curvature and a bootstrap confidence interval of it;
- :func:`attribute_tests`: for every binary attribute, whether curvature differs between points
  with and without it: the two-sided Mann-Whitney U test, Benjamini-Hochberg false discovery
  rate across attributes, the rank-biserial correlation as effect size, and a bootstrap
  confidence interval of the difference in mean curvature;
- :func:`region_enrichment`: how common each attribute is in each region against overall;
- :func:`attribute_columns` picks the attributes of a table, :func:`significant_attributes` those
  whose Benjamini-Hochberg q value is below :data:`SIGNIFICANCE_LEVEL`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.csgraph import connected_components

from .neighbors import knn_graph

#: False discovery rate at which :func:`significant_attributes` calls an attribute's curvature
#: difference significant (Benjamini & Hochberg 1995, the q values of :func:`attribute_tests`).
SIGNIFICANCE_LEVEL = 0.05
#: Boolean columns of a geometry run's pointwise table that are not attributes of the data.
NOT_ATTRIBUTES = ("boundary", "interior")


def bootstrap_mean_ci(x: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng([seed, 0xB007])
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def sign_regions(
    coords: np.ndarray, curvature: np.ndarray, k: int = 10, min_size: int = 20, n_boot: int = 2000, seed: int = 0
) -> tuple[np.ndarray, pd.DataFrame]:
    """Label connected same-sign regions of the curvature field on the embedding.

    Returns per-point labels (-1 for points in regions smaller than ``min_size``) and a table
    with one row per region: ``region``, ``sign`` (+1/-1), ``size``, ``mean_curvature``,
    ``ci_low``, ``ci_high`` (bootstrap, 95 %), ``median_curvature``.
    """
    curvature = np.asarray(curvature, dtype=np.float64)
    n = len(curvature)
    g = knn_graph(np.asarray(coords, dtype=np.float64), min(k + 1, n))
    sign = np.where(curvature >= 0, 1, -1)
    rows = np.repeat(np.arange(n), g.k)
    cols = g.indices.ravel()
    same = sign[rows] == sign[cols]
    A = sp.csr_matrix((np.ones(int(same.sum())), (rows[same], cols[same])), shape=(n, n))
    _, comp = connected_components(A, directed=False)
    labels = np.full(n, -1)
    records = []
    sizes = np.bincount(comp)
    for region, c in enumerate(sorted(np.flatnonzero(sizes >= min_size), key=lambda c: -sizes[c])):
        members = comp == c
        labels[members] = region
        vals = curvature[members]
        lo, hi = bootstrap_mean_ci(vals, n_boot, seed=seed + region)
        records.append(
            {
                "region": region,
                "sign": int(sign[members][0]),
                "size": int(members.sum()),
                "mean_curvature": float(vals.mean()),
                "ci_low": lo,
                "ci_high": hi,
                "median_curvature": float(np.median(vals)),
            }
        )
    cols_ = ["region", "sign", "size", "mean_curvature", "ci_low", "ci_high", "median_curvature"]
    return labels, pd.DataFrame(records, columns=cols_)


def attribute_tests(curvature: np.ndarray, attributes: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per binary attribute: does curvature differ between points with and without it?

    Columns: ``attribute``, ``n_true``, ``n_false``, ``median_true``, ``median_false``,
    ``mean_difference`` (true - false) with bootstrap ``ci_low``/``ci_high``, ``u_statistic``,
    ``p_value`` (two-sided Mann-Whitney), ``q_value`` (Benjamini-Hochberg over the tested
    attributes), ``rank_biserial`` (2 U / (n1 n0) - 1: +1 when every point with the attribute
    is more curved than every point without). Attributes with fewer than 2 points on a side are
    left out.
    """
    S = np.asarray(curvature, dtype=np.float64)
    rng = np.random.default_rng([seed, 0xA77])
    rows = []
    for name in attributes.columns:
        mask = attributes[name].to_numpy().astype(bool)
        a, b = S[mask], S[~mask]
        if len(a) < 2 or len(b) < 2:
            continue
        u, p = stats.mannwhitneyu(a, b, alternative="two-sided")
        diffs = a[rng.integers(0, len(a), size=(n_boot, len(a)))].mean(axis=1) - b[
            rng.integers(0, len(b), size=(n_boot, len(b)))
        ].mean(axis=1)
        rows.append(
            {
                "attribute": name,
                "n_true": len(a),
                "n_false": len(b),
                "median_true": float(np.median(a)),
                "median_false": float(np.median(b)),
                "mean_difference": float(a.mean() - b.mean()),
                "ci_low": float(np.quantile(diffs, 0.025)),
                "ci_high": float(np.quantile(diffs, 0.975)),
                "u_statistic": float(u),
                "p_value": float(p),
                "rank_biserial": float(2.0 * u / (len(a) * len(b)) - 1.0),
            }
        )
    table = pd.DataFrame(rows)
    if len(table):
        table["q_value"] = stats.false_discovery_control(table["p_value"].to_numpy(), method="bh")
    return table


def region_enrichment(labels: np.ndarray, attributes: pd.DataFrame) -> pd.DataFrame:
    """Share of points with each attribute per region, and against all points (ratio)."""
    rows = []
    overall = attributes.astype(float).mean()
    for region in sorted(set(labels) - {-1}):
        sub = attributes[labels == region].astype(float).mean()
        for name in attributes.columns:
            rows.append(
                {
                    "region": int(region),
                    "attribute": name,
                    "share": float(sub[name]),
                    "share_overall": float(overall[name]),
                    "ratio": float(sub[name] / overall[name]) if overall[name] > 0 else float("nan"),
                }
            )
    return pd.DataFrame(rows, columns=["region", "attribute", "share", "share_overall", "ratio"])


def attribute_columns(samples: pd.DataFrame, setting: str | Sequence[str] | None) -> list[str]:
    """The attribute columns of ``samples`` to test: those listed in ``setting``, or for
    ``"boolean"`` every boolean column but :data:`NOT_ATTRIBUTES`; none for None or False.
    A listed column that ``samples`` lacks is a :class:`repgeo.data.DataError`."""
    from ..data import DataError

    if setting in (None, False):
        return []
    if setting == "boolean":
        return [c for c in samples.columns if pd.api.types.is_bool_dtype(samples[c]) and c not in NOT_ATTRIBUTES]
    missing = [c for c in setting if c not in samples.columns]
    if missing:
        raise DataError(f"attributes {missing} are not columns of the samples; available: {', '.join(samples.columns)}")
    return list(setting)


def significant_attributes(tests: pd.DataFrame, level: float = SIGNIFICANCE_LEVEL) -> pd.DataFrame:
    """The rows of :func:`attribute_tests`'s table whose q value (Benjamini-Hochberg false
    discovery rate) is below ``level``."""
    return tests[tests["q_value"] < level]
