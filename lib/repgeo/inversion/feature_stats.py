"""Second-order and sparsity statistics of a layer's feature maps over N images.

The "Deep Restoration" study (section 4.1, Figure 4) plots, for one layer, the covariance of the
flattened feature maps and its inverse and observes that both look nearly (block-)Toeplitz, i.e.
spatially stationary. This module computes those matrices and measures that closeness, plus the
Gram matrices and sparsity statistics of the same maps. Input is always a stack of feature maps
``features`` of shape N x C x H x W (numpy array or torch tensor, any real dtype; computed in
float64), and a flattened map has d = C*H*W entries in the index order (c, i, j), i.e.
flat index c*H*W + i*W + j (numpy's C order of a C x H x W array).

- :func:`feature_covariance`: the sample covariance (denominator N - 1, as ``np.cov``) and mean;
  its spectrum, rank and condition number. When N - 1 < d the covariance is singular
  (rank <= N - 1) and the result says so.
- :func:`regularised_inverse`: (S + lambda I)^-1 with lambda = shrinkage * trace(S) / d, the
  ridge form of Ledoit & Wolf's shrinkage towards the scaled identity (Ledoit & Wolf, "A
  well-conditioned estimator for large-dimensional covariance matrices", J. Multivariate Anal. 88,
  2004, eq. (14) with target mu I, mu = trace(S)/d): their estimate (1 - rho) S + rho mu I equals
  (1 - rho)(S + s mu I) with s = rho / (1 - rho), so the two differ by a scale factor only.
  :func:`ledoit_wolf_ridge` gives the data-driven s from scikit-learn's Ledoit-Wolf rho.
- :func:`block_toeplitz_projection` and :func:`toeplitz_closeness`: the least-squares (Frobenius)
  best doubly block-Toeplitz approximation T(M) of a d x d matrix on the H x W grid, with C x C
  blocks, and the share of energy off it, ||M - T(M)||_F^2 / ||M||_F^2, over all entries, over the
  interior (refitted there) and over the border entries.
- :func:`gram_matrices`: per-image C x C Gram matrices (Gatys, Ecker & Bethge, "A neural algorithm
  of artistic style", arXiv 1508.06576, 2015, eq. (3)), divided by H*W.
- :func:`sparsity` and :func:`hoyer_sparsity`: zero fractions, Hoyer's sparsity (Hoyer,
  "Non-negative matrix factorization with sparseness constraints", JMLR 5, 2004, eq. (1)), mean
  activation and L1/L2, per channel and overall, as a tidy table.
- :func:`covariance_statistics` / :func:`covariance_summary`: everything above for the
  covariance and its regularised inverse of one layer, and the tidy parquet-ready table of scalars.

Why T(M) is the class mean: matrices that are doubly block-Toeplitz (entry depends only on the
channel pair (c, c') and the displacement (i' - i, j' - j)) form a linear subspace whose basis is
the indicator matrices of these "displacement classes", which are disjoint. The orthogonal
(Frobenius) projection onto that subspace therefore replaces every entry by the mean of its class,
and ||M||^2 = ||T(M)||^2 + ||M - T(M)||^2, so the share lies in [0, 1]. A stationary field with
periodic boundary has a block-circulant covariance, a special case (circulant entries depend on the
displacement modulo the grid size, hence on the displacement), so its share is 0.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
from sklearn.covariance import ledoit_wolf_shrinkage

# A d x d float64 matrix of d = 4096 takes 128 MiB; the statistics keep a handful of them (the
# covariance, its inverse, both Toeplitz approximations) and one eigen-decomposition costs
# seconds, so larger d must be an explicit choice.
DEFAULT_MAX_FEATURES = 4096

# lambda = 1e-2 * trace(S)/d adds 1 % of the average variance to every eigenvalue: it bounds the
# condition number of S + lambda I by 1 + d / 1e-2 whatever N is (S may be singular), while
# leaving the directions whose variance is well above 1 % of the average almost untouched.
DEFAULT_SHRINKAGE = 1e-2

# Work on the d x d matrices in row blocks of about this many entries (32 MiB of float64), so the
# displacement keys of T(M) never need a second d x d integer array.
_BLOCK_ENTRIES = 2**22


# ----------------------------------------------------------------------------------- validation


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_nonnegative(value, name: str, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 ({hint}), got {value!r}")
    return float(value)


def _as_array(x, name: str) -> np.ndarray:
    """``x`` (numpy array or torch tensor) as a numpy array of real numbers, without copying when possible."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        # numpy has no bfloat16 and torch's integer/bool tensors are exact in float64.
        if str(x.dtype) not in ("torch.float32", "torch.float64"):
            x = x.double()
        x = x.numpy()
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array or tensor, got dtype {x.dtype}")
    return x


