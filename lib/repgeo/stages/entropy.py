"""Entropy stage: DSE and DSMI of the training runs' embeddings, epoch by epoch.

Liao, Liu et al., CISS 2024 (arXiv 2312.04823), section 5 (Figures 6-8). Three steps, so that a
change reruns as little as possible:

1. :func:`entropy_input_groups` -- the evaluation subset's input images X, flattened and
   clustered once by spectral clustering (the reference variable of I_D(Z; X)); reused by every
   epoch, mode and seed of the training entry. ``results/entropy/{name}/x_groups.parquet``.
2. :func:`entropy_spectra` -- per run (mode x seed), every diffusion spectrum that S_D(Z),
   I_D(Z; Y) and I_D(Z; X) need at every epoch, float64 (:mod:`repgeo.entropy.tracking`).
   ``results/entropy/{name}/{mode}/seed{seed}/spectra.npz``. Depends on sigma, alpha,
   n_neighbors, max_n, dtype, n_repetitions and seed, not on t.
3. :func:`entropy_trajectory` -- DSE and DSMI at the configured t from the cached spectra, the
   classic Shannon baselines CSE / CSMI from the embeddings, and the accuracy from the training
   history, for every run: ``results/entropy/{name}/trajectory.parquet``; changing t reruns only
   this step. :func:`entropy_figure` draws it (mean +- sd over seeds per mode).

The toy validations (rules ``entropy_toy``, ``entropy_toy_figure``) are :func:`entropy_toy` and
:func:`entropy_toy_figure`.
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
from ..rules import SPECTRUM_KEYS  # the spectra depend only on these keys (the one list)

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]

MEASURES = ("dse", "dsmi_zy", "dsmi_zx", "cse", "csmi_zy", "csmi_zx")


def entropy_input_groups(*, arrays: str, samples: str, eval_spec: Spec, spec: Spec, groups: str) -> None:
    """Cluster the evaluation subset's flattened inputs into ``n_clusters`` groups (step 1;
    :func:`repgeo.entropy.tracking.input_groups`). Also the rule ``entropy_zoo_input_groups``."""
    from ..entropy.tracking import input_groups
    from .training import eval_positions

    table = io.read_parquet(samples)
    positions = eval_positions(table, eval_spec)
    X = io.load_tensor(arrays).numpy()[positions].reshape(len(positions), -1)
    n_clusters = int(spec["n_clusters"])
    t0 = time.perf_counter()
    labels = input_groups(X, n_clusters=n_clusters, seed=int(spec["seed"]))
    logger.info(
        "clustered %d inputs of dimension %d into %d groups in %.1f s",
        len(X),
        X.shape[1],
        n_clusters,
        time.perf_counter() - t0,
    )
    out = pd.DataFrame({"position": positions, "id": table["id"].to_numpy()[positions], "x_group": labels})
    io.write_parquet(
        out, groups, metadata={"n_clusters": n_clusters, "method": "spectral clustering (kNN affinity, cluster_qr)"}
    )


#: The zoo's input clusters are made the same way (rule ``entropy_zoo_input_groups``).
entropy_zoo_input_groups = entropy_input_groups


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


def entropy_spectra(*, embeddings: str, groups: str, spec: Spec, device: str, spectra: str) -> None:
    """Every spectrum of every epoch of one run into one .npz (step 2; keys ``e{epoch}_{rows key}``)."""
    from ..entropy.tracking import epoch_spectra, groupings
    from ..runtime import resolve_device

    Z, labels, x_groups = _load_run(embeddings, groups)
    by_name = groupings(labels, x_groups)
    options = {k: spec[k] for k in SPECTRUM_KEYS}
    options["device"] = resolve_device(device)
    arrays: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    for epoch, Ze in enumerate(Z):
        found = epoch_spectra(Ze, by_name, **options)
        arrays.update({f"e{epoch}_{key}": lam for key, lam in found.items()})
        logger.info("epoch %d/%d: %d spectra (%.1f s so far)", epoch, len(Z) - 1, len(found), time.perf_counter() - t0)
    with io.atomic_path(spectra) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _epoch_spectra(archive, epoch: int) -> dict[str, np.ndarray]:
    prefix = f"e{epoch}_"
    return {k[len(prefix) :]: archive[k] for k in archive.files if k.startswith(prefix)}


def run_trajectory(
    spectra_path: str, embeddings_path: str, history_path: str, x_groups_path: str, entropy_spec: Spec
) -> pd.DataFrame:
    """One run's rows of the trajectory table (step 3): the measures of
    :func:`repgeo.entropy.tracking.trajectory_measures` beside the run's accuracies."""
    from ..entropy.tracking import groupings, trajectory_measures

    Z, labels, x_groups = _load_run(embeddings_path, x_groups_path)
    history = io.read_parquet(history_path).set_index("epoch")
    if sorted(history.index) != list(range(len(Z))):
        raise DataError(f"{history_path} and {embeddings_path} disagree on the epochs; rerun the training job")
    with np.load(spectra_path, allow_pickle=False) as archive:
        measures = trajectory_measures(
            Z,
            lambda epoch: _epoch_spectra(archive, epoch),
            groupings(labels, x_groups),
            t=float(entropy_spec["t"]),
            n_repetitions=int(entropy_spec["n_repetitions"]),
            seed=int(entropy_spec["seed"]),
            cse_bins=int(entropy_spec["cse_bins"]),
            max_n=entropy_spec["max_n"],
        )
    rows = []
    for m in measures:
        h = history.loc[m["epoch"]]
        accuracy = {
            "accuracy": float(h["test_accuracy"]),
            "train_accuracy": float(h["train_accuracy"]),
            "train_loss": float(h["train_loss"]),
        }
        rows.append({"epoch": m.pop("epoch"), **accuracy, **m})
    return pd.DataFrame(rows)


