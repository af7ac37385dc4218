"""Toy validations of DSE and DSMI as tidy tables (Liao, Liu et al., CISS 2024, arXiv 2312.04823).

The paper validates its measures on synthetic data before using them on networks; each function
here runs one of those experiments over a grid and returns a long ("tidy") DataFrame with one
row per cell, ready for :mod:`repgeo.entropy.figures` and for tables:

- :func:`dimension_sweep` -- DSE and the binned Shannon entropy (CSE) against the intrinsic
  dimension d of noisy subspace data (after the authors' toy scripts in
  ChenLiu-1996/DiffusionSpectralEntropy, ``src/manifold_investigation/toy_data_entropy.py`` and
  ``toy_entropy_comparison.py``);
- :func:`spd_identity_sweep` -- DSE of a random positive definite matrix (scikit-learn's
  ``make_spd_matrix``, the paper's Figure 3A) mixed with the identity: the entropy rises
  monotonically from about 3.8 bits to log2 n at the identity;
- :func:`tree_corruption_sweep` -- DSMI, CSMI and a kNN MI estimate between random-walk-tree
  points and their branch labels under label corruption, against the true MI (after
  ``src/manifold_investigation/toy_data_MI.py`` and ``src/comparison/compare_toy_tree.py`` of
  the same repository);
- :func:`runtime_sweep` -- wall time of DSE (the reference's recipe, float64, float32, the SLQ
  large-n path) and of the baselines against n, on uniform data of intrinsic dimension 50.

:func:`reference_recipe_dse` is the dense float64 pipeline of the reference, used only as the
timing baseline. Data come from :mod:`repgeo.data.dse_toy`. Every entropy and MI is in bits.
"""

from __future__ import annotations

import copy
import math
import numbers
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from repgeo.data.dse_toy import (
    add_uniform_noise,
    corrupt_labels,
    random_walk_tree,
    subspace_data,
)

from ._checks import as_embedding, check_int, check_t
from .dse import diffusion_spectral_entropy, diffusion_spectrum, entropy_from_spectrum
from .dsmi import diffusion_spectral_mutual_information
from .shannon import (
    classic_shannon_entropy,
    classic_shannon_mutual_information,
    knn_mutual_information,
)
from .slq import slq_diffusion_spectral_entropy

FAMILIES = ("uniform", "gaussian")
RUNTIME_METHODS = ("reference_recipe", "float64", "float32", "cse", "knn_mi")
# Unit of the `value` column of runtime_sweep, per method.
QUANTITY = {
    "reference_recipe": "dse bits",
    "float64": "dse bits",
    "float32": "dse bits",
    "slq": "dse bits",
    "cse": "cse bits",
    "knn_mi": "mi bits",
}
# Timing data: uniform on 50 intrinsic dimensions plus 1 % noise.
RUNTIME_DIM = 50
RUNTIME_NOISE = 0.01
# Groups of the kNN-MI timing target (its first coordinate cut into equal-width bins, the DSMI
# rule for a continuous scalar in dse_dsmi/dsmi.py).
RUNTIME_KNN_BINS = 10
# Rows of the untimed warm-up call per method: above SLQ's 64 graph neighbours and 32 deflated
# eigenvalues, small enough to cost well under a second.
WARMUP_ROWS = 256

Progress = Callable[[str], object] | None


# --- validation ---------------------------------------------------------------------------------


def _sequence(values, name: str, allow_empty: bool = False) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray):
        # ValueError for every bad argument of a sweep, wrong type included: one error to catch.
        raise ValueError(f"{name} must be a sequence of values (e.g. a tuple), got {values!r}")  # noqa: TRY004
    values = tuple(values)
    if not values and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} has repeated entries: {values!r}")
    return values


def _ints(values, name: str, minimum: int, allow_empty: bool = False) -> tuple[int, ...]:
    return tuple(check_int(v, f"every entry of {name}", minimum) for v in _sequence(values, name, allow_empty))


