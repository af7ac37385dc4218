"""Snakemake script: pointwise and summary tables (rule geometry_tables)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_tables

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_tables {sm.wildcards.name}"):
    geometry_tables(
        samples=sm.input.samples,
        dimension=sm.input.dimension,
        curvature=sm.input.curvature,
        pointwise=sm.output.pointwise,
        summary=sm.output.summary,
        baselines=sm.input.get("baselines"),
        nulls=sm.input.get("nulls"),
    )
