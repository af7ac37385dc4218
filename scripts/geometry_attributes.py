"""Snakemake script: curvature against attributes (rule geometry_attributes)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_attributes

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_attributes {sm.wildcards.name}"):
    geometry_attributes(
        sm.input.pointwise, sm.input.points, sm.params.spec, sm.output.tests, sm.output.regions, sm.output.enrichment
    )
