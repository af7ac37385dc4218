"""Snakemake script: ciwGAN/fiwGAN training with checkpoints (rule audio_train_gan)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.audio_models import audio_train_gan

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"audio_train_gan {sm.wildcards.name}"):
    audio_train_gan(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        device=resolve_device(sm.params.device),
        model_out=sm.output.model,
        history_out=sm.output.history,
    )
