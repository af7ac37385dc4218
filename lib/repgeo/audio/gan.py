"""ciwGAN and fiwGAN training (Beguš 2021, Neural Networks 139) with the WaveGAN networks.

What the TF original (gbegus/fiwGAN-ciwGAN ``train_ciwgan.py``) does and
this module reproduces:

- latent z (latent_dim = 100): the first ``n_codes`` units are the code c, the rest
  U(-1, 1). ciwGAN: c is one-hot, its category uniform; fiwGAN: c is ``n_codes`` independent
  Bernoulli(0.5) bits (2^n_codes code patterns).
- WGAN-GP (Gulrajani et al. 2017, eq. 3): L_D = E[D(G(z))] - E[D(x)] + λ E[(‖∇D(x̂)‖₂ - 1)²],
  x̂ = x + a (G(z) - x), a ~ U(0, 1) per example, λ = 10; L_G = -E[D(G(z))].
- Q loss (weight 1): softmax cross-entropy of Q(G(z)) against the one-hot c (ciwGAN), sigmoid
  cross-entropy per bit, averaged over bits and examples (fiwGAN). Q never sees real data.
- Optimisers: D and G Adam(1e-4, β = (0.5, 0.9)); Q's optimiser is RMSProp(1e-4) over the
  parameters of Q AND G, with TF1's RMSProp semantics (:class:`TFRMSprop`; PyTorch's RMSprop
  differs: zero-initialised mean square, decay 0.99, epsilon outside the square root).
- Schedule: ``d_steps`` = 5 critic updates (each on a fresh real batch and fresh z), then one
  generator step in which the G update and the Q update are computed from ONE G(z), as the TF
  code runs both train ops in one ``sess.run`` on the same z. Here both gradients (of L_G with
  respect to G; of L_Q with respect to G and Q) are taken at the same parameters from the same
  graph before either optimiser steps, and then both are applied. Each optimiser's update
  depends only on its own state and gradient, so G moves by the sum of the Adam and the
  RMSProp updates, whatever their order: what two apply ops on the same variables do in one TF
  graph execution. (The PyTorch port steps G, then recomputes G(z) for Q from the updated G.)

Phase shuffle is active in every D and Q call, as in the TF graph (one shift per call).

Determinism and resumption (the project's convention, cf. :mod:`repgeo.training.classifier`):
models are initialised from ``seed``, and every random draw of step s (real batches, latents,
interpolation weights, phase shifts) comes from a CPU ``torch.Generator`` seeded with
(seed, s); so a run resumed from the checkpoint of step s gives bit-identical weights and
history to an uninterrupted run on the same device (on CUDA, with
``torch.use_deterministic_algorithms(True)``: cuDNN's default convolution backward is not
deterministic), and the random draws are the same on every device. Checkpoints
``step{N:06d}.pt`` hold G, D, Q, the three optimisers' states, the history, the configuration
and a fingerprint of the training data (about 650 MB at model_dim 64: 54 M parameters plus
Adam's two moments for G and D and RMSProp's mean square for G and Q).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .. import io
from .._validation import check_known_fields
from .wavegan import SLICE_LEN, Discriminator, Generator, QNetwork, init_tf_defaults

VARIANTS = ("ciwgan", "fiwgan")
HISTORY_COLUMNS = ("step", "d_loss", "g_loss", "q_loss", "gradient_penalty", "wasserstein_estimate", "seconds")
_CHECKPOINT = re.compile(r"^step(\d{6})\.pt$")
# Random streams (with the seed and step) of the per-step generators.
_STREAM_INIT, _STREAM_STEP = 0, 1


@dataclass(frozen=True, kw_only=True)
class GanConfig:
    """What a ciwGAN/fiwGAN run depends on (stored in its checkpoints). Defaults: the TF original.

    ``n_codes``: ciwGAN's number of categories (one-hot) or fiwGAN's number of bits ϕ.
    ``checkpoint_steps``: steps at which a checkpoint is kept; the final step always is.
    """

    variant: str
    n_codes: int
    steps: int
    latent_dim: int = 100
    model_dim: int = 64
    kernel_size: int = 25
    phase_shuffle: int = 2
    batch_size: int = 64
    d_steps: int = 5
    gp_weight: float = 10.0
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.9)
    q_lr: float = 1e-4
    checkpoint_steps: tuple[int, ...] = ()
    seed: int = 0

    def validate(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        for name in ("n_codes", "steps", "latent_dim", "model_dim", "batch_size", "d_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.variant == "ciwgan" and self.n_codes < 2:
            raise ValueError(f"n_codes must be >= 2 for ciwgan (one-hot categories), got {self.n_codes}")
        if self.n_codes >= self.latent_dim:
            raise ValueError(
                f"n_codes ({self.n_codes}) must be below latent_dim ({self.latent_dim}): the rest of z is the uniform noise"
            )
        if self.kernel_size < 4:
            raise ValueError(f"kernel_size must be >= 4 (the stride), got {self.kernel_size}")
        if self.phase_shuffle < 0:
            raise ValueError(f"phase_shuffle must be >= 0 (0 disables it), got {self.phase_shuffle}")
        for name in ("lr", "q_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.gp_weight >= 0:
            raise ValueError(f"gp_weight must be >= 0, got {self.gp_weight}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1) (Adam's β1, β2), got {self.betas}")
        bad = [s for s in self.checkpoint_steps if not isinstance(s, (int, np.integer)) or not 1 <= s <= self.steps]
        if bad:
            raise ValueError(
                f"checkpoint_steps must be steps in 1..steps ({self.steps}), got {bad}; raise steps or drop them"
            )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = [float(b) for b in self.betas]
        d["checkpoint_steps"] = [int(s) for s in self.checkpoint_steps]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GanConfig:
        check_known_fields(cls, d, "GanConfig fields")
        return cls(
            **{
                **d,
                "betas": tuple(d.get("betas", (0.5, 0.9))),
                "checkpoint_steps": tuple(d.get("checkpoint_steps", ())),
            }
        )


def words_config(
    n_words: int, *, n_codes: int | None, steps: int, checkpoint_steps: Sequence[int], **settings: Any
) -> GanConfig:
    """The :class:`GanConfig` of a run on ``n_words`` words (validated): ``n_codes`` None gives ciwGAN
    one category per word and fiwGAN ceil(log2 n_words) bits, at least 1 (Beguš 2021: a code per
    lexical item); ``checkpoint_steps`` beyond ``steps`` are dropped, the rest sorted (a shorter run
    of the same configuration keeps the checkpoints it reaches). ``settings``: the other fields."""
    if n_codes is None:
        n_codes = n_words if settings["variant"] == "ciwgan" else max(1, math.ceil(math.log2(n_words)))
    kept = tuple(sorted(s for s in checkpoint_steps if s <= steps))
    cfg = GanConfig(n_codes=n_codes, steps=steps, checkpoint_steps=kept, **settings)
    cfg.validate()
    return cfg


def run_identity(cfg: GanConfig) -> dict[str, Any]:
    """What makes two runs the same run: the configuration without the step count and checkpoint steps."""
    return {k: v for k, v in cfg.to_dict().items() if k not in ("steps", "checkpoint_steps")}


@dataclass
class Optimisers:
    """G and D: Adam; q: TF-style RMSProp over Q's and G's parameters (module docstring)."""

    g: torch.optim.Optimizer
    d: torch.optim.Optimizer
    q: torch.optim.Optimizer


@dataclass
class GanResult:
    """A trained run: history (one row per step, :data:`HISTORY_COLUMNS`) and the modules.

    History: ``d_loss``, ``gradient_penalty`` and ``wasserstein_estimate`` (E[D(x)] - E[D(G(z))])
    are means over the step's critic updates; ``g_loss`` and ``q_loss`` are those of the
    generator step (before its update); ``seconds`` is the training wall time so far, summed
    over resumptions (the one column that differs between runs).
    """

    config: GanConfig
    history: pd.DataFrame
    G: Generator
    D: Discriminator
    Q: QNetwork
    checkpoints: list[Path]


class TFRMSprop(torch.optim.Optimizer):
    """RMSProp as TF1's ``tf.train.RMSPropOptimizer`` (the optimiser of ciwGAN's Q loss).

    ms ← ρ ms + (1 - ρ) g², θ ← θ - lr · g / sqrt(ms + ε), with ms initialised to ONES (TF's
    slot initialiser), ρ = 0.9, ε = 1e-10 and no momentum (TF's defaults). PyTorch's RMSprop
    starts from zeros, which makes its first steps ~1/sqrt(1 - ρ) times larger than TF's.
    """

    def __init__(self, params, lr: float, decay: float = 0.9, epsilon: float = 1e-10) -> None:
        if not lr > 0 or not 0 <= decay < 1 or not epsilon >= 0:
            raise ValueError(f"TFRMSprop needs lr > 0, 0 <= decay < 1, epsilon >= 0; got {lr}, {decay}, {epsilon}")
        super().__init__(params, {"lr": lr, "decay": decay, "epsilon": epsilon})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["mean_square"] = torch.ones_like(p, memory_format=torch.preserve_format)
                ms = state["mean_square"]
                ms.mul_(group["decay"]).addcmul_(p.grad, p.grad, value=1 - group["decay"])
                p.addcdiv_(p.grad, ms.add(group["epsilon"]).sqrt_(), value=-group["lr"])
        return loss


# --- randomness, latents, losses -------------------------------------------------------------


def step_generator(seed: int, step: int, stream: int = _STREAM_STEP) -> torch.Generator:
    """A CPU generator seeded from (seed, stream, step): every random draw of one training step."""
    state = np.random.SeedSequence([int(seed), int(stream), int(step)]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


def pattern_to_bits(patterns: torch.Tensor | Sequence[int], n_bits: int) -> torch.Tensor:
    """fiwGAN code patterns (integers) as (N, n_bits) 0/1 floats; bit 0 (latent unit 0) is the most significant."""
    p = torch.as_tensor(patterns, dtype=torch.long).reshape(-1, 1)
    shifts = torch.arange(n_bits - 1, -1, -1, dtype=torch.long)
    return ((p >> shifts) & 1).float()


def bits_to_pattern(bits: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`pattern_to_bits`: (N, n_bits) 0/1 values to integer patterns."""
    n_bits = bits.shape[1]
    weights = 2 ** torch.arange(n_bits - 1, -1, -1, dtype=torch.long, device=bits.device)
    return (bits.round().long() * weights).sum(1)


def sample_latent(n: int, cfg: GanConfig, generator: torch.Generator | None) -> torch.Tensor:
    """(n, latent_dim) latents on the CPU: code (one-hot or Bernoulli(0.5) bits), then U(-1, 1) noise."""
    if cfg.variant == "ciwgan":
        code = F.one_hot(torch.randint(0, cfg.n_codes, (n,), generator=generator), cfg.n_codes).float()
    else:
        code = torch.randint(0, 2, (n, cfg.n_codes), generator=generator).float()
    noise = torch.rand(n, cfg.latent_dim - cfg.n_codes, generator=generator) * 2 - 1
    return torch.cat([code, noise], 1)


def q_loss(logits: torch.Tensor, code: torch.Tensor, variant: str) -> torch.Tensor:
    """Q's loss: softmax cross-entropy to the one-hot code (ciwGAN) or mean sigmoid cross-entropy per bit (fiwGAN)."""
    if variant == "ciwgan":
        return F.cross_entropy(logits, code)  # probability targets: TF's softmax_cross_entropy_with_logits
    if variant == "fiwgan":
        return F.binary_cross_entropy_with_logits(logits, code)
    raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor
) -> torch.Tensor:
    """E[(‖∇ₓ D(x̂)‖₂ - 1)²] at x̂ = real + alpha (fake - real) (Gulrajani et al. 2017, eq. 3).

    ``alpha`` has one weight per example (shape (N, 1, 1)); the norm is over all of an example's
    samples. The graph is kept (``create_graph``) so the penalty can be differentiated.
    """
    x_hat = (real.detach() + alpha * (fake.detach() - real.detach())).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


