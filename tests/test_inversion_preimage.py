"""Pre-images by optimisation (issue 8, points 4 and 6): the α-norm and TV^β priors on hand-computed
images, the M&V 2016 update and projection, jitter, the acceptance test (a layer-1 pre-image reaches
a normalised error under 0.05), the prior-weight search and the error metrics."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest
import torch
from skimage import data
from skimage.metrics import structural_similarity

from repgeo.inversion.metrics import image_metrics, normalised_image_error, representation_error, ssim_window
from repgeo.inversion.preimage import (
    PreimageConfig,
    adam_step,
    image_to_mv_units,
    initial_image,
    jitter_amount,
    mv2016_step,
    mv_units_to_image,
    preimage,
    project_to_ball,
    select_prior_weight,
)
from repgeo.inversion.regularisers import alpha_norm, tv_beta

torch.set_num_threads(1)
LOG = logging.getLogger("test")

# 2 x 2 RGB image (C x H x W). Pixel vectors: (0,0) = (1,2,2), norm 3; (0,1) = (0,0,1), norm 1;
# (1,0) = (0,1,0), norm 1; (1,1) = (2,0,0), norm 2.
RGB = torch.tensor(
    [
        [[1.0, 0.0], [0.0, 2.0]],
        [[2.0, 0.0], [1.0, 0.0]],
        [[2.0, 1.0], [0.0, 0.0]],
    ],
    dtype=torch.float64,
)[None]
# 3 x 3 grey image.
GREY = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [3.0, 0.0, 0.0]], dtype=torch.float64)[None, None]


@pytest.mark.parametrize(
    ("image", "alpha", "total"),
    [
        (RGB, 6.0, 3.0**6 + 1 + 1 + 2.0**6),  # 729 + 1 + 1 + 64 = 795
        (RGB, 2.0, 9.0 + 1 + 1 + 4),  # 15
        (RGB, 1.0, 3.0 + 1 + 1 + 2),  # 7
        (GREY, 6.0, 1.0 + 2.0**6 + 1 + 1 + 1 + 3.0**6),  # 797
        (GREY, 1.0, 1.0 + 2 + 1 + 1 + 1 + 3),  # 9
    ],
)
def test_alpha_norm_by_hand(image, alpha, total):
    n_pixels = image.shape[-2] * image.shape[-1]
    assert float(alpha_norm(image, alpha, reduction="sum")[0]) == pytest.approx(total, rel=1e-12)
    assert float(alpha_norm(image, alpha)[0]) == pytest.approx(total / n_pixels, rel=1e-12)


# TV of RGB, per channel, forward differences (dx to the right, dy downwards, 0 on the last column/row):
#   R [[1,0],[0,2]]: dx = [[-1,0],[2,0]], dy = [[-1,2],[0,0]] -> squared sums 2, 4, 4, 0
#   G [[2,0],[1,0]]: dx = [[-2,0],[-1,0]], dy = [[-1,0],[0,0]] -> 5, 0, 1, 0
#   B [[2,1],[0,0]]: dx = [[-1,0],[0,0]], dy = [[-2,-1],[0,0]] -> 5, 1, 0, 0
# β = 2: 10 + 6 + 6 = 22; β = 1: (√2 + 2 + 2) + (√5 + 1) + (√5 + 1) = 6 + √2 + 2√5.
# TV of GREY: dx = [[1,1,0],[0,0,0],[-3,0,0]], dy = [[1,0,-1],[2,-1,-1],[0,0,0]]
#   -> squared sums [[2,1,1],[4,1,1],[9,0,0]]; β = 2: 19; β = 1: √2 + 1 + 1 + 2 + 1 + 1 + 3 = 9 + √2.
@pytest.mark.parametrize(
    ("image", "beta", "total"),
    [
        (RGB, 2.0, 22.0),
        (RGB, 1.0, 6.0 + math.sqrt(2) + 2 * math.sqrt(5)),
        (GREY, 2.0, 19.0),
        (GREY, 1.0, 9.0 + math.sqrt(2)),
    ],
)
def test_tv_beta_by_hand(image, beta, total):
    n_pixels = image.shape[-2] * image.shape[-1]
    assert float(tv_beta(image, beta, reduction="sum")[0]) == pytest.approx(total, rel=1e-12)
    assert float(tv_beta(image, beta)[0]) == pytest.approx(total / n_pixels, rel=1e-12)


def test_regularisers_are_per_image_in_a_batch():
    batch = torch.cat([RGB, 2 * RGB])
    # N_α is homogeneous of degree α and TV^β of degree β.
    assert torch.allclose(alpha_norm(batch), torch.tensor([795 / 4, 2.0**6 * 795 / 4], dtype=torch.float64))
    assert torch.allclose(tv_beta(batch), torch.tensor([22 / 4, 4 * 22 / 4], dtype=torch.float64))


@pytest.mark.parametrize(("alpha", "beta"), [(6.0, 2.0), (1.5, 1.5), (1.0, 1.0)])
def test_regulariser_gradients_match_finite_differences(alpha, beta):
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: alpha_norm(t, alpha), (x,))
    assert torch.autograd.gradcheck(lambda t: tv_beta(t, beta, reduction="sum"), (x,))


def test_tv_at_zero_differences_has_the_minimal_norm_subgradient():
    # One bright pixel c = 1 at the centre of a 3 x 3 zero image; at β = 1 three pixels have a
    # non-zero difference: (1,1) with sqrt(c² + c²), (0,1) with |c - x01|, (1,0) with |c - x10|.
    x = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    x[0, 0, 1, 1] = 1.0
    x.requires_grad_(True)
    tv = tv_beta(x, 1.0, reduction="sum")[0]
    assert float(tv.detach()) == pytest.approx(2 + math.sqrt(2), rel=1e-12)
    (g,) = torch.autograd.grad(tv, x)
    expected = torch.zeros(3, 3, dtype=torch.float64)
    expected[1, 1] = 2 + math.sqrt(2)
    expected[0, 1] = expected[1, 0] = -1.0
    expected[1, 2] = expected[2, 1] = -1 / math.sqrt(2)
    assert torch.allclose(g[0, 0], expected, atol=1e-12)
    flat = torch.zeros(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    (g_flat,) = torch.autograd.grad(tv_beta(flat, 1.0).sum() + alpha_norm(flat, 1.0).sum(), flat)
    assert torch.equal(g_flat, torch.zeros_like(flat))


def test_regulariser_inputs_are_checked():
    with pytest.raises(ValueError, match="alpha"):
        alpha_norm(RGB, alpha=0.0)
    with pytest.raises(ValueError, match="beta"):
        tv_beta(RGB, beta=float("nan"))
    with pytest.raises(ValueError, match="reduction"):
        tv_beta(RGB, reduction="max")
    with pytest.raises(ValueError, match="N x C x H x W"):
        alpha_norm(RGB[0])
    with pytest.raises(TypeError, match="floating-point"):
        alpha_norm(torch.ones(1, 3, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        tv_beta(torch.full((1, 1, 2, 2), float("inf")))


def test_projection_keeps_pixels_in_the_ball_and_interior_ones_unchanged():
    x = 120.0 * torch.randn(3, 3, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    norms = x.norm(dim=1)
    assert (norms > 160).any() and (norms < 160).any()
    y = project_to_ball(x, 160.0)
    inside = (norms <= 160).unsqueeze(1).expand_as(x)
    assert torch.equal(y[inside], x[inside])
    assert float(y.norm(dim=1).max()) <= 160.0 * (1 + 1e-12)
    outside = norms > 160
    assert torch.allclose(y.norm(dim=1)[outside], torch.full_like(norms[outside], 160.0))
    # Same direction: y is a positive multiple of x.
    cos = (x * y).sum(dim=1)[outside] / (norms[outside] * 160.0)
    assert torch.allclose(cos, torch.ones_like(cos))


def test_mv2016_step_by_hand_and_on_a_convex_quadratic():
    g = torch.tensor([2.0, -0.5], dtype=torch.float64)
    x, G, v = (
        torch.tensor([1.0, 1.0], dtype=torch.float64),
        torch.zeros(2, dtype=torch.float64),
        torch.zeros(2, dtype=torch.float64),
    )
    mv2016_step(x, g, G, v, lr=0.5, momentum=0.9)
    # G = g², v = -g / (1/lr + |g|) = (-2/4, 0.5/2.5), x = 1 + v.
    assert torch.allclose(G, g**2)
    assert torch.allclose(x, torch.tensor([1 - 0.5, 1 + 0.2], dtype=torch.float64))
    # f(x) = ½ Σ d_i (x_i − a_i)², minimiser a.
    d = torch.tensor([0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    a = torch.tensor([3.0, -1.0, 0.5, 10.0], dtype=torch.float64)
    x, G, v = (
        torch.zeros(4, dtype=torch.float64),
        torch.zeros(4, dtype=torch.float64),
        torch.zeros(4, dtype=torch.float64),
    )
    for _ in range(400):
        mv2016_step(x, d * (x - a), G, v, lr=0.5, momentum=0.9)
    assert torch.allclose(x, a, atol=1e-6)


def test_adam_first_step_is_a_signed_step_of_the_rate():
    x, m, s = (
        torch.zeros(3, dtype=torch.float64),
        torch.zeros(3, dtype=torch.float64),
        torch.zeros(3, dtype=torch.float64),
    )
    adam_step(x, torch.tensor([1e-3, -2.0, 50.0], dtype=torch.float64), m, s, t=1, lr=0.7, betas=(0.9, 0.999))
    assert torch.allclose(x, torch.tensor([-0.7, 0.7, -0.7], dtype=torch.float64), rtol=1e-4)


def test_units_jitter_amount_and_initial_image():
    img = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(3))
    x = image_to_mv_units(img)
    assert float(image_to_mv_units(torch.ones(1, 3, 1, 1))[0, 0]) == pytest.approx(255 - 123.675)
    assert torch.allclose(mv_units_to_image(x), img, atol=1e-6)
    with pytest.raises(ValueError, match="pixel_mean"):
        image_to_mv_units(img, pixel_mean=(1.0, 2.0))
    # MATLAB's round: halves go up (10/4 = 2.5 -> 3).
    assert [jitter_amount(s) for s in (1, 2, 4, 6, 8, 10, 16, 32)] == [1, 1, 1, 2, 2, 3, 4, 8]
    with pytest.raises(ValueError, match="stride"):
        jitter_amount(0)
    x0 = initial_image((2, 3, 20, 20), 80.0, torch.Generator().manual_seed(0))
    q = torch.quantile(x0.flatten(1).double(), 0.95, dim=1)
    assert torch.allclose(q, torch.full((2,), 80 / math.sqrt(3), dtype=torch.float64), rtol=1e-5)
    # Uniform on [-1, 1] has its 95 % quantile at 0.9, so the values lie within about ±B/√3/0.9.
    assert float(x0.abs().max()) <= 80 / math.sqrt(3) / 0.9 * 1.05


@pytest.fixture(scope="module")
def layer1():
    """Φ = 5 x 5 convolution (3 -> 16 channels, seeded weights) + ReLU on a 32 x 32 crop of skimage's astronaut."""
    img = torch.from_numpy(data.astronaut()[100:132, 180:212].astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    x0 = image_to_mv_units(img)
    conv = torch.nn.Conv2d(3, 16, 5, padding=2)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / math.sqrt(75))
        conv.bias.zero_()
    conv.requires_grad_(False)

    def phi(x):
        return torch.relu(conv(x))

    return phi, x0, phi(x0)


