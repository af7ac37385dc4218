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
from scipy.sparse.linalg import LinearOperator, eigsh

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

    def truncated(self, n0: int) -> Eigenbasis:
        """The basis of the first ``n0`` functions."""
        return Eigenbasis(self.u[:, :n0], self.eigenvalues[:n0], self.mu)

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
        vals, vecs = _filtered_eigsh(A, n0, op.dim, seed, tol)
    order = np.argsort(-vals)
    vals, vecs = vals[order], vecs[:, order]
    u = vecs * s[:, None]
    # Fix signs for reproducibility: the largest-magnitude entry of each function is positive.
    j = np.argmax(np.abs(u), axis=0)
    u *= np.sign(u[j, np.arange(u.shape[1])])
    logger.info("eigenbasis: %d functions, Laplacian eigenvalues %.4g .. %.4g", n0, -vals[0], -vals[-1])
    return Eigenbasis(u, -vals, op.mu)


# Degree of the Chebyshev filter; 8 was fastest in measurements at n = 4000 (2.5x over plain ARPACK).
CHEBYSHEV_DEGREE = 8


def _filtered_eigsh(A: sp.csr_matrix, n0: int, dim: float, seed: int, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """The n0 largest eigenpairs of the symmetric A (spectrum in [lower, 0]) by Lanczos on a
    Chebyshev filter T_m of A.

    T_m maps the unwanted interval [lower, a] into [-1, 1] and grows fast above a, so the
    eigenvalues closest to 0 become well separated and ARPACK needs far fewer restarts; the
    eigenvectors are A's own and its eigenvalues are recovered as Rayleigh quotients. ``lower``
    is Gershgorin's bound (guaranteed, so no unwanted eigenvalue can leave [-1, 1]); the cut
    ``a`` comes from Weyl's law (lambda_j ~ j^(2/d)) with a wide margin. If the n0 wanted
    eigenvalues do not all land above the cut, plain ARPACK is used instead.
    """
    n = A.shape[0]
    v0 = np.random.default_rng([seed, 0x6E0]).standard_normal(n)
    ncv = min(n, max(2 * n0 + 1, n0 + 32))
    diag = A.diagonal()
    lower = float(np.min(diag - (abs(A).sum(axis=1).A1 - np.abs(diag))))
    frac = min(0.5, 2.0 * (n0 / n) ** (2.0 / max(dim, 1.0)))
    a = lower * frac
    e, c = (a - lower) / 2.0, (a + lower) / 2.0

    def apply(v: np.ndarray) -> np.ndarray:
        v = v.reshape(n, -1)
        y0, y1 = v, (A @ v - c * v) / e
        for _ in range(CHEBYSHEV_DEGREE - 1):
            y0, y1 = y1, 2.0 * (A @ y1 - c * y1) / e - y0
        return y1

    T = LinearOperator((n, n), matvec=apply, matmat=apply, dtype=np.float64)
    tvals, vecs = eigsh(T, k=n0, which="LA", v0=v0, tol=tol, ncv=ncv)
    if np.min(tvals) > 1.0 + 1e-6:
        return np.einsum("ij,ij->j", vecs, A @ vecs), vecs
    logger.info("eigenbasis: Chebyshev cut too low (%d of %d above it); plain ARPACK", int(np.sum(tvals > 1)), n0)
    return eigsh(A, k=n0, which="LA", v0=v0, tol=tol, ncv=ncv)
