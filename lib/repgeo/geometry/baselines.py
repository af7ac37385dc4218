"""Independent cross-checks of dimension and curvature.

- Dimension: scikit-dimension's TwoNN (Facco et al. 2017, global), maximum likelihood (Levina &
  Bickel 2005; global and pointwise) and local PCA (Fukunaga & Olsen 1971; pointwise). Called
  from the maintained library, not re-implemented.
- Curvature: the extrinsic estimator of Sritharan, Wang & Hormoz, "Computing the Riemannian
  curvature of image patch and single-cell RNA sequencing data manifolds using extrinsic
  differential geometry", PNAS 118 (2021): at each point, local PCA of its neighbours gives
  tangent and normal directions; each normal coordinate is fitted by least squares as a quadratic
  function of the tangent coordinates; the Hessians of those quadratics are the second
  fundamental form, and the Gauss equation gives the scalar curvature. It shares nothing with the
  diffusion estimator but the neighbour graph.
- Null controls (:func:`null_controls`): the diffusion-geometry estimators of Jones 2024 on a
  Gaussian cloud with the data's mean and covariance and on the data with every coordinate
  shuffled -- what "dimension" and "curvature" the estimator reads from point clouds that have
  no manifold structure.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .curvature import gauss_scalar_curvature
from .estimate import estimate_curvature, estimate_dimension
from .neighbors import KNNGraph, knn_graph
from .summary import curvature_summary

logger = logging.getLogger("repgeo")


@dataclass
class DimensionBaselines:
    twonn: float
    mle: float
    mle_pointwise: np.ndarray
    lpca_pointwise: np.ndarray


def dimension_baselines(X: np.ndarray, n_neighbors: int = 32, graph: KNNGraph | None = None) -> DimensionBaselines:
    """TwoNN and MLE global dimensions, MLE and local-PCA pointwise dimensions (scikit-dimension).

    Pointwise estimates use the ``n_neighbors`` nearest other points of each point; the global
    MLE is the library's (harmonic-mean) combination of the pointwise ones.
    """
    import skdim

    X = np.asarray(X, dtype=np.float64)
    k = min(n_neighbors, X.shape[0] - 1)
    graph = graph if graph is not None and graph.k > k else knn_graph(X, k + 1)
    dist, idx = graph.distances[:, 1 : k + 1], graph.indices[:, 1 : k + 1]
    twonn = skdim.id.TwoNN().fit(X).dimension_
    mle = skdim.id.MLE()
    mle_pw = mle.fit_transform_pw(X, precomputed_knn_arrays=(dist, idx), n_neighbors=k)
    mle_global = skdim.id.MLE().fit(X, precomputed_knn_arrays=(dist, idx), n_neighbors=k).dimension_
    lpca_pw = _lpca_pointwise(X, idx)
    return DimensionBaselines(float(twonn), float(mle_global), np.asarray(mle_pw, dtype=float), lpca_pw)


def _lpca_pointwise(X: np.ndarray, idx: np.ndarray, chunk: int = 20000) -> np.ndarray:
    """scikit-dimension's local PCA (Fukunaga-Olsen: eigenvalues above 5 % of the largest) on
    each point's neighbourhood (the point and its neighbours)."""
    import skdim

    est = skdim.id.lPCA()
    out = np.empty(len(X))
    for s in range(0, len(X), chunk):
        nb = np.concatenate([np.arange(s, min(len(X), s + chunk))[:, None], idx[s : s + chunk]], axis=1)
        for r, rows in enumerate(nb):
            out[s + r] = est.fit(X[rows]).dimension_
    return out


