"""The variable-bandwidth diffusion Laplacian of Jones' manifold diffusion geometry.

I. Jones, "Manifold diffusion geometry: curvature, tangent spaces, and dimension",
arXiv:2411.04100 (2024), section 5, which builds on Berry & Harlim, "Variable bandwidth
diffusion kernels", ACHA 40 (2016) (bandwidth exponent beta = -1/2, alpha = 1/2 - c/2 - d/4 so
that the limit operator is the Laplace-Beltrami operator plus c grad(log q) . grad), and on
Berry, Giannakis & Harlim (2015) for the choice of eps: the steepest point of the mean kernel
value against eps on a log-log scale, whose slope is d/2.

Steps (n points, their k nearest neighbours including themselves, distances d_ij):

1. ad-hoc bandwidth rho0_i = sqrt(mean_{j=1..k_ep-1} d_{i(j)}^2) (RMS distance to the 7
   nearest other points);
2. first tuning: over eps on the grid 2^(-30 + 0.25 j), j = 0..159, the mean over all n k kNN
   pairs of exp(-d_ij^2 / (2 eps rho0_i rho0_j)); eps0 at the steepest forward-difference
   log-log slope, d0 = 2 x that slope;
3. kernel density q_i = sum_j K1_ij / (n rho0_i^d0) with K1 = exp(-d^2/(2 eps0 rho0 rho0)) /
   (2 pi eps0)^(d0/2) symmetrised as (K1 + K1^T)/2;
4. variable bandwidth rho = q^(-1/2), divided by its median; alpha = 1/2 - c/2 - d0/4;
5. second tuning with exp(-d^2 / (4 eps rho_i rho_j)) gives eps and d;
6. K = that kernel at eps, symmetrised; q_i = sum_j K_ij / rho_i^d;
   K_alpha = q^-alpha K q^-alpha; D = K_alpha 1; measure mu = D rho^2;
7. L = diag(rho^-2) (I - D^-1 K_alpha) / eps, a positive semi-definite approximation of -Delta,
   self-adjoint in L^2(mu), with L 1 = 0.

All matrices are sparse on the symmetrised kNN graph: memory O(n k).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .neighbors import KNNGraph

logger = logging.getLogger("repgeo")

# Jones' grid: 2^-30 ... 2^9.75 in steps of 2^0.25.
TUNING_GRID = 2.0 ** (-30 + 0.25 * np.arange(160))


@dataclass
class Tuning:
    """Result of one bandwidth tuning: eps at the steepest slope and d = 2 x that slope.

    ``criterion`` holds the forward-difference log-log slopes of the grid's segments; segments
    that :func:`tune_bandwidth` proved cannot be the steepest without evaluating them are NaN.
    """

    epsilon: float
    dim: float
    index: int
    criterion: np.ndarray  # len(grid) - 1


# Quantile groups of the positive scaled distances used to bound the slope per segment.
_BOUND_GROUPS = 128


def tune_bandwidth(b: np.ndarray, scale: float, grid: np.ndarray = TUNING_GRID) -> Tuning:
    """Berry-Giannakis-Harlim tuning on scaled squared distances ``b`` (any shape).

    m(eps) = mean(exp(-b / (scale eps))); the slope d log m / d log eps by forward differences;
    eps = grid[argmax slope] (the left end of the steepest segment, first one on ties) -- the
    same grid point as evaluating all of them, with m evaluated at about a dozen grid points:

    With x = b / (scale eps), d log m / d log eps = sum x e^-x / sum e^-x, and a segment's
    forward difference is the mean of that over the segment. Over a segment each x lies
    between its values at the two ends, so grouping the sorted b gives an upper bound per
    segment (:func:`_slope_bounds`). Segments are evaluated in order of decreasing bound until
    the bound drops below the steepest slope found; no skipped segment can reach it.
    """
    b = np.sort(np.asarray(b, dtype=np.float64).ravel())
    log_m = np.full(len(grid), np.nan)

    def log_mean_kernel(j: int) -> float:
        if np.isnan(log_m[j]):
            eps = grid[j]
            # Terms with b / (scale eps) > 746 are exactly 0 in float64: sum only the sorted prefix.
            stop = np.searchsorted(b, 746.0 * scale * eps, side="right")
            log_m[j] = np.log(np.exp(-b[:stop] / (scale * eps)).sum() / b.size)
        return log_m[j]

    bound = _slope_bounds(b, scale, grid)
    dlog = np.diff(np.log(grid))
    crit = np.full(len(grid) - 1, np.nan)
    best = -np.inf
    for j in np.argsort(-bound, kind="stable"):
        # The relative margin covers rounding in the computed slopes and bounds (~1e-14).
        if bound[j] < best - 1e-6 * abs(best):
            break
        crit[j] = (log_mean_kernel(j + 1) - log_mean_kernel(j)) / dlog[j]
        best = max(best, crit[j])
    j = int(np.nanargmax(crit))
    return Tuning(float(grid[j]), float(2.0 * crit[j]), j, crit)


def _slope_bounds(b: np.ndarray, scale: float, grid: np.ndarray) -> np.ndarray:
    """Upper bounds on d log m / d log eps over each grid segment, from sorted ``b``.

    In a segment [eps_j, eps_j+1], x_i = b_i / (scale eps) lies in [b_i / (scale eps_j+1),
    b_i / (scale eps_j)]. For a group of b in [lo, hi] the numerator terms x e^-x are at most
    the maximum of x e^-x over [lo / (scale eps_j+1), hi / (scale eps_j)] (it peaks at x = 1),
    and the denominator terms e^-x at least e^(-hi / (scale eps_j)); zeros contribute 0 and 1.
    Non-finite bounds (an empty denominator) become +inf, so such segments are evaluated.
    """
    zeros = np.searchsorted(b, 0.0, side="right")
    pos = b[zeros:]
    if pos.size == 0:
        return np.zeros(len(grid) - 1)
    starts = np.linspace(0, pos.size, min(_BOUND_GROUPS, pos.size) + 1).astype(np.int64)
    lo, hi, count = pos[starts[:-1]], pos[starts[1:] - 1], np.diff(starts).astype(np.float64)
    x_lo = np.outer(1.0 / (scale * grid[1:]), lo)
    x_hi = np.outer(1.0 / (scale * grid[:-1]), hi)
    peak = np.where(x_hi < 1.0, x_hi * np.exp(-x_hi), np.where(x_lo > 1.0, x_lo * np.exp(-x_lo), np.exp(-1.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (peak @ count) / (zeros + np.exp(-x_hi) @ count)
    return np.where(np.isfinite(bound), bound, np.inf)


@dataclass
class DiffusionOperator:
    """The tuned operator and everything derived from it.

    ``K`` is the symmetric, density-normalised kernel K_alpha on the symmetrised kNN graph;
    ``degree`` its row sums D; ``mu`` = D rho^2 the Riemannian volume weights; ``scale`` divides
    L (the curvature stage calibrates it, see :mod:`.curvature`).
    """

    graph: KNNGraph
    rho0: np.ndarray
    rho: np.ndarray
    tuning0: Tuning
    tuning: Tuning
    alpha: float
    c: float
    K: sp.csr_matrix
    degree: np.ndarray
    mu: np.ndarray
    scale: float = 1.0

    @property
    def n(self) -> int:
        return self.graph.n

    @property
    def epsilon(self) -> float:
        return self.tuning.epsilon

    @property
    def dim(self) -> float:
        return self.tuning.dim

    @property
    def L(self) -> sp.csr_matrix:
        """L = diag(rho^-2) (I - D^-1 K_alpha) / (eps * scale), sparse."""
        w = 1.0 / (self.epsilon * self.scale * self.rho**2)
        return (sp.diags(w, format="csr") - row_scaled(self.K, w / self.degree)).tocsr()

    @property
    def weights(self) -> sp.csr_matrix:
        """W = -L off the diagonal: W_pq = K_alpha,pq / (D_p eps scale rho_p^2). Rows of W sum to
        L's diagonal (L 1 = 0), which gives Gamma_p(f, h) = 1/2 sum_q W_pq (f_q - f_p)(h_q - h_p)."""
        W = row_scaled(self.K, 1.0 / (self.epsilon * self.scale * self.rho**2 * self.degree))
        W.setdiag(0.0)
        W.eliminate_zeros()
        return W

    def scaled(self, s: float) -> DiffusionOperator:
        """The same operator with L divided by ``s`` (Gamma scales the same way)."""
        from dataclasses import replace

        return replace(self, scale=self.scale * s)


