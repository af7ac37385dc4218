"""Snakemake script: the trajectory figure of a training entry (rule entropy_figure)."""

from repgeo.runtime import job
from repgeo.stages.entropy import trajectory_figure

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_figure {sm.wildcards.name}"):
    trajectory_figure(sm.input.trajectory, sm.output.png, sm.params.title, sm.params.dpi)
