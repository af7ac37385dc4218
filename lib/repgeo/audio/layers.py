"""Channel-averaged activations of convolutional layers (Beguš & Zhou, ICASSP 2022, section 3).

Beguš & Zhou interpret the Q-network of ciwGAN by reducing each convolutional layer's output to
one time series: the activations after the leaky ReLU are averaged over the feature maps
(channels), t = (1/|C|) sum_i C_i, and the series of every layer is upsampled by linear
interpolation to the input's 16,384 samples, so that layers of different temporal resolution
(4096 ... 16 steps) can be drawn under the waveform and compared by GAMMs over time.

Phase shuffle is disabled for the analysis (the model's ``layer_activations`` does it), so the
same token always gives the same curves. Upsampling is ``torch.nn.functional.interpolate`` in
``linear`` mode with ``align_corners=False``: output sample i reads layer position
(i + 0.5) / s - 0.5 for the layer's total stride s, so step j sits at input sample s*j + (s - 1)/2,
the middle of the block of s samples it replaced. The receptive-field centre of a stack of
stride-4, kernel-25, padding-11 convolutions is s*j + (s - 1)/3 instead (1, 5, 21, 85, 341 for
conv1..conv5), so the drawn curves lag the true centres by (s - 1)/6 samples: half a sample at
conv1, 170.5 samples (a sixth of a step) at conv5; the paper's plain interpolation is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import DataError


@dataclass
class LayerActivations:
    """Averaged activations of a set of tokens.

    ``layers``: layer names in order; ``values``: layer -> (n_tokens, length) float32, upsampled
    to ``length`` samples; ``native``: layer -> the same before upsampling (n_tokens, L_layer);
    ``logits``: (n_tokens, n_outputs) of the network's last layer.
    """

    layers: tuple[str, ...]
    values: dict[str, np.ndarray]
    native: dict[str, np.ndarray]
    logits: np.ndarray


def channel_average(activation) -> "torch.Tensor":  # noqa: F821 -- torch is imported lazily
    """Mean over the channel axis of an (N, C, L) activation: (N, L)."""
    if activation.ndim != 3:
        raise ValueError(
            f"a convolutional activation must be (tokens, channels, time), got shape {tuple(activation.shape)}"
        )
    return activation.mean(dim=1)


def upsample_linear(series, length: int):
    """Linear interpolation of (N, L) series to (N, length) (module docstring for the alignment)."""
    import torch.nn.functional as F

    if series.ndim != 2:
        raise ValueError(f"series must be (tokens, time), got shape {tuple(series.shape)}")
    return F.interpolate(series[:, None, :], size=int(length), mode="linear", align_corners=False)[:, 0, :]


def averaged_activations(
    model,
    audio: np.ndarray,
    layer_names: Sequence[str],
    length: int | None = None,
    batch: int = 32,
    device: str = "cpu",
) -> LayerActivations:
    """Run ``audio`` (N x 1 x T) through ``model.layer_activations`` and average every layer over channels.

    ``model.layer_activations(x)`` must return (list of (N, C, L) post-activation tensors in the
    order of ``layer_names``, logits) with phase shuffle disabled. ``length`` defaults to T.
    """
    import torch

    if audio.ndim != 3 or audio.shape[1] != 1:
        raise ValueError(f"audio must be tokens x 1 x samples, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("audio contains NaN or infinite values; check the prepared dataset")
    length = int(length or audio.shape[2])
    model = model.to(device).eval()
    native: dict[str, list] = {name: [] for name in layer_names}
    upsampled: dict[str, list] = {name: [] for name in layer_names}
    logits = []
    with torch.no_grad():
        for start in range(0, len(audio), batch):
            x = torch.as_tensor(audio[start : start + batch], dtype=torch.float32, device=device)
            acts, out = model.layer_activations(x)
            if len(acts) != len(layer_names):
                raise ValueError(
                    f"the model returned {len(acts)} layer activations for {len(layer_names)} layer names {list(layer_names)}"
                )
            for name, act in zip(layer_names, acts, strict=True):
                mean = channel_average(act.float())
                native[name].append(mean.cpu().numpy())
                upsampled[name].append(upsample_linear(mean, length).cpu().numpy())
            logits.append(out.float().cpu().numpy())
    return LayerActivations(
        layers=tuple(layer_names),
        values={k: np.concatenate(v).astype(np.float32) for k, v in upsampled.items()},
        native={k: np.concatenate(v).astype(np.float32) for k, v in native.items()},
        logits=np.concatenate(logits).astype(np.float32),
    )


def long_table(acts: LayerActivations, tokens: pd.DataFrame, step: int = 1) -> pd.DataFrame:
    """Long-format table: token, word, speaker, layer, sample, value (every ``step``-th sample).

    ``tokens`` has one row per analysed token (``id``, ``word``, ``speaker``) in the order of
    ``acts``. Text columns are categoricals so the table stays small in memory and on disk.
    """
    n, length = next(iter(acts.values.values())).shape
    if len(tokens) != n:
        raise ValueError(f"{len(tokens)} token rows for activations of {n} tokens")
    samples = np.arange(0, length, int(step), dtype=np.int32)
    parts = []
    for layer in acts.layers:
        values = acts.values[layer][:, samples]
        parts.append(
            pd.DataFrame(
                {
                    "token": np.repeat(tokens["id"].to_numpy(), len(samples)),
                    "word": np.repeat(tokens["word"].to_numpy(), len(samples)),
                    "speaker": np.repeat(tokens["speaker"].to_numpy(), len(samples)),
                    "layer": layer,
                    "sample": np.tile(samples, n),
                    "value": values.reshape(-1),
                }
            )
        )
    table = pd.concat(parts, ignore_index=True)
    for col in ("token", "word", "speaker", "layer"):
        table[col] = table[col].astype("category")
    return table


def binned(values: np.ndarray, bins: int, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Average (N, T) series over ``bins`` equal bins of samples [start, stop): (bin centres, (N, bins)).

    The long layers (up to 4096 samples) are averaged into a few hundred bins before the GAMM
    fits, which keeps mgcv's bam fast without changing the curves' shape at the smooths' scale.
    """
    stop = values.shape[1] if stop is None else int(stop)
    if not 0 <= start < stop <= values.shape[1]:
        raise ValueError(f"bin range [{start}, {stop}) must lie inside the {values.shape[1]} samples")
    if not 1 <= bins <= stop - start:
        raise ValueError(f"bins must be between 1 and the {stop - start} samples of the range, got {bins}")
    edges = np.linspace(start, stop, int(bins) + 1).round().astype(int)
    sums = np.add.reduceat(values[:, start:stop], edges[:-1] - start, axis=1)
    means = sums / np.diff(edges)[None, :]
    return (edges[:-1] + edges[1:] - 1) / 2.0, means


