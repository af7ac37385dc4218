"""Figures of the DSE/DSMI toy validations (Liao, Liu et al., CISS 2024, arXiv 2312.04823).

Each function draws one table of :mod:`repgeo.entropy.toys` and returns a matplotlib
:class:`~matplotlib.figure.Figure`. Figures are built without pyplot (``Figure`` directly), so
they work under any backend, headless included, and nothing has to be closed; save them with
``fig.savefig(path)``. Every number drawn is in the table. Entropies and MI are in bits.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

# Width and height of one panel in inches (the workflow's figures are 6.4 wide).
PANEL = (4.6, 3.8)


def _check_table(table, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame from repgeo.entropy.toys, got {type(table).__name__}")  # noqa: TRY004
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} lacks the column(s) {missing}; pass the DataFrame returned by repgeo.entropy.toys")
    if table.empty:
        raise ValueError(f"{name} has no rows")
    return table


def _mean_sd(table: pd.DataFrame, by: str, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, mean and standard deviation (ddof 1; 0 where a group has one row) of ``column`` by ``by``."""
    grouped = table.groupby(by)[column]
    mean, sd = grouped.mean(), grouped.std(ddof=1).fillna(0.0)
    return mean.index.to_numpy(), mean.to_numpy(), sd.to_numpy()


def _band(ax, x, mean, sd, colour, label: str, style: str = "o-") -> None:
    ax.plot(x, mean, style, color=colour, ms=3, lw=1.2, label=label)
    ax.fill_between(x, mean - sd, mean + sd, color=colour, alpha=0.2, lw=0)


def _panels(count: int, sharey: bool) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(PANEL[0] * count, PANEL[1]), layout="constrained")
    return fig, fig.subplots(1, count, sharey=sharey, squeeze=False)[0]


def _log2_n(ax, n: int) -> None:
    ax.axhline(math.log2(n), color="0.5", lw=0.8, ls=":")
    ax.annotate(
        f"log2 n = {math.log2(n):.3f}",
        (0.02, math.log2(n)),
        xycoords=("axes fraction", "data"),
        fontsize=7,
        color="0.4",
        va="bottom",
    )


def plot_dimension_sweep(table: pd.DataFrame, t: float = 1) -> Figure:
    """DSE and CSE against the intrinsic dimension d, one panel per family (the DSE paper's toy study;
    toys of ChenLiu-1996/DiffusionSpectralEntropy ``src/manifold_investigation/toy_data_entropy.py``).

    Per noise level (one colour): DSE at diffusion time ``t`` (solid, mean +- sd band over the
    seeds) and CSE (dashed, mean over the seeds), on a log d axis, with log2 n dotted.
    ``table`` is :func:`repgeo.entropy.toys.dimension_sweep`'s.
    """
    table = _check_table(table, "table", ("family", "dim", "noise", "seed", "t", "dse", "cse", "n", "cse_bins"))
    at_t = table[np.isclose(table["t"], t)]
    if at_t.empty:
        raise ValueError(f"t = {t} is not in the table (its t values: {sorted(table['t'].unique())})")
    families = list(dict.fromkeys(at_t["family"]))
    fig, axes = _panels(len(families), sharey=True)
    for ax, family in zip(axes, families, strict=True):
        rows = at_t[at_t["family"] == family]
        for j, (noise, cell) in enumerate(rows.groupby("noise")):
            colour = f"C{j % 10}"
            _band(ax, *_mean_sd(cell, "dim", "dse"), colour, f"noise {noise:g}")
            dims, cse, _ = _mean_sd(cell, "dim", "cse")
            ax.plot(dims, cse, "--", color=colour, lw=1)
        _log2_n(ax, int(rows["n"].iloc[0]))
        ax.set_xscale("log")
        ax.set_xlabel("intrinsic dimension d")
        ax.set_title(f"{family}, n = {int(rows['n'].iloc[0])}, t = {t:g}")
    # One legend beside the last panel (inside, it would cover the rising curves), with the
    # line styles keyed once for every panel.
    axes[-1].plot([], [], "-", color="0.3", label="DSE (mean +- sd)")
    axes[-1].plot([], [], "--", color="0.3", label=f"CSE, {int(at_t['cse_bins'].iloc[0])} bins")
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    axes[0].set_ylabel("entropy (bits)")
    return fig


