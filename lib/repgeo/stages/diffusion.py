"""Diffusion-embedding stage: bandwidth sweep, diffusion map, figures and report tables (rules
``diffusion_sweep``, ``diffusion_embed`` and ``diffusion_figures``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .. import io
from ..data import DataError
from ..html import html_page, html_table
from .data import load_selection

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


def diffusion_sweep(*, arrays: str, samples: str, spec: Spec, device: str, sweep: str) -> float:
    """The bandwidth sweep of one diffusion entry (``sweep.parquet``); returns the chosen eps."""
    from ..diffusion import epsilon_sweep
    from ..runtime import resolve_device

    X, _ = load_selection(arrays, samples, spec)
    t0 = time.perf_counter()
    result = epsilon_sweep(
        X,
        kernel=spec["kernel"],
        epsilon=spec["epsilon"],
        rule=spec["epsilon_rule"],
        n_epsilons=spec["sweep"]["n_epsilons"],
        max_rows=spec["sweep"]["max_rows"],
        seed=spec["seed"],
        device=resolve_device(device),
    )
    meta = {
        "n": int(X.shape[0]),
        "dimension": int(X.shape[1]),
        "kernel": spec["kernel"],
        "epsilon": result.epsilon,
        "chosen_by": result.rule,
        "picks": result.picks,
        "anchors": result.anchors,
        "max_slope": result.max_slope,
        "seconds": time.perf_counter() - t0,
    }
    io.write_parquet(result.table, sweep, metadata=meta)
    return result.epsilon


def chosen_epsilon(sweep_path: str) -> float:
    table = io.read_parquet(sweep_path)
    chosen = table.loc[table["chosen"], "epsilon"]
    if len(chosen) != 1:
        raise DataError(f"{sweep_path} must mark exactly one chosen epsilon, found {len(chosen)}; rerun the sweep")
    return float(chosen.iloc[0])


def diffusion_embed(
    *, arrays: str, samples: str, sweep: str, spec: Spec, device: str, embedding: str, eigenvalues: str
) -> None:
    """The diffusion map of one entry at the sweep's chosen eps.

    ``embedding.parquet``: id, dc1..dck, then the dataset's other columns. ``eigenvalues.parquet``:
    index l, eigenvalue lambda_l, lambda_l^t, the coordinate it scales (or null) and whether it
    is the trivial eigenvalue 1 (:func:`repgeo.diffusion.maps.eigenvalue_table`).
    """
    from ..diffusion import diffusion_map
    from ..diffusion.maps import coordinate_names, eigenvalue_table
    from ..runtime import resolve_device

    X, rows = load_selection(arrays, samples, spec)
    dm = diffusion_map(
        X,
        epsilon=chosen_epsilon(sweep),
        n_components=spec["n_components"],
        t=spec["t"],
        alpha=spec["alpha"],
        kernel=spec["kernel"],
        convention=spec["convention"],
        method=spec["method"],
        dense_max_n=spec["dense_max_n"],
        n_neighbors=spec["n_neighbors"],
        pca_components=spec["pca_components"],
        seed=spec["seed"],
        device=resolve_device(device),
    )
    names = coordinate_names(dm.coordinates.shape[1])
    emb = pd.concat([rows[["id"]], pd.DataFrame(dm.coordinates, columns=names), rows.drop(columns=["id"])], axis=1)
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
    io.write_parquet(eigenvalue_table(dm), eigenvalues, metadata=meta)
    io.write_parquet(emb, embedding, metadata=meta)


# --- figures and report tables ------------------------------------------------------------


def diffusion_figures(
    *,
    name: str,
    sweep: str,
    embedding: str,
    eigenvalues: str,
    sweep_png: str,
    scatter_png: str,
    summary: str,
    color_by: str | None,
    dataset: str,
    dpi: int,
) -> None:
    """The figures of one diffusion run (the bandwidth sweep, the 3-D diffusion map coloured by
    ``color_by``; :mod:`repgeo.diffusion.figures`) and its report tables (``summary``)."""
    from ..diffusion.figures import embedding_figure, sweep_figure

    title = f"{name} ({dataset})"
    table = io.read_parquet(sweep)
    n = io.read_parquet_metadata(sweep)["n"]
    io.save_figure(sweep_figure(table, f"bandwidth sweep: {title}", n), sweep_png, dpi=dpi)
    emb = io.read_parquet(embedding)
    io.save_figure(embedding_figure(emb, color_by, f"diffusion map: {title}", where=embedding), scatter_png, dpi=dpi)
    diffusion_summary(name, sweep, eigenvalues, summary)


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
