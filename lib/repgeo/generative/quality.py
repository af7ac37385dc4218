"""Generation quality in the features of a network: Fréchet distance and kernel (KID) distance.

The Fréchet distance between Gaussians fitted to two feature samples (Dowson & Landau 1982; as a
generative-model score, Heusel et al. 2017, "GANs trained by a two time-scale update rule"):

    FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

The kernel distance is the unbiased squared MMD with the cubic polynomial kernel
k(x, y) = (x.y / k + 1)^3 on k-dimensional features, averaged over random subsets (Bińkowski,
Sutherland, Arbel, Gretton 2018, "Demystifying MMD GANs", section 5); unlike FD it has no bias
that depends on the sample size.

Both are "FID"/"KID" only in the pool features of the Inception-v3 network, whose weights cannot
be downloaded in this project's offline setting (pytorch-fid, torchmetrics, clean-fid and
torch-fidelity all fetch them at first use). The metrics are therefore named
after the feature network: ``fd_<name>`` and ``kid_<name>`` in a :class:`FeatureNet` such as
a classifier of :mod:`repgeo.training.models` trained on the real training split (its penultimate
``embed`` layer), and ``fid`` and ``kid_inception`` only through :func:`inception_feature_net`,
which loads Inception weights that the user supplies as a file. Either way the numbers go through
the same code.

The standard FID uses the TensorFlow 2015 Inception graph (pytorch-fid's ``FIDInceptionA`` etc.
differ slightly from torchvision's blocks); :func:`inception_feature_net` builds torchvision's
``inception_v3``, so its FID matches torchvision-based tools, and the TF-graph FID of published
tables only approximately.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# torchvision's ImageNet normalisation (the ``transforms.Normalize`` of its classification presets).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_SIZE = 299
INCEPTION_NAME = "inception"
# Relative tolerance for symmetry and positive semi-definiteness of a covariance matrix.
_PSD_RTOL = 1e-8


def _features(a: Any, name: str) -> np.ndarray:
    f = np.asarray(a, dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n samples x k features), got shape {f.shape}")
    if f.shape[0] < 2 or f.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 samples of at least 1 feature, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise ValueError(f"{name} contains NaN or infinite values; check the feature network and its inputs")
    return f


def gaussian_stats(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean (k,) and unbiased covariance (k, k) of ``features`` (n x k), in float64."""
    f = _features(features, "features")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False, ddof=1))


