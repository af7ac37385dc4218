"""The diffusion operator of an embedding and its full spectrum (dense path).

Definitions follow Liao, Liu et al., "Assessing neural network representations during training
using noise-resilient diffusion spectral entropy", CISS 2024 (arXiv 2312.04823), in the
reference implementation's "compatible" mode (the authors' ``dse-dsmi`` 1.1 package, repository
ChenLiu-1996/DiffusionSpectralEntropy, ``dse_dsmi/diffusion.py``; ``api/diffusion.py`` earlier):

    G_ij = exp(-|z_i - z_j|^2 / (2 sigma^2))      absolute sigma, default 10, self-pairs kept
    q_i  = sum_j G_ij                              degrees
    K    = Q^-1/2 G Q^-1/2                         symmetric, same spectrum as P = Q^-1 G

K is positive semi-definite (the Gaussian kernel is), with eigenvalues in [0, 1] and top
eigenvalue 1. The 1/(sigma sqrt(2 pi)) prefactor of the reference cancels in K and is omitted.

Beyond the reference, and off by default so numbers match the paper:

- ``sigma="median"``: sigma = sqrt(median |z_i - z_j|^2 / 2) over pairs (the authors' deleted
  research code's heuristic), so that 2 sigma^2 is the median squared distance;
- ``sigma="knn"``: the self-tuning kernel of Zelnik-Manor & Perona (2004),
  G_ij = exp(-|z_i - z_j|^2 / (sigma_i sigma_j)) with sigma_i the distance from z_i to its
  ``n_neighbors``-th nearest neighbour;
- ``alpha`` > 0: Coifman & Lafon's (2006) density normalisation, G_ij / (q_i q_j)^alpha before
  the symmetric normalisation (the reference is alpha = 0 despite its comment).

Implementation choices (each fixes a cost of the reference's ``dse_dsmi/diffusion.py``): squared distances
by the Gram identity in float64 on centred rows, clipped at 0, without the square root and
re-squaring; degree scaling by broadcasting (O(n^2), where the reference's products with
diagonal matrices cost O(n^3)); no symmetry check (K is symmetric by construction); all n
eigenvalues without eigenvectors by LAPACK's two-stage divide-and-conquer driver (``syevd``
where the BLAS lacks it), in float64 or float32; a torch path for GPUs.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import scipy.linalg as la

from ._checks import check_device, check_dtype, check_int

BANDWIDTH_RULES = ("median", "knn")
# The median heuristic uses at most this many seeded anchor rows against all points: exact up
# to this n, and beyond it the median of >= 1000 * (n - 1) pairs, whose sampling error is far
# below any effect of sigma on the entropy.
MEDIAN_ANCHORS = 1000
# Rows per tile of the distance computation: tiles of at most 2^24 float64 entries (128 MB).
_TILE_ENTRIES = 2**24


def check_sigma(sigma) -> float | str:
    """``sigma``: a finite number > 0 (absolute bandwidth) or one of the rules 'median', 'knn'."""
    if isinstance(sigma, str):
        if sigma not in BANDWIDTH_RULES:
            raise ValueError(f"sigma must be a number > 0 or one of {BANDWIDTH_RULES}, got {sigma!r}")
        return sigma
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or not math.isfinite(sigma) or sigma <= 0:
        raise ValueError(
            f"sigma must be a finite number > 0 (absolute bandwidth; the reference uses 10) "
            f"or one of {BANDWIDTH_RULES}, got {sigma!r}"
        )
    return float(sigma)


def check_alpha(alpha) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1] (0 = the reference's normalisation), got {alpha!r}")
    return float(alpha)


def centred(Z: np.ndarray) -> np.ndarray:
    """Rows minus their mean, in float64.

    Centring leaves every distance unchanged but shrinks |z|^2, which limits the cancellation
    of the Gram identity |a - b|^2 = |a|^2 + |b|^2 - 2 a.b.
    """
    Z = np.asarray(Z, dtype=np.float64)
    return Z - Z.mean(axis=0)


def median_sigma(Z: np.ndarray, seed: int = 0) -> float:
    """sigma = sqrt(median_{i != j} |z_i - z_j|^2 / 2), over at most MEDIAN_ANCHORS anchor rows.

    Raises when the median distance is 0 (more than half the pairs are duplicates), where no
    scale can be read from the data.
    """
    Zc = centred(Z)
    n = len(Zc)
    anchors = (
        np.arange(n)
        if n <= MEDIAN_ANCHORS
        else np.sort(np.random.default_rng([seed, 0x5E]).choice(n, MEDIAN_ANCHORS, replace=False))
    )
    sq = np.einsum("ij,ij->i", Zc, Zc)
    d2 = sq[anchors, None] + sq[None, :] - 2.0 * (Zc[anchors] @ Zc.T)
    np.maximum(d2, 0.0, out=d2)
    d2[np.arange(len(anchors)), anchors] = np.nan  # self-pairs are not pairs
    med = float(np.nanmedian(d2))
    if not med > 0:
        raise ValueError(
            "sigma='median': the median pairwise distance is 0 (mostly duplicate rows); give an absolute sigma"
        )
    return math.sqrt(med / 2.0)


class _NumpyOps:
    """Dense operator steps with numpy/OpenBLAS (the CPU path)."""

    def __init__(self, dtype):
        self.dtype = dtype

    def sqdist(self, Zc: np.ndarray) -> np.ndarray:
        """n x n squared distances in self.dtype, from float64 Gram tiles of the lower triangle.

        Each tile of rows [s, e) is computed against rows [0, e) only and mirrored, which halves
        the matrix product and makes the result exactly symmetric.
        """
        n = len(Zc)
        sq = np.einsum("ij,ij->i", Zc, Zc)
        out = np.empty((n, n), dtype=self.dtype)
        step = max(64, _TILE_ENTRIES // n)
        for s in range(0, n, step):
            e = min(n, s + step)
            tile = Zc[s:e] @ Zc[:e].T
            tile *= -2.0
            tile += sq[s:e, None]
            tile += sq[None, :e]
            np.maximum(tile, 0.0, out=tile)
            out[s:e, :e] = tile
            out[:s, s:e] = tile[:, :s].T
            # The diagonal block of a GEMM is symmetric only to rounding: mirror its lower triangle.
            low = np.tril(tile[:, s:e], -1)
            out[s:e, s:e] = low + low.T
        np.fill_diagonal(out, 0.0)
        return out

    def kth_smallest(self, D2: np.ndarray, k: int) -> np.ndarray:
        """The k-th smallest off-diagonal entry of each row (index k: the 0 self-distance is first)."""
        n = len(D2)
        out = np.empty(n, dtype=np.float64)
        step = max(64, _TILE_ENTRIES // n)
        for s in range(0, n, step):
            out[s : s + step] = np.partition(D2[s : s + step], k, axis=1)[:, k]
        return out

    def vec(self, v: np.ndarray):
        return np.asarray(v, dtype=self.dtype)

    def exp_(self, K) -> None:
        np.exp(K, out=K)

    def row_sums(self, K) -> np.ndarray:
        return K.sum(axis=1, dtype=np.float64)

    def eigvalsh(self, K) -> np.ndarray:
        two_stage = _syevd_2stage()
        if two_stage is None:
            w = la.eigh(K, eigvals_only=True, overwrite_a=True, check_finite=False, driver="evd")
        else:
            # K is symmetric, so its C-order buffer is also K in Fortran order: no copy.
            n = len(K)
            w = np.empty(n, dtype=K.dtype)
            info = two_stage[K.dtype.type](_COL_MAJOR, b"N", b"L", n, K.ctypes.data, n, w.ctypes.data)
            if info != 0:
                raise np.linalg.LinAlgError(f"LAPACK {K.dtype.char}syevd_2stage failed (info = {info})")
        return np.ascontiguousarray(w[::-1], dtype=np.float64)


_COL_MAJOR = 102  # LAPACKE's LAPACK_COL_MAJOR


@functools.cache
def _syevd_2stage() -> dict | None:
    """LAPACK's two-stage symmetric eigenvalue drivers (d/ssyevd_2stage) from the OpenBLAS numpy and scipy load.

    Eigenvalues only, the reduction to tridiagonal form goes through a band matrix with
    matrix-matrix products instead of ``syevd``'s half matrix-vector sweep: 1.6-1.9x faster at
    n = 5,000-10,000 on 2 cores, same eigenvalues to 1e-15. scipy does not wrap these drivers;
    they are called through the LAPACKE symbols of the wheels' bundled OpenBLAS ('scipy_' prefix,
    '64_' suffix for numpy's 64-bit-integer build). None when no loaded library exports them
    (other BLAS builds): the caller then uses scipy's ``syevd``.
    """
    import ctypes

    from threadpoolctl import threadpool_info

    for lib_info in threadpool_info():
        if lib_info.get("internal_api") != "openblas":
            continue
        try:
            lib = ctypes.CDLL(lib_info["filepath"])
        except OSError:
            continue
        for suffix, int_t in (("", ctypes.c_int32), ("64_", ctypes.c_int64)):
            try:
                fns = {
                    np.float64: getattr(lib, f"scipy_LAPACKE_dsyevd_2stage{suffix}"),
                    np.float32: getattr(lib, f"scipy_LAPACKE_ssyevd_2stage{suffix}"),
                }
            except AttributeError:
                continue
            for fn in fns.values():
                fn.restype = int_t
                fn.argtypes = [
                    ctypes.c_int,
                    ctypes.c_char,
                    ctypes.c_char,
                    int_t,
                    ctypes.c_void_p,
                    int_t,
                    ctypes.c_void_p,
                ]
            return fns
    return None


class _TorchOps:
    """The same steps with torch on ``device`` (a GPU; 'torch-cpu' runs them on the CPU for tests)."""

    def __init__(self, dtype, device: str):
        import torch

        self.torch = torch
        self.device = "cpu" if device == "torch-cpu" else device
        self.dtype = torch.float64 if dtype == np.float64 else torch.float32

    def sqdist(self, Zc: np.ndarray):
        torch = self.torch
        Zt = torch.as_tensor(Zc, dtype=torch.float64, device=self.device)
        sq = (Zt * Zt).sum(dim=1)
        D2 = Zt @ Zt.T
        D2.mul_(-2.0).add_(sq[:, None]).add_(sq[None, :]).clamp_(min=0.0)
        D2 = torch.tril(D2) + torch.tril(D2, -1).T  # exact symmetry, as on the CPU path
        D2.fill_diagonal_(0.0)
        return D2.to(self.dtype)

    def kth_smallest(self, D2, k: int) -> np.ndarray:
        return self.torch.kthvalue(D2, k + 1, dim=1).values.double().cpu().numpy()

    def vec(self, v: np.ndarray):
        return self.torch.as_tensor(v, dtype=self.dtype, device=self.device)

    def exp_(self, K) -> None:
        K.exp_()

    def row_sums(self, K) -> np.ndarray:
        return K.sum(dim=1, dtype=self.torch.float64).cpu().numpy()

    def eigvalsh(self, K) -> np.ndarray:
        w = self.torch.linalg.eigvalsh(K).double().cpu().numpy()
        return np.ascontiguousarray(w[::-1])


def _ops(dtype, device: str):
    device = check_device(device)
    return _NumpyOps(dtype) if device == "cpu" else _TorchOps(dtype, device)


def diffusion_eigenvalues(
    Z: np.ndarray,
    sigma: float | str = 10.0,
    *,
    alpha: float = 0.0,
    n_neighbors: int = 15,
    dtype="float64",
    device: str = "cpu",
    seed: int = 0,
) -> tuple[np.ndarray, float | None]:
    """All n eigenvalues of the symmetric diffusion operator K of ``Z`` (n x D, validated).

    Returns ``(eigenvalues, bandwidth)``: the eigenvalues in float64, descending, whatever
    ``dtype`` the decomposition ran in; ``bandwidth`` the absolute sigma used (None for the
    per-point ``sigma='knn'``). ``seed`` only picks the anchor rows of ``sigma='median'``.
    Memory: one n x n matrix of ``dtype`` plus a 128 MB tile.
    """
    sigma = check_sigma(sigma)
    alpha = check_alpha(alpha)
    ops = _ops(check_dtype(dtype), device)
    n = len(Z)
    Zc = centred(Z)
    D2 = ops.sqdist(Zc)
    if sigma == "knn":
        k = check_int(n_neighbors, "n_neighbors", 1)
        if k >= n:
            raise ValueError(f"sigma='knn' needs n_neighbors < n = {n}, got {k}")
        s = np.sqrt(ops.kth_smallest(D2, k))
        if not (s > 0).all():
            raise ValueError(
                f"sigma='knn': {int((s <= 0).sum())} point(s) have at least {k} exact duplicates, so their "
                "bandwidth is 0; raise n_neighbors or drop duplicate rows"
            )
        inv = ops.vec(1.0 / s)
        D2 *= inv[:, None]
        D2 *= inv[None, :]
        D2 *= -1.0
        bandwidth = None
    else:
        bandwidth = median_sigma(Zc, seed) if sigma == "median" else sigma
        D2 *= -1.0 / (2.0 * bandwidth**2)
    ops.exp_(D2)
    G = D2
    q = ops.row_sums(G)  # >= 1: every point has self-affinity exp(0) = 1
    if alpha:
        w = ops.vec(q**-alpha)
        G *= w[:, None]
        G *= w[None, :]
        q = ops.row_sums(G)
    s = ops.vec(1.0 / np.sqrt(q))
    G *= s[:, None]
    G *= s[None, :]
    return ops.eigvalsh(G), bandwidth