def adhoc_bandwidth(distances: np.ndarray, k_ep: int = 8) -> np.ndarray:
    """rho0_i: RMS distance to neighbours 1 .. k_ep-1 (column 0 is the point itself)."""
    if distances.shape[1] < k_ep:
        raise ValueError(f"k_ep = {k_ep} needs at least {k_ep} neighbours, the graph has {distances.shape[1]}")
    return np.sqrt(np.mean(distances[:, 1:k_ep] ** 2, axis=1))


def _symmetric(graph: KNNGraph, values: np.ndarray) -> sp.csr_matrix:
    """(K + K^T) / 2 of the directed kNN matrix with entries ``values`` (n x k)."""
    n, k = graph.indices.shape
    # Built as CSR directly (copies: sorting the rows permutes the arrays in place); with sorted
    # rows the transpose and sum take scipy's fast path and stay sorted.
    K = sp.csr_matrix((values.ravel().copy(), graph.indices.ravel().copy(), np.arange(0, n * k + 1, k)), shape=(n, n))
    K.sort_indices()
    return (K + K.T.tocsr()) * 0.5


def row_scaled(K: sp.csr_matrix, w: np.ndarray) -> sp.csr_matrix:
    """diag(w) K as a new matrix on a copy of K's pattern (cheaper than the sparse product)."""
    rows = np.repeat(np.arange(K.shape[0]), np.diff(K.indptr))
    return sp.csr_matrix((K.data * w[rows], K.indices.copy(), K.indptr.copy()), shape=K.shape)


