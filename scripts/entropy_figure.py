"""Snakemake script: the trajectory figure of a training entry (rule entropy_figure)."""

from repgeo.runtime import job
from repgeo.stages.entropy import entropy_figure

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_figure {sm.wildcards.name}"):
    entropy_figure(trajectory=sm.input.trajectory, png=sm.output.png, title=sm.params.title, dpi=sm.params.dpi)
