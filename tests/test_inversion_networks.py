"""Networks to invert: names against torchvision's modules, blocks, receptive fields, loading, training."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torchvision
from torch.nn import functional as F

from repgeo.inversion.networks import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LayeredNet,
    build_network,
    channel_statistics,
    load_network,
    load_torchvision_weights,
    save_network,
    train_network,
)

torch.set_num_threads(1)

ALEXNET_NAMES = [
    "conv1",
    "relu1",
    "pool1",
    "conv2",
    "relu2",
    "pool2",
    "conv3",
    "relu3",
    "conv4",
    "relu4",
    "conv5",
    "relu5",
    "pool5",
    "fc6",
    "relu6",
    "fc7",
    "relu7",
    "fc8",
]


def _vgg16_names() -> list[str]:
    names = []
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return [*names, "fc6", "relu6", "fc7", "relu7", "fc8"]


def _imagenet_input(x: torch.Tensor, side: int) -> torch.Tensor:
    """Independent preprocessing: bilinear resize to side x side, then ImageNet normalisation."""
    if x.shape[-1] != side:
        x = F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def _images(n: int, c: int, side: int, seed: int = 0) -> torch.Tensor:
    return torch.rand((n, c, side, side), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def alexnet() -> LayeredNet:
    return build_network("alexnet", 7, image_size=32)


@pytest.fixture(scope="module")
def vgg16() -> LayeredNet:
    return build_network("vgg16", 5, image_size=32)


def _torchvision_classifier_outputs(model, h: torch.Tensor) -> list[torch.Tensor]:
    """Outputs of every module of torchvision's classifier after avgpool and flatten."""
    h = torch.flatten(model.avgpool(h), 1)
    outs = []
    for m in model.classifier:
        h = m(h)
        outs.append(h)
    return outs


@torch.no_grad()
def test_alexnet_layers_are_torchvision_modules(alexnet):
    assert alexnet.layer_names == tuple(ALEXNET_NAMES)
    assert isinstance(alexnet.model, torchvision.models.AlexNet)
    x = _images(2, 3, 32)
    h = _imagenet_input(x, 63)  # torchvision's recorded minimum side for alexnet
    torch.testing.assert_close(alexnet.preprocess(x), h)
    acts = alexnet.activations(x, ALEXNET_NAMES)
    model = alexnet.model
    for i, m in enumerate(model.features):
        h = m(h)
        name = ALEXNET_NAMES[i]
        torch.testing.assert_close(acts[name], h, rtol=0, atol=0, msg=name)
    # classifier: dropout, fc6, relu6, dropout, fc7, relu7, fc8 (dropouts are folded into the fc layers)
    outs = _torchvision_classifier_outputs(model, h)
    for name, i in (("fc6", 1), ("relu6", 2), ("fc7", 4), ("relu7", 5), ("fc8", 6)):
        torch.testing.assert_close(acts[name], outs[i], rtol=0, atol=0, msg=name)
    torch.testing.assert_close(alexnet(x), model(alexnet.preprocess(x)), rtol=0, atol=0)
    # ReLUs are not inplace: the convolution's output keeps its negative values.
    assert (acts["conv1"] < 0).any()
    torch.testing.assert_close(acts["relu1"], acts["conv1"].clamp_min(0))


@torch.no_grad()
def test_vgg16_layers_are_torchvision_modules(vgg16):
    names = _vgg16_names()
    assert vgg16.layer_names == tuple(names) and len(names) == 36
    assert isinstance(vgg16.model, torchvision.models.VGG)
    x = _images(1, 3, 32, seed=1)
    h = _imagenet_input(x, 32)  # vgg16's minimum side is 32: no resizing
    acts = vgg16.activations(x, names)
    model = vgg16.model
    for i, m in enumerate(model.features):
        h = m(h)
        torch.testing.assert_close(acts[names[i]], h, rtol=0, atol=0, msg=names[i])
    # classifier: fc6, relu6, dropout, fc7, relu7, dropout, fc8
    outs = _torchvision_classifier_outputs(model, h)
    for name, i in (("fc6", 0), ("relu6", 1), ("fc7", 3), ("relu7", 4), ("fc8", 6)):
        torch.testing.assert_close(acts[name], outs[i], rtol=0, atol=0, msg=name)
    torch.testing.assert_close(vgg16(x), model(vgg16.preprocess(x)), rtol=0, atol=0)


