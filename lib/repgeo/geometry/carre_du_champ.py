"""The carre du champ operator Gamma(f, h) = 1/2 (f Lh + h Lf - L(fh)).

For smooth f, h on a manifold and L the (calibrated) Laplacian, Gamma(f, h) = <grad f, grad h>
(Bakry & Emery; Jones 2024, section 3). Applied to the coordinate functions x_1 .. x_D it gives
a D x D matrix at every point whose top eigenvectors span the tangent space.

Two equal forms: through L (as the reference computes it) and, because L 1 = 0, as the
kernel-weighted local covariance

    Gamma_p(f, h) = 1/2 sum_q W_pq (f_q - f_p)(h_q - h_p),   W = -L off the diagonal,

a gather over the kNN graph with no cancellation (Jones 2024, eq. 8; tested to agree).
"""

from __future__ import annotations

import numpy as np

from .operator import DiffusionOperator


def carre_du_champ(op: DiffusionOperator, F: np.ndarray, H: np.ndarray | None = None) -> np.ndarray:
    """Gamma(f_a, h_b) for all columns f_a of F (n x a) and h_b of H (n x b): n x a x b.

    Computed through L; columns are centred first (Gamma ignores constants since L 1 = 0), which
    keeps the cancellation in f Lh + h Lf - L(fh) small.
    """
    L = op.L
    F = _centred(F)
    H = F if H is None else _centred(H)
    n, a = F.shape
    b = H.shape[1]
    LF = L @ F
    LH = LF if H is F else L @ H
    prod = (F[:, :, None] * H[:, None, :]).reshape(n, a * b)
    out = F[:, :, None] * LH[:, None, :] + LF[:, :, None] * H[:, None, :]
    out -= (L @ prod).reshape(n, a, b)
    return 0.5 * out


def carre_du_champ_local(
    op: DiffusionOperator, F: np.ndarray, H: np.ndarray | None = None, chunk: int = 1 << 16
) -> np.ndarray:
    """The same quantity as the kernel-weighted local covariance over the graph's edges."""
    W = op.weights.tocoo()
    F = np.asarray(F, dtype=np.float64)
    H = F if H is None else np.asarray(H, dtype=np.float64)
    n, a = F.shape
    b = H.shape[1]
    out = np.zeros((n, a, b))
    for s in range(0, W.nnz, chunk):
        r, c, w = W.row[s : s + chunk], W.col[s : s + chunk], W.data[s : s + chunk]
        df = F[c] - F[r]
        dh = H[c] - H[r]
        np.add.at(out, r, 0.5 * w[:, None, None] * df[:, :, None] * dh[:, None, :])
    return out


def _centred(F: np.ndarray) -> np.ndarray:
    F = np.asarray(F, dtype=np.float64)
    if F.ndim == 1:
        F = F[:, None]
    return F - F.mean(axis=0)
