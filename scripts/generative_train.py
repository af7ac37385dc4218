"""Snakemake script: one sliced generative autoencoder with per-epoch snapshots (rule generative_train)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.generative import generative_train

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"generative_train {w.name} {w.model}"):
    generative_train(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        device=resolve_device(sm.params.device),
        model=w.model,
        snapshots_out=sm.output.snapshots,
        history_out=sm.output.history,
    )
