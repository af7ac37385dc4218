"""Snakemake script: null controls (rule geometry_nulls)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_nulls

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_nulls {sm.wildcards.name}"):
    geometry_nulls(sm.input.points, sm.input.curvature, sm.params.spec, sm.output.nulls)
