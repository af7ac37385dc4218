"""The large-n path (kNN-sparse operator, deflated SLQ) against exact dense DSE at moderate n."""

from __future__ import annotations

import math

import numpy as np
import pytest

from repgeo.data.dse_toy import add_uniform_noise, subspace_data
from repgeo.entropy import (
    diffusion_spectral_entropy,
    diffusion_spectrum,
    entropy_from_spectrum,
    slq_diffusion_spectral_entropy,
)
from repgeo.entropy.slq import sparse_diffusion_operator


def local_plane(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """A noisy square in R^dim with 64 neighbours within ~4 sigma (sigma = 10): a local kernel."""
    rng = np.random.default_rng(seed)
    side = 40.0 * math.sqrt(math.pi * n / 64)
    basis = np.linalg.qr(rng.standard_normal((dim, 2)))[0]
    return rng.uniform(0.0, side, (n, 2)) @ basis.T + 4.0 / math.sqrt(dim) * rng.standard_normal((n, dim))


def test_slq_within_002_bits_of_exact_dense_dse():
    Z = local_plane(3000)
    exact = diffusion_spectrum(Z, max_n=None)
    for t in (1, 2):
        est = slq_diffusion_spectral_entropy(Z, t=t)
        assert est.captured_mass > 0.999
        assert abs(est.value - exact.entropy(t)) < 0.02, (t, est.value, exact.entropy(t))
        assert 0 < est.stderr < 0.02
        assert est.deflated[0] == pytest.approx(1.0, abs=1e-9)


def test_slq_estimates_the_spectrum_of_its_sparse_operator():
    # Solver error alone: against all eigenvalues of the same sparse matrix, densely.
    Z = local_plane(1500, seed=1)
    K = sparse_diffusion_operator(Z).K
    lam = np.linalg.eigvalsh(K.toarray())
    for t in (1, 3):
        est = slq_diffusion_spectral_entropy(Z, t=t, seed=1)
        assert abs(est.value - entropy_from_spectrum(lam, t)) < 0.02


def test_slq_warns_when_the_kernel_is_not_local():
    # The reference's toy cube at sigma = 10: every pair has affinity > 0.8, so 16 neighbours
    # keep a tiny share of each row's mass.
    rng = np.random.default_rng(0)
    Z = add_uniform_noise(subspace_data(600, 10, 64, "uniform", rng), 0.01, rng)
    with pytest.warns(UserWarning, match="keeps only"):
        est = slq_diffusion_spectral_entropy(Z, graph_neighbors=16, n_deflate=8)
    assert est.captured_mass < 0.1


def test_method_slq_dispatches_to_the_sparse_path():
    Z = local_plane(1200, seed=2)
    assert diffusion_spectral_entropy(Z, method="slq") == slq_diffusion_spectral_entropy(Z).value


def test_slq_bad_inputs():
    Z = local_plane(200)
    with pytest.raises(ValueError, match="n_deflate must be < n - 1"):
        slq_diffusion_spectral_entropy(Z, n_deflate=199)
    with pytest.raises(ValueError, match="graph_neighbors"):
        slq_diffusion_spectral_entropy(Z, graph_neighbors=200)
    with pytest.raises(ValueError, match="n_neighbors .* <= graph_neighbors"):
        slq_diffusion_spectral_entropy(Z, sigma="knn", n_neighbors=40, graph_neighbors=20)
    with pytest.raises(ValueError, match="n_probes"):
        slq_diffusion_spectral_entropy(Z, n_probes=1)
