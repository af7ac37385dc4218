"""Figures of the audio branch (Beguš & Zhou, ICASSP 2022, Figures 2-4) and its GAMM table (Table 1).

Built on :class:`matplotlib.figure.Figure` without pyplot, so they work headless; every number
drawn is in a table the workflow writes beside the figure (the layer table, the GAMM curves and
differences, the confusion table).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..html import html_page, html_table


def plot_layers(
    waveform: np.ndarray,
    layers: Mapping[str, np.ndarray],
    logits: np.ndarray,
    logit_names: Sequence[str],
    title: str,
    sample_rate: int = 16000,
) -> Figure:
    """Figure 2 of Beguš & Zhou: a token's waveform, then each layer's channel-averaged
    activation (upsampled to the frame, one row per layer), then the network's logits."""
    rows = 2 + len(layers)
    fig = Figure(figsize=(7.0, 1.15 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, 1, gridspec_kw={"height_ratios": [1.2] + [1] * len(layers) + [1.2]})
    t = np.arange(len(waveform)) / sample_rate
    axes[0].plot(t, waveform, lw=0.4, color="0.2")
    axes[0].set_ylabel("wave", fontsize=8)
    axes[0].set_title(title, fontsize=9)
    for ax, (name, values) in zip(axes[1:-1], layers.items(), strict=True):
        ax.plot(t, values, lw=0.8, color="tab:blue")
        ax.set_ylabel(name, fontsize=8)
    for ax in axes[:-1]:
        ax.set_xlim(t[0], t[-1])
        ax.tick_params(labelsize=7)
    axes[-2].set_xlabel("time (s)", fontsize=8)
    axes[-1].bar(
        np.arange(len(logits)),
        logits,
        color=["tab:red" if i == int(np.argmax(logits)) else "0.6" for i in range(len(logits))],
    )
    axes[-1].set_xticks(np.arange(len(logits)), list(logit_names), fontsize=7, rotation=30)
    axes[-1].set_ylabel("logits", fontsize=8)
    axes[-1].tick_params(labelsize=7)
    return fig


def plot_gamm(
    curves: pd.DataFrame, differences: pd.DataFrame, intervals: pd.DataFrame, title: str, xlabel: str
) -> Figure:
    """Per layer (rows): the fitted curve of every level (left) and each level's difference
    curve from the reference with its 95 % band, the intervals where the band excludes zero
    shaded (right; Beguš & Zhou Figures 3-4)."""
    layers = list(dict.fromkeys(curves["layer"]))
    fig = Figure(figsize=(9.0, 2.1 * len(layers) + 0.5), layout="constrained")
    axes = fig.subplots(len(layers), 2, squeeze=False)
    levels = list(dict.fromkeys(curves["level"]))
    colours = {lev: f"C{i % 10}" for i, lev in enumerate(levels)}
    for row, layer in zip(axes, layers, strict=True):
        for lev in levels:
            c = curves[(curves["layer"] == layer) & (curves["level"] == lev)]
            row[0].plot(c["time"], c["fit"], color=colours[lev], lw=1, label=str(lev))
            row[0].fill_between(
                c["time"], c["fit"] - 1.96 * c["se"], c["fit"] + 1.96 * c["se"], color=colours[lev], alpha=0.15, lw=0
            )
        d_layer = differences[differences["layer"] == layer]
        for lev in dict.fromkeys(d_layer["level"]):
            d = d_layer[d_layer["level"] == lev]
            row[1].plot(d["time"], d["difference"], color=colours.get(lev, "k"), lw=1)
            row[1].fill_between(d["time"], d["lower"], d["upper"], color=colours.get(lev, "k"), alpha=0.15, lw=0)
            for _, iv in intervals[(intervals["layer"] == layer) & (intervals["level"] == lev)].iterrows():
                row[1].axvspan(iv["start"], iv["end"], color=colours.get(lev, "k"), alpha=0.07, lw=0)
        row[1].axhline(0, color="0.4", lw=0.6)
        row[0].set_ylabel(layer, fontsize=8)
        for ax in row:
            ax.tick_params(labelsize=7)
    reference = differences["reference"].iloc[0] if len(differences) else ""
    axes[0, 0].set_title(f"{title}: fitted curves", fontsize=9)
    axes[0, 1].set_title(f"difference from '{reference}' (95 % band)", fontsize=9)
    axes[0, 0].legend(fontsize=6, ncol=4, loc="upper right")
    axes[-1, 0].set_xlabel(xlabel, fontsize=8)
    axes[-1, 1].set_xlabel(xlabel, fontsize=8)
    return fig


def plot_confusion(confusion: pd.DataFrame, title: str) -> Figure:
    """Counts of each word (rows) against the word its Q code was assigned to (columns)."""
    fig = Figure(figsize=(1.0 + 0.45 * confusion.shape[1], 0.9 + 0.4 * confusion.shape[0]), layout="constrained")
    ax = fig.subplots()
    ax.imshow(confusion.to_numpy(), cmap="Blues")
    ax.set_xticks(np.arange(confusion.shape[1]), [str(c) for c in confusion.columns], rotation=45, fontsize=7)
    ax.set_yticks(np.arange(confusion.shape[0]), [str(i) for i in confusion.index], fontsize=7)
    top = confusion.to_numpy().max() if confusion.size else 0
    for (i, j), v in np.ndenumerate(confusion.to_numpy()):
        ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=6, color="white" if v > top / 2 else "black")
    ax.set_xlabel("assigned word (Q code)", fontsize=8)
    ax.set_ylabel("true word", fontsize=8)
    ax.set_title(title, fontsize=9)
    return fig


def gamm_table_html(tables: Mapping[str, pd.DataFrame], title: str) -> str:
    """Table 1 of Beguš & Zhou per layer and engine, as a page of :mod:`repgeo.html`: under a heading
    per (layer, engine) with the fit's settings, the parametric terms, then the smooth terms
    (four significant digits)."""
    parts = []
    settings = tables["settings"]
    for (engine, layer), par in tables["parametric"].groupby(["engine", "layer"], sort=False):
        smo = tables["smooths"][(tables["smooths"]["engine"] == engine) & (tables["smooths"]["layer"] == layer)]
        sets = settings[(settings["engine"] == engine) & (settings["layer"] == layer)]
        note = ", ".join(f"{r['key']} = {r['value']}" for _, r in sets.iterrows())
        parts.append(f"<h3>{html.escape(f'{layer}, engine {engine}')}</h3>\n<p>{html.escape(note)}</p>")
        parts.append(html_table(par.drop(columns=["engine", "layer"]), digits=4))
        parts.append(html_table(smo.drop(columns=["engine", "layer"]), digits=4))
    return html_page(title, "\n".join(parts))
