"""Training of the sliced generative autoencoders (Knop, Mazur, Tabor, Podolak, Spurek, "Sliced
generative models", arXiv 1901.10417, section 3), with SWAE (Kolouri et al. 2018) and CWAE
(Knop, Tabor et al. 2018, arXiv 1805.09235) as the comparison models and the plain autoencoder as the reference.

The cost of a batch X with codes Z = E(X) (the gmum CWAE code bases gmum/cwae and gmum/cwae-pytorch):

    cost = RecErr(X, D(Z)) + λ log(d(Z, N(0, I)) + ε)       (``cost = "log"``, the paper's form)
    cost = RecErr(X, D(Z)) + λ d(Z, N(0, I))                 (``cost = "linear"``)

RecErr is the per-image sum of squared pixel errors averaged over the batch
(:func:`~repgeo.generative.architectures.reconstruction_error`); ε = 1e-7 as in the gmum PyTorch
code. For the sliced models d is the mean over K fresh random unit directions of a 1-D distance
between the projected codes and N(0, 1) (:func:`~repgeo.generative.distances.sliced_distance`):
``swae`` (W₂² to a fresh prior sample), ``scfwae`` (closed-form W₂²), ``scwae`` (1-D Cramér–Wold),
``scvmae`` (Cramér–von Mises), ``sksae`` (Kolmogorov–Smirnov); ``cwae`` uses the multivariate
Cramér–Wold distance (:func:`~repgeo.generative.distances.cw_distance`) and ``ae`` no distance.
Under the log form a constant factor of the distance only shifts the cost, so normalisation
conventions do not change the gradients (log(c d) = log c + log d).

Optimiser Adam (PyTorch defaults β = (0.9, 0.999)), lr 1e-3 (5e-4 for CelebA), batch 128, K = 50
(gmum/cwae ``train_models.py``, gmum/cwae-pytorch ``reproduce_table1.sh``; K = 50 as in
skolouri/swae). Every random draw of epoch e (the shuffling, the directions, SWAE's prior samples)
comes from a CPU generator seeded with (seed, e), so a run resumed after epoch e gives the same
weights and history as an uninterrupted one on the same device. The state after every epoch is
kept in ``work_dir/state.pt``; the weights at every evaluation epoch (epoch 0 = the
initialisation, every ``eval_every`` epochs and the last) in ``work_dir/snapshots/``, which the
evaluation stage reads.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import io, registry
from .._validation import check_known_fields
from .architectures import ARCHITECTURES, Autoencoder, build_autoencoder, reconstruction_error
from .distances import cw_distance, sliced_distance

MODELS = registry.GENERATIVE_MODELS
COSTS = ("log", "linear")
HISTORY_COLUMNS = ("epoch", "loss", "reconstruction", "distance", "seconds")
LOG_EPSILON = 1e-7


@dataclass(frozen=True)
class AutoencoderConfig:
    """What a training run depends on (stored in its state and snapshots)."""

    model: str = "swae"
    arch: str = "mlp"
    latent_dim: int = 20
    width: int = 200
    depth: int = 3
    epochs: int = 500
    batch_size: int = 128
    lr: float = 1e-3
    cost: str = "log"
    weight: float = 1.0
    n_projections: int = 50
    eval_every: int = 5
    seed: int = 0
    compile: bool = False

    def validate(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {ARCHITECTURES}, got {self.arch!r}")
        if self.cost not in COSTS:
            raise ValueError(f"cost must be one of {COSTS}, got {self.cost!r}")
        for name in ("latent_dim", "width", "depth", "batch_size", "n_projections", "eval_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if int(self.epochs) < 0:
            raise ValueError(f"epochs must be >= 0, got {self.epochs!r}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (a distance to N(0, I) needs two codes), got {self.batch_size}")
        for name in ("lr", "weight"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile must be true or false, got {self.compile!r}")
        if self.model == "cwae" and self.latent_dim < 2:
            raise ValueError(
                "model cwae needs latent_dim >= 2 (its kernel approximation is for D >= 2); use scwae for a 1-D latent"
            )

    def eval_epochs(self) -> list[int]:
        """Epoch 0, every ``eval_every``-th epoch and the last."""
        return sorted({0, int(self.epochs), *range(0, int(self.epochs) + 1, int(self.eval_every))})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AutoencoderConfig:
        check_known_fields(cls, d, "autoencoder settings")
        return cls(**d)


def run_identity(cfg: AutoencoderConfig) -> dict[str, Any]:
    """What makes two runs the same run: everything but the epoch count (more epochs continue) and
    ``compile`` (the compiled distance computes the same numbers, to float rounding, faster)."""
    return {k: v for k, v in cfg.to_dict().items() if k not in ("epochs", "compile")}


@dataclass
class TrainResult:
    config: AutoencoderConfig
    history: pd.DataFrame
    model: Autoencoder
    snapshots: list[Path]


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The CPU generator of every random draw of ``epoch`` (module docstring)."""
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


