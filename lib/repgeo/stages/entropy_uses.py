"""The uses of DSE and DSMI (Liao, Liu et al., CISS 2024, arXiv 2312.04823, section 6) as stages.

Initialisation study (``results/entropy_init/{name}/``):

1. :func:`entropy_init_probe` -- for every sigma of the grid and every seed, the network with its
   convolution weights drawn from N(0, sigma^2), the DSE and DSMI(Z; Y) of the evaluation
   subset's embedding at initialisation and the (chance-level) accuracy: ``initial.parquet``;
2. :func:`entropy_init_train` -- a full training run from the lowest- or the highest-DSE sigma (read
   from ``initial.parquet`` when the job runs, so the DAG stays static):
   ``{lowest,highest}/seed{seed}/{embeddings.pt, history.parquet}``;
3. :func:`entropy_init_summary` -- accuracy curves and per-epoch DSE of those runs (``curves.parquet``)
   and the figure ``initialisation.png``.

Cross-model study (``results/entropy_zoo/{name}/``): every (architecture, width) of the zoo is
trained once (:func:`entropy_zoo_train`, a :func:`repgeo.stages.training.train_classifier` run)
and each listed epoch of it counts as one model; user-supplied torchvision models are embedded by
:func:`entropy_zoo_external`. :func:`entropy_zoo_table` measures S_D(Z), I_D(Z; Y) and I_D(Z; X) of every model beside its test
accuracy (``models.parquet``, with each model's embedding dimension ``dim`` and bandwidth
``sigma``: sqrt(dim) under the default ``sigma: sqrt_dim``; the inputs in 20 clusters by default)
with Pearson and Spearman correlations (``correlations.parquet``);
:func:`entropy_zoo_figure` draws Figure 10.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError, select_samples
from .entropy import SPECTRUM_KEYS

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]
EXTREMES = ("lowest", "highest")


def _labelled(samples_path: str, label: str) -> tuple[pd.DataFrame, np.ndarray]:
    samples = io.read_parquet(samples_path)
    if label not in samples.columns:
        raise DataError(f"{samples_path} has no column {label!r}; set 'label' to one of {list(samples.columns)}")
    y = samples[label].to_numpy()
    if y.dtype.kind not in "biu":
        raise DataError(f"column {label!r} of {samples_path} is not integer class labels (dtype {y.dtype})")
    return samples, y.astype(np.int64)


def _measures(Z: np.ndarray, groups: Mapping[str, Any], entropy_spec: Spec, device: str) -> dict[str, float]:
    """DSE and DSMI of ``Z`` against every grouping (:func:`repgeo.entropy.zoo.embedding_measures`)
    with an entry's ``entropy`` settings."""
    from ..entropy.zoo import embedding_measures

    return embedding_measures(Z, groups, device=device, **{k: entropy_spec[k] for k in (*SPECTRUM_KEYS, "t")})


# --- initialisation study -------------------------------------------------------------------------


def entropy_init_probe(*, arrays: str, samples: str, spec: Spec, device: str, initial: str) -> pd.DataFrame:
    """DSE and DSMI(Z; Y) at initialisation for every ``init_stds`` x ``seeds`` (step 1)."""
    from ..entropy.tracking import groupings
    from ..runtime import resolve_device
    from ..training.classifier import train_classifier
    from .training import eval_positions, train_config

    device = resolve_device(device)
    table, y = _labelled(samples, spec["label"])
    X = io.load_tensor(arrays).numpy()
    train, test = select_samples(table, "train"), select_samples(table, "test")
    pos = eval_positions(table, spec)
    label_groups = groupings(y[pos])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for sigma in spec["init_stds"]:
            for seed in spec["seeds"]:
                config = train_config({**spec, "epochs": 0, "init_std": float(sigma)}, "supervised", seed)
                res = train_classifier(
                    X[train],
                    y[train],
                    X[test],
                    y[test],
                    X[pos],
                    config,
                    f"{tmp}/s{sigma}-{seed}.pt",
                    device,
                    n_classes=int(y.max()) + 1,
                )
                Z = res.embeddings[0].double().numpy()
                if not np.isfinite(Z).all():
                    raise DataError(
                        f"init_std {sigma} gives non-finite embeddings at initialisation; drop it from init_stds"
                    )
                row = {
                    "init_std": float(sigma),
                    "seed": int(seed),
                    "test_accuracy": res.history[0]["test_accuracy"],
                    "embedding_norm": float(np.linalg.norm(Z, axis=1).mean()),
                }
                row.update(_measures(Z, label_groups, spec["entropy"], device))
                rows.append(row)
            logger.info(
                "init_std %g: DSE at initialisation %.3f bits (seed %d)", sigma, rows[-1]["dse"], rows[-1]["seed"]
            )
    result = pd.DataFrame(rows)
    io.write_parquet(result, initial, metadata={"arch": spec["arch"], "dataset": spec["dataset"], "n_eval": len(pos)})
    return result