@torch.no_grad()
def test_vgg_small_forward_is_its_module_and_grey_handling(alexnet):
    net = build_network("vgg_small", 4, in_channels=1, image_size=16, width=4)
    assert net.model.features[0].weight.shape == (4, 1, 3, 3)  # native grey input
    assert net.model.classifier[-1].out_features == 4 and net.model.classifier[0].in_features == 16 * 2 * 2
    x = _images(3, 1, 16)
    torch.testing.assert_close(net(x), net.model(net.preprocess(x)), rtol=0, atol=0)
    # alexnet repeats grey images over RGB, so ImageNet weights apply.
    torch.testing.assert_close(
        alexnet.preprocess(x),
        alexnet.preprocess(x.expand(-1, 3, -1, -1)),
        rtol=0,
        atol=0,
    )
    with pytest.raises(ValueError, match="2 channels"):
        alexnet.preprocess(_images(1, 2, 16))
    with pytest.raises(TypeError, match="floating-point"):
        alexnet.preprocess(torch.zeros((1, 3, 8, 8), dtype=torch.uint8))


def test_input_size_is_adapted_only_when_too_small(alexnet):
    assert alexnet.preprocess(_images(1, 3, 32)).shape[-2:] == (63, 63)
    assert alexnet.preprocess(_images(1, 3, 70)).shape[-2:] == (70, 70)
    small = build_network("vgg_small", 2, image_size=4)
    assert small.input_size == (8, 8) and small.preprocess(_images(1, 3, 4)).shape[-2:] == (8, 8)
    wide = build_network("alexnet", 3, image_size=(32, 48))
    assert wide.input_size == (63, 95)  # aspect ratio kept: shorter side scaled to 63


@pytest.mark.parametrize(
    ("arch", "kw", "side"),
    [
        ("alexnet", {}, 32),
        ("alexnet", {"lrn": True}, 32),
        ("vgg16", {}, 32),
        ("vgg_small", {"width": 4}, 16),
    ],
)
@torch.no_grad()
def test_blocks_compose_to_features(arch, kw, side, alexnet, vgg16):
    net = (
        {"alexnet": alexnet, "vgg16": vgg16}[arch]
        if not kw and arch != "vgg_small"
        else build_network(arch, 5, image_size=side, **kw)
    )
    x = _images(2, 3, side, seed=2)
    blocks = net.blocks()
    acts = net.activations(x, [b.name for b in blocks])
    h = net.preprocess(x)
    assert blocks[0].in_shape == tuple(h.shape[1:])
    for prev, b in zip([None, *blocks[:-1]], blocks, strict=True):
        if prev is not None:
            assert b.in_shape == prev.out_shape
        h = b.module(h)
        assert tuple(h.shape[1:]) == b.out_shape, b.name
        torch.testing.assert_close(h, acts[b.name], rtol=0, atol=0, msg=b.name)
    torch.testing.assert_close(h, net(x), rtol=0, atol=0)
    # Every layer belongs to exactly one block, in order.
    assert [name for b in blocks for name in b.layers] == list(net.layer_names)


def test_block_kinds_and_upto():
    net = build_network("alexnet", 5, image_size=32, lrn=True)
    blocks = net.blocks()
    assert [b.name for b in blocks] == [
        "relu1",
        "norm1",
        "pool1",
        "relu2",
        "norm2",
        "pool2",
        "relu3",
        "relu4",
        "relu5",
        "pool5",
        "relu6",
        "relu7",
        "fc8",
    ]
    assert [b.kind for b in blocks] == [
        "conv",
        "lrn",
        "pool",
        "conv",
        "lrn",
        "pool",
        "conv",
        "conv",
        "conv",
        "pool",
        "fc",
        "fc",
        "fc",
    ]
    assert [b.name for b in net.blocks(upto="pool2")] == ["relu1", "norm1", "pool1", "relu2", "norm2", "pool2"]
    with pytest.raises(ValueError, match="'conv2' is inside a block.*relu2"):
        net.blocks(upto="conv2")
    with pytest.raises(ValueError, match="has no layer 'pool9'"):
        net.blocks(upto="pool9")


