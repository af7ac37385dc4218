"""Audio branch, analysis stages: layer activations of real tokens and the GAMM inputs and tables.

Each stage is a function named after the rule of ``workflow/rules/audio_*.smk`` that calls it,
with the rule's inputs, params and wildcards as keyword arguments and its outputs as
``{output}_out``; it reads, calls the library (:mod:`repgeo.audio.layers`,
:mod:`repgeo.stats.gamm`), logs and writes. Artifacts under ``results/audio/{name}/``:

- ``layers/{network}.parquet``: long table token, word, speaker, layer, sample, value of the
  channel-averaged activations (:mod:`repgeo.audio.layers`) of the analysed real tokens, every
  sample of the 16,384-sample frame; ``layers/{network}_logits.parquet``: token, word, unit,
  logit; ``layers/{network}.png``: Beguš & Zhou's Figure 2 for one token (written by
  :func:`repgeo.stages.audio_models.audio_layers`);
- ``gamm/{network}/words.csv``: per token and layer, the activation averaged into ``gamm.bins``
  time bins (column ``time``: bin centre in samples), factor = word;
  ``gamm/{network}/sounds.csv``: the frication interval of each sibilant token, time-normalised
  to ``contrast.points`` points on [0, 1], factor = sound (Figure 3 right);
- ``gamm/{network}/{analysis}.{engine}/``: one engine's tables as CSV (parametric, smooths,
  curves, differences, settings), every row with its layer;
- ``gamm/{network}/{analysis}_{table}.parquet``: both engines' tables merged (column ``engine``)
  with the significant intervals, ``{analysis}.png`` (the curves and difference curves of the
  preferred engine, mgcv when it ran) and ``{analysis}_table.html`` (Table 1 of the paper per
  layer and engine).

The CSV hand-over keeps R free of parquet libraries (Debian's R has none), so the R rule runs
with nothing but r-base-core and r-cran-mgcv.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]

# The engine whose curves the figure shows when it ran: mgcv is the calibrated one (repgeo.stats.gamm).
PREFERRED_ENGINE = "mgcv"


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
    from ..audio.layers import analysed_tokens, token_words

    samples, arrays = load_audio(samples_path, arrays_path)
    analysis = spec["analysis"]
    rows = analysed_tokens(
        samples, label=spec["label"], split=analysis["split"], max_tokens_per_word=analysis["max_tokens_per_word"]
    )
    tokens = samples.iloc[rows].reset_index(drop=True).copy()
    tokens["word"] = token_words(tokens, spec["label"])
    if "speaker" not in tokens.columns:
        tokens["speaker"] = ""
    return tokens, arrays[rows]


def _write_csv(df: pd.DataFrame, path: str) -> None:
    with io.atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.10g")


def audio_gamm_data(*, table: str, samples: str, spec: Spec, sample_rate: int, words_out: str, sounds_out: str) -> None:
    """The GAMM inputs of one network: binned word curves and time-normalised sibilant intervals."""
    from ..audio.layers import sound_curves, word_curves

    gamm, contrast = spec["gamm"], spec["contrast"]
    layers = io.read_parquet(table, columns=["token", "word", "layer", "sample", "value"])
    words = word_curves(
        layers,
        layers=gamm["layers"],
        bins=gamm["bins"],
        stop_ms=gamm["stop_ms"],
        sample_rate=sample_rate,
        source=table,
    )
    _write_csv(words, words_out)
    if contrast["enabled"]:
        sounds = sound_curves(
            layers,
            io.read_parquet(samples).set_index("id"),
            layers=contrast["layers"],
            words=contrast["words"],
            sounds=contrast["sounds"],
            points=contrast["points"],
            source=table,
            phones_source=samples,
        )
    else:
        sounds = pd.DataFrame(columns=["layer", "token", "sound", "time", "value"])
    _write_csv(sounds, sounds_out)


def audio_gamm_python(*, data: str, settings: Spec, tables_out: str) -> None:
    """The Python route's GAMM of every layer of a GAMM input, as the engine CSVs of ``tables_out``."""
    from ..stats.gamm import factor_column, fit_layers

    frame = pd.read_csv(data, dtype={"layer": str, "token": str})
    factor = factor_column(frame, data)
    frame[factor] = frame[factor].astype(str)
    tables = fit_layers(
        frame,
        factor=factor,
        reference=settings["reference"],
        k=settings["k"],
        random_smooths=settings["random_smooths"],
        ar1=settings["ar1"],
        grid=settings["grid"],
        logger=logger,
    )
    with io.atomic_dir(tables_out) as tmp:
        for name, table in tables.items():
            table.to_csv(tmp / f"{name}.csv", index=False, float_format="%.10g")


def _read_engine_tables(folder: str, engine: str) -> dict[str, pd.DataFrame]:
    """The CSV tables one GAMM engine wrote into ``folder``."""
    from ..stats.gamm import ENGINE_TABLES

    tables = {}
    for table in ENGINE_TABLES:
        path = Path(folder) / f"{table}.csv"
        if not path.is_file():
            raise DataError(f"the {engine} GAMM engine wrote no {path.name} in {folder}; see its log")
        tables[table] = pd.read_csv(
            path,
            dtype={"layer": str, "level": str, "reference": str, "key": str, "value": str}
            if table == "settings"
            else {"layer": str, "level": str, "reference": str},
        )
    return tables


def audio_gamm_tables(
    *,
    mgcv: str | None = None,
    python: str | None = None,
    engines: list[str],
    dpi: int,
    name: str,
    network: str,
    analysis: str,
    parametric_out: str,
    smooths_out: str,
    curves_out: str,
    differences_out: str,
    intervals_out: str,
    settings_out: str,
    html_out: str,
    png_out: str,
) -> None:
    """Merge the engines' tables (``mgcv``, ``python``: their folders, in the order of ``engines``)
    into parquet, render Table 1 and draw the preferred engine's curves."""
    from ..audio.figures import gamm_table_html, plot_gamm
    from ..stats.gamm import merge_engines

    folders = {"mgcv": mgcv, "python": python}
    tables = merge_engines({engine: _read_engine_tables(folders[engine], engine) for engine in engines})
    outputs = {
        "parametric": parametric_out,
        "smooths": smooths_out,
        "curves": curves_out,
        "differences": differences_out,
        "intervals": intervals_out,
        "settings": settings_out,
    }
    for table, frame in tables.items():
        io.write_parquet(frame, outputs[table], metadata={"engines": list(engines)})
    title = f"{name}, {network}, {analysis}"
    io.write_text(gamm_table_html(tables, f"GAMM tables: {title}"), html_out)
    engine = PREFERRED_ENGINE if PREFERRED_ENGINE in engines else engines[0]
    pick = {table: frame[frame["engine"] == engine] for table, frame in tables.items()}
    xlabel = "time (samples)" if analysis == "words" else "normalised time in the frication interval"
    fig = plot_gamm(pick["curves"], pick["differences"], pick["intervals"], f"{title} [{engine}]", xlabel)
    io.save_figure(fig, png_out, dpi=dpi)
