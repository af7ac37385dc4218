"""Snakemake script: one classifier run, embeddings recorded per epoch (rule train_classifier)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.training import train_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"train_classifier {w.name} {w.mode} seed {w.seed}"):
    train_run(
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        w.mode,
        int(w.seed),
        sm.output.embeddings,
        sm.output.history,
        device=resolve_device(sm.params.device),
    )
