"""Snakemake script: train one architecture x width of the model zoo (rule entropy_zoo_train)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import entropy_zoo_train

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"entropy_zoo_train {w.name} {w.member}"):
    entropy_zoo_train(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        embeddings=sm.output.embeddings,
        history=sm.output.history,
        device=sm.params.device,
    )
