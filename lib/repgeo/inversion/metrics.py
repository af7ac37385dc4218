"""Error measures of an inversion, per image: in the representation and in the image.

* Normalised representation error ‖Φ(x*) − Φ₀‖² / ‖Φ₀‖², the quantity the pre-image optimiser
  minimises (Mahendran & Vedaldi, CVPR 2015 and IJCV 2016, the data term of their objective), and its square root
  ‖Φ(x*) − Φ₀‖ / ‖Φ₀‖, the "normalised reconstruction error" that the IJCV figures average over
  images.
* Image MSE, PSNR and SSIM in [0, 1] units after clipping, added to M&V's feature-space error because
  deep-layer pre-images are not expected to match pixels (SSIM: Wang, Bovik, Sheikh & Simoncelli,
  IEEE TIP 2004, computed by scikit-image).
* The image reconstruction error of Dosovitskiy & Brox (CVPR 2016, their quantitative evaluation): ‖x − y‖ divided by
  the average Euclidean distance between two evaluation images, so that 1 is about as far as a
  random other image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from skimage.metrics import structural_similarity

# scikit-image's default SSIM window (7 x 7, uniform), shrunk for images smaller than it.
SSIM_WINDOW = 7


def _as_tensor(a: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(a)
    if not t.is_floating_point():
        t = t.double()
    if t.ndim < 2 or t.shape[0] < 1 or t[0].numel() < 1:
        raise ValueError(f"{name} must be a batch (N x ...) of at least one non-empty item, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return t


def normalised_squared_error(phi_x: torch.Tensor, phi0: torch.Tensor) -> torch.Tensor:
    """‖Φ(x) − Φ₀‖² / ‖Φ₀‖² per image (shape (N,)) for batches of representations N x ..., differentiable.

    No input validation (the optimiser calls it every iteration); :func:`representation_error`
    validates. The data term of Mahendran & Vedaldi, IJCV 2016, without its weight C.
    """
    diff = (phi_x - phi0).flatten(1)
    return (diff * diff).sum(dim=1) / phi0.flatten(1).pow(2).sum(dim=1)


def representation_error(phi_x: Any, phi0: Any) -> pd.DataFrame:
    """Normalised representation error of each image: one row per image of the batch.

    Columns ``normalised_error`` = ‖Φ(x) − Φ₀‖² / ‖Φ₀‖² and ``relative_error`` = its square root.
    ``phi_x`` and ``phi0`` are batches of representations of the same shape (N x ...), tensors or arrays.
    """
    a = _as_tensor(phi_x, "phi_x").detach().double()
    b = _as_tensor(phi0, "phi0").detach().double().to(a.device)
    if a.shape != b.shape:
        raise ValueError(f"phi_x and phi0 must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    zero = b.flatten(1).abs().sum(dim=1) == 0
    if bool(zero.any()):
        raise ValueError(
            f"phi0 is zero for images {torch.nonzero(zero).flatten().tolist()}; the normalised error is undefined (nothing to invert)"
        )
    err = normalised_squared_error(a, b).cpu().numpy()
    return pd.DataFrame({"normalised_error": err, "relative_error": np.sqrt(err)})


def _image_pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    a = _as_tensor(x, "x").detach().double().cpu()
    b = _as_tensor(y, "y").detach().double().cpu()
    if a.ndim != 4:
        raise ValueError(f"x and y must be image batches N x C x H x W in [0, 1], got shape {tuple(a.shape)}")
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    return a.clamp(0.0, 1.0).numpy(), b.clamp(0.0, 1.0).numpy()


def ssim_window(height: int, width: int, win_size: int = SSIM_WINDOW) -> int:
    """The SSIM window used for an image of this size: ``win_size``, or the largest odd size ≤ min(height, width)."""
    if isinstance(win_size, bool) or not isinstance(win_size, int) or win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"win_size must be an odd integer >= 3, got {win_size!r}")
    side = min(height, width)
    if side < 3:
        raise ValueError(f"SSIM needs images of at least 3 x 3 pixels, got {height} x {width}")
    return min(win_size, side if side % 2 == 1 else side - 1)


def image_metrics(x: Any, y: Any, win_size: int = SSIM_WINDOW) -> pd.DataFrame:
    """MSE, PSNR and SSIM of each reconstruction in ``x`` against its original in ``y``: one row per image.

    ``x`` and ``y`` are batches N x C x H x W in [0, 1] (tensors or arrays), clipped to [0, 1] first.
    ``mse`` is the mean over pixels and channels of the squared difference; ``psnr`` = 10 log10(1 / mse)
    in dB (data range 1), stored as +inf for identical images (so means and rankings stay correct:
    a perfect reconstruction ranks first). ``ssim`` is ``skimage.metrics.structural_similarity`` with
    ``data_range=1``, its default uniform window of 7 x 7 pixels (shrunk to the largest odd size that
    fits images smaller than 7 pixels; see :func:`ssim_window`) and the channels as ``channel_axis``
    (the mean of the per-channel SSIMs); single-channel images are compared as 2-D arrays.
    """
    a, b = _image_pair(x, y)
    window = ssim_window(a.shape[2], a.shape[3], win_size)
    mse = ((a - b) ** 2).reshape(a.shape[0], -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        psnr = np.where(mse > 0, 10.0 * np.log10(1.0 / np.maximum(mse, np.finfo(float).tiny)), np.inf)
    ssim = np.empty(a.shape[0])
    for n in range(a.shape[0]):
        if a.shape[1] == 1:
            ssim[n] = structural_similarity(a[n, 0], b[n, 0], data_range=1.0, win_size=window)
        else:
            ssim[n] = structural_similarity(a[n], b[n], data_range=1.0, win_size=window, channel_axis=0)
    return pd.DataFrame({"mse": mse, "psnr": psnr, "ssim": ssim})


def normalised_image_error(x: Any, y: Any, images: Any) -> np.ndarray:
    """‖x_n − y_n‖ / (mean pairwise Euclidean distance between ``images``) for each image n, shape (N,).

    Dosovitskiy & Brox, CVPR 2016: the reconstruction error of an inverter normalised so
    that 1 is the typical distance between two different images. ``x`` (reconstructions) and ``y``
    (originals) are batches of the same shape; ``images`` is the evaluation set (at least 2 images of
    the same per-image shape), all in the same units (the ratio does not depend on them, so nothing
    is clipped). The mean is over the M(M − 1)/2 distinct pairs.
    """
    a = _as_tensor(x, "x").detach().double().cpu()
    b = _as_tensor(y, "y").detach().double().cpu()
    ref = _as_tensor(images, "images").detach().double().cpu()
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if ref.shape[1:] != a.shape[1:]:
        raise ValueError(f"images must have the per-image shape of x {tuple(a.shape[1:])}, got {tuple(ref.shape[1:])}")
    if ref.shape[0] < 2:
        raise ValueError(f"images must hold at least 2 images to define a pairwise distance, got {ref.shape[0]}")
    scale = float(torch.pdist(ref.flatten(1)).mean())
    if scale == 0:
        raise ValueError("images are all identical; their mean pairwise distance is 0 and cannot normalise the error")
    return ((a - b).flatten(1).norm(dim=1) / scale).numpy()


# Image metrics of every method in the comparison (the pre-images add their representation errors).
COMPARED_METRICS = ("mse", "psnr", "ssim")


def comparison_table(inverters: pd.DataFrame, preimages: pd.DataFrame, layers: list[str]) -> pd.DataFrame:
    """Mean, sd and count of every metric per layer, family and method (the "Deep Restoration"
    study, Figures 9-10): ``inverters`` (one row per image, regime and layer: mse, psnr, ssim;
    family "trained inverter", method ``inverter_{regime}``) and ``preimages`` (one row per image,
    method and layer, with the representation errors too; family "hand-made prior" for tv,
    "learned image + feature priors" for the ``*_features`` methods, else "learned prior"). Rows
    follow ``layers``, then family and method in alphabetical order."""
    inv = inverters.assign(method="inverter_" + inverters["regime"], family="trained inverter")
    pre = preimages.assign(
        family=np.select(
            [preimages["method"] == "tv", preimages["method"].str.endswith("_features")],
            ["hand-made prior", "learned image + feature priors"],
            "learned prior",
        )
    )
    metrics = list(COMPARED_METRICS)
    rows = pd.concat(
        [
            inv[["family", "method", "layer", *metrics]],
            pre[["family", "method", "layer", *metrics, "normalised_error", "relative_error"]],
        ],
        ignore_index=True,
    )
    table = rows.groupby(["layer", "family", "method"], sort=False).agg(["mean", "std", "count"])
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    table = table.reset_index()
    order = {layer: i for i, layer in enumerate(layers)}
    return table.sort_values(
        ["layer", "family", "method"], key=lambda c: c.map(order) if c.name == "layer" else c
    ).reset_index(drop=True)
