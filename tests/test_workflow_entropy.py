"""Training with entropy tracking through the workflow: artifacts against the library, reruns, resume."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pandas as pd
import pytest

from repgeo import io
from repgeo.entropy import (
    classic_shannon_entropy,
    classic_shannon_mutual_information,
    cluster_reference,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
)

from workflow_helpers import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.workflow

TINY = {
    "threads": {"data": 1, "training": 1, "entropy": 1, "plot": 1},
    "datasets": {"digits": {"source": "sklearn_digits", "n": 400}},
    "training": {
        "digits": {
            "dataset": "digits",
            "arch": "small_cnn",
            "modes": ["supervised", "random_labels", "contrastive"],
            "seeds": [0],
            "epochs": 2,
            "batch_size": 32,
            "width": 8,
            "eval_n": 60,
            "entropy": {"n_repetitions": 3, "n_clusters": 4},
        }
    },
    "entropy_init": {
        "digits": {
            "dataset": "digits",
            "init_stds": [0.01, 1.0],
            "seeds": [0],
            "epochs": 2,
            "batch_size": 32,
            "width": 8,
            "eval_n": 60,
            "entropy": {"n_repetitions": 2},
        }
    },
    "entropy_zoo": {
        "digits": {
            "dataset": "digits",
            "archs": ["mlp", "small_cnn"],
            "widths": [8],
            "epochs": [0, 2],
            "batch_size": 32,
            "eval_n": 60,
            "external": [{"name": "tv", "arch": "resnet18", "state_dict": "resnet18_digits.pt"}],
            "entropy": {"n_repetitions": 2, "n_clusters": 4},
        }
    },
    "entropy_toys": {
        "dimension": {"dims": [1, 5, 20], "noises": [0.0, 0.1], "n": 100, "ambient_dim": 64, "seeds": 2, "ts": [1, 2]},
        "spd": {"n": 50, "seeds": 2},
        "tree": {"branches": [2, 3], "corruptions": [0.0, 0.5, 1.0], "points_per_branch": 30, "trees": 2},
        "runtime": {"ns": [200, 400], "methods": ["float64", "float32", "cse"]},
    },
}
RUNS = [("supervised", 0), ("random_labels", 0), ("contrastive", 0)]


def _external_model(work):
    """A torchvision ResNet-18 state dict for the 10 digit classes (random weights: a user's file)."""
    import torch
    import torchvision

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), work / "resnet18_digits.pt")


@pytest.fixture(scope="module")
def entropy_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("entropy")
    _external_model(work)
    write_config(work, TINY)
    snakemake(work, "--cores", "2")
    return work


def _variant(run, tmp_path, change, section="training"):
    """A copy of the finished run with ``change`` applied to one entry ('digits'; for entropy_toys: 'spd')."""
    work = tmp_path / "variant"
    shutil.copytree(run, work, symlinks=True)
    cfg = copy.deepcopy(TINY)
    change(cfg[section]["spd" if section == "entropy_toys" else "digits"])
    write_config(work, cfg)
    return work


def test_trajectory_has_every_run_epoch_and_column(entropy_run):
    table = io.read_parquet(entropy_run / "results/entropy/digits/trajectory.parquet")
    for col in (
        "model",
        "dataset",
        "mode",
        "seed",
        "epoch",
        "accuracy",
        "dse",
        "dsmi_zy",
        "dsmi_zx",
        "cse",
        "csmi_zy",
        "csmi_zx",
        "sigma",
        "t",
    ):
        assert col in table.columns, col
    assert sorted(set(zip(table["mode"], table["seed"], strict=True))) == sorted(RUNS)
    assert sorted(table["epoch"].unique()) == [0, 1, 2]
    assert (table["model"] == "small_cnn").all() and (table["n_eval"] == 60).all()
    assert (entropy_run / "results/entropy/digits/trajectory.png").stat().st_size > 10_000
    log = (entropy_run / "results/logs/train_classifier/digits/supervised/seed0.log").read_text()
    assert "epoch 2/2" in log  # progress per epoch in the job's log


