"""Distances between a sample and the N(0, I) prior for the sliced generative autoencoders.

Knop, Mazur, Tabor, Podolak & Spurek, "Sliced generative models" (arXiv 1901.10417) train an
autoencoder with RecErr + lambda * log d(Z), where Z (n x D) is an encoded batch and d a
*sliced* distance to N(0, I_D):

    d_sliced(Z) = (1/K) sum_k d_1(Z v_k),    v_k = g_k / ||g_k||,  g_k ~ N(0, I_D),

with K fresh random unit directions per batch and d_1 a distance between the n projections
s = Z v_k and N(0, 1). With s_(1) <= ... <= s_(n) sorted, Phi / phi the standard normal cdf /
pdf and N(u; 0, v) the normal pdf of variance v (each closed form agrees with Monte-Carlo
estimates, scipy.stats or numerical integration), the five 1-D distances, one per model, are:

- ``swae`` (Kolouri, Pope, Martin & Rohde, arXiv 1804.01947): (1/n) sum_i (s_(i) - t_(i))^2,
  t the sorted values of n fresh N(0, 1) draws, i.e. W2^2 between the sample and a prior sample;
- ``scfwae``: the exact W2^2 between the empirical distribution of s and N(0, 1),
  (1/n) sum_i s_(i)^2 + 1 - 2 sum_i s_(i) m_i with m_i = phi(Phi^-1((i-1)/n)) - phi(Phi^-1(i/n))
  = int_{(i-1)/n}^{i/n} Phi^-1(q) dq (since d/dq phi(Phi^-1(q)) = -Phi^-1(q));
- ``scwae``: the squared L2 distance between the sample smoothed by N(0, gamma) and N(0, 1)
  smoothed by it, N(0, 1 + gamma):
  (1/n^2) sum_ij N(s_i - s_j; 0, 2 gamma) + N(0; 0, 2 + 2 gamma) - (2/n) sum_i N(s_i; 0, 1 + 2 gamma),
  gamma = (4/(3n))^(2/5) by default (Silverman's rule of thumb for the variance of the kernel);
- ``scvmae``: the Cramer-von Mises statistic omega^2 = 1/(12n) + sum_i (Phi(s_(i)) - (2i-1)/(2n))^2
  (= ``scipy.stats.cramervonmises(s, 'norm').statistic``);
- ``sksae``: the Kolmogorov-Smirnov statistic
  D_n = max_i max(i/n - Phi(s_(i)), Phi(s_(i)) - (i-1)/n) (= ``scipy.stats.kstest(s, 'norm').statistic``).

The multivariate Cramer-Wold distance of CWAE (Knop, Tabor, Spurek, Podolak, Mazur &
Jastrzebski, "Cramer-Wold AutoEncoder", arXiv 1805.09235, JMLR 21, 2020) is the mean of the
``scwae`` distance over directions uniformly distributed on the sphere; it has a closed form
(:func:`cw_distance_exact`) and the asymptotic form used to train CWAE (:func:`cw_distance`).

Under the log cost any constant factor of d only shifts the cost (log(c d) = log c + log d), so
normalisations matter for reporting only; each function states its own. The training distances are torch
functions, differentiable almost everywhere (sorting and the maximum of ``sksae`` are piecewise
smooth), on any device, in float32 or float64. Random draws use ``generator`` when one is given:
they are made on the generator's device and moved to the data's, so a CPU generator gives the
same numbers on a GPU. :func:`sliced_wasserstein_to_normal` and :func:`sliced_wasserstein` are
the evaluation metrics of the gmum CWAE code (gmum/cwae ``src/evaluation/``) and of pixel-space
comparison (this project's offline substitute for FID).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable

import numpy as np
import torch
from scipy.spatial.distance import cdist
from scipy.special import hyp1f1

# Pairwise squared distances in cw_distance_exact are taken over row blocks of about this many
# entries (32 MB in float64), so n = 10,000 codes never need an n x n matrix.
_BLOCK_ENTRIES = 2**22


def silverman_gamma(n: int) -> float:
    """Silverman's rule of thumb for the variance of the smoothing kernel of n unit-variance points:
    gamma = h^2 = (4/(3n))^(2/5) (the default of CWAE and of the sliced Cramer-Wold distance)."""
    n = _check_int(n, "n", 1)
    return (4.0 / (3.0 * n)) ** 0.4


def random_directions(
    dim: int,
    n_projections: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``n_projections`` x ``dim`` unit vectors uniform on the sphere: v = g / ||g||, g ~ N(0, I).

    ``device=None`` keeps the generator's device (the default device without a generator);
    ``dtype=None`` is torch's default dtype.
    """
    dim = _check_int(dim, "dim", 1)
    n_projections = _check_int(n_projections, "n_projections", 1)
    g = _randn((n_projections, dim), generator, device, dtype)
    return g / torch.linalg.vector_norm(g, dim=1, keepdim=True)