def _as_features(features, name: str = "features", min_images: int = 1) -> np.ndarray:
    """``features`` as an N x C x H x W numpy array (dtype kept), with its shape and values checked."""
    F = _as_array(features, name)
    if F.ndim != 4:
        raise ValueError(
            f"{name} must be 4-D (N images x C channels x H x W), got shape {F.shape}; for a fully connected layer pass shape (N, C, 1, 1)"
        )
    if min(F.shape[1:]) == 0:
        raise ValueError(f"{name} has an empty channel or spatial axis (shape {F.shape})")
    if F.shape[0] < min_images:
        raise ValueError(f"{name} needs at least {min_images} image(s) along axis 0, got {F.shape[0]}")
    if F.dtype.kind == "f" and not np.isfinite(F).all():
        bad = np.flatnonzero(~np.isfinite(F).reshape(F.shape[0], -1).all(axis=1))
        raise ValueError(
            f"{name} has NaN or inf in {len(bad)} image(s) (first: image {bad[0]}); drop or recompute them"
        )
    return F


def _check_channels(channels, n_channels: int) -> tuple[int, ...]:
    if channels is None:
        return tuple(range(n_channels))
    if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence | np.ndarray):
        raise TypeError(f"channels must be a sequence of channel indices or None (all channels), got {channels!r}")
    out = []
    for c in channels:
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or not 0 <= c < n_channels:
            raise ValueError(
                f"channels must hold integers in [0, {n_channels}) for a layer with {n_channels} channels, got {c!r}"
            )
        out.append(int(c))
    if not out:
        raise ValueError("channels is empty; pass None for all channels or at least one index")
    if len(set(out)) != len(out):
        raise ValueError(f"channels has repeated indices ({out}); each channel may appear once")
    return tuple(out)


def _flattened_features(
    features, channels: Sequence[int] | None, max_features: int
) -> tuple[np.ndarray, tuple[int, ...], int]:
    """The checked features (N x C x H x W, N >= 2), the kept channels and d = len(channels) * H * W,
    the length of one image's flattened maps; refuses d > ``max_features`` before any work of order
    d x d (the covariance, the Ledoit-Wolf shrinkage) starts."""
    F = _as_features(features, min_images=2)
    _, n_channels_in, height, width = F.shape
    channels = _check_channels(channels, n_channels_in)
    max_features = _check_int(max_features, "max_features", 1)
    d = len(channels) * height * width
    if d > max_features:
        gib = d * d * 8 / 2**30
        raise ValueError(
            f"features give d = {len(channels)} channels x {height} x {width} = {d} flattened features, more than "
            f"max_features = {max_features} (one d x d float64 matrix would need {gib:.2f} GiB); select channels with "
            "channels=[...], lower the resolution (e.g. average-pool the maps) or raise max_features"
        )
    return F, channels, d


def _as_square(M, name: str) -> np.ndarray:
    M = _as_array(M, name)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be a square 2-D matrix, got shape {M.shape}")
    M = np.asarray(M, dtype=np.float64)
    if not np.isfinite(M).all():
        raise ValueError(f"{name} has NaN or inf entries; compute it from finite features")
    return M


def _check_grid(M: np.ndarray, n_channels, height, width, name: str) -> tuple[int, int, int]:
    n_channels = _check_int(n_channels, "n_channels", 1)
    height = _check_int(height, "height", 1)
    width = _check_int(width, "width", 1)
    if n_channels * height * width != M.shape[0]:
        raise ValueError(
            f"{name} is {M.shape[0]} x {M.shape[0]} but n_channels * height * width = "
            f"{n_channels} * {height} * {width} = {n_channels * height * width}; pass the grid the matrix was built on"
        )
    return n_channels, height, width


