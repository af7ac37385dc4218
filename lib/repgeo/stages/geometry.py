"""Geometry stage: pointwise dimension and scalar curvature of a dataset or a diffusion embedding
(the ``geometry_*`` rules, one function each).

Artifacts of one ``geometry:`` entry, all under ``results/geometry/{name}/``:

- ``points.pt`` (float64 n x D) and ``samples.parquet`` (id and the source's other columns);
- ``knn.pt``: the k-nearest-neighbour graph (independent of any bandwidth, cached);
- ``dimension.parquet``, ``curvature.parquet``: the estimator's per-point outputs;
- ``baselines.parquet``: scikit-dimension and quadratic-fit estimates per point;
- ``nulls.parquet``: the same pipeline on a Gaussian cloud with the data's covariance and on the
  data with every coordinate shuffled -- what "curvature" noise alone produces;
- ``pointwise.parquet`` and ``summary.parquet``: the tables users read;
- ``attributes.parquet``, ``regions.parquet``, ``enrichment.parquet``: curvature against
  attributes (when the entry names attributes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError
from ..html import html_page, html_table
from .data import load_selection

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


# --- inputs ---------------------------------------------------------------------------------


def geometry_points(
    *,
    spec: Spec,
    points: str,
    samples: str,
    embedding: str | None = None,
    arrays: str | None = None,
    dataset_samples: str | None = None,
) -> None:
    """The point cloud of an entry (``points.pt``): a diffusion ``embedding``'s coordinates, or
    a dataset's rows (flattened; its ``arrays`` and ``dataset_samples``), with the source's
    other columns as ``samples.parquet``."""
    import torch

    if embedding is not None:
        emb = io.read_parquet(embedding)
        dc = [c for c in emb.columns if c.startswith("dc") and c[2:].isdigit()]
        cols = spec["coordinates"] or dc
        missing = [c for c in cols if c not in dc]
        if missing:
            raise DataError(f"coordinates {missing} are not in {embedding}; it has {dc}")
        X = emb[cols].to_numpy(dtype=np.float64)
        rows = emb.drop(columns=dc)
        source = f"diffusion embedding {embedding} ({', '.join(cols)})"
    else:
        X, rows = load_selection(arrays, dataset_samples, spec)
        X = np.asarray(X, dtype=np.float64)
        source = f"dataset {arrays}"
    dup = len(X) - len(np.unique(X, axis=0))
    if dup:
        raise DataError(
            f"{dup} duplicate points in {source}: the diffusion-geometry operator needs distinct points; "
            "remove duplicates from the data or embed with more coordinates"
        )
    logger.info("geometry input: %d points in %d dimensions from %s", X.shape[0], X.shape[1], source)
    io.save_tensor(torch.from_numpy(X), points)
    io.write_parquet(rows.reset_index(drop=True), samples, metadata={"source": source})


def load_points(path: str) -> np.ndarray:
    return io.load_tensor(path).numpy()


def load_graph(path: str):
    from ..geometry.neighbors import KNNGraph

    t = io.load_tensor(path)
    return KNNGraph(t["indices"].numpy(), t["distances"].numpy())


def geometry_knn(*, points: str, k: int, knn: str) -> None:
    """The cached kNN graph (k neighbours including the point itself)."""
    from ..geometry.neighbors import knn_graph

    X = load_points(points)
    t0 = time.perf_counter()
    g = knn_graph(X, min(k, len(X)))
    logger.info("kNN graph: %d points, k = %d, in %.2f s", g.n, g.k, time.perf_counter() - t0)
    io.save_tensor({"indices": g.indices, "distances": g.distances}, knn)


def _estimator_kwargs(spec: Spec, stage: str) -> dict[str, Any]:
    """Keyword arguments of estimate_dimension / estimate_curvature for one stage: in improved
    mode the ``improved`` parameters that the stage's estimator takes (the config holds both
    stages' parameters in one mapping)."""
    mode = spec["mode"]
    kw: dict[str, Any] = {"mode": mode, "k": spec["k"], "seed": spec["seed"]}
    if mode == "parity":
        kw["n0"] = spec[f"n0_{stage}"]
    else:
        accepted = _improved_parameters(stage)
        kw.update({key: value for key, value in spec["improved"].items() if key in accepted})
    return kw


