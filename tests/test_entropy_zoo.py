"""Cross-model and initialisation studies (Liao et al., arXiv 2312.04823, section 6, Figure 10).

External torchvision models (state-dict loading, penultimate embeddings, accuracy) and the
correlation tables and figures of the zoo.
"""

from __future__ import annotations

import copy

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
import torchvision
from scipy import stats
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

from repgeo.entropy.zoo import correlations, initialisation_summary, plot_initialisation, plot_zoo
from repgeo.training.external import input_min_size, load_torchvision_model, penultimate_embeddings, predict_accuracy

torch.set_num_threads(2)


class _NotATensor:
    """Anything but tensors: torch.load(weights_only=True) must refuse to unpickle it."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).eval()
    path = tmp_path_factory.mktemp("zoo") / "resnet18.pt"
    torch.save(model.state_dict(), path)
    return model, path


@pytest.fixture(scope="module")
def digits8():
    d = load_digits()
    return torch.as_tensor((d.images[:40] / 16.0).astype(np.float32))[:, None], d.target[:40]


def test_resnet18_round_trip_and_embeddings_are_the_pooled_features(resnet_file):
    original, path = resnet_file
    model = load_torchvision_model("resnet18", path)  # the class count is read from the file
    assert model.fc.out_features == 10 and not model.training
    for k, v in original.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, rtol=0, atol=0)
    x = torch.randn(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    Z = penultimate_embeddings(model, x, batch_size=5)
    headless = copy.deepcopy(original)
    headless.fc = nn.Identity()
    with torch.no_grad():
        want = headless(x).numpy()
    assert Z.shape == (12, 512)
    np.testing.assert_allclose(Z, want, rtol=1e-5, atol=1e-6)
    # A dict holding the state dict under 'state_dict' (or 'model') loads too.
    wrapped = path.with_name("wrapped.pt")
    torch.save({"state_dict": original.state_dict(), "epoch": 3}, wrapped)
    assert load_torchvision_model("resnet18", wrapped, n_classes=10).fc.out_features == 10


def test_greyscale_digits_are_repeated_and_scaled_up(resnet_file, digits8):
    original, path = resnet_file
    model = load_torchvision_model("resnet18", path)
    X, y = digits8
    assert input_min_size("resnet18") == 32
    Z = penultimate_embeddings(model, X)
    headless = copy.deepcopy(original)
    headless.fc = nn.Identity()
    x32 = F.interpolate(X.repeat(1, 3, 1, 1), size=(32, 32), mode="bilinear", align_corners=False)
    with torch.no_grad():
        np.testing.assert_allclose(Z, headless(x32).numpy(), rtol=1e-5, atol=1e-6)
        want = float((original(x32).argmax(1) == torch.as_tensor(y)).float().mean())
    assert predict_accuracy(model, X.numpy(), y, batch_size=16) == pytest.approx(want)


def test_alexnet_gets_its_own_minimum_size():
    assert input_min_size("alexnet") == 63 and input_min_size("inception_v3") == 75
    torch.manual_seed(0)
    alexnet = torchvision.models.alexnet(weights=None, num_classes=10)
    X = torch.rand(3, 1, 8, 8)
    Z = penultimate_embeddings(alexnet, X, min_size=input_min_size("alexnet"))
    assert Z.shape == (3, 4096) and np.isfinite(Z).all()


def test_the_workflows_own_classifiers_give_their_embed(digits8):
    from repgeo.training.models import build_model

    X, y = digits8
    torch.manual_seed(0)
    model = build_model("small_cnn", (1, 8, 8), 10, width=8).eval()
    with torch.no_grad():
        want = model.embed(X).numpy()
        acc = float((model(X).argmax(1) == torch.as_tensor(y)).float().mean())
    np.testing.assert_allclose(penultimate_embeddings(model, X), want, rtol=1e-5, atol=1e-6)  # no resizing
    assert predict_accuracy(model, X, y) == pytest.approx(acc)


def test_a_checkpoint_of_another_architecture_is_refused_naming_the_file(resnet_file):
    _, path = resnet_file
    with pytest.raises(ValueError, match="another architecture") as err:
        load_torchvision_model("alexnet", path)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match="another architecture") as err:
        load_torchvision_model("alexnet", path, n_classes=10)
    assert str(path) in str(err.value) and "missing keys" in str(err.value) and "unexpected keys" in str(err.value)
    with pytest.raises(ValueError, match=r"shape mismatches: fc\.weight"):
        load_torchvision_model("resnet18", path, n_classes=5)


def test_unknown_architecture_names_the_valid_choices(resnet_file):
    with pytest.raises(ValueError, match="choose one of: .*alexnet.*resnet18") as err:
        load_torchvision_model("resnet19", resnet_file[1])
    assert "fasterrcnn" not in str(err.value)  # classification models only


def test_files_are_read_with_weights_only(tmp_path):
    bad = tmp_path / "pickled.pt"
    torch.save({"fc.weight": torch.zeros(2, 2), "extra": _NotATensor()}, bad)
    with pytest.raises(ValueError, match="weights_only") as err:
        load_torchvision_model("resnet18", bad)
    assert str(bad) in str(err.value)
    with pytest.raises(FileNotFoundError):
        load_torchvision_model("resnet18", tmp_path / "missing.pt")


def test_a_model_without_a_linear_layer_is_refused():
    squeeze = torchvision.models.squeezenet1_1(weights=None, num_classes=10)
    with pytest.raises(ValueError, match="no nn.Linear layer"):
        penultimate_embeddings(squeeze, torch.rand(2, 3, 32, 32))


def _zoo_table(n: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    acc = rng.uniform(0.3, 0.95, n)
    return pd.DataFrame(
        {
            "model": rng.choice(["small_cnn", "resnet18", "alexnet"], n),
            "width": rng.choice([8, 16, np.nan], n),
            "accuracy": acc,
            "dse": 2 * acc + rng.normal(0, 0.2, n),
            "dsmi_zy": np.exp(4 * acc),  # monotone in accuracy, not linear
            "dsmi_zx": rng.normal(size=n),
        }
    )


def test_correlations_match_scipy():
    t = _zoo_table()
    c = correlations(t).set_index("measure")
    assert list(c.index) == ["dse", "dsmi_zy", "dsmi_zx"]
    for m in c.index:
        pr, sr = stats.pearsonr(t[m], t["accuracy"]), stats.spearmanr(t[m], t["accuracy"])
        assert c.loc[m, "n_models"] == 12 and c.loc[m, "target"] == "accuracy" and c.loc[m, "reason"] == ""
        assert c.loc[m, "pearson_r"] == pytest.approx(pr.statistic) and c.loc[m, "pearson_p"] == pytest.approx(
            pr.pvalue
        )
        assert c.loc[m, "spearman_rho"] == pytest.approx(sr.statistic) and c.loc[m, "spearman_p"] == pytest.approx(
            sr.pvalue
        )
    assert c.loc["dsmi_zy", "spearman_rho"] == pytest.approx(1.0)
    assert c.loc["dsmi_zy", "pearson_r"] < 0.99


def test_missing_values_too_few_models_and_constants_give_nan_with_a_reason():
    t = _zoo_table()
    t.loc[[0, 1], "dse"] = np.nan
    c = correlations(t, measures=["dse"]).iloc[0]
    rest = t.dropna(subset=["dse"])
    assert c["n_models"] == 10 and c["pearson_r"] == pytest.approx(
        stats.pearsonr(rest["dse"], rest["accuracy"]).statistic
    )
    few = correlations(t.iloc[2:4]).iloc[0]
    assert (
        few["n_models"] == 2
        and np.isnan(few[["pearson_r", "pearson_p", "spearman_rho", "spearman_p"]].astype(float)).all()
    )
    assert "fewer than 3 models" in few["reason"]
    const = correlations(t.assign(dsmi_zx=1.0)).set_index("measure").loc["dsmi_zx"]
    assert np.isnan(const["spearman_rho"]) and "constant dsmi_zx" in const["reason"]
    with pytest.raises(ValueError, match="no column"):
        correlations(t, measures=["dse", "nope"])


def test_zoo_figure_has_one_panel_per_measure():
    t = _zoo_table()
    fig = plot_zoo(t, correlations(t))
    assert len(fig.axes) == 3
    assert "Spearman" in " ".join(txt.get_text() for txt in fig.axes[0].texts)
    plt.close(fig)
    few = t.iloc[:2]
    fig = plot_zoo(few, correlations(few, measures=["dse", "dsmi_zy"]), marker_by=None)
    assert len(fig.axes) == 2 and "not computed" in fig.axes[0].texts[0].get_text()
    plt.close(fig)


def _init_tables():
    sigmas = [1e-3, 1e-2, 1e-1, 1.0]
    rows = [
        {"init_std": s, "seed": seed, "dse": [0.1, 2.0, 5.0, 3.0][i] + 0.1 * seed}
        for i, s in enumerate(sigmas)
        for seed in range(3)
    ]
    curves = pd.DataFrame(
        [
            {
                "init_std": s,
                "seed": seed,
                "epoch": e,
                "test_accuracy": 0.1 + 0.1 * e * (1 if s == 0.1 else 0.5) + 0.01 * seed,
            }
            for s in (1e-3, 0.1)
            for seed in range(3)
            for e in range(5)
        ]
    )
    return pd.DataFrame(rows), curves


def test_initialisation_summary_picks_the_extreme_sigmas():
    init, _ = _init_tables()
    s = initialisation_summary(init)
    assert s.lowest == 1e-3 and s.highest == 0.1
    per = s.per_sigma.set_index("init_std")
    assert list(per["n_seeds"]) == [3, 3, 3, 3]
    assert per.loc[0.1, "dse_mean"] == pytest.approx(5.1) and per.loc[0.1, "dse_sd"] == pytest.approx(0.1)
    one_seed = initialisation_summary(init[init["seed"] == 0])
    assert (one_seed.per_sigma["dse_sd"] == 0).all()
    with pytest.raises(ValueError, match="no column"):
        initialisation_summary(init.drop(columns="seed"))


def test_initialisation_figure_has_two_panels():
    init, curves = _init_tables()
    fig = plot_initialisation(init, curves)
    assert len(fig.axes) == 2
    assert fig.axes[0].get_xscale() == "log"
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert any("lowest DSE" in lab for lab in labels) and any("highest DSE" in lab for lab in labels)
    plt.close(fig)


# --- the cross-model study's bandwidth: sigma = sqrt(D) per model (issue 17, point 5) ---------------


def _zoo_defaults() -> dict:
    """The entropy settings an entropy_zoo entry gets when it sets none (schema defaults)."""
    from pathlib import Path

    from repgeo.config import load_schema, validate

    schema = load_schema(Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml")
    cfg = validate(
        {"datasets": {"digits": {"source": "sklearn_digits"}}, "entropy_zoo": {"z": {"dataset": "digits"}}}, schema
    )
    return cfg["entropy_zoo"]["z"]["entropy"]


def test_zoo_schema_defaults_follow_the_papers_cross_model_study():
    from pathlib import Path

    from repgeo.config import ConfigError, load_schema, validate

    entropy = _zoo_defaults()
    assert entropy["sigma"] == "sqrt_dim" and entropy["n_clusters"] == 20
    assert (entropy["t"], entropy["alpha"], entropy["max_n"], entropy["n_repetitions"]) == (1.0, 0.0, 10000, 5)
    schema = load_schema(Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml")
    base = {"datasets": {"digits": {"source": "sklearn_digits"}}}
    # A number is still allowed (the reference API's absolute 10), as are the adaptive rules.
    for sigma in (10.0, "median", "knn"):
        cfg = validate({**base, "entropy_zoo": {"z": {"dataset": "digits", "entropy": {"sigma": sigma}}}}, schema)
        assert cfg["entropy_zoo"]["z"]["entropy"]["sigma"] == sigma
    with pytest.raises(ConfigError, match="sigma"):
        validate({**base, "entropy_zoo": {"z": {"dataset": "digits", "entropy": {"sigma": "sqrt"}}}}, schema)
    # The other entropy sections keep the reference's absolute sigma = 10 and 10 clusters.
    cfg = validate({**base, "entropy_init": {"i": {"dataset": "digits"}}}, schema)
    assert (cfg["entropy_init"]["i"]["entropy"]["sigma"], cfg["entropy_init"]["i"]["entropy"]["n_clusters"]) == (
        10.0,
        10,
    )


def test_embedding_sigma_resolves_sqrt_dim_only():
    from repgeo.entropy.zoo import embedding_sigma

    assert embedding_sigma("sqrt_dim", 64) == 8.0 and embedding_sigma("sqrt_dim", np.int64(2)) == pytest.approx(
        np.sqrt(2)
    )
    assert embedding_sigma(10.0, 64) == 10.0 and embedding_sigma("median", 64) == "median"
    with pytest.raises(ValueError, match="positive integer"):
        embedding_sigma("sqrt_dim", 0)


def test_zoo_members_are_measured_at_sigma_sqrt_d_against_the_reference(tmp_path):
    # Two members whose embeddings differ in width (D = 16 and 100), measured by the stage with
    # the schema's defaults; DSE and DSMI(Z; Y) must equal the authors' dse-dsmi 1.1 (test-only
    # oracle) at sigma = sqrt(D) -- 4 and 10 -- and differ from the fixed sigma = 10 of the old zoo
    # for the narrow member.
    from repgeo import io
    from repgeo.stages.entropy_uses import entropy_zoo_table

    dse_dsmi = pytest.importorskip("dse_dsmi")
    rng = np.random.default_rng(5)
    n = 90
    labels = np.repeat(np.arange(3), n // 3)
    positions = np.arange(n)
    io.write_parquet(
        pd.DataFrame({"position": positions, "x_group": rng.integers(0, 4, n)}), tmp_path / "x_groups.parquet"
    )
    members = []
    for name, dim in (("narrow", 16), ("wide", 100)):
        # Class structure at the scale of each width: centres 3 apart per coordinate, unit noise.
        Z = (labels[:, None] * 3.0 + rng.standard_normal((n, dim))) * rng.uniform(0.5, 1.5, dim)
        io.save_tensor(
            {"Z": Z[None].astype(np.float32), "positions": positions, "labels": labels}, tmp_path / f"{name}.pt"
        )
        io.write_parquet(
            pd.DataFrame({"epoch": [0], "test_accuracy": [0.5 + dim / 1000]}), tmp_path / f"{name}.parquet"
        )
        members.append(
            {
                "member": name,
                "model": "mlp",
                "width": dim,
                "epochs": None,
                "embeddings": str(tmp_path / f"{name}.pt"),
                "history": str(tmp_path / f"{name}.parquet"),
            }
        )
    spec = {"dataset": "digits", "entropy": {**_zoo_defaults(), "n_repetitions": 2}}
    table = entropy_zoo_table(
        members=members,
        x_groups=str(tmp_path / "x_groups.parquet"),
        spec=spec,
        models=str(tmp_path / "models.parquet"),
        correlations=str(tmp_path / "corr.parquet"),
        device="cpu",
    ).set_index("member")
    for name, dim in (("narrow", 16), ("wide", 100)):
        Z = io.load_tensor(tmp_path / f"{name}.pt")["Z"][0].double().numpy()  # what the stage read
        sigma = np.sqrt(dim)
        assert table.loc[name, "dim"] == dim and table.loc[name, "sigma"] == pytest.approx(sigma)
        reference = dse_dsmi.diffusion_spectral_entropy(Z, gaussian_kernel_sigma=sigma)
        assert table.loc[name, "dse"] == pytest.approx(reference, abs=1e-9)
        mi_y, _ = dse_dsmi.diffusion_spectral_mutual_information(
            Z, labels, reference_discrete=True, gaussian_kernel_sigma=sigma, num_repetitions=2
        )
        assert table.loc[name, "dsmi_zy"] == pytest.approx(mi_y, abs=1e-9)
    fixed = dse_dsmi.diffusion_spectral_entropy(
        io.load_tensor(tmp_path / "narrow.pt")["Z"][0].double().numpy(), gaussian_kernel_sigma=10.0
    )
    assert abs(table.loc["narrow", "dse"] - fixed) > 0.1, (table.loc["narrow", "dse"], fixed)
