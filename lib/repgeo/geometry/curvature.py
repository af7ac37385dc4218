"""Scalar curvature from iterated carre du champ and the Gauss equation (Jones 2024, sections 4, 6.3).

With Gamma calibrated so that tangent eigenvalues are ~1, the Hessian of a function f applied to
gradients of g and h is

    H(f)(grad g, grad h) = 1/2 [Gamma(g, Gamma(h, f)) + Gamma(h, Gamma(g, f)) - Gamma(f, Gamma(g, h))],

and for f = x_l (an ambient coordinate) restricted to the tangent space it is the l-th component
of the second fundamental form II. In an orthonormal tangent frame T (d columns) and normal
frame N (D - d columns) at p,

    alpha^L_ij = sum_{s,t,u} H(x_s)(grad x_t, grad x_u) N_sL T_ti T_uj,

and the Gauss equation gives the Riemann tensor R_ijkl = sum_L (alpha^L_ik alpha^L_jl -
alpha^L_jk alpha^L_il), hence the scalar curvature

    S = sum_L [(tr alpha^L)^2 - |alpha^L|_F^2].

On the unit 2-sphere alpha = I in the one normal direction, so S = 4 - 2 = 2; on a flat piece the
normal coordinates are constant and S = 0 exactly.
"""

from __future__ import annotations

import numpy as np


def calibration(lam: np.ndarray, d: int) -> float:
    """Median over points of the mean of the top ``d`` metric eigenvalues (Jones' scale factor)."""
    return float(np.median(lam[:, :d].mean(axis=1)))


def hessian_from_iterated_gamma(GG: np.ndarray) -> np.ndarray:
    """H[l, i, j] = H(x_l)(grad x_i, grad x_j) from GG[a, b, c] = Gamma(x_a, Gamma(x_b, x_c)).

    Arrays carry the points in their first axis: GG is n x D x D x D, the result n x D x D x D.
    """
    # GG[i, j, l] + GG[j, i, l] - GG[l, i, j], indexed as [l, i, j].
    t1 = np.transpose(GG, (0, 3, 1, 2))  # [n, l, i, j] = GG[i, j, l]
    t2 = np.transpose(GG, (0, 3, 2, 1))  # [n, l, i, j] = GG[j, i, l]
    return 0.5 * (t1 + t2 - GG)


def second_fundamental_form(H: np.ndarray, T: np.ndarray, N: np.ndarray) -> np.ndarray:
    """alpha[n, L, i, j] = sum_{s,t,u} H[n, s, t, u] N[n, s, L] T[n, t, i] T[n, u, j]."""
    return np.einsum("nstu,nsL,nti,nuj->nLij", H, N, T, T, optimize=True)


def gauss_scalar_curvature(alpha: np.ndarray) -> np.ndarray:
    """S = sum_L (tr alpha^L)^2 - |alpha^L|_F^2 at every point (alpha: n x (D-d) x d x d)."""
    tr = np.trace(alpha, axis1=2, axis2=3)
    return np.sum(tr**2, axis=1) - np.sum(alpha**2, axis=(1, 2, 3))