# --- models and one training step ------------------------------------------------------------


def build_models(cfg: GanConfig, device: str | torch.device = "cpu") -> tuple[Generator, Discriminator, QNetwork]:
    """G, D and Q initialised (TF defaults) from ``cfg.seed`` on the CPU, then moved to ``device``."""
    gen = step_generator(cfg.seed, 0, _STREAM_INIT)
    # Built on the meta device: PyTorch's own initialisation (overwritten anyway) would cost time
    # and consume the global random state.
    with torch.device("meta"):
        G = Generator(cfg.latent_dim, cfg.model_dim, cfg.kernel_size)
        D = Discriminator(cfg.model_dim, cfg.kernel_size, cfg.phase_shuffle)
        Q = QNetwork(cfg.n_codes, cfg.model_dim, cfg.kernel_size, cfg.phase_shuffle)
    return tuple(init_tf_defaults(m.to_empty(device="cpu"), gen).to(device) for m in (G, D, Q))  # type: ignore[return-value]


def build_optimisers(G: nn.Module, D: nn.Module, Q: nn.Module, cfg: GanConfig) -> Optimisers:
    """Adam for G and D; TF-style RMSProp over Q's and G's parameters for the Q loss."""
    return Optimisers(
        g=torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=tuple(cfg.betas)),
        d=torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=tuple(cfg.betas)),
        q=TFRMSprop([*Q.parameters(), *G.parameters()], lr=cfg.q_lr),
    )


