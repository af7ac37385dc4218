"""Audio branch, model stages: ciwGAN/fiwGAN training and evaluation, the supervised reference CNN,
and loading either network for the layer analysis.

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
  (epoch, loss, train and test accuracy); its checkpoint ``reference/checkpoint-{hash}.pt``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import io
from ..data import DataError
from .audio_analysis import load_audio, token_words, word_order

logger = logging.getLogger("repgeo")

Spec = Mapping[str, Any]


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _split_audio(arrays_path: str, samples_path: str, label: str) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    samples, arrays = load_audio(samples_path, arrays_path)
    return samples, arrays, word_order(samples, label)


def gan_config(spec: Spec, n_words: int):
    """The :class:`~repgeo.audio.gan.GanConfig` of an audio entry (n_codes: the words, or enough bits for them)."""
    from ..audio.gan import GanConfig

    gan = dict(spec["gan"])
    if gan.get("n_codes") is None:
        gan["n_codes"] = n_words if gan["variant"] == "ciwgan" else max(1, math.ceil(math.log2(n_words)))
    gan["checkpoint_steps"] = tuple(sorted(s for s in gan.get("checkpoint_steps", ()) if s <= gan["steps"]))
    cfg = GanConfig(**{k: v for k, v in gan.items() if k != "samples_per_code"})
    cfg.validate()
    return cfg


def train_gan_run(
    arrays_path: str, samples_path: str, spec: Spec, model_out: str, history_out: str, device: str = "cpu"
) -> None:
    """Train the entry's ciwGAN/fiwGAN on the training tokens (module docstring)."""
    from ..audio.gan import run_identity, train_gan

    samples, arrays, words = _split_audio(arrays_path, samples_path, spec["label"])
    real = arrays[samples["split"].to_numpy() == "train"]
    cfg = gan_config(spec, len(words))
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


def gan_evaluate(
    model_path: str,
    arrays_path: str,
    samples_path: str,
    spec: Spec,
    outputs: Mapping[str, str],
    dpi: int,
    device: str = "cpu",
) -> None:
    """Q accuracy on the held-out real tokens after the Hungarian code-to-word assignment, the
    confusion table and figure, and generated WAVs with their spectrogram sheet."""
    from ..audio.evaluation import code_assignment, q_codes, spectrogram_sheet, write_wavs
    from ..audio.figures import plot_confusion
    from ..audio.gan import generate, load_gan

    cfg, G, _, Q = load_gan(model_path, device)
    samples, arrays, words = _split_audio(arrays_path, samples_path, spec["label"])
    test = samples["split"].to_numpy() == "test"
    if not test.any():
        raise DataError(
            f"{samples_path} has no test tokens to measure the Q-network on; set the dataset's test_fraction above 0"
        )
    codes = q_codes(Q, arrays[test], cfg.variant)
    truth = token_words(samples, spec["label"]).to_numpy()[test]
    found = code_assignment(codes, truth)
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
    table["chance"] = 1.0 / len(words)
    table["variant"], table["steps"] = cfg.variant, cfg.steps
    logger.info(
        "Q accuracy on %d held-out tokens: %.3f (chance %.3f), mapping %s",
        int(test.sum()),
        found.accuracy,
        1 / len(words),
        found.mapping,
    )
    io.write_parquet(table, outputs["accuracy"], metadata={"mapping": found.mapping})
    confusion = found.confusion.reset_index().melt(id_vars="word", var_name="assigned", value_name="count")
    io.write_parquet(confusion, outputs["confusion"])
    io.save_figure(
        plot_confusion(
            found.confusion, f"Q-network, {cfg.variant} after {cfg.steps} steps: accuracy {found.accuracy:.2f}"
        ),
        outputs["confusion_png"],
        dpi=dpi,
    )

    audio = generate(G, cfg, int(spec["samples_per_code"]), int(spec["seed"]))
    rate = int(spec["sample_rate"])
    with io.atomic_dir(outputs["wavs"]) as tmp:
        write_wavs(audio, tmp, rate)
    io.save_figure(spectrogram_sheet(audio, rate), outputs["sheet"], dpi=dpi)


def _reference_config(spec: Spec) -> dict[str, Any]:
    ref = spec["reference_cnn"]
    return {k: ref[k] for k in ("model_dim", "epochs", "batch_size", "lr", "seed")}


def train_reference_run(
    arrays_path: str, samples_path: str, spec: Spec, model_out: str, history_out: str, device: str = "cpu"
) -> None:
    """Train the supervised reference CNN on the real word labels (module docstring)."""
    from ..audio.reference_cnn import train_reference_cnn

    samples, arrays, words = _split_audio(arrays_path, samples_path, spec["label"])
    y = token_words(samples, spec["label"]).map({w: i for i, w in enumerate(words)}).to_numpy()
    train, test = samples["split"].to_numpy() == "train", samples["split"].to_numpy() == "test"
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
        arrays[train],
        y[train],
        arrays[test],
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


def layer_run(
    model_path: str,
    network: str,
    arrays_path: str,
    samples_path: str,
    spec: Spec,
    outputs: Mapping[str, str],
    dpi: int,
    device: str = "cpu",
) -> None:
    """Channel-averaged activations of the analysed real tokens: long table, logits, Figure 2."""
    from ..audio.layers import averaged_activations
    from ..audio.wavegan import LAYER_NAMES
    from .audio_analysis import layer_figure, layer_inputs, write_layers

    model, units = load_network(model_path, network, device)
    tokens, audio = layer_inputs(samples_path, arrays_path, spec)
    logger.info("%s: averaging %d layers over %d tokens", network, len(LAYER_NAMES), len(tokens))
    acts = averaged_activations(model, audio, LAYER_NAMES, device=device)
    write_layers(acts, tokens, units, network, outputs["table"], outputs["logits"])
    layer_figure(acts, tokens, audio, units, spec, network, outputs["png"], dpi)
