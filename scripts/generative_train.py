"""Snakemake script: one sliced generative autoencoder with per-epoch snapshots (rule generative_train)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.generative import train_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"generative_train {w.name} {w.model}"):
    train_run(
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        w.model,
        sm.output.snapshots,
        sm.output.history,
        device=resolve_device(sm.params.device),
    )
