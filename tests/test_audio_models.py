"""WaveGAN / ciwGAN / fiwGAN networks, training, reference CNN and evaluation (repgeo.audio)."""

from __future__ import annotations

import copy
import itertools
import logging
import math

import numpy as np
import pytest
import soundfile as sf
import torch
from torch import nn

from repgeo.audio import gan as gan_module
from repgeo.audio.evaluation import UNASSIGNED, code_assignment, q_codes, spectrogram_sheet, write_wavs
from repgeo.audio.gan import (
    GanConfig,
    TFRMSprop,
    bits_to_pattern,
    build_models,
    build_optimisers,
    generate,
    generator_step,
    gradient_penalty,
    load_gan,
    pattern_to_bits,
    q_loss,
    sample_latent,
    train_gan,
)
from repgeo.audio.reference_cnn import train_reference_cnn
from repgeo.audio.wavegan import (
    LAYER_NAMES,
    Discriminator,
    Generator,
    PhaseShuffle,
    QNetwork,
    ReferenceCNN,
    shift_reflect,
)

L = 16384
LOG = logging.getLogger("test_audio_models")


@pytest.fixture(autouse=True)
def one_thread():
    # The tiny models are overhead-bound; two threads on a shared 2-core machine only contend.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny(**kw) -> GanConfig:
    base = dict(variant="ciwgan", n_codes=2, steps=4, model_dim=2, batch_size=4, d_steps=2, seed=0)
    return GanConfig(**{**base, **kw})


def noise_audio(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, L, generator=torch.Generator().manual_seed(seed)) * 1.6 - 0.8


# --- architecture ----------------------------------------------------------------------------


def _conv_params(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k + c_out


def test_paper_sizes_lengths_and_parameter_counts():
    d, k, latent = 64, 25, 100
    G, D = Generator(latent, d, k), Discriminator(d, k)
    chans = [1, d, 2 * d, 4 * d, 8 * d, 16 * d]
    g_closed = latent * 16 * 16 * d + 16 * 16 * d + sum(_conv_params(chans[i + 1], chans[i], k) for i in range(5))
    d_closed = sum(_conv_params(chans[i], chans[i + 1], k) for i in range(5)) + 16 * 16 * d + 1
    assert sum(p.numel() for p in G.parameters()) == g_closed == 19_065_345
    assert sum(p.numel() for p in D.parameters()) == d_closed == 17_427_969
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape))) for m in G.upconvs]
    with torch.no_grad():
        audio = G(torch.zeros(1, latent))
        acts, logits = D.layer_activations(audio)
    for h in hooks:
        h.remove()
    assert seen == [(1, 512, 64), (1, 256, 256), (1, 128, 1024), (1, 64, 4096), (1, 1, 16384)]
    assert [tuple(a.shape) for a in acts] == [(1, 64, 4096), (1, 128, 1024), (1, 256, 256), (1, 512, 64), (1, 1024, 16)]
    assert logits.shape == (1, 1) and len(LAYER_NAMES) == 5


def test_generator_has_relu_after_projection_and_tanh_output():
    G = Generator(10, 2)
    nn.init.constant_(G.project.bias, -100.0)  # every projected unit negative: ReLU zeroes them
    for conv in G.upconvs:
        nn.init.constant_(conv.bias, 0.0)
    with torch.no_grad():
        out = G(torch.rand(3, 10))
    assert torch.equal(out, torch.zeros_like(out))
    nn.init.constant_(G.upconvs[-1].bias, 50.0)
    with torch.no_grad():
        assert torch.allclose(G(torch.rand(2, 10)), torch.ones(2, 1, L))


def test_q_and_reference_share_the_critic_stack():
    x = noise_audio(2)
    for net, n_out in ((QNetwork(3, 2), 3), (ReferenceCNN(5, 2), 5)):
        acts, logits = net.layer_activations(x)
        assert [a.shape[1:] for a in acts] == [(2, 4096), (4, 1024), (8, 256), (16, 64), (32, 16)]
        assert logits.shape == (2, n_out)
        # Phase shuffle after the first four convolutions only, radius 2.
        assert [s.radius for s in net.shuffles] == [2, 2, 2, 2]
        net.train()
        again, _ = net.layer_activations(x)  # no phase shuffle whatever the mode
        assert all(torch.equal(a, b) for a, b in zip(acts, again, strict=True))
        net.eval()
        torch.testing.assert_close(net(x), logits, rtol=0, atol=0)


# --- phase shuffle ---------------------------------------------------------------------------


