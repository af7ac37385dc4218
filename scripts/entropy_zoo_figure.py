"""Snakemake script: Figure 10, measures against accuracy across the zoo (rule entropy_zoo_figure)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import zoo_figure

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_zoo_figure {sm.wildcards.name}"):
    zoo_figure(sm.input.models, sm.input.correlations, sm.output.png, sm.params.dpi)
