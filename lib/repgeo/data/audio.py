"""Audio sources. ``spoken_words``: the eight TIMIT words of Beguš & Zhou, synthesised by espeak-ng.

Beguš & Zhou, "Interpreting intermediate convolutional layers in unsupervised acoustic word
classification" (ICASSP 2022) train ciwGAN on eight TIMIT words: ask, dark, greasy, oily, rag,
wash, water, year. Without TIMIT (LDC licence) the embedded default synthesises them with
libespeak-ng (:mod:`repgeo.audio.espeak`): every token gets a seeded voice (language x variant,
e.g. ``en-us+m3``; the voice is the token's ``speaker``), speaking rate, pitch and pitch range
drawn uniformly from the configured ranges. Each token is then

1. resampled from espeak's 22,050 Hz to ``sample_rate`` (16 kHz, torchaudio's band-limited sinc
   resampling), the phone boundaries scaled with it;
2. peak-normalised to ``peak`` (0.95: inside the tanh range of the WaveGAN generator);
3. placed after ``left_silence_ms`` (25 ms) of silence and right-padded with silence to
   ``length`` (16,384 samples, the WaveGAN frame), an error if the token does not fit;
4. given Gaussian noise of s.d. ``noise`` over the whole frame, then clipped to [-1, 1].

Phone intervals come from espeak's phoneme events (sample-exact), so the frication of [s] in
"ask" and [ʃ] in "wash" is known for every token: columns ``sibilant``, ``sibilant_start``,
``sibilant_end`` (frame samples; -1 and '' when the word has no [s]/[ʃ]), and all phones as
``phones`` (space-separated IPA), ``phone_starts``, ``phone_ends``. Train/test: 80/20 by token,
or by speaker (no voice in both splits). Arrays: N x 1 x length, float32.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import Dataset, DataError, random_split, register

WORDS = ("ask", "dark", "greasy", "oily", "rag", "wash", "water", "year")
LANGUAGES = ("en-us", "en", "en-029")
VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
SIBILANTS = ("s", "ʃ")


def _range(
    spec: Mapping[str, Any], key: str, default: tuple[float, float], low: float, high: float
) -> tuple[float, float]:
    lo, hi = spec.get(key, default)
    if not low <= lo <= hi <= high:
        raise DataError(f"spoken_words: {key} must be [low, high] with {low} <= low <= high <= {high}, got {[lo, hi]}")
    return float(lo), float(hi)


def place_token(audio: np.ndarray, left: int, length: int, peak: float) -> np.ndarray:
    """Peak-normalise ``audio`` and put it after ``left`` silent samples in a frame of ``length``."""
    if left + len(audio) > length:
        raise DataError(
            f"a token of {len(audio)} samples does not fit after {left} samples of silence in a frame of {length}; "
            "raise the speaking rate range (rate), shorten the words or raise length"
        )
    frame = np.zeros(length, dtype=np.float32)
    top = float(np.abs(audio).max())
    frame[left : left + len(audio)] = audio * (peak / top if top > 0 else 0.0)
    return frame


def token_split(
    samples: pd.DataFrame, how: str, test_fraction: float, seed: int, official: np.ndarray | None = None
) -> np.ndarray:
    """Train/test labels for audio tokens: random 80/20 by ``token``, by ``speaker`` (no voice in
    both splits), or ``official`` (``official`` is the boolean test mask of the corpus's own split)."""
    if how == "official":
        if official is None:
            raise DataError(
                "split_by: official is only defined for corpora with their own split (fsdd, timit); use token or speaker"
            )
        return np.where(official, "test", "train")
    if how == "speaker":
        speakers = np.sort(samples["speaker"].unique())
        held = set(speakers[random_split(len(speakers), test_fraction, seed) == "test"])
        return np.where(samples["speaker"].isin(held), "test", "train")
    if how == "token":
        return random_split(len(samples), test_fraction, seed)
    raise DataError(f"split_by must be token, speaker or official, got {how!r}")


def phone_columns(phones: Sequence[tuple[str, int, int]], sibilants: Mapping[str, str]) -> dict[str, Any]:
    """The phone columns of a token: ``phones`` (space-separated symbols), ``phone_starts``,
    ``phone_ends`` (frame samples) and its first sibilant (``sibilants`` maps the source's symbol
    to [s] or [ʃ]) with its interval; '' and -1 when it has none."""
    sib = next(((sibilants[s], a, b) for s, a, b in phones if s in sibilants), ("", -1, -1))
    return {
        "phones": " ".join(s for s, _, _ in phones),
        "phone_starts": [a for _, a, _ in phones],
        "phone_ends": [b for _, _, b in phones],
        "sibilant": sib[0],
        "sibilant_start": sib[1],
        "sibilant_end": sib[2],
    }


def _voices(spec: Mapping[str, Any]) -> list[str]:
    languages: Sequence[str] = spec.get("languages", LANGUAGES)
    variants: Sequence[str] = spec.get("variants", VARIANTS)
    if not languages or not variants:
        raise DataError("spoken_words: languages and variants must each list at least one entry")
    return [lang + (f"+{v}" if v else "") for lang in languages for v in variants]


@register("spoken_words")
def spoken_words(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """The synthesised spoken-word corpus (module docstring)."""
    import torch
    import torchaudio

    from ..audio.espeak import synthesize_batch

    words = list(spec.get("words", WORDS))
    if len(set(words)) != len(words) or not all(isinstance(w, str) and w.strip() for w in words):
        raise DataError(f"spoken_words: words must be distinct non-empty strings, got {words}")
    per_word = int(spec.get("tokens_per_word", 60))
    rate = _range(spec, "rate", (140, 210), 80, 450)
    pitch = _range(spec, "pitch", (25, 75), 0, 100)
    prange = _range(spec, "pitch_range", (30, 70), 0, 100)
    sr, length = int(spec.get("sample_rate", 16000)), int(spec.get("length", 16384))
    left = int(round(float(spec.get("left_silence_ms", 25.0)) * sr / 1000))
    noise, peak = float(spec.get("noise", 0.003)), float(spec.get("peak", 0.95))
    seed = int(spec.get("seed", 0))
    voices = _voices(spec)
    rng = np.random.default_rng([seed, 0xA0D])

    requests, meta = [], []
    for label, word in enumerate(words):
        for k in range(per_word):
            voice = voices[int(rng.integers(len(voices)))]
            r, p, pr = (int(round(rng.uniform(*bounds))) for bounds in (rate, pitch, prange))
            requests.append((word, voice, r, p, pr))
            meta.append((label, word, k))
    try:
        utterances = synthesize_batch(requests)
    except ValueError as err:
        raise DataError(f"spoken_words: {err}") from err
    logger.info(
        "spoken_words: synthesised %d tokens of %d words with %d voices", len(requests), len(words), len(voices)
    )

    frames, rows = [], []
    resamplers: dict[int, Any] = {}
    for (label, word, k), (_, voice, r, p, pr), utt in zip(meta, requests, utterances, strict=True):
        if utt.sample_rate not in resamplers:
            resamplers[utt.sample_rate] = torchaudio.transforms.Resample(utt.sample_rate, sr)
        audio = resamplers[utt.sample_rate](torch.from_numpy(utt.audio)).numpy()
        scale = sr / utt.sample_rate
        frame = place_token(audio, left, length, peak)
        frame += rng.normal(0.0, noise, length).astype(np.float32)
        frames.append(np.clip(frame, -1.0, 1.0))
        phones = [(s, left + int(round(a * scale)), left + int(round(b * scale))) for s, a, b in utt.phones]
        rows.append(
            {
                "id": f"{word}_{k:04d}",
                "label": label,
                "word": word,
                "label_name": word,
                "speaker": voice,
                "rate": r,
                "pitch": p,
                "pitch_range": pr,
                "n_speech": len(audio),
                **phone_columns(phones, {sym: sym for sym in SIBILANTS}),
            }
        )
    samples = pd.DataFrame(rows)
    test_fraction = float(spec.get("test_fraction", 0.2))
    samples.insert(1, "split", token_split(samples, spec.get("split_by", "token"), test_fraction, seed))
    info = {
        "words": words,
        "voices": len(voices),
        "sample_rate": sr,
        "length": length,
        "left_silence": left,
        "espeak_rate": 22050,
    }
    return Dataset(samples, np.stack(frames)[:, None, :], info)


def trim_silence(audio: np.ndarray, threshold: float = 0.02, margin: int = 160) -> np.ndarray:
    """``audio`` without its leading and trailing stretches below ``threshold`` x its peak,
    keeping ``margin`` samples on each side (10 ms at 16 kHz)."""
    loud = np.flatnonzero(np.abs(audio) >= threshold * np.abs(audio).max()) if audio.size else np.array([], int)
    if loud.size == 0:
        return audio
    return audio[max(loud[0] - margin, 0) : loud[-1] + margin + 1]


@register("fsdd")
def fsdd(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """The Free Spoken Digit Dataset: real speech, 6 speakers x 10 digits x 50 recordings at 8 kHz.

    ``path``: the FSDD folder (with ``recordings/``) or the recordings folder itself; files are
    ``{digit}_{speaker}_{index}.wav``. Each recording is read with soundfile, resampled to
    ``sample_rate`` (torchaudio), trimmed of leading and trailing silence (``trim_threshold`` x its
    peak), and placed in the WaveGAN frame as the spoken words are (:func:`place_token`: peak,
    left silence, padding). A recording that still does not fit is an error, or is cut to fit
    with ``crop: true``. Labels: ``label`` = ``digit``, ``speaker``. Split: ``official`` (FSDD's:
    recordings 0-4 of every digit and speaker are the test set), ``speaker`` (held-out voices) or
    ``token`` (random 80/20). Unreadable files are listed (``skip_bad_files`` skips them).
    """
    from pathlib import Path

    import soundfile
    import torch
    import torchaudio

    from . import BadFilesError

    root = Path(spec["path"])
    folder = root / "recordings" if (root / "recordings").is_dir() else root
    files = sorted(folder.glob("*.wav"))
    pattern = [(f, f.stem.split("_")) for f in files]
    files = [(f, parts) for f, parts in pattern if len(parts) == 3 and parts[0].isdigit() and parts[2].isdigit()]
    if not files:
        raise DataError(
            f"fsdd: no {{digit}}_{{speaker}}_{{index}}.wav files in {folder}; point path at the FSDD folder"
        )
    sr, length = int(spec.get("sample_rate", 16000)), int(spec.get("length", 16384))
    left = int(round(float(spec.get("left_silence_ms", 25.0)) * sr / 1000))
    peak, crop = float(spec.get("peak", 0.95)), bool(spec.get("crop", False))
    threshold = float(spec.get("trim_threshold", 0.02))
    frames, rows, bad, too_long = [], [], [], []
    resamplers: dict[int, Any] = {}
    for f, (digit, speaker, index) in files:
        try:
            audio, rate = soundfile.read(f, dtype="float32", always_2d=True)
        except Exception as err:  # noqa: BLE001 -- every unreadable file is reported together
            bad.append((f.name, f"{type(err).__name__}: {err}"))
            continue
        if audio.shape[0] == 0:
            bad.append((f.name, "no samples"))
            continue
        if rate not in resamplers:
            resamplers[rate] = torchaudio.transforms.Resample(rate, sr)
        x = trim_silence(resamplers[rate](torch.from_numpy(audio.mean(axis=1))).numpy(), threshold, int(0.01 * sr))
        if left + len(x) > length:
            if not crop:
                too_long.append(f"{f.name} ({len(x)} samples)")
                continue
            x = x[: length - left]
        frames.append(place_token(x, left, length, peak))
        rows.append(
            {
                "id": f.stem,
                "label": int(digit),
                "digit": int(digit),
                "speaker": speaker,
                "index": int(index),
                "n_speech": len(x),
                "path": str(f),
            }
        )
    if bad and not spec.get("skip_bad_files", False):
        raise BadFilesError(str(folder), bad)
    if too_long:
        raise DataError(
            f"fsdd: {len(too_long)} recording(s) longer than the {length}-sample frame after trimming silence, e.g. "
            f"{', '.join(too_long[:3])}; set crop: true to cut them, or raise length"
        )
    for name, reason in bad:
        logger.warning("fsdd: skipped %s (%s)", name, reason)
    samples = pd.DataFrame(rows)
    how, test_fraction, seed = (
        spec.get("split_by", "official"),
        float(spec.get("test_fraction", 0.2)),
        int(spec.get("seed", 0)),
    )
    samples.insert(1, "split", token_split(samples, how, test_fraction, seed, official=samples["index"].to_numpy() < 5))
    logger.info("fsdd: %d recordings of %d speakers", len(samples), samples["speaker"].nunique())
    info = {
        "sample_rate": sr,
        "length": length,
        "left_silence": left,
        "skipped": [b[0] for b in bad],
        "skipped_files": len(bad),
    }
    return Dataset(samples, np.stack(frames)[:, None, :], info)


# TIMIT's sibilant symbols; "sh" is written [ʃ] so that the sibilant column means the same for
# every source.
_TIMIT_SIBILANTS = {"s": "s", "sh": "ʃ"}


def _read_marks(path: Any) -> list[tuple[int, int, str]]:
    """The (start, end, label) lines of a TIMIT .WRD or .PHN file (sample positions at 16 kHz)."""
    marks = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            raise DataError(f"timit: {path} line {number} is not 'start end label': {line!r}")
        marks.append((int(parts[0]), int(parts[1]), parts[2]))
    return marks


def _sibling(wav: Any, suffix: str) -> Any:
    """The annotation file beside ``wav`` with ``suffix`` in either case (distributions differ)."""
    for candidate in (wav.with_suffix(suffix.upper()), wav.with_suffix(suffix.lower())):
        if candidate.is_file():
            return candidate
    return None


@register("timit")
def timit(spec: Mapping[str, Any], logger: logging.Logger) -> Dataset:
    """Words sliced from a TIMIT directory (LDC93S1; for users who hold the licence).

    Every utterance ``*.WAV`` (NIST SPHERE as LDC ships it, or RIFF; upper or lower case names)
    under ``path`` with its ``.WRD`` word and ``.PHN`` phone alignments is scanned; every
    occurrence of a word in ``words`` (default: the eight of Beguš & Zhou) is cut at its .WRD
    boundaries, resampled to ``sample_rate`` when the file's rate differs, and placed in the WaveGAN
    frame as the synthesised words are (:func:`place_token`). ``phones``/``phone_starts``/
    ``phone_ends`` are the .PHN phones inside the word (frame samples), and the sibilant columns
    mark TIMIT's [s] or [sh] (as [ʃ]). ``speaker`` is the speaker folder, ``timit_split`` TIMIT's
    own TRAIN/TEST folder. ``max_tokens_per_word`` keeps the first tokens of each word in path
    order. Split: 80/20 by ``token`` (default), by ``speaker``, or ``official`` (TIMIT's folders).
    """
    from pathlib import Path

    import soundfile
    import torch
    import torchaudio

    from . import BadFilesError

    root = Path(spec["path"])
    if not root.is_dir():
        raise DataError(
            f"timit: {root} is not a directory; point path at the TIMIT folder (the one holding TRAIN/ and TEST/)"
        )
    words = [w.lower() for w in spec.get("words", WORDS)]
    if len(set(words)) != len(words) or not words:
        raise DataError(f"timit: words must be distinct and non-empty, got {words}")
    cap = spec.get("max_tokens_per_word")
    sr, length = int(spec.get("sample_rate", 16000)), int(spec.get("length", 16384))
    left = int(round(float(spec.get("left_silence_ms", 25.0)) * sr / 1000))
    peak, crop = float(spec.get("peak", 0.95)), bool(spec.get("crop", False))
    wavs = sorted(p for p in root.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not wavs:
        raise DataError(f"timit: no .WAV files under {root}; point path at the TIMIT folder")
    counts = dict.fromkeys(words, 0)
    frames, rows, bad, too_long = [], [], [], []
    resamplers: dict[int, Any] = {}
    for wav in wavs:
        wrd, phn = _sibling(wav, ".WRD"), _sibling(wav, ".PHN")
        if wrd is None or phn is None:
            continue
        wanted = [
            (a, b, w)
            for a, b, w in _read_marks(wrd)
            if w.lower() in counts and (cap is None or counts[w.lower()] < cap)
        ]
        if not wanted:
            continue
        try:
            audio, rate = soundfile.read(wav, dtype="float32", always_2d=True)
        except Exception as err:  # noqa: BLE001 -- every unreadable file is reported together
            bad.append((str(wav.relative_to(root)), f"{type(err).__name__}: {err}"))
            continue
        audio = audio.mean(axis=1)
        phones = _read_marks(phn)
        speaker, utterance = wav.parent.name.upper(), wav.stem.upper()
        for a, b, word in wanted:
            word = word.lower()
            if cap is not None and counts[word] >= cap:
                continue
            x = audio[a:b]
            scale = sr / rate
            if rate != sr:
                if rate not in resamplers:
                    resamplers[rate] = torchaudio.transforms.Resample(rate, sr)
                x = resamplers[rate](torch.from_numpy(np.ascontiguousarray(x))).numpy()
            if left + len(x) > length:
                if not crop:
                    too_long.append(f"{speaker}/{utterance} '{word}' ({len(x)} samples)")
                    continue
                x = x[: length - left]
            inside = [
                (s, left + int(round((pa - a) * scale)), left + int(round((pb - a) * scale)))
                for pa, pb, s in phones
                if pa >= a and pb <= b
            ]
            frames.append(place_token(x, left, length, peak))
            rows.append(
                {
                    "id": f"{word}_{speaker}_{utterance}_{a}",
                    "label": words.index(word),
                    "word": word,
                    "label_name": word,
                    "speaker": speaker,
                    "timit_split": next(
                        (p.name.upper() for p in wav.parents if p.name.upper() in ("TRAIN", "TEST")), ""
                    ),
                    "n_speech": len(x),
                    **phone_columns(inside, _TIMIT_SIBILANTS),
                }
            )
            counts[word] += 1
    if bad and not spec.get("skip_bad_files", False):
        raise BadFilesError(str(root), bad)
    if too_long:
        raise DataError(
            f"timit: {len(too_long)} word token(s) longer than the {length}-sample frame, e.g. {', '.join(too_long[:3])}; set crop: true or raise length"
        )
    missing = [w for w, c in counts.items() if c == 0]
    if missing:
        raise DataError(
            f"timit: no tokens of {missing} under {root} (.WRD files checked); remove them from words or check path"
        )
    samples = pd.DataFrame(rows)
    how, test_fraction, seed = (
        spec.get("split_by", "token"),
        float(spec.get("test_fraction", 0.2)),
        int(spec.get("seed", 0)),
    )
    if how == "official" and not ({"TRAIN", "TEST"} <= set(samples["timit_split"])):
        raise DataError(
            "timit: split_by official needs tokens under both TRAIN/ and TEST/ folders; use token or speaker"
        )
    samples.insert(
        1,
        "split",
        token_split(samples, how, test_fraction, seed, official=(samples["timit_split"] == "TEST").to_numpy()),
    )
    for name, reason in bad:
        logger.warning("timit: skipped %s (%s)", name, reason)
    logger.info("timit: %d tokens of %d words from %d speakers", len(samples), len(words), samples["speaker"].nunique())
    info = {"words": words, "sample_rate": sr, "length": length, "left_silence": left, "skipped_files": len(bad)}
    return Dataset(samples, np.stack(frames)[:, None, :], info)
