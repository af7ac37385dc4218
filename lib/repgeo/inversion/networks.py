"""Networks to invert: AlexNet, VGG16 and a small VGG-style network, with MatConvNet-style layer names.

Mahendran & Vedaldi (CVPR 2015, section 4; IJCV 2016, section 5) and Dosovitskiy & Brox (CVPR 2016,
section 4) invert the representation of a named layer of AlexNet (Krizhevsky, Sutskever & Hinton,
NIPS 2012) and VGG16 (Simonyan & Zisserman, ICLR 2015, configuration D). :class:`LayeredNet` wraps
such a network and addresses its layers by those names; a layer's name stands for its output.

Architectures (:data:`ARCHITECTURES`):

- ``alexnet``: ``torchvision.models.alexnet`` itself (the one-GPU variant of Krizhevsky, arXiv
  1404.5997: 64-192-384-256-256 channels) with layers conv1, relu1, pool1, conv2, relu2, pool2,
  conv3, relu3, conv4, relu4, conv5, relu5, pool5, fc6, relu6, fc7, relu7, fc8. torchvision's
  AlexNet has no local response normalisation; ``lrn=True`` adds the normalisation of Krizhevsky
  et al. 2012 (section 3.3: k = 2, n = 5, alpha = 1e-4, beta = 0.75) after relu1 and relu2, as
  layers norm1 and norm2 before pool1 and pool2 (the paper's order). It has no parameters, so the
  same torchvision state dict loads, but the forward pass is then no longer torchvision's.
- ``vgg16``: ``torchvision.models.vgg16`` itself (no batch normalisation) with layers conv1_1,
  relu1_1, conv1_2, relu1_2, pool1, ..., conv5_3, relu5_3, pool5, fc6, relu6, fc7, relu7, fc8.
- ``vgg_small`` (:class:`VGGSmall`): the network of the workflow's default run, built like
  torchvision's VGG (``features``, ``avgpool``, ``classifier``): three blocks of two 3x3
  convolutions (padding 1) with ReLU and a 2x2 max pooling, ``width``, 2 ``width`` and 4 ``width``
  channels (conv1_1 ... pool3), then fc6, relu6, fc7, relu7 (8 ``width`` units each) and fc8.

Dropout layers get no name: each is folded into the fully connected layer it feeds (dropout is the
identity in eval mode, in which features are taken), and so are the adaptive average pooling and
the flattening that precede fc6 (MatConvNet runs fc6 as a convolution over pool5). ReLUs are
made non-inplace so that a convolution's output and its ReLU's can both be returned.

Input rule (:meth:`LayeredNet.preprocess`): images are N x C x H x W floats in [0, 1]. Greyscale
images (C = 1) are repeated over the channels of the first convolution: alexnet and vgg16 always
take 3 channels, so that ImageNet weights load unchanged, while vgg_small is built with
``in_channels`` input channels (1 for a grey dataset). "Input size adapted where needed": an image
whose shorter side is below the architecture's minimum (63 px for alexnet and 32 px for vgg16,
:func:`repgeo.training.external.input_min_size`; 8 px for vgg_small, whose three poolings halve
it) is scaled up bilinearly, keeping its aspect ratio, by :func:`repgeo.training.external._prepare`.
Then each channel is normalised, (x - mean) / std, with the ``mean`` and ``std`` buffers of the
state dict: ImageNet's statistics for alexnet and vgg16 (torchvision's weights expect them), and
for vgg_small ImageNet's as well (their channel averages for grey images) until
:func:`train_network` replaces them by the training images' statistics. Bilinear interpolation
is affine with weights summing to one, so resizing and normalising commute.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.modules.utils import _pair

from .. import io, registry
from ..training.classifier import _accuracy
from ..training.external import (
    _builder,
    _prepare,
    _read_state_dict,
    input_min_size,
    load_torchvision_model,
    torch_load_reason,
)

ARCHITECTURES = registry.INVERSION_ARCHITECTURES
TORCHVISION_ARCHITECTURES = registry.TORCHVISION_INVERSION_ARCHITECTURES
OPTIMISERS = ("sgd", "adam")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Local response normalisation, Krizhevsky et al. 2012, section 3.3.
LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K = 5, 1e-4, 0.75, 2.0
# Three 2x2 poolings leave a map of at least one pixel.
VGG_SMALL_MIN_SIZE = 8
DEFAULT_IMAGE_SIZE = {"alexnet": 224, "vgg16": 224, "vgg_small": 32}
DEFAULT_WIDTH = 16
_CHECKPOINT_FORMAT = "repgeo.inversion.network/1"


@dataclass(frozen=True)
class _Layer:
    name: str
    kind: str  # conv, relu, lrn, pool, fc
    module: nn.Module


@dataclass
class Block:
    """One step of the network between two feature maps that an inverter module undoes.

    ``name`` is the layer whose output the block produces, ``kind`` one of "conv" (a convolution
    and its ReLU), "pool", "lrn" or "fc" (a linear layer and its ReLU, or the final linear layer;
    the first one also pools and flattens the last map). ``module`` computes the block's output
    from the previous block's (the first block's input is the preprocessed image); it shares its
    parameters with the network. ``in_shape`` and ``out_shape`` are the per-image shapes, (C, H, W)
    for maps and (D,) for vectors, at the network's configured image size; ``layers`` are the
    names of the layers it spans.
    """

    name: str
    kind: str
    module: nn.Module
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    layers: tuple[str, ...]


class VGGSmall(nn.Module):
    """The ``vgg_small`` architecture (module docstring), laid out like torchvision's VGG.

    ``map_size``: the (H, W) of the adaptive average pooling before fc6, the pool3 map of the
    configured image size, so that the pooling is the identity there (as VGG16's 7 x 7 at 224 px).
    """

    def __init__(self, n_classes: int, in_channels: int, width: int, map_size: tuple[int, int]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_channels
        for c in (width, 2 * width, 4 * width):
            layers += [
                nn.Conv2d(c_in, c, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c, c, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2, 2),
            ]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(map_size)
        hidden = 8 * width
        self.classifier = nn.Sequential(
            nn.Linear(c_in * map_size[0] * map_size[1], hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _named_layers(arch: str, model: nn.Module, norms: nn.ModuleList) -> list[_Layer]:
    """Walk ``features`` and ``classifier`` of a torchvision-style AlexNet/VGG and name every layer.

    AlexNet numbers its convolutions 1..5 and names a pooling after the convolution before it; VGG
    numbers blocks (ended by a pooling) and the convolutions inside a block.
    """
    flat = arch == "alexnet"
    layers: list[_Layer] = []
    block, conv = 1, 0
    for m in model.features:
        conv += isinstance(m, nn.Conv2d)
        suffix = f"{conv}" if flat else f"{block}_{conv}"
        if isinstance(m, nn.Conv2d):
            layers.append(_Layer(f"conv{suffix}", "conv", m))
        elif isinstance(m, nn.ReLU):
            layers.append(_Layer(f"relu{suffix}", "relu", m))
            if flat and conv <= len(norms):
                layers.append(_Layer(f"norm{conv}", "lrn", norms[conv - 1]))
        elif isinstance(m, nn.MaxPool2d):
            layers.append(_Layer(f"pool{conv if flat else block}", "pool", m))
            if not flat:
                block, conv = block + 1, 0
        else:
            raise TypeError(f"unexpected module {m} in the features of {arch}")
    pending: list[nn.Module] = [model.avgpool, nn.Flatten(1)]
    fc = 5  # fully connected layers are numbered on from the five convolutional stages: fc6, fc7, fc8
    for m in model.classifier:
        if isinstance(m, nn.Dropout):
            pending.append(m)
        elif isinstance(m, nn.Linear):
            fc += 1
            layers.append(_Layer(f"fc{fc}", "fc", nn.Sequential(*pending, m) if pending else m))
            pending = []
        elif isinstance(m, nn.ReLU):
            layers.append(_Layer(f"relu{fc}", "relu", m))
        else:
            raise TypeError(f"unexpected module {m} in the classifier of {arch}")
    return layers


def _input_size(image_size: tuple[int, int], min_size: int) -> tuple[int, int]:
    """(H, W) of an image of ``image_size`` after :func:`_prepare`'s scaling up to ``min_size``."""
    shape = _prepare(torch.empty((1, 1, *image_size), device="meta"), None, min_size).shape
    return int(shape[-2]), int(shape[-1])


class LayeredNet(nn.Module):
    """A classification network whose layers are addressed by name (module docstring).

    Build it with :func:`build_network`, :func:`load_network` or :func:`load_torchvision_weights`.
    ``model`` is the wrapped network (torchvision's AlexNet/VGG or :class:`VGGSmall`), so
    ``net.model.state_dict()`` is a torchvision state dict; ``net.state_dict()`` adds the
    normalisation buffers ``mean`` and ``std``. ``image_size`` (H, W) is the size of the images
    the network is configured for: it fixes the shapes of :meth:`blocks` and the extent of the
    fully connected layers in :meth:`receptive_field`, while the forward pass takes any size.
    ``meta`` holds the JSON-able metadata saved with :func:`save_network`.
    """

    def __init__(
        self,
        arch: str,
        model: nn.Module,
        in_channels: int,
        image_size: tuple[int, int],
        lrn: bool = False,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.model = model
        self.in_channels = int(in_channels)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.lrn = bool(lrn)
        for m in model.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = False
        # The LRN layers have no parameters: a torchvision state dict loads with or without them.
        # alpha is multiplied by n because torch divides it by n, which the paper's formula does not.
        self.norms = nn.ModuleList(
            [nn.LocalResponseNorm(LRN_SIZE, alpha=LRN_SIZE * LRN_ALPHA, beta=LRN_BETA, k=LRN_K) for _ in range(2)]
            if self.lrn
            else []
        )
        first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
        self.conv_channels = int(first_conv.in_channels)
        self.width = int(first_conv.out_channels) if arch == "vgg_small" else None
        self.n_classes = int([m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features)
        self.min_input_size = VGG_SMALL_MIN_SIZE if arch == "vgg_small" else input_min_size(arch)
        if self.conv_channels == 3:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        else:
            mean, std = (
                (float(np.mean(IMAGENET_MEAN)),) * self.conv_channels,
                (float(np.mean(IMAGENET_STD)),) * self.conv_channels,
            )
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self._layers = _named_layers(arch, model, self.norms)
        self.layer_names: tuple[str, ...] = tuple(layer.name for layer in self._layers)
        self.meta: dict[str, Any] = {}

    @property
    def config(self) -> dict[str, Any]:
        """The JSON-able arguments of :func:`build_network` that rebuild this network."""
        return {
            "arch": self.arch,
            "n_classes": self.n_classes,
            "in_channels": self.in_channels,
            "image_size": list(self.image_size),
            "width": self.width,
            "lrn": self.lrn,
        }

    @property
    def input_size(self) -> tuple[int, int]:
        """(H, W) of a configured-size image after :meth:`preprocess` (scaled up where needed)."""
        return _input_size(self.image_size, self.min_input_size)

    def set_normalisation(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Set the per-channel mean and standard deviation that :meth:`preprocess` divides out.

        One value is used for every channel; otherwise give one per input channel of the first
        convolution (3 for alexnet and vgg16).
        """
        values = []
        for name, v in (("mean", mean), ("std", std)):
            t = torch.as_tensor(np.asarray(v, dtype=np.float64).reshape(-1), dtype=torch.float32)
            if len(t) == 1:
                t = t.expand(self.conv_channels)
            if len(t) != self.conv_channels:
                raise ValueError(
                    f"{name} must have 1 or {self.conv_channels} values (one per input channel of {self.arch}), got {len(t)}"
                )
            if not torch.isfinite(t).all():
                raise ValueError(f"{name} must be finite, got {t.tolist()}")
            values.append(t)
        if not (values[1] > 0).all():
            raise ValueError(
                f"std must be > 0 in every channel, got {values[1].tolist()}; a constant channel cannot be normalised"
            )
        self.mean.copy_(values[0].view(1, -1, 1, 1))
        self.std.copy_(values[1].view(1, -1, 1, 1))

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] images N x C x H x W -> the network's input: channels repeated, scaled up, normalised.

        Differentiable in ``x`` (pre-image optimisation goes through it); the rule is in the
        module docstring.
        """
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(
                f"x must be a floating-point torch tensor N x C x H x W in [0, 1], got {type(x).__name__} {getattr(x, 'dtype', '')}"
            )
        if x.ndim == 4 and x.shape[1] not in (1, self.conv_channels):
            raise ValueError(
                f"x has {x.shape[1]} channels but {self.arch} takes {self.conv_channels}-channel (or 1-channel, repeated) images"
            )
        x = _prepare(x, self.conv_channels, self.min_input_size)
        return (x - self.mean) / self.std

    def _index(self, name: str) -> int:
        if not isinstance(name, str):
            raise TypeError(f"a layer name must be a string such as {self.layer_names[0]!r}, got {type(name).__name__}")
        try:
            return self.layer_names.index(name)
        except ValueError:
            raise ValueError(
                f"{self.arch} has no layer {name!r}; its layers are: {', '.join(self.layer_names)}"
            ) from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits N x n_classes of [0, 1] images N x C x H x W."""
        h = self.preprocess(x)
        for layer in self._layers:
            h = layer.module(h)
        return h

    def activations(self, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
        """The outputs of the named ``layers`` for [0, 1] images ``x``, in the order asked.

        The forward pass stops at the deepest layer asked for. An unknown name raises a
        ``ValueError`` that lists the network's layers.
        """
        if isinstance(layers, str) or not isinstance(layers, Sequence):
            raise TypeError(
                f"layers must be a list of layer names such as [{layers!r}], got {type(layers).__name__}; use features(x, name) for one layer"
            )
        if len(layers) == 0:
            raise ValueError(f"layers is empty; name at least one of: {', '.join(self.layer_names)}")
        deepest = max(self._index(name) for name in layers)
        wanted = set(layers)
        out = {}
        h = self.preprocess(x)
        for layer in self._layers[: deepest + 1]:
            h = layer.module(h)
            if layer.name in wanted:
                out[layer.name] = h
        return {name: out[name] for name in layers}

    def features(self, x: torch.Tensor, layer: str) -> torch.Tensor:
        """The output of one named layer for [0, 1] images ``x`` (see :meth:`activations`)."""
        return self.activations(x, [layer])[layer]

    def _geometry(self) -> dict[str, tuple[tuple[int, ...], int, int]]:
        """Per layer: output shape at the configured image size, receptive-field size and stride.

        Receptive fields follow the standard recursion over convolutions and poolings with kernel
        k, stride s and dilation d: r_out = r_in + d (k - 1) j_in, j_out = j_in s (r = j = 1 at the
        input); ReLU and LRN act per position. A fully connected layer sees the whole last map: it
        is a convolution whose kernel covers that map (MatConvNet's fc6), so r grows by
        (max(H, W) - 1) j and the stride stays. Shapes: floor((n + 2p - d (k - 1) - 1) / s) + 1.
        """
        h, w = self.input_size
        shape: tuple[int, ...] = (self.conv_channels, h, w)
        r, j = 1, 1
        out = {}
        for layer in self._layers:
            m = layer.module
            if layer.kind in ("conv", "pool"):
                # All kernels, strides and paddings of these architectures are square.
                k, s, p, d = (_pair(getattr(m, a))[0] for a in ("kernel_size", "stride", "padding", "dilation"))
                h, w = ((n + 2 * p - d * (k - 1) - 1) // s + 1 for n in (h, w))
                shape = (m.out_channels if layer.kind == "conv" else shape[0], h, w)
                r, j = r + d * (k - 1) * j, j * s
            elif layer.kind == "fc":
                if len(shape) == 3:
                    r += (max(shape[1], shape[2]) - 1) * j
                linear = m[-1] if isinstance(m, nn.Sequential) else m
                shape = (int(linear.out_features),)
            out[layer.name] = (shape, r, j)
        return out

    def receptive_field(self, layer: str) -> tuple[int, int]:
        """(size, stride) in pixels of the preprocessed input of one unit of ``layer``.

        E.g. AlexNet conv1 (11, 4), pool1 (19, 8), pool5 (195, 32); VGG16 pool1 (6, 2), pool5
        (212, 32). Pixels are those of :meth:`preprocess`'s output: divide by the scale factor
        ``input_size / image_size`` for pixels of a smaller image that was scaled up. A fully
        connected layer covers the whole last map at the configured image size (:meth:`_geometry`).
        """
        self._index(layer)
        _, size, stride = self._geometry()[layer]
        return size, stride

    def blocks(self, upto: str | None = None) -> list[Block]:
        """The network as a chain of :class:`Block`, from the preprocessed image to ``upto`` (None: fc8).

        A convolution or linear layer forms one block with the ReLU after it, so block names are
        the outputs of ReLUs, poolings, LRNs and of the final linear layer. Composing the blocks'
        modules on ``preprocess(x)`` gives ``features(x, block.name)``.
        """
        geometry = self._geometry()
        groups: list[list[_Layer]] = []
        for layer in self._layers:
            if layer.kind == "relu" and groups and groups[-1][-1].kind in ("conv", "fc"):
                groups[-1].append(layer)
            else:
                groups.append([layer])
        names = [g[-1].name for g in groups]
        if upto is not None:
            if upto not in names:
                self._index(upto)
                raise ValueError(f"{upto!r} is inside a block of {self.arch}; blocks end at: {', '.join(names)}")
            groups = groups[: names.index(upto) + 1]
        blocks = []
        in_shape: tuple[int, ...] = (self.conv_channels, *self.input_size)
        for g in groups:
            module = g[0].module if len(g) == 1 else nn.Sequential(*(layer.module for layer in g))
            out_shape = geometry[g[-1].name][0]
            blocks.append(
                Block(
                    g[-1].name,
                    g[0].kind,
                    module,
                    in_shape,
                    out_shape,
                    tuple(layer.name for layer in g),
                )
            )
            in_shape = out_shape
        return blocks


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _image_size(image_size: Any, arch: str) -> tuple[int, int]:
    if image_size is None:
        side = DEFAULT_IMAGE_SIZE[arch]
        return side, side
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise ValueError(f"image_size must be a positive integer or a pair (H, W), got {image_size!r}")
    return _positive_int(image_size[0], "image_size[0]"), _positive_int(image_size[1], "image_size[1]")


def _check_arch(arch: Any) -> str:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of: {', '.join(ARCHITECTURES)}")
    return arch


def _check_variant(arch: str, in_channels: Any, width: Any, lrn: Any) -> int:
    """Validate the options that depend on the architecture; return ``in_channels``."""
    in_channels = _positive_int(in_channels, "in_channels")
    if arch in TORCHVISION_ARCHITECTURES:
        if in_channels not in (1, 3):
            raise ValueError(
                f"in_channels must be 3 (RGB) or 1 (grey, repeated over RGB) for {arch}, got {in_channels}"
            )
        if width is not None:
            raise ValueError(
                f"width sets the channels of vgg_small only; {arch} has torchvision's fixed widths: leave width=None"
            )
    if lrn and arch != "alexnet":
        raise ValueError(
            f"lrn=True adds AlexNet's local response normalisation and applies to alexnet only, not {arch}"
        )
    return in_channels


def build_network(
    arch: str,
    n_classes: int,
    in_channels: int = 3,
    image_size: int | tuple[int, int] | None = None,
    width: int | None = None,
    lrn: bool = False,
    seed: int = 0,
) -> LayeredNet:
    """A freshly initialised :class:`LayeredNet` (in eval mode) of architecture ``arch``.

    ``n_classes``: outputs of fc8. ``in_channels``: channels of the images (alexnet and vgg16:
    3, or 1 for grey images that are repeated over RGB; vgg_small: its first convolution's
    inputs). ``image_size``: side or (H, W) of the images it is configured for (None: 224 for
    alexnet and vgg16, 32 for vgg_small). ``width``: channels of vgg_small's first block (None:
    16; not allowed for the torchvision architectures). ``lrn``: alexnet with Krizhevsky 2012's
    local response normalisation. The weights are drawn with the global torch generator seeded
    with ``seed`` (its state is restored afterwards); alexnet and vgg16 use torchvision's own
    initialisation.
    """
    import torchvision

    _check_arch(arch)
    n_classes = _positive_int(n_classes, "n_classes")
    in_channels = _check_variant(arch, in_channels, width, lrn)
    size = _image_size(image_size, arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        if arch == "vgg_small":
            width = DEFAULT_WIDTH if width is None else _positive_int(width, "width")
            h, w = _input_size(size, VGG_SMALL_MIN_SIZE)
            model = VGGSmall(n_classes, in_channels, width, (h // 8, w // 8))
        else:
            model = getattr(torchvision.models, arch)(weights=None, num_classes=n_classes)
    return LayeredNet(arch, model, in_channels, size, lrn).eval()


def load_torchvision_weights(
    arch: str,
    state_dict_path: str | Path,
    n_classes: int | None = None,
    in_channels: int = 3,
    image_size: int | tuple[int, int] | None = None,
    lrn: bool = False,
) -> LayeredNet:
    """A :class:`LayeredNet` around torchvision's ``arch`` with the weights of a user's state-dict file.

    ``arch``: alexnet or vgg16; the file (e.g. ImageNet weights saved with
    ``torch.save(model.state_dict(), path)``) is read and checked strictly by
    :func:`repgeo.training.external.load_torchvision_model` with ``torch.load(weights_only=True)``;
    ``n_classes`` None reads it from the file. A state dict of the other architecture, or a
    checkpoint of :func:`save_network`, is refused with a message saying what the file holds.
    Other arguments as in :func:`build_network`. Returned in eval mode with ImageNet normalisation.
    """
    if arch not in TORCHVISION_ARCHITECTURES:
        raise ValueError(
            f"torchvision state dicts exist for {' and '.join(TORCHVISION_ARCHITECTURES)}, not {arch!r}; a vgg_small checkpoint is read by load_network"
        )
    in_channels = _check_variant(arch, in_channels, None, lrn)
    size = _image_size(image_size, arch)
    path = Path(state_dict_path)
    try:
        model = load_torchvision_model(arch, path, n_classes)
    except ValueError as err:
        found = _what_state_dict(path)
        if found is None or found == arch:
            raise
        raise ValueError(f"{path} holds {found}, not a torchvision {arch} state dict; {err}") from err
    return LayeredNet(arch, model, in_channels, size, lrn).eval()


def _what_state_dict(path: Path) -> str | None:
    """What a state-dict file that does not fit holds, when it is recognisable: an architecture or our checkpoint."""
    try:
        sd = _read_state_dict(path)
    except ValueError:
        return None
    keys = set(sd)
    if {"mean", "std"} <= keys and any(k.startswith("model.") for k in keys):
        return "a network checkpoint written by save_network (read it with load_network)"
    for arch in TORCHVISION_ARCHITECTURES:
        with torch.device("meta"):
            expected = set(_builder(arch)(weights=None).state_dict())
        if expected == keys:
            return f"a torchvision {arch} state dict (use arch={arch!r})"
    return None


def save_network(net: LayeredNet, path: str | Path, meta: Mapping[str, Any] | None = None) -> None:
    """Write ``net`` (configuration, state dict) and JSON-able ``meta`` (e.g. accuracies) to ``path``, atomically.

    The file is written with :func:`repgeo.io.save_tensor` and read back by :func:`load_network`
    with ``torch.load(weights_only=True)``.
    """
    if not isinstance(net, LayeredNet):
        raise TypeError(f"net must be a LayeredNet (from build_network or a loader), got {type(net).__name__}")
    meta = dict(meta or {})
    try:
        json.dumps(meta)
    except TypeError as err:
        raise TypeError(
            f"meta must hold only JSON-able values (str, numbers, lists, dicts) so that the file loads with weights_only=True: {err}"
        ) from err
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    io.save_tensor(
        {
            "format": _CHECKPOINT_FORMAT,
            "config": net.config,
            "state_dict": state,
            "meta": meta,
        },
        path,
    )


def load_network(path: str | Path, arch: str | None = None, device: str | torch.device = "cpu") -> LayeredNet:
    """The :class:`LayeredNet` saved by :func:`save_network` at ``path``, in eval mode on ``device``.

    ``arch`` (None: any) is the architecture expected; a checkpoint of another one is refused
    with a message naming both. The saved metadata is in ``net.meta``.
    """
    path = Path(path)
    if arch is not None:
        _check_arch(arch)
    if not path.is_file():
        raise FileNotFoundError(f"network checkpoint {path} does not exist")
    try:
        obj = io.load_tensor(path)
    except Exception as err:  # torch raises UnpicklingError, RuntimeError, EOFError... for a file it cannot read
        raise ValueError(
            f"{path} cannot be read by torch.load(weights_only=True): not a checkpoint written by save_network? ({torch_load_reason(err, path)})"
        ) from err
    if not isinstance(obj, Mapping) or obj.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a network checkpoint written by save_network; a torchvision state dict is read by load_torchvision_weights"
        )
    config = dict(obj["config"])
    if arch is not None and config["arch"] != arch:
        raise ValueError(
            f"{path} holds a {config['arch']} network, not the {arch} asked for; train or pick a {arch} checkpoint"
        )
    net = build_network(**config)
    try:
        net.load_state_dict(obj["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"the state dict in {path} does not fit its configuration {config}: {err}") from err
    net.meta = dict(obj["meta"])
    return net.to(device).eval()


def channel_statistics(X: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and (population) standard deviation of images N x C x H x W."""
    if not isinstance(X, torch.Tensor) or X.ndim != 4 or len(X) == 0:
        raise ValueError(f"X must be a non-empty tensor N x C x H x W, got {getattr(X, 'shape', type(X).__name__)}")
    X = X.double()
    return X.mean(dim=(0, 2, 3)).tolist(), X.std(dim=(0, 2, 3), correction=0).tolist()


@dataclass
class TrainingResult:
    """Per-epoch history (epoch, train_loss, train_accuracy, test_accuracy) and the final accuracies.

    Accuracies are top-1, measured in eval mode on the unaugmented images; ``test_accuracy`` is
    NaN without test images. ``seconds``: wall time of the training.
    """

    history: list[dict[str, float]]
    train_accuracy: float
    test_accuracy: float
    seconds: float


def _images(X: Any, name: str, channels: int) -> torch.Tensor:
    t = torch.as_tensor(X if isinstance(X, torch.Tensor) else np.asarray(X)).float()
    if t.ndim != 4 or t.shape[1] != channels:
        raise ValueError(
            f"{name} must be images N x {channels} x H x W (the network's in_channels), got shape {tuple(t.shape)}"
        )
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values; fix the data stage's output")
    if len(t) and (t.min() < 0 or t.max() > 1):
        raise ValueError(
            f"{name} must lie in [0, 1] (the network normalises internally), got values in [{float(t.min()):.4g}, {float(t.max()):.4g}]; "
            "pass unnormalised images"
        )
    return t


def _labels(y: Any, name: str, n: int, n_classes: int) -> torch.Tensor:
    a = np.asarray(y.cpu() if isinstance(y, torch.Tensor) else y)
    if a.ndim != 1 or len(a) != n:
        raise ValueError(f"{name} must hold one integer label per image ({n}), got shape {a.shape}")
    if len(a) and not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be integer class labels, got dtype {a.dtype}")
    if len(a) and (a.min() < 0 or a.max() >= n_classes):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}) for a network with {n_classes} classes, got labels in [{a.min()}, {a.max()}]"
        )
    return torch.as_tensor(a, dtype=torch.long)


def train_network(
    net: LayeredNet,
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    epochs: int = 10,
    lr: float = 0.01,
    batch_size: int = 128,
    seed: int = 0,
    optimiser: str = "sgd",
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    augment: bool = True,
    fit_normalisation: bool | None = None,
    logger: logging.Logger | None = None,
    device: str | torch.device = "cpu",
) -> TrainingResult:
    """Train ``net`` in place with cross-entropy on [0, 1] images; log and return per-epoch accuracies.

    Defaults are Krizhevsky et al. 2012, section 5 (SGD, batch 128, momentum 0.9, weight decay
    5e-4, learning rate 0.01) and their horizontal reflections (section 4.1): with ``augment``
    each training image is flipped left-right with probability 1/2 when drawn. ``optimiser``
    "adam" uses Adam with ``lr`` and ``weight_decay`` (``momentum`` is then unused). The SGD
    defaults are meant for long runs: trained briefly (a few epochs of ~25 steps) vgg_small stays at
    chance with them, whereas Adam with lr 1e-3, batch 64 and no weight decay reached 81% test
    accuracy in 5 epochs (about 50 s on 2 CPU cores) on 3000 32 x 32 crops of six scikit-image
    photographs labelled by photograph.
    ``fit_normalisation`` (None: for vgg_small only) sets the network's mean/std to the training
    images' per-channel statistics first; alexnet and vgg16 keep ImageNet's unless asked.

    Images N x C x H x W with C = ``net.in_channels``, labels integers in [0, n_classes); the test
    set may be empty. Batch order, flips and dropout come from ``seed``, so training on the CPU is
    deterministic (the global torch generator is restored afterwards). The network is left on
    ``device`` in eval mode. A non-finite loss stops training with a ``ValueError``.
    """
    if not isinstance(net, LayeredNet):
        raise TypeError(f"net must be a LayeredNet (from build_network or a loader), got {type(net).__name__}")
    Xtr = _images(X_train, "X_train", net.in_channels)
    Xte = _images(X_test, "X_test", net.in_channels)
    if len(Xtr) == 0:
        raise ValueError("X_train is empty; give at least one training image")
    ytr = _labels(y_train, "y_train", len(Xtr), net.n_classes)
    yte = _labels(y_test, "y_test", len(Xte), net.n_classes)
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if optimiser not in OPTIMISERS:
        raise ValueError(f"optimiser must be one of {OPTIMISERS}, got {optimiser!r}")
    for name, value, ok in (
        ("lr", lr, lambda v: v > 0),
        ("momentum", momentum, lambda v: 0 <= v < 1),
        ("weight_decay", weight_decay, lambda v: v >= 0),
    ):
        if not isinstance(value, (int, float, np.number)) or not math.isfinite(value) or not ok(value):
            raise ValueError(
                f"{name} must be a finite number (lr > 0, 0 <= momentum < 1, weight_decay >= 0), got {value!r}"
            )
    log = logger or logging.getLogger(__name__)
    if fit_normalisation is None:
        fit_normalisation = net.arch == "vgg_small"
    if fit_normalisation:
        net.set_normalisation(*channel_statistics(Xtr))
    dev = torch.device(device)
    net.to(dev)
    params = list(net.parameters())
    if optimiser == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(int(seed))
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(int(seed))  # dropout draws from the global generator
        for epoch in range(1, epochs + 1):
            net.train()
            order = torch.randperm(len(Xtr), generator=g)
            total = 0.0
            for s in range(0, len(order), batch_size):
                idx = order[s : s + batch_size]
                xb = Xtr[idx]
                if augment:
                    flip = torch.rand(len(idx), generator=g) < 0.5
                    xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(xb.to(dev)), ytr[idx].to(dev))
                if not torch.isfinite(loss):
                    raise ValueError(
                        f"training diverged at epoch {epoch}: the loss is {float(loss)}; lower lr (now {lr})"
                    )
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            row = {
                "epoch": epoch,
                "train_loss": total / len(Xtr),
                "train_accuracy": _accuracy(net, Xtr, ytr, batch_size, str(dev)),
                "test_accuracy": _accuracy(net, Xte, yte, batch_size, str(dev)),
            }
            history.append(row)
            log.info(
                "%s epoch %d/%d: loss %.4f, train accuracy %.4f, test accuracy %.4f",
                net.arch,
                epoch,
                epochs,
                row["train_loss"],
                row["train_accuracy"],
                row["test_accuracy"],
            )
    net.eval()
    return TrainingResult(
        history,
        history[-1]["train_accuracy"],
        history[-1]["test_accuracy"],
        time.perf_counter() - start,
    )


