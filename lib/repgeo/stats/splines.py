"""Penalised cubic B-spline bases for the GAMM engines: design matrices, derivative penalties, constraints.

The basis is O'Sullivan's penalised spline (Wand & Ormerod 2008, Aust. N. Z. J. Stat. 50(2)):
cubic B-splines on equally spaced knots over the data range, with the exact integrated squared
derivative penalty ``S[i, j] = int B_i^(m)(x) B_j^(m)(x) dx`` (Wood 2017, "Generalized Additive
Models", 2nd ed., section 5.3.3; m = 2 for the fixed smooths, m = 1 for the random factor smooths
of section 5.8). ``k`` counts basis functions before any identifiability constraint, as mgcv's
``k`` does, so a centred smooth has ``k - 1`` coefficients.

Sum-to-zero constraints are absorbed as in mgcv (Wood 2017, section 5.4.1): with C the 1 x k row
of column sums of the basis on the data, Z spans the null space of C (from a QR factorisation)
and the constrained basis and penalty are X Z and Z' S Z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.interpolate import BSpline

DEGREE = 3


def equispaced_knots(lower: float, upper: float, n_basis: int, degree: int = DEGREE) -> np.ndarray:
    """Full knot vector (with ``degree`` exterior knots each side) for ``n_basis`` B-splines on [lower, upper]."""
    if n_basis < degree + 1:
        raise ValueError(f"a degree-{degree} B-spline basis needs at least {degree + 1} functions, got {n_basis}")
    if not upper > lower:
        raise ValueError(f"the basis range must have upper > lower, got [{lower}, {upper}]")
    n_intervals = n_basis - degree
    step = (upper - lower) / n_intervals
    return lower + step * np.arange(-degree, n_intervals + degree + 1)


def bspline_design(x: np.ndarray, knots: np.ndarray, degree: int = DEGREE, deriv: int = 0) -> np.ndarray:
    """Values (or ``deriv``-th derivatives) of every B-spline of the knot vector at ``x``: len(x) x n_basis."""
    n_basis = len(knots) - degree - 1
    spline = BSpline(knots, np.eye(n_basis), degree, extrapolate=True)
    if deriv:
        spline = spline.derivative(deriv)
    return np.asarray(spline(np.asarray(x, dtype=float)))


def derivative_penalty(knots: np.ndarray, order: int, degree: int = DEGREE) -> np.ndarray:
    """``int_a^b B^(order)(x) B^(order)(x)' dx`` over the interior knot range, exactly.

    On each knot interval the integrand is a polynomial of degree 2 (degree - order), so
    Gauss-Legendre quadrature with degree + 1 - order nodes per interval is exact.
    """
    interior = knots[degree : len(knots) - degree]
    nodes, weights = np.polynomial.legendre.leggauss(max(degree + 1 - order, 1))
    half = np.diff(interior) / 2
    mid = (interior[:-1] + interior[1:]) / 2
    x = (mid[:, None] + half[:, None] * nodes[None, :]).ravel()
    w = (half[:, None] * weights[None, :]).ravel()
    D = bspline_design(x, knots, degree, deriv=order)
    return D.T @ (w[:, None] * D)


def sum_to_zero_null_space(column_sums: np.ndarray) -> np.ndarray:
    """k x (k - 1) orthonormal basis Z of {b : column_sums . b = 0} (Wood 2017, section 5.4.1)."""
    C = np.asarray(column_sums, dtype=float).reshape(-1, 1)
    Q, _ = np.linalg.qr(C, mode="complete")
    return Q[:, 1:]


@dataclass(frozen=True)
class SplineBasis:
    """A cubic B-spline smooth of one covariate: knots, penalty order and an optional constraint.

    ``constraint`` is the k x k' matrix Z that maps constrained to raw coefficients (``None``: no
    constraint, as for the per-token random smooths, which carry their own intercepts).
    """

    knots: np.ndarray
    order: int
    constraint: np.ndarray | None = None

    @property
    def n_coef(self) -> int:
        n = len(self.knots) - DEGREE - 1
        return n if self.constraint is None else self.constraint.shape[1]

    def design(self, x: np.ndarray) -> np.ndarray:
        B = bspline_design(x, self.knots)
        return B if self.constraint is None else B @ self.constraint

    def penalty(self) -> np.ndarray:
        S = derivative_penalty(self.knots, self.order)
        return S if self.constraint is None else self.constraint.T @ S @ self.constraint


def centred_basis(
    x: np.ndarray, k: int, order: int = 2, lower: float | None = None, upper: float | None = None
) -> SplineBasis:
    """k-function cubic B-spline basis on the range of ``x`` with the sum-to-zero constraint over ``x``."""
    x = np.asarray(x, dtype=float)
    knots = equispaced_knots(x.min() if lower is None else lower, x.max() if upper is None else upper, k)
    Z = sum_to_zero_null_space(bspline_design(x, knots).sum(axis=0))
    return SplineBasis(knots, order, Z)


def factor_smooth(
    x: np.ndarray, groups: np.ndarray, n_groups: int, k: int, lower: float, upper: float
) -> tuple[sparse.csr_matrix, list[sparse.csr_matrix]]:
    """Random factor smooth per group, as mgcv's ``bs = "fs", m = 1`` (Wood 2017, section 5.8).

    Every group gets an unconstrained copy of one k-function basis with a first-derivative penalty
    (m = 1: curves shrink towards flat lines, not towards straight lines), and the penalty's null
    space (the constants) gets a penalty of its own, so each group's intercept is a random effect.
    Both penalties are shared by all groups (one smoothing parameter each) and their range spaces
    are orthogonal. ``groups`` holds 0-based group codes. Returns the sparse n x (n_groups k) design
    and the two block-diagonal penalties.
    """
    knots = equispaced_knots(lower, upper, k)
    B = bspline_design(x, knots)
    n = len(x)
    rows = np.repeat(np.arange(n), k)
    cols = (np.asarray(groups)[:, None] * k + np.arange(k)[None, :]).ravel()
    X = sparse.csr_matrix((B.ravel(), (rows, cols)), shape=(n, n_groups * k))
    wiggly = derivative_penalty(knots, 1)
    # B-splines sum to one, so the constants are b = c 1; their projector is the null-space penalty.
    constant = np.full((k, k), 1.0 / k)
    eye = sparse.identity(n_groups, format="csr")
    return X, [sparse.kron(eye, wiggly, format="csr"), sparse.kron(eye, constant, format="csr")]
