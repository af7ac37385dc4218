"""Audio branch, analysis stages: layer activations of real tokens and the GAMM inputs and tables.

Artifacts under ``results/audio/{name}/``:

- ``layers/{network}.parquet``: long table token, word, speaker, layer, sample, value of the
  channel-averaged activations (:mod:`repgeo.audio.layers`) of the analysed real tokens, every
  sample of the 16,384-sample frame; ``layers/{network}_logits.parquet``: token, word, unit,
  logit; ``layers/{network}.png``: Beguš & Zhou's Figure 2 for one token;
- ``gamm/{network}/words.csv``: per token and layer, the activation averaged into ``gamm.bins``
  time bins (column ``time``: bin centre in samples), factor = word;
  ``gamm/{network}/sounds.csv``: the frication interval of each sibilant token, time-normalised
  to ``contrast.points`` points on [0, 1], factor = sound (Figure 3 right);
- ``gamm/{network}/{analysis}.{engine}/``: one engine's tables as CSV (parametric, smooths,
  curves, differences, intervals, settings), every row with its layer;
- ``gamm/{network}/{analysis}_{table}.parquet``: both engines' tables merged (column ``engine``),
  ``{analysis}.png`` (the curves and difference curves of the preferred engine, mgcv when it
  ran) and ``{analysis}_table.html`` (Table 1 of the paper per layer and engine).

The CSV hand-over keeps R free of parquet libraries (Debian's R has none), so the R rule runs
with nothing but r-base-core and r-cran-mgcv.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError
from ..stats.gamm import significant_intervals

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]

GAMM_INPUT_COLUMNS = ("layer", "token", "time", "value")
# What each engine writes (CSV, one row set per layer); the merge adds the significant intervals.
ENGINE_TABLES = ("parametric", "smooths", "curves", "differences", "settings")


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


def reference_level(spec: Spec, words: Sequence[str]) -> str:
    """The GAMM reference word: ``reference_level`` or the first word."""
    ref = spec.get("reference_level") or words[0]
    if ref not in words:
        raise DataError(f"audio reference_level {ref!r} is not one of the words {list(words)}; set it to one of them")
    return str(ref)


def analysed_tokens(samples: pd.DataFrame, spec: Spec) -> np.ndarray:
    """Dataset rows whose activations are analysed: the ``analysis.split`` tokens, at most
    ``max_tokens_per_word`` per word (the first in table order)."""
    analysis = spec.get("analysis", {})
    split = analysis.get("split", "test")
    rows = np.arange(len(samples)) if split == "all" else np.flatnonzero(samples["split"].to_numpy() == split)
    if len(rows) == 0:
        raise DataError(f"the dataset has no {split} tokens to analyse; set audio analysis.split to train, test or all")
    cap = analysis.get("max_tokens_per_word")
    if cap is not None:
        words = token_words(samples, spec.get("label", "word")).to_numpy()[rows]
        rank = pd.Series(words).groupby(words).cumcount().to_numpy()
        rows = rows[rank < int(cap)]
    return rows


def load_audio(samples_path: str, arrays_path: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A prepared audio dataset: its samples table and its N x 1 x samples frames."""
    samples = io.read_parquet(samples_path)
    arrays = io.load_tensor(arrays_path).numpy()
    if arrays.ndim != 3 or arrays.shape[1] != 1:
        raise DataError(
            f"{arrays_path} holds arrays of shape {arrays.shape}; the audio branch needs N x 1 x samples frames (an audio source)"
        )
    return samples, arrays


def layer_inputs(samples_path: str, arrays_path: str, spec: Spec) -> tuple[pd.DataFrame, np.ndarray]:
    """The analysed tokens (id, word, speaker and the phone columns) and their audio."""
    samples, arrays = load_audio(samples_path, arrays_path)
    rows = analysed_tokens(samples, spec)
    tokens = samples.iloc[rows].reset_index(drop=True).copy()
    tokens["word"] = token_words(tokens, spec.get("label", "word"))
    if "speaker" not in tokens.columns:
        tokens["speaker"] = ""
    return tokens, arrays[rows]


