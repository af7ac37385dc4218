"""Snakemake script: held-out reconstructions of every inverter, metrics and sheets (rule inversion_inverter_tables)."""

from pathlib import Path

from repgeo.runtime import job
from repgeo.stages.inversion import inverter_tables_run

sm = snakemake  # noqa: F821
# inverters/{regime}/{layer}.pt
paths = {(Path(p).parent.name, Path(p).stem): p for p in sm.input.inverters}
with job(sm.log[0], sm.threads, f"inversion_inverter_tables {sm.wildcards.name}"):
    inverter_tables_run(
        sm.input.arrays,
        sm.input.samples,
        sm.input.network,
        sm.params.spec,
        paths,
        sm.output.table,
        sm.output.figure,
        dpi=sm.params.dpi,
    )
