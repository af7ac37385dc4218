"""Snakemake script: pointwise dimension (rule geometry_dimension)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_dimension

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_dimension {sm.wildcards.name}"):
    geometry_dimension(points=sm.input.points, knn=sm.input.knn, spec=sm.params.spec, dimension=sm.output.dimension)