@torch.no_grad()
def test_lrn_follows_krizhevsky_formula():
    net = build_network("alexnet", 3, image_size=32, lrn=True)
    net.model.features[0].weight.mul_(40)  # large activations, so that the normalisation matters
    acts = net.activations(_images(1, 3, 32, seed=3), ["relu1", "norm1"])
    a = acts["relu1"].double().numpy()[0]
    # b_i = a_i / (k + alpha * sum_{j = max(0, i - n/2)}^{min(N - 1, i + n/2)} a_j^2)^beta, k = 2, n = 5, alpha = 1e-4, beta = 0.75
    expected = np.empty_like(a)
    for i in range(len(a)):
        s = (a[max(0, i - 2) : min(len(a), i + 3)] ** 2).sum(axis=0)
        expected[i] = a[i] / (2 + 1e-4 * s) ** 0.75
    assert np.abs(expected - a).max() > 1e-2 * np.abs(a).max()
    np.testing.assert_allclose(acts["norm1"].double().numpy()[0], expected, rtol=1e-5, atol=1e-6)


def test_receptive_fields_hand_computed(alexnet):
    # r_out = r_in + (k - 1) j_in, j_out = j_in s; e.g. pool1 = 11 + (3 - 1) * 4 = 19 at stride 8.
    expected = {
        "conv1": (11, 4),
        "relu1": (11, 4),
        "pool1": (19, 8),
        "conv2": (51, 8),
        "pool2": (67, 16),
        "conv3": (99, 16),
        "conv4": (131, 16),
        "conv5": (163, 16),
        "pool5": (195, 32),
        # at 63 px pool5 is 1 x 1: the fully connected layers see exactly pool5's field
        "fc6": (195, 32),
        "fc8": (195, 32),
    }
    assert {name: alexnet.receptive_field(name) for name in expected} == expected
    # At 224 px pool5 is 6 x 6 and fc6 covers it: 195 + 5 * 32.
    assert build_network("alexnet", 2).receptive_field("fc6") == (355, 32)
    vgg = build_network("vgg_small", 2, image_size=32, width=2)
    expected_vgg = {
        "conv1_1": (3, 1),
        "conv1_2": (5, 1),
        "pool1": (6, 2),
        "conv2_1": (10, 2),
        "conv2_2": (14, 2),
        "pool2": (16, 4),
        "conv3_1": (24, 4),
        "conv3_2": (32, 4),
        "pool3": (36, 8),
        "fc6": (36 + 3 * 8, 8),  # pool3 is 4 x 4
    }
    assert {name: vgg.receptive_field(name) for name in expected_vgg} == expected_vgg


def test_vgg16_receptive_fields_hand_computed(vgg16):
    expected = {
        "conv1_1": (3, 1),
        "conv1_2": (5, 1),
        "pool1": (6, 2),
        "conv2_2": (14, 2),
        "pool2": (16, 4),
        "conv3_1": (24, 4),
        "conv3_3": (40, 4),
        "pool3": (44, 8),
        "conv4_3": (92, 8),
        "pool4": (100, 16),
        "conv5_3": (196, 16),
        "pool5": (212, 32),
    }
    assert {name: vgg16.receptive_field(name) for name in expected} == expected


def _support_rows(net: LayeredNet, x: torch.Tensor, layer: str, i: int) -> torch.Tensor:
    """Input rows on which the units at (i, i) of ``layer`` depend, over a batch and all channels."""
    x = x.clone().requires_grad_(True)
    f = net.features(x, layer)
    (grad,) = torch.autograd.grad(f[:, :, i, i].sum(), x)
    return torch.nonzero(grad.abs().sum(dim=(0, 1, 3))).flatten()


@pytest.mark.parametrize("layer", ["conv1_1", "relu1_2", "pool1", "conv2_2", "pool2", "relu3_2", "pool3"])
def test_receptive_field_is_the_gradient_support(layer):
    """Independent check by autograd: a unit depends on exactly ``size`` input rows, shifted by ``stride``."""
    net = build_network("vgg_small", 2, image_size=32, width=4, seed=4)
    size, stride = net.receptive_field(layer)
    x = _images(8, 3, 64, seed=4)  # large enough that the central units' fields lie inside the image
    i = net.features(x[:1], layer).shape[-1] // 2
    rows = _support_rows(net, x, layer, i)
    assert int(rows.max() - rows.min()) + 1 == size
    assert int(_support_rows(net, x, layer, i + 1).min() - rows.min()) == stride


