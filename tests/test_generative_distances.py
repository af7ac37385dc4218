"""Distances to the N(0, I) prior and Mardia statistics of the sliced generative models, against
independent computations: quadrature, scipy's statistics, sphere averages, loop-based formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from repgeo.generative.distances import (
    ONE_D_DISTANCES,
    _sort_rows,
    cramer_von_mises,
    cramer_wold_1d,
    cw_distance,
    cw_distance_exact,
    kolmogorov_smirnov,
    random_directions,
    silverman_gamma,
    sliced_distance,
    sliced_wasserstein,
    sliced_wasserstein_to_normal,
    w2_closed_form,
    w2_prior_sample,
)
from repgeo.generative.normality import mardia_prior, mardia_test
from scipy import integrate, stats
from scipy.special import ndtri

KINDS = sorted(ONE_D_DISTANCES)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def samples_1d() -> list[np.ndarray]:
    """Three test samples of the 1-D laws: N(0, 1) n = 128, N(0.5, 2^2) n = 128, U(-1, 1) n = 64."""
    rng = np.random.default_rng(0)
    return [rng.standard_normal(128), 0.5 + 2.0 * rng.standard_normal(128), rng.uniform(-1.0, 1.0, 64)]


def row(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)[None]


# --- SCFWAE: closed-form W2^2 ------------------------------------------------------------------


def w2_by_quadrature(x: np.ndarray) -> float:
    """int_0^1 (F_n^-1(q) - Phi^-1(q))^2 dq, one quad per interval ((i-1)/n, i/n) where F_n^-1 = x_(i)."""
    x = np.sort(x)
    n = len(x)
    return sum(
        integrate.quad(lambda q, xi=xi: (xi - ndtri(q)) ** 2, i / n, (i + 1) / n, limit=200)[0]
        for i, xi in enumerate(x)
    )


@pytest.mark.parametrize("index", range(3))
def test_w2_closed_form_equals_quadrature(index):
    x = samples_1d()[index]
    assert float(w2_closed_form(row(x))[0]) == pytest.approx(w2_by_quadrature(x), rel=1e-6)


def test_w2_closed_form_agrees_with_monte_carlo():
    # E_q (F_n^-1(q) - Phi^-1(q))^2 with q ~ U(0, 1); a check with 2e6 draws on other samples of the
    # same laws, run for this project, agreed with the closed form (0.02024 / 1.43824 / 0.10747).
    rng = np.random.default_rng(1)
    q = rng.uniform(size=400_000)
    for x in samples_1d():
        xs = np.sort(x)
        mc = np.mean((xs[np.minimum((q * len(x)).astype(int), len(x) - 1)] - ndtri(q)) ** 2)
        assert float(w2_closed_form(row(x))[0]) == pytest.approx(mc, rel=0.03)


def test_w2_closed_form_has_no_nan_at_the_end_quantiles():
    s = torch.tensor([[-1.0, 0.2, 3.0], [0.0, 0.1, -0.1]], dtype=torch.float64, requires_grad=True)
    value = w2_closed_form(s)
    value.sum().backward()
    assert torch.isfinite(value).all() and torch.isfinite(s.grad).all()
    # n = 2: m = (-phi(0), phi(0)), so W2^2 = mean(s^2) + 1 - 2 phi(0) (s_(2) - s_(1)).
    two = torch.tensor([[-0.3, 0.9]], dtype=torch.float64)
    expected = (0.09 + 0.81) / 2 + 1 - 2 * stats.norm.pdf(0) * 1.2
    assert float(w2_closed_form(two)[0]) == pytest.approx(expected, rel=1e-12)


# --- SWAE ----------------------------------------------------------------------------------------


def test_swae_expectation_is_close_to_closed_form_w2():
    # E over prior samples of W2^2(sample, prior sample) exceeds W2^2(sample, N(0, 1)) by about
    # the prior sample's own distance to N(0, 1) (~0.02 at n = 128): close, not equal.
    for x in samples_1d():
        closed = float(w2_closed_form(row(x))[0])
        swae = float(w2_prior_sample(row(x).repeat(4000, 1), gen(0)).mean())
        assert swae == pytest.approx(closed, rel=0.1, abs=0.03)
    normal = samples_1d()[0]
    assert float(w2_prior_sample(row(normal).repeat(4000, 1), gen(0)).mean()) < 0.05


def test_swae_is_reproducible_with_a_generator():
    s = torch.randn(4, 32, generator=gen(3), dtype=torch.float64)
    assert torch.equal(w2_prior_sample(s, gen(5)), w2_prior_sample(s, gen(5)))
    assert not torch.equal(w2_prior_sample(s, gen(5)), w2_prior_sample(s, gen(6)))


# --- SCWAE: 1-D Cramer-Wold ----------------------------------------------------------------------


def smoothed_l2_by_quadrature(x: np.ndarray, gamma: float) -> float:
    """int (mean_i N(t; x_i, gamma) - N(t; 0, 1 + gamma))^2 dt by adaptive quadrature."""

    def integrand(t: float) -> float:
        f = stats.norm.pdf(t, loc=x, scale=math.sqrt(gamma)).mean()
        return (f - stats.norm.pdf(t, scale=math.sqrt(1.0 + gamma))) ** 2

    lo, hi = x.min() - 12.0, x.max() + 12.0
    return integrate.quad(
        integrand, lo, hi, points=np.sort(x)[:: max(1, len(x) // 40)], limit=2000, epsabs=1e-13, epsrel=1e-10
    )[0]


@pytest.mark.parametrize("index", range(3))
def test_cramer_wold_1d_equals_integral_of_smoothed_densities(index):
    x = samples_1d()[index]
    gamma = silverman_gamma(len(x))
    assert gamma == pytest.approx((4 / (3 * len(x))) ** 0.4)
    assert float(cramer_wold_1d(row(x))[0]) == pytest.approx(smoothed_l2_by_quadrature(x, gamma), rel=1e-6)
    assert float(cramer_wold_1d(row(x), gamma=0.5)[0]) == pytest.approx(smoothed_l2_by_quadrature(x, 0.5), rel=1e-6)


# --- Cramer-von Mises and Kolmogorov-Smirnov ------------------------------------------------------


def test_cvm_and_ks_equal_scipy():
    rng = np.random.default_rng(2)
    xs = [*samples_1d(), rng.standard_t(3, 50), rng.normal(1.0, 0.3, 7)]
    for x in xs:
        s = row(x)
        assert float(cramer_von_mises(s)[0]) == pytest.approx(stats.cramervonmises(x, "norm").statistic, rel=1e-6)
        assert float(kolmogorov_smirnov(s)[0]) == pytest.approx(stats.kstest(x, "norm").statistic, rel=1e-6)
        # float32 keeps its dtype and agrees to single precision.
        s32 = s.float()
        assert cramer_von_mises(s32).dtype == torch.float32
        assert float(cramer_von_mises(s32)[0]) == pytest.approx(stats.cramervonmises(x, "norm").statistic, rel=1e-4)
        assert float(kolmogorov_smirnov(s32)[0]) == pytest.approx(stats.kstest(x, "norm").statistic, rel=1e-4)


def test_one_d_distances_work_row_by_row_in_float32_and_float64():
    s = torch.randn(5, 40, generator=gen(4), dtype=torch.float64) * 1.3 + 0.2
    for kind in ("scfwae", "scwae", "scvmae", "sksae"):
        fn = ONE_D_DISTANCES[kind]
        full = fn(s)
        assert full.shape == (5,)
        assert float(fn(s[2:3])[0]) == pytest.approx(float(full[2]), rel=1e-12)
        single = fn(s.float())
        assert single.dtype == torch.float32
        assert torch.allclose(single.double(), full, rtol=1e-4, atol=1e-6), kind
    # SWAE draws its prior sample in the data's dtype (torch's float32 and float64 draws differ).
    assert w2_prior_sample(s, gen(0)).shape == (5,)
    assert w2_prior_sample(s.float(), gen(0)).dtype == torch.float32


# --- sliced distances ------------------------------------------------------------------------------


def test_random_directions_are_unit_and_reproducible():
    v = random_directions(7, 500, generator=gen(1), dtype=torch.float64)
    assert v.shape == (500, 7)
    assert torch.allclose(v.norm(dim=1), torch.ones(500, dtype=torch.float64))
    assert torch.equal(v, random_directions(7, 500, generator=gen(1), dtype=torch.float64))
    # Uniform on the sphere: E v v^T = I / D.
    assert torch.allclose(v.T @ v / 500, torch.eye(7, dtype=torch.float64) / 7, atol=0.03)


@pytest.mark.parametrize("kind", KINDS)
def test_sliced_distance_is_small_for_the_prior(kind):
    z = torch.randn(256, 8, generator=gen(0), dtype=torch.float64)
    near = float(sliced_distance(z, kind, generator=gen(1)))
    far = float(sliced_distance(2.0 * z + 1.0, kind, generator=gen(1)))
    assert near > 0 and far > 3.0 * near, (near, far)


def test_sliced_distance_is_the_mean_of_the_1d_distance_over_the_directions():
    z = torch.randn(50, 6, generator=gen(2), dtype=torch.float64)
    v = random_directions(6, 20, generator=gen(3), dtype=torch.float64)
    for kind in ("scfwae", "scwae", "scvmae", "sksae"):
        expected = ONE_D_DISTANCES[kind](v @ z.T).mean()
        assert float(sliced_distance(z, kind, n_projections=20, generator=gen(3))) == pytest.approx(
            float(expected), rel=1e-12
        )


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sliced_distance_value_and_gradient_equal_the_composed_1d_distance(kind, dtype):
    # sliced_distance's fused backward against autograd through the public 1-D function, with the
    # same directions (and for swae the same prior sample: drawn from the generator after them).
    z = (torch.randn(64, 5, generator=gen(9), dtype=torch.float64) * 1.2 + 0.3).to(dtype)
    z_fused = z.clone().requires_grad_(True)
    fused = sliced_distance(z_fused, kind, n_projections=30, generator=gen(10))
    fused.backward()
    g = gen(10)
    v = random_directions(5, 30, generator=g, dtype=dtype)
    z_ref = z.clone().requires_grad_(True)
    s = v @ z_ref.T
    reference = (w2_prior_sample(s, g) if kind == "swae" else ONE_D_DISTANCES[kind](s)).mean()
    reference.backward()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert float(fused.detach()) == pytest.approx(float(reference.detach()), rel=tol)
    assert torch.allclose(z_fused.grad, z_ref.grad, rtol=tol * 10, atol=tol * float(z_ref.grad.abs().max())), kind
    with torch.no_grad():
        assert float(sliced_distance(z, kind, n_projections=30, generator=gen(10))) == pytest.approx(
            float(reference), rel=tol
        )


@pytest.mark.slow
def test_compiled_sliced_distance_equals_the_eager_one():
    # torch.compile needs ~30 s for its first kernel: a slow check (make test-slow).
    z = torch.randn(128, 20, generator=gen(11)) * 1.1 + 0.2
    for kind in KINDS:
        eager, fused = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
        d_eager = sliced_distance(eager, kind, generator=gen(12))
        d_fused = sliced_distance(fused, kind, generator=gen(12), compiled=True)
        d_eager.backward()
        d_fused.backward()
        # float32 with another summation order: scwae differs by 1.04e-5 relative (2026-12-06).
        assert float(d_fused) == pytest.approx(float(d_eager), rel=5e-5), kind
        assert torch.allclose(fused.grad, eager.grad, rtol=1e-4, atol=1e-5 * float(eager.grad.abs().max())), kind


def test_sliced_wasserstein_to_normal_scale_and_shift():
    z = torch.randn(2000, 4, generator=gen(5), dtype=torch.float64)
    assert sliced_wasserstein_to_normal(z, generator=gen(6)) < 0.02
    # W2^2(N(0, 4), N(0, 1)) = 1 in every direction; a shift mu gives E (v^T mu)^2 = ||mu||^2 / D = 1.
    assert sliced_wasserstein_to_normal(2.0 * z, generator=gen(6)) == pytest.approx(1.0, rel=0.1)
    assert sliced_wasserstein_to_normal(z + 1.0, generator=gen(6)) == pytest.approx(1.0, rel=0.25)
    assert sliced_wasserstein_to_normal(z.numpy(), generator=gen(6)) == sliced_wasserstein_to_normal(
        z, generator=gen(6)
    )


def test_sliced_wasserstein_between_samples():
    x = torch.rand(300, 1, 4, 4, generator=gen(7), dtype=torch.float64)
    # A constant shift c of every pixel moves each sorted projection by c * sum(v): exact value.
    v = random_directions(16, 64, generator=gen(8), dtype=torch.float64)
    expected = float((0.1 * v.sum(dim=1)).square().mean())
    assert sliced_wasserstein(x, x + 0.1, n_projections=64, generator=gen(8)) == pytest.approx(expected, rel=1e-10)
    assert sliced_wasserstein(x, x[torch.randperm(300, generator=gen(9))], generator=gen(8)) == pytest.approx(
        0.0, abs=1e-24
    )
    # Unequal sizes: the larger sample is subsampled reproducibly.
    y = torch.rand(1000, 16, generator=gen(10), dtype=torch.float64)
    a = sliced_wasserstein(x, y, generator=gen(11))
    assert a == sliced_wasserstein(y, x, generator=gen(11)) and 0 < a < 0.01


# --- multivariate Cramer-Wold -----------------------------------------------------------------------


def test_cw_distance_exact_is_the_circle_average_of_cramer_wold_1d():
    # D = 2: the mean over the circle by the trapezoidal rule in the angle (spectrally accurate
    # for a smooth periodic integrand; the 1-D distance has period pi).
    z = torch.tensor(np.random.default_rng(3).normal(0.3, 1.2, (60, 2)))
    theta = torch.arange(256, dtype=torch.float64) * math.pi / 256
    v = torch.stack([theta.cos(), theta.sin()], dim=1)
    assert cw_distance_exact(z) == pytest.approx(float(cramer_wold_1d(v @ z.T).mean()), rel=1e-9)


def test_cw_distance_exact_is_the_sphere_average_of_cramer_wold_1d():
    # D = 3: u = cos(polar angle) is uniform on [-1, 1] (Archimedes), Gauss-Legendre in u and the
    # trapezoidal rule in the azimuth.
    z = torch.tensor(np.random.default_rng(4).normal(-0.2, 0.8, (50, 3)))
    u, w = np.polynomial.legendre.leggauss(48)
    phi = np.arange(96) * 2 * math.pi / 96
    uu, pp = np.meshgrid(u, phi, indexing="ij")
    r = np.sqrt(1 - uu**2)
    v = torch.tensor(np.stack([r * np.cos(pp), r * np.sin(pp), uu], axis=-1).reshape(-1, 3))
    weights = torch.tensor(np.repeat(w / 2 / 96, 96))
    average = float((cramer_wold_1d(v @ z.T) * weights).sum())
    assert cw_distance_exact(z) == pytest.approx(average, rel=1e-8)


def test_cw_distance_exact_in_one_dimension_is_cramer_wold_1d():
    z = np.random.default_rng(5).normal(0.4, 1.1, (80, 1))
    assert cw_distance_exact(z) == pytest.approx(float(cramer_wold_1d(torch.tensor(z.T))[0]), rel=1e-12)


def test_cw_distance_exact_averages_random_directions_in_five_dimensions():
    z = torch.tensor(np.random.default_rng(6).normal(0.3, 1.2, (60, 5)))
    values = cramer_wold_1d(random_directions(5, 4000, generator=gen(12), dtype=torch.float64) @ z.T)
    se = float(values.std()) / math.sqrt(len(values))
    assert abs(cw_distance_exact(z) - float(values.mean())) < 4 * se


def cw_by_loops(z: np.ndarray, gamma: float) -> float:
    """The asymptotic CWAE formula (Knop, Tabor et al., arXiv 1805.09235; gmum/cwae ``src/cw.py``), term by term."""
    n, d = z.shape
    c = 2 * d - 3
    pairs = sum((gamma + np.sum((z[i] - z[j]) ** 2) / c) ** -0.5 for i in range(n) for j in range(n)) / n**2
    cross = sum((gamma + 0.5 + np.sum(z[i] ** 2) / c) ** -0.5 for i in range(n)) / n
    return 1 / math.sqrt(1 + gamma) + pairs - 2 * cross


def test_cw_distance_equals_the_formula_and_approximates_the_exact_distance():
    rng = np.random.default_rng(7)
    z = rng.normal(0.5, 1.5, (40, 20))
    gamma = (4 / (3 * 40)) ** 0.4
    assert float(cw_distance(torch.tensor(z))) == pytest.approx(cw_by_loops(z, gamma), rel=1e-12)
    assert float(cw_distance(torch.tensor(z), gamma=0.3)) == pytest.approx(cw_by_loops(z, 0.3), rel=1e-12)
    # cw_distance ~= 2 sqrt(pi) cw_distance_exact, to the 1 % accuracy of the asymptotic kernel at
    # D = 20; for a sample of the prior the kernel error does not cancel and leaves a floor ~0.02.
    constant = 2 * math.sqrt(math.pi)
    far = rng.normal(1.0, 2.0, (500, 20))
    assert float(cw_distance(torch.tensor(far))) == pytest.approx(constant * cw_distance_exact(far), rel=0.05)
    prior = rng.standard_normal((500, 20))
    assert constant * cw_distance_exact(prior) < 0.005
    assert 0.01 < float(cw_distance(torch.tensor(prior))) < 0.03


def test_cw_distance_is_accurate_in_float32_far_from_the_origin():
    z = torch.randn(128, 16, generator=gen(13), dtype=torch.float64) + 300.0
    assert float(cw_distance(z.float())) == pytest.approx(float(cw_distance(z)), rel=1e-4)


# --- gradients -------------------------------------------------------------------------------------


def distinct(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=gen(seed), dtype=torch.float64).requires_grad_()


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_one_d_distance(kind):
    fn = ONE_D_DISTANCES[kind]
    s = distinct((3, 6), 20)
    if kind == "swae":
        assert torch.autograd.gradcheck(lambda t: w2_prior_sample(t, gen(0)), (s,))
    else:
        assert torch.autograd.gradcheck(fn, (s,))


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_sliced_distance(kind):
    z = distinct((6, 3), 21)
    assert torch.autograd.gradcheck(lambda t: sliced_distance(t, kind, n_projections=3, generator=gen(1)), (z,))


def test_gradcheck_cw_distance():
    assert torch.autograd.gradcheck(cw_distance, (distinct((6, 3), 22),))
    assert torch.autograd.gradcheck(lambda t: cw_distance(t, gamma=0.2), (distinct((5, 4), 23),))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_distances_on_cuda_match_cpu():
    z = torch.randn(64, 8, generator=gen(14), dtype=torch.float64)
    for kind in KINDS:
        cpu = float(sliced_distance(z, kind, generator=gen(15)))
        cuda = sliced_distance(z.cuda().float(), kind, generator=gen(15))
        assert cuda.device.type == "cuda" and float(cuda) == pytest.approx(cpu, rel=1e-4), kind
    assert float(cw_distance(z.cuda())) == pytest.approx(float(cw_distance(z)), rel=1e-10)
    assert sliced_wasserstein_to_normal(z.cuda(), generator=gen(16)) == pytest.approx(
        sliced_wasserstein_to_normal(z, generator=gen(16)), rel=1e-10
    )


# --- Mardia -----------------------------------------------------------------------------------------


def test_mardia_prior_on_a_large_prior_sample():
    n, d = 20_000, 5
    z = np.random.default_rng(8).standard_normal((n, d))
    raw = mardia_prior(z)
    # E b1 = E||z||^6 / n = D(D+2)(D+4)/n (the diagonal; off-diagonal terms have mean 0), with sd
    # sqrt(2 * 15 D(D+2)(D+4)) / n = 0.0049; b2 has mean D(D+2) = 35 and sd
    # sqrt((D(D+2)(D+4)(D+6) - 35^2) / n) = 0.33. Allow 5 sd.
    assert abs(raw.skewness - d * (d + 2) * (d + 4) / n) < 5 * math.sqrt(30 * d * (d + 2) * (d + 4)) / n
    assert abs(raw.kurtosis - d * (d + 2)) < 5 * math.sqrt((d * (d + 2) * (d + 4) * (d + 6) - (d * (d + 2)) ** 2) / n)
    assert raw.normalised_kurtosis == pytest.approx(raw.kurtosis - 35)  # signed (Knop et al., Table 1)
    assert (raw.n_samples, raw.dim) == (n, d)


def test_mardia_on_a_shifted_and_scaled_example():
    # Measured earlier for this project (another RNG): raw b1 = 60.7, b2 = 424; standardised
    # b1 = 0.29, b2 = 79.3. Over seeds raw b1 ~ 57 +- 6 (centring alone would give ~5), raw
    # b2 ~ 421 +- 9 (whitening would give ~80), standardised b1 ~ 0.36 +- 0.05 (no whitening: ~5),
    # standardised b2 ~ 80 +- 0.5.
    z = np.random.default_rng(0).normal(0.2, 1.5, (2000, 8))
    raw, test = mardia_prior(z), mardia_test(z)
    assert 35 < raw.skewness < 85 and 380 < raw.kurtosis < 460
    assert 0.15 < test.skewness < 0.6 and 77.5 < test.kurtosis < 82.5
    assert raw.normalised_kurtosis == pytest.approx(raw.kurtosis - 80)


def test_blocked_skewness_equals_the_direct_formula(monkeypatch):
    from repgeo.generative import normality

    z = np.random.default_rng(9).normal(0.1, 1.2, (301, 4))
    direct = np.sum((z @ z.T) ** 3) / 301**2
    assert mardia_prior(z).skewness == pytest.approx(direct, rel=1e-12)
    monkeypatch.setattr(normality, "_BLOCK_ENTRIES", 301 * 7)  # 7-row blocks, ragged last block
    assert mardia_prior(z).skewness == pytest.approx(direct, rel=1e-12)


def mardia_by_loops(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    mean = x.mean(axis=0)
    c = x - mean
    S = sum(np.outer(ci, ci) for ci in c) / n
    Sinv = np.linalg.inv(S)
    b1 = sum((c[i] @ Sinv @ c[j]) ** 3 for i in range(n) for j in range(n)) / n**2
    b2 = sum((c[i] @ Sinv @ c[i]) ** 2 for i in range(n)) / n
    return b1, b2


def test_mardia_test_equals_a_loop_computation():
    x = np.random.default_rng(10).standard_exponential((60, 3)) @ np.array(
        [[1.0, 0.3, 0.0], [0.0, 1.0, 0.5], [0.2, 0.0, 2.0]]
    )
    b1, b2 = mardia_by_loops(x)
    t = mardia_test(x)
    n = len(x)
    assert t.skewness == pytest.approx(b1, rel=1e-10) and t.kurtosis == pytest.approx(b2, rel=1e-10)
    assert t.skewness_dof == 10 and t.skewness_statistic == pytest.approx(n * b1 / 6, rel=1e-10)
    assert t.skewness_p == pytest.approx(stats.chi2.sf(n * b1 / 6, 10), rel=1e-10)
    zk = (b2 - 15) / math.sqrt(8 * 15 / n)
    assert t.kurtosis_statistic == pytest.approx(zk, rel=1e-10)
    assert t.kurtosis_p == pytest.approx(2 * stats.norm.sf(abs(zk)), rel=1e-10)
    # Affine invariance: the test does not see shifts, scales or rotations.
    moved = mardia_test(3.0 * x @ np.linalg.qr(np.random.default_rng(11).standard_normal((3, 3)))[0] - 7.0)
    assert moved.skewness == pytest.approx(t.skewness, rel=1e-8) and moved.kurtosis == pytest.approx(
        t.kurtosis, rel=1e-8
    )


def test_mardia_test_calibration_under_the_null():
    rng = np.random.default_rng(12)
    results = [mardia_test(rng.standard_normal((200, 3))) for _ in range(100)]
    skew_reject = np.mean([r.skewness_p < 0.05 for r in results])
    kurt_reject = np.mean([r.kurtosis_p < 0.05 for r in results])
    assert 0.0 <= skew_reject <= 0.15 and 0.0 <= kurt_reject <= 0.15
    assert np.median([r.skewness_p for r in results]) > 0.2
    # And it rejects a skewed sample.
    assert mardia_test(rng.standard_exponential((200, 3))).skewness_p < 1e-6


# --- bad input ----------------------------------------------------------------------------------------


def test_bad_input_errors():
    good = torch.randn(10, 3, generator=gen(0))
    nan = good.clone()
    nan[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN or inf"):
        sliced_distance(nan, "swae")
    inf = good.clone()
    inf[0, 0] = -float("inf")
    with pytest.raises(ValueError, match="1 NaN or inf"):
        sliced_distance(inf, "scfwae")
    # Huge but finite values whose sum overflows float32 are accepted (the one-sum fast check falls
    # back to the elementwise one).
    huge = torch.tensor([[3e38, 3e38, -1.0]])
    assert float(cramer_von_mises(huge)[0]) == pytest.approx(
        stats.cramervonmises(huge[0].double().numpy(), "norm").statistic, rel=1e-5
    )
    with pytest.raises(ValueError, match="must be 2-D"):
        sliced_distance(good[:, 0], "scwae")
    with pytest.raises(ValueError, match=r"kind must be one of \['scfwae', 'scvmae', 'scwae', 'sksae', 'swae'\]"):
        sliced_distance(good, "wae")
    with pytest.raises(ValueError, match="at least 2 points"):
        sliced_distance(good[:1], "scfwae")
    with pytest.raises(ValueError, match="at least 2 points"):
        w2_closed_form(torch.zeros(4, 1))
    with pytest.raises(ValueError, match="n_projections must be an integer >= 1"):
        sliced_distance(good, "scfwae", n_projections=0)
    with pytest.raises(TypeError, match="floating point"):
        sliced_distance(torch.ones(10, 3, dtype=torch.int64), "scfwae")
    with pytest.raises(ValueError, match="D >= 2"):
        cw_distance(good[:, :1])
    with pytest.raises(ValueError, match="gamma must be a finite number > 0"):
        cramer_wold_1d(good.T, gamma=-1.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        cw_distance_exact(nan.numpy())
    with pytest.raises(ValueError, match="same number of features"):
        sliced_wasserstein(good, torch.randn(10, 4))
    with pytest.raises(ValueError, match="NaN or inf"):
        mardia_prior(nan.numpy())
    with pytest.raises(ValueError, match="must be 2-D"):
        mardia_prior(np.zeros(5))
    with pytest.raises(ValueError, match=r"n > D"):
        mardia_test(np.random.default_rng(0).standard_normal((3, 3)))
    singular = np.random.default_rng(0).standard_normal((50, 3))
    singular[:, 2] = singular[:, 0] - singular[:, 1]
    with pytest.raises(ValueError, match="singular"):
        mardia_test(singular)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_row_sort_matches_torch_sort(dtype):
    # The CPU fast path sorts through NumPy; bfloat16 (no NumPy type) falls back to torch.sort.
    x = torch.randn(50, 128, generator=gen(21)).to(dtype)
    x[3, :10] = 0.5  # ties
    values, order = _sort_rows(x, with_order=True)
    assert torch.equal(values, torch.sort(x, dim=1).values)
    assert torch.equal(x.gather(1, order), values)
    assert torch.equal(torch.sort(order, dim=1).values, torch.arange(128).expand(50, 128))
    only_values, none = _sort_rows(x, with_order=False)
    assert none is None and torch.equal(only_values, values)
