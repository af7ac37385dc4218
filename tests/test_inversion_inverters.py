"""Modular inverting networks (repgeo.inversion.inverters): module geometry, the three training
regimes against independent computations, the acceptance check against the mean image on held-out
photograph patches, the "Deep Restoration" study's error visualisations and input validation."""

from __future__ import annotations

import copy
import functools
import logging

import numpy as np
import pytest
import skimage.data
import torch
from torch import nn

from repgeo.inversion.inverters import (
    REGIMES,
    VARIANTS,
    ForwardBlock,
    InverterStack,
    absolute_error_image,
    feature_maps,
    forward_blocks,
    inversion_metrics,
    inverter_module,
    inverter_stack,
    reconstruct,
    signed_error_image,
    train_end_to_end,
    train_joint,
    train_separate,
)

torch.set_num_threads(1)

PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "rocket")


def photo_patches(side: str, n: int, size: int, seed: int) -> torch.Tensor:
    """n RGB patches (N x 3 x size x size, [0, 1]) from the left or right half of skimage's photographs,
    so that the two halves give disjoint training and held-out sets."""
    rng = np.random.default_rng(seed)
    out = []
    for name in PHOTOGRAPHS:
        img = getattr(skimage.data, name)().astype(np.float32) / 255
        h, w, _ = img.shape
        lo, hi = (0, w // 2 - size) if side == "left" else (w // 2, w - size)
        for _ in range(n // len(PHOTOGRAPHS)):
            i, j = rng.integers(0, h - size + 1), rng.integers(lo, hi + 1)
            out.append(img[i : i + size, j : j + size].transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def small_network(size: int, seed: int = 0) -> list[ForwardBlock]:
    """conv(3→16)+ReLU, maxpool 2, conv(16→32)+ReLU, maxpool 2 with seeded random weights."""
    torch.manual_seed(seed)
    named = [
        ("conv1", nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU())),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU())),
        ("pool2", nn.MaxPool2d(2)),
    ]
    return forward_blocks(named, (3, size, size))


def tiny_network() -> list[ForwardBlock]:
    """A cheaper three-block network (conv, pool, LRN) for the exact checks."""
    torch.manual_seed(3)
    named = [
        ("conv1", nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())),
        ("pool1", nn.MaxPool2d(2)),
        ("norm1", nn.LocalResponseNorm(3)),
    ]
    return forward_blocks(named, (3, 8, 8))


def true_feature_maps(blocks: list[ForwardBlock], x: torch.Tensor) -> list[torch.Tensor]:
    feats = [x]
    with torch.no_grad():
        for b in blocks:
            feats.append(b.module(feats[-1]))
    return feats


# ---------------------------------------------------------------- geometry


BLOCK_CASES = [
    ("conv stride 1, padded", nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU()), (3, 16, 16), "conv"),
    ("conv stride 1, unpadded", nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), (3, 15, 15), "conv"),
    (
        "conv 11x11 stride 4 (AlexNet conv1)",
        nn.Sequential(nn.Conv2d(3, 8, 11, stride=4), nn.ReLU()),
        (3, 39, 39),
        "conv",
    ),
    ("maxpool 2, even", nn.MaxPool2d(2), (4, 16, 16), "pool"),
    ("maxpool 2, odd 15 -> 7", nn.MaxPool2d(2), (4, 15, 15), "pool"),
    ("avgpool 2 ceil mode, 15 -> 8", nn.AvgPool2d(2, ceil_mode=True), (4, 15, 15), "pool"),
    ("maxpool 3 stride 2 (AlexNet), 13 -> 6", nn.MaxPool2d(3, 2), (4, 13, 13), "pool"),
    ("maxpool, non-square 15 x 10", nn.MaxPool2d(2), (4, 15, 10), "pool"),
    ("local response normalisation", nn.LocalResponseNorm(5), (4, 9, 9), "lrn"),
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("label", "module", "in_shape", "kind"), BLOCK_CASES, ids=[c[0] for c in BLOCK_CASES])
def test_inverter_output_has_the_block_input_shape(label, module, in_shape, kind, variant):
    (block,) = forward_blocks([("b", module)], in_shape)
    assert block.kind == kind and block.in_shape == in_shape
    g = inverter_module(block.in_shape, block.out_shape, block.kind, variant)
    y = g(torch.randn(2, *block.out_shape))
    assert tuple(y.shape) == (2, *in_shape)
    assert g.width == max(block.in_shape[0], block.out_shape[0])
    if label == "maxpool 2, odd 15 -> 7":
        assert block.out_shape == (4, 7, 7)