def batch_distance(z: torch.Tensor, cfg: AutoencoderConfig, generator: torch.Generator) -> torch.Tensor | None:
    """d(Z, N(0, I)) of the model (None for the plain autoencoder)."""
    if cfg.model == "ae":
        return None
    if cfg.model == "cwae":
        return cw_distance(z)
    return sliced_distance(z, cfg.model, n_projections=cfg.n_projections, generator=generator, compiled=cfg.compile)


def cost(rec: torch.Tensor, distance: torch.Tensor | None, cfg: AutoencoderConfig) -> torch.Tensor:
    """The training cost of the module docstring."""
    if distance is None:
        return rec
    if cfg.cost == "log":
        return rec + cfg.weight * torch.log(distance + LOG_EPSILON)
    return rec + cfg.weight * distance


def build(cfg: AutoencoderConfig, image_shape: tuple[int, ...], device: str | torch.device = "cpu") -> Autoencoder:
    torch.manual_seed(cfg.seed)
    return build_autoencoder(cfg.arch, tuple(image_shape), cfg.latent_dim, width=cfg.width, depth=cfg.depth).to(device)


def snapshot_path(work_dir: str | Path, epoch: int) -> Path:
    return Path(work_dir) / "snapshots" / f"epoch{int(epoch):05d}.pt"


def _fingerprint(X: torch.Tensor) -> list[float]:
    # Refuses to resume on other data without hashing every pixel each epoch.
    x = X.double()
    return [float(len(X)), float(x.sum()), float((x * x).sum())]


