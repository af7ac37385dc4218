"""Mardia's multivariate skewness and kurtosis, against the prior and as a normality test.

Mardia, "Measures of multivariate skewness and kurtosis with applications", Biometrika 57(3),
519-530 (1970): for n points x_i in R^D with sample mean xbar and biased sample covariance
S = (1/n) sum_i (x_i - xbar)(x_i - xbar)^T, and r_ij = (x_i - xbar)^T S^-1 (x_j - xbar),

    b_{1,D} = (1/n^2) sum_ij r_ij^3,        b_{2,D} = (1/n) sum_i r_ii^2.

Under normality n b_{1,D} / 6 is asymptotically chi^2 with D(D+1)(D+2)/6 degrees of freedom and
b_{2,D} is asymptotically N(D(D+2), 8 D(D+2) / n). :func:`mardia_test` is this textbook test.

The gmum CWAE code and the "Sliced generative models" paper (Knop et al., arXiv 1901.10417)
report the same sums on the raw codes z_i, with no centring and no whitening (gmum/cwae
``src/evaluation/mardia_evaluator.py``): b1 = (1/n^2) sum_ij (z_i^T z_j)^3 and
b2 = (1/n) sum_i ||z_i||^4, whose values for a sample of the prior N(0, I_D) are 0 and D(D+2).
They measure closeness to N(0, I), not to
"some Gaussian": a shift or a scale change of the codes moves them far from their targets
while the standardised statistics do not move at all. :func:`mardia_prior` computes them. The
paper's Table 1 column "kurtosis (normalized)" is b2 - D(D+2), signed: it has negative entries,
codes lighter-tailed than the prior (e.g. uniform ones, whose b2 - D(D+2) is -1.2 D at unit
variance), so the sign is kept.

The double sum is taken over row blocks, using its symmetry, so n = 10,000 points never need an
n x n matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .._validation import as_samples

# Rows x n entries of one block of inner products (32 MB in float64).
_BLOCK_ENTRIES = 2**22


@dataclass(frozen=True)
class MardiaPrior:
    """Mardia's statistics of raw codes, referenced to the prior N(0, I_D) (gmum evaluator).

    ``skewness``: b1 = (1/n^2) sum_ij (z_i^T z_j)^3, target 0; ``kurtosis``:
    b2 = (1/n) sum_i ||z_i||^4, target D(D+2); ``normalised_kurtosis``: b2 - D(D+2), signed,
    target 0 (Knop et al., arXiv 1901.10417, Table 1, "kurtosis (normalized)", which has negative
    entries: negative for codes with lighter tails than N(0, I)). Plot its magnitude on a log scale.
    """

    skewness: float
    kurtosis: float
    normalised_kurtosis: float
    n_samples: int
    dim: int


@dataclass(frozen=True)
class MardiaTest:
    """Mardia's (1970) test of multivariate normality (centred, whitened with the biased covariance).

    ``skewness`` b_{1,D} and ``skewness_statistic`` n b_{1,D}/6 ~ chi^2(``skewness_dof``) with
    ``skewness_dof`` = D(D+1)(D+2)/6 and upper-tail ``skewness_p``; ``kurtosis`` b_{2,D} and
    ``kurtosis_statistic`` (b_{2,D} - D(D+2)) / sqrt(8 D(D+2)/n) ~ N(0, 1) with two-sided
    ``kurtosis_p``. Both laws are asymptotic (the skewness test is conservative for small n).
    """

    skewness: float
    skewness_statistic: float
    skewness_dof: int
    skewness_p: float
    kurtosis: float
    kurtosis_statistic: float
    kurtosis_p: float
    n_samples: int
    dim: int


def mardia_prior(z) -> MardiaPrior:
    """Raw, prior-referenced Mardia skewness and kurtosis of the codes ``z`` (n x D); see :class:`MardiaPrior`.

    As the gmum CWAE evaluator (gmum/cwae ``src/evaluation/mardia_evaluator.py``): no centring, no whitening.
    """
    z = _as_sample(z, "z")
    n, dim = z.shape
    b2 = float(np.mean(np.square(np.square(z).sum(axis=1))))
    return MardiaPrior(
        skewness=_mean_cubed_inner_product(z),
        kurtosis=b2,
        normalised_kurtosis=b2 - dim * (dim + 2),
        n_samples=n,
        dim=dim,
    )


def mardia_test(z) -> MardiaTest:
    """Mardia's (1970) skewness and kurtosis test of normality of ``z`` (n x D, n > D); see :class:`MardiaTest`.

    The points are centred with the sample mean and whitened with the biased sample covariance
    (divided by n), as in Mardia's definitions; the test is invariant to affine maps of z.
    """
    z = _as_sample(z, "z")
    n, dim = z.shape
    if n <= dim:
        raise ValueError(
            f"mardia_test needs more points than dimensions (n > D) to estimate the covariance, got z of shape {z.shape}"
        )
    centred = z - z.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / n)
    # numpy's matrix_rank tolerance: below it the covariance is numerically singular.
    tol = eigenvalues[-1] * max(n, dim) * np.finfo(np.float64).eps
    if not eigenvalues[0] > tol:
        rank = int((eigenvalues > tol).sum())
        raise ValueError(
            f"the sample covariance of z is singular (numerical rank {rank} < D = {dim}): some coordinates are constant "
            "or linear combinations of others; drop them, or use mardia_prior, which needs no covariance"
        )
    y = centred @ (eigenvectors / np.sqrt(eigenvalues))  # y_i^T y_j = r_ij
    b1 = _mean_cubed_inner_product(y)
    b2 = float(np.mean(np.square(np.square(y).sum(axis=1))))
    target = dim * (dim + 2)
    dof = dim * (dim + 1) * (dim + 2) // 6
    skew_stat = n * b1 / 6.0
    kurt_stat = (b2 - target) / np.sqrt(8.0 * target / n)
    return MardiaTest(
        skewness=b1,
        skewness_statistic=float(skew_stat),
        skewness_dof=dof,
        skewness_p=float(stats.chi2.sf(skew_stat, dof)),
        kurtosis=b2,
        kurtosis_statistic=float(kurt_stat),
        kurtosis_p=float(2.0 * stats.norm.sf(abs(kurt_stat))),
        n_samples=n,
        dim=dim,
    )


def _mean_cubed_inner_product(x: np.ndarray) -> float:
    """(1/n^2) sum_ij (x_i^T x_j)^3 over row blocks; a diagonal block counts once, the blocks to its right twice."""
    n = len(x)
    step = max(1, _BLOCK_ENTRIES // n)
    total = 0.0
    for start in range(0, n, step):
        stop = min(start + step, n)
        g = x[start:stop] @ x[start:].T
        g3 = g * g
        g3 *= g
        total += g3[:, : stop - start].sum() + 2.0 * g3[:, stop - start :].sum()
    return float(total / (n * n))


def _as_sample(z, name: str) -> np.ndarray:
    """``z`` (array or torch tensor, n x D) as a finite float64 array with n >= 2 and D >= 1."""
    return as_samples(z, name, 2, "drop them or fix the encoder")
