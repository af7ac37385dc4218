"""Summaries of the pointwise estimates of Jones 2024's diffusion geometry (and its baselines).

The summary table of a geometry run has one row per method; these functions compute its
numbers from the pointwise fields: quantiles of the scalar curvature (:func:`curvature_summary`)
and, where the samples carry ground truth (the ``manifold`` source's ``true_scalar_curvature``,
``true_dim`` and ``interior`` columns), the errors against it (:func:`accuracy_against_truth`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Quantiles of the scalar curvature reported per method.
CURVATURE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: ``bias_percent`` is reported only where the true mean curvature is at least this fraction of
#: its spread away from 0 (a torus averages to 0, where a percentage means nothing).
MEANINGFUL_MEAN = 0.05


def curvature_summary(S: np.ndarray) -> dict[str, float]:
    """Mean, sd, the :data:`CURVATURE_QUANTILES` and the fraction of negative values of a
    scalar-curvature field."""
    q = np.quantile(S, list(CURVATURE_QUANTILES))
    return {
        "curvature_mean": float(np.mean(S)),
        "curvature_sd": float(np.std(S)),
        "curvature_q05": float(q[0]),
        "curvature_q25": float(q[1]),
        "curvature_median": float(q[2]),
        "curvature_q75": float(q[3]),
        "curvature_q95": float(q[4]),
        "fraction_negative": float(np.mean(S < 0)),
    }


def accuracy_against_truth(
    S: np.ndarray | None, dims: np.ndarray | None, samples: pd.DataFrame, boundary: np.ndarray | None
) -> dict[str, float]:
    """Errors of a curvature field ``S`` and a pointwise dimension field ``dims`` against the
    ground-truth columns of ``samples`` (either may be None; columns that are absent give no
    entries): curvature bias (absolute and in percent of the true mean), MAE, RMSE and
    correlation; the fraction of correct rounded dimensions, overall, on interior points and on
    points not flagged as ``boundary``."""
    out: dict[str, float] = {}
    if S is not None and "true_scalar_curvature" in samples:
        t = samples["true_scalar_curvature"].to_numpy(dtype=np.float64)
        out["true_curvature_mean"] = float(t.mean())
        out["bias"] = float(S.mean() - t.mean())
        meaningful = abs(t.mean()) > MEANINGFUL_MEAN * max(t.std(), 1e-12) or t.std() == 0 and t.mean() != 0
        out["bias_percent"] = float(100 * (S.mean() - t.mean()) / abs(t.mean())) if meaningful else float("nan")
        out["mae"] = float(np.mean(np.abs(S - t)))
        out["rmse"] = float(np.sqrt(np.mean((S - t) ** 2)))
        out["correlation"] = float(np.corrcoef(S, t)[0, 1]) if t.std() > 0 and S.std() > 0 else float("nan")
    if dims is not None and "true_dim" in samples:
        ok = np.round(dims) == samples["true_dim"].to_numpy()
        out["dimension_fraction_correct"] = float(ok.mean())
        if "interior" in samples:
            out["dimension_fraction_correct_interior"] = float(ok[samples["interior"].to_numpy(bool)].mean())
        if boundary is not None and boundary.any():
            out["dimension_fraction_correct_unflagged"] = float(ok[~boundary].mean())
    return out