def _check_preimage(result, phi, x0, phi0):
    # The reported error against an independent computation.
    direct = float(((phi(result.x) - phi0) ** 2).sum() / (phi0**2).sum())
    assert result.normalised_error[0] == pytest.approx(direct, rel=1e-4)
    assert result.relative_error[0] == pytest.approx(math.sqrt(direct), rel=1e-4)
    assert result.history["normalised_error"].iloc[0] > 0.5
    assert direct < 0.05
    assert result.x.shape == x0.shape
    assert float(result.x.norm(dim=1).max()) <= 160.0 * (1 + 1e-6)
    cols = ["data", "alpha_norm", "tv"]
    assert np.allclose(result.history[cols].sum(axis=1), result.history["objective"], rtol=1e-5)


def test_layer1_preimage_reaches_normalised_error_below_005(layer1, caplog):
    phi, x0, phi0 = layer1
    # The IJCV 2016 defaults, with M&V's data weight C = 300 for shallow layers (C = 1, the code's
    # default, leaves a normalised error near 0.4 here: the priors dominate).
    cfg = PreimageConfig(C=300.0)
    with caplog.at_level(logging.INFO, logger="test"):
        res = preimage(phi, phi0, (3, 32, 32), cfg, stride=1, logger=LOG)
    _check_preimage(res, phi, x0, phi0)
    h = res.history
    assert len(h) == 350 and list(h["stage"].unique()) == [1, 2]
    assert h["lr"].iloc[0] == pytest.approx(0.05 * 80**2 / 6 * 32 * 32)
    assert h["lr"].iloc[-1] == pytest.approx(0.1 * h["lr"].iloc[0])
    assert res.jitter == 1 and not h["jitter"].any()
    assert sum("pre-image iteration" in r.message for r in caplog.records) == 7
    # The pre-image resembles the image: closer in pixels than the mean image is.
    rec, orig = mv_units_to_image(res.x), mv_units_to_image(x0)
    assert float(((rec - orig) ** 2).mean()) < 0.5 * float(((orig - orig.mean()) ** 2).mean())


