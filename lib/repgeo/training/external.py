"""User-supplied torchvision classifiers for the cross-model study.

Liao, Liu et al. (CISS 2024, arXiv 2312.04823, section 6, Figure 10) compare DSE and DSMI of the
embeddings of many trained classifiers with their accuracy. Besides the workflow's own zoo, any
classification architecture of ``torchvision.models`` with a state-dict file can join it:

- :func:`load_torchvision_model` builds ``torchvision.models.<arch>(weights=None,
  num_classes=...)`` and loads the file strictly with ``torch.load(weights_only=True)``, so a
  file can only hold tensors and plain containers, never code;
- :func:`penultimate_embeddings` returns Z, the input of the model's last ``nn.Linear`` layer
  (flattened), captured with a forward hook;
- :func:`predict_accuracy` is the model's top-1 accuracy.

Input rule (both functions): images are N x C x H x W floats, already normalised as the model
was trained (no ImageNet normalisation is applied here). Greyscale images (C = 1) given to a model
whose first convolution takes 3 channels are repeated over the channels. Images smaller than the
model's minimum side (:func:`input_min_size`: the larger of 32 px and the ``min_size`` torchvision
records for the architecture, e.g. 63 px for alexnet, 75 px for inception_v3, 224 px for the
vision transformers) are scaled up, keeping the aspect ratio, with bilinear interpolation
(``align_corners=False``, no antialiasing) so that the shorter side equals that minimum; larger
images are left as they are.
"""

from __future__ import annotations

import math
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# The smallest side given to any model: a 32 px image survives the 32x downsampling of ResNets.
DEFAULT_MIN_SIZE = 32
_SHOWN_KEYS = 5
# Architectures with auxiliary classifiers, and the prefixes of their parameters.
_AUX_PREFIX = {"googlenet": ("aux1.", "aux2."), "inception_v3": ("AuxLogits.",)}


def classification_architectures() -> list[str]:
    """Names of torchvision's classification models (``torchvision.models.list_models``)."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def _check_arch(arch: str) -> None:
    valid = classification_architectures()
    if arch not in valid:
        raise ValueError(f"unknown torchvision classification architecture {arch!r}; choose one of: {', '.join(valid)}")


def input_min_size(arch: str) -> int:
    """The smallest image side fed to ``arch``: max(32, torchvision's recorded ``min_size``).

    The recorded size is read from the metadata of the architecture's weight enum (no weights
    are downloaded; the smallest over its variants); e.g. 32 for resnet18, 63 for alexnet, 75
    for inception_v3, 224 for vit_b_16 (which takes exactly 224 px: larger images fail there).
    """
    import torchvision

    _check_arch(arch)
    size = DEFAULT_MIN_SIZE
    try:
        weights = list(torchvision.models.get_model_weights(arch))
    except (ValueError, KeyError):
        weights = []
    # Over the weight variants the smallest record (vit_h_14: 224 for the linear-probe variant,
    # 518 for the fine-tuned one; the builder without weights takes 224 px).
    recorded = [max(int(s) for s in w.meta["min_size"]) for w in weights if w.meta.get("min_size")]
    return max(size, min(recorded)) if recorded else size


def torch_load_reason(err: BaseException, path: Path | str | None = None) -> str:
    """What went wrong in a ``torch.load(weights_only=True)`` of ``path``, without torch's advice.

    torch's message suggests re-running with ``weights_only=False``, which executes whatever
    code the file's pickle names: repgeo never does that, so the advice is never passed on.
    Returns the unpickler's own reason (e.g. "Unsupported global: ...") or the first line,
    saying first when ``path`` is a plain pickle rather than a file written by torch.save.
    """
    if path is not None and Path(path).is_file() and _is_plain_pickle(Path(path)):
        return f"a plain pickle file (written by pickle.dump?), not one written by torch.save: {torch_load_reason(err)}"
    text = str(err)
    match = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\n\s*\n|Check the documentation|$)", text, re.S)
    reason = " ".join(match.group(1).split()) if match else (text.splitlines()[0] if text else type(err).__name__)
    reason = reason.split(". Please")[0]
    if "weights_only" in reason and "False" in reason:
        reason = "the file holds data that torch.load(weights_only=True) refuses"
    return reason or type(err).__name__


def _is_plain_pickle(path: Path) -> bool:
    """A pickle stream (protocol 2+ opcode PROTO), not torch.save's zip archive."""
    if zipfile.is_zipfile(path):
        return False
    with open(path, "rb") as fh:
        head = fh.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"state-dict file {path} does not exist")
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except (
        Exception
    ) as err:  # torch raises UnpicklingError, KeyError, RuntimeError, EOFError... for a file it cannot read
        reason = torch_load_reason(err)
        if isinstance(err, pickle.UnpicklingError) and "Unsupported global" in reason:
            raise ValueError(
                f"{path} holds objects other than tensors and plain containers (a pickled model or training "
                f"object?); repgeo reads weights only through torch.load(weights_only=True), because unpickling "
                f"objects can run code. Save model.state_dict() with torch.save instead. ({reason})"
            ) from err
        if _is_plain_pickle(path):
            # torch.save writes a zip archive; a bare pickle stream comes from pickle.dump (or
            # the legacy torch.save format holding objects), and reading it safely is not possible.
            raise ValueError(
                f"{path} is a plain pickle file (written by pickle.dump?), not a state dict written by torch.save; "
                "repgeo reads weights only through torch.load(weights_only=True), which cannot read it. Load it where "
                f"it was made and save the weights with torch.save(model.state_dict(), {path.name!r}). ({reason})"
            ) from err
        raise ValueError(
            f"{path} cannot be read as a state dict by torch.load(weights_only=True) ({reason}); "
            "give a file written by torch.save(model.state_dict(), path)"
        ) from err
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(
            f"{path} is not a state dict (a mapping of parameter names to tensors, or a dict with one under "
            f"'state_dict' or 'model'); it holds {type(obj).__name__}"
        )
    sd = dict(obj)
    # Saved from nn.DataParallel / DistributedDataParallel: drop the wrapper's prefix.
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def _builder(arch: str):
    import torchvision

    return torchvision.models.get_model_builder(arch)


