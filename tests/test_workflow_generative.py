"""The generative branch through the workflow: artifacts against the library, reruns, resume."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from repgeo import io

from workflow_helpers import planned_jobs, snakemake, variant_of, write_config

pytestmark = pytest.mark.workflow

MODELS = ["ae", "scfwae", "cwae"]
TINY = {
    "threads": {"data": 1, "training": 1, "entropy": 1, "plot": 1},
    "datasets": {"digits": {"source": "sklearn_digits"}},
    "generative": {
        "digits": {
            "dataset": "digits",
            "models": MODELS,
            "latent_dim": 4,
            "width": 32,
            "epochs": 4,
            "eval_every": 2,
            "evaluation": {
                "n_generated": 300,
                "kid_subsets": 5,
                "kid_subset_size": 100,
                "cw_subset_size": 200,
                "cw_repeats": 2,
            },
            "feature_net": {"arch": "mlp", "width": 32, "hidden": 1, "epochs": 3},
            "sheets": {"rows": 4, "columns": 5},
        }
    },
}


@pytest.fixture(scope="module")
def gen_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("generative")
    write_config(work, TINY)
    snakemake(work, "--cores", "2")
    return work


def _variant(run, tmp_path, change):
    return variant_of(run, tmp_path / "variant", TINY, lambda cfg: change(cfg["generative"]["digits"]))


def test_metrics_equal_the_library_on_the_snapshots(gen_run):
    from repgeo.generative.evaluation import evaluate_epoch
    from repgeo.stages.generative import eval_settings, load_feature_net, load_snapshots

    base = gen_run / "results/generative/digits"
    samples = io.read_parquet(gen_run / "results/data/digits/samples.parquet")
    X = io.load_tensor(gen_run / "results/data/digits/arrays.pt")
    X_test = X[torch.as_tensor(np.flatnonzero(samples["split"].to_numpy() == "test"))]
    net, accuracy, version = load_feature_net(str(base / "feature_net/model.pt"))
    real = {"classifier": net.features(X_test)}
    settings = eval_settings(TINY["generative"]["digits"])
    for model in MODELS:
        metrics = io.read_parquet(base / model / "metrics.parquet")
        assert list(metrics["epoch"]) == [0, 2, 4]
        cfg, snaps = load_snapshots(str(base / model / "snapshots.pt"))
        assert cfg.model == model and sorted(snaps) == [0, 2, 4]
        direct = evaluate_epoch(snaps[4], 4, X_test, [net], real, settings)
        row = metrics[metrics["epoch"] == 4].iloc[0]
        for k, v in direct.items():
            assert row[k] == pytest.approx(v, rel=1e-6), (model, k)
        assert (metrics["feature_net_version"] == version).all() and (metrics["feature_net_accuracy"] == accuracy).all()
        history = io.read_parquet(base / model / "history.parquet")
        assert list(history["epoch"]) == [0, 1, 2, 3, 4] and np.isfinite(history["loss"].iloc[1:]).all()
    # Training moved the codes: the reconstruction error fell for every model.
    curves = io.read_parquet(base / "curves.parquet")
    first, last = (curves[curves["epoch"] == e].set_index("model")["reconstruction_error"] for e in (0, 4))
    assert (last < first).all()


def test_table_and_figures(gen_run):
    base = gen_run / "results/generative/digits"
    table = io.read_parquet(base / "table.parquet")
    assert list(table["model"]) == MODELS and (table["epoch"] == 4).all() and (table["dataset"] == "digits").all()
    curves = io.read_parquet(base / "curves.parquet")
    pd.testing.assert_frame_equal(table, curves[curves["epoch"] == 4].reset_index(drop=True), check_like=True)
    html = (base / "table.html").read_text()
    assert all(m in html for m in MODELS) and "not FID" in html
    accuracy = io.read_parquet(base / "feature_net/history.parquet")["test_accuracy"].iloc[-1]
    assert table["feature_net_accuracy"].iloc[0] == pytest.approx(accuracy)
    for name in ("curves", "reconstructions", "samples", "interpolations"):
        assert (base / f"{name}.png").stat().st_size > 10_000, name


def test_a_finished_run_plans_nothing(gen_run):
    assert planned_jobs(gen_run) == {}


def test_report_shows_the_generative_branch(gen_run):
    snakemake(gen_run, "--report", "report.html")
    html = (gen_run / "report.html").read_text(errors="replace")
    for name in ("curves.png", "table.html", "reconstructions.png", "samples.png", "interpolations.png"):
        assert name in html, name


def test_evaluation_and_sheet_settings_rerun_no_training(gen_run, tmp_path):
    work = _variant(gen_run, tmp_path, lambda e: e["evaluation"].update(kid_subsets=6))
    assert planned_jobs(work) == {"generative_evaluate": 3, "generative_tables": 1, "all": 1}
    work = _variant(gen_run, tmp_path / "sheets", lambda e: e["sheets"].update(seed=3))
    assert planned_jobs(work) == {"generative_tables": 1, "all": 1}


def test_more_epochs_continue_the_training(gen_run, tmp_path):
    work = _variant(gen_run, tmp_path, lambda e: e.update(epochs=6))
    assert planned_jobs(work) == {"generative_train": 3, "generative_evaluate": 3, "generative_tables": 1, "all": 1}
    before = io.read_parquet(work / "results/generative/digits/scfwae/history.parquet")
    snakemake(work, "--cores", "2", "results/generative/digits/scfwae/history.parquet")
    log = (work / "results/logs/generative_train/digits/scfwae.log").read_text()
    assert "resuming" in log and "epoch 5/6" in log and "epoch 1/6" not in log
    after = io.read_parquet(work / "results/generative/digits/scfwae/history.parquet")
    assert list(after["epoch"]) == list(range(7))
    pd.testing.assert_frame_equal(after.iloc[:5].drop(columns="seconds"), before.drop(columns="seconds"))