def chosen_init_std(initial_path: str, extreme: str) -> float:
    """The sigma with the lowest or highest mean DSE at initialisation."""
    from ..entropy.zoo import initialisation_summary

    if extreme not in EXTREMES:
        raise ValueError(f"extreme must be one of {EXTREMES}, got {extreme!r}")
    summary = initialisation_summary(io.read_parquet(initial_path))
    return summary.lowest if extreme == "lowest" else summary.highest


def entropy_init_train(
    *,
    arrays: str,
    samples: str,
    initial: str,
    spec: Spec,
    extreme: str,
    seed: int,
    embeddings: str,
    history: str,
    device: str,
) -> None:
    """Train from the extreme sigma of the probe (step 2)."""
    from .training import train_classifier

    sigma = chosen_init_std(initial, extreme)
    logger.info("training from the %s-DSE initialisation, init_std = %g", extreme, sigma)
    train_classifier(
        arrays=arrays,
        samples=samples,
        spec={**spec, "init_std": sigma},
        mode="supervised",
        seed=seed,
        embeddings=embeddings,
        history=history,
        device=device,
    )


def entropy_init_summary(
    *,
    initial: str,
    runs: Sequence[Mapping[str, Any]],
    spec: Spec,
    curves: str,
    png: str,
    dpi: int,
    device: str,
) -> pd.DataFrame:
    """Accuracy and DSE per epoch of the extreme runs, and the study's figure (step 3).

    ``runs``: dicts with extreme, seed, embeddings and history paths.
    """
    from ..entropy.tracking import groupings
    from ..entropy.zoo import plot_initialisation
    from ..runtime import resolve_device

    device = resolve_device(device)
    parts = []
    for run in runs:
        hist = io.read_parquet(run["history"])
        sigma = io.read_parquet_metadata(run["history"])["config"]["init_std"]
        emb = io.load_tensor(run["embeddings"])
        label_groups = groupings(emb["labels"].numpy())
        measures = [_measures(Ze.double().numpy(), label_groups, spec["entropy"], device) for Ze in emb["Z"]]
        part = pd.concat([hist.reset_index(drop=True), pd.DataFrame(measures)], axis=1)
        part.insert(0, "init_std", float(sigma))
        part.insert(0, "extreme", run["extreme"])
        parts.append(part)
        logger.info(
            "%s (init_std %g) seed %s: final test accuracy %.3f",
            run["extreme"],
            sigma,
            run["seed"],
            part["test_accuracy"].iloc[-1],
        )
    table = pd.concat(parts, ignore_index=True)
    io.write_parquet(table, curves, metadata={"entropy": dict(spec["entropy"])})
    io.save_figure(plot_initialisation(io.read_parquet(initial), table), png, dpi=dpi)
    return table


# --- cross-model study ------------------------------------------------------------------------------


def entropy_zoo_train(*, arrays: str, samples: str, spec: Spec, embeddings: str, history: str, device: str) -> None:
    """Train one architecture x width of the zoo: a supervised run with the entry's ``seed``
    (:func:`repgeo.stages.training.train_classifier`); its listed epochs are the zoo's models."""
    from .training import train_classifier

    train_classifier(
        arrays=arrays,
        samples=samples,
        spec=spec,
        mode="supervised",
        seed=spec["seed"],
        embeddings=embeddings,
        history=history,
        device=device,
    )


