"""Parity with Jones' reference implementation (stored outputs), and the identities it relies on."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from repgeo.geometry.carre_du_champ import carre_du_champ, carre_du_champ_local
from repgeo.geometry.estimate import estimate_curvature, estimate_dimension
from repgeo.geometry.neighbors import knn_graph
from repgeo.geometry.operator import build_operator
from repgeo.geometry.spectral import eigenbasis

FIXTURES = [
    "sphere2_n2000",
    "sphere2_noise0.05_n2000",
    "sphere3_n2000",
    "torus_R2_r1_n2000",
    "saddle_n2000",
    "flat_square_n2000",
    "swiss_roll_n2000",
    "digits_1797",
    "celeba_89x109_first2000",
]


@pytest.mark.parametrize("name", FIXTURES)
def test_parity_with_the_reference(geometry_fixtures, name):
    z = np.load(geometry_fixtures / f"{name}.npz")
    x, d = z["x"], int(z["curv_d"])
    dim = estimate_dimension(x, mode="parity")
    op = dim.operator
    # The tuned operator, step by step.
    assert op.tuning0.index == z["tuning_index0"] and op.tuning.index == z["tuning_index"]
    assert op.tuning0.dim == pytest.approx(float(z["d0"]), rel=1e-10)
    assert op.alpha == pytest.approx(float(z["alpha"]), rel=1e-10)
    np.testing.assert_allclose(op.rho0, z["ref_rho0"], rtol=1e-10)
    np.testing.assert_allclose(op.rho, z["ref_rho"], rtol=1e-9)
    np.testing.assert_allclose(op.mu, z["ref_sample_density"], rtol=1e-9)
    np.testing.assert_allclose(dim.basis.eigenvalues, z["ref_laplacian_eigenvalues_dim_runs"][0], atol=1e-8)
    np.testing.assert_allclose(dim.metric_eigenvalues, z["ref_metric_eigenvalues_dim_runs"][0], atol=1e-8)
    # Dimension: the same global value and the same rounded field away from .5 boundaries.
    assert dim.global_dim == int(z["ref_dim_global"])
    np.testing.assert_array_equal(dim.raw, z["ref_dim_raw_argmax_runs"][0])
    ref_u = z["ref_dim_pointwise_unrounded"]
    np.testing.assert_allclose(dim.unrounded, ref_u, atol=1e-8)
    away = np.abs(np.abs(ref_u - np.floor(ref_u)) - 0.5) > 1e-6
    np.testing.assert_array_equal(dim.pointwise[away], z["ref_dim_pointwise"][away])
    # Curvature within 1e-3 relative per point (the reference's own run-to-run spread is 1e-12).
    curv = estimate_curvature(x, d, mode="parity")
    ref = z["ref_scalar_curvature"]
    assert curv.calibration == pytest.approx(float(z["ref_curv_scale_runs"][0]), rel=1e-9)
    scale = np.abs(ref).max()
    if scale < 1e-12:  # the flat square: exactly zero up to round-off
        assert np.abs(curv.scalar).max() < 1e-15
    else:
        assert np.all(np.abs(curv.scalar - ref) <= 1e-3 * np.abs(ref) + 1e-9 * scale)


def _sphere(n=800, seed=0):
    x = np.random.default_rng(seed).standard_normal((n, 3))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_gamma_identity_local_covariance_equals_the_operator_form():
    x = _sphere() * 3.0 + 100.0  # far from the origin: the local form has no cancellation
    op = build_operator(knn_graph(x, 32))
    F = np.c_[x, x[:, :1] ** 2]
    np.testing.assert_allclose(carre_du_champ(op, F), carre_du_champ_local(op, F), rtol=1e-7, atol=1e-9)


def test_low_rank_bandlimit_equals_the_dense_projector():
    x = _sphere(600)
    op = build_operator(knn_graph(x, 32))
    basis = eigenbasis(op, 40)
    F = np.random.default_rng(1).standard_normal((600, 3))
    dense = basis.u @ basis.u.T @ np.diag(basis.mu)  # the reference's n x n projector
    np.testing.assert_allclose(basis.bandlimit(F), dense @ F, atol=1e-10)
    # Orthonormal in L^2(mu), and a projector.
    np.testing.assert_allclose(basis.u.T @ (basis.mu[:, None] * basis.u), np.eye(40), atol=1e-10)
    np.testing.assert_allclose(basis.bandlimit(basis.bandlimit(F)), basis.bandlimit(F), atol=1e-10)


def test_sparse_eigensolver_paths_agree_with_lapack(monkeypatch, caplog):
    """Shift-invert inside the spectrum, its safety net (a shift too high for the inertia count to
    notice) and the Chebyshev filter (high fill-in) all give LAPACK's eigenpairs."""
    from types import SimpleNamespace

    import scipy.linalg as la

    from repgeo.geometry import spectral

    x = _sphere(1600)
    op = build_operator(knn_graph(x, 32))
    n0 = 40
    basis = eigenbasis(op, n0)
    s = op.mu**-0.5
    S = (np.diag(op.rho**-2.0) - s[:, None] * op.K.toarray() * s[None, :]) / op.epsilon
    vals, vecs = la.eigh(S, subset_by_index=[0, n0 - 1])
    u = vecs * s[:, None]
    projector = u @ (u.T @ (op.mu[:, None] * x))

    def check(b):
        np.testing.assert_allclose(b.eigenvalues, vals, atol=1e-8 * vals[-1])
        np.testing.assert_allclose(b.bandlimit(x), projector, atol=1e-8)

    check(basis)
    factor = spectral._factor

    def blind_high_shift(S, sigma):
        if sigma <= 0:
            return factor(S, sigma)
        lu = factor(S, 4.0 * sigma)  # above lambda_n0 / 2: the nearest eigenvalues are the wrong set
        return SimpleNamespace(
            nnz=lu.nnz, U=sp.identity(S.shape[0], format="csc"), perm_r=lu.perm_r, perm_c=lu.perm_c, solve=lu.solve
        )

    monkeypatch.setattr(spectral, "_factor", blind_high_shift)
    with caplog.at_level("INFO", logger="repgeo"):
        check(eigenbasis(op, n0))
    assert "interior shift rejected" in caplog.text
    monkeypatch.setattr(spectral, "_factor", factor)
    monkeypatch.setattr(spectral, "MAX_FILL", 0.0)
    check(eigenbasis(op, n0))