def write_layers(
    acts, tokens: pd.DataFrame, logit_names: Sequence[str], network: str, table_out: str, logits_out: str
) -> None:
    """The long activation table and the logits table of one network."""
    from ..audio.layers import long_table

    table = long_table(acts, tokens)
    table.insert(0, "network", network)
    io.write_parquet(
        table, table_out, metadata={"network": network, "layers": list(acts.layers), "tokens": len(tokens)}
    )
    n, units = acts.logits.shape
    logits = pd.DataFrame(
        {
            "token": np.repeat(tokens["id"].to_numpy(), units),
            "word": np.repeat(tokens["word"].to_numpy(), units),
            "unit": np.tile(np.asarray(logit_names, dtype=object), n),
            "logit": acts.logits.reshape(-1),
        }
    )
    io.write_parquet(logits, logits_out, metadata={"network": network})


def layer_figure(
    acts,
    tokens: pd.DataFrame,
    audio: np.ndarray,
    logit_names: Sequence[str],
    spec: Spec,
    network: str,
    out: str,
    dpi: int,
) -> None:
    """Figure 2 for the configured token (default: the first analysed token of the reference word)."""
    from ..audio.figures import plot_layers

    token = spec.get("analysis", {}).get("figure_token")
    if token is None:
        ref = reference_level(spec, list(dict.fromkeys(tokens["word"])))
        row = int(np.flatnonzero(tokens["word"].to_numpy() == ref)[0])
    else:
        hits = np.flatnonzero(tokens["id"].to_numpy() == token)
        if len(hits) == 0:
            raise DataError(
                f"analysis.figure_token {token!r} is not an analysed token; pick an id of the {spec.get('analysis', {}).get('split', 'test')} split"
            )
        row = int(hits[0])
    fig = plot_layers(
        audio[row, 0],
        {name: acts.values[name][row] for name in acts.layers},
        acts.logits[row],
        logit_names,
        f"{network}: token {tokens['id'].iloc[row]} ('{tokens['word'].iloc[row]}')",
    )
    io.save_figure(fig, out, dpi=dpi)