def _numpy_shift(x: np.ndarray, s: int) -> np.ndarray:
    if s >= 0:
        return np.pad(x, ((0, 0), (0, 0), (s, 0)), mode="reflect")[..., : x.shape[-1]]
    return np.pad(x, ((0, 0), (0, 0), (0, -s)), mode="reflect")[..., -s:]


def test_phase_shuffle_reflects_within_radius_one_shift_per_batch():
    x = torch.randn(3, 2, 40, generator=torch.Generator().manual_seed(1))
    ps = PhaseShuffle(2)
    ps.eval()
    assert ps(x) is x
    ps.train()
    assert PhaseShuffle(0).train()(x) is x
    candidates = {s: torch.from_numpy(_numpy_shift(x.numpy(), s)) for s in range(-2, 3)}
    for s, expected in candidates.items():
        torch.testing.assert_close(shift_reflect(x, s), expected, rtol=0, atol=0)

    def shift_of(y: torch.Tensor) -> int:
        # the whole batch is shifted by one amount, within the radius
        match = [s for s, e in candidates.items() if torch.equal(y, e)]
        assert len(match) == 1
        return match[0]

    gen = torch.Generator().manual_seed(0)
    shifts = [shift_of(ps(x, gen)) for _ in range(200)]
    assert set(shifts) == {-2, -1, 0, 1, 2}
    # the generator set on the module gives the same draws as one passed in
    ps.generator = torch.Generator().manual_seed(0)
    assert [shift_of(ps(x)) for _ in range(20)] == shifts[:20]


# --- losses, latents, optimisers -------------------------------------------------------------


def test_gradient_penalty_matches_analytic_values():
    gen = torch.Generator().manual_seed(3)
    real, fake = torch.randn(5, 1, 64, generator=gen), torch.randn(5, 1, 64, generator=gen)
    alpha = torch.rand(5, 1, 1, generator=gen)
    w = (torch.randn(64, generator=gen) * 0.3).requires_grad_(True)
    gp = gradient_penalty(lambda x: x[:, 0] @ w + 0.7, real, fake, alpha)
    norm = float(np.linalg.norm(w.detach().numpy()))
    assert gp.item() == pytest.approx((norm - 1) ** 2, rel=1e-6)
    (dw,) = torch.autograd.grad(gp, w)  # the penalty is differentiable in the critic's weights
    np.testing.assert_allclose(dw.numpy(), 2 * (norm - 1) * w.detach().numpy() / norm, rtol=1e-5)
    # A quadratic critic has gradient x̂: checks the per-example interpolation too.
    r, f, a = real.numpy().astype(np.float64), fake.numpy().astype(np.float64), alpha.numpy().astype(np.float64)
    x_hat = r + a * (f - r)
    expected = np.mean((np.linalg.norm(x_hat.reshape(5, -1), axis=1) - 1) ** 2)
    assert gradient_penalty(lambda x: 0.5 * (x**2).flatten(1).sum(1), real, fake, alpha).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_latent_code_statistics():
    n = 20_000
    z = sample_latent(n, tiny(n_codes=4, latent_dim=10), torch.Generator().manual_seed(0))
    code, rest = z[:, :4].numpy(), z[:, 4:].numpy()
    assert set(np.unique(code)) == {0.0, 1.0} and (code.sum(1) == 1).all()
    counts = code.sum(0)
    assert np.all(np.abs(counts - n / 4) < 5 * math.sqrt(n * 0.25 * 0.75))
    assert rest.min() >= -1 and rest.max() < 1
    assert abs(rest.mean()) < 5 * math.sqrt(1 / 3 / rest.size) and abs(rest.var() - 1 / 3) < 0.01
    bits = sample_latent(n, tiny(variant="fiwgan", n_codes=3, latent_dim=10), torch.Generator().manual_seed(1))[
        :, :3
    ].numpy()
    assert set(np.unique(bits)) == {0.0, 1.0}
    assert np.all(np.abs(bits.mean(0) - 0.5) < 5 * 0.5 / math.sqrt(n))
    corr = np.corrcoef(bits.T)[np.triu_indices(3, 1)]
    assert np.all(np.abs(corr) < 5 / math.sqrt(n))
    patterns = np.arange(8)
    assert torch.equal(bits_to_pattern(pattern_to_bits(patterns, 3)), torch.as_tensor(patterns))
    assert pattern_to_bits([5], 3).tolist() == [[1.0, 0.0, 1.0]]