def test_deconv_geometry_is_exact_for_every_size_pair():
    # Every shrink n_in -> n_out up to 24 samples, for the strided (pool) and the stride-1/strided conv rule.
    for kind in ("conv", "pool"):
        for n_in in range(1, 25):
            for n_out in range(1, n_in + 1):
                g = inverter_module((1, n_in, n_in + 1), (1, n_out, n_out), kind, "deconv", width=1)
                assert tuple(g(torch.zeros(1, 1, n_out, n_out)).shape) == (1, 1, n_in, n_in + 1), (kind, n_in, n_out)


def test_deconv_uses_stride_equal_to_the_spatial_factor_and_no_final_nonlinearity():
    g = inverter_module((16, 16, 16), (16, 8, 8), "pool", "deconv")
    tconv = g.layers[0]
    assert isinstance(tconv, nn.ConvTranspose2d) and tconv.stride == (2, 2) and tconv.kernel_size == (4, 4)
    assert isinstance(g.layers[-1], nn.Conv2d)
    u = inverter_module((16, 16, 16), (16, 8, 8), "pool", "upsample")
    assert isinstance(u.layers[0], nn.Upsample) and u.layers[0].mode == "nearest-exact"
    # Unbounded output: negative values are reachable.
    with torch.no_grad():
        g.layers[-1].bias.fill_(-5.0)
        assert float(g(torch.zeros(1, 16, 8, 8)).max()) < 0


def test_forward_blocks_shapes_kinds_and_tuple_form():
    blocks = small_network(16)
    assert [(b.name, b.kind, b.in_shape, b.out_shape) for b in blocks] == [
        ("conv1", "conv", (3, 16, 16), (16, 16, 16)),
        ("pool1", "pool", (16, 16, 16), (16, 8, 8)),
        ("conv2", "conv", (16, 8, 8), (32, 8, 8)),
        ("pool2", "pool", (32, 8, 8), (32, 4, 4)),
    ]
    as_tuples = [(b.name, b.module, b.in_shape, b.out_shape) for b in blocks]
    stack = inverter_stack(as_tuples, seed=1)
    assert stack.names == ("conv1", "pool1", "conv2", "pool2")


