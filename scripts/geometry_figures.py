"""Snakemake script: geometry figures and report tables (rule geometry_figures)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_figures

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_figures {sm.wildcards.name}"):
    geometry_figures(
        pointwise=sm.input.pointwise,
        points=sm.input.points,
        summary=sm.input.summary,
        attributes=sm.input.get("attributes"),
        dimension_png=sm.output.dimension_png,
        curvature_png=sm.output.curvature_png,
        summary_html=sm.output.summary,
        title=sm.params.title,
        first_three=sm.params.first_three,
        dpi=sm.params.dpi,
    )
