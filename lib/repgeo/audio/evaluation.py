"""Evaluate a ciwGAN/fiwGAN: which code stands for which word, listening files, spectrograms.

- :func:`q_codes`: the code Q assigns to each token (ciwGAN: argmax of the logits; fiwGAN: the
  bits with positive logit, read as an integer pattern, :func:`.gan.bits_to_pattern`).
- :func:`code_assignment`: the one-to-one code-to-word mapping that maximises the number of
  tokens whose code maps to their word (Hungarian algorithm, Kuhn 1955, on the code × word
  contingency table; ``scipy.optimize.linear_sum_assignment``). The table is rectangular when
  there are more codes than words (fiwGAN's 2^ϕ patterns): every word gets one code, the other
  codes none and their tokens count as errors. The accuracy is the share of tokens whose code
  maps to their word: an unsupervised-classification accuracy as in Beguš & Zhou (ICASSP 2022).
- :func:`write_wavs` and :func:`spectrogram_sheet`: the generator's audio per code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from scipy.optimize import linear_sum_assignment

from .. import io
from .gan import VARIANTS, bits_to_pattern

UNASSIGNED = "(unassigned)"


@dataclass
class Assignment:
    """Code-to-word mapping and its quality.

    ``mapping``: code -> word for the codes the assignment uses; ``accuracy``: share of tokens whose
    code maps to their word; ``confusion``: counts, rows the true word, columns the word its code
    maps to (plus ``(unassigned)`` for codes without a word); ``contingency``: counts, rows the
    code, columns the true word (what the assignment was solved on).
    """

    mapping: dict[int, str]
    accuracy: float
    confusion: pd.DataFrame
    contingency: pd.DataFrame


def code_assignment(predicted_codes: Sequence[int] | np.ndarray, words: Sequence[str] | np.ndarray) -> Assignment:
    """Map codes to words one-to-one, maximising matches (module docstring)."""
    codes = np.asarray(predicted_codes)
    labels = np.array([str(w) for w in words], dtype=object)
    if codes.ndim != 1 or len(codes) != len(labels):
        raise ValueError(f"need one code per word token, got {codes.shape} codes and {labels.shape} words")
    if len(codes) == 0:
        raise ValueError("no tokens to assign")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be integers (use q_codes), got dtype {codes.dtype}")
    table = pd.crosstab(pd.Series(codes, name="code"), pd.Series(labels, name="word"))
    rows, cols = linear_sum_assignment(table.to_numpy(), maximize=True)
    mapping = {int(table.index[r]): str(table.columns[c]) for r, c in zip(rows, cols, strict=True)}
    assigned = np.array([mapping.get(int(c), UNASSIGNED) for c in codes], dtype=object)
    word_levels = [str(w) for w in table.columns]
    confusion = pd.crosstab(pd.Series(labels, name="word"), pd.Series(assigned, name="assigned"))
    columns = word_levels + ([UNASSIGNED] if (assigned == UNASSIGNED).any() else [])
    confusion = confusion.reindex(index=word_levels, columns=columns, fill_value=0)
    return Assignment(
        mapping=mapping, accuracy=float(np.mean(assigned == labels)), confusion=confusion, contingency=table
    )


def accuracy_table(found: Assignment, n_words: int, **labels: Any) -> pd.DataFrame:
    """Per Q code of an assignment: the word it is assigned (empty: none), its tokens and correct
    tokens, with the overall accuracy, the chance level 1 / ``n_words`` and ``labels`` as columns."""
    counts = found.contingency
    table = pd.DataFrame(
        {
            "code": [int(c) for c in counts.index],
            "word": [found.mapping.get(int(c), "") for c in counts.index],
            "tokens": counts.sum(axis=1).to_numpy(),
            "correct": [
                int(counts.loc[c, found.mapping[int(c)]]) if int(c) in found.mapping else 0 for c in counts.index
            ],
        }
    )
    table["accuracy"] = found.accuracy
    table["chance"] = 1.0 / n_words
    for key, value in labels.items():
        table[key] = value
    return table


def confusion_table(found: Assignment) -> pd.DataFrame:
    """The confusion counts of an assignment as a long table: word, assigned, count."""
    return found.confusion.reset_index().melt(id_vars="word", var_name="assigned", value_name="count")


@torch.no_grad()
def q_codes(Q: torch.nn.Module, X: torch.Tensor | np.ndarray, variant: str, batch: int = 64) -> np.ndarray:
    """The code Q reads from each token of X (N, 1, 16384): category (ciwGAN) or bit pattern (fiwGAN).

    Q runs in eval mode (no phase shuffle); its mode is restored afterwards.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    X = torch.as_tensor(X, dtype=torch.float32)
    device = next(Q.parameters()).device
    was_training = Q.training
    Q.eval()
    out = []
    for s in range(0, len(X), batch):
        logits = Q(X[s : s + batch].to(device))
        out.append((logits.argmax(1) if variant == "ciwgan" else bits_to_pattern((logits > 0).float())).cpu())
    Q.train(was_training)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def _examples(audio: Any) -> np.ndarray:
    """(n, L) float32 array from (n, 1, L), (n, L) or (L,) audio."""
    a = audio.detach().cpu().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio)
    a = a.astype(np.float32, copy=False)
    if a.ndim == 3 and a.shape[1] == 1:
        a = a[:, 0]
    elif a.ndim == 1:
        a = a[None]
    if a.ndim != 2:
        raise ValueError(f"audio must be (n, 1, L), (n, L) or (L,), got shape {a.shape}")
    return a


