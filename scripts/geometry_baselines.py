"""Snakemake script: baseline estimates (rule geometry_baselines)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_baselines

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_baselines {sm.wildcards.name}"):
    geometry_baselines(
        points=sm.input.points,
        knn=sm.input.knn,
        curvature=sm.input.curvature,
        spec=sm.params.spec,
        baselines=sm.output.baselines,
    )