def entropy_trajectory(
    *, runs: Sequence[Mapping[str, Any]], x_groups: str, training: Spec, trajectory: str
) -> pd.DataFrame:
    """The trajectory table of a training entry: one row per mode x seed x epoch (step 3).

    ``runs``: dicts with mode, seed, spectra, embeddings and history paths; ``training``: the
    entry, its ``entropy`` settings included. Columns: model, dataset, mode, seed, epoch,
    accuracy (test accuracy; linear-probe accuracy for contrastive runs), train_accuracy,
    train_loss, dse, dsmi_zy (+ _sd over the R subset draws), dsmi_zx (+ _sd), cse, csmi_zy,
    csmi_zx, and the parameters: sigma, t, alpha, n_eval, cse_bins.
    """
    entropy_spec = training["entropy"]
    parts = []
    for run in runs:
        part = run_trajectory(run["spectra"], run["embeddings"], run["history"], x_groups, entropy_spec)
        meta = io.read_parquet_metadata(run["history"])
        part.insert(0, "epoch", part.pop("epoch"))
        part.insert(0, "seed", int(run["seed"]))
        part.insert(0, "mode", run["mode"])
        part.insert(0, "dataset", training["dataset"])
        part.insert(0, "model", meta.get("config", {}).get("arch", training["arch"]))
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
    table["sigma"] = str(entropy_spec["sigma"])
    table["t"] = float(entropy_spec["t"])
    table["alpha"] = float(entropy_spec["alpha"])
    table["cse_bins"] = int(entropy_spec["cse_bins"])
    io.write_parquet(table, trajectory, metadata={"entropy": dict(entropy_spec), "training": dict(training)})
    return table


def entropy_figure(*, trajectory: str, png: str, title: str, dpi: int) -> None:
    """Figure of a trajectory table (:func:`repgeo.plotting.plot_trajectory`)."""
    from ..plotting import plot_trajectory

    io.save_figure(plot_trajectory(io.read_parquet(trajectory), title), png, dpi=dpi)


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


def entropy_toy(*, toy: str, spec: Spec, table: str) -> None:
    """One toy validation of the DSE paper (Figures 2-5) as a table (:mod:`repgeo.entropy.toys`).

    ``spec`` holds the sweep function's keyword arguments (the config's ``entropy_toys.{toy}``).
    """
    sweep, _, reports = _toy_functions(toy)
    kwargs = dict(spec)
    if reports:
        kwargs["progress"] = lambda message: logger.info("%s", message)
    t0 = time.perf_counter()
    result = sweep(**kwargs)
    logger.info("%s: %d rows in %.1f s", toy, len(result), time.perf_counter() - t0)
    io.write_parquet(result, table, metadata={"toy": toy, "parameters": dict(spec)})


def entropy_toy_figure(*, toy: str, table: str, png: str, dpi: int) -> None:
    """The figure of one toy validation table."""
    _, plot, _ = _toy_functions(toy)
    io.save_figure(plot(io.read_parquet(table)), png, dpi=dpi)
