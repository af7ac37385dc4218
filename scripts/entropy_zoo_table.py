"""Snakemake script: measures and accuracy of every zoo model, correlations (rule entropy_zoo_table)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import entropy_zoo_table

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_zoo_table {sm.wildcards.name}"):
    entropy_zoo_table(
        members=sm.params.members,
        x_groups=sm.input.x_groups,
        spec=sm.params.spec,
        models=sm.output.models,
        correlations=sm.output.correlations,
        device=sm.params.device,
    )
