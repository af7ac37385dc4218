"""Diffusion maps (Coifman & Lafon, "Diffusion maps", ACHA 21, 2006).

With the Markov matrix P = D^-1 K^(alpha) (see :mod:`.kernels`), eigenvalues
1 = lambda_0 >= lambda_1 >= ... and right eigenvectors psi_l normalised in L^2(pi) (pi the
stationary distribution, so psi_0 = 1), the diffusion map at time t is

    Psi_t(x) = (lambda_1^t psi_1(x), ..., lambda_k^t psi_k(x))          (C&L eq. 3.3)

and the diffusion distance

    D_t(x, y)^2 = sum_z (p_t(x, z) - p_t(y, z))^2 / pi(z)               (C&L eq. 3.1)
                = sum_{l >= 1} lambda_l^{2t} (psi_l(x) - psi_l(y))^2    (C&L theorem 1)

equals the Euclidean distance between full diffusion maps.

Two conventions for the coordinates:

- ``coifman_lafon`` (default): as above; the trivial psi_0 is dropped.
- ``celeba``: the code of Arnold 2025 ("Investigating the intrinsic geometry of the CelebA
  dataset using diffusion geometry", Ethan3 ``diffusion_coords``): *left* eigenvectors phi_l of
  P (eigenvectors of P^T, proportional to pi * psi_l) with unit Euclidean norm, the trivial
  phi_0 (proportional to the degree) kept as the first coordinate, each times lambda_l^t.
  Reproduces Arnold 2025's coordinates up to sign, computed with the symmetric eigensolver (its
  general ``eig`` can return complex output).

Eigenvector signs are fixed so that each vector's largest-magnitude entry is positive.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .distances import knn, pairwise_sqdist
from .eigen import top_eigenpairs
from .kernels import dense_kernel, knn_kernel, normalise

logger = logging.getLogger("repgeo")

CONVENTIONS = ("coifman_lafon", "celeba")
# Eigenvalues within this of 1 mean the Markov chain (nearly) never leaves a group of points.
DISCONNECTED_GAP = 1e-8
METHODS = ("auto", "dense", "sparse")


@dataclass
class DiffusionMap:
    """A computed diffusion map.

    Attributes
    ----------
    coordinates: n x k diffusion coordinates in the chosen convention.
    eigenvalues: the top eigenvalues of P, descending, the trivial lambda_0 = 1 first.
    psi: right eigenvectors, n x len(eigenvalues), L^2(pi)-normalised (psi_0 = 1).
    stationary: the stationary distribution pi of P.
    """

    coordinates: np.ndarray
    eigenvalues: np.ndarray
    psi: np.ndarray
    stationary: np.ndarray
    epsilon: float
    t: float
    alpha: float
    kernel: str
    convention: str
    method: str
    n_neighbors: int | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def phi(self) -> np.ndarray:
        """Left eigenvectors of P with unit Euclidean norm (Arnold 2025's convention)."""
        phi = self.psi * self.stationary[:, None]
        return _fix_signs(phi / np.linalg.norm(phi, axis=0))

    @property
    def coordinate_eigenvalues(self) -> np.ndarray:
        """The eigenvalue of each coordinate column."""
        k = self.coordinates.shape[1]
        return self.eigenvalues[:k] if self.convention == "celeba" else self.eigenvalues[1 : k + 1]


def diffusion_map(
    X,
    epsilon: float,
    n_components: int = 5,
    t: float = 1.0,
    alpha: float = 0.0,
    kernel: str = "gaussian",
    convention: str = "coifman_lafon",
    method: str = "auto",
    dense_max_n: int = 12000,
    n_neighbors: int = 64,
    pca_components: int | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> DiffusionMap:
    """Compute the diffusion map of the rows of ``X`` (N x ...) with bandwidth ``epsilon``.

    ``method`` "dense" uses the full kernel (exact; memory 8 n^2 bytes), "sparse" the kernel
    restricted to the symmetrised ``n_neighbors``-nearest-neighbour graph (memory O(n k); the
    kernel values on its edges are exact but weights beyond the k-th neighbour are dropped, so
    it approximates the dense operator only when those weights are small -- the default
    ``auto`` therefore stays dense up to ``dense_max_n`` points).
    """
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {CONVENTIONS}, got {convention!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if t < 0:
        raise ValueError(f"t must be non-negative, got {t}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    Xm = np.asarray(X) if not hasattr(X, "detach") else X.detach().cpu().numpy()
    if Xm.ndim != 2:
        raise ValueError(f"X must be a 2-D array (points x features), got shape {Xm.shape}; flatten images first")
    if not np.isfinite(Xm).all():
        rows = np.flatnonzero(~np.isfinite(Xm).all(axis=1))
        raise ValueError(
            f"X has NaN or infinite values in {len(rows)} row(s), e.g. {rows[:5].tolist()}; drop or impute them"
        )
    n = Xm.shape[0]
    extra = 0 if convention == "celeba" else 1
    if not 1 <= n_components <= n - extra:
        raise ValueError(f"n_components must be between 1 and {n - extra} for {n} points, got {n_components}")
    if method == "auto":
        method = "dense" if n <= dense_max_n else "sparse"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if method == "dense":
        K = dense_kernel(pairwise_sqdist(Xm, device=device), epsilon, kernel)
        k_used = None
    else:
        k_used = min(n, n_neighbors)
        idx, d2 = knn(Xm, k_used, pca_components=pca_components, seed=seed, device=device)
        K = knn_kernel(idx, d2, epsilon, kernel)
        logger.info("sparse kernel: %d points, %d neighbours, %d non-zeros", n, k_used, K.nnz)
    timings["kernel_s"] = time.perf_counter() - t0
    norm = normalise(K, alpha)
    del K
    t0 = time.perf_counter()
    m = n_components + extra
    vals, vecs = top_eigenpairs(norm.A, m, seed=seed)
    timings["eigen_s"] = time.perf_counter() - t0
    logger.info("diffusion map (%s): top eigenvalues %s", method, np.array2string(vals[: min(m, 8)], precision=6))
    repeated = int(np.sum(vals > 1.0 - DISCONNECTED_GAP))
    if repeated > 1:
        logger.warning(
            "eigenvalue 1 is repeated %d times: at eps = %.4g the kernel graph has (nearly) %d separate "
            "components and the first coordinates only label them; use a larger epsilon%s",
            repeated,
            epsilon,
            repeated,
            " or more n_neighbors" if method == "sparse" else "",
        )
    psi = vecs / np.sqrt(norm.stationary)[:, None]
    psi = _fix_signs(psi)
    dm = DiffusionMap(
        coordinates=np.empty((n, 0)),
        eigenvalues=vals,
        psi=psi,
        stationary=norm.stationary,
        epsilon=float(epsilon),
        t=float(t),
        alpha=float(alpha),
        kernel=kernel,
        convention=convention,
        method=method,
        n_neighbors=k_used,
        timings=timings,
    )
    basis = dm.phi if convention == "celeba" else psi[:, 1:]
    lam = vals if convention == "celeba" else vals[1:]
    dm.coordinates = basis[:, :n_components] * _power(lam[:n_components], t)[None, :]
    return dm


def coordinate_names(k: int) -> list[str]:
    """Names of the first ``k`` diffusion coordinates: dc1, ..., dck."""
    return [f"dc{j + 1}" for j in range(k)]


def eigenvalue_table(dm: DiffusionMap) -> pd.DataFrame:
    """The eigenvalues of a diffusion map, one row each: ``index`` l, ``eigenvalue`` lambda_l,
    ``eigenvalue_t`` = sign(lambda_l) |lambda_l|^t (what scales its coordinate), ``coordinate``
    (the name of the coordinate it scales, None for the ones left out) and ``trivial`` (l = 0,
    lambda_0 = 1; a coordinate only in the ``celeba`` convention)."""
    k = dm.coordinates.shape[1]
    names = coordinate_names(k)
    first = 0 if dm.convention == "celeba" else 1
    coord_of = {first + j: names[j] for j in range(k)}
    m = len(dm.eigenvalues)
    return pd.DataFrame(
        {
            "index": np.arange(m),
            "eigenvalue": dm.eigenvalues,
            "eigenvalue_t": _power(dm.eigenvalues, dm.t),
            "coordinate": [coord_of.get(j) for j in range(m)],
            "trivial": np.arange(m) == 0,
        }
    )


def diffusion_distances(P: np.ndarray, t: int = 1) -> np.ndarray:
    """All diffusion distances D_t from a dense row-stochastic P, by their definition (eq. 3.1).

    O(n^3); for tests and small n. pi is P's stationary distribution (left Perron vector).
    """
    P = np.asarray(P, dtype=np.float64)
    w, V = np.linalg.eig(P.T)
    pi = np.real(V[:, np.argmax(np.real(w))])
    pi = pi / pi.sum()
    Pt = np.linalg.matrix_power(P, int(t))
    scaled = Pt / np.sqrt(pi)[None, :]
    g = scaled @ scaled.T
    sq = np.diag(g)[:, None] + np.diag(g)[None, :] - 2 * g
    return np.sqrt(np.maximum(sq, 0.0))


def _power(lam: np.ndarray, t: float) -> np.ndarray:
    # sign(l)|l|^t keeps non-integer t defined for the small negative eigenvalues a truncated
    # (sparse) kernel can have.
    return np.sign(lam) * np.abs(lam) ** t


def _fix_signs(V: np.ndarray) -> np.ndarray:
    j = np.argmax(np.abs(V), axis=0)
    s = np.sign(V[j, np.arange(V.shape[1])])
    s[s == 0] = 1.0
    return V * s[None, :]
