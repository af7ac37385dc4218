"""Hand-made image priors of the pre-image objective: the α-norm and the total variation TV^β.

Mahendran & Vedaldi, "Understanding deep image representations by inverting them", CVPR 2015,
and "Visualizing deep convolutional neural networks using natural pre-images", IJCV 2016 (their
image regularisers); the conventions follow the authors' code (aravindhm/nnpreimage,
``l2.m`` and ``tv.m``). For an image x with C channels on an H x W grid:

    N_α(x)  = Σ_ij ‖x_ij‖^α                                           (the α-norm)
    TV^β(x) = Σ_c Σ_ij ((x_c,i,j+1 − x_c,ij)² + (x_c,i+1,j − x_c,ij)²)^(β/2)

‖x_ij‖ is the Euclidean norm of the pixel's channel vector (the isotropic form of the 2016 paper);
the differences are forward differences with a replicated border, so the last column has no
horizontal and the last row no vertical difference. As in ``tv.m`` the TV is taken per channel and
summed over the channels (at β = 2, the default, this equals the same sum over all channels at once).
``reduction="sum"`` gives these sums (the 2015 paper's form); ``reduction="mean"`` divides them by
the number of pixels H·W (the 2016 code's form, which makes the weights λ_α = B^−α and
λ_TV = (6.5/B)^β independent of the image size).

Both functions take a batch N x C x H x W (any units; the pre-images use 0-255, mean-subtracted)
and return one differentiable value per image. Where the base of a fractional power is zero (a
zero pixel for α < 2, a zero local difference for β < 2) the term is 0 and so is its gradient;
at β = 1 (the TV norm) this is the minimal-norm subgradient, and no smoothing ε is used for any
exponent (the MATLAB code instead floors the squared difference at 1e-6 in its hand-written gradient).
For α ≥ 2 and β ≥ 2 the powers are differentiable everywhere and are used as they are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

REDUCTIONS = ("mean", "sum")


def _check_image_batch(x: torch.Tensor, name: str = "x") -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (N x C x H x W), got {type(x).__name__}")
    if x.ndim != 4 or min(x.shape) < 1:
        raise ValueError(f"{name} must be a non-empty batch N x C x H x W, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}; convert it with x.float()")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values")


def _check_exponent(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def power_of_square(s: torch.Tensor, p: float) -> torch.Tensor:
    """s^p for s ≥ 0, with value and gradient 0 where s = 0 when p < 1 (where s^p has no finite slope)."""
    if p >= 1.0:
        return s if p == 1.0 else s**p
    positive = s > 0
    # The double where keeps the unused branch finite, so no NaN reaches the gradient.
    safe = torch.where(positive, s, torch.ones_like(s))
    return torch.where(positive, safe**p, torch.zeros_like(s))


def _reduce(per_position: torch.Tensor, reduction: str, n_pixels: int) -> torch.Tensor:
    total = per_position.flatten(1).sum(dim=1)
    return total / n_pixels if reduction == "mean" else total


def alpha_norm_unchecked(x: torch.Tensor, alpha: float, reduction: str) -> torch.Tensor:
    """:func:`alpha_norm` without input validation (for optimisation loops that validated once)."""
    squared_norm = (x * x).sum(dim=1)
    return _reduce(power_of_square(squared_norm, alpha / 2.0), reduction, x.shape[-2] * x.shape[-1])


def tv_beta_unchecked(x: torch.Tensor, beta: float, reduction: str) -> torch.Tensor:
    """:func:`tv_beta` without input validation (for optimisation loops that validated once)."""
    padded = F.pad(x, (0, 1, 0, 1), mode="replicate")
    dx = padded[..., :-1, 1:] - x
    dy = padded[..., 1:, :-1] - x
    return _reduce(power_of_square(dx * dx + dy * dy, beta / 2.0), reduction, x.shape[-2] * x.shape[-1])


def alpha_norm(x: torch.Tensor, alpha: float = 6.0, reduction: str = "mean") -> torch.Tensor:
    """The α-norm prior N_α of each image in ``x`` (N x C x H x W), a tensor of shape (N,).

    Σ over pixels of the Euclidean norm of the channel vector raised to ``alpha`` (Mahendran & Vedaldi,
    IJCV 2016; α = 6 in both papers), divided by H·W for ``reduction="mean"``.
    """
    _check_image_batch(x)
    alpha = _check_exponent(alpha, "alpha")
    _check_reduction(reduction)
    return alpha_norm_unchecked(x, alpha, reduction)


def tv_beta(x: torch.Tensor, beta: float = 2.0, reduction: str = "mean") -> torch.Tensor:
    """The total-variation prior TV^β of each image in ``x`` (N x C x H x W), a tensor of shape (N,).

    Σ over channels and pixels of ((dx)² + (dy)²)^(β/2) with forward differences and a replicated
    border (Mahendran & Vedaldi, IJCV 2016; β = 2 is their choice, β = 1 the TV norm,
    which gives spiky artefacts, CVPR 2015 Fig. 2), divided by H·W for ``reduction="mean"``.
    """
    _check_image_batch(x)
    beta = _check_exponent(beta, "beta")
    _check_reduction(reduction)
    return tv_beta_unchecked(x, beta, reduction)