def w2_prior_sample(s, generator: torch.Generator | None = None) -> torch.Tensor:
    """SWAE's 1-D distance of each row of ``s`` (K projections x n points), shape (K,).

    (1/n) sum_i (s_(i) - t_(i))^2 with t the sorted values of n fresh N(0, 1) draws per row:
    the squared 2-Wasserstein distance between the sample and a prior sample of the same size
    (Kolouri et al., arXiv 1804.01947; the gmum ``swae`` cost). The projection of an N(0, I)
    draw on a unit vector is N(0, 1), so t is drawn in one dimension directly.
    """
    s = _check_matrix(s, "s", "K projections x n points", sample_axis=1)
    t = torch.sort(_randn(s.shape, generator, s.device, s.dtype), dim=1).values
    return (torch.sort(s, dim=1).values - t).square().mean(dim=1)


def w2_closed_form(s) -> torch.Tensor:
    """SCFWAE's 1-D distance of each row of ``s`` (K x n): exact W2^2 to N(0, 1), shape (K,).

    W2^2 = int_0^1 (F_n^-1(q) - Phi^-1(q))^2 dq = (1/n) sum_i s_(i)^2 + 1 - 2 sum_i s_(i) m_i,
    m_i = phi(Phi^-1((i-1)/n)) - phi(Phi^-1(i/n)) (Knop et al., arXiv 1901.10417; m_i is the integral of
    Phi^-1 over [(i-1)/n, i/n], since d/dq -phi(Phi^-1(q)) = Phi^-1(q)). No prior sampling.
    """
    s = _check_matrix(s, "s", "K projections x n points", sample_axis=1)
    n = s.shape[1]
    s_sorted = torch.sort(s, dim=1).values
    return s_sorted.square().mean(dim=1) + 1.0 - 2.0 * (s_sorted * _quantile_means(n, s.device, s.dtype)).sum(dim=1)


def cramer_wold_1d(s, gamma: float | None = None) -> torch.Tensor:
    """SCWAE's 1-D distance of each row of ``s`` (K x n), shape (K,).

    The squared L2 distance between the sample smoothed by N(0, gamma) and N(0, 1 + gamma):

        (1/n^2) sum_ij N(s_i - s_j; 0, 2 gamma) + N(0; 0, 2 + 2 gamma) - (2/n) sum_i N(s_i; 0, 1 + 2 gamma),

    with no further factor (``cw_1d`` in gmum/cwae ``src/cw.py``). Its mean over directions
    uniform on the sphere is :func:`cw_distance_exact`. ``gamma=None``: Silverman's
    (4/(3n))^(2/5). Memory: a K x n x n tensor.
    """
    s = _check_matrix(s, "s", "K projections x n points", sample_axis=1)
    n = s.shape[1]
    gamma = _check_gamma(gamma, n)
    pairs = _normal_pdf(s[:, :, None] - s[:, None, :], 2.0 * gamma).mean(dim=(1, 2))
    cross = _normal_pdf(s, 1.0 + 2.0 * gamma).mean(dim=1)
    return pairs + 1.0 / math.sqrt(2.0 * math.pi * (2.0 + 2.0 * gamma)) - 2.0 * cross


def cramer_von_mises(s) -> torch.Tensor:
    """SCvMAE's 1-D distance of each row of ``s`` (K x n): the Cramer-von Mises statistic, shape (K,).

    omega^2 = 1/(12n) + sum_i (Phi(s_(i)) - (2i-1)/(2n))^2, the convention of
    ``scipy.stats.cramervonmises(s, 'norm').statistic`` (some texts divide by n).
    """
    s = _check_matrix(s, "s", "K projections x n points", sample_axis=1)
    n = s.shape[1]
    u = torch.special.ndtr(torch.sort(s, dim=1).values)
    i = torch.arange(1, n + 1, device=s.device, dtype=s.dtype)
    return 1.0 / (12.0 * n) + (u - (2.0 * i - 1.0) / (2.0 * n)).square().sum(dim=1)


