"""repgeo.features (issue 19, feature extraction, library part): layer names, the reductions
(none, gap, Gaussian random projection, randomised PCA) over streams of batches, and extraction
through torchvision's fx feature extractor or a model's own named activations."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
from torch import nn

from repgeo.features import (
    GlobalAveragePool,
    NoReduction,
    RandomisedPCA,
    RandomProjection,
    check_layers,
    extract_features,
    layer_names,
    make_reduction,
    reduce_stream,
)


def _chunks(A, sizes):
    """A function yielding A in consecutive batches of the given sizes (the last takes the rest)."""
    bounds = np.cumsum([0, *sizes])
    bounds = [int(b) for b in bounds if b < len(A)] + [len(A)]

    def batches():
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            yield A[a:b]

    return batches


class Counting:
    """Wraps a batches() function: counts calls (passes) and batches seen per pass."""

    def __init__(self, batches):
        self.inner, self.calls, self.per_pass = batches, 0, []

    def __call__(self):
        self.calls += 1
        self.per_pass.append([])
        for i, batch in enumerate(self.inner()):
            self.per_pass[-1].append(i)
            yield batch


def _low_rank(n, D, s, seed, offset=3.0):
    """A = 1 mu^T + U diag(s) V^T with U (n x r) orthonormal and orthogonal to 1, V (D x r) orthonormal:
    the centred matrix is exactly U diag(s) V^T, singular values s, principal scores U diag(s)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, len(s)))
    G -= G.mean(axis=0)
    U = np.linalg.qr(G)[0]
    V = np.linalg.qr(rng.standard_normal((D, len(s))))[0]
    mu = offset + rng.standard_normal(D)
    return mu + (U * s) @ V.T, U, np.asarray(s, dtype=float), V


def _match_sign(a, b):
    """b with each column's sign flipped to agree with a's."""
    return b * np.sign(np.sum(a * b, axis=0))


# ---------------------------------------------------------------- layer names


def test_resnet18_layer_names_and_typo():
    import torchvision

    model = torchvision.models.resnet18(weights=None)
    names = layer_names(model)
    for name in ("x", "conv1", "layer1.0.relu", "layer1.0.relu_1", "layer4.1.add", "avgpool", "flatten", "fc"):
        assert name in names
    assert check_layers(model, ["layer1.0.relu", "fc"], names) == ["layer1.0.relu", "fc"]
    with pytest.raises(ValueError, match=r"'layer1\.0\.rleu' \(did you mean 'layer1\.0\.relu'") as err:
        check_layers(model, ["layer1.0.rleu", "fc"], names)
    assert "valid layer names: x, conv1, bn1" in str(err.value) and "avgpool, flatten, fc" in str(err.value)
    with pytest.raises(ValueError, match="'avgpol' \\(did you mean 'avgpool'"):
        check_layers(model, ["avgpol"], names)
    with pytest.raises(TypeError, match="list of layer names"):
        check_layers(model, "fc", names)
    with pytest.raises(ValueError, match="more than once"):
        check_layers(model, ["fc", "fc"], names)
    with pytest.raises(ValueError, match="layers is empty"):
        check_layers(model, [], names)


def test_resnet18_extraction_matches_forward():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=7)
    x = torch.randn(5, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        logits = model(x).numpy()
        r = model.relu(model.bn1(model.conv1(x)))
        block = model.layer1[0]
        inner = block.relu(block.bn1(block.conv1(model.maxpool(r))))
    model.train()
    out = extract_features(
        model, x, ["layer1.0.relu", "fc"], reductions={"layer1.0.relu": "gap", "fc": "none"}, batch_size=2
    )
    assert model.training  # mode restored
    np.testing.assert_allclose(out["fc"].values, logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["layer1.0.relu"].values, inner.mean(dim=(2, 3)).numpy(), rtol=1e-5, atol=1e-6)
    assert out["layer1.0.relu"].input_shape == (64, 8, 8)
    assert out["fc"].index_entry()["width"] == 7


# ---------------------------------------------------------------- extraction on a hand-built network


def _tiny_net():
    conv = nn.Conv2d(2, 3, 3)
    lin = nn.Linear(3, 2)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(54, dtype=torch.float32).reshape(3, 2, 3, 3) / 27 - 1)
        conv.bias.copy_(torch.tensor([0.5, -2.0, 0.0]))
        lin.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.25, 1.0, -1.0]]))
        lin.bias.copy_(torch.tensor([0.1, -0.1]))
    net = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), lin)
    W = conv.weight.detach().numpy().astype(np.float64)
    return net, W, conv.bias.detach().numpy().astype(np.float64), lin.weight.detach().numpy(), lin.bias.detach().numpy()


