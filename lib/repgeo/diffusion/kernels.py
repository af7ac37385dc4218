"""Diffusion kernels and their normalisations (Coifman & Lafon 2006, sections 2-3).

Given squared distances, the kernel is K_ij = exp(-|x_i - x_j|^2 / eps) (Gaussian, the default)
or exp(-|x_i - x_j| / eps) (the exponential form written in Arnold 2025, section 2.2.1), self-pairs
included. The anisotropic density normalisation with exponent alpha divides by the kernel density
estimate q = K 1:

    K^(alpha)_ij = K_ij / (q_i^alpha q_j^alpha)                         (C&L eq. 2.4 / 3.1)

and the Markov matrix is P = D^-1 K^(alpha) with D = diag(K^(alpha) 1). alpha = 0 is the
classical normalised graph Laplacian (Arnold's choice, 2025), alpha = 1/2 the Fokker-Planck
operator, alpha = 1 the Laplace-Beltrami operator whatever the sampling density.

All normalisations are row/column scalings by vectors (never products with diagonal
matrices, which cost O(n^3) in Arnold's code). The eigenproblem is solved on the symmetric
conjugate A = D^-1/2 K^(alpha) D^-1/2, which has P's eigenvalues and orthonormal eigenvectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def kernel_values(sqdist, epsilon: float, kernel: str = "gaussian"):
    """exp(-d^2/eps) or exp(-d/eps) of squared distances (array or sparse data), float64."""
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    a = np.asarray(sqdist, dtype=np.float64)
    if kernel == "gaussian":
        return np.exp(-a / epsilon)
    if kernel == "exponential":
        return np.exp(-np.sqrt(a) / epsilon)
    raise ValueError(f"kernel must be 'gaussian' or 'exponential', got {kernel!r}")


def dense_kernel(sqdist: np.ndarray, epsilon: float, kernel: str = "gaussian") -> np.ndarray:
    """The dense kernel matrix from an n x n squared-distance matrix (computed in place)."""
    K = np.asarray(sqdist, dtype=np.float64)
    if kernel == "gaussian":
        K *= -1.0 / epsilon
    elif kernel == "exponential":
        np.sqrt(K, out=K)
        K *= -1.0 / epsilon
    else:
        raise ValueError(f"kernel must be 'gaussian' or 'exponential', got {kernel!r}")
    np.exp(K, out=K)
    return K


def knn_kernel(indices: np.ndarray, sqdist: np.ndarray, epsilon: float, kernel: str = "gaussian") -> sp.csr_matrix:
    """Sparse symmetric kernel on the union of the kNN graph's edges.

    Entry (i, j) is k(|x_i - x_j|) whenever j is among i's neighbours or i among j's (the kernel
    value itself, not an average: W = max(W, W^T) of the directed kNN kernel).
    """
    n, k = indices.shape
    rows = np.repeat(np.arange(n), k)
    W = sp.csr_matrix((kernel_values(sqdist.ravel(), epsilon, kernel), (rows, indices.ravel())), shape=(n, n))
    W = W.maximum(W.T).tocsr()
    W.sort_indices()
    return W


@dataclass
class Normalised:
    """The symmetric conjugate A = D^-1/2 K^(alpha) D^-1/2 and the vectors that define it.

    ``q`` is the kernel density estimate K 1 and ``degree`` the row sums D of K^(alpha). The
    stationary distribution of P is degree / degree.sum().
    """

    A: np.ndarray | sp.csr_matrix
    degree: np.ndarray
    q: np.ndarray
    alpha: float

    @property
    def stationary(self) -> np.ndarray:
        return self.degree / self.degree.sum()


def normalise(K, alpha: float = 0.0) -> Normalised:
    """Density-normalise ``K`` with exponent ``alpha`` and conjugate it to a symmetric matrix.

    Works in place on a dense float64 ``K`` (the caller's matrix becomes A) and on sparse CSR.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    q = np.asarray(K.sum(axis=1)).ravel()
    if sp.issparse(K):
        K = K.tocsr(copy=True)
        if alpha:
            s = q**-alpha
            K = sp.diags(s) @ K @ sp.diags(s)
        d = np.asarray(K.sum(axis=1)).ravel()
        s = 1.0 / np.sqrt(d)
        A = (sp.diags(s) @ K @ sp.diags(s)).tocsr()
        # Rounding can break exact symmetry; eigsh assumes it.
        A = ((A + A.T) * 0.5).tocsr()
        return Normalised(A, d, q, alpha)
    if alpha:
        s = q**-alpha
        K *= s[:, None]
        K *= s[None, :]
    d = K.sum(axis=1)
    s = 1.0 / np.sqrt(d)
    K *= s[:, None]
    K *= s[None, :]
    return Normalised(K, d, q, alpha)


def markov_matrix(K: np.ndarray, alpha: float = 0.0) -> np.ndarray:
    """Dense row-stochastic P = D^-1 K^(alpha) (for small n and tests)."""
    K = np.array(K, dtype=np.float64)
    if alpha:
        q = K.sum(axis=1)
        K /= np.outer(q**alpha, q**alpha)
    return K / K.sum(axis=1, keepdims=True)
