"""Random image patches and their PCA whitening, the preprocessing of the learned patch priors.

Hyvärinen, Hurri & Hoyer, *Natural Image Statistics* (Springer 2009), ch. 5.2-5.3 and its accompanying
MATLAB code: patches are sampled at random positions, their DC component (the patch mean)
is removed, and they are whitened by PCA, keeping only the leading principal components (the
dimension reduction also acts as a low-pass filter that drops the noisiest, highest frequencies):

    z = Lambda^(-1/2) E^T (C x - mu),    C = I - (1/d) 1 1^T  (DC removal, or C = I),

with mu the mean of the DC-removed patches and (E, Lambda) the leading eigenvectors and
eigenvalues of their covariance. Every step is linear or affine, so a filter w applied to the
whitened patch equals a pixel-space filter f applied to the raw patch plus a bias,

    w^T z = f^T x + b,    f = C E Lambda^(-1/2) w,    b = -w^T Lambda^(-1/2) E^T mu,

which is what lets a prior learned in the whitened space be evaluated on all overlapping patches
of an image by one convolution (the Markov-random-field argument of the "Deep Restoration" study,
eq. 9). Patches are flattened channel first, then rows, then columns -- the order of
``torch.nn.functional.unfold`` and of a ``conv2d`` weight ``(K, C, size, size)`` -- so the same
code serves grey, colour and feature-map patches (C = a layer's channels).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch

# Principal components whose variance is below this fraction of the largest are numerically null
# (the DC direction after DC removal has variance ~1e-16 relative) and cannot be whitened.
DEFAULT_EPS = 1e-10


def extract_patches(images, size: int, n: int, seed: int | torch.Generator = 0) -> torch.Tensor:
    """``n`` random ``size`` x ``size`` patches of ``images`` (N x C x H x W), shape n x (C*size*size).

    Each patch is drawn independently and uniformly over the N * (H - size + 1) * (W - size + 1)
    (image, top-left position) pairs, i.e. with replacement, as in Hyvärinen et al.'s
    ``sampleimages`` (Natural Image Statistics, ch. 5.2). Flattening is channel, row, column (the
    order of ``unfold`` and of a ``conv2d`` weight). The dtype and device of ``images`` are kept;
    positions come from ``seed`` (an int or a ``torch.Generator``, used on the CPU so a seed gives
    the same patches on every device).
    """
    images = _check_images(images, "images")
    size = _check_int(size, "size", 1)
    n = _check_int(n, "n", 1)
    N, C, H, W = images.shape
    if size > H or size > W:
        raise ValueError(f"size={size} does not fit in images of height {H} and width {W}; use size <= {min(H, W)}")
    generator = _generator(seed)
    image_index = torch.randint(N, (n,), generator=generator)
    rows = torch.randint(H - size + 1, (n,), generator=generator)
    cols = torch.randint(W - size + 1, (n,), generator=generator)
    offsets = torch.arange(size)
    device = images.device
    index = (
        image_index.to(device)[:, None, None, None],
        torch.arange(C, device=device)[None, :, None, None],
        (rows[:, None] + offsets).to(device)[:, None, :, None],
        (cols[:, None] + offsets).to(device)[:, None, None, :],
    )
    return images[index].reshape(n, C * size * size)


@dataclass
class Whitening:
    """PCA whitening of flattened patches with optional DC removal (Natural Image Statistics, ch. 5.3).

    ``mean`` (d,): mean of the (DC-removed) training patches; ``components`` (d x m): the m leading
    principal directions as columns, ``variances`` (m,): their variances (descending);
    ``remove_dc``: whether each patch's mean over all its entries is subtracted first. Tensors are
    float64 on the CPU.
    """

    mean: torch.Tensor
    components: torch.Tensor
    variances: torch.Tensor
    remove_dc: bool

    @property
    def input_dim(self) -> int:
        """d, the length of a flattened raw patch (C * size * size)."""
        return self.components.shape[0]

    @property
    def n_components(self) -> int:
        """m, the dimension of the whitened patches."""
        return self.components.shape[1]

    @property
    def matrix(self) -> torch.Tensor:
        """The m x d whitening matrix V = Lambda^(-1/2) E^T C with the DC removal C folded in."""
        scaled = self.components / self.variances.sqrt()
        if self.remove_dc:
            scaled = scaled - scaled.mean(dim=0, keepdim=True)
        return scaled.T

    @property
    def offset(self) -> torch.Tensor:
        """The (m,) offset c = -Lambda^(-1/2) E^T mu, so that z = V x + c."""
        return -(self.mean @ self.components) / self.variances.sqrt()

    def transform(self, patches) -> torch.Tensor:
        """Whitened patches z = Lambda^(-1/2) E^T (C x - mu), n x m, in float64.

        Computed step by step (DC removal, centring, projection, scaling) rather than through
        :attr:`matrix`, so that :meth:`pixel_filters` can be checked against it.
        """
        x = _check_patches(patches, "patches", self.input_dim)
        if self.remove_dc:
            x = x - x.mean(dim=1, keepdim=True)
        return ((x - self.mean) @ self.components) / self.variances.sqrt()

    def pixel_filters(self, W) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel-space filters and biases of whitened-space filters ``W`` (K x m): (F (K x d), b (K,)).

        w_k^T transform(x) = f_k^T x + b_k exactly (up to rounding), with f = V^T w and b = w^T c;
        with DC removal every f_k sums to zero, the patch mean being invisible to the prior.
        """
        W = _check_filters(W, self.n_components)
        return W @ self.matrix, W @ self.offset

    def pixel_patterns(self, W) -> torch.Tensor:
        """The pixel-space patterns E Lambda^(1/2) w of whitened-space vectors ``W`` (K x m), K x d.

        A pattern is the (DC-free, centred) raw patch whose whitened version is w: the "feature"
        or basis-vector view of a filter in Hyvärinen et al.'s figures, smoother than the filter
        itself because whitening amplifies high frequencies.
        """
        W = _check_filters(W, self.n_components)
        return (W * self.variances.sqrt()) @ self.components.T


