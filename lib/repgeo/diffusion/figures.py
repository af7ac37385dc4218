"""Figures of a diffusion run: the bandwidth sweep and the diffusion map as a 3-D scatter.

The sweep figure shows the sum of kernel weights S(eps) with the picks of the bandwidth rules
(Coifman, Shkolnisky, Sigworth & Singer 2008, :mod:`.bandwidth`); the scatter shows the first
three diffusion coordinates (Coifman & Lafon 2006) coloured by a column of the samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..plotting import plot_embedding, plot_sweep


def sweep_figure(table: pd.DataFrame, title: str, n: int):
    """S(eps) against eps with the plateaus n, n^1.5, n^2 and every pick (the sweep's table)."""
    return plot_sweep(table, title, n)


def coordinate_columns(table: pd.DataFrame) -> list[str]:
    """The diffusion-coordinate columns (dc1, dc2, ...) of an embedding table, in order."""
    return [c for c in table.columns if c.startswith("dc") and c[2:].isdigit()]


def default_color_column(samples: pd.DataFrame, exclude: Sequence[str] = ()) -> str | None:
    """The column that colours a scatter when none is configured.

    ``label`` when it varies; else the first varying ground-truth column (``true_*``); else the
    first varying numeric column (e.g. a chart coordinate); else none.
    """
    skip = {"id", "split", *exclude}
    cols = [c for c in samples.columns if c not in skip and samples[c].nunique(dropna=True) > 1]
    for rule in (
        lambda c: c == "label",
        lambda c: c.startswith("true_"),
        lambda c: pd.api.types.is_numeric_dtype(samples[c]),
    ):
        for c in cols:
            if rule(c):
                return c
    return None


def embedding_figure(embedding: pd.DataFrame, color_by: str | None, title: str, where: str = "the embedding"):
    """The diffusion coordinates of an embedding table as a scatter coloured by ``color_by``
    (None: :func:`default_color_column`). ``color_by`` must be a column of the table (``where``
    names the table in the error otherwise)."""
    from ..data import DataError

    coords = embedding[coordinate_columns(embedding)].to_numpy()
    if color_by is not None and color_by not in embedding.columns:
        raise DataError(f"color_by {color_by!r} is not a column of {where}; available: {', '.join(embedding.columns)}")
    col = color_by or default_color_column(embedding, exclude=[c for c in embedding.columns if c.startswith("dc")])
    return plot_embedding(coords, embedding[col] if col else None, col, title)
