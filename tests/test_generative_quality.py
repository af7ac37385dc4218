"""Generation quality: Fréchet distance, KID, feature networks (in-house and Inception), metric names."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import inception_v3, resnet18

from repgeo.generative.quality import (
    FeatureNet,
    KidResult,
    frechet_distance,
    gaussian_stats,
    generation_quality,
    inception_feature_net,
    kernel_inception_distance,
)
from repgeo.training.models import build_model


def _random_psd(rng, k, rank=None):
    a = rng.normal(size=(k, rank or k + 3))
    return a @ a.T / a.shape[1]


# ---------------------------------------------------------------- Gaussian statistics, Fréchet


def test_gaussian_stats_mean_and_unbiased_covariance():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(50, 4)).astype(np.float32)
    mu, sigma = gaussian_stats(f)
    assert mu.dtype == np.float64 and sigma.dtype == np.float64
    f64 = f.astype(np.float64)
    np.testing.assert_allclose(mu, f64.mean(0))
    centred = f64 - f64.mean(0)
    np.testing.assert_allclose(sigma, centred.T @ centred / 49)
    mu1, sigma1 = gaussian_stats(f[:, :1])
    assert mu1.shape == (1,) and sigma1.shape == (1, 1)


@pytest.mark.parametrize(
    ("bad", "match"), [(np.zeros(5), "2-D"), (np.zeros((1, 3)), "at least 2 samples"), (np.full((3, 2), np.nan), "NaN")]
)
def test_gaussian_stats_refusals(bad, match):
    with pytest.raises(ValueError, match=match):
        gaussian_stats(bad)


def test_frechet_commuting_covariances_closed_form():
    # Diagonal covariances commute: (S1 S2)^(1/2) = diag(sqrt(a_i b_i)), so
    # FD = ||mu1 - mu2||^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 4, 6), rng.uniform(0.1, 4, 6)
    a[0] = 0.0  # singular covariances are allowed
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    # 1-D: the squared W2 distance (m1 - m2)^2 + (s1 - s2)^2.
    assert frechet_distance([1.0], [[4.0]], [-1.0], [[9.0]]) == pytest.approx(4.0 + 1.0)


@pytest.mark.parametrize(("seed", "k"), [(0, 3), (1, 10), (2, 40)])
def test_frechet_matches_scipy_sqrtm(seed, k):
    rng = np.random.default_rng(seed)
    s1, s2 = _random_psd(rng, k), _random_psd(rng, k)
    mu1, mu2 = rng.normal(size=k), rng.normal(size=k)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_zero_for_identical_and_symmetric():
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(30, 50))  # fewer samples than features: a singular covariance
    mu, sigma = gaussian_stats(feats)
    assert frechet_distance(mu, sigma, mu, sigma) < 1e-10 * np.trace(sigma)
    mu2, sigma2 = gaussian_stats(rng.normal(0.3, 1.5, size=(40, 50)))
    d12, d21 = frechet_distance(mu, sigma, mu2, sigma2), frechet_distance(mu2, sigma2, mu, sigma)
    assert d12 == pytest.approx(d21, rel=1e-13)
    # The same computation in 40-digit arithmetic (mpmath) gives 77.888622881854040765; without
    # zeroing the round-off eigenvalues of the singular covariance, float64 was off by 1e-8.
    assert d12 == pytest.approx(77.88862288185404, rel=1e-13)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([0.0, 0.0], np.eye(3), [0.0, 0.0], np.eye(2)), "matrix"),
        (([0.0, 0.0], np.eye(2), [0.0, 0.0, 0.0], np.eye(3)), "same feature network"),
        (([0.0, 0.0], [[1.0, 0.5], [0.0, 1.0]], [0.0, 0.0], np.eye(2)), "sigma1 is not symmetric"),
        (([0.0, 0.0], np.eye(2), [0.0, 0.0], [[1.0, 0.0], [0.0, -1.0]]), "sigma2 is not positive semi-definite"),
        (([np.nan, 0.0], np.eye(2), [0.0, 0.0], np.eye(2)), "NaN"),
    ],
)
def test_frechet_refusals(args, match):
    with pytest.raises(ValueError, match=match):
        frechet_distance(*args)


# ---------------------------------------------------------------- KID


def _brute_force_mmd2(x, y):
    k = x.shape[1]

    def kern(a, b):
        return (float(np.dot(a, b)) / k + 1.0) ** 3

    m, n = len(x), len(y)
    xx = sum(kern(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(kern(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(kern(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_equals_brute_force_unbiased_mmd2():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(7, 3))
    # subset_size is clipped to the 7 rows: every subset is the whole sample, reordered.
    res = kernel_inception_distance(x, y, n_subsets=3, subset_size=100, seed=0)
    assert isinstance(res, KidResult) and res.subset_size == 7 and res.values.shape == (3,)
    np.testing.assert_allclose(res.values, _brute_force_mmd2(x, y), rtol=1e-10)
    assert res.mean == pytest.approx(_brute_force_mmd2(x, y), rel=1e-10) and res.std < 1e-12


def test_kid_clips_subset_to_the_smaller_sample():
    rng = np.random.default_rng(5)
    res = kernel_inception_distance(rng.normal(size=(40, 2)), rng.normal(size=(9, 2)), n_subsets=4, subset_size=20)
    assert res.subset_size == 9 and res.values.shape == (4,)


def test_kid_near_zero_for_same_distribution_and_positive_for_shifted():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(600, 16)), rng.normal(size=(600, 16))
    same = kernel_inception_distance(a, b, n_subsets=20, subset_size=200, seed=1)
    assert abs(same.mean) < 3 * same.std
    shifted = kernel_inception_distance(a, b + 0.5, n_subsets=20, subset_size=200, seed=1)
    assert shifted.mean > 10 * shifted.std and shifted.mean > 10 * abs(same.mean)


def test_kid_seed_reproducible_and_generator_accepted():
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(50, 4)), rng.normal(size=(60, 4))
    r1 = kernel_inception_distance(a, b, n_subsets=5, subset_size=20, seed=3)
    r2 = kernel_inception_distance(a, b, n_subsets=5, subset_size=20, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(r1.values, r2.values)
    r3 = kernel_inception_distance(a, b, n_subsets=5, subset_size=20, seed=4)
    assert not np.array_equal(r1.values, r3.values)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features2": np.zeros((5, 3))}, "2 and 3 features"),
        ({"subset_size": 1}, "subset_size"),
        ({"n_subsets": 0}, "n_subsets"),
        ({"n_subsets": 2.0}, "n_subsets"),
    ],
)
def test_kid_refusals(kwargs, match):
    args = {"features1": np.zeros((5, 2)), "features2": np.zeros((5, 2)), **kwargs}
    with pytest.raises(ValueError, match=match):
        kernel_inception_distance(**args)


# ---------------------------------------------------------------- feature networks


@pytest.fixture(scope="module")
def classifier():
    torch.manual_seed(0)
    return build_model("mlp", (1, 8, 8), 10, width=16)


def test_feature_net_gives_the_classifier_embedding(classifier):
    x = torch.rand(10, 1, 8, 8)
    net = FeatureNet(classifier, "classifier")
    classifier.train()
    f = net.features(x.numpy(), batch_size=3)
    assert f.dtype == np.float64 and f.shape == (10, classifier.embedding_dim)
    with torch.no_grad():
        np.testing.assert_allclose(f, classifier.embed(x).double().numpy(), rtol=1e-5, atol=1e-6)
    assert classifier.training  # mode restored
    assert net.to("cpu") is net and net.features(x, device="cpu").shape == f.shape
    shifted = FeatureNet(classifier, "classifier", prepare=lambda t: t + 1.0).features(x)
    with torch.no_grad():
        np.testing.assert_allclose(shifted, classifier.embed(x + 1.0).double().numpy(), rtol=1e-5, atol=1e-6)


def test_feature_net_refusals(classifier):
    with pytest.raises(TypeError, match="embed"):
        FeatureNet(nn.Linear(3, 3), "linear")
    with pytest.raises(ValueError, match="kept for inception_feature_net"):
        FeatureNet(classifier, "inception")
    with pytest.raises(ValueError, match="lower-case"):
        FeatureNet(classifier, "FD-classifier")
    net = FeatureNet(classifier, "classifier")
    with pytest.raises(ValueError, match="N x C x H x W"):
        net.features(np.zeros((4, 64)))
    with pytest.raises(ValueError, match=r"scale them to \[0, 1\]"):
        net.features(np.full((4, 1, 8, 8), 255, dtype=np.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        net.features(np.zeros((4, 1, 8, 8)), batch_size=0)


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    # A randomly initialised torchvision inception_v3 with the auxiliary classifier and fc layer,
    # the layout of torchvision's released weights; no download.
    torch.manual_seed(0)
    net = inception_v3(weights=None, aux_logits=True, init_weights=False)
    # Non-trivial batch-norm statistics, so the eval-mode path is really exercised.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("inception") / "inception_v3.pth"
    torch.save(net.state_dict(), path)
    return path


def test_inception_features_go_through_torchvision_preparation(inception_weights):
    net = inception_feature_net(inception_weights)
    x = torch.rand(1, 1, 28, 28)  # one image: an Inception forward pass takes about a second on CPU
    f = net.features(x)
    assert f.shape == (1, 2048) and np.isfinite(f).all()
    # Independent path: resize, repeat grey to RGB and scale to [-1, 1], which is what ImageNet
    # normalisation followed by transform_input=True amounts to, into the same weights.
    ref = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
    ref.load_state_dict(torch.load(inception_weights, weights_only=True))
    ref.fc = nn.Identity()
    ref.eval()
    with torch.no_grad():
        xi = F.interpolate(x.repeat(1, 3, 1, 1), size=(299, 299), mode="bilinear", align_corners=False)
        expected = ref(2.0 * xi - 1.0).double().numpy()
    np.testing.assert_allclose(f, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="1 \\(grayscale\\) or 3 \\(RGB\\) channels"):
        net.features(torch.rand(1, 2, 8, 8))


def test_inception_weights_refusals(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        inception_feature_net(tmp_path / "missing.pth")
    other = tmp_path / "resnet18.pth"
    torch.save(resnet18(weights=None).state_dict(), other)
    with pytest.raises(ValueError, match="does not hold torchvision inception_v3 weights"):
        inception_feature_net(other)
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="could not be read"):
        inception_feature_net(junk)
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], listed)
    with pytest.raises(ValueError, match="does not hold a state dict"):
        inception_feature_net(listed)


# ---------------------------------------------------------------- generation_quality


def test_generation_quality_names_and_values(classifier):
    rng = np.random.default_rng(8)
    real = rng.random((60, 1, 8, 8)).astype(np.float32)
    close = np.clip(real + rng.normal(0, 0.02, real.shape), 0, 1).astype(np.float32)
    far = (rng.random((60, 1, 8, 8)) ** 4).astype(np.float32)
    net = FeatureNet(classifier, "classifier")
    q = generation_quality(close, real, net, n_subsets=10, subset_size=30, seed=2)
    assert set(q) == {"fd_classifier", "kid_classifier", "kid_classifier_std"}
    fg, fr = net.features(close), net.features(real)
    assert q["fd_classifier"] == pytest.approx(frechet_distance(*gaussian_stats(fg), *gaussian_stats(fr)))
    kid = kernel_inception_distance(fg, fr, n_subsets=10, subset_size=30, seed=2)
    assert (q["kid_classifier"], q["kid_classifier_std"]) == pytest.approx((kid.mean, kid.std))
    # Precomputed real features (computed once for many checkpoints) give the same numbers.
    assert generation_quality(close, fr, net, n_subsets=10, subset_size=30, seed=2) == q
    with pytest.raises(ValueError, match="features per row"):
        generation_quality(close, fr[:, :3], net)
    q_far = generation_quality(far, real, net, name="digits_mlp", n_subsets=10, subset_size=30, seed=2)
    assert set(q_far) == {"fd_digits_mlp", "kid_digits_mlp", "kid_digits_mlp_std"}
    assert q_far["fd_digits_mlp"] > q["fd_classifier"] and q_far["kid_digits_mlp"] > q["kid_classifier"]


def test_generation_quality_inception_is_called_fid(inception_weights, classifier):
    net = inception_feature_net(inception_weights)
    rng = np.random.default_rng(9)
    q = generation_quality(rng.random((2, 1, 16, 16)), rng.random((2, 1, 16, 16)), net, n_subsets=2, seed=0)
    assert set(q) == {"fid", "kid_inception", "kid_inception_std"}
    assert all(np.isfinite(v) for v in q.values()) and q["fid"] > 0
    with pytest.raises(ValueError, match="leave name unset"):
        generation_quality(np.zeros((2, 1, 8, 8)), np.zeros((2, 1, 8, 8)), net, name="inc")
    with pytest.raises(ValueError, match="kept for inception_feature_net"):
        generation_quality(
            np.zeros((2, 1, 8, 8)), np.zeros((2, 1, 8, 8)), FeatureNet(classifier, "c"), name="inception"
        )
    with pytest.raises(TypeError, match="FeatureNet"):
        generation_quality(np.zeros((2, 1, 8, 8)), np.zeros((2, 1, 8, 8)), classifier)


# ---------------------------------------------------------------- signed normalised kurtosis (Table 1)


def _b2_moments(d: int, m: tuple[float, float, float, float]) -> tuple[float, float]:
    """E b2 = E ||z||^4 and Var ||z||^4 in closed form for z with d iid coordinates x whose squares
    Y = x^2 have moments m = (E Y, E Y^2, E Y^3, E Y^4): with S = sum_i Y_i, E S^2 = d m2 + d(d-1) m1^2
    and E S^4 expands over the index patterns of four factors (4; 3+1; 2+2; 2+1+1; 1+1+1+1).
    """
    m1, m2, m3, m4 = m
    es2 = d * m2 + d * (d - 1) * m1**2
    es4 = (
        d * m4
        + 4 * d * (d - 1) * m3 * m1
        + 3 * d * (d - 1) * m2**2
        + 6 * d * (d - 1) * (d - 2) * m2 * m1**2
        + d * (d - 1) * (d - 2) * (d - 3) * m1**4
    )
    return es2, es4 - es2**2


# Moments of x^2 at unit variance: uniform on [-sqrt 3, sqrt 3], E x^2k = 3^k / (2k + 1); Laplace
# with scale 1/sqrt 2, E x^2k = (2k)! / 2^k.
UNIFORM_SQUARE_MOMENTS = (1.0, 9 / 5, 27 / 7, 9.0)
LAPLACE_SQUARE_MOMENTS = (1.0, 6.0, 90.0, 2520.0)


def test_normalised_kurtosis_is_signed_b2_minus_d_d_plus_2_for_light_tails():
    from repgeo.generative.evaluation import EvalSettings, latent_metrics
    from repgeo.generative.normality import mardia_prior

    # Knop et al. (arXiv 1901.10417), Table 1, "kurtosis (normalized)" = b2 - D(D+2), signed (the
    # table has negative entries). Unit-variance uniform codes have Mardia b2 = D * 9/5 + D(D - 1),
    # so b2 - D(D+2) = -1.2 D = -7.2 at D = 6, with sampling sd sqrt(Var ||z||^4 / n) = 0.200 at
    # n = 20,000 (Var ||z||^4 = 799.8; a 2-million-point simulation gives 800.4). The old
    # |b2 - D(D+2)| was +7.2.
    n, d = 20_000, 6
    mean_b2, var_fourth = _b2_moments(d, UNIFORM_SQUARE_MOMENTS)
    assert mean_b2 - d * (d + 2) == pytest.approx(-1.2 * d)
    sd = np.sqrt(var_fourth / n)
    assert sd == pytest.approx(0.2, abs=1e-3)
    for seed in range(3):
        z = np.random.default_rng(seed).uniform(-np.sqrt(3), np.sqrt(3), (n, d))
        raw = mardia_prior(z)
        assert raw.normalised_kurtosis == pytest.approx(raw.kurtosis - d * (d + 2), rel=1e-12)
        assert raw.normalised_kurtosis < 0
        assert abs(raw.normalised_kurtosis - (-1.2 * d)) < 4 * sd, (seed, raw.normalised_kurtosis)
    # The evaluation row (the source of curves.parquet and Table 1) keeps the sign.
    z = np.random.default_rng(0).uniform(-np.sqrt(3), np.sqrt(3), (4000, d))
    row = latent_metrics(z, EvalSettings(latent_repeats=1, cw_subset_size=500, cw_repeats=1), seed=0)
    assert row["mardia_kurtosis_normalised"] == pytest.approx(mardia_prior(z).normalised_kurtosis, rel=1e-12)
    assert row["mardia_kurtosis_normalised"] < 0
    # Heavy tails stay positive: unit-variance Laplace codes have E x^4 = 6, so b2 - D(D+2) =
    # D (6 - 3) = +18 at D = 6, sd 2.43 at n = 5,000 (simulated Var ||z||^4: 29,761 vs 29,484).
    n = 5000
    mean_b2, var_fourth = _b2_moments(d, LAPLACE_SQUARE_MOMENTS)
    assert mean_b2 - d * (d + 2) == pytest.approx(3.0 * d)
    heavy = mardia_prior(np.random.default_rng(1).laplace(0.0, 1 / np.sqrt(2), (n, d))).normalised_kurtosis
    assert heavy > 0 and abs(heavy - 3.0 * d) < 4 * np.sqrt(var_fourth / n), heavy


def test_curves_figure_plots_the_magnitude_of_the_signed_kurtosis_on_a_log_scale():
    import pandas as pd

    from repgeo.generative.figures import CURVES, plot_curves

    metrics = pd.DataFrame({"model": ["ae"] * 3, "epoch": [1, 2, 3], "mardia_kurtosis_normalised": [-40.0, -4.0, 0.5]})
    fig = plot_curves(metrics, "t")
    ax = next(a for a in fig.axes if a.get_title() == CURVES["mardia_kurtosis_normalised"])
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [40.0, 4.0, 0.5])
