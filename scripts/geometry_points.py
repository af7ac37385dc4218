"""Snakemake script: the point cloud of a geometry entry (rule geometry_points)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_points

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_points {sm.wildcards.name}"):
    geometry_points(
        spec=sm.params.spec,
        points=sm.output.points,
        samples=sm.output.samples,
        embedding=sm.input.get("embedding"),
        arrays=sm.input.get("arrays"),
        dataset_samples=sm.input.get("samples"),
    )