def test_tf_rmsprop_first_step():
    p = nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    g = torch.tensor([0.3, -4.0, 0.0])
    opt = TFRMSprop([p], lr=0.1)
    p.grad = g.clone()
    opt.step()
    ms = 0.9 * 1.0 + 0.1 * g.numpy().astype(np.float64) ** 2  # TF1: mean square starts at 1
    expected = np.array([1.0, -2.0, 0.5]) - 0.1 * g.numpy() / np.sqrt(ms + 1e-10)
    np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-6)


def test_q_optimiser_moves_generator_too():
    cfg = tiny()
    G, D, Q = build_models(cfg)
    opts = build_optimisers(G, D, Q, cfg)
    q_ids = {id(p) for group in opts.q.param_groups for p in group["params"]}
    assert q_ids == {id(p) for p in [*G.parameters(), *Q.parameters()]}
    before_g, before_d = copy.deepcopy(G.state_dict()), copy.deepcopy(D.state_dict())
    z = sample_latent(4, cfg, torch.Generator().manual_seed(0))
    q_loss(Q(G(z), torch.Generator().manual_seed(1)), z[:, :2], "ciwgan").backward()
    opts.q.step()
    changed = [k for k, v in G.state_dict().items() if not torch.equal(v, before_g[k])]
    assert changed == list(before_g)  # every generator tensor moved with the Q loss alone
    assert all(torch.equal(v, before_d[k]) for k, v in D.state_dict().items())


def test_generator_and_q_updates_share_one_generated_batch():
    """G moves by Adam(∇L_G) + RMSProp(∇L_Q), both gradients from the same G(z) at the same weights."""
    # Large learning rates: G's Adam step changes G enough that a Q gradient taken after it (the
    # PyTorch port's order) would differ clearly, and the RMSProp step stands well above float32
    # rounding of the weights.
    cfg = tiny(phase_shuffle=0, variant="fiwgan", n_codes=3, lr=0.05, q_lr=10.0)
    G, D, Q = build_models(cfg)
    G0, D0, Q0 = (copy.deepcopy(m) for m in (G, D, Q))
    generator_step(G, D, Q, build_optimisers(G, D, Q, cfg), cfg, torch.Generator().manual_seed(5))
    z = sample_latent(cfg.batch_size, cfg, torch.Generator().manual_seed(5))
    fake = G0(z)
    g_grads = torch.autograd.grad(-D0(fake).mean(), list(G0.parameters()), retain_graph=True)
    q_grads = torch.autograd.grad(q_loss(Q0(fake), z[:, :3], "fiwgan"), list(G0.parameters()))
    for p, p0, gg, gq in zip(G.parameters(), G0.parameters(), g_grads, q_grads, strict=True):
        g64, q64 = gg.double(), gq.double()
        adam = -cfg.lr * g64 / (g64.abs() + 1e-8)  # Adam's first step: m̂ = g, v̂ = g²
        rms = -cfg.q_lr * q64 / torch.sqrt(0.9 + 0.1 * q64**2 + 1e-10)
        moved_by_q = p.detach().double() - p0.detach().double() - adam
        torch.testing.assert_close(moved_by_q, rms, rtol=1e-3, atol=1e-7)
        assert rms.abs().max() > 1e-4


# --- training runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant,n_codes", [("ciwgan", 3), ("fiwgan", 2)])
def test_few_steps_run_checkpoint_and_load(tmp_path, variant, n_codes):
    cfg = tiny(variant=variant, n_codes=n_codes, steps=3, checkpoint_steps=(1,))
    res = train_gan(noise_audio(8), cfg, tmp_path, LOG, log_every=1)
    h = res.history
    assert list(h.columns) == [
        "step",
        "d_loss",
        "g_loss",
        "q_loss",
        "gradient_penalty",
        "wasserstein_estimate",
        "seconds",
    ]
    assert h["step"].tolist() == [1, 2, 3] and np.isfinite(h.drop(columns="step").to_numpy()).all()
    assert h["q_loss"].iloc[0] == pytest.approx(math.log(3) if variant == "ciwgan" else math.log(2), abs=0.05)
    assert (
        sorted(p.name for p in tmp_path.glob("*.pt"))
        == ["step000001.pt", "step000003.pt"]
        == [p.name for p in res.checkpoints]
    )
    cfg2, G, D, Q = load_gan(tmp_path / "step000003.pt")
    assert cfg2 == cfg and not G.training
    for a, b in ((G, res.G), (D, res.D), (Q, res.Q)):
        assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    audio = generate(G, cfg, 2, seed=0)
    assert sorted(audio) == list(range(3 if variant == "ciwgan" else 4))
    assert all(a.shape == (2, 1, L) and a.abs().max() < 1 for a in audio.values())
    torch.testing.assert_close(generate(G, cfg, 2, seed=0)[1], audio[1], rtol=0, atol=0)


