"""Laplacian eigenfunctions as a function basis, and band-limiting with it.

The first n0 eigenfunctions u_0 (constant), u_1, ... of L, orthonormal in L^2(mu), are the
smoothest functions on the data; band-limiting a function f projects it onto them:

    Pi f = sum_{i < n0} u_i <u_i, f>_mu = U (U^T (mu * f))

computed in this low-rank order, O(n n0) per function (Jones' reference forms the dense n x n
projector U U^T diag(mu), O(n^2) in time and memory).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from .operator import DiffusionOperator

logger = logging.getLogger("repgeo")


@dataclass
class Eigenbasis:
    """``u`` (n x n0) orthonormal in L^2(``mu``); ``eigenvalues`` of L, ascending (0 first)."""

    u: np.ndarray
    eigenvalues: np.ndarray
    mu: np.ndarray

    @property
    def n0(self) -> int:
        return self.u.shape[1]

    def coefficients(self, F: np.ndarray) -> np.ndarray:
        """<u_i, f>_mu for every column of F (n x ...) -> n0 x ..."""
        F2 = F.reshape(F.shape[0], -1)
        return (self.u.T @ (self.mu[:, None] * F2)).reshape((self.n0,) + F.shape[1:])

    def bandlimit(self, F: np.ndarray) -> np.ndarray:
        """Pi F for an array whose first axis runs over the points."""
        F2 = np.asarray(F, dtype=np.float64).reshape(F.shape[0], -1)
        out = self.u @ (self.u.T @ (self.mu[:, None] * F2))
        return out.reshape(F.shape)


def eigenbasis(op: DiffusionOperator, n0: int, seed: int = 0, tol: float = 1e-10) -> Eigenbasis:
    """The first ``n0`` eigenfunctions of ``op.L``.

    Solved on the symmetric matrix A = (mu^-1/2 K_alpha mu^-1/2 - diag(rho^-2)) / eps, which is
    similar to -L, with ARPACK (largest algebraic eigenvalues) and a seeded start vector; then
    u = mu^-1/2 v. Dense LAPACK for small n.
    """
    n = op.n
    if not 1 <= n0 < n:
        raise ValueError(f"n0 must be between 1 and n - 1 = {n - 1}, got {n0}")
    s = op.mu**-0.5
    A = (sp.diags(s) @ op.K @ sp.diags(s) - sp.diags(op.rho**-2.0)) / (op.epsilon * op.scale)
    A = ((A + A.T) * 0.5).tocsr()
    if n <= 1500:
        import scipy.linalg as la

        vals, vecs = la.eigh(A.toarray(), subset_by_index=[n - n0, n - 1])
    else:
        v0 = np.random.default_rng([seed, 0x6E0]).standard_normal(n)
        vals, vecs = eigsh(A, k=n0, which="LA", v0=v0, tol=tol, ncv=min(n, max(2 * n0 + 1, n0 + 32)))
    order = np.argsort(-vals)
    vals, vecs = vals[order], vecs[:, order]
    u = vecs * s[:, None]
    # Fix signs for reproducibility: the largest-magnitude entry of each function is positive.
    j = np.argmax(np.abs(u), axis=0)
    u *= np.sign(u[j, np.arange(u.shape[1])])
    logger.info("eigenbasis: %d functions, Laplacian eigenvalues %.4g .. %.4g", n0, -vals[0], -vals[-1])
    return Eigenbasis(u, -vals, op.mu)
