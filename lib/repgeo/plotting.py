"""Figures of the workflow (matplotlib, headless). Every figure's numbers are also in a table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.ticker  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# At most this many distinct values are drawn as categories with a legend; more get a colour bar.
MAX_CATEGORIES = 20


def plot_sweep(table: pd.DataFrame, title: str, n: int) -> plt.Figure:
    """Log-log plot of the weight sum against eps with the plateaus n, n^2 and the picks marked."""
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6.4, 6.4), sharex=True, height_ratios=[3, 2])
    grid = table[table["kind"] == "grid"]
    ax.loglog(grid["epsilon"], grid["weight_sum"], "o-", ms=3, lw=1, color="0.2", label="sum of kernel weights")
    for level, name in ((n, "n"), (n**1.5, "n^1.5"), (n**2, "n^2")):
        ax.axhline(level, color="0.7", lw=0.8, ls=":")
        ax.annotate(name, (grid["epsilon"].iloc[0], level), fontsize=8, color="0.4", va="bottom")
    ax2.semilogx(grid["epsilon"], grid["log_slope"], "-", color="0.2", lw=1)
    colours = {"half_plateau": "C0", "max_slope": "C1", "linear_centre": "C2", "configured": "C3"}
    for _, row in table[table["kind"] != "grid"].iterrows():
        style = "-" if row["chosen"] else "--"
        label = f"{row['kind']}: {row['epsilon']:.4g}" + (" (chosen)" if row["chosen"] else "")
        for a in (ax, ax2):
            a.axvline(row["epsilon"], color=colours[row["kind"]], ls=style, lw=1.2 if row["chosen"] else 0.8)
        ax.plot([], [], color=colours[row["kind"]], ls=style, label=label)
    ax.set_ylabel("sum of weights S(eps)")
    ax2.set_ylabel("d log S / d log eps")
    ax2.set_xlabel("eps")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def plot_embedding(
    coords: np.ndarray,
    values: pd.Series | None,
    color_name: str | None,
    title: str,
    axis_labels: tuple[str, ...] = ("dc1", "dc2", "dc3"),
) -> plt.Figure:
    """3-D scatter of the first three coordinates (2-D when there are fewer)."""
    k = coords.shape[1]
    fig = plt.figure(figsize=(6.4, 5.6))
    ax = fig.add_subplot(projection="3d" if k >= 3 else None)
    xyz = [coords[:, j] for j in range(min(k, 3))]
    if k == 1:
        xyz.append(np.zeros(len(coords)))
    kw = dict(s=6, alpha=0.8, linewidths=0)
    if values is None:
        ax.scatter(*xyz, color="C0", **kw)
    elif _categorical(values):
        cats = pd.Categorical(values)
        cmap = plt.get_cmap("tab10" if len(cats.categories) <= 10 else "tab20")
        for j, cat in enumerate(cats.categories):
            m = np.asarray(cats.codes == j)
            ax.scatter(*[c[m] for c in xyz], color=cmap(j % cmap.N), label=str(cat), **kw)
        ax.legend(title=color_name, fontsize=7, markerscale=2, loc="upper left", bbox_to_anchor=(1.02, 1))
    else:
        v = values.to_numpy(dtype=float)
        lim = np.nanmax(np.abs(v)) if np.nanmin(v) < 0 < np.nanmax(v) else None
        sc = ax.scatter(*xyz, c=v, cmap="coolwarm" if lim else "viridis", vmin=-lim if lim else None, vmax=lim, **kw)
        fig.colorbar(sc, ax=ax, shrink=0.7, label=color_name)
    labels = axis_labels
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if k >= 3:
        ax.set_zlabel(labels[2])
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_attribute_effects(tests: pd.DataFrame, title: str) -> plt.Figure:
    """Difference in mean curvature (with the attribute minus without) per attribute, with 95 %
    bootstrap intervals; attributes significant after Benjamini-Hochberg (q < 0.05) in colour."""
    t = tests.sort_values("mean_difference")
    fig, ax = plt.subplots(figsize=(6.4, max(2.5, 0.22 * len(t) + 1.2)))
    y = np.arange(len(t))
    sig = (t["q_value"] < 0.05).to_numpy() if len(t) else np.zeros(0, bool)
    err = np.vstack([t["mean_difference"] - t["ci_low"], t["ci_high"] - t["mean_difference"]])
    for mask, colour, label in ((sig, "C3", "q < 0.05"), (~sig, "0.5", "not significant")):
        if mask.any():
            ax.errorbar(
                t["mean_difference"][mask],
                y[mask],
                xerr=err[:, mask],
                fmt="o",
                color=colour,
                ms=4,
                capsize=2,
                label=label,
            )
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_yticks(y, t["attribute"], fontsize=7)
    ax.set_xlabel("mean curvature with attribute - without (95 % bootstrap CI)")
    ax.set_title(title)
    if len(t):
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def _categorical(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return True
    return pd.api.types.is_integer_dtype(values) and values.nunique() <= MAX_CATEGORIES


TRAJECTORY_PANELS = (
    ("accuracy", "test accuracy", None),
    ("dse", "DSE  S_D(Z) [bits]", None),
    ("dsmi_zy", "DSMI  I_D(Z; Y) [bits]", "dsmi_zy_sd"),
    ("dsmi_zx", "DSMI  I_D(Z; X) [bits]", "dsmi_zx_sd"),
    ("train_accuracy", "train accuracy (labels trained on)", None),
    ("cse", "CSE [bits]", None),
    ("csmi_zy", "CSMI  I(Z; Y) [bits]", None),
    ("csmi_zx", "CSMI  I(Z; X) [bits]", None),
)


def plot_trajectory(table: pd.DataFrame, title: str) -> plt.Figure:
    """Entropy and accuracy against epoch, one colour per mode: mean over seeds +- sd (band).

    Liao et al., CISS 2024 (arXiv 2312.04823), Figures 6-8. The top row is diffusion spectral
    entropy and mutual information with the test accuracy; the bottom row the classic Shannon
    baselines with the training accuracy (against the labels trained on: the random-label runs
    memorise theirs). For DSMI the band is the larger of the seed sd and the mean sd over the R
    subset draws.
    """
    fig, axes = plt.subplots(2, 4, figsize=(15, 6.5), sharex=True)
    modes = list(dict.fromkeys(table["mode"]))
    for ax, (col, label, within) in zip(axes.ravel(), TRAJECTORY_PANELS, strict=True):
        for i, mode in enumerate(modes):
            part = table[table["mode"] == mode]
            g = part.groupby("epoch")[col]
            mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
            if within is not None:
                sd = np.maximum(sd, part.groupby("epoch")[within].mean().fillna(0.0))
            n_seeds = part["seed"].nunique()
            ax.plot(mean.index, mean.to_numpy(), "o-", ms=3, color=f"C{i}", label=f"{mode} ({n_seeds} seeds)")
            ax.fill_between(mean.index, (mean - sd).to_numpy(), (mean + sd).to_numpy(), color=f"C{i}", alpha=0.2, lw=0)
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("epoch (0 = initialisation)")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def tile_images(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """images (rows * cols, C, H, W) in [0, 1] -> one (rows H, cols W, C) mosaic with 1-px gaps."""
    n, c, h, w = images.shape
    out = np.ones((rows * (h + 1) - 1, cols * (w + 1) - 1, c))
    for k in range(min(n, rows * cols)):
        r, q = divmod(k, cols)
        out[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = images[k].transpose(1, 2, 0)
    return np.clip(out, 0, 1)
