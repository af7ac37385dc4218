"""Feature-map statistics of the inversion branch: covariance, regularised inverse, block-Toeplitz closeness, Gram, sparsity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.covariance import ledoit_wolf

from repgeo.inversion import feature_stats as fs

# Two fixed 3 x 3 kernels and a 2 x 2 mixing matrix: the generating model of the stationary fields.
H0 = np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.3, 0.0]])
H1 = np.array([[0.2, 0.0, -1.0], [0.0, 1.0, 0.0], [0.7, 0.0, 0.0]])
MIX = np.array([[1.0, 0.5], [-0.3, 0.8]])


def conv_matrix(kernel: np.ndarray, height: int, width: int, periodic: bool) -> np.ndarray:
    """The HW x HW matrix of x[i, j] = sum_{a,b} kernel[a, b] z[i + a - 1, j + b - 1] (3 x 3 kernel), built entry by entry.

    Periodic: indices wrap around (circular convolution). Otherwise z is zero outside the grid.
    """
    L = np.zeros((height * width, height * width))
    for i in range(height):
        for j in range(width):
            for a in range(3):
                for b in range(3):
                    u, v = i + a - 1, j + b - 1
                    if periodic:
                        u, v = u % height, v % width
                    elif not (0 <= u < height and 0 <= v < width):
                        continue
                    L[i * width + j, u * width + v] += kernel[a, b]
    return L


def mixed_field_matrix(height: int, width: int, periodic: bool) -> np.ndarray:
    """L with x = L z: channel c = sum_m MIX[c, m] (kernel_m * z_m), z white noise on 2 channels; rows/cols in (c, i, j) order."""
    blocks = [conv_matrix(H0, height, width, periodic), conv_matrix(H1, height, width, periodic)]
    return np.block([[MIX[c, m] * blocks[m] for m in range(2)] for c in range(2)])


def sample_field(L: np.ndarray, n: int, height: int, width: int, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).standard_normal((n, L.shape[1]))
    return (z @ L.T).reshape(n, L.shape[0] // (height * width), height, width)


def naive_projection(M: np.ndarray, n_channels: int, height: int, width: int) -> np.ndarray:
    """T(M) by a dictionary of displacement classes over every entry (the definition, unvectorised)."""
    positions = [(c, i, j) for c in range(n_channels) for i in range(height) for j in range(width)]
    classes: dict[tuple, list[float]] = {}
    for a, (c, i, j) in enumerate(positions):
        for b, (c2, i2, j2) in enumerate(positions):
            classes.setdefault((c, c2, i2 - i, j2 - j), []).append(M[a, b])
    T = np.empty_like(M)
    for a, (c, i, j) in enumerate(positions):
        for b, (c2, i2, j2) in enumerate(positions):
            T[a, b] = np.mean(classes[(c, c2, i2 - i, j2 - j)])
    return T


# ----------------------------------------------------------------------------------- covariance


def test_covariance_matches_numpy_cov_and_channel_selection():
    rng = np.random.default_rng(0)
    F = rng.standard_normal((30, 3, 4, 5)).astype(np.float32)
    cov = fs.feature_covariance(F)
    X = F.astype(np.float64).reshape(30, -1)
    np.testing.assert_allclose(cov.covariance, np.cov(X, rowvar=False), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cov.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(
        cov.eigenvalues, np.sort(np.linalg.eigvalsh(np.cov(X, rowvar=False)))[::-1], rtol=1e-9, atol=1e-12
    )
    assert (cov.n_images, cov.n_channels, cov.height, cov.width, cov.n_features) == (30, 3, 4, 5, 60)

    sub = fs.feature_covariance(torch.from_numpy(F), channels=[2, 0])
    Xs = F[:, [2, 0]].astype(np.float64).reshape(30, -1)
    np.testing.assert_allclose(sub.covariance, np.cov(Xs, rowvar=False), rtol=1e-12, atol=1e-14)
    assert sub.channels == (2, 0)


def test_covariance_reports_rank_deficiency_when_n_is_below_d():
    rng = np.random.default_rng(1)
    few = fs.feature_covariance(rng.standard_normal((10, 2, 3, 3)))
    assert few.rank == 9 and few.rank_deficient and few.condition_number == math.inf
    many = fs.feature_covariance(rng.standard_normal((200, 2, 3, 3)))
    assert many.rank == 18 and not many.rank_deficient
    assert many.condition_number == pytest.approx(many.eigenvalues[0] / many.eigenvalues[-1])


def test_regularised_inverse_inverts_the_ridge_and_uses_the_trace_scaled_lambda():
    rng = np.random.default_rng(2)
    cov = fs.feature_covariance(rng.standard_normal((12, 2, 4, 4))).covariance  # rank 11 < d = 32
    inv = fs.regularised_inverse(cov, shrinkage=0.05)
    lam = 0.05 * np.trace(cov) / 32
    assert inv.lam == pytest.approx(lam, rel=1e-14)
    np.testing.assert_allclose(inv.precision @ (cov + lam * np.eye(32)), np.eye(32), atol=1e-9)
    np.testing.assert_array_equal(inv.precision, inv.precision.T)
    with pytest.raises(ValueError, match="not positive definite"):
        fs.regularised_inverse(cov, shrinkage=0)


def test_ledoit_wolf_ridge_reproduces_sklearn_estimate():
    rng = np.random.default_rng(3)
    F = rng.standard_normal((40, 1, 5, 5)) * np.linspace(0.5, 2.0, 25).reshape(1, 1, 5, 5)
    n = 40
    s = fs.ledoit_wolf_ridge(F)
    shrunk, rho = ledoit_wolf(F.reshape(n, -1))
    assert s == pytest.approx(rho / (1 - rho), rel=1e-12)
    precision = fs.regularised_inverse(fs.feature_covariance(F).covariance, shrinkage=s).precision
    # Inverse of (1 - rho)(S_ml + s mu I), with S = S_ml * n / (n - 1).
    np.testing.assert_allclose(np.linalg.inv(shrunk), precision * n / ((n - 1) * (1 - rho)), rtol=1e-9)


# ------------------------------------------------------------------------------------ Toeplitz


def test_projection_of_a_tiny_one_channel_grid_by_hand():
    M = np.arange(16.0).reshape(4, 4)  # positions (0,0), (0,1), (1,0), (1,1)
    fit = fs.block_toeplitz_projection(M, 1, 2, 2)
    # Displacement classes: (0,0) diagonal {0,5,10,15} -> 7.5; (0,1) {1,11} -> 6; (0,-1) {4,14} -> 9;
    # (1,0) {2,7} -> 4.5; (-1,0) {8,13} -> 10.5; the four diagonal displacements hold one entry each.
    expected = np.array([[7.5, 6.0, 4.5, 3.0], [9.0, 7.5, 6.0, 4.5], [10.5, 9.0, 7.5, 6.0], [12.0, 10.5, 9.0, 7.5]])
    np.testing.assert_array_equal(fit.approximation, expected)
    # kernel[0, 0, di + 1, dj + 1]
    np.testing.assert_array_equal(fit.kernel[0, 0], [[12.0, 10.5, 9.0], [9.0, 7.5, 6.0], [6.0, 4.5, 3.0]])
    np.testing.assert_array_equal(fit.counts[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    closeness = fs.toeplitz_closeness(M, 1, 2, 2, border=0)
    # residuals 125 (diagonal) + 50 + 50 + 12.5 + 12.5 over sum(k^2, k < 16) = 1240
    assert closeness.total_share == pytest.approx(250 / 1240, rel=1e-14)
    assert closeness.interior_share == closeness.total_share and math.isnan(closeness.border_share)
    assert closeness.n_classes == 9


def test_vectorised_projection_and_region_shares_match_the_definition():
    rng = np.random.default_rng(4)
    C, Hh, Ww = 2, 4, 5
    M = rng.standard_normal((C * Hh * Ww, C * Hh * Ww))
    T = naive_projection(M, C, Hh, Ww)
    close = fs.toeplitz_closeness(M, C, Hh, Ww, border=1)
    np.testing.assert_allclose(close.fit.approximation, T, rtol=1e-12, atol=1e-13)
    assert close.total_share == pytest.approx(np.sum((M - T) ** 2) / np.sum(M**2), rel=1e-12)
    # Interior: positions with 1 <= i < 3, 1 <= j < 4, refitted on the 2 x 3 interior grid.
    interior = [c * Hh * Ww + i * Ww + j for c in range(C) for i in range(1, 3) for j in range(1, 4)]
    M_in = M[np.ix_(interior, interior)]
    T_in = naive_projection(M_in, C, 2, 3)
    assert close.interior_share == pytest.approx(np.sum((M_in - T_in) ** 2) / np.sum(M_in**2), rel=1e-12)
    mask = np.ones_like(M, dtype=bool)
    mask[np.ix_(interior, interior)] = False
    assert close.border_share == pytest.approx(np.sum((M - T)[mask] ** 2) / np.sum(M[mask] ** 2), rel=1e-12)
    assert (close.n_entries, close.n_interior, close.n_border) == (1600, 144, 1456)
    assert close.n_classes == 4 * 7 * 9 and close.n_interior_classes == 4 * 3 * 5


def test_periodic_stationary_field_has_zero_share_and_sample_share_shrinks_with_n():
    Hh = Ww = 5
    L = mixed_field_matrix(Hh, Ww, periodic=True)
    population = L @ L.T
    exact = fs.toeplitz_closeness(population, 2, Hh, Ww, border=1)
    assert exact.total_share < 1e-28 and exact.interior_share < 1e-28 and exact.border_share < 1e-28
    np.testing.assert_allclose(exact.fit.approximation, population, atol=1e-13)
    precision = fs.regularised_inverse(population).precision
    assert fs.toeplitz_closeness(precision, 2, Hh, Ww).total_share < 1e-26

    shares = [
        fs.covariance_statistics(sample_field(L, n, Hh, Ww, seed=n), border=1).covariance_toeplitz.total_share
        for n in (400, 6400)
    ]
    # The off-Toeplitz energy is sampling noise, whose energy falls as 1/N: 16 times more images, ~1/16 the share.
    assert 0.01 < shares[0] < 0.1
    assert 0.03 < shares[1] / shares[0] < 0.12


def test_nonstationary_diagonal_share_is_variance_over_mean_square():
    Hh, Ww = 6, 6
    v = (1.0 + np.arange(Ww)) * np.ones((Hh, 1))  # variance grows across the image
    v = v.ravel()
    close = fs.toeplitz_closeness(np.diag(v), 1, Hh, Ww)
    expected = v.var() / np.mean(v**2)
    assert close.total_share == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(close.fit.approximation, v.mean() * np.eye(36), atol=1e-15)
    # Two channels: each channel's diagonal is its own class.
    v2 = np.concatenate([v, 3.0 * v[::-1] ** 2])
    two = fs.toeplitz_closeness(np.diag(v2), 2, Hh, Ww)
    assert two.total_share == pytest.approx((v.var() * 36 + (3 * v**2).var() * 36) / np.sum(v2**2), rel=1e-12)

    rng = np.random.default_rng(5)
    F = (rng.standard_normal((4000, 36)) * np.sqrt(v)).reshape(4000, 1, Hh, Ww)
    sample = fs.covariance_statistics(F).covariance_toeplitz.total_share
    assert expected == pytest.approx(0.1923, abs=1e-4)
    assert sample == pytest.approx(expected, abs=0.02)


def test_zero_padded_convolution_is_stationary_inside_and_not_at_the_border():
    Hh = Ww = 7
    L = mixed_field_matrix(Hh, Ww, periodic=False)
    population = L @ L.T
    close = fs.toeplitz_closeness(population, 2, Hh, Ww, border=1)
    # Zero padding lowers the variance of the outer ring only (0.9 % of the energy is off the fit there);
    # interior pairs see the whole kernel, so their covariance is the kernel's autocorrelation exactly.
    assert close.interior_share < 1e-28
    assert 5e-3 < close.border_share < 2e-2
    assert close.interior_share < close.total_share < close.border_share
    # The inverse is far from Toeplitz even inside (inverting couples the interior to the border), but less so there.
    precision = fs.regularised_inverse(population).precision
    inv_close = fs.toeplitz_closeness(precision, 2, Hh, Ww, border=1)
    assert 0 < inv_close.interior_share < inv_close.border_share
    # border = 0: everything is interior.
    none = fs.toeplitz_closeness(population, 2, Hh, Ww, border=0)
    assert none.interior_share == none.total_share == close.total_share and math.isnan(none.border_share)
    # A border covering the whole map leaves no interior.
    wide = fs.toeplitz_closeness(population, 2, Hh, Ww, border=4)
    assert math.isnan(wide.interior_share) and wide.n_interior == 0 and wide.border_share == close.total_share


# ----------------------------------------------------------------------------- Gram, sparsity


def test_gram_matrices_match_an_explicit_loop():
    rng = np.random.default_rng(6)
    F = rng.standard_normal((3, 4, 2, 5))
    gram = fs.gram_matrices(torch.from_numpy(F))
    for n in range(3):
        for c in range(4):
            for c2 in range(4):
                expected = sum(F[n, c, i, j] * F[n, c2, i, j] for i in range(2) for j in range(5)) / 10
                assert gram.per_image[n, c, c2] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(gram.mean, gram.per_image.mean(axis=0), rtol=1e-14)


def test_hoyer_sparsity_extremes_and_a_middle_value():
    assert fs.hoyer_sparsity(np.eye(9)[3]) == pytest.approx(1.0, abs=1e-15)
    assert fs.hoyer_sparsity(np.full(9, -2.5)) == pytest.approx(0.0, abs=1e-15)
    # [1, 1, 0, 0]: L1/L2 = 2/sqrt(2) = sqrt(2); (2 - sqrt(2)) / (2 - 1)
    assert fs.hoyer_sparsity(np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(2 - math.sqrt(2), rel=1e-14)
    assert math.isnan(fs.hoyer_sparsity(np.zeros(4)))
    with pytest.raises(ValueError, match="at least 2 entries"):
        fs.hoyer_sparsity(np.ones(1))


def test_sparsity_table_of_known_relu_maps():
    pre = np.array(
        [
            [[[-1.0, 2.0], [0.5, -3.0]], [[0.0, 0.0], [0.0, 4.0]]],
            [[[-1.0, -2.0], [-0.5, -3.0]], [[1.0, 1.0], [1.0, 1.0]]],
        ]
    )  # 2 images x 2 channels x 2 x 2
    F = np.maximum(pre, 0.0)
    table = fs.sparsity(F, eps=0.6)
    assert list(table["channel"]) == ["0", "1", "all"]
    ch0, ch1, overall = (table.iloc[k] for k in range(3))
    assert ch0["zero_fraction"] == 6 / 8 and ch1["zero_fraction"] == 3 / 8 and overall["zero_fraction"] == 9 / 16
    assert ch0["near_zero_fraction"] == 7 / 8 and ch1["near_zero_fraction"] == 3 / 8
    assert ch0["mean_activation"] == pytest.approx(2.5 / 8) and overall["mean_activation"] == pytest.approx(10.5 / 16)
    # Channel 0: image 1 is all zero (dead), image 0 is [2, 0.5]; channel 1: one-hot map (Hoyer 1) and a constant map (0).
    assert ch0["dead_map_fraction"] == 0.5 and overall["dead_map_fraction"] == 0.25
    assert ch0["l1_over_l2"] == pytest.approx(2.5 / math.sqrt(4.25))
    assert ch0["hoyer"] == pytest.approx((2 - 2.5 / math.sqrt(4.25)) / 1)
    assert ch1["hoyer"] == pytest.approx(0.5)
    assert overall["hoyer"] == pytest.approx((2 - 2.5 / math.sqrt(4.25) + 1 + 0) / 3)
    assert ch1["hoyer_pooled"] == pytest.approx(float(fs.hoyer_sparsity(np.array([0, 0, 0, 4, 1, 1, 1, 1.0]))))
    # Fully connected layers (1 x 1 maps): per-map Hoyer undefined, pooled Hoyer defined.
    fc = fs.sparsity(np.eye(3).reshape(3, 3, 1, 1))
    assert fc["hoyer"].isna().all() and fc.iloc[-1]["hoyer_pooled"] == pytest.approx(
        fs.hoyer_sparsity(np.eye(3).ravel())
    )


# ------------------------------------------------------------------------------------- summary


def test_covariance_summary_table(tmp_path):
    Hh = Ww = 5
    L = mixed_field_matrix(Hh, Ww, periodic=False)
    F = sample_field(L, 30, Hh, Ww, seed=7)  # N = 30 < d = 50: rank-deficient
    stats = fs.covariance_statistics(F, shrinkage=0.1, border=1)
    table = fs.covariance_summary(F, "conv1", shrinkage=0.1, border=1)
    assert list(table.columns) == list(fs.SUMMARY_COLUMNS) and len(table) == 6
    assert list(zip(table["matrix"], table["region"], strict=True)) == [
        (m, r) for m in ("covariance", "precision") for r in ("total", "interior", "border")
    ]
    assert (table["rank"] == 29).all() and table["rank_deficient"].all() and (table["n_features"] == 50).all()
    shares = table.set_index(["matrix", "region"])["off_toeplitz_share"]
    assert shares["covariance", "interior"] == stats.covariance_toeplitz.interior_share
    assert shares["precision", "border"] == stats.inverse_toeplitz.border_share
    cond = table.set_index("matrix")["condition_number"]
    e = stats.covariance.eigenvalues
    lam = 0.1 * e.sum() / 50
    assert (cond["covariance"] == math.inf).all()
    assert cond["precision"].iloc[0] == pytest.approx((e[0] + lam) / (max(e[-1], 0) + lam), rel=1e-10)
    assert table["ridge_lambda"].iloc[0] == pytest.approx(lam, rel=1e-12)
    n = table.set_index("region")["n_entries"]
    assert (n["interior"].to_numpy() + n["border"].to_numpy() == n["total"].to_numpy()).all() and n["total"].iloc[
        0
    ] == 2500
    table.to_parquet(tmp_path / "cov.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "cov.parquet"), table)


# --------------------------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors():
    good = np.zeros((4, 2, 3, 3))
    nan = good.copy()
    nan[2, 1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or inf .*image 2"):
        fs.feature_covariance(nan)
    with pytest.raises(ValueError, match="4-D"):
        fs.feature_covariance(np.zeros((4, 18)))
    with pytest.raises(ValueError, match="4-D"):
        fs.sparsity(np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"d = 2 channels x 3 x 3 = 18 .*max_features = 10.*channels="):
        fs.feature_covariance(good, max_features=10)
    with pytest.raises(ValueError, match="at least 2 image"):
        fs.feature_covariance(good[:1])
    with pytest.raises(ValueError, match=r"channels must hold integers in \[0, 2\)"):
        fs.feature_covariance(good, channels=[0, 2])
    with pytest.raises(ValueError, match="repeated"):
        fs.feature_covariance(good, channels=[1, 1])
    with pytest.raises(TypeError, match="numeric"):
        fs.gram_matrices(np.array(["a"] * 4).reshape(1, 1, 2, 2))
    with pytest.raises(ValueError, match="n_channels \\* height \\* width"):
        fs.toeplitz_closeness(np.eye(18), 2, 3, 4)
    with pytest.raises(ValueError, match="border must be an integer >= 0"):
        fs.toeplitz_closeness(np.eye(18), 2, 3, 3, border=-1)
    with pytest.raises(ValueError, match="square"):
        fs.block_toeplitz_projection(np.zeros((3, 4)), 1, 1, 3)
    with pytest.raises(ValueError, match="shrinkage must be"):
        fs.regularised_inverse(np.eye(3), shrinkage=-1)
    with pytest.raises(ValueError, match="symmetric"):
        fs.regularised_inverse(np.triu(np.ones((3, 3))))
    with pytest.raises(ValueError, match="trace"):
        fs.regularised_inverse(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="eps must be"):
        fs.sparsity(good, eps=-0.1)
    with pytest.raises(TypeError, match="layer must be"):
        fs.covariance_summary(np.random.default_rng(0).standard_normal((4, 1, 2, 2)), "")
