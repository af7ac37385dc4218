"""Compatible mode against the reference implementation (PyPI ``dse-dsmi`` 1.1) used as an oracle.

The oracle is a test-only dependency (the ``test`` extra); its non-commercial licence allows no
copying, so it is only called here. Targets (this project's): 1e-9 bits in float64,
1e-4 bits in float32. Its DSMI returns ``(value, groups)``. Labels are passed as integers: the
oracle re-bins float labels as continuous, where repgeo treats integer-valued floats as labels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from repgeo.data.dse_toy import add_uniform_noise, random_walk_tree, subspace_data
from repgeo.entropy import (
    classic_shannon_entropy,
    classic_shannon_mutual_information,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
)

dse_dsmi = pytest.importorskip(
    "dse_dsmi", reason="the reference oracle dse-dsmi is not installed (pip install -e '.[test]')"
)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def inputs():
    rng = np.random.default_rng(7)
    cube = add_uniform_noise(subspace_data(300, 20, 2048, "uniform", rng), 0.01, rng)
    gauss = add_uniform_noise(subspace_data(250, 50, 512, "gaussian", rng), 0.1, rng)
    spread = rng.uniform(-10, 10, (200, 5))  # distances ~ sigma: high entropy
    tree_x, _, _, _ = random_walk_tree(80, 4, 20, rng)
    return {"cube": cube, "gaussian": gauss, "spread": spread, "tree": tree_x}


@pytest.mark.parametrize("name", ["cube", "gaussian", "spread", "tree"])
def test_dse_equals_the_oracle(name):
    Z = inputs()[name]
    for t in (1, 2, 3):
        expected = dse_dsmi.diffusion_spectral_entropy(Z, t=t)
        assert abs(diffusion_spectral_entropy(Z, t=t) - expected) < 1e-9
    expected = dse_dsmi.diffusion_spectral_entropy(Z, gaussian_kernel_sigma=3.0)
    assert abs(diffusion_spectral_entropy(Z, sigma=3.0) - expected) < 1e-9
    assert abs(diffusion_spectral_entropy(Z, dtype="float32") - dse_dsmi.diffusion_spectral_entropy(Z)) < 1e-4


def test_dse_subsample_equals_the_oracle():
    # Beyond max_n both draw the same rows (Python random seeded with the seed).
    Z = inputs()["spread"]
    for seed in (0, 5):
        expected = dse_dsmi.diffusion_spectral_entropy(Z, max_N=120, random_seed=seed)
        assert abs(diffusion_spectral_entropy(Z, max_n=120, seed=seed) - expected) < 1e-9


def test_cse_equals_the_oracle():
    for Z in inputs().values():
        for bins in (2, 5):
            expected = dse_dsmi.diffusion_spectral_entropy(Z, classic_shannon_entropy=True, num_bins_per_dim=bins)
            assert abs(classic_shannon_entropy(Z, n_bins=bins) - expected) < 1e-9


def labelled(seed: int):
    rng = np.random.default_rng(seed)
    x, label, _, _ = random_walk_tree(60, 4, 20, rng)
    return add_uniform_noise(x, 0.1, rng), label


@pytest.mark.parametrize("seed", [0, 3])
def test_dsmi_with_labels_equals_the_oracle(seed):
    Z, label = labelled(seed)
    for t in (1, 2):
        expected, _ = dse_dsmi.diffusion_spectral_mutual_information(Z, label, t=t, random_seed=seed)
        assert abs(diffusion_spectral_mutual_information(Z, label, t=t, seed=seed).value - expected) < 1e-9
    # Unequal group sizes: each group re-seeds its subset draws.
    keep = np.ones(len(label), bool)
    keep[:25] = False
    expected, _ = dse_dsmi.diffusion_spectral_mutual_information(Z[keep], label[keep], random_seed=seed)
    assert abs(diffusion_spectral_mutual_information(Z[keep], label[keep], seed=seed).value - expected) < 1e-9


def test_dsmi_with_continuous_and_vector_references_equals_the_oracle():
    Z, label = labelled(1)
    y = Z[:, 0] + np.random.default_rng(0).standard_normal(len(Z))
    expected, _ = dse_dsmi.diffusion_spectral_mutual_information(Z, y)
    assert abs(diffusion_spectral_mutual_information(Z, y).value - expected) < 1e-9
    X = np.hstack([2 * Z[:, :5], np.random.default_rng(1).standard_normal((len(Z), 30))])
    expected, clusters = dse_dsmi.diffusion_spectral_mutual_information(Z, X)
    ours = diffusion_spectral_mutual_information(Z, X)
    assert abs(ours.value - expected) < 1e-9
    np.testing.assert_array_equal(ours.groups.labels, np.unique(np.ravel(clusters), return_inverse=True)[1])


def test_csmi_equals_the_oracle():
    Z, label = labelled(2)
    expected, _ = dse_dsmi.diffusion_spectral_mutual_information(Z, label, classic_shannon_entropy=True)
    assert abs(classic_shannon_mutual_information(Z, label).value - expected) < 1e-9