def _improved_parameters(stage: str) -> dict[str, Any]:
    """The improved estimator's own parameters for ``stage`` with their defaults."""
    import inspect

    from ..geometry import improved

    fn = improved.improved_dimension if stage == "dimension" else improved.improved_curvature
    skip = {"X", "d", "k", "graph", "seed", "c", "k_ep", "chunk"}
    return {name: p.default for name, p in inspect.signature(fn).parameters.items() if name not in skip}


# --- estimators ---------------------------------------------------------------------------


def geometry_dimension(*, points: str, knn: str, spec: Spec, dimension: str) -> None:
    """Pointwise dimension: ``id``-free table in point order with ``dimension`` (rounded),
    ``dimension_unrounded``, ``dimension_raw`` (per-point eigengap argmax), ``gamma_eig1..D``
    (the metric eigenvalue profile) and ``boundary``; metadata: the global dimension and the gap
    diagnostics."""
    from ..geometry.estimate import estimate_dimension

    X = load_points(points)
    res = estimate_dimension(X, graph=load_graph(knn), **_estimator_kwargs(spec, "dimension"))
    D = X.shape[1]
    table = pd.DataFrame(
        {
            "dimension": res.pointwise.astype(np.int64),
            "dimension_unrounded": res.unrounded,
            "dimension_raw": res.raw.astype(np.int64),
        }
    )
    for j in range(D):
        table[f"gamma_eig{j + 1}"] = res.metric_eigenvalues[:, j]
    boundary = getattr(res, "boundary", None)
    table["boundary"] = np.zeros(len(X), bool) if boundary is None else np.asarray(boundary, bool)
    diag = res.diagnostics
    if not diag.clear:
        logger.warning("dimension: %s -- the data may not be a manifold at this scale", diag.describe())
    meta = {
        "global_dimension": res.global_dim,
        "gap_clear": diag.clear,
        "gap": diag.gap,
        "gap_diagnostics": diag.describe(),
        "median_profile": diag.median_profile.tolist(),
        "mode": spec["mode"],
        "epsilon": res.operator.epsilon,
        "tuned_dimension": res.operator.dim,
        "timings": res.timings,
    }
    io.write_parquet(table, dimension, metadata=meta)


def geometry_curvature(*, points: str, knn: str, dimension: str, spec: Spec, curvature: str) -> None:
    """Scalar curvature per point (``scalar_curvature``, ``calibration``), in point order, at the
    dimension d that ``curvature_dim`` picks (:func:`repgeo.geometry.estimate.curvature_dimension`)."""
    from ..geometry.estimate import curvature_dimension, estimate_curvature

    X = load_points(points)
    dmeta = io.read_parquet_metadata(dimension)
    d = curvature_dimension(
        spec["curvature_dim"],
        dmeta["global_dimension"],
        lambda: io.read_parquet(dimension, columns=["dimension"])["dimension"].to_numpy(),
        X.shape[1],
        dmeta.get("gap_diagnostics", ""),
    )
    res = estimate_curvature(X, d, graph=load_graph(knn), **_estimator_kwargs(spec, "curvature"))
    calib = np.broadcast_to(np.asarray(res.calibration, dtype=np.float64), (len(X),))
    table = pd.DataFrame({"scalar_curvature": res.scalar, "calibration": calib})
    meta = {
        "d": d,
        "mode": spec["mode"],
        "calibration": float(np.median(calib)),
        "timings": res.timings,
    }
    if res.smoothing is not None:
        meta["smoothing_steps"] = res.smoothing.steps
    io.write_parquet(table, curvature, metadata=meta)


