"""Spoken words synthesised by espeak-ng: frames, phone boundaries (checked acoustically), splits, errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from repgeo.audio.espeak import synthesize
from repgeo.data import DataError, check_dataset, load_dataset
from repgeo.data.audio import place_token

LOG = logging.getLogger("test")


@pytest.fixture(scope="module")
def ask_wash():
    return load_dataset({"source": "spoken_words", "words": ["ask", "wash"], "tokens_per_word": 15, "seed": 3})


def _centroid(x: np.ndarray, rate: int = 16000) -> float:
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    return float((np.fft.rfftfreq(len(x), 1 / rate) * power).sum() / power.sum())


def test_synthesis_reports_phones_that_tile_the_word():
    u = synthesize("wash", "en-us+m3", rate=160)
    assert u.sample_rate == 22050 and u.audio.dtype == np.float32 and np.abs(u.audio).max() <= 1
    assert [p[0] for p in u.phones] == ["w", "ɑː", "ʃ"]
    assert all(a < b for _, a, b in u.phones)
    assert all(prev[2] == nxt[1] for prev, nxt in zip(u.phones[:-1], u.phones[1:], strict=True))
    assert u.phones[-1][2] <= len(u.audio)
    with pytest.raises(ValueError, match="no voice 'xx-nope'"):
        synthesize("ask", "xx-nope")
    with pytest.raises(ValueError, match="rate must be"):
        synthesize("ask", rate=20)


def test_frames_follow_the_wavegan_layout(ask_wash):
    ds = ask_wash
    check_dataset(ds)
    s = ds.samples
    assert ds.arrays.shape == (30, 1, 16384)
    left = 400  # 25 ms at 16 kHz
    quiet = ds.arrays[:, 0, :left]
    assert np.abs(quiet).max() < 0.02  # only the added noise (s.d. 0.003) before the word
    for i, row in s.iterrows():
        speech = ds.arrays[i, 0, left : left + row["n_speech"]]
        assert 0.9 < np.abs(speech).max() <= 1.0  # peak-normalised to 0.95 plus noise
        assert row["phone_starts"][0] >= left and row["phone_ends"][-1] <= left + row["n_speech"] + 1
    assert set(s["split"]) == {"train", "test"} and (s["split"] == "test").sum() == 6


def test_sibilant_intervals_are_where_the_frication_is(ask_wash):
    """The [s]/[ʃ] intervals from espeak's events hold high-frequency noise (spectral centroid far
    above the vowel's), and [s] is higher than [ʃ] as in natural speech."""
    ds, s = ask_wash, ask_wash.samples
    centroids = {"s": [], "ʃ": []}
    for i, row in s.iterrows():
        assert row["sibilant"] == {"ask": "s", "wash": "ʃ"}[row["word"]]
        vowel = 0 if row["word"] == "ask" else 1
        x = ds.arrays[i, 0]
        fric = _centroid(x[row["sibilant_start"] : row["sibilant_end"]])
        vow = _centroid(x[row["phone_starts"][vowel] : row["phone_ends"][vowel]])
        assert fric > 2.5 * vow
        centroids[row["sibilant"]].append(fric)
    assert np.mean(centroids["s"]) > np.mean(centroids["ʃ"]) + 500


def test_seeded_and_split_by_speaker():
    spec = {"source": "spoken_words", "words": ["rag", "year"], "tokens_per_word": 12, "split_by": "speaker", "seed": 1}
    a, b = load_dataset(spec), load_dataset(spec)
    np.testing.assert_array_equal(a.arrays, b.arrays)
    other = load_dataset({**spec, "seed": 2})
    assert not np.array_equal(a.arrays, other.arrays)
    s = a.samples
    assert not set(s.loc[s["split"] == "train", "speaker"]) & set(s.loc[s["split"] == "test", "speaker"])
    assert list(s["label"].unique()) == [0, 1] and set(s["word"]) == {"rag", "year"}
    assert (s["sibilant"] == "").all() and (s["sibilant_start"] == -1).all()


def test_bad_specs_name_the_fix():
    with pytest.raises(DataError, match="does not fit .* raise the speaking rate range"):
        place_token(np.ones(20000, dtype=np.float32), 400, 16384, 0.95)
    with pytest.raises(DataError, match="no voice 'xx'"):
        load_dataset({"source": "spoken_words", "words": ["ask"], "tokens_per_word": 1, "languages": ["xx"], "variants": [""]})
    with pytest.raises(DataError, match="rate must be"):
        load_dataset({"source": "spoken_words", "rate": [300, 200]})
    with pytest.raises(DataError, match="distinct"):
        load_dataset({"source": "spoken_words", "words": ["ask", "ask"]})
