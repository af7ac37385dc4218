"""Input checks shared by several packages (settings dataclasses, sample matrices): one wording for one
mistake, naming the argument and the fix."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np


def check_known_fields(cls: type, d: dict[str, Any], what: str) -> None:
    """Refuse keys of ``d`` that are not fields of the dataclass ``cls`` (a misspelt setting would
    otherwise be a TypeError from the constructor, or be silently dropped); ``what`` names the
    settings in the message."""
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)}; known: {sorted(names)}")


def as_samples(Z, name: str, min_rows: int, nonfinite_hint: str) -> np.ndarray:
    """``Z`` (array or torch tensor, n x D) as a float64 numpy array, checked.

    Rows are samples. A 1-D array is refused rather than guessed (it could be n samples of one
    feature or one sample of n features). ``nonfinite_hint`` ends the message on rows with NaN or
    inf (what the caller should do about them).
    """
    if hasattr(Z, "detach"):
        Z = Z.detach().cpu().numpy()
    Z = np.asarray(Z)
    if Z.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {Z.dtype}")
    if Z.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D (n samples x D features), got a 1-D array of shape {Z.shape}; "
            f"use {name}.reshape(-1, 1) for a single feature"
        )
    if Z.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n samples x D features), got shape {Z.shape}; flatten the feature axes first"
        )
    if Z.shape[1] == 0:
        raise ValueError(f"{name} has no features (shape {Z.shape})")
    if Z.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples (rows), got {Z.shape[0]}")
    Z = np.asarray(Z, dtype=np.float64)
    bad = ~np.isfinite(Z).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{name} has {len(rows)} row(s) with NaN or inf (first: row {rows[0]}); {nonfinite_hint}")
    return Z
