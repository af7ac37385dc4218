"""Geometry stage: pointwise dimension and scalar curvature of a dataset or a diffusion embedding.

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
import torch

from .. import io
from ..data import DataError
from .data import load_selection
from .html import html_page, html_table

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


# --- inputs ---------------------------------------------------------------------------------


def geometry_points(spec: Spec, out_points: str, out_samples: str, inputs: Mapping[str, str]) -> None:
    """The point cloud of an entry: a dataset's rows (flattened) or a diffusion embedding's
    coordinates; with the source's other columns as ``samples.parquet``."""
    if "embedding" in inputs:
        emb = io.read_parquet(inputs["embedding"])
        dc = [c for c in emb.columns if c.startswith("dc") and c[2:].isdigit()]
        cols = spec.get("coordinates") or dc
        missing = [c for c in cols if c not in dc]
        if missing:
            raise DataError(f"coordinates {missing} are not in {inputs['embedding']}; it has {dc}")
        X = emb[cols].to_numpy(dtype=np.float64)
        samples = emb.drop(columns=dc)
        source = f"diffusion embedding {inputs['embedding']} ({', '.join(cols)})"
    else:
        X, samples = load_selection(inputs["arrays"], inputs["samples"], spec)
        X = np.asarray(X, dtype=np.float64)
        source = f"dataset {inputs['arrays']}"
    dup = len(X) - len(np.unique(X, axis=0))
    if dup:
        raise DataError(
            f"{dup} duplicate points in {source}: the diffusion-geometry operator needs distinct points; "
            "remove duplicates from the data or embed with more coordinates"
        )
    logger.info("geometry input: %d points in %d dimensions from %s", X.shape[0], X.shape[1], source)
    io.save_tensor(torch.from_numpy(X), out_points)
    io.write_parquet(samples.reset_index(drop=True), out_samples, metadata={"source": source})


def load_points(path: str) -> np.ndarray:
    return io.load_tensor(path).numpy()


def load_graph(path: str):
    from ..geometry.neighbors import KNNGraph

    t = io.load_tensor(path)
    return KNNGraph(t["indices"].numpy(), t["distances"].numpy())


def geometry_knn(points_path: str, k: int, out: str) -> None:
    """The cached kNN graph (k neighbours including the point itself)."""
    from ..geometry.neighbors import knn_graph

    X = load_points(points_path)
    t0 = time.perf_counter()
    g = knn_graph(X, min(k, len(X)))
    logger.info("kNN graph: %d points, k = %d, in %.2f s", g.n, g.k, time.perf_counter() - t0)
    io.save_tensor({"indices": g.indices, "distances": g.distances}, out)


def _estimator_kwargs(spec: Spec, stage: str) -> dict[str, Any]:
    """Keyword arguments of estimate_dimension / estimate_curvature for one stage: in improved
    mode the ``improved`` parameters that the stage's estimator takes (the config holds both
    stages' parameters in one mapping)."""
    mode = spec.get("mode", "improved")
    kw: dict[str, Any] = {"mode": mode, "k": spec.get("k", 32), "seed": spec.get("seed", 0)}
    if mode == "parity":
        kw["n0"] = spec.get(f"n0_{stage}", 80 if stage == "dimension" else 50)
    else:
        accepted = _improved_parameters(stage)
        kw.update({key: value for key, value in (spec.get("improved") or {}).items() if key in accepted})
    return kw


def _improved_parameters(stage: str) -> dict[str, Any]:
    """The improved estimator's own parameters for ``stage`` with their defaults."""
    import inspect

    from ..geometry import improved

    fn = improved.improved_dimension if stage == "dimension" else improved.improved_curvature
    skip = {"X", "d", "k", "graph", "seed", "c", "k_ep", "chunk"}
    return {name: p.default for name, p in inspect.signature(fn).parameters.items() if name not in skip}


def knn_size(spec: Spec) -> int:
    """Neighbours the cached kNN graph needs: ``k``, and in improved mode also the wider lists of
    the dimension (``k_dimension``) and curvature (``k_fit``) estimators."""
    k = int(spec.get("k", 32))
    if spec.get("mode", "improved") == "parity":
        return k
    params = {**_improved_parameters("dimension"), **_improved_parameters("curvature"), **(spec.get("improved") or {})}
    return max(k, int(params["k_dimension"]), int(params["k_fit"]))


# --- estimators ---------------------------------------------------------------------------


