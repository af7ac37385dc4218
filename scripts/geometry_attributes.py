"""Snakemake script: curvature against attributes (rule geometry_attributes)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_attributes

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_attributes {sm.wildcards.name}"):
    geometry_attributes(
        pointwise=sm.input.pointwise,
        points=sm.input.points,
        spec=sm.params.spec,
        tests=sm.output.tests,
        regions=sm.output.regions,
        enrichment=sm.output.enrichment,
    )
