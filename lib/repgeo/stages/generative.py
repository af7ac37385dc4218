"""Generative branch: sliced generative autoencoders (Knop et al., "Sliced generative models"),
their per-epoch evaluation and the Table-1-style comparison.

Each stage is a function named after the rule of ``workflow/rules/generative.smk`` that calls it,
with the rule's inputs, params and wildcards as keyword arguments and its outputs as
``{output}_out``; it reads, calls the library (:mod:`repgeo.generative`), logs and writes.

Artifacts under ``results/generative/{name}/``:

- ``feature_net/model.pt`` and ``feature_net/history.parquet``: the classifier trained on the
  dataset's training split whose penultimate features measure generation quality (configuration,
  weights, test accuracy and ``version``, a hash of its weights, so numbers from different
  feature networks are never mixed up); its resumable checkpoint ``checkpoint-{hash}.pt``;
- ``{model}/snapshots.pt``: the autoencoder's weights at every evaluation epoch (epoch 0 = the
  initialisation) with its configuration; ``{model}/history.parquet``: per epoch the mean
  training cost, reconstruction error and distance, and seconds. The run's state after every
  epoch and its snapshots live in ``{model}/work-{hash}/`` (not a declared output, so a killed
  job resumes there; the hash is of the configuration without the epoch count);
- ``{model}/metrics.parquet``: every metric of :mod:`repgeo.generative.evaluation` per
  evaluation epoch;
- ``curves.parquet`` (all models' metrics, long by epoch) and ``curves.png``; ``table.parquet``
  (the last epoch of every model: Table 1) and ``table.html``; ``reconstructions.png``,
  ``samples.png``, ``interpolations.png``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import io
from ..rules import GENERATIVE_TRAIN_KEYS
from ..data import DataError, select_samples
from .images import load_images, split_images

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]

# Keys of a generative entry that configure one autoencoder's training.
# What an autoencoder's training depends on (the one list: repgeo.rules, which builds the params).
TRAIN_KEYS = GENERATIVE_TRAIN_KEYS


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def autoencoder_config(spec: Spec, model: str):
    """The :class:`~repgeo.generative.training.AutoencoderConfig` of one model of an entry."""
    from ..generative.training import AutoencoderConfig

    cfg = AutoencoderConfig(model=model, **{k: spec[k] for k in TRAIN_KEYS})
    cfg.validate()
    return cfg


def eval_settings(spec: Spec):
    """The :class:`~repgeo.generative.evaluation.EvalSettings` of an entry's ``evaluation``."""
    from ..generative.evaluation import EvalSettings

    known = {f.name for f in fields(EvalSettings)}
    settings = EvalSettings(**{k: v for k, v in spec["evaluation"].items() if k in known})
    settings.validate()
    return settings


# --- the feature network -------------------------------------------------------------------------


def generative_feature_net(
    *, arrays: str, samples: str, spec: Spec, device: str = "cpu", model_out: str, history_out: str
) -> None:
    """Train the quality-feature classifier on the training split's ``label`` column; report its test accuracy."""
    from ..generative.quality import feature_net_config, feature_net_version
    from ..training.classifier import train_classifier
    from .training import checkpoint_name

    table, X = load_images(arrays, samples, "generative")
    net = dict(spec["feature_net"])
    label = net.pop("label")
    if label not in table.columns:
        raise DataError(
            f"{samples} has no column {label!r} for the feature classifier; set feature_net.label to one of {list(table.columns)}"
        )
    y = table[label].to_numpy()
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)):
        raise DataError(
            f"column {label!r} of {samples} is not integer class labels (dtype {y.dtype}); choose another feature_net.label"
        )
    y = torch.as_tensor(y.astype(np.int64))
    train, test = select_samples(table, "train"), select_samples(table, "test")
    cfg = feature_net_config(**net)
    checkpoint = Path(model_out).parent / checkpoint_name(cfg)
    n_classes = int(y.max()) + 1
    logger.info(
        "feature classifier %s on %r: %d training, %d test images, %d classes",
        cfg.arch,
        label,
        len(train),
        len(test),
        n_classes,
    )
    result = train_classifier(
        X[train], y[train], X[test], y[test], X[test[:2]], cfg, checkpoint, device=device, n_classes=n_classes
    )
    state = {k: v.detach().cpu() for k, v in result.model.state_dict().items()}
    version = feature_net_version(state)
    accuracy = float(result.history[-1]["test_accuracy"])
    logger.info("feature classifier: test accuracy %.4f, version %s", accuracy, version)
    io.save_tensor(
        {
            "config": {**net, "label": label},
            "image_shape": list(X.shape[1:]),
            "n_classes": n_classes,
            "model": state,
            "test_accuracy": accuracy,
            "version": version,
        },
        model_out,
    )
    history = pd.DataFrame(result.history)
    history["version"] = version
    io.write_parquet(history, history_out, metadata={"config": {**net, "label": label}, "version": version})


