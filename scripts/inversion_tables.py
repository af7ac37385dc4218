"""Snakemake script: the per-layer comparison of priors and inverters, and the pre-image sheets (rule inversion_tables)."""

from repgeo.runtime import job
from repgeo.stages.inversion import tables_run

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"inversion_tables {sm.wildcards.name}"):
    tables_run(
        sm.input.inverters,
        sm.input.tables,
        sm.input.images,
        sm.params.spec,
        sm.output.table,
        sm.output.figure,
        sm.output.sheet,
        dpi=sm.params.dpi,
    )