def test_trajectory_numbers_equal_the_library_on_the_saved_embeddings(entropy_run):
    """Cached spectra + t give exactly what the direct estimators give on the embeddings."""
    w = entropy_run
    table = (
        io.read_parquet(w / "results/entropy/digits/trajectory.parquet")
        .set_index(["mode", "seed", "epoch"])
        .sort_index()
    )
    x_groups = io.read_parquet(w / "results/entropy/digits/x_groups.parquet")["x_group"].to_numpy()
    for mode, seed in RUNS:
        emb = io.load_tensor(w / f"results/training/digits/{mode}/seed{seed}/embeddings.pt")
        Z, labels = emb["Z"].double().numpy(), emb["labels"].numpy()
        history = io.read_parquet(w / f"results/training/digits/{mode}/seed{seed}/history.parquet")
        for epoch in (0, 2):
            row = table.loc[(mode, seed, epoch)]
            assert row["dse"] == pytest.approx(diffusion_spectral_entropy(Z[epoch]), abs=1e-9)
            mi_y = diffusion_spectral_mutual_information(Z[epoch], labels, discrete=True, n_repetitions=3)
            mi_x = diffusion_spectral_mutual_information(Z[epoch], groups=x_groups, n_repetitions=3)
            assert row["dsmi_zy"] == pytest.approx(mi_y.value, abs=1e-9)
            assert row["dsmi_zy_sd"] == pytest.approx(mi_y.sd, abs=1e-9)
            assert row["dsmi_zx"] == pytest.approx(mi_x.value, abs=1e-9)
            assert row["cse"] == pytest.approx(classic_shannon_entropy(Z[epoch]), abs=1e-12)
            csmi = classic_shannon_mutual_information(Z[epoch], groups=labels, n_repetitions=3)
            assert row["csmi_zy"] == pytest.approx(csmi.value, abs=1e-12)
            assert row["accuracy"] == pytest.approx(history.set_index("epoch").loc[epoch, "test_accuracy"])
    # Training moves the embedding away from its initialisation.
    sup = table.loc["supervised", 0]
    assert sup.loc[2, "dse"] != pytest.approx(sup.loc[0, "dse"], abs=1e-3)


def test_input_clusters_are_the_spectral_clusters_of_the_tracked_images(entropy_run):
    w = entropy_run
    xg = io.read_parquet(w / "results/entropy/digits/x_groups.parquet")
    emb = io.load_tensor(w / "results/training/digits/supervised/seed0/embeddings.pt")
    np.testing.assert_array_equal(xg["position"].to_numpy(), emb["positions"].numpy())
    X = io.load_tensor(w / "results/data/digits/arrays.pt").numpy()[xg["position"].to_numpy()]
    np.testing.assert_array_equal(xg["x_group"].to_numpy(), cluster_reference(X.reshape(len(X), -1), 4))


def test_report_shows_the_trajectory(entropy_run):
    snakemake(entropy_run, "--report", "report.html")
    html = (entropy_run / "report.html").read_text(errors="replace")
    assert "trajectory.png" in html and "Entropy during training" in html


def test_changing_t_recomputes_only_the_table_from_cached_spectra(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e["entropy"].update(t=2))
    assert planned_jobs(work) == {"entropy_trajectory": 1, "entropy_figure": 1, "all": 1}
    # Every run and epoch has its spectra cached: t = 2 from them equals t = 2 computed afresh.
    from repgeo.entropy import diffusion_spectrum
    from repgeo.entropy.tracking import ALL_ROWS

    with np.load(work / "results/entropy/digits/supervised/seed0/spectra.npz") as archive:
        cached = archive[f"e2_{ALL_ROWS}"]
    Z = io.load_tensor(work / "results/training/digits/supervised/seed0/embeddings.pt")["Z"][2].double().numpy()
    np.testing.assert_allclose(cached, diffusion_spectrum(Z).eigenvalues, atol=1e-12)


def test_changing_sigma_recomputes_the_spectra_but_trains_nothing(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e["entropy"].update(sigma="median"))
    assert planned_jobs(work) == {"entropy_spectra": 3, "entropy_trajectory": 1, "entropy_figure": 1, "all": 1}


def test_adding_a_seed_trains_only_the_new_runs(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e.update(seeds=[0, 5]))
    assert planned_jobs(work) == {
        "train_classifier": 3,
        "entropy_spectra": 3,
        "entropy_trajectory": 1,
        "entropy_figure": 1,
        "all": 1,
    }


def test_contrastive_settings_rerun_only_the_contrastive_runs(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e.update(contrastive={"temperature": 0.2}))
    assert planned_jobs(work) == {
        "train_classifier": 1,
        "entropy_spectra": 1,
        "entropy_trajectory": 1,
        "entropy_figure": 1,
        "all": 1,
    }


