"""Channel-averaged layer activations (repgeo.audio.layers) against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from repgeo.audio.layers import (
    averaged_activations,
    binned,
    channel_average,
    interval_curves,
    long_table,
    upsample_linear,
)


def test_channel_average_and_linear_upsampling_match_numpy():
    rng = np.random.default_rng(0)
    act = rng.normal(size=(3, 5, 16))
    mean = channel_average(torch.from_numpy(act)).numpy()
    np.testing.assert_allclose(mean, act.mean(axis=1))
    up = upsample_linear(torch.from_numpy(mean), 64).numpy()
    # Output sample i reads position (i + 0.5) / 4 - 0.5 of the 16 steps, clamped at the ends.
    pos = np.clip((np.arange(64) + 0.5) / 4 - 0.5, 0, 15)
    for row in range(3):
        np.testing.assert_allclose(up[row], np.interp(pos, np.arange(16), mean[row]), atol=1e-12)
    with pytest.raises(ValueError, match="tokens, channels, time"):
        channel_average(torch.zeros(4, 4))


class _KnownLayers(torch.nn.Module):
    """Layers with activations known in closed form: layer l (stride 4^l) has channels c * mean
    of each block of the input, so its channel mean is 2 * the block mean for channels 1 and 3."""

    def layer_activations(self, x):
        acts = []
        for level in (1, 2):
            block = x.reshape(x.shape[0], 1, -1, 4**level).mean(-1)
            acts.append(torch.cat([block, 3 * block], dim=1))
        return acts, x[:, :, :2].reshape(len(x), 2)


def test_averaged_activations_gives_channel_means_upsampled_to_the_frame():
    rng = np.random.default_rng(1)
    audio = rng.normal(size=(5, 1, 64)).astype(np.float32)
    acts = averaged_activations(_KnownLayers(), audio, ["a", "b"], batch=2)
    for name, level in (("a", 1), ("b", 2)):
        expected = 2 * audio[:, 0].reshape(5, -1, 4**level).mean(-1)
        np.testing.assert_allclose(acts.native[name], expected, rtol=1e-5, atol=1e-6)
        assert acts.values[name].shape == (5, 64)
        np.testing.assert_allclose(
            acts.values[name], upsample_linear(torch.from_numpy(expected), 64).numpy(), rtol=1e-5, atol=1e-6
        )
    np.testing.assert_array_equal(acts.logits, audio[:, 0, :2])
    with pytest.raises(ValueError, match="3 layer names"):
        averaged_activations(_KnownLayers(), audio, ["a", "b", "c"])
    bad = audio.copy()
    bad[0, 0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        averaged_activations(_KnownLayers(), bad, ["a", "b"])


def test_q_network_layers_are_averaged_without_phase_shuffle():
    from repgeo.audio.wavegan import LAYER_NAMES, QNetwork

    torch.manual_seed(0)
    q = QNetwork(n_codes=3, model_dim=2).train()  # training mode: the analysis must still switch shuffle off
    audio = np.random.default_rng(2).uniform(-1, 1, size=(3, 1, 16384)).astype(np.float32)
    one = averaged_activations(q, audio, LAYER_NAMES, batch=1)
    all_ = averaged_activations(q, audio, LAYER_NAMES, batch=3)
    assert [one.native[n].shape[1] for n in LAYER_NAMES] == [4096, 1024, 256, 64, 16]
    for n in LAYER_NAMES:
        np.testing.assert_allclose(one.values[n], all_.values[n], rtol=1e-5, atol=1e-6)
        assert one.values[n].shape == (3, 16384)
    # After the leaky ReLU, channel means of the first layer equal the mean of its channels computed by hand.
    with torch.no_grad():
        acts, _ = q.layer_activations(torch.from_numpy(audio))
    np.testing.assert_allclose(one.native["conv1"], acts[0].mean(1).numpy(), rtol=1e-5, atol=1e-6)


def test_long_table_layout():
    rng = np.random.default_rng(3)
    audio = rng.normal(size=(2, 1, 16)).astype(np.float32)
    acts = averaged_activations(_KnownLayers(), audio, ["a", "b"])
    tokens = pd.DataFrame({"id": ["t0", "t1"], "word": ["ask", "wash"], "speaker": ["v1", "v2"]})
    table = long_table(acts, tokens, step=2)
    assert list(table.columns) == ["token", "word", "speaker", "layer", "sample", "value"]
    assert len(table) == 2 * 2 * 8
    row = table[(table["token"] == "t1") & (table["layer"] == "b") & (table["sample"] == 6)]
    assert row["value"].item() == pytest.approx(acts.values["b"][1, 6])
    assert row["word"].item() == "wash"


def test_binned_means_and_interval_normalisation():
    values = np.arange(40, dtype=float).reshape(2, 20)
    centres, means = binned(values, 4, start=0, stop=20)
    np.testing.assert_allclose(centres, [2, 7, 12, 17])
    np.testing.assert_allclose(means[1], [22, 27, 32, 37])
    with pytest.raises(ValueError, match="bins"):
        binned(values, 30)
    # A linear series is reproduced exactly at the normalised positions of its interval.
    series = np.vstack([3.0 + 0.5 * np.arange(100), -1.0 * np.arange(100)])
    curves = interval_curves(series, np.array([10, 40]), np.array([30, 90]), points=5)
    rel = (np.arange(5) + 0.5) / 5
    np.testing.assert_allclose(curves[0], 3 + 0.5 * (10 - 0.5 + rel * 20))
    np.testing.assert_allclose(curves[1], -(40 - 0.5 + rel * 50))
    with pytest.raises(ValueError, match="inside the series"):
        interval_curves(series, np.array([10, 95]), np.array([30, 120]), points=5)
