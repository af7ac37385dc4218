"""DSMI, CSE/CSMI and the kNN MI baseline: ground truths, grouping rules, spread, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from repgeo.data.dse_toy import add_uniform_noise, corrupt_labels, random_walk_tree, subspace_data
from repgeo.entropy import (
    classic_shannon_entropy,
    classic_shannon_mutual_information,
    diffusion_spectral_mutual_information,
    knn_mutual_information,
    reference_groups,
)


def tree(branches: int = 5, per: int = 100, seed: int = 0):
    rng = np.random.default_rng(seed)
    x, label, _, _ = random_walk_tree(per, branches, 20, rng)
    return add_uniform_noise(x, 0.1, rng), label


def test_dsmi_of_labels_independent_of_z_is_near_zero():
    # Labels drawn independently of Z: the true MI is 0. Tolerance 0.05 bits (dse-dsmi 1.1 on the
    # authors' tree toy at full corruption, measured for this project: floors of -0.003..+0.07 bits
    # at t = 1; here |DSMI| <= 0.027), and within two standard errors of the spread over the R = 5
    # subset draws (sd ~ 0.07).
    rng = np.random.default_rng(0)
    Z = 3.0 * rng.standard_normal((600, 10))
    for seed in range(3):
        labels = np.random.default_rng(100 + seed).integers(0, 4, 600)
        result = diffusion_spectral_mutual_information(Z, labels)
        assert abs(result.value) < 0.05, result.value
        assert abs(result.value) < 2 * result.sd / math.sqrt(5), (result.value, result.sd)


def test_dsmi_falls_with_label_corruption_to_near_zero():
    # dse-dsmi 1.1 on the authors' tree toy (ChenLiu-1996/DiffusionSpectralEntropy,
    # src/manifold_investigation/toy_data_MI.py; k = 5 branches, n = 500, D = 20, noise 0.1), as
    # measured for this project: 1.737 at r = 0, ~0 at r = 1.
    Z, label = tree()
    values = []
    for r in (0.0, 0.3, 0.6, 1.0):
        noisy, _ = corrupt_labels(label, 5, r, np.random.default_rng(1))
        values.append(diffusion_spectral_mutual_information(Z, noisy).value)
    assert np.all(np.diff(values) < 0), values
    assert values[0] == pytest.approx(1.737, abs=0.15)
    assert abs(values[-1]) < 0.1


def test_dsmi_reports_its_spread_over_repetitions():
    Z, label = tree(per=60)
    result = diffusion_spectral_mutual_information(Z, label, n_repetitions=4)
    assert result.repetitions.shape == (4,)
    assert result.value == pytest.approx(result.repetitions.mean(), abs=1e-12)
    assert result.sd == pytest.approx(result.repetitions.std(ddof=1), abs=1e-12)
    assert result.marginal.shape == (5, 4) and result.conditional.shape == (5,)
    # Equal-sized groups share their subsets (re-seeded per group), hence their marginal entropies.
    assert np.all(result.marginal == result.marginal[0])
    sizes = result.group_sizes
    by_hand = (sizes / sizes.sum()) @ (result.marginal.mean(axis=1) - result.conditional)
    assert result.value == pytest.approx(by_hand, abs=1e-12)
    assert math.isnan(diffusion_spectral_mutual_information(Z, label, n_repetitions=1).sd)


def test_grouping_rules():
    n = 200
    rng = np.random.default_rng(0)
    ints = rng.integers(0, 3, n)
    assert reference_groups(ints).kind == "discrete"
    assert reference_groups(ints.astype(float)).kind == "discrete"  # integer-valued floats
    assert reference_groups(ints == 1).kind == "discrete"  # booleans
    assert reference_groups(np.array(["cat", "dog"] * 100)).kind == "discrete"
    binned = reference_groups(rng.standard_normal(n))
    assert binned.kind == "binned" and binned.labels.max() <= 9
    y = np.linspace(0.0, 1.0, n)
    np.testing.assert_array_equal(np.bincount(reference_groups(y, n_clusters=4).labels), [50, 50, 50, 50])
    assert reference_groups(ints.astype(float), discrete=False).kind == "binned"
    assert reference_groups(np.full(n, 2.5)).labels.max() == 0  # constant: one group
    clustered = reference_groups(rng.standard_normal((n, 6)))
    assert clustered.kind == "clustered" and clustered.labels.max() == 9


def test_vector_reference_clusters_are_returned_for_reuse():
    Z, label = tree(per=60)
    X = Z + np.random.default_rng(3).standard_normal(Z.shape)
    first = diffusion_spectral_mutual_information(Z, X, n_clusters=5)
    again = diffusion_spectral_mutual_information(Z, groups=first.groups.labels)
    assert first.groups.kind == "clustered" and again.groups.kind == "precomputed"
    assert again.value == first.value


def test_cse_saturates_at_log2_n_with_noise_and_counts_cells_without():
    # dse-dsmi 1.1 on the authors' toy design (src/manifold_investigation/toy_data_entropy.py), as
    # measured for this project: CSE (2 bins) = log2 n for every d once there is 1 % noise; ~d bits
    # (1.995 at d = 2) without noise.
    rng = np.random.default_rng(0)
    noisy = add_uniform_noise(subspace_data(500, 1, 2048, "uniform", rng), 0.01, rng)
    assert classic_shannon_entropy(noisy) == pytest.approx(math.log2(500), abs=1e-12)
    clean = subspace_data(500, 2, 2048, "uniform", np.random.default_rng(0))
    assert classic_shannon_entropy(clean) == pytest.approx(2.0, abs=0.01)


def test_cse_ignores_constant_columns():
    Z = np.random.default_rng(0).standard_normal((300, 4))
    padded = np.hstack([Z, np.full((300, 2), 7.0)])
    assert classic_shannon_entropy(padded, n_bins=3) == classic_shannon_entropy(Z, n_bins=3)


def test_csmi_uses_the_dsmi_recipe():
    Z, label = tree()
    result = classic_shannon_mutual_information(Z, label)
    assert result.measure == "csmi" and result.t is None and result.repetitions.shape == (5,)
    shuffled = classic_shannon_mutual_information(Z, np.random.default_rng(0).permutation(label))
    assert shuffled.value < result.value


def test_knn_mi_equals_scikit_learn_on_one_feature():
    # scikit-learn's mutual_info_classif applies the same (Ross 2014) estimator per feature.
    from sklearn.feature_selection import mutual_info_classif

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 400)
    z = (labels + rng.standard_normal(400))[:, None]
    sk = mutual_info_classif(z, labels, n_neighbors=3, random_state=0)[0] / math.log(2)
    assert knn_mutual_information(z, labels) == pytest.approx(sk, abs=1e-9)


def test_knn_mi_of_separated_clusters_is_log2_k():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 100)
    Z = 100.0 * np.eye(4, 6)[labels] + rng.standard_normal((400, 6))
    assert knn_mutual_information(Z, labels) == pytest.approx(2.0, abs=0.05)
    assert abs(knn_mutual_information(Z, rng.permutation(labels))) < 0.1


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda Z, y: diffusion_spectral_mutual_information(Z, y[:-1]), ValueError, "one entry per row"),
        (lambda Z, y: diffusion_spectral_mutual_information(Z), ValueError, "give the reference variable"),
        (lambda Z, y: diffusion_spectral_mutual_information(Z, groups=y[:-1]), ValueError, "one label per row"),
        (lambda Z, y: diffusion_spectral_mutual_information(Z, np.where(y > 0, np.nan, 0.5)), ValueError, "NaN"),
        (lambda Z, y: diffusion_spectral_mutual_information(Z, y, n_repetitions=0), ValueError, "n_repetitions"),
        (lambda Z, y: diffusion_spectral_mutual_information(Z, np.c_[y, y], discrete=True), ValueError, "1-column"),
        (lambda Z, y: diffusion_spectral_mutual_information(Z, y, t=-2), ValueError, "t must be"),
        (lambda Z, y: classic_shannon_entropy(Z, n_bins=0), ValueError, "n_bins"),
        (lambda Z, y: knn_mutual_information(Z, np.arange(len(Z))), ValueError, "single sample"),
    ],
)
def test_bad_inputs_give_clear_errors(call, error, match):
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((40, 3))
    y = rng.integers(0, 2, 40)
    with pytest.raises(error, match=match):
        call(Z, y)
