"""Diffusion maps and bandwidth selection: numbers against closed forms and independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr

from repgeo.data import load_dataset
from repgeo.diffusion import diffusion_distances, diffusion_map, distance_histogram, epsilon_sweep, select_epsilon
from repgeo.diffusion.distances import knn, pairwise_sqdist
from repgeo.diffusion.kernels import markov_matrix


def _manifold(name: str, n: int, **kw) -> tuple[np.ndarray, object]:
    ds = load_dataset({"source": "manifold", "manifold": name, "n": n, **kw})
    return ds.arrays.astype(np.float64), ds.samples


def _circle(n: int) -> np.ndarray:
    theta = 2 * np.pi * np.arange(n) / n
    return np.c_[np.cos(theta), np.sin(theta)]


# --- distances -------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["cpu", "torch-cpu"])
def test_pairwise_sqdist_matches_cdist(device):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2500, 7)) * 3 + 50  # offset: centring must remove it
    D2 = pairwise_sqdist(X.astype(np.float32), device=device)
    ref = cdist(X, X, "sqeuclidean")
    assert np.array_equal(D2, D2.T)
    assert np.all(np.diag(D2) == 0)
    np.testing.assert_allclose(D2, ref, rtol=2e-5, atol=1e-3)


@pytest.mark.parametrize("device", ["cpu", "torch-cpu"])
def test_knn_exact_and_with_pca(device):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 30)).astype(np.float32)
    idx, d2 = knn(X, 10, device=device)
    ref = cdist(X, X, "sqeuclidean")
    ref_idx = np.argsort(ref, axis=1, kind="stable")[:, :10]
    assert np.all(idx[:, 0] == np.arange(600)) and np.all(d2[:, 0] == 0)
    assert np.mean(np.sort(idx, 1) == np.sort(ref_idx, 1)) > 0.999
    np.testing.assert_allclose(d2, np.take_along_axis(ref, idx, 1), rtol=1e-5, atol=1e-5)
    # Low-dimensional data in a wide space: the PCA search finds the same neighbours and the
    # returned distances are the exact full-dimensional ones.
    Y = np.c_[rng.normal(size=(600, 4)), np.zeros((600, 60))] @ np.linalg.qr(rng.normal(size=(64, 64)))[0]
    Y = Y.astype(np.float32)
    idx_p, d2_p = knn(Y, 8, pca_components=6, device=device)
    idx_e, d2_e = knn(Y, 8, device=device)
    assert np.mean(idx_p == idx_e) > 0.99
    np.testing.assert_allclose(d2_p, d2_e, rtol=1e-4, atol=1e-6)


# --- bandwidth sweep --------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["gaussian", "exponential"])
@pytest.mark.parametrize("device", ["cpu", "torch-cpu"])
def test_weight_sum_histogram_matches_direct_sum(kernel, device):
    rng = np.random.default_rng(2)
    X = np.r_[rng.normal(size=(500, 5)), rng.normal(size=(300, 5)) * 0.1 + 3]
    hist = distance_histogram(X.astype(np.float32), kernel=kernel, device=device)
    D2 = cdist(X, X, "sqeuclidean")
    arg = D2 if kernel == "gaussian" else np.sqrt(D2)
    eps = np.logspace(math.log10(arg[arg > 0].min() / 10), math.log10(arg.max() * 10), 30)
    direct = np.array([np.exp(-arg / e).sum() for e in eps])
    np.testing.assert_allclose(hist.weight_sum(eps), direct, rtol=1e-4)
    assert hist.weight_sum(1e-12)[0] == pytest.approx(800)  # only self-pairs
    assert hist.weight_sum(1e12)[0] == pytest.approx(800**2)  # every pair
    # The analytic log-slope agrees with a finite difference of log S.
    h = 1e-4
    fd = (np.log(hist.weight_sum(eps * math.exp(h))) - np.log(hist.weight_sum(eps * math.exp(-h)))) / (2 * h)
    np.testing.assert_allclose(hist.log_slope(eps), fd, atol=1e-6)


def test_anchor_rows_estimate_the_full_sum():
    X, _ = _manifold("sphere", 3000, noise=0.02)
    full = distance_histogram(X.astype(np.float32))
    part = distance_histogram(X.astype(np.float32), max_rows=600, seed=3)
    assert part.anchors == 600 and full.anchors is None
    eps = np.logspace(-3, 1, 20)
    np.testing.assert_allclose(part.weight_sum(eps), full.weight_sum(eps), rtol=0.05)
    assert select_epsilon(part) == pytest.approx(select_epsilon(full), rel=0.05)


@pytest.mark.parametrize("name,kw", [("sphere", {}), ("torus", {}), ("sphere", {"dim": 3})])
def test_epsilon_pick_lies_in_the_linear_part(name, kw):
    X, _ = _manifold(name, 1500, **kw)
    sweep = epsilon_sweep(X.astype(np.float32), n_epsilons=40)
    hist = distance_histogram(X.astype(np.float32))
    slope_at_pick = hist.log_slope(sweep.epsilon)[0]
    # Inside the linear section: at least half the steepest slope, and log S at the midpoint.
    assert slope_at_pick >= 0.5 * sweep.max_slope
    assert math.log(hist.weight_sum(sweep.epsilon)[0]) == pytest.approx(1.5 * math.log(1500), rel=1e-9)
    table = sweep.table
    assert table["chosen"].sum() == 1
    assert table.loc[table["chosen"], "kind"].item() == "half_plateau"
    assert (table["kind"] == "grid").sum() == 40
    assert np.all(np.diff(table["epsilon"]) >= 0) and np.all(np.diff(table["weight_sum"]) >= 0)
    # Twice the steepest slope estimates the intrinsic dimension (Gaussian kernel).
    assert 2 * sweep.max_slope == pytest.approx(kw.get("dim", 2), rel=0.2)


def test_configured_epsilon_is_marked_chosen():
    X, _ = _manifold("torus", 500)
    sweep = epsilon_sweep(X.astype(np.float32), epsilon=0.3, n_epsilons=10)
    chosen = sweep.table[sweep.table["chosen"]]
    assert chosen["kind"].item() == "configured" and chosen["epsilon"].item() == 0.3
    assert sweep.epsilon == 0.3


def test_digits_picks_match_the_reference_fixture(geometry_fixtures):
    from sklearn.datasets import load_digits

    z = np.load(geometry_fixtures / "digits_1797.npz")
    X = load_digits().data.astype(np.float32)
    hist = distance_histogram(X)
    np.testing.assert_allclose(hist.weight_sum(z["eps_grid"]), z["sum_weights"], rtol=1e-4)
    # The fixture interpolates on its 50-point grid; ours is the exact root / optimum.
    assert select_epsilon(hist, "half_plateau") == pytest.approx(float(z["eps_half_plateau"]), rel=0.01)
    assert select_epsilon(hist, "max_slope") == pytest.approx(float(z["eps_maxslope"]), rel=0.05)
    # Arnold's (2025) diffusion map at the fixture's eps, in his code's convention.
    dm = diffusion_map(X, float(z["dmap_epsilon"]), 5, convention="celeba")
    np.testing.assert_allclose(dm.eigenvalues, z["dmap5_eigenvalues"], rtol=1e-6)
    for j in range(5):
        assert abs(np.corrcoef(dm.coordinates[:, j], z["x"][:, j])[0, 1]) > 1 - 1e-9


# --- diffusion maps ---------------------------------------------------------------------------


def test_swiss_roll_first_coordinate_orders_points_by_roll_angle():
    X, samples = _manifold("swiss_roll", 2000)
    for alpha in (0.0, 1.0):
        dm = diffusion_map(X, epsilon=4.0, n_components=2, alpha=alpha)
        assert abs(spearmanr(dm.coordinates[:, 0], samples["t"]).statistic) > 0.95


def test_circle_eigenvalues_follow_the_cosine_pattern():
    n, eps = 400, 0.05
    X = _circle(n)
    dm = diffusion_map(X, eps, n_components=8, method="dense")
    # The kernel is circulant: P's eigenvalues are the normalised discrete cosine transform of
    # one kernel row, lambda_m = sum_j k_j cos(2 pi m j / n) / sum_j k_j, each m >= 1 twice.
    j = np.arange(n)
    k = np.exp(-((2 * np.sin(np.pi * j / n)) ** 2) / eps)
    lam = np.array([np.sum(k * np.cos(2 * np.pi * m * j / n)) for m in range(5)]) / k.sum()
    expected = np.r_[lam[0], np.repeat(lam[1:], 2)][:9]
    np.testing.assert_allclose(dm.eigenvalues, expected, atol=1e-12)
    # The first pair of coordinates is a circle: radius lambda_1 * sqrt(2) (psi has unit L2(pi) norm).
    r = np.hypot(dm.coordinates[:, 0], dm.coordinates[:, 1])
    np.testing.assert_allclose(r, lam[1] * math.sqrt(2), rtol=1e-8)


@pytest.mark.parametrize("alpha,t,kernel", [(0.0, 1, "gaussian"), (1.0, 3, "gaussian"), (0.5, 2, "exponential")])
def test_diffusion_distance_equals_distance_between_full_maps(alpha, t, kernel):
    rng = np.random.default_rng(4)
    X = np.r_[rng.normal(size=(80, 3)), rng.normal(size=(70, 3)) + 2.5]
    eps = 2.0
    dm = diffusion_map(X, eps, n_components=len(X) - 1, t=t, alpha=alpha, kernel=kernel)
    D = cdist(X, X, "sqeuclidean")
    K = np.exp(-D / eps) if kernel == "gaussian" else np.exp(-np.sqrt(D) / eps)
    ref = diffusion_distances(markov_matrix(K, alpha), t)
    np.testing.assert_allclose(cdist(dm.coordinates, dm.coordinates), ref, atol=1e-8)
    # Stationary distribution: the left Perron eigenvector of P.
    w, V = np.linalg.eig(markov_matrix(K, alpha).T)
    pi = np.real(V[:, np.argmax(np.real(w))])
    np.testing.assert_allclose(dm.stationary, pi / pi.sum(), rtol=1e-8)


def test_dense_and_sparse_agree_on_top_eigenvalues():
    X, _ = _manifold("torus", 1500)
    eps = 0.15
    dense = diffusion_map(X, eps, 10, method="dense")
    # All pairs as "neighbours": the sparse path builds the same operator.
    full = diffusion_map(X, eps, 10, method="sparse", n_neighbors=1500)
    np.testing.assert_allclose(full.eigenvalues, dense.eigenvalues, rtol=1e-9)
    # Truncated where the dropped kernel weights are below ~1e-7: eigenvalues within 1e-6.
    idx, d2 = knn(X.astype(np.float32), 400)
    assert np.exp(-d2[:, -1].min() / eps) < 1e-6
    sparse = diffusion_map(X, eps, 10, method="sparse", n_neighbors=400)
    np.testing.assert_allclose(sparse.eigenvalues, dense.eigenvalues, rtol=1e-6)
    for j in range(3):
        assert abs(np.corrcoef(sparse.coordinates[:, j], dense.coordinates[:, j])[0, 1]) > 1 - 1e-6


def test_celeba_convention_is_left_eigenvectors_with_trivial_kept():
    X, _ = _manifold("sphere", 600)
    cl = diffusion_map(X, 0.3, 4, t=2)
    cb = diffusion_map(X, 0.3, 4, t=2, convention="celeba")
    D = cdist(X, X, "sqeuclidean")
    P = markov_matrix(np.exp(-D / 0.3))
    phi = cb.coordinates / cb.eigenvalues[:4] ** 2
    # Left eigenvectors: phi^T P = lambda phi^T, unit Euclidean norm, phi_0 proportional to degree.
    np.testing.assert_allclose(phi.T @ P, cb.eigenvalues[:4, None] * phi.T, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(phi, axis=0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(phi[:, 0] / phi[:, 0].sum(), cb.stationary, rtol=1e-10)
    # Coifman-Lafon: right eigenvectors, trivial dropped.
    psi = cl.coordinates / cl.eigenvalues[1:5] ** 2
    np.testing.assert_allclose(P @ psi, psi * cl.eigenvalues[1:5], atol=1e-10)
    np.testing.assert_allclose((cl.stationary[:, None] * psi**2).sum(0), 1.0, rtol=1e-10)


def test_bad_parameters_are_clear_errors():
    X = _circle(50)
    with pytest.raises(ValueError, match="convention"):
        diffusion_map(X, 0.1, 2, convention="left")
    with pytest.raises(ValueError, match="n_components"):
        diffusion_map(X, 0.1, 50)
    with pytest.raises(ValueError, match="epsilon"):
        diffusion_map(X, -1.0, 2)
    with pytest.raises(ValueError, match="epsilon_rule"):
        select_epsilon(distance_histogram(X), "by_eye")


@pytest.mark.realdata
def test_celeba_reproduces_the_seed_procedure(shared_datasets, geometry_fixtures):
    z = np.load(geometry_fixtures / "celeba_89x109_first2000.npz")
    ds = load_dataset(
        {
            "source": "celeba",
            "path": str(shared_datasets / "celeba_89x109"),
            "n": 2000,
            "sample": "first",
            "grayscale": True,
        }
    )
    X = ds.arrays.reshape(2000, -1) * 255.0  # Arnold (2025) works on raw 0..255 intensities
    hist = distance_histogram(X)
    np.testing.assert_allclose(hist.weight_sum(z["eps_grid"]), z["sum_weights"], rtol=1e-4)
    eps = select_epsilon(hist)
    # Within 25 % of Arnold's by-eye choice scaled to this resolution (1.9e7), and equal to
    # the fixture's grid-interpolated half-plateau value within 1 %.
    assert abs(eps / float(z["eps_paper_scaled"]) - 1) < 0.25
    assert eps == pytest.approx(float(z["eps_half_plateau"]), rel=0.01)
    dm = diffusion_map(X, float(z["dmap_epsilon"]), 5, convention="celeba", t=1)
    np.testing.assert_allclose(dm.eigenvalues, z["dmap5_eigenvalues"], rtol=1e-6)
    for j in range(5):
        assert abs(np.corrcoef(dm.coordinates[:, j], z["dmap5"][:, j])[0, 1]) > 1 - 1e-9


def test_disconnected_graph_is_reported(caplog):
    rng = np.random.default_rng(5)
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 100.0]
    with caplog.at_level("WARNING", logger="repgeo"):
        dm = diffusion_map(X, 1.0, 2)
    assert dm.eigenvalues[1] == pytest.approx(1.0, abs=1e-12)
    assert "repeated 2 times" in caplog.text and "larger epsilon" in caplog.text


def test_neighbour_distances_are_exact_for_tiny_distances():
    """Explicit differences keep the relative precision of small distances far from the origin,
    where the Gram identity would cancel."""
    from repgeo.diffusion.distances import neighbour_sqdist

    rng = np.random.default_rng(6)
    base = rng.normal(size=(50, 300)) * 100.0 + 1000.0
    X = np.r_[base, base + rng.normal(size=base.shape) * 1e-3]
    idx = np.c_[np.arange(100), (np.arange(100) + 50) % 100]
    exact = np.sum((X[idx[:, 1]] - X) ** 2, axis=1)
    d64 = neighbour_sqdist(X, idx)
    np.testing.assert_allclose(d64[:, 1], exact, rtol=1e-12)
    assert np.all(d64[:, 0] == 0)
    X32 = X.astype(np.float32)
    exact32 = np.sum((X32[idx[:, 1]].astype(np.float64) - X32) ** 2, axis=1)
    np.testing.assert_allclose(neighbour_sqdist(X32, idx, np.float32)[:, 1], exact32, rtol=1e-4)
