"""Pointwise intrinsic dimension from the spectrum of the carre du champ (Jones 2024, section 6.2).

At a point p of a d-manifold, the calibrated metric Gamma_p(x_i, x_j) of the coordinate functions
is the orthogonal projector onto the tangent space: d eigenvalues near 1, the rest near 0. With
eigenvalues lambda_1 >= ... >= lambda_D the gaps are

    delta_0 = 1 - lambda_1,  delta_k = lambda_k - lambda_{k+1} (k = 1 .. D-1),  delta_D = lambda_D

and the pointwise dimension is argmax_k delta_k, band-limited and rounded; the global dimension
is the rounded median of the band-limited field.

When the profile has no clear gap (data that is not a manifold at this scale) the largest gap is
small and the argmax is meaningless -- the reference then silently returns 0 on clustered data.
:func:`gap_diagnostics` measures this so callers can say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def metric_eigen(G: np.ndarray, vectors: bool = False):
    """Eigenvalues (descending) and optionally eigenvectors of the symmetric D x D metrics G (n x D x D)."""
    G = 0.5 * (G + np.swapaxes(G, 1, 2))
    if vectors:
        w, V = np.linalg.eigh(G)
        return w[:, ::-1], V[:, :, ::-1]
    return np.linalg.eigvalsh(G)[:, ::-1]


def eigengaps(lam: np.ndarray) -> np.ndarray:
    """The D + 1 gaps delta_0 .. delta_D of descending eigenvalue profiles (n x D)."""
    return np.concatenate([1.0 - lam[:, :1], lam[:, :-1] - lam[:, 1:], lam[:, -1:]], axis=1)


def gap_dimension(lam: np.ndarray) -> np.ndarray:
    """argmax of the eigengaps at every point (first index on ties)."""
    return np.argmax(eigengaps(lam), axis=1)


@dataclass
class GapDiagnostics:
    """How clearly the metric spectrum separates tangent from normal directions.

    ``median_profile``: the median over points of each eigenvalue; ``gap``: the gap at the global
    dimension in that profile; ``clear``: whether that gap is at least ``threshold`` and at least
    twice every other gap of the median profile.
    """

    median_profile: np.ndarray
    gap: float
    clear: bool
    threshold: float
    dim: int

    def describe(self) -> str:
        prof = ", ".join(f"{v:.3f}" for v in self.median_profile)
        state = "clear" if self.clear else "NO CLEAR MANIFOLD GAP"
        return f"{state}: gap {self.gap:.3f} after eigenvalue {self.dim} of the median metric eigenvalues ({prof})"


def gap_diagnostics(lam: np.ndarray, global_dim: int, threshold: float = 0.3) -> GapDiagnostics:
    """Judge the metric spectrum at the global dimension (see :class:`GapDiagnostics`)."""
    prof = np.median(lam, axis=0)
    gaps = eigengaps(prof[None, :])[0]
    j = int(np.clip(global_dim, 0, len(gaps) - 1))
    g = float(gaps[j])
    others = np.delete(gaps, j)
    clear = bool(g >= threshold and (len(others) == 0 or g >= 2.0 * others.max()))
    return GapDiagnostics(prof, g, clear, threshold, j)