def kolmogorov_smirnov(s) -> torch.Tensor:
    """SKSAE's 1-D distance of each row of ``s`` (K x n): the Kolmogorov-Smirnov statistic, shape (K,).

    D_n = max_i max(i/n - Phi(s_(i)), Phi(s_(i)) - (i-1)/n), as ``scipy.stats.kstest(s, 'norm')``.
    Its gradient flows through the one point that attains the maximum.
    """
    s = _check_matrix(s, "s", "K projections x n points", sample_axis=1)
    n = s.shape[1]
    u = torch.special.ndtr(torch.sort(s, dim=1).values)
    i = torch.arange(1, n + 1, device=s.device, dtype=s.dtype)
    return torch.maximum((i / n - u).amax(dim=1), (u - (i - 1.0) / n).amax(dim=1))


# Model name -> its 1-D distance (K x n projections -> K values).
ONE_D_DISTANCES: dict[str, Callable[..., torch.Tensor]] = {
    "swae": w2_prior_sample,
    "scfwae": w2_closed_form,
    "scwae": cramer_wold_1d,
    "scvmae": cramer_von_mises,
    "sksae": kolmogorov_smirnov,
}


def sliced_distance(
    z, kind: str, n_projections: int = 50, generator: torch.Generator | None = None, compiled: bool = False
) -> torch.Tensor:
    """The sliced distance of the codes ``z`` (n x D) to N(0, I) for the model ``kind``, a scalar.

    The mean over ``n_projections`` fresh random unit directions v_k (K = 50 in every gmum and
    Kolouri implementation: gmum/cwae, gmum/cwae-pytorch, skolouri/swae) of
    ``ONE_D_DISTANCES[kind]`` applied to z v_k, with the defaults of each 1-D distance. ``generator`` draws the directions and, for 'swae', the prior
    samples (in that order, as the 1-D functions would).

    The value equals ``ONE_D_DISTANCES[kind](v @ z.T).mean()``, but forward and backward are one
    autograd node with the gradient of each 1-D distance written out (:class:`_SlicedDistance`):
    at the MLP's batch of 128 codes a training step takes a few milliseconds, and the two dozen
    small autograd nodes of the composed form cost more than the arithmetic. ``compiled=True``
    runs the 1-D distances' arithmetic through :func:`torch.compile` (:func:`_compiled_formulas`;
    the sorts stay outside, in NumPy on the CPU), which fuses it into a few loops: about 30 s of
    compilation once per process and per batch size (needs a C++ compiler on the CPU), then
    several times faster for 'scwae' (whose K x n x n kernel otherwise makes several passes over
    memory), less for the others. Values agree with the eager form to float
    rounding (about 1e-7 relative in float32).
    """
    if kind not in ONE_D_DISTANCES:
        raise ValueError(f"kind must be one of {sorted(ONE_D_DISTANCES)}, got {kind!r}")
    z = _check_matrix(z, "z", "n samples x D features", sample_axis=0)
    v = random_directions(z.shape[1], n_projections, generator, z.device, z.dtype)
    n = z.shape[0]
    if kind == "swae":
        extra = _randn((n_projections, n), generator, z.device, z.dtype)
    elif kind == "scfwae":
        extra = _quantile_means(n, z.device, z.dtype)
    else:
        extra = None
    formulas = _compiled_formulas() if compiled else _formulas
    if torch.is_grad_enabled() and z.requires_grad:
        return _SlicedDistance.apply(z, v, kind, extra, formulas)
    return _one_d_value_and_grad(v @ z.T, kind, extra, False, formulas)[0].mean()


@functools.cache
def _compiled_formulas():
    """:func:`_formulas` compiled by :func:`torch.compile` (built on first use, then reused)."""
    return torch.compile(_formulas, dynamic=False)


class _SlicedDistance(torch.autograd.Function):
    """d = (1/K) sum_k d_1(z v_k) with the analytic gradient dd/dz = (1/K) sum_k (dd_1/ds_k) v_k^T.

    The forward pass computes the gradient of every 1-D distance with respect to its n projections
    (:func:`_one_d_value_and_grad`) while the intermediate values are at hand; the backward pass
    is one matrix product.
    """

    @staticmethod
    def forward(ctx, z, v, kind, extra, formulas):
        values, grad_s = _one_d_value_and_grad(v @ z.T, kind, extra, True, formulas)
        ctx.save_for_backward(grad_s, v)
        return values.mean()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        grad_s, v = ctx.saved_tensors
        return (grad_output / v.shape[0]) * (grad_s.T @ v), None, None, None, None


