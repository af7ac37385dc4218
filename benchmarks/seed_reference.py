"""A plain dense NumPy version of Arnold's (2025) CelebA diffusion-map procedure, for speed comparisons.

Written from a description of the CelebA study's scripts (E. Arnold, "Investigating the intrinsic
geometry of the CelebA dataset using diffusion geometry", Durham 2025; ethanarnold45/CelebA_Project,
Ethan3 and Ethan5), not from their code: the bandwidth sweep recomputes the full dense
Gaussian kernel with scikit-learn's ``rbf_kernel`` for every eps and sums it; the diffusion map
forms P = D^-1 K with a dense diagonal matrix product, takes the eigenvectors of P^T with the
general eigensolver ``np.linalg.eig``, sorts them by descending eigenvalue, keeps the trivial one
and multiplies each by lambda^t. This is the baseline of benchmarks/diffusion_speed.py, not
product code.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics.pairwise import rbf_kernel


def weight_sums(X: np.ndarray, eps_grid: np.ndarray) -> np.ndarray:
    """S(eps) = sum of rbf_kernel(X, gamma=1/eps) for each eps, recomputing the kernel each time."""
    return np.array([rbf_kernel(X, gamma=1.0 / eps).sum() for eps in eps_grid])


def diffusion_coords(X: np.ndarray, eps: float, n_components: int, t: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Arnold's (2025) coordinates: left eigenvectors of P (trivial kept) times lambda^t."""
    K = rbf_kernel(X, gamma=1.0 / eps)
    d = K.sum(axis=1)
    P = np.diag(1.0 / d) @ K
    vals, vecs = np.linalg.eig(P.T)
    order = np.argsort(-vals.real)[:n_components]
    vals, vecs = vals.real[order], vecs.real[:, order]
    return vecs * vals**t, vals
