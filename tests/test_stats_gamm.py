"""GAMM statistics (repgeo.stats): spline bases, AR(1) prewhitening, the REML core, both engines.

Expected behaviour (a validation of this project with R mgcv, in the style of Sóskuthy 2021 and
Wieling 2018): on the synthetic design (repgeo.stats.gamm.synthetic_design) the identical word D is
not significant and the different word C is, in both engines; without token random smooths mgcv
flags D; the Python REML core reproduces mgcv's fit when given mgcv's basis. Independent
computations: closed-form integrals and adaptive quadrature for the penalties, the Cholesky factor
of the AR(1) correlation matrix, statsmodels' acf, and a mixed-model (Harville) REML likelihood
maximised by brute force.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from repgeo.stats import (
    ar1_transform,
    fit_gamm,
    fit_reml,
    gamm,
    lag1_autocorrelation,
    mgcv_available,
    significant_intervals,
    synthetic_design,
)
from repgeo.stats.gamm import R_MISSING, R_SCRIPT
from repgeo.stats.splines import (
    bspline_design,
    centred_basis,
    derivative_penalty,
    equispaced_knots,
)
from scipy import integrate, linalg, optimize
from scipy.interpolate import BSpline
from statsmodels.tsa.stattools import acf
from threadpoolctl import threadpool_limits

needs_r = pytest.mark.skipif(not mgcv_available(), reason=R_MISSING)
SEED = 1  # see test_mgcv_without_random_smooths_flags_the_identical_word
ALPHA = 0.05


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    # The test machine's cores are shared: oversubscribed BLAS threads make dense algebra crawl.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def design() -> pd.DataFrame:
    return synthetic_design(SEED)


@pytest.fixture(scope="module")
def python_fit(design):
    return fit_gamm(design, reference="A", engine="python")


@pytest.fixture(scope="module")
def mgcv_fit(design):
    if not mgcv_available():
        pytest.skip(R_MISSING)
    return fit_gamm(design, reference="A", engine="mgcv")


def shape_p(fit, word: str) -> float:
    return float(fit.smooths.set_index("term").loc[f"s(time):wordO{word}", "p"])


# --- splines -------------------------------------------------------------------------------------


def test_basis_reproduces_a_cubic_and_its_penalties_match_the_integrals():
    x = np.linspace(-1.0, 2.0, 61)
    knots = equispaced_knots(-1.0, 2.0, 9)
    cubic = np.polynomial.Polynomial([1.0, 2.0, -0.5, 0.7])
    coef, *_ = np.linalg.lstsq(bspline_design(x, knots), cubic(x), rcond=None)
    assert np.abs(bspline_design(x, knots) @ coef - cubic(x)).max() < 1e-12
    for order in (1, 2):
        exact = (cubic.deriv(order) ** 2).integ()
        assert coef @ derivative_penalty(knots, order) @ coef == pytest.approx(exact(2.0) - exact(-1.0), rel=1e-12)
    # An arbitrary spline against adaptive quadrature between the knots.
    c = np.random.default_rng(1).normal(size=9)
    f2 = BSpline(knots, c, 3).derivative(2)
    quad = integrate.quad(lambda t: f2(t) ** 2, -1.0, 2.0, points=knots[3:-3], limit=200, epsabs=1e-13)[0]
    assert c @ derivative_penalty(knots, 2) @ c == pytest.approx(quad, rel=1e-10)


def test_centred_basis_sums_to_zero_on_the_data():
    x = np.random.default_rng(2).uniform(0, 1, 200)
    basis = centred_basis(x, 10)
    X = basis.design(x)
    assert X.shape == (200, 9)
    assert np.abs(X.sum(axis=0)).max() < 1e-10
    # Second-derivative penalty: of its null space (constants, lines) the centring leaves the line only.
    assert np.linalg.matrix_rank(basis.penalty()) == 8


# --- AR(1) prewhitening ----------------------------------------------------------------------------


def test_ar1_transform_is_the_inverse_cholesky_factor_within_each_series():
    rho, lengths = 0.63, (7, 5)
    start = np.concatenate([np.eye(1, n, 0, dtype=bool).ravel() for n in lengths])
    W = ar1_transform(rho, start).toarray()
    blocks = []
    for n in lengths:
        lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
        blocks.append(np.linalg.inv(np.linalg.cholesky(rho**lag)))
    np.testing.assert_allclose(W, linalg.block_diag(*blocks), atol=1e-13)


def test_prewhitening_an_ar1_series_gives_white_residuals():
    rng = np.random.default_rng(3)
    n, rho, sd = 20_000, 0.7, 0.6
    e = np.empty(n)
    e[0] = rng.normal(0, sd)
    shocks = rng.normal(0, sd * np.sqrt(1 - rho**2), n)
    for t in range(1, n):
        e[t] = rho * e[t - 1] + shocks[t]
    assert lag1_autocorrelation(e) == pytest.approx(acf(e, nlags=1)[1], abs=1e-12)
    assert lag1_autocorrelation(e) == pytest.approx(rho, abs=0.02)
    start = np.zeros(n, dtype=bool)
    start[0] = True
    white = ar1_transform(rho, start) @ e
    assert np.abs(acf(white, nlags=5)[1:]).max() < 3 / np.sqrt(n)
    assert white.std() == pytest.approx(sd, rel=0.03)


# --- REML core -------------------------------------------------------------------------------------


def harville_reml_fit(y, X0, Z):
    """Mixed-model REML for y = X0 b + Z u + e, u ~ N(0, phi/lam I), e ~ N(0, phi I), brute force on n x n."""
    n, p0 = X0.shape

    def minus_two_loglik(log_lam):
        sigma = np.eye(n) + Z @ Z.T / np.exp(log_lam)
        c = linalg.cho_factor(sigma)
        si_x = linalg.cho_solve(c, X0)
        b = np.linalg.solve(X0.T @ si_x, si_x.T @ y)
        r = y - X0 @ b
        phi = r @ linalg.cho_solve(c, r) / (n - p0)
        return ((n - p0) * np.log(phi) + 2 * np.log(np.diag(c[0])).sum() + np.linalg.slogdet(X0.T @ si_x)[1]), phi

    best = optimize.minimize_scalar(
        lambda t: minus_two_loglik(t)[0], bounds=(-15, 15), method="bounded", options={"xatol": 1e-9}
    )
    return best.x, minus_two_loglik(best.x)[1]


def test_reml_on_one_smooth_matches_a_brute_force_mixed_model_reml():
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(0, 1, 150))
    y = np.sin(2 * np.pi * x) + 0.5 * x + rng.normal(0, 0.3, len(x))
    basis = centred_basis(x, 12)
    X = np.column_stack([np.ones(len(x)), basis.design(x)])
    S = linalg.block_diag(0.0, basis.penalty())
    fit = fit_reml(X, y, [S])
    assert fit.converged
    # Mixed-model form: the penalty's range space is the random effect, its null space fixed.
    values, vectors = np.linalg.eigh(S)
    pen = values > values.max() * 1e-10
    Z = X @ vectors[:, pen] / np.sqrt(values[pen])
    X0 = X @ vectors[:, ~pen]
    log_lam, phi = harville_reml_fit(y, X0, Z)
    assert np.log(fit.sp[0]) == pytest.approx(log_lam, abs=1e-4)
    assert fit.scale == pytest.approx(phi, rel=1e-5)
    direct = X @ np.linalg.solve(X.T @ X + np.exp(log_lam) * S, X.T @ y)
    assert np.abs(fit.fitted - direct).max() < 1e-5
    assert 4 < fit.edf.sum() < 11


MGCV_EXPORT = r"""
source("{script}")
out <- repgeo_gamm_fit("{csv}", NULL, factor = "word", reference = "A")
m <- out$models$difference
X <- predict(m, type = "lpmatrix")
writeBin(as.vector(X), "{tmp}/X.bin")
writeBin(as.vector(m$y), "{tmp}/y.bin")
writeBin(as.vector(m$fitted.values), "{tmp}/fitted.bin")
d <- repgeo_gamm_prepare("{csv}", modifyList(repgeo_gamm_defaults, list(reference = "A")))
writeBin(as.numeric(d$.ar_start), "{tmp}/start.bin")
S <- list()
for (s in m$smooth) for (j in seq_along(s$S)) {{
  idx <- s$first.para:s$last.para
  S[[length(S) + 1]] <- cbind(length(S) + 1, expand.grid(idx, idx), as.vector(s$S[[j]]))
}}
write.table(do.call(rbind, S), "{tmp}/S.txt", row.names = FALSE, col.names = FALSE)
writeLines(format(c(ncol(X), m$AR1.rho, m$sig2, m$sp), digits = 17), "{tmp}/scalars.txt")
"""


@needs_r
def test_reml_core_reproduces_mgcv_bam_on_mgcv_basis(design, tmp_path):
    csv = tmp_path / "design.csv"
    design.to_csv(csv, index=False, float_format="%.17g")
    script = MGCV_EXPORT.format(script=R_SCRIPT, csv=csv, tmp=tmp_path)
    subprocess.run(["Rscript", "--vanilla", "-e", script], check=True, capture_output=True)
    scalars = np.loadtxt(tmp_path / "scalars.txt")
    p, rho, scale, sp = int(scalars[0]), scalars[1], scalars[2], scalars[3:]
    X = np.fromfile(tmp_path / "X.bin").reshape(p, -1).T
    y, fitted = np.fromfile(tmp_path / "y.bin"), np.fromfile(tmp_path / "fitted.bin")
    start = np.fromfile(tmp_path / "start.bin").astype(bool)
    table = np.loadtxt(tmp_path / "S.txt")
    penalties = []
    for j in range(1, int(table[:, 0].max()) + 1):
        rows = table[table[:, 0] == j]
        S = np.zeros((p, p))
        S[rows[:, 1].astype(int) - 1, rows[:, 2].astype(int) - 1] = rows[:, 3]
        penalties.append(S)
    fit = fit_reml(X, y, penalties, rho=rho, ar_start=start)
    assert fit.converged
    assert np.abs(fit.fitted - fitted).max() < 1e-5
    assert fit.scale == pytest.approx(scale, rel=1e-4)
    # Smoothing parameters that REML leaves finite agree; those mgcv drives to ~infinity stay huge.
    finite = sp < 1e4 * np.median(sp)
    np.testing.assert_allclose(np.log(fit.sp[finite]), np.log(sp[finite]), atol=0.02)
    assert np.all(fit.sp[~finite] > 1e3 * np.median(sp))


# --- the validation design: both engines ------------------------------------------------------------


def test_synthetic_design_is_the_note_c5_layout(design):
    assert design.shape == (4 * 12 * 64, 4)
    assert design.groupby("word")["token"].nunique().tolist() == [12, 12, 12, 12]
    assert design.groupby("token")["time"].apply(lambda t: np.allclose(t, np.linspace(0, 1, 64))).all()


def test_python_engine_calls_identical_word_null_and_different_word_significant(python_fit):
    assert python_fit.engine == "python"
    assert shape_p(python_fit, "D") > ALPHA
    assert shape_p(python_fit, "C") < ALPHA
    assert 0 < python_fit.rho < 0.7  # random smooths absorb part of the true 0.7 (mgcv's bam: 0.53)
    assert python_fit.settings["reml_converged"]
    _check_tables(python_fit)


@needs_r
def test_mgcv_engine_calls_identical_word_null_and_different_word_significant(mgcv_fit, python_fit):
    assert mgcv_fit.engine == "mgcv"
    assert shape_p(mgcv_fit, "D") > ALPHA
    assert shape_p(mgcv_fit, "C") < ALPHA
    assert 0 < mgcv_fit.rho < 0.7
    _check_tables(mgcv_fit)
    # Both engines estimate the same population curves (different bases, same model).
    curves = mgcv_fit.curves.merge(python_fit.curves, on=["level", "time"], suffixes=("_r", "_py"))
    assert np.abs(curves["fit_r"] - curves["fit_py"]).max() < 0.5 * curves["se_r"].median()
    assert mgcv_fit.rho == pytest.approx(python_fit.rho, abs=0.05)


def _check_tables(fit):
    assert list(fit.parametric["term"]) == ["(Intercept)", "wordOB", "wordOC", "wordOD"]
    assert list(fit.smooths["term"][:4]) == ["s(time)", "s(time):wordOB", "s(time):wordOC", "s(time):wordOD"]
    assert fit.curves.groupby("level").size().to_dict() == {w: 100 for w in "ABCD"}
    assert (fit.differences["reference"] == "A").all()
    assert np.allclose(fit.differences["upper"] - fit.differences["lower"], 2 * 1.96 * fit.differences["se"])
    # C = 0.8 cos(pi t) - 0.2 lies below A = sin(2 pi t) on the first half: a significant interval there.
    below = fit.intervals[(fit.intervals["level"] == "C") & (fit.intervals["direction"] == "below")]
    assert ((below["start"] < 0.3) & (below["end"] > 0.4)).any()
    assert (fit.n_rows, fit.n_tokens, fit.k) == (3072, 48, 10)


@needs_r
def test_mgcv_without_random_smooths_flags_the_identical_word(design):
    fit = fit_gamm(design, reference="A", engine="mgcv", random_smooths=False, ar1=False)
    assert shape_p(fit, "D") < ALPHA
    assert "s(time,token)" not in set(fit.smooths["term"])


def test_significant_intervals_are_runs_of_bands_excluding_zero():
    t = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    differences = pd.DataFrame(
        {
            "level": "B",
            "reference": "A",
            "time": t,
            "lower": [0.1, 0.2, -0.1, -0.5, -0.4, -0.2],
            "upper": [0.5, 0.6, 0.3, -0.1, -0.2, 0.1],
        }
    )
    runs = significant_intervals(differences)
    assert runs[["start", "end", "direction"]].values.tolist() == [[0.0, 0.2, "above"], [0.6, 0.8, "below"]]


# --- input validation --------------------------------------------------------------------------------


def _small() -> pd.DataFrame:
    return synthetic_design(SEED).query("token in ['A01', 'A02', 'B01', 'B02']").reset_index(drop=True)


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda d: d.drop(columns="value"), {}, r"lacks column\(s\) \['value'\].*value="),
        (lambda d: d.assign(value=d["value"].where(d.index != 5)), {}, r"'value' has 1 NaN.*drop or repair"),
        (lambda d: d.assign(time=d["time"].replace(1.0, np.inf)), {}, r"'time' has 4 NaN, infinite"),
        (lambda d: d.assign(word="A"), {}, r"has 1 level\(s\).*at least 2"),
        (lambda d: d, {"reference": "ask"}, r"reference level 'ask' is not a level of 'word'.*\['A', 'B'\]"),
        (lambda d: d.assign(token=d["token"].str[1:]), {}, r"token\(s\) occur under several levels.*unique ids"),
        (lambda d: pd.concat([d, d.iloc[:1]]), {}, r"\(token, time\) pair\(s\) occur more than once"),
        (lambda d: d[d["time"] < 0.1], {}, r"k = 10 needs at least 10 distinct values of 'time', found 7; lower k"),
        (lambda d: d[(d["token"] != "A01") | (d["time"] < 0.05)], {}, r"k_random = 5 .* token 'A01' has 4"),
        (lambda d: d, {"engine": "fast"}, r"engine must be one of"),
    ],
)
def test_invalid_input_is_named_with_its_fix(change, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_gamm(change(_small()), **{"reference": "A", "engine": "python", **kwargs})


def test_asking_for_mgcv_without_r_names_the_debian_packages(monkeypatch):
    monkeypatch.setattr(gamm, "mgcv_available", lambda: False)
    with pytest.raises(RuntimeError, match="apt-get install r-base-core r-cran-mgcv"):
        fit_gamm(_small(), reference="A", engine="mgcv")
    assert Path(R_SCRIPT).is_file()