def test_unknown_layer_names_are_refused(alexnet):
    x = _images(1, 3, 16)
    with pytest.raises(
        ValueError,
        match=r"alexnet has no layer 'conv1_1'; its layers are: conv1, relu1, pool1.*fc8",
    ):
        alexnet.features(x, "conv1_1")
    with pytest.raises(ValueError, match="has no layer 'fc9'"):
        alexnet.activations(x, ["conv1", "fc9"])
    with pytest.raises(TypeError, match="features"):
        alexnet.activations(x, "conv1")
    with pytest.raises(ValueError, match="has no layer 'relu0'"):
        alexnet.receptive_field("relu0")
    with pytest.raises(ValueError, match="layers is empty"):
        alexnet.activations(x, [])


def test_activations_stop_at_the_deepest_layer(alexnet):
    calls = []
    handle = alexnet.model.classifier[6].register_forward_hook(lambda *_: calls.append(1))
    try:
        with torch.no_grad():
            acts = alexnet.activations(_images(1, 3, 32), ["pool2", "conv1"])
        assert list(acts) == ["pool2", "conv1"] and not calls
        with torch.no_grad():
            alexnet(_images(1, 3, 32))
        assert calls == [1]
    finally:
        handle.remove()


@pytest.mark.parametrize(
    "option",
    [
        {"arch": "vgg_small", "width": 3, "in_channels": 1},
        {"arch": "alexnet", "lrn": True},
    ],
)
def test_save_load_round_trip(option, tmp_path):
    net = build_network(n_classes=3, image_size=16, seed=5, **option)
    net.set_normalisation([0.3], [0.2])
    path = tmp_path / "net.pt"
    save_network(net, path, {"test_accuracy": 0.75, "history": [{"epoch": 1}]})
    back = load_network(path)
    assert back.config == net.config and back.meta == {
        "test_accuracy": 0.75,
        "history": [{"epoch": 1}],
    }
    assert back.layer_names == net.layer_names
    x = _images(2, option.get("in_channels", 3), 16, seed=6)
    with torch.no_grad():
        torch.testing.assert_close(back(x), net(x), rtol=0, atol=0)
        torch.testing.assert_close(back.preprocess(x), net.preprocess(x), rtol=0, atol=0)
    assert back.mean.flatten().tolist() == pytest.approx([0.3] * net.conv_channels)


def test_torchvision_state_dict_loads_and_reproduces_logits(tmp_path):
    torch.manual_seed(7)
    model = torchvision.models.alexnet(weights=None, num_classes=6).eval()
    path = tmp_path / "alexnet.pth"
    torch.save(model.state_dict(), path)
    net = load_torchvision_weights("alexnet", path, image_size=32)
    assert net.n_classes == 6 and not net.training
    x = _images(2, 3, 32, seed=8)
    with torch.no_grad():
        torch.testing.assert_close(net(x), model(_imagenet_input(x, 63)), rtol=1e-6, atol=1e-6)
        # with LRN the same weights load; conv1 is unchanged and the logits differ
        lrn = load_torchvision_weights("alexnet", path, image_size=32, lrn=True)
        torch.testing.assert_close(lrn.features(x, "conv1"), net.features(x, "conv1"), rtol=0, atol=0)
        assert not torch.allclose(lrn(x), net(x))


def test_checkpoints_of_another_architecture_are_refused(tmp_path, alexnet):
    ours = tmp_path / "small.pt"
    save_network(build_network("vgg_small", 2, image_size=16, width=2), ours)
    with pytest.raises(ValueError, match="holds a vgg_small network, not the alexnet asked for"):
        load_network(ours, arch="alexnet")
    with pytest.raises(ValueError, match="written by save_network.*load_network"):
        load_torchvision_weights("alexnet", ours)
    tv = tmp_path / "alexnet.pth"
    torch.save(alexnet.model.state_dict(), tv)
    with pytest.raises(
        ValueError,
        match="holds a torchvision alexnet state dict.*not a torchvision vgg16",
    ):
        load_torchvision_weights("vgg16", tv)
    with pytest.raises(
        ValueError,
        match="not a network checkpoint written by save_network.*load_torchvision_weights",
    ):
        load_network(tv)
    with pytest.raises(ValueError, match="a vgg_small checkpoint is read by load_network"):
        load_torchvision_weights("vgg_small", ours)


