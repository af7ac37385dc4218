"""Generative branch: sliced generative autoencoders (Knop et al., "Sliced generative models"),
their per-epoch evaluation and the Table-1-style comparison.

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
from ..data import DataError, select_samples
from .images import load_images, split_images

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]

# Keys of a generative entry that configure one autoencoder's training.
TRAIN_KEYS = (
    "arch",
    "latent_dim",
    "width",
    "depth",
    "epochs",
    "batch_size",
    "lr",
    "cost",
    "weight",
    "n_projections",
    "eval_every",
    "seed",
    "compile",
)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def autoencoder_config(spec: Spec, model: str):
    """The :class:`~repgeo.generative.training.AutoencoderConfig` of one model of an entry."""
    from ..generative.training import AutoencoderConfig

    cfg = AutoencoderConfig(model=model, **{k: spec[k] for k in TRAIN_KEYS if k in spec})
    cfg.validate()
    return cfg


def eval_settings(spec: Spec):
    from ..generative.evaluation import EvalSettings

    known = {f.name for f in fields(EvalSettings)}
    settings = EvalSettings(**{k: v for k, v in spec.get("evaluation", {}).items() if k in known})
    settings.validate()
    return settings


# --- the feature network -------------------------------------------------------------------------


def feature_net_run(
    arrays_path: str, samples_path: str, spec: Spec, model_out: str, history_out: str, device: str = "cpu"
) -> None:
    """Train the quality-feature classifier on the training split's ``label`` column; report its test accuracy."""
    from ..training.classifier import TrainConfig, train_classifier
    from .training import checkpoint_name

    samples, X = load_images(arrays_path, samples_path, "generative")
    net = dict(spec["feature_net"])
    label = net.pop("label")
    if label not in samples.columns:
        raise DataError(
            f"{samples_path} has no column {label!r} for the feature classifier; set feature_net.label to one of {list(samples.columns)}"
        )
    y = samples[label].to_numpy()
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_)):
        raise DataError(
            f"column {label!r} of {samples_path} is not integer class labels (dtype {y.dtype}); choose another feature_net.label"
        )
    y = torch.as_tensor(y.astype(np.int64))
    train, test = select_samples(samples, "train"), select_samples(samples, "test")
    cfg = TrainConfig(mode="supervised", **net)
    cfg.validate()
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
    version = hashlib.sha256(b"".join(v.numpy().tobytes() for v in state.values())).hexdigest()[:12]
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


def train_run(
    arrays_path: str,
    samples_path: str,
    spec: Spec,
    model: str,
    snapshots_out: str,
    history_out: str,
    device: str = "cpu",
) -> None:
    """Train one model of an entry on the training split; write its snapshots and history (module docstring)."""
    from ..generative.training import load_snapshot, run_identity, train_autoencoder

    samples, X = load_images(arrays_path, samples_path, "generative")
    cfg = autoencoder_config(spec, model)
    X_train = split_images(samples, X, "train", samples_path)
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


def _feature_nets(feature_net_path: str, spec: Spec, device: str):
    from ..generative.quality import inception_feature_net

    net, accuracy, version = load_feature_net(feature_net_path, device)
    nets = [net]
    weights = spec.get("evaluation", {}).get("inception_weights")
    if weights:
        nets.append(inception_feature_net(weights).to(device))
    return nets, accuracy, version


def evaluate_run(
    snapshots_path: str,
    arrays_path: str,
    samples_path: str,
    feature_net_path: str,
    spec: Spec,
    metrics_out: str,
    device: str = "cpu",
) -> None:
    """Every metric of :mod:`repgeo.generative.evaluation` at every snapshot of one model."""
    from ..generative.evaluation import evaluate_epoch

    samples, X = load_images(arrays_path, samples_path, "generative")
    X_test = split_images(samples, X, "test", samples_path)
    cfg, models = load_snapshots(snapshots_path, device)
    settings = eval_settings(spec)
    nets, accuracy, version = _feature_nets(feature_net_path, spec, device)
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
            "evaluation": dict(spec.get("evaluation", {})),
            "feature_net_version": version,
        },
    )


