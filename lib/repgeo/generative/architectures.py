"""Encoder/decoder pairs of the sliced generative autoencoders and their reconstruction error.

Knop, Mazur, Tabor, Podolak, Spurek ("Sliced generative models", arXiv 1901.10417) published no
code; their models are built on the CWAE code base of the same group (Knop, Tabor et al. 2018, gmum
``cwae`` in TensorFlow and ``cwae-pytorch``). The architectures follow ``src/architectures/`` of both:

- ``mlp`` (MNIST, sklearn digits, any image size): flatten -> ``depth`` x [Linear ``width``,
  ReLU] -> Linear d; the decoder mirrors it and ends in a sigmoid. gmum: width 200, depth 3, d 20.
- ``cifar_conv`` (CIFAR-10, 32 x 32): Conv 3 2x2 s1 -> Conv 32 2x2 s2 -> Conv 32 2x2 s1 ->
  Conv 32 2x2 s1 (ReLU each) -> Linear 128 ReLU -> Linear d; decoder Linear 128 ReLU -> Linear
  8192 ReLU -> 32 x 16 x 16 -> ConvT 32 2x2 s1 'same' -> ConvT 32 2x2 s1 'same' -> ConvT 32 3x3
  s2 'valid' (ReLU each; 33 x 33) -> Conv C 2x2 'valid' (32 x 32) -> sigmoid. gmum: d 64.
- ``celeba_conv`` (CelebA 64 x 64, the arXiv-era TensorFlow form): 4 x [Conv 4x4 s2 'same',
  ReLU] with 32, 32, 64, 64 filters -> Linear 1024 ReLU -> Linear 256 ReLU -> Linear d; decoder
  Linear 256 ReLU -> Linear 1024 ReLU -> 64 x 4 x 4 -> ConvT 4x4 s2 'same' with 64, 32, 32, C
  filters (ReLU on the hidden ones) -> sigmoid. The TF file chains its layers wrongly (each
  encoder conv reads the input image; the second decoder Dense reads z); this is the evident
  intent, and a sigmoid replaces the TF file's ReLU output so that images lie in [0, 1].
- ``celeba_bn`` (CelebA 64 x 64, the stronger JMLR-era PyTorch form): Conv 128, 256, 512, 1024
  (4x4 s2 p1, no bias, BatchNorm, ReLU) -> Linear d; decoder Linear 1024*8*8 -> 1024 x 8 x 8 ->
  ConvT 512, 256, 128 (4x4 s2 p1, no bias, BatchNorm, ReLU) -> ConvT C 3x3 s1 p1 -> (tanh + 1)/2.

TensorFlow's 'same' padding of an even kernel at stride 1 pads one pixel, on the right/bottom;
PyTorch cannot pad asymmetrically inside a convolution, so ``cifar_conv`` pads explicitly, and its
'same' transposed convolutions (the adjoints of those convolutions) drop the last row and column.
With stride 2 and kernel 2 (``cifar_conv``) 'same' pads nothing, and with kernel 4 on an even
size (``celeba_conv``) it pads 1 on each side, which PyTorch's ``padding=1`` does exactly.
"""

from __future__ import annotations

import math
import operator

import torch

from .. import registry
from torch import nn

ARCHITECTURES = registry.GENERATIVE_ARCHITECTURES

# Image side each convolutional architecture is built for (the mlp takes any size).
_REQUIRED_SIDE = {"cifar_conv": 32, "celeba_conv": 64, "celeba_bn": 64}
_REQUIRED_FIX = {
    "cifar_conv": "resize the dataset to 32 x 32 in the data stage (size: 32)",
    "celeba_conv": "set the dataset's crop/size to 64 in the data stage (size: 64; gmum centre-crops CelebA to 140 first)",
    "celeba_bn": "set the dataset's crop/size to 64 in the data stage (size: 64; gmum centre-crops CelebA to 140 first)",
}