def entropy_zoo_external(
    *,
    arrays: str,
    samples: str,
    spec: Spec,
    member: Mapping[str, Any],
    embeddings: str,
    history: str,
    device: str,
) -> None:
    """Embed the evaluation subset with a user's torchvision model and score it on the test split."""
    from ..runtime import resolve_device
    from ..training.external import load_torchvision_model, penultimate_embeddings, predict_accuracy
    from .training import eval_positions

    device = resolve_device(device)
    table, y = _labelled(samples, spec["label"])
    X = io.load_tensor(arrays).numpy()
    test, pos = select_samples(table, "test"), eval_positions(table, spec)
    model = load_torchvision_model(member["arch"], member["state_dict"], member.get("n_classes"))
    Z = penultimate_embeddings(model, X[pos], device=device)
    accuracy = predict_accuracy(model, X[test], y[test], device=device)
    logger.info(
        "%s (%s, %s): test accuracy %.3f, embedding %d x %d",
        member["name"],
        member["arch"],
        member["state_dict"],
        accuracy,
        *Z.shape,
    )
    io.save_tensor({"Z": np.asarray(Z, dtype=np.float32)[None], "positions": pos, "labels": y[pos]}, embeddings)
    hist = pd.DataFrame(
        [
            {
                "model": member["arch"],
                "mode": "external",
                "seed": -1,
                "epoch": 0,
                "train_loss": np.nan,
                "train_accuracy": np.nan,
                "test_accuracy": accuracy,
            }
        ]
    )
    io.write_parquet(
        hist,
        history,
        metadata={
            "config": {"arch": member["arch"], "state_dict": str(member["state_dict"])},
            "eval_ids": table["id"].iloc[pos].tolist(),
        },
    )


def entropy_zoo_table(
    *,
    members: Sequence[Mapping[str, Any]],
    x_groups: str,
    spec: Spec,
    models: str,
    correlations: str,
    device: str,
) -> pd.DataFrame:
    """Measures and accuracy of every zoo model, and their correlations.

    ``members``: dicts with member (name), model (architecture), width (None for external
    models), epochs (the epochs that count as models; None: the last), embeddings and history.
    """
    from ..entropy import zoo
    from ..entropy.tracking import groupings
    from ..runtime import resolve_device

    device = resolve_device(device)
    xg = io.read_parquet(x_groups)
    rows = []
    t0 = time.perf_counter()
    for m in members:
        emb = io.load_tensor(m["embeddings"])
        if not np.array_equal(emb["positions"].numpy(), xg["position"].to_numpy()):
            raise DataError(f"{m['embeddings']} tracks other samples than {x_groups}; rerun the zoo")
        labels = emb["labels"].numpy()
        groups = groupings(labels, xg["x_group"].to_numpy())
        hist = io.read_parquet(m["history"]).set_index("epoch")
        epochs = m["epochs"] if m["epochs"] is not None else [int(hist.index.max())]
        for epoch in epochs:
            Z = emb["Z"][epoch].double().numpy()
            row = {
                "member": m["member"],
                "model": m["model"],
                "width": m["width"],
                "epoch": int(epoch),
                "accuracy": float(hist.loc[epoch, "test_accuracy"]),
            }
            row["dim"] = int(Z.shape[1])
            row["sigma"] = zoo.embedding_sigma(spec["entropy"]["sigma"], row["dim"])
            row.update(_measures(Z, groups, spec["entropy"], device))
            rows.append(row)
        logger.info("%s: %d model(s) measured (%.1f s so far)", m["member"], len(epochs), time.perf_counter() - t0)
    table = pd.DataFrame(rows)
    table["width"] = table["width"].astype("Int64")
    corr = zoo.correlations(table)
    io.write_parquet(table, models, metadata={"entropy": dict(spec["entropy"]), "dataset": spec["dataset"]})
    io.write_parquet(corr, correlations)
    for _, r in corr.iterrows():
        logger.info(
            "%s vs accuracy over %d models: Pearson r = %.3f (p = %.2g), Spearman rho = %.3f (p = %.2g)",
            r["measure"],
            r["n_models"],
            r["pearson_r"],
            r["pearson_p"],
            r["spearman_rho"],
            r["spearman_p"],
        )
    return table


def entropy_zoo_figure(*, models: str, correlations: str, png: str, dpi: int) -> None:
    """Figure 10: each measure against test accuracy across the zoo."""
    from ..entropy.zoo import plot_zoo

    io.save_figure(plot_zoo(io.read_parquet(models), io.read_parquet(correlations)), png, dpi=dpi)
