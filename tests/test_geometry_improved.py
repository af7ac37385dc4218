"""The improved estimators against closed-form ground truth (targets of the geometry issue).

Jones' reference code (Iolo-Jones/ManifoldDiffusionGeometry at commit 4eae5b2, defaults) on the same
manifolds, as measured for this project on a 2-core VM (n = 4000): pointwise dimension 0.73 to 0.88
correct with boundaries, S^2 mean 2.11, S^3 6.40, torus MAE 0.116, saddle MAE 0.97, noisy flat
square mean -0.25. Every threshold below is the issue's target, checked at n = 2000.
"""

from __future__ import annotations

import numpy as np
import pytest

from repgeo.data.manifolds import draw_manifold
from repgeo.geometry.estimate import estimate_curvature, estimate_dimension
from repgeo.geometry.improved import cross_gauss, improved_curvature, improved_dimension
from repgeo.geometry.neighbors import knn_graph

SPECS = {
    "sphere2": {"manifold": "sphere"},
    "sphere3": {"manifold": "sphere", "dim": 3},
    "torus": {"manifold": "torus"},
    "torus_in_R5": {"manifold": "torus", "ambient_dim": 5},
    "saddle": {"manifold": "saddle"},
    "flat_square": {"manifold": "flat_square", "side": 2.0},
    "swiss_roll": {"manifold": "swiss_roll"},
}


def _draw(name: str, n: int = 2000, seed: int = 0, **extra):
    d = draw_manifold({"source": "manifold", "n": n, "seed": seed, **SPECS[name], **extra})
    return d.x, d.sample


def _curvature(name: str, n: int = 2000, **extra):
    X, truth = _draw(name, n, **extra)
    S = estimate_curvature(X, truth.true_dim, mode="improved").scalar
    St = truth.scalar_curvature
    return S, St


# --- dimension -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sphere2", "sphere3", "torus", "torus_in_R5"])
def test_pointwise_dimension_closed_manifolds(name):
    X, truth = _draw(name)
    res = estimate_dimension(X, mode="improved")
    assert res.global_dim == truth.true_dim
    assert np.mean(res.pointwise == truth.true_dim) >= 0.99
    assert res.diagnostics.clear and res.basis is None


@pytest.mark.parametrize("name", ["flat_square", "saddle", "swiss_roll"])
def test_pointwise_dimension_with_boundary(name):
    X, truth = _draw(name)
    res = estimate_dimension(X, mode="improved")
    ok = res.pointwise == truth.true_dim
    assert res.global_dim == 2
    assert ok.mean() >= 0.95  # all points, boundary included (reference: 0.73 to 0.88)
    assert ok[~res.boundary].mean() >= 0.99
    # The flag marks the rim: almost no interior point, and mostly points outside the interior.
    assert res.boundary[truth.interior].mean() <= 0.02
    assert (~truth.interior[res.boundary]).mean() >= 0.9


@pytest.mark.parametrize(
    ("name", "noise"), [("sphere2", 0.05), ("sphere2", 0.1), ("torus", 0.1), ("sphere3", 0.1), ("flat_square", 0.05)]
)
def test_global_dimension_under_noise(name, noise):
    X, truth = _draw(name, noise=noise)
    res = improved_dimension(X)
    assert res.global_dim == truth.true_dim
    assert np.mean(res.pointwise == truth.true_dim) >= 0.95


def test_gaussian_cloud_reports_no_manifold_gap():
    X = np.random.default_rng(2).standard_normal((2000, 5))
    res = improved_dimension(X)
    assert not res.diagnostics.clear
    assert "NO CLEAR MANIFOLD GAP" in res.diagnostics.describe()


# --- curvature -----------------------------------------------------------------------------


def test_unit_sphere_curvature_and_no_growth_of_bias_with_n():
    biases = []
    for n in (2000, 8000):
        S, St = _curvature("sphere2", n)
        bias = S.mean() / 2.0 - 1.0
        assert abs(bias) <= 0.02 and np.abs(S - St).mean() <= 0.30
        biases.append(abs(bias))
    assert biases[1] <= biases[0] + 0.005  # the reference goes +1.5 % -> +9 % from 1k to 16k


def test_sphere_of_radius_two():
    """S = 2 / r^2: the chord coordinates make the quadratic model exact on spheres of any radius."""
    X, truth = _draw("sphere2", radius=2.0)
    S = improved_curvature(X, 2).scalar
    np.testing.assert_allclose(S.mean(), 0.5, rtol=1e-3)


def test_unit_3_sphere_curvature():
    S, _ = _curvature("sphere3")
    assert abs(S.mean() / 6.0 - 1.0) <= 0.03
    assert np.abs(S - 6.0).mean() <= 0.6


def test_torus_curvature():
    S, St = _curvature("torus")
    assert np.abs(S - St).mean() <= 0.10
    assert np.corrcoef(S, St)[0, 1] >= 0.99


def test_torus_in_five_dimensions_equals_the_torus_in_three():
    """An isometric embedding into R^5 (as for diffusion coordinates) changes nothing intrinsic."""
    S3, St = _curvature("torus")
    S5, _ = _curvature("torus_in_R5")
    np.testing.assert_allclose(S5, S3, atol=1e-6)