def interval_curves(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, points: int) -> np.ndarray:
    """Each token's series over its own interval [start, end), time-normalised to ``points`` points.

    Linear interpolation at the interval's relative times (k + 0.5) / points, k = 0..points-1:
    the phone-contrast analysis compares the frication of [s] and [ʃ] of tokens of different
    durations on one 0-1 time axis (Beguš & Zhou, Figure 3 right).
    """
    starts, ends = np.asarray(starts, dtype=float), np.asarray(ends, dtype=float)
    if len(starts) != len(values) or len(ends) != len(values):
        raise ValueError("one interval per token is needed")
    if np.any(starts < 0) or np.any(ends > values.shape[1]) or np.any(ends - starts < 2):
        raise ValueError("every interval must lie inside the series and span at least 2 samples")
    rel = (np.arange(points) + 0.5) / points
    out = np.empty((len(values), points), dtype=np.float64)
    grid = np.arange(values.shape[1])
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        out[i] = np.interp(a - 0.5 + rel * (b - a), grid, values[i])
    return out


# --- the analysed tokens ----------------------------------------------------------------------------


def token_words(samples: pd.DataFrame, label: str) -> pd.Series:
    """Each token's word as a string (fsdd's integer digits become '0' ... '9')."""
    if label not in samples.columns:
        raise DataError(
            f"samples.parquet has no column {label!r} naming the words; set audio.<name>.label to one of {list(samples.columns)}"
        )
    return samples[label].astype(str)


