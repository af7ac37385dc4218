"""What a dataset entry will produce, known from the config alone: its samples columns and size.

The workflow checks the config before any job (:func:`repgeo.config.check_config`). Keys that
name a column (``color_by``, ``attributes``, ``label``, ...) and counts that must fit the data
(``n_components``, the geometry's neighbourhoods) can only be checked there if the columns and
the number of samples of each dataset are known without preparing it. This module holds that
knowledge, source by source, mirroring what the sources in :mod:`repgeo.data` write to
``samples.parquet``; ``tests/test_bad_values.py`` prepares every source and compares, so the two
cannot drift apart silently.

Column kinds: ``integer``, ``boolean``, ``float``, ``string`` and ``list`` (a list per row).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import registry

Columns = dict[str, str]

SKLEARN_DIGITS_N = 1797
"""Digits in scikit-learn's ``load_digits``."""

# Chart columns of each manifold (the ``param_names`` of its sampler in repgeo.data.manifolds),
# and the manifolds with a boundary, which get an ``interior`` column.
MANIFOLD_CHARTS: dict[str, tuple[str, ...]] = {
    "sphere": ("azimuth", "polar_angle", "height"),
    "torus": ("phi", "theta"),
    "flat_square": ("u", "v"),
    "saddle": ("u", "v"),
    "hyperboloid": ("phi", "z"),
    "ellipsoid": ("azimuth", "polar_angle"),
    "swiss_roll": ("t", "h"),
}
MANIFOLDS_WITH_BOUNDARY = ("flat_square", "saddle", "hyperboloid", "swiss_roll")

_ID = {"id": "string", "split": "string"}
_PHONES = {
    "phones": "string",
    "phone_starts": "list",
    "phone_ends": "list",
    "sibilant": "string",
    "sibilant_start": "integer",
    "sibilant_end": "integer",
}
# Sources whose train/test split is random_split(n, test_fraction, seed) over all their items:
# the test split then has exactly round(test_fraction * n) items.
# Sources whose test split is a seeded test_fraction of the items (repgeo.registry).
_RANDOM_SPLIT = registry.RANDOM_SPLIT


def celeba_attribute_names(spec: Mapping[str, Any], base: str | Path = ".") -> list[str] | None:
    """The attribute names on line 2 of the entry's ``list_attr_celeba.txt``, or None when it
    cannot be read (a missing path is reported by the path check)."""
    path = Path(base) / str(spec.get("path", "")) / "list_attr_celeba.txt"
    try:
        with open(path, encoding="utf-8") as fh:
            fh.readline()
            return fh.readline().split()
    except (OSError, UnicodeDecodeError):
        return None


def dataset_columns(spec: Mapping[str, Any], base: str | Path = ".") -> Columns | None:
    """The columns of ``samples.parquet`` that the dataset entry ``spec`` will have, with their
    kinds, or None where they cannot be known before preparing it (a CelebA folder whose
    attribute file is unreadable, an unknown source). ``base``: the folder relative paths are
    resolved against (the workflow's working directory)."""
    source = spec.get("source")
    if source == "sklearn_digits" or source in ("mnist", "olivetti"):
        return {**_ID, "label": "integer"}
    if source == "lfw_faces":
        return {**_ID, "label": "integer", "face": "boolean"}
    if source == "natural_images":
        cols = {**_ID, "label": "integer", "label_name": "string"}
        if spec.get("mode", "patches") == "patches":
            cols.update(image="string", row="integer", col="integer")
        return cols
    if source == "cifar10":
        return {**_ID, "label": "integer", "label_name": "string"}
    if source == "image_folder":
        return {**_ID, "label": "integer", "label_name": "string", "path": "string"}
    if source == "celeba":
        names = celeba_attribute_names(spec, base)
        if names is None:
            return None
        return {**_ID, "partition": "string", **dict.fromkeys(names, "boolean"), "path": "string"}
    if source == "manifold":
        name = spec.get("manifold")
        if name not in MANIFOLD_CHARTS:
            return None
        cols = {**_ID, "true_dim": "integer", "true_scalar_curvature": "float"}
        # The sphere has a Gaussian curvature only as a surface (S^2).
        if name != "sphere" or (spec.get("dim") or 2) == 2:
            cols["true_gaussian_curvature"] = "float"
        cols.update(dict.fromkeys(MANIFOLD_CHARTS[name], "float"))
        if name in MANIFOLDS_WITH_BOUNDARY:
            cols["interior"] = "boolean"
        return cols
    if source == "dse_toy":
        family = spec.get("family")
        if family in ("uniform", "gaussian"):
            return {**_ID, "true_dim": "integer"}
        if family in ("tree", "blobs"):
            cols = {**_ID, "label": "integer", "true_label": "integer", "corrupted": "boolean"}
            if family == "tree":
                cols["position"] = "integer"
            return cols
        return None
    if source == "array":
        return _array_columns(spec, base)
    if source == "spoken_words":
        return {
            **_ID, "label": "integer", "word": "string", "label_name": "string", "speaker": "string",
            "rate": "integer", "pitch": "integer", "pitch_range": "integer", "n_speech": "integer", **_PHONES,
        }  # fmt: skip
    if source == "fsdd":
        return {
            **_ID, "label": "integer", "digit": "integer", "speaker": "string", "index": "integer",
            "n_speech": "integer", "path": "string",
        }  # fmt: skip
    if source == "timit":
        return {
            **_ID, "label": "integer", "word": "string", "label_name": "string", "speaker": "string",
            "timit_split": "string", "n_speech": "integer", **_PHONES,
        }  # fmt: skip
    return None


