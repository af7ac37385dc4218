"""Snakemake script: ciwGAN/fiwGAN training with checkpoints (rule audio_train_gan)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.audio_models import train_gan_run

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"audio_train_gan {sm.wildcards.name}"):
    train_gan_run(
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        sm.output.model,
        sm.output.history,
        device=resolve_device(sm.params.device),
    )
