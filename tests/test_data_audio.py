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
        load_dataset(
            {"source": "spoken_words", "words": ["ask"], "tokens_per_word": 1, "languages": ["xx"], "variants": [""]}
        )
    with pytest.raises(DataError, match="rate must be"):
        load_dataset({"source": "spoken_words", "rate": [300, 200]})
    with pytest.raises(DataError, match="distinct"):
        load_dataset({"source": "spoken_words", "words": ["ask", "ask"]})


def _fsdd_folder(tmp_path, rate=8000):
    import soundfile

    folder = tmp_path / "fsdd" / "recordings"
    folder.mkdir(parents=True)
    t = np.arange(int(0.4 * rate)) / rate
    for digit in (0, 1):
        for speaker in ("ann", "bob"):
            for index in range(6):
                tone = 0.5 * np.sin(2 * np.pi * (440 + 110 * digit) * t)
                soundfile.write(
                    folder / f"{digit}_{speaker}_{index}.wav",
                    np.concatenate([np.zeros(400), tone, np.zeros(400)]),
                    rate,
                    subtype="PCM_16",
                )
    return folder


def test_fsdd_resamples_trims_and_splits_officially(tmp_path):
    folder = _fsdd_folder(tmp_path)
    ds = load_dataset({"source": "fsdd", "path": str(folder.parent)}, LOG)
    check_dataset(ds)
    s = ds.samples
    assert ds.arrays.shape == (24, 1, 16384) and set(s["digit"]) == {0, 1} and set(s["speaker"]) == {"ann", "bob"}
    assert list(s.loc[s["split"] == "test", "index"].unique()) == [0, 1, 2, 3, 4]
    row = s.index[s["id"] == "1_bob_3"][0]
    x = ds.arrays[row, 0]
    # Leading silence trimmed to the 10 ms margin, then 25 ms of frame silence: the tone starts near 560.
    onset = int(np.flatnonzero(np.abs(x) > 0.1)[0])
    assert 540 <= onset <= 580
    # 8 kHz -> 16 kHz keeps the pitch: the spectral peak of digit 1's tone is at 550 Hz.
    seg = x[onset : onset + 6000]
    freq = np.fft.rfftfreq(len(seg), 1 / 16000)[np.argmax(np.abs(np.fft.rfft(seg * np.hanning(len(seg)))))]
    assert abs(freq - 550) < 5
    assert s.loc[row, "n_speech"] == pytest.approx(0.4 * 16000 + 2 * 160, abs=40)


def test_fsdd_lists_a_corrupt_wav_among_good_ones(tmp_path):
    from repgeo.data import BadFilesError

    folder = _fsdd_folder(tmp_path)
    (folder / "1_ann_9.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage")
    (folder / "0_bob_9.wav").write_bytes(b"")
    with pytest.raises(BadFilesError) as err:
        load_dataset({"source": "fsdd", "path": str(folder)}, LOG)
    assert {name for name, _ in err.value.bad} == {"1_ann_9.wav", "0_bob_9.wav"} and "skip_bad_files" in str(err.value)
    ds = load_dataset({"source": "fsdd", "path": str(folder), "skip_bad_files": True}, LOG)
    assert len(ds.samples) == 24 and ds.info["skipped_files"] == 2


def test_fsdd_too_long_is_an_error_or_cropped(tmp_path):
    folder = _fsdd_folder(tmp_path)
    with pytest.raises(DataError, match=r"24 recording\(s\) longer than the 4096-sample frame .* set crop: true"):
        load_dataset({"source": "fsdd", "path": str(folder), "length": 4096}, LOG)
    ds = load_dataset({"source": "fsdd", "path": str(folder), "length": 4096, "crop": True}, LOG)
    assert ds.arrays.shape == (24, 1, 4096) and (ds.samples["n_speech"] == 4096 - 400).all()


@pytest.mark.realdata
def test_fsdd_real_recordings(shared_datasets):
    ds = load_dataset({"source": "fsdd", "path": str(shared_datasets / "fsdd"), "crop": True}, LOG)
    s = ds.samples
    assert ds.arrays.shape == (3000, 1, 16384)
    assert (s["split"] == "test").sum() == 300 and s["speaker"].nunique() == 6
    assert sorted(s["digit"].unique()) == list(range(10))
    assert np.allclose(np.abs(ds.arrays).max(axis=(1, 2)), 0.95, atol=1e-3)


