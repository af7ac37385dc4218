"""Snakemake script: pointwise and summary tables (rule geometry_tables)."""

from repgeo.runtime import job
from repgeo.stages.geometry import geometry_tables

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"geometry_tables {sm.wildcards.name}"):
    geometry_tables(
        sm.input.samples,
        sm.input.dimension,
        sm.input.curvature,
        sm.output.pointwise,
        sm.output.summary,
        baselines_path=sm.input.get("baselines"),
        nulls_path=sm.input.get("nulls"),
    )
