"""Audio branch, model stages: ciwGAN/fiwGAN training and evaluation, the supervised reference CNN,
and the layer activations of either network.

Each stage is a function named after the rule of ``workflow/rules/audio_*.smk`` that calls it,
with the rule's inputs, params and wildcards as keyword arguments and its outputs as
``{output}_out``; it reads, calls the library (:mod:`repgeo.audio`), logs and writes.

Artifacts under ``results/audio/{name}/``:

- ``gan/model.pt``: the final checkpoint of :func:`repgeo.audio.gan.train_gan` (G, D, Q, their
  optimisers, history and configuration); ``gan/history.parquet``: step, losses, gradient
  penalty, Wasserstein estimate, seconds. Checkpoints at the configured steps are kept in
  ``gan/checkpoints-{hash}/`` (not declared outputs, so a killed job resumes from them; the hash
  is of the configuration without the step counts, so more steps continue the same run);
- ``gan/q_accuracy.parquet``: per Q code, the word the Hungarian assignment gives it, its tokens
  and correct tokens, with the accuracy and chance level; ``gan/confusion.parquet`` (+ ``.png``);
  ``gan/samples/code{c}_{i}.wav`` and ``gan/spectrograms.png``: generated audio per code;
- ``reference/model.pt`` (configuration, words and weights) and ``reference/history.parquet``
  (epoch, loss, train and test accuracy); its checkpoint ``reference/checkpoint-{hash}.pt``;
- ``layers/{network}.parquet``, ``layers/{network}_logits.parquet`` and ``layers/{network}.png``
  (:mod:`repgeo.stages.audio_analysis`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError
from .audio_analysis import load_audio

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _split_audio(arrays_path: str, samples_path: str, label: str) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    from ..audio.layers import word_order

    samples, arrays = load_audio(samples_path, arrays_path)
    return samples, arrays, word_order(samples, label)


def audio_train_gan(
    *, arrays: str, samples: str, spec: Spec, device: str = "cpu", model_out: str, history_out: str
) -> None:
    """Train the entry's ciwGAN/fiwGAN on the training tokens (module docstring)."""
    from ..audio.gan import run_identity, train_gan, words_config

    table, audio, words = _split_audio(arrays, samples, spec["label"])
    real = audio[table["split"].to_numpy() == "train"]
    cfg = words_config(len(words), **{k: v for k, v in spec["gan"].items() if k != "samples_per_code"})
    checkpoints = Path(model_out).parent / f"checkpoints-{_digest(run_identity(cfg))}"
    logger.info(
        "%s on %d training tokens of %d words: d = %d, %d steps, batch %d; checkpoints in %s",
        cfg.variant,
        len(real),
        len(words),
        cfg.model_dim,
        cfg.steps,
        cfg.batch_size,
        checkpoints,
    )
    result = train_gan(real, cfg, checkpoints, logger, device=device)
    with io.atomic_path(model_out) as tmp:
        shutil.copyfile(result.checkpoints[-1], tmp)
    history = result.history.copy()
    history.insert(0, "variant", cfg.variant)
    io.write_parquet(history, history_out, metadata={"config": cfg.to_dict(), "words": words})


def audio_gan_evaluate(
    *,
    arrays: str,
    samples: str,
    model: str,
    spec: Spec,
    dpi: int,
    device: str = "cpu",
    accuracy_out: str,
    confusion_out: str,
    confusion_png_out: str,
    sheet_out: str,
    wavs_out: str,
) -> None:
    """Q accuracy on the held-out real tokens after the Hungarian code-to-word assignment, the
    confusion table and figure, and generated WAVs with their spectrogram sheet."""
    from ..audio.evaluation import (
        accuracy_table,
        code_assignment,
        confusion_table,
        q_codes,
        spectrogram_sheet,
        write_wavs,
    )
    from ..audio.figures import plot_confusion
    from ..audio.gan import generate, load_gan
    from ..audio.layers import token_words

    cfg, G, _, Q = load_gan(model, device)
    table, audio, words = _split_audio(arrays, samples, spec["label"])
    test = table["split"].to_numpy() == "test"
    if not test.any():
        raise DataError(
            f"{samples} has no test tokens to measure the Q-network on; set the dataset's test_fraction above 0"
        )
    codes = q_codes(Q, audio[test], cfg.variant)
    truth = token_words(table, spec["label"]).to_numpy()[test]
    found = code_assignment(codes, truth)
    logger.info(
        "Q accuracy on %d held-out tokens: %.3f (chance %.3f), mapping %s",
        int(test.sum()),
        found.accuracy,
        1 / len(words),
        found.mapping,
    )
    io.write_parquet(
        accuracy_table(found, len(words), variant=cfg.variant, steps=cfg.steps),
        accuracy_out,
        metadata={"mapping": found.mapping},
    )
    io.write_parquet(confusion_table(found), confusion_out)
    io.save_figure(
        plot_confusion(
            found.confusion, f"Q-network, {cfg.variant} after {cfg.steps} steps: accuracy {found.accuracy:.2f}"
        ),
        confusion_png_out,
        dpi=dpi,
    )

    generated = generate(G, cfg, int(spec["samples_per_code"]), int(spec["seed"]))
    rate = int(spec["sample_rate"])
    with io.atomic_dir(wavs_out) as tmp:
        write_wavs(generated, tmp, rate)
    io.save_figure(spectrogram_sheet(generated, rate), sheet_out, dpi=dpi)