def load_feature_net(path: str, device: str = "cpu"):
    """The frozen quality-feature classifier as a :class:`~repgeo.generative.quality.FeatureNet`, its accuracy and version."""
    from ..generative.quality import FeatureNet
    from ..training.models import build_model

    state = io.load_tensor(path)
    cfg = state["config"]
    model = build_model(cfg["arch"], tuple(state["image_shape"]), state["n_classes"], cfg["width"], cfg["hidden"])
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return FeatureNet(model, name="classifier"), float(state["test_accuracy"]), str(state["version"])


# --- training ------------------------------------------------------------------------------------


def generative_train(
    *,
    arrays: str,
    samples: str,
    spec: Spec,
    device: str = "cpu",
    model: str,
    snapshots_out: str,
    history_out: str,
) -> None:
    """Train one model of an entry on the training split; write its snapshots and history (module docstring)."""
    from ..generative.training import load_snapshot, run_identity, train_autoencoder

    table, X = load_images(arrays, samples, "generative")
    cfg = autoencoder_config(spec, model)
    X_train = split_images(table, X, "train", samples)
    work = Path(snapshots_out).parent / f"work-{_digest(run_identity(cfg))}"
    logger.info(
        "%s (%s, latent %d): %d epochs on %d training images %s, batch %d, lr %g, %s cost, K = %d; state in %s",
        model, cfg.arch, cfg.latent_dim, cfg.epochs, len(X_train), "x".join(map(str, X_train.shape[1:])), cfg.batch_size, cfg.lr, cfg.cost, cfg.n_projections, work,
    )  # fmt: skip
    result = train_autoencoder(X_train, cfg, work, logger, device=device)
    snapshots = {}
    for path in result.snapshots:
        _, epoch, net = load_snapshot(path)
        snapshots[epoch] = net.state_dict()
    io.save_tensor(
        {"config": cfg.to_dict(), "image_shape": list(X_train.shape[1:]), "snapshots": snapshots}, snapshots_out
    )
    history = result.history.copy()
    history.insert(0, "model", model)
    io.write_parquet(history, history_out, metadata={"config": cfg.to_dict()})


def load_snapshots(path: str, device: str = "cpu"):
    """(config, {epoch: autoencoder}) of a ``snapshots.pt``; the models in eval mode."""
    from ..generative.training import AutoencoderConfig, build

    state = io.load_tensor(path)
    try:
        cfg = AutoencoderConfig.from_dict(state["config"])
        models = {}
        for epoch, weights in sorted(state["snapshots"].items()):
            net = build(cfg, tuple(state["image_shape"]), device)
            net.load_state_dict(weights)
            models[int(epoch)] = net.eval()
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a snapshots file of this version of repgeo ({exc}); delete it and rerun the training"
        ) from exc
    return cfg, models


# --- evaluation ----------------------------------------------------------------------------------


