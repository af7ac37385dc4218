"""Image data sources on disk: MNIST, CIFAR-10, Olivetti faces, any image folder and CelebA.

Every source returns ``arrays`` as float32 ``N x C x H x W`` in [0, 1] (C = 1 for greyscale, 3 for
RGB; 8-bit values are divided by 255, the 16-bit greyscale images an image folder or CelebA copy
may hold by 65535, see :func:`to_mode` for alpha, palettes and other modes) and a samples table
with ``id``, ``split`` and, where the data has them, ``label``, ``label_name`` and attribute
columns. What each source reads:

``mnist``
    ``path`` is a Keras-style ``.npz`` (``x_train`` N x 28 x 28 uint8, ``y_train``, ``x_test``,
    ``y_test``) or a folder with the four idx files of the original distribution,
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``, each optionally gzipped (``.gz``). An idx file is big-endian: the
    magic number ``00 00 08 ndim`` (08: unsigned bytes), ``ndim`` uint32 sizes, then the data.
    The official train/test split is kept; ids are ``train_00012`` / ``test_00012`` (the index
    within the official split). Output ``N x 1 x 28 x 28``, ``label`` 0-9.
``cifar10``
    ``path`` is a folder with CIFAR-10's python batches (``data_batch_1`` .. ``data_batch_5``,
    ``test_batch``, optionally ``batches.meta`` with the class names) or an ``.npz`` with
    ``x_train`` (N x 32 x 32 x 3 uint8), ``y_train``, ``x_test``, ``y_test`` and optionally
    ``label_names``. A batch is a pickled dict whose ``data`` is an N x 3072 uint8 array (the
    red, green and blue 32 x 32 planes of each image) and ``labels`` a list of N class indices. The
    batches are unpickled by :class:`RestrictedUnpickler`, which resolves only numpy's
    array-reconstruction functions, so a crafted file cannot run code. Train ids count over the
    training batches read, in order (``data_batch_1`` first; a skipped batch is not counted).
    Columns ``label`` and ``label_name`` (the names in ``batches.meta``/``label_names``, else
    CIFAR-10's standard ones); ``grayscale: true`` applies PIL's ``convert("L")``.
``olivetti``
    ``path`` is an ``.npz`` with ``images`` (N x 64 x 64; uint8 0..255, or float in [0, 1]) and
    ``target`` (subject id). ``label`` is the subject; ids ``subject07_03`` (subject, then the
    image's rank within the subject). The split is stratified: ``round(test_fraction * k)`` of the
    ``k`` images of each subject are test images (seeded).
``image_folder``
    ``path/<class>/<image>`` (images may sit in nested folders below the class folder). Classes are
    the sub-folders sorted by name, ``label`` 0.. in that order, ``label_name`` the folder name.
    Files are filtered by ``extensions`` (case-insensitive). Each image is centre-cropped to the
    aspect ratio of ``size`` and resized to it. ids are the paths relative to ``path``.
``celeba``
    ``path`` in CelebA's layout: ``img_align_celeba/*.jpg``, ``list_attr_celeba.txt`` (line 1 the
    image count, line 2 the 40 attribute names, then ``<file> v1 .. v40`` with values -1/1; CRLF
    line ends allowed) and optionally ``list_eval_partition.txt`` (``<file> 0|1|2``). The attribute
    file is the index of the images. Every attribute becomes a boolean column named as in the
    file; ``partition`` is train/valid/test and ``split`` is test for the test partition, train
    otherwise. Without the partition file the official partition follows from the file number
    (1-162,770 train, 162,771-182,637 valid, 182,638-202,599 test). ``crop`` (centre crop) is
    applied first, then ``size`` (resize). ids are the file names.

Random subsets (``n``, ``sample``, ``seed``) use :func:`repgeo.data.subsample_indices` over the
items in the source's order (train before test). Resizing uses PIL's bilinear filter and greyscale
PIL's ``convert("L")`` everywhere, so every source treats pixels the same way.

Files that cannot be read (CelebA and image-folder images, idx files, CIFAR batches) are all
collected and reported together in one :class:`repgeo.data.BadFilesError`; with
``skip_bad_files: true`` they are left out instead, and ``info`` records ``skipped_files`` (the
count) and ``skipped`` (their names).
"""

from __future__ import annotations

import codecs
import gzip
import logging
import os
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from PIL import Image

from . import BadFilesError, DataError, Dataset, random_split, register, subsample_indices

Size = tuple[int, int]
"""An image size as (height, width)."""
_Split = tuple[np.ndarray, np.ndarray]
"""uint8 images ``N x H x W x C`` and int64 labels ``N`` of one split."""

DEFAULT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

# --------------------------------------------------------------------------------------------
# Shared image helpers


def size_hw(value: Any, key: str) -> Size | None:
    """Parse a ``size``/``crop`` config value: None, one integer (square) or [height, width]."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        hw = (int(value), int(value))
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            raise DataError(f"{key} must be an integer or [height, width] of integers, got {value!r}")
        hw = (int(value[0]), int(value[1]))
    else:
        raise DataError(f"{key} must be an integer or [height, width], got {value!r}")
    if min(hw) < 1:
        raise DataError(f"{key} must be positive, got {value!r}")
    return hw


def centre_crop(img: Image.Image, hw: Size) -> Image.Image:
    """The central ``h x w`` region of ``img``; odd margins put the extra pixel right/bottom."""
    h, w = hw
    width, height = img.size
    if h > height or w > width:
        raise DataError(f"image is {width}x{height} (width x height), smaller than the crop {w}x{h}; lower crop")
    if (w, h) == (width, height):
        return img
    left, top = (width - w) // 2, (height - h) // 2
    return img.crop((left, top, left + w, top + h))


def crop_to_aspect(img: Image.Image, hw: Size) -> Image.Image:
    """The largest central region of ``img`` whose aspect ratio is that of ``hw``.

    Resizing this region to ``hw`` then never distorts the image.
    """
    h, w = hw
    width, height = img.size
    # Compare width/height with w/h by cross-multiplying, to stay in integers.
    if width * h > w * height:
        return centre_crop(img, (height, max(1, round(height * w / h))))
    return centre_crop(img, (max(1, round(width * h / w)), width))


def resize(img: Image.Image, hw: Size) -> Image.Image:
    """Resize ``img`` to ``hw`` with PIL's bilinear filter (antialiased when shrinking)."""
    h, w = hw
    if img.size == (w, h):
        return img
    return img.resize((w, h), Image.Resampling.BILINEAR)


