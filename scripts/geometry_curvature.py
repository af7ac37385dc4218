"""Snakemake script: scalar curvature (rule geometry_curvature)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_curvature

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_curvature {sm.wildcards.name}"):
    geometry_curvature(
        points=sm.input.points,
        knn=sm.input.knn,
        dimension=sm.input.dimension,
        spec=sm.params.spec,
        curvature=sm.output.curvature,
    )
