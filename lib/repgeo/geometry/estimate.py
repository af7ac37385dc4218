"""Pointwise dimension and scalar curvature of a point cloud, end to end.

``mode="parity"`` follows Jones' reference implementation (ManifoldDiffusionGeometry,
``Dimension_Estimate`` and ``Scalar_Curvature``) step by step -- same defaults, band-limiting as
its only regularisation -- with the low-rank projector instead of the dense n x n one and a
seeded eigensolver; it reproduces the reference's outputs (tests against the stored fixtures).
``mode="improved"`` is documented in :func:`estimate_curvature`.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from .carre_du_champ import carre_du_champ
from .curvature import calibration, gauss_scalar_curvature, hessian_from_iterated_gamma, second_fundamental_form
from .dimension import gap_diagnostics, gap_dimension, metric_eigen
from .improved import improved_curvature, improved_dimension
from .neighbors import DEFAULT_K, KNNGraph, graph_of_size
from .operator import DiffusionOperator, build_operator
from .results import CurvatureResult, DimensionResult, check_d
from .spectral import Eigenbasis, eigenbasis

logger = logging.getLogger("repgeo")

MODES = ("parity", "improved")

__all__ = [
    "MODES",
    "CurvatureResult",
    "DimensionResult",
    "curvature_dimension",
    "estimate_curvature",
    "estimate_dimension",
    "estimate_geometry",
]


def _prepare(X, n0: int, k: int, graph: KNNGraph | None, seed: int, tol: float, c: float, k_ep: int):
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    n0 = min(n - 1, n0)
    k = min(k, n0)  # as the reference: a small basis shrinks the neighbourhood
    t0 = time.perf_counter()
    graph = graph_of_size(X, graph, k)
    t1 = time.perf_counter()
    op = build_operator(graph, c=c, k_ep=k_ep)
    t2 = time.perf_counter()
    basis = eigenbasis(op, n0, seed=seed, tol=tol)
    t3 = time.perf_counter()
    return X, op, basis, {"knn_s": t1 - t0, "operator_s": t2 - t1, "eigenbasis_s": t3 - t2}


def estimate_dimension(
    X,
    n0: int = 80,
    k: int = DEFAULT_K,
    *,
    mode: str,
    graph: KNNGraph | None = None,
    seed: int = 0,
    tol: float = 1e-10,
    c: float = 0.0,
    k_ep: int = 8,
    **improved,
) -> DimensionResult:
    """Pointwise intrinsic dimension (see :mod:`.dimension`); defaults of the reference.

    ``mode`` (required): ``"parity"`` (Jones 2024's reference) or ``"improved"``, which runs
    :func:`repgeo.geometry.improved.improved_dimension` (``n0`` and ``tol`` do not apply; its own
    parameters go in ``improved``).
    """
    _check_mode(mode)
    if mode == "improved":
        return improved_dimension(X, k=k, graph=graph, seed=seed, c=c, k_ep=k_ep, **improved)
    if improved:
        raise ValueError(f"parameters {sorted(improved)} only apply to mode='improved'")
    X, op, basis, timings = _prepare(X, n0, k, graph, seed, tol, c, k_ep)
    return _parity_dimension(X, op, basis, timings)


def _parity_dimension(
    X: np.ndarray, op: DiffusionOperator, basis: Eigenbasis, timings: dict[str, float]
) -> DimensionResult:
    t0 = time.perf_counter()
    Xt = basis.bandlimit(X)
    G = basis.bandlimit(carre_du_champ(op, Xt))
    lam = metric_eigen(G)
    raw = gap_dimension(lam)
    unrounded = basis.bandlimit(raw.astype(np.float64))
    global_dim = int(np.round(np.median(unrounded)))
    diag = gap_diagnostics(lam, global_dim)
    timings["dimension_s"] = time.perf_counter() - t0
    logger.info("dimension: global %d; %s", global_dim, diag.describe())
    return DimensionResult(np.round(unrounded), unrounded, raw, global_dim, lam, diag, op, basis, timings)


def estimate_curvature(
    X,
    d: int,
    n0: int = 50,
    k: int = DEFAULT_K,
    *,
    mode: str,
    graph: KNNGraph | None = None,
    seed: int = 0,
    tol: float = 1e-10,
    c: float = 0.0,
    k_ep: int = 8,
    **improved,
) -> CurvatureResult:
    """Scalar curvature at every point, assuming intrinsic dimension ``d`` (see :mod:`.curvature`).

    parity: Gamma of the band-limited coordinates, band-limited; frames from its eigenvectors;
    Gamma and L divided by the calibration factor; the Hessian from iterated Gamma of the raw
    Gamma; the second fundamental form and the Gauss equation; S band-limited.
    ``mode`` (required): ``"parity"`` or ``"improved"``, which runs
    :func:`repgeo.geometry.improved.improved_curvature`.
    """
    _check_mode(mode)
    if mode == "improved":
        return improved_curvature(X, d, k=k, graph=graph, seed=seed, c=c, k_ep=k_ep, **improved)
    if improved:
        raise ValueError(f"parameters {sorted(improved)} only apply to mode='improved'")
    check_d(d, np.shape(X)[1])
    X, op, basis, timings = _prepare(X, n0, k, graph, seed, tol, c, k_ep)
    return _parity_curvature(X, d, op, basis, timings)


def _parity_curvature(
    X: np.ndarray, d: int, op: DiffusionOperator, basis: Eigenbasis, timings: dict[str, float]
) -> CurvatureResult:
    D = X.shape[1]
    t0 = time.perf_counter()
    n = X.shape[0]
    Xt = basis.bandlimit(X)
    G = carre_du_champ(op, Xt)
    lam, V = metric_eigen(basis.bandlimit(G), vectors=True)
    s = calibration(lam, d)
    ops = op.scaled(s)
    G /= s
    GG = carre_du_champ(ops, Xt, G.reshape(n, D * D)).reshape(n, D, D, D)
    H = hessian_from_iterated_gamma(GG)
    alpha = second_fundamental_form(H, V[:, :, :d], V[:, :, d:])
    S = basis.bandlimit(gauss_scalar_curvature(alpha))
    timings["curvature_s"] = time.perf_counter() - t0
    logger.info("curvature (d=%d): calibration %.4g, mean %.4g, median %.4g", d, s, S.mean(), np.median(S))
    return CurvatureResult(S, d, s, lam, V[:, :, :d], op, basis, timings)


def estimate_geometry(
    X,
    d: int | str = "global",
    n0_dimension: int = 80,
    n0_curvature: int = 50,
    k: int = DEFAULT_K,
    graph: KNNGraph | None = None,
    seed: int = 0,
    tol: float = 1e-10,
    c: float = 0.0,
    k_ep: int = 8,
) -> tuple[DimensionResult, CurvatureResult]:
    """Parity-mode dimension and curvature from ONE operator and eigenbasis.

    The curvature uses the first ``n0_curvature`` of the ``max(n0_dimension, n0_curvature)``
    eigenfunctions, which are the functions a separate n0_curvature solve returns (Jones'
    reference computes the operator and basis once per call). ``d`` is an integer, ``global``
    (the global dimension) or ``modal`` (the most common pointwise dimension).
    """
    X = np.asarray(X, dtype=np.float64)
    n0 = max(n0_dimension, n0_curvature)
    X, op, basis, timings = _prepare(
        X, n0, min(k, min(n0_dimension, n0_curvature, X.shape[0] - 1)), graph, seed, tol, c, k_ep
    )
    dim = _parity_dimension(X, op, basis.truncated(min(n0_dimension, X.shape[0] - 1)), dict(timings))
    if d == "global":
        d = dim.global_dim
    elif d == "modal":
        d = modal_dimension(dim.pointwise)
    check_d(int(d), X.shape[1])
    curv = _parity_curvature(X, int(d), op, basis.truncated(min(n0_curvature, X.shape[0] - 1)), {})
    return dim, curv


def modal_dimension(pointwise) -> int:
    """The most common pointwise dimension (the smallest of equally common ones).

    Arnold 2025 (the CelebA study, section 3.4) computes the curvature of its diffusion
    coordinates at the modal pointwise dimension rather than at the global (median) one."""
    values, counts = np.unique(pointwise, return_counts=True)
    return int(values[np.argmax(counts)])


def curvature_dimension(
    curvature_dim: int | str, global_dim: int, pointwise, ambient: int, diagnostics: str = ""
) -> int:
    """The intrinsic dimension d the curvature assumes, from the setting ``curvature_dim``: an
    integer, ``"global"`` (the dimension stage's global dimension ``global_dim``) or ``"modal"``
    (the most common of the ``pointwise`` dimensions, :func:`modal_dimension`; Arnold 2025).

    ``pointwise`` may be a callable returning them, so they are read only when needed.
    ``ambient`` is the ambient dimension D; d must satisfy 1 <= d < D, otherwise
    :class:`repgeo.data.DataError` (a ValueError) says so, quoting the dimension stage's gap
    ``diagnostics``."""
    from ..data import DataError

    if isinstance(curvature_dim, (int, np.integer)) and not isinstance(curvature_dim, bool):
        d = int(curvature_dim)
    elif curvature_dim == "global":
        d = int(global_dim)
    elif curvature_dim == "modal":
        d = modal_dimension(pointwise() if callable(pointwise) else pointwise)
    else:
        raise DataError(f"curvature_dim must be an integer, 'global' or 'modal', got {curvature_dim!r}")
    if not 1 <= d < ambient:
        raise DataError(
            f"curvature needs 1 <= d < {ambient} (the ambient dimension), but curvature_dim={curvature_dim!r} "
            f"gives d = {d} ({diagnostics}); set curvature_dim to an integer"
        )
    return d


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
