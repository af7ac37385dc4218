"""Train a classifier and record, at every epoch, the penultimate embedding of a fixed subset.

This is the training protocol of Liao et al. (CISS 2024, arXiv 2312.04823, section 5): a
classifier is trained with cross-entropy and, after every epoch (and at initialisation, epoch 0),
the embedding Z of a fixed evaluation subset and the accuracies are stored, so that the entropy
stage can follow S_D(Z), I_D(Z; Y) and I_D(Z; X) over training. Modes:

- ``supervised``: the true labels;
- ``random_labels``: the training labels permuted once with the seed (Zhang et al. 2017's
  memorisation experiment; test accuracy is still measured against the true labels);
- ``contrastive``: SimCLR on the same feature stack (:mod:`.contrastive`; NT-Xent loss, no
  labels); the accuracies are those of a linear probe on the frozen features of each epoch
  (train accuracy: the probe on its own training data).

Determinism and resumption: the model is initialised from ``seed`` and the batches of epoch e
are drawn from a generator seeded with (seed, e), so a run interrupted after any epoch and
resumed from its checkpoint gives exactly the same weights, embeddings and history as an
uninterrupted one (on the same device), and a run asked for more epochs continues from the
last one. The checkpoint (state dicts of model and optimiser,
history, embeddings so far, and the run's configuration) is written atomically after every
epoch; a checkpoint written for another configuration is refused with a message saying so.

Initialisation study (the paper's section 6): ``init_std`` draws every convolution weight from
N(0, init_std^2) with zero biases (:func:`.models.initialise_conv`, seeded with ``seed``) right
after the model is built, so epoch 0 is that initialisation; ``None`` keeps PyTorch's default
initialisation and leaves a run exactly as it was before the option existed (same weights, and
:func:`run_identity` omits it, so checkpoints written before it still resume).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import io
from .models import build_model, initialise_conv

logger = logging.getLogger("repgeo")

MODES = ("supervised", "random_labels", "contrastive")


@dataclass(frozen=True)
class TrainConfig:
    """What a training run depends on (stored in its checkpoint)."""

    arch: str = "small_cnn"
    mode: str = "supervised"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    width: int = 32
    hidden: int = 2
    seed: int = 0
    # contrastive mode (SimCLR): NT-Xent temperature, projection size, augmentation strengths
    temperature: float = 0.5
    projection_dim: int = 64
    min_scale: float = 0.5
    flip: bool = False
    jitter: float = 0.4
    # initialisation study: N(0, init_std^2) convolution weights, zero biases (None: PyTorch's default)
    init_std: float | None = None

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        for name in ("epochs", "batch_size", "width", "hidden"):
            if getattr(self, name) < (0 if name == "epochs" else 1):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.lr > 0 or not self.temperature > 0:
            raise ValueError(f"lr and temperature must be > 0, got {self.lr} and {self.temperature}")
        if not 0 < self.min_scale <= 1 or not 0 <= self.jitter < 1:
            raise ValueError(
                f"min_scale must be in (0, 1] and jitter in [0, 1), got {self.min_scale} and {self.jitter}"
            )
        if self.mode == "contrastive" and self.batch_size < 2:
            raise ValueError("contrastive mode needs batch_size >= 2 (the other images are the negatives)")
        if self.init_std is not None:
            if (
                isinstance(self.init_std, bool)
                or not isinstance(self.init_std, (int, float, np.integer, np.floating))
                or not math.isfinite(self.init_std)
                or not self.init_std > 0
            ):
                raise ValueError(
                    f"init_std must be a finite number > 0 (or None for PyTorch's default initialisation), got {self.init_std!r}"
                )
            if self.arch == "mlp":
                raise ValueError(
                    "init_std initialises convolution layers only and arch 'mlp' has none; use small_cnn or resnet18"
                )


def evaluation_positions(test_positions, *, n: int, seed: int) -> np.ndarray:
    """The fixed evaluation subset whose embedding is recorded after every epoch (Liao et al.
    2024, section 5): a seeded sample of ``n`` of the ``test_positions`` (all when fewer), in
    their order. The same for every mode and seed of a training entry, so their trajectories
    are comparable."""
    test = np.asarray(test_positions)
    return test[np.sort(np.random.default_rng([int(seed), 0xE7]).permutation(len(test))[: int(n)])]


@dataclass
class TrainResult:
    """Per-epoch history (epoch 0 = initialisation) and embeddings Z[e] of the evaluation subset."""

    history: list[dict[str, float]]
    embeddings: torch.Tensor  # (epochs + 1) x n_eval x dim, float32
    model: nn.Module


def _tensor(a: Any, dtype: torch.dtype) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(a))
    return t.to(dtype)


@torch.no_grad()
def _predict(model: nn.Module, X: torch.Tensor, batch: int, device: str, embed: bool = False) -> torch.Tensor:
    model.eval()
    outs = []
    for s in range(0, len(X), batch):
        xb = X[s : s + batch].to(device)
        outs.append((model.embed(xb) if embed else model(xb)).float().cpu())
    return torch.cat(outs)


def _accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch: int, device: str) -> float:
    if len(X) == 0:
        return float("nan")
    return float((_predict(model, X, batch, device).argmax(1) == y).float().mean())


def train_classifier(
    X_train,
    y_train,
    X_test,
    y_test,
    X_eval,
    config: TrainConfig,
    checkpoint: str | Path,
    device: str = "cpu",
    n_classes: int | None = None,
) -> TrainResult:
    """Train per ``config``; resume from ``checkpoint`` when it holds earlier epochs of the same run.

    Arrays: images N x C x H x W (or N x D for ``mlp``), integer labels. ``X_eval`` is the fixed
    subset whose embedding is recorded. History rows: epoch, train_loss, train_accuracy (against
    the labels trained on), test_accuracy (true labels).
    """
    config.validate()
    Xtr, Xte, Xev = (_tensor(a, torch.float32) for a in (X_train, X_test, X_eval))
    ytr, yte = _tensor(y_train, torch.long), _tensor(y_test, torch.long)
    if len(Xtr) != len(ytr) or len(Xte) != len(yte):
        raise ValueError(
            f"{len(Xtr)} training images but {len(ytr)} labels, {len(Xte)} test images but {len(yte)} labels"
        )
    for name, t in (("X_train", Xtr), ("X_test", Xte), ("X_eval", Xev)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values; fix the data stage's output")
    n_classes = int(n_classes or int(torch.cat([ytr, yte]).max()) + 1)
    if config.mode == "random_labels":
        perm = np.random.default_rng([config.seed, 0x4A]).permutation(len(ytr))
        ytr = ytr[torch.as_tensor(perm)]
    torch.manual_seed(config.seed)
    model = build_model(config.arch, tuple(Xtr.shape[1:]), n_classes, config.width, config.hidden).to(device)
    if config.init_std is not None:
        # Before epoch 0 is recorded; a resumed run then overwrites these weights from its checkpoint.
        initialise_conv(model, config.init_std, config.seed)
    contrastive = config.mode == "contrastive"
    if contrastive:
        from .contrastive import ProjectionHead

        # The classification head is not trained in SimCLR: the projection head replaces it.
        model.head = ProjectionHead(model.embedding_dim, config.projection_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    record = _probe_record if contrastive else _record
    history: list[dict[str, float]] = []
    embeddings: list[torch.Tensor] = []
    checkpoint = Path(checkpoint)
    cfg = asdict(config)
    start = _resume(checkpoint, cfg, model, opt, history, embeddings)
    if start == 0:
        history.append(record(model, 0, float("nan"), Xtr, ytr, Xte, yte, config.batch_size, device))
        embeddings.append(_predict(model, Xev, config.batch_size, device, embed=True))
        _save(checkpoint, cfg, model, opt, history, embeddings)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(start + 1, config.epochs + 1):
        model.train()
        g = torch.Generator().manual_seed(int(config.seed) * 100_003 + epoch)
        order = torch.randperm(len(Xtr), generator=g)
        total = 0.0
        for s in range(0, len(order), config.batch_size):
            idx = order[s : s + config.batch_size]
            xb, yb = Xtr[idx].to(device), ytr[idx].to(device)
            opt.zero_grad(set_to_none=True)
            if contrastive:
                from .contrastive import augment, nt_xent

                v1, v2 = (augment(xb, g, config.min_scale, config.flip, config.jitter) for _ in range(2))
                loss = nt_xent(model(v1), model(v2), config.temperature)
            else:
                loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(record(model, epoch, total / len(Xtr), Xtr, ytr, Xte, yte, config.batch_size, device))
        embeddings.append(_predict(model, Xev, config.batch_size, device, embed=True))
        _save(checkpoint, cfg, model, opt, history, embeddings)
        h = history[-1]
        logger.info(
            "epoch %d/%d: loss %.4f, train accuracy %.4f, test accuracy %.4f",
            epoch,
            config.epochs,
            h["train_loss"],
            h["train_accuracy"],
            h["test_accuracy"],
        )
    return TrainResult(history, torch.stack(embeddings), model)


def _record(model, epoch, loss, Xtr, ytr, Xte, yte, batch, device) -> dict[str, float]:
    return {
        "epoch": epoch,
        "train_loss": loss,
        "train_accuracy": _accuracy(model, Xtr, ytr, batch, device),
        "test_accuracy": _accuracy(model, Xte, yte, batch, device),
    }


def _probe_record(model, epoch, loss, Xtr, ytr, Xte, yte, batch, device) -> dict[str, float]:
    from .contrastive import linear_probe_accuracy

    Ztr = _predict(model, Xtr, batch, device, embed=True).numpy()
    Zte = _predict(model, Xte, batch, device, embed=True).numpy()
    return {
        "epoch": epoch,
        "train_loss": loss,
        "train_accuracy": linear_probe_accuracy(Ztr, ytr.numpy(), Ztr, ytr.numpy()),
        "test_accuracy": linear_probe_accuracy(Ztr, ytr.numpy(), Zte, yte.numpy()),
    }


def _save(path: Path, cfg: dict, model, opt, history, embeddings) -> None:
    io.save_tensor(
        {
            "config": cfg,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "history": history,
            "embeddings": torch.stack(embeddings),
        },
        path,
    )


def run_identity(cfg: dict) -> dict:
    """What makes two runs the same run: the configuration without the epoch count.

    The epoch count is left out (a longer run continues a shorter one), and so are unset
    options (None, e.g. ``init_std``), so that adding an option keeps the identity, and a hash of
    it, what it was for runs written before the option existed (as the training stage's
    checkpoint name does).
    """
    return {k: v for k, v in cfg.items() if k != "epochs" and v is not None}


def _resume(path: Path, cfg: dict, model, opt, history: list, embeddings: list) -> int:
    """Load ``path`` into the given objects; return its last epoch (0 when there is nothing)."""
    if not path.exists():
        return 0
    state = io.load_tensor(path)
    # The epoch count is not part of a run's identity: a longer run continues a shorter one.
    if run_identity(state.get("config") or {}) != run_identity(cfg):
        raise ValueError(
            f"checkpoint {path} was written for another run ({state.get('config')}), not {cfg}; "
            "delete it to start this run from scratch"
        )
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit the architecture {cfg['arch']}: {err}") from err
    opt.load_state_dict(state["optimizer"])
    history.extend(state["history"])
    embeddings.extend(state["embeddings"].unbind(0))
    last = int(history[-1]["epoch"])
    if last > cfg["epochs"]:
        raise ValueError(
            f"checkpoint {path} is already at epoch {last}, beyond the {cfg['epochs']} asked for; delete it or ask for more epochs"
        )
    logger.info("resumed from %s at epoch %d", path, last)
    return last