def word_order(samples: pd.DataFrame, label: str) -> list[str]:
    """Words in the order of their integer ``label`` codes when the table has them, else sorted."""
    words = token_words(samples, label)
    if "label" in samples.columns and label != "label":
        return list(dict.fromkeys(words.iloc[np.argsort(samples["label"].to_numpy(), kind="stable")]))
    return sorted(words.unique(), key=lambda w: (len(w), w) if w.isdigit() else (0, w))


def reference_word(words: Sequence[str], reference_level: str | None) -> str:
    """The GAMM's reference word (treatment coding): ``reference_level``, or the first of ``words``."""
    ref = reference_level or words[0]
    if ref not in words:
        raise DataError(f"audio reference_level {ref!r} is not one of the words {list(words)}; set it to one of them")
    return str(ref)


def analysed_tokens(samples: pd.DataFrame, *, label: str, split: str, max_tokens_per_word: int | None) -> np.ndarray:
    """Dataset rows whose activations are analysed: the tokens of ``split`` (train, test or all; Beguš
    & Zhou analyse held-out tokens), at most ``max_tokens_per_word`` per word (the first in table
    order; None: all)."""
    rows = np.arange(len(samples)) if split == "all" else np.flatnonzero(samples["split"].to_numpy() == split)
    if len(rows) == 0:
        raise DataError(f"the dataset has no {split} tokens to analyse; set audio analysis.split to train, test or all")
    if max_tokens_per_word is not None:
        words = token_words(samples, label).to_numpy()[rows]
        rank = pd.Series(words).groupby(words).cumcount().to_numpy()
        rows = rows[rank < int(max_tokens_per_word)]
    return rows


def figure_token_row(tokens: pd.DataFrame, *, figure_token: str | None, reference_level: str | None, split: str) -> int:
    """The row of ``tokens`` (id, word) drawn in Figure 2: ``figure_token``, or the first token of
    the reference word (:func:`reference_word`); ``split`` names the analysed tokens in the error."""
    if figure_token is None:
        ref = reference_word(list(dict.fromkeys(tokens["word"])), reference_level)
        return int(np.flatnonzero(tokens["word"].to_numpy() == ref)[0])
    hits = np.flatnonzero(tokens["id"].to_numpy() == figure_token)
    if len(hits) == 0:
        raise DataError(
            f"analysis.figure_token {figure_token!r} is not an analysed token; pick an id of the {split} split"
        )
    return int(hits[0])


def logits_table(logits: np.ndarray, tokens: pd.DataFrame, unit_names: Sequence[str]) -> pd.DataFrame:
    """Long table token, word, unit, logit of the network's outputs (n_tokens x units) for ``tokens``."""
    n, units = logits.shape
    return pd.DataFrame(
        {
            "token": np.repeat(tokens["id"].to_numpy(), units),
            "word": np.repeat(tokens["word"].to_numpy(), units),
            "unit": np.tile(np.asarray(unit_names, dtype=object), n),
            "logit": logits.reshape(-1),
        }
    )


# --- the inputs of the GAMMs (Beguš & Zhou, section 4) -----------------------------------------------


