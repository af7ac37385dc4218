"""Snakemake script: curvature-by-attribute figure (rule geometry_attribute_figure)."""

from repgeo.runtime import job
from repgeo.stages.geometry import attribute_figure

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_attribute_figure {sm.wildcards.name}"):
    attribute_figure(sm.input.tests, sm.output.png, sm.params.title, sm.params.dpi)
