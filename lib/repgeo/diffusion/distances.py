"""Blocked squared distances and exact k-nearest neighbours.

Squared distances use the Gram identity |x - y|^2 = |x|^2 + |y|^2 - 2 x.y over row blocks, so
an n x n distance matrix is never held: memory is O(block x n). Rows are centred first (the
identity loses precision when |x|^2 >> |x - y|^2, and centring reduces |x|^2 without changing any
distance). On the CPU the block products go through numpy's OpenBLAS (about 2x faster than
torch's MKL on the AMD machines this project targets); on a GPU through torch.

Neighbour distances that feed kernels are recomputed from explicit differences, which have no
cancellation error, so the smallest distances are exact to float32 round-off.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger("repgeo")

# Rows per block: 2048 x 2048 float32 tiles keep the GEMM efficient and the temporaries at
# tens of megabytes; block_rows() lowers it for very wide rows.
BLOCK = 2048


def as_matrix(X) -> np.ndarray:
    """View ``X`` (array, memmap or torch tensor, N x ...) as an N x D array without copying."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if X.ndim == 1:
        raise ValueError(f"expected an N x ... array of samples, got a 1-D array of shape {X.shape}")
    return X.reshape(X.shape[0], -1)


def block_rows(n_features: int, budget_bytes: int = 64 * 2**20) -> int:
    """Rows per block so that a block of float32 rows stays within ``budget_bytes``."""
    return int(max(16, min(BLOCK, budget_bytes // (4 * max(1, n_features)))))


def column_mean(X: np.ndarray) -> np.ndarray:
    """Column means in float64, accumulated over row blocks (works for memmaps)."""
    n, d = X.shape
    acc = np.zeros(d, dtype=np.float64)
    step = block_rows(d)
    for s in range(0, n, step):
        acc += X[s : s + step].sum(axis=0, dtype=np.float64)
    return acc / n


@dataclass
class Centred:
    """Row access to ``X - mean`` in float32, block by block (X may live on disk)."""

    X: np.ndarray
    mean: np.ndarray

    @classmethod
    def of(cls, X) -> Centred:
        X = as_matrix(X)
        return cls(X, column_mean(X))

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    def rows(self, start: int, stop: int, dtype=np.float32) -> np.ndarray:
        return (np.asarray(self.X[start:stop], dtype=np.float64) - self.mean).astype(dtype, copy=False)

    def take(self, idx: np.ndarray, dtype=np.float32) -> np.ndarray:
        order = np.argsort(idx)
        out = np.empty((len(idx), self.d), dtype=dtype)
        # Sorted gathers read memmaps sequentially.
        out[order] = np.asarray(self.X[idx[order]], dtype=np.float64) - self.mean
        return out

    def blocks(self, step: int | None = None, dtype=np.float32) -> Iterator[tuple[int, int, np.ndarray]]:
        step = step or block_rows(self.d)
        for s in range(0, self.n, step):
            e = min(self.n, s + step)
            yield s, e, self.rows(s, e, dtype)


class Engine:
    """Squared-distance tiles on the CPU (numpy) or on a torch device.

    Inputs and outputs of the public methods are numpy arrays; on a GPU the tiles stay on the
    device between the product and the reduction that consumes them.
    """

    def __init__(self, device: str = "cpu"):
        # "torch-cpu" runs the torch code path on the CPU: it is how the GPU path is tested on
        # machines without a GPU.
        self.torch = device != "cpu"
        self.device = "cpu" if device == "torch-cpu" else device
        if self.torch:
            import torch

            self._t = torch

    def put(self, a: np.ndarray):
        if self.torch:
            return self._t.as_tensor(a, device=self.device)
        return a

    def get(self, a) -> np.ndarray:
        if self.torch:
            return a.cpu().numpy()
        return a

    def sqnorm(self, a):
        if self.torch:
            return (a.double() ** 2).sum(1).to(a.dtype)
        return np.einsum("ij,ij->i", a, a, dtype=np.float64).astype(a.dtype)

    def sqdist(self, a, b, a2, b2):
        """|a_i - b_j|^2 for all pairs of a (m x D) and b (p x D), clamped at 0."""
        if self.torch:
            g = a @ b.T
            g.mul_(-2).add_(a2[:, None]).add_(b2[None, :]).clamp_(min=0)
            return g
        g = a @ b.T
        g *= -2
        g += a2[:, None]
        g += b2[None, :]
        np.maximum(g, 0, out=g)
        return g

    def set_diagonal(self, tile, offset: int, value: float) -> None:
        """Set tile[r, offset + r] = value (the self-pairs of a row block against all rows)."""
        r = np.arange(tile.shape[0])
        self.set_pairs(tile, r, r + offset, value)

    def set_pairs(self, tile, rows: np.ndarray, cols: np.ndarray, value: float) -> None:
        """Set tile[rows[i], cols[i]] = value."""
        if self.torch:
            tile[self._t.as_tensor(rows, device=tile.device), self._t.as_tensor(cols, device=tile.device)] = value
        else:
            tile[rows, cols] = value

    def smallest(self, d2, k: int):
        """Indices and values of the k smallest entries of each row of d2, sorted by value.

        torch's top-k (multi-threaded partial selection, about 2x faster than numpy's
        argpartition here) serves both paths; on the CPU it works on the numpy array in place.
        """
        import torch

        t = d2 if self.torch else torch.from_numpy(np.ascontiguousarray(d2))
        vals, idx = torch.topk(t, k, dim=1, largest=False, sorted=True)
        return idx.cpu().numpy(), vals.cpu().numpy()


def pairwise_sqdist(X, device: str = "cpu") -> np.ndarray:
    """Full n x n squared-distance matrix, computed and returned in float64 (zero diagonal).

    For the dense path only; the caller decides that n x n fits in memory. Float64 products
    make the kernel exact to round-off (float32 ones leave ~1e-7 relative errors in the
    distances, which reach the eigenvalues).
    """
    C = Centred.of(X)
    eng = Engine(device)
    out = np.empty((C.n, C.n), dtype=np.float64)
    rows = [(s, e, eng.put(b)) for s, e, b in C.blocks(block_rows(2 * C.d), np.float64)]
    norms = [eng.sqnorm(b) for _, _, b in rows]
    for bi, (s, e, a) in enumerate(rows):
        for bj in range(bi, len(rows)):
            s2, e2, b = rows[bj]
            tile = eng.get(eng.sqdist(a, b, norms[bi], norms[bj]))
            if bj == bi:
                # A GEMM of a block with itself is not exactly symmetric in floating point;
                # symmetric eigensolvers read one triangle, so make it exact.
                out[s:e, s:e] = 0.5 * (tile + tile.T)
            else:
                out[s:e, s2:e2] = tile
                out[s2:e2, s:e] = tile.T
    np.fill_diagonal(out, 0.0)
    return out


def neighbour_sqdist(X: np.ndarray, idx: np.ndarray, dtype=np.float64) -> np.ndarray:
    """|x_i - x_idx[i, j]|^2 for an n x k index array, from explicit differences.

    Differences have no cancellation error, unlike the Gram identity, so even the smallest
    neighbour distances are exact to round-off: relative 1e-16 in float64; in float32 about
    1e-5, computed by torch's fused difference kernel (``cdist`` without the matrix-product
    shortcut), which reads each candidate row once -- the path for wide data, where this step
    is bound by memory traffic. Rows are read as they are (differences need no centring).
    """
    import torch

    n, k = idx.shape
    d = X.shape[1]
    out = np.empty((n, k), dtype=np.float64)
    step = max(1, (128 * 2**20) // (np.dtype(dtype).itemsize * d * k))
    for s in range(0, n, step):
        e = min(n, s + step)
        flat = idx[s:e].ravel()
        order = np.argsort(flat, kind="stable")
        b = np.empty((len(flat), d), dtype=dtype)
        b[order] = X[flat[order]]  # sorted gathers read memory-mapped files sequentially
        b = b.reshape(e - s, k, d)
        a = np.asarray(X[s:e], dtype=dtype)
        if dtype == np.float32:
            dist = torch.cdist(
                torch.from_numpy(a)[:, None, :], torch.from_numpy(b), compute_mode="donot_use_mm_for_euclid_dist"
            )
            out[s:e] = dist[:, 0, :].double().numpy() ** 2
        else:
            b -= a[:, None, :]
            out[s:e] = np.einsum("ijk,ijk->ij", b, b)
    return out


def pca_basis(C: Centred, n_components: int, seed: int = 0, n_iter: int = 4) -> np.ndarray:
    """Top principal directions (D x r) by randomized subspace iteration over row blocks.

    Halko, Martinsson & Tropp (2011), Algorithm 4.4 with 10 oversampling columns; each pass
    streams X once, so X may be larger than memory.
    """
    r = min(n_components + 10, C.d, C.n)
    rng = np.random.default_rng([seed, 0x9CA])
    Q = np.linalg.qr(rng.standard_normal((C.d, r)).astype(np.float32))[0]
    for _ in range(n_iter):
        Z = np.zeros((C.d, r), dtype=np.float64)
        for _, _, b in C.blocks():
            Z += b.T @ (b @ Q)
        Q = np.linalg.qr(Z.astype(np.float32))[0]
    # Rayleigh-Ritz on the subspace to order the directions by variance.
    H = np.zeros((r, r), dtype=np.float64)
    for _, _, b in C.blocks():
        y = b @ Q
        H += y.T.astype(np.float64) @ y
    w, V = np.linalg.eigh(H)
    return (Q @ V[:, ::-1][:, :n_components].astype(np.float32)).astype(np.float32)


def knn(
    X,
    n_neighbors: int,
    pca_components: int | None = None,
    candidates: int | None = None,
    seed: int = 0,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-nearest neighbours of every row (the row itself first, at distance 0).

    Returns ``(indices, sqdist)``, both n x k, sorted by distance. With ``pca_components`` the
    search runs in that many principal components with ``candidates`` (default 2k) neighbours
    per point, which are then re-ranked by their exact full-dimensional distances: the kNN of
    wide data (images) costs O(n^2 r) instead of O(n^2 D). Without it, ``candidates`` (default
    k) float32 candidates are re-ranked in float64. Returned distances are always exact
    (recomputed from differences, see the module docstring).
    """
    C = Centred.of(X)
    n = C.n
    k = min(int(n_neighbors), n)
    if k < 1:
        raise ValueError(f"n_neighbors must be at least 1, got {n_neighbors}")
    if pca_components and pca_components < C.d:
        basis = pca_basis(C, pca_components, seed=seed)
        Z = np.concatenate([b @ basis for _, _, b in C.blocks()])
        kc = min(n, max(k, candidates or 2 * k))
    else:
        Z = np.concatenate([b for _, _, b in C.blocks()])
        kc = min(n, max(k, candidates or k))
    searched_in_pca = Z.shape[1] < C.d
    idx = _knn_blocked(Z, kc, device)
    del Z
    # Wide data searched in principal components: float32 differences (see neighbour_sqdist).
    d2 = neighbour_sqdist(C.X, idx, np.float32 if searched_in_pca else np.float64)
    d2[idx == np.arange(n)[:, None]] = -1.0  # the point itself first, whatever the ties
    order = np.argsort(d2, axis=1, kind="stable")[:, :k]
    idx = np.take_along_axis(idx, order, axis=1)
    d2 = np.maximum(np.take_along_axis(d2, order, axis=1), 0.0)
    return idx, d2


def _knn_blocked(Z: np.ndarray, k: int, device: str) -> np.ndarray:
    """Indices of the k nearest rows of Z (in memory) for every row, the row itself first."""
    n = Z.shape[0]
    eng = Engine(device)
    Zd = eng.put(Z)
    z2 = eng.sqnorm(Zd)
    step = max(16, min(BLOCK, (256 * 2**20) // (4 * n)))
    idx = np.empty((n, k), dtype=np.int64)
    next_log = 0.1
    for s in range(0, n, step):
        e = min(n, s + step)
        tile = eng.sqdist(Zd[s:e], Zd, z2[s:e], z2)
        eng.set_diagonal(tile, s, -1.0)
        idx[s:e] = eng.smallest(tile, k)[0]
        if e / n >= next_log or e == n:
            logger.info("kNN search: %d/%d points (%.0f%%)", e, n, 100 * e / n)
            next_log = math.floor(10 * e / n) / 10 + 0.1
    return idx