def _check_images(X: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    if t.ndim != 4:
        raise ValueError(f"{name} must be images N x C x H x W, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinite values; fix the data stage's output")
    lo, hi = float(t.min()), float(t.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        # The decoders end in a sigmoid: targets outside [0, 1] cannot be reconstructed.
        raise ValueError(
            f"{name} has pixel values in [{lo:.3g}, {hi:.3g}]; the decoders output [0, 1], so scale the images to [0, 1]"
        )
    return t


def _save_state(path: Path, cfg, data, epoch, model, opt, history) -> None:
    io.save_tensor(
        {
            "config": cfg.to_dict(),
            "data": data,
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "history": history,
        },
        path,
    )


def _save_snapshot(work_dir: Path, cfg: AutoencoderConfig, epoch: int, model: Autoencoder, image_shape) -> None:
    io.save_tensor(
        {"config": cfg.to_dict(), "epoch": epoch, "image_shape": list(image_shape), "model": model.state_dict()},
        snapshot_path(work_dir, epoch),
    )


def load_snapshot(path: str | Path, device: str | torch.device = "cpu") -> tuple[AutoencoderConfig, int, Autoencoder]:
    """The configuration, epoch and autoencoder of a snapshot file."""
    state = io.load_tensor(path)
    try:
        cfg = AutoencoderConfig.from_dict(state["config"])
        model = build(cfg, tuple(state["image_shape"]), device)
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        raise ValueError(
            f"{path} is not an autoencoder snapshot of this version of repgeo ({exc}); delete it and rerun the training"
        ) from exc
    model.eval()
    return cfg, int(state["epoch"]), model


def _resume(work_dir: Path, cfg, data, model, opt, history: dict, logger: logging.Logger) -> int:
    path = work_dir / "state.pt"
    if not path.exists():
        return 0
    state = io.load_tensor(path)
    saved = AutoencoderConfig.from_dict(state["config"])
    if run_identity(saved) != run_identity(cfg) or state["data"] != data:
        raise ValueError(
            f"{path} was written for another run or other data ({saved}); delete {work_dir} to train this run from scratch"
        )
    epoch = min(int(state["epoch"]), cfg.epochs)
    if epoch < int(state["epoch"]):
        raise ValueError(
            f"{path} is at epoch {state['epoch']}, beyond the {cfg.epochs} asked for; delete {work_dir} to train a shorter run"
        )
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    for k in HISTORY_COLUMNS:
        history[k] = list(state["history"][k])
    logger.info("resuming from %s after epoch %d", path, epoch)
    return epoch


def train_autoencoder(
    X_train: Any,
    cfg: AutoencoderConfig,
    work_dir: str | Path,
    logger: logging.Logger,
    device: str | torch.device = "cpu",
) -> TrainResult:
    """Train ``cfg.model`` on images ``X_train`` (N x C x H x W in [0, 1]); module docstring.

    Resumes from ``work_dir/state.pt`` when it holds earlier epochs of the same run on the same
    data; refuses one of another run. History rows (epoch 0 = before training): epoch, mean
    cost, reconstruction error and distance over the epoch's batches, and cumulative seconds.
    """
    cfg.validate()
    X = _check_images(X_train, "X_train")
    if len(X) < cfg.batch_size:
        raise ValueError(f"{len(X)} training images are fewer than batch_size {cfg.batch_size}; lower batch_size")
    work_dir = Path(work_dir)
    (work_dir / "snapshots").mkdir(parents=True, exist_ok=True)
    image_shape = tuple(X.shape[1:])
    model = build(cfg, image_shape, device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data = _fingerprint(X)
    history: dict[str, list] = {k: [] for k in HISTORY_COLUMNS}
    start = _resume(work_dir, cfg, data, model, opt, history, logger)
    evals = set(cfg.eval_epochs())
    if start == 0:
        history["epoch"].append(0)
        history["loss"].append(float("nan"))
        history["reconstruction"].append(float("nan"))
        history["distance"].append(float("nan"))
        history["seconds"].append(0.0)
        _save_snapshot(work_dir, cfg, 0, model, image_shape)
        _save_state(work_dir / "state.pt", cfg, data, 0, model, opt, history)
    X_dev = X.to(device)
    n_batches = len(X) // cfg.batch_size
    offset = history["seconds"][-1]
    t0 = time.perf_counter()
    for epoch in range(start + 1, cfg.epochs + 1):
        model.train()
        gen = epoch_generator(cfg.seed, epoch)
        order = torch.randperm(len(X), generator=gen)
        sums = torch.zeros(3, dtype=torch.float64)
        # Incomplete last batches are dropped (as the gmum loaders do): a distance to N(0, I)
        # from a handful of codes would be mostly noise.
        for b in range(n_batches):
            xb = X_dev[order[b * cfg.batch_size : (b + 1) * cfg.batch_size].to(device)]
            z, x_hat = model(xb)
            rec = reconstruction_error(xb, x_hat)
            dist = batch_distance(z, cfg, gen)
            loss = cost(rec, dist, cfg)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"{cfg.model}: the cost became {float(loss)} at epoch {epoch}, batch {b}; lower lr (now {cfg.lr}) or use cost 'log'"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums += (
                torch.stack(
                    [loss.detach(), rec.detach(), dist.detach() if dist is not None else torch.tensor(float("nan"))]
                )
                .double()
                .cpu()
            )
        means = (sums / n_batches).tolist()
        history["epoch"].append(epoch)
        history["loss"].append(means[0])
        history["reconstruction"].append(means[1])
        history["distance"].append(means[2])
        history["seconds"].append(offset + time.perf_counter() - t0)
        if epoch in evals:
            _save_snapshot(work_dir, cfg, epoch, model, image_shape)
        _save_state(work_dir / "state.pt", cfg, data, epoch, model, opt, history)
        logger.info(
            "%s epoch %d/%d: cost %.4f, reconstruction %.4f, distance %.5g (%.1f images/s)",
            cfg.model,
            epoch,
            cfg.epochs,
            means[0],
            means[1],
            means[2],
            n_batches * cfg.batch_size * (epoch - start) / max(time.perf_counter() - t0, 1e-9),
        )
    model.eval()
    return TrainResult(
        config=cfg,
        history=pd.DataFrame(history, columns=list(HISTORY_COLUMNS)),
        model=model,
        snapshots=[snapshot_path(work_dir, e) for e in sorted(evals)],
    )
