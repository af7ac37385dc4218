"""Model-training stage: one classifier run (entry x mode x seed) of a prepared image dataset
(rule ``train_classifier``; the zoo's members, rule ``entropy_zoo_train``, are such runs too).

Artifacts under ``results/training/{name}/{mode}/seed{seed}/``:

- ``embeddings.pt``: ``Z`` ((epochs + 1) x n_eval x dim, float32; epoch 0 = initialisation),
  ``positions`` (dataset rows; their ids are in the history's metadata) of the evaluation
  subset (a seeded sample of the test split, the same for every mode
  and seed of the entry, so trajectories are comparable) and their ``labels``;
- ``history.parquet``: epoch, train_loss, train_accuracy, test_accuracy (plus model, mode and
  seed columns);
- ``checkpoint-{hash}.pt``: written after every epoch and not a declared output, so it survives
  a killed job; the hash is of the run's configuration without the epoch count, so a changed
  configuration starts afresh while a longer run of the same one continues.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError, select_samples

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


def train_config(spec: Spec, mode: str, seed: int):
    """The :class:`~repgeo.training.classifier.TrainConfig` of one run of a training entry."""
    from ..training.classifier import TrainConfig

    known = {f.name for f in fields(TrainConfig)} - {"mode", "seed"}
    cfg = TrainConfig(mode=mode, seed=int(seed), **{k: v for k, v in spec.items() if k in known})
    cfg.validate()
    return cfg


def checkpoint_name(config) -> str:
    """File name of a run's checkpoint: a hash of its identity (the config without epochs and unset options)."""
    from ..training.classifier import run_identity

    ident = run_identity(asdict(config))
    return "checkpoint-" + hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12] + ".pt"


def eval_positions(samples: pd.DataFrame, spec: Spec) -> np.ndarray:
    """Dataset rows of the evaluation subset of an entry (``eval_n``, ``eval_seed``):
    :func:`repgeo.training.classifier.evaluation_positions` of its test rows."""
    from ..training.classifier import evaluation_positions

    return evaluation_positions(select_samples(samples, "test"), n=spec["eval_n"], seed=spec["eval_seed"])


def train_classifier(
    *, arrays: str, samples: str, spec: Spec, mode: str, seed: int, embeddings: str, history: str, device: str
) -> None:
    """Train one run and write its embeddings and history (module docstring)."""
    from ..runtime import resolve_device
    from ..training import classifier

    device = resolve_device(device)
    table = io.read_parquet(samples)
    X = io.load_tensor(arrays).numpy()
    label = spec["label"]
    if label not in table.columns:
        raise DataError(f"{samples} has no column {label!r} to train on; set 'label' to one of {list(table.columns)}")
    y = table[label].to_numpy()
    if not np.issubdtype(y.dtype, np.integer) and not np.issubdtype(y.dtype, np.bool_):
        raise DataError(f"column {label!r} of {samples} is not integer class labels (dtype {y.dtype})")
    y = y.astype(np.int64)
    train, test = select_samples(table, "train"), select_samples(table, "test")
    eval_pos = eval_positions(table, spec)
    config = train_config(spec, mode, seed)
    checkpoint = Path(embeddings).parent / checkpoint_name(config)
    logger.info(
        "training %s (%s, seed %d) on %d images, testing on %d, tracking %d; checkpoint %s",
        config.arch,
        mode,
        seed,
        len(train),
        len(test),
        len(eval_pos),
        checkpoint,
    )
    res = classifier.train_classifier(
        X[train],
        y[train],
        X[test],
        y[test],
        X[eval_pos],
        config,
        checkpoint,
        device,
        n_classes=int(y.max()) + 1,
    )
    io.save_tensor({"Z": res.embeddings, "positions": eval_pos, "labels": y[eval_pos]}, embeddings)
    hist = pd.DataFrame(res.history)
    hist.insert(0, "seed", int(seed))
    hist.insert(0, "mode", mode)
    hist.insert(0, "model", config.arch)
    io.write_parquet(
        hist, history, metadata={"config": asdict(config), "eval_ids": table["id"].iloc[eval_pos].tolist()}
    )
