"""Diffusion spectral entropy against closed-form cases, dse-dsmi 1.1 on the authors' toys, and its own options."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from repgeo.data.dse_toy import add_uniform_noise, subspace_data
from repgeo.entropy import (
    Spectrum,
    diffusion_spectral_entropy,
    diffusion_spectrum,
    entropy_from_spectrum,
    slq_diffusion_spectral_entropy,
)
from repgeo.entropy.kernels import diffusion_eigenvalues


def toy(n: int, d: int, noise: float = 0.01, seed: int = 0, family: str = "uniform") -> np.ndarray:
    rng = np.random.default_rng(seed)
    return add_uniform_noise(subspace_data(n, d, 2048, family, rng), noise, rng)


def separated_clusters(k: int, per: int, seed: int = 0) -> np.ndarray:
    """k tight clusters (sd 0.1) whose centres are 1000 apart: G is block diagonal at sigma = 10."""
    rng = np.random.default_rng(seed)
    centres = 1000.0 * np.eye(k, 8)
    return np.repeat(centres, per, axis=0) + 0.1 * rng.standard_normal((k * per, 8))


def test_well_separated_equal_clusters_tend_to_log2_k():
    # Each cluster is a connected component: eigenvalue exactly 1 per cluster; the others are
    # ~1e-4 and vanish at large t, leaving p = 1/k on k eigenvalues.
    for k in (2, 3, 5):
        spectrum = diffusion_spectrum(separated_clusters(k, 40))
        assert spectrum.entropy(200) == pytest.approx(math.log2(k), abs=1e-9)
        assert spectrum.entropy(1) > spectrum.entropy(200)  # at t = 1 the small eigenvalues still count


def test_points_far_apart_give_identity_operator_and_log2_n():
    n = 64
    Z = 1000.0 * np.arange(n, dtype=float)[:, None] * np.ones((1, 3))  # neighbours 1700 apart: G = I
    for t in (1, 3):
        assert diffusion_spectral_entropy(Z, t=t) == pytest.approx(math.log2(n), abs=1e-12)


def test_dse_matches_the_authors_toy_table():
    # The authors' dse-dsmi 1.1 (sigma = 10, t = 1) on their toy design (uniform, n = 500, D = 2048,
    # noise 0.01; ChenLiu-1996/DiffusionSpectralEntropy, src/manifold_investigation/toy_data_entropy.py),
    # as measured for this project, 5-seed means: 0.333 (d = 10), 1.570 (d = 50), 2.930 (d = 100), seed sd <= 0.01.
    for d, expected in ((10, 0.333), (50, 1.570), (100, 2.930)):
        assert diffusion_spectral_entropy(toy(500, d)) == pytest.approx(expected, abs=0.02)


def test_dse_rises_with_intrinsic_dimension():
    for family in ("uniform", "gaussian"):
        values = [diffusion_spectral_entropy(toy(300, d, family=family)) for d in (1, 2, 5, 20, 100, 500)]
        assert np.all(np.diff(values) > 0), values
        assert values[-1] <= math.log2(300) + 1e-12


def test_float32_within_1e4_bits_of_float64():
    Z = toy(1000, 50)
    spec64 = diffusion_spectrum(Z)
    spec32 = diffusion_spectrum(Z, dtype="float32")
    assert spec32.eigenvalues.dtype == np.float64
    for t in (1, 2):
        assert abs(spec32.entropy(t) - spec64.entropy(t)) < 1e-4


def test_one_spectrum_serves_every_t():
    Z = toy(400, 20, noise=0.1)
    spectrum = diffusion_spectrum(Z)
    for t in (1, 2, 3, 0.5, 7):
        assert spectrum.entropy(t) == pytest.approx(diffusion_spectral_entropy(Z, t=t), abs=1e-12)
        assert entropy_from_spectrum(spectrum.eigenvalues, t) == spectrum.entropy(t)


def test_spectrum_save_and_load_round_trip_in_float64(tmp_path):
    spectrum = diffusion_spectrum(toy(300, 10), sigma="median", dtype="float32")
    path = spectrum.save(tmp_path / "epochs" / "epoch_003.npz")
    assert [p.name for p in path.parent.iterdir()] == ["epoch_003.npz"]  # no temporary left behind
    loaded = Spectrum.load(path)
    assert loaded.eigenvalues.dtype == np.float64
    np.testing.assert_array_equal(loaded.eigenvalues, spectrum.eigenvalues)
    assert (loaded.sigma, loaded.bandwidth, loaded.dtype, loaded.n_samples) == (
        "median",
        spectrum.bandwidth,
        "float32",
        300,
    )
    assert loaded.entropy(2) == spectrum.entropy(2)
    np.savez(tmp_path / "other.npz", eigenvalues=np.ones(3), meta=np.array("{}"))
    with pytest.raises(ValueError, match="not a spectrum file"):
        Spectrum.load(tmp_path / "other.npz")


def test_torch_path_equals_numpy_path():
    Z = toy(300, 20)
    assert diffusion_spectrum(Z, device="auto").entropy() == pytest.approx(diffusion_spectrum(Z).entropy(), abs=1e-9)
    for kwargs in ({}, {"sigma": "knn", "alpha": 0.5}, {"dtype": "float32"}):
        a = diffusion_spectrum(Z, **kwargs)
        b = diffusion_spectrum(Z, device="torch-cpu", **kwargs)
        tol = 1e-10 if kwargs.get("dtype") != "float32" else 1e-5
        assert abs(a.entropy() - b.entropy()) < tol


def _explicit_markov_eigenvalues(Z, sigma, alpha, k=None):
    """Independent construction: exact distances, explicit matrices, P = D^-1 G^(alpha), general eig."""
    D2 = cdist(Z, Z, "sqeuclidean")
    if k is None:
        G = np.exp(-D2 / (2 * sigma**2))
    else:
        s = np.sqrt(np.sort(D2, axis=1)[:, k])
        G = np.exp(-D2 / np.outer(s, s))
    q = G.sum(axis=1)
    Ga = G / np.outer(q**alpha, q**alpha)
    P = Ga / Ga.sum(axis=1, keepdims=True)
    return np.sort(np.linalg.eigvals(P).real)[::-1]


@pytest.mark.parametrize("sigma, alpha", [(3.0, 0.0), (3.0, 0.5), (3.0, 1.0), ("knn", 0.0), ("knn", 1.0)])
def test_operator_options_against_an_explicit_markov_matrix(sigma, alpha):
    rng = np.random.default_rng(1)
    Z = np.concatenate([rng.standard_normal((120, 4)), 3 + 0.3 * rng.standard_normal((60, 4))])  # uneven density
    ours, _ = diffusion_eigenvalues(Z, sigma, alpha=alpha, n_neighbors=7)
    expected = _explicit_markov_eigenvalues(
        Z, sigma if sigma != "knn" else None, alpha, k=7 if sigma == "knn" else None
    )
    np.testing.assert_allclose(ours, expected, atol=1e-10)
    assert ours[0] == pytest.approx(1.0, abs=1e-12)


def test_scale_free_bandwidths_are_scale_invariant_and_compatible_mode_is_not():
    Z = toy(300, 10, noise=0.05)
    for sigma in ("median", "knn"):
        assert diffusion_spectral_entropy(Z, sigma=sigma) == pytest.approx(
            diffusion_spectral_entropy(50 * Z, sigma=sigma), abs=1e-9
        )
    assert abs(diffusion_spectral_entropy(Z) - diffusion_spectral_entropy(50 * Z)) > 1.0
    spectrum = diffusion_spectrum(Z, sigma="median")
    D2 = cdist(Z, Z, "sqeuclidean")[np.triu_indices(300, 1)]
    assert spectrum.bandwidth == pytest.approx(math.sqrt(np.median(D2) / 2), rel=1e-12)


def test_subsampling_to_max_n_is_seeded():
    Z = toy(600, 20)
    a = diffusion_spectrum(Z, max_n=200, seed=1)
    assert a.eigenvalues.size == 200 and a.n_samples == 600
    assert diffusion_spectrum(Z, max_n=200, seed=1).entropy() == a.entropy()
    assert diffusion_spectrum(Z, max_n=200, seed=2).entropy() != a.entropy()
    assert diffusion_spectrum(Z, max_n=None).eigenvalues.size == 600


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda Z: diffusion_spectral_entropy(np.vstack([Z, [np.nan] * 5])), ValueError, "row"),
        (lambda Z: diffusion_spectral_entropy(np.vstack([Z, [np.inf] * 5])), ValueError, "NaN or inf"),
        (lambda Z: diffusion_spectral_entropy(Z[:1]), ValueError, "at least 2 samples"),
        (lambda Z: diffusion_spectral_entropy(Z[:, 0]), ValueError, "reshape"),
        (lambda Z: diffusion_spectral_entropy(Z.astype(str)), TypeError, "numeric"),
        (lambda Z: diffusion_spectral_entropy(Z, t=0), ValueError, "t must be"),
        (lambda Z: diffusion_spectral_entropy(Z, t=-1), ValueError, "t must be"),
        (lambda Z: diffusion_spectral_entropy(Z, t=float("nan")), ValueError, "t must be"),
        (lambda Z: diffusion_spectral_entropy(Z, t=True), ValueError, "t must be"),
        (lambda Z: diffusion_spectral_entropy(Z, sigma=0), ValueError, "sigma must be"),
        (lambda Z: diffusion_spectral_entropy(Z, sigma=-3.0), ValueError, "sigma must be"),
        (lambda Z: diffusion_spectral_entropy(Z, sigma="silverman"), ValueError, "sigma must be"),
        (lambda Z: diffusion_spectral_entropy(Z, sigma="knn", n_neighbors=50), ValueError, "n_neighbors < n"),
        (
            lambda Z: diffusion_spectral_entropy(np.repeat(Z[:3], 10, axis=0), sigma="knn", n_neighbors=5),
            ValueError,
            "duplicates",
        ),
        (
            lambda Z: diffusion_spectral_entropy(np.zeros((10, 5)), sigma="median"),
            ValueError,
            "median pairwise distance is 0",
        ),
        (lambda Z: diffusion_spectral_entropy(Z, alpha=2), ValueError, "alpha must be"),
        (lambda Z: diffusion_spectral_entropy(Z, dtype="float16"), ValueError, "dtype must be"),
        (lambda Z: diffusion_spectral_entropy(Z, device="tpu"), ValueError, "device must be"),
        (lambda Z: slq_diffusion_spectral_entropy(Z, device="tpu", n_deflate=2), ValueError, "device must be"),
        (lambda Z: diffusion_spectral_entropy(Z, max_n=1), ValueError, "max_n must be"),
        (lambda Z: diffusion_spectral_entropy(Z, method="chebyshev"), ValueError, "method must be"),
        (lambda Z: entropy_from_spectrum([]), ValueError, "non-empty"),
        (lambda Z: entropy_from_spectrum([0.0, 0.0]), ValueError, "vanish"),
    ],
)
def test_bad_inputs_give_clear_errors(call, error, match):
    Z = np.random.default_rng(0).standard_normal((20, 5))
    with pytest.raises(error, match=match):
        call(Z)


def test_two_stage_lapack_driver_equals_scipy(monkeypatch):
    """The fast eigenvalue path (LAPACK's syevd_2stage through the bundled OpenBLAS, when it is
    there) gives the eigenvalues of scipy's own driver, which is the fallback."""
    import scipy.linalg as la

    from repgeo.entropy import kernels

    rng = np.random.default_rng(3)
    A = rng.standard_normal((300, 300))
    K = A @ A.T / 300
    ops = kernels._ops(np.float64, "cpu")
    fast = ops.eigvalsh(K.copy())
    np.testing.assert_allclose(fast, la.eigvalsh(K)[::-1], rtol=0, atol=1e-11)
    kernels._syevd_2stage.cache_clear()
    monkeypatch.setattr(kernels, "_syevd_2stage", lambda: None)
    np.testing.assert_allclose(ops.eigvalsh(K.copy()), fast, rtol=0, atol=1e-11)