def fit_whitening(
    patches,
    n_components: int | None = None,
    remove_dc: bool = True,
    eps: float = DEFAULT_EPS,
) -> Whitening:
    """Fit PCA whitening to ``patches`` (n x d): optional DC removal, centring, PCA, unit variances.

    ``n_components`` leading components are kept (Hyvärinen et al.'s dimension reduction, e.g. a
    quarter or half of d for natural images); ``None`` keeps every component whose variance exceeds
    ``eps`` times the largest, which drops the null DC direction after DC removal. The covariance
    uses the unbiased 1/(n-1) normalisation, so the whitened training patches have exactly the
    identity covariance of ``numpy.cov``. Eigenvector signs are fixed (largest-magnitude entry
    positive) so a fit is reproducible.
    """
    x = _check_patches(patches, "patches", None)
    if not isinstance(remove_dc, bool):
        raise TypeError(f"remove_dc must be True or False, got {remove_dc!r}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not (0 < eps < 1):
        raise ValueError(
            f"eps must be a number in (0, 1) (the relative variance below which a component is null), got {eps!r}"
        )
    n, d = x.shape
    if n < 2:
        raise ValueError(f"patches needs at least 2 rows to estimate a covariance, got {n}")
    # Rounding of the DC removal leaves variances ~1e-32 of the squared data scale: count them as 0.
    floor = eps * eps * float(x.square().mean())
    if remove_dc:
        x = x - x.mean(dim=1, keepdim=True)
    mean = x.mean(dim=0)
    centred = x - mean
    variances, vectors = torch.linalg.eigh(centred.T @ centred / (n - 1))
    variances, vectors = variances.flip(0), vectors.flip(1)
    if variances[0] <= floor:
        raise ValueError("patches are all identical (after DC removal); whitening needs patches with some variance")
    n_valid = int((variances > eps * variances[0]).sum())
    if n_components is None:
        n_components = n_valid
    else:
        n_components = _check_int(n_components, "n_components", 1)
        if n_components > n_valid:
            raise ValueError(
                f"n_components={n_components} but the patches have only {n_valid} principal components with non-null variance "
                f"(d={d}, n={n}{', one direction lost to DC removal' if remove_dc else ''}); use n_components <= {n_valid} or more patches"
            )
    vectors = vectors[:, :n_components]
    signs = torch.sign(vectors.gather(0, vectors.abs().argmax(dim=0, keepdim=True)))
    return Whitening(
        mean=mean,
        components=vectors * signs,
        variances=variances[:n_components].clone(),
        remove_dc=remove_dc,
    )


def patch_side(dim: int, channels: int) -> int:
    """The side s of square patches of ``channels`` channels and ``dim`` = channels * s^2 entries."""
    side = math.isqrt(dim // channels) if dim % channels == 0 else 0
    if side * side * channels != dim:
        raise ValueError(
            f"patches of {dim} entries are not square patches of {channels} channels (C * size * size); "
            "pass images with the channel count the prior was trained on"
        )
    return side


def _generator(seed) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or a torch.Generator, got {type(seed).__name__}")
    return torch.Generator().manual_seed(int(seed))


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_tensor(x, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got dtype {x.dtype}; convert it with .float() (images in [0, 1])"
        )
    return x


def _check_finite(x: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(x).all()):
        raise ValueError(
            f"{name} contains NaN or inf ({int((~torch.isfinite(x)).sum())} entries); clean or impute it first"
        )


def _check_images(images, name: str) -> torch.Tensor:
    images = _as_tensor(images, name)
    if images.ndim != 4:
        raise ValueError(
            f"{name} must be 4-D (N x C x H x W), got shape {tuple(images.shape)}; add the batch axis with {name}[None]"
        )
    if 0 in images.shape:
        raise ValueError(f"{name} is empty (shape {tuple(images.shape)})")
    _check_finite(images, name)
    return images


def _check_patches(patches, name: str, dim: int | None) -> torch.Tensor:
    """``patches`` as an n x d float64 CPU tensor, checked (d = ``dim`` when given)."""
    patches = _as_tensor(patches, name)
    if patches.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n patches x d entries), got shape {tuple(patches.shape)}; flatten each patch first"
        )
    if dim is not None and patches.shape[1] != dim:
        raise ValueError(
            f"{name} has {patches.shape[1]} entries per patch but {dim} were expected (C * size * size of the fitted patches)"
        )
    if patches.shape[0] == 0 or patches.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(patches.shape)})")
    _check_finite(patches, name)
    return patches.detach().to("cpu", torch.float64)


def _check_filters(W, dim: int) -> torch.Tensor:
    W = _as_tensor(W, "W")
    if W.ndim != 2 or W.shape[1] != dim:
        raise ValueError(f"W must be K filters x {dim} (the whitened dimension), got shape {tuple(W.shape)}")
    _check_finite(W, "W")
    return W.to("cpu", torch.float64)
