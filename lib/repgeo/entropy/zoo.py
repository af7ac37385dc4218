"""The "Uses" of DSE and DSMI: initialisation and cross-model studies (tables and figures).

Liao, Liu et al. (CISS 2024, arXiv 2312.04823, section 6):

- initialisation study: the convolution weights are drawn from N(0, sigma^2) over a grid of
  sigma; the DSE of the penultimate embedding at initialisation is measured against sigma, and
  networks initialised with the lowest- and the highest-DSE sigma are trained and their accuracy
  curves compared (:func:`initialisation_summary`, :func:`plot_initialisation`);
- cross-model study (Figure 10): DSE S_D(Z), DSMI I_D(Z; Y) and I_D(Z; X) of many trained models
  against their test accuracy, with Pearson and Spearman correlation coefficients and their
  p-values (:func:`correlations`, :func:`plot_zoo`). Models differ in their embedding dimension
  D, and an absolute bandwidth would measure wide and narrow embeddings at different scales:
  the study sets the bandwidth per model to sigma = sqrt(D) (:func:`embedding_sigma`, the
  scaling the authors' scripts use with D-dimensional data, ChenLiu-1996/DiffusionSpectralEntropy
  ``src/comparison/compare_toy_tree.py``) and clusters the inputs into 20 groups for I_D(Z; X).

The measures themselves come from :mod:`.dse` and :mod:`.dsmi`; this module only relates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

MEASURES = ("dse", "dsmi_zy", "dsmi_zx")
# The bandwidth rule of the cross-model study: sigma = sqrt(D) for a D-dimensional embedding.
SQRT_DIM = "sqrt_dim"
MIN_MODELS = 3
LABELS = {
    "dse": "DSE  S_D(Z) [bits]",
    "dsmi_zy": "DSMI  I_D(Z; Y) [bits]",
    "dsmi_zx": "DSMI  I_D(Z; X) [bits]",
    "accuracy": "test accuracy",
    "test_accuracy": "test accuracy",
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p")
CORRELATION_COLUMNS = [
    "measure",
    "target",
    "n_models",
    "pearson_r",
    "pearson_p",
    "spearman_rho",
    "spearman_p",
    "reason",
]


def embedding_sigma(sigma: float | str, dim: int) -> float | str:
    """The Gaussian bandwidth for an embedding of dimension ``dim``: sqrt(dim) for ``"sqrt_dim"``.

    Liao, Liu et al. (CISS 2024, arXiv 2312.04823) use an absolute sigma (10 by default). With
    embeddings of different widths in one study (Figure 10), distances between embeddings whose
    coordinates have comparable scales grow like sqrt(D), so sigma = sqrt(D) keeps the kernel at a
    comparable scale across models (the authors' ``compare_toy_tree.py`` uses sigma = sqrt(D) for
    D-dimensional data). Any other value (a number, or ``"median"`` / ``"knn"``) is returned unchanged.
    """
    if isinstance(sigma, str) and sigma == SQRT_DIM:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ValueError(f"the embedding dimension must be a positive integer, got {dim!r}")
        return float(np.sqrt(dim))
    return sigma


def embedding_measures(
    Z: np.ndarray,
    groups: Mapping[str, Any],
    *,
    sigma: float | str,
    t: float,
    alpha: float,
    n_neighbors: int,
    max_n: int | None,
    dtype: str,
    n_repetitions: int,
    seed: int,
    device: str = "cpu",
) -> dict[str, float]:
    """DSE and DSMI against every grouping (value and sd) of one embedding ``Z``, from one set
    of spectra (:func:`repgeo.entropy.tracking.epoch_spectra`, :func:`~repgeo.entropy.tracking.epoch_measures`):
    ``dse`` and ``dsmi_z{name}``, ``dsmi_z{name}_sd`` for every name of ``groups``.

    ``sigma: sqrt_dim`` (the cross-model study's default) is resolved per embedding to sqrt(D)
    for the D columns of ``Z`` (:func:`embedding_sigma`).
    """
    from .tracking import epoch_measures, epoch_spectra

    spectra = epoch_spectra(
        Z,
        groups,
        device=device,
        sigma=embedding_sigma(sigma, int(np.shape(Z)[1])),
        alpha=alpha,
        n_neighbors=n_neighbors,
        max_n=max_n,
        dtype=dtype,
        n_repetitions=n_repetitions,
        seed=seed,
    )
    dse, mi = epoch_measures(spectra, len(Z), groups, float(t), n_repetitions=int(n_repetitions), seed=int(seed))
    out = {"dse": dse}
    for name, m in mi.items():
        out[f"dsmi_z{name}"] = m.value
        out[f"dsmi_z{name}_sd"] = m.sd
    return out


def _require(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{what} has no column(s) {missing}; it has {list(table.columns)}")


def correlations(table: pd.DataFrame, measures: Sequence[str] = MEASURES, target: str = "accuracy") -> pd.DataFrame:
    """Pearson and Spearman correlation of each measure with ``target`` over the models of ``table``.

    One row per measure: measure, target, n_models (rows where both are finite), pearson_r,
    pearson_p, spearman_rho, spearman_p (``scipy.stats.pearsonr`` / ``spearmanr``, two-sided),
    and reason: empty when computed, otherwise why the coefficients are NaN (fewer than 3
    models, or a constant measure or target, whose correlation is undefined). As in Figure 10 of
    Liao et al. (arXiv 2312.04823), each row of ``table`` is one trained model.
    """
    measures = list(measures)
    _require(table, [*measures, target], "the model table")
    rows = []
    for m in measures:
        both = table[[m, target]].apply(pd.to_numeric, errors="coerce").astype(float)
        both = both[np.isfinite(both[m]) & np.isfinite(both[target])]
        x, y = both[m].to_numpy(), both[target].to_numpy()
        row = {
            "measure": m,
            "target": target,
            "n_models": len(both),
            "pearson_r": np.nan,
            "pearson_p": np.nan,
            "spearman_rho": np.nan,
            "spearman_p": np.nan,
            "reason": "",
        }
        if len(both) < MIN_MODELS:
            row["reason"] = f"fewer than {MIN_MODELS} models with finite {m} and {target} (n = {len(both)})"
        elif np.ptp(x) == 0 or np.ptp(y) == 0:
            const = [name for name, v in ((m, x), (target, y)) if np.ptp(v) == 0]
            row["reason"] = f"constant {' and '.join(const)} over the {len(both)} models: correlation undefined"
        else:
            pr = stats.pearsonr(x, y)
            sr = stats.spearmanr(x, y)
            row.update(
                pearson_r=float(pr.statistic),
                pearson_p=float(pr.pvalue),
                spearman_rho=float(sr.statistic),
                spearman_p=float(sr.pvalue),
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=CORRELATION_COLUMNS)


def _category(v) -> str:
    if pd.isna(v):
        return "n/a"
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))  # a width of 8, not 8.0 (a column with NaN is float)
    return str(v)


def _categories(values: pd.Series) -> pd.Series:
    return values.map(_category)


def _fmt_p(p: float) -> str:
    if p == 0:
        return "< 1e-300"
    return "= " + (f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}")


def plot_zoo(
    table: pd.DataFrame,
    correlations: pd.DataFrame,
    colour_by: str = "model",
    marker_by: str | None = "width",
) -> plt.Figure:
    """Figure 10 of Liao et al. (arXiv 2312.04823): each measure against accuracy, one panel each.

    Panels follow the rows of ``correlations`` (from :func:`correlations`): the measure on x, its
    target (accuracy) on y, one point per model, coloured by ``colour_by`` (the architecture)
    and shaped by ``marker_by`` (default the width; models without one, e.g. external
    torchvision models, get their own 'n/a' marker; a missing column gives one marker). Each
    panel is annotated with Pearson r and Spearman rho and their p-values, or the reason they
    are missing.
    """
    _require(correlations, ["measure", "target", "pearson_r", "spearman_rho"], "the correlation table")
    if len(correlations) == 0:
        raise ValueError("the correlation table is empty: nothing to plot")
    _require(table, [colour_by, *correlations["measure"], *correlations["target"].unique()], "the model table")
    colours = _categories(table[colour_by])
    colour_cats = list(dict.fromkeys(sorted(colours.unique())))
    cmap = plt.get_cmap("tab10" if len(colour_cats) <= 10 else "tab20")
    colour_of = {c: cmap(j % cmap.N) for j, c in enumerate(colour_cats)}
    if marker_by is not None and marker_by in table.columns and table[marker_by].notna().any():
        markers = _categories(table[marker_by])
        marker_cats = sorted(markers.unique(), key=lambda s: (s == "n/a", _sort_key(s)))
    else:
        marker_by, markers, marker_cats = None, pd.Series("all", index=table.index), ["all"]
    marker_of = {c: _MARKERS[j % len(_MARKERS)] for j, c in enumerate(marker_cats)}

    k = len(correlations)
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 4.0), squeeze=False)
    axes = axes[0]
    for ax, (_, row) in zip(axes, correlations.iterrows(), strict=True):
        m, target = row["measure"], row["target"]
        x = pd.to_numeric(table[m], errors="coerce")
        y = pd.to_numeric(table[target], errors="coerce")
        ok = np.isfinite(x) & np.isfinite(y)
        for c in colour_cats:
            for mk in marker_cats:
                sel = ok & (colours == c) & (markers == mk)
                if sel.any():
                    ax.scatter(
                        x[sel],
                        y[sel],
                        color=colour_of[c],
                        marker=marker_of[mk],
                        s=36,
                        alpha=0.85,
                        edgecolors="0.2",
                        linewidths=0.4,
                    )
        if np.isfinite(row["pearson_r"]):
            text = f"Pearson r = {row['pearson_r']:.2f} (p {_fmt_p(row['pearson_p'])})\nSpearman ρ = {row['spearman_rho']:.2f} (p {_fmt_p(row['spearman_p'])})"
        else:
            text = f"r, ρ not computed:\n{row.get('reason', '')}"
        # Accuracy and the measures rise together, so the bottom right is usually free.
        ax.text(
            0.97,
            0.03,
            text,
            transform=ax.transAxes,
            va="bottom",
            ha="right",
            fontsize=8,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9},
            wrap=True,
        )
        ax.set_xlabel(LABELS.get(m, m))
        ax.set_ylabel(LABELS.get(target, target))
        ax.set_title(f"{m} (n = {int(row.get('n_models', ok.sum()))})", fontsize=10)
    handles = [plt.Line2D([], [], ls="", marker="o", color=colour_of[c], label=c) for c in colour_cats]
    if marker_by is not None:
        handles += [
            plt.Line2D([], [], ls="", marker=marker_of[mk], color="0.4", label=f"{marker_by} {mk}")
            for mk in marker_cats
        ]
    axes[-1].legend(
        handles=handles,
        fontsize=7,
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        frameon=False,
        title=colour_by,
        title_fontsize=8,
    )
    fig.suptitle(
        "Entropy and mutual information against accuracy across models (Liao et al. 2024, Fig. 10)", fontsize=10
    )
    fig.tight_layout()
    return fig


def _sort_key(s: str):
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


class InitialisationSummary(NamedTuple):
    """DSE at initialisation per sigma (mean, sd over seeds) and the extreme sigmas."""

    per_sigma: pd.DataFrame  # init_std, n_seeds, dse_mean, dse_sd (sorted by init_std)
    lowest: float  # the init_std whose mean DSE is lowest
    highest: float  # the init_std whose mean DSE is highest


def initialisation_summary(table: pd.DataFrame, measure: str = "dse") -> InitialisationSummary:
    """Mean and sd over seeds of the DSE at initialisation per sigma; the lowest- and highest-DSE sigma.

    ``table``: rows (init_std, seed, dse), the DSE of the embedding at initialisation (epoch 0)
    of each run of the initialisation study (Liao et al., arXiv 2312.04823, section 6). Rows
    with a non-finite DSE are ignored; the sd of a single seed is 0. Ties go to the smaller sigma.
    """
    _require(table, ["init_std", "seed", measure], "the initialisation table")
    t = table[["init_std", "seed", measure]].copy()
    t["init_std"] = pd.to_numeric(t["init_std"], errors="coerce")
    t[measure] = pd.to_numeric(t[measure], errors="coerce")
    t = t[np.isfinite(t["init_std"]) & np.isfinite(t[measure])]
    if t.empty:
        raise ValueError(f"the initialisation table has no row with a finite init_std and {measure}")
    g = t.groupby("init_std", sort=True)[measure]
    per = pd.DataFrame(
        {"n_seeds": g.size(), f"{measure}_mean": g.mean(), f"{measure}_sd": g.std(ddof=1).fillna(0.0)}
    ).reset_index()
    means = per[f"{measure}_mean"].to_numpy()
    sig = per["init_std"].to_numpy()
    return InitialisationSummary(per, float(sig[int(np.argmin(means))]), float(sig[int(np.argmax(means))]))


def plot_initialisation(
    init_table: pd.DataFrame, curves_table: pd.DataFrame, metric: str = "test_accuracy"
) -> plt.Figure:
    """The initialisation study of Liao et al. (arXiv 2312.04823, section 6), two panels.

    Left: DSE of the embedding at initialisation against the initialisation sd sigma (log x),
    mean +- sd over seeds, the lowest- and highest-DSE sigma marked. Right: ``metric`` (test
    accuracy) against epoch, mean +- sd over seeds, for every sigma in ``curves_table`` (rows
    init_std, seed, epoch, ``metric``; normally the runs trained from the lowest- and the
    highest-DSE sigma, which are labelled as such).
    """
    summary = initialisation_summary(init_table)
    _require(curves_table, ["init_std", "seed", "epoch", metric], "the training-curve table")
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    per = summary.per_sigma
    ax.errorbar(
        per["init_std"],
        per["dse_mean"],
        yerr=per["dse_sd"],
        fmt="o-",
        color="0.25",
        ms=4,
        lw=1,
        capsize=2,
        label="mean ± sd over seeds",
    )
    roles = {summary.lowest: ("lowest DSE", "C0"), summary.highest: ("highest DSE", "C3")}
    for s, (name, colour) in roles.items():
        ax.axvline(s, color=colour, ls="--", lw=1, label=f"{name}: σ = {s:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("initialisation sd σ of the convolution weights")
    ax.set_ylabel("DSE of Z at initialisation [bits]")
    ax.set_title("DSE at initialisation")
    ax.legend(fontsize=8)

    curves = curves_table.copy()
    curves["init_std"] = pd.to_numeric(curves["init_std"], errors="coerce")
    others = iter(c for c in (f"C{j}" for j in range(10)) if c not in ("C0", "C3"))
    for s, grp in curves.groupby("init_std", sort=True):
        agg = grp.groupby("epoch")[metric].agg(["mean", "std", "size"]).sort_index()
        sd = agg["std"].fillna(0.0)
        role = next(
            ((name, colour) for r, (name, colour) in roles.items() if np.isclose(s, r, rtol=1e-9, atol=0)), None
        )
        label = f"σ = {s:.3g}" + (f" ({role[0]})" if role else "") + f", {int(agg['size'].max())} seed(s)"
        colour = role[1] if role else next(others, "0.5")
        ax2.plot(agg.index, agg["mean"], "-o", ms=3, lw=1.2, color=colour, label=label)
        ax2.fill_between(agg.index, agg["mean"] - sd, agg["mean"] + sd, color=colour, alpha=0.2, lw=0)
    ax2.set_xlabel("epoch (0 = initialisation)")
    ax2.set_ylabel(LABELS.get(metric, metric))
    ax2.set_title("training from the extreme initialisations")
    if len(curves):
        ax2.legend(fontsize=8)
    fig.suptitle("Initialisation study (Liao et al. 2024, section 6)", fontsize=10)
    fig.tight_layout()
    return fig
