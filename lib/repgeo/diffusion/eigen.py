"""Top eigenpairs of a symmetric (dense or sparse) matrix.

Small dense problems go to LAPACK's MRRR driver for just the wanted eigenpairs; larger ones and
sparse matrices to ARPACK's implicitly restarted Lanczos (``eigsh``) with a seeded start vector, so
runs are reproducible (the reference code's unseeded ARPACK start is not).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

# Up to this size LAPACK's subset eigensolver is exact and fast enough (0.1 s at n = 2000).
LAPACK_MAX_N = 3000


def top_eigenpairs(A, m: int, seed: int = 0, tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """The ``m`` algebraically largest eigenvalues (descending) and unit eigenvectors of ``A``."""
    n = A.shape[0]
    if not 1 <= m <= n:
        raise ValueError(f"need 1 <= number of eigenpairs <= n = {n}, got {m}")
    if sp.issparse(A) and m >= n - 1:
        A = A.toarray()  # ARPACK needs m < n; such tiny problems are cheap densely.
    if not sp.issparse(A) and (n <= LAPACK_MAX_N or m >= n - 1):
        vals, vecs = la.eigh(A, subset_by_index=[n - m, n - 1], driver="evr", check_finite=False)
    else:
        rng = np.random.default_rng([seed, 0xE16])
        v0 = rng.standard_normal(n)
        ncv = min(n, max(2 * m + 1, 4 * m, 24))
        vals, vecs = eigsh(A, k=m, which="LA", v0=v0, ncv=ncv, tol=tol)
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order]
