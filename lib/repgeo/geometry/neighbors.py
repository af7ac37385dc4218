"""The k-nearest-neighbour graph that every diffusion-geometry operator is built on.

Computed once per point set and cached as an artifact (it does not depend on any bandwidth).
The point itself is neighbour 0 (distance 0), as in Jones' reference code (Jones 2024), which
counts it among its k = 32 neighbours (:data:`DEFAULT_K`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this ambient dimension a k-d tree is exact and faster than blocked products.
KDTREE_MAX_DIM = 16

#: Neighbours per point, the point itself included: the k of Jones 2024's reference code, the one
#: default of every estimator's ``k`` (and of the workflow's ``geometry.k``).
DEFAULT_K = 32


@dataclass
class KNNGraph:
    """``indices`` (n x k, int64) and Euclidean ``distances`` (n x k, float64), sorted by
    distance, the point itself first."""

    indices: np.ndarray
    distances: np.ndarray

    @property
    def n(self) -> int:
        return self.indices.shape[0]

    @property
    def k(self) -> int:
        return self.indices.shape[1]


def knn_graph(X: np.ndarray, k: int = DEFAULT_K, n_jobs: int = 1) -> KNNGraph:
    """Exact k nearest neighbours of every row of ``X`` (self included), distances in float64.

    Low-dimensional data uses scipy's k-d tree; wider data the blocked search of
    :func:`repgeo.diffusion.distances.knn` with 8 spare candidates re-ranked by exact distance,
    so near-ties at the k-th neighbour are decided in float64.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected an n x D array of points, got shape {X.shape}")
    n = X.shape[0]
    if not 2 <= k <= n:
        raise ValueError(f"k must be between 2 and the number of points ({n}), got {k}")
    if not np.isfinite(X).all():
        raise ValueError("points contain NaN or infinite values")
    if X.shape[1] <= KDTREE_MAX_DIM:
        from scipy.spatial import cKDTree

        # On the reference fixtures scipy's tree gives the same neighbours and distances, bit for
        # bit, as scikit-learn's (which Jones' reference uses), in about two thirds of the time.
        dist, idx = cKDTree(X).query(X, k=k, workers=n_jobs)
        # With duplicate points the tree may list a twin before the point itself.
        self_pos = np.argmax(idx == np.arange(n)[:, None], axis=1)
        swap = self_pos > 0
        if swap.any():
            r = np.flatnonzero(swap)
            idx[r, self_pos[r]] = idx[r, 0]
            idx[r, 0] = r
        return KNNGraph(idx.astype(np.int64), dist)
    from ..diffusion.distances import knn

    idx, d2 = knn(X, k, candidates=k + 8)
    return KNNGraph(idx, np.sqrt(d2))


def graph_of_size(X: np.ndarray, graph: KNNGraph | None, k: int) -> KNNGraph:
    """A graph with exactly ``k`` neighbours: ``graph`` truncated when it has more, a new one when
    it is absent or has fewer."""
    if graph is None or graph.k < k:
        return knn_graph(X, k)
    if graph.k > k:
        return KNNGraph(graph.indices[:, :k], graph.distances[:, :k])
    return graph
