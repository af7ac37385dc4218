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
    """Result of one bandwidth tuning: eps at the steepest slope and d = 2 x that slope."""

    epsilon: float
    dim: float
    index: int
    criterion: np.ndarray  # forward-difference log-log slopes, len(grid) - 1


def tune_bandwidth(b: np.ndarray, scale: float, grid: np.ndarray = TUNING_GRID) -> Tuning:
    """Berry-Giannakis-Harlim tuning on scaled squared distances ``b`` (any shape).

    m(eps) = mean(exp(-b / (scale eps))); the slope d log m / d log eps by forward differences;
    eps = grid[argmax slope] (the left end of the steepest segment, first one on ties).
    """
    b = np.sort(np.asarray(b, dtype=np.float64).ravel())
    m = np.empty(len(grid))
    for j, eps in enumerate(grid):
        # Terms with b / (scale eps) > 746 are exactly 0 in float64: sum only the sorted prefix.
        stop = np.searchsorted(b, 746.0 * scale * eps, side="right")
        m[j] = np.exp(-b[:stop] / (scale * eps)).sum() / b.size
    crit = np.diff(np.log(m)) / np.diff(np.log(grid))
    j = int(np.argmax(crit))
    return Tuning(float(grid[j]), float(2.0 * crit[j]), j, crit)


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
        P = sp.diags(w / self.degree) @ self.K
        return (sp.diags(w) - P).tocsr()

    @property
    def weights(self) -> sp.csr_matrix:
        """W = -L off the diagonal: W_pq = K_alpha,pq / (D_p eps scale rho_p^2). Rows of W sum to
        L's diagonal (L 1 = 0), which gives Gamma_p(f, h) = 1/2 sum_q W_pq (f_q - f_p)(h_q - h_p)."""
        w = 1.0 / (self.epsilon * self.scale * self.rho**2 * self.degree)
        W = (sp.diags(w) @ self.K).tocsr()
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
    rows = np.repeat(np.arange(n), k)
    K = sp.csr_matrix((values.ravel(), (rows, graph.indices.ravel())), shape=(n, n))
    S = ((K + K.T) * 0.5).tocsr()
    S.sort_indices()
    return S


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
    K1 = _symmetric(graph, np.exp(-b0 / (2.0 * eps0)) / (2.0 * np.pi * eps0) ** (d0 / 2.0))
    q = np.asarray(K1.sum(axis=1)).ravel() / (n * rho0**d0)
    rho = q**-0.5
    rho /= np.median(rho)
    alpha = 0.5 - c / 2.0 - d0 / 4.0
    b = d2 / (rho[:, None] * rho[idx])
    t = tune_bandwidth(b, 4.0, grid)
    K = _symmetric(graph, np.exp(-b / (4.0 * t.epsilon)))
    qd = np.asarray(K.sum(axis=1)).ravel() / rho**t.dim
    s = qd**-alpha
    Ka = (sp.diags(s) @ K @ sp.diags(s)).tocsr()
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
