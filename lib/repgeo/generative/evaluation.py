"""Evaluation of a generative autoencoder at one epoch, as the gmum CWAE code evaluates its
models (gmum/cwae ``src/evaluation/``, gmum/cwae-pytorch ``src/evaluators/``; Knop et al., "Sliced
generative models", section 4), plus generation quality measured offline (Fréchet and kernel
distances in in-house classifier features and pixel-space SWD, since the Inception weights of FID
cannot be downloaded).

On the encoded test split Z = E(X_test):

- ``reconstruction_error``: mean over test images of the per-image sum of squared pixel errors;
- ``mardia_skewness``, ``mardia_kurtosis``, ``mardia_kurtosis_normalised``: Mardia's statistics
  measured against N(0, I) as the paper and the gmum code do (raw codes, no centring or
  whitening; targets 0, D(D+2) and 0; :func:`~repgeo.generative.normality.mardia_prior`);
  ``mardia_kurtosis_normalised`` is b2 - D(D+2) with its sign, as the paper's Table 1
  "kurtosis (normalized)" (negative for light-tailed codes);
- ``mardia_test_skewness``, ``mardia_test_skewness_p``, ``mardia_test_kurtosis``,
  ``mardia_test_kurtosis_p``: the textbook standardised Mardia (1970) test of normality (centred
  and whitened: "is Z Gaussian at all", a different question);
- ``sw_latent``: the classical sliced Wasserstein distance to N(0, I) (50 projections, fresh
  prior sample, 10 repeats);
- ``cw_latent``: the Cramér–Wold distance to N(0, I) (exact kernel) on random subsets of
  ``cw_subset_size`` codes, averaged over ``cw_repeats`` (the gmum TF evaluator: 2000 and 5).

On ``n_generated`` images decoded from N(0, I) draws:

- ``fd_{net}``, ``kid_{net}``, ``kid_{net}_std``: the Fréchet distance and the kernel distance
  (unbiased cubic-polynomial MMD²) between generated and test images in the features of a
  classifier trained inside the workflow (``net = "classifier"``), and in Inception features
  (``fid``, ``kid_inception``) only when a user supplies the weights;
- ``sw_pixels``: the sliced Wasserstein distance between generated and test images in pixel space.

Every random draw comes from generators seeded with ``seed`` and the epoch, so a re-evaluation
gives the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from .architectures import Autoencoder, reconstruction_error
from .distances import cw_distance_exact, sliced_wasserstein, sliced_wasserstein_to_normal
from .normality import mardia_prior, mardia_test
from .quality import FeatureNet, generation_quality

logger = logging.getLogger("repgeo")


@dataclass(frozen=True)
class EvalSettings:
    """How an epoch is evaluated (defaults: the gmum evaluators, gmum/cwae ``src/evaluation/``; the offline
    generation-quality sizes are this project's)."""

    n_generated: int = 10_000
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    latent_projections: int = 50
    latent_repeats: int = 10
    cw_subset_size: int = 2000
    cw_repeats: int = 5
    pixel_projections: int = 128
    batch_size: int = 500
    seed: int = 0

    def validate(self) -> None:
        for k, v in asdict(self).items():
            if k != "seed" and (
                isinstance(v, bool)
                or not isinstance(v, (int, np.integer))
                or v < (2 if k in ("n_generated", "kid_subset_size", "cw_subset_size") else 1)
            ):
                raise ValueError(f"evaluation setting {k} must be a positive integer (>= 2 for sizes), got {v!r}")


def _batched(fn, X: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([fn(X[i : i + batch]) for i in range(0, len(X), batch)]) if len(X) else X


@torch.no_grad()
def encode(model: Autoencoder, X: torch.Tensor, batch: int = 500) -> torch.Tensor:
    device = next(model.parameters()).device
    return _batched(lambda x: model.encode(x.to(device)).cpu(), X, batch)


@torch.no_grad()
def decode(model: Autoencoder, Z: torch.Tensor, batch: int = 500) -> torch.Tensor:
    device = next(model.parameters()).device
    return _batched(lambda z: model.decode(z.to(device)).cpu(), Z, batch)


def prior_codes(n: int, dim: int, seed: int) -> torch.Tensor:
    """``n`` draws of N(0, I_dim), the same for every model and epoch of a seed (a fair comparison)."""
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(int(seed) * 7919 + 17))


@torch.no_grad()
def test_reconstruction_error(model: Autoencoder, X: torch.Tensor, batch: int = 500) -> float:
    device = next(model.parameters()).device
    total = 0.0
    for i in range(0, len(X), batch):
        xb = X[i : i + batch].to(device)
        total += float(reconstruction_error(xb, model.decode(model.encode(xb)))) * len(xb)
    return total / len(X)


def latent_metrics(Z: np.ndarray, settings: EvalSettings, seed: int) -> dict[str, float]:
    """The latent metrics of the module docstring for codes ``Z`` (n x D)."""
    Z = np.asarray(Z, dtype=np.float64)
    raw = mardia_prior(Z)
    out = {
        "mardia_skewness": float(raw.skewness),
        "mardia_kurtosis": float(raw.kurtosis),
        "mardia_kurtosis_normalised": float(raw.normalised_kurtosis),
    }
    try:
        test = mardia_test(Z)
        values = (test.skewness, test.skewness_p, test.kurtosis, test.kurtosis_p)
    except ValueError as exc:
        # Codes that span fewer than D dimensions (dead ReLUs before the last layer of a conv
        # encoder early in training, or n <= D) have no whitening: the standardised test is
        # undefined there, while every prior-referenced metric still is.
        logger.warning("standardised Mardia test undefined for these codes (%s); its columns are NaN", exc)
        values = (float("nan"),) * 4
    out.update(
        zip(
            ("mardia_test_skewness", "mardia_test_skewness_p", "mardia_test_kurtosis", "mardia_test_kurtosis_p"),
            map(float, values),
            strict=True,
        )
    )
    g = torch.Generator().manual_seed(int(seed))
    Zt = torch.as_tensor(Z)
    out["sw_latent"] = float(
        sliced_wasserstein_to_normal(
            Zt, n_projections=settings.latent_projections, repeats=settings.latent_repeats, generator=g
        )
    )
    rng = np.random.default_rng([int(seed), 0xC3])
    m = min(settings.cw_subset_size, len(Z))
    out["cw_latent"] = float(
        np.mean([cw_distance_exact(Z[rng.choice(len(Z), m, replace=False)]) for _ in range(settings.cw_repeats)])
    )
    return out


def evaluate_epoch(
    model: Autoencoder,
    epoch: int,
    X_test: torch.Tensor,
    feature_nets: Sequence[FeatureNet],
    real_features: dict[str, np.ndarray],
    settings: EvalSettings,
) -> dict[str, Any]:
    """Every metric of the module docstring for ``model`` at ``epoch``.

    ``real_features[net.name]`` are the test images' features in ``net`` (computed once per
    evaluation run, not per epoch).
    """
    settings.validate()
    model.eval()
    seed = int(settings.seed) * 100_003 + int(epoch)
    Z = encode(model, X_test, settings.batch_size).double().numpy()
    if not np.isfinite(Z).all():
        raise FloatingPointError(
            f"the encoder's codes of the test images at epoch {epoch} are not finite; the training diverged (lower lr)"
        )
    out: dict[str, Any] = {
        "epoch": int(epoch),
        "reconstruction_error": test_reconstruction_error(model, X_test, settings.batch_size),
    }
    out.update(latent_metrics(Z, settings, seed))
    generated = decode(model, prior_codes(settings.n_generated, model.latent_dim, settings.seed), settings.batch_size)
    for net in feature_nets:
        out.update(
            generation_quality(
                generated,
                real_features[net.name],
                net,
                n_subsets=settings.kid_subsets,
                subset_size=settings.kid_subset_size,
                seed=seed,
            )
        )
    out["sw_pixels"] = float(
        sliced_wasserstein(
            generated,
            X_test,
            n_projections=settings.pixel_projections,
            generator=torch.Generator().manual_seed(seed + 1),
        )
    )
    return out


def interpolations(model: Autoencoder, x_from: torch.Tensor, x_to: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decoded linear interpolations between the codes of image pairs: (pairs, steps, C, H, W)."""
    a, b = encode(model, x_from), encode(model, x_to)
    w = torch.linspace(0, 1, steps).view(1, steps, 1)
    Z = (1 - w) * a[:, None] + w * b[:, None]
    return decode(model, Z.reshape(-1, Z.shape[-1])).reshape(len(a), steps, *model.image_shape)


def last_epochs(curves: pd.DataFrame) -> pd.DataFrame:
    """Table 1 of Knop et al.: the row of the last evaluated epoch of every model of ``curves``
    (long: model, epoch, metrics), models in their order of appearance."""
    return curves.loc[curves.groupby("model", sort=False)["epoch"].idxmax()].reset_index(drop=True)