def _wide(layers_path: str, layer: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Tokens (in table order) and their (n_tokens, n_samples) series of one layer."""
    table = io.read_parquet(layers_path, columns=["token", "word", "layer", "sample", "value"])
    part = table[table["layer"] == layer]
    if part.empty:
        raise DataError(f"{layers_path} has no layer {layer!r}; layers there: {sorted(table['layer'].unique())}")
    wide = part.pivot(index="token", columns="sample", values="value")
    order = pd.unique(part["token"].astype(str))
    wide = wide.loc[order]
    words = part.drop_duplicates("token").set_index("token").loc[order, "word"].astype(str)
    return pd.DataFrame({"token": order, "word": words.to_numpy()}), wide.to_numpy(dtype=np.float64)


def gamm_data(
    layers_path: str, samples_path: str, spec: Spec, sample_rate: int, words_out: str, sounds_out: str
) -> None:
    """The GAMM inputs of one network: binned word curves and time-normalised sibilant intervals."""
    from ..audio.layers import binned, interval_curves

    gamm, contrast = spec["gamm"], spec["contrast"]
    stop = None if gamm.get("stop_ms") is None else int(round(gamm["stop_ms"] * sample_rate / 1000))
    frames = []
    for layer in gamm["layers"]:
        tokens, values = _wide(layers_path, layer)
        centres, means = binned(values, int(gamm["bins"]), 0, None if stop is None else min(stop, values.shape[1]))
        frames.append(_long(tokens["token"], "word", tokens["word"], layer, centres, means))
    _write_csv(pd.concat(frames, ignore_index=True), words_out)

    frames = []
    if contrast["enabled"]:
        samples = io.read_parquet(samples_path).set_index("id")
        for column in ("sibilant", "sibilant_start", "sibilant_end"):
            if column not in samples.columns:
                raise DataError(
                    f"{samples_path} has no {column!r} column for the phone contrast; set audio contrast.enabled: false for this dataset"
                )
        for layer in contrast["layers"]:
            tokens, values = _wide(layers_path, layer)
            info = samples.loc[tokens["token"]]
            keep = (
                tokens["word"].isin(contrast["words"]) & info["sibilant"].isin(contrast["sounds"]).to_numpy()
            ).to_numpy()
            if keep.sum() == 0:
                raise DataError(
                    f"no analysed token of {contrast['words']} has a sibilant among {contrast['sounds']}; check contrast.words and contrast.sounds"
                )
            curves = interval_curves(
                values[keep],
                info["sibilant_start"].to_numpy()[keep],
                info["sibilant_end"].to_numpy()[keep],
                int(contrast["points"]),
            )
            times = (np.arange(curves.shape[1]) + 0.5) / curves.shape[1]
            frames.append(
                _long(tokens["token"][keep], "sound", info["sibilant"].to_numpy()[keep], layer, times, curves)
            )
        found = set(pd.concat(frames)["sound"])
        if found != set(contrast["sounds"]):
            raise DataError(
                f"the phone contrast needs tokens of both sounds {contrast['sounds']}, found only {sorted(found)}"
            )
    _write_csv(
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["layer", "token", "sound", "time", "value"]),
        sounds_out,
    )


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


def _write_csv(df: pd.DataFrame, path: str) -> None:
    with io.atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.10g")


def analysis_factor(spec: Spec, analysis: str, words: Sequence[str]) -> tuple[str, list[str]]:
    """The reference level and the levels of an analysis (words or sounds)."""
    if analysis == "sounds":
        return spec["contrast"]["sounds"][0], list(spec["contrast"]["sounds"])
    return reference_level(spec, words), list(words)


def merge_engine_tables(engine_dirs: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """Each table of every engine's CSV folder, stacked with an ``engine`` column first."""
    merged: dict[str, list[pd.DataFrame]] = {t: [] for t in ENGINE_TABLES}
    for engine, folder in engine_dirs.items():
        for table in ENGINE_TABLES:
            path = Path(folder) / f"{table}.csv"
            if not path.is_file():
                raise DataError(f"the {engine} GAMM engine wrote no {path.name} in {folder}; see its log")
            df = pd.read_csv(
                path,
                dtype={"layer": str, "level": str, "reference": str, "key": str, "value": str}
                if table == "settings"
                else {"layer": str, "level": str, "reference": str},
            )
            df.insert(0, "engine", engine)
            merged[table].append(df)
    tables = {t: pd.concat(v, ignore_index=True) for t, v in merged.items()}
    tables["intervals"] = pd.concat(
        [
            significant_intervals(d.drop(columns=["engine", "layer"])).assign(engine=e, layer=layer)
            for (e, layer), d in tables["differences"].groupby(["engine", "layer"], sort=False)
        ],
        ignore_index=True,
    )[["engine", "layer", "level", "reference", "start", "end", "direction"]]
    return tables


def factor_column(data: pd.DataFrame, path: str) -> str:
    """The factor column of a GAMM input (word or sound): the one column besides layer, token, time, value."""
    extra = [c for c in data.columns if c not in GAMM_INPUT_COLUMNS]
    if len(extra) != 1 or any(c not in data.columns for c in GAMM_INPUT_COLUMNS):
        raise DataError(
            f"{path} must have the columns {list(GAMM_INPUT_COLUMNS)} and one factor column, found {list(data.columns)}"
        )
    return extra[0]


def fit_layers_python(data_path: str, settings: Spec, out_dir: str) -> None:
    """The Python route's GAMM of every layer of a GAMM input, as the engine CSVs of ``out_dir``."""
    from ..stats.gamm import fit_gamm

    data = pd.read_csv(data_path, dtype={"layer": str, "token": str})
    factor = factor_column(data, data_path)
    data[factor] = data[factor].astype(str)
    reference = settings["reference"] if settings.get("reference") is not None else data[factor].iloc[0]
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in ENGINE_TABLES}
    for layer, d in data.groupby("layer", sort=False):
        fit = fit_gamm(
            d.drop(columns="layer"),
            factor=factor,
            reference=str(reference),
            k=int(settings["k"]),
            random_smooths=bool(settings["random_smooths"]),
            ar1=bool(settings["ar1"]),
            grid=int(settings["grid"]),
            engine="python",
        )
        logger.info(
            "%s: python GAMM of %d rows, %d tokens, rho %.3f, %.1f s",
            layer,
            fit.n_rows,
            fit.n_tokens,
            fit.rho,
            fit.seconds,
        )
        # Wall times stay in the log and the benchmark file: the tables are exactly reproducible.
        record = {
            k: v
            for k, v in {
                **fit.settings,
                "engine": fit.engine,
                "rho": fit.rho,
                "n_rows": fit.n_rows,
                "n_tokens": fit.n_tokens,
            }.items()
            if not k.endswith("seconds")
        }
        tables = {
            "parametric": fit.parametric,
            "smooths": fit.smooths,
            "curves": fit.curves,
            "differences": fit.differences,
            "settings": pd.DataFrame({"key": list(record), "value": [str(v) for v in record.values()]}),
        }
        for name, table in tables.items():
            parts[name].append(table.assign(layer=layer)[["layer", *table.columns]])
    with io.atomic_dir(out_dir) as tmp:
        for name, frames in parts.items():
            pd.concat(frames, ignore_index=True).to_csv(tmp / f"{name}.csv", index=False, float_format="%.10g")


