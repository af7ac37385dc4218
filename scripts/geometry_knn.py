"""Snakemake script: the cached kNN graph of a geometry entry (rule geometry_knn)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_knn

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_knn {sm.wildcards.name}"):
    geometry_knn(points=sm.input.points, k=sm.params.k, knn=sm.output.knn)