def _timit_folder(tmp_path):
    """A TIMIT-shaped corpus: NIST SPHERE utterances with .WRD/.PHN alignments (16 kHz sample
    positions). Each utterance says 'ask' as a 300 Hz vowel then a 3 kHz [s] and 'wash' as a 200 Hz
    vowel then a 2 kHz [sh], with silence and an unwanted word around them."""
    import soundfile

    rate = 16000
    tone = lambda f, n: (0.5 * np.sin(2 * np.pi * f * np.arange(n) / rate)).astype(np.float32)  # noqa: E731
    for part, speakers in (("TRAIN", ("FCJF0", "MDAB0")), ("TEST", ("MKLS0",))):
        for speaker in speakers:
            folder = tmp_path / "timit" / part / "DR1" / speaker
            folder.mkdir(parents=True)
            for utt in ("SA1", "SX2"):
                audio = np.concatenate(
                    [
                        np.zeros(1000),
                        tone(300, 2000),
                        tone(3000, 1500),
                        np.zeros(800),
                        tone(500, 1000),
                        tone(200, 2400),
                        tone(2000, 1800),
                        np.zeros(500),
                    ]
                )
                soundfile.write(folder / f"{utt}.WAV", audio, rate, format="NIST", subtype="PCM_16")
                (folder / f"{utt}.WRD").write_text("1000 4500 ask\n5300 6300 dark\n6300 10500 wash\n")
                (folder / f"{utt}.PHN").write_text(
                    "0 1000 h#\n1000 3000 ae\n3000 4500 s\n4500 5300 pau\n5300 6300 aa\n6300 8700 ao\n8700 10500 sh\n10500 11000 h#\n"
                )
    return tmp_path / "timit"


def test_timit_slices_words_and_phones_from_nist_sphere(tmp_path):
    root = _timit_folder(tmp_path)
    ds = load_dataset({"source": "timit", "path": str(root), "words": ["ask", "wash"], "split_by": "official"}, LOG)
    check_dataset(ds)
    s = ds.samples
    assert ds.arrays.shape == (12, 1, 16384) and (s.groupby("word").size() == 6).all()
    assert set(s.loc[s["split"] == "test", "speaker"]) == {"MKLS0"} and (s["split"] == "test").sum() == 4
    wash = s.index[(s["word"] == "wash") & (s["speaker"] == "MDAB0")][0]
    assert s.loc[wash, "phones"] == "ao sh" and s.loc[wash, "sibilant"] == "ʃ"
    left = 400  # 25 ms at 16 kHz
    assert list(s.loc[wash, "phone_starts"]) == [left, left + 2400] and s.loc[wash, "sibilant_end"] == left + 4200
    x = ds.arrays[wash, 0]
    assert np.abs(x[:left]).max() == 0 and np.abs(x[left + 4200 :]).max() == 0
    # The [sh] interval carries the 2 kHz tone, the vowel the 200 Hz one: the slice is sample-exact.
    for (a, b), f in (((left + 2400, left + 4200), 2000), ((left, left + 2400), 200)):
        seg = x[a:b]
        assert abs(np.fft.rfftfreq(len(seg), 1 / 16000)[np.argmax(np.abs(np.fft.rfft(seg)))] - f) < 10
    ask = s.index[s["word"] == "ask"][0]
    assert s.loc[ask, "sibilant"] == "s" and s.loc[ask, "sibilant_start"] == left + 2000


def test_timit_errors_name_the_problem(tmp_path):
    root = _timit_folder(tmp_path)
    with pytest.raises(DataError, match=r"no tokens of \['greasy'\]"):
        load_dataset({"source": "timit", "path": str(root), "words": ["ask", "greasy"]}, LOG)
    with pytest.raises(DataError, match="not a directory"):
        load_dataset({"source": "timit", "path": str(root / "nope")}, LOG)
    ds = load_dataset({"source": "timit", "path": str(root), "words": ["ask", "wash"], "max_tokens_per_word": 2}, LOG)
    assert (ds.samples.groupby("word").size() == 2).all()
    (root / "TRAIN" / "DR1" / "FCJF0" / "SA1.WRD").write_text("1000 4500\n")
    with pytest.raises(DataError, match="SA1.WRD line 1"):
        load_dataset({"source": "timit", "path": str(root), "words": ["ask", "wash"]}, LOG)
