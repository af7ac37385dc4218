"""Snakemake script: Q accuracy, confusion and generated samples (rule audio_gan_evaluate)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.audio_models import gan_evaluate

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"audio_gan_evaluate {sm.wildcards.name}"):
    gan_evaluate(
        sm.input.model,
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        dict(sm.output.items()),
        sm.params.dpi,
        device=resolve_device(sm.params.device),
    )
