"""Snakemake script: curvature-by-attribute figure (rule geometry_attribute_figure)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_attribute_figure

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_attribute_figure {sm.wildcards.name}"):
    geometry_attribute_figure(tests=sm.input.tests, png=sm.output.png, title=sm.params.title, dpi=sm.params.dpi)