def test_layer1_preimage_with_adam(layer1):
    phi, x0, phi0 = layer1
    # The thesis's rates (1e-2, 3e-3, 1e-3) x B²/α on a schedule shortened from 3,500 iterations.
    cfg = PreimageConfig(
        C=300.0, optimiser="adam", adam_schedule=((200, 1.0), (100, 0.3), (50, 0.1)), adam_jitter_iterations=250
    )
    res = preimage(phi, phi0, (3, 32, 32), cfg, stride=1)
    _check_preimage(res, phi, x0, phi0)
    assert res.history["lr"].iloc[[0, 200, 300]].tolist() == pytest.approx(
        [1e-2 * 80**2 / 6, 3e-3 * 80**2 / 6, 1e-3 * 80**2 / 6]
    )


def test_jitter_crops_vary_in_stage_one_and_the_result_has_the_target_size(layer1):
    phi, x0, phi0 = layer1
    seen = []

    def recording_phi(x):
        seen.append(x.detach().clone())
        return phi(x)

    x_init = x0 + 5.0
    cfg = PreimageConfig(C=300.0, iterations=(30, 10))
    res = preimage(recording_phi, phi0, (3, 32, 32), cfg, stride=16, x_init=x_init)
    h = res.history
    assert res.jitter == 4 and res.x.shape == (1, 3, 32, 32)
    assert all(s.shape == (1, 3, 32, 32) for s in seen)
    stage1, stage2 = h[h["stage"] == 1], h[h["stage"] == 2]
    assert stage1["jitter"].all() and not stage2["jitter"].any()
    offsets = set(zip(stage1["offset_y"], stage1["offset_x"], strict=True))
    assert len(offsets) > 4 and all(0 <= o <= 3 for pair in offsets for o in pair)
    assert (stage2[["offset_y", "offset_x"]] == 0).all().all()
    # The first crop is taken at the recorded offset of x_init placed at offset ⌊3/2⌋ = 1 in a zero image.
    canvas = torch.zeros(1, 3, 35, 35)
    canvas[..., 1:33, 1:33] = x_init
    oy, ox = int(h["offset_y"].iloc[0]), int(h["offset_x"].iloc[0])
    assert torch.equal(seen[0], canvas[..., oy : oy + 32, ox : ox + 32])


