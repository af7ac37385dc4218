"""Classifier architectures whose penultimate layer is the tracked representation Z.

Liao et al. (CISS 2024, arXiv 2312.04823, section 5) track the embedding before the final linear
layer of ResNet-style classifiers during training. Every model here exposes ``embed(x)`` (that
embedding) and ``head`` (the final linear layer), so ``forward(x) = head(embed(x))``.

- ``mlp``: flatten, ``hidden`` ReLU layers of ``width`` units; Z = the last hidden layer.
- ``small_cnn``: two 3x3 conv-BN-ReLU-maxpool blocks (``width``, 2 ``width`` channels), global
  average pooling, a ``width`` x 4 ReLU layer; Z = that layer.
- ``resnet18``: torchvision's ResNet-18 adapted to small images as for CIFAR (3x3 stem conv
  with stride 1, no max-pool; He et al. 2016, section 4.2), any number of input channels; Z = the
  512-d pooled features.

:func:`initialise_conv` re-draws the convolution weights from N(0, std^2) for the initialisation
study of the paper's section 6 (``TrainConfig.init_std``).
"""

from __future__ import annotations

import math

import torch

from .. import registry
from torch import nn

ARCHITECTURES = registry.CLASSIFIER_ARCHITECTURES


class Classifier(nn.Module):
    """``features`` (input -> Z) followed by the linear ``head`` (Z -> logits)."""

    def __init__(self, features: nn.Module, dim: int, n_classes: int) -> None:
        super().__init__()
        self.features = features
        self.head = nn.Linear(dim, n_classes)
        self.embedding_dim = dim

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _mlp(shape: tuple[int, ...], width: int, hidden: int) -> tuple[nn.Module, int]:
    layers: list[nn.Module] = [nn.Flatten()]
    d = 1
    for s in shape:
        d *= s
    for _ in range(hidden):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    return nn.Sequential(*layers), width


def _small_cnn(shape: tuple[int, ...], width: int) -> tuple[nn.Module, int]:
    c = shape[0]

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True)]

    feats = nn.Sequential(
        *block(c, width),
        *block(width, 2 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2 * width, 4 * width),
        nn.ReLU(),
    )
    return feats, 4 * width


def _resnet18(shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    from torchvision.models import resnet18

    net = resnet18(weights=None)
    net.conv1 = nn.Conv2d(shape[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return net, 512


def build_model(arch: str, shape: tuple[int, ...], n_classes: int, width: int = 32, hidden: int = 2) -> Classifier:
    """A classifier for inputs of ``shape`` (C x H x W for the conv nets; any shape for the MLP)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")
    if n_classes < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {n_classes}")
    if arch != "mlp" and len(shape) != 3:
        raise ValueError(f"{arch} needs images of shape C x H x W, got {tuple(shape)}; use arch 'mlp' for flat data")
    if arch == "mlp":
        feats, dim = _mlp(tuple(shape), width, hidden)
    elif arch == "small_cnn":
        feats, dim = _small_cnn(tuple(shape), width)
    else:
        feats, dim = _resnet18(tuple(shape))
    return Classifier(feats, dim, n_classes)


def initialise_conv(model: nn.Module, std: float, seed: int) -> int:
    """Draw every convolution weight from N(0, ``std``^2) and zero its bias; return how many layers.

    The initialisation study of Liao et al. (CISS 2024, arXiv 2312.04823, section 6) initialises
    the convolutional layers of a network from a Gaussian of varying standard deviation and
    relates the DSE of the embedding at initialisation to how well the network then trains. As in
    the paper only convolutions are re-drawn (every ``nn.Conv1d``/``Conv2d``/``Conv3d`` and
    transposed convolution, in ``model.modules()`` order); linear layers, batch-norm and the head
    keep PyTorch's default initialisation. The draws come from a CPU generator seeded with
    ``seed`` (independent of the global RNG, so the rest of a run's randomness is unchanged) and
    are then copied to the parameters' device, so a (std, seed) pair gives the same weights on
    every device. A model without convolutions is refused.
    """
    if not std > 0 or not math.isfinite(std):
        raise ValueError(f"the initialisation standard deviation must be a finite number > 0, got {std}")
    g = torch.Generator().manual_seed(int(seed))
    n = 0
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.conv._ConvNd):
                w = torch.randn(module.weight.shape, generator=g, dtype=torch.float32) * float(std)
                module.weight.copy_(w.to(device=module.weight.device, dtype=module.weight.dtype))
                if module.bias is not None:
                    module.bias.zero_()
                n += 1
    if n == 0:
        raise ValueError(
            f"{type(model).__name__} has no convolution layer to initialise (init_std applies to convolutions only)"
        )
    return n