def discriminator_step(
    G: Generator, D: Discriminator, real: torch.Tensor, opt: torch.optim.Optimizer, cfg: GanConfig, gen: torch.Generator
) -> torch.Tensor:
    """One WGAN-GP critic update on a fresh real batch and fresh z; returns [L_D, penalty, W estimate]."""
    device = real.device
    x = real[torch.randperm(len(real), generator=gen)[: cfg.batch_size].to(device)]
    z = sample_latent(cfg.batch_size, cfg, gen).to(device)
    alpha = torch.rand(cfg.batch_size, 1, 1, generator=gen).to(device)
    with torch.no_grad():  # L_D is minimised over D's parameters only
        fake = G(z)
    d_real, d_fake = D(x, gen).mean(), D(fake, gen).mean()
    gp = gradient_penalty(lambda t: D(t, gen), x, fake, alpha)
    loss = d_fake - d_real + cfg.gp_weight * gp
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return torch.stack([loss, gp, d_real - d_fake]).detach()


def _apply(opt: torch.optim.Optimizer, params: list[nn.Parameter], grads: Sequence[torch.Tensor]) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    opt.step()
    for p in params:
        p.grad = None


def generator_step(
    G: Generator, D: Discriminator, Q: QNetwork, opts: Optimisers, cfg: GanConfig, gen: torch.Generator
) -> torch.Tensor:
    """The G update and the Q update from one G(z) (module docstring); returns [L_G, L_Q] before the update."""
    device = next(G.parameters()).device
    z = sample_latent(cfg.batch_size, cfg, gen).to(device)
    fake = G(z)
    g_loss = -D(fake, gen).mean()
    ql = q_loss(Q(fake, gen), z[:, : cfg.n_codes], cfg.variant)
    g_params, q_params = list(G.parameters()), list(Q.parameters())
    # Both gradients at the same parameters, before either optimiser steps.
    g_grads = torch.autograd.grad(g_loss, g_params, retain_graph=True)
    q_grads = torch.autograd.grad(ql, q_params + g_params)
    _apply(opts.g, g_params, g_grads)
    _apply(opts.q, q_params + g_params, q_grads)
    return torch.stack([g_loss, ql]).detach()