def _check_gaussian(mu: Any, sigma: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(mu, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    if m.ndim != 1 or s.shape != (m.size, m.size):
        raise ValueError(
            f"mu{name} must be a vector (k,) and sigma{name} a matrix (k, k), got shapes {m.shape} and {s.shape}"
        )
    if not (np.isfinite(m).all() and np.isfinite(s).all()):
        raise ValueError(f"mu{name}/sigma{name} contain NaN or infinite values")
    scale = max(float(np.abs(s).max()), np.finfo(np.float64).tiny)
    if np.abs(s - s.T).max() > _PSD_RTOL * scale:
        raise ValueError(f"sigma{name} is not symmetric; pass a covariance matrix (e.g. from gaussian_stats)")
    s = (s + s.T) / 2.0
    lowest = float(np.linalg.eigvalsh(s)[0])
    if lowest < -_PSD_RTOL * scale * m.size:
        raise ValueError(
            f"sigma{name} is not positive semi-definite (smallest eigenvalue {lowest:.3g}); pass a covariance matrix"
        )
    return m, s


def _psd_eigh(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, v = np.linalg.eigh(s)
    # Eigenvalues within round-off of 0 (numpy's matrix_rank tolerance) are set to 0: they may be
    # slightly negative, and the square roots of the spurious ones of a singular covariance
    # (fewer samples than features) would otherwise add O(sqrt(eps)) each to the trace.
    w[w <= w.max(initial=0.0) * len(w) * np.finfo(np.float64).eps] = 0.0
    return w, v


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)): the squared W2 distance between Gaussians.

    Dowson & Landau (1982); Heusel et al. (2017) for FID. S1 S2 is not symmetric, and a general
    matrix square root (``scipy.linalg.sqrtm``) can return complex parts or fail for singular
    covariances (fewer samples than features). With R = S1^(1/2), S1 S2 = R (R S2) has the
    eigenvalues of (R S2) R = M, which is symmetric PSD (AB and BA share their eigenvalues, also
    for singular S1), so Tr (S1 S2)^(1/2) = the sum of the square roots of M's eigenvalues: two
    symmetric eigendecompositions, exact for PSD matrices and stable. The result is clipped at 0,
    which only removes round-off.
    """
    m1, s1 = _check_gaussian(mu1, sigma1, "1")
    m2, s2 = _check_gaussian(mu2, sigma2, "2")
    if m1.size != m2.size:
        raise ValueError(
            f"the two Gaussians have {m1.size} and {m2.size} dimensions; compute both from the same feature network"
        )
    w, v = _psd_eigh(s1)
    r = (v * np.sqrt(w)) @ v.T
    m = r @ s2 @ r
    tr_sqrt = float(np.sqrt(_psd_eigh((m + m.T) / 2.0)[0]).sum())
    diff = m1 - m2
    return max(float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_sqrt), 0.0)


@dataclass(frozen=True)
class KidResult:
    """Unbiased MMD^2 (cubic polynomial kernel) over random subsets: mean, spread and every value.

    ``std`` is the standard deviation over the subsets (ddof = 0), a measure of the estimate's
    variability, not a standard error of ``mean``.
    """

    mean: float
    std: float
    values: np.ndarray
    subset_size: int


def _polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    m, n = len(x), len(y)
    kxx = _polynomial_kernel(x, x)
    kyy = _polynomial_kernel(y, y)
    kxy = _polynomial_kernel(x, y)
    # Unbiased: the diagonal k(x_i, x_i) terms are left out of the within-sample means.
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2.0 * kxy.mean())


def kernel_inception_distance(
    features1: Any,
    features2: Any,
    n_subsets: int = 100,
    subset_size: int = 1000,
    seed: int | np.random.Generator = 0,
) -> KidResult:
    """Unbiased MMD^2 with k(x, y) = (x.y / k + 1)^3 between two feature samples (Bińkowski et al. 2018).

    ``n_subsets`` times, ``subset_size`` rows are drawn without replacement from each sample
    (clipped to the smaller sample size) and the unbiased estimate computed; the defaults (100
    subsets of 1000) are the usual KID setting (torchmetrics, torch-fidelity). ``seed`` is an integer or a
    ``numpy.random.Generator``. The name follows the paper; in features other than Inception's the
    number is a kernel distance in those features (module docstring).
    """
    f1 = _features(features1, "features1")
    f2 = _features(features2, "features2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(
            f"features1 and features2 have {f1.shape[1]} and {f2.shape[1]} features; compute both with the same network"
        )
    # The unbiased estimate needs two rows per sample (it leaves out the diagonal).
    for name, value, least in (("n_subsets", n_subsets, 1), ("subset_size", subset_size, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    rng = np.random.default_rng(seed)
    m = int(min(subset_size, len(f1), len(f2)))
    values = np.empty(int(n_subsets))
    for i in range(int(n_subsets)):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        values[i] = _unbiased_mmd2(x, y)
    return KidResult(mean=float(values.mean()), std=float(values.std()), values=values, subset_size=m)


def _images(images: Any) -> torch.Tensor:
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images))
    x = x.detach().to(torch.float32)
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(f"images must be a non-empty batch N x C x H x W, got shape {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        # Both the classifiers and the Inception preparation assume the data stage's [0, 1] pixels.
        raise ValueError(
            f"images have pixel values in [{lo:.3g}, {hi:.3g}]; scale them to [0, 1] (e.g. divide 8-bit images by 255)"
        )
    return x


class FeatureNet:
    """A frozen network mapping images (N x C x H x W, in [0, 1]) to feature vectors.

    ``module`` needs an ``embed(x)`` method, as the classifiers of :mod:`repgeo.training.models`
    have (their penultimate layer); ``prepare`` maps a batch of images to the module's input
    (default: unchanged, which is how those classifiers are trained). ``name`` labels the
    metrics (``fd_<name>``, ``kid_<name>``); "inception" is kept for :func:`inception_feature_net`.
    """

    def __init__(
        self, module: nn.Module, name: str, prepare: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> None:
        if not callable(getattr(module, "embed", None)):
            raise TypeError(
                f"{type(module).__name__} has no embed(x) method; use a classifier of repgeo.training.models "
                "or give the network an embed method that returns the feature vectors"
            )
        _check_name(name)
        if name == INCEPTION_NAME and not isinstance(self, InceptionFeatureNet):
            raise ValueError(
                f"the name {INCEPTION_NAME!r} is kept for inception_feature_net (its metrics are called FID); choose another name"
            )
        self.module = module
        self.name = name
        self.prepare = prepare

    def to(self, device: str | torch.device) -> FeatureNet:
        """Move the module to ``device``; returns ``self``."""
        self.module.to(device)
        return self

    def features(self, images: Any, batch_size: int = 256, device: str | torch.device | None = None) -> np.ndarray:
        """Features (N x k, float64) of ``images``, ``batch_size`` at a time.

        ``device``: where to compute (the module is moved there); None keeps the module where it
        is (CPU unless moved with :meth:`to`). The module runs in eval mode (batch-norm
        statistics and dropout frozen); its train/eval mode is restored afterwards.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        x = _images(images)
        if device is not None:
            self.module.to(device)
        first = next(self.module.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
        was_training = self.module.training
        self.module.eval()
        out = []
        try:
            with torch.inference_mode():
                for start in range(0, len(x), int(batch_size)):
                    xb = x[start : start + int(batch_size)].to(device)
                    if self.prepare is not None:
                        xb = self.prepare(xb)
                    out.append(self.module.embed(xb).flatten(1).double().cpu())
        finally:
            self.module.train(was_training)
        return torch.cat(out).numpy()


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(
            f"a feature network's name must be lower-case letters, digits and '_' (it becomes a metric name), got {name!r}"
        )


class _PoolFeatures(nn.Module):
    """Inception-v3 with its classifier removed: ``embed`` gives the 2048-d pool features."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class InceptionFeatureNet(FeatureNet):
    """The :class:`FeatureNet` of :func:`inception_feature_net` (its metrics are FID and KID)."""


def _inception_input(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)  # grayscale -> RGB, as pytorch-fid does for MNIST
    elif x.shape[1] != 3:
        raise ValueError(f"Inception features need 1 (grayscale) or 3 (RGB) channels, got {x.shape[1]}")
    x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def inception_feature_net(weights_path: str | Path) -> InceptionFeatureNet:
    """torchvision's Inception-v3 with the user's weights; features = the 2048-d average pool.

    ``weights_path`` is a state-dict file for ``torchvision.models.inception_v3`` (e.g. torchvision's
    ``inception_v3_google-0cc3c7bd.pth``, downloaded elsewhere); its auxiliary-classifier and
    final-layer weights are ignored. It is read with ``torch.load(weights_only=True)``, which runs
    no code from the file. Images are resized bilinearly to 299 x 299, grayscale is repeated to
    three channels, and pixels are normalised as torchvision's ImageNet transform; the network is
    built with ``transform_input=True``, as torchvision does when it loads these weights, because
    they were trained on inputs scaled to [-1, 1] and the flag maps normalised inputs there.
    """
    from torchvision.models import inception_v3

    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Inception weights file {path} does not exist; download torchvision's inception_v3 weights on a machine "
            "with internet access and pass that file, or use a FeatureNet of an in-house classifier (metrics fd_*/kid_*)"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load raises many types for a file that is not a state dict
        from ..training.external import torch_load_reason

        # torch's own message advises weights_only=False, which would run the file's code: not passed on.
        raise ValueError(
            f"{path} could not be read as a PyTorch state dict ({torch_load_reason(exc, path)}); pass torchvision inception_v3 weights"
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(
            f"{path} does not hold a state dict (a mapping of parameter names to tensors); pass torchvision inception_v3 weights"
        )
    net = inception_v3(weights=None, aux_logits=False, init_weights=False, transform_input=True)
    net.fc = nn.Identity()
    kept = {k: v for k, v in state.items() if not k.startswith(("AuxLogits.", "fc."))}
    try:
        net.load_state_dict(kept, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{path} does not hold torchvision inception_v3 weights: {exc}") from exc
    return InceptionFeatureNet(_PoolFeatures(net), INCEPTION_NAME, prepare=_inception_input)


def generation_quality(
    generated: Any,
    real: Any,
    feature_net: FeatureNet,
    name: str | None = None,
    n_subsets: int = 100,
    subset_size: int = 1000,
    seed: int | np.random.Generator = 0,
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Fréchet and kernel distances between ``generated`` and ``real`` images in ``feature_net``'s features.

    ``real`` is either images (N x C x H x W in [0, 1]) or their features (N x k) from
    ``feature_net.features``, so that an evaluation of many checkpoints against one test set
    computes them once. Keys: ``fd_<name>``, ``kid_<name>`` and ``kid_<name>_std`` with ``name``
    defaulting to the feature net's; for :func:`inception_feature_net` they are ``fid``,
    ``kid_inception`` and ``kid_inception_std``. gmum compares 10,000 decoder samples with the
    real images (gmum/cwae-pytorch ``src/evaluators/fid_evaluator.py``); KID uses ``n_subsets``
    subsets of ``subset_size`` (:func:`kernel_inception_distance`).
    """
    if not isinstance(feature_net, FeatureNet):
        raise TypeError(
            f"feature_net must be a FeatureNet (or inception_feature_net(...)), got {type(feature_net).__name__}"
        )
    inception = isinstance(feature_net, InceptionFeatureNet)
    label = feature_net.name if name is None else name
    _check_name(label)
    if inception and label != INCEPTION_NAME:
        raise ValueError(f"Inception features give the metrics fid and kid_inception; leave name unset (got {label!r})")
    if label == INCEPTION_NAME and not inception:
        raise ValueError(f"the name {INCEPTION_NAME!r} is kept for inception_feature_net; choose another name")
    fg = feature_net.features(generated, batch_size=batch_size, device=device)
    if np.ndim(real) == 2:
        fr = _features(real, "real features")
        if fr.shape[1] != fg.shape[1]:
            raise ValueError(
                f"real has {fr.shape[1]} features per row but {feature_net.name!r} gives {fg.shape[1]}; "
                "pass the real images, or their features from the same network"
            )
    else:
        fr = feature_net.features(real, batch_size=batch_size, device=device)
    fd = frechet_distance(*gaussian_stats(fg), *gaussian_stats(fr))
    kid = kernel_inception_distance(fg, fr, n_subsets=n_subsets, subset_size=subset_size, seed=seed)
    return {
        "fid" if inception else f"fd_{label}": fd,
        f"kid_{label}": kid.mean,
        f"kid_{label}_std": kid.std,
    }


# --- the in-workflow feature classifier -----------------------------------------------------------


def feature_net_config(*, arch: str, width: int, hidden: int, epochs: int, batch_size: int, lr: float, seed: int):
    """The :class:`~repgeo.training.classifier.TrainConfig` of the quality-feature classifier: a
    supervised classifier of :mod:`repgeo.training.models` whose penultimate features stand in for
    Inception's (module docstring). Every setting is required: the workflow's defaults are those
    of ``generative.feature_net`` in the config schema."""
    from ..training.classifier import TrainConfig

    cfg = TrainConfig(
        mode="supervised", arch=arch, width=width, hidden=hidden, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed
    )
    cfg.validate()
    return cfg


def feature_net_version(state_dict: dict[str, torch.Tensor]) -> str:
    """A 12-hex-digit hash of a feature network's weights (in state-dict order), stored with every
    number measured in its features so that numbers from different feature networks are never mixed."""
    import hashlib

    return hashlib.sha256(b"".join(v.numpy().tobytes() for v in state_dict.values())).hexdigest()[:12]