def _real(value, what: str, low: float, high: float = math.inf, low_open: bool = False) -> float:
    inside = low < value if low_open else low <= value
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (math.isfinite(value) and inside and value <= high)
    ):
        bounds = f"{'>' if low_open else '>='} {low:g}" + ("" if high == math.inf else f" and <= {high:g}")
        raise ValueError(f"{what} must be a finite number {bounds}, got {value!r}")
    return float(value)


def _reals(values, name: str, low: float, high: float = math.inf, low_open: bool = False) -> tuple[float, ...]:
    return tuple(_real(v, f"every entry of {name}", low, high, low_open) for v in _sequence(values, name))


def _choices(values, name: str, allowed: Sequence[str]) -> tuple[str, ...]:
    out = _sequence(values, name)
    unknown = [v for v in out if v not in allowed]
    if unknown:
        raise ValueError(f"{name} must be drawn from {tuple(allowed)}, got unknown {unknown!r}")
    return out


def _progress(progress: Progress) -> Callable[[str], object]:
    if progress is None:
        return lambda message: None
    if not callable(progress):
        raise ValueError(f"progress must be a callable taking one str, or None, got {progress!r}")  # noqa: TRY004
    return progress


# --- section 4a: DSE against intrinsic dimension -------------------------------------------------


def dimension_sweep(
    families: Sequence[str] = FAMILIES,
    dims: Sequence[int] = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2048),
    noises: Sequence[float] = (0.0, 0.01, 0.1, 0.5),
    n: int = 500,
    ambient_dim: int = 2048,
    seeds: int = 5,
    sigma: float = 10.0,
    ts: Sequence[float] = (1, 2, 5),
    cse_bins: int = 2,
    progress: Progress = None,
) -> pd.DataFrame:
    """DSE and CSE of noisy d-dimensional subspace data for every (family, d, noise, seed, t).

    Liao et al., CISS 2024 (arXiv 2312.04823): DSE tracks the intrinsic dimension and resists
    small noise, while the binned Shannon entropy saturates at log2 n. Protocol after the authors'
    ``src/manifold_investigation/toy_data_entropy.py`` and ``toy_entropy_comparison.py``
    (ChenLiu-1996/DiffusionSpectralEntropy): per cell,
    ``rng = numpy.random.default_rng(1000 * seed + dim)``; ``n`` points in ``ambient_dim`` dimensions, U[-1, 1] (``uniform``) or N(0, 1) (``gaussian``) in
    every coordinate; coordinates dim+1..ambient_dim overwritten with one shared constant drawn
    from N(0, 1); then ``noise * U[-1, 1]`` added to all coordinates
    (:func:`repgeo.data.dse_toy.subspace_data`, :func:`~repgeo.data.dse_toy.add_uniform_noise`).
    The seed does not depend on the noise, so the noise levels of a (family, d, seed) share their
    clean points and their noise direction (common random numbers).

    Parameters
    ----------
    families : sequence of {'uniform', 'gaussian'}
    dims : sequence of int
        Intrinsic dimensions, each in 1..``ambient_dim``.
    noises : sequence of float
        Noise amplitudes epsilon >= 0.
    n : int
        Points per cell (>= 2); all of them enter the DSE (no ``max_n`` subsampling).
    ambient_dim : int
        D, the number of coordinates.
    seeds : int
        Number of seeds per cell: 0..seeds-1.
    sigma : float
        Absolute Gaussian bandwidth of the diffusion operator (the reference's 10).
    ts : sequence of float
        Diffusion times; one eigendecomposition per cell serves them all
        (:func:`repgeo.entropy.diffusion_spectrum`).
    cse_bins : int
        Bins per coordinate of the CSE baseline (the reference's 2).
    progress : callable(str) or None
        Called once per (family, noise), e.g. ``logger.info``.

    Returns
    -------
    pandas.DataFrame
        One row per (family, dim, noise, seed, t), columns ``family, dim, noise, seed, t, dse,
        cse, n, ambient_dim, sigma, cse_bins`` (entropies in bits; ``cse`` does not depend on t
        and repeats across the t rows of a cell).
    """
    families = _choices(families, "families", FAMILIES)
    ambient_dim = check_int(ambient_dim, "ambient_dim", 1)
    dims = _ints(dims, "dims", 1)
    if max(dims) > ambient_dim:
        raise ValueError(
            f"dims entries must be at most ambient_dim = {ambient_dim}, got {max(dims)}; drop them or raise ambient_dim"
        )
    noises = _reals(noises, "noises", 0.0)
    n = check_int(n, "n", 2)
    seeds = check_int(seeds, "seeds", 1)
    sigma = _real(sigma, "sigma", 0.0, low_open=True)
    ts = _reals(ts, "ts", 0.0, low_open=True)
    cse_bins = check_int(cse_bins, "cse_bins", 1)
    report = _progress(progress)

    rows = []
    for family in families:
        for noise in noises:
            report(f"dimension sweep: {family}, noise {noise:g} ({len(dims)} dims x {seeds} seeds)")
            for dim in dims:
                for seed in range(seeds):
                    rng = np.random.default_rng(1000 * seed + dim)
                    Z = add_uniform_noise(subspace_data(n, dim, ambient_dim, family, rng), noise, rng)
                    spectrum = diffusion_spectrum(Z, sigma, max_n=None)
                    cse = classic_shannon_entropy(Z, n_bins=cse_bins, max_n=None)
                    rows.extend(
                        {
                            "family": family,
                            "dim": dim,
                            "noise": noise,
                            "seed": seed,
                            "t": t,
                            "dse": spectrum.entropy(t),
                            "cse": cse,
                        }
                        for t in ts
                    )
    table = pd.DataFrame(rows)
    return table.assign(n=n, ambient_dim=ambient_dim, sigma=sigma, cse_bins=cse_bins)