def test_contrastive_run_is_simclr_with_a_linear_probe(entropy_run):
    meta = io.read_parquet_metadata(entropy_run / "results/training/digits/contrastive/seed0/history.parquet")
    assert meta["config"]["mode"] == "contrastive" and meta["config"]["temperature"] == 0.5
    hist = io.read_parquet(entropy_run / "results/training/digits/contrastive/seed0/history.parquet")
    # The probe reads the labels off the learnt features: far above chance (0.1) after 2 epochs.
    assert hist["test_accuracy"].iloc[-1] > 0.3 and hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[1]


def test_changing_the_evaluation_subset_reclusters_and_retrains(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e.update(eval_n=50))
    assert planned_jobs(work) == {
        "train_classifier": 3,
        "entropy_input_groups": 1,
        "entropy_spectra": 3,
        "entropy_trajectory": 1,
        "entropy_figure": 1,
        "all": 1,
    }


def test_more_epochs_continue_from_the_checkpoint(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e.update(epochs=3))
    assert planned_jobs(work) == {
        "train_classifier": 3,
        "entropy_spectra": 3,
        "entropy_trajectory": 1,
        "entropy_figure": 1,
        "all": 1,
    }
    before = io.load_tensor(work / "results/training/digits/supervised/seed0/embeddings.pt")["Z"]
    snakemake(work, "--cores", "2")
    log = (work / "results/logs/train_classifier/digits/supervised/seed0.log").read_text()
    assert "resumed from" in log and "at epoch 2" in log and "epoch 3/3" in log and "epoch 1/3" not in log
    after = io.load_tensor(work / "results/training/digits/supervised/seed0/embeddings.pt")["Z"]
    assert after.shape[0] == 4
    np.testing.assert_array_equal(after[:3].numpy(), before.numpy())
    table = io.read_parquet(work / "results/entropy/digits/trajectory.parquet")
    assert sorted(table["epoch"].unique()) == [0, 1, 2, 3]


def test_toy_tables_are_the_library_sweeps_with_the_configured_grids(entropy_run):
    from repgeo.entropy import toys

    w = entropy_run / "results/entropy_toys"
    for toy, sweep in (
        ("dimension", toys.dimension_sweep),
        ("spd", toys.spd_identity_sweep),
        ("tree", toys.tree_corruption_sweep),
    ):
        table = io.read_parquet(w / f"{toy}.parquet")
        expected = sweep(**TINY["entropy_toys"][toy])
        pd.testing.assert_frame_equal(
            table.reset_index(drop=True), expected.reset_index(drop=True), check_exact=False, rtol=1e-12
        )
        assert (w / f"{toy}.png").stat().st_size > 10_000
    runtime = io.read_parquet(w / "runtime.parquet")
    assert sorted(zip(runtime["method"], runtime["n"], strict=True)) == sorted(
        (m, n) for m in ("float64", "float32", "cse") for n in (200, 400)
    )
    assert (runtime["seconds"] > 0).all()
    # DSE rises with the intrinsic dimension (the paper's Figure 2) in the workflow's table too.
    dim = io.read_parquet(w / "dimension.parquet")
    means = dim[(dim["t"] == 1) & (dim["noise"] == 0.0)].groupby(["family", "dim"])["dse"].mean()
    for family in ("uniform", "gaussian"):
        assert means[family].is_monotonic_increasing


def test_changing_one_toy_reruns_only_that_toy(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e.update(seeds=3), section="entropy_toys")
    assert planned_jobs(work) == {"entropy_toy": 1, "entropy_toy_figure": 1, "all": 1}


