"""Data-preparation stage: one dataset to ``samples.parquet`` + ``arrays.pt`` (rules
``prepare_data`` and ``data_overview``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError, load_dataset, select_samples
from ..html import html_page, html_table

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


def prepare_data(*, spec: Spec, samples: str, arrays: str) -> dict[str, Any]:
    """Prepare one dataset: ``samples.parquet`` (one row per item) and ``arrays.pt`` (float32)."""
    ds = load_dataset(spec, logger)
    logger.info(
        "prepared %d samples of shape %s; columns: %s",
        ds.arrays.shape[0],
        list(ds.arrays.shape[1:]),
        list(ds.samples.columns),
    )
    io.save_tensor(ds.arrays, arrays)
    io.write_parquet(ds.samples, samples, metadata={"spec": dict(spec), "info": ds.info})
    return ds.info


def load_selection(arrays_path: str, samples_path: str, spec: Spec) -> tuple[np.ndarray, pd.DataFrame]:
    """The rows of a prepared dataset chosen by an entry's ``split``, ``n`` and ``seed``, as N x D."""
    samples = io.read_parquet(samples_path)
    arrays = io.load_tensor(arrays_path, mmap=True)
    if arrays.shape[0] != len(samples):
        raise DataError(
            f"{arrays_path} has {arrays.shape[0]} rows but {samples_path} has {len(samples)}: "
            "the data stage's outputs are out of step; rerun it (snakemake --forcerun prepare_data)"
        )
    pos = select_samples(samples, spec["split"], spec["n"], spec["seed"])
    X = arrays.numpy().reshape(arrays.shape[0], -1)
    if len(pos) < len(samples):
        X = X[pos]
        samples = samples.iloc[pos].reset_index(drop=True)
    if not np.isfinite(X).all():
        raise DataError(f"{arrays_path} contains NaN or infinite values; rerun the data stage")
    logger.info(
        "selected %d of the dataset's samples (split=%s, n=%s), dimension %d",
        len(pos),
        spec["split"],
        spec["n"],
        X.shape[1],
    )
    return X, samples


def data_overview(*, names: Sequence[str], samples: Sequence[str], html: str) -> None:
    """HTML table of every prepared dataset: source, size, array shape, split sizes, columns."""
    rows = []
    for name, path in zip(names, samples, strict=True):
        s = io.read_parquet(path)
        info = io.read_parquet_metadata(path).get("info", {})
        rows.append(
            {
                "dataset": name,
                "source": info.get("source"),
                "n": len(s),
                "train": int((s["split"] == "train").sum()),
                "test": int((s["split"] == "test").sum()),
                "array shape": "x".join(map(str, info.get("shape", []))),
                "skipped files": info.get("skipped_files", 0),
                "columns": ", ".join(c for c in s.columns if c not in ("id", "split"))[:300],
            }
        )
    io.write_text(html_page("datasets", html_table(pd.DataFrame(rows), "prepared datasets")), html)
