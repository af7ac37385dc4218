"""Population-averaged tests of level and shape differences between curves: GEE with AR(1) within token.

The inference of the Python route of :func:`repgeo.stats.gamm.fit_gamm`. The mean curve is an
unpenalised regression on a fixed cubic B-spline basis in the difference parametrisation of the
GAMM: intercept + level dummies (treatment contrasts) + a centred basis for the reference curve +
the same basis times each non-reference level's indicator (its shape difference). Coefficients are
estimated by generalised estimating equations (Liang & Zeger 1986, Biometrika 73(1)) with a
first-order autoregressive working correlation within each token, and tested with cluster-robust
(sandwich) Wald tests, which stay valid when the working correlation is wrong, e.g. when tokens
also differ by random curves. Statsmodels' GEE does the fitting; the basis and the tests are here.

On a validation design with known truth (:func:`repgeo.stats.gamm.synthetic_design`: Sóskuthy
2021-style difference smooths, a null contrast and AR(1) noise), these tests reached the
conclusions of the full mgcv GAMM; statsmodels' GLMGam
and pygam p-values did not and are not used.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.genmod.cov_struct import Autoregressive
from statsmodels.genmod.generalized_estimating_equations import GEE
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from .splines import centred_basis


@dataclass(frozen=True)
class GeeTests:
    """Cluster-robust Wald tests of a GEE curve model.

    ``parametric``: term, estimate, se, statistic (z), p for the intercept and the level dummies.
    ``shapes``: term, df, statistic (chi2), p for the reference curve (is it flat?) and for each
    level's shape difference from the reference (joint test of its basis coefficients).
    ``ar_parameter`` is the estimated working AR(1) coefficient.
    """

    parametric: pd.DataFrame
    shapes: pd.DataFrame
    ar_parameter: float
    converged: bool


def _wald(beta: np.ndarray, cov: np.ndarray, idx: np.ndarray) -> tuple[float, float]:
    b = beta[idx]
    statistic = float(b @ np.linalg.solve(cov[np.ix_(idx, idx)], b))
    return statistic, float(stats.chi2.sf(statistic, len(idx)))


def gee_curve_tests(
    y: np.ndarray,
    time: np.ndarray,
    level: np.ndarray,
    groups: np.ndarray,
    levels: list[str],
    *,
    df: int = 6,
    factor: str = "factor",
    time_name: str = "time",
    max_iter: int = 100,
) -> GeeTests:
    """Level and shape tests of every level against ``levels[0]`` (the reference).

    ``level`` holds integer codes into ``levels``; ``groups`` the token codes. Rows must be sorted
    by token, then time, with equally spaced samples within a token (the AR(1) working
    correlation is indexed by position). ``df`` is the number of centred cubic B-spline columns per
    curve (df + 1 basis functions minus the sum-to-zero constraint). Term names follow mgcv's
    difference-smooth model: ``<factor>O<level>`` and ``s(<time>)``, ``s(<time>):<factor>O<level>``.
    """
    y = np.asarray(y, dtype=float)
    level = np.asarray(level)
    basis = centred_basis(time, df + 1).design(time)
    n_levels = len(levels)
    dummies = (level[:, None] == np.arange(1, n_levels)[None, :]).astype(float)
    shape_blocks = [basis] + [basis * dummies[:, [j]] for j in range(n_levels - 1)]
    exog = np.column_stack([np.ones(len(y)), dummies, *shape_blocks])
    within = pd.Series(groups).groupby(groups).cumcount().to_numpy()
    model = GEE(y, exog, groups=groups, time=within, cov_struct=Autoregressive(grid=True))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = model.fit(maxiter=max_iter)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    beta = np.asarray(result.params)
    cov = np.asarray(result.cov_robust)
    se = np.sqrt(np.diag(cov))
    names = ["(Intercept)"] + [f"{factor}O{name}" for name in levels[1:]]
    parametric = pd.DataFrame(
        {
            "term": names,
            "estimate": beta[:n_levels],
            "se": se[:n_levels],
            "statistic": beta[:n_levels] / se[:n_levels],
        }
    )
    parametric["p"] = 2 * stats.norm.sf(np.abs(parametric["statistic"]))
    rows = []
    for j, name in enumerate([f"s({time_name})"] + [f"s({time_name}):{factor}O{lv}" for lv in levels[1:]]):
        idx = n_levels + j * df + np.arange(df)
        statistic, p = _wald(beta, cov, idx)
        rows.append({"term": name, "df": df, "statistic": statistic, "p": p})
    return GeeTests(parametric, pd.DataFrame(rows), float(np.ravel(result.cov_struct.dep_params)[0]), converged)
