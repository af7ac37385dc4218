"""Snakemake script: every metric at every snapshot of one autoencoder (rule generative_evaluate)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.generative import evaluate_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"generative_evaluate {w.name} {w.model}"):
    evaluate_run(
        sm.input.snapshots,
        sm.input.arrays,
        sm.input.samples,
        sm.input.feature_net,
        sm.params.spec,
        sm.output.metrics,
        device=resolve_device(sm.params.device),
    )
