"""Snakemake script: geometry figures and report tables (rule geometry_figures)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_figures

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_figures {sm.wildcards.name}"):
    geometry_figures(
        sm.input.pointwise,
        sm.input.points,
        sm.input.summary,
        sm.output.dimension_png,
        sm.output.curvature_png,
        sm.output.summary,
        sm.params.title,
        sm.params.first_three,
        sm.params.dpi,
        attributes_path=sm.input.get("attributes"),
    )