@pytest.mark.parametrize("optimiser", ["mv2016", "adam"])
def test_every_step_is_projected_into_the_bound(layer1, optimiser):
    phi, x0, phi0 = layer1
    start = 10.0 * x0
    assert float(start.norm(dim=1).max()) > 500
    # Rates so small that the steps are negligible: what remains is the projection.
    cfg = PreimageConfig(
        C=300.0,
        B=40.0,
        B_plus=50.0,
        iterations=(2, 0),
        lr=1e-12,
        optimiser=optimiser,
        adam_lr=1e-9,
        adam_schedule=((2, 1.0),),
    )
    res = preimage(phi, phi0, (3, 32, 32), cfg, x_init=start)
    assert float(res.x.norm(dim=1).max()) == pytest.approx(50.0, rel=1e-5)
    assert torch.allclose(res.x, project_to_ball(start, 50.0), atol=1e-4)


def test_a_batch_is_inverted_as_independent_problems(layer1):
    phi, x0, _ = layer1
    pair = torch.cat([x0, torch.flip(x0, dims=(-1,)) * 0.5])
    phi0 = phi(pair)
    start = torch.randn(pair.shape, generator=torch.Generator().manual_seed(5)) * 30
    cfg = PreimageConfig(C=300.0, iterations=(15, 5))
    both = preimage(phi, phi0, (3, 32, 32), cfg, x_init=start)
    for k in range(2):
        alone = preimage(phi, phi0[k : k + 1], (3, 32, 32), cfg, x_init=start[k : k + 1])
        assert torch.allclose(both.x[k : k + 1], alone.x, atol=1e-3)
        assert both.normalised_error[k] == pytest.approx(alone.normalised_error[0], rel=1e-4)