# --- positive definite matrix mixed with the identity --------------------------------------------


def random_spd_matrix(n: int, seed: int | np.random.RandomState | None = 0) -> np.ndarray:
    """A random symmetric positive definite ``n x n`` matrix of the DSE paper's Figure 3A family.

    Liao, Liu et al., CISS 2024 (arXiv 2312.04823), Figure 3A mixes the identity with
    ``sklearn.datasets.make_spd_matrix(n)`` (the authors' toy script, ChenLiu-1996/DiffusionSpectralEntropy,
    ``src/manifold_investigation/toy_data_DSE.py``, in the repository's history); this is that
    function, called with ``random_state=seed``. scikit-learn builds it as U (1 1^T + diag(u)) V^T
    from the singular vectors of B^T B, B with U(0, 1) entries, and u_i ~ U(0, 1): as B^T B is
    symmetric positive definite, V = U, so A = w w^T + U diag(u) U^T with w = U 1 (|w|^2 = n). In
    the basis U its matrix is diag(u) + 1 1^T, whose eigenvalues are one in (n, n + 1) (the root of
    sum_i 1 / (lambda - u_i) = 1 above max u) and n - 1 that interlace the sorted u_i, so lie in
    (0, 1). The top eigenvalue carries about two thirds of the trace, which is why the spectral
    entropy of A is low (about 3.8 bits at n = 500) while that of I is log2 n.
    """
    from sklearn.datasets import make_spd_matrix

    n = check_int(n, "n", 1)
    if not (seed is None or isinstance(seed, np.random.RandomState)):
        seed = check_int(seed, "seed", 0)
    return make_spd_matrix(n_dim=n, random_state=seed)