def _label(code: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", str(code))


def write_wavs(
    audio_by_code: Mapping[Any, Any], directory: str | Path, sample_rate: int, subtype: str = "PCM_16"
) -> list[Path]:
    """Write every example as ``code{code}_{i:03d}.wav`` in ``directory`` (soundfile), atomically.

    Each file is written under a temporary name and renamed into place. PCM subtypes get the audio
    clipped to [-1, 1] first (the generator's tanh range; libsndfile would otherwise wrap around).
    Returns the paths written.
    """
    import soundfile as sf

    if int(sample_rate) < 1:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate}")
    directory = Path(directory)
    paths = []
    for code, audio in audio_by_code.items():
        for i, x in enumerate(_examples(audio)):
            path = directory / f"code{_label(code)}_{i:03d}.wav"
            data = np.clip(x, -1.0, 1.0) if subtype.startswith("PCM") else x
            with io.atomic_path(path) as tmp:
                sf.write(tmp, data, int(sample_rate), subtype=subtype, format="WAV")
            paths.append(path)
    return paths


def spectrogram_sheet(
    audio_by_code: Mapping[Any, Any],
    sample_rate: int,
    *,
    max_examples: int = 4,
    n_fft: int = 512,
    hop_length: int = 128,
    n_mels: int = 64,
    top_db: float = 80.0,
) -> Figure:
    """Mel spectrograms in dB (torchaudio), one row per code and up to ``max_examples`` columns."""
    import torchaudio

    rows = {code: _examples(a)[:max_examples] for code, a in audio_by_code.items()}
    if not rows or any(len(a) == 0 for a in rows.values()) or max_examples < 1:
        raise ValueError("spectrogram_sheet needs at least one example per code and max_examples >= 1")
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=int(sample_rate), n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
    )
    to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=top_db)
    n_cols = max(len(a) for a in rows.values())
    fig = Figure(figsize=(2.6 * n_cols, 1.6 * len(rows)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), n_cols, squeeze=False))
    for r, (code, examples) in enumerate(rows.items()):
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(examples):
                ax.axis("off")
                continue
            spec = to_db(mel(torch.from_numpy(examples[c]))).numpy()
            seconds = len(examples[c]) / sample_rate
            ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=(0, seconds, 0, n_mels))
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"code {code}", fontsize=8)
    fig.suptitle(f"mel spectrograms ({n_mels} bands, dB, top {top_db:g} dB), {seconds:.2f} s each", fontsize=9)
    return fig