def generative_evaluate(
    *,
    arrays: str,
    samples: str,
    snapshots: str,
    feature_net: str,
    spec: Spec,
    device: str = "cpu",
    metrics_out: str,
) -> None:
    """Every metric of :mod:`repgeo.generative.evaluation` at every snapshot of one model (FID and
    KID in Inception features too when ``evaluation.inception_weights`` names a weights file)."""
    from ..generative.evaluation import evaluate_epoch
    from ..generative.quality import inception_feature_net

    table, X = load_images(arrays, samples, "generative")
    X_test = split_images(table, X, "test", samples)
    cfg, models = load_snapshots(snapshots, device)
    settings = eval_settings(spec)
    net, accuracy, version = load_feature_net(feature_net, device)
    weights = spec["evaluation"]["inception_weights"]
    nets = [net] + ([inception_feature_net(weights).to(device)] if weights else [])
    real = {net.name: net.features(X_test, device=device) for net in nets}
    rows = []
    for epoch, net in models.items():
        row = evaluate_epoch(net, epoch, X_test, nets, real, settings)
        rows.append(row)
        logger.info(
            "%s epoch %d: reconstruction %.4g, Mardia skewness %.4g, kurtosis - D(D+2) %.4g, SW %.4g, FD %.4g",
            cfg.model, epoch, row["reconstruction_error"], row["mardia_skewness"], row["mardia_kurtosis_normalised"], row["sw_latent"], row["fd_classifier"],
        )  # fmt: skip
    table = pd.DataFrame(rows)
    table.insert(0, "model", cfg.model)
    table["latent_dim"] = cfg.latent_dim
    table["n_test"] = len(X_test)
    table["feature_net_accuracy"] = accuracy
    table["feature_net_version"] = version
    io.write_parquet(
        table,
        metrics_out,
        metadata={
            "config": cfg.to_dict(),
            "evaluation": dict(spec["evaluation"]),
            "feature_net_version": version,
        },
    )


# --- tables and figures --------------------------------------------------------------------------


def generative_tables(
    *,
    arrays: str,
    samples: str,
    metrics: Sequence[str],
    snapshots: Sequence[str],
    spec: Spec,
    dataset: str,
    dpi: int,
    name: str,
    curves_out: str,
    table_out: str,
    curves_png_out: str,
    table_html_out: str,
    reconstructions_out: str,
    samples_out: str,
    interpolations_out: str,
) -> None:
    """Curves and Table 1 over the entry's models, and the image sheets of their last epoch."""
    from ..generative.evaluation import last_epochs
    from ..generative.figures import (
        SHEET_TITLES,
        TABLE_METRICS,
        image_sheets,
        plot_curves,
        sheet_images,
        sheet_picks,
        sheet_rows,
        table_html,
        table_note,
    )

    curves = pd.concat([io.read_parquet(p) for p in metrics], ignore_index=True)
    curves.insert(0, "dataset", dataset)
    io.write_parquet(curves, curves_out)
    io.save_figure(plot_curves(curves, f"{name}: metrics over training"), curves_png_out, dpi=dpi)
    last = last_epochs(curves)
    io.write_parquet(last, table_out)
    io.write_text(
        table_html(
            last, ["latent_dim", *TABLE_METRICS], f"{name}: sliced generative autoencoders", table_note(last, dataset)
        ),
        table_html_out,
    )

    table, X = load_images(arrays, samples, "generative")
    X_test = split_images(table, X, "test", samples)
    sheets = spec["sheets"]
    rows, columns, seed = int(sheets["rows"]), int(sheets["columns"]), int(sheets["seed"])
    pick = sheet_picks(len(X_test), rows, columns, seed)
    images: dict[str, dict[str, np.ndarray]] = {key: {} for key in SHEET_TITLES}
    for path in snapshots:
        cfg, models = load_snapshots(path)
        for key, sheet in sheet_images(
            models[max(models)], X_test, pick, rows=rows, columns=columns, seed=seed
        ).items():
            images[key][cfg.model] = sheet
    for key, out in (
        ("reconstructions", reconstructions_out),
        ("samples", samples_out),
        ("interpolations", interpolations_out),
    ):
        io.save_figure(
            image_sheets(images[key], sheet_rows(key, rows), columns, f"{name}: {SHEET_TITLES[key]}"), out, dpi=dpi
        )