def geometry_dimension(points_path: str, knn_path: str, spec: Spec, out: str) -> None:
    """Pointwise dimension: ``id``-free table in point order with ``dimension`` (rounded),
    ``dimension_unrounded``, ``dimension_raw`` (per-point eigengap argmax), ``gamma_eig1..D``
    (the metric eigenvalue profile) and ``boundary``; metadata: the global dimension and the gap
    diagnostics."""
    from ..geometry.estimate import estimate_dimension

    X = load_points(points_path)
    res = estimate_dimension(X, graph=load_graph(knn_path), **_estimator_kwargs(spec, "dimension"))
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
        "mode": spec.get("mode", "improved"),
        "epsilon": res.operator.epsilon,
        "tuned_dimension": res.operator.dim,
        "timings": res.timings,
    }
    io.write_parquet(table, out, metadata=meta)


def resolve_curvature_dim(setting: Any, dimension_path: str, ambient: int) -> int:
    """``curvature_dim``: an integer, ``global`` (the global dimension) or ``modal`` (the most
    common pointwise dimension)."""
    meta = io.read_parquet_metadata(dimension_path)
    if isinstance(setting, (int, np.integer)) and not isinstance(setting, bool):
        d = int(setting)
    elif setting == "global":
        d = int(meta["global_dimension"])
    elif setting == "modal":
        dims = io.read_parquet(dimension_path, columns=["dimension"])["dimension"].to_numpy()
        values, counts = np.unique(dims, return_counts=True)
        d = int(values[np.argmax(counts)])
    else:
        raise DataError(f"curvature_dim must be an integer, 'global' or 'modal', got {setting!r}")
    if not 1 <= d < ambient:
        raise DataError(
            f"curvature needs 1 <= d < {ambient} (the ambient dimension), but curvature_dim={setting!r} "
            f"gives d = {d} ({meta.get('gap_diagnostics', '')}); set curvature_dim to an integer"
        )
    return d


def geometry_curvature(points_path: str, knn_path: str, dimension_path: str, spec: Spec, out: str) -> None:
    """Scalar curvature per point (``scalar_curvature``, ``calibration``), in point order."""
    from ..geometry.estimate import estimate_curvature

    X = load_points(points_path)
    d = resolve_curvature_dim(spec.get("curvature_dim", "global"), dimension_path, X.shape[1])
    res = estimate_curvature(X, d, graph=load_graph(knn_path), **_estimator_kwargs(spec, "curvature"))
    calib = np.broadcast_to(np.asarray(res.calibration, dtype=np.float64), (len(X),))
    table = pd.DataFrame({"scalar_curvature": res.scalar, "calibration": calib})
    meta = {
        "d": d,
        "mode": spec.get("mode", "improved"),
        "calibration": float(np.median(calib)),
        "timings": res.timings,
    }
    if res.smoothing is not None:
        meta["smoothing_steps"] = res.smoothing.steps
    io.write_parquet(table, out, metadata=meta)


def geometry_baselines(points_path: str, knn_path: str, curvature_path: str, spec: Spec, out: str) -> None:
    """scikit-dimension's pointwise MLE and local PCA, and the quadratic-fit curvature at the
    curvature stage's d; global TwoNN and MLE in the metadata."""
    from ..geometry.baselines import dimension_baselines, quadratic_fit_curvature

    X = load_points(points_path)
    graph = load_graph(knn_path)
    d = int(io.read_parquet_metadata(curvature_path)["d"])
    t0 = time.perf_counter()
    dims = dimension_baselines(X, graph=graph)
    S = quadratic_fit_curvature(X, d, n_neighbors=spec.get("quadratic_fit_neighbors", 40), graph=graph)
    table = pd.DataFrame(
        {"mle_dimension": dims.mle_pointwise, "lpca_dimension": dims.lpca_pointwise, "quadratic_fit_curvature": S}
    )
    meta = {"twonn_dimension": dims.twonn, "mle_dimension": dims.mle, "d": d, "seconds": time.perf_counter() - t0}
    io.write_parquet(table, out, metadata=meta)


def geometry_nulls(points_path: str, curvature_path: str, spec: Spec, out: str) -> None:
    """The estimator on two null controls of the same size, with the data's curvature d.

    One row per control (``gaussian``: a Gaussian cloud with the data's mean and covariance;
    ``shuffled``: every coordinate permuted independently): global dimension, gap diagnostics
    and curvature summaries."""
    from ..geometry.baselines import gaussian_null, shuffled_null
    from ..geometry.estimate import estimate_curvature, estimate_dimension

    X = load_points(points_path)
    d = int(io.read_parquet_metadata(curvature_path)["d"])
    rows = []
    for name, make in (("gaussian", gaussian_null), ("shuffled", shuffled_null)):
        Y = make(X, seed=spec.get("seed", 0))
        dim = estimate_dimension(Y, **_estimator_kwargs(spec, "dimension"))
        S = estimate_curvature(Y, d, **_estimator_kwargs(spec, "curvature")).scalar
        rows.append(
            {
                "control": name,
                "global_dimension": dim.global_dim,
                "gap_clear": dim.diagnostics.clear,
                "gap": dim.diagnostics.gap,
                **_curvature_stats(S),
            }
        )
        logger.info("null control %s: global dimension %d, curvature median %.4g", name, dim.global_dim, np.median(S))
    io.write_parquet(pd.DataFrame(rows), out, metadata={"d": d})


