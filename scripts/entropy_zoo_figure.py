"""Snakemake script: Figure 10, measures against accuracy across the zoo (rule entropy_zoo_figure)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import entropy_zoo_figure

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_zoo_figure {sm.wildcards.name}"):
    entropy_zoo_figure(models=sm.input.models, correlations=sm.input.correlations, png=sm.output.png, dpi=sm.params.dpi)