def test_stack_composes_modules_in_reverse_and_truncates():
    blocks = small_network(16)
    stack = inverter_stack(blocks, variant="upsample", seed=2)
    phi = torch.randn(3, 32, 4, 4)
    g1, g2, g3, g4 = stack.inverters
    with torch.no_grad():
        h3 = g4(phi)
        h2 = g3(h3)
        h1 = g2(h2)
        h0 = g1(h1)
        outs = stack.forward_all(phi)
        torch.testing.assert_close(stack(phi), h0, rtol=0, atol=0)
        for got, want in zip(outs, (h0, h1, h2, h3), strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        short = stack.truncated(2)
        assert short.depth == 2 and short.inverters[0] is g1
        torch.testing.assert_close(short(h2), h0, rtol=0, atol=0)


# ---------------------------------------------------------------- regimes against direct computations


def normalised_mse(y: torch.Tensor, target: torch.Tensor, all_targets: torch.Tensor) -> float:
    """mean((y − Φ)²) / mean(Φ²) with the energy over the whole training set, in float64 numpy."""
    y, target, all_targets = (t.detach().double().numpy() for t in (y, target, all_targets))
    return float(np.mean((y - target) ** 2) / np.mean(all_targets**2))


def test_first_epoch_losses_equal_direct_computations_for_each_regime():
    blocks = tiny_network()
    X = torch.rand(12, 3, 8, 8) - 0.5
    feats = true_feature_maps(blocks, X)
    init = inverter_stack(blocks, seed=7)
    kw = {"variant": "deconv", "epochs": 1, "batch_size": len(X), "seed": 7}
    with torch.no_grad():
        g1, g2, g3 = init.inverters
        separate = [
            normalised_mse(g1(feats[1]), feats[0], feats[0]),
            normalised_mse(g2(feats[2]), feats[1], feats[1]),
            normalised_mse(g3(feats[3]), feats[2], feats[2]),
        ]
        h2 = g3(feats[3])
        h1 = g2(h2)
        h0 = g1(h1)
        joint = [
            normalised_mse(h0, feats[0], feats[0]),
            normalised_mse(h1, feats[1], feats[1]),
            normalised_mse(h2, feats[2], feats[2]),
        ]
    for train, want in ((train_separate, separate), (train_joint, joint), (train_end_to_end, joint[:1])):
        result = train(blocks, X, **kw)
        h = result.history
        assert list(h.columns) == ["regime", "layer", "epoch", "loss"]
        assert list(h.layer) == ["image", "conv1", "pool1"][: len(want)]
        np.testing.assert_allclose(h.loss.to_numpy(), want, rtol=1e-5)
    # Chained inputs make the joint terms below the top module differ from the separate ones (by ~25x the tolerance above).
    assert np.abs(np.subtract(joint[:2], separate[:2])).min() > 2e-4


def test_separate_modules_are_trained_only_on_their_own_pair():
    blocks = tiny_network()
    X = torch.rand(10, 3, 8, 8)
    feats = true_feature_maps(blocks, X)
    result = train_separate(blocks, X, variant="deconv", epochs=3, batch_size=len(X), lr=1e-2, seed=4)
    init = inverter_stack(blocks, seed=4)
    for level, g in enumerate(init.inverters):
        # Train a copy of the module alone on (Φ_l, Φ_{l-1}) with its own Adam: same weights must come out.
        alone = copy.deepcopy(g)
        opt = torch.optim.Adam(alone.parameters(), lr=1e-2)
        losses = []
        for _ in range(3):
            loss = (alone(feats[level + 1]) - feats[level]).square().mean() / feats[level].square().mean()
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
        for p_alone, p_stacked in zip(alone.parameters(), result.stack.inverters[level].parameters(), strict=True):
            torch.testing.assert_close(p_stacked, p_alone, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            result.history[result.history.layer == result.history.layer.unique()[level]].loss, losses, rtol=1e-5
        )
    # The lower modules do not depend on the blocks above them.
    lower = train_separate(blocks[:2], X, variant="deconv", epochs=3, batch_size=len(X), lr=1e-2, seed=4)
    for a, b in zip(lower.stack.parameters(), result.stack.truncated(2).parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_training_leaves_the_forward_blocks_untouched_and_is_deterministic():
    blocks = tiny_network()
    for b in blocks:
        b.module.train()
    before = [copy.deepcopy(b.module.state_dict()) for b in blocks]
    X = torch.rand(16, 3, 8, 8)
    runs = [train_joint(blocks, X, variant="deconv", epochs=2, batch_size=5, seed=s) for s in (11, 11, 12)]
    for b, state in zip(blocks, before, strict=True):
        assert b.module.training
        assert all(p.requires_grad for p in b.module.parameters())
        for key, value in b.module.state_dict().items():
            torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    a, same, other = runs
    assert a.history.equals(same.history)
    for p, q in zip(a.stack.parameters(), same.stack.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    assert not a.history.equals(other.history)
    assert a.settings.seed == 11 and a.settings.lr == 3e-4 and a.regime == "joint"


# ---------------------------------------------------------------- acceptance: beats the mean image on held-out patches


EPOCHS = 16


@functools.cache
def train_on_photographs(variant: str):
    """Inverters of a 16x16 random-weight network trained on patches of the left halves of four photographs
    (mean pixel subtracted as the preprocessing), to be evaluated on patches of the right halves."""
    size = 16
    X_train, X_test = photo_patches("left", 512, size, seed=0), photo_patches("right", 128, size, seed=1)
    pixel_mean = X_train.mean(dim=(0, 2, 3)).view(3, 1, 1)
    blocks = small_network(size)
    settings = {"variant": variant, "epochs": EPOCHS, "batch_size": 32, "seed": 0}
    runs = {("separate", 4): train_separate(blocks, X_train - pixel_mean, **settings)}
    for depth in (2, 4):
        runs["joint", depth] = train_joint(blocks[:depth], X_train - pixel_mean, **settings)
        runs["end_to_end", depth] = train_end_to_end(blocks[:depth], X_train - pixel_mean, **settings)
    runs["separate", 2] = runs["separate", 4]
    return blocks, X_train, X_test, pixel_mean, runs


@pytest.fixture(scope="module")
def trained_on_photographs():
    return train_on_photographs("deconv")


def relative_held_out_mse(trained, regime: str, depth: int) -> float:
    blocks, X_train, X_test, pixel_mean, runs = trained
    stack = runs[regime, depth].stack.truncated(depth)
    x_hat = reconstruct(stack, blocks[:depth], X_test - pixel_mean, unprocess=lambda z: z + pixel_mean, batch_size=50)
    metrics = inversion_metrics(X_test, x_hat, X_train.mean(0))
    assert metrics.mse.shape == (len(X_test),)
    table = metrics.to_frame(regime=regime, depth=depth)
    assert list(table.columns) == ["image", "mse", "baseline_mse", "regime", "depth"]
    return metrics.relative_mse


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize(("layer", "depth"), [("pool1", 2), ("pool2", 4)])
def test_inverters_beat_the_mean_image_on_held_out_patches(trained_on_photographs, regime, layer, depth):
    assert trained_on_photographs[0][depth - 1].name == layer
    relative = relative_held_out_mse(trained_on_photographs, regime, depth)
    assert relative < 0.5, (regime, layer, relative)


@pytest.mark.slow
@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("depth", [2, 4])
def test_upsample_inverters_beat_the_mean_image_on_held_out_patches(regime, depth):
    relative = relative_held_out_mse(train_on_photographs("upsample"), regime, depth)
    assert relative < 0.5, (regime, depth, relative)


@pytest.mark.parametrize("key", [("separate", 4), ("joint", 2), ("joint", 4), ("end_to_end", 2), ("end_to_end", 4)])
def test_each_regime_loss_decreases(trained_on_photographs, key):
    history = trained_on_photographs[-1][key].history
    per_epoch = history.groupby("epoch").loss.sum()
    assert list(per_epoch.index) == list(range(1, EPOCHS + 1))
    assert per_epoch.iloc[-1] < 0.5 * per_epoch.iloc[0]
    per_layer = history.pivot(index="epoch", columns="layer", values="loss")
    assert (per_layer.iloc[-1] < per_layer.iloc[0]).all()


def test_training_logs_progress_per_epoch(caplog):
    blocks = tiny_network()
    with caplog.at_level(logging.INFO, logger="inverters-test"):
        train_end_to_end(
            blocks,
            torch.rand(8, 3, 8, 8),
            variant="deconv",
            epochs=2,
            batch_size=4,
            logger=logging.getLogger("inverters-test"),
        )
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[1].startswith("inverters end_to_end epoch 2/2: loss ")


def test_reconstruct_matches_the_stack_on_features_and_batches_consistently():
    blocks = tiny_network()
    stack = inverter_stack(blocks, seed=5)
    X = torch.rand(7, 3, 8, 8)
    with torch.no_grad():
        want = stack(true_feature_maps(blocks, X)[-1]) * 2 + 1
    got = reconstruct(stack, blocks, X, unprocess=lambda z: z * 2 + 1, batch_size=3)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    feats = feature_maps(blocks, X)
    assert [tuple(f.shape[1:]) for f in feats] == [(3, 8, 8), (4, 8, 8), (4, 4, 4), (4, 4, 4)]


# ---------------------------------------------------------------- error visualisations and metrics


def test_signed_and_absolute_error_images_on_hand_made_pairs():
    x = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]], [[0.5, 0.5], [0.5, 0.5]]]])  # 1 x 2 x 2 x 2
    x_hat = x + torch.tensor([[[[0.1, 0.0], [-0.2, 0.0]], [[0.0, 0.05], [0.0, -0.1]]]])
    signed = signed_error_image(x, x_hat)
    absolute = absolute_error_image(x, x_hat)
    # max |error| = 0.2 for the image: 0.5 + e / 0.4 and |e| / 0.2, channel by channel.
    want_signed = torch.tensor([[[[0.75, 0.5], [0.0, 0.5]], [[0.5, 0.625], [0.5, 0.25]]]])
    want_abs = torch.tensor([[[[0.5, 0.0], [1.0, 0.0]], [[0.0, 0.25], [0.0, 0.5]]]])
    torch.testing.assert_close(signed, want_signed, rtol=0, atol=1e-6)
    torch.testing.assert_close(absolute, want_abs, rtol=0, atol=1e-6)


