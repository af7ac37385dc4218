"""Embedded data sources: data that ships with scikit-learn and scikit-image (no network, no files).

``sklearn_digits``
    :func:`sklearn.datasets.load_digits`: 1797 greyscale 8 x 8 digits with values 0..16. Output
    ``N x 1 x 8 x 8`` holding ``value / 16``; ``label`` is the digit; ids ``digit_0012`` (the row
    of ``load_digits``). ``n`` keeps a seeded random subset, in the original order.
``lfw_faces``
    :func:`skimage.data.lfw_subset`: 200 greyscale 25 x 25 crops in [0, 1] from Labeled Faces in the
    Wild; the first 100 are faces, the last 100 non-faces cut from the backgrounds. ``faces_only``
    keeps the 100 faces; otherwise all 200 with ``label`` 1 (face) / 0 (non-face) and a boolean
    ``face`` column (both columns are present in either case). ids ``face_012`` / ``nonface_012``.
``natural_images``
    Natural photographs bundled with scikit-image (:data:`NATURAL_IMAGES`; documents and
    synthetic pictures such as ``page``, ``text`` or ``checkerboard`` are left out). ``mode:
    images`` centre-crops each photograph to a square and resizes it to ``size x size`` (ids are
    the image names). ``mode: patches`` draws ``n`` square patches of side ``patch_size``: every
    valid (image, top-left corner) position is equally likely, so an image is chosen with
    probability proportional to its number of positions; patches are drawn with replacement.
    Columns ``image``, ``row``, ``col`` (top-left corner in the photograph), ``label`` (index of
    the image in the list) and ``label_name`` (its name); ids ``patch_00012``.
    ``grayscale: true`` gives one channel (PIL's ``convert("L")``); false gives RGB, with greyscale
    photographs replicated to three channels.

Every source splits train/test with :func:`repgeo.data.random_split` over the items it keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from . import DataError, Dataset, random_split, register, subsample_indices
from .images import centre_crop, pil_pixels, resize, to_mode, to_unit_chw

NATURAL_IMAGES = (
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "brick",
    "grass",
    "gravel",
    "coins",
    "moon",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "clock",
    "cell",
)
"""scikit-image photographs that load offline (their files are inside the scikit-image wheel)."""


def _split(n: int, spec: Mapping[str, Any]) -> np.ndarray:
    return random_split(n, float(spec.get("test_fraction", 0.2)), int(spec.get("seed", 0)))


@register("sklearn_digits")
def sklearn_digits(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """scikit-learn's 8 x 8 digits as ``N x 1 x 8 x 8`` in [0, 1] (value / 16), label = digit."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    total = len(digits.target)
    keep = subsample_indices(total, spec.get("n"), "random", int(spec.get("seed", 0)))
    # Pixel values are integers 0..16, so value / 16 is exact in float32.
    arrays = (digits.data[keep] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    samples = pd.DataFrame(
        {
            "id": [f"digit_{i:04d}" for i in keep],
            "split": _split(len(keep), spec),
            "label": digits.target[keep].astype(np.int64),
        }
    )
    logger.info("sklearn_digits: %d of %d digits", len(keep), total)
    return Dataset(samples=samples, arrays=arrays, info={"n_available": total})


@register("lfw_faces")
def lfw_faces(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """scikit-image's LFW subset as ``N x 1 x 25 x 25``: the 100 faces, or all 200 with face labels."""
    from skimage.data import lfw_subset

    images = lfw_subset()
    if images.shape != (200, 25, 25):
        raise DataError(f"skimage.data.lfw_subset() returned shape {images.shape}, expected (200, 25, 25)")
    # scikit-image documents the order: the first 100 images are faces, the last 100 non-faces.
    face = np.arange(200) < 100
    faces_only = bool(spec.get("faces_only", True))
    keep = np.flatnonzero(face) if faces_only else np.arange(200)
    samples = pd.DataFrame(
        {
            "id": [f"face_{i:03d}" if i < 100 else f"nonface_{i - 100:03d}" for i in keep],
            "split": _split(len(keep), spec),
            "label": face[keep].astype(np.int64),
            "face": face[keep],
        }
    )
    arrays = images[keep][:, None].astype(np.float32)
    logger.info("lfw_faces: %d images (%d faces)", len(keep), int(face[keep].sum()))
    return Dataset(samples=samples, arrays=arrays, info={"faces_only": faces_only})


def load_natural_image(name: str, grayscale: bool) -> Image.Image:
    """One scikit-image photograph as a PIL image in L (grayscale) or RGB mode."""
    import skimage.data

    if name not in NATURAL_IMAGES:
        raise DataError(f"unknown natural image {name!r}; valid names: {', '.join(NATURAL_IMAGES)}")
    try:
        pixels = getattr(skimage.data, name)()
    except Exception as exc:  # a missing data file surfaces as pooch/network/OS errors of many types
        raise DataError(
            f"scikit-image could not load {name!r} ({type(exc).__name__}: {exc}); "
            "leave it out of images, or reinstall scikit-image with its bundled data"
        ) from exc
    return to_mode(Image.fromarray(np.asarray(pixels, dtype=np.uint8)), grayscale)


@register("natural_images")
def natural_images(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """scikit-image photographs, whole (square, resized) or as random square patches."""
    names = list(spec.get("images") or NATURAL_IMAGES)
    unknown = [n for n in names if n not in NATURAL_IMAGES]
    if unknown:
        raise DataError(f"natural_images: unknown image(s) {unknown}; valid names: {', '.join(NATURAL_IMAGES)}")
    if len(set(names)) != len(names):
        raise DataError(f"natural_images: images lists a name more than once: {names}")
    mode = spec.get("mode", "patches")
    if mode not in ("images", "patches"):
        raise DataError(f"natural_images: mode must be 'images' or 'patches', got {mode!r}")
    grayscale = bool(spec.get("grayscale", True))
    photos = [load_natural_image(name, grayscale) for name in names]
    info: dict[str, Any] = {"images": names, "mode": mode}
    if mode == "images":
        side = int(spec.get("size", 64))
        squares = [centre_crop(photo, (min(photo.size), min(photo.size))) for photo in photos]
        pixels = np.stack([pil_pixels(resize(square, (side, side))) for square in squares])
        samples = pd.DataFrame(
            {
                "id": names,
                "split": _split(len(names), spec),
                "label": np.arange(len(names), dtype=np.int64),
                "label_name": names,
            }
        )
        logger.info("natural_images: %d photographs at %dx%d", len(names), side, side)
        return Dataset(samples=samples, arrays=to_unit_chw(pixels), info=info)
    return _patches(names, [pil_pixels(p) for p in photos], spec, logger, info)


def _patches(
    names: list[str],
    pixels: list[np.ndarray],
    spec: Mapping[str, Any],
    logger: logging.Logger,
    info: dict[str, Any],
) -> Dataset:
    """``n`` random ``patch_size`` squares of the uint8 ``H x W x C`` photographs ``pixels``."""
    p = int(spec.get("patch_size", 8))
    n = int(spec.get("n", 5000))
    if n < 1:
        raise DataError(f"natural_images: n must be at least 1, got {n}")
    heights = np.array([a.shape[0] for a in pixels])
    widths = np.array([a.shape[1] for a in pixels])
    positions = np.clip(heights - p + 1, 0, None) * np.clip(widths - p + 1, 0, None)
    if positions.sum() == 0:
        raise DataError(f"natural_images: patch_size {p} is larger than every image; lower it")
    too_small = [name for name, k in zip(names, positions, strict=True) if k == 0]
    if too_small:
        logger.warning("natural_images: %s smaller than patch_size %d, never sampled", too_small, p)
    rng = np.random.default_rng([int(spec.get("seed", 0)), 0x9A7C])
    which = rng.choice(len(names), size=n, p=positions / positions.sum())
    rows = rng.integers(0, heights[which] - p + 1)
    cols = rng.integers(0, widths[which] - p + 1)
    out = np.empty((n, p, p, pixels[0].shape[2]), np.uint8)
    for k, image in enumerate(pixels):
        sel = np.flatnonzero(which == k)
        if len(sel) == 0:
            continue
        # windows[r, c] is the C x p x p patch whose top-left corner is (r, c).
        windows = np.lib.stride_tricks.sliding_window_view(image, (p, p), axis=(0, 1))
        out[sel] = windows[rows[sel], cols[sel]].transpose(0, 2, 3, 1)
    width = max(5, len(str(n - 1)))
    samples = pd.DataFrame(
        {
            "id": [f"patch_{i:0{width}d}" for i in range(n)],
            "split": _split(n, spec),
            "label": which.astype(np.int64),
            "label_name": np.asarray(names, dtype=object)[which],
            "image": np.asarray(names, dtype=object)[which],
            "row": rows.astype(np.int64),
            "col": cols.astype(np.int64),
        }
    )
    info["positions"] = dict(zip(names, positions.tolist(), strict=True))
    logger.info("natural_images: %d patches of %dx%d from %d photographs", n, p, p, len(names))
    return Dataset(samples=samples, arrays=to_unit_chw(out), info=info)
