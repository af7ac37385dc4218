"""Baselines, null controls and curvature-against-attribute statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from repgeo.data import load_dataset
from repgeo.geometry.baselines import dimension_baselines, gaussian_null, quadratic_fit_curvature, shuffled_null
from repgeo.geometry.regions import attribute_tests, bootstrap_mean_ci, region_enrichment, sign_regions


def _manifold(name, n=2000, **kw):
    ds = load_dataset({"source": "manifold", "manifold": name, "n": n, **kw})
    return ds.arrays.astype(np.float64), ds.samples


def test_quadratic_fit_curvature_on_known_surfaces():
    x, s = _manifold("sphere", radius=2.0)
    S = quadratic_fit_curvature(x, 2)
    assert np.mean(S) == pytest.approx(0.5, rel=0.05)
    x, s = _manifold("torus")
    S = quadratic_fit_curvature(x, 2)
    assert np.corrcoef(S, s["true_scalar_curvature"])[0, 1] > 0.98
    assert np.mean(np.abs(S - s["true_scalar_curvature"])) < 0.15
    x, _ = _manifold("flat_square")
    assert np.max(np.abs(quadratic_fit_curvature(x, 2))) < 1e-8
    x, _ = _manifold("sphere", dim=3)
    assert np.median(quadratic_fit_curvature(x, 3)) == pytest.approx(6.0, rel=0.15)


def test_dimension_baselines_find_the_dimension():
    x, _ = _manifold("sphere", dim=3)
    b = dimension_baselines(x)
    assert b.twonn == pytest.approx(3.0, abs=0.3) and b.mle == pytest.approx(3.0, abs=0.3)
    assert np.mean(np.round(b.lpca_pointwise) == 3) > 0.95
    assert np.median(b.mle_pointwise) == pytest.approx(3.0, abs=0.4)


def test_null_controls_keep_moments_or_marginals():
    x, _ = _manifold("torus")
    g = gaussian_null(x, seed=1)
    np.testing.assert_allclose(np.cov(g, rowvar=False), np.cov(x, rowvar=False), atol=0.1)
    sh = shuffled_null(x, seed=1)
    np.testing.assert_array_equal(np.sort(sh, axis=0), np.sort(x, axis=0))
    assert not np.array_equal(sh, x)
    # Shuffling destroys the joint structure: the points leave the torus.
    R, r = 2.0, 1.0
    dist = np.hypot(np.hypot(sh[:, 0], sh[:, 1]) - R, sh[:, 2])
    assert np.mean(np.abs(dist - r) > 0.1) > 0.5


def test_attribute_tests_against_scipy_and_known_effects():
    rng = np.random.default_rng(0)
    n = 400
    attrs = pd.DataFrame(
        {"A": rng.random(n) < 0.5, "B": rng.random(n) < 0.3, "rare": np.r_[True, np.zeros(n - 1, bool)]}
    )
    S = rng.normal(size=n) + 1.5 * attrs["A"].to_numpy()
    t = attribute_tests(S, attrs).set_index("attribute")
    assert "rare" not in t.index  # one point on a side: left out
    a, b = S[attrs["A"]], S[~attrs["A"]]
    u, p = stats.mannwhitneyu(a, b, alternative="two-sided")
    assert t.loc["A", "u_statistic"] == u and t.loc["A", "p_value"] == p
    assert t.loc["A", "rank_biserial"] == pytest.approx(2 * u / (len(a) * len(b)) - 1)
    assert t.loc["A", "q_value"] < 1e-10 and t.loc["B", "q_value"] > 0.01
    assert t.loc["A", "ci_low"] < 1.5 < t.loc["A", "ci_high"]
    # Perfect separation gives rank-biserial 1.
    t2 = attribute_tests(
        np.r_[np.ones(10), np.zeros(10)], pd.DataFrame({"x": np.r_[np.ones(10, bool), np.zeros(10, bool)]})
    )
    assert t2["rank_biserial"].item() == 1.0


def test_sign_regions_find_separated_regions():
    rng = np.random.default_rng(1)
    coords = np.r_[rng.normal(size=(150, 3)), rng.normal(size=(100, 3)) + 10]
    S = np.r_[rng.uniform(0.5, 1.5, 150), rng.uniform(-2, -1, 100)]
    labels, table = sign_regions(coords, S, k=8)
    assert table["size"].tolist() == [150, 100] and table["sign"].tolist() == [1, -1]
    assert table.loc[0, "ci_low"] < 1.0 < table.loc[0, "ci_high"]
    assert np.all(labels[:150] == 0) and np.all(labels[150:] == 1)
    enr = region_enrichment(labels, pd.DataFrame({"left": np.r_[np.ones(150, bool), np.zeros(100, bool)]}))
    assert enr.loc[enr["region"] == 0, "ratio"].item() == pytest.approx(250 / 150)
    lo, hi = bootstrap_mean_ci(np.arange(100.0))
    assert lo < 49.5 < hi
