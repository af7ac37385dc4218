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
from scipy.sparse.linalg import LinearOperator, eigsh, splu

from .operator import DiffusionOperator, symmetric_scaled

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

    Solved on the symmetric positive semi-definite matrix S = (diag(rho^-2) - mu^-1/2 K_alpha
    mu^-1/2) / eps = mu^1/2 L mu^-1/2, whose null vector is mu^1/2; then u = mu^-1/2 v. Jones'
    reference runs ARPACK on -S for its largest eigenvalues (random start, default tolerance);
    here dense LAPACK for small n, else shift-invert Lanczos with a seeded start vector
    (:func:`_smallest_eigenpairs`), which gives the same eigenpairs to ``tol``.
    """
    n = op.n
    if not 1 <= n0 < n:
        raise ValueError(f"n0 must be between 1 and n - 1 = {n - 1}, got {n0}")
    s = op.mu**-0.5
    S = ((sp.diags(op.rho**-2.0, format="csr") - symmetric_scaled(op.K, s)) / (op.epsilon * op.scale)).tocsr()
    if n <= 1500:
        import scipy.linalg as la

        vals, vecs = la.eigh(S.toarray(), subset_by_index=[0, n0 - 1])
    else:
        # Weyl's law on a surface, lambda_j ~ 4 pi j / area, with the area n pi r^2 / k from the
        # distances r to the k-th neighbours: lambda_n0 is 0.6-0.8 of this on the 2-manifolds of
        # the reference fixtures, 0.4-0.9 on the others.
        r2 = np.mean(op.graph.distances[:, -1] ** 2)
        weyl = 4.0 * n0 * op.graph.k / (n * r2 * op.scale)
        vals, vecs = _smallest_eigenpairs(S, n0, weyl, op.dim, np.sqrt(op.mu), seed, tol)
    order = np.argsort(vals)
    vals, vecs = vals[order], vecs[:, order]
    u = vecs * s[:, None]
    # Fix signs for reproducibility: the largest-magnitude entry of each function is positive.
    j = np.argmax(np.abs(u), axis=0)
    u *= np.sign(u[j, np.arange(u.shape[1])])
    logger.info("eigenbasis: %d functions, Laplacian eigenvalues %.4g .. %.4g", n0, vals[0], vals[-1])
    return Eigenbasis(u, vals, op.mu)


def _smallest_eigenpairs(
    S: sp.csr_matrix, n0: int, weyl: float, dim: float, null: np.ndarray, seed: int, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """The n0 smallest eigenpairs of the symmetric positive semi-definite S (S ``null`` = 0),
    given an estimate ``weyl`` of lambda_n0 and the dimension estimate ``dim``.

    Lanczos (ARPACK) on (S - sigma I)^-1 finds the n0 eigenvalues nearest sigma. With sigma
    inside the wanted interval they are still the n0 smallest (they are whenever lambda_n0 >
    2 sigma), and the wanted and unwanted ones are further apart relative to their spread than
    with sigma at 0: at n = 4000 and n0 = 80, 161 solves instead of 200-210, against 314
    applications of the Chebyshev filter below (8 sparse products each).

    sigma starts at 0.26 ``weyl`` (0.33-0.43 lambda_n0 on the 2-manifolds of the fixtures);
    Sylvester's law of inertia then counts the eigenvalues below sigma from the signs of the LU
    pivots (diagonal pivoting makes the LU a symmetric L D L^T), and sigma shrinks until at most
    0.9 n0 / 2^(max(dim, 2)/2) lie below it, so that a count growing like lambda^(dim/2) stays
    below n0 at 2 sigma. The result is the right set
    exactly when it contains the null vector; if not, or if the residuals show an inaccurate
    factorisation, the solve is repeated with sigma below 0, where the nearest eigenvalues are
    the smallest by construction. A factorisation that fills in more than ``MAX_FILL`` times the
    nonzeros of S (3-manifolds) makes each solve dearer than the filter, which is then used
    instead.
    """
    diag = S.diagonal()
    upper = float(np.max(diag + np.add.reduceat(np.abs(S.data), S.indptr[:-1]) - np.abs(diag)))
    sigma = 0.26 * weyl
    allowed = 0.9 * n0 / 2.0 ** (max(dim, 2.0) / 2.0)
    for _ in range(4):
        lu = _factor(S, sigma)
        if lu.nnz > MAX_FILL * S.nnz:
            return _filtered_eigsh(S, n0, upper, weyl, seed, tol)
        if not np.array_equal(lu.perm_r, lu.perm_c):  # off-diagonal pivots: no inertia to read
            break
        below = int(np.sum(lu.U.diagonal() < 0))
        if below <= allowed:
            vals, vecs, residual = _lanczos(S, lu, n0, seed, tol)
            if residual <= max(tol, 1e-8) * upper and np.linalg.norm(vecs.T @ null) ** 2 > 0.5 * (null @ null):
                return vals, vecs
            break
        sigma *= 0.8 * allowed / below
    logger.info("eigenbasis: interior shift rejected; shift-invert from below the spectrum")
    return _lanczos(S, _factor(S, -0.01 * weyl), n0, seed, tol)[:2]


# Fill-in of the LU factors (nonzeros over those of S) above which the Chebyshev filter is used:
# measured break-even at 12-16 (2-manifolds fill 4-8 at n = 2000-4000, the 3-sphere 16).
MAX_FILL = 12.0


def _factor(S: sp.csr_matrix, sigma: float):
    """Sparse LU of S - sigma I with symmetric minimum-degree ordering and diagonal pivots."""
    M = (S - sigma * sp.identity(S.shape[0], format="csr")).tocsc()
    return splu(M, permc_spec="MMD_AT_PLUS_A", options=dict(SymmetricMode=True, DiagPivotThresh=0.0))


def _lanczos(S: sp.csr_matrix, lu, n0: int, seed: int, tol: float) -> tuple[np.ndarray, np.ndarray, float]:
    """ARPACK on (S - sigma I)^-1 given its LU: eigenvalues of S as Rayleigh quotients, the
    eigenvectors and the largest residual norm |S v - lambda v|."""
    n = S.shape[0]
    v0 = np.random.default_rng([seed, 0x6E0]).standard_normal(n)
    # n0 + n0/2 Lanczos vectors: fastest in measurements at n0 = 50 and 80.
    ncv = min(n, n0 + max(20, n0 // 2))
    T = LinearOperator((n, n), matvec=lu.solve, dtype=np.float64)
    _, vecs = eigsh(T, k=n0, which="LM", v0=v0, tol=tol, ncv=ncv)
    Sv = S @ vecs
    vals = np.einsum("ij,ij->j", vecs, Sv)
    return vals, vecs, float(np.max(np.linalg.norm(Sv - vecs * vals, axis=0)))


# Degree of the Chebyshev filter (even, so that it is large and positive below the cut); 8 was
# fastest in measurements at n = 4000 (2.5x over plain ARPACK).
CHEBYSHEV_DEGREE = 8


def _filtered_eigsh(
    S: sp.csr_matrix, n0: int, upper: float, weyl: float, seed: int, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """The n0 smallest eigenpairs of S (spectrum in [0, upper]) by Lanczos on a Chebyshev
    filter T_m of S.

    T_m maps the unwanted interval [a, upper] into [-1, 1] and grows fast below a, so the
    smallest eigenvalues become well separated and ARPACK needs far fewer restarts; the
    eigenvectors are S's own and its eigenvalues are recovered as Rayleigh quotients. ``upper``
    is Gershgorin's bound (guaranteed, so no unwanted eigenvalue can leave [-1, 1]); the cut
    ``a`` is twice the estimate ``weyl`` of lambda_n0 (at most upper / 2). If the n0 wanted
    eigenvalues do not all land below the cut, plain ARPACK is used instead.
    """
    n = S.shape[0]
    v0 = np.random.default_rng([seed, 0x6E0]).standard_normal(n)
    ncv = min(n, max(2 * n0 + 1, n0 + 32))
    a = min(0.5 * upper, 2.0 * weyl)
    e, c = (upper - a) / 2.0, (upper + a) / 2.0

    def apply(v: np.ndarray) -> np.ndarray:
        v = v.reshape(n, -1)
        y0, y1 = v, (S @ v - c * v) / e
        for _ in range(CHEBYSHEV_DEGREE - 1):
            y0, y1 = y1, 2.0 * (S @ y1 - c * y1) / e - y0
        return y1

    T = LinearOperator((n, n), matvec=apply, matmat=apply, dtype=np.float64)
    tvals, vecs = eigsh(T, k=n0, which="LA", v0=v0, tol=tol, ncv=ncv)
    if np.min(tvals) > 1.0 + 1e-6:
        return np.einsum("ij,ij->j", vecs, S @ vecs), vecs
    logger.info("eigenbasis: Chebyshev cut too high (%d of %d below it); plain ARPACK", int(np.sum(tvals > 1)), n0)
    return eigsh(S, k=n0, which="SA", v0=v0, tol=tol, ncv=ncv)