# --- tables and figures --------------------------------------------------------------------------


TABLE_METRICS = (
    "reconstruction_error",
    "mardia_skewness",
    "mardia_kurtosis",
    "mardia_kurtosis_normalised",
    "mardia_test_skewness_p",
    "mardia_test_kurtosis_p",
    "sw_latent",
    "cw_latent",
    "fd_classifier",
    "kid_classifier",
    "sw_pixels",
    "fid",
    "kid_inception",
)


def tables_run(
    name: str,
    dataset: str,
    metrics_paths: Sequence[str],
    snapshots_paths: Sequence[str],
    arrays_path: str,
    samples_path: str,
    spec: Spec,
    outputs: Mapping[str, str],
    dpi: int,
) -> None:
    """Curves and Table 1 over the entry's models, and the image sheets of their last epoch."""
    from ..generative.evaluation import decode, encode, interpolations, prior_codes
    from ..generative.figures import image_sheets, plot_curves, reconstruction_rows, table_html

    curves = pd.concat([io.read_parquet(p) for p in metrics_paths], ignore_index=True)
    curves.insert(0, "dataset", dataset)
    io.write_parquet(curves, outputs["curves"])
    io.save_figure(plot_curves(curves, f"{name}: metrics over training"), outputs["curves_png"], dpi=dpi)
    last = curves.loc[curves.groupby("model", sort=False)["epoch"].idxmax()].reset_index(drop=True)
    io.write_parquet(last, outputs["table"])
    version = ", ".join(sorted(set(last["feature_net_version"])))
    note = (
        f"Last epoch of every model on {dataset} ({int(last['n_test'].iloc[0])} test images). fd_/kid_classifier: Fréchet and kernel "
        f"distances in the features of a classifier trained in this workflow (test accuracy {last['feature_net_accuracy'].iloc[0]:.3f}, "
        f"version {version}); these are not FID. Mardia statistics are measured against N(0, I) (targets 0 and 0); "
        "mardia_test_*_p are the p-values of the standardised Mardia test."
    )
    io.write_text(
        table_html(last, ["latent_dim", *TABLE_METRICS], f"{name}: sliced generative autoencoders", note),
        outputs["table_html"],
    )

    samples, X = load_images(arrays_path, samples_path, "generative")
    X_test = split_images(samples, X, "test", samples_path)
    sheets = spec["sheets"]
    cols, rows = int(sheets["columns"]), int(sheets["rows"])
    rng = np.random.default_rng(int(sheets["seed"]))
    pick = torch.as_tensor(rng.choice(len(X_test), size=min(len(X_test), cols * rows), replace=False))
    recon, generated, interp = {}, {}, {}
    for path in snapshots_paths:
        cfg, models = load_snapshots(path)
        model = models[max(models)]
        originals = X_test[pick[: (rows // 2) * cols]]
        recon[cfg.model] = reconstruction_rows(originals.numpy(), decode(model, encode(model, originals)).numpy(), cols)
        generated[cfg.model] = decode(model, prior_codes(rows * cols, model.latent_dim, int(sheets["seed"]))).numpy()
        a, b = (
            X_test[pick[:rows]],
            X_test[pick[rows : 2 * rows]] if len(pick) >= 2 * rows else X_test[pick[:rows].flip(0)],
        )
        interp[cfg.model] = interpolations(model, a, b, cols).reshape(-1, *model.image_shape).numpy()
    for key, sheet, title in (
        ("reconstructions", recon, "test images (odd rows) and their reconstructions (even rows)"),
        ("samples", generated, "decoded samples of N(0, I)"),
        ("interpolations", interp, "decoded linear interpolations between the codes of two test images"),
    ):
        io.save_figure(
            image_sheets(sheet, rows if key != "reconstructions" else 2 * (rows // 2), cols, f"{name}: {title}"),
            outputs[key],
            dpi=dpi,
        )