def dataset_size(spec: Mapping[str, Any], base: str | Path = ".") -> int | None:
    """The number of samples the dataset entry ``spec`` will have, or None where it depends on
    files (a source read from disk without ``n``, or one that may skip unreadable files; an
    ``array`` file's header gives its row count, except a torch file's)."""
    source = spec.get("source")
    n = spec.get("n")
    if source == "array":
        return int(n) if n is not None else _array_rows(spec, base)
    if source == "sklearn_digits":
        return SKLEARN_DIGITS_N if n is None else int(n)
    if source == "lfw_faces":
        return 100 if spec.get("faces_only", True) else 200
    if source == "natural_images":
        if spec.get("mode", "patches") == "images":
            from .embedded import NATURAL_IMAGES

            return len(spec.get("images") or NATURAL_IMAGES)
        return int(spec.get("n", 5000))
    if source == "manifold":
        return int(spec.get("n", 2000))
    if source == "dse_toy":
        n = int(spec.get("n", 500))
        if spec.get("family") == "tree":
            # random_walk_tree draws n // branches points per branch.
            branches = int(spec.get("branches", 5))
            return (n // branches) * branches if branches >= 1 else None
        return n
    if source == "spoken_words":
        from .audio import WORDS

        return len(spec.get("words", WORDS)) * int(spec.get("tokens_per_word", 60))
    if source in ("mnist", "cifar10", "olivetti", "image_folder", "celeba"):
        # With n, exactly n are kept, unless unreadable files may be skipped.
        return int(n) if n is not None and not spec.get("skip_bad_files", False) else None
    return None


def split_size(spec: Mapping[str, Any], split: str, base: str | Path = ".") -> int | None:
    """Samples of the dataset entry ``spec`` in ``split`` (all, train or test), or None where
    that is unknowable from the config (official splits, splits by speaker or subject, an
    ``array``'s metadata split of a subset)."""
    total = dataset_size(spec, base)
    if total is None or split == "all":
        return total
    source = spec.get("source")
    if source == "array" and spec.get("metadata") is not None:
        given = _array_metadata_split(spec, base)
        if given is None:
            return None
        if given:
            # The metadata's own split: its counts, unless a subset of the rows is kept.
            return given[split] if spec.get("n") is None else None
    random = (
        source in _RANDOM_SPLIT
        or source == "array"  # without a split column in its metadata (above)
        or (source == "spoken_words" and spec.get("split_by", "token") == "token")
        or (source == "celeba" and spec.get("split") == "random")
    )
    if not random:
        return None
    # random_split: exactly int(round(test_fraction * n)) test items.
    test = int(round(float(spec.get("test_fraction", 0.2)) * total))
    return test if split == "test" else total - test


# --- the array source: what its files say ----------------------------------------------------


def _entry_file(spec: Mapping[str, Any], key: str, base: str | Path) -> Path:
    # As the loader resolves it (repgeo.data.arrays: Path(value).expanduser(), relative to the
    # working folder).
    return Path(base) / Path(str(spec[key])).expanduser()


@functools.lru_cache(maxsize=16)
def _metadata_of(path: str, stamp: tuple[int, int]) -> Any:
    # One read per file version (stamp: modification time and size) for all the start checks.
    from .arrays import read_metadata

    return read_metadata(path)


def array_metadata(spec: Mapping[str, Any], base: str | Path = "."):
    """The ``array`` entry's metadata table as its loader reads it (a pandas DataFrame; do not
    modify it, it is shared), or None without ``metadata``. Raises
    :class:`repgeo.data.DataError` when the file is missing or unreadable."""
    from . import DataError

    if spec.get("metadata") is None:
        return None
    path = _entry_file(spec, "metadata", base)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DataError(f"array: metadata {path} cannot be read ({exc.strerror})") from None
    return _metadata_of(str(path), (st.st_mtime_ns, st.st_size))


def _array_rows(spec: Mapping[str, Any], base: str | Path) -> int | None:
    from .arrays import array_rows

    if not spec.get("path"):
        return None
    return array_rows(_entry_file(spec, "path", base), spec.get("key"))


def _array_columns(spec: Mapping[str, Any], base: str | Path) -> Columns | None:
    """id and split, then the metadata's columns with their kinds (None: metadata unreadable)."""
    from . import DataError
    from .arrays import sample_columns

    try:
        meta = array_metadata(spec, base)
    except DataError:
        return None
    if meta is None:
        return dict(_ID)
    return {c: "string" if c in _ID else _kind(meta[c]) for c in sample_columns(list(meta.columns))}


def _array_metadata_split(spec: Mapping[str, Any], base: str | Path) -> dict[str, int] | None:
    """The train and test counts of the metadata's split column, {} when it has none, None when
    the file is unreadable."""
    from . import DataError
    from .arrays import SPLIT

    try:
        meta = array_metadata(spec, base)
    except DataError:
        return None
    if meta is None or SPLIT not in meta.columns:
        return {}
    return {s: int((meta[SPLIT] == s).sum()) for s in ("train", "test")}


def _kind(series: Any) -> str:
    """The column kind (module docstring) of a pandas column as the samples table stores it."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "float"
    import numpy as np

    first = series.dropna().iloc[0] if series.notna().any() else None
    return "list" if isinstance(first, (list, tuple, np.ndarray)) else "string"