def geometry_baselines(*, points: str, knn: str, curvature: str, spec: Spec, baselines: str) -> None:
    """scikit-dimension's pointwise MLE and local PCA, and the quadratic-fit curvature at the
    curvature stage's d; global TwoNN and MLE in the metadata."""
    from ..geometry.baselines import dimension_baselines, quadratic_fit_curvature

    X = load_points(points)
    graph = load_graph(knn)
    d = int(io.read_parquet_metadata(curvature)["d"])
    t0 = time.perf_counter()
    dims = dimension_baselines(X, graph=graph)
    S = quadratic_fit_curvature(X, d, n_neighbors=spec["quadratic_fit_neighbors"], graph=graph)
    table = pd.DataFrame(
        {"mle_dimension": dims.mle_pointwise, "lpca_dimension": dims.lpca_pointwise, "quadratic_fit_curvature": S}
    )
    meta = {"twonn_dimension": dims.twonn, "mle_dimension": dims.mle, "d": d, "seconds": time.perf_counter() - t0}
    io.write_parquet(table, baselines, metadata=meta)


def geometry_nulls(*, points: str, curvature: str, spec: Spec, nulls: str) -> None:
    """The estimator on two null controls of the same size, with the data's curvature d
    (:func:`repgeo.geometry.baselines.null_controls`): one row per control with its global
    dimension, gap diagnostics and curvature summaries."""
    from ..geometry.baselines import null_controls

    X = load_points(points)
    d = int(io.read_parquet_metadata(curvature)["d"])
    table = null_controls(
        X,
        d,
        seed=spec["seed"],
        dimension=_estimator_kwargs(spec, "dimension"),
        curvature=_estimator_kwargs(spec, "curvature"),
    )
    io.write_parquet(table, nulls, metadata={"d": d})


# --- tables -------------------------------------------------------------------------------


def geometry_tables(
    *,
    samples: str,
    dimension: str,
    curvature: str,
    pointwise: str,
    summary: str,
    baselines: str | None = None,
    nulls: str | None = None,
) -> None:
    """``pointwise.parquet`` (id, estimates, profile, boundary, baselines, the source's columns)
    and ``summary.parquet`` (one row per method: the estimator, each baseline, each null control;
    numbers from :mod:`repgeo.geometry.summary`)."""
    from ..geometry.summary import accuracy_against_truth, curvature_summary

    rows_in = io.read_parquet(samples)
    dim = io.read_parquet(dimension)
    curv = io.read_parquet(curvature)
    dmeta = io.read_parquet_metadata(dimension)
    cmeta = io.read_parquet_metadata(curvature)
    parts = [rows_in[["id"]], dim, curv]
    base = io.read_parquet(baselines) if baselines else None
    if base is not None:
        parts.append(base)
    table = pd.concat(parts + [rows_in.drop(columns=["id"])], axis=1)
    io.write_parquet(table, pointwise, metadata={"dimension": dmeta, "curvature": cmeta})

    boundary = dim["boundary"].to_numpy(bool)
    S = curv["scalar_curvature"].to_numpy()
    rows = [
        {
            "method": f"diffusion_geometry ({dmeta['mode']})",
            "kind": "estimate",
            "global_dimension": dmeta["global_dimension"],
            "gap_clear": dmeta["gap_clear"],
            "gap": dmeta["gap"],
            "median_profile": ", ".join(f"{v:.3f}" for v in dmeta["median_profile"]),
            "curvature_d": cmeta["d"],
            "boundary_fraction": float(boundary.mean()),
            **curvature_summary(S),
            **accuracy_against_truth(S, dim["dimension"].to_numpy(), rows_in, boundary),
        }
    ]
    if base is not None:
        bmeta = io.read_parquet_metadata(baselines)
        rows.append(
            {"method": "twonn (scikit-dimension)", "kind": "baseline", "global_dimension": bmeta["twonn_dimension"]}
        )
        for col, name in (
            ("mle_dimension", "mle (scikit-dimension)"),
            ("lpca_dimension", "local pca (scikit-dimension)"),
        ):
            g = bmeta["mle_dimension"] if col == "mle_dimension" else float(np.median(base[col]))
            rows.append(
                {
                    "method": name,
                    "kind": "baseline",
                    "global_dimension": g,
                    **accuracy_against_truth(None, base[col].to_numpy(), rows_in, None),
                }
            )
        Sq = base["quadratic_fit_curvature"].to_numpy()
        rows.append(
            {
                "method": "quadratic fit (Sritharan et al. 2021)",
                "kind": "baseline",
                "curvature_d": bmeta["d"],
                **curvature_summary(Sq),
                **accuracy_against_truth(Sq, None, rows_in, None),
            }
        )
    if nulls:
        for r in io.read_parquet(nulls).to_dict("records"):
            ctrl = r.pop("control")
            rows.append({"method": f"null: {ctrl}", "kind": "null control", "curvature_d": cmeta["d"], **r})
    io.write_parquet(pd.DataFrame(rows), summary)
    est = rows[0]
    logger.info(
        "summary: global dimension %s (%s), curvature median %.4g, fraction negative %.2f",
        est["global_dimension"],
        "clear gap" if est["gap_clear"] else "no clear gap",
        est["curvature_median"],
        est["fraction_negative"],
    )