# --- many images through a network ---------------------------------------------------------------

# Images go through :meth:`LayeredNet.preprocess` and :meth:`LayeredNet.features` in batches of
# these many: alexnet and vgg16 scale images up to at least 63 x 63 (224 x 224 for ImageNet-size
# inputs) with 3 channels, so a whole training split at once would need gigabytes. Each image is
# processed on its own, so the results do not depend on the batch size.
PREPROCESS_BATCH = 512
FEATURE_BATCH = 256


def preprocess_images(
    net: LayeredNet, X: torch.Tensor, *, device: str | torch.device = "cpu", batch_size: int = PREPROCESS_BATCH
) -> torch.Tensor:
    """:meth:`LayeredNet.preprocess` of [0, 1] images ``X`` on ``device``, in batches and without gradients."""
    with torch.no_grad():
        return torch.cat([net.preprocess(X[i : i + batch_size].to(device)) for i in range(0, len(X), batch_size)])


def layer_features(net: LayeredNet, X: torch.Tensor, layer: str, *, batch_size: int = FEATURE_BATCH) -> np.ndarray:
    """The output of ``layer`` for [0, 1] images ``X``, in batches and without gradients, as a numpy array."""
    with torch.no_grad():
        return torch.cat([net.features(X[i : i + batch_size], layer) for i in range(0, len(X), batch_size)]).numpy()


def unpreprocess(net: LayeredNet, image_size: Sequence[int], channels: int):
    """The map back from the network's input to [0, 1]-unit images of the dataset's ``image_size``
    (H, W) and ``channels`` (not clipped): the normalisation undone, the image scaled back down
    (bilinear, antialiased) where :meth:`LayeredNet.preprocess` scaled it up, and channels averaged
    where grey images were repeated over RGB (alexnet, vgg16)."""

    def unprocess(p: torch.Tensor) -> torch.Tensor:
        x = p * net.std + net.mean
        if tuple(x.shape[2:]) != tuple(image_size):
            x = torch.nn.functional.interpolate(
                x, size=tuple(image_size), mode="bilinear", align_corners=False, antialias=True
            )
        if x.shape[1] != channels:  # grey images repeated over RGB for alexnet / vgg16
            x = x.mean(dim=1, keepdim=True)
        return x

    return unprocess


def layer_names(arch: str, lrn: bool = False) -> tuple[str, ...]:
    """The layer names of ``arch`` in forward order, without allocating weights (built on the meta device).

    Used to check a configuration's layer names before any job runs.
    """
    _check_arch(arch)
    with torch.device("meta"):
        return build_network(arch, 10, lrn=lrn).layer_names
