"""Training of the sliced generative autoencoders: the cost, learning, resumption, and codes that
the distance term pulls towards N(0, I) (issue 7, acceptance)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from repgeo.generative.distances import sliced_wasserstein_to_normal
from repgeo.generative.evaluation import EvalSettings, encode, evaluate_epoch, latent_metrics
from repgeo.generative.training import (
    LOG_EPSILON,
    MODELS,
    AutoencoderConfig,
    cost,
    load_snapshot,
    train_autoencoder,
)

LOG = logging.getLogger("test")


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    X = torch.as_tensor((d.data / 16.0).reshape(-1, 1, 8, 8), dtype=torch.float32)
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(0))
    return X[perm[:1400]], X[perm[1400:]]


def test_cost_is_reconstruction_plus_weighted_log_distance():
    rec, dist = torch.tensor(12.5), torch.tensor(0.02)
    cfg = AutoencoderConfig(model="scfwae", weight=2.0)
    assert float(cost(rec, dist, cfg)) == pytest.approx(12.5 + 2.0 * math.log(0.02 + LOG_EPSILON), rel=1e-6)
    assert float(cost(rec, dist, AutoencoderConfig(model="scfwae", cost="linear", weight=3.0))) == pytest.approx(
        12.5 + 0.06, rel=1e-6
    )
    assert float(cost(rec, None, AutoencoderConfig(model="ae"))) == 12.5


@pytest.mark.parametrize("model", MODELS)
def test_a_few_epochs_reduce_the_cost(model, digits, tmp_path):
    X, _ = digits
    cfg = AutoencoderConfig(model=model, latent_dim=8, epochs=3, batch_size=128, eval_every=3)
    res = train_autoencoder(X, cfg, tmp_path, LOG)
    h = res.history
    assert list(h["epoch"]) == [0, 1, 2, 3]
    assert h["loss"].iloc[3] < h["loss"].iloc[1]
    assert h["reconstruction"].iloc[3] < h["reconstruction"].iloc[1]
    assert (model == "ae") == bool(h["distance"].iloc[1:].isna().all())
    assert [p.name for p in res.snapshots] == ["epoch00000.pt", "epoch00003.pt"]


def test_resumed_training_equals_an_uninterrupted_one(digits, tmp_path):
    X, _ = digits
    whole = train_autoencoder(
        X, AutoencoderConfig(model="swae", latent_dim=4, epochs=4, eval_every=2), tmp_path / "a", LOG
    )
    train_autoencoder(X, AutoencoderConfig(model="swae", latent_dim=4, epochs=2, eval_every=2), tmp_path / "b", LOG)
    resumed = train_autoencoder(
        X, AutoencoderConfig(model="swae", latent_dim=4, epochs=4, eval_every=2), tmp_path / "b", LOG
    )
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    np.testing.assert_array_equal(whole.history["loss"].to_numpy(), resumed.history["loss"].to_numpy())
    _, epoch, snap = load_snapshot(tmp_path / "b" / "snapshots" / "epoch00004.pt")
    assert epoch == 4
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, snap.state_dict()[k]), k


def test_resume_refuses_other_data(digits, tmp_path):
    X, _ = digits
    train_autoencoder(X, AutoencoderConfig(model="ae", latent_dim=4, epochs=1), tmp_path, LOG)
    with pytest.raises(ValueError, match="another run or other data"):
        train_autoencoder(X[:-5], AutoencoderConfig(model="ae", latent_dim=4, epochs=2), tmp_path, LOG)


def test_bad_images_are_refused(tmp_path):
    X = torch.rand(200, 1, 8, 8)
    X[3, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinite"):
        train_autoencoder(X, AutoencoderConfig(model="ae", epochs=1), tmp_path, LOG)
    with pytest.raises(ValueError, match=r"scale the images to \[0, 1\]"):
        train_autoencoder(torch.rand(200, 1, 8, 8) * 255, AutoencoderConfig(model="ae", epochs=1), tmp_path, LOG)
    with pytest.raises(ValueError, match="fewer than batch_size"):
        train_autoencoder(torch.rand(20, 1, 8, 8), AutoencoderConfig(model="ae", epochs=1), tmp_path, LOG)
    with pytest.raises(ValueError, match="model must be one of"):
        AutoencoderConfig(model="vae").validate()


def test_sliced_models_bring_the_codes_closer_to_the_prior_than_the_plain_autoencoder(digits, tmp_path):
    """Issue 7 acceptance: on digits, the sliced W2 distance of the test codes to N(0, I) of a
    trained SCFWAE (and SWAE) is well below that of the plain AE with the same architecture and seed."""
    X, X_test = digits
    dist = {}
    for model in ("ae", "scfwae", "swae"):
        res = train_autoencoder(
            X, AutoencoderConfig(model=model, latent_dim=8, epochs=15, eval_every=15), tmp_path / model, LOG
        )
        Z = encode(res.model, X_test).double()
        dist[model] = float(
            sliced_wasserstein_to_normal(Z, n_projections=200, repeats=10, generator=torch.Generator().manual_seed(1))
        )
    assert dist["scfwae"] < 0.25 * dist["ae"], dist
    assert dist["swae"] < 0.25 * dist["ae"], dist
    assert dist["scfwae"] < 0.2, dist


def test_latent_metrics_of_prior_samples_are_near_their_targets():
    Z = np.random.default_rng(0).standard_normal((2000, 4))
    m = latent_metrics(Z, EvalSettings(), seed=0)
    D = 4
    assert m["mardia_skewness"] < 0.1
    assert abs(m["mardia_kurtosis_normalised"]) < 0.1 * D * (D + 2)  # signed b2 - D(D+2)
    assert m["mardia_test_skewness_p"] > 0.001 and m["mardia_test_kurtosis_p"] > 0.001
    assert m["sw_latent"] < 0.01
    shifted = latent_metrics(Z * 1.5 + 0.3, EvalSettings(), seed=0)
    for k in ("mardia_skewness", "mardia_kurtosis_normalised", "sw_latent", "cw_latent"):
        assert abs(shifted[k]) > 5 * abs(m[k]), k


def test_evaluate_epoch_reports_every_metric(digits, tmp_path):
    from repgeo.generative.quality import FeatureNet
    from repgeo.training.models import build_model

    X, X_test = digits
    res = train_autoencoder(X, AutoencoderConfig(model="scwae", latent_dim=6, epochs=2, eval_every=2), tmp_path, LOG)
    torch.manual_seed(0)
    net = FeatureNet(build_model("mlp", (1, 8, 8), 10, 16, 1).eval(), name="classifier")
    real = {"classifier": net.features(X_test)}
    settings = EvalSettings(n_generated=300, kid_subsets=5, kid_subset_size=100, cw_subset_size=200, cw_repeats=2)
    row = evaluate_epoch(res.model, 2, X_test, [net], real, settings)
    for k in ("reconstruction_error", "mardia_skewness", "mardia_kurtosis", "mardia_kurtosis_normalised", "mardia_test_skewness_p",
              "sw_latent", "cw_latent", "fd_classifier", "kid_classifier", "sw_pixels"):  # fmt: skip
        assert np.isfinite(row[k]), k
    assert row == evaluate_epoch(res.model, 2, X_test, [net], real, settings)  # seeded: the same numbers again


def test_rank_deficient_codes_leave_only_the_standardised_mardia_test_undefined():
    # Dead ReLUs before a conv encoder's last layer make codes span fewer than D dimensions.
    Z = np.random.default_rng(1).standard_normal((500, 6))
    Z[:, 5] = Z[:, 0] - Z[:, 1]
    m = latent_metrics(Z, EvalSettings(cw_subset_size=300, cw_repeats=1), seed=0)
    assert all(
        np.isnan(m[k])
        for k in ("mardia_test_skewness", "mardia_test_skewness_p", "mardia_test_kurtosis", "mardia_test_kurtosis_p")
    )
    assert all(np.isfinite(m[k]) for k in ("mardia_skewness", "mardia_kurtosis", "sw_latent", "cw_latent"))


def test_compile_changes_neither_the_run_identity_nor_accepts_non_booleans():
    from dataclasses import replace

    from repgeo.generative.training import AutoencoderConfig, run_identity

    cfg = AutoencoderConfig(model="scwae")
    assert run_identity(replace(cfg, compile=True)) == run_identity(cfg)
    with pytest.raises(ValueError, match="compile must be true or false"):
        replace(cfg, compile="yes").validate()
