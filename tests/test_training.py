"""Classifier training with per-epoch embeddings: learning, determinism, resumption, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from repgeo.training.classifier import TrainConfig, train_classifier
from repgeo.training.models import build_model


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8
    y = d.target
    return X[:1200], y[:1200], X[1200:], y[1200:], X[1200:1400]


@pytest.mark.parametrize("arch", ["mlp", "small_cnn", "resnet18"])
def test_models_embed_then_classify(arch):
    m = build_model(arch, (1, 8, 8), 10, width=8)
    x = torch.randn(4, 1, 8, 8)
    z = m.embed(x)
    assert z.shape == (4, m.embedding_dim)
    torch.testing.assert_close(m(x), m.head(z))


def test_supervised_learns_and_random_labels_memorise(digits, tmp_path):
    Xtr, ytr, Xte, yte, Xev = digits
    sup = train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(epochs=8, width=16), tmp_path / "sup.pt")
    assert sup.history[0]["epoch"] == 0 and len(sup.history) == 9
    assert sup.history[0]["test_accuracy"] < 0.25 and sup.history[-1]["test_accuracy"] > 0.85
    assert sup.embeddings.shape == (9, 200, 64)
    rnd = train_classifier(
        Xtr, ytr, Xte, yte, Xev, TrainConfig(mode="random_labels", epochs=8, width=16), tmp_path / "rnd.pt"
    )
    # Permuted labels carry no information about the test labels: chance level (10 classes).
    assert rnd.history[-1]["test_accuracy"] < 0.25
    assert rnd.history[-1]["train_accuracy"] > rnd.history[1]["train_accuracy"]


def test_resumed_run_equals_uninterrupted(digits, tmp_path):
    Xtr, ytr, Xte, yte, Xev = digits
    cfg = TrainConfig(arch="mlp", epochs=3, width=32)
    full = train_classifier(Xtr, ytr, Xte, yte, Xev, cfg, tmp_path / "full.pt")
    part = tmp_path / "part.pt"
    train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(arch="mlp", epochs=1, width=32), part)
    resumed = train_classifier(Xtr, ytr, Xte, yte, Xev, cfg, part)
    torch.testing.assert_close(resumed.embeddings, full.embeddings, rtol=0, atol=0)
    # NaN (epoch 0's loss) != NaN, so compare the rows through numpy.
    assert [r["epoch"] for r in resumed.history] == [0, 1, 2, 3]
    np.testing.assert_array_equal([list(r.values()) for r in resumed.history], [list(r.values()) for r in full.history])


def test_checkpoint_of_another_run_is_refused(digits, tmp_path):
    Xtr, ytr, Xte, yte, Xev = digits
    ck = tmp_path / "ck.pt"
    train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(arch="mlp", epochs=1, width=8), ck)
    with pytest.raises(ValueError, match="written for another run"):
        train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(arch="small_cnn", epochs=2, width=8), ck)
    with pytest.raises(ValueError, match="beyond the 0 asked for"):
        train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(arch="mlp", epochs=0, width=8), ck)


def test_bad_inputs(digits, tmp_path):
    Xtr, ytr, Xte, yte, Xev = digits
    bad = Xtr.copy()
    bad[3, 0, 2, 2] = np.nan
    with pytest.raises(ValueError, match="X_train contains NaN"):
        train_classifier(bad, ytr, Xte, yte, Xev, TrainConfig(epochs=1), tmp_path / "a.pt")
    with pytest.raises(ValueError, match="mode must be one of"):
        train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(mode="simclr"), tmp_path / "b.pt")
    with pytest.raises(ValueError, match="needs images of shape C x H x W"):
        build_model("small_cnn", (64,), 10)


def test_nt_xent_against_a_direct_computation():
    from repgeo.training.contrastive import nt_xent

    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    tau, n, total = 0.5, 5, 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        den = sum(torch.exp(z[i] @ z[k] / tau) for k in range(2 * n) if k != i)
        total += -torch.log(torch.exp(z[i] @ z[j] / tau) / den)
    torch.testing.assert_close(nt_xent(z1, z2, tau), total / (2 * n))
    # Identical views of well-separated points: the loss approaches its minimum.
    e = torch.eye(4) * 10
    assert nt_xent(e, e, 0.1) < 1e-3


def test_augment_keeps_shape_and_is_seeded():
    from repgeo.training.contrastive import augment

    x = torch.rand(6, 3, 16, 16)
    a = augment(x, torch.Generator().manual_seed(1), flip=True)
    b = augment(x, torch.Generator().manual_seed(1), flip=True)
    c = augment(x, torch.Generator().manual_seed(2), flip=True)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)


def test_contrastive_features_beat_initialisation(digits, tmp_path):
    Xtr, ytr, Xte, yte, Xev = digits
    res = train_classifier(
        Xtr, ytr, Xte, yte, Xev, TrainConfig(mode="contrastive", epochs=6, width=16, batch_size=128), tmp_path / "c.pt"
    )
    h = res.history
    assert h[-1]["train_loss"] < h[1]["train_loss"]
    # Linear probe on the learned features: better than at initialisation and far above chance.
    assert h[-1]["test_accuracy"] > 0.8 and h[-1]["test_accuracy"] > h[0]["test_accuracy"]


def test_stage_trains_resumes_and_restarts_on_a_new_config(tmp_path):
    from repgeo import io
    from repgeo.stages.data import prepare_data
    from repgeo.stages.training import train_classifier

    samples, arrays = tmp_path / "samples.parquet", tmp_path / "arrays.pt"
    prepare_data(spec={"source": "sklearn_digits", "n": 600}, samples=str(samples), arrays=str(arrays))
    out = tmp_path / "run"
    out.mkdir()
    spec = {"arch": "mlp", "epochs": 2, "width": 16, "label": "label", "eval_n": 50, "eval_seed": 0}

    def train(spec):
        train_classifier(
            arrays=str(arrays),
            samples=str(samples),
            spec=spec,
            mode="supervised",
            seed=0,
            embeddings=str(out / "emb.pt"),
            history=str(out / "hist.parquet"),
            device="cpu",
        )

    train(spec)
    emb = io.load_tensor(out / "emb.pt")
    assert emb["Z"].shape == (3, 50, 16) and len(emb["labels"]) == 50
    hist = io.read_parquet(out / "hist.parquet")
    assert list(hist["epoch"]) == [0, 1, 2] and set(hist["mode"]) == {"supervised"}
    assert len(list(out.glob("checkpoint-*.pt"))) == 1
    # Two more epochs continue the same checkpoint; another lr starts a new one.
    train({**spec, "epochs": 4})
    assert len(list(out.glob("checkpoint-*.pt"))) == 1
    torch.testing.assert_close(io.load_tensor(out / "emb.pt")["Z"][:3], emb["Z"], rtol=0, atol=0)
    train({**spec, "lr": 1e-2})
    assert len(list(out.glob("checkpoint-*.pt"))) == 2


@pytest.mark.realdata
@pytest.mark.parametrize(
    "spec,run,min_accuracy",
    [
        ({"source": "mnist", "path": "mnist/mnist.npz", "n": 3000}, {"arch": "mlp", "width": 128, "epochs": 4}, 0.85),
        (
            {"source": "cifar10", "path": "cifar10_subset/cifar10_subset.npz"},
            {"arch": "small_cnn", "width": 16, "epochs": 3},
            0.3,
        ),
    ],
    ids=["mnist", "cifar10_subset"],
)
def test_stage_learns_real_datasets_and_tracks_their_entropy(shared_datasets, tmp_path, spec, run, min_accuracy):
    """The stage on MNIST and the CIFAR-10 subset: well above chance (0.1), and learning raises DSE and DSMI(Z; Y)."""
    from repgeo import io
    from repgeo.entropy import diffusion_spectral_entropy, diffusion_spectral_mutual_information
    from repgeo.stages.data import prepare_data
    from repgeo.stages.training import train_classifier

    spec = {**spec, "path": str(shared_datasets / spec["path"])}
    prepare_data(spec=spec, samples=str(tmp_path / "samples.parquet"), arrays=str(tmp_path / "arrays.pt"))
    epochs = run["epochs"]
    run = {**run, "batch_size": 32, "lr": 0.002, "label": "label", "eval_n": 300, "eval_seed": 0}
    train_classifier(
        arrays=str(tmp_path / "arrays.pt"),
        samples=str(tmp_path / "samples.parquet"),
        spec=run,
        mode="supervised",
        seed=0,
        embeddings=str(tmp_path / "emb.pt"),
        history=str(tmp_path / "hist.parquet"),
        device="cpu",
    )
    hist = io.read_parquet(tmp_path / "hist.parquet")
    assert hist["test_accuracy"].iloc[-1] > min_accuracy
    emb = io.load_tensor(tmp_path / "emb.pt")
    Z, labels = emb["Z"].double().numpy(), emb["labels"].numpy()
    assert Z.shape[:2] == (epochs + 1, 300)
    assert diffusion_spectral_entropy(Z[-1]) > diffusion_spectral_entropy(Z[0])
    mi = [diffusion_spectral_mutual_information(Z[e], labels, discrete=True).value for e in (0, epochs)]
    assert mi[1] > mi[0] + 0.1
