"""Snakemake script: curves, Table 1 and image sheets of a generative entry (rule generative_tables)."""

from repgeo.runtime import job
from repgeo.stages.generative import generative_tables

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"generative_tables {sm.wildcards.name}"):
    generative_tables(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        metrics=list(sm.input.metrics),
        snapshots=list(sm.input.snapshots),
        spec=sm.params.spec,
        dataset=sm.params.dataset,
        dpi=sm.params.dpi,
        name=sm.wildcards.name,
        curves_out=sm.output.curves,
        table_out=sm.output.table,
        curves_png_out=sm.output.curves_png,
        table_html_out=sm.output.table_html,
        reconstructions_out=sm.output.reconstructions,
        samples_out=sm.output.samples,
        interpolations_out=sm.output.interpolations,
    )
