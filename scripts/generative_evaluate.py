"""Snakemake script: every metric at every snapshot of one autoencoder (rule generative_evaluate)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.generative import generative_evaluate

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"generative_evaluate {w.name} {w.model}"):
    generative_evaluate(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        snapshots=sm.input.snapshots,
        feature_net=sm.input.feature_net,
        spec=sm.params.spec,
        device=resolve_device(sm.params.device),
        metrics_out=sm.output.metrics,
    )
