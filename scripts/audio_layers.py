"""Snakemake script: channel-averaged layer activations of real tokens (rule audio_layers)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.audio_models import audio_layers

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"audio_layers {w.name} {w.network}"):
    audio_layers(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        model=sm.input.model,
        spec=sm.params.spec,
        dpi=sm.params.dpi,
        device=resolve_device(sm.params.device),
        network=w.network,
        table_out=sm.output.table,
        logits_out=sm.output.logits,
        png_out=sm.output.png,
    )
