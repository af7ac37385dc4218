"""Gaussian initialisation of the convolutions (Liao et al., arXiv 2312.04823, section 6)."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from repgeo import io
from repgeo.entropy import diffusion_spectral_entropy
from repgeo.training.classifier import TrainConfig, run_identity, train_classifier
from repgeo.training.models import build_model, initialise_conv

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]  # N x 1 x 8 x 8
    y = d.target
    return X[:600], y[:600], X[1200:1500], y[1200:1500], X[1200:1400]


def _convs(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)]


def test_conv_weights_follow_the_asked_gaussian_and_biases_are_zero():
    torch.manual_seed(0)
    model = build_model("small_cnn", (3, 8, 8), 10, width=64)
    conv_ids = {id(p) for m in _convs(model) for p in m.parameters()}
    others = {n: p.detach().clone() for n, p in model.named_parameters() if id(p) not in conv_ids}
    assert initialise_conv(model, 0.05, seed=3) == 2
    convs = _convs(model)
    wide = convs[1].weight.detach()
    assert wide.numel() == 128 * 64 * 9
    assert abs(float(wide.std()) - 0.05) < 0.05 * 0.05  # within 5% of sigma
    assert abs(float(wide.mean())) < 0.05 * 0.02
    for conv in convs:
        assert abs(float(conv.weight.detach().std()) - 0.05) < 0.05 * 0.05
        assert conv.bias is not None and torch.count_nonzero(conv.bias) == 0
    # Only convolutions are re-drawn: the linear layers, batch-norm and head keep their weights.
    for name, p in model.named_parameters():
        if id(p) not in conv_ids:
            assert torch.equal(p.detach(), others[name]), name


def test_initialisation_is_reproducible_by_seed_and_independent_of_the_global_rng():
    def drawn(seed: int, torch_seed: int) -> list[torch.Tensor]:
        torch.manual_seed(torch_seed)
        m = build_model("small_cnn", (1, 8, 8), 10, width=8)
        initialise_conv(m, 0.3, seed)
        return [c.weight.detach().clone() for c in _convs(m)]

    a, b, c = drawn(1, 0), drawn(1, 99), drawn(2, 0)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not any(torch.equal(x, y) for x, y in zip(a, c, strict=True))
    # The global RNG is not consumed: what is drawn after initialisation is unchanged.
    torch.manual_seed(5)
    initialise_conv(build_model("small_cnn", (1, 8, 8), 10, width=8), 0.3, 1)
    after_init = torch.rand(3)
    torch.manual_seed(5)
    build_model("small_cnn", (1, 8, 8), 10, width=8)
    torch.testing.assert_close(torch.rand(3), after_init, rtol=0, atol=0)


def test_every_convolution_kind_is_covered_and_a_model_without_one_is_refused():
    seq = nn.Sequential(nn.Conv1d(2, 4, 3), nn.Flatten(), nn.Linear(8, 3))
    assert initialise_conv(seq, 0.1, 0) == 1 and torch.count_nonzero(seq[0].bias) == 0
    assert initialise_conv(build_model("resnet18", (1, 8, 8), 10), 0.1, 0) == 20  # stem + 16 + 3 downsample
    with pytest.raises(ValueError, match="no convolution layer"):
        initialise_conv(build_model("mlp", (64,), 10), 0.1, 0)
    with pytest.raises(ValueError, match="> 0"):
        initialise_conv(seq, 0.0, 0)


@pytest.mark.parametrize("bad", [0, -0.1, math.nan, math.inf, True, "1e-3"])
def test_config_refuses_a_bad_init_std(bad):
    with pytest.raises(ValueError, match="init_std must be"):
        TrainConfig(init_std=bad).validate()


def test_config_refuses_init_std_for_the_mlp():
    TrainConfig(init_std=1).validate()
    with pytest.raises(ValueError, match="convolution layers only"):
        TrainConfig(arch="mlp", init_std=0.1).validate()


def test_training_starts_from_the_initialisation_and_none_changes_nothing(digits, tmp_path):
    Xtr, ytr, Xte, yte, Xev = digits
    res = train_classifier(
        Xtr, ytr, Xte, yte, Xev, TrainConfig(epochs=0, width=8, seed=1, init_std=0.5), tmp_path / "a.pt"
    )
    torch.manual_seed(1)
    ref = build_model("small_cnn", (1, 8, 8), 10, width=8)
    initialise_conv(ref, 0.5, 1)
    for got, want in zip(_convs(res.model), _convs(ref), strict=True):
        torch.testing.assert_close(got.weight, want.weight, rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(res.embeddings[0], ref.eval().embed(torch.as_tensor(Xev)), rtol=1e-6, atol=1e-6)
    # init_std=None: PyTorch's default initialisation from the seed, as before the option existed.
    default = train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(epochs=0, width=8, seed=1), tmp_path / "b.pt")
    torch.manual_seed(1)
    plain = build_model("small_cnn", (1, 8, 8), 10, width=8).eval()
    with torch.no_grad():
        torch.testing.assert_close(default.embeddings[0], plain.embed(torch.as_tensor(Xev)), rtol=1e-6, atol=1e-6)
    assert not torch.allclose(default.embeddings[0], res.embeddings[0])


def test_initialised_run_resumes_exactly(digits, tmp_path):
    Xtr, ytr, Xte, yte, Xev = digits
    cfg = TrainConfig(epochs=2, width=8, init_std=0.2)
    full = train_classifier(Xtr, ytr, Xte, yte, Xev, cfg, tmp_path / "full.pt")
    part = tmp_path / "part.pt"
    train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(epochs=1, width=8, init_std=0.2), part)
    resumed = train_classifier(Xtr, ytr, Xte, yte, Xev, cfg, part)
    torch.testing.assert_close(resumed.embeddings, full.embeddings, rtol=0, atol=0)
    # Another init_std is another run.
    with pytest.raises(ValueError, match="written for another run"):
        train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(epochs=2, width=8, init_std=0.3), part)


def test_checkpoint_written_before_the_option_still_resumes(digits, tmp_path):
    Xtr, ytr, Xte, yte, Xev = digits
    ck = tmp_path / "old.pt"
    train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(arch="mlp", epochs=1, width=8), ck)
    state = io.load_tensor(ck)
    del state["config"]["init_std"]  # as written before init_std existed
    io.save_tensor(state, ck)
    res = train_classifier(Xtr, ytr, Xte, yte, Xev, TrainConfig(arch="mlp", epochs=2, width=8), ck)
    assert [h["epoch"] for h in res.history] == [0, 1, 2]
    assert "init_std" not in run_identity(asdict(TrainConfig()))
    assert run_identity(asdict(TrainConfig(init_std=0.1)))["init_std"] == 0.1


def test_tiny_initialisation_collapses_the_embedding_and_lowers_dse(digits):
    """Section 6 of the paper: DSE at initialisation depends on the conv weights' sd.

    With the paper's kernel (absolute sigma = 10) a tiny sd shrinks every conv activation, so
    Z = ReLU(W h + b) is ReLU(b) for every image: one point, DSE = 0. A large sd spreads the
    images far apart: DSE near log2(n). (With the scale-free median bandwidth the positive
    homogeneity of the conv-BN(eval)-ReLU stack makes DSE nearly independent of the sd.)
    """
    X = torch.as_tensor(digits[0][:200])
    for seed in (0, 1):
        dse = {}
        for std in (1e-3, 10.0):
            torch.manual_seed(seed)
            model = build_model("small_cnn", (1, 8, 8), 10, width=8).eval()
            initialise_conv(model, std, seed)
            with torch.no_grad():
                Z = model.embed(X).numpy()
            if std == 1e-3:
                assert Z.std(axis=0).max() < 1e-3  # (almost) the same point for every image
            dse[std] = diffusion_spectral_entropy(Z)
        assert dse[1e-3] < 0.1
        assert dse[10.0] > dse[1e-3] + 5
        assert dse[10.0] <= math.log2(len(X)) + 1e-9
