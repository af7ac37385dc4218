"""Tests of the ``manifold`` source: fixtures, closed forms, area uniformity, embedding, noise."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.spatial.distance import pdist

from repgeo.data import DataError, load_dataset
from repgeo.data import manifolds as mf

LOG = logging.getLogger("test")

# fixture file -> spec that must reproduce it (seed 0, n 2000)
FIXTURES = {
    "sphere2_n2000": {"manifold": "sphere", "dim": 2},
    "sphere2_noise0.05_n2000": {"manifold": "sphere", "dim": 2, "noise": 0.05},
    "sphere3_n2000": {"manifold": "sphere", "dim": 3},
    "torus_R2_r1_n2000": {"manifold": "torus", "R": 2, "r": 1},
    "saddle_n2000": {"manifold": "saddle", "half_width": 1},
    "flat_square_n2000": {"manifold": "flat_square", "side": 1},
    "swiss_roll_n2000": {"manifold": "swiss_roll"},
}


def _spec(**kw):
    return {"source": "manifold", "n": 2000, "seed": 0, **kw}


@pytest.mark.parametrize("name", list(FIXTURES))
def test_reproduces_fixture_bit_for_bit(geometry_fixtures, name):
    z = np.load(geometry_fixtures / f"{name}.npz", allow_pickle=False)
    spec = _spec(**FIXTURES[name])
    draw = mf.draw_manifold(spec)
    s = draw.sample
    assert np.array_equal(draw.x, z["x"])
    if "x_clean" in z.files:
        assert np.array_equal(s.points, z["x_clean"])
    assert np.array_equal(np.full(2000, s.true_dim), z["true_dim"])
    assert np.array_equal(s.scalar_curvature, z["true_scalar_curvature"])
    if "true_gaussian_curvature" in z.files:
        assert np.array_equal(s.gaussian_curvature, z["true_gaussian_curvature"])
    else:
        assert s.gaussian_curvature is None
    if "param" in z.files:
        assert np.array_equal(s.params, z["param"])
    if "interior_mask" in z.files:
        assert np.array_equal(s.interior, z["interior_mask"])
    if "rotation" in z.files:
        assert np.array_equal(mf.FLAT_SQUARE_ROTATION, z["rotation"])

    # The source: the same numbers, cast once to float32, and the ground-truth columns.
    ds = load_dataset(spec, LOG)
    assert np.array_equal(ds.arrays, z["x"].astype(np.float32))
    truth = z["true_scalar_curvature"]
    assert np.array_equal(ds.samples["true_scalar_curvature"].to_numpy(), truth)
    assert np.array_equal(ds.samples["true_dim"].to_numpy(), z["true_dim"])
    if "param" in z.files:
        cols = list(s.param_names)
        assert np.array_equal(ds.samples[cols].to_numpy(), z["param"])
    if "interior_mask" in z.files:
        assert np.array_equal(ds.samples["interior"].to_numpy(), z["interior_mask"])


def test_source_columns_ids_and_split():
    ds = load_dataset(_spec(manifold="torus", n=100, test_fraction=0.25), LOG)
    s = ds.samples
    assert s["id"].tolist()[:2] == ["p00000", "p00001"]
    assert (s["split"] == "test").sum() == 25
    assert list(s.columns) == [
        "id",
        "split",
        "true_dim",
        "true_scalar_curvature",
        "true_gaussian_curvature",
        "phi",
        "theta",
    ]
    assert s["true_dim"].dtype == np.int64
    assert ds.info["manifold"] == "torus" and ds.info["params"] == {"R": 2.0, "r": 1.0}
    assert ds.info["ambient_dim"] == 3
    # chart columns are the ones the points were made from
    phi, theta = s["phi"].to_numpy(), s["theta"].to_numpy()
    ring = 2 + np.cos(theta)
    expected = np.stack([ring * np.cos(phi), ring * np.sin(phi), np.sin(theta)], axis=1)
    np.testing.assert_allclose(ds.arrays, expected, atol=1e-6)


# ---------------------------------------------------------------- closed forms at known points


def test_closed_forms_at_known_points():
    # sphere: S = d(d-1)/r^2
    assert mf.sphere_scalar_curvature(2, 2.0) == 0.5
    assert mf.sphere_scalar_curvature(3, 1.0) == 6.0
    assert mf.sphere_scalar_curvature(1, 1.0) == 0.0
    # torus: outer equator 1/(r(R+r)), inner equator -1/(r(R-r)), top/bottom circles 0
    k = mf.torus_gaussian_curvature(np.array([0.0, np.pi, np.pi / 2]), 3.0, 1.0)
    np.testing.assert_allclose(k, [1 / 4, -1 / 2, 0.0], atol=1e-15)
    # saddle: -4 at the origin, -4/81 at the corner of [-1, 1]^2
    np.testing.assert_allclose(
        mf.saddle_gaussian_curvature(np.array([0.0, 1.0]), np.array([0.0, -1.0])), [-4.0, -4 / 81]
    )
    # hyperboloid: -1/c^2 on the waist; -1/(1+2z^2)^2 for a = c = 1
    waist = np.array([[2.0, 0.0, 0.0], [0.0, -2.0, 0.0]])
    np.testing.assert_allclose(mf.hyperboloid_gaussian_curvature(waist, 2.0, 3.0), [-1 / 9, -1 / 9])
    z = np.array([0.5, -1.3])
    rho = np.sqrt(1 + z**2)
    pts = np.stack([rho, 0 * z, z], axis=1)
    np.testing.assert_allclose(mf.hyperboloid_gaussian_curvature(pts, 1.0, 1.0), -1 / (1 + 2 * z**2) ** 2)
    # ellipsoid: at the end of the a-axis a^2/(b^2 c^2), etc.
    a, b, c = 1.5, 1.0, 0.75
    ends = np.array([[a, 0, 0], [0, -b, 0], [0, 0, c]])
    np.testing.assert_allclose(
        mf.ellipsoid_gaussian_curvature(ends, a, b, c),
        [a**2 / (b**2 * c**2), b**2 / (a**2 * c**2), c**2 / (a**2 * b**2)],
    )


def test_sphere_radius_and_dimension_in_samples():
    ds = load_dataset(_spec(manifold="sphere", radius=2.0, n=50), LOG)
    assert np.allclose(ds.samples["true_scalar_curvature"], 0.5)
    assert np.allclose(ds.samples["true_gaussian_curvature"], 0.25)
    np.testing.assert_allclose(np.linalg.norm(ds.arrays, axis=1), 2.0, rtol=1e-6)
    s3 = load_dataset(_spec(manifold="sphere", dim=3, n=50), LOG)
    assert s3.arrays.shape == (50, 4)
    assert np.all(s3.samples["true_scalar_curvature"] == 6.0)
    assert "true_gaussian_curvature" not in s3.samples.columns


# ------------------------------------------- independent check of K by finite differences


def _parametrisations():
    """name -> (spec, X(p1, p2)): the surfaces written out independently of the module."""
    R, r = 2.5, 0.8
    a_h, c_h = 1.3, 0.7
    a, b, c = 1.5, 1.0, 0.75
    return {
        "sphere": (
            {"manifold": "sphere", "radius": 1.7},
            lambda az, pol: 1.7 * np.stack([np.sin(pol) * np.cos(az), np.sin(pol) * np.sin(az), np.cos(pol)], -1),
        ),
        "torus": (
            {"manifold": "torus", "R": R, "r": r},
            lambda p, t: np.stack(
                [
                    (R + r * np.cos(t)) * np.cos(p),
                    (R + r * np.cos(t)) * np.sin(p),
                    r * np.sin(t),
                ],
                -1,
            ),
        ),
        "flat_square": (
            {"manifold": "flat_square", "side": 2.0},
            lambda u, v: np.stack([u, v, 0 * u], -1) @ mf.FLAT_SQUARE_ROTATION.T,
        ),
        "saddle": (
            {"manifold": "saddle", "half_width": 1.5},
            lambda u, v: np.stack([u, v, u**2 - v**2], -1),
        ),
        "hyperboloid": (
            {"manifold": "hyperboloid", "a": a_h, "c": c_h, "half_height": 1.2},
            lambda p, z: np.stack(
                [
                    a_h * np.sqrt(1 + z**2 / c_h**2) * np.cos(p),
                    a_h * np.sqrt(1 + z**2 / c_h**2) * np.sin(p),
                    z,
                ],
                -1,
            ),
        ),
        "ellipsoid": (
            {"manifold": "ellipsoid", "axes": [a, b, c]},
            lambda az, pol: np.stack([a * np.sin(pol) * np.cos(az), b * np.sin(pol) * np.sin(az), c * np.cos(pol)], -1),
        ),
        "swiss_roll": (
            {"manifold": "swiss_roll"},
            lambda t, h: np.stack([t * np.cos(t), h, t * np.sin(t)], -1),
        ),
    }


def _fd_gaussian_curvature(X, p1, p2, h=1e-4):
    """K = (LN - M^2)/(EG - F^2) from central differences of the parametrisation X."""
    xu = (X(p1 + h, p2) - X(p1 - h, p2)) / (2 * h)
    xv = (X(p1, p2 + h) - X(p1, p2 - h)) / (2 * h)
    x0 = X(p1, p2)
    xuu = (X(p1 + h, p2) - 2 * x0 + X(p1 - h, p2)) / h**2
    xvv = (X(p1, p2 + h) - 2 * x0 + X(p1, p2 - h)) / h**2
    xuv = (X(p1 + h, p2 + h) - X(p1 + h, p2 - h) - X(p1 - h, p2 + h) + X(p1 - h, p2 - h)) / (4 * h**2)
    normal = np.cross(xu, xv)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)

    def dot(p, q):
        return np.sum(p * q, axis=-1)

    E, F, G = dot(xu, xu), dot(xu, xv), dot(xv, xv)
    L, M, N = dot(xuu, normal), dot(xuv, normal), dot(xvv, normal)
    return (L * N - M**2) / (E * G - F**2)


@pytest.mark.parametrize("name", list(_parametrisations()))
def test_gaussian_curvature_matches_finite_differences(name):
    spec, X = _parametrisations()[name]
    s = mf.draw_manifold(_spec(n=300, seed=3, **spec)).sample
    p1, p2 = s.params[:, 0], s.params[:, 1]
    # The chart columns regenerate the points, so the finite differences are taken where K was.
    np.testing.assert_allclose(X(p1, p2), s.points, atol=1e-12)
    if name in ("sphere", "ellipsoid"):
        # polar coordinates are singular at the poles; away from them the FD formula is accurate
        keep = np.sin(p2) > 0.2
        p1, p2 = p1[keep], p2[keep]
        k_true = s.gaussian_curvature[keep]
    else:
        k_true = s.gaussian_curvature
    k_fd = _fd_gaussian_curvature(X, p1, p2)
    scale = max(np.abs(k_true).max(), 1.0)
    np.testing.assert_allclose(k_fd, k_true, rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_array_equal(s.scalar_curvature, 2 * s.gaussian_curvature)


# ---------------------------------------------------------------------- uniformity in area

N_UNI = 20000


def test_sphere_height_is_uniform_archimedes():
    s = mf.sample_sphere(N_UNI, 2, 2.0, np.random.default_rng(11))
    assert stats.kstest(s.points[:, 2], stats.uniform(loc=-2.0, scale=4.0).cdf).pvalue > 1e-3
    np.testing.assert_allclose(s.params[:, 2], s.points[:, 2])


def test_torus_theta_density_proportional_to_ring_radius():
    R, r = 2.0, 1.0
    s = mf.sample_torus(N_UNI, R, r, np.random.default_rng(12))
    theta = s.params[:, 1]

    def cdf(t):
        return (R * t + r * np.sin(t)) / (2 * np.pi * R)

    assert stats.kstest(theta, cdf).pvalue > 1e-3
    # power: the same test rejects the chart-uniform theta
    assert stats.kstest(np.random.default_rng(0).uniform(0, 2 * np.pi, N_UNI), cdf).pvalue < 1e-6
    assert stats.kstest(s.params[:, 0], stats.uniform(0, 2 * np.pi).cdf).pvalue > 1e-3


def test_swiss_roll_t_density_follows_arc_length():
    t0, t1 = 1.5 * np.pi, 4.5 * np.pi
    s = mf.sample_swiss_roll(N_UNI, (t0, t1), 21.0, np.random.default_rng(13))
    arc = mf.swiss_roll_arc_length

    def cdf(t):
        return (arc(t) - arc(t0)) / (arc(t1) - arc(t0))

    assert stats.kstest(s.params[:, 0], cdf).pvalue > 1e-3
    assert stats.kstest(s.params[:, 1], stats.uniform(0, 21).cdf).pvalue > 1e-3


def _chi2_pvalue(counts, areas):
    expected = np.asarray(areas) / np.sum(areas) * np.sum(counts)
    return stats.chisquare(counts, expected).pvalue


def test_saddle_cell_counts_match_areas():
    h = 1.0
    s = mf.sample_saddle(N_UNI, h, np.random.default_rng(14))
    edges = np.linspace(-h, h, 4)
    counts, _, _ = np.histogram2d(s.params[:, 0], s.params[:, 1], bins=[edges, edges])
    areas = [
        [
            integrate.dblquad(
                lambda v, u: math.sqrt(1 + 4 * u * u + 4 * v * v),
                edges[i],
                edges[i + 1],
                edges[j],
                edges[j + 1],
            )[0]
            for j in range(3)
        ]
        for i in range(3)
    ]
    # total area of the saddle on [-1, 1]^2 (closed form by quadrature, sanity of the integrand)
    assert np.sum(areas) == pytest.approx(7.4463, abs=1e-3)
    assert _chi2_pvalue(counts.ravel(), np.ravel(areas)) > 1e-3


def test_hyperboloid_band_counts_match_areas():
    a, c, H = 1.0, 0.5, 1.5
    s = mf.sample_hyperboloid(N_UNI, a, c, H, np.random.default_rng(15))
    z = s.params[:, 1]
    assert np.all(np.abs(z) <= H)
    # points lie on the surface
    x, y, zz = s.points.T
    np.testing.assert_allclose((x**2 + y**2) / a**2 - zz**2 / c**2, 1.0, atol=1e-12)

    def band_area(z0, z1):
        # surface of revolution of radius rho(z) = a sqrt(1 + z^2/c^2): dA = rho sqrt(1 + rho'^2)
        def ring(t):
            rho = a * math.sqrt(1 + t * t / c**2)
            drho = a * t / (c * c * math.sqrt(1 + t * t / c**2))
            return 2 * np.pi * rho * math.sqrt(1 + drho**2)

        return integrate.quad(ring, z0, z1)[0]

    edges = np.linspace(-H, H, 7)
    counts = np.histogram(z, bins=edges)[0]
    areas = [band_area(edges[i], edges[i + 1]) for i in range(6)]
    assert _chi2_pvalue(counts, areas) > 1e-3
    # power: the chart-uniform z is rejected (the rims carry much more area than the waist)
    naive = np.histogram(np.random.default_rng(0).uniform(-H, H, N_UNI), bins=edges)[0]
    assert _chi2_pvalue(naive, areas) < 1e-6
    # the interior mask is |z| <= 0.8 half_height
    np.testing.assert_array_equal(s.interior, np.abs(z) <= 0.8 * H)


def test_ellipsoid_patch_counts_match_areas():
    a, b, c = 1.5, 1.0, 0.75
    s = mf.sample_ellipsoid(N_UNI, a, b, c, np.random.default_rng(16))
    x, y, z = s.points.T
    np.testing.assert_allclose(x**2 / a**2 + y**2 / b**2 + z**2 / c**2, 1.0, atol=1e-12)

    def element(pol, az):
        # |X_pol x X_az| for X = (a sin pol cos az, b sin pol sin az, c cos pol)
        sp, cp, sa, ca = math.sin(pol), math.cos(pol), math.sin(az), math.cos(az)
        return sp * math.sqrt((b * c * sp * ca) ** 2 + (a * c * sp * sa) ** 2 + (a * b * cp) ** 2)

    # patches: 3 polar bands x 4 azimuth quadrants around the x axis (a != b makes them unequal)
    pol_edges = np.array([0.0, np.pi / 3, 2 * np.pi / 3, np.pi])
    az_edges = np.array([-np.pi, -3 * np.pi / 4, -np.pi / 4, np.pi / 4, 3 * np.pi / 4, np.pi])
    az, pol = s.params[:, 0], s.params[:, 1]
    counts = np.histogram2d(pol, az, bins=[pol_edges, az_edges])[0]
    areas = np.array(
        [
            [
                integrate.dblquad(element, az_edges[j], az_edges[j + 1], pol_edges[i], pol_edges[i + 1])[0]
                for j in range(5)
            ]
            for i in range(3)
        ]
    )
    # the last and first azimuth bins are the same quadrant (around -x), merged
    counts = np.column_stack([counts[:, 0] + counts[:, 4], counts[:, 1:4]])
    areas = np.column_stack([areas[:, 0] + areas[:, 4], areas[:, 1:4]])
    assert _chi2_pvalue(counts.ravel(), areas.ravel()) > 1e-3
    # power: sphere-uniform directions mapped without the acceptance step are rejected
    g = np.random.default_rng(0).standard_normal((N_UNI, 3))
    u = g / np.linalg.norm(g, axis=1, keepdims=True)
    naive = np.histogram2d(np.arccos(u[:, 2]), np.arctan2(u[:, 1], u[:, 0]), bins=[pol_edges, az_edges])[0]
    naive = np.column_stack([naive[:, 0] + naive[:, 4], naive[:, 1:4]])
    assert _chi2_pvalue(naive.ravel(), areas.ravel()) < 1e-6


def test_rejection_sampler_takes_several_batches_when_needed():
    # acceptance 1/100 per proposal: with 1000 proposals per batch several batches are needed
    rng = np.random.default_rng(0)
    chart = mf.rejection_sample(50, (0.0, 0.0), (1.0, 1.0), lambda p: np.ones(len(p)), 100.0, rng)
    assert chart.shape == (50, 2)
    assert np.all((chart >= 0) & (chart < 1))


# ------------------------------------------------------------------- embedding and noise


def test_random_isometry_preserves_distances():
    m = mf.random_isometry(3, 10, seed=5)
    np.testing.assert_allclose(m @ m.T, np.eye(3), atol=1e-14)
    s = mf.sample_torus(300, 2.0, 1.0, np.random.default_rng(0))
    np.testing.assert_allclose(pdist(s.points @ m), pdist(s.points), rtol=0, atol=1e-10)
    # a separate generator: the map depends on the seed only
    assert np.array_equal(m, mf.random_isometry(3, 10, seed=5))
    assert not np.allclose(m, mf.random_isometry(3, 10, seed=6))


def test_embedding_leaves_the_main_stream_and_distances_unchanged():
    plain = mf.draw_manifold(_spec(manifold="saddle", n=400, noise=0.0))
    emb = mf.draw_manifold(_spec(manifold="saddle", n=400, noise=0.0, ambient_dim=12))
    assert emb.x.shape == (400, 12) and emb.embedded
    assert np.array_equal(plain.sample.points, emb.sample.points)
    np.testing.assert_allclose(emb.x, plain.x @ mf.random_isometry(3, 12, 0), atol=0)
    np.testing.assert_allclose(pdist(emb.x), pdist(plain.x), rtol=0, atol=1e-10)
    # ambient_dim equal to the natural dimension keeps the natural coordinates
    same = mf.draw_manifold(_spec(manifold="saddle", n=400, ambient_dim=3))
    assert np.array_equal(same.x, plain.x) and not same.embedded
    ds = load_dataset(_spec(manifold="saddle", n=400, ambient_dim=12), LOG)
    assert np.array_equal(ds.arrays, emb.x.astype(np.float32))
    assert ds.info["ambient_dim"] == 12


def test_noise_has_the_requested_sd_in_every_ambient_direction():
    sigma = 0.1
    clean = mf.draw_manifold(_spec(manifold="flat_square", n=5000, ambient_dim=6))
    noisy = mf.draw_manifold(_spec(manifold="flat_square", n=5000, ambient_dim=6, noise=sigma))
    e = noisy.x - clean.x
    # 5000 samples: the s.d. of a sample s.d. is sigma/sqrt(2n) = 1% of sigma
    np.testing.assert_allclose(e.std(axis=0), sigma, rtol=0.05)
    np.testing.assert_allclose(e.mean(axis=0), 0.0, atol=5 * sigma / math.sqrt(5000))
    assert np.allclose(np.corrcoef(e.T), np.eye(6), atol=0.06)
    assert stats.kstest(e.ravel() / sigma, "norm").pvalue > 1e-3


def test_interior_rules_with_non_default_sizes():
    sq = mf.sample_flat_square(2000, 3.0, np.random.default_rng(1))
    u, v = sq.params.T
    assert np.array_equal(sq.interior, (u >= 0.3) & (u <= 2.7) & (v >= 0.3) & (v <= 2.7))
    sad = mf.sample_saddle(2000, 2.0, np.random.default_rng(1))
    assert np.array_equal(sad.interior, (np.abs(sad.params) <= 1.6).all(axis=1))
    roll = mf.sample_swiss_roll(2000, (2.0, 10.0), 8.0, np.random.default_rng(1))
    t, h = roll.params.T
    arc = mf.swiss_roll_arc_length
    inside = (arc(t) - arc(2.0) >= 2) & (arc(10.0) - arc(t) >= 2) & (h >= 2) & (h <= 6)
    assert np.array_equal(roll.interior, inside) and 0 < inside.sum() < 2000


def test_determinism_per_seed():
    a = load_dataset(_spec(manifold="ellipsoid", n=200, seed=4, noise=0.02), LOG)
    b = load_dataset(_spec(manifold="ellipsoid", n=200, seed=4, noise=0.02), LOG)
    c = load_dataset(_spec(manifold="ellipsoid", n=200, seed=5, noise=0.02), LOG)
    assert np.array_equal(a.arrays, b.arrays) and a.samples.equals(b.samples)
    assert not np.array_equal(a.arrays, c.arrays)


# ---------------------------------------------------------------------------- bad specs


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            {"manifold": "sphere", "R": 2.0},
            "param R does not apply to manifold sphere; it accepts: dim, radius",
        ),
        ({"manifold": "torus", "axes": [1, 2, 3]}, "param axes does not apply to manifold torus"),
        ({"manifold": "torus", "R": 1.0, "r": 1.0}, "r < R"),
        ({"manifold": "torus", "R": 1.0, "r": 2.0}, "make r smaller than R"),
        ({"manifold": "sphere", "dim": 3, "ambient_dim": 3}, "smaller than the natural dim"),
        ({"manifold": "saddle", "ambient_dim": 2}, "set ambient_dim >= 3"),
        ({"manifold": "swiss_roll", "t_range": [5.0, 1.0]}, "t_start < t_end"),
        ({"manifold": "klein_bottle"}, "unknown manifold"),
        ({"manifold": "ellipsoid", "axes": [1.0, -1.0, 1.0]}, "axes must be > 0"),
        ({"manifold": "sphere", "noise": -0.1}, "noise must be >= 0"),
    ],
)
def test_bad_specs_raise_clear_errors(spec, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(")):
        mf.manifold({"source": "manifold", "n": 10, **spec}, LOG)