class Autoencoder(nn.Module):
    """``encoder`` (images -> codes in R^d) and ``decoder`` (codes -> images in [0, 1])."""

    def __init__(
        self, encoder: nn.Module, decoder: nn.Module, latent_dim: int, image_shape: tuple[int, int, int]
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = int(latent_dim)
        self.image_shape = tuple(int(s) for s in image_shape)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (n, d) of images (n, C, H, W)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (n, C, H, W) in [0, 1] from codes (n, d)."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(codes, reconstructions) of a batch of images."""
        z = self.encoder(x)
        return z, self.decoder(z)


class _CropLast(nn.Module):
    """Drops the last row and column: a transposed 'same' convolution of an even kernel at stride 1.

    The TF 'same' convolution pads the right/bottom by one; its adjoint (TF's ``conv2d_transpose``
    with 'same') is the full transposed convolution without that padded position.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-1, :-1]


class _TanhToUnit(nn.Module):
    """(tanh(t) + 1) / 2: the ``celeba_bn`` output in [0, 1]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.tanh(x) + 1.0) / 2.0


def _mlp(image_shape: tuple[int, int, int], latent_dim: int, width: int, depth: int) -> tuple[nn.Module, nn.Module]:
    n_pixels = math.prod(image_shape)
    enc: list[nn.Module] = [nn.Flatten()]
    d = n_pixels
    for _ in range(depth):
        enc += [nn.Linear(d, width), nn.ReLU()]
        d = width
    enc.append(nn.Linear(d, latent_dim))
    dec: list[nn.Module] = []
    d = latent_dim
    for _ in range(depth):
        dec += [nn.Linear(d, width), nn.ReLU()]
        d = width
    dec += [nn.Linear(d, n_pixels), nn.Sigmoid(), nn.Unflatten(1, image_shape)]
    return nn.Sequential(*enc), nn.Sequential(*dec)


def _cifar_conv(channels: int, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    same = (0, 1, 0, 1)  # TF 'same' for a 2x2 kernel at stride 1: one pixel right and bottom
    encoder = nn.Sequential(
        nn.ZeroPad2d(same),
        nn.Conv2d(channels, 3, 2),
        nn.ReLU(),  # 32 x 32
        nn.Conv2d(3, 32, 2, stride=2),
        nn.ReLU(),  # 16 x 16 ('same' pads nothing here)
        nn.ZeroPad2d(same),
        nn.Conv2d(32, 32, 2),
        nn.ReLU(),  # 16 x 16
        nn.ZeroPad2d(same),
        nn.Conv2d(32, 32, 2),
        nn.ReLU(),  # 16 x 16
        nn.Flatten(),
        nn.Linear(32 * 16 * 16, 128),
        nn.ReLU(),
        nn.Linear(128, latent_dim),
    )
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 128),
        nn.ReLU(),
        nn.Linear(128, 32 * 16 * 16),
        nn.ReLU(),
        nn.Unflatten(1, (32, 16, 16)),
        nn.ConvTranspose2d(32, 32, 2),
        _CropLast(),
        nn.ReLU(),  # 16 x 16
        nn.ConvTranspose2d(32, 32, 2),
        _CropLast(),
        nn.ReLU(),  # 16 x 16
        nn.ConvTranspose2d(32, 32, 3, stride=2),
        nn.ReLU(),  # 33 x 33 ('valid')
        nn.Conv2d(32, channels, 2),
        nn.Sigmoid(),  # 32 x 32 ('valid')
    )
    return encoder, decoder