def _one_d_value_and_grad(
    s: torch.Tensor, kind: str, extra, need_grad: bool, formulas
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The 1-D distance of each row of ``s`` (K x n) and, if ``need_grad``, its gradient (K x n).

    ``extra`` is the prior sample (K x n, unsorted) for 'swae' and the quantile means m (n,) for
    'scfwae'. The rows are sorted here (:func:`_sort_rows`), then ``formulas`` (:func:`_formulas`
    or its compiled form) does the arithmetic.
    """
    if kind == "scwae":
        return formulas(s, None, kind, None, need_grad)
    s_sorted, order = _sort_rows(s, with_order=need_grad)
    if kind == "swae":
        extra = _sort_rows(extra, with_order=False)[0]
    return formulas(s_sorted, order, kind, extra, need_grad)


def _sort_rows(x: torch.Tensor, with_order: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each row of ``x`` (K x n) sorted, and the permutation that sorts it when ``with_order``.

    On the CPU through NumPy: its vectorised sorts take 9 us (values) and 28 us (with the
    permutation) for 50 x 128 fresh float32 values on this project's 2-core machines, against
    about 220 us for ``torch.sort`` (2.11), whose branchy per-row sort only looks fast when it is
    timed on the same data again and again. Sorted values are the same either way; only the
    order among equal values may differ, which leaves every distance and gradient unchanged.
    """
    if x.device.type != "cpu" or x.requires_grad or x.dtype not in (torch.float32, torch.float64):
        result = torch.sort(x, dim=1)
        return result.values, result.indices if with_order else None
    a = x.numpy()
    if not with_order:
        return torch.from_numpy(np.sort(a, axis=1)), None
    order = np.argsort(a, axis=1)
    return torch.from_numpy(np.take_along_axis(a, order, axis=1)), torch.from_numpy(order)


def _formulas(
    s: torch.Tensor, order: torch.Tensor | None, kind: str, extra, need_grad: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The 1-D distances' arithmetic, the same formulas as the public 1-D functions (module docstring).

    ``s`` is sorted along rows with ``order`` the sorting permutation for every kind but 'scwae'
    (raw projections); ``extra`` is the sorted prior sample for 'swae', the quantile means for
    'scfwae'. For the sorted forms the gradient is taken with respect to the sorted values and
    scattered back through ``order``, which is the derivative wherever the values are distinct.
    """
    n = s.shape[1]
    if kind == "scwae":
        return _cramer_wold_value_and_grad(s, silverman_gamma(n), need_grad)
    if kind == "swae":
        d = s - extra
        values = d.square().mean(dim=1)
        grad = (2.0 / n) * d
    elif kind == "scfwae":
        values = s.square().mean(dim=1) + 1.0 - 2.0 * (s * extra).sum(dim=1)
        grad = (2.0 / n) * s - 2.0 * extra
    else:
        u = torch.special.ndtr(s)
        i = torch.arange(1, n + 1, device=s.device, dtype=s.dtype)
        density = torch.exp(-0.5 * s * s) / math.sqrt(2.0 * math.pi)
        if kind == "scvmae":
            r = u - (2.0 * i - 1.0) / (2.0 * n)
            values = 1.0 / (12.0 * n) + r.square().sum(dim=1)
            grad = 2.0 * r * density
        else:  # sksae: the gradient flows through the one point that attains the maximum
            above, at_above = (i / n - u).max(dim=1)
            below, at_below = (u - (i - 1.0) / n).max(dim=1)
            values = torch.maximum(above, below)
            use_above = above >= below
            at = torch.where(use_above, at_above, at_below)
            sign = torch.where(use_above, -1.0, 1.0).to(s.dtype)
            grad = torch.zeros_like(s).scatter_(
                1, at[:, None], (sign * density.gather(1, at[:, None]).squeeze(1))[:, None]
            )
    if not need_grad:
        return values, None
    return values, torch.empty_like(s).scatter_(1, order, grad)


def _cramer_wold_value_and_grad(
    s: torch.Tensor, gamma: float, need_grad: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`cramer_wold_1d` of each row of ``s`` (K x n) and its gradient.

    With E_ij = exp(-(s_i - s_j)^2 / (4 gamma)) and C_i = N(s_i; 0, 1 + 2 gamma), the derivative is
    -(1 / (n^2 gamma sqrt(4 pi gamma))) sum_j E_ij (s_i - s_j) + (2 / (n (1 + 2 gamma))) s_i C_i.
    The K x n x n kernel is formed once and reused in place for the gradient.
    """
    n = s.shape[1]
    a = 1.0 / math.sqrt(4.0 * math.pi * gamma)  # N(0; 0, 2 gamma)
    diff = s[:, :, None] - s[:, None, :]
    kernel = diff.square().mul_(-1.0 / (4.0 * gamma)).exp_()
    cross_variance = 1.0 + 2.0 * gamma
    cross = torch.exp(-0.5 * s * s / cross_variance) / math.sqrt(2.0 * math.pi * cross_variance)
    values = (
        (a / (n * n)) * kernel.sum(dim=(1, 2))
        + 1.0 / math.sqrt(2.0 * math.pi * (2.0 + 2.0 * gamma))
        - 2.0 * cross.mean(dim=1)
    )
    if not need_grad:
        return values, None
    pull = kernel.mul_(diff).sum(dim=2)
    return values, (-a / (n * n * gamma)) * pull + (2.0 / (n * cross_variance)) * s * cross


def cw_distance(z, gamma: float | None = None) -> torch.Tensor:
    """CWAE's Cramer-Wold distance of the codes ``z`` (n x D, D >= 2) to N(0, I_D), a scalar.

    The training form of CWAE (Knop, Tabor et al., arXiv 1805.09235; ``cw`` in gmum/cwae ``src/cw.py``):

        1/sqrt(1 + gamma) + (1/n^2) sum_ij (gamma + ||z_i - z_j||^2 / (2D - 3))^(-1/2)
                          - (2/n) sum_i (gamma + 1/2 + ||z_i||^2 / (2D - 3))^(-1/2),

    i.e. the closed form of :func:`cw_distance_exact` with the kernel phi_D(s) = 1F1(1/2; D/2; -s)
    replaced by its asymptotic approximation (1 + 4s/(2D - 3))^(-1/2), and without the paper's
    factor 1/(2 sqrt(pi)): cw_distance ~= 2 sqrt(pi) * cw_distance_exact. The approximate kernel
    is within 3 % of the exact one at D = 8, 1 % at D = 20 and 0.3 % at D = 64 (the gmum code
    uses this form from D = 8 in PyTorch, D = 20 in TF), but up to 31 % at D = 2. The kernel
    error does not cancel between the three terms: for a sample of the prior itself cw_distance
    levels off near 0.05 (D = 8), 0.019 (D = 20), 0.006 (D = 64) as n grows, while
    2 sqrt(pi) * cw_distance_exact goes to 0 (about 0.001 at n = 4,000). ``gamma=None``:
    Silverman's (4/(3n))^(2/5). Memory: an n x n matrix.
    """
    z = _check_matrix(z, "z", "n samples x D features", sample_axis=0)
    n, dim = z.shape
    if dim < 2:
        raise ValueError(
            f"cw_distance needs D >= 2 latent dimensions (its kernel (1 + 4s/(2D-3))^(-1/2) is undefined for D = 1), "
            f"got z of shape {tuple(z.shape)}; for one dimension use cramer_wold_1d(z.T)"
        )
    gamma = _check_gamma(gamma, n)
    c = 2.0 * dim - 3.0
    # Centring leaves every ||z_i - z_j|| unchanged and keeps the Gram identity accurate in
    # float32 when the codes sit far from the origin.
    zc = z - z.mean(dim=0)
    sq = zc.square().sum(dim=1)
    d2 = (sq[:, None] + sq[None, :] - 2.0 * zc @ zc.T).clamp_min(0.0)
    pairs = torch.rsqrt(gamma + d2 / c).mean()
    cross = torch.rsqrt(gamma + 0.5 + z.square().sum(dim=1) / c).mean()
    return pairs + 1.0 / math.sqrt(1.0 + gamma) - 2.0 * cross


def cw_distance_exact(z, gamma: float | None = None) -> float:
    """The Cramer-Wold distance d_cw^2 of the codes ``z`` (n x D) to N(0, I_D), exact kernel.

    The mean over directions v uniform on the unit sphere of :func:`cramer_wold_1d` of z v
    (CWAE's definition, arXiv 1805.09235). For a unit v, N(v.a; 0, 2 gamma) =
    (4 pi gamma)^(-1/2) exp(-(v.a)^2 / (4 gamma)) and (v.a)^2 = ||a||^2 B with
    B ~ Beta(1/2, (D-1)/2), whose Laplace transform is E exp(-t B) = 1F1(1/2; D/2; -t) =: phi_D(t);
    averaging each term of the 1-D closed form over v gives

        d_cw^2 = 1/(2 sqrt(pi)) * [ (1/n^2) sum_ij gamma^(-1/2) phi_D(||z_i - z_j||^2 / (4 gamma))
                                    + (1 + gamma)^(-1/2)
                                    - (2/n) sum_i (gamma + 1/2)^(-1/2) phi_D(||z_i||^2 / (4 gamma + 2)) ],

    the paper's closed form. :func:`cw_distance` is the bracket with phi_D approximated, so
    cw_distance ~= 2 sqrt(pi) * cw_distance_exact. Any D >= 1 (phi_1(t) = exp(-t)). numpy/scipy
    in float64, not differentiable: an evaluation metric (gmum: 2,000-code subsets, 5 repeats).
    """
    z = _as_numpy(z, "z")
    n, dim = z.shape
    gamma = _check_gamma(gamma, n)
    a, b = 0.5, dim / 2.0
    # Symmetric sum over row blocks: a diagonal block counts once, the blocks to its right twice.
    step = max(1, _BLOCK_ENTRIES // n)
    pairs = 0.0
    for start in range(0, n, step):
        stop = min(start + step, n)
        k = hyp1f1(a, b, -cdist(z[start:stop], z[start:], "sqeuclidean") / (4.0 * gamma))
        pairs += k[:, : stop - start].sum() + 2.0 * k[:, stop - start :].sum()
    pairs /= n * n * math.sqrt(gamma)
    cross = hyp1f1(a, b, -np.square(z).sum(axis=1) / (4.0 * gamma + 2.0)).mean() / math.sqrt(gamma + 0.5)
    return float((pairs + 1.0 / math.sqrt(1.0 + gamma) - 2.0 * cross) / (2.0 * math.sqrt(math.pi)))


@torch.no_grad()
def sliced_wasserstein_to_normal(
    z, n_projections: int = 50, repeats: int = 10, generator: torch.Generator | None = None
) -> float:
    """Sliced W2^2 between the codes ``z`` (n x D) and N(0, I), the gmum evaluation metric.

    Per repeat: ``n_projections`` fresh unit directions and a fresh N(0, I) sample of n points;
    the mean over directions and points of the squared differences of the sorted projections.
    The result is the mean over ``repeats`` (gmum TF evaluator, gmum/cwae
    ``src/evaluation/sw_evaluator.py``: 50 projections, 10 repeats).
    """
    z = _check_matrix(z, "z", "n samples x D features", sample_axis=0)
    repeats = _check_int(repeats, "repeats", 1)
    total = 0.0
    for _ in range(repeats):
        v = random_directions(z.shape[1], n_projections, generator, z.device, z.dtype)
        prior = _randn(z.shape, generator, z.device, z.dtype)
        total += float(_sorted_sq_difference(z @ v.T, prior @ v.T))
    return total / repeats


@torch.no_grad()
def sliced_wasserstein(x, y, n_projections: int = 128, generator: torch.Generator | None = None) -> float:
    """Sliced W2^2 between two samples ``x`` and ``y`` (n x ..., flattened to n x features).

    The mean over ``n_projections`` random unit directions and over points of the squared
    differences of the sorted projections (used as the pixel-space SWD between generated
    and test images). When the sizes differ the larger sample is subsampled without replacement
    to the smaller size with ``generator``, which also draws the directions. Both samples must be
    in the same units (e.g. pixels in [0, 1]).
    """
    x = _check_matrix(_flatten(x, "x"), "x", "n samples x features", sample_axis=0)
    y = _check_matrix(_flatten(y, "y"), "y", "n samples x features", sample_axis=0)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same number of features per sample, got {x.shape[1]} and {y.shape[1]}")
    dtype = torch.promote_types(x.dtype, y.dtype)
    x, y = x.to(dtype), y.to(device=x.device, dtype=dtype)
    if len(x) != len(y):
        small, large = (x, y) if len(x) < len(y) else (y, x)
        large = large[_randperm(len(large), generator, large.device)[: len(small)]]
        x, y = small, large
    v = random_directions(x.shape[1], n_projections, generator, x.device, dtype)
    return float(_sorted_sq_difference(x @ v.T, y @ v.T))


def _sorted_sq_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean over columns (directions) and rows of (sort(a) - sort(b))^2, sorting each column."""
    return (torch.sort(a, dim=0).values - torch.sort(b, dim=0).values).square().mean()


@functools.lru_cache(maxsize=16)
def _quantile_means(n: int, device, dtype) -> torch.Tensor:
    """m_i = phi(Phi^-1((i-1)/n)) - phi(Phi^-1(i/n)), i = 1..n, computed in float64.

    Only the interior quantiles go through ndtri: at q = 0 and 1 it is infinite and phi is set
    to its limit 0 directly, so neither the values nor anything downstream sees inf or NaN.
    Cached per (n, device, dtype): every batch of a training run has the same n. Callers must not
    modify the returned tensor in place.
    """
    q = torch.arange(1, n, dtype=torch.float64, device=device) / n
    x = torch.special.ndtri(q)
    zero = torch.zeros(1, dtype=torch.float64, device=device)
    density = torch.cat([zero, torch.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi), zero])
    return (density[:-1] - density[1:]).to(dtype)


def _normal_pdf(u: torch.Tensor, variance: float) -> torch.Tensor:
    """N(u; 0, variance)."""
    return torch.exp(-0.5 * u * u / variance) / math.sqrt(2.0 * math.pi * variance)


def _randn(shape, generator: torch.Generator | None, device, dtype) -> torch.Tensor:
    """N(0, 1) draws from ``generator`` on its own device, then moved to ``device``."""
    if generator is None:
        return torch.randn(shape, device=device, dtype=dtype)
    g = torch.randn(shape, generator=generator, device=generator.device, dtype=dtype)
    return g if device is None else g.to(device)


def _randperm(n: int, generator: torch.Generator | None, device) -> torch.Tensor:
    if generator is None:
        return torch.randperm(n, device=device)
    return torch.randperm(n, generator=generator, device=generator.device).to(device)


def _as_tensor(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be floating point (float32 or float64), got {x.dtype}; convert it, e.g. {name}.float()"
        )
    return x


def _flatten(x, name: str) -> torch.Tensor:
    x = _as_tensor(x, name)
    if x.ndim < 2:
        raise ValueError(
            f"{name} must have a sample axis and feature axes (n x ...), got shape {tuple(x.shape)}; use {name}.reshape(-1, 1) for scalars"
        )
    return x.reshape(x.shape[0], -1)


def _check_matrix(x, name: str, layout: str, sample_axis: int) -> torch.Tensor:
    """``x`` as a finite floating 2-D tensor (``layout``) with at least 2 points along ``sample_axis``."""
    x = _as_tensor(x, name)
    if x.ndim != 2:
        raise ValueError(f"{name} must be 2-D ({layout}), got shape {tuple(x.shape)}")
    if x.shape[sample_axis] < 2:
        raise ValueError(
            f"{name} ({layout}) needs at least 2 points along axis {sample_axis}, got shape {tuple(x.shape)}"
        )
    if x.shape[1 - sample_axis] < 1:
        raise ValueError(f"{name} ({layout}) is empty along axis {1 - sample_axis}, got shape {tuple(x.shape)}")
    # One reduction settles the common case: a sum is finite only if every term is; only when it
    # is not (NaN/inf present, or an overflow of huge finite values) is the elementwise test run.
    if not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(
            f"{name} has {bad} NaN or inf value(s); a diverged encoder gives these, lower the learning rate or drop the rows"
        )
    return x


def _as_numpy(z, name: str) -> np.ndarray:
    """``z`` (array or tensor, n x D) as a finite float64 numpy array with n >= 2."""
    if isinstance(z, torch.Tensor):
        z = z.detach().cpu()
    return _check_matrix(
        torch.as_tensor(np.asarray(z, dtype=np.float64)), name, "n samples x D features", sample_axis=0
    ).numpy()


def _check_gamma(gamma, n: int) -> float:
    if gamma is None:
        return silverman_gamma(n)
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not math.isfinite(gamma) or gamma <= 0:
        raise ValueError(
            f"gamma must be a finite number > 0 (the variance of the Gaussian smoothing kernel) or None for Silverman's "
            f"(4/(3n))^(2/5), got {gamma!r}"
        )
    return float(gamma)


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)
