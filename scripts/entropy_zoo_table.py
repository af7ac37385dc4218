"""Snakemake script: measures and accuracy of every zoo model, correlations (rule entropy_zoo_table)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import zoo_table

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_zoo_table {sm.wildcards.name}"):
    zoo_table(
        sm.params.members,
        sm.input.x_groups,
        sm.params.spec,
        sm.output.models,
        sm.output.correlations,
        device=sm.params.device,
    )