def _celeba_conv(channels: int, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    enc: list[nn.Module] = []
    cin = channels
    for cout in (32, 32, 64, 64):  # 64 -> 32 -> 16 -> 8 -> 4
        enc += [nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.ReLU()]
        cin = cout
    enc += [
        nn.Flatten(),
        nn.Linear(64 * 4 * 4, 1024),
        nn.ReLU(),
        nn.Linear(1024, 256),
        nn.ReLU(),
        nn.Linear(256, latent_dim),
    ]
    dec: list[nn.Module] = [
        nn.Linear(latent_dim, 256),
        nn.ReLU(),
        nn.Linear(256, 1024),
        nn.ReLU(),
        nn.Unflatten(1, (64, 4, 4)),
    ]
    cin = 64
    for cout in (64, 32, 32):  # 4 -> 8 -> 16 -> 32
        dec += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1), nn.ReLU()]
        cin = cout
    dec += [nn.ConvTranspose2d(cin, channels, 4, stride=2, padding=1), nn.Sigmoid()]  # 64 x 64
    return nn.Sequential(*enc), nn.Sequential(*dec)


def _celeba_bn(channels: int, latent_dim: int) -> tuple[nn.Module, nn.Module]:
    enc: list[nn.Module] = []
    cin = channels
    for cout in (128, 256, 512, 1024):  # 64 -> 32 -> 16 -> 8 -> 4
        # No bias: BatchNorm's shift makes it redundant.
        enc += [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    enc += [nn.Flatten(), nn.Linear(1024 * 4 * 4, latent_dim)]
    dec: list[nn.Module] = [nn.Linear(latent_dim, 1024 * 8 * 8), nn.Unflatten(1, (1024, 8, 8))]
    cin = 1024
    for cout in (512, 256, 128):  # 8 -> 16 -> 32 -> 64
        dec += [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        cin = cout
    dec += [nn.ConvTranspose2d(cin, channels, 3, stride=1, padding=1), _TanhToUnit()]
    return nn.Sequential(*enc), nn.Sequential(*dec)


def _positive_int(value, name: str) -> int:
    # operator.index accepts Python and NumPy integers but not floats or strings.
    try:
        n = operator.index(value)
    except TypeError:
        n = 0
    if isinstance(value, bool) or n < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return n


def build_autoencoder(
    arch: str, image_shape: tuple[int, ...], latent_dim: int, width: int = 200, depth: int = 3
) -> Autoencoder:
    """The ``arch`` autoencoder for images of ``image_shape`` (C, H, W) with codes in R^``latent_dim``.

    ``width`` and ``depth`` (hidden units and hidden layers per side) apply to ``mlp`` only; the
    defaults are gmum's MNIST setting. The convolutional architectures need the image side they
    were designed for (``cifar_conv`` 32, ``celeba_conv``/``celeba_bn`` 64) and any channel count.
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
    if len(tuple(image_shape)) != 3:
        raise ValueError(
            f"image_shape must be (channels, height, width), got {image_shape!r}; pass images as N x C x H x W"
        )
    shape = tuple(_positive_int(s, "every entry of image_shape") for s in image_shape)
    latent_dim = _positive_int(latent_dim, "latent_dim")
    width = _positive_int(width, "width")
    depth = _positive_int(depth, "depth")
    channels, height, image_width = shape
    if arch == "mlp":
        encoder, decoder = _mlp(shape, latent_dim, width, depth)
    else:
        need = _REQUIRED_SIDE[arch]
        if (height, image_width) != (need, need):
            raise ValueError(
                f"arch {arch!r} needs {need} x {need} images, got {height} x {image_width}; "
                f"{_REQUIRED_FIX[arch]}, or use arch 'mlp', which takes any size"
            )
        build = {"cifar_conv": _cifar_conv, "celeba_conv": _celeba_conv, "celeba_bn": _celeba_bn}[arch]
        encoder, decoder = build(channels, latent_dim)
    return Autoencoder(encoder, decoder, latent_dim, shape)


def reconstruction_error(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of each image's sum of squared pixel differences (a 0-d tensor).

    The gmum CWAE cost's RecErr (gmum/cwae ``src/rec_errors.py``): summed over pixels and channels, not the
    per-pixel MSE, which would be smaller by the pixel count and shift the balance with the
    log-distance term of the cost.
    """
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"x must be a non-empty batch (n, ...) of images, got shape {tuple(x.shape)}")
    return (x - x_hat).pow(2).flatten(1).sum(dim=1).mean()