@pytest.mark.parametrize("variant", ["ciwgan", "fiwgan"])
def test_q_loss_falls(tmp_path, variant):
    # TF's RMSProp starts its mean square at 1, so with these tiny gradients (~1e-5) it barely
    # moves until the mean square has decayed (0.9 per step) towards g²: Q learns only after
    # ~150 steps (measured: the loss leaves log 2 at step ~160 for ciwGAN, ~180 for fiwGAN and
    # is below 0.02 by step 240 for both). latent_dim 3 leaves the code most of G's input.
    cfg = tiny(variant=variant, n_codes=2, latent_dim=3, steps=240, d_steps=1, phase_shuffle=0, q_lr=1e-3)
    q = train_gan(noise_audio(8), cfg, tmp_path, LOG, log_every=1000).history["q_loss"].to_numpy()
    assert q[:30].mean() == pytest.approx(math.log(2), abs=0.02)  # chance: Q cannot read the code yet
    assert q[-20:].mean() < 0.1


def _assert_same_run(a, b):
    for x, y in ((a.G, b.G), (a.D, b.D), (a.Q, b.Q)):
        for k, v in x.state_dict().items():
            assert torch.equal(v, y.state_dict()[k]), k
    cols = [c for c in a.history.columns if c != "seconds"]
    assert a.history[cols].equals(b.history[cols])


