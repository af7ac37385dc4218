"""The inversion branch through the workflow: artifacts against the library, the branch's numbers, reruns, bad layer names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from repgeo import io

from workflow_helpers import planned_jobs, snakemake, variant_of, write_config

pytestmark = pytest.mark.workflow

TINY = {
    "threads": {"data": 1, "training": 1, "entropy": 1, "plot": 1},
    "datasets": {
        "rgb": {
            "source": "natural_images",
            "mode": "patches",
            "grayscale": False,
            "patch_size": 16,
            "n": 600,
            "images": ["astronaut", "coffee", "chelsea"],
        }
    },
    "inversion": {
        "tiny": {
            "dataset": "rgb",
            "arch": "vgg_small",
            "width": 8,
            "layers": ["pool1", "pool2"],
            "training": {"epochs": 2, "batch_size": 64, "optimiser": "adam", "lr": 0.001, "weight_decay": 0.0},
            "statistics": {"n_images": 100, "channels": 2},
            "inverters": {"epochs": 6, "lr": 0.003, "regimes": ["separate", "end_to_end"], "n_show": 4},
            "priors": {
                "patch_size": 4,
                "n_patches": 2000,
                "steps": 150,
                "experts": ["ica"],
                "feature_layers": ["pool1"],
            },
            "preimage": {
                "n_images": 2,
                "search_images": 1,
                "methods": ["tv", "ica", "ica_features"],
                "iterations": [60, 10],
                "weight_grid": [0.01, 1.0],
            },
        }
    },
}


@pytest.fixture(scope="module")
def inv_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("inversion")
    write_config(work, TINY)
    snakemake(work, "--cores", "2")
    return work


def test_network_statistics_and_priors_equal_the_library(inv_run):
    from repgeo.inversion.feature_stats import covariance_statistics
    from repgeo.inversion.networks import load_network

    base = inv_run / "results/inversion/tiny"
    net = load_network(base / "network.pt")
    assert net.arch == "vgg_small" and net.width == 8
    history = io.read_parquet(base / "network_history.parquet")
    assert list(history["epoch"]) == [1, 2] and history["test_accuracy"].between(0, 1).all()
    assert net.meta["test_accuracy"] == pytest.approx(history["test_accuracy"].iloc[-1])
    samples = io.read_parquet(inv_run / "results/data/rgb/samples.parquet")
    X = torch.as_tensor(io.load_tensor(inv_run / "results/data/rgb/arrays.pt"))
    test = X[torch.as_tensor(np.flatnonzero(samples["split"].to_numpy() == "test"))][:100]
    with torch.no_grad():
        F = net.features(test, "pool1").numpy()
    direct = covariance_statistics(F, channels=[0, 1], border=1).summary("pool1")
    table = io.read_parquet(base / "statistics/pool1.parquet")
    assert np.allclose(table["off_toeplitz_share"], direct["off_toeplitz_share"], rtol=1e-6, equal_nan=True)
    assert (table["n_features"] == 2 * 8 * 8).all()
    sparsity = io.read_parquet(base / "statistics/pool1_sparsity.parquet")
    assert set(sparsity["layer"]) == {"pool1"} and len(sparsity) == 8 + 1
    prior = io.load_tensor(base / "priors/ica.pt")
    assert prior["patch_size"] == 4 and prior["channels"] == 3
    assert (
        io.read_parquet(base / "priors/ica_history.parquet")["loss"].iloc[-1]
        < io.read_parquet(base / "priors/ica_history.parquet")["loss"].iloc[0]
    )


def test_inverters_beat_the_mean_image_and_tables_hold_every_method(inv_run):
    base = inv_run / "results/inversion/tiny"
    inv = io.read_parquet(base / "inverters.parquet")
    assert set(zip(inv["regime"], inv["layer"], strict=True)) == {
        (r, layer) for r in ("separate", "end_to_end") for layer in ("pool1", "pool2")
    }
    means = inv.groupby(["regime", "layer"])[["mse", "baseline_mse"]].mean()
    assert (means["mse"] < means["baseline_mse"]).all(), means
    table = io.read_parquet(base / "comparison.parquet")
    assert set(table["method"]) == {"tv", "ica", "ica_features", "inverter_separate", "inverter_end_to_end"}
    assert list(dict.fromkeys(table["layer"])) == ["pool1", "pool2"]
    for method in ("tv", "ica"):
        for layer in ("pool1", "pool2"):
            pre = io.read_parquet(base / f"preimages/{method}/{layer}.parquet")
            assert len(pre) == 2 and pre["normalised_error"].notna().all()
            row = table[(table["method"] == method) & (table["layer"] == layer)].iloc[0]
            assert row["ssim_mean"] == pytest.approx(pre["ssim"].mean()) and row["mse_count"] == 2
    search = io.read_parquet(base / "preimages/ica/pool1_search.parquet")
    assert list(search["weight"]) == [0.01, 1.0] and search["selected"].sum() == 1
    chosen = io.read_parquet(base / "preimages/ica/pool1.parquet")["prior_weight"].iloc[0]
    assert chosen == search.loc[search["selected"], "weight"].iloc[0]
    # ica_features: the image prior at the weight its own search chose, plus the pool1 feature-map
    # prior (searched) when inverting pool2; at pool1 no feature layer comes before.
    for layer, feature_layers in (("pool1", ""), ("pool2", "pool1")):
        feats = io.read_parquet(base / f"preimages/ica_features/{layer}.parquet")
        assert (feats["feature_prior_layers"] == feature_layers).all()
        ica_search = io.read_parquet(base / f"preimages/ica/{layer}_search.parquet")
        feature_search = io.read_parquet(base / f"preimages/ica_features/{layer}_search.parquet")
        if layer == "pool1":
            assert feats["prior_weight"].iloc[0] == ica_search.loc[ica_search["selected"], "weight"].iloc[0]
            assert list(feature_search["n_images"]) == [0]
        else:
            assert list(feature_search["weight"]) == [0.01, 1.0] and feature_search["selected"].sum() == 1
    feature_prior = io.load_tensor(base / "priors/ica/pool1.pt")
    assert feature_prior["layer"] == "pool1" and feature_prior["channels"] == 8 and feature_prior["patch_size"] == 3
    images = io.load_tensor(base / "preimages/tv/pool1.pt")
    assert images["preimages"].shape == images["originals"].shape == (2, 3, 16, 16)
    for png in ("comparison.png", "preimages.png", "inverters.png", "statistics/pool2.png", "priors/ica.png"):
        assert (base / png).stat().st_size > 5000, png


def test_a_finished_run_plans_nothing(inv_run):
    assert planned_jobs(inv_run) == {}


def test_preimage_and_inverter_settings_rerun_only_their_stages(inv_run, tmp_path):
    def more_iterations(cfg):
        cfg["inversion"]["tiny"]["preimage"]["iterations"] = [70, 10]

    jobs = planned_jobs(variant_of(inv_run, tmp_path / "a", TINY, more_iterations))
    assert set(jobs) == {"inversion_preimage", "inversion_tables", "all"}, jobs

    def inverter_epochs(cfg):
        cfg["inversion"]["tiny"]["inverters"]["epochs"] = 7

    jobs = planned_jobs(variant_of(inv_run, tmp_path / "b", TINY, inverter_epochs))
    assert set(jobs) == {"inversion_inverter", "inversion_inverter_tables", "inversion_tables", "all"}, jobs


def test_a_layer_the_network_does_not_have_is_refused_before_any_job(tmp_path):
    cfg = {**TINY, "inversion": {"tiny": {**TINY["inversion"]["tiny"], "layers": ["pool1", "conv9"]}}}
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, "-n", check=False)
    assert out.returncode != 0
    assert "['conv9'] are not layers of vgg_small; valid names: conv1_1" in out.stdout + out.stderr


def test_comparison_table_columns(inv_run):
    table = pd.read_parquet(inv_run / "results/inversion/tiny/comparison.parquet")
    for col in ("mse_mean", "mse_std", "psnr_mean", "ssim_mean", "normalised_error_mean", "family"):
        assert col in table.columns
