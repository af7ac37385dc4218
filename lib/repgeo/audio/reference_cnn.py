"""Train the supervised reference network (:class:`.wavegan.ReferenceCNN`) on the real word labels.

The network has the Q-network's convolutional stack, so its layers can be analysed exactly like
Q's; it is trained in minutes where the GAN takes hours, as the fast comparable reference.
Training: Adam (lr given, β = (0.9, 0.999)), softmax cross-entropy on the word labels, minibatches
drawn without replacement each epoch, phase shuffle (radius 2) on, as Q is trained; accuracies
are measured in eval mode (no phase shuffle). Weights start from TF's default initialisation
(Glorot-uniform, zero biases) like the GAN's networks.

Determinism and resumption as :mod:`.gan`: the model is initialised from ``seed`` and epoch e's
batch order and phase shifts come from a CPU generator seeded with (seed, e), so a run
resumed from its checkpoint (written atomically after every epoch) equals an uninterrupted one,
a run asked for more epochs continues, and a checkpoint of another configuration or other data
is refused. History: epoch 0 is the initialisation (loss NaN), as in
:mod:`repgeo.training.classifier`.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from .. import io
from .gan import step_generator
from .wavegan import SLICE_LEN, ReferenceCNN, init_tf_defaults

HISTORY_COLUMNS = ("epoch", "loss", "train_accuracy", "test_accuracy")
_STREAM_INIT, _STREAM_EPOCH = 10, 11


def _audio(X: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X).detach().to("cpu", torch.float32)
    if t.dim() != 3 or t.shape[1] != 1 or t.shape[2] != SLICE_LEN:
        raise ValueError(f"{name} must have shape (N, 1, {SLICE_LEN}), got {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values; fix the data stage's output")
    return t.contiguous()


def _labels(y: Any, n: int, name: str) -> torch.Tensor:
    arr = np.asarray(y)
    if arr.ndim != 1 or len(arr) != n or not np.issubdtype(arr.dtype, np.integer) or (arr < 0).any():
        raise ValueError(
            f"{name} must be {n} non-negative integer labels (map words to 0..K-1 first), got {arr.dtype} of shape {arr.shape}"
        )
    return torch.as_tensor(arr, dtype=torch.long)


@torch.no_grad()
def _accuracy(model: ReferenceCNN, X: torch.Tensor, y: torch.Tensor, batch: int, device) -> float:
    if len(X) == 0:
        return float("nan")
    model.eval()
    pred = torch.cat([model(X[s : s + batch].to(device)).argmax(1).cpu() for s in range(0, len(X), batch)])
    return float((pred == y).float().mean())


def train_reference_cnn(
    X_train,
    y_train,
    X_test,
    y_test,
    *,
    model_dim: int,
    epochs: int,
    batch_size: int = 64,
    lr: float,
    seed: int,
    logger: logging.Logger,
    checkpoint_path: str | Path | None = None,
    kernel_size: int = 25,
    phase_shuffle: int = 2,
    n_classes: int | None = None,
    device: str | torch.device = "cpu",
) -> tuple[ReferenceCNN, pd.DataFrame]:
    """Train a :class:`.wavegan.ReferenceCNN`; return it (eval mode) and its per-epoch history.

    Audio (N, 1, 16384), integer labels 0..n_classes-1 (``n_classes`` defaults to the largest
    label + 1). With ``checkpoint_path`` the run resumes from and writes to that file.
    """
    Xtr, Xte = _audio(X_train, "X_train"), _audio(X_test, "X_test")
    ytr, yte = _labels(y_train, len(Xtr), "y_train"), _labels(y_test, len(Xte), "y_test")
    if isinstance(epochs, bool) or int(epochs) < 0 or int(batch_size) < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 0, batch_size >= 1 and lr > 0; got {epochs}, {batch_size}, {lr}")
    n_classes = int(n_classes or int(torch.cat([ytr, yte]).max()) + 1)
    if int(torch.cat([ytr, yte]).max()) >= n_classes:
        raise ValueError(f"labels go up to {int(torch.cat([ytr, yte]).max())} but n_classes is {n_classes}")
    config = {
        "model_dim": int(model_dim),
        "kernel_size": int(kernel_size),
        "phase_shuffle": int(phase_shuffle),
        "batch_size": int(batch_size),
        "lr": float(lr),
        "seed": int(seed),
        "n_classes": n_classes,
        "data": hashlib.sha1(b"".join(t.numpy().tobytes() for t in (Xtr, ytr, Xte, yte))).hexdigest(),
    }
    with torch.device("meta"):
        model = ReferenceCNN(n_classes, model_dim, kernel_size, phase_shuffle)
    model = init_tf_defaults(model.to_empty(device="cpu"), step_generator(seed, 0, _STREAM_INIT)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[dict[str, float]] = []
    path = Path(checkpoint_path) if checkpoint_path is not None else None
    if path is not None and path.exists():
        state = io.load_tensor(path)
        if state.get("config") != config:
            raise ValueError(
                f"checkpoint {path} was written for another configuration or other data ({state.get('config')}), not {config}; "
                "delete it to train this one from scratch"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history = list(state["history"])
        if history[-1]["epoch"] > epochs:
            raise ValueError(
                f"checkpoint {path} is already at epoch {history[-1]['epoch']}, beyond the {epochs} asked for; ask for more epochs or delete it"
            )
        logger.info("resumed from %s at epoch %d", path, history[-1]["epoch"])

    def record(epoch: int, loss: float) -> None:
        history.append(
            {
                "epoch": epoch,
                "loss": loss,
                "train_accuracy": _accuracy(model, Xtr, ytr, batch_size, device),
                "test_accuracy": _accuracy(model, Xte, yte, batch_size, device),
            }
        )
        if path is not None:
            io.save_tensor(
                {"config": config, "model": model.state_dict(), "optimizer": opt.state_dict(), "history": history}, path
            )

    if not history:
        record(0, float("nan"))
    for epoch in range(int(history[-1]["epoch"]) + 1, int(epochs) + 1):
        gen = step_generator(seed, epoch, _STREAM_EPOCH)
        model.train()
        order = torch.randperm(len(Xtr), generator=gen)
        total = torch.zeros((), device=device)
        for s in range(0, len(order), batch_size):
            idx = order[s : s + batch_size]
            loss = F.cross_entropy(model(Xtr[idx].to(device), gen), ytr[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        record(epoch, float(total) / len(Xtr))
        h = history[-1]
        logger.info(
            "reference CNN epoch %d/%d: loss %.4f, train accuracy %.4f, test accuracy %.4f",
            epoch,
            epochs,
            h["loss"],
            h["train_accuracy"],
            h["test_accuracy"],
        )
    model.eval()
    return model, pd.DataFrame(history, columns=list(HISTORY_COLUMNS))
