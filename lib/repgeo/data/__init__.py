"""Data preparation: every source becomes a table of samples plus a float32 array.

Each source is a function ``(spec, logger) -> Dataset`` registered in :data:`SOURCES` under the
name used as ``source:`` in the config. :func:`load_dataset` validates the result against the
artifact contract (unique string ids, a ``split`` column, float32 arrays with one row per sample,
no NaN) so every source is held to the same rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Dataset:
    """A prepared dataset.

    Attributes
    ----------
    samples:
        One row per item: ``id`` (str, unique), ``split`` ("train"/"test"), ``label`` where the
        source has one, and every attribute or ground-truth column.
    arrays:
        float32 array, ``N x ...``: images as ``N x C x H x W`` in [0, 1], points as ``N x D``.
    info:
        JSON-able facts about the preparation (source, shapes, files skipped, ...), logged and
        stored in the parquet metadata.
    """

    samples: pd.DataFrame
    arrays: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


class DataError(ValueError):
    """Bad or unreadable input data; the message names the file or key and the fix."""


class BadFilesError(DataError):
    """One or more input files could not be read; lists every one of them."""

    def __init__(self, dataset_path: str, bad: list[tuple[str, str]]):
        self.bad = bad
        lines = "\n".join(f"  {path}: {reason}" for path, reason in bad)
        super().__init__(
            f"{len(bad)} unreadable file(s) under {dataset_path}:\n{lines}\n"
            "Fix or remove them, or set skip_bad_files: true for this dataset to skip them."
        )


Source = Callable[[Mapping[str, Any], logging.Logger], Dataset]
SOURCES: dict[str, Source] = {}


def register(name: str) -> Callable[[Source], Source]:
    """Decorator that registers a source function under ``name``."""

    def deco(fn: Source) -> Source:
        SOURCES[name] = fn
        return fn

    return deco


def load_dataset(spec: Mapping[str, Any], logger: logging.Logger | None = None) -> Dataset:
    """Prepare the dataset described by a config entry (``spec['source']`` picks the source)."""
    _load_sources()
    logger = logger or logging.getLogger("repgeo")
    source = spec.get("source")
    if source not in SOURCES:
        raise DataError(f"unknown dataset source {source!r}; expected one of {sorted(SOURCES)}")
    ds = SOURCES[source](spec, logger)
    check_dataset(ds)
    ds.info.setdefault("source", source)
    ds.info["n"] = int(ds.arrays.shape[0])
    ds.info["shape"] = list(ds.arrays.shape[1:])
    return ds


def check_dataset(ds: Dataset) -> None:
    """Raise :class:`DataError` if ``ds`` breaks the artifact contract."""
    s, a = ds.samples, ds.arrays
    if a.dtype != np.float32:
        raise DataError(f"arrays must be float32, got {a.dtype}")
    if a.ndim < 2:
        raise DataError(f"arrays must be N x ..., got shape {a.shape}")
    if len(s) != a.shape[0]:
        raise DataError(f"samples has {len(s)} rows but arrays has {a.shape[0]}")
    for col in ("id", "split"):
        if col not in s.columns:
            raise DataError(f"samples lacks the required column {col!r}")
    if not s["id"].is_unique:
        raise DataError("sample ids are not unique")
    bad_split = set(s["split"].unique()) - {"train", "test"}
    if bad_split:
        raise DataError(f"split must be 'train' or 'test', found {sorted(bad_split)}")
    if not np.isfinite(a).all():
        raise DataError("arrays contain NaN or infinite values")


def random_split(n: int, test_fraction: float, seed: int) -> np.ndarray:
    """A seeded train/test assignment of ``n`` items with ``round(test_fraction * n)`` test items."""
    if not 0.0 <= test_fraction < 1.0:
        raise DataError(f"test_fraction must be in [0, 1), got {test_fraction}")
    rng = np.random.default_rng([int(seed), 0x5EED])
    n_test = int(round(test_fraction * n))
    split = np.full(n, "train", dtype=object)
    split[rng.permutation(n)[:n_test]] = "test"
    return split


def subsample_indices(n_total: int, n: int | None, sample: str, seed: int) -> np.ndarray:
    """Indices of the items to keep: all (``n`` None), the first ``n``, or a seeded random ``n``.

    Random picks are returned sorted, so the order of the source is preserved. Asking for more
    items than there are is an error.
    """
    if n is not None and n > n_total:
        # Silently returning fewer items would make a run look like it used what was asked for.
        raise DataError(
            f"n = {n} items were requested but only {n_total} are available; lower n (or set it to null for all)"
        )
    if n is None or n == n_total:
        return np.arange(n_total)
    if n < 1:
        raise DataError(f"n must be at least 1, got {n}")
    if sample == "first":
        return np.arange(n)
    if sample == "random":
        rng = np.random.default_rng([int(seed), 0x5A3])
        return np.sort(rng.choice(n_total, size=n, replace=False))
    raise DataError(f"sample must be 'first' or 'random', got {sample!r}")


def select_samples(samples: pd.DataFrame, split: str = "all", n: int | None = None, seed: int = 0) -> np.ndarray:
    """Row positions of ``samples`` in one split (``all``, ``train``, ``test``), optionally a
    seeded random subset of ``n`` of them (sorted, so the dataset's order is kept)."""
    if split not in ("all", "train", "test"):
        raise DataError(f"split must be 'all', 'train' or 'test', got {split!r}")
    pos = np.arange(len(samples)) if split == "all" else np.flatnonzero(samples["split"].to_numpy() == split)
    if len(pos) == 0:
        raise DataError(f"no samples in split {split!r}")
    return pos[subsample_indices(len(pos), n, "random", seed)]


def _load_sources() -> None:
    # Importing the modules registers their sources.
    from . import arrays, audio, dse_toy, embedded, images, manifolds  # noqa: F401