# --- training run ----------------------------------------------------------------------------


def checkpoint_path(checkpoint_dir: str | Path, step: int) -> Path:
    return Path(checkpoint_dir) / f"step{int(step):06d}.pt"


def _as_audio(real: Any) -> torch.Tensor:
    t = (
        torch.as_tensor(np.asarray(real) if not isinstance(real, torch.Tensor) else real)
        .detach()
        .to("cpu", torch.float32)
    )
    if t.dim() != 3 or t.shape[1] != 1 or t.shape[2] != SLICE_LEN:
        raise ValueError(
            f"real audio must have shape (N, 1, {SLICE_LEN}), got {tuple(t.shape)}; pad or crop each token to {SLICE_LEN} samples"
        )
    if not torch.isfinite(t).all():
        raise ValueError("real audio contains NaN or infinite values; fix the data stage's output")
    return t.contiguous()


def _fingerprint(real: torch.Tensor) -> dict[str, Any]:
    return {"n": int(len(real)), "sha1": hashlib.sha1(real.numpy().tobytes()).hexdigest()}


def _json(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def _save(
    path: Path, cfg: GanConfig, data: dict, step: int, G, D, Q, opts: Optimisers, history: dict[str, list]
) -> None:
    io.save_tensor(
        {
            "config": cfg.to_dict(),
            "data": data,
            "step": int(step),
            "G": G.state_dict(),
            "D": D.state_dict(),
            "Q": Q.state_dict(),
            "optimizers": {"g": opts.g.state_dict(), "d": opts.d.state_dict(), "q": opts.q.state_dict()},
            "history": history,
        },
        path,
    )


def _load_modules(state: dict, path: Path, G, D, Q) -> None:
    try:
        for name, module in (("G", G), ("D", D), ("Q", Q)):
            module.load_state_dict(state[name])
    except (RuntimeError, KeyError) as err:
        raise ValueError(f"checkpoint {path} does not fit the configured networks: {err}") from err


def _resume(
    checkpoint_dir: Path,
    cfg: GanConfig,
    data: dict,
    G,
    D,
    Q,
    opts: Optimisers,
    history: dict[str, list],
    logger: logging.Logger,
) -> int:
    """Load the newest checkpoint at or before ``cfg.steps`` into the given objects; return its step (0: none)."""
    found = sorted(int(m.group(1)) for p in checkpoint_dir.glob("step*.pt") if (m := _CHECKPOINT.match(p.name)))
    if not found:
        return 0
    usable = [s for s in found if s <= cfg.steps]
    if not usable:
        raise ValueError(
            f"{checkpoint_dir} holds checkpoints only beyond step {cfg.steps} (steps {found}); ask for at least {found[0]} steps or use another directory"
        )
    path = checkpoint_path(checkpoint_dir, usable[-1])
    state = io.load_tensor(path)
    theirs = GanConfig.from_dict(state["config"])
    if _json(run_identity(theirs)) != _json(run_identity(cfg)):
        raise ValueError(
            f"checkpoint {path} was written for another configuration ({run_identity(theirs)}), not {run_identity(cfg)}; "
            "delete the directory or choose another one to start this run from scratch"
        )
    if state["data"] != data:
        raise ValueError(
            f"checkpoint {path} was trained on other data ({state['data']['n']} tokens, sha1 {state['data']['sha1']}) than given "
            f"({data['n']} tokens, sha1 {data['sha1']}); delete the directory or choose another one"
        )
    _load_modules(state, path, G, D, Q)
    for name in ("g", "d", "q"):
        getattr(opts, name).load_state_dict(state["optimizers"][name])
    for col in HISTORY_COLUMNS:
        history[col].extend(state["history"][col])
    logger.info("resumed from %s at step %d", path, usable[-1])
    return usable[-1]


def train_gan(
    real: torch.Tensor,
    cfg: GanConfig,
    checkpoint_dir: str | Path,
    logger: logging.Logger,
    device: str | torch.device = "cpu",
    log_every: int = 50,
) -> GanResult:
    """Train ciwGAN/fiwGAN on ``real`` (N, 1, 16384) per ``cfg`` (module docstring).

    Resumes from the newest checkpoint in ``checkpoint_dir`` (at or before ``cfg.steps``) of
    the same configuration and data; refuses one of another. Logs losses and speed every
    ``log_every`` steps.
    """
    cfg.validate()
    if int(log_every) < 1:
        raise ValueError(f"log_every must be a positive number of steps, got {log_every}")
    real = _as_audio(real)
    if len(real) < cfg.batch_size:
        raise ValueError(f"{len(real)} training tokens are fewer than batch_size {cfg.batch_size}; lower batch_size")
    data = _fingerprint(real)
    checkpoint_dir = Path(checkpoint_dir)
    G, D, Q = build_models(cfg, device)
    opts = build_optimisers(G, D, Q, cfg)
    history: dict[str, list] = {col: [] for col in HISTORY_COLUMNS}
    start = _resume(checkpoint_dir, cfg, data, G, D, Q, opts, history, logger)
    keep = sorted(set(cfg.checkpoint_steps) | {cfg.steps})
    for m in (G, D, Q):
        m.train()
    real = real.to(device)
    offset = history["seconds"][-1] if history["seconds"] else 0.0
    t0 = t_log = time.perf_counter()
    step_log = start
    pending: list[tuple[int, float, torch.Tensor]] = []
    for step in range(start + 1, cfg.steps + 1):
        gen = step_generator(cfg.seed, step)
        d_stats = torch.stack([discriminator_step(G, D, real, opts.d, cfg, gen) for _ in range(cfg.d_steps)]).mean(0)
        g_stats = generator_step(G, D, Q, opts, cfg, gen)
        # Kept on the device until the next log or checkpoint: no GPU synchronisation per step.
        pending.append((step, offset + time.perf_counter() - t0, torch.cat([d_stats, g_stats])))
        if step % log_every and step not in keep:
            continue
        for s, sec, vals in pending:
            d_loss, gp, wass, g_loss, ql = vals.tolist()
            for col, v in zip(HISTORY_COLUMNS, (s, d_loss, g_loss, ql, gp, wass, sec), strict=True):
                history[col].append(v)
        pending.clear()
        now = time.perf_counter()
        logger.info(
            "step %d/%d: D %.4f, G %.4f, Q %.4f, GP %.4f, W %.4f (%.2f steps/s)",
            step,
            cfg.steps,
            history["d_loss"][-1],
            history["g_loss"][-1],
            history["q_loss"][-1],
            history["gradient_penalty"][-1],
            history["wasserstein_estimate"][-1],
            (step - step_log) / max(now - t_log, 1e-9),
        )
        t_log, step_log = now, step
        if step in keep:
            _save(checkpoint_path(checkpoint_dir, step), cfg, data, step, G, D, Q, opts, history)
    return GanResult(
        config=cfg,
        history=pd.DataFrame(history, columns=list(HISTORY_COLUMNS)),
        G=G,
        D=D,
        Q=Q,
        checkpoints=[checkpoint_path(checkpoint_dir, s) for s in keep if checkpoint_path(checkpoint_dir, s).exists()],
    )


def load_gan(
    checkpoint_path: str | Path, device: str | torch.device = "cpu"
) -> tuple[GanConfig, Generator, Discriminator, QNetwork]:
    """The configuration and the G, D, Q of a checkpoint written by :func:`train_gan`, in eval mode."""
    path = Path(checkpoint_path)
    state = io.load_tensor(path)
    cfg = GanConfig.from_dict(state["config"])
    G, D, Q = build_models(cfg, "cpu")
    _load_modules(state, path, G, D, Q)
    return cfg, G.to(device).eval(), D.to(device).eval(), Q.to(device).eval()


# --- generation ------------------------------------------------------------------------------


def code_levels(cfg: GanConfig, max_patterns: int = 256) -> list[int]:
    """The codes to generate: every category (ciwGAN) or the first min(2^n_codes, max_patterns) bit patterns (fiwGAN)."""
    if cfg.variant == "ciwgan":
        return list(range(cfg.n_codes))
    return list(range(min(2**cfg.n_codes, int(max_patterns))))


def code_vectors(codes: Sequence[int], cfg: GanConfig) -> torch.Tensor:
    """(len(codes), n_codes) code parts of z: one-hot categories (ciwGAN) or the patterns' bits (fiwGAN)."""
    if cfg.variant == "ciwgan":
        return F.one_hot(torch.as_tensor(list(codes), dtype=torch.long), cfg.n_codes).float()
    return pattern_to_bits(list(codes), cfg.n_codes)


@torch.no_grad()
def generate(
    G: Generator,
    cfg: GanConfig,
    codes_per_level: int,
    seed: int,
    *,
    max_patterns: int = 256,
    code_value: float = 1.0,
    batch: int = 64,
) -> dict[int, torch.Tensor]:
    """Audio per code: {code: (codes_per_level, 1, 16384) CPU tensor}, codes from :func:`code_levels`.

    Every code gets the SAME ``codes_per_level`` noise vectors (U(-1, 1), seeded by ``seed``),
    so differences between codes are due to the code alone. ``code_value`` scales the code's
    active units (1 in training; Beguš 2021 also sets them beyond the training range, which
    exaggerates what a code encodes).
    """
    if codes_per_level < 1:
        raise ValueError(f"codes_per_level must be >= 1, got {codes_per_level}")
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    noise = (
        torch.rand(codes_per_level, cfg.latent_dim - cfg.n_codes, generator=torch.Generator().manual_seed(int(seed)))
        * 2
        - 1
    )
    out: dict[int, torch.Tensor] = {}
    codes = code_levels(cfg, max_patterns)
    for code, vec in zip(codes, code_vectors(codes, cfg), strict=True):
        z = torch.cat([(vec * code_value).expand(codes_per_level, -1), noise], 1)
        out[code] = torch.cat([G(z[s : s + batch].to(device)).cpu() for s in range(0, codes_per_level, batch)])
    G.train(was_training)
    return out
