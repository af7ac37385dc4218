"""Autoencoder architectures of the sliced generative models: shapes, sizes, ranges, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from repgeo.generative.architectures import ARCHITECTURES, Autoencoder, build_autoencoder, reconstruction_error

# (arch, image shape, latent dim) at the sizes of gmum/cwae and gmum/cwae-pytorch (``src/architectures/``).
PAPER_SETTINGS = {
    "mlp": ((1, 28, 28), 20),
    "cifar_conv": ((3, 32, 32), 64),
    "celeba_conv": ((3, 64, 64), 64),
    "celeba_bn": ((3, 64, 64), 64),
}


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _conv(cin, cout, k, bias=True):
    return cin * cout * k * k + (cout if bias else 0)


def _linear(nin, nout):
    return nin * nout + nout


# Hand counts from the layer lists in repgeo.generative.architectures (after gmum's ``src/architectures/``;
# weights + biases; BatchNorm: 2 per channel).
EXPECTED_PARAMETERS = {
    # MNIST 784 -> 200 -> 200 -> 200 -> 20 and back: 157000 + 2*40200 + 4020 = 241420;
    # 4200 + 2*40200 + 157584 = 242184.
    "mlp": (
        _linear(784, 200) + 2 * _linear(200, 200) + _linear(200, 20),
        _linear(20, 200) + 2 * _linear(200, 200) + _linear(200, 784),
    ),
    # Conv 3->3, 3->32, 32->32, 32->32 (2x2): 39 + 416 + 4128 + 4128; Dense 8192->128->64:
    # 1048704 + 8256; total 1065671. Decoder Dense 64->128->8192: 8320 + 1056768; ConvT 2x2 32->32
    # twice: 2*4128; ConvT 3x3 32->32: 9248; Conv 2x2 32->3: 387; total 1082979.
    "cifar_conv": (
        _conv(3, 3, 2) + _conv(3, 32, 2) + 2 * _conv(32, 32, 2) + _linear(32 * 16 * 16, 128) + _linear(128, 64),
        _linear(64, 128) + _linear(128, 32 * 16 * 16) + 2 * _conv(32, 32, 2) + _conv(32, 32, 3) + _conv(32, 3, 2),
    ),
    # Conv 4x4 3->32->32->64->64: 1568 + 16416 + 32832 + 65600; Dense 1024->1024->256->64:
    # 1049600 + 262400 + 16448; total 1444864. Decoder Dense 64->256->1024: 16640 + 263168;
    # ConvT 4x4 64->64->32->32->3: 65600 + 32800 + 16416 + 1539; total 396163.
    "celeba_conv": (
        _conv(3, 32, 4)
        + _conv(32, 32, 4)
        + _conv(32, 64, 4)
        + _conv(64, 64, 4)
        + _linear(1024, 1024)
        + _linear(1024, 256)
        + _linear(256, 64),
        _linear(64, 256)
        + _linear(256, 1024)
        + _conv(64, 64, 4)
        + _conv(64, 32, 4)
        + _conv(32, 32, 4)
        + _conv(32, 3, 4),
    ),
    # Conv 4x4 no bias 3->128->256->512->1024: 6144 + 524288 + 2097152 + 8388608; BN 2*(128+256+512+1024)
    # = 3840; Dense 16384->64: 1048640; total 12068672. Decoder Dense 64->65536: 4259840; ConvT 4x4
    # no bias 1024->512->256->128: 8388608 + 2097152 + 524288; BN 2*(512+256+128) = 1792; ConvT 3x3
    # 128->3 with bias: 3459; total 15275139.
    "celeba_bn": (
        _conv(3, 128, 4, False)
        + _conv(128, 256, 4, False)
        + _conv(256, 512, 4, False)
        + _conv(512, 1024, 4, False)
        + 2 * (128 + 256 + 512 + 1024)
        + _linear(1024 * 4 * 4, 64),
        _linear(64, 1024 * 8 * 8)
        + _conv(1024, 512, 4, False)
        + _conv(512, 256, 4, False)
        + _conv(256, 128, 4, False)
        + 2 * (512 + 256 + 128)
        + _conv(128, 3, 3),
    ),
}


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return {arch: build_autoencoder(arch, shape, d) for arch, (shape, d) in PAPER_SETTINGS.items()}


def test_hand_counts_written_out():
    # The arithmetic in the comments above, so a wrong helper cannot hide a wrong table.
    assert EXPECTED_PARAMETERS == {
        "mlp": (241420, 242184),
        "cifar_conv": (1065671, 1082979),
        "celeba_conv": (1444864, 396163),
        "celeba_bn": (12068672, 15275139),
    }


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_parameter_counts_match_the_tables(models, arch):
    m = models[arch]
    assert (_count(m.encoder), _count(m.decoder)) == EXPECTED_PARAMETERS[arch]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_shapes_and_unit_range(models, arch):
    m = models[arch]
    shape, d = PAPER_SETTINGS[arch]
    assert isinstance(m, Autoencoder) and m.latent_dim == d and m.image_shape == shape
    x = torch.rand(3, *shape)
    z, x_hat = m(x)
    assert z.shape == (3, d) and x_hat.shape == (3, *shape)
    torch.testing.assert_close(z, m.encode(x))
    torch.testing.assert_close(x_hat, m.decode(z))
    # Far-out codes push the output non-linearity to its limits, which stay within [0, 1].
    with torch.no_grad():
        for scale in (1.0, 100.0):
            out = m.decode(scale * torch.randn(4, d))
            assert out.shape == (4, *shape)
            assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


@pytest.mark.parametrize(
    ("arch", "shape"),
    [
        ("mlp", (1, 8, 8)),
        ("mlp", (3, 5, 7)),
        ("cifar_conv", (1, 32, 32)),
        ("celeba_conv", (1, 64, 64)),
        ("celeba_bn", (1, 64, 64)),
    ],
)
def test_other_channel_counts_and_sizes(arch, shape):
    m = build_autoencoder(arch, shape, 4, width=16, depth=2)
    z, x_hat = m(torch.rand(2, *shape))
    assert z.shape == (2, 4) and x_hat.shape == (2, *shape)


def test_mlp_width_and_depth():
    m = build_autoencoder("mlp", (1, 8, 8), 2, width=10, depth=1)
    assert _count(m.encoder) == _linear(64, 10) + _linear(10, 2)
    assert _count(m.decoder) == _linear(2, 10) + _linear(10, 64)


def _spatial_sizes(module: nn.Sequential, x: torch.Tensor) -> list[int]:
    sizes = []
    for layer in module:
        x = layer(x)
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) or type(layer).__name__ == "_CropLast":
            sizes.append(x.shape[-1])
            assert x.shape[-2] == x.shape[-1]
    return sizes


def test_cifar_conv_spatial_sizes(models):
    m = models["cifar_conv"]
    with torch.no_grad():
        # Encoder convs: 'same' keeps 32, stride 2 halves it, 'same' keeps 16 twice.
        assert _spatial_sizes(m.encoder, torch.rand(1, 3, 32, 32)) == [32, 16, 16, 16]
        # Decoder: ConvT 2x2 gives 17, cropped to 16 ('same'), twice; ConvT 3x3 s2 'valid'
        # (16 - 1) * 2 + 3 = 33; Conv 2x2 'valid' 32.
        assert _spatial_sizes(m.decoder, torch.randn(1, 64)) == [17, 16, 17, 16, 33, 32]


def test_celeba_spatial_sizes(models):
    with torch.no_grad():
        for arch in ("celeba_conv", "celeba_bn"):
            assert _spatial_sizes(models[arch].encoder, torch.rand(1, 3, 64, 64)) == [32, 16, 8, 4]
        assert _spatial_sizes(models["celeba_conv"].decoder, torch.randn(1, 64)) == [8, 16, 32, 64]
        assert _spatial_sizes(models["celeba_bn"].decoder, torch.randn(1, 64)) == [16, 32, 64, 64]


def test_cropped_transposed_conv_is_the_adjoint_of_tf_same_conv():
    # TF 'same' conv with a 2x2 kernel at stride 1 pads right/bottom; TF's 'same' transposed
    # conv is its adjoint, which the cifar_conv decoder builds as a full ConvT minus the last
    # row and column. <A x, y> = <x, A^T y> checks that.
    torch.manual_seed(1)
    w = torch.randn(4, 5, 2, 2)  # Conv2d weight: 5 -> 4 channels; ConvTranspose2d: 4 -> 5
    x, y = torch.randn(2, 5, 16, 16), torch.randn(2, 4, 16, 16)
    ax = F.conv2d(F.pad(x, (0, 1, 0, 1)), w)
    aty = F.conv_transpose2d(y, w)[..., :-1, :-1]
    assert ax.shape == y.shape and aty.shape == x.shape
    torch.testing.assert_close((ax * y).sum(), (x * aty).sum(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    ("arch", "shape", "needs"),
    [
        ("cifar_conv", (3, 28, 28), ["'cifar_conv'", "32 x 32", "28 x 28", "size: 32", "'mlp'"]),
        ("cifar_conv", (3, 32, 31), ["'cifar_conv'", "32 x 32", "32 x 31"]),
        ("celeba_conv", (3, 32, 32), ["'celeba_conv'", "64 x 64", "32 x 32", "crop/size to 64", "'mlp'"]),
        ("celeba_bn", (3, 89, 109), ["'celeba_bn'", "64 x 64", "89 x 109", "crop/size to 64", "'mlp'"]),
    ],
)
def test_wrong_image_size_is_refused_with_the_fix(arch, shape, needs):
    with pytest.raises(ValueError) as err:
        build_autoencoder(arch, shape, 8)
    for part in needs:
        assert part in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arch": "resnet"}, "unknown architecture 'resnet'"),
        ({"image_shape": (784,)}, "channels, height, width"),
        ({"image_shape": (1, 0, 8)}, "image_shape"),
        ({"image_shape": (1, 8.0, 8)}, "image_shape"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"latent_dim": 2.5}, "latent_dim"),
        ({"width": 0}, "width"),
        ({"depth": True}, "depth"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    args = {"arch": "mlp", "image_shape": (1, 8, 8), "latent_dim": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        build_autoencoder(**args)


def test_numpy_integers_are_accepted():
    m = build_autoencoder("mlp", tuple(np.array([1, 8, 8])), np.int64(3), width=np.int32(4), depth=1)
    assert m.image_shape == (1, 8, 8) and m.latent_dim == 3


def test_reconstruction_error_is_mean_per_image_sum_of_squares():
    rng = np.random.default_rng(0)
    x, x_hat = rng.random((5, 3, 4, 6)), rng.random((5, 3, 4, 6))
    expected = np.mean([np.sum((x[i] - x_hat[i]) ** 2) for i in range(5)])
    got = reconstruction_error(torch.from_numpy(x), torch.from_numpy(x_hat))
    assert got.ndim == 0
    np.testing.assert_allclose(float(got), expected, rtol=1e-12)
    # Not the per-pixel MSE, which is smaller by the number of values per image.
    np.testing.assert_allclose(float(got), np.mean((x - x_hat) ** 2) * 3 * 4 * 6, rtol=1e-12)


def test_reconstruction_error_gradient_and_refusals():
    x = torch.rand(2, 1, 3, 3)
    x_hat = torch.zeros(2, 1, 3, 3, requires_grad=True)
    reconstruction_error(x, x_hat).backward()
    # d/dx_hat of mean_i sum (x - x_hat)^2 = -2 (x - x_hat) / n
    torch.testing.assert_close(x_hat.grad, -x)
    with pytest.raises(ValueError, match="same shape"):
        reconstruction_error(x, torch.zeros(2, 1, 3, 4))
    with pytest.raises(ValueError, match="non-empty"):
        reconstruction_error(torch.zeros(0, 1, 3, 3), torch.zeros(0, 1, 3, 3))