# --- tables -------------------------------------------------------------------------------


def _curvature_stats(S: np.ndarray) -> dict[str, float]:
    q = np.quantile(S, [0.05, 0.25, 0.5, 0.75, 0.95])
    return {
        "curvature_mean": float(np.mean(S)),
        "curvature_sd": float(np.std(S)),
        "curvature_q05": float(q[0]),
        "curvature_q25": float(q[1]),
        "curvature_median": float(q[2]),
        "curvature_q75": float(q[3]),
        "curvature_q95": float(q[4]),
        "fraction_negative": float(np.mean(S < 0)),
    }


def _against_truth(
    S: np.ndarray | None, dims: np.ndarray | None, samples: pd.DataFrame, boundary: np.ndarray | None
) -> dict[str, float]:
    out: dict[str, float] = {}
    if S is not None and "true_scalar_curvature" in samples:
        t = samples["true_scalar_curvature"].to_numpy(dtype=np.float64)
        out["true_curvature_mean"] = float(t.mean())
        out["bias"] = float(S.mean() - t.mean())
        # A percentage only means something when the true mean is not ~0 (a torus averages to 0).
        meaningful = abs(t.mean()) > 0.05 * max(t.std(), 1e-12) or t.std() == 0 and t.mean() != 0
        out["bias_percent"] = float(100 * (S.mean() - t.mean()) / abs(t.mean())) if meaningful else float("nan")
        out["mae"] = float(np.mean(np.abs(S - t)))
        out["rmse"] = float(np.sqrt(np.mean((S - t) ** 2)))
        out["correlation"] = float(np.corrcoef(S, t)[0, 1]) if t.std() > 0 and S.std() > 0 else float("nan")
    if dims is not None and "true_dim" in samples:
        ok = np.round(dims) == samples["true_dim"].to_numpy()
        out["dimension_fraction_correct"] = float(ok.mean())
        if "interior" in samples:
            out["dimension_fraction_correct_interior"] = float(ok[samples["interior"].to_numpy(bool)].mean())
        if boundary is not None and boundary.any():
            out["dimension_fraction_correct_unflagged"] = float(ok[~boundary].mean())
    return out


def geometry_tables(
    samples_path: str,
    dimension_path: str,
    curvature_path: str,
    out_pointwise: str,
    out_summary: str,
    baselines_path: str | None = None,
    nulls_path: str | None = None,
) -> None:
    """``pointwise.parquet`` (id, estimates, profile, boundary, baselines, the source's columns)
    and ``summary.parquet`` (one row per method: the estimator, each baseline, each null control)."""
    samples = io.read_parquet(samples_path)
    dim = io.read_parquet(dimension_path)
    curv = io.read_parquet(curvature_path)
    dmeta = io.read_parquet_metadata(dimension_path)
    cmeta = io.read_parquet_metadata(curvature_path)
    parts = [samples[["id"]], dim, curv]
    base = io.read_parquet(baselines_path) if baselines_path else None
    if base is not None:
        parts.append(base)
    pointwise = pd.concat(parts + [samples.drop(columns=["id"])], axis=1)
    io.write_parquet(pointwise, out_pointwise, metadata={"dimension": dmeta, "curvature": cmeta})

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
            **_curvature_stats(S),
            **_against_truth(S, dim["dimension"].to_numpy(), samples, boundary),
        }
    ]
    if base is not None:
        bmeta = io.read_parquet_metadata(baselines_path)
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
                    **_against_truth(None, base[col].to_numpy(), samples, None),
                }
            )
        Sq = base["quadratic_fit_curvature"].to_numpy()
        rows.append(
            {
                "method": "quadratic fit (Sritharan et al. 2021)",
                "kind": "baseline",
                "curvature_d": bmeta["d"],
                **_curvature_stats(Sq),
                **_against_truth(Sq, None, samples, None),
            }
        )
    if nulls_path:
        for r in io.read_parquet(nulls_path).to_dict("records"):
            ctrl = r.pop("control")
            rows.append({"method": f"null: {ctrl}", "kind": "null control", "curvature_d": cmeta["d"], **r})
    summary = pd.DataFrame(rows)
    io.write_parquet(summary, out_summary)
    est = rows[0]
    logger.info(
        "summary: global dimension %s (%s), curvature median %.4g, fraction negative %.2f",
        est["global_dimension"],
        "clear gap" if est["gap_clear"] else "no clear gap",
        est["curvature_median"],
        est["fraction_negative"],
    )


