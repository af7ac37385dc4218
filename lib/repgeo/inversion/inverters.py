"""Modular inverting networks: one inverter module per block of a forward network, stacked to
reconstruct the image from a deep layer (the "Deep Restoration" study, sections 3.2 and 4.2;
Dosovitskiy & Brox, "Inverting visual representations with convolutional networks", CVPR 2016).

The forward network is an ordered list of blocks Φ_l = f_l(Φ_{l-1}), l = 1..L, with Φ_0 = x the
(preprocessed) image; a block is a convolution + ReLU, a pooling or AlexNet's local response
normalisation (:class:`ForwardBlock`). Inverter module g_l maps the block's output back to its input,
g_l(Φ_l) ≈ Φ_{l-1}, and the stack g_1 ∘ … ∘ g_L reconstructs x from Φ_L (:class:`InverterStack`).

Modules (:func:`inverter_module`), hidden width h = max(C_in, C_out) unless given:

* ``"deconv"``: ConvTranspose2d(C_out → h, kernel k, stride s) → ReLU → Conv2d(h → C_in, 3x3, padding 1).
  s is the block's spatial factor (input size / output size, rounded), k = 2s for a strided block (a kernel
  divisible by its stride overlaps evenly, Odena, Dumoulin & Olah, "Deconvolution and checkerboard
  artifacts", Distill 2016), 3 for a stride-1 block and 1 for a local response normalisation, which
  mixes channels at one position only (Krizhevsky et al. 2012, section 3.3); k grows where a block
  shrinks its input more than that (an unpadded 11x11 convolution), and padding/output padding are
  solved so the output has exactly the block's input height and width (odd sizes included, 15 → 7 → 15).
* ``"upsample"``: nearest-neighbour resize to the block's input size → Conv2d(C_out → h, 3x3) → ReLU →
  Conv2d(h → C_in, 3x3), both convolutions padded to keep the size: the resize-convolution that Odena et
  al. recommend against checkerboard artefacts (they found nearest better than bilinear). Mode
  ``nearest-exact`` is used so that non-integer factors (7 → 15) are sampled symmetrically.

No module ends in a nonlinearity: the pixel target is a preprocessed image that may be negative, and
although the target of a module above a ReLU is ≥ 0, an unbounded output keeps every module the same
function class, so the three regimes differ only in how they are trained. Pixel outputs are clipped to
[0, 1] only for display and metrics.

Training (Adam, lr 3e-4 as in the "Deep Restoration" study; batch 64 as in Dosovitskiy & Brox),
with the same initial weights, the same batches in the same order and the same number of epochs in
every regime. The loss term of level l is the normalised squared error

    e_l(y) = mean((y − Φ_l)²) / E_l,     E_l = mean of Φ_l² over the training images,

a fixed rescaling of the MSE (so 1.0 is the error of predicting zeros and the layers' terms are
comparable), unlike the per-image ‖Φ_0‖² of Mahendran & Vedaldi's representation error, which would
weight dark images more. The regimes (:func:`train_separate`, :func:`train_joint`,
:func:`train_end_to_end`):

* separate: each g_l is trained on its own pair, loss e_{l-1}(g_l(Φ_l)) with the true Φ_l as input; the
  modules are independent (one Adam over their disjoint parameters and the sum of their losses is the
  same as L separate Adams), and are stacked afterwards;
* joint: the chained stack, ĥ_L = Φ_L, ĥ_{l-1} = g_l(ĥ_l), loss Σ_{l=1..L} e_{l-1}(ĥ_{l-1}): every module
  is fed the previous module's reconstruction, not the true feature map, and every module's output is
  pulled towards the true feature map of its level;
* end to end: the same chained stack with the pixel term e_0(ĥ_0) only.

The forward blocks are never modified: their feature maps are computed under ``torch.no_grad`` (no
gradient reaches them, without touching their ``requires_grad`` flags) in eval mode, and each module's
train/eval mode is restored afterwards.

The "Deep Restoration" study's two error visualisations (:func:`signed_error_image`,
:func:`absolute_error_image`) and the image MSE against the mean-image baseline
(:func:`inversion_metrics`) are computed on [0, 1] images; SSIM and PSNR are in
:mod:`repgeo.inversion.metrics`.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from .. import registry
from .metrics import image_metrics

KINDS = ("conv", "pool", "lrn")
VARIANTS = ("deconv", "upsample")
REGIMES = registry.INVERTER_REGIMES
HISTORY_COLUMNS = ("regime", "layer", "epoch", "loss")
IMAGE_LEVEL = "image"

Shape = tuple[int, int, int]


def _shape(value: Any, name: str) -> Shape:
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a (C, H, W) tuple of positive integers, got {value!r}") from None
    if len(items) != 3 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in items
    ):
        raise ValueError(f"{name} must be a (C, H, W) tuple of positive integers, got {value!r}")
    return tuple(int(v) for v in items)  # type: ignore[return-value]


def block_kind(module: nn.Module) -> str:
    """The kind of a forward block: ``"conv"`` (a Conv2d, alone or first in a Sequential with its
    nonlinearity), ``"pool"`` (MaxPool2d, AvgPool2d) or ``"lrn"`` (LocalResponseNorm)."""
    if isinstance(module, nn.Conv2d) or (
        isinstance(module, nn.Sequential) and len(module) > 0 and isinstance(module[0], nn.Conv2d)
    ):
        return "conv"
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return "pool"
    if isinstance(module, nn.LocalResponseNorm):
        return "lrn"
    raise TypeError(
        f"module must be a convolution block (Conv2d or Sequential(Conv2d, ReLU)), MaxPool2d/AvgPool2d or LocalResponseNorm, "
        f"got {type(module).__name__}; pass kind= explicitly to ForwardBlock for other modules"
    )


@dataclass(frozen=True)
class ForwardBlock:
    """One block of the forward network, Φ_l = module(Φ_{l-1}); shapes are (C, H, W) without the batch
    axis; ``kind`` is one of :data:`KINDS`, inferred by :func:`block_kind` when left empty."""

    name: str
    module: nn.Module
    in_shape: Shape
    out_shape: Shape
    kind: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or self.name == IMAGE_LEVEL:
            raise ValueError(
                f"block name must be a non-empty string other than {IMAGE_LEVEL!r} (the label of the pixels), got {self.name!r}"
            )
        if not isinstance(self.module, nn.Module):
            raise TypeError(f"block {self.name!r}: module must be a torch.nn.Module, got {type(self.module).__name__}")
        object.__setattr__(self, "in_shape", _shape(self.in_shape, f"block {self.name!r} in_shape"))
        object.__setattr__(self, "out_shape", _shape(self.out_shape, f"block {self.name!r} out_shape"))
        kind = self.kind or block_kind(self.module)
        if kind not in KINDS:
            raise ValueError(f"block {self.name!r}: kind must be one of {KINDS}, got {kind!r}")
        object.__setattr__(self, "kind", kind)


def _module_device(modules: Sequence[nn.Module], what: str) -> torch.device:
    devices = {t.device for m in modules for t in (*m.parameters(), *m.buffers())}
    if len(devices) > 1:
        raise ValueError(f"{what} are on several devices {sorted(map(str, devices))}; move them to one device")
    return devices.pop() if devices else torch.device("cpu")


@contextmanager
def _evaluating(modules: Sequence[nn.Module]) -> Iterator[None]:
    modes = [m.training for m in modules]
    try:
        for m in modules:
            m.eval()
        yield
    finally:
        for m, mode in zip(modules, modes, strict=True):
            m.train(mode)


def forward_blocks(named_modules: Sequence[tuple[str, nn.Module]], input_shape: Sequence[int]) -> list[ForwardBlock]:
    """The blocks of a forward network given as ``(name, module)`` pairs in order, with their shapes
    found by passing one zero image of ``input_shape`` (C, H, W) through them."""
    in_shape = _shape(input_shape, "input_shape")
    pairs = list(named_modules)
    if not pairs:
        raise ValueError("named_modules is empty; give the forward network as a list of (name, module) pairs")
    modules = [m for _, m in pairs]
    for name, m in pairs:
        if not isinstance(m, nn.Module):
            raise TypeError(f"named_modules: {name!r} must map to a torch.nn.Module, got {type(m).__name__}")
    blocks = []
    with torch.no_grad(), _evaluating(modules):
        x = torch.zeros((1, *in_shape), device=_module_device(modules, "the forward modules"))
        for name, module in pairs:
            y = module(x)
            blocks.append(ForwardBlock(name, module, tuple(x.shape[1:]), tuple(y.shape[1:])))
            x = y
    return blocks


def _check_blocks(blocks: Sequence[ForwardBlock | tuple]) -> list[ForwardBlock]:
    if isinstance(blocks, (ForwardBlock, nn.Module)) or not isinstance(blocks, Sequence):
        raise TypeError(
            f"blocks must be a list of ForwardBlock or (name, module, in_shape, out_shape) tuples, got {type(blocks).__name__}"
        )
    if len(blocks) == 0:
        raise ValueError("blocks is empty; give at least one forward block")
    checked = []
    for i, b in enumerate(blocks):
        if isinstance(b, ForwardBlock):
            checked.append(b)
        elif isinstance(b, tuple) and len(b) == 4:
            checked.append(ForwardBlock(*b))
        else:
            raise TypeError(
                f"blocks[{i}] must be a ForwardBlock or a (name, module, in_shape, out_shape) tuple, got {b!r}"
            )
    names = [b.name for b in checked]
    if len(set(names)) != len(names):
        raise ValueError(f"block names must be unique, got {names}")
    for prev, b in itertools.pairwise(checked):
        if prev.out_shape != b.in_shape:
            raise ValueError(
                f"block {b.name!r} has in_shape {b.in_shape} but block {prev.name!r} before it has out_shape {prev.out_shape}"
            )
    modules = [b.module for b in checked]
    with torch.no_grad(), _evaluating(modules):
        x = torch.zeros((1, *checked[0].in_shape), device=_module_device(modules, "the forward blocks"))
        for b in checked:
            x = b.module(x)
            if tuple(x.shape[1:]) != b.out_shape:
                raise ValueError(
                    f"block {b.name!r} declares out_shape {b.out_shape} but its module gives {tuple(x.shape[1:])}; use forward_blocks to compute the shapes"
                )
    return checked


def _level_names(blocks: Sequence[ForwardBlock]) -> list[str]:
    """Label of Φ_l for l = 0..L-1: the pixels, then the block whose output it is."""
    return [IMAGE_LEVEL, *(b.name for b in blocks[:-1])]


def feature_maps(blocks: Sequence[ForwardBlock], x: torch.Tensor) -> list[torch.Tensor]:
    """[Φ_0 = x, Φ_1, …, Φ_L] of a batch, without gradients and with the blocks in eval mode."""
    blocks = _check_blocks(blocks)
    x = _images(x, "x", blocks[0].in_shape)
    return _feature_maps(blocks, x.to(_module_device([b.module for b in blocks], "the forward blocks")))


def _feature_maps(blocks: Sequence[ForwardBlock], x: torch.Tensor) -> list[torch.Tensor]:
    feats = [x]
    with torch.no_grad(), _evaluating([b.module for b in blocks]):
        for b in blocks:
            feats.append(b.module(feats[-1]))
    return feats


def _transposed_geometry(n_in: int, n_out: int, stride: int, base_kernel: int) -> tuple[int, int, int]:
    """Kernel, padding and output padding of a transposed convolution of ``stride`` whose output has
    exactly ``n_in`` samples when its input has ``n_out``: (n_out − 1)·s − 2p + k + output_padding = n_in."""
    needed = n_in - (n_out - 1) * stride
    if needed > base_kernel:
        return needed, 0, 0
    deficit = base_kernel - needed
    padding = (deficit + 1) // 2
    output_padding = 2 * padding - deficit
    if output_padding >= stride:
        # PyTorch needs output_padding < stride; one more kernel tap makes the deficit even instead.
        return base_kernel + 1, padding, 0
    return base_kernel, padding, output_padding


class InverterModule(nn.Module):
    """g_l: a block's output (``out_shape``) back to its input (``in_shape``); see the module docstring."""

    def __init__(self, in_shape: Shape, out_shape: Shape, kind: str, variant: str, width: int) -> None:
        super().__init__()
        self.in_shape, self.out_shape, self.kind, self.variant, self.width = in_shape, out_shape, kind, variant, width
        (c_in, h_in, w_in), (c_out, h_out, w_out) = in_shape, out_shape
        if variant == "deconv":
            geometry = []
            for n_in, n_out in ((h_in, h_out), (w_in, w_out)):
                # The nearest integer factor: a ceil-mode pooling takes 15 to 8, still a stride of 2.
                stride = max(1, (2 * n_in + n_out) // (2 * n_out))
                base = 1 if kind == "lrn" else (3 if stride == 1 else 2 * stride)
                geometry.append((stride, *_transposed_geometry(n_in, n_out, stride, base)))
            (sh, kh, ph, oh), (sw, kw, pw, ow) = geometry
            first: list[nn.Module] = [
                nn.ConvTranspose2d(c_out, width, (kh, kw), stride=(sh, sw), padding=(ph, pw), output_padding=(oh, ow))
            ]
        else:
            resize = (
                nn.Upsample(size=(h_in, w_in), mode="nearest-exact")
                if (h_in, w_in) != (h_out, w_out)
                else nn.Identity()
            )
            first = [resize, nn.Conv2d(c_out, width, 3, padding=1)]
        self.layers = nn.Sequential(*first, nn.ReLU(), nn.Conv2d(width, c_in, 3, padding=1))

    def forward(self, phi: torch.Tensor) -> torch.Tensor:
        if phi.ndim != 4 or tuple(phi.shape[1:]) != self.out_shape:
            raise ValueError(
                f"the inverter of this {self.kind} block takes feature maps N x {' x '.join(map(str, self.out_shape))}, got shape {tuple(phi.shape)}"
            )
        return self.layers(phi)


def inverter_module(
    in_shape: Sequence[int], out_shape: Sequence[int], kind: str, variant: str = "deconv", width: int | None = None
) -> InverterModule:
    """The inverter of one block, mapping its output (``out_shape``, C x H x W) to its input (``in_shape``),
    of ``variant`` ``"deconv"`` or ``"upsample"`` with hidden width ``width`` (default max(C_in, C_out))."""
    in_shape, out_shape = _shape(in_shape, "in_shape"), _shape(out_shape, "out_shape")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if kind == "lrn" and in_shape != out_shape:
        raise ValueError(
            f"a local response normalisation keeps its input's shape, got in_shape {in_shape} and out_shape {out_shape}"
        )
    if kind == "pool" and (in_shape[0] != out_shape[0] or out_shape[1] > in_shape[1] or out_shape[2] > in_shape[2]):
        raise ValueError(
            f"a pooling keeps the channels and does not enlarge the map, got in_shape {in_shape} and out_shape {out_shape}"
        )
    if width is None:
        width = max(in_shape[0], out_shape[0])
    elif isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive integer or None (= max of the channel counts), got {width!r}")
    return InverterModule(in_shape, out_shape, kind, variant, int(width))


class InverterStack(nn.Module):
    """The modules g_1..g_L (``inverters[l-1]`` inverts block l) composed in reverse: Φ_L → x."""

    def __init__(self, inverters: Sequence[InverterModule], names: Sequence[str]) -> None:
        super().__init__()
        inverters, names = list(inverters), list(names)
        if not inverters or len(names) != len(inverters):
            raise ValueError(
                f"an inverter stack needs one name per module and at least one module, got {len(inverters)} modules and {len(names)} names"
            )
        for i, (lower, upper) in enumerate(itertools.pairwise(inverters)):
            if lower.out_shape != upper.in_shape:
                raise ValueError(
                    f"inverters[{i + 1}] outputs {upper.in_shape} but inverters[{i}] takes {lower.out_shape}; the modules do not chain"
                )
        self.inverters = nn.ModuleList(inverters)
        self.names = tuple(names)

    @property
    def depth(self) -> int:
        return len(self.inverters)

    def forward_all(self, phi: torch.Tensor) -> list[torch.Tensor]:
        """The chained reconstructions [ĥ_0, …, ĥ_{L-1}] of Φ_0 (the input) … Φ_{L-1} from Φ_L."""
        outs: list[torch.Tensor] = [phi] * self.depth
        z = phi
        for level in reversed(range(self.depth)):
            z = self.inverters[level](z)
            outs[level] = z
        return outs

    def forward(self, phi: torch.Tensor) -> torch.Tensor:
        """The reconstruction ĥ_0 of the input from Φ_L."""
        z = phi
        for inverter in reversed(self.inverters):
            z = inverter(z)
        return z

    def truncated(self, depth: int) -> InverterStack:
        """The stack of the first ``depth`` modules (sharing their weights): reconstruction from block ``depth``."""
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or not 1 <= depth <= self.depth:
            raise ValueError(f"depth must be an integer in [1, {self.depth}], got {depth!r}")
        return InverterStack(list(self.inverters)[: int(depth)], self.names[: int(depth)])


def inverter_stack(
    blocks: Sequence[ForwardBlock | tuple], variant: str = "deconv", width: int | None = None, seed: int = 0
) -> InverterStack:
    """A freshly initialised stack for ``blocks`` (PyTorch's default initialisation from ``seed``, on the CPU)."""
    blocks = _check_blocks(blocks)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        inverters = [inverter_module(b.in_shape, b.out_shape, b.kind, variant, width) for b in blocks]
    return InverterStack(inverters, [b.name for b in blocks])


@dataclass(frozen=True, kw_only=True)
class InverterSettings:
    """What a training run depends on besides the blocks and the data. ``variant`` and ``epochs``
    have no default: the workflow's (``inversion.inverters`` in the config schema) is the one."""

    variant: str
    width: int | None = None
    epochs: int
    batch_size: int = 64
    lr: float = 3e-4
    seed: int = 0

    def validate(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.width is not None and (
            isinstance(self.width, bool) or not isinstance(self.width, (int, np.integer)) or self.width < 1
        ):
            raise ValueError(f"width must be a positive integer or None, got {self.width!r}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if (
            isinstance(self.lr, bool)
            or not isinstance(self.lr, (int, float))
            or not (math.isfinite(self.lr) and self.lr > 0)
        ):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise TypeError(f"seed must be an integer, got {self.seed!r}")


@dataclass
class InverterTraining:
    """A trained stack: ``history`` has one row per loss term and epoch (columns :data:`HISTORY_COLUMNS`,
    ``layer`` = the representation the term reconstructs, ``"image"`` for the pixels; ``loss`` = the
    epoch's mean of the normalised squared error e_l over its batches); ``target_energy`` maps each
    level to its normaliser E_l."""

    regime: str
    stack: InverterStack
    history: pd.DataFrame
    settings: InverterSettings
    target_energy: dict[str, float]


def _images(value: Any, name: str, shape: Shape | None = None, unit: bool = False) -> torch.Tensor:
    if not isinstance(value, (torch.Tensor, np.ndarray)):
        raise TypeError(f"{name} must be a torch tensor or numpy array N x C x H x W, got {type(value).__name__}")
    t = torch.as_tensor(value)
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}; convert (and scale) it first")
    t = t.float()
    if t.ndim != 4 or t.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty batch N x C x H x W, got shape {tuple(t.shape)}")
    if shape is not None and tuple(t.shape[1:]) != shape:
        raise ValueError(f"{name} must have images of shape {shape} (C, H, W), got {tuple(t.shape[1:])}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean the input")
    if unit and (float(t.min()) < -1e-6 or float(t.max()) > 1 + 1e-6):
        raise ValueError(
            f"{name} must be images in [0, 1], got values in [{float(t.min()):.3g}, {float(t.max()):.3g}]; unprocess them first"
        )
    return t


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


def _target_energy(blocks: list[ForwardBlock], X: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """E_l = mean of Φ_l² over X for l = 0..L-1 (module docstring), on ``device``."""
    sums = torch.zeros(len(blocks), dtype=torch.float64, device=device)
    for start in range(0, len(X), batch_size):
        feats = _feature_maps(blocks, X[start : start + batch_size].to(device))
        sums += torch.stack([f.double().square().sum() for f in feats[:-1]])
    energy = sums / torch.tensor([len(X) * math.prod(b.in_shape) for b in blocks], dtype=torch.float64, device=device)
    for level, e in zip(_level_names(blocks), energy.tolist(), strict=True):
        if e == 0:
            raise ValueError(
                f"representation {level!r} is all zero on X, so there is nothing to invert there; check the forward network or the data"
            )
    return energy.float()


def _loss_terms(
    regime: str, stack: InverterStack, feats: list[torch.Tensor], energy: torch.Tensor
) -> list[torch.Tensor]:
    """The terms e_l of the regime's objective (module docstring), lowest level first."""
    if regime == "separate":
        outs = [g(feats[level + 1]) for level, g in enumerate(stack.inverters)]
    elif regime == "joint":
        outs = stack.forward_all(feats[-1])
    else:
        outs = [stack(feats[-1])]
    return [(out - feats[level]).square().mean() / energy[level] for level, out in enumerate(outs)]


def _train(
    regime: str,
    blocks: Sequence[ForwardBlock | tuple],
    X: Any,
    settings: InverterSettings,
    logger: logging.Logger | None,
) -> InverterTraining:
    settings.validate()
    blocks = _check_blocks(blocks)
    X = _images(X, "X", blocks[0].in_shape)
    log = logger or logging.getLogger(__name__)
    device = _module_device([b.module for b in blocks], "the forward blocks")
    stack = inverter_stack(blocks, settings.variant, settings.width, settings.seed).to(device)
    energy = _target_energy(blocks, X, settings.batch_size, device)
    levels = _level_names(blocks) if regime != "end_to_end" else [IMAGE_LEVEL]
    optimiser = torch.optim.Adam(stack.parameters(), lr=settings.lr)
    n, bs = len(X), int(settings.batch_size)
    rows = []
    for epoch in range(1, int(settings.epochs) + 1):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=_epoch_generator(settings.seed, epoch))
        sums = torch.zeros(len(levels), device=device)
        for start in range(0, n, bs):
            index = order[start : start + bs]
            feats = _feature_maps(blocks, X[index].to(device))
            terms = _loss_terms(regime, stack, feats, energy)
            objective = torch.stack(terms).sum()
            optimiser.zero_grad(set_to_none=True)
            objective.backward()
            optimiser.step()
            sums += torch.stack(terms).detach() * len(index)
        means = (sums / n).tolist()
        # Checked once per epoch rather than per batch, to keep the GPU from synchronising every step.
        if not all(math.isfinite(v) for v in means):
            raise FloatingPointError(
                f"{regime} training diverged at epoch {epoch} (mean losses {means}); lower lr (got {settings.lr})"
            )
        rows += [(regime, level, epoch, loss) for level, loss in zip(levels, means, strict=True)]
        log.info(
            "inverters %s epoch %d/%d: loss %.4g (%s) %.1f s",
            regime,
            epoch,
            settings.epochs,
            sum(means),
            ", ".join(f"{level} {loss:.4g}" for level, loss in zip(levels, means, strict=True)),
            time.perf_counter() - t0,
        )
    history = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return InverterTraining(
        regime, stack, history, settings, dict(zip(_level_names(blocks), energy.tolist(), strict=True))
    )


def _regime_trainer(regime: str, doc: str) -> Callable[..., InverterTraining]:
    """The public trainer of one regime: :func:`_train` with the :class:`InverterSettings` as keyword
    arguments (one signature for the three regimes, so their defaults cannot drift apart)."""

    def train(
        blocks: Sequence[ForwardBlock | tuple],
        X: Any,
        *,
        variant: str,
        width: int | None = None,
        epochs: int,
        batch_size: int = 64,
        lr: float = 3e-4,
        seed: int = 0,
        logger: logging.Logger | None = None,
    ) -> InverterTraining:
        return _train(
            regime,
            blocks,
            X,
            InverterSettings(variant=variant, width=width, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed),
            logger,
        )

    train.__name__ = train.__qualname__ = f"train_{regime}"
    train.__doc__ = doc
    return train


train_separate = _regime_trainer(
    "separate",
    """Each module trained on its own pair (Φ_l(x), Φ_{l-1}(x)) of the frozen blocks, then stacked
    (the "Deep Restoration" study, section 3.2; module docstring). ``X``: preprocessed images
    N x C x H x W, the first block's input.""",
)
train_joint = _regime_trainer(
    "joint", """The chained stack trained with a reconstruction term at every module's output (module docstring)."""
)
train_end_to_end = _regime_trainer(
    "end_to_end", """The same stack trained with the pixel loss only, as Dosovitskiy & Brox's monolithic inverters."""
)


def reconstruct(
    stack: InverterStack,
    blocks: Sequence[ForwardBlock | tuple],
    X: Any,
    *,
    unprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """unprocess(stack(Φ_L(X))) on the CPU, in batches and without gradients: the reconstruction of the
    preprocessed images ``X`` from the last block, mapped to pixel units by ``unprocess`` (default
    identity) and not clipped."""
    blocks = _check_blocks(blocks)
    if not isinstance(stack, InverterStack):
        raise TypeError(f"stack must be an InverterStack, got {type(stack).__name__}")
    if stack.depth != len(blocks):
        raise ValueError(
            f"stack has {stack.depth} modules but {len(blocks)} blocks were given; use stack.truncated({len(blocks)}) or the matching blocks"
        )
    for g, b in zip(stack.inverters, blocks, strict=True):
        if (g.in_shape, g.out_shape) != (b.in_shape, b.out_shape):
            raise ValueError(
                f"block {b.name!r} maps {b.in_shape} to {b.out_shape} but its inverter maps {g.out_shape} to {g.in_shape}"
            )
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if unprocess is not None and not callable(unprocess):
        raise TypeError(
            f"unprocess must be a callable (preprocessed → [0, 1] images) or None, got {type(unprocess).__name__}"
        )
    X = _images(X, "X", blocks[0].in_shape)
    block_device = _module_device([b.module for b in blocks], "the forward blocks")
    stack_device = _module_device([stack], "the inverter stack")
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            phi = _feature_maps(blocks, X[start : start + batch_size].to(block_device))[-1]
            x_hat = stack(phi.to(stack_device))
            out.append((unprocess(x_hat) if unprocess is not None else x_hat).cpu())
    return torch.cat(out)


def _error(x: Any, x_hat: Any) -> tuple[torch.Tensor, torch.Tensor]:
    x, x_hat = _images(x, "x"), _images(x_hat, "x_hat")
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {tuple(x.shape)} and {tuple(x_hat.shape)}")
    d = x_hat - x
    peak = d.abs().amax(dim=(1, 2, 3), keepdim=True)
    # A perfect reconstruction has d = 0, so any positive divisor gives the gray (resp. black) image.
    return d, torch.where(peak > 0, peak, torch.ones_like(peak))


def signed_error_image(x: Any, x_hat: Any) -> torch.Tensor:
    """0.5 + (x_hat − x) / (2 max|x_hat − x|) per image, channel by channel (the "Deep Restoration"
    study, section 4.2): gray where there is no error, the largest error of the image at 0 or 1; all
    gray for a perfect reconstruction."""
    d, peak = _error(x, x_hat)
    return 0.5 + d / (2 * peak)


def absolute_error_image(x: Any, x_hat: Any) -> torch.Tensor:
    """|x_hat − x| / max|x_hat − x| per image, channel by channel (the "Deep Restoration" study,
    section 4.2); all 0 for a perfect reconstruction."""
    d, peak = _error(x, x_hat)
    return d.abs() / peak


@dataclass
class InversionMetrics:
    """Per-image MSE in [0, 1] units of the reconstruction (clipped to [0, 1]) and of the mean training
    image used as the reconstruction (the baseline an inverter must beat)."""

    mse: np.ndarray
    baseline_mse: np.ndarray

    @property
    def relative_mse(self) -> float:
        """Mean MSE over mean baseline MSE (< 1: better than the mean image)."""
        return float(self.mse.mean() / self.baseline_mse.mean())

    def to_frame(self, **labels: Any) -> pd.DataFrame:
        """One row per image (columns image, mse, baseline_mse) with ``labels`` (e.g. regime, layer) as constant columns."""
        frame = pd.DataFrame({"image": np.arange(len(self.mse)), "mse": self.mse, "baseline_mse": self.baseline_mse})
        for key, value in labels.items():
            frame[key] = value
        return frame


def inversion_metrics(x: Any, x_hat: Any, mean_image: Any) -> InversionMetrics:
    """Image MSE of ``x_hat`` (clipped to [0, 1] before the error is taken) against the [0, 1] images ``x``,
    and of ``mean_image`` (C x H x W, the mean training image in [0, 1]) as the baseline reconstruction."""
    x = _images(x, "x", unit=True)
    x_hat = _images(x_hat, "x_hat", tuple(x.shape[1:]))
    if not isinstance(mean_image, (torch.Tensor, np.ndarray)):
        raise TypeError(f"mean_image must be a torch tensor or numpy array C x H x W, got {type(mean_image).__name__}")
    mean = _images(torch.as_tensor(mean_image)[None], "mean_image", tuple(x.shape[1:]), unit=True)
    mse = (x_hat.clamp(0, 1) - x).square().mean(dim=(1, 2, 3))
    baseline = (mean - x).square().mean(dim=(1, 2, 3))
    return InversionMetrics(mse.double().numpy(), baseline.double().numpy())


# --- a network's blocks and held-out reconstructions ----------------------------------------------


def network_blocks(net: Any, layer: str) -> list[ForwardBlock]:
    """The blocks of a :class:`~repgeo.inversion.networks.LayeredNet` from its input up to ``layer``,
    as :class:`ForwardBlock` (the modules invert convolution, pooling and LRN blocks only)."""
    blocks = net.blocks(upto=layer)
    fc = [b.name for b in blocks if b.kind == "fc"]
    if fc:
        raise ValueError(
            f"inverters undo convolution, pooling and LRN blocks; {layer!r} lies beyond the fully connected block(s) {fc}: invert a layer up to pool5"
        )
    return [ForwardBlock(b.name, b.module, b.in_shape, b.out_shape, b.kind) for b in blocks]


def held_out_reconstructions(
    stack: InverterStack,
    blocks: Sequence[ForwardBlock | tuple],
    X: torch.Tensor,
    images: torch.Tensor,
    mean_image: torch.Tensor,
    *,
    unprocess: Callable[[torch.Tensor], torch.Tensor],
    n_show: int,
    **labels: Any,
) -> tuple[pd.DataFrame, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """The reconstructions by ``stack`` of held-out ``images`` ([0, 1], N x C x H x W; ``X`` their
    preprocessed form), measured and shown as in the "Deep Restoration" study (sections 3.2 and 4.2).

    Returns one row per image (image, mse, baseline_mse of the mean training image ``mean_image``,
    the ``labels`` as columns, psnr and ssim of the reconstruction clipped to [0, 1];
    :func:`inversion_metrics`, :func:`repgeo.inversion.metrics.image_metrics`) and, for the first
    ``n_show`` images, the clipped reconstructions with their signed and absolute error images.
    """
    x_hat = reconstruct(stack, blocks, X, unprocess=unprocess)
    frame = inversion_metrics(images, x_hat, mean_image).to_frame(**labels)
    clipped = x_hat.clamp(0, 1)
    q = image_metrics(clipped, images)
    frame["psnr"], frame["ssim"] = q["psnr"].to_numpy(), q["ssim"].to_numpy()
    shown = clipped[:n_show]
    return frame, (shown, signed_error_image(images[:n_show], shown), absolute_error_image(images[:n_show], shown))
