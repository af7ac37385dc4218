"""Snakemake script: Q accuracy, confusion and generated samples (rule audio_gan_evaluate)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.audio_models import audio_gan_evaluate

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"audio_gan_evaluate {sm.wildcards.name}"):
    audio_gan_evaluate(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        model=sm.input.model,
        spec=sm.params.spec,
        dpi=sm.params.dpi,
        device=resolve_device(sm.params.device),
        accuracy_out=sm.output.accuracy,
        confusion_out=sm.output.confusion,
        confusion_png_out=sm.output.confusion_png,
        sheet_out=sm.output.sheet,
        wavs_out=sm.output.wavs,
    )