def spd_identity_sweep(
    n: int = 500,
    weights: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    seeds: int = 5,
    ts: Sequence[float] = (1,),
) -> pd.DataFrame:
    """Spectral entropy of M_w = (1 - w) A + w I for a random SPD matrix A, against the weight w.

    Liao, Liu et al., CISS 2024 (arXiv 2312.04823), Figure 3A: the entropy -sum p_i log2 p_i with
    p_i = |lambda_i|^t / sum_j |lambda_j|^t (the paper's DSE of a spectrum, all eigenvalues kept;
    :func:`repgeo.entropy.entropy_from_spectrum`) applied to the eigenvalues of M_w, where A is the
    paper's ``sklearn.datasets.make_spd_matrix(n)`` (:func:`random_spd_matrix` with
    ``random_state = seed``). At n = 500 and t = 1 the entropy is about 3.8 bits at w = 0 (mean
    3.80, sd 0.06 over seeds 0-9), 6.32 at w = 0.5 (sd 0.02) and log2 500 = 8.966 at w = 1. The
    eigenvalues of M_w are (1 - w) a_i + w, so at t = 1 p(w) is a mixture of p(0) and the uniform
    distribution whose uniform share grows with w; for any t every ratio p_i / p_j shrinks
    towards 1 as w grows, so p(w) is majorised by p(w') for w > w'. Either way the entropy
    increases monotonically with w, and it equals log2 n at w = 1, where M_1 = I exactly.
    The eigenvalues are computed from the matrix (``numpy.linalg.eigvalsh``), as for an
    operator, not from the closed form.

    Parameters
    ----------
    n : int
        Matrix size (>= 2).
    weights : sequence of float
        Identity weights w in [0, 1].
    seeds : int
        Number of random matrices A: seeds 0..seeds-1.
    ts : sequence of float
        Powers t of the eigenvalues.

    Returns
    -------
    pandas.DataFrame
        One row per (weight, seed, t), columns ``weight, seed, t, dse, n, log2_n`` (bits).
    """
    n = check_int(n, "n", 2)
    weights = _reals(weights, "weights", 0.0, 1.0)
    seeds = check_int(seeds, "seeds", 1)
    ts = _reals(ts, "ts", 0.0, low_open=True)
    identity = np.eye(n)
    rows = []
    for seed in range(seeds):
        A = random_spd_matrix(n, seed)
        for w in weights:
            eigenvalues = np.linalg.eigvalsh((1.0 - w) * A + w * identity)
            rows.extend({"weight": w, "seed": seed, "t": t, "dse": entropy_from_spectrum(eigenvalues, t)} for t in ts)
    return pd.DataFrame(rows).assign(n=n, log2_n=math.log2(n))


# --- section 4b: DSMI on branching trees with label corruption -----------------------------------


def corrupted_label_mi(branches: int, fraction: float) -> float:
    """True I(Z; Y) in bits when Z determines one of k equiprobable labels and a ``fraction`` of
    the labels is replaced by uniform draws (:func:`repgeo.data.dse_toy.corrupt_labels`).

    Y keeps the true label with probability 1 - r + r/k and takes each other label with
    probability r/k, so I = log2 k - H(1 - r + r/k, r/k, ..., r/k).
    """
    k = check_int(branches, "branches", 1)
    r = _real(fraction, "fraction", 0.0, 1.0)
    p = np.array([1.0 - r + r / k] + [r / k] * (k - 1))
    p = p[p > 0]
    return float(math.log2(k) + (p * np.log2(p)).sum())


