"""Snakemake script: held-out reconstructions of every inverter, metrics and sheets (rule inversion_inverter_tables)."""

from pathlib import Path

from repgeo.runtime import job
from repgeo.stages.inversion import inversion_inverter_tables

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"inversion_inverter_tables {sm.wildcards.name}"):
    inversion_inverter_tables(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        network=sm.input.network,
        # inverters/{regime}/{layer}.pt, by (regime, layer)
        inverters={(Path(p).parent.name, Path(p).stem): p for p in sm.input.inverters},
        spec=sm.params.spec,
        dpi=sm.params.dpi,
        table_out=sm.output.table,
        figure_out=sm.output.figure,
    )