def _infer_n_classes(arch: str, sd: Mapping[str, torch.Tensor], path: Path) -> int:
    """The output size of the classifier layer in ``sd``: the last weight with 1000 rows by default."""
    extra = {"init_weights": False} if arch in _AUX_PREFIX else {}
    try:
        with torch.device("meta"):
            default = _builder(arch)(weights=None, **extra)
    except Exception:  # noqa: BLE001 -- a builder that cannot run on the meta device (regnet)
        default = _builder(arch)(weights=None, **extra)
    rows = [k for k, v in default.state_dict().items() if k.endswith(".weight") and v.ndim >= 2 and v.shape[0] == 1000]
    if not rows:
        raise ValueError(f"cannot find the classifier layer of {arch}; pass n_classes explicitly for {path}")
    key = rows[-1]
    if key not in sd:
        raise ValueError(
            f"{path} has no {key!r}, the classifier layer of torchvision {arch}: is it a checkpoint from another "
            f"architecture? Its first keys: {list(sd)[:_SHOWN_KEYS]}"
        )
    return int(sd[key].shape[0])


def load_torchvision_model(arch: str, state_dict_path: str | Path, n_classes: int | None = None) -> nn.Module:
    """``torchvision.models.<arch>(weights=None, num_classes=n_classes)`` with the weights of the file.

    ``arch``: one of :func:`classification_architectures`. The file is read with
    ``torch.load(weights_only=True, map_location='cpu')`` and may hold the state dict itself or a
    dict with it under 'state_dict' or 'model' (a 'module.' prefix of every key, from
    DataParallel, is dropped). ``n_classes`` (None: read from the file's classifier layer) must
    match the file. googlenet and inception_v3 are built with ``aux_logits=False`` when the file
    has no auxiliary-classifier weights (and without their own initialisation, which the file
    replaces). Loading is strict: missing, unexpected or mis-shaped keys raise a
    ``ValueError`` naming the file and the first offending keys. The model is returned in eval
    mode on the CPU, with ``min_input_size`` (:func:`input_min_size`) and ``arch`` attributes
    used by :func:`penultimate_embeddings` and :func:`predict_accuracy`.
    """
    _check_arch(arch)
    path = Path(state_dict_path)
    sd = _read_state_dict(path)
    if n_classes is None:
        n_classes = _infer_n_classes(arch, sd, path)
    elif int(n_classes) < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    extra = {}
    if arch in _AUX_PREFIX:
        # Their own (slow, scipy) initialisation is overwritten by the file anyway; a file saved
        # without the auxiliary classifiers was trained with aux_logits=False.
        extra["init_weights"] = False
        if not any(k.startswith(_AUX_PREFIX[arch]) for k in sd):
            extra["aux_logits"] = False
    model = _builder(arch)(weights=None, num_classes=int(n_classes), **extra)
    expected = model.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    mis_shaped = [
        f"{k} {tuple(sd[k].shape)} (model: {tuple(v.shape)})"
        for k, v in expected.items()
        if k in sd and sd[k].shape != v.shape
    ]
    if missing or unexpected or mis_shaped:
        parts = []
        for name, keys in (
            ("missing keys", missing),
            ("unexpected keys", unexpected),
            ("shape mismatches", mis_shaped),
        ):
            if keys:
                more = f" and {len(keys) - _SHOWN_KEYS} more" if len(keys) > _SHOWN_KEYS else ""
                parts.append(f"{len(keys)} {name}: {', '.join(keys[:_SHOWN_KEYS])}{more}")
        hint = (
            "a checkpoint from another architecture?"
            if (missing and unexpected)
            else f"another number of classes than {n_classes}, or another variant?"
        )
        raise ValueError(
            f"{path} does not fit torchvision {arch} with {n_classes} classes ({hint}): " + "; ".join(parts)
        )
    model.load_state_dict(sd, strict=True)
    model.eval()
    model.min_input_size = input_min_size(arch)
    model.arch = arch
    return model


