"""Diffusion-embedding stage: bandwidth sweep, diffusion map, figures and report tables."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError
from .data import load_selection
from .html import html_page, html_table

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


def run_sweep(arrays_path: str, samples_path: str, spec: Spec, device: str, out_path: str) -> float:
    """The bandwidth sweep of one diffusion entry; returns the chosen eps."""
    from ..diffusion import epsilon_sweep
    from ..runtime import resolve_device

    X, _ = load_selection(arrays_path, samples_path, spec)
    sweep_cfg = spec.get("sweep", {})
    t0 = time.perf_counter()
    sweep = epsilon_sweep(
        X,
        kernel=spec.get("kernel", "gaussian"),
        epsilon=spec.get("epsilon", "auto"),
        rule=spec.get("epsilon_rule", "half_plateau"),
        n_epsilons=sweep_cfg.get("n_epsilons", 50),
        max_rows=sweep_cfg.get("max_rows", 20000),
        seed=spec.get("seed", 0),
        device=resolve_device(device),
    )
    meta = {
        "n": int(X.shape[0]),
        "dimension": int(X.shape[1]),
        "kernel": spec.get("kernel", "gaussian"),
        "epsilon": sweep.epsilon,
        "chosen_by": sweep.rule,
        "picks": sweep.picks,
        "anchors": sweep.anchors,
        "max_slope": sweep.max_slope,
        "seconds": time.perf_counter() - t0,
    }
    io.write_parquet(sweep.table, out_path, metadata=meta)
    return sweep.epsilon


def chosen_epsilon(sweep_path: str) -> float:
    table = io.read_parquet(sweep_path)
    chosen = table.loc[table["chosen"], "epsilon"]
    if len(chosen) != 1:
        raise DataError(f"{sweep_path} must mark exactly one chosen epsilon, found {len(chosen)}; rerun the sweep")
    return float(chosen.iloc[0])


def run_embedding(
    arrays_path: str,
    samples_path: str,
    sweep_path: str,
    spec: Spec,
    device: str,
    embedding_path: str,
    eigenvalues_path: str,
) -> None:
    """The diffusion map of one entry at the sweep's chosen eps.

    ``embedding.parquet``: id, dc1..dck, then the dataset's other columns. ``eigenvalues.parquet``:
    index l, eigenvalue lambda_l, lambda_l^t, the coordinate it scales (or null) and whether it
    is the trivial eigenvalue 1.
    """
    from ..diffusion import diffusion_map
    from ..runtime import resolve_device

    X, samples = load_selection(arrays_path, samples_path, spec)
    eps = chosen_epsilon(sweep_path)
    dm = diffusion_map(
        X,
        epsilon=eps,
        n_components=spec.get("n_components", 5),
        t=spec.get("t", 1),
        alpha=spec.get("alpha", 0.0),
        kernel=spec.get("kernel", "gaussian"),
        convention=spec.get("convention", "coifman_lafon"),
        method=spec.get("method", "auto"),
        dense_max_n=spec.get("dense_max_n", 12000),
        n_neighbors=spec.get("n_neighbors", 64),
        pca_components=spec.get("pca_components"),
        seed=spec.get("seed", 0),
        device=resolve_device(device),
    )
    k = dm.coordinates.shape[1]
    names = [f"dc{j + 1}" for j in range(k)]
    emb = pd.concat(
        [samples[["id"]], pd.DataFrame(dm.coordinates, columns=names), samples.drop(columns=["id"])], axis=1
    )
    first = 0 if dm.convention == "celeba" else 1
    coord_of = {first + j: names[j] for j in range(k)}
    eig = pd.DataFrame(
        {
            "index": np.arange(len(dm.eigenvalues)),
            "eigenvalue": dm.eigenvalues,
            "eigenvalue_t": np.sign(dm.eigenvalues) * np.abs(dm.eigenvalues) ** dm.t,
            "coordinate": [coord_of.get(j) for j in range(len(dm.eigenvalues))],
            "trivial": np.arange(len(dm.eigenvalues)) == 0,
        }
    )
    meta = {
        "epsilon": dm.epsilon,
        "t": dm.t,
        "alpha": dm.alpha,
        "kernel": dm.kernel,
        "convention": dm.convention,
        "method": dm.method,
        "n_neighbors": dm.n_neighbors,
        "n": int(X.shape[0]),
        "dimension": int(X.shape[1]),
        "timings": dm.timings,
    }
    io.write_parquet(eig, eigenvalues_path, metadata=meta)
    io.write_parquet(emb, embedding_path, metadata=meta)


# --- figures and report tables ------------------------------------------------------------


def plot_sweep(sweep_path: str, out_png: str, title: str, dpi: int = 110) -> None:
    from ..plotting import plot_sweep as _plot

    table = io.read_parquet(sweep_path)
    n = io.read_parquet_metadata(sweep_path)["n"]
    io.save_figure(_plot(table, title, n), out_png, dpi=dpi)


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


def plot_embedding(embedding_path: str, out_png: str, color_by: str | None, title: str, dpi: int = 110) -> None:
    from ..plotting import plot_embedding as _plot

    emb = io.read_parquet(embedding_path)
    coords = emb[[c for c in emb.columns if c.startswith("dc") and c[2:].isdigit()]].to_numpy()
    if color_by is not None and color_by not in emb.columns:
        raise DataError(
            f"color_by {color_by!r} is not a column of {embedding_path}; available: {', '.join(emb.columns)}"
        )
    col = color_by or default_color_column(emb, exclude=[c for c in emb.columns if c.startswith("dc")])
    io.save_figure(_plot(coords, emb[col] if col else None, col, title), out_png, dpi=dpi)


def diffusion_summary(name: str, sweep_path: str, eigenvalues_path: str, out_html: str) -> None:
    """HTML tables of a diffusion run for the report: eps picks and the eigenvalues."""
    sweep = io.read_parquet(sweep_path)
    smeta = io.read_parquet_metadata(sweep_path)
    emeta = io.read_parquet_metadata(eigenvalues_path)
    picks = sweep[sweep["kind"] != "grid"][["kind", "epsilon", "weight_sum", "log_slope", "chosen"]]
    facts = pd.DataFrame(
        {
            "n": [emeta["n"]],
            "dimension": [emeta["dimension"]],
            "kernel": [emeta["kernel"]],
            "epsilon": [emeta["epsilon"]],
            "alpha": [emeta["alpha"]],
            "t": [emeta["t"]],
            "convention": [emeta["convention"]],
            "method": [emeta["method"]],
            "sweep pairs": ["all" if smeta.get("anchors") is None else f"{smeta['anchors']} anchor rows"],
            "2 x max slope": [2 * smeta["max_slope"]],
        }
    )
    body = "".join(
        [
            html_table(facts, f"diffusion map {name}"),
            html_table(picks, "bandwidth picks"),
            html_table(io.read_parquet(eigenvalues_path), "eigenvalues"),
            html_table(sweep[["epsilon", "weight_sum", "log_slope", "kind", "chosen"]], "weight-sum sweep"),
        ]
    )
    io.write_text(html_page(f"diffusion {name}", body), out_html)