def _reference_config(spec: Spec) -> dict[str, Any]:
    ref = spec["reference_cnn"]
    return {k: ref[k] for k in ("model_dim", "epochs", "batch_size", "lr", "seed")}


def audio_train_reference(
    *, arrays: str, samples: str, spec: Spec, device: str = "cpu", model_out: str, history_out: str
) -> None:
    """Train the supervised reference CNN on the real word labels (module docstring)."""
    from ..audio.layers import token_words
    from ..audio.reference_cnn import train_reference_cnn

    table, audio, words = _split_audio(arrays, samples, spec["label"])
    y = token_words(table, spec["label"]).map({w: i for i, w in enumerate(words)}).to_numpy()
    train, test = table["split"].to_numpy() == "train", table["split"].to_numpy() == "test"
    cfg = _reference_config(spec)
    checkpoint = Path(model_out).parent / f"checkpoint-{_digest({k: v for k, v in cfg.items() if k != 'epochs'})}.pt"
    logger.info(
        "reference CNN, d = %d, %d epochs on %d tokens (%d test) of %d words; checkpoint %s",
        cfg["model_dim"],
        cfg["epochs"],
        int(train.sum()),
        int(test.sum()),
        len(words),
        checkpoint,
    )
    model, history = train_reference_cnn(
        audio[train],
        y[train],
        audio[test],
        y[test],
        model_dim=cfg["model_dim"],
        epochs=cfg["epochs"],
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        seed=cfg["seed"],
        logger=logger,
        checkpoint_path=checkpoint,
        n_classes=len(words),
        device=device,
    )
    io.save_tensor(
        {
            "config": {**cfg, "n_classes": len(words)},
            "words": words,
            "model": {k: v.cpu() for k, v in model.state_dict().items()},
        },
        model_out,
    )
    io.write_parquet(history, history_out, metadata={"config": cfg, "words": words})


def load_network(path: str, network: str, device: str = "cpu") -> tuple[Any, list[str]]:
    """The analysed network in eval mode and the names of its output units: the Q-network of a
    GAN checkpoint (units: code0, code1, ...) or the reference CNN (units: its words)."""
    if network == "qnet":
        from ..audio.gan import load_gan

        cfg, _, _, Q = load_gan(path, device)
        return Q, [f"code{i}" for i in range(cfg.n_codes)]
    if network == "reference":
        from ..audio.wavegan import ReferenceCNN

        state = io.load_tensor(path)
        cfg = state["config"]
        model = ReferenceCNN(cfg["n_classes"], cfg["model_dim"])
        model.load_state_dict(state["model"])
        return model.to(device).eval(), list(state["words"])
    raise ValueError(f"network must be 'qnet' or 'reference', got {network!r}")


def audio_layers(
    *,
    arrays: str,
    samples: str,
    model: str,
    spec: Spec,
    dpi: int,
    device: str = "cpu",
    network: str,
    table_out: str,
    logits_out: str,
    png_out: str,
) -> None:
    """Channel-averaged activations of the analysed real tokens of ``network`` (qnet or reference):
    long table, logits and Figure 2 for the configured token (default: the first analysed token of
    the reference word)."""
    from ..audio.figures import plot_layers
    from ..audio.layers import averaged_activations, figure_token_row, logits_table, long_table
    from ..audio.wavegan import LAYER_NAMES
    from .audio_analysis import layer_inputs

    net, units = load_network(model, network, device)
    tokens, audio = layer_inputs(samples, arrays, spec)
    logger.info("%s: averaging %d layers over %d tokens", network, len(LAYER_NAMES), len(tokens))
    acts = averaged_activations(net, audio, LAYER_NAMES, device=device)
    table = long_table(acts, tokens)
    table.insert(0, "network", network)
    io.write_parquet(
        table, table_out, metadata={"network": network, "layers": list(acts.layers), "tokens": len(tokens)}
    )
    io.write_parquet(logits_table(acts.logits, tokens, units), logits_out, metadata={"network": network})
    analysis = spec["analysis"]
    row = figure_token_row(
        tokens,
        figure_token=analysis["figure_token"],
        reference_level=spec["reference_level"],
        split=analysis["split"],
    )
    fig = plot_layers(
        audio[row, 0],
        {name: acts.values[name][row] for name in acts.layers},
        acts.logits[row],
        units,
        f"{network}: token {tokens['id'].iloc[row]} ('{tokens['word'].iloc[row]}')",
    )
    io.save_figure(fig, png_out, dpi=dpi)