def test_build_network_refuses_bad_options():
    for kwargs, match in (
        ({"arch": "resnet18", "n_classes": 2}, "unknown architecture 'resnet18'"),
        ({"arch": "vgg16", "n_classes": 0}, "n_classes must be a positive integer"),
        (
            {"arch": "alexnet", "n_classes": 2, "width": 8},
            "width sets the channels of vgg_small only",
        ),
        ({"arch": "vgg16", "n_classes": 2, "lrn": True}, "alexnet only"),
        (
            {"arch": "alexnet", "n_classes": 2, "in_channels": 2},
            "in_channels must be 3",
        ),
        ({"arch": "vgg_small", "n_classes": 2, "image_size": 0}, "image_size"),
        ({"arch": "vgg_small", "n_classes": 2, "image_size": (8, 8, 8)}, "pair"),
    ):
        with pytest.raises(ValueError, match=match):
            build_network(**kwargs)


def _stripes(n: int, side: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0: vertical stripes, class 1: horizontal stripes (random period and phase), plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    period = torch.randint(3, 6, (n, 1, 1), generator=g).float()
    phase = torch.rand((n, 1, 1), generator=g) * 2 * torch.pi
    coords = torch.arange(side).float()
    along = torch.where(y[:, None, None] == 0, coords[None, None, :], coords[None, :, None])
    img = 0.5 + 0.3 * torch.sin(2 * torch.pi * along / period + phase)
    img = img + 0.1 * torch.randn((n, side, side), generator=g)
    return img.clamp(0, 1)[:, None].expand(-1, 3, -1, -1).contiguous(), y


def test_train_network_learns_stripes_and_logs(caplog):
    Xtr, ytr = _stripes(256, 16, seed=0)
    Xte, yte = _stripes(128, 16, seed=1)
    net = build_network("vgg_small", 2, image_size=16, width=4)
    logger = logging.getLogger("repgeo.test_networks")
    with caplog.at_level(logging.INFO, logger="repgeo.test_networks"):
        result = train_network(
            net,
            Xtr,
            ytr,
            Xte,
            yte,
            epochs=6,
            lr=3e-3,
            batch_size=32,
            optimiser="adam",
            weight_decay=0.0,
            logger=logger,
        )
    assert [r["epoch"] for r in result.history] == list(range(1, 7))
    assert result.test_accuracy > 0.95 and result.test_accuracy == result.history[-1]["test_accuracy"]
    assert len([r for r in caplog.records if "epoch" in r.getMessage()]) == 6
    # vgg_small's normalisation was set to the training images' statistics.
    mean, std = channel_statistics(Xtr)
    np.testing.assert_allclose(net.mean.flatten().numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(net.std.flatten().numpy(), std, rtol=1e-6)
    assert not net.training


def test_training_is_deterministic_given_the_seed():
    Xtr, ytr = _stripes(64, 16, seed=2)
    Xte, yte = _stripes(16, 16, seed=3)

    def run(seed):
        net = build_network("vgg_small", 2, image_size=16, width=2)
        res = train_network(net, Xtr.numpy(), ytr.numpy(), Xte, yte, epochs=2, batch_size=16, seed=seed)
        return res.history, net.state_dict()

    h1, s1 = run(0)
    h2, s2 = run(0)
    _, s3 = run(1)
    assert h1 == h2
    for k in s1:
        torch.testing.assert_close(s1[k], s2[k], rtol=0, atol=0)
    assert any(not torch.equal(s1[k], s3[k]) for k in s1)


def test_train_network_validates_its_input():
    net = build_network("vgg_small", 2, image_size=8, width=2)
    X, y = _stripes(8, 8, seed=0)
    bad = X.clone()
    bad[0, 0, 0, 0] = float("nan")
    for args, kwargs, match in (
        ((X, y + 1, X, y), {}, r"y_train must lie in \[0, 2\)"),
        ((bad, y, X, y), {}, "X_train contains NaN"),
        ((X[:, :1], y, X, y), {}, "X_train must be images N x 3"),
        ((X * 255, y, X, y), {}, r"must lie in \[0, 1\]"),
        ((X, y[:4], X, y), {}, "one integer label per image"),
        ((X, y.float(), X, y), {}, "integer class labels"),
        ((X, y, X, y), {"optimiser": "rmsprop"}, "optimiser must be one of"),
        ((X, y, X, y), {"lr": -1.0}, "lr"),
        ((X, y, X, y), {"epochs": 0}, "epochs must be a positive integer"),
    ):
        with pytest.raises(ValueError, match=match):
            train_network(net, *args, **kwargs)
