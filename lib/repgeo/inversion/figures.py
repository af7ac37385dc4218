"""Figures of the inversion branch (the "Deep Restoration" study): feature-map covariance heat maps
(Figure 4), inverter reconstructions with the two error images (Figures 5-7), the learned filter
sheet (Figure 8), pre-image sheets (Figures 9-10) and the per-layer comparison of methods. Every
number a figure shows is also in the branch's parquet tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from ..plotting import tile_images  # noqa: E402
from .feature_stats import CovarianceStatistics  # noqa: E402
from .priors import PatchPrior, filter_sheet  # noqa: E402


def _show(ax, mosaic: np.ndarray, title: str) -> None:
    ax.imshow(mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _symmetric(ax, M: np.ndarray, title: str) -> None:
    v = float(np.abs(M).max()) or 1.0
    im = ax.imshow(M, cmap="RdBu_r", vmin=-v, vmax=v, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.02)


def plot_feature_statistics(stats: CovarianceStatistics, gram: np.ndarray, title: str) -> plt.Figure:
    """Covariance, its block-Toeplitz approximation, the regularised inverse and its approximation,
    and the mean Gram matrix (the "Deep Restoration" study, Figure 4); the shares are those of the statistics table."""
    cov, inv = stats.covariance_toeplitz, stats.inverse_toeplitz
    panels = [
        (
            stats.covariance.covariance,
            f"covariance (off-Toeplitz {cov.total_share:.3f}, interior {cov.interior_share:.3f})",
        ),
        (cov.fit.approximation, "best block-Toeplitz approximation"),
        (
            stats.inverse.precision,
            f"regularised inverse (off-Toeplitz {inv.total_share:.3f}, interior {inv.interior_share:.3f})",
        ),
        (inv.fit.approximation, "its block-Toeplitz approximation"),
        (np.asarray(gram), "mean Gram matrix (channels)"),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4))
    for ax, (M, name) in zip(axes, panels, strict=True):
        _symmetric(ax, M, name)
    fig.suptitle(f"{title}; entries ordered (channel, row, column)", fontsize=10)
    fig.tight_layout()
    return fig


def _np(images: torch.Tensor) -> np.ndarray:
    return np.asarray(images.detach().cpu(), dtype=np.float64)


def plot_inverter_sheets(
    originals: torch.Tensor,
    sheets: Mapping[tuple[str, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
    title: str,
) -> plt.Figure:
    """One row of held-out originals, then per (layer, regime) its reconstructions, the
    channel-accurate signed error (gray = no error) and the renormalised absolute error."""
    cols = len(originals)
    rows = [("held-out originals", _np(originals))]
    for (layer, regime), (recon, signed, absolute) in sheets.items():
        rows += [
            (f"{layer}, {regime}: reconstruction", _np(recon)),
            (f"{layer}, {regime}: signed error", _np(signed)),
            (f"{layer}, {regime}: |error|", _np(absolute)),
        ]
    fig, axes = plt.subplots(len(rows), 1, figsize=(1.0 * cols + 0.5, 1.25 * len(rows) + 0.4), squeeze=False)
    for ax, (name, images) in zip(axes[:, 0], rows, strict=True):
        _show(ax, tile_images(images, 1, cols), name)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_filter_sheet(prior: PatchPrior, channels: int, title: str) -> plt.Figure:
    """The pixel-space filters of a learned patch prior, sorted by weight alpha (the "Deep Restoration"
    study, Figure 8)."""
    sheet = filter_sheet(prior, channels=channels)
    fig, ax = plt.subplots(figsize=(7, 7 * sheet.shape[0] / sheet.shape[1] + 0.4))
    ax.imshow(sheet, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_comparison(table: pd.DataFrame, layers: Sequence[str], title: str) -> plt.Figure:
    """Mean SSIM, PSNR and MSE (with standard deviations over images) per layer and method."""
    metrics = [
        ("ssim", "SSIM (higher is better)"),
        ("psnr", "PSNR dB (higher is better)"),
        ("mse", "image MSE (lower is better)"),
    ]
    methods = list(dict.fromkeys(table["method"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.6))
    x = np.arange(len(layers))
    width = 0.8 / max(1, len(methods))
    for ax, (metric, name) in zip(axes, metrics, strict=True):
        for k, method in enumerate(methods):
            part = table[table["method"] == method].set_index("layer").reindex(layers)
            ax.bar(
                x + (k - (len(methods) - 1) / 2) * width,
                part[f"{metric}_mean"],
                width,
                yerr=part[f"{metric}_std"],
                label=method,
                capsize=2,
            )
        ax.set_xticks(x, layers)
        ax.set_title(name, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_preimage_sheets(results: Sequence[Mapping], layers: Sequence[str], title: str) -> plt.Figure:
    """Per layer: the held-out originals, then one row of pre-images per method."""
    by_layer: dict[str, list[Mapping]] = {layer: [] for layer in layers}
    for r in results:
        by_layer.setdefault(r["layer"], []).append(r)
    rows: list[tuple[str, np.ndarray]] = []
    for layer in layers:
        if not by_layer[layer]:
            continue
        rows.append((f"{layer}: originals", _np(by_layer[layer][0]["originals"])))
        rows += [(f"{layer}: {r['method']}", np.clip(_np(r["preimages"]), 0, 1)) for r in by_layer[layer]]
    cols = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), 1, figsize=(max(3.0, 1.1 * cols + 0.5), 1.3 * len(rows) + 0.4), squeeze=False)
    for ax, (name, images) in zip(axes[:, 0], rows, strict=True):
        _show(ax, tile_images(images, 1, cols), name)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