def test_resume_after_interruption_equals_uninterrupted(tmp_path, monkeypatch):
    real = noise_audio(8)
    cfg = tiny(steps=4, checkpoint_steps=(2,))
    full = train_gan(real, cfg, tmp_path / "full", LOG)
    # Interrupted during step 3, after the checkpoint of step 2.
    real_step, calls = gan_module.generator_step, []

    def dying_step(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(gan_module, "generator_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        train_gan(real, cfg, tmp_path / "cut", LOG)
    monkeypatch.setattr(gan_module, "generator_step", real_step)
    assert [p.name for p in (tmp_path / "cut").glob("*.pt")] == ["step000002.pt"]
    _assert_same_run(train_gan(real, cfg, tmp_path / "cut", LOG), full)
    # A shorter run asked for more steps continues.
    train_gan(real, tiny(steps=2), tmp_path / "short", LOG)
    _assert_same_run(train_gan(real, cfg, tmp_path / "short", LOG), full)


def test_foreign_checkpoint_and_bad_config_refused(tmp_path):
    real = noise_audio(8)
    train_gan(real, tiny(steps=1), tmp_path, LOG)
    with pytest.raises(ValueError, match="another configuration"):
        train_gan(real, tiny(steps=2, seed=1), tmp_path, LOG)
    with pytest.raises(ValueError, match="other data"):
        train_gan(noise_audio(8, seed=1), tiny(steps=2), tmp_path, LOG)
    with pytest.raises(ValueError, match="n_codes must be >= 2 for ciwgan"):
        tiny(n_codes=1).validate()
    with pytest.raises(ValueError, match="checkpoint_steps"):
        tiny(steps=3, checkpoint_steps=(5,)).validate()
    with pytest.raises(ValueError, match="variant"):
        tiny(variant="wavegan").validate()
    with pytest.raises(ValueError, match="fewer than batch_size"):
        train_gan(noise_audio(3), tiny(), tmp_path / "x", LOG)


# --- evaluation ------------------------------------------------------------------------------


def _tokens(table: np.ndarray, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    codes, labels = [], []
    for c, w in itertools.product(range(table.shape[0]), range(table.shape[1])):
        codes += [c] * int(table[c, w])
        labels += [words[w]] * int(table[c, w])
    return np.array(codes), np.array(labels, dtype=object)


@pytest.mark.parametrize("n_codes,n_words", [(3, 3), (5, 5), (6, 3), (8, 4), (3, 5)])
def test_hungarian_equals_brute_force(n_codes, n_words):
    rng = np.random.default_rng(n_codes * 10 + n_words)
    words = [f"w{j}" for j in range(n_words)]
    for _ in range(20):
        table = rng.integers(1, 12, size=(n_codes, n_words))
        codes, labels = _tokens(table, words)
        a = code_assignment(codes, labels)
        k = min(n_codes, n_words)
        if n_codes >= n_words:
            best = max(
                sum(table[c, w] for w, c in enumerate(perm)) for perm in itertools.permutations(range(n_codes), k)
            )
        else:
            best = max(
                sum(table[c, w] for c, w in enumerate(perm)) for perm in itertools.permutations(range(n_words), k)
            )
        assert round(a.accuracy * table.sum()) == best
        assert len(a.mapping) == k and len(set(a.mapping.values())) == k
        assert sum(table[c, words.index(w)] for c, w in a.mapping.items()) == best
        assert int(a.confusion.to_numpy().sum()) == table.sum()


def test_fiwgan_rectangular_assignment():
    # 3 words, fiwGAN patterns 0..7: "ask" mostly 5, "wash" split over 2 and 3, "dark" on 7.
    codes = [5] * 9 + [1] + [2] * 6 + [3] * 4 + [7] * 8 + [5] * 2
    words = ["ask"] * 10 + ["wash"] * 10 + ["dark"] * 10
    a = code_assignment(codes, words)
    assert a.mapping == {5: "ask", 2: "wash", 7: "dark"}
    assert a.accuracy == pytest.approx(23 / 30)
    assert a.confusion.loc["wash", UNASSIGNED] == 4 and a.confusion.loc["ask", UNASSIGNED] == 1
    assert a.confusion.loc["dark", "ask"] == 2 and a.confusion.loc["ask", "ask"] == 9


def test_q_codes_reads_categories_and_bit_patterns():
    x = noise_audio(3)
    for variant, bias, expected in (("ciwgan", [0.0, 3.0, 1.0], 1), ("fiwgan", [1.0, -1.0, 2.0], 0b101)):
        Q = QNetwork(3, 2)
        nn.init.zeros_(Q.head.weight)
        with torch.no_grad():
            Q.head.bias.copy_(torch.tensor(bias))
        assert q_codes(Q, x, variant, batch=2).tolist() == [expected] * 3


def test_wav_round_trip_and_spectrogram_sheet(tmp_path):
    audio = {0: noise_audio(2), 5: noise_audio(1, seed=2)[0, 0]}
    paths = write_wavs(audio, tmp_path, 16000, subtype="FLOAT")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["code0_000.wav", "code0_001.wav", "code5_000.wav"]
    data, sr = sf.read(paths[1], dtype="float32")
    assert sr == 16000 and np.array_equal(data, audio[0][1, 0].numpy())
    pcm = write_wavs({1: audio[0]}, tmp_path / "pcm", 16000)
    data, _ = sf.read(pcm[0], dtype="float32")
    assert np.abs(data - audio[0][0, 0].numpy()).max() <= 1 / 32768
    fig = spectrogram_sheet(audio, 16000, max_examples=2)
    assert len(fig.axes) == 4 and fig.axes[0].get_ylabel() == "code 0"


# --- reference CNN ---------------------------------------------------------------------------


def _two_tones(n: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.arange(L) / 16000
    f = np.where(y == 0, 300.0, 2400.0)[:, None]
    x = rng.uniform(0.3, 0.9, (n, 1)) * np.sin(
        2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (n, 1))
    ) + 0.05 * rng.standard_normal((n, L))
    return torch.from_numpy(x[:, None].astype(np.float32)), y


def test_reference_cnn_learns_two_tones_and_resumes(tmp_path):
    Xtr, ytr = _two_tones(32, 0)
    Xte, yte = _two_tones(32, 1)
    kw = dict(model_dim=2, batch_size=8, lr=1e-3, seed=0, logger=LOG)
    model, hist = train_reference_cnn(Xtr, ytr, Xte, yte, epochs=4, checkpoint_path=tmp_path / "full.pt", **kw)
    assert hist["epoch"].tolist() == [0, 1, 2, 3, 4] and math.isnan(hist["loss"].iloc[0])
    assert hist["test_accuracy"].iloc[-1] > 0.9 and isinstance(model, ReferenceCNN) and not model.training
    train_reference_cnn(Xtr, ytr, Xte, yte, epochs=2, checkpoint_path=tmp_path / "part.pt", **kw)
    resumed, hist2 = train_reference_cnn(Xtr, ytr, Xte, yte, epochs=4, checkpoint_path=tmp_path / "part.pt", **kw)
    assert hist2.equals(hist)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in resumed.state_dict().items())
    with pytest.raises(ValueError, match="another configuration"):
        train_reference_cnn(Xtr, ytr, Xte, yte, epochs=5, checkpoint_path=tmp_path / "part.pt", **{**kw, "lr": 2e-3})
