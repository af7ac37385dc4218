"""Learned patch priors (issue 8 point 5): experts, score matching, whitening, image priors.

Ground truths: closed forms and finite differences for the experts; autograd (double backprop of
grad_x log p for the score-matching definition, plain autograd for its gradient); known ICA
generating models for the fits; numpy PCA and explicit unfolding for whitening and image priors;
scikit-image photographs for natural-image statistics.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from repgeo.inversion.patches import Whitening, extract_patches, fit_whitening
from repgeo.inversion.priors import (
    PatchPrior,
    filter_sheet,
    fit_score_matching,
    get_expert,
    image_energy,
    image_log_prior,
    patch_log_prior,
    score_matching_grad,
    score_matching_loss,
)
from scipy.optimize import linear_sum_assignment
from scipy.stats import chisquare
from skimage import color, data

torch.set_num_threads(1)
EXPERTS = ["ica", "student_t"]


def _unit_rows(K: int, D: int, seed: int) -> torch.Tensor:
    W = torch.randn(K, D, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return W / W.norm(dim=1, keepdim=True)


def _ica_data(source: str, D: int = 6, n: int = 4000, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """x = Q s with D independent unit-variance sources and Q a random orthogonal matrix (so x is white).

    Returns (X n x D, true filters Q^T, whose rows recover the sources: Q^T x = s).
    """
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(D, D, generator=g, dtype=torch.float64))
    u = torch.rand(n, D, generator=g, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    if source == "logistic":
        # Logistic of scale sqrt(3)/pi has variance 1; its density is proportional to cosh^-2.
        S = torch.log(u / (1 - u)) * math.sqrt(3) / math.pi
    else:
        # Laplace of scale 1/sqrt(2) has variance 1.
        S = -torch.sign(u - 0.5) * torch.log1p(-2 * (u - 0.5).abs()) / math.sqrt(2)
    return S @ Q.T, Q.T


def _matched_cosines(W_est: torch.Tensor, W_true: torch.Tensor) -> np.ndarray:
    """|cos| of the Hungarian matching of estimated to true filters (up to sign and permutation)."""
    C = (W_est @ W_true.T).abs().numpy() / np.outer(W_est.norm(dim=1).numpy(), W_true.norm(dim=1).numpy())
    rows, cols = linear_sum_assignment(-C)
    return C[rows, cols]


def _double_backprop_loss(W, alpha, X, expert) -> torch.Tensor:
    """Hyvärinen's J from its definition: mean of div psi + |psi|^2 / 2 with psi = grad_x log p by autograd."""
    x = X.clone().requires_grad_(True)
    log_p = (get_expert(expert).G(x @ W.T) * alpha).sum()
    (psi,) = torch.autograd.grad(log_p, x, create_graph=True)
    divergence = sum(torch.autograd.grad(psi[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(X.shape[1]))
    return (divergence + 0.5 * psi.square().sum(dim=1)).mean()


def _random_prior(expert: str, whitening: Whitening, K: int, seed: int) -> PatchPrior:
    alpha = 0.5 + torch.rand(K, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64)
    return PatchPrior(
        W=_unit_rows(K, whitening.n_components, seed),
        alpha=alpha,
        expert=expert,
        whitening=whitening,
    )


def _smooth_images(N: int, C: int, H: int, W: int, seed: int) -> torch.Tensor:
    """Correlated (blurred-noise) images in [0, 1], so patches have a non-trivial covariance."""
    noise = torch.rand(
        N,
        C,
        H + 4,
        W + 4,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float64,
    )
    return F.avg_pool2d(noise, 5, stride=1)


# --- experts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("expert", EXPERTS)
def test_expert_derivatives_match_closed_forms_and_finite_differences(expert):
    s = torch.tensor([-3.0, -1.0, -0.2, 0.0, 0.5, 2.0, 4.0], dtype=torch.float64)
    ex = get_expert(expert)
    closed = -np.log(np.cosh(s.numpy())) if expert == "ica" else -np.log(1 + s.numpy() ** 2 / 2)
    np.testing.assert_allclose(ex.G(s).numpy(), closed, rtol=1e-13, atol=1e-15)
    h = 1e-5
    for f, df in ((ex.G, ex.dG), (ex.dG, ex.d2G), (ex.d2G, ex.d3G)):
        np.testing.assert_allclose(
            df(s).numpy(),
            ((f(s + h) - f(s - h)) / (2 * h)).numpy(),
            rtol=1e-8,
            atol=1e-9,
        )
    if expert == "ica":
        np.testing.assert_allclose(ex.dG(s).numpy(), -np.tanh(s.numpy()), rtol=1e-14)
        np.testing.assert_allclose(ex.d2G(s).numpy(), -1 / np.cosh(s.numpy()) ** 2, rtol=1e-12)
        # cosh(800) overflows float64; the stable form gives -(|s| - log 2).
        assert ex.G(torch.tensor([800.0], dtype=torch.float64)).item() == pytest.approx(-(800 - math.log(2)), rel=1e-15)


# --- score-matching objective --------------------------------------------------------------------


@pytest.mark.parametrize("expert", EXPERTS)
def test_score_matching_loss_matches_double_backprop(expert):
    g = torch.Generator().manual_seed(3)
    W = torch.randn(5, 4, generator=g, dtype=torch.float64)  # rows deliberately not unit norm
    alpha = 0.3 + torch.rand(5, generator=g, dtype=torch.float64)
    X = 1.5 * torch.randn(7, 4, generator=g, dtype=torch.float64)
    expected = _double_backprop_loss(W, alpha, X, expert)
    assert score_matching_loss(W, alpha, X, expert).item() == pytest.approx(expected.item(), rel=1e-10)


@pytest.mark.parametrize("expert", EXPERTS)
def test_score_matching_grad_matches_autograd(expert):
    g = torch.Generator().manual_seed(4)
    W = torch.randn(6, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    alpha = (0.3 + torch.rand(6, generator=g, dtype=torch.float64)).requires_grad_(True)
    X = 1.5 * torch.randn(50, 3, generator=g, dtype=torch.float64)
    auto_W, auto_alpha = torch.autograd.grad(score_matching_loss(W, alpha, X, expert), (W, alpha))
    grad_W, grad_alpha = score_matching_grad(W.detach(), alpha.detach(), X, expert)
    assert ((grad_W - auto_W).norm() / auto_W.norm()).item() < 1e-8
    assert ((grad_alpha - auto_alpha).norm() / auto_alpha.norm()).item() < 1e-8


# --- fitting on data from known ICA models --------------------------------------------------------


@pytest.mark.parametrize("expert", EXPERTS)
@pytest.mark.parametrize("source", ["logistic", "laplace"])
def test_complete_fit_recovers_the_mixing_filters(source, expert):
    X, W_true = _ica_data(source)
    prior = fit_score_matching(X, n_filters=6, expert=expert, steps=400, lr=0.01, seed=0)
    assert _matched_cosines(prior.W, W_true).min() > 0.95
    torch.testing.assert_close(prior.W.norm(dim=1), torch.ones(6, dtype=torch.float64), rtol=0, atol=1e-12)
    assert (prior.alpha >= 0).all()
    assert prior.history[-1][1] < prior.history[0][1]


def test_book_gradient_converges_recovers_and_logs(caplog):
    X, W_true = _ica_data("logistic", seed=2)
    logger = logging.getLogger("test_inversion_priors")
    with caplog.at_level(logging.INFO, logger="test_inversion_priors"):
        prior = fit_score_matching(
            X,
            n_filters=6,
            expert="ica",
            steps=3000,
            optimiser="gradient",
            log_every=50,
            logger=logger,
        )
    assert prior.converged and prior.n_steps < 3000
    assert _matched_cosines(prior.W, W_true).min() > 0.98
    assert prior.history[-1][0] == prior.n_steps
    losses = [v for _, v in prior.history]
    assert losses[-1] < losses[0]
    assert sum("score matching (ica) step" in r.getMessage() for r in caplog.records) == len(prior.history)


@pytest.mark.parametrize("expert", EXPERTS)
def test_overcomplete_fit_covers_every_true_filter(expert):
    # Laplace sources: with the barely super-Gaussian logistic sources the 2x over-complete model is
    # weakly identified and its best matches stay in 0.73-0.98 after 1000 steps (seed-dependent).
    X, W_true = _ica_data("laplace", seed=5)
    prior = fit_score_matching(X, expert=expert, steps=600, lr=0.01, seed=0)
    assert prior.n_filters == 12 and prior.overcompleteness == 2.0
    best = (prior.W @ W_true.T).abs().max(dim=0).values
    assert best.min().item() > 0.95


# --- patches and whitening -----------------------------------------------------------------------


def test_extract_patches_are_blocks_drawn_uniformly():
    N, C, H, W, s = 2, 3, 6, 7, 3
    images = torch.arange(N * C * H * W, dtype=torch.float64).reshape(N, C, H, W)
    patches = extract_patches(images, s, 20000, seed=7)
    assert patches.shape == (20000, C * s * s)
    # The first entry identifies the image and top-left corner; the rest must be that block.
    i, rest = np.divmod(patches[:, 0].long().numpy(), C * H * W)
    r, c = np.divmod(rest, W)
    blocks = torch.stack(
        [images[a, :, b : b + s, d : d + s].reshape(-1) for a, b, d in zip(i[:200], r[:200], c[:200], strict=True)]
    )
    torch.testing.assert_close(patches[:200], blocks, rtol=0, atol=0)
    assert r.max() == H - s and c.max() == W - s
    counts = np.bincount((i * (H - s + 1) + r) * (W - s + 1) + c, minlength=N * (H - s + 1) * (W - s + 1))
    assert chisquare(counts).pvalue > 1e-3
    torch.testing.assert_close(
        patches,
        extract_patches(images, s, 20000, seed=torch.Generator().manual_seed(7)),
    )


@pytest.mark.parametrize("remove_dc", [True, False])
def test_whitening_gives_identity_covariance_and_pca_variances(remove_dc):
    patches = extract_patches(_smooth_images(4, 1, 30, 30, seed=0), 4, 3000, seed=1)
    whitening = fit_whitening(patches, remove_dc=remove_dc)
    assert whitening.n_components == (15 if remove_dc else 16)
    Z = whitening.transform(patches).numpy()
    np.testing.assert_allclose(np.cov(Z.T), np.eye(whitening.n_components), atol=1e-10)
    x = patches.numpy() - (patches.numpy().mean(axis=1, keepdims=True) if remove_dc else 0)
    expected = np.sort(np.linalg.eigvalsh(np.cov(x.T)))[::-1][: whitening.n_components]
    np.testing.assert_allclose(whitening.variances.numpy(), expected, rtol=1e-9)
    reduced = fit_whitening(patches, n_components=6, remove_dc=remove_dc)
    np.testing.assert_allclose(np.cov(reduced.transform(patches).numpy().T), np.eye(6), atol=1e-10)


@pytest.mark.parametrize("remove_dc", [True, False])
def test_pixel_filters_reproduce_whitened_responses(remove_dc):
    patches = extract_patches(_smooth_images(3, 2, 20, 20, seed=2), 3, 2000, seed=3)
    whitening = fit_whitening(patches, n_components=10, remove_dc=remove_dc)
    W = torch.randn(7, 10, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    filters, bias = whitening.pixel_filters(W)
    assert filters.shape == (7, 18)
    torch.testing.assert_close(
        patches @ filters.T + bias,
        whitening.transform(patches) @ W.T,
        rtol=1e-10,
        atol=1e-10,
    )
    if remove_dc:
        torch.testing.assert_close(filters.sum(dim=1), torch.zeros(7, dtype=torch.float64), rtol=0, atol=1e-10)
    # A pattern is the raw patch (around the mean) whose whitened version is the filter itself.
    torch.testing.assert_close(
        whitening.transform(whitening.pixel_patterns(W) + whitening.mean),
        W,
        rtol=1e-10,
        atol=1e-10,
    )


# --- image priors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expert", "channels", "size"),
    [("ica", 1, 5), ("student_t", 1, 4), ("ica", 4, 3), ("student_t", 3, 3)],
)
def test_image_log_prior_is_the_sum_over_unfolded_patches(expert, channels, size):
    images = _smooth_images(2, channels, 11, 13, seed=5)
    whitening = fit_whitening(extract_patches(images, size, 3000, seed=6), n_components=8)
    prior = _random_prior(expert, whitening, K=16, seed=7)
    patches = F.unfold(images, size).transpose(1, 2)  # N x positions x C*size*size
    per_patch = torch.stack([patch_log_prior(prior, p) for p in patches])
    # patch_log_prior (pixel-space filters) against the model in the whitened space.
    whitened = get_expert(expert).G(whitening.transform(patches[0]) @ prior.W.T) @ prior.alpha
    torch.testing.assert_close(per_patch[0], whitened, rtol=1e-10, atol=1e-10)
    log_p = image_log_prior(prior, images)
    torch.testing.assert_close(log_p, per_patch.sum(dim=1), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(image_energy(prior, images), -per_patch.mean(dim=1), rtol=1e-10, atol=1e-10)
    assert (log_p < 0).all()


def test_image_energy_is_differentiable_and_independent_of_image_size():
    images = _smooth_images(2, 1, 12, 12, seed=8)
    whitening = fit_whitening(extract_patches(images, 4, 2000, seed=9), n_components=10)
    prior = _random_prior("student_t", whitening, K=20, seed=10)
    x = images.clone().requires_grad_(True)
    image_energy(prior, x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().max() > 0
    h = 1e-6
    bump = torch.zeros_like(images)
    bump[1, 0, 5, 6] = h
    numeric = (image_energy(prior, images + bump).sum() - image_energy(prior, images - bump).sum()) / (2 * h)
    assert x.grad[1, 0, 5, 6].item() == pytest.approx(numeric.item(), rel=1e-6)
    # DC removal: every patch of a constant image has response b_k, whatever the image size.
    _, bias = prior.pixel_filters()
    constant = -(get_expert("student_t").G(bias) @ prior.alpha).item()
    for side in (4, 9, 25):
        assert image_energy(prior, torch.full((1, 1, side, side), 0.3, dtype=torch.float64)).item() == pytest.approx(
            constant, rel=1e-10
        )


def test_image_prior_runs_in_float32():
    images = _smooth_images(1, 3, 10, 10, seed=11)
    whitening = fit_whitening(extract_patches(images, 3, 2000, seed=12), n_components=12)
    prior = _random_prior("ica", whitening, K=24, seed=13)
    energy32 = image_energy(prior, images.float())
    assert energy32.dtype == torch.float32
    assert energy32.item() == pytest.approx(image_energy(prior, images).item(), rel=1e-5)


# --- natural images ------------------------------------------------------------------------------


def _grey(image) -> torch.Tensor:
    image = color.rgb2gray(image) if image.ndim == 3 else image / 255.0
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))[None, None]


@pytest.fixture(scope="module")
def natural_patches():
    train = [_grey(data.camera()), _grey(data.astronaut()), _grey(data.coffee())]
    patches = torch.cat([extract_patches(image, 8, 1500, seed=i) for i, image in enumerate(train)])
    held_out = extract_patches(_grey(data.chelsea()), 8, 2000, seed=9)
    whitening = fit_whitening(patches, n_components=32)
    return patches, held_out, whitening


@pytest.mark.parametrize("expert", EXPERTS)
def test_natural_image_prior_prefers_natural_patches(natural_patches, expert):
    patches, held_out, whitening = natural_patches
    prior = fit_score_matching(
        whitening.transform(patches),
        expert=expert,
        steps=300,
        lr=0.01,
        batch_size=1000,
        seed=0,
        whitening=whitening,
    )
    assert prior.n_filters == 64
    # The same held-out pixels with their positions shuffled within each patch.
    order = torch.argsort(torch.rand(held_out.shape, generator=torch.Generator().manual_seed(5)), dim=1)
    shuffled = torch.gather(held_out, 1, order)
    natural_lp, shuffled_lp = (
        patch_log_prior(prior, held_out),
        patch_log_prior(prior, shuffled),
    )
    assert natural_lp.mean() > shuffled_lp.mean() + 10
    assert (natural_lp > shuffled_lp).double().mean() > 0.85
    # Learning itself: on patches of an image never seen, the score-matching objective (the Fisher
    # divergence up to a constant) falls well below that of the random initial filters, which
    # already pass the shuffle check because whitening alone penalises decorrelated pixels.
    initial = PatchPrior(
        W=_unit_rows(64, 32, 0),
        alpha=torch.full((64,), 2.0, dtype=torch.float64),
        expert=expert,
    )
    held_out_white = whitening.transform(held_out)
    fitted_loss = score_matching_loss(prior.W, prior.alpha, held_out_white, expert).item()
    initial_loss = score_matching_loss(initial.W, initial.alpha, held_out_white, expert).item()
    assert fitted_loss < 1.5 * initial_loss < 0


def test_filter_sheet_tiles_filters_by_decreasing_alpha():
    W = _unit_rows(5, 9, seed=14)
    alpha = torch.tensor([0.5, 3.0, 1.0, 0.0, 2.0], dtype=torch.float64)
    sheet = filter_sheet(PatchPrior(W=W, alpha=alpha, expert="ica"))
    assert sheet.shape == (2 * 4 + 1, 3 * 4 + 1)
    assert sheet.min() >= 0 and sheet.max() <= 1
    first = W[1].reshape(3, 3).numpy()
    np.testing.assert_allclose(sheet[1:4, 1:4], 0.5 + first / (2 * np.abs(first).max()))
    last = W[3].reshape(3, 3).numpy()  # alpha 0: fifth tile, second row, second column
    np.testing.assert_allclose(sheet[5:8, 5:8], 0.5 + last / (2 * np.abs(last).max()))
    assert (sheet[0] == 1).all() and (sheet[:, 4] == 1).all()
    colour = filter_sheet(
        PatchPrior(
            W=_unit_rows(4, 12, seed=15),
            alpha=torch.ones(4, dtype=torch.float64),
            expert="ica",
        ),
        channels=3,
        pad=2,
    )
    assert colour.shape == (2 * 4 + 2, 2 * 4 + 2, 3)


def test_prior_round_trips_through_a_weights_only_file(tmp_path):
    images = _smooth_images(1, 1, 12, 12, seed=16)
    whitening = fit_whitening(extract_patches(images, 3, 1000, seed=17), n_components=6)
    prior = fit_score_matching(
        whitening.transform(extract_patches(images, 3, 1000, seed=17)),
        expert="student_t",
        steps=20,
        log_every=5,
        whitening=whitening,
    )
    torch.save(prior.to_dict(), tmp_path / "prior.pt")
    loaded = PatchPrior.from_dict(torch.load(tmp_path / "prior.pt", weights_only=True))
    assert loaded.history == prior.history and loaded.n_steps == prior.n_steps == 20
    torch.testing.assert_close(image_log_prior(loaded, images), image_log_prior(prior, images), rtol=0, atol=0)


# --- bad input -----------------------------------------------------------------------------------


def _bad_inputs():
    images = _smooth_images(1, 1, 8, 8, seed=0)
    nan_images = images.clone()
    nan_images[0, 0, 1, 1] = float("nan")
    X = torch.randn(20, 3, dtype=torch.float64)
    W, alpha = _unit_rows(4, 3, 0), torch.ones(4, dtype=torch.float64)
    prior = PatchPrior(W=_unit_rows(4, 9, 0), alpha=torch.ones(4, dtype=torch.float64), expert="ica")
    return [
        (lambda: extract_patches(images[0], 3, 10), ValueError, "images must be 4-D"),
        (lambda: extract_patches(nan_images, 3, 10), ValueError, "NaN"),
        (lambda: extract_patches(images, 9, 10), ValueError, "size=9"),
        (lambda: extract_patches(images, 3, 0), ValueError, "n must be"),
        (lambda: extract_patches(images.long(), 3, 10), TypeError, "floating-point"),
        (lambda: fit_whitening(X, n_components=4), ValueError, "n_components=4"),
        (lambda: fit_whitening(X[:, :1].repeat(1, 3)), ValueError, "identical"),
        (
            lambda: score_matching_loss(W, alpha, X, "gaussian"),
            ValueError,
            "expert must be one of",
        ),
        (lambda: score_matching_loss(W[:, :2], alpha, X), ValueError, "W must be"),
        (lambda: score_matching_grad(W, alpha[:3], X), ValueError, "alpha must have"),
        (lambda: fit_score_matching(X, optimiser="sgd"), ValueError, "optimiser"),
        (lambda: fit_score_matching(X, steps=0), ValueError, "steps"),
        (
            lambda: fit_score_matching(torch.full((5, 2), float("inf"))),
            ValueError,
            "X contains NaN or inf",
        ),
        (
            lambda: image_log_prior(prior, torch.rand(1, 2, 8, 8)),
            ValueError,
            "not square patches of 2 channels",
        ),
        (
            lambda: image_log_prior(prior, torch.rand(1, 1, 2, 8)),
            ValueError,
            "smaller than",
        ),
        (
            lambda: patch_log_prior(prior, torch.rand(3, 8)),
            ValueError,
            "patches must be n x 9",
        ),
        (lambda: image_energy("prior", images), TypeError, "PatchPrior"),
        (lambda: filter_sheet(prior, channels=2), ValueError, "channels must be 1"),
        (lambda: filter_sheet(prior, kind="basis"), ValueError, "kind must be"),
    ]


@pytest.mark.parametrize("case", range(19))
def test_bad_input_raises_a_clear_error(case):
    call, error, message = _bad_inputs()[case]
    with pytest.raises(error, match=message):
        call()
