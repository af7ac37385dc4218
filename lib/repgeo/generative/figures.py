"""Figures of the generative branch: metric curves over training (Knop et al., "Sliced generative
models", Figures 3-4), image sheets of test reconstructions, random samples and latent
interpolations (Figures 1-2) and the images they show, and the rendered Table 1."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from ..html import html_page, html_table  # noqa: E402
from ..plotting import tile_images  # noqa: E402

# Curves shown in the figure, with the target each metric approaches for a code distribution
# equal to N(0, I) (None: lower is better, no fixed target). Every metric is in the parquet table.
CURVES: dict[str, str] = {
    "reconstruction_error": "test reconstruction error",
    "mardia_skewness": "Mardia skewness vs N(0, I) (target 0)",
    "mardia_kurtosis_normalised": "|Mardia kurtosis - D(D+2)| (target 0)",
    "sw_latent": "sliced W2 of codes to N(0, I)",
    "cw_latent": "Cramér-Wold distance of codes to N(0, I)",
    "fd_classifier": "Fréchet distance, in-workflow classifier features",
    "kid_classifier": "KID, in-workflow classifier features",
    "sw_pixels": "sliced W2, generated vs test pixels",
    "fid": "FID (Inception weights supplied by the user)",
}
LOG_SCALE = {
    "mardia_skewness",
    "mardia_kurtosis_normalised",
    "sw_latent",
    "cw_latent",
    "fd_classifier",
    "sw_pixels",
    "fid",
}
# Signed metrics drawn as their magnitude (the table keeps the sign: b2 - D(D+2) of Knop et al.'s Table 1).
MAGNITUDE = {"mardia_kurtosis_normalised"}


def plot_curves(metrics: pd.DataFrame, title: str) -> plt.Figure:
    """One panel per metric of :data:`CURVES` present in ``metrics`` (long: model, epoch, columns)."""
    shown = [m for m in CURVES if m in metrics.columns and metrics[m].notna().any()]
    cols = 3
    rows = math.ceil(len(shown) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, shown, strict=False):
        for model, part in metrics.groupby("model", sort=False):
            part = part.sort_values("epoch")
            ax.plot(
                part["epoch"],
                part[metric].abs() if metric in MAGNITUDE else part[metric],
                marker="o",
                ms=2.5,
                lw=1.2,
                label=model,
            )
        ax.set_title(CURVES[metric], fontsize=9)
        ax.set_xlabel("epoch")
        if metric in LOG_SCALE and ((metrics[metric].abs() if metric in MAGNITUDE else metrics[metric]) > 0).all():
            ax.set_yscale("log")
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_sheets(sheets: Mapping[str, np.ndarray], rows: int, cols: int, title: str) -> plt.Figure:
    """One mosaic per model (``sheets[model]``: rows * cols images, C x H x W in [0, 1])."""
    n = len(sheets)
    per_row = min(n, 4)
    grid_rows = math.ceil(n / per_row)
    fig, axes = plt.subplots(
        grid_rows, per_row, figsize=(3.2 * per_row, 3.2 * grid_rows * rows / cols + 0.4), squeeze=False
    )
    for ax, (model, images) in zip(axes.flat, sheets.items(), strict=False):
        mosaic = tile_images(np.asarray(images, dtype=np.float64), rows, cols)
        ax.imshow(
            mosaic[..., 0] if mosaic.shape[-1] == 1 else mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest"
        )
        ax.set_title(model, fontsize=9)
        ax.axis("off")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def reconstruction_rows(originals: np.ndarray, reconstructions: np.ndarray, cols: int) -> np.ndarray:
    """Interleave rows of ``cols`` originals and their reconstructions (odd rows originals, as in
    the paper's Figure 1)."""
    pairs = len(originals) // cols
    out: list[np.ndarray] = []
    for r in range(pairs):
        out += [originals[r * cols : (r + 1) * cols], reconstructions[r * cols : (r + 1) * cols]]
    return np.concatenate(out)


# The columns of Table 1 (besides latent_dim), in order; a metric a run has not measured is left out.
TABLE_METRICS = (
    "reconstruction_error",
    "mardia_skewness",
    "mardia_kurtosis",
    "mardia_kurtosis_normalised",
    "mardia_test_skewness_p",
    "mardia_test_kurtosis_p",
    "sw_latent",
    "cw_latent",
    "fd_classifier",
    "kid_classifier",
    "sw_pixels",
    "fid",
    "kid_inception",
)


def table_note(last: pd.DataFrame, dataset: str) -> str:
    """What Table 1 (``last``: :func:`~repgeo.generative.evaluation.last_epochs`) measures and how."""
    version = ", ".join(sorted(set(last["feature_net_version"])))
    return (
        f"Last epoch of every model on {dataset} ({int(last['n_test'].iloc[0])} test images). fd_/kid_classifier: Fréchet and kernel "
        f"distances in the features of a classifier trained in this workflow (test accuracy {last['feature_net_accuracy'].iloc[0]:.3f}, "
        f"version {version}); these are not FID. Mardia statistics are measured against N(0, I) (targets 0 and 0); "
        "mardia_test_*_p are the p-values of the standardised Mardia test."
    )


def table_html(table: pd.DataFrame, metrics: Sequence[str], title: str, note: str) -> str:
    """Table 1 as a page of :mod:`repgeo.html`: one row per dataset x model x epoch, one column per
    metric present, four significant digits."""
    shown = table.set_index(["dataset", "model", "epoch"])[[m for m in metrics if m in table.columns]]
    return html_page(title, html_table(shown, index=True, digits=4), note=note)


# --- image sheets of the last epoch -----------------------------------------------------------------

SHEET_TITLES = {
    "reconstructions": "test images (odd rows) and their reconstructions (even rows)",
    "samples": "decoded samples of N(0, I)",
    "interpolations": "decoded linear interpolations between the codes of two test images",
}


def sheet_picks(n_test: int, rows: int, columns: int, seed: int) -> torch.Tensor:
    """Positions of the test images shown in the sheets: ``rows`` x ``columns`` (at most all)
    distinct ones drawn from ``seed``, the same for every model."""
    rng = np.random.default_rng(int(seed))
    return torch.as_tensor(rng.choice(n_test, size=min(n_test, columns * rows), replace=False))


def sheet_images(
    model, X_test: torch.Tensor, pick: torch.Tensor, *, rows: int, columns: int, seed: int
) -> dict[str, np.ndarray]:
    """The images of one model's three sheets (Knop et al., Figures 1-2), C x H x W in [0, 1] each:
    ``reconstructions``: rows of ``columns`` picked test images alternating with their
    reconstructions; ``samples``: ``rows`` x ``columns`` decodings of N(0, I) draws from ``seed``;
    ``interpolations``: per row, the decoded interpolation in ``columns`` steps between the codes
    of two picked test images (the first ``rows`` picks and the next ``rows``, or the first in
    reverse order when there are too few)."""
    from .evaluation import decode, encode, interpolations, prior_codes

    originals = X_test[pick[: (rows // 2) * columns]]
    recon = reconstruction_rows(originals.numpy(), decode(model, encode(model, originals)).numpy(), columns)
    generated = decode(model, prior_codes(rows * columns, model.latent_dim, int(seed))).numpy()
    a, b = (
        X_test[pick[:rows]],
        X_test[pick[rows : 2 * rows]] if len(pick) >= 2 * rows else X_test[pick[:rows].flip(0)],
    )
    interp = interpolations(model, a, b, columns).reshape(-1, *model.image_shape).numpy()
    return {"reconstructions": recon, "samples": generated, "interpolations": interp}


def sheet_rows(sheet: str, rows: int) -> int:
    """Rows of a drawn sheet: ``rows``, or the even number of rows of original/reconstruction pairs."""
    return 2 * (rows // 2) if sheet == "reconstructions" else rows