def test_unit_sphere_metric_is_the_tangent_projector():
    x = _sphere(2000)
    dim = estimate_dimension(x, mode="parity")
    # Gamma_p is close to I - x x^T (scaled by the calibration constant of L).
    lam = dim.metric_eigenvalues
    assert np.median(lam[:, 2]) < 0.05 * np.median(lam[:, 1])
    assert dim.diagnostics.clear and dim.global_dim == 2


def test_gaussian_cloud_has_no_manifold_gap():
    x = np.random.default_rng(2).standard_normal((2000, 5))
    dim = estimate_dimension(x, mode="parity")
    assert not dim.diagnostics.clear
    assert "NO CLEAR MANIFOLD GAP" in dim.diagnostics.describe()


def test_bad_curvature_dimension():
    with pytest.raises(ValueError, match="d must be between 1"):
        estimate_curvature(_sphere(300), 3, mode="parity")


def test_shared_basis_gives_the_same_results(geometry_fixtures):
    from repgeo.geometry.estimate import estimate_geometry

    z = np.load(geometry_fixtures / "torus_R2_r1_n2000.npz")
    dim, curv = estimate_geometry(z["x"], d="global")
    assert dim.global_dim == 2 and curv.d == 2
    np.testing.assert_allclose(dim.unrounded, z["ref_dim_pointwise_unrounded"], atol=1e-8)
    np.testing.assert_allclose(curv.scalar, z["ref_scalar_curvature"], atol=1e-8)