def gamm_html(tables: Mapping[str, pd.DataFrame], title: str) -> str:
    """Table 1 of Beguš & Zhou per layer and engine: parametric terms, then smooth terms."""
    parts = [f"<h2>{title}</h2>"]
    settings = tables["settings"]
    for (engine, layer), par in tables["parametric"].groupby(["engine", "layer"], sort=False):
        smo = tables["smooths"][(tables["smooths"]["engine"] == engine) & (tables["smooths"]["layer"] == layer)]
        sets = settings[(settings["engine"] == engine) & (settings["layer"] == layer)]
        note = ", ".join(f"{r['key']} = {r['value']}" for _, r in sets.iterrows())
        parts.append(f"<h3>{layer}, engine {engine}</h3><p>{note}</p>")
        parts.append(par.drop(columns=["engine", "layer"]).to_html(index=False, float_format=lambda v: f"{v:.4g}"))
        parts.append(smo.drop(columns=["engine", "layer"]).to_html(index=False, float_format=lambda v: f"{v:.4g}"))
    return "<html><head><meta charset='utf-8'></head><body>" + "\n".join(parts) + "</body></html>"


def gamm_tables(
    engine_dirs: Mapping[str, str], outputs: Mapping[str, str], title: str, analysis: str, dpi: int
) -> None:
    """Merge the engines' tables into parquet, render Table 1 and draw the preferred engine's curves."""
    from ..audio.figures import plot_gamm

    tables = merge_engine_tables(engine_dirs)
    for name, table in tables.items():
        io.write_parquet(table, outputs[name], metadata={"engines": list(engine_dirs)})
    io.write_text(gamm_html(tables, f"GAMM tables: {title}"), outputs["html"])
    engine = "mgcv" if "mgcv" in engine_dirs else next(iter(engine_dirs))
    pick = {name: t[t["engine"] == engine] for name, t in tables.items()}
    xlabel = "time (samples)" if analysis == "words" else "normalised time in the frication interval"
    fig = plot_gamm(pick["curves"], pick["differences"], pick["intervals"], f"{title} [{engine}]", xlabel)
    io.save_figure(fig, outputs["png"], dpi=dpi)
