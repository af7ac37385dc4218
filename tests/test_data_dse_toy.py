"""Tests of the ``dse_toy`` source: the DSE paper's subspace, tree and blob families."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import stats

from repgeo.data import DataError, load_dataset
from repgeo.data import dse_toy as toy

LOG = logging.getLogger("test")


def _spec(**kw):
    return {"source": "dse_toy", "seed": 0, **kw}


# --------------------------------------------------------------------- uniform / gaussian


@pytest.mark.parametrize("family", ["uniform", "gaussian"])
def test_subspace_families_values(family):
    ds = load_dataset(_spec(family=family, n=400, dim=7, ambient_dim=300, noise=0.0), LOG)
    x = ds.arrays
    assert x.shape == (400, 300)
    # coordinates 8..D hold exactly one shared value
    constant = x[:, 7:]
    assert np.unique(constant).size == 1
    assert constant[0, 0] != 0.0
    # the first d coordinates have the family's distribution
    ref = stats.uniform(loc=-1, scale=2).cdf if family == "uniform" else "norm"
    for j in range(7):
        assert stats.kstest(x[:, j].astype(np.float64), ref).pvalue > 1e-3
    # and they are independent draws, not copies
    assert np.abs(np.corrcoef(x[:, :7].T) - np.eye(7)).max() < 0.2
    assert (ds.samples["true_dim"] == 7).all()
    assert ds.info["dim"] == 7 and ds.info["ambient_dim"] == 300


def test_subspace_noise_is_uniform_with_the_requested_scale():
    spec = _spec(family="uniform", n=200, dim=3, ambient_dim=500)
    clean = load_dataset({**spec, "noise": 0.0}, LOG).arrays
    noisy = load_dataset({**spec, "noise": 0.1}, LOG).arrays
    e = (noisy.astype(np.float64) - clean.astype(np.float64)).ravel()
    # noise is added to every coordinate, the constant ones included, as 0.1 * U[-1, 1]
    assert np.abs(e).max() <= 0.1 + 1e-6
    assert e.std() == pytest.approx(0.1 / np.sqrt(3), rel=0.02)
    assert stats.kstest(e[:20000] / 0.1, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-3
    assert np.unique(noisy[:, 3:]).size > 1000


def test_subspace_defaults_follow_the_paper():
    ds = load_dataset(_spec(family="gaussian", n=50), LOG)
    assert ds.arrays.shape == (50, 2048)
    assert ds.info["dim"] == 10 and ds.info["noise"] == 0.01
    # the constant coordinates differ from each other only by the noise 0.01 * U[-1, 1]
    tail = ds.arrays[:, 10:]
    assert tail.max() - tail.min() <= 0.02 + 1e-6


def test_dim_equal_to_ambient_has_no_constant_block():
    x = toy.subspace_data(100, 5, 5, "uniform", np.random.default_rng(0))
    assert np.unique(x).size == 500


# ---------------------------------------------------------------------------------- tree


def test_tree_structure():
    ds = load_dataset(_spec(family="tree", n=503, branches=5, ambient_dim=20, noise=0.0), LOG)
    x = ds.arrays.astype(np.float64)
    s = ds.samples
    assert x.shape == (500, 20)  # rounded down to branches x 100
    assert ds.info["points_per_branch"] == 100
    np.testing.assert_array_equal(s["label"], np.repeat(np.arange(5), 100))
    np.testing.assert_array_equal(s["position"], np.tile(np.arange(100), 5))
    assert not s["corrupted"].any()
    anchors = ds.info["branch_anchors"]
    assert anchors[0] == -1 and all(0 <= a < 100 for a in anchors[1:])
    trunk = x[:100]
    for b in range(5):
        branch = x[100 * b : 100 * (b + 1)]
        start = np.zeros(20) if b == 0 else trunk[anchors[b]]
        walk = np.vstack([start, branch])
        steps = np.diff(walk, axis=0)
        # every step, the first one from the start point included, is in [-1, 1]^D
        assert np.abs(steps).max() <= 1.0 + 1e-5
        # and the steps are U[-1, 1]: mean square 1/3
        assert np.mean(steps**2) == pytest.approx(1 / 3, rel=0.05)
    # the branch starts lie on branch 0: the anchor is a point of the trunk, one step away
    for b in range(1, 5):
        assert np.abs(x[100 * b] - trunk[anchors[b]]).max() <= 1.0 + 1e-5


def test_tree_function_matches_a_direct_walk():
    rng = np.random.default_rng(3)
    x, label, position, anchors = toy.random_walk_tree(4, 3, 2, rng)
    rng = np.random.default_rng(3)
    trunk = np.cumsum(rng.uniform(-1, 1, (4, 2)), axis=0)
    expected = [trunk]
    for b in range(1, 3):
        a = rng.integers(4)
        assert a == anchors[b]
        expected.append(trunk[a] + np.cumsum(rng.uniform(-1, 1, (4, 2)), axis=0))
    np.testing.assert_array_equal(x, np.vstack(expected))
    np.testing.assert_array_equal(label, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(position, [0, 1, 2, 3] * 3)


@pytest.mark.parametrize("family", ["tree", "blobs"])
def test_label_corruption(family):
    base = load_dataset(_spec(family=family, n=1000, noise=0.05), LOG)
    ds = load_dataset(_spec(family=family, n=1000, noise=0.05, corruption=0.3), LOG)
    s = ds.samples
    k = 5
    assert s["corrupted"].sum() == 300 and ds.info["n_corrupted"] == 300
    clean = ~s["corrupted"]
    np.testing.assert_array_equal(s.loc[clean, "label"], s.loc[clean, "true_label"])
    np.testing.assert_array_equal(s["true_label"], base.samples["label"])
    # new labels are uniform over all k labels, so about 1/k of the corrupted keep their label
    new = s.loc[s["corrupted"], "label"].to_numpy()
    counts = np.bincount(new, minlength=k)
    assert stats.chisquare(counts).pvalue > 1e-3
    same = (new == s.loc[s["corrupted"], "true_label"].to_numpy()).mean()
    assert same == pytest.approx(1 / k, abs=0.07)
    # the points do not depend on the corruption
    np.testing.assert_array_equal(ds.arrays, base.arrays)


def test_corruption_sets_are_nested_and_extremes():
    labels = np.repeat(np.arange(4), 25)
    lo, c_lo = toy.corrupt_labels(labels, 4, 0.2, np.random.default_rng(9))
    hi, c_hi = toy.corrupt_labels(labels, 4, 0.6, np.random.default_rng(9))
    assert c_lo.sum() == 20 and c_hi.sum() == 60
    assert np.all(c_hi[c_lo]) and np.array_equal(lo[c_lo], hi[c_lo])
    full, c_full = toy.corrupt_labels(labels, 4, 1.0, np.random.default_rng(9))
    assert c_full.all()
    none, c_none = toy.corrupt_labels(labels, 4, 0.0, np.random.default_rng(9))
    assert not c_none.any() and np.array_equal(none, labels)


# --------------------------------------------------------------------------------- blobs


def test_blob_sizes_means_and_spread():
    rng = np.random.default_rng(2)
    x, label, centres = toy.gaussian_blobs(1003, 4, 6, 0.5, 10.0, rng)
    np.testing.assert_array_equal(np.bincount(label), [251, 251, 251, 250])
    assert np.abs(centres).max() <= 10.0
    for i in range(4):
        pts = x[label == i]
        # mean within 5 standard errors of the centre, per coordinate
        assert np.abs(pts.mean(axis=0) - centres[i]).max() < 5 * 0.5 / np.sqrt(len(pts))
        assert pts.std(axis=0).mean() == pytest.approx(0.5, rel=0.05)


def test_blobs_source_uses_the_centres_in_info():
    ds = load_dataset(_spec(family="blobs", n=600, centers=3, cluster_std=0.3, noise=0.0), LOG)
    centres = np.array(ds.info["centres"])
    assert centres.shape == (3, 20)
    x = ds.arrays.astype(np.float64)
    labels = ds.samples["true_label"].to_numpy()
    for i in range(3):
        assert np.abs(x[labels == i].mean(axis=0) - centres[i]).max() < 5 * 0.3 / np.sqrt(200)
    # every point is nearest to its own centre (std 0.3 against a box of 10)
    nearest = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, labels)


# ----------------------------------------------------------------- common contract, errors


@pytest.mark.parametrize("family", ["uniform", "gaussian", "tree", "blobs"])
def test_determinism_ids_and_split(family):
    spec = _spec(family=family, n=100, ambient_dim=30, corruption=0.2, test_fraction=0.3)
    a, b = load_dataset(spec, LOG), load_dataset(spec, LOG)
    assert np.array_equal(a.arrays, b.arrays) and a.samples.equals(b.samples)
    other = load_dataset({**spec, "seed": 1}, LOG)
    assert not np.array_equal(a.arrays, other.arrays)
    assert a.arrays.dtype == np.float32
    assert a.samples["id"].iloc[0] == "p00000" and a.samples["id"].is_unique
    assert (a.samples["split"] == "test").sum() == 30


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"family": "uniform", "dim": 30, "ambient_dim": 20}, "dim 30 exceeds ambient_dim 20"),
        ({"family": "tree", "n": 3, "branches": 5}, "smaller than branches"),
        ({"family": "blobs", "n": 3, "centers": 5}, "smaller than centers"),
        ({"family": "spiral"}, "unknown dse_toy family"),
        ({"family": "tree", "corruption": 1.5}, "corruption must be in"),
        ({"family": "gaussian", "noise": -1.0}, "noise must be >= 0"),
    ],
)
def test_bad_specs_raise_clear_errors(spec, message):
    with pytest.raises(DataError, match=message):
        toy.dse_toy({"source": "dse_toy", **spec}, LOG)
