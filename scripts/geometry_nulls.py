"""Snakemake script: null controls (rule geometry_nulls)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_nulls

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_nulls {sm.wildcards.name}"):
    geometry_nulls(points=sm.input.points, curvature=sm.input.curvature, spec=sm.params.spec, nulls=sm.output.nulls)
