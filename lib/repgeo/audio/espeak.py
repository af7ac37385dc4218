"""Speech synthesis with libespeak-ng (the ``espeakng-loader`` wheel), driven through ctypes.

The library is used in synchronous mode with phoneme events (``espeakINITIALIZE_PHONEME_EVENTS``,
names in IPA): every phoneme event carries the sample index at which the phoneme starts, so each
synthesised word comes with its phone intervals, e.g. the frication of [s] in "ask" and of [ʃ]
in "wash", without hand annotation. Constants and the event layout follow espeak-ng's public
header ``speak_lib.h``. libespeak-ng keeps one global state per process: :func:`synthesize`
initialises it once and is not thread-safe.

libespeak-ng also carries hidden state from one utterance to the next (the same call gives
different samples after other calls, even after ``espeak_Terminate`` and a new
``espeak_Initialize``, while a fresh process replays the same sequence exactly), and it seeds its
random generator (voice flutter and breath noise of variants such as ``+f2``) from the clock;
every utterance therefore starts with ``espeak_ng_SetRandSeed(0)``. For output that depends only
on its arguments, :func:`synthesize_batch` runs a list of requests in a fresh process.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_EVENT_MSG_TERMINATED = 6
_PARAM_RATE, _PARAM_PITCH, _PARAM_RANGE = 1, 3, 4
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Utterance:
    """A synthesised utterance: ``audio`` (float32 in [-1, 1]), its ``sample_rate``, and its
    ``phones`` as (IPA symbol, start, end) in samples, stress marks removed."""

    audio: np.ndarray
    sample_rate: int
    phones: tuple[tuple[str, int, int], ...]


class _Engine:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent, _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise RuntimeError(f"libespeak-ng failed to initialise (data at {data_parent.decode()})")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[str, int]] = []
        self._callback = _Callback(self._collect)  # kept referenced: the library holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n, events) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            if e.type == _EVENT_PHONEME:
                self._events.append((e.id.string.decode("utf-8", "replace"), int(e.sample)))
            elif e.type == _EVENT_MSG_TERMINATED:
                self._events.append(("", int(e.sample)))
            i += 1
        return 0

    def synthesize(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> Utterance:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise ValueError(
                f"espeak-ng has no voice {voice!r}; use e.g. 'en-us', 'en' (British), 'en-029' or 'en-us+m3' (language+variant)"
            )
        for param, value in ((_PARAM_RATE, rate), (_PARAM_PITCH, pitch), (_PARAM_RANGE, pitch_range)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self._chunks, self._events = [], []
        # espeak-ng seeds its own generator (flutter, breath noise) from the clock when it
        # initialises; a fixed seed per utterance makes the samples independent of the time.
        self.lib.espeak_ng_SetRandSeed(ctypes.c_long(0))
        data = text.encode("utf-8")
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if status != _EE_OK or not self._chunks:
            raise RuntimeError(f"espeak-ng could not synthesise {text!r} with voice {voice!r} (status {status})")
        audio = np.concatenate(self._chunks).astype(np.float32) / 32768.0
        phones = []
        for (symbol, start), (_, end) in zip(self._events[:-1], self._events[1:], strict=True):
            symbol = symbol.replace("ˈ", "").replace("ˌ", "")
            if symbol and end > start:
                phones.append((symbol, start, end))
        return Utterance(audio, self.sample_rate, tuple(phones))


_ENGINE: _Engine | None = None


def synthesize(text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50, pitch_range: int = 50) -> Utterance:
    """Speak ``text`` with an espeak-ng ``voice`` ('language' or 'language+variant', e.g.
    'en-us+m3'), ``rate`` in words per minute (80-450), ``pitch`` and ``pitch_range`` (0-100).

    The samples depend on what this process synthesised before (module docstring); use
    :func:`synthesize_batch` for reproducible output."""
    global _ENGINE
    if not 80 <= rate <= 450:
        raise ValueError(f"rate must be 80..450 words per minute, got {rate}")
    for name, value in (("pitch", pitch), ("pitch_range", pitch_range)):
        if not 0 <= value <= 100:
            raise ValueError(f"{name} must be 0..100, got {value}")
    if _ENGINE is None:
        _ENGINE = _Engine()
    return _ENGINE.synthesize(text, voice, rate, pitch, pitch_range)


def synthesize_batch(requests: list[tuple[str, str, int, int, int]]) -> list[Utterance]:
    """:func:`synthesize` for each (text, voice, rate, pitch, pitch_range), in a fresh Python
    process, so the same list always gives the same samples whatever this process did before.

    The child (``python -m repgeo.audio.espeak``) reads the requests as JSON and returns the audio
    and phones in an .npz; an unknown voice or a failed synthesis raises ValueError / RuntimeError
    here with the child's message.
    """
    import json
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "batch.npz"
        proc = subprocess.run(
            [sys.executable, "-m", "repgeo.audio.espeak", str(out)],
            input=json.dumps([list(r) for r in requests]),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            kind = ValueError if last.startswith("ValueError") else RuntimeError
            raise kind(last.split(": ", 1)[-1])
        with np.load(out, allow_pickle=False) as f:
            rate = int(f["sample_rate"])
            phones = json.loads(str(f["phones"]))
            return [Utterance(f[f"a{i}"], rate, tuple(tuple(p) for p in phones[i])) for i in range(len(requests))]


def _main(out: str) -> None:
    import json
    import sys

    utterances = [synthesize(*r) for r in json.load(sys.stdin)]
    rate = utterances[0].sample_rate if utterances else 22050
    arrays = {f"a{i}": u.audio for i, u in enumerate(utterances)}
    np.savez(out, sample_rate=np.array(rate), phones=np.array(json.dumps([u.phones for u in utterances])), **arrays)


if __name__ == "__main__":
    import sys

    _main(sys.argv[1])