def geometry_attributes(*, pointwise: str, points: str, spec: Spec, tests: str, regions: str, enrichment: str) -> None:
    """Curvature against attributes: sign regions on the embedding, per-attribute tests,
    attribute shares per region (see :mod:`repgeo.geometry.regions`)."""
    from ..geometry.regions import (
        SIGNIFICANCE_LEVEL,
        attribute_columns,
        attribute_tests,
        region_enrichment,
        sign_regions,
        significant_attributes,
    )

    pw = io.read_parquet(pointwise)
    attrs = pw[attribute_columns(pw, spec["attributes"])].astype(bool)
    S = pw["scalar_curvature"].to_numpy()
    X = load_points(points)
    labels, table = sign_regions(X, S, k=spec["regions"]["k"], min_size=spec["regions"]["min_size"], seed=spec["seed"])
    results = attribute_tests(S, attrs, seed=spec["seed"])
    io.write_parquet(results, tests)
    io.write_parquet(table.assign(n_points=len(S)), regions, metadata={"labels": labels.tolist()})
    io.write_parquet(region_enrichment(labels, attrs), enrichment)
    if len(results):
        sig = significant_attributes(results)
        logger.info(
            "attributes: %d tested, %d with q < %g: %s",
            len(results),
            len(sig),
            SIGNIFICANCE_LEVEL,
            ", ".join(sig["attribute"]),
        )


# --- figures ------------------------------------------------------------------------------


def geometry_figures(
    *,
    pointwise: str,
    points: str,
    summary: str,
    dimension_png: str,
    curvature_png: str,
    summary_html: str,
    title: str,
    first_three: bool,
    dpi: int,
    attributes: str | None = None,
) -> None:
    """Dimension and curvature on a 3-D view of the points (Arnold 2025, Figures 3.3 and 3.4: the
    first three diffusion coordinates when ``first_three``, else the top three principal
    components; :mod:`repgeo.geometry.figures`), attribute effects, and the summary tables as
    HTML (``summary_html``)."""
    from ..geometry.figures import curvature_figure, dimension_figure, view_coordinates

    pw = io.read_parquet(pointwise)
    coords, axes = view_coordinates(load_points(points), first_three)
    io.save_figure(dimension_figure(coords, pw["dimension"], title, axes), dimension_png, dpi=dpi)
    io.save_figure(curvature_figure(coords, pw["scalar_curvature"], title, axes), curvature_png, dpi=dpi)
    body = html_table(io.read_parquet(summary), f"geometry {title}: summary")
    if attributes:
        body += html_table(
            io.read_parquet(attributes), "curvature against attributes (Mann-Whitney, Benjamini-Hochberg)"
        )
    io.write_text(html_page(f"geometry {title}", body), summary_html)


def geometry_attribute_figure(*, tests: str, png: str, title: str, dpi: int) -> None:
    """Mean-curvature differences per attribute with bootstrap intervals."""
    from ..geometry.figures import attribute_figure

    io.save_figure(attribute_figure(io.read_parquet(tests), title), png, dpi=dpi)
