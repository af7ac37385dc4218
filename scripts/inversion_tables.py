"""Snakemake script: the per-layer comparison of priors and inverters, and the pre-image sheets (rule inversion_tables)."""

from repgeo.runtime import job
from repgeo.stages.inversion import inversion_tables

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"inversion_tables {sm.wildcards.name}"):
    inversion_tables(
        inverters=sm.input.inverters,
        tables=list(sm.input.tables),
        images=list(sm.input.images),
        spec=sm.params.spec,
        dpi=sm.params.dpi,
        table_out=sm.output.table,
        figure_out=sm.output.figure,
        sheet_out=sm.output.sheet,
    )
