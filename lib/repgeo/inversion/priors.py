"""Learned patch priors fitted by score matching, and the image (MRF) priors built from them.

Model (Hyvärinen, "Estimation of non-normalized statistical models by score matching", JMLR 6,
2005, sec. 4; the "Deep Restoration" study, 3.4.2-3.4.3, eq. 8; book code
``overcompletebasis.m``): for a whitened patch x in R^D and K filters w_k,

    log p(x) = sum_k alpha_k G(w_k^T x) - log Z,    alpha_k >= 0,

with one of two experts:

- ``"ica"``: G(s) = -log cosh s (g = G' = -tanh, g' = -cosh^-2), the over-complete ICA model of
  Hyvärinen (2005, sec. 4) and of *Natural Image Statistics* (Hyvärinen, Hurri & Hoyer 2009,
  ch. 13.1, ``overcompletebasis.m``);
- ``"student_t"``: G(s) = -log(1 + s^2/2), the Student-t experts of the fields of experts
  (Roth & Black, CVPR 2005, eq. 3), here learned by score matching instead of contrastive
  divergence (a simplification of this project) so both priors share one code path.

Score matching needs no Z: with psi(x) = grad_x log p = sum_k alpha_k G'(w_k^T x) w_k, the
objective (Hyvärinen 2005, eq. 4 and its application in sec. 4) is the sample mean of

    J(x) = sum_k alpha_k G''(w_k^T x) ||w_k||^2 + (1/2) ||psi(x)||^2,

the first term being the divergence (Hessian trace) of psi. :func:`score_matching_grad` gives
its exact gradient in W and alpha; :func:`fit_score_matching` minimises it with rows of W kept at
unit norm (the book code's projection on the tangent of the sphere, then renormalisation) and
alpha kept non-negative by projection (G <= 0 for both experts, so alpha_k < 0 would make the
density grow without bound along w_k).

Image prior (the "Deep Restoration" study, eq. 9, the Markov-random-field argument; Roth & Black
2005, eq. 2): an image is scored by the sum of the patch log-densities over all overlapping
patches (stride 1, "valid"),
which is one ``conv2d`` with the pixel-space filters of :meth:`.Whitening.pixel_filters`
followed by G and an alpha-weighted sum. The same code scores feature maps (C = a layer's
channels, patch size = the receptive field of the previous layer). Log-densities here omit the
constant -log Z and are <= 0, since G <= 0 and alpha >= 0.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from repgeo.inversion.patches import (
    Whitening,
    _as_tensor,
    _check_finite,
    _check_images,
    _check_int,
    _generator,
    extract_patches,
    fit_whitening,
    patch_side,
)

LOG2 = math.log(2.0)


@dataclass(frozen=True)
class Expert:
    """An expert log-potential G and its first three derivatives (elementwise torch functions)."""

    name: str
    G: Callable[[torch.Tensor], torch.Tensor]
    dG: Callable[[torch.Tensor], torch.Tensor]
    d2G: Callable[[torch.Tensor], torch.Tensor]
    d3G: Callable[[torch.Tensor], torch.Tensor]


def _logcosh_G(s: torch.Tensor) -> torch.Tensor:
    # log cosh s = |s| + log(1 + exp(-2|s|)) - log 2 never overflows, unlike cosh.
    a = s.abs()
    return -(a + torch.log1p(torch.exp(-2.0 * a)) - LOG2)


def _logcosh_d2G(s: torch.Tensor) -> torch.Tensor:
    return torch.tanh(s).square() - 1.0


def _logcosh_d3G(s: torch.Tensor) -> torch.Tensor:
    t = torch.tanh(s)
    return 2.0 * t * (1.0 - t.square())


def _student_G(s: torch.Tensor) -> torch.Tensor:
    return -torch.log1p(0.5 * s.square())


def _student_dG(s: torch.Tensor) -> torch.Tensor:
    return -2.0 * s / (2.0 + s.square())


def _student_d2G(s: torch.Tensor) -> torch.Tensor:
    s2 = s.square()
    return 2.0 * (s2 - 2.0) / (2.0 + s2).square()


def _student_d3G(s: torch.Tensor) -> torch.Tensor:
    s2 = s.square()
    return 4.0 * s * (6.0 - s2) / (2.0 + s2) ** 3


EXPERTS = {
    "ica": Expert("ica", _logcosh_G, lambda s: -torch.tanh(s), _logcosh_d2G, _logcosh_d3G),
    "student_t": Expert("student_t", _student_G, _student_dG, _student_d2G, _student_d3G),
}


def get_expert(expert: str) -> Expert:
    """The :class:`Expert` named ``expert``: ``"ica"`` (G = -log cosh s) or ``"student_t"`` (G = -log(1 + s^2/2))."""
    if not isinstance(expert, str) or expert not in EXPERTS:
        raise ValueError(f"expert must be one of {sorted(EXPERTS)}, got {expert!r}")
    return EXPERTS[expert]


def score_matching_loss(W, alpha, X, expert: str = "ica") -> torch.Tensor:
    """Hyvärinen's score-matching objective of the model sum_k alpha_k G(w_k^T x) on the rows of ``X``.

    ``W`` (K x D), ``alpha`` (K,), ``X`` (n x D, whitened data): the scalar sample mean of
    sum_k alpha_k G''(w_k^T x) ||w_k||^2 + (1/2) ||sum_k alpha_k G'(w_k^T x) w_k||^2 (Hyvärinen,
    JMLR 2005, eq. 4 with sec. 4; the "Deep Restoration" study, eq. 8). Differentiable by autograd; computed in the
    promoted dtype of the inputs.
    """
    W, alpha, X = _check_model(W, alpha, X)
    ex = get_expert(expert)
    Y = X @ W.T
    psi = (ex.dG(Y) * alpha) @ W
    divergence = ex.d2G(Y) @ (alpha * W.square().sum(dim=1))
    return (divergence + 0.5 * psi.square().sum(dim=1)).mean()


def score_matching_grad(W, alpha, X, expert: str = "ica") -> tuple[torch.Tensor, torch.Tensor]:
    """Exact gradients (dJ/dW (K x D), dJ/dalpha (K,)) of :func:`score_matching_loss`.

    With y_k = w_k^T x, psi = sum_k alpha_k G'(y_k) w_k and P_k = psi^T w_k, the sample means of

        dJ/dalpha_k = G''(y_k) ||w_k||^2 + G'(y_k) P_k,
        dJ/dw_k = alpha_k [G'''(y_k) ||w_k||^2 + G''(y_k) P_k] x + alpha_k G'(y_k) psi + 2 alpha_k G''(y_k) w_k,

    (the book code's gradient, ``overcompletebasis.m``, in matrix form, with the alpha gradient at
    the same point). Unconstrained: the sphere projection is applied by the fitting loop.
    """
    W, alpha, X = _check_model(W, alpha, X)
    _, grad_W, grad_alpha = _loss_and_grad(W, alpha, X, get_expert(expert))
    return grad_W, grad_alpha


def _loss_and_grad(
    W: torch.Tensor, alpha: torch.Tensor, X: torch.Tensor, ex: Expert
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    n = X.shape[0]
    Y = X @ W.T
    g1, g2, g3 = ex.dG(Y), ex.d2G(Y), ex.d3G(Y)
    norms = W.square().sum(dim=1)
    A = g1 * alpha
    psi = A @ W
    P = psi @ W.T
    loss = (g2 @ (alpha * norms) + 0.5 * psi.square().sum(dim=1)).mean()
    mean_g2 = g2.mean(dim=0)
    grad_alpha = mean_g2 * norms + (g1 * P).mean(dim=0)
    M = alpha * (g3 * norms + g2 * P)
    grad_W = (M.T @ X + A.T @ psi) / n + (2.0 * alpha * mean_g2)[:, None] * W
    return loss, grad_W, grad_alpha


@dataclass
class PatchPrior:
    """A patch prior log p(x) = sum_k alpha_k G(w_k^T whiten(x)) fitted by :func:`fit_score_matching`.

    ``W`` (K x D, unit rows) and ``alpha`` (K,, >= 0) in float64 on the CPU; ``expert`` names G;
    ``whitening`` maps raw patches to the D-dimensional space of W (None: the data were used as
    given, so W is already a pixel-space filter bank); ``history`` holds (step, full-data loss)
    pairs; ``converged`` says whether the book's stopping rule ||tangent gradient of W||_F < tol * K
    was met before ``n_steps`` steps ran out.
    """

    W: torch.Tensor
    alpha: torch.Tensor
    expert: str
    whitening: Whitening | None = None
    history: list[tuple[int, float]] = field(default_factory=list)
    converged: bool = False
    n_steps: int = 0

    @property
    def n_filters(self) -> int:
        return self.W.shape[0]

    @property
    def dim(self) -> int:
        """D, the dimension of the (whitened) space the filters act on."""
        return self.W.shape[1]

    @property
    def input_dim(self) -> int:
        """d, the length of a raw flattened patch (C * size * size)."""
        return self.dim if self.whitening is None else self.whitening.input_dim

    @property
    def overcompleteness(self) -> float:
        return self.n_filters / self.dim

    def pixel_filters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(F (K x d), b (K,)) with w_k^T whiten(x) = f_k^T x + b_k for raw patches x."""
        if self.whitening is None:
            return self.W.clone(), torch.zeros(self.n_filters, dtype=self.W.dtype)
        return self.whitening.pixel_filters(self.W)

    def to_dict(self) -> dict:
        """Plain tensors, numbers and strings, loadable with ``torch.load(..., weights_only=True)``."""
        state = {
            "W": self.W,
            "alpha": self.alpha,
            "expert": self.expert,
            "history_steps": torch.tensor([s for s, _ in self.history], dtype=torch.long),
            "history_loss": torch.tensor([v for _, v in self.history], dtype=torch.float64),
            "converged": self.converged,
            "n_steps": self.n_steps,
        }
        if self.whitening is not None:
            w = self.whitening
            state["whitening"] = {
                "mean": w.mean,
                "components": w.components,
                "variances": w.variances,
                "remove_dc": w.remove_dc,
            }
        return state

    @classmethod
    def from_dict(cls, state: dict) -> PatchPrior:
        """Inverse of :meth:`to_dict`."""
        whitening = Whitening(**state["whitening"]) if "whitening" in state else None
        history = list(
            zip(
                state["history_steps"].tolist(),
                state["history_loss"].tolist(),
                strict=True,
            )
        )
        return cls(
            W=state["W"],
            alpha=state["alpha"],
            expert=get_expert(state["expert"]).name,
            whitening=whitening,
            history=history,
            converged=bool(state["converged"]),
            n_steps=int(state["n_steps"]),
        )


OPTIMISERS = ("adam", "gradient")


def fit_score_matching(
    X,
    n_filters: int | None = None,
    expert: str = "ica",
    alpha_init: float = 2.0,
    steps: int = 5000,
    lr: float | None = None,
    batch_size: int | None = None,
    seed: int | torch.Generator = 0,
    optimiser: str = "adam",
    tol: float = 1e-4,
    log_every: int = 100,
    whitening: Whitening | None = None,
    logger: logging.Logger | None = None,
) -> PatchPrior:
    """Fit W (unit rows) and alpha >= 0 of sum_k alpha_k G(w_k^T x) to whitened data ``X`` (n x D) by score matching.

    Follows *Natural Image Statistics*' ``overcompletebasis.m`` (Hyvärinen et al. 2009, ch. 13.1):
    W starts as Gaussian rows normalised to unit length, alpha at ``alpha_init`` = 2; at every step
    the gradient of W is projected on the tangent space of the unit sphere (g_k - (g_k^T w_k) w_k),
    a step is taken and the rows renormalised; alpha is then clipped at 0 (the book code leaves it
    free; a negative alpha makes the model non-normalisable). ``n_filters`` defaults to 2 D (2x
    over-complete); ``steps`` = 5000 is the book's iteration cap.

    ``optimiser="gradient"``: the book's plain gradient descent, W step ``lr`` (default 0.1) and
    alpha step ``lr / 10`` (0.01). ``optimiser="adam"``: Adam (default ``lr`` 0.01, the same for W
    and alpha) on the projected gradients. ``batch_size=None`` uses all n samples per step (the
    book); a smaller batch draws a fresh random batch per step from ``seed``.

    Every ``log_every`` steps (and at the first and last) the full-data loss is recorded in
    ``history`` and logged at INFO; the stopping rule ||tangent gradient of W||_F < ``tol`` * K
    (the book's) is checked on the full data at every step with full batches, else at those
    points. ``whitening`` is stored in the result so it can score raw patches and images.
    """
    X = _check_data(X)
    n, D = X.shape
    n_filters = 2 * D if n_filters is None else _check_int(n_filters, "n_filters", 1)
    ex = get_expert(expert)
    alpha_init = _check_positive(alpha_init, "alpha_init")
    steps = _check_int(steps, "steps", 1)
    if optimiser not in OPTIMISERS:
        raise ValueError(f"optimiser must be one of {list(OPTIMISERS)}, got {optimiser!r}")
    lr = (0.01 if optimiser == "adam" else 0.1) if lr is None else _check_positive(lr, "lr")
    batch_size = n if batch_size is None else min(_check_int(batch_size, "batch_size", 1), n)
    tol = _check_positive(tol, "tol")
    log_every = _check_int(log_every, "log_every", 1)
    if whitening is not None:
        if not isinstance(whitening, Whitening):
            raise TypeError(
                f"whitening must be a Whitening (from fit_whitening) or None, got {type(whitening).__name__}"
            )
        if whitening.n_components != D:
            raise ValueError(
                f"X has {D} columns but whitening produces {whitening.n_components}; pass the whitened patches whitening.transform(patches)"
            )

    generator = _generator(seed)
    W = torch.randn(n_filters, D, generator=generator, dtype=torch.float64)
    W = W / W.norm(dim=1, keepdim=True)
    alpha = torch.full((n_filters,), alpha_init, dtype=torch.float64)
    adam = torch.optim.Adam([W, alpha], lr=lr) if optimiser == "adam" else None
    full_batch = batch_size == n
    history: list[tuple[int, float]] = []
    converged = False

    def stop(step: int, loss: torch.Tensor, grad_W: torch.Tensor, log: bool) -> bool:
        value = float(loss)
        if not math.isfinite(value):
            raise RuntimeError(
                f"score matching diverged at step {step} (loss {value}); lower lr (got {lr}) or use optimiser='adam'"
            )
        grad_norm = float(_tangent(grad_W, W).norm())
        if log:
            history.append((step, value))
            if logger is not None:
                logger.info(
                    "score matching (%s) step %d/%d: loss %.6g, |tangent grad W| %.3g",
                    ex.name,
                    step,
                    steps,
                    value,
                    grad_norm,
                )
        return grad_norm < tol * n_filters

    step = 0
    while step < steps:
        batch = X if full_batch else X[torch.randint(n, (batch_size,), generator=generator)]
        loss, grad_W, grad_alpha = _loss_and_grad(W, alpha, batch, ex)
        if step % log_every == 0:
            converged = stop(
                step,
                *((loss, grad_W) if full_batch else _loss_and_grad(W, alpha, X, ex)[:2]),
                log=True,
            )
        elif full_batch:
            converged = stop(step, loss, grad_W, log=False)
        if converged:
            break
        grad_W = _tangent(grad_W, W)
        with torch.no_grad():
            if adam is None:
                W -= lr * grad_W
                alpha -= 0.1 * lr * grad_alpha
            else:
                W.grad, alpha.grad = grad_W, grad_alpha
                adam.step()
            W /= W.norm(dim=1, keepdim=True)
            alpha.clamp_(min=0.0)
        step += 1
    if history[-1][0] != step:
        converged = stop(step, *_loss_and_grad(W, alpha, X, ex)[:2], log=True)
    return PatchPrior(
        W=W.detach().clone(),
        alpha=alpha.detach().clone(),
        expert=ex.name,
        whitening=whitening,
        history=history,
        converged=converged,
        n_steps=step,
    )


def fit_patch_prior(
    maps: torch.Tensor,
    *,
    expert: str,
    size: int,
    n_patches: int,
    components: int | None,
    remove_dc: bool,
    overcompleteness: float,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    what: str = "images",
    logger: logging.Logger | None = None,
) -> PatchPrior:
    """A score-matching prior of ``expert`` on ``size`` x ``size`` patches of ``maps`` (N x C x H x W):
    an image prior on training images or a feature-map prior on a layer's maps (the "Deep
    Restoration" study, sections 3.4.2-3.4.3 and 5.1; module docstring).

    ``n_patches`` random patches (:func:`~repgeo.inversion.patches.extract_patches`, from ``seed``)
    are PCA-whitened keeping ``components`` components (None: all with non-zero variance;
    ``remove_dc``: subtract each patch's mean first, for images, not for feature maps, whose
    channels are different quantities; :func:`~repgeo.inversion.patches.fit_whitening`). The prior
    has ``overcompleteness`` filters per whitened dimension (at least one) and is fitted by
    :func:`fit_score_matching` with Adam at ``lr`` for ``steps`` steps on batches of ``batch_size``
    patches (at most all of them). ``what`` names the maps in the log.
    """
    patches = extract_patches(maps, size, n_patches, seed=seed)
    whitening = fit_whitening(patches, n_components=components, remove_dc=remove_dc)
    Z = whitening.transform(patches)
    n_filters = max(1, round(overcompleteness * whitening.n_components))
    if logger is not None:
        logger.info(
            "%s prior on %s: %d patches %dx%dx%d, %d whitened dimensions, %d filters, %d steps",
            expert, what, len(patches), maps.shape[1], size, size, whitening.n_components, n_filters, steps,
        )  # fmt: skip
    return fit_score_matching(
        Z,
        n_filters=n_filters,
        expert=expert,
        steps=steps,
        lr=lr,
        batch_size=min(batch_size, len(Z)),
        seed=seed,
        whitening=whitening,
        logger=logger,
    )


def patch_log_prior(prior: PatchPrior, patches) -> torch.Tensor:
    """log p of raw patches (n x d) up to -log Z: sum_k alpha_k G(f_k^T x + b_k), shape (n,).

    Uses the pixel-space filters (whitening folded in), so it is differentiable with respect to
    ``patches`` and keeps their dtype and device.
    """
    _check_prior(prior)
    patches = _as_tensor(patches, "patches")
    if patches.ndim != 2 or patches.shape[1] != prior.input_dim:
        raise ValueError(
            f"patches must be n x {prior.input_dim} (flattened C * size * size patches), got shape {tuple(patches.shape)}"
        )
    _check_finite(patches, "patches")
    filters, bias = prior.pixel_filters()
    filters, bias, alpha = (t.to(patches.device, patches.dtype) for t in (filters, bias, prior.alpha))
    return get_expert(prior.expert).G(patches @ filters.T + bias) @ alpha


def image_log_prior(prior: PatchPrior, images) -> torch.Tensor:
    """Sum of the patch log-densities over all overlapping patches of each image, shape (N,).

    ``images`` N x C x H x W (images, or feature maps with C channels) in the units the prior was
    trained on; the patch side s is read from C and the prior's input dimension C * s^2. One
    ``conv2d`` (stride 1, no padding) with the pixel-space filters and biases, then
    sum_k alpha_k G(.) summed over the (H - s + 1)(W - s + 1) positions: the MRF image prior of the
    "Deep Restoration" study's eq. 9 (Roth & Black 2005, eq. 2), up to -log Z. Differentiable with
    respect to ``images``.
    """
    _check_prior(prior)
    images = _check_images(images, "images")
    _, C, H, W = images.shape
    side = patch_side(prior.input_dim, C)
    if side > H or side > W:
        raise ValueError(f"images of height {H} and width {W} are smaller than the prior's {side} x {side} patches")
    filters, bias = prior.pixel_filters()
    weight = filters.reshape(prior.n_filters, C, side, side).to(images.device, images.dtype)
    responses = F.conv2d(images, weight, bias.to(images.device, images.dtype))
    alpha = prior.alpha.to(images.device, images.dtype)
    return (get_expert(prior.expert).G(responses) * alpha[:, None, None]).sum(dim=(1, 2, 3))


def image_energy(prior: PatchPrior, images) -> torch.Tensor:
    """The regulariser -log p(image) / P, P = (H - s + 1)(W - s + 1) patch positions, shape (N,).

    Dividing by the number of positions makes it a mean over patches, so the weight given to it in
    a pre-image objective does not depend on the image size; it is >= 0 (G <= 0, alpha >= 0) and
    0 only where every filter response is 0.
    """
    log_p = image_log_prior(prior, images)
    H, W = images.shape[-2:]
    side = patch_side(prior.input_dim, images.shape[1])
    return -log_p / ((H - side + 1) * (W - side + 1))


def filter_sheet(
    prior: PatchPrior,
    channels: int = 1,
    kind: str = "filter",
    n_cols: int | None = None,
    pad: int = 1,
) -> np.ndarray:
    """A tiled sheet of the prior's pixel-space filters, sorted by decreasing alpha (the "Deep
    Restoration" study, Figure 8).

    ``kind="filter"``: the filters f_k applied to raw patches (:meth:`PatchPrior.pixel_filters`);
    ``"pattern"``: the raw patches whose whitened version is w_k (:meth:`.Whitening.pixel_patterns`),
    the smoother basis-vector view of Hyvärinen et al.'s figures. Each tile is scaled as
    0.5 + f / (2 max|f|), so 0 is mid-grey and the sign is visible; tiles are separated by ``pad``
    pixels of 1 (white) on an ``n_cols`` (default ceil(sqrt(K))) wide grid. Returns a float array
    in [0, 1], H' x W' for ``channels`` = 1 and H' x W' x 3 for 3.
    """
    _check_prior(prior)
    if channels not in (1, 3):
        raise ValueError(
            f"channels must be 1 (grey) or 3 (RGB) to draw filters, got {channels!r}; draw feature-map filters channel by channel"
        )
    if kind == "filter":
        tiles = prior.pixel_filters()[0]
    elif kind == "pattern":
        tiles = prior.W.clone() if prior.whitening is None else prior.whitening.pixel_patterns(prior.W)
    else:
        raise ValueError(f"kind must be 'filter' or 'pattern', got {kind!r}")
    side = patch_side(prior.input_dim, channels)
    K = prior.n_filters
    n_cols = math.ceil(math.sqrt(K)) if n_cols is None else _check_int(n_cols, "n_cols", 1)
    pad = _check_int(pad, "pad", 0)
    n_rows = math.ceil(K / n_cols)
    tiles = tiles[torch.argsort(prior.alpha, descending=True, stable=True)].numpy()
    scale = np.abs(tiles).max(axis=1, keepdims=True)
    tiles = 0.5 + tiles / (2.0 * np.where(scale > 0, scale, 1.0))
    tiles = tiles.reshape(K, channels, side, side).transpose(0, 2, 3, 1)
    step = side + pad
    sheet = np.ones((n_rows * step + pad, n_cols * step + pad, channels))
    for k in range(K):
        r, c = divmod(k, n_cols)
        sheet[
            pad + r * step : pad + r * step + side,
            pad + c * step : pad + c * step + side,
        ] = tiles[k]
    return sheet[:, :, 0] if channels == 1 else sheet


def _tangent(grad_W: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """The rows of ``grad_W`` projected on the tangent spaces of the unit sphere at the rows of W."""
    return grad_W - (grad_W * W).sum(dim=1, keepdim=True) * W


def _check_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_data(X) -> torch.Tensor:
    X = _as_tensor(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n samples x D whitened dimensions), got shape {tuple(X.shape)}")
    if X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"X needs at least 2 samples and 1 dimension, got shape {tuple(X.shape)}")
    _check_finite(X, "X")
    return X.detach().to("cpu", torch.float64)


def _check_model(W, alpha, X) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    W, alpha, X = _as_tensor(W, "W"), _as_tensor(alpha, "alpha"), _as_tensor(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n samples x D dimensions), got shape {tuple(X.shape)}")
    if W.ndim != 2 or W.shape[1] != X.shape[1]:
        raise ValueError(f"W must be K filters x D = {X.shape[1]} (the columns of X), got shape {tuple(W.shape)}")
    if alpha.shape != (W.shape[0],):
        raise ValueError(f"alpha must have one weight per filter, shape ({W.shape[0]},), got {tuple(alpha.shape)}")
    for name, t in (("W", W), ("alpha", alpha), ("X", X)):
        _check_finite(t, name)
    dtype = torch.promote_types(torch.promote_types(W.dtype, alpha.dtype), X.dtype)
    return W.to(dtype), alpha.to(dtype), X.to(dtype)


def _check_prior(prior) -> None:
    if not isinstance(prior, PatchPrior):
        raise TypeError(f"prior must be a PatchPrior (from fit_score_matching), got {type(prior).__name__}")
