"""Pre-images by optimisation: the image whose representation matches a given one, under image priors.

Mahendran & Vedaldi, "Understanding deep image representations by inverting them", CVPR 2015, and
"Visualizing deep convolutional neural networks using natural pre-images", IJCV 2016 (the
regularised reconstruction objective); settings from the authors' code aravindhm/nnpreimage (``get_defaults.m``,
``get_preimage_opts.m``, ``nnpreimage.m``). For each image the objective is

    E(x) = C ‖Φ(x) − Φ₀‖² / ‖Φ₀‖² + λ_α N_α(x) + λ_TV TV^β(x) + Σ_k w_k P_k(x)

with the priors of :mod:`repgeo.inversion.regularisers` in their per-pixel-mean form and optional
further priors P_k (learned image or feature-map priors). The image x is in M&V's units: 0-255,
with the per-channel pixel mean of the network's training data subtracted; :func:`image_to_mv_units`
and :func:`mv_units_to_image` convert from and to [0, 1] images, so a network ``net`` that takes
[0, 1] images is inverted through ``phi = lambda x: net(mv_units_to_image(x, mean))`` (plus its
own normalisation, if any). The 2015 paper's scale σ of Φ(σx) has no separate place here: the
2016 formulation fixes the scale by these units and B. The 2016 defaults (:class:`PreimageConfig`):

* α = 6, β = 2; B = 80 (a typical pixel norm) and B₊ = 2B = 160: after every step each pixel's
  channel vector is projected into the ball of radius B₊; λ_α = B^−α and λ_TV = (6.5/B)^β.
* Two stages, 300 iterations at the rate η = 0.05 B²/α and 50 at 0.1 η, each rate multiplied by
  the number of pixels H·W (the priors are means over pixels). The update combines momentum 0.9
  with AdaGrad-like scaling, per coordinate: G ← 0.9 G + g², v ← 0.9 v − g / (1/lr + √G), x ← x + v.
  M&V run each stage as a fresh call, so v and G start from 0 in each stage.
* Jitter in stage 1 only: the image is optimised T − 1 pixels larger than the target in each
  direction, T = max(round(stride / 4), 1) for the receptive-field stride of the inverted layer,
  and Φ sees a random crop of the target size at every iteration; stage 2 starts from the centre
  crop (offset ⌊(T − 1)/2⌋, as in ``nnpreimage.m``) and uses no jitter.
* Initial image: uniform noise on [−1, 1], divided by its 95 % quantile and multiplied by B/√3
  (so most pixel vectors have norm about B), drawn per image; or a given ``x_init``, placed in the
  centre of a zero image of the jittered size.

The alternative optimiser is Adam (Kingma & Ba, ICLR 2015, Algorithm 1, ε = 1e-8) with a step
schedule, the projection after every step and the same jitter, with the schedule of the
deep-restoration thesis (frhrdr/deep_restoration, ``mv_benchmark.py``): rates 1e-2, 3e-3 and
1e-3 times B²/α (10.7, 3.2 and 1.07 in 0-255 units at B = 80) for 1,000, 1,000 and 1,500
iterations, jitter for the first 2,750. Adam's moment estimates are kept across rate steps.

The hand-made priors act on the whole optimised image (as in ``nnpreimage.m``); further priors act
on the crop that Φ sees, so a feature-map prior acts on the same feature maps as the data term and
every prior callable receives images of the target size. A batch of N images is inverted at once
as N independent problems (the objective is the sum of the per-image objectives and every update is
per coordinate); the jitter offset is shared by the batch, as M&V share it between repeats.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .._validation import check_known_fields
from .metrics import image_metrics, normalised_squared_error, representation_error
from .regularisers import alpha_norm_unchecked, tv_beta_unchecked

OPTIMISERS = ("mv2016", "adam")
# torchvision's ImageNet mean, in 0-255 units (the mean subtracted by M&V's networks is close to it).
IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
ADAM_EPS = 1e-8
# History columns: where each iteration stands, then the terms (each extra prior adds its own).
HISTORY_STEP = ("iteration", "stage", "lr", "jitter", "offset_y", "offset_x")
HISTORY_TERMS = ("objective", "data", "normalised_error", "alpha_norm", "tv")

Prior = tuple[str, float, Callable[[torch.Tensor], torch.Tensor]]


# --- the data-term weight C per layer -------------------------------------------------------------

# Mahendran & Vedaldi (IJCV 2016, section 5, inversions of AlexNet and VGG-16) ran every layer at
# C in {1, 20, 100, 300} and show each layer at the value that suits it: large C for shallow layers,
# whose pre-images must match the code closely, small C for deep ones, where the priors must carry
# more of the image. The per-layer assignment below is the one of the deep-restoration thesis's
# benchmark reproduction of M&V 2016 (frhrdr/deep_restoration, ``utils/mv_benchmark.py``,
# ``get_jitter_and_mse_weight``, which lists every layer), written with this package's layer names
# (:mod:`repgeo.inversion.networks`): ReLU and normalisation layers take their convolution's value;
# pooling layers take the thesis's value, which is the preceding block's for pool1-pool3 and the
# following stage's for the deep pools (VGG-16 pool4 100; pool5 1 in both networks).
_MV_DATA_WEIGHT_BLOCKS: dict[str, tuple[tuple[float, tuple[str, ...]], ...]] = {
    "alexnet": (
        (300.0, ("conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2", "pool2", "conv3", "relu3")),
        (100.0, ("conv4", "relu4")),
        (20.0, ("conv5", "relu5")),
        (1.0, ("pool5", "fc6", "relu6", "fc7", "relu7", "fc8")),
    ),
    "vgg16": (
        (300.0, (
            "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
            "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
            "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "pool3",
            "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3",
        )),
        (100.0, ("pool4", "conv5_1", "relu5_1")),
        (20.0, ("conv5_2", "relu5_2", "conv5_3", "relu5_3")),
        (1.0, ("pool5", "fc6", "relu6", "fc7", "relu7", "fc8")),
    ),
}  # fmt: skip
MV_DATA_WEIGHTS: dict[str, dict[str, float]] = {
    arch: {layer: c for c, layers in blocks for layer in layers} for arch, blocks in _MV_DATA_WEIGHT_BLOCKS.items()
}
# vgg_small (:class:`repgeo.inversion.networks.VGGSmall`) is VGG-16's first three blocks, two
# convolutions each, and its classifier under the same layer names, so it takes VGG-16's values:
# 300 up to pool3, 1 for the fully connected layers.
_VGG_SMALL_LAYERS = (
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1", "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "pool3", "fc6", "relu6", "fc7", "relu7", "fc8",
)  # fmt: skip
MV_DATA_WEIGHTS["vgg_small"] = {layer: MV_DATA_WEIGHTS["vgg16"][layer] for layer in _VGG_SMALL_LAYERS}


def mv_data_weight(layer: str, arch: str | None = None) -> float:
    """The data-term weight C of M&V's inversions (IJCV 2016, section 5) for ``layer`` of ``arch``.

    From :data:`MV_DATA_WEIGHTS` (the thesis's per-layer assignment, see the comment above it):
    AlexNet conv1-conv3 (with relu, norm and pool layers) 300, conv4 100, conv5 20, pool5 and
    the fully connected layers 1; VGG-16 conv1_1-conv4_3 (with pool1-pool3) 300, pool4 and
    conv5_1 100, conv5_2-conv5_3 20, pool5 and the fully connected layers 1; vgg_small as VGG-16.
    With ``arch=None`` the name alone decides: the architectures agree on every name they share
    (pool1, pool2, pool5, fc6-fc8, relu6, relu7).
    """
    if arch is not None:
        if arch not in MV_DATA_WEIGHTS:
            raise ValueError(f"no data-term weights for architecture {arch!r}; known: {', '.join(MV_DATA_WEIGHTS)}")
        table = MV_DATA_WEIGHTS[arch]
        if layer not in table:
            raise ValueError(
                f"{arch} has no layer {layer!r} in the data-term weight table; its layers: {', '.join(table)}"
            )
        return table[layer]
    values = {table[layer] for table in MV_DATA_WEIGHTS.values() if layer in table}
    if not values:
        raise ValueError(
            f"no data-term weight for layer {layer!r} in any architecture ({', '.join(MV_DATA_WEIGHTS)}); set preimage.C"
        )
    if len(values) > 1:  # not the case for the tables above; a guard for future additions
        raise ValueError(f"layer {layer!r} has different data-term weights across architectures; name the architecture")
    return values.pop()


def _positive(value: Any, name: str, allow_zero: bool = False) -> None:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")


def _count(value: Any, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class PreimageConfig:
    """Settings of :func:`preimage`; the defaults are those of Mahendran & Vedaldi, IJCV 2016 (module docstring).

    ``C`` is the data-term weight: 1 in ``get_defaults.m``; M&V's inversions used C in {1, 20, 100, 300},
    per layer as :func:`mv_data_weight` gives it; pass the value for the inverted layer. ``lambda_alpha`` and
    ``lambda_tv`` default to B^−α and (6.5/B)^β; 0 switches a prior off (e.g. to replace TV by a
    learned prior). ``optimiser="mv2016"`` runs ``iterations`` = (stage-1, stage-2) iterations at
    ``lr`` (η, default 0.05 B²/α, multiplied by H·W) and ``lr_factor`` · η. ``optimiser="adam"``
    runs ``adam_schedule``, a sequence of (iterations, multiplier of ``adam_lr``) steps, with
    ``adam_lr`` defaulting to 0.01 B²/α and jitter for the first ``adam_jitter_iterations``.
    ``jitter=False`` switches the jitter off. Progress is logged every ``log_every`` iterations.
    """

    alpha: float = 6.0
    beta: float = 2.0
    B: float = 80.0
    B_plus: float = 160.0
    lambda_alpha: float | None = None
    lambda_tv: float | None = None
    C: float = 1.0
    optimiser: str = "mv2016"
    iterations: tuple[int, int] = (300, 50)
    lr: float | None = None
    lr_factor: float = 0.1
    momentum: float = 0.9
    adam_lr: float | None = None
    adam_schedule: tuple[tuple[int, float], ...] = ((1000, 1.0), (1000, 0.3), (1500, 0.1))
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_jitter_iterations: int = 2750
    jitter: bool = True
    log_every: int = 50

    def validate(self) -> None:
        if self.optimiser not in OPTIMISERS:
            raise ValueError(f"optimiser must be one of {OPTIMISERS}, got {self.optimiser!r}")
        for name in ("alpha", "beta", "B", "B_plus", "C", "lr_factor"):
            _positive(getattr(self, name), name)
        for name in ("lambda_alpha", "lambda_tv", "lr", "adam_lr"):
            if getattr(self, name) is not None:
                _positive(getattr(self, name), name, allow_zero=name.startswith("lambda"))
        if self.B_plus < self.B:
            raise ValueError(
                f"B_plus (the hard bound on pixel norms) must be >= B, got B_plus={self.B_plus} < B={self.B}"
            )
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not isinstance(self.iterations, (tuple, list)) or len(self.iterations) != 2:
            raise ValueError(f"iterations must be (stage-1, stage-2) iteration counts, got {self.iterations!r}")
        _count(self.iterations[0], "iterations[0]", 1)
        _count(self.iterations[1], "iterations[1]", 0)
        if not isinstance(self.adam_schedule, (tuple, list)) or len(self.adam_schedule) < 1:
            raise ValueError("adam_schedule must hold at least one (iterations, lr multiplier) step, got none")
        for k, step in enumerate(self.adam_schedule):
            if not isinstance(step, (tuple, list)) or len(step) != 2:
                raise ValueError(f"adam_schedule[{k}] must be (iterations, lr multiplier), got {step!r}")
            _count(step[0], f"adam_schedule[{k}] iterations", 1)
            _positive(step[1], f"adam_schedule[{k}] lr multiplier")
        betas = self.adam_betas
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)
        ):
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas!r}")
        _count(self.adam_jitter_iterations, "adam_jitter_iterations", 0)
        if not isinstance(self.jitter, bool):
            raise TypeError(f"jitter must be True or False, got {self.jitter!r}")
        _count(self.log_every, "log_every", 1)

    @property
    def resolved_lambda_alpha(self) -> float:
        """λ_α, by default B^−α (IJCV 2016; ``get_defaults.m``)."""
        return float(self.B ** (-self.alpha)) if self.lambda_alpha is None else float(self.lambda_alpha)

    @property
    def resolved_lambda_tv(self) -> float:
        """λ_TV, by default (6.5/B)^β (IJCV 2016: V = B/6.5; ``get_defaults.m``)."""
        return float((6.5 / self.B) ** self.beta) if self.lambda_tv is None else float(self.lambda_tv)

    def schedule(self, n_pixels: int) -> list[tuple[int, float]]:
        """The (iterations, rate) steps for images of ``n_pixels`` = H·W pixels (steps of 0 iterations dropped)."""
        if self.optimiser == "mv2016":
            eta = (0.05 * self.B**2 / self.alpha if self.lr is None else self.lr) * n_pixels
            steps = [(int(self.iterations[0]), eta), (int(self.iterations[1]), eta * self.lr_factor)]
        else:
            base = 0.01 * self.B**2 / self.alpha if self.adam_lr is None else self.adam_lr
            steps = [(int(n), base * m) for n, m in self.adam_schedule]
        return [(n, lr) for n, lr in steps if n > 0]

    @property
    def jitter_iterations(self) -> int:
        """How many iterations, from the first, use jitter (stage 1 for mv2016)."""
        if not self.jitter:
            return 0
        return int(self.iterations[0]) if self.optimiser == "mv2016" else int(self.adam_jitter_iterations)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PreimageConfig:
        """A config from plain values (lists from YAML/JSON become the tuples the fields hold)."""
        check_known_fields(cls, d, "pre-image settings")
        values = dict(d)
        for key in ("iterations", "adam_betas"):
            if key in values:
                values[key] = tuple(values[key])
        if "adam_schedule" in values:
            values["adam_schedule"] = tuple(tuple(step) for step in values["adam_schedule"])
        return cls(**values)


@dataclass
class PreimageResult:
    """A pre-image run: ``x`` (N x C x H x W, 0-255 mean-subtracted units, the target size), the history
    (one row per iteration: the weighted terms of the objective and the normalised error, means over
    the batch, before that iteration's step), ‖Φ(x) − Φ₀‖² / ‖Φ₀‖² of the final images
    (``normalised_error``, shape (N,)) and its square root (``relative_error``), and the jitter T used."""

    x: torch.Tensor
    history: pd.DataFrame
    normalised_error: np.ndarray
    relative_error: np.ndarray
    jitter: int
    config: PreimageConfig


def jitter_amount(stride: int) -> int:
    """T = max(round(stride / 4), 1), rounding halves up as MATLAB does (``get_preimage_opts.m``)."""
    _count(stride, "stride", 1)
    return max(math.floor(stride / 4 + 0.5), 1)


def _channel_mean(pixel_mean: Any, x: torch.Tensor) -> torch.Tensor:
    mean = torch.as_tensor(pixel_mean, dtype=x.dtype, device=x.device).flatten()
    if mean.numel() != x.shape[1] or not bool(torch.isfinite(mean).all()):
        raise ValueError(f"pixel_mean must hold one finite value per channel ({x.shape[1]}), got {pixel_mean!r}")
    return mean.view(1, -1, 1, 1)


def image_to_mv_units(images: torch.Tensor, pixel_mean: Any = IMAGENET_MEAN_255) -> torch.Tensor:
    """[0, 1] images (N x C x H x W) to M&V's units: 255 · image − ``pixel_mean`` (per channel, 0-255 units)."""
    return images * 255.0 - _channel_mean(pixel_mean, images)


def mv_units_to_image(x: torch.Tensor, pixel_mean: Any = IMAGENET_MEAN_255) -> torch.Tensor:
    """Inverse of :func:`image_to_mv_units`: (x + ``pixel_mean``) / 255, differentiable and not clipped."""
    return (x + _channel_mean(pixel_mean, x)) / 255.0


def project_to_ball(x: torch.Tensor, radius: float) -> torch.Tensor:
    """Each pixel's channel vector of ``x`` (N x C x H x W) scaled into the ball of ``radius`` (IJCV 2016; ``nnpreimage.m``)."""
    norm = x.norm(dim=1, keepdim=True)
    return x * torch.clamp(radius / norm.clamp_min(torch.finfo(x.dtype).tiny), max=1.0)


def mv2016_step(x: torch.Tensor, g: torch.Tensor, G: torch.Tensor, v: torch.Tensor, lr: float, momentum: float) -> None:
    """One update of ``nnpreimage.m``, in place: G ← m G + g², v ← m v − g / (1/lr + √G), x ← x + v."""
    G.mul_(momentum).addcmul_(g, g)
    v.mul_(momentum).sub_(g / (1.0 / lr + G.sqrt()))
    x.add_(v)


def adam_step(
    x: torch.Tensor, g: torch.Tensor, m: torch.Tensor, s: torch.Tensor, t: int, lr: float, betas: tuple[float, float]
) -> None:
    """One Adam update, in place (Kingma & Ba, ICLR 2015, Algorithm 1; ``t`` counts from 1)."""
    b1, b2 = betas
    m.mul_(b1).add_(g, alpha=1.0 - b1)
    s.mul_(b2).addcmul_(g, g, value=1.0 - b2)
    x.sub_(lr * (m / (1.0 - b1**t)) / ((s / (1.0 - b2**t)).sqrt() + ADAM_EPS))


def initial_image(shape: Sequence[int], B: float, generator: torch.Generator) -> torch.Tensor:
    """Uniform noise on [−1, 1] of ``shape`` (N x C x H x W), each image scaled so its 95 % quantile is B/√3 (``nnpreimage.m``)."""
    noise = 2.0 * torch.rand(tuple(shape), generator=generator, dtype=torch.float64) - 1.0
    q = torch.quantile(noise.flatten(1), 0.95, dim=1).view(-1, 1, 1, 1)
    return (noise / q * (B / math.sqrt(3.0))).float()


def _check_priors(extra_priors: Sequence[Prior]) -> list[Prior]:
    priors = list(extra_priors)
    seen: set[str] = set()
    for k, item in enumerate(priors):
        if not (isinstance(item, tuple) and len(item) == 3):
            raise TypeError(f"extra_priors[{k}] must be a tuple (name, weight, callable), got {item!r}")
        name, weight, fn = item
        reserved = (*HISTORY_STEP, *HISTORY_TERMS)
        if not isinstance(name, str) or not name or name in reserved or name in seen:
            raise ValueError(f"extra_priors[{k}] name must be a new non-empty string not in {reserved}, got {name!r}")
        seen.add(name)
        _positive(weight, f"weight of prior {name!r}", allow_zero=True)
        if not callable(fn):
            raise TypeError(f"the energy of prior {name!r} must be callable (x -> energy), got {type(fn).__name__}")
    return priors


def _check_inputs(phi: Any, phi0: Any, image_shape: Any, x_init: Any) -> tuple[int, int, int, int]:
    if not callable(phi):
        raise TypeError(f"phi must be callable (x -> representation), got {type(phi).__name__}")
    if (
        not isinstance(phi0, torch.Tensor)
        or not phi0.is_floating_point()
        or phi0.ndim < 2
        or phi0.shape[0] < 1
        or phi0[0].numel() < 1
    ):
        got = (
            f"{phi0.dtype} tensor of shape {tuple(phi0.shape)}"
            if isinstance(phi0, torch.Tensor)
            else type(phi0).__name__
        )
        raise ValueError(
            f"phi0 must be a non-empty floating-point tensor N x ... (one representation per image), got {got}"
        )
    if not bool(torch.isfinite(phi0).all()):
        raise ValueError("phi0 contains NaN or infinite values")
    zero = phi0.flatten(1).abs().sum(dim=1) == 0
    if bool(zero.any()):
        raise ValueError(
            f"phi0 is zero for images {torch.nonzero(zero).flatten().tolist()}; its normalised error is undefined"
        )
    shape = tuple(image_shape) if isinstance(image_shape, (tuple, list, torch.Size)) else ()
    if len(shape) != 3 or not all(
        isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise ValueError(f"image_shape must be (C, H, W) with positive integers, got {image_shape!r}")
    n = int(phi0.shape[0])
    if x_init is not None:
        if not isinstance(x_init, torch.Tensor) or tuple(x_init.shape) != (n, *shape):
            got = tuple(x_init.shape) if isinstance(x_init, torch.Tensor) else type(x_init).__name__
            raise ValueError(
                f"x_init must be a tensor of shape {(n, *shape)} (N from phi0, then image_shape), got {got}"
            )
        if not bool(torch.isfinite(x_init).all()):
            raise ValueError("x_init contains NaN or infinite values")
    return (n, *(int(s) for s in shape))  # type: ignore[return-value]


def _centre_crop(a: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The centre h x w crop at offset ⌊(T − 1)/2⌋ (``nnpreimage.m``), a new tensor."""
    oy, ox = (a.shape[-2] - h) // 2, (a.shape[-1] - w) // 2
    return a[..., oy : oy + h, ox : ox + w].detach().clone()


def _prior_energy(name: str, fn: Callable[[torch.Tensor], torch.Tensor], crop: torch.Tensor) -> torch.Tensor:
    energy = fn(crop)
    if not isinstance(energy, torch.Tensor) or energy.shape not in ((), (crop.shape[0],)):
        got = tuple(energy.shape) if isinstance(energy, torch.Tensor) else type(energy).__name__
        raise ValueError(
            f"prior {name!r} must return a tensor of shape () (batch total) or ({crop.shape[0]},) (per image), got {got}"
        )
    return energy.sum()


def preimage(
    phi: Callable[[torch.Tensor], torch.Tensor],
    phi0: torch.Tensor,
    image_shape: Sequence[int],
    config: PreimageConfig | None = None,
    stride: int = 1,
    extra_priors: Sequence[Prior] = (),
    generator: torch.Generator | None = None,
    logger: logging.Logger | None = None,
    x_init: torch.Tensor | None = None,
) -> PreimageResult:
    """Pre-images of the representations ``phi0`` (N x ...) under ``phi`` (Mahendran & Vedaldi, IJCV 2016).

    ``phi`` maps images in 0-255 mean-subtracted units (N x C x H x W, ``image_shape`` = (C, H, W))
    to representations of ``phi0``'s shape; compose it with :func:`mv_units_to_image` to invert a
    network that takes [0, 1] images. ``stride`` is the receptive-field stride of the inverted layer
    (it sets the jitter, :func:`jitter_amount`). ``extra_priors`` holds (name, weight, energy) triples;
    energy(x) gets the crop Φ sees (target size, M&V units) and returns per-image energies (N,) or
    their batch total (a scalar), differentiable in x; it may run part of the network to put a prior
    on a feature map. Random draws (initial image, jitter offsets) come from ``generator`` (a CPU
    generator; a fresh one seeded with 0 when None). ``x_init`` (N x C x H x W, M&V units) replaces
    the random initial image. The gradient is taken with respect to x only, so ``phi``'s parameters
    accumulate no gradients.
    """
    config = PreimageConfig() if config is None else config
    config.validate()
    n, c, h, w = _check_inputs(phi, phi0, image_shape, x_init)
    priors = _check_priors(extra_priors)
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    device, dtype = phi0.device, phi0.dtype
    phi0 = phi0.detach()

    jittered = config.jitter_iterations
    t_amount = jitter_amount(stride) if jittered > 0 else 1
    pad = t_amount - 1
    centre = pad // 2
    if x_init is None:
        x = initial_image((n, c, h + pad, w + pad), config.B, generator).to(device=device, dtype=dtype)
    else:
        x = torch.zeros((n, c, h + pad, w + pad), device=device, dtype=dtype)
        x[..., centre : centre + h, centre : centre + w] = x_init.detach().to(device=device, dtype=dtype)

    lam_a, lam_tv = config.resolved_lambda_alpha, config.resolved_lambda_tv
    steps = config.schedule(h * w)
    total_iterations = sum(k for k, _ in steps)
    state = (torch.zeros_like(x), torch.zeros_like(x))
    term_names = [*HISTORY_TERMS, *(name for name, _, _ in priors)]
    rows: list[tuple[Any, ...]] = []
    t = 0
    for stage, (n_iter, lr) in enumerate(steps, start=1):
        if config.optimiser == "mv2016":
            state = (torch.zeros_like(x), torch.zeros_like(x))
        for _ in range(n_iter):
            if pad > 0 and t == jittered:
                # Jitter ends: continue on the centre crop, with the optimiser state of those pixels.
                x, state = _centre_crop(x, h, w), (_centre_crop(state[0], h, w), _centre_crop(state[1], h, w))
            t += 1
            jitter_now = pad > 0 and t <= jittered
            oy, ox = (int(o) for o in torch.randint(0, t_amount, (2,), generator=generator)) if jitter_now else (0, 0)
            xv = x.detach().requires_grad_(True)
            crop = xv[..., oy : oy + h, ox : ox + w]
            rep = phi(crop)
            if not isinstance(rep, torch.Tensor) or rep.shape != phi0.shape:
                got = tuple(rep.shape) if isinstance(rep, torch.Tensor) else type(rep).__name__
                raise ValueError(
                    f"phi returned shape {got} for images of shape {tuple(crop.shape)}; phi0 has shape {tuple(phi0.shape)}"
                )
            err = normalised_squared_error(rep, phi0).sum()
            terms = [
                config.C * err,
                lam_a * alpha_norm_unchecked(xv, config.alpha, "mean").sum() if lam_a > 0 else err.new_zeros(()),
                lam_tv * tv_beta_unchecked(xv, config.beta, "mean").sum() if lam_tv > 0 else err.new_zeros(()),
                *(weight * _prior_energy(name, fn, crop) for name, weight, fn in priors),
            ]
            objective = torch.stack(terms).sum()
            (g,) = torch.autograd.grad(objective, xv)
            values = (
                torch.stack([objective.detach(), terms[0].detach(), err.detach(), *(v.detach() for v in terms[1:])]) / n
            ).tolist()
            if not all(math.isfinite(v) for v in values):
                raise FloatingPointError(
                    f"the pre-image objective is not finite at iteration {t} (terms {values}); lower the rate or check phi"
                )
            rows.append((t, stage, lr, jitter_now, oy, ox, *values))
            if logger is not None and (t % config.log_every == 0 or t == total_iterations):
                text = ", ".join(f"{name} {v:.4g}" for name, v in zip(term_names, values, strict=True))
                logger.info("pre-image iteration %d/%d, stage %d, lr %.4g: %s", t, total_iterations, stage, lr, text)
            with torch.no_grad():
                if config.optimiser == "mv2016":
                    mv2016_step(x, g, state[0], state[1], lr, config.momentum)
                else:
                    adam_step(x, g, state[0], state[1], t, lr, config.adam_betas)
                x = project_to_ball(x, config.B_plus)
    x = _centre_crop(x, h, w)
    with torch.no_grad():
        final = representation_error(phi(x), phi0)
    history = pd.DataFrame(rows, columns=[*HISTORY_STEP, *term_names])
    return PreimageResult(
        x=x,
        history=history,
        normalised_error=final["normalised_error"].to_numpy(),
        relative_error=final["relative_error"].to_numpy(),
        jitter=t_amount,
        config=config,
    )


# Direction of each criterion that select_prior_weight can optimise (columns of image_metrics,
# representation_error and normalised_image_error).
CRITERIA = {
    "mse": "min",
    "psnr": "max",
    "ssim": "max",
    "normalised_image_error": "min",
    "normalised_error": "min",
    "relative_error": "min",
}


@dataclass
class PriorWeightSearch:
    """The outcome of :func:`select_prior_weight`: the chosen weight, the criterion and one row per candidate
    (``weight``, ``n_images``, the mean over images of every numeric column ``evaluate`` returned, ``selected``)."""

    best_weight: float
    criterion: str
    table: pd.DataFrame


def select_prior_weight(
    candidates: Sequence[float],
    evaluate: Callable[[float], pd.DataFrame],
    criterion: str = "mse",
    logger: logging.Logger | None = None,
) -> PriorWeightSearch:
    """Choose the relative weight of a prior on held-out images, by a grid search.

    ``candidates`` is a grid of weights ≥ 0 (log-spaced, e.g. ``np.geomspace(1e-3, 1e1, 9)``, plus 0
    for "no prior" if wanted). ``evaluate(weight)`` runs the pre-images of the held-out images with
    that weight and returns one row per image with at least the ``criterion`` column (e.g. the
    frame of :func:`~repgeo.inversion.metrics.image_metrics` of the pre-images, mapped to [0, 1],
    against the originals). The chosen weight has the best mean criterion over the images: the
    smallest for ``mse``, ``normalised_image_error``, ``normalised_error`` and ``relative_error``, the
    largest for ``psnr`` and ``ssim``; a tie goes to the smaller weight (the weaker prior).
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {sorted(CRITERIA)}, got {criterion!r}")
    weights = [float(c) for c in candidates] if isinstance(candidates, (Sequence, np.ndarray)) else []
    if not weights:
        raise ValueError(f"candidates must be a non-empty sequence of weights, got {candidates!r}")
    for k, wgt in enumerate(weights):
        _positive(wgt, f"candidates[{k}]", allow_zero=True)
    if len(set(weights)) != len(weights):
        raise ValueError(f"candidates must be distinct, got {weights}")
    rows = []
    for wgt in sorted(weights):
        frame = evaluate(wgt)
        if not isinstance(frame, pd.DataFrame) or criterion not in frame.columns or len(frame) == 0:
            got = list(frame.columns) if isinstance(frame, pd.DataFrame) else type(frame).__name__
            raise ValueError(
                f"evaluate({wgt:g}) must return a non-empty DataFrame with a {criterion!r} column (one row per image), got {got}"
            )
        means = frame.select_dtypes("number").mean()
        if math.isnan(float(means[criterion])):
            raise ValueError(f"evaluate({wgt:g}) gave NaN for {criterion!r}; the search cannot rank it")
        rows.append({"weight": wgt, "n_images": len(frame), **means.to_dict()})
        if logger is not None:
            logger.info("prior weight %.4g: mean %s %.6g over %d images", wgt, criterion, means[criterion], len(frame))
    table = pd.DataFrame(rows)
    scores = table[criterion].to_numpy(dtype=float)
    best = int(np.argmin(scores) if CRITERIA[criterion] == "min" else np.argmax(scores))
    table["selected"] = np.arange(len(table)) == best
    return PriorWeightSearch(best_weight=float(table["weight"].iloc[best]), criterion=criterion, table=table)


# --- pre-images at a layer of a network, under hand-made and learned priors -------------------------

# The weight search ranks candidate prior weights by the mean SSIM of the held-out pre-images:
# pixel MSE favours blur at deeper layers, where pre-images are not expected to match pixels.
SEARCH_CRITERION = "ssim"


def data_weight(layer: str, *, arch: str | None, C: float | None) -> float:
    """The data-term weight C of the pre-images at ``layer``: ``C`` when given, else M&V's per-layer
    value for ``arch`` (Mahendran & Vedaldi, IJCV 2016, section 5; :func:`mv_data_weight`; with
    ``arch=None`` the layer name alone decides)."""
    if C is not None:
        return float(C)
    return mv_data_weight(layer, arch)


def network_pixel_mean(net: Any, channels: int) -> list[float]:
    """The per-channel pixel mean (0-255 units) that M&V's units subtract, for images of ``channels``
    channels inverted through ``net`` (a :class:`~repgeo.inversion.networks.LayeredNet`): the mean
    of the network's input normalisation, or its channel average for each channel when the images
    have another number of channels (grey images repeated over RGB)."""
    if channels == net.mean.numel():
        return (net.mean.flatten() * 255.0).tolist()
    return [float(net.mean.mean()) * 255.0] * channels


def image_stride(net: Any, layer: str, image_height: int) -> int:
    """The receptive-field stride of ``layer`` in pixels of the images (at least 1), which sets the
    jitter (:func:`jitter_amount`): the network's stride divided by the factor by which
    :meth:`~repgeo.inversion.networks.LayeredNet.preprocess` scales images of ``image_height`` up."""
    _, stride = net.receptive_field(layer)
    return max(1, round(stride / (net.input_size[0] / image_height)))


@dataclass
class LayerPreimages:
    """Pre-images at ``layer`` of a network: the objective E(x) of Mahendran & Vedaldi (IJCV 2016;
    module docstring) with Φ(x) = the layer's output on the image x / 255 + the pixel mean, plus
    learned priors (built by :func:`layer_preimages`).

    ``fixed``: priors at a weight chosen before, (name, weight, energy); ``searched``: priors
    (name, energy) that share one weight w, chosen by :meth:`search_weight`. ``stride`` sets the
    jitter; ``pixel_mean`` the units (:func:`network_pixel_mean`).
    """

    net: Any
    layer: str
    pixel_mean: list[float]
    stride: int
    config: PreimageConfig
    fixed: list[Prior]
    searched: list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]

    def phi(self, x: torch.Tensor) -> torch.Tensor:
        """The representation Φ of images ``x`` in M&V's units."""
        return self.net.features(mv_units_to_image(x, self.pixel_mean), self.layer)

    def invert(
        self,
        targets: torch.Tensor,
        weight: float,
        seed: int,
        *,
        device: str | torch.device = "cpu",
        logger: logging.Logger | None = None,
    ) -> tuple[torch.Tensor, pd.DataFrame]:
        """Pre-images of the [0, 1] images ``targets`` (:func:`preimage`, random draws from ``seed``)
        with the searched priors at ``weight``: the pre-images in [0, 1] units (not clipped, on the
        CPU) and one row per image of :func:`~repgeo.inversion.metrics.image_metrics` of the clipped
        pre-images and the representation errors (normalised_error, relative_error)."""
        with torch.no_grad():
            phi0 = self.phi(image_to_mv_units(targets.to(device), self.pixel_mean))
        extra = self.fixed + [(name, weight, fn) for name, fn in self.searched]
        result = preimage(
            self.phi,
            phi0,
            tuple(targets.shape[1:]),
            self.config,
            stride=self.stride,
            extra_priors=extra,
            generator=torch.Generator().manual_seed(seed),
            logger=logger,
        )
        x01 = mv_units_to_image(result.x, self.pixel_mean).cpu()
        frame = image_metrics(x01.clamp(0, 1), targets)
        rep = representation_error(self.phi(result.x).detach(), phi0)
        frame["normalised_error"], frame["relative_error"] = (
            rep["normalised_error"].to_numpy(),
            rep["relative_error"].to_numpy(),
        )
        return x01, frame

    def search_weight(
        self,
        images: torch.Tensor,
        weight_grid: Sequence[float],
        seed: int,
        *,
        device: str | torch.device = "cpu",
        logger: logging.Logger | None = None,
    ) -> tuple[float, pd.DataFrame]:
        """The weight of the searched priors, chosen from ``weight_grid`` by the mean
        :data:`SEARCH_CRITERION` of the pre-images of the held-out ``images`` (:func:`select_prior_weight`),
        and the table of every candidate; 0 and a one-row table when no prior is searched."""
        if not self.searched:
            return 0.0, pd.DataFrame({"weight": [0.0], "n_images": [0], "selected": [True]})
        found = select_prior_weight(
            weight_grid,
            lambda w: self.invert(images, w, seed, device=device, logger=logger)[1],
            criterion=SEARCH_CRITERION,
            logger=logger,
        )
        return found.best_weight, found.table

    def prior_weight(self, weight: float) -> float:
        """The learned-prior weight a run at ``weight`` reports: the searched weight, else the fixed
        prior's, else 0 (the hand-made prior alone)."""
        if self.searched:
            return weight
        return self.fixed[0][1] if self.fixed else 0.0


def layer_preimages(
    net: Any,
    layer: str,
    *,
    channels: int,
    image_height: int,
    C: float,
    optimiser: str,
    iterations: Sequence[int],
    tv: bool,
    expert: str | None = None,
    image_prior: Any = None,
    image_prior_weight: float | None = None,
    feature_priors: Mapping[str, Any] | None = None,
) -> LayerPreimages:
    """The pre-image problem at ``layer`` of ``net`` (a :class:`~repgeo.inversion.networks.LayeredNet`,
    frozen here: its parameters stop requiring gradients) for images of ``channels`` channels and
    ``image_height`` pixels, with the energy

        E(x) = C ‖Φ(x) − Φ₀‖² / ‖Φ₀‖² + λ_α N_α(x) [+ λ_TV TV^β(x)] + w_I P_I(x) + w_F Σ_l P_l(Φ_l(x)),

    the objective of Mahendran & Vedaldi (CVPR 2015, IJCV 2016; :class:`PreimageConfig` with ``C``,
    ``optimiser`` and ``iterations``; M&V's TV^β only with ``tv``) with the learned priors of the
    "Deep Restoration" study in place of TV:

    - ``image_prior`` (a :class:`~repgeo.inversion.priors.PatchPrior` of ``expert``): the
      Markov-random-field image prior P_I, the patch log-density summed over every patch of the
      image (the study's eq. 9; Roth & Black 2005, eq. 2; :func:`~repgeo.inversion.priors.image_energy`),
      at ``image_prior_weight`` or, when None, at the weight searched (:meth:`LayerPreimages.search_weight`);
    - ``feature_priors`` ({layer l: prior}): the same priors on the feature maps Φ_l of the current
      image at earlier layers (the study's section 5.1), named ``{expert}_{l}``, sharing the
      searched weight w_F.
    """
    from .priors import image_energy

    for param in net.parameters():
        param.requires_grad_(False)
    pixel_mean = network_pixel_mean(net, channels)
    config = PreimageConfig(C=C, optimiser=optimiser, iterations=tuple(iterations), lambda_tv=None if tv else 0.0)
    config.validate()
    fixed: list[Prior] = []
    searched: list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = []
    if image_prior is not None:

        def image_term(x: torch.Tensor, prior=image_prior) -> torch.Tensor:
            return image_energy(prior, mv_units_to_image(x, pixel_mean))

        if image_prior_weight is None:
            searched.append((expert, image_term))
        else:
            fixed.append((expert, float(image_prior_weight), image_term))
    for feature_layer, prior in (feature_priors or {}).items():

        def feature_term(x: torch.Tensor, prior=prior, fl=feature_layer) -> torch.Tensor:
            return image_energy(prior, net.features(mv_units_to_image(x, pixel_mean), fl))

        searched.append((f"{expert}_{feature_layer}", feature_term))
    return LayerPreimages(net, layer, pixel_mean, image_stride(net, layer, image_height), config, fixed, searched)
