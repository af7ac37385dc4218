"""Figures of a geometry run: pointwise dimension and scalar curvature on a 3-D view of the
points, and curvature by attribute.

Arnold 2025 (the CelebA study, Figures 3.3 and 3.4) colours the first three diffusion coordinates
of its embedding by Jones 2024's pointwise dimension and scalar curvature; a run on a dataset's
rows is shown on its first three coordinates (three or fewer) or on its top three principal
components.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..plotting import plot_attribute_effects, plot_embedding

#: The principal components of the 3-D view are computed from at most about this many rows
#: (every ``len(X) // PCA_MAX_ROWS``-th row).
PCA_MAX_ROWS = 20_000
#: The curvature colour scale is clipped at this quantile of |S|, so a few extreme points do not
#: wash out the rest.
CURVATURE_CLIP_QUANTILE = 0.95


def principal_components(X: np.ndarray, n: int = 3, max_rows: int = PCA_MAX_ROWS) -> np.ndarray:
    """The centred rows of ``X`` projected on their top ``n`` principal directions, the
    directions computed from every ``max(1, len(X) // max_rows)``-th row."""
    Xc = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(Xc[:: max(1, len(X) // max_rows)], full_matrices=False)
    return Xc @ Vt[:n].T


def view_coordinates(X: np.ndarray, first_three: bool) -> tuple[np.ndarray, tuple[str, str, str]]:
    """The 3-D view of the points and its axis names: the first three coordinates (``dc1..dc3``
    when they are diffusion coordinates, ``first_three``; ``x1..x3`` when the data have at most
    three), else the top three principal components."""
    if first_three or X.shape[1] <= 3:
        return X[:, :3], ("dc1", "dc2", "dc3") if first_three else ("x1", "x2", "x3")
    return principal_components(X), ("PC1", "PC2", "PC3")


def dimension_figure(coords: np.ndarray, dimension: pd.Series, title: str, axes: tuple[str, ...]):
    """The view coloured by the pointwise dimension."""
    return plot_embedding(coords, dimension, "pointwise dimension", f"dimension: {title}", axes)


def curvature_figure(
    coords: np.ndarray,
    curvature: pd.Series,
    title: str,
    axes: tuple[str, ...],
    clip_quantile: float = CURVATURE_CLIP_QUANTILE,
):
    """The view coloured by the scalar curvature, clipped at the ``clip_quantile`` of |S|."""
    lim = float(np.quantile(np.abs(curvature), clip_quantile)) or 1.0
    return plot_embedding(
        coords,
        curvature.clip(-lim, lim),
        f"scalar curvature (clipped at the {_ordinal(clip_quantile)} percentile of |S|)",
        f"curvature: {title}",
        axes,
    )


def attribute_figure(tests: pd.DataFrame, title: str):
    """Mean-curvature differences per attribute with bootstrap intervals
    (:func:`repgeo.geometry.regions.attribute_tests`)."""
    return plot_attribute_effects(tests, f"curvature by attribute: {title}")


def _ordinal(q: float) -> str:
    p = round(100 * q)
    suffix = "th" if 10 <= p % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(p % 10, "th")
    return f"{p}{suffix}"
