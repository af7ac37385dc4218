"""What the dimension and curvature estimators return, shared by both modes.

:mod:`.estimate` (Jones 2024's estimators, ``mode="parity"``, and the dispatch) and
:mod:`.improved` (repgeo's estimators, ``mode="improved"``) both build these results; keeping
them here lets each of the two modules import the other's pieces without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .dimension import GapDiagnostics
from .operator import DiffusionOperator
from .spectral import Eigenbasis


@dataclass
class DimensionResult:
    """Pointwise and global dimension.

    ``pointwise`` is the rounded band-limited field (may be -1 or above D, as in the reference),
    ``unrounded`` the band-limited field, ``raw`` the per-point argmax before band-limiting,
    ``metric_eigenvalues`` the band-limited Gamma eigenvalues (n x D, descending).
    """

    pointwise: np.ndarray
    unrounded: np.ndarray
    raw: np.ndarray
    global_dim: int
    metric_eigenvalues: np.ndarray
    diagnostics: GapDiagnostics
    operator: DiffusionOperator
    basis: Eigenbasis | None  # None in improved mode (no eigenfunctions)
    timings: dict[str, float] = field(default_factory=dict)
    boundary: np.ndarray | None = None  # improved mode: points flagged as near a boundary


@dataclass
class CurvatureResult:
    """Scalar curvature per point, the frames it used and the calibration factor."""

    scalar: np.ndarray
    d: int
    calibration: float
    metric_eigenvalues: np.ndarray  # before calibration
    tangent: np.ndarray  # n x D x d
    operator: DiffusionOperator
    basis: Eigenbasis | None  # None in improved mode
    timings: dict[str, float] = field(default_factory=dict)
    smoothing: object | None = None  # improved mode: the adaptive SmoothingChoice


def check_d(d: int, D: int) -> None:
    """``d`` must be a curvature dimension of an ambient space of dimension ``D``: 1 <= d < D."""
    if not 1 <= d < D:
        raise ValueError(f"d must be between 1 and the ambient dimension - 1 = {D - 1}, got {d}")