def test_same_generator_same_preimage(layer1):
    phi, _, phi0 = layer1
    cfg = PreimageConfig(C=300.0, iterations=(20, 5))
    runs = [
        preimage(phi, phi0, (3, 32, 32), cfg, stride=16, generator=torch.Generator().manual_seed(s)) for s in (7, 7, 8)
    ]
    assert torch.equal(runs[0].x, runs[1].x)
    pd.testing.assert_frame_equal(runs[0].history, runs[1].history)
    assert not torch.equal(runs[0].x, runs[2].x)


def test_extra_priors_enter_the_objective(layer1):
    phi, x0, phi0 = layer1
    anchor = torch.zeros_like(x0)
    shapes = []

    def pull_to_anchor(x):
        shapes.append(tuple(x.shape))
        return ((x - anchor) ** 2).flatten(1).mean(dim=1)

    cfg = PreimageConfig(C=300.0, iterations=(40, 10))
    weak = preimage(phi, phi0, (3, 32, 32), cfg, stride=8, extra_priors=[("anchor", 1e-6, pull_to_anchor)])
    # A prior may return the batch total instead of per-image energies.
    strong = preimage(
        phi, phi0, (3, 32, 32), cfg, stride=8, extra_priors=[("anchor", 1.0, lambda x: pull_to_anchor(x).sum())]
    )
    assert set(shapes) == {(1, 3, 32, 32)}
    h = strong.history
    assert np.allclose(h[["data", "alpha_norm", "tv", "anchor"]].sum(axis=1), h["objective"], rtol=1e-5)
    assert float(strong.x.abs().mean()) < 0.5 * float(weak.x.abs().mean())
    assert strong.normalised_error[0] > weak.normalised_error[0]
    with pytest.raises(ValueError, match="prior 'bad' must return"):
        preimage(phi, phi0, (3, 32, 32), cfg, extra_priors=[("bad", 1.0, lambda x: x.sum(dim=(2, 3)))])
    with pytest.raises(ValueError, match="name"):
        preimage(phi, phi0, (3, 32, 32), cfg, extra_priors=[("tv", 1.0, pull_to_anchor)])


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"B": -80.0}, "B"),
        ({"B_plus": 40.0}, "B_plus"),
        ({"lambda_tv": -1.0}, "lambda_tv"),
        ({"C": float("inf")}, "C"),
        ({"optimiser": "sgd"}, "optimiser"),
        ({"iterations": (0, 50)}, "iterations"),
        ({"iterations": (300,)}, "iterations"),
        ({"iterations": 300}, "iterations"),
        ({"momentum": 1.0}, "momentum"),
        ({"adam_schedule": ()}, "adam_schedule"),
        ({"adam_schedule": ((100, -1.0),)}, "adam_schedule"),
        ({"adam_betas": (0.9, 1.0)}, "adam_betas"),
        ({"log_every": 0}, "log_every"),
    ],
)
def test_bad_config_values_raise(changes, word):
    with pytest.raises(ValueError, match=word):
        PreimageConfig(**changes).validate()