def test_error_images_are_per_image_and_gray_without_error():
    x = torch.rand(2, 3, 4, 4)
    x_hat = x.clone()
    x_hat[1, 0, 0, 0] += 0.3
    signed, absolute = signed_error_image(x, x_hat), absolute_error_image(x, x_hat)
    assert torch.equal(signed[0], torch.full((3, 4, 4), 0.5)) and torch.equal(absolute[0], torch.zeros(3, 4, 4))
    assert float(signed[1, 0, 0, 0]) == pytest.approx(1.0) and float(absolute[1, 0, 0, 0]) == pytest.approx(1.0)
    assert float(signed[1, 1:].sub(0.5).abs().max()) < 1e-6


def test_inversion_metrics_hand_computed_with_clipping():
    x = torch.zeros(2, 1, 1, 2)
    x[1] = 1.0
    x_hat = torch.tensor([[[[0.5, -3.0]]], [[[1.0, 0.8]]]])  # -3 is clipped to 0 before the MSE
    metrics = inversion_metrics(x, x_hat, torch.full((1, 1, 2), 0.25))
    np.testing.assert_allclose(metrics.mse, [0.125, 0.02], rtol=1e-6)
    np.testing.assert_allclose(metrics.baseline_mse, [0.0625, 0.5625], rtol=1e-6)
    assert metrics.relative_mse == pytest.approx(0.145 / 0.625)