# Single-channel modes Pillow uses for more than 8 bits per pixel: 16-bit PNG and TIFF greyscale
# (I;16 and its byte orders), 32-bit integers (I; also 16-bit data in some plugins) and 32-bit
# floats (F). convert("L") clips their values to 0..255, which turned every pixel of a 16-bit
# image into 1.0; they are scaled by their bit depth instead (high_depth_unit).
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _tiff_sample_format(img: Image.Image) -> tuple[int | None, bool]:
    """The bits per sample a TIFF records (tag 258; None when absent) and whether its samples
    are signed integers (SampleFormat, tag 339, value 2)."""
    tags = getattr(img, "tag_v2", None)

    def first(tag: int) -> Any:
        value = tags.get(tag) if tags is not None else None
        return value[0] if isinstance(value, tuple) and value else value

    bits = first(258)
    return (int(bits) if bits else None), first(339) == 2


def high_depth_unit(img: Image.Image) -> Image.Image | None:
    """A single-channel image of more than 8 bits per pixel as a mode F image in [0, 1], or None
    for any other mode.

    Integer pixels are divided by the largest value of their bit depth: 65535 for 16-bit PNG and
    TIFF (I;16); for mode I the TIFF's recorded bits per sample, 2^bits - 1 (2^(bits-1) - 1 for
    signed samples), and 65535 when the file records none (Pillow opens 16-bit data of other
    formats as I). The bit depth of the container counts, not the values' range: 12-bit data
    stored in 16 bits lies in [0, 0.0625].
    Float pixels (F) must already lie in [0, 1]. Values outside the range (negative integers of a
    signed TIFF, floats beyond [0, 1]) make the file unreadable with the reason, never clipped.
    """
    if img.mode not in _HIGH_DEPTH_MODES:
        return None
    a = np.asarray(img)
    if img.mode == "F":
        if a.size and (not np.isfinite(a).all() or a.min() < 0 or a.max() > 1):
            raise _Unreadable(
                f"32-bit float pixels range {np.nanmin(a):g}..{np.nanmax(a):g}, outside [0, 1]; "
                "scale them to [0, 1], or save 8- or 16-bit images"
            )
        return Image.fromarray(a.astype(np.float32))
    bits, signed = (16, False) if img.mode.startswith("I;16") else _tiff_sample_format(img)
    bits = bits or 16
    top = 2 ** (bits - 1 if signed else bits) - 1
    if a.size and (a.min() < 0 or a.max() > top):
        raise _Unreadable(
            f"{img.mode} pixels range {a.min()}..{a.max()}, outside 0..{top} of {'signed ' if signed else ''}{bits} bits per sample; "
            "save unsigned 8- or 16-bit images"
        )
    return Image.fromarray((a.astype(np.float64) / top).astype(np.float32))


def to_mode(img: Image.Image, grayscale: bool) -> Image.Image:
    """8-bit greyscale (``convert("L")``) or RGB (``convert("RGB")``, greyscale replicated).

    Single-channel images of more than 8 bits per pixel (16-bit PNG/TIFF, 32-bit integer or float
    TIFF) become mode F in [0, 1] instead (:func:`high_depth_unit`), keeping their precision; they
    stay one channel, and :func:`pil_pixels` with ``channels=3`` replicates it for RGB output.
    16-bit colour PNGs are decoded by Pillow to 8-bit RGB(A) already (the high byte of each value).

    Alpha is dropped, not composited: RGBA and LA images lose their alpha channel and each pixel
    keeps the colour stored under it, even where it is fully transparent (often black). Palette
    images (P, PA) are mapped through their palette; a transparent palette entry likewise keeps
    its colour. ``convert("L")`` of colour uses ITU-R 601-2 luma (L = R 299/1000 + G 587/1000 +
    B 114/1000); bilevel images (mode 1) become 0 and 1.
    """
    unit = high_depth_unit(img)
    if unit is not None:
        return unit
    return img.convert("L" if grayscale else "RGB")