def test_config_round_trip_and_bad_inputs(layer1):
    phi, x0, phi0 = layer1
    cfg = PreimageConfig(C=20.0, optimiser="adam")
    assert PreimageConfig.from_dict(
        {**cfg.to_dict(), "adam_schedule": [[10, 1.0]], "iterations": [5, 1]}
    ).adam_schedule == ((10, 1.0),)
    assert PreimageConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.resolved_lambda_alpha == pytest.approx(80.0**-6) and cfg.resolved_lambda_tv == pytest.approx(
        (6.5 / 80) ** 2
    )
    with pytest.raises(ValueError, match="unknown"):
        PreimageConfig.from_dict({"lambda": 1.0})
    short = PreimageConfig(iterations=(2, 1))
    with pytest.raises(ValueError, match="phi0 is zero"):
        preimage(phi, torch.zeros_like(phi0), (3, 32, 32), short)
    with pytest.raises(ValueError, match="image_shape"):
        preimage(phi, phi0, (3, 32), short)
    with pytest.raises(ValueError, match="x_init"):
        preimage(phi, phi0, (3, 32, 32), short, x_init=x0[..., :16, :16])
    with pytest.raises(ValueError, match="phi returned shape"):
        preimage(phi, phi0[:, :8], (3, 32, 32), short)
    with pytest.raises(ValueError, match="stride"):
        preimage(phi, phi0, (3, 32, 32), short, stride=0)
    with pytest.raises(TypeError, match="phi"):
        preimage(None, phi0, (3, 32, 32), short)


def test_select_prior_weight_picks_the_best_mean_criterion():
    calls = []

    def evaluate(w):
        calls.append(w)
        # Per-image MSE minimal at w = 0.1 (image 1 offsets it, the mean keeps the minimiser).
        base = (math.log10(w) + 1) ** 2 if w > 0 else 5.0
        return pd.DataFrame({"mse": [base + 0.01, base + 0.03], "ssim": [1 - base, 1 - base], "label": ["a", "b"]})

    grid = [1.0, 0.01, 0.1, 0.0, 0.001]
    search = select_prior_weight(grid, evaluate, criterion="mse", logger=LOG)
    assert calls == sorted(grid)
    assert search.best_weight == 0.1 and search.criterion == "mse"
    t = search.table
    assert list(t["weight"]) == sorted(grid) and list(t["n_images"]) == [2] * 5
    assert t.loc[t["weight"] == 1.0, "mse"].item() == pytest.approx(1.02)
    assert t["selected"].sum() == 1 and bool(t.loc[t["weight"] == 0.1, "selected"].item())
    assert select_prior_weight(grid, evaluate, criterion="ssim").best_weight == 0.1
    # Ties go to the smaller weight.
    assert (
        select_prior_weight([2.0, 1.0], lambda w: pd.DataFrame({"psnr": [30.0]}), criterion="psnr").best_weight == 1.0
    )
    with pytest.raises(ValueError, match="criterion"):
        select_prior_weight(grid, evaluate, criterion="accuracy")
    with pytest.raises(ValueError, match="candidates"):
        select_prior_weight([0.1, -1.0], evaluate)
    with pytest.raises(ValueError, match="'psnr' column"):
        select_prior_weight([0.1], evaluate, criterion="psnr")