def quadratic_fit_curvature(X: np.ndarray, d: int, n_neighbors: int = 40, graph: KNNGraph | None = None) -> np.ndarray:
    """Scalar curvature by local quadratic fits of the second fundamental form (Sritharan et al. 2021).

    At point p with neighbours q (the ``n_neighbors`` nearest, p included): tangent basis T =
    top ``d`` principal directions of the neighbourhood (centred at its mean), normal basis N = the
    rest; in coordinates u = T^T (q - p), v = N^T (q - p), each v_L is fitted as
    c + b.u + 1/2 u^T A_L u (least squares); A_L is the second fundamental form in direction L
    and S = sum_L (tr A_L)^2 - |A_L|_F^2.
    """
    X = np.asarray(X, dtype=np.float64)
    n, D = X.shape
    if not 1 <= d < D:
        raise ValueError(f"d must be between 1 and D - 1 = {D - 1}, got {d}")
    k = min(n_neighbors, n)
    n_quad = d * (d + 1) // 2
    if k < 1 + d + n_quad:
        raise ValueError(f"a quadratic fit in {d} dimensions needs at least {1 + d + n_quad} neighbours, got {k}")
    graph = graph if graph is not None and graph.k >= k else knn_graph(X, k)
    idx = graph.indices[:, :k]
    iu, ju = np.triu_indices(d)
    out = np.empty(n)
    for s in range(0, n, 8192):
        nb = X[idx[s : s + 8192]]  # m x k x D
        p = X[s : s + 8192, None, :]
        centred = nb - nb.mean(axis=1, keepdims=True)
        _, _, Vt = np.linalg.svd(centred, full_matrices=False)
        T, N = Vt[:, :d, :], Vt[:, d:, :]
        rel = nb - p
        u = np.einsum("mkD,mdD->mkd", rel, T)
        v = np.einsum("mkD,mlD->mkl", rel, N)
        quad = u[:, :, iu] * u[:, :, ju] * np.where(iu == ju, 0.5, 1.0)
        design = np.concatenate([np.ones(u.shape[:2] + (1,)), u, quad], axis=2)
        coef = _batched_lstsq(design, v)  # m x params x (D - d)
        q = coef[:, 1 + d :, :]  # quadratic coefficients
        A = np.zeros((q.shape[0], q.shape[2], d, d))
        A[:, :, iu, ju] = np.swapaxes(q, 1, 2)
        A[:, :, ju, iu] = np.swapaxes(q, 1, 2)
        out[s : s + 8192] = gauss_scalar_curvature(A)
    return out


def _batched_lstsq(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Least-squares solutions of A_m x = B_m for stacked A (m x k x p), B (m x k x r)."""
    Q, R = np.linalg.qr(A)
    return np.linalg.solve(R, np.swapaxes(Q, 1, 2) @ B)


def gaussian_null(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """A Gaussian cloud with the mean and covariance of X (same size): no manifold at all."""
    X = np.asarray(X, dtype=np.float64)
    rng = np.random.default_rng([seed, 0x6A55])
    return rng.multivariate_normal(X.mean(axis=0), np.cov(X, rowvar=False), size=len(X), method="eigh")


def shuffled_null(X: np.ndarray, seed: int = 0) -> np.ndarray:
    """X with every coordinate permuted independently: the same marginals, no joint structure."""
    X = np.array(X, dtype=np.float64)
    rng = np.random.default_rng([seed, 0x5AFF])
    for j in range(X.shape[1]):
        X[:, j] = X[rng.permutation(len(X)), j]
    return X


#: The null controls of :func:`null_controls`, in order.
NULL_CONTROLS = {"gaussian": gaussian_null, "shuffled": shuffled_null}


def null_controls(
    X: np.ndarray,
    d: int,
    seed: int = 0,
    dimension: Mapping[str, Any] | None = None,
    curvature: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The estimators on two null controls of the size of ``X``, at the data's curvature ``d``.

    One row per control of :data:`NULL_CONTROLS` (``gaussian``: :func:`gaussian_null`;
    ``shuffled``: :func:`shuffled_null`, both drawn with ``seed``): the global dimension and the
    gap diagnostics of :func:`repgeo.geometry.estimate.estimate_dimension` (called with the keyword
    arguments ``dimension``, ``mode`` among them) and the curvature summary
    (:func:`repgeo.geometry.summary.curvature_summary`) of
    :func:`~repgeo.geometry.estimate.estimate_curvature` (keyword arguments ``curvature``).
    """
    rows = []
    for name, make in NULL_CONTROLS.items():
        Y = make(X, seed=seed)
        dim = estimate_dimension(Y, **(dimension or {}))
        S = estimate_curvature(Y, d, **(curvature or {})).scalar
        rows.append(
            {
                "control": name,
                "global_dimension": dim.global_dim,
                "gap_clear": dim.diagnostics.clear,
                "gap": dim.diagnostics.gap,
                **curvature_summary(S),
            }
        )
        logger.info("null control %s: global dimension %d, curvature median %.4g", name, dim.global_dim, np.median(S))
    return pd.DataFrame(rows)