# ----------------------------------------------------------------------------------- covariance


@dataclass(frozen=True)
class FeatureCovariance:
    """Sample covariance of flattened feature maps; entries indexed (c, i, j) in C order.

    ``eigenvalues`` are those of ``covariance`` in descending order; ``rank`` counts those above
    max(eigenvalues) * d * machine epsilon (numpy's ``matrix_rank`` rule). ``rank_deficient`` is
    True when rank < d, which always happens when ``n_images`` - 1 < d: the covariance is then
    singular and only its regularised inverse exists.
    """

    covariance: np.ndarray
    mean: np.ndarray
    eigenvalues: np.ndarray
    n_images: int
    channels: tuple[int, ...]
    height: int
    width: int
    rank: int

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_features(self) -> int:
        return self.covariance.shape[0]

    @property
    def rank_deficient(self) -> bool:
        return self.rank < self.n_features

    @property
    def condition_number(self) -> float:
        """Largest over smallest eigenvalue; inf for a singular (rank-deficient) covariance."""
        if self.rank_deficient:
            return math.inf
        return float(self.eigenvalues[0] / self.eigenvalues[-1])


def feature_covariance(
    features, channels: Sequence[int] | None = None, max_features: int = DEFAULT_MAX_FEATURES
) -> FeatureCovariance:
    """Covariance over N images of the flattened maps (d = len(channels) * H * W), denominator N - 1.

    ``channels`` keeps a subset of channels (in the given order); ``max_features`` refuses a larger d
    before any d x d matrix is allocated. The images are processed in blocks, so the float64 copy of
    the data never exceeds a few tens of MiB beyond the input itself.
    """
    F, channels, d = _flattened_features(features, channels, max_features)
    n, _, height, width = F.shape
    sel = list(channels)
    step = max(1, _BLOCK_ENTRIES // d)
    total = np.zeros(d)
    for start in range(0, n, step):
        total += np.asarray(F[start : start + step, sel], dtype=np.float64).reshape(-1, d).sum(axis=0)
    mean = total / n
    cov = np.zeros((d, d))
    for start in range(0, n, step):
        Xc = np.asarray(F[start : start + step, sel], dtype=np.float64).reshape(-1, d) - mean
        cov += Xc.T @ Xc
    cov /= n - 1
    # Rounding in the block sums leaves ~1e-16 relative asymmetry; eigvalsh and the Toeplitz
    # statistics assume an exactly symmetric matrix.
    cov = 0.5 * (cov + cov.T)
    eigenvalues = np.linalg.eigvalsh(cov)[::-1]
    tol = max(eigenvalues[0], 0.0) * d * np.finfo(np.float64).eps
    rank = int(np.count_nonzero(eigenvalues > tol))
    return FeatureCovariance(
        covariance=cov,
        mean=mean,
        eigenvalues=eigenvalues,
        n_images=n,
        channels=channels,
        height=height,
        width=width,
        rank=rank,
    )


@dataclass(frozen=True)
class RegularisedInverse:
    """(S + lambda I)^-1 with lambda = shrinkage * trace(S) / d (the ridge ``lam``)."""

    precision: np.ndarray
    lam: float
    shrinkage: float


def regularised_inverse(cov, shrinkage: float = DEFAULT_SHRINKAGE) -> RegularisedInverse:
    """Inverse of the ridge-regularised covariance, (S + lambda I)^-1, lambda = shrinkage * trace(S)/d.

    The ridge is proportional to the average variance trace(S)/d, so ``shrinkage`` is unit-free
    (Ledoit & Wolf 2004's scaled-identity target; see the module docstring and
    :func:`ledoit_wolf_ridge`). The default 1e-2 is explained at ``DEFAULT_SHRINKAGE``.
    ``shrinkage=0`` inverts S itself and works only when S is positive definite. Solved through the
    Cholesky factor (LAPACK potrf/potri), which also checks positive definiteness.
    """
    S = _as_square(cov, "cov")
    if (
        isinstance(shrinkage, bool)
        or not isinstance(shrinkage, numbers.Real)
        or not math.isfinite(shrinkage)
        or shrinkage < 0
    ):
        raise ValueError(
            f"shrinkage must be a finite number >= 0 (ridge lambda = shrinkage * trace(cov)/d; default 1e-2), got {shrinkage!r}"
        )
    if not np.allclose(S, S.T, rtol=1e-10, atol=1e-12 * max(np.abs(S).max(), 1e-300)):
        raise ValueError("cov must be symmetric; pass a covariance matrix (e.g. FeatureCovariance.covariance)")
    d = S.shape[0]
    trace = float(np.trace(S))
    if trace <= 0:
        raise ValueError(f"cov has trace {trace:g} <= 0 (all features constant?); there is no variance to invert")
    lam = float(shrinkage) * trace / d
    factor, info = scipy.linalg.lapack.dpotrf(S + lam * np.eye(d), lower=1, clean=0)
    if info > 0:
        raise ValueError(
            f"cov + lambda I is not positive definite (lambda = {lam:g}, shrinkage = {shrinkage!r}); "
            "the covariance is singular or nearly so: use shrinkage > 0 (default 1e-2)"
        )
    inv, info = scipy.linalg.lapack.dpotri(factor, lower=1)
    if info != 0:
        raise ValueError(f"LAPACK dpotri failed (info = {info}) inverting cov + lambda I with lambda = {lam:g}")
    # potri fills the lower triangle only.
    inv = np.tril(inv) + np.tril(inv, -1).T
    return RegularisedInverse(precision=inv, lam=lam, shrinkage=float(shrinkage))


def ledoit_wolf_ridge(
    features, channels: Sequence[int] | None = None, max_features: int = DEFAULT_MAX_FEATURES
) -> float:
    """Ledoit-Wolf's optimal shrinkage intensity rho, as the ridge ``shrinkage`` s = rho / (1 - rho).

    rho is ``sklearn.covariance.ledoit_wolf_shrinkage`` of the flattened (and centred) features
    (the consistent estimate of the optimal intensity in Ledoit & Wolf 2004). Since
    (1 - rho) S + rho mu I = (1 - rho)(S + s mu I), passing s to :func:`regularised_inverse` gives
    the inverse of the Ledoit-Wolf estimate up to the factor 1 - rho (and N/(N-1), because
    scikit-learn uses the maximum-likelihood covariance). inf when rho = 1.
    """
    F, channels, d = _flattened_features(features, channels, max_features)
    n = len(F)
    X = np.asarray(F[:, list(channels)], dtype=np.float64).reshape(n, d)
    rho = float(ledoit_wolf_shrinkage(X))
    return math.inf if rho >= 1 else rho / (1 - rho)


# ------------------------------------------------------------------------------------ Toeplitz


@dataclass(frozen=True)
class BlockToeplitzFit:
    """Least-squares doubly block-Toeplitz approximation of a matrix on an H x W grid with C channels.

    ``kernel[c, c2, di + H - 1, dj + W - 1]`` is the mean of the entries M[(c, i, j), (c2, i', j')]
    with displacement (di, dj) = (i' - i, j' - j), and ``counts`` the number of such entries,
    (H - |di|)(W - |dj|). ``approximation`` is the d x d matrix T(M) built from ``kernel``; for a
    covariance, ``kernel[c, c2]`` is the (stationary) cross-covariance function of channels c and c2.
    """

    approximation: np.ndarray
    kernel: np.ndarray
    counts: np.ndarray

    @property
    def n_classes(self) -> int:
        """Dimension of the subspace of doubly block-Toeplitz matrices (number of displacement classes)."""
        return self.kernel.size


def _displacement_keys(n_channels: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column parts r, q of the class key: the class of entry (a, b) is r[a] + q[b].

    With P = (2H - 1)(2W - 1) displacements, the key (c * C + c2) * P + (i' - i + H - 1)(2W - 1)
    + (j' - j + W - 1) splits into a term of the row position (c, i, j) and one of the column
    position (c2, i', j'), so keys of a row block are one broadcast addition.
    """
    n_disp = (2 * height - 1) * (2 * width - 1)
    c, i, j = np.meshgrid(np.arange(n_channels), np.arange(height), np.arange(width), indexing="ij")
    c, i, j = c.ravel(), i.ravel(), j.ravel()
    row = c * n_channels * n_disp - i * (2 * width - 1) - j
    col = c * n_disp + i * (2 * width - 1) + j + (height - 1) * (2 * width - 1) + (width - 1)
    return row, col


def _project(M: np.ndarray, n_channels: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = M.shape[0]
    row, col = _displacement_keys(n_channels, height, width)
    n_keys = n_channels * n_channels * (2 * height - 1) * (2 * width - 1)
    step = max(1, _BLOCK_ENTRIES // d)
    sums = np.zeros(n_keys)
    for start in range(0, d, step):
        keys = row[start : start + step, None] + col[None, :]
        sums += np.bincount(keys.ravel(), weights=M[start : start + step].ravel(), minlength=n_keys)
    di = np.arange(-(height - 1), height)
    dj = np.arange(-(width - 1), width)
    per_pair = np.outer(height - np.abs(di), width - np.abs(dj)).ravel()
    counts = np.tile(per_pair, n_channels * n_channels)
    means = sums / counts
    T = np.empty_like(M)
    for start in range(0, d, step):
        T[start : start + step] = means[row[start : start + step, None] + col[None, :]]
    shape = (n_channels, n_channels, 2 * height - 1, 2 * width - 1)
    return T, means.reshape(shape), counts.reshape(shape)


def block_toeplitz_projection(M, n_channels: int, height: int, width: int) -> BlockToeplitzFit:
    """Best (Frobenius) doubly block-Toeplitz approximation T(M) of a d x d matrix, d = C*H*W.

    Every entry M[(c, i, j), (c2, i', j')] is replaced by the mean of all entries with the same
    channel pair (c, c2) and the same displacement (i' - i, j' - j): the orthogonal projection onto
    the block-Toeplitz subspace (module docstring). Vectorised: one ``np.bincount`` over the
    displacement keys per block of rows, O(d^2) time.
    """
    M = _as_square(M, "M")
    n_channels, height, width = _check_grid(M, n_channels, height, width, "M")
    T, kernel, counts = _project(M, n_channels, height, width)
    return BlockToeplitzFit(approximation=T, kernel=kernel, counts=counts)


@dataclass(frozen=True)
class ToeplitzCloseness:
    """Share of a matrix's energy off its best block-Toeplitz approximation, overall, interior and border.

    - ``total_share`` = ||M - T(M)||^2 / ||M||^2 over all ``n_entries`` = d^2 entries.
    - ``interior_share``: the same with T refitted on the ``n_interior`` entries whose row and column
      positions both lie at least ``border`` pixels from every image edge, i.e. the total share of
      M restricted to the interior (H - 2 border) x (W - 2 border) grid. It measures stationarity
      away from the borders; NaN when the interior is empty.
    - ``border_share``: over the other ``n_border`` entries (at least one position within ``border``
      pixels of an edge), ||M - T(M)||^2 / ||M||^2 with the fit T(M) to all entries, i.e. how far
      the border entries are from the displacement means they share with the rest. NaN when
      ``border`` = 0.

    A share is 0 when its entries have zero energy (the zero matrix is Toeplitz). ``fit`` is the
    fit to all entries (T(M), the kernel and the counts), for the heat maps; ``n_interior_classes``
    is the number of displacement classes of the interior fit.
    """

    total_share: float
    interior_share: float
    border_share: float
    n_entries: int
    n_interior: int
    n_border: int
    border: int
    n_interior_classes: int
    fit: BlockToeplitzFit

    @property
    def n_classes(self) -> int:
        return self.fit.n_classes


def _energy(M: np.ndarray) -> float:
    """Squared Frobenius norm, without a d x d temporary."""
    return float(np.vdot(M, M))


def _share(residual: float, energy: float) -> float:
    return 0.0 if energy == 0 else residual / energy


def toeplitz_closeness(M, n_channels: int, height: int, width: int, border: int = 1) -> ToeplitzCloseness:
    """How close M (d x d on a C-channel H x W grid) is to block-Toeplitz, with border effects apart.

    ``border`` is the width in pixels of the frame treated as border; a natural choice is half the
    receptive field of the layer in feature-map pixels (padding reaches that far into the map), which
    the caller knows. Default 1: the outermost ring, the only one a 3 x 3 zero-padded convolution
    touches. See :class:`ToeplitzCloseness` for the three shares.
    """
    M = _as_square(M, "M")
    n_channels, height, width = _check_grid(M, n_channels, height, width, "M")
    border = _check_int(border, "border", 0)
    T, kernel, counts = _project(M, n_channels, height, width)
    residual = M - T
    energy_all = _energy(M)
    residual_all = _energy(residual)
    d = M.shape[0]

    ih, iw = height - 2 * border, width - 2 * border
    c, i, j = np.meshgrid(
        np.arange(n_channels), np.arange(border, height - border), np.arange(border, width - border), indexing="ij"
    )
    inside = (c * height * width + i * width + j).ravel()
    outside = np.setdiff1d(np.arange(d), inside)
    if inside.size:
        M_in = M[np.ix_(inside, inside)]
        T_in, kernel_in, _ = _project(M_in, n_channels, ih, iw)
        interior_share = _share(_energy(M_in - T_in), _energy(M_in))
        n_interior_classes = kernel_in.size
    else:
        interior_share, n_interior_classes = math.nan, 0
    # Border entries: whole rows at border positions, plus interior rows at border columns (summed
    # directly rather than as total minus interior, which would cancel when the border share is tiny).
    if outside.size:
        border_energy = _energy(M[outside]) + _energy(M[np.ix_(inside, outside)])
        border_residual = _energy(residual[outside]) + _energy(residual[np.ix_(inside, outside)])
        border_share = _share(border_residual, border_energy)
    else:
        border_share = math.nan
    n_interior = inside.size**2
    return ToeplitzCloseness(
        total_share=_share(residual_all, energy_all),
        interior_share=interior_share,
        border_share=border_share,
        n_entries=d * d,
        n_interior=n_interior,
        n_border=d * d - n_interior,
        border=border,
        n_interior_classes=n_interior_classes,
        fit=BlockToeplitzFit(approximation=T, kernel=kernel, counts=counts),
    )


# ----------------------------------------------------------------------------- Gram, sparsity


@dataclass(frozen=True)
class GramMatrices:
    """``per_image[n]`` = F_n F_n^T / (H W) with F_n the C x HW flattened maps of image n; ``mean`` over images."""

    per_image: np.ndarray
    mean: np.ndarray


def gram_matrices(features) -> GramMatrices:
    """Per-image channel Gram matrices G_n[c, c2] = (1 / HW) sum_{i,j} F[n, c, i, j] F[n, c2, i, j].

    Gatys, Ecker & Bethge (arXiv 1508.06576, eq. (3)) use the plain sum; dividing by the number of
    positions HW makes G the mean product per position, comparable across layers and resolutions
    (their style loss, eq. (4), divides by (2 N M)^2 with M = HW for the same reason). Uncentred, as
    in the paper.
    """
    F = _as_features(features)
    n, c, h, w = F.shape
    X = np.asarray(F, dtype=np.float64).reshape(n, c, h * w)
    G = np.einsum("nck,ndk->ncd", X, X) / (h * w)
    return GramMatrices(per_image=G, mean=G.mean(axis=0))


def hoyer_sparsity(x, axis: int = -1) -> np.ndarray:
    """Hoyer's sparsity (sqrt(n) - ||x||_1 / ||x||_2) / (sqrt(n) - 1) of vectors along ``axis``.

    Hoyer (JMLR 2004, eq. (1)): 1 for a vector with a single nonzero entry, 0 when all entries have
    the same magnitude. NaN for an all-zero vector (undefined). Needs n >= 2 entries.
    """
    x = _as_array(x, "x").astype(np.float64, copy=False)
    if x.ndim == 0:
        raise ValueError("x must have at least one axis (the vectors' entries along `axis`)")
    n = x.shape[axis]
    if n < 2:
        raise ValueError(f"x needs at least 2 entries along axis {axis} for Hoyer's sparsity, got {n}")
    l1 = np.abs(x).sum(axis=axis)
    l2 = np.sqrt((x * x).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(l2 > 0, l1 / np.where(l2 > 0, l2, 1.0), np.nan)
    return (math.sqrt(n) - ratio) / (math.sqrt(n) - 1)


SPARSITY_COLUMNS = (
    "channel",
    "n_values",
    "zero_fraction",
    "eps",
    "near_zero_fraction",
    "mean_activation",
    "dead_map_fraction",
    "l1_over_l2",
    "hoyer",
    "hoyer_pooled",
)


def sparsity(features, eps: float = 0.0) -> pd.DataFrame:
    """Sparsity of feature maps per channel and overall, as a tidy table (one row per channel, then 'all').

    Columns (``channel`` is the channel index as a string, or ``"all"``):
    ``n_values`` activations in the row; ``zero_fraction`` of exact zeros (dead ReLU outputs);
    ``near_zero_fraction`` with |x| <= ``eps`` (equal to the zero fraction for eps = 0);
    ``mean_activation``; ``dead_map_fraction``, the share of maps (one image, one channel) that are
    all zero; ``l1_over_l2`` and ``hoyer`` (Hoyer 2004, eq. (1)) of each map's H*W values, averaged
    over the maps that are not all zero (NaN when H*W = 1, e.g. fully connected layers, or when
    every map is dead); ``hoyer_pooled``, Hoyer's sparsity of all the row's values pooled (a
    channel's lifetime sparsity over images and positions; for 'all', of the whole layer).
    """
    F = _as_features(features)
    eps = _check_nonnegative(eps, "eps", "activations with |x| <= eps count as near zero")
    n, c, h, w = F.shape
    X = np.asarray(F, dtype=np.float64).reshape(n, c, h * w)
    absX = np.abs(X)
    l1 = absX.sum(axis=2)
    l2 = np.sqrt((X * X).sum(axis=2))
    alive = l2 > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(alive, l1 / np.where(alive, l2, 1.0), np.nan)
    hoyer = (math.sqrt(h * w) - ratio) / (math.sqrt(h * w) - 1) if h * w > 1 else np.full_like(ratio, np.nan)

    def row(
        label: str, values: np.ndarray, maps_ratio: np.ndarray, maps_hoyer: np.ndarray, maps_alive: np.ndarray
    ) -> dict:
        any_alive = bool(maps_alive.any())
        flat = values.ravel()
        return {
            "channel": label,
            "n_values": flat.size,
            "zero_fraction": float(np.mean(flat == 0)),
            "eps": eps,
            "near_zero_fraction": float(np.mean(np.abs(flat) <= eps)),
            "mean_activation": float(flat.mean()),
            "dead_map_fraction": float(1 - maps_alive.mean()),
            "l1_over_l2": float(maps_ratio[maps_alive].mean()) if any_alive else math.nan,
            "hoyer": float(maps_hoyer[maps_alive].mean()) if any_alive else math.nan,
            "hoyer_pooled": float(hoyer_sparsity(flat)) if flat.size > 1 else math.nan,
        }

    rows = [row(str(k), X[:, k], ratio[:, k], hoyer[:, k], alive[:, k]) for k in range(c)]
    rows.append(row("all", X, ratio, hoyer, alive))
    return pd.DataFrame(rows, columns=list(SPARSITY_COLUMNS))


# ------------------------------------------------------------------------------------- summary


SUMMARY_COLUMNS = (
    "layer",
    "matrix",
    "region",
    "off_toeplitz_share",
    "n_entries",
    "n_toeplitz_classes",
    "border",
    "n_images",
    "n_channels",
    "height",
    "width",
    "n_features",
    "rank",
    "rank_deficient",
    "condition_number",
    "shrinkage",
    "ridge_lambda",
)


@dataclass(frozen=True)
class CovarianceStatistics:
    """A layer's covariance, its regularised inverse and their closeness to block-Toeplitz (for tables and heat maps)."""

    covariance: FeatureCovariance
    inverse: RegularisedInverse
    covariance_toeplitz: ToeplitzCloseness
    inverse_toeplitz: ToeplitzCloseness

    @property
    def regularised_condition_number(self) -> float:
        """Condition number of S + lambda I (and of its inverse): (e_max + lambda) / (e_min + lambda)."""
        e = np.clip(self.covariance.eigenvalues, 0.0, None)
        lam = self.inverse.lam
        return float((e[0] + lam) / (e[-1] + lam))

    def summary(self, layer: str) -> pd.DataFrame:
        """Tidy table: one row per matrix ('covariance', 'precision') and region ('total', 'interior', 'border').

        ``condition_number`` is that of the covariance S for 'covariance' rows and of S + lambda I
        (equal to its inverse's) for 'precision' rows.
        """
        if not isinstance(layer, str) or not layer:
            raise TypeError(f"layer must be a non-empty string naming the layer (e.g. 'conv2'), got {layer!r}")
        cov = self.covariance
        common = {
            "layer": layer,
            "n_images": cov.n_images,
            "n_channels": cov.n_channels,
            "height": cov.height,
            "width": cov.width,
            "n_features": cov.n_features,
            "rank": cov.rank,
            "rank_deficient": cov.rank_deficient,
            "shrinkage": self.inverse.shrinkage,
            "ridge_lambda": self.inverse.lam,
        }
        rows = []
        for matrix, closeness, cond in (
            ("covariance", self.covariance_toeplitz, cov.condition_number),
            ("precision", self.inverse_toeplitz, self.regularised_condition_number),
        ):
            for region, share, n_entries, n_classes in (
                ("total", closeness.total_share, closeness.n_entries, closeness.n_classes),
                ("interior", closeness.interior_share, closeness.n_interior, closeness.n_interior_classes),
                ("border", closeness.border_share, closeness.n_border, closeness.n_classes),
            ):
                rows.append(
                    common
                    | {
                        "matrix": matrix,
                        "region": region,
                        "off_toeplitz_share": share,
                        "n_entries": n_entries,
                        "n_toeplitz_classes": n_classes,
                        "border": closeness.border,
                        "condition_number": cond,
                    }
                )
        return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def covariance_statistics(
    features,
    channels: Sequence[int] | None = None,
    shrinkage: float = DEFAULT_SHRINKAGE,
    border: int = 1,
    max_features: int = DEFAULT_MAX_FEATURES,
) -> CovarianceStatistics:
    """Covariance of a layer's flattened maps, its regularised inverse, and the Toeplitz closeness of both.

    The inverse's interior share is that of the inverse's interior entries (not the inverse of the
    interior covariance), refitted as for the covariance.
    """
    cov = feature_covariance(features, channels=channels, max_features=max_features)
    inv = regularised_inverse(cov.covariance, shrinkage=shrinkage)
    grid = (cov.n_channels, cov.height, cov.width)
    return CovarianceStatistics(
        covariance=cov,
        inverse=inv,
        covariance_toeplitz=toeplitz_closeness(cov.covariance, *grid, border=border),
        inverse_toeplitz=toeplitz_closeness(inv.precision, *grid, border=border),
    )


def covariance_summary(
    features,
    layer: str,
    channels: Sequence[int] | None = None,
    shrinkage: float = DEFAULT_SHRINKAGE,
    border: int = 1,
    max_features: int = DEFAULT_MAX_FEATURES,
) -> pd.DataFrame:
    """The parquet table of a layer's covariance statistics: ``covariance_statistics(...).summary(layer)``."""
    # Checked before the O(d^3) work rather than after it.
    if not isinstance(layer, str) or not layer:
        raise TypeError(f"layer must be a non-empty string naming the layer (e.g. 'conv2'), got {layer!r}")
    return covariance_statistics(
        features, channels=channels, shrinkage=shrinkage, border=border, max_features=max_features
    ).summary(layer)


def default_border(size: int, stride: int) -> int:
    """Map positions counted as border: those whose receptive field (``size`` input pixels, one map
    step = ``stride`` pixels) can reach past the image edge, ceil((size - stride) / (2 stride)), at least 1."""
    return max(1, -(-(size - stride) // (2 * stride)))


def statistics_grid(
    n_channels: int, receptive_field: tuple[int, int], *, channels: int, border: int | None
) -> tuple[list[int], int]:
    """What the statistics of a layer with ``n_channels`` channels and ``receptive_field`` (size,
    stride) cover: its first ``channels`` channels, and ``border`` map positions counted as border
    (None: :func:`default_border` of the receptive field)."""
    chosen = list(range(min(channels, n_channels)))
    return chosen, (border if border is not None else default_border(*receptive_field))
