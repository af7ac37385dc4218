"""Input validation shared by the entropy measures: clear errors that name the argument and the fix."""

from __future__ import annotations

import math
import numbers
import random

import numpy as np

from .._validation import as_samples

# Precisions of the dense eigensolver; eigenvalues are always returned (and cached) in float64.
DTYPES = {"float64": np.float64, "float32": np.float32}


def as_embedding(Z, name: str = "Z", min_rows: int = 2) -> np.ndarray:
    """``Z`` (array or torch tensor, n x D) as a float64 numpy array, checked
    (:func:`repgeo._validation.as_samples`; rows are samples)."""
    return as_samples(Z, name, min_rows, "drop or impute them before computing entropies")


def check_t(t) -> float:
    """The diffusion time t: a finite number > 0 (integers in the reference; any positive real here)."""
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(t) or t <= 0:
        raise ValueError(f"t must be a finite number > 0 (the diffusion time; the reference uses 1), got {t!r}")
    return float(t)


def check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_dtype(dtype) -> type:
    try:
        key = np.dtype(dtype).name
    except TypeError:
        key = None
    if key not in DTYPES:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    return DTYPES[key]


def subsample_indices(n: int, max_n: int | None, seed: int) -> np.ndarray | None:
    """Indices of ``max_n`` rows drawn without replacement, or None when all n rows are kept.

    The draw follows the reference's documented protocol (Python's ``random`` seeded with
    ``seed``, a sample of ``max_n`` positions of ``range(n)``), so the same rows are kept; a
    private ``random.Random`` is used so the global generator is left alone. The entropy does
    not depend on row order, so the indices are sorted (sequential reads).
    """
    if max_n is None:
        return None
    max_n = check_int(max_n, "max_n", 2)
    if n <= max_n:
        return None
    return np.sort(np.array(random.Random(seed).sample(range(n), max_n), dtype=np.int64))


def check_device(device: str) -> str:
    """'cpu' (numpy), 'cuda' / 'cuda:N' (torch on a GPU), 'auto' (a GPU when torch sees one), or
    'torch-cpu' (the torch code path on the CPU, for tests)."""
    device = str(device)
    if device == "auto":
        from repgeo.runtime import resolve_device

        return resolve_device("auto")
    if device in ("cpu", "torch-cpu") or device.startswith("cuda"):
        return device
    raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N', 'auto' or 'torch-cpu', got {device!r}")