def pil_pixels(img: Image.Image, channels: int | None = None) -> np.ndarray:
    """The pixels of an L or RGB image as uint8 ``H x W x C``; of an F image (from
    :func:`to_mode`) as float32 ``H x W x 1`` in [0, 1], repeated to ``channels`` when given."""
    if img.mode == "F":
        a = np.asarray(img, dtype=np.float32)[:, :, None]
        return np.repeat(a, channels, axis=2) if channels and channels > 1 else a
    a = np.asarray(img, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a


def _store_unit(pixels: np.ndarray, out: np.ndarray) -> None:
    """Write ``H x W x C`` pixels into ``out`` (``C x H x W`` float32) in [0, 1]: uint8 as
    value / 255 (in float32, so the bytes round-trip exactly), floats (already in [0, 1]) as they are."""
    if pixels.dtype == np.uint8:
        np.divide(pixels.transpose(2, 0, 1), np.float32(255), out=out)
    else:
        out[...] = pixels.transpose(2, 0, 1)


def grey_uint8(x: np.ndarray) -> np.ndarray:
    """PIL's ``convert("L")`` of uint8 RGB images ``N x H x W x 3``, as ``N x H x W x 1``.

    The N images are stacked into one tall image so that PIL converts them in a single call.
    """
    n, h, w, _ = x.shape
    if n == 0:
        return np.empty((0, h, w, 1), np.uint8)
    tall = Image.fromarray(np.ascontiguousarray(x, dtype=np.uint8).reshape(n * h, w, 3))
    return np.asarray(tall.convert("L"), dtype=np.uint8).reshape(n, h, w, 1)


def to_unit_chw(x: np.ndarray) -> np.ndarray:
    """uint8 ``N x H x W x C`` -> float32 ``N x C x H x W`` holding ``value / 255``.

    The division is done in float32, so ``round(out * 255)`` gives back the bytes exactly.
    """
    n, h, w, c = x.shape
    out = np.empty((n, c, h, w), np.float32)
    np.divide(x.transpose(0, 3, 1, 2), np.float32(255), out=out)
    return out


class _Unreadable(Exception):
    """A file's content is not what its format requires; the message is the reason."""


def _reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, (_Unreadable, DataError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _reader_threads() -> int:
    # Pillow releases the GIL while it decodes, so threads overlap the decoding of several files
    # (for small JPEGs the Python-side work per file holds the GIL and limits the gain). A workflow
    # job pins OMP_NUM_THREADS to its thread budget (repgeo.runtime.set_threads); stay within it.
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit():
        n = int(env)
    elif hasattr(os, "sched_getaffinity"):
        n = len(os.sched_getaffinity(0))
    else:
        n = os.cpu_count() or 1
    return max(1, min(8, n))


def _decode(path: Path, prepare: Callable[[Image.Image], Image.Image], channels: int | None = None) -> np.ndarray:
    if path.stat().st_size == 0:
        raise _Unreadable("empty file (0 bytes)")
    with Image.open(path) as img:
        return pil_pixels(prepare(img), channels)


def read_image_files(
    files: Sequence[Path],
    names: Sequence[str],
    prepare: Callable[[Image.Image], Image.Image],
    logger: logging.Logger,
    what: str,
    channels: int | None = None,
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Decode image files with ``prepare`` (PIL image -> L or RGB image, or F for images of more
    than 8 bits, see :func:`to_mode`) on a thread pool.

    Returns the readable images as float32 ``K x C x H x W`` in [0, 1] (8-bit: value / 255;
    16-bit: value / 65535; in input order), their indices into ``files``, and ``(name, reason)``
    for every unreadable file, in input order. ``channels`` (the output's C) repeats the one
    channel of an F image to match RGB output. The first readable file fixes ``C x H x W``; a
    file that comes out with another shape is unreadable. Progress is logged every 10%.
    """
    n = len(files)
    bad: dict[int, str] = {}
    first_pixels = None
    first = n
    # Read sequentially until one file decodes: it fixes the shape of the output array.
    for i in range(n):
        try:
            first_pixels = _decode(files[i], prepare, channels)
        except Exception as exc:  # PIL's plugins raise many exception types for damaged files
            bad[i] = _reason(exc)
        else:
            first = i
            break
    if first_pixels is None:
        unreadable = [(names[i], bad[i]) for i in sorted(bad)]
        return np.empty((0, 0, 0, 0), np.float32), np.empty(0, np.int64), unreadable
    shape = first_pixels.shape
    # Each worker converts its images to float32 as it goes: per image the transpose and division
    # stay in cache and run in parallel, where one pass over the whole array would not.
    out = np.empty((n, shape[2], shape[0], shape[1]), np.float32)
    ok = np.zeros(n, bool)
    _store_unit(first_pixels, out[first])
    ok[first] = True

    def work(indices: np.ndarray) -> tuple[int, dict[int, str]]:
        errors: dict[int, str] = {}
        for i in indices:
            try:
                pixels = _decode(files[i], prepare, channels)
                if pixels.shape != shape:
                    raise _Unreadable(
                        f"comes out {pixels.shape[1]}x{pixels.shape[0]} (width x height) but "
                        f"{names[first]} comes out {shape[1]}x{shape[0]}; set size to resize every image"
                    )
            except Exception as exc:  # PIL's plugins raise many exception types for damaged files
                errors[int(i)] = _reason(exc)
            else:
                _store_unit(pixels, out[i])
                ok[i] = True
        return len(indices), errors

    rest = np.arange(first + 1, n)
    # About 100 chunks: few enough to keep scheduling cheap, enough for 10% progress steps.
    chunks = np.array_split(rest, min(len(rest), 100)) if len(rest) else []
    done, logged = first + 1, 0
    with ThreadPoolExecutor(_reader_threads()) as pool:
        for fut in as_completed([pool.submit(work, c) for c in chunks]):
            count, errors = fut.result()
            bad.update(errors)
            done += count
            if done * 10 // n > logged:
                logged = done * 10 // n
                logger.info("%s: read %d/%d images (%d%%)", what, done, n, 100 * done // n)
    good = np.flatnonzero(ok)
    arrays = out if len(good) == n else out[good]
    return arrays, good, [(names[i], bad[i]) for i in sorted(bad)]


def _handle_bad(
    bad: list[tuple[str, str]],
    where: Path,
    skip: bool,
    what: str,
    logger: logging.Logger,
    info: dict[str, Any],
) -> None:
    """Raise :class:`BadFilesError` for ``bad``, or, with ``skip``, log them and record them in ``info``."""
    if bad and not skip:
        raise BadFilesError(str(where), bad)
    if skip:
        info["skipped_files"] = len(bad)
        info["skipped"] = [name for name, _ in bad]
    if bad:
        logger.warning(
            "%s: skipped %d unreadable file(s) under %s (skip_bad_files: true): %s",
            what, len(bad), where, "; ".join(f"{name}: {reason}" for name, reason in bad),
        )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Shared checks of paths and arrays


def _existing_path(spec: Mapping[str, Any], what: str, expected: str) -> Path:
    if not spec.get("path"):
        raise DataError(f"{what}: the dataset needs path: {expected}")
    path = Path(str(spec["path"])).expanduser()
    if not path.exists():
        raise DataError(f"{what}: path {path} does not exist; set path to {expected}")
    return path


def _read_npz(path: Path, required: Sequence[str], optional: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """The arrays ``required`` (all must be present) and ``optional`` (when present) of an npz."""
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read {path} as an .npz archive ({exc}); re-create the file") from exc
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds a single array, not an .npz archive with keys {list(required)}")
    with z:
        missing = [k for k in required if k not in z.files]
        if missing:
            raise DataError(f"{path} lacks the key(s) {missing}; it has {sorted(z.files)} but needs {list(required)}")
        try:
            return {k: z[k] for k in (*required, *optional) if k in z.files}
        except (OSError, ValueError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
            raise DataError(f"{path}: an array cannot be read ({exc}); re-create the file") from exc


def _labels(y: np.ndarray, n: int, n_classes: int | None, where: str) -> np.ndarray:
    """Validate a label vector (N or N x 1 integers, in 0..n_classes-1) and return it as int64."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"{where}: labels have shape {y.shape}, expected ({n},) to match the images")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{where}: labels have dtype {y.dtype}, expected integers")
    if n and (y.min() < 0 or (n_classes is not None and y.max() >= n_classes)):
        allowed = "non-negative" if n_classes is None else f"0..{n_classes - 1}"
        raise DataError(f"{where}: labels range {y.min()}..{y.max()}, expected {allowed}")
    return y.astype(np.int64)


def _uint8_images(x: np.ndarray, channels: int, where: str) -> np.ndarray:
    """Validate uint8 images ``N x H x W`` (channels 1) or ``N x H x W x 3``; return ``N x H x W x C``."""
    expected = "N x height x width" if channels == 1 else "N x height x width x 3"
    if x.ndim != (3 if channels == 1 else 4) or (channels == 3 and x.shape[-1] != 3):
        raise DataError(f"{where}: images have shape {x.shape}, expected {expected}")
    if x.dtype != np.uint8:
        raise DataError(f"{where}: images have dtype {x.dtype}, expected uint8 (0..255)")
    return x[..., None] if channels == 1 else x


def _official_split_dataset(
    parts: dict[str, _Split],
    spec: Mapping[str, Any],
    info: dict[str, Any],
    label_names: Sequence[str] | None,
    grayscale: bool,
    logger: logging.Logger,
    what: str,
) -> Dataset:
    """A dataset from uint8 ``N x H x W x C`` images and labels per official split (train first).

    ``grayscale`` converts RGB images with PIL's ``convert("L")``.
    """
    splits = [s for s in ("train", "test") if s in parts]
    if not splits:
        raise DataError(f"{what}: no split of {info['path']} could be read")
    # One array holds both splits, so their images must agree in size and channels; checked
    # here so the message names the splits instead of numpy's concatenation error.
    shapes = {s: parts[s][0].shape[1:] for s in splits}
    if len(set(shapes.values())) > 1:
        described = " but ".join(
            f"the {s} images are {h}x{w} (height x width) with {c} channel(s)" for s, (h, w, c) in shapes.items()
        )
        raise DataError(
            f"{what}: {described} in {info['path']}; both splits must hold images of one size, "
            "re-create the data with one size (MNIST: 28x28, CIFAR-10: 32x32 RGB)"
        )
    sizes = [len(parts[s][1]) for s in splits]
    keep = subsample_indices(sum(sizes), spec.get("n"), spec.get("sample", "random"), spec.get("seed", 0))
    offsets = np.cumsum([0, *sizes])
    xs, ids, split, labels = [], [], [], []
    for s, lo, hi in zip(splits, offsets[:-1], offsets[1:], strict=True):
        local = keep[(keep >= lo) & (keep < hi)] - lo
        x, y = parts[s]
        xs.append(x[local])
        ids.extend(f"{s}_{i:05d}" for i in local)
        split.extend([s] * len(local))
        labels.append(y[local])
        info[f"n_{s}_available"] = int(hi - lo)
    x = np.concatenate(xs)
    if grayscale:
        x = grey_uint8(x)
    label = np.concatenate(labels)
    samples = pd.DataFrame({"id": ids, "split": split, "label": label})
    if label_names is not None:
        samples["label_name"] = np.asarray(label_names, dtype=object)[label]
    counts = samples["split"].value_counts().to_dict()
    logger.info("%s: %d images %s from %s", what, len(samples), counts, info["path"])
    return Dataset(samples=samples, arrays=to_unit_chw(x), info=info)


# --------------------------------------------------------------------------------------------
# MNIST

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: Path) -> np.ndarray:
    """Parse an idx file of unsigned bytes (gzipped when the name ends in ``.gz``).

    Raises an exception whose message says why the file is unreadable: not gzip, no idx magic
    number, another data type, or a size that disagrees with the header.
    """
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise _Unreadable(f"not a complete gzip file ({exc})") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise _Unreadable("does not start with the idx magic number (00 00 <type> <ndim>); not an idx file")
    if data[2] != 0x08:
        raise _Unreadable(f"idx data type 0x{data[2]:02x}; MNIST idx files hold unsigned bytes (0x08)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _Unreadable(f"truncated: {len(data)} bytes, shorter than the {header}-byte header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    have = len(data) - header
    shape = " x ".join(map(str, dims))
    if have < expected:
        raise _Unreadable(f"truncated: header says {shape} = {expected} bytes, the file holds {have}")
    if have > expected:
        raise _Unreadable(f"{have - expected} bytes after the {shape} data announced by the header")
    return np.frombuffer(data, np.uint8, count=expected, offset=header).reshape(dims)


def _find_idx(folder: Path, name: str) -> Path:
    plain = folder / name
    return plain if plain.exists() else folder / f"{name}.gz"


def _mnist_idx_folder(folder: Path) -> tuple[dict[str, _Split], list[tuple[str, str]]]:
    """Read the idx files of each split; returns the readable splits and every bad file."""
    found = {name: _find_idx(folder, name) for pair in MNIST_FILES.values() for name in pair}
    if not any(p.exists() for p in found.values()):
        raise DataError(
            f"mnist: {folder} holds none of the idx files {sorted(found)} (optionally .gz); "
            "point path at the folder that holds them, or at a Keras-style mnist.npz"
        )
    parts: dict[str, _Split] = {}
    bad: list[tuple[str, str]] = []
    for split, (img_name, lab_name) in MNIST_FILES.items():
        img_path, lab_path = found[img_name], found[lab_name]
        arrays: dict[str, np.ndarray] = {}
        for kind, path, ndim in (("images", img_path, 3), ("labels", lab_path, 1)):
            try:
                a = read_idx(path)
                if a.ndim != ndim:
                    raise _Unreadable(f"has shape {a.shape}, expected {ndim} dimension(s) for {kind}")
                if kind == "labels" and len(a) and a.max() > 9:
                    raise _Unreadable(f"holds label {a.max()}; MNIST labels are 0..9")
            except FileNotFoundError:
                plain = path.name.removesuffix(".gz")
                bad.append((path.name, f"file not found (looked for {plain} and {plain}.gz)"))
            except (OSError, _Unreadable) as exc:
                bad.append((path.name, _reason(exc)))
            else:
                arrays[kind] = a
        if len(arrays) < 2:
            continue
        if len(arrays["images"]) != len(arrays["labels"]):
            reason = (
                f"{img_path.name} holds {len(arrays['images'])} images "
                f"but {lab_path.name} {len(arrays['labels'])} labels"
            )
            bad.extend([(img_path.name, reason), (lab_path.name, reason)])
            continue
        parts[split] = (arrays["images"][..., None], arrays["labels"].astype(np.int64))
    return parts, bad


@register("mnist")
def mnist(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """MNIST from a Keras-style npz or a folder of idx files; ``N x 1 x 28 x 28``, official split."""
    path = _existing_path(spec, "mnist", "a Keras-style mnist.npz or a folder with the four MNIST idx files")
    info: dict[str, Any] = {"path": str(path)}
    if path.is_dir():
        parts, bad = _mnist_idx_folder(path)
        _handle_bad(bad, path, bool(spec.get("skip_bad_files", False)), "mnist", logger, info)
        info["format"] = "idx"
    else:
        z = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"))
        parts = {}
        for s in ("train", "test"):
            x = _uint8_images(z[f"x_{s}"], 1, f"{path} x_{s}")
            parts[s] = (x, _labels(z[f"y_{s}"], len(x), 10, f"{path} y_{s}"))
        info["format"] = "npz"
    return _official_split_dataset(parts, spec, info, None, False, logger, "mnist")


# --------------------------------------------------------------------------------------------
# CIFAR-10


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and plain Python containers and nothing else.

    ``find_class`` is where pickle looks up every callable a pickle names; answering only with
    numpy's array-reconstruction functions means a crafted file (one naming ``os.system``, say)
    fails with :class:`pickle.UnpicklingError` instead of running code. Both the numpy 1
    (``numpy.core``) and numpy 2 (``numpy._core``) module names are accepted, and
    ``_codecs.encode``, which Python 3 pickles of protocol < 3 use to store bytes.
    """

    # Take the functions from numpy's own reduce protocol rather than importing private modules.
    _reconstruct = np.empty(0).__reduce__()[0]
    _frombuffer = np.empty(0).__reduce_ex__(5)[0]
    ALLOWED: dict[tuple[str, str], Any] = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy.core.numeric", "_frombuffer"): _frombuffer,
        ("numpy._core.numeric", "_frombuffer"): _frombuffer,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: only numpy arrays may be unpickled here"
            ) from None


def load_restricted_pickle(f: BinaryIO) -> Any:
    """Unpickle ``f`` with :class:`RestrictedUnpickler`.

    ``encoding="bytes"`` reads the Python 2 strings of the original CIFAR-10 batches as bytes.
    """
    return RestrictedUnpickler(f, encoding="bytes").load()


def _str_keys(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _Unreadable(f"holds a {type(obj).__name__}, expected a dict")
    return {(k.decode("latin-1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One python batch as uint8 ``N x 32 x 32 x 3`` images and int64 labels."""
    with open(path, "rb") as f:
        batch = _str_keys(load_restricted_pickle(f))
    if "data" not in batch or "labels" not in batch:
        raise _Unreadable(f"has keys {sorted(batch)}, expected data and labels")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        shape = getattr(data, "shape", None)
        raise _Unreadable(f"data is {type(data).__name__} {shape}, expected a uint8 N x 3072 array")
    try:
        labels = np.asarray(batch["labels"])
        labels = _labels(labels, len(data), 10, "labels")
    except DataError as exc:
        raise _Unreadable(str(exc)) from exc
    # Each row is the 1024 red, then green, then blue values of a 32 x 32 image, row-major.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _read_cifar_meta(path: Path) -> list[str]:
    with open(path, "rb") as f:
        meta = _str_keys(load_restricted_pickle(f))
    names = meta.get("label_names")
    if not isinstance(names, list) or len(names) != 10:
        raise _Unreadable("label_names is missing or does not hold 10 class names")
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


# The python-batches folder: five training batches, the test batch, the class names.
CIFAR_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_FILES = (*CIFAR_TRAIN_BATCHES, "test_batch", "batches.meta")


def _cifar_folder(folder: Path) -> tuple[dict[str, _Split], list[str] | None, list[tuple[str, str]]]:
    """Read the python batches; returns the readable splits, the class names and every bad file."""
    train_names = CIFAR_TRAIN_BATCHES
    if not any((folder / name).exists() for name in (*train_names, "test_batch")):
        raise DataError(
            f"cifar10: {folder} holds none of CIFAR-10's python batches (data_batch_1..5, test_batch); "
            "point path at the extracted cifar-10-batches-py folder, or at an npz"
        )
    bad: list[tuple[str, str]] = []
    read: dict[str, _Split] = {}
    for name in (*train_names, "test_batch"):
        try:
            read[name] = _read_cifar_batch(folder / name)
        except Exception as exc:  # unpickling a damaged file can raise almost any exception type
            bad.append((name, _reason(exc)))
    parts: dict[str, _Split] = {}
    train = [read[name] for name in train_names if name in read]
    if train:
        parts["train"] = (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]))
    if "test_batch" in read:
        parts["test"] = read["test_batch"]
    names = None
    if (folder / "batches.meta").exists():
        try:
            names = _read_cifar_meta(folder / "batches.meta")
        except Exception as exc:  # unpickling a damaged file can raise almost any exception type
            bad.append(("batches.meta", _reason(exc)))
    return parts, names, bad


@register("cifar10")
def cifar10(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """CIFAR-10 from python batches or an npz; ``N x 3 x 32 x 32`` (or 1 channel), official split."""
    path = _existing_path(spec, "cifar10", "a folder with CIFAR-10's python batches, or an npz")
    info: dict[str, Any] = {"path": str(path)}
    if path.is_dir():
        parts, names, bad = _cifar_folder(path)
        _handle_bad(bad, path, bool(spec.get("skip_bad_files", False)), "cifar10", logger, info)
        info["format"] = "python batches"
    else:
        z = _read_npz(path, ("x_train", "y_train", "x_test", "y_test"), ("label_names",))
        parts = {}
        for s in ("train", "test"):
            x = _uint8_images(z[f"x_{s}"], 3, f"{path} x_{s}")
            parts[s] = (x, _labels(z[f"y_{s}"], len(x), 10, f"{path} y_{s}"))
        names = None
        if "label_names" in z:
            if z["label_names"].shape != (10,):
                raise DataError(f"{path}: label_names has shape {z['label_names'].shape}, expected (10,)")
            names = [str(v) for v in z["label_names"]]
        info["format"] = "npz"
    names = names or list(CIFAR10_CLASSES)
    info["label_names"] = names
    grayscale = bool(spec.get("grayscale", False))
    return _official_split_dataset(parts, spec, info, names, grayscale, logger, "cifar10")


# --------------------------------------------------------------------------------------------
# Olivetti faces


def _unit_interval(x: np.ndarray, where: str) -> np.ndarray:
    """float32 in [0, 1] from integer images 0..255 (divided by 255) or float images in [0, 1]."""
    if np.issubdtype(x.dtype, np.integer):
        if x.size and (x.min() < 0 or x.max() > 255):
            raise DataError(f"{where}: integer images range {x.min()}..{x.max()}, expected 0..255")
        return np.divide(x, np.float32(255), dtype=np.float32)
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all() or (x.size and (x.min() < 0 or x.max() > 1)):
            raise DataError(
                f"{where}: float images must lie in [0, 1] (found {np.nanmin(x)}..{np.nanmax(x)}); "
                "scale them, or store uint8 0..255"
            )
        return x.astype(np.float32)
    raise DataError(f"{where}: images have dtype {x.dtype}, expected uint8 or float")


def stratified_split(groups: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """A seeded train/test assignment with ``round(test_fraction * k)`` test items in each group of k."""
    if not 0.0 <= test_fraction < 1.0:
        raise DataError(f"test_fraction must be in [0, 1), got {test_fraction}")
    rng = np.random.default_rng([int(seed), 0x57A7])
    split = np.full(len(groups), "train", dtype=object)
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        split[rng.permutation(members)[: int(round(test_fraction * len(members)))]] = "test"
    return split


@register("olivetti")
def olivetti(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """Olivetti faces from an npz (images, target); ``N x 1 x 64 x 64``, split stratified by subject."""
    path = _existing_path(spec, "olivetti", "an npz with images (N x 64 x 64) and target")
    z = _read_npz(path, ("images", "target"))
    images = z["images"]
    if images.ndim != 3:
        raise DataError(f"{path} images: shape {images.shape}, expected N x height x width")
    target = _labels(z["target"], len(images), None, f"{path} target")
    # Rank of each image within its subject, over the whole file, so that ids do not depend on n.
    rank = pd.Series(target).groupby(target).cumcount().to_numpy()
    keep = subsample_indices(len(images), spec.get("n"), spec.get("sample", "random"), spec.get("seed", 0))
    target, rank = target[keep], rank[keep]
    split = stratified_split(target, float(spec.get("test_fraction", 0.2)), int(spec.get("seed", 0)))
    ids = [f"subject{t:02d}_{r:02d}" for t, r in zip(target, rank, strict=True)]
    samples = pd.DataFrame({"id": ids, "split": split, "label": target})
    arrays = _unit_interval(images[keep], f"{path} images")[:, None]
    info = {"path": str(path), "n_subjects": int(len(np.unique(target))), "input_dtype": str(images.dtype)}
    logger.info("olivetti: %d faces of %d subjects from %s", len(samples), info["n_subjects"], path)
    return Dataset(samples=samples, arrays=arrays, info=info)


# --------------------------------------------------------------------------------------------
# Image folder


def _normalise_extensions(extensions: Sequence[str]) -> set[str]:
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    if not exts or "." in exts:
        raise DataError(f"extensions must list file suffixes such as '.png', got {list(extensions)!r}")
    return exts


def image_folder_files(root: Path, exts: set[str]) -> tuple[dict[str, list[str]], int]:
    """The files the ``image_folder`` source reads under ``root``, without reading them.

    Returns the classes (non-hidden sub-folders of ``root``, sorted by name) with each one's image
    files as paths relative to ``root`` (``cat/x/1.png``, sorted; suffix in ``exts``, compared in
    lower case), and the number of other files found. Hidden files and folders (``.DS_Store``,
    ``.ipynb_checkpoints``, ...) are not data; links to files count as files, links to folders
    below a class folder are not followed. Shared by :func:`image_folder` and
    :mod:`repgeo.data.manifest`, so the workflow tracks exactly the files the loader reads.
    """
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    listing: dict[str, list[str]] = {}
    ignored = 0
    for name in classes:
        found: list[str] = []
        _walk_files(str(root / name), name, found)
        found.sort()
        listing[name] = [f for f in found if _suffix(f).lower() in exts]
        ignored += len(found) - len(listing[name])
    return listing, ignored


def _suffix(rel: str) -> str:
    """``Path(rel).suffix`` without building a Path: from the last dot of the last component."""
    dot = rel.rfind(".")
    return rel[dot:] if rel.rfind("/") + 1 < dot < len(rel) - 1 else ""


def _walk_files(folder: str, rel: str, out: list[str]) -> None:
    # os.scandir rather than Path.rglob, which builds Path objects: 0.06 s instead of 1.8 s for 20,000 files.
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except (PermissionError, FileNotFoundError, NotADirectoryError):
        return  # as rglob: an unreadable folder contributes nothing
    for e in entries:
        if e.name.startswith("."):
            continue
        if e.is_dir(follow_symlinks=False):
            _walk_files(e.path, f"{rel}/{e.name}", out)
        elif e.is_file():
            out.append(f"{rel}/{e.name}")


@register("image_folder")
def image_folder(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """Images under ``path/<class>/``; centre-cropped to the aspect of ``size`` and resized to it."""
    root = _existing_path(spec, "image_folder", "a folder with one sub-folder of images per class")
    if not root.is_dir():
        raise DataError(f"image_folder: {root} is a file; path must be a folder of class folders")
    exts = _normalise_extensions(spec.get("extensions", DEFAULT_EXTENSIONS))
    listing, ignored = image_folder_files(root, exts)
    classes = list(listing)
    if not classes:
        raise DataError(f"image_folder: {root} has no class folders; expected {root}/<class>/<image>")
    names: list[str] = []
    labels: list[int] = []
    for label, (name, images) in enumerate(listing.items()):
        if not images:
            raise DataError(
                f"image_folder: class folder {root / name} holds no file with an extension in "
                f"{sorted(exts)}; add images, remove the folder, or change extensions"
            )
        names.extend(images)
        labels.extend([label] * len(images))
    if ignored:
        logger.info("image_folder: ignored %d file(s) whose extension is not in %s", ignored, sorted(exts))
    seed = int(spec.get("seed", 0))
    keep = subsample_indices(len(names), spec.get("n"), spec.get("sample", "random"), seed)
    # The split is drawn before reading, so a file that turns out unreadable moves no other file.
    split = random_split(len(keep), float(spec.get("test_fraction", 0.2)), seed)
    hw = size_hw(spec.get("size", 64), "size")
    if hw is None:
        raise DataError("image_folder: size must be an integer or [height, width], not null")
    grayscale = bool(spec.get("grayscale", False))
    rel = [names[i] for i in keep]
    files = [root / r for r in rel]

    def prepare(img: Image.Image) -> Image.Image:
        return resize(to_mode(crop_to_aspect(img, hw), grayscale), hw)

    arrays, good, bad = read_image_files(files, rel, prepare, logger, "image_folder", 1 if grayscale else 3)
    info: dict[str, Any] = {"path": str(root), "classes": classes, "n_files_found": len(names)}
    _handle_bad(bad, root, bool(spec.get("skip_bad_files", False)), "image_folder", logger, info)
    if len(good) == 0:
        raise DataError(f"image_folder: none of the {len(keep)} selected files under {root} could be read")
    label = np.asarray(labels, dtype=np.int64)[keep[good]]
    samples = pd.DataFrame(
        {
            "id": [rel[i] for i in good],
            "split": split[good],
            "label": label,
            "label_name": np.asarray(classes, dtype=object)[label],
            "path": [str(files[i]) for i in good],
        }
    )
    logger.info("image_folder: %d images of %d classes from %s", len(samples), len(classes), root)
    return Dataset(samples=samples, arrays=arrays, info=info)


# --------------------------------------------------------------------------------------------
# CelebA

_CELEBA_RESERVED = {"id", "split", "partition", "path"}
_PARTITIONS = np.array(["train", "valid", "test"], dtype=object)
# Official CelebA partition by image number: 1..162770 train, ..182637 valid, ..202599 test.
_CELEBA_BOUNDS = (162_770, 182_637, 202_599)


def read_celeba_attributes(path: Path, logger: logging.Logger) -> tuple[list[str], list[str], np.ndarray]:
    """Parse ``list_attr_celeba.txt``: returns file names, attribute names and an N x 40 bool array."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 3:
        raise DataError(f"{path}: expected a count line, a line of attribute names and one line per image")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise DataError(f"{path}, line 1: expected the number of images, got {lines[0][:60]!r}") from None
    names = lines[1].split()
    clash = sorted(_CELEBA_RESERVED.intersection(names))
    if clash or len(set(names)) != len(names):
        raise DataError(f"{path}, line 2: attribute names must be unique and not {sorted(_CELEBA_RESERVED)}")
    body = [(no, line.split()) for no, line in enumerate(lines[2:], start=3) if line.strip()]
    if not body:
        raise DataError(f"{path} lists no images after the line of attribute names")
    for no, tokens in body:
        if len(tokens) != len(names) + 1:
            raise DataError(
                f"{path}, line {no}: {len(tokens)} fields, expected {len(names) + 1} "
                f"(file name and {len(names)} attributes)"
            )
    files = [tokens[0] for _, tokens in body]
    if len(set(files)) != len(files):
        dup = pd.Series(files)[pd.Series(files).duplicated()].iloc[0]
        raise DataError(f"{path}: image {dup} is listed more than once")
    values = np.array([tokens[1:] for _, tokens in body], dtype=str)
    positive = values == "1"
    valid = positive | (values == "-1")
    if not valid.all():
        r, c = np.argwhere(~valid)[0]
        raise DataError(f"{path}, line {body[r][0]}: {names[c]} is {str(values[r, c])!r}, expected -1 or 1")
    if count != len(files):
        logger.warning(
            "celeba: %s says %d images on line 1 but lists %d; using the %d listed",
            path, count, len(files), len(files),
        )  # fmt: skip
    return files, names, positive


def celeba_partition(root: Path, files: Sequence[str]) -> tuple[np.ndarray, str]:
    """The partition (train/valid/test) of each file and where it came from."""
    path = root / "list_eval_partition.txt"
    if path.is_file():
        table: dict[str, int] = {}
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != 2 or tokens[1] not in ("0", "1", "2"):
                raise DataError(f"{path}, line {no}: expected '<file> 0|1|2', got {line.strip()[:60]!r}")
            table[tokens[0]] = int(tokens[1])
        missing = [f for f in files if f not in table]
        if missing:
            raise DataError(
                f"{path} gives no partition for {len(missing)} image(s) of list_attr_celeba.txt, "
                f"e.g. {missing[:3]}; use the partition file that belongs to the attribute file, "
                "or remove it to use the official ranges"
            )
        return _PARTITIONS[[table[f] for f in files]], path.name
    codes = np.empty(len(files), np.int64)
    for i, f in enumerate(files):
        stem = Path(f).stem
        number = int(stem) if stem.isdigit() else 0
        if not 1 <= number <= _CELEBA_BOUNDS[-1]:
            raise DataError(
                f"celeba: the official partition of {f!r} cannot be derived from its name (CelebA numbers "
                f"images 000001..202599); add list_eval_partition.txt to {root}"
            )
        codes[i] = np.searchsorted(_CELEBA_BOUNDS, number)
    return _PARTITIONS[codes], "file numbers"


@register("celeba")
def celeba(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """CelebA faces with their 40 attributes; ``crop`` then ``size``, RGB or greyscale.

    ``split``: ``official`` (test = CelebA's test partition; train and valid are training) or
    ``random`` (a seeded ``test_fraction`` of the selected images; the partition stays a column).
    """
    root = _existing_path(spec, "celeba", "a folder with img_align_celeba/ and list_attr_celeba.txt")
    attr_path, img_dir = root / "list_attr_celeba.txt", root / "img_align_celeba"
    for p, kind in ((attr_path, "file"), (img_dir, "folder")):
        if not (p.is_file() if kind == "file" else p.is_dir()):
            raise DataError(
                f"celeba: {p} is missing; path must be a folder in CelebA's layout "
                "(img_align_celeba/*.jpg, list_attr_celeba.txt, optionally list_eval_partition.txt)"
            )
    files, attr_names, positive = read_celeba_attributes(attr_path, logger)
    partition, partition_source = celeba_partition(root, files)
    keep = subsample_indices(len(files), spec.get("n"), spec.get("sample", "random"), spec.get("seed", 0))
    crop, size = size_hw(spec.get("crop"), "crop"), size_hw(spec.get("size"), "size")
    grayscale = bool(spec.get("grayscale", False))

    def prepare(img: Image.Image) -> Image.Image:
        # Crop first (cheapest on the large image), convert, then resize in the final mode.
        img = to_mode(centre_crop(img, crop) if crop else img, grayscale)
        return resize(img, size) if size else img

    names = [files[i] for i in keep]
    arrays, good, bad = read_image_files(
        [img_dir / f for f in names], names, prepare, logger, "celeba", 1 if grayscale else 3
    )
    info: dict[str, Any] = {
        "path": str(root),
        "n_listed": len(files),
        "partition_source": partition_source,
        "attributes": attr_names,
    }
    _handle_bad(bad, img_dir, bool(spec.get("skip_bad_files", False)), "celeba", logger, info)
    if len(good) == 0:
        raise DataError(f"celeba: none of the {len(keep)} selected images under {img_dir} could be read")
    rows = keep[good]
    part = partition[rows]
    split_by = spec.get("split", "official")
    if split_by == "official":
        split = np.where(part == "test", "test", "train").astype(object)
    elif split_by == "random":
        # Subsets of CelebA's first images (e.g. 1..10,000) lie wholly in its official train partition.
        split = random_split(len(rows), float(spec.get("test_fraction", 0.2)), int(spec.get("seed", 0)))
    else:
        raise DataError(f"celeba: split must be 'official' or 'random', got {split_by!r}")
    columns: dict[str, Any] = {
        "id": [files[i] for i in rows],
        "split": split,
        "partition": part,
    }
    columns.update({name: positive[rows, j] for j, name in enumerate(attr_names)})
    columns["path"] = [str(img_dir / files[i]) for i in rows]
    samples = pd.DataFrame(columns)
    logger.info(
        "celeba: %d images (%s) of %d listed, partition from %s",
        len(samples), "x".join(map(str, arrays.shape[1:])), len(files), partition_source,
    )  # fmt: skip
    return Dataset(samples=samples, arrays=arrays, info=info)