def test_representation_error_by_hand():
    phi0 = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    phi_x = torch.tensor([[3.0, 1.0], [1.0, 0.0]])
    frame = representation_error(phi_x, phi0)
    # Image 0: ‖(0, 3)‖² / ‖(3, 4)‖² = 9 / 25; image 1: exact.
    assert frame["normalised_error"].tolist() == pytest.approx([0.36, 0.0])
    assert frame["relative_error"].tolist() == pytest.approx([0.6, 0.0])
    with pytest.raises(ValueError, match="phi0 is zero"):
        representation_error(phi_x, torch.zeros_like(phi0))
    with pytest.raises(ValueError, match="same shape"):
        representation_error(phi_x[:, :1], phi0)


def test_image_mse_psnr_by_hand_and_ssim_against_skimage():
    y = torch.full((2, 3, 8, 8), 0.1)
    x = torch.zeros(2, 3, 8, 8)
    x[1] = -0.5  # clipped to 0 before the comparison
    frame = image_metrics(x, y)
    # MSE = 0.1² = 0.01, PSNR = 10 log10(1 / 0.01) = 20 dB.
    assert frame["mse"].tolist() == pytest.approx([0.01, 0.01])
    assert frame["psnr"].tolist() == pytest.approx([20.0, 20.0])
    same = image_metrics(y, y)
    assert same["mse"].tolist() == [0.0, 0.0] and np.isinf(same["psnr"]).all()
    assert same["ssim"].tolist() == pytest.approx([1.0, 1.0])
    rng = np.random.default_rng(4)
    a, b = rng.random((16, 16, 3)), rng.random((16, 16, 3))
    ours = image_metrics(torch.from_numpy(a).permute(2, 0, 1)[None], torch.from_numpy(b).permute(2, 0, 1)[None])
    assert ours["ssim"].item() == pytest.approx(structural_similarity(a, b, data_range=1.0, channel_axis=2), rel=1e-10)
    grey = image_metrics(torch.from_numpy(a[None, None, :5, :6, 0]), torch.from_numpy(b[None, None, :5, :6, 0]))
    assert grey["ssim"].item() == pytest.approx(
        structural_similarity(a[:5, :6, 0], b[:5, :6, 0], data_range=1.0, win_size=5), rel=1e-10
    )
    assert [ssim_window(32, 32), ssim_window(5, 6), ssim_window(4, 9)] == [7, 5, 3]
    with pytest.raises(ValueError, match="3 x 3"):
        image_metrics(torch.zeros(1, 1, 2, 5), torch.zeros(1, 1, 2, 5))
    with pytest.raises(ValueError, match="same shape"):
        image_metrics(x, y[:1])


def test_normalised_image_error_by_hand():
    # Evaluation images as 1 x 1 x 2 "pixels": (0, 0), (3, 4), (0, 8): distances 5, 8, 5, mean 6.
    images = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 8.0]]).view(3, 1, 1, 2)
    x = torch.tensor([[0.0, 3.0], [6.0, 8.0]]).view(2, 1, 1, 2)
    y = torch.tensor([[0.0, 0.0], [0.0, 0.0]]).view(2, 1, 1, 2)
    # ‖(0, 3)‖ / 6 = 0.5; ‖(6, 8)‖ / 6 = 10/6.
    assert normalised_image_error(x, y, images).tolist() == pytest.approx([0.5, 10 / 6])
    with pytest.raises(ValueError, match="at least 2"):
        normalised_image_error(x, y, images[:1])


# --- the data-term weight C per layer (issue 17, point 5) -----------------------------------------