def test_initialisation_study_measures_and_trains_the_extremes(entropy_run):
    """The probe's DSE is that of a freshly initialised network; the extremes train from its argmin/argmax."""
    import torch

    from repgeo.training.models import build_model, initialise_conv

    w = entropy_run / "results/entropy_init/digits"
    initial = io.read_parquet(w / "initial.parquet")
    assert sorted(initial["init_std"]) == [0.01, 1.0]
    # Tiny weights collapse every image to nearly one point (DSE ~ 0); sd 1 spreads them.
    dse = initial.set_index("init_std")["dse"]
    assert dse[0.01] < 0.01 and dse[1.0] > 0.5
    emb = io.load_tensor(w / "lowest/seed0/embeddings.pt")
    X = io.load_tensor(entropy_run / "results/data/digits/arrays.pt")[emb["positions"]]
    torch.manual_seed(0)
    model = build_model("small_cnn", tuple(X.shape[1:]), 10, width=8)
    initialise_conv(model, 1.0, 0)
    with torch.no_grad():
        Z = model.eval().embed(X).double().numpy()
    assert dse[1.0] == pytest.approx(diffusion_spectral_entropy(Z), abs=1e-6)
    for extreme, sigma in (("lowest", 0.01), ("highest", 1.0)):
        meta = io.read_parquet_metadata(w / f"{extreme}/seed0/history.parquet")
        assert meta["config"]["init_std"] == sigma
    curves = io.read_parquet(w / "curves.parquet")
    assert set(curves["extreme"]) == {"lowest", "highest"} and sorted(curves["epoch"].unique()) == [0, 1, 2]
    assert (w / "initialisation.png").stat().st_size > 10_000


def test_model_zoo_measures_every_model_and_correlates(entropy_run):
    from scipy import stats

    w = entropy_run / "results/entropy_zoo/digits"
    models = io.read_parquet(w / "models.parquet")
    assert sorted(models["member"].unique()) == ["ext-tv", "mlp-w8", "small_cnn-w8"]
    assert len(models) == 5  # two trained members at epochs 0 and 2, one external model
    x_groups = io.read_parquet(w / "x_groups.parquet")["x_group"].to_numpy()
    for _, row in models.iterrows():
        emb = io.load_tensor(w / row["member"] / "embeddings.pt")
        Z = emb["Z"][row["epoch"]].double().numpy()
        # The zoo's default bandwidth is sigma = sqrt(D) per model (DSE paper, Figure 10).
        sigma = np.sqrt(Z.shape[1])
        assert (row["dim"], row["sigma"]) == (Z.shape[1], pytest.approx(sigma))
        assert row["dse"] == pytest.approx(diffusion_spectral_entropy(Z, sigma=sigma), abs=1e-9)
        mi_x = diffusion_spectral_mutual_information(Z, sigma=sigma, groups=x_groups, n_repetitions=2)
        assert row["dsmi_zx"] == pytest.approx(mi_x.value, abs=1e-9)
    ext = io.load_tensor(w / "ext-tv/embeddings.pt")["Z"]
    assert tuple(ext.shape) == (1, 60, 512)  # resnet18's pooled features of the 60 tracked digits
    corr = io.read_parquet(w / "correlations.parquet").set_index("measure")
    r, p = stats.pearsonr(models["dse"], models["accuracy"])
    assert corr.loc["dse", "pearson_r"] == pytest.approx(r) and corr.loc["dse", "pearson_p"] == pytest.approx(p)
    assert corr.loc["dse", "spearman_rho"] == pytest.approx(stats.spearmanr(models["dse"], models["accuracy"])[0])
    assert (w / "zoo.png").stat().st_size > 10_000


def test_training_epochs_of_the_init_study_do_not_rerun_its_probe(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e.update(epochs=3), section="entropy_init")
    assert planned_jobs(work) == {"entropy_init_train": 2, "entropy_init_summary": 1, "all": 1}


def test_listing_an_earlier_zoo_epoch_measures_without_training(entropy_run, tmp_path):
    work = _variant(entropy_run, tmp_path, lambda e: e.update(epochs=[0, 1, 2]), section="entropy_zoo")
    assert planned_jobs(work) == {"entropy_zoo_table": 1, "entropy_zoo_figure": 1, "all": 1}


@pytest.mark.parametrize(
    "change,expected",
    [
        (lambda e: e.update(dataset="digitz"), "training.digits.dataset: 'digitz' is not a dataset"),
        (lambda e: e.update(modes=["supervised", "unsupervised"]), "training.digits.modes"),
        (lambda e: e["entropy"].update(sigma="wide"), "training.digits.entropy.sigma"),
        (lambda e: e.update(seeds=[]), "training.digits.seeds"),
        (lambda e: e.update(arch="vgg"), "training.digits.arch: 'vgg' is not one of"),
    ],
)
def test_bad_training_config_stops_before_any_job(tmp_path, change, expected):
    cfg = copy.deepcopy(TINY)
    change(cfg["training"]["digits"])
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    assert expected in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()
