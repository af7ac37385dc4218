"""GAMMs of per-token time series (channel-averaged layer activations) compared across levels of a factor.

As in Begus & Zhou (ICASSP 2022, "Interpreting intermediate convolutional layers in unsupervised
acoustic word classification", Table 1 and Figures 3-4), in the phonetics tradition of Soskuthy
(2017 arXiv:1703.05339; 2021 J. Phonetics 84) and Wieling (2018, J. Phonetics 70). One layer at a
time, on a long frame with one row per (token, time):

* difference model: value ~ factor (ordered, treatment contrasts) + s(time) + s(time, by = factor)
  + a random factor smooth per token (mgcv ``bs = "fs", m = 1``; Wood 2017, "Generalized Additive
  Models", 2nd ed., section 5.8) with AR(1) residuals within token. ``s(time):<factor>O<level>`` is
  the level's curve minus the reference's (Wood 2017, section 7.5.2 on by-factor smooths), so its
  test asks whether the shapes differ. Its tables are ``parametric`` and ``smooths``.
* by-level model: value ~ factor + s(time, by = factor) + random smooths + AR(1): fitted curves per
  level (``curves``) and pointwise 95% bands of each level's difference from the reference
  (``differences``, ``intervals``: where the band excludes zero). A level's curve is the mean of its
  tokens' fitted curves, fixed effects plus random smooths: the factor smooths carry no
  identifiability constraint against the by-level smooths (mgcv's ``fs`` sets
  ``side.constrain = FALSE``), so when ``k`` is too small for the curves the tokens' random smooths
  share a common part that the fixed curve offsets, and the fixed effects alone leave the data
  (default run, conv4, "ask": -1.42 where the tokens' mean is 0.18, with rho 0.93).

rho is the lag-1 autocorrelation of the residuals of the by-level model fitted without AR
(``itsadug::start_value_rho``); ``AR.start`` is each token's first row.

Engines: ``"mgcv"`` (trusted: :file:`gamm_mgcv.R` through ``Rscript``, ``bam(method = "fREML")``,
Wood 2013 Biometrika 100(1) smooth tests) and ``"python"`` (when R is absent): the REML + AR(1)
core of :mod:`.reml` on the B-spline bases of :mod:`.splines` for edf, curves and differences, and
the GEE tests of :mod:`.gee` for every p-value. The Python route is a screening route, not
calibrated to mgcv: on 40 simulations of :func:`synthetic_design` its shape tests rejected the
null contrast in 14 (mgcv: 1), its level tests in 2 (mgcv: 1); docs/audio.md has the table,
made by benchmarks/gamm_calibration.py. Report mgcv's p-values.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import shutil
import subprocess
import tempfile
import time as timer
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from ..data import DataError
from .gee import gee_curve_tests
from .reml import fit_reml, lag1_autocorrelation
from .splines import SplineBasis, bspline_design, centred_basis, equispaced_knots, factor_smooth

R_SCRIPT = Path(__file__).with_name("gamm_mgcv.R")
R_MISSING = "R with mgcv not installed: apt-get install r-base-core r-cran-mgcv"
ENGINES = ("auto", "mgcv", "python")
Z_95 = 1.96
_R_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9._]*$")


@functools.cache
def mgcv_available() -> bool:
    """True when ``Rscript`` is on PATH and can load mgcv."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return False
    check = 'quit(status = if (requireNamespace("mgcv", quietly = TRUE)) 0L else 1L)'
    try:
        done = subprocess.run([rscript, "--vanilla", "-e", check], capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@dataclass(frozen=True)
class GammFit:
    """Tables of one layer's GAMM (column meanings in :func:`fit_gamm`) and the settings used.

    ``settings`` holds every argument of the fit plus engine details (mgcv version or the Python
    route's smoothing parameters, scales and GEE working correlation).
    """

    engine: str
    parametric: pd.DataFrame
    smooths: pd.DataFrame
    curves: pd.DataFrame
    differences: pd.DataFrame
    intervals: pd.DataFrame
    rho: float
    n_rows: int
    n_tokens: int
    k: int
    seconds: float
    settings: dict


def synthetic_design(seed: int = 0, rho: float = 0.7, bump: float = 0.35) -> pd.DataFrame:
    """A validation design with known truth (Sóskuthy 2021-style difference smooths and a null contrast).

    4 words x 12 tokens x 64 time points on [0, 1]. Word curves: A = sin 2 pi t; B = A + a
    Gaussian bump of height 0.35 and sd 0.08 at t = 0.5; C = 0.8 cos pi t; D = A exactly (the null
    contrast). Word offsets 0, 0.3, -0.2, 0. Per token a random intercept (sd 0.3) and a random
    sin(pi t) slope (sd 0.25); AR(1) noise with rho = 0.7 and marginal sd 0.6, started from its
    stationary distribution. Columns: token, word, time, value. ``rho`` and ``bump`` change the AR(1)
    coefficient and the bump's height (0: B = A, a second null contrast).
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, 64)
    a = np.sin(2 * np.pi * t)
    curves = {"A": a, "B": a + bump * np.exp(-0.5 * ((t - 0.5) / 0.08) ** 2), "C": 0.8 * np.cos(np.pi * t), "D": a}
    offsets = {"A": 0.0, "B": 0.3, "C": -0.2, "D": 0.0}
    sd = 0.6
    frames = []
    for word, curve in curves.items():
        for i in range(12):
            shocks = rng.normal(0.0, sd * np.sqrt(1 - rho**2), len(t))
            noise = np.empty(len(t))
            noise[0] = rng.normal(0.0, sd)
            for j in range(1, len(t)):
                noise[j] = rho * noise[j - 1] + shocks[j]
            value = curve + offsets[word] + rng.normal(0.0, 0.3) + rng.normal(0.0, 0.25) * np.sin(np.pi * t) + noise
            frames.append(pd.DataFrame({"token": f"{word}{i + 1:02d}", "word": word, "time": t, "value": value}))
    return pd.concat(frames, ignore_index=True)


def significant_intervals(differences: pd.DataFrame) -> pd.DataFrame:
    """Runs of grid points where a difference curve's band excludes zero (Begus & Zhou, Figure 4).

    Columns: level, reference, start, end (grid times of the run's first and last point) and
    direction ("above" or "below" zero).
    """
    rows = []
    for (level, reference), d in differences.groupby(["level", "reference"], sort=False):
        sign = np.where(d["lower"].to_numpy() > 0, 1, np.where(d["upper"].to_numpy() < 0, -1, 0))
        times = d["time"].to_numpy()
        change = np.flatnonzero(np.diff(np.concatenate([[0], sign, [0]])) != 0)
        for a, b in itertools.pairwise(change):
            if sign[a] != 0:
                rows.append(
                    {
                        "level": level,
                        "reference": reference,
                        "start": times[a],
                        "end": times[b - 1],
                        "direction": "above" if sign[a] > 0 else "below",
                    }
                )
    return pd.DataFrame(rows, columns=["level", "reference", "start", "end", "direction"])


def _prepare(
    data: pd.DataFrame,
    factor: str,
    reference: str,
    time: str,
    token: str,
    value: str,
    k: int,
    k_random: int,
    random_smooths: bool,
) -> pd.DataFrame:
    """Validated copy of the four columns, sorted by token then time (the order AR(1) needs)."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame in long format, got {type(data).__name__}")
    columns = {"factor": factor, "token": token, "time": time, "value": value}
    missing = [name for name in columns.values() if name not in data.columns]
    if missing:
        raise ValueError(
            f"data lacks column(s) {missing} (columns present: {list(data.columns)}); "
            "name the right ones with factor=, token=, time=, value="
        )
    d = data[list(columns.values())].copy()
    for name in (time, value):
        numeric = pd.to_numeric(d[name], errors="coerce").astype(float)
        bad = int((~np.isfinite(numeric.to_numpy())).sum())
        if bad:
            raise ValueError(
                f"column '{name}' has {bad} NaN, infinite or non-numeric value(s); "
                "drop or repair those rows before fitting"
            )
        d[name] = numeric
    for name in (factor, token):
        bad = int(d[name].isna().sum())
        if bad:
            raise ValueError(f"column '{name}' has {bad} missing value(s); drop those rows before fitting")
        d[name] = d[name].astype(str)
    levels = sorted(d[factor].unique())
    if len(levels) < 2:
        raise ValueError(f"'{factor}' has {len(levels)} level(s) {levels}; comparing curves needs at least 2")
    if reference not in levels:
        raise ValueError(
            f"reference level {reference!r} is not a level of '{factor}' (levels: {levels}); "
            "pass reference= one of them"
        )
    per_token = d.groupby(token)[factor].nunique()
    mixed = per_token[per_token > 1]
    if len(mixed):
        example = mixed.index[0]
        raise ValueError(
            f"{len(mixed)} token(s) occur under several levels of '{factor}' (e.g. {example!r}: "
            f"{sorted(d.loc[d[token] == example, factor].unique())}); a token is one time series "
            "of one level, so give tokens unique ids (e.g. prefix them with the level)"
        )
    duplicated = d.duplicated([token, time])
    if duplicated.any():
        row = d[duplicated].iloc[0]
        raise ValueError(
            f"{int(duplicated.sum())} (token, time) pair(s) occur more than once (e.g. "
            f"{row[token]!r} at {row[time]}); each token must be a single series: "
            "average or drop the duplicates"
        )
    if k < 4 or (random_smooths and k_random < 4):
        raise ValueError(f"k = {k} and k_random = {k_random} must be at least 4 (cubic spline bases)")
    n_times = d[time].nunique()
    if n_times < k:
        raise ValueError(
            f"k = {k} needs at least {k} distinct values of '{time}', found {n_times}; "
            "lower k or supply more time points"
        )
    if random_smooths:
        shortest = d.groupby(token)[time].size()
        if shortest.min() < k_random:
            raise ValueError(
                f"k_random = {k_random} needs at least {k_random} time points per token; token "
                f"{shortest.idxmin()!r} has {shortest.min()}: lower k_random or drop short tokens"
            )
    d = d.sort_values([token, time], kind="stable").reset_index(drop=True)
    ordered = [reference] + [lv for lv in levels if lv != reference]
    d[factor] = pd.Categorical(d[factor], categories=ordered)
    return d


def fit_gamm(
    data: pd.DataFrame,
    *,
    factor: str = "word",
    reference: str = "ask",
    time: str = "time",
    token: str = "token",
    value: str = "value",
    k: int = 10,
    k_random: int = 5,
    random_smooths: bool = True,
    ar1: bool = True,
    engine: str = "auto",
    grid: int = 100,
    gee_df: int = 6,
) -> GammFit:
    """Fit one layer's GAMM pair (module docstring) and return its tables.

    ``data``: long frame with a token id, the factor (e.g. word), time and the response. ``k``: basis
    size of the fixed smooths (mgcv's k: k - 1 coefficients after centring); ``k_random`` that of
    the per-token random smooths. ``random_smooths = False`` drops them (anti-conservative; kept to
    show why they are needed), ``ar1 = False`` fits independent errors. ``engine``: "auto" (mgcv
    when R with mgcv is installed, else "python"), "mgcv" or "python". ``grid``: number of time
    points of the curves. ``gee_df``: spline columns per curve in the Python route's GEE tests.

    Tables: ``parametric`` (term, estimate, se, statistic, p, test), ``smooths`` (term, edf,
    ref_df, statistic, p, test), ``curves`` (level, time, fit, se: the level's population curve,
    the mean of its tokens' fitted curves; ``settings["shared_random_max"]`` is its largest gap
    from the fixed effects alone, large when ``k`` is too small for the curves),
    ``differences`` (level, reference, time, difference, se, lower, upper: pointwise 95% bands,
    estimate +- 1.96 se), ``intervals`` (:func:`significant_intervals`). With the Python engine
    the parametric rows and the smooth p-values are GEE cluster-robust Wald tests (column
    ``test``; :mod:`.gee`), edf come from the REML fit, and the random smooth has no test.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if grid < 2:
        raise ValueError(f"grid must be at least 2 time points, got {grid}")
    d = _prepare(data, factor, reference, time, token, value, k, k_random, random_smooths)
    if engine == "auto":
        engine = "mgcv" if mgcv_available() else "python"
    elif engine == "mgcv" and not mgcv_available():
        raise RuntimeError(f"engine='mgcv' was requested but {R_MISSING}; or use engine='python'")
    settings = {
        "factor": factor,
        "reference": reference,
        "time": time,
        "token": token,
        "value": value,
        "k": k,
        "k_random": k_random,
        "random_smooths": random_smooths,
        "ar1": ar1,
        "grid": grid,
    }
    started = timer.perf_counter()
    if engine == "mgcv":
        tables, rho, extra = _fit_mgcv(d, settings)
    else:
        tables, rho, extra = _fit_python(d, settings, gee_df)
    return GammFit(
        engine=engine,
        intervals=significant_intervals(tables["differences"]),
        rho=rho,
        n_rows=len(d),
        n_tokens=d[token].nunique(),
        k=k,
        seconds=timer.perf_counter() - started,
        settings={**settings, **extra},
        **tables,
    )


def _fit_mgcv(d: pd.DataFrame, settings: dict) -> tuple[dict[str, pd.DataFrame], float, dict]:
    names = [settings[key] for key in ("factor", "token", "time", "value")]
    awkward = [name for name in names if not _R_NAME.match(name)]
    if awkward:
        raise ValueError(
            f"column name(s) {awkward} are not valid R names, which mgcv's formulas need; "
            "rename them (letters, digits, '.' and '_', starting with a letter)"
        )
    with tempfile.TemporaryDirectory(prefix="repgeo-gamm-") as tmp:
        csv, out = Path(tmp) / "data.csv", Path(tmp) / "out"
        frame = d.copy()
        frame[settings["factor"]] = frame[settings["factor"]].astype(str)
        # 17 significant digits: the R fit sees exactly the doubles the caller passed.
        frame.to_csv(csv, index=False, float_format="%.17g")
        arguments = [f"{key}={str(val).upper() if isinstance(val, bool) else val}" for key, val in settings.items()]
        done = subprocess.run(
            [shutil.which("Rscript"), "--vanilla", str(R_SCRIPT), str(csv), str(out), *arguments],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the mgcv fit failed (Rscript exit {done.returncode}):\n{done.stderr[-3000:]}")
        text = {"level": str, "reference": str}
        tables = {
            name: pd.read_csv(out / f"{name}.csv", dtype=text)
            for name in ("parametric", "smooths", "curves", "differences")
        }
        recorded = pd.read_csv(out / "settings.csv", dtype=str).set_index("key")["value"]
    extra = {
        "mgcv_version": recorded["mgcv_version"],
        "method": recorded["method"],
        "band": recorded["band"],
        "curve": recorded["curve"],
        "shared_random_max": float(recorded["shared_random_max"]),
        "r_seconds": float(recorded["seconds"]),
    }
    return tables, float(recorded["rho"]), extra


@dataclass(frozen=True)
class _Design:
    """Model matrix, embedded penalties and the pieces needed to predict the fixed effects on a grid."""

    X: sparse.csr_matrix
    penalties: list[sparse.csr_matrix]
    terms: dict[str, slice]
    smooths: list[tuple[SplineBasis, int | None]]  # (basis, level code it is switched on for, or all)
    n_fixed: int
    random: tuple[np.ndarray, int] | None  # knots and number of tokens of the random factor smooth

    def population_rows(self, time: np.ndarray, level: int, n_levels: int, tokens: np.ndarray | None) -> np.ndarray:
        """Model-matrix rows of one level's population curve at ``time``.

        The mean over ``tokens`` (the level's token codes) of their fitted curves: fixed effects
        plus each token's random smooth, as :file:`gamm_mgcv.R` (whose
        ``repgeo_gamm_level_curve`` explains why the fixed effects alone can leave the data).
        ``tokens = None``: the fixed effects only (random columns zero).
        """
        parts = [np.ones((len(time), 1)), np.tile(np.arange(1, n_levels) == level, (len(time), 1)).astype(float)]
        for basis, on in self.smooths:
            block = basis.design(time)
            parts.append(block if on is None or on == level else np.zeros_like(block))
        rows = np.hstack(parts)
        if self.random is None:
            return rows
        knots, n_tokens = self.random
        B = bspline_design(time, knots)
        k = B.shape[1]
        random = np.zeros((len(time), n_tokens * k))
        if tokens is not None:
            for code in tokens:
                random[:, code * k : (code + 1) * k] = B / len(tokens)
        return np.hstack([rows, random])

    def token_spread(self, time: np.ndarray, tokens: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Variance over ``tokens`` of their fitted random curves at ``time``, divided by their number.

        Added to the posterior variance of a population curve: the curve is a mean of sampled tokens.
        """
        if self.random is None or len(tokens) < 2:
            return np.zeros(len(time))
        knots, _ = self.random
        B = bspline_design(time, knots)
        k = B.shape[1]
        curves = np.column_stack([B @ beta[self.n_fixed + code * k : self.n_fixed + (code + 1) * k] for code in tokens])
        return curves.var(axis=1, ddof=1) / len(tokens)


def _embed(S: np.ndarray | sparse.spmatrix, start: int, p: int) -> sparse.csr_matrix:
    S = sparse.coo_matrix(S)
    return sparse.csr_matrix((S.data, (S.row + start, S.col + start)), shape=(p, p))


def _design(
    t: np.ndarray,
    level: np.ndarray,
    tok: np.ndarray,
    n_levels: int,
    n_tokens: int,
    names: dict,
    k: int,
    k_random: int,
    random_smooths: bool,
    difference: bool,
) -> _Design:
    """Model matrix and penalties of the difference or by-level model on the B-spline bases.

    Each fixed smooth is centred over the rows it applies to (all rows for s(time), the level's rows
    for a by-level smooth), as mgcv centres by-factor smooths (Wood 2017, section 5.4.1).
    """
    lower, upper = float(t.min()), float(t.max())
    f, tn = names["factor"], names["time"]
    smooths: list[tuple[SplineBasis, int | None]] = []
    labels: list[str] = []
    if difference:
        smooths.append((centred_basis(t, k, lower=lower, upper=upper), None))
        labels.append(f"s({tn})")
    for j in range(0 if not difference else 1, n_levels):
        smooths.append((centred_basis(t[level == j], k, lower=lower, upper=upper), j))
        labels.append(f"s({tn}):{f}O{names['levels'][j]}" if difference else f"s({tn}):{f}{names['levels'][j]}")
    dummies = (level[:, None] == np.arange(1, n_levels)[None, :]).astype(float)
    blocks = [np.ones((len(t), 1)), dummies]
    for basis, on in smooths:
        block = basis.design(t)
        blocks.append(block if on is None else block * (level == on)[:, None])
    fixed = np.hstack(blocks)
    n_fixed = fixed.shape[1]
    random_part, random_penalties = (
        factor_smooth(t, tok, n_tokens, k_random, lower, upper) if random_smooths else (None, [])
    )
    X = sparse.hstack([sparse.csr_matrix(fixed)] + ([random_part] if random_smooths else []), format="csr")
    p = X.shape[1]
    penalties, terms, start = [], {}, n_levels
    for (basis, _), label in zip(smooths, labels, strict=True):
        penalties.append(_embed(basis.penalty(), start, p))
        terms[label] = slice(start, start + basis.n_coef)
        start += basis.n_coef
    if random_smooths:
        penalties += [_embed(S, n_fixed, p) for S in random_penalties]
        terms[f"s({tn},{names['token']})"] = slice(n_fixed, p)
    random = (equispaced_knots(lower, upper, k_random), n_tokens) if random_smooths else None
    return _Design(X, penalties, terms, smooths, n_fixed, random)


def _fit_python(d: pd.DataFrame, settings: dict, gee_df: int) -> tuple[dict[str, pd.DataFrame], float, dict]:
    f, tn, tokn = settings["factor"], settings["time"], settings["token"]
    levels = list(d[f].cat.categories)
    level = d[f].cat.codes.to_numpy()
    tok = pd.factorize(d[tokn])[0]
    t = d[tn].to_numpy()
    y = d[settings["value"]].to_numpy()
    ar_start = np.r_[True, tok[1:] != tok[:-1]]
    names = {"factor": f, "time": tn, "token": tokn, "levels": levels}
    common = {
        "n_levels": len(levels),
        "n_tokens": tok.max() + 1,
        "names": names,
        "k": settings["k"],
        "k_random": settings["k_random"],
        "random_smooths": settings["random_smooths"],
    }
    by_level = _design(t, level, tok, difference=False, **common)
    difference = _design(t, level, tok, difference=True, **common)
    m0 = fit_reml(by_level.X, y, by_level.penalties)
    rho = lag1_autocorrelation(m0.residuals) if settings["ar1"] else 0.0
    m_by = fit_reml(by_level.X, y, by_level.penalties, rho=rho, ar_start=ar_start) if rho else m0
    m_diff = fit_reml(difference.X, y, difference.penalties, rho=rho, ar_start=ar_start)
    tests = gee_curve_tests(y, t, level, tok, levels, df=gee_df, factor=f, time_name=tn)

    parametric = tests.parametric.assign(test="z (GEE AR1, robust Wald)")
    shape = tests.shapes.set_index("term")
    rows = []
    for term, span in difference.terms.items():
        tested = term in shape.index
        rows.append(
            {
                "term": term,
                "edf": float(m_diff.edf[span].sum()),
                "ref_df": float(shape.loc[term, "df"]) if tested else np.nan,
                "statistic": float(shape.loc[term, "statistic"]) if tested else np.nan,
                "p": float(shape.loc[term, "p"]) if tested else np.nan,
                "test": "chi2 (GEE AR1, robust Wald)" if tested else "none",
            }
        )
    smooths = pd.DataFrame(rows)

    grid_t = np.linspace(t.min(), t.max(), settings["grid"])
    beta, vp = m_by.coefficients, m_by.vp
    level_tokens = [np.unique(tok[level == j]) for j in range(len(levels))]
    rows_by_level = [by_level.population_rows(grid_t, j, len(levels), level_tokens[j]) for j in range(len(levels))]
    fixed_only = [by_level.population_rows(grid_t, j, len(levels), None) for j in range(len(levels))]
    spread = [by_level.token_spread(grid_t, level_tokens[j], beta) for j in range(len(levels))]
    shared = max(float(np.abs((R - F) @ beta).max()) for R, F in zip(rows_by_level, fixed_only, strict=True))
    curves = pd.concat(
        [
            pd.DataFrame(
                {"level": lv, "time": grid_t, "fit": R @ beta, "se": np.sqrt(np.einsum("ij,jk,ik->i", R, vp, R) + v)}
            )
            for lv, R, v in zip(levels, rows_by_level, spread, strict=True)
        ],
        ignore_index=True,
    )
    frames = []
    for j in range(1, len(levels)):
        R = rows_by_level[j] - rows_by_level[0]
        diff, se = R @ beta, np.sqrt(np.einsum("ij,jk,ik->i", R, vp, R) + spread[j] + spread[0])
        frames.append(
            pd.DataFrame(
                {
                    "level": levels[j],
                    "reference": levels[0],
                    "time": grid_t,
                    "difference": diff,
                    "se": se,
                    "lower": diff - Z_95 * se,
                    "upper": diff + Z_95 * se,
                }
            )
        )
    extra = {
        "gee_df": gee_df,
        "gee_ar_parameter": tests.ar_parameter,
        "gee_converged": tests.converged,
        "reml_converged": bool(m_by.converged and m_diff.converged),
        "scale": m_diff.scale,
        "sp_difference": m_diff.sp.tolist(),
        "sp_by_level": m_by.sp.tolist(),
        "band": "pointwise 95% (1.96 SE)",
        "curve": "mean of the level's fitted token curves",
        "shared_random_max": shared,
    }
    tables = {
        "parametric": parametric,
        "smooths": smooths,
        "curves": curves,
        "differences": pd.concat(frames, ignore_index=True),
    }
    return tables, float(rho), extra


# --- one GAMM per layer, and the engines' tables side by side ------------------------------------

# Columns of a GAMM input besides its factor (word or sound): one row per layer, token and time.
GAMM_INPUT_COLUMNS = ("layer", "token", "time", "value")
# The tables each engine writes (one row set per layer); the merge adds the significant intervals.
ENGINE_TABLES = ("parametric", "smooths", "curves", "differences", "settings")


def factor_column(data: pd.DataFrame, source: str) -> str:
    """The factor column of a GAMM input (word or sound): the one column besides layer, token, time,
    value (``source`` names the input in the error)."""
    extra = [c for c in data.columns if c not in GAMM_INPUT_COLUMNS]
    if len(extra) != 1 or any(c not in data.columns for c in GAMM_INPUT_COLUMNS):
        raise DataError(
            f"{source} must have the columns {list(GAMM_INPUT_COLUMNS)} and one factor column, found {list(data.columns)}"
        )
    return extra[0]


def fit_layers(
    data: pd.DataFrame,
    *,
    factor: str,
    reference: str | None,
    k: int,
    random_smooths: bool,
    ar1: bool,
    grid: int,
    logger: logging.Logger | None = None,
) -> dict[str, pd.DataFrame]:
    """The Python engine's GAMM (:func:`fit_gamm`) of every layer of a GAMM input (columns
    :data:`GAMM_INPUT_COLUMNS` and ``factor``; ``reference`` None: the first level in the data's
    order), as the tables of :data:`ENGINE_TABLES`, every row with its layer first. The settings
    table holds the fit's settings, engine, rho and sizes, without wall times, so the tables are
    exactly reproducible."""
    reference = reference if reference is not None else data[factor].iloc[0]
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in ENGINE_TABLES}
    for layer, d in data.groupby("layer", sort=False):
        fit = fit_gamm(
            d.drop(columns="layer"),
            factor=factor,
            reference=str(reference),
            k=int(k),
            random_smooths=bool(random_smooths),
            ar1=bool(ar1),
            grid=int(grid),
            engine="python",
        )
        if logger is not None:
            logger.info(
                "%s: python GAMM of %d rows, %d tokens, rho %.3f, %.1f s",
                layer,
                fit.n_rows,
                fit.n_tokens,
                fit.rho,
                fit.seconds,
            )
        record = {
            k: v
            for k, v in {
                **fit.settings,
                "engine": fit.engine,
                "rho": fit.rho,
                "n_rows": fit.n_rows,
                "n_tokens": fit.n_tokens,
            }.items()
            if not k.endswith("seconds")
        }
        tables = {
            "parametric": fit.parametric,
            "smooths": fit.smooths,
            "curves": fit.curves,
            "differences": fit.differences,
            "settings": pd.DataFrame({"key": list(record), "value": [str(v) for v in record.values()]}),
        }
        for name, table in tables.items():
            parts[name].append(table.assign(layer=layer)[["layer", *table.columns]])
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}


def merge_engines(tables: Mapping[str, Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """The tables of several engines ({engine: {table: frame}}, each with a layer column) stacked
    with an ``engine`` column first, plus ``intervals``: the :func:`significant_intervals` of every
    engine's and layer's difference curves (columns engine, layer, level, reference, start, end,
    direction)."""
    merged: dict[str, list[pd.DataFrame]] = {t: [] for t in ENGINE_TABLES}
    for engine, by_table in tables.items():
        for table in ENGINE_TABLES:
            df = by_table[table].copy()
            df.insert(0, "engine", engine)
            merged[table].append(df)
    out = {t: pd.concat(v, ignore_index=True) for t, v in merged.items()}
    out["intervals"] = pd.concat(
        [
            significant_intervals(d.drop(columns=["engine", "layer"])).assign(engine=e, layer=layer)
            for (e, layer), d in out["differences"].groupby(["engine", "layer"], sort=False)
        ],
        ignore_index=True,
    )[["engine", "layer", "level", "reference", "start", "end", "direction"]]
    return out
