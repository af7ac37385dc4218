"""Run a network over images and reduce the activations of named layers, batch by batch.

:func:`extract_features` puts the model in eval mode (dropout off, batch normalisation with its
running statistics; the previous mode is restored afterwards), runs it under ``torch.no_grad()`` on
``batch_size`` images at a time and hands each requested layer's output to that layer's reduction
(:mod:`repgeo.features.reduce`). Layer outputs are taken

- with the model's own API, ``model.activations(x, layers)``, when it has one
  (:func:`repgeo.features.layers.has_named_activations`, e.g.
  :class:`repgeo.inversion.networks.LayeredNet`, which preprocesses [0, 1] images itself);
- otherwise with torchvision's ``create_feature_extractor(model, return_nodes)`` (torch.fx; the
  names of :func:`repgeo.features.layers.layer_names`). Images are passed as they are: any
  normalisation the model expects is the caller's.

Cost: the network runs once per pass, ``max(reduction.n_passes)`` times over all images (1 for
none, gap and random_projection; 2 + 2 q for pca with q power iterations); a pass runs only the
layers whose reduction still needs it. Memory: one batch of images and of each layer's
activations, plus the reductions' state (the n x width outputs; for pca O(n l + l D)).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .layers import check_layers, has_named_activations
from .reduce import ReducedFeatures, Reduction, _check_dtype, make_reduction


def _check_images(images: Any) -> Any:
    if isinstance(images, torch.Tensor):
        kind_ok = images.is_floating_point()
    else:
        if not hasattr(images, "shape") or not hasattr(images, "dtype"):
            images = np.asarray(images)
        kind_ok = np.dtype(images.dtype).kind == "f"
    if not kind_ok:
        raise TypeError(
            f"images must be floating point, got dtype {images.dtype}; convert 8-bit images with "
            "images.astype(np.float32) / 255 (or the scaling the model expects)"
        )
    if len(images.shape) != 4:
        raise ValueError(
            f"images must be N x C x H x W, got shape {tuple(images.shape)}; use images[:, None] for grey N x H x W"
        )
    if images.shape[0] == 0:
        raise ValueError("images is empty (N = 0)")
    return images


def _check_reductions(reductions: Any, layers: Sequence[str]) -> dict[str, Reduction]:
    if isinstance(reductions, (Reduction, str)):
        return {name: make_reduction(reductions) for name in layers}
    if not isinstance(reductions, Mapping):
        raise TypeError(
            f"reductions must map each layer to a reduction (e.g. {{{layers[0]!r}: 'gap'}}) or be one reduction for all, "
            f"got {type(reductions).__name__}"
        )
    missing = [name for name in layers if name not in reductions]
    extra = sorted(set(reductions) - set(layers))
    if missing or extra:
        raise ValueError(
            f"reductions must have exactly one entry per layer: missing {missing}, not among the layers {extra}; "
            f"layers: {list(layers)}"
        )
    return {name: make_reduction(reductions[name]) for name in layers}


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    return int(batch_size)


def _runner(model: Any, layers: Sequence[str]) -> Callable[[torch.Tensor], Mapping[str, torch.Tensor]]:
    """A function images -> {layer: output} for ``layers``."""
    if has_named_activations(model):
        return lambda x: model.activations(x, list(layers))
    from torchvision.models.feature_extraction import create_feature_extractor

    extractor = create_feature_extractor(model, return_nodes={name: name for name in layers})
    extractor.eval()
    return extractor


def extract_features(
    model: Any,
    images: Any,
    layers: Sequence[str],
    *,
    reductions: Mapping[str, Reduction | str | Mapping[str, Any]] | Reduction | str,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: Callable[[int, int], None] | None = None,
    dtype: Any = np.float32,
) -> dict[str, ReducedFeatures]:
    """The reduced activations of ``layers`` of ``model`` over ``images``, one :class:`ReducedFeatures` per layer.

    ``model``: a ``torch.nn.Module`` (layer names: torchvision fx node names) or a model with
    ``layer_names`` and ``activations(x, layers)``; it is moved to ``device`` (in place, as
    ``nn.Module.to`` does) and run in eval mode. ``images``: N x C x H x W floating-point tensor or
    array (a numpy memmap is read one batch at a time). ``layers``: names checked by
    :func:`check_layers`. ``reductions``: layer -> reduction (a :class:`Reduction`, ``"gap"``, or
    ``{"name": "pca", "width": 64, "seed": 0}``), or one reduction for every layer.
    ``progress(done, total)``: called after every batch run through the network; ``total`` is the
    number of batches times the number of passes. ``dtype``: of the returned values.
    """
    images = _check_images(images)
    layers = check_layers(model, layers)
    plan = _check_reductions(reductions, layers)
    batch_size = _check_batch_size(batch_size)
    dtype = _check_dtype(dtype)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be a function progress(done, total) or None, got {type(progress).__name__}")
    device = torch.device(device)
    states = {name: plan[name]._state(f"layer {name!r}", dtype) for name in layers}
    n = int(images.shape[0])
    starts = range(0, n, batch_size)
    n_passes = max(r.n_passes for r in plan.values())
    total, done = n_passes * len(starts), 0
    was_training = bool(getattr(model, "training", False))
    if hasattr(model, "to"):
        model.to(device)
    if hasattr(model, "eval"):
        model.eval()
    try:
        run, active_before = None, None
        for pass_no in range(n_passes):
            active = [name for name in layers if plan[name].n_passes > pass_no]
            if active != active_before:
                run, active_before = _runner(model, active), active
            for name in active:
                states[name].begin(pass_no)
            for start in starts:
                chunk = images[start : start + batch_size]
                x = chunk if isinstance(chunk, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(chunk))
                with torch.no_grad():
                    out = run(x.to(device=device, dtype=torch.float32))
                for name in active:
                    states[name].update(out[name])
                done += 1
                if progress is not None:
                    progress(done, total)
            for name in active:
                states[name].end()
    finally:
        if was_training and hasattr(model, "train"):
            model.train()
    return {name: states[name].result() for name in layers}