def tree_corruption_sweep(
    branches: Sequence[int] = (2, 5, 10),
    corruptions: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    points_per_branch: int = 100,
    ambient_dim: int = 20,
    noise: float = 0.1,
    trees: int = 3,
    sigma: float = 10.0,
    t: float = 1,
    n_repetitions: int = 5,
    cse_bins: int = 2,
    knn_neighbors: int = 3,
    progress: Progress = None,
) -> pd.DataFrame:
    """DSMI, CSMI and kNN MI between tree points and corrupted branch labels, with the true MI.

    Liao et al., CISS 2024 (arXiv 2312.04823): DSMI falls with label corruption and ranks the
    true MI. Protocol after the authors' ``src/manifold_investigation/toy_data_MI.py`` and
    ``src/comparison/compare_toy_tree.py`` (ChenLiu-1996/DiffusionSpectralEntropy), with the
    data of the ``dse_toy`` source (``family: tree``): for each k in ``branches`` and each tree seed s in 0..trees-1,
    ``rng = numpy.random.default_rng(s)`` draws a PHATE-style random-walk tree of k branches of
    ``points_per_branch`` points (:func:`repgeo.data.dse_toy.random_walk_tree`), then the noise
    ``noise * U[-1, 1]``. The points stay fixed while the labels are corrupted at every r in
    ``corruptions``: :func:`~repgeo.data.dse_toy.corrupt_labels` replaces round(r n) labels by
    uniform draws, each r from the same generator state, so the corrupted sets are nested in r
    (the rows equal the ``dse_toy`` source's at ``seed: s``, before its float32 cast).
    The DSMI and CSMI subset draws use seed s as well (the authors' script instead reused one
    tree and varied only the DSMI seed).

    ``true_mi`` is :func:`corrupted_label_mi` at the realised fraction round(r n) / n, taking
    the branch as a function of the point (branches meet only at their anchors).

    Parameters
    ----------
    branches : sequence of int
        Numbers of branches k (>= 2), i.e. of labels.
    corruptions : sequence of float
        Corrupted fractions r in [0, 1].
    points_per_branch : int
        Points per branch (>= 2); n = k * points_per_branch.
    ambient_dim : int
        D of the random walk.
    noise : float
        Amplitude of the uniform noise added to every coordinate.
    trees : int
        Trees per k: seeds 0..trees-1.
    sigma, t : float
        Bandwidth and diffusion time of DSMI.
    n_repetitions : int
        R, the size-matched random subsets per group of DSMI and CSMI.
    cse_bins : int
        Bins per coordinate of CSMI.
    knn_neighbors : int
        k of the kNN MI estimator (Ross 2014, :func:`repgeo.entropy.knn_mutual_information`).
    progress : callable(str) or None
        Called once per (k, tree), e.g. ``logger.info``.

    Returns
    -------
    pandas.DataFrame
        One row per (branches, corruption, tree), columns ``branches, corruption, tree,
        true_mi, dsmi, dsmi_sd, csmi, knn_mi, n, ambient_dim, noise, sigma, t`` (bits;
        ``dsmi_sd`` is the standard deviation of DSMI over its R subset repetitions).
    """
    branches = _ints(branches, "branches", 2)
    corruptions = _reals(corruptions, "corruptions", 0.0, 1.0)
    points_per_branch = check_int(points_per_branch, "points_per_branch", 2)
    ambient_dim = check_int(ambient_dim, "ambient_dim", 1)
    noise = _real(noise, "noise", 0.0)
    trees = check_int(trees, "trees", 1)
    sigma = _real(sigma, "sigma", 0.0, low_open=True)
    t = check_t(t)
    n_repetitions = check_int(n_repetitions, "n_repetitions", 1)
    cse_bins = check_int(cse_bins, "cse_bins", 1)
    knn_neighbors = check_int(knn_neighbors, "knn_neighbors", 1)
    report = _progress(progress)

    rows = []
    for k in branches:
        n = k * points_per_branch
        for tree in range(trees):
            report(f"tree sweep: {k} branches, tree {tree} ({len(corruptions)} corruption levels)")
            rng = np.random.default_rng(tree)
            x, label, _, _ = random_walk_tree(points_per_branch, k, ambient_dim, rng)
            Z = add_uniform_noise(x, noise, rng)
            for r in corruptions:
                # A copy of the generator per r: the same permutation and replacement labels
                # for every r, so a larger r corrupts a superset of the points.
                y, corrupted = corrupt_labels(label, k, r, copy.deepcopy(rng))
                dsmi = diffusion_spectral_mutual_information(
                    Z, y, t, sigma, n_repetitions=n_repetitions, discrete=True, seed=tree, max_n=None
                )
                csmi = classic_shannon_mutual_information(
                    Z, y, n_bins=cse_bins, n_repetitions=n_repetitions, discrete=True, seed=tree, max_n=None
                )
                rows.append(
                    {
                        "branches": k,
                        "corruption": r,
                        "tree": tree,
                        "true_mi": corrupted_label_mi(k, corrupted.sum() / n),
                        "dsmi": dsmi.value,
                        "dsmi_sd": dsmi.sd,
                        "csmi": csmi.value,
                        "knn_mi": knn_mutual_information(Z, y, n_neighbors=knn_neighbors, discrete=True),
                        "n": n,
                    }
                )
    return pd.DataFrame(rows).assign(ambient_dim=ambient_dim, noise=noise, sigma=sigma, t=t)