def attribute_columns(samples: pd.DataFrame, setting: Any) -> list[str]:
    """The attribute columns an entry tests: a list, or ``boolean`` for every boolean column."""
    if setting in (None, False):
        return []
    if setting == "boolean":
        return [
            c for c in samples.columns if pd.api.types.is_bool_dtype(samples[c]) and c not in ("boundary", "interior")
        ]
    missing = [c for c in setting if c not in samples.columns]
    if missing:
        raise DataError(f"attributes {missing} are not columns of the samples; available: {', '.join(samples.columns)}")
    return list(setting)


def geometry_attributes(
    pointwise_path: str, points_path: str, spec: Spec, out_tests: str, out_regions: str, out_enrichment: str
) -> None:
    """Curvature against attributes: sign regions on the embedding, per-attribute tests,
    attribute shares per region (see :mod:`repgeo.geometry.regions`)."""
    from ..geometry.regions import attribute_tests, region_enrichment, sign_regions

    pw = io.read_parquet(pointwise_path)
    cols = attribute_columns(pw, spec.get("attributes"))
    attrs = pw[cols].astype(bool)
    S = pw["scalar_curvature"].to_numpy()
    X = load_points(points_path)
    reg = spec.get("regions") or {}
    labels, regions = sign_regions(X, S, k=reg.get("k", 10), min_size=reg.get("min_size", 20), seed=spec.get("seed", 0))
    tests = attribute_tests(S, attrs, seed=spec.get("seed", 0))
    io.write_parquet(tests, out_tests)
    io.write_parquet(regions.assign(n_points=len(S)), out_regions, metadata={"labels": labels.tolist()})
    io.write_parquet(region_enrichment(labels, attrs), out_enrichment)
    if len(tests):
        sig = tests[tests["q_value"] < 0.05]
        logger.info("attributes: %d tested, %d with q < 0.05: %s", len(tests), len(sig), ", ".join(sig["attribute"]))


# --- figures ------------------------------------------------------------------------------


def geometry_figures(
    pointwise_path: str,
    points_path: str,
    summary_path: str,
    out_dim: str,
    out_curv: str,
    out_html: str,
    title: str,
    first_three: bool,
    dpi: int = 110,
    attributes_path: str | None = None,
) -> None:
    """Dimension and curvature on a 3-D view of the points (seed Figures 3.3 and 3.4: the first
    three diffusion coordinates when ``first_three``, else the top three principal components),
    attribute effects, and the summary tables as HTML."""
    from ..plotting import plot_embedding

    pw = io.read_parquet(pointwise_path)
    X = load_points(points_path)
    if first_three or X.shape[1] <= 3:
        coords, axes = X[:, :3], ("dc1", "dc2", "dc3") if first_three else ("x1", "x2", "x3")
    else:
        coords, axes = _three_d(X), ("PC1", "PC2", "PC3")
    io.save_figure(
        plot_embedding(coords, pw["dimension"], "pointwise dimension", f"dimension: {title}", axes), out_dim, dpi=dpi
    )
    S = pw["scalar_curvature"]
    lim = float(np.quantile(np.abs(S), 0.95)) or 1.0
    io.save_figure(
        plot_embedding(
            coords,
            S.clip(-lim, lim),
            "scalar curvature (clipped at the 95th percentile of |S|)",
            f"curvature: {title}",
            axes,
        ),
        out_curv,
        dpi=dpi,
    )
    body = html_table(io.read_parquet(summary_path), f"geometry {title}: summary")
    if attributes_path:
        body += html_table(
            io.read_parquet(attributes_path), "curvature against attributes (Mann-Whitney, Benjamini-Hochberg)"
        )
    io.write_text(html_page(f"geometry {title}", body), out_html)


def attribute_figure(attributes_path: str, out_png: str, title: str, dpi: int = 110) -> None:
    """Mean-curvature differences per attribute with bootstrap intervals."""
    from ..plotting import plot_attribute_effects

    io.save_figure(
        plot_attribute_effects(io.read_parquet(attributes_path), f"curvature by attribute: {title}"), out_png, dpi=dpi
    )


def _three_d(X: np.ndarray) -> np.ndarray:
    """The top three principal components (from at most 20,000 rows)."""
    Xc = X - X.mean(axis=0)
    _, _, Vt = np.linalg.svd(Xc[:: max(1, len(X) // 20000)], full_matrices=False)
    return Xc @ Vt[:3].T