# The reference's numbers: the thesis's benchmark reproduction of M&V 2016 (frhrdr/deep_restoration,
# utils/mv_benchmark.py, get_jitter_and_mse_weight) lists C per layer in its own layer order and
# names ('conv1/lin', 'conv1/relu', 'lrn1', ...; utils/db_benchmark.py, classifier_stats). They are
# transcribed here in that order, with the thesis's name mapped to this package's; the thesis's
# relu of fc8 and its softmax have no counterpart here and are left out.
THESIS_ALEXNET = [
    ("conv1", 300), ("relu1", 300), ("norm1", 300), ("pool1", 300),
    ("conv2", 300), ("relu2", 300), ("norm2", 300), ("pool2", 300),
    ("conv3", 300), ("relu3", 300), ("conv4", 100), ("relu4", 100), ("conv5", 20), ("relu5", 20), ("pool5", 1),
    ("fc6", 1), ("relu6", 1), ("fc7", 1), ("relu7", 1), ("fc8", 1),
]  # fmt: skip
THESIS_VGG16 = [
    ("conv1_1", 300), ("relu1_1", 300), ("conv1_2", 300), ("relu1_2", 300), ("pool1", 300),
    ("conv2_1", 300), ("relu2_1", 300), ("conv2_2", 300), ("relu2_2", 300), ("pool2", 300),
    ("conv3_1", 300), ("relu3_1", 300), ("conv3_2", 300), ("relu3_2", 300), ("conv3_3", 300), ("relu3_3", 300), ("pool3", 300),
    ("conv4_1", 300), ("relu4_1", 300), ("conv4_2", 300), ("relu4_2", 300), ("conv4_3", 300), ("relu4_3", 300), ("pool4", 100),
    ("conv5_1", 100), ("relu5_1", 100), ("conv5_2", 20), ("relu5_2", 20), ("conv5_3", 20), ("relu5_3", 20), ("pool5", 1),
    ("fc6", 1), ("relu6", 1), ("fc7", 1), ("relu7", 1), ("fc8", 1),
]  # fmt: skip


@pytest.mark.parametrize(
    ("arch", "lrn", "expected"), [("alexnet", True, THESIS_ALEXNET), ("vgg16", False, THESIS_VGG16)]
)
def test_data_weight_of_every_layer_follows_the_thesis_table(arch, lrn, expected):
    from repgeo.inversion.networks import layer_names
    from repgeo.inversion.preimage import MV_DATA_WEIGHTS, data_weight, mv_data_weight

    # Every layer of the network, in forward order, has the thesis's value: the table covers the
    # network exactly, and the pre-image stage uses it when the config leaves C null.
    assert list(layer_names(arch, lrn=lrn)) == [name for name, _ in expected]
    assert MV_DATA_WEIGHTS[arch] == {name: float(c) for name, c in expected}
    for name, c in expected:
        assert mv_data_weight(name, arch) == c, name
        assert data_weight(name, arch=arch, C=None) == c, name
        assert data_weight(name, arch=arch, C=7.5) == 7.5


def test_data_weight_of_the_issue_layers_and_of_vgg_small():
    from repgeo.inversion.networks import layer_names
    from repgeo.inversion.preimage import data_weight, mv_data_weight

    # The layers named in issue 17: AlexNet conv1-conv3 300, conv4 100, conv5 20, pool5 and fc 1;
    # VGG16 through conv4_3 300, pool4 100, pool5 1 (the old block rule gave pool5 20 and pool3 100).
    alexnet = {
        "conv1": 300,
        "conv2": 300,
        "conv3": 300,
        "conv4": 100,
        "conv5": 20,
        "pool5": 1,
        "fc6": 1,
        "fc7": 1,
        "fc8": 1,
    }
    vgg16 = {"conv1_1": 300, "pool3": 300, "conv4_3": 300, "relu4_3": 300, "pool4": 100, "pool5": 1, "fc6": 1}
    for arch, table in (("alexnet", alexnet), ("vgg16", vgg16)):
        for name, c in table.items():
            assert data_weight(name, arch=arch, C=None) == c, (arch, name)
    # vgg_small shares VGG16's names: 300 through pool3, 1 for the classifier.
    for name in layer_names("vgg_small"):
        assert mv_data_weight(name, "vgg_small") == (
            1.0 if name[:2] in ("fc", "re") and name[-1] in "678" else 300.0
        ), name
    # Without an architecture the name decides (the tables agree on shared names).
    assert data_weight("conv1", arch=None, C=None) == 300 and data_weight("pool5", arch=None, C=None) == 1
    with pytest.raises(ValueError, match="no layer 'conv5_3'"):
        mv_data_weight("conv5_3", "vgg_small")
    with pytest.raises(ValueError, match="set preimage.C"):
        mv_data_weight("conv9")
    with pytest.raises(ValueError, match="known: alexnet"):
        mv_data_weight("conv1", "resnet18")
