"""Snakemake script: the point cloud of a geometry entry (rule geometry_points)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_points

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_points {sm.wildcards.name}"):
    geometry_points(sm.params.spec, sm.output.points, sm.output.samples, dict(sm.input.items()))
