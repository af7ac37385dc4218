"""Entropy stage: DSE and DSMI of the training runs' embeddings, epoch by epoch.

Liao, Liu et al., CISS 2024 (arXiv 2312.04823), section 5 (Figures 6-8). Three steps, so that a
change reruns as little as possible:

1. :func:`input_groups` -- the evaluation subset's input images X, flattened and clustered once
   by spectral clustering (the reference variable of I_D(Z; X)); reused by every epoch, mode and
   seed of the training entry. ``results/entropy/{name}/x_groups.parquet``.
2. :func:`run_spectra` -- per run (mode x seed), every diffusion spectrum that S_D(Z), I_D(Z; Y)
   and I_D(Z; X) need at every epoch, float64 (:mod:`repgeo.entropy.tracking`).
   ``results/entropy/{name}/{mode}/seed{seed}/spectra.npz``. Depends on sigma, alpha,
   n_neighbors, max_n, dtype, n_repetitions and seed, not on t.
3. :func:`trajectory_table` -- DSE and DSMI at the configured t from the cached spectra, the
   classic Shannon baselines CSE / CSMI from the embeddings, and the accuracy from the training
   history, for every run: ``results/entropy/{name}/trajectory.parquet``; changing t reruns only
   this step. :func:`trajectory_figure` draws it (mean +- sd over seeds per mode).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]

SPECTRUM_KEYS = ("sigma", "alpha", "n_neighbors", "max_n", "dtype", "n_repetitions", "seed")
MEASURES = ("dse", "dsmi_zy", "dsmi_zx", "cse", "csmi_zy", "csmi_zx")


def input_groups(arrays_path: str, samples_path: str, train_spec: Spec, entropy_spec: Spec, out_path: str) -> None:
    """Cluster the evaluation subset's flattened inputs into ``n_clusters`` groups (step 1)."""
    from ..entropy import cluster_reference
    from .training import eval_positions

    samples = io.read_parquet(samples_path)
    positions = eval_positions(samples, train_spec)
    X = io.load_tensor(arrays_path).numpy()[positions].reshape(len(positions), -1)
    n_clusters = int(entropy_spec.get("n_clusters", 10))
    t0 = time.perf_counter()
    groups = cluster_reference(X, n_clusters, random_state=int(entropy_spec.get("seed", 0)))
    logger.info(
        "clustered %d inputs of dimension %d into %d groups in %.1f s",
        len(X),
        X.shape[1],
        n_clusters,
        time.perf_counter() - t0,
    )
    table = pd.DataFrame({"position": positions, "id": samples["id"].to_numpy()[positions], "x_group": groups})
    io.write_parquet(
        table, out_path, metadata={"n_clusters": n_clusters, "method": "spectral clustering (kNN affinity, cluster_qr)"}
    )


def groupings(labels: np.ndarray, x_groups: np.ndarray | None = None) -> dict:
    """The DSMI groupings of a tracked subset: 'y' (its class labels) and, when given, 'x' (its input clusters)."""
    from ..entropy import Grouping
    from ..entropy.dsmi import resolve_groups

    out = {"y": resolve_groups(None, labels, len(labels), 10, None)}
    if x_groups is not None:
        out["x"] = Grouping(np.asarray(x_groups, dtype=np.int64), "clustered")
    return out