def _conv_loops(X, W, b):
    """Valid cross-correlation by explicit loops (the oracle): out[n, o, i, j] = b[o] + sum W[o, c, u, v] X[n, c, i+u, j+v]."""
    N, C, H, Wd = X.shape
    n_out, _, k, _ = W.shape
    out = np.zeros((N, n_out, H - k + 1, Wd - k + 1))
    for n in range(N):
        for o in range(n_out):
            for i in range(H - k + 1):
                for j in range(Wd - k + 1):
                    out[n, o, i, j] = b[o] + np.sum(W[o] * X[n, :, i : i + k, j : j + k])
    return out


def test_tiny_network_values_equal_hand_computation():
    net, W, b, L, c = _tiny_net()
    X = (np.arange(5 * 2 * 6 * 5, dtype=np.float64).reshape(5, 2, 6, 5) % 7 - 3) / 4  # exactly representable
    conv = _conv_loops(X, W, b)  # 5 x 3 x 4 x 3
    relu = np.maximum(conv, 0)
    pooled = relu.mean(axis=(2, 3))
    logits = pooled @ L.T + c
    assert layer_names(net) == ["input", "0", "1", "2", "3", "4"]
    calls = []
    out = extract_features(
        net,
        X.astype(np.float32),
        ["0", "1", "3", "4"],
        reductions={"0": "none", "1": GlobalAveragePool(), "3": "none", "4": NoReduction()},
        batch_size=2,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert out["0"].values.shape == (5, 36) and out["0"].input_shape == (3, 4, 3)
    np.testing.assert_allclose(out["0"].values, conv.reshape(5, -1), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["1"].values, pooled, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["3"].values, pooled, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out["4"].values, logits, rtol=1e-6, atol=1e-6)
    assert out["4"].values.dtype == np.float32
    # the same with a multi-pass reduction: the network runs 2 + 2 q times, progress counts them all
    calls.clear()
    out = extract_features(
        net,
        torch.as_tensor(X, dtype=torch.float32),
        ["0", "4"],
        reductions={"0": {"name": "pca", "width": 2, "power_iterations": 1}, "4": "none"},
        batch_size=2,
        progress=lambda done, total: calls.append((done, total)),
        dtype=np.float64,
    )
    assert calls[-1] == (12, 12)
    A = conv.reshape(5, -1)
    Ac = A - A.mean(axis=0)
    U, S, Vt = np.linalg.svd(Ac, full_matrices=False)
    np.testing.assert_allclose(out["0"].singular_values, S[:2], rtol=1e-5)
    np.testing.assert_allclose(_match_sign(U[:, :2] * S[:2], out["0"].values), U[:, :2] * S[:2], atol=1e-4)
    np.testing.assert_allclose(out["4"].values, logits, rtol=1e-6, atol=1e-6)


def test_named_activation_api_of_layered_net():
    from repgeo.inversion.networks import build_network

    net = build_network("vgg_small", n_classes=3, in_channels=1, image_size=8, width=2, seed=1)
    assert layer_names(net) == list(net.layer_names)
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        direct = net.activations(x, ["relu1_1", "fc8"])
    out = extract_features(net, x.numpy(), ["relu1_1", "fc8"], reductions="none", batch_size=4)
    np.testing.assert_allclose(out["relu1_1"].values, direct["relu1_1"].reshape(6, -1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(out["fc8"].values, direct["fc8"].numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match=r"'relu1_3' \(did you mean 'relu1_2' or 'relu1_1'"):
        extract_features(net, x, ["relu1_3"], reductions="gap")


def test_extract_bad_arguments():
    net = _tiny_net()[0]
    x = torch.zeros(3, 2, 5, 5)
    with pytest.raises(TypeError, match="floating point.*/ 255"):
        extract_features(net, np.zeros((3, 2, 5, 5), dtype=np.uint8), ["0"], reductions="none")
    with pytest.raises(ValueError, match="N x C x H x W"):
        extract_features(net, torch.zeros(3, 5, 5), ["0"], reductions="none")
    with pytest.raises(ValueError, match=r"missing \['4'\], not among the layers \['2'\]"):
        extract_features(net, x, ["0", "4"], reductions={"0": "none", "2": "gap"})
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        extract_features(net, x, ["0"], reductions="none", batch_size=0)
    with pytest.raises(ValueError, match="NaN or inf at item 1"):
        extract_features(
            net,
            torch.tensor([0.0, math.nan, 0.0]).reshape(3, 1, 1, 1) * torch.ones(3, 2, 5, 5),
            ["0"],
            reductions="gap",
        )


# ---------------------------------------------------------------- none and gap


def test_gap_and_none_values():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((11, 4, 3, 5))
    gap = reduce_stream(_chunks(torch.as_tensor(A), [4, 4]), "gap", dtype=np.float64)
    np.testing.assert_allclose(gap.values, A.mean(axis=(2, 3)), rtol=1e-14, atol=1e-15)
    assert gap.input_shape == (4, 3, 5) and gap.reduction == "gap" and gap.n_passes == 1
    none = reduce_stream(_chunks(A, [3, 5]), NoReduction())
    assert none.values.dtype == np.float32
    np.testing.assert_array_equal(none.values, A.reshape(11, -1).astype(np.float32))
    flat = A.reshape(11, -1)
    np.testing.assert_array_equal(reduce_stream(_chunks(flat, [6]), "gap", dtype=np.float64).values, flat)
    with pytest.raises(ValueError, match=r"gap needs N x C x H x W .* shape \(4, 4, 15\); use reduction 'none'"):
        reduce_stream(_chunks(A.reshape(11, 4, 15), [4]), "gap")
    with pytest.raises(ValueError, match="at least 2-D"):
        reduce_stream(lambda: [np.zeros(3)], "none")


# ---------------------------------------------------------------- random projection


def test_random_projection_seeded_and_within_jl_bound():
    rng = np.random.default_rng(1)
    n, D, k = 50, 2000, 400
    A = rng.standard_normal((n, D)) * rng.uniform(0.1, 3, D)
    a = reduce_stream(_chunks(A, [16, 16]), RandomProjection(width=k, seed=7), dtype=np.float64)
    b = reduce_stream(_chunks(A, [50]), {"name": "random_projection", "width": k, "seed": 7}, dtype=np.float64)
    c = reduce_stream(_chunks(A, [50]), RandomProjection(width=k, seed=8), dtype=np.float64)
    assert a.values.shape == (n, k) and a.params == {"width": k, "seed": 7}
    np.testing.assert_allclose(a.values, b.values, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.values, A @ RandomProjection(k, 7).matrix(D), rtol=1e-12, atol=1e-12)
    assert np.max(np.abs(a.values - c.values)) > 1.0
    R = RandomProjection(k, 7).matrix(D)
    assert abs(R.var() * k - 1) < 0.01  # entries N(0, 1/k)
    # Per pair P(|ratio - 1| > eps) <= 2 exp(-k (eps^2/2 - eps^3/3) / 2) (Dasgupta & Gupta 2003, Lemma 2.2); over the
    # n (n - 1) / 2 pairs all ratios lie within 1 +- eps with probability >= 1 - 1/n when k >= 6 ln n / (eps^2/2 -
    # eps^3/3) (Achlioptas 2003, Theorem 1.1 with beta = 1). Solved for eps at n = 50, k = 400: eps = 0.401.
    eps = next(e for e in np.arange(0.01, 1, 1e-3) if 6 * math.log(n) / (e**2 / 2 - e**3 / 3) <= k)
    assert 0.40 < eps < 0.41
    i, j = np.triu_indices(n, 1)
    before = np.sum((A[i] - A[j]) ** 2, axis=1)
    after = np.sum((a.values[i] - a.values[j]) ** 2, axis=1)
    distortion = np.max(np.abs(after / before - 1))
    assert distortion < eps, distortion  # measured: 0.242 (ratios 0.784 ... 1.242)
    with pytest.raises(ValueError, match="width 3000 exceeds the 2000 features"):
        reduce_stream(_chunks(A, [50]), RandomProjection(width=3000))
    with pytest.raises(ValueError, match="width must be >= 1"):
        RandomProjection(width=0)
    with pytest.raises(TypeError, match="seed must be an integer"):
        RandomProjection(width=3, seed=1.5)


# ---------------------------------------------------------------- randomised PCA


def test_pca_exact_for_low_rank_with_mean_offset():
    s = [10.0, 5.0, 2.0, 1.0, 0.5]
    A, U, s, V = _low_rank(300, 80, s, seed=2, offset=20.0)
    for width in (5, 3):
        out = reduce_stream(_chunks(A, [64] * 4), RandomisedPCA(width=width, seed=0), dtype=np.float64)
        rel = np.max(np.abs(out.singular_values - s[:width]) / s[:width])
        assert rel < 1e-6, rel  # measured 7.8e-15
        exact = U[:, :width] * s[:width]
        np.testing.assert_allclose(_match_sign(exact, out.values), exact, atol=1e-9 * s[0])
        np.testing.assert_allclose(np.abs(out.components @ V[:, :width]), np.eye(width), atol=1e-6)
        np.testing.assert_allclose(out.mean, A.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(out.explained_variance, s[:width] ** 2 / 299, rtol=1e-10)
        np.testing.assert_allclose(out.explained_variance_ratio, s[:width] ** 2 / np.sum(s**2), rtol=1e-10)
        assert out.n_passes == 2 and out.values.shape == (300, width)


def _decaying(seed=3, n=400, D=300):
    s = 0.85 ** np.arange(min(n - 1, D))
    A, *_ = _low_rank(n, D, s, seed=seed, offset=5.0)
    return A


def test_pca_decaying_spectrum_power_iteration():
    A = _decaying()
    Ac = A - A.mean(axis=0)
    U, S, Vt = np.linalg.svd(Ac, full_matrices=False)
    width = 10
    errors = {}
    for q in (0, 1, 2):
        out = reduce_stream(
            _chunks(A, [100] * 4), RandomisedPCA(width, seed=0, oversampling=10, power_iterations=q), dtype=np.float64
        )
        assert out.n_passes == 2 + 2 * q
        errors[q] = np.max(np.abs(out.singular_values - S[:width]) / S[:width])
        exact = U[:, :width] * S[:width]
        score_err = np.max(np.abs(_match_sign(exact, out.values) - exact)) / S[0]
        errors[f"scores{q}"] = score_err
    # measured (relative singular-value error / score error over s_1): q=0 3.2e-2 / 1.4e-2,
    # q=1 1.7e-5 / 2.2e-4, q=2 1.1e-8 / 4.8e-6
    assert errors[0] < 0.05 and errors[1] < 1e-4 and errors[2] < 1e-7, errors
    assert errors["scores1"] < 2e-3 and errors["scores2"] < 5e-5, errors


def test_pca_batch_split_invariance_and_passes():
    A = _decaying(seed=4, n=240, D=120)
    pca = RandomisedPCA(width=6, seed=5, power_iterations=1)
    one = Counting(_chunks(A, [240]))
    ref = reduce_stream(one, pca, dtype=np.float64)
    split = Counting(_chunks(A, [7, 13, 50, 1, 99]))
    got = reduce_stream(split, pca, dtype=np.float64)
    assert one.calls == split.calls == pca.n_passes == 4
    assert all(p == list(range(6)) for p in split.per_pass)  # each batch once per pass
    np.testing.assert_allclose(got.values, ref.values, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.singular_values, ref.singular_values, rtol=1e-10)
    f32 = reduce_stream(_chunks(A, [100]), pca)
    assert f32.values.dtype == np.float32 and f32.components.dtype == np.float32
    assert f32.index_entry()["n_passes"] == 4 and len(f32.index_entry()["explained_variance_ratio"]) == 6
    counted = Counting(_chunks(A, [100]))
    reduce_stream(counted, RandomisedPCA(width=6, power_iterations=0))
    assert counted.calls == 2
    counted = Counting(_chunks(A, [100]))
    reduce_stream(counted, RandomProjection(width=6))
    assert counted.calls == 1


def test_pca_memory_stays_below_the_full_matrix():
    """A generator makes each batch on the fly; the peak traced allocation stays far below n x D."""
    n, D, r = 2000, 1000, 8
    rng = np.random.default_rng(6)
    F, W = rng.standard_normal((n, r)), rng.standard_normal((r, D))

    def batches():
        for a in range(0, n, 100):
            yield F[a : a + 100] @ W + 1.0

    full = n * D * 8  # 16 MB
    tracemalloc.start()
    try:
        out = reduce_stream(batches, RandomisedPCA(width=r, power_iterations=1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < full / 4, peak  # measured 2.7 MB (a few 100 x 1000 batch temporaries) against 16 MB
    # rank r: the centred matrix is F_c W (the offset 1.0 is removed by centring)
    S_exact = np.linalg.svd((F - F.mean(axis=0)) @ W, compute_uv=False)[:r]
    np.testing.assert_allclose(out.singular_values, S_exact, rtol=1e-8)


def test_pca_bad_inputs():
    A = _decaying(seed=7, n=30, D=20)
    with pytest.raises(ValueError, match="pca width 25 exceeds the 20 features"):
        reduce_stream(_chunks(A, [30]), RandomisedPCA(width=25))
    with pytest.raises(ValueError, match="needs at least width \\+ 1 = 11 items.*got n = 10"):
        reduce_stream(_chunks(A[:10], [10]), RandomisedPCA(width=10))
    B = A.copy()
    B[17, 3] = np.nan
    with pytest.raises(ValueError, match="layer 'conv1' has NaN or inf at item 17"):
        reduce_stream(_chunks(B, [8]), RandomisedPCA(width=2), what="layer 'conv1'")
    gen = _chunks(A, [8])()
    with pytest.raises(ValueError, match="pass 2 yielded 0 items but pass 1 yielded 30.*fresh iterable"):
        reduce_stream(lambda: gen, RandomisedPCA(width=2))
    with pytest.raises(TypeError, match="function returning a fresh iterable"):
        reduce_stream(_chunks(A, [8])(), RandomisedPCA(width=2))
    calls = []

    def shuffled():
        calls.append(1)
        order = np.arange(30) if len(calls) == 1 else np.random.default_rng(0).permutation(30)
        yield A[order]

    with pytest.raises(ValueError, match="pass 2 yielded different activations from pass 1"):
        reduce_stream(shuffled, RandomisedPCA(width=2))
    with pytest.raises(ValueError, match=r"items of shape \(4, 5\) but earlier ones \(20,\)"):
        reduce_stream(lambda: [A[:10], A[10:20].reshape(10, 4, 5)], "none")
    with pytest.raises(ValueError, match="power_iterations must be >= 0"):
        RandomisedPCA(width=2, power_iterations=-1)
    with pytest.raises(ValueError, match="unknown reduction 'pcaa'; choose one of: none, gap, random_projection, pca"):
        make_reduction({"name": "pcaa", "width": 2})
    with pytest.raises(ValueError, match=r"has no parameter\(s\) \['widht'\]"):
        make_reduction({"name": "pca", "widht": 2})
    with pytest.raises(ValueError, match="needs 'width'"):
        make_reduction("pca")
    with pytest.raises(ValueError, match="yielded no items"):
        reduce_stream(lambda: [], "gap")