def test_saddle_curvature_improves_with_n():
    maes = []
    for n in (2000, 4000):
        S, St = _curvature("saddle", n)
        assert np.abs(S - St).mean() <= 0.3
        assert np.corrcoef(S, St)[0, 1] >= 0.95
        maes.append(np.abs(S - St).mean())
    assert maes[1] < maes[0]  # the reference's saddle MAE grows 0.43 -> 0.55 -> 0.97


def test_noisy_flat_square_has_no_spurious_curvature():
    X, _ = _draw("flat_square", noise=0.05)
    res = improved_curvature(X, 2)
    assert abs(res.scalar.mean()) <= 0.1
    assert np.abs(res.scalar).mean() <= 0.25
    assert res.smoothing.steps > 0  # the adaptive rule saw the noise


def test_flat_square_has_zero_curvature():
    X, _ = _draw("flat_square")
    res = improved_curvature(X, 2)
    assert np.abs(res.scalar).max() < 1e-10
    assert res.smoothing.steps == 0


def test_cross_fitted_gauss_equation_is_unbiased():
    """Independent noise on two estimates of II leaves E[S] unchanged; the plain Gauss equation
    (the same estimate twice) is biased by -2 Var(B_12) per normal direction in d = 2."""
    rng = np.random.default_rng(0)
    n, D, sd = 200_000, 3, 0.3
    B = np.zeros((n, D, D, D))
    B[:, 2, 0, 0] = B[:, 2, 1, 1] = 1.0  # unit sphere at the north pole: II = I along e_3
    assert np.allclose(cross_gauss(B, B), 2.0)

    def noisy():
        E = np.zeros_like(B)
        e = sd * rng.standard_normal((n, 3))
        E[:, 2, 0, 0], E[:, 2, 1, 1] = e[:, 0], e[:, 1]
        E[:, 2, 0, 1] = E[:, 2, 1, 0] = e[:, 2]
        return B + E

    B1, B2 = noisy(), noisy()
    assert cross_gauss(B1, B2).mean() == pytest.approx(2.0, abs=0.01)
    assert cross_gauss(B1, B1).mean() == pytest.approx(2.0 - 2 * sd**2, abs=0.01)


def test_given_graph_is_widened_when_too_small():
    X, truth = _draw("torus", 1500)
    a = improved_curvature(X, 2, graph=knn_graph(X, 32)).scalar
    b = improved_curvature(X, 2, graph=knn_graph(X, 128)).scalar
    np.testing.assert_allclose(a, b, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k_fit": 12}, "k_fit must be at least 24"),
        ({"tolerance": 0.0}, "tolerance, noise_threshold and widen_fit must be > 0"),
        ({"max_steps": -1}, "max_steps and max_denoise must be >= 0"),
        ({"bogus": 1}, "unexpected keyword argument 'bogus'"),
    ],
)
def test_bad_curvature_parameters(kwargs, match):
    X, _ = _draw("sphere2", 300)
    with pytest.raises((ValueError, TypeError), match=match):
        estimate_curvature(X, 2, mode="improved", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"floor": 1.5}, "floor must be between 0 and 1"),
        ({"coordinate_steps": -1}, "must be >= 0"),
        ({"boundary_threshold": 0}, "must be > 0"),
    ],
)
def test_bad_dimension_parameters(kwargs, match):
    X, _ = _draw("sphere2", 300)
    with pytest.raises(ValueError, match=match):
        estimate_dimension(X, mode="improved", **kwargs)


def test_stage_passes_each_estimator_its_own_parameters():
    from repgeo.config import SCHEMA_PATH, load_schema
    from repgeo.rules import knn_size
    from repgeo.stages.geometry import _estimator_kwargs

    spec = {"mode": "improved", "k": 32, "seed": 0, "improved": {"k_fit": 96, "floor": 0.2}}
    assert _estimator_kwargs(spec, "curvature") == {"mode": "improved", "k": 32, "seed": 0, "k_fit": 96}
    assert _estimator_kwargs(spec, "dimension") == {"mode": "improved", "k": 32, "seed": 0, "floor": 0.2}
    # The cached graph is as wide as the widest neighbourhood: k, k_dimension, k_fit (schema defaults 32, 64, 128).
    defaults = {k: v["default"] for k, v in load_schema(SCHEMA_PATH)["$defs"]["improved_params"]["properties"].items()}
    assert knn_size({"mode": "improved", "k": 32, "improved": {**defaults, "k_fit": 96}}) == 96
    assert knn_size({"mode": "improved", "k": 32, "improved": defaults}) == 128
    assert knn_size({"mode": "parity", "k": 32, "improved": defaults}) == 32


def test_mean_centred_gamma_against_a_direct_weighted_covariance():
    from repgeo.geometry.improved import local_kernel, mean_centred_gamma
    from repgeo.geometry.operator import build_operator

    X, _ = _draw("torus", 800)
    g = knn_graph(X, 32)
    op = build_operator(g)
    kern = local_kernel(op, g)
    G = mean_centred_gamma(X, kern)
    for p in (0, 17, 433):
        nb, w = X[kern.indices[p]], kern.P[p]
        cov = np.cov(nb.T, aweights=w, bias=True)
        np.testing.assert_allclose(G[p], cov / (2 * op.epsilon * op.rho[p] ** 2), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(kern.P.sum(axis=1), 1.0)
    # Calibration: tangent eigenvalues near 1 without any rescaling (the kernel's own variance).
    lam = np.linalg.eigvalsh(G)[:, ::-1]
    assert 0.7 < np.median(lam[:, 0]) < 1.3 and np.median(lam[:, 2]) < 0.1