def _load_run(embeddings_path: str, x_groups_path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z (epochs+1 x n x dim, float64), labels and X groups of one run, checked against each other."""
    emb = io.load_tensor(embeddings_path)
    Z = emb["Z"].double().numpy()
    positions = emb["positions"].numpy()
    xg = io.read_parquet(x_groups_path)
    if not np.array_equal(xg["position"].to_numpy(), positions):
        raise DataError(
            f"{embeddings_path} tracks other samples than {x_groups_path} (eval_n or eval_seed changed); "
            "rerun both (snakemake --forcerun entropy_input_groups)"
        )
    if not np.isfinite(Z).all():
        bad = sorted({int(e) for e in np.argwhere(~np.isfinite(Z))[:, 0]})
        raise DataError(
            f"{embeddings_path} has NaN or infinite embeddings at epochs {bad}: training diverged; lower lr"
        )
    return Z, emb["labels"].numpy(), xg["x_group"].to_numpy()


def run_spectra(embeddings_path: str, x_groups_path: str, entropy_spec: Spec, device: str, out_path: str) -> None:
    """Every spectrum of every epoch of one run into one .npz (step 2; keys ``e{epoch}_{rows key}``)."""
    from ..entropy.tracking import epoch_spectra
    from ..runtime import resolve_device

    Z, labels, x_groups = _load_run(embeddings_path, x_groups_path)
    groups = groupings(labels, x_groups)
    options = {k: entropy_spec[k] for k in SPECTRUM_KEYS if k in entropy_spec}
    options["device"] = resolve_device(device)
    arrays: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    for epoch, Ze in enumerate(Z):
        spectra = epoch_spectra(Ze, groups, **options)
        arrays.update({f"e{epoch}_{key}": lam for key, lam in spectra.items()})
        logger.info(
            "epoch %d/%d: %d spectra (%.1f s so far)", epoch, len(Z) - 1, len(spectra), time.perf_counter() - t0
        )
    with io.atomic_path(out_path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _epoch_spectra(archive, epoch: int) -> dict[str, np.ndarray]:
    prefix = f"e{epoch}_"
    return {k[len(prefix) :]: archive[k] for k in archive.files if k.startswith(prefix)}


def run_trajectory(
    spectra_path: str, embeddings_path: str, history_path: str, x_groups_path: str, entropy_spec: Spec
) -> pd.DataFrame:
    """One run's rows of the trajectory table (step 3)."""
    from ..entropy import classic_shannon_entropy, classic_shannon_mutual_information
    from ..entropy.tracking import epoch_measures

    Z, labels, x_groups = _load_run(embeddings_path, x_groups_path)
    groups = groupings(labels, x_groups)
    t = float(entropy_spec.get("t", 1.0))
    R, seed = int(entropy_spec.get("n_repetitions", 5)), int(entropy_spec.get("seed", 0))
    bins, max_n = int(entropy_spec.get("cse_bins", 2)), entropy_spec.get("max_n", 10_000)
    history = io.read_parquet(history_path).set_index("epoch")
    if sorted(history.index) != list(range(len(Z))):
        raise DataError(f"{history_path} and {embeddings_path} disagree on the epochs; rerun the training job")
    rows = []
    with np.load(spectra_path, allow_pickle=False) as archive:
        for epoch, Ze in enumerate(Z):
            dse, mi = epoch_measures(_epoch_spectra(archive, epoch), len(Ze), groups, t, n_repetitions=R, seed=seed)
            csmi = {
                g: classic_shannon_mutual_information(
                    Ze, groups=groups[g].labels, n_bins=bins, n_repetitions=R, seed=seed, max_n=max_n
                )
                for g in ("y", "x")
            }
            h = history.loc[epoch]
            rows.append(
                {
                    "epoch": epoch,
                    "accuracy": float(h["test_accuracy"]),
                    "train_accuracy": float(h["train_accuracy"]),
                    "train_loss": float(h["train_loss"]),
                    "dse": dse,
                    "dsmi_zy": mi["y"].value,
                    "dsmi_zy_sd": mi["y"].sd,
                    "dsmi_zx": mi["x"].value,
                    "dsmi_zx_sd": mi["x"].sd,
                    "cse": classic_shannon_entropy(Ze, n_bins=bins, max_n=max_n, seed=seed),
                    "csmi_zy": csmi["y"].value,
                    "csmi_zx": csmi["x"].value,
                }
            )
    return pd.DataFrame(rows)


def trajectory_table(
    runs: Sequence[Mapping[str, Any]], x_groups_path: str, train_spec: Spec, entropy_spec: Spec, out_path: str
) -> pd.DataFrame:
    """The trajectory table of a training entry: one row per mode x seed x epoch (step 3).

    ``runs``: dicts with mode, seed, spectra, embeddings and history paths. Columns: model,
    dataset, mode, seed, epoch, accuracy (test accuracy; linear-probe accuracy for contrastive
    runs), train_accuracy, train_loss, dse, dsmi_zy (+ _sd over the R subset draws), dsmi_zx
    (+ _sd), cse, csmi_zy, csmi_zx, and the parameters: sigma, t, alpha, n_eval, cse_bins.
    """
    parts = []
    for run in runs:
        part = run_trajectory(run["spectra"], run["embeddings"], run["history"], x_groups_path, entropy_spec)
        meta = io.read_parquet_metadata(run["history"])
        part.insert(0, "epoch", part.pop("epoch"))
        part.insert(0, "seed", int(run["seed"]))
        part.insert(0, "mode", run["mode"])
        part.insert(0, "dataset", train_spec["dataset"])
        part.insert(0, "model", meta.get("config", {}).get("arch", train_spec.get("arch")))
        part["n_eval"] = len(meta.get("eval_ids", []))
        parts.append(part)
        logger.info(
            "%s seed %s: final accuracy %.3f, DSE %.3f bits",
            run["mode"],
            run["seed"],
            part["accuracy"].iloc[-1],
            part["dse"].iloc[-1],
        )
    table = pd.concat(parts, ignore_index=True)
    table["sigma"] = str(entropy_spec.get("sigma", 10.0))
    table["t"] = float(entropy_spec.get("t", 1.0))
    table["alpha"] = float(entropy_spec.get("alpha", 0.0))
    table["cse_bins"] = int(entropy_spec.get("cse_bins", 2))
    io.write_parquet(table, out_path, metadata={"entropy": dict(entropy_spec), "training": dict(train_spec)})
    return table


def trajectory_figure(trajectory_path: str, out_png: str, title: str, dpi: int = 110) -> None:
    """Figure of a trajectory table (:func:`repgeo.plotting.plot_trajectory`)."""
    from ..plotting import plot_trajectory

    fig = plot_trajectory(io.read_parquet(trajectory_path), title)
    io.save_figure(fig, out_png, dpi=dpi)


# --- toy validations ------------------------------------------------------------------------------

TOYS = ("dimension", "spd", "tree", "runtime")


def _toy_functions(toy: str):
    from ..entropy import figures, toys

    functions = {
        "dimension": (toys.dimension_sweep, figures.plot_dimension_sweep, True),
        "spd": (toys.spd_identity_sweep, figures.plot_spd_identity, False),
        "tree": (toys.tree_corruption_sweep, figures.plot_tree_corruption, True),
        "runtime": (toys.runtime_sweep, figures.plot_runtime, True),
    }
    if toy not in functions:
        raise ValueError(f"unknown toy validation {toy!r}; choose one of {TOYS}")
    return functions[toy]


def toy_table(toy: str, spec: Spec, out_path: str) -> None:
    """One toy validation of the DSE paper (Figures 2-5) as a table (:mod:`repgeo.entropy.toys`).

    ``spec`` holds the sweep function's keyword arguments (the config's ``entropy_toys.{toy}``).
    """
    sweep, _, reports = _toy_functions(toy)
    kwargs = dict(spec)
    if reports:
        kwargs["progress"] = lambda message: logger.info("%s", message)
    t0 = time.perf_counter()
    table = sweep(**kwargs)
    logger.info("%s: %d rows in %.1f s", toy, len(table), time.perf_counter() - t0)
    io.write_parquet(table, out_path, metadata={"toy": toy, "parameters": dict(spec)})


def toy_figure(toy: str, table_path: str, out_png: str, dpi: int = 110) -> None:
    """The figure of one toy validation table."""
    _, plot, _ = _toy_functions(toy)
    io.save_figure(plot(io.read_parquet(table_path)), out_png, dpi=dpi)