def symmetric_scaled(K: sp.csr_matrix, s: np.ndarray) -> sp.csr_matrix:
    """diag(s) K diag(s) as a new matrix with entries K_ij (s_i s_j), exactly symmetric when K is."""
    rows = np.repeat(np.arange(K.shape[0]), np.diff(K.indptr))
    return sp.csr_matrix((K.data * (s[rows] * s[K.indices]), K.indices.copy(), K.indptr.copy()), shape=K.shape)


def build_operator(graph: KNNGraph, c: float = 0.0, k_ep: int = 8, grid: np.ndarray = TUNING_GRID) -> DiffusionOperator:
    """Tune and build the operator from a kNN graph (steps 1-7 of the module docstring)."""
    n = graph.n
    d2 = graph.distances**2
    idx = graph.indices
    rho0 = adhoc_bandwidth(graph.distances, k_ep)
    if np.any(rho0 <= 0):
        raise ValueError(
            f"{int(np.sum(rho0 <= 0))} points have {k_ep - 1} exact duplicates among their nearest neighbours; "
            "remove duplicate points before estimating geometry"
        )
    b0 = d2 / (rho0[:, None] * rho0[idx])
    t0 = tune_bandwidth(b0, 2.0, grid)
    eps0, d0 = t0.epsilon, t0.dim
    K1 = np.exp(-b0 / (2.0 * eps0)) / (2.0 * np.pi * eps0) ** (d0 / 2.0)
    # Row sums of the symmetrised (K1 + K1^T) / 2 without forming it: half the row sums plus half
    # the column sums of the directed kernel.
    q = 0.5 * (K1.sum(axis=1) + np.bincount(idx.ravel(), K1.ravel(), minlength=n)) / (n * rho0**d0)
    rho = q**-0.5
    rho /= np.median(rho)
    alpha = 0.5 - c / 2.0 - d0 / 4.0
    b = d2 / (rho[:, None] * rho[idx])
    t = tune_bandwidth(b, 4.0, grid)
    K = _symmetric(graph, np.exp(-b / (4.0 * t.epsilon)))
    qd = np.asarray(K.sum(axis=1)).ravel() / rho**t.dim
    s = qd**-alpha
    Ka = symmetric_scaled(K, s)
    degree = np.asarray(Ka.sum(axis=1)).ravel()
    mu = degree * rho**2
    logger.info(
        "diffusion-geometry operator: n=%d, k=%d, eps0=%.4g (d0=%.3f), eps=%.4g (d=%.3f), alpha=%.4f, nnz=%d",
        n,
        graph.k,
        eps0,
        d0,
        t.epsilon,
        t.dim,
        alpha,
        Ka.nnz,
    )
    return DiffusionOperator(graph, rho0, rho, t0, t, alpha, c, Ka, degree, mu)