def _last_linear(model: nn.Module) -> nn.Linear:
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            f"{type(model).__name__} has no nn.Linear layer whose input could be the penultimate embedding "
            "(e.g. squeezenet classifies with a convolution)"
        )
    return linears[-1]


def _in_channels(model: nn.Module) -> int | None:
    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return int(m.in_channels)
    return None


def _prepare(x: torch.Tensor, channels: int | None, min_size: int) -> torch.Tensor:
    """Repeat greyscale to the model's channels; scale up below ``min_size`` (module docstring)."""
    if x.ndim != 4:
        raise ValueError(f"images must be N x C x H x W, got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        if x.shape[1] == 1:
            x = x.expand(-1, channels, -1, -1)
        else:
            raise ValueError(f"the model takes {channels}-channel images, got {x.shape[1]} channels")
    h, w = x.shape[-2:]
    if min(h, w) < min_size:
        scale = min_size / min(h, w)
        size = (max(min_size, math.ceil(h * scale - 1e-9)), max(min_size, math.ceil(w * scale - 1e-9)))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x


def _as_images(X) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X).float()
    if t.ndim == 3:  # N x H x W greyscale
        t = t[:, None]
    return t


def _min_size(model: nn.Module, min_size: int | None) -> int:
    if min_size is not None:
        return int(min_size)
    return int(getattr(model, "min_input_size", 0))


@torch.no_grad()
def _run(model: nn.Module, X, batch_size: int, device: str, min_size: int | None, embed: bool) -> torch.Tensor:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    X = _as_images(X)
    size = _min_size(model, min_size)
    channels = _in_channels(model)
    model = model.to(device).eval()
    captured: list[torch.Tensor] = []
    handle = None
    if embed:
        handle = _last_linear(model).register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0].detach()))
    outs = []
    try:
        for s in range(0, len(X), batch_size):
            xb = _prepare(X[s : s + batch_size].to(device), channels, size)
            logits = model(xb)
            if embed:
                if len(captured) != 1:
                    raise ValueError(
                        f"the last linear layer of {type(model).__name__} ran {len(captured)} times in one forward pass; cannot tell its input"
                    )
                outs.append(torch.flatten(captured.pop(), 1).float().cpu())
            else:
                outs.append(logits.float().cpu())
    finally:
        if handle is not None:
            handle.remove()
    if not outs:
        raise ValueError("no images given")
    return torch.cat(outs)


def penultimate_embeddings(
    model: nn.Module, X, batch_size: int = 256, device: str = "cpu", min_size: int | None = None
) -> np.ndarray:
    """Z: the (flattened) input of the model's last ``nn.Linear`` layer for images ``X``, n x D.

    For a torchvision ResNet this is the 512-d (resnet18) average-pooled feature vector; for
    alexnet and VGG the 4096-d output of the second fully connected block. ``min_size`` (None:
    the model's ``min_input_size`` set by :func:`load_torchvision_model`; no resizing for a model
    built otherwise) and the greyscale rule are in the module docstring. Works for any ``nn.Module`` with a linear last
    layer, e.g. the workflow's own classifiers (there it equals ``model.embed``). The model is
    put in eval mode on ``device``.
    """
    return _run(model, X, batch_size, device, min_size, embed=True).numpy()


def predict_accuracy(
    model: nn.Module, X, y, batch_size: int = 256, device: str = "cpu", min_size: int | None = None
) -> float:
    """Top-1 accuracy of ``model`` on images ``X`` with integer labels ``y`` (input rule as above)."""
    y = torch.as_tensor(np.asarray(y)).long()
    if len(y) != len(X):
        raise ValueError(f"{len(X)} images but {len(y)} labels")
    logits = _run(model, X, batch_size, device, min_size, embed=False)
    return float((logits.argmax(1) == y).float().mean())
