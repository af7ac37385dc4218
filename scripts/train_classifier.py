"""Snakemake script: one classifier run, embeddings recorded per epoch (rule train_classifier)."""

from repgeo.runtime import job
from repgeo.stages.training import train_classifier

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"train_classifier {w.name} {w.mode} seed {w.seed}"):
    train_classifier(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        mode=w.mode,
        seed=int(w.seed),
        embeddings=sm.output.embeddings,
        history=sm.output.history,
        device=sm.params.device,
    )