# --- section 4c: run time -------------------------------------------------------------------------


def reference_recipe_dse(Z, sigma: float = 10.0, t: float = 1) -> float:
    """DSE in bits by a dense float64 pipeline following the reference's recipe; a timing baseline.

    Written from a description of ``dse-dsmi`` 1.1 (ChenLiu-1996/DiffusionSpectralEntropy,
    ``dse_dsmi/diffusion.py`` and ``dse_dsmi/dse.py``), not from its code, and used only as the
    baseline of :func:`runtime_sweep` and ``benchmarks/entropy_speed.py``: scikit-learn pairwise distances, squared again; the Gaussian
    affinity with its 1 / (sigma sqrt(2 pi)) prefactor; the degree scaling as two products with
    dense diagonal matrices; the O(n^2) symmetry check; ``numpy.linalg.eigvalsh``; and the
    entropy with machine epsilon added to every p_i. It keeps the recipe's avoidable costs on
    purpose (two O(n^3) products, about half its time); its value agrees with
    :func:`repgeo.entropy.diffusion_spectral_entropy` to about 1e-14 bits. All n rows are used
    (no ``max_n`` subsampling).

    Parameters
    ----------
    Z : array, n x D
        The embedding, rows are samples.
    sigma : float
        Absolute Gaussian bandwidth (the reference's 10).
    t : float
        Diffusion time (the reference's 1).
    """
    from sklearn.metrics import pairwise_distances

    Z = as_embedding(Z)
    sigma = _real(sigma, "sigma", 0.0, low_open=True)
    t = check_t(t)
    D = pairwise_distances(Z)
    G = np.exp(-(D**2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
    q_inv_sqrt = np.diag(1.0 / np.sqrt(G.sum(axis=1)))
    K = q_inv_sqrt @ G @ q_inv_sqrt
    lam = np.linalg.eigvalsh(K) if np.allclose(K, K.T, rtol=1e-5, atol=1e-8) else np.linalg.eigvals(K)
    p = np.abs(lam) ** t
    p = p / p.sum() + np.finfo(np.float64).eps
    return float(-(p * np.log2(p)).sum())


def runtime_data(n: int, ambient_dim: int = 2048, seed: int = 0) -> np.ndarray:
    """The timing data of :func:`runtime_sweep`: uniform on 50 intrinsic dimensions of
    ``ambient_dim``, the other coordinates one shared constant, plus 1 % uniform noise, drawn
    from ``numpy.random.default_rng(seed)`` (the data of ``benchmarks/entropy_speed.py``)."""
    n = check_int(n, "n", 2)
    ambient_dim = check_int(ambient_dim, "ambient_dim", RUNTIME_DIM)
    rng = np.random.default_rng(seed)
    return add_uniform_noise(subspace_data(n, RUNTIME_DIM, ambient_dim, "uniform", rng), RUNTIME_NOISE, rng)


def _runtime_call(method: str, Z: np.ndarray) -> Callable[[], float]:
    if method == "reference_recipe":
        return lambda: reference_recipe_dse(Z)
    if method in ("float64", "float32"):
        return lambda: diffusion_spectral_entropy(Z, dtype=method, max_n=None, method="exact")
    if method == "slq":
        return lambda: slq_diffusion_spectral_entropy(Z).value
    if method == "cse":
        return lambda: classic_shannon_entropy(Z, max_n=None)
    # The first coordinate is a continuous scalar: the call cuts it into equal-width bins, as
    # DSMI groups such a Y, so the binning is timed with the estimate.
    return lambda: knn_mutual_information(Z, Z[:, 0], n_clusters=RUNTIME_KNN_BINS, discrete=False)


def runtime_sweep(
    ns: Sequence[int] = (500, 1000, 2000, 5000, 10000),
    methods: Sequence[str] = RUNTIME_METHODS,
    slq_ns: Sequence[int] = (),
    ambient_dim: int = 2048,
    seed: int = 0,
    progress: Progress = None,
) -> pd.DataFrame:
    """Wall time and value of DSE and its baselines on :func:`runtime_data`, against n.

    Liao et al., CISS 2024 (arXiv 2312.04823); a benchmark design of this project, not a figure
    of the paper: wall time (``time.perf_counter``) of one call, data generation excluded, in this
    process and with the BLAS threads the caller set (process CPU time with one BLAS thread would
    approximate an idle single core). Before timing, every method runs once untimed on
    :data:`WARMUP_ROWS` rows, so one-off costs (lazy imports, LAPACK symbol look-ups, thread-pool start) do not land on the
    first n. Data: :func:`runtime_data` (uniform, d = 50 in ``ambient_dim``, 1 % noise), one draw
    per n with ``seed``. Every method uses all n rows (no ``max_n`` subsampling).

    Methods (``value`` in bits):

    - ``reference_recipe``: :func:`reference_recipe_dse` (dense float64, the reference's recipe);
    - ``float64``, ``float32``: :func:`repgeo.entropy.diffusion_spectral_entropy`, exact path;
    - ``cse``: :func:`repgeo.entropy.classic_shannon_entropy` with 2 bins;
    - ``knn_mi``: :func:`repgeo.entropy.knn_mutual_information` of Z against its own first
      coordinate, cut into 10 equal-width bins (the DSMI rule for a continuous scalar). A label
      that Z determines is the case MI is computed for (class labels of an embedding), and its
      true MI is known, the entropy of the bins (about log2 10 = 3.32 bits), where a random
      label would give an uninformative 0. The kNN estimate is far below it here (0.35-0.40
      bits at n = 300-600): one coordinate of 50 barely moves neighbours in 2048-D, the
      estimator's high-dimensional bias;
    - ``slq`` (at the ``slq_ns`` sizes only): :func:`repgeo.entropy.slq_diffusion_spectral_entropy`
      with its defaults, the large-n path. On these compact data sigma = 10 is far wider than
      the neighbour distances, so its kNN graph drops most of the kernel mass (it warns) and its
      value estimates a different operator: it is timed, not compared.

    Parameters
    ----------
    ns : sequence of int
        Sizes n (>= 2) for ``methods``; the dense methods need 8 n^2 bytes per n x n matrix.
    methods : sequence of str
        A subset of ('reference_recipe', 'float64', 'float32', 'cse', 'knn_mi').
    slq_ns : sequence of int
        Sizes for the ``slq`` method (each above its 32 deflated eigenvalues + 1), e.g. 20000.
    ambient_dim : int
        D (>= 50).
    seed : int
        Seed of the data.
    progress : callable(str) or None
        Called once per (method, n) before it runs, e.g. ``logger.info``.

    Returns
    -------
    pandas.DataFrame
        One row per (method, n), columns ``method, n, seconds, value, quantity`` (``quantity``:
        'dse bits', 'cse bits' or 'mi bits').
    """
    ns = _ints(ns, "ns", 2)
    methods = _choices(methods, "methods", RUNTIME_METHODS)
    slq_ns = _ints(slq_ns, "slq_ns", 2, allow_empty=True)
    ambient_dim = check_int(ambient_dim, "ambient_dim", RUNTIME_DIM)
    seed = check_int(seed, "seed", 0)
    report = _progress(progress)
    plan = [(m, n) for n in ns for m in methods] + [("slq", n) for n in slq_ns]
    warmup = runtime_data(WARMUP_ROWS, ambient_dim, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SLQ's kernel-mass warning; it recurs in the timed call
        for method in dict.fromkeys(m for m, _ in plan):
            _runtime_call(method, warmup)()
    rows = []
    data: dict[int, np.ndarray] = {}
    for method, n in plan:
        if n not in data:
            data.clear()  # one n x D array at a time: at n = 100,000 it is 1.6 GB
            data[n] = runtime_data(n, ambient_dim, seed)
        report(f"runtime sweep: {method}, n = {n}")
        call = _runtime_call(method, data[n])
        start = time.perf_counter()
        value = call()
        seconds = time.perf_counter() - start
        rows.append({"method": method, "n": n, "seconds": seconds, "value": float(value), "quantity": QUANTITY[method]})
    return pd.DataFrame(rows)
