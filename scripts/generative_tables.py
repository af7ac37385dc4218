"""Snakemake script: curves, Table 1 and image sheets of a generative entry (rule generative_tables)."""

from repgeo.runtime import job
from repgeo.stages.generative import tables_run

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"generative_tables {sm.wildcards.name}"):
    tables_run(
        sm.wildcards.name,
        sm.params.dataset,
        list(sm.input.metrics),
        list(sm.input.snapshots),
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        sm.output,
        sm.params.dpi,
    )