def plot_spd_identity(table: pd.DataFrame) -> Figure:
    """Spectral entropy of (1 - w) A + w I against the weight w, one line per t (mean +- sd over
    the random matrices A), with log2 n dotted; ``table`` from
    :func:`repgeo.entropy.toys.spd_identity_sweep`."""
    table = _check_table(table, "table", ("weight", "seed", "t", "dse", "n"))
    fig, axes = _panels(1, sharey=False)
    ax = axes[0]
    for j, (t, rows) in enumerate(table.groupby("t")):
        _band(ax, *_mean_sd(rows, "weight", "dse"), f"C{j % 10}", f"t = {t:g}")
    n = int(table["n"].iloc[0])
    _log2_n(ax, n)
    ax.set_xlabel("identity weight w")
    ax.set_ylabel("spectral entropy (bits)")
    ax.set_title(f"(1 - w) A + w I, A random SPD, n = {n}")
    ax.legend(fontsize=7, loc="lower right")
    return fig


def plot_tree_corruption(table: pd.DataFrame) -> Figure:
    """DSMI, CSMI and kNN MI against the label corruption, one panel per number of branches k.

    DSMI solid with a mean +- sd band over the trees, CSMI dashed and kNN MI dash-dotted (means
    over the trees), the true MI dotted (the DSE paper's tree toy, after
    ``src/manifold_investigation/toy_data_MI.py`` of ChenLiu-1996/DiffusionSpectralEntropy); ``table`` from
    :func:`repgeo.entropy.toys.tree_corruption_sweep`.
    """
    table = _check_table(table, "table", ("branches", "corruption", "tree", "true_mi", "dsmi", "csmi", "knn_mi", "n"))
    ks = sorted(table["branches"].unique())
    fig, axes = _panels(len(ks), sharey=False)
    for ax, k in zip(axes, ks, strict=True):
        rows = table[table["branches"] == k]
        _band(ax, *_mean_sd(rows, "corruption", "dsmi"), "C0", "DSMI (mean +- sd over trees)")
        for column, style, colour, label in (("csmi", "s--", "C1", "CSMI"), ("knn_mi", "^-.", "C2", "kNN MI")):
            r, mean, _ = _mean_sd(rows, "corruption", column)
            ax.plot(r, mean, style, color=colour, ms=3, lw=1, label=label)
        r, truth, _ = _mean_sd(rows, "corruption", "true_mi")
        ax.plot(r, truth, ":", color="k", lw=1.2, label="true MI")
        ax.axhline(0, color="0.7", lw=0.6)
        ax.set_xlabel("label corruption r")
        ax.set_title(f"k = {k} branches, n = {int(rows['n'].iloc[0])}")
        ax.legend(fontsize=7, loc="upper right")
    axes[0].set_ylabel("mutual information (bits)")
    return fig


def plot_runtime(table: pd.DataFrame) -> Figure:
    """Wall seconds against n on log-log axes, one line per method; ``table`` from
    :func:`repgeo.entropy.toys.runtime_sweep`."""
    table = _check_table(table, "table", ("method", "n", "seconds"))
    fig, axes = _panels(1, sharey=False)
    ax = axes[0]
    for j, method in enumerate(dict.fromkeys(table["method"])):
        rows = table[table["method"] == method].sort_values("n")
        ax.plot(rows["n"], rows["seconds"], "o-", color=f"C{j % 10}", ms=3, lw=1.2, label=method)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Ticks at the measured sizes: the default minor labels of a log axis collide.
    sizes = sorted(table["n"].unique())
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes], fontsize=7)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("n (points)")
    ax.set_ylabel("wall seconds")
    ax.set_title("run time against n")
    ax.legend(fontsize=7, loc="upper left")
    return fig
