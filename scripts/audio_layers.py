"""Snakemake script: channel-averaged layer activations of real tokens (rule audio_layers)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.audio_models import layer_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"audio_layers {w.name} {w.network}"):
    layer_run(
        sm.input.model,
        w.network,
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        dict(sm.output.items()),
        sm.params.dpi,
        device=resolve_device(sm.params.device),
    )