# ---------------------------------------------------------------- validation


def test_bad_inputs_raise_clear_errors():
    blocks = tiny_network()
    X = torch.rand(4, 3, 8, 8)
    nan_X = X.clone()
    nan_X[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"):
        train_separate(blocks, nan_X, variant="deconv", epochs=1)
    with pytest.raises(ValueError, match=r"X must have images of shape \(3, 8, 8\)"):
        train_joint(blocks, torch.rand(4, 3, 9, 9), variant="deconv", epochs=1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        train_end_to_end(blocks, X, variant="deconv", epochs=20, lr=0.0)
    with pytest.raises(ValueError, match="variant must be one of"):
        train_end_to_end(blocks, X, variant="pixelshuffle", epochs=20)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train_separate(blocks, X, variant="deconv", epochs=0)
    with pytest.raises(ValueError, match="block 'norm1' has in_shape"):
        train_separate([blocks[0], blocks[2]], X, variant="deconv", epochs=1)
    with pytest.raises(ValueError, match="declares out_shape"):
        train_separate([("conv1", blocks[0].module, (3, 8, 8), (5, 8, 8))], X, variant="deconv", epochs=1)
    with pytest.raises(TypeError, match="pass kind= explicitly"):
        forward_blocks([("drop", nn.Dropout())], (3, 8, 8))
    with pytest.raises(ValueError, match="keeps its input's shape"):
        inverter_module((4, 8, 8), (4, 4, 4), "lrn")
    with pytest.raises(ValueError, match="kind must be one of"):
        inverter_module((4, 8, 8), (4, 4, 4), "dropout")
    with pytest.raises(ValueError, match="in_shape must be a"):
        inverter_module((4, 0, 8), (4, 4, 4), "pool")
    g = inverter_module((4, 8, 8), (4, 4, 4), "pool")
    with pytest.raises(ValueError, match=r"takes feature maps N x 4 x 4 x 4, got shape \(1, 4, 5, 5\)"):
        g(torch.zeros(1, 4, 5, 5))
    with pytest.raises(ValueError, match="do not chain"):
        InverterStack([g, g], ["a", "b"])
    stack = inverter_stack(blocks)
    with pytest.raises(ValueError, match=r"use stack.truncated\(2\)"):
        reconstruct(stack, blocks[:2], X)
    with pytest.raises(ValueError, match="x and x_hat must have the same shape"):
        signed_error_image(X, X[:, :2])
    with pytest.raises(ValueError, match="x must be images in"):
        inversion_metrics(X * 2, X, X[0])
    with pytest.raises(ValueError, match="'conv1' is all zero"):
        dead = forward_blocks(
            [
                ("conv1", nn.Sequential(nn.Conv2d(3, 2, 1, bias=False), nn.ReLU())),
                ("pool1", nn.MaxPool2d(2)),
                ("norm1", nn.LocalResponseNorm(2)),
            ],
            (3, 8, 8),
        )
        nn.init.constant_(dead[0].module[0].weight, -1.0)
        train_joint(dead, X, variant="deconv", epochs=1)
    with pytest.raises(FloatingPointError, match="lower lr"):
        train_end_to_end(blocks, X, variant="deconv", epochs=2, batch_size=2, lr=1e30)