def layer_series(table: pd.DataFrame, layer: str, source: str = "the layer table") -> tuple[pd.DataFrame, np.ndarray]:
    """Tokens (token, word; in table order) and their (n_tokens, n_samples) series of one layer of a
    :func:`long_table` (``source`` names it in errors)."""
    part = table[table["layer"] == layer]
    if part.empty:
        raise DataError(f"{source} has no layer {layer!r}; layers there: {sorted(table['layer'].unique())}")
    wide = part.pivot(index="token", columns="sample", values="value")
    order = pd.unique(part["token"].astype(str))
    wide = wide.loc[order]
    words = part.drop_duplicates("token").set_index("token").loc[order, "word"].astype(str)
    return pd.DataFrame({"token": order, "word": words.to_numpy()}), wide.to_numpy(dtype=np.float64)


def _long(tokens, factor: str, levels, layer: str, times: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    n, m = values.shape
    return pd.DataFrame(
        {
            "layer": layer,
            "token": np.repeat(np.asarray(tokens, dtype=object), m),
            factor: np.repeat(np.asarray(levels, dtype=object), m),
            "time": np.tile(times, n),
            "value": values.reshape(-1),
        }
    )


def word_curves(
    table: pd.DataFrame,
    *,
    layers: Sequence[str],
    bins: int,
    stop_ms: float | None,
    sample_rate: int,
    source: str = "the layer table",
) -> pd.DataFrame:
    """The words analysis' GAMM input (Beguš & Zhou, Figure 3 left): per layer of ``layers`` and
    token of a :func:`long_table`, the series averaged into ``bins`` time bins (:func:`binned`) of the
    first ``stop_ms`` ms (None: the whole frame) at ``sample_rate``; columns layer, token, word,
    time (bin centre in samples), value."""
    stop = None if stop_ms is None else int(round(stop_ms * sample_rate / 1000))
    frames = []
    for layer in layers:
        tokens, values = layer_series(table, layer, source)
        centres, means = binned(values, int(bins), 0, None if stop is None else min(stop, values.shape[1]))
        frames.append(_long(tokens["token"], "word", tokens["word"], layer, centres, means))
    return pd.concat(frames, ignore_index=True)


def sound_curves(
    table: pd.DataFrame,
    phones: pd.DataFrame,
    *,
    layers: Sequence[str],
    words: Sequence[str],
    sounds: Sequence[str],
    points: int,
    source: str = "the layer table",
    phones_source: str = "samples.parquet",
) -> pd.DataFrame:
    """The phone contrast's GAMM input (Beguš & Zhou, Figure 3 right): per layer of ``layers``, the
    series of the tokens of ``words`` over their sibilant's frication interval, time-normalised to
    ``points`` points on [0, 1] (:func:`interval_curves`), for the tokens whose sibilant is one of
    ``sounds``; ``phones``: the samples table indexed by token id with the columns sibilant,
    sibilant_start, sibilant_end. Columns layer, token, sound, time, value."""
    for column in ("sibilant", "sibilant_start", "sibilant_end"):
        if column not in phones.columns:
            raise DataError(
                f"{phones_source} has no {column!r} column for the phone contrast; set audio contrast.enabled: false for this dataset"
            )
    frames = []
    for layer in layers:
        tokens, values = layer_series(table, layer, source)
        info = phones.loc[tokens["token"]]
        keep = (tokens["word"].isin(words) & info["sibilant"].isin(sounds).to_numpy()).to_numpy()
        if keep.sum() == 0:
            raise DataError(
                f"no analysed token of {list(words)} has a sibilant among {list(sounds)}; check contrast.words and contrast.sounds"
            )
        curves = interval_curves(
            values[keep],
            info["sibilant_start"].to_numpy()[keep],
            info["sibilant_end"].to_numpy()[keep],
            int(points),
        )
        times = (np.arange(curves.shape[1]) + 0.5) / curves.shape[1]
        frames.append(_long(tokens["token"][keep], "sound", info["sibilant"].to_numpy()[keep], layer, times, curves))
    found = set(pd.concat(frames)["sound"])
    if found != set(sounds):
        raise DataError(f"the phone contrast needs tokens of both sounds {list(sounds)}, found only {sorted(found)}")
    return pd.concat(frames, ignore_index=True)
