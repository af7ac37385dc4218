"""Snakemake script: feature-map statistics of one layer (rule inversion_statistics)."""

from repgeo.runtime import job
from repgeo.stages.inversion import inversion_statistics

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"inversion_statistics {w.name} {w.layer}"):
    inversion_statistics(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        network=sm.input.network,
        spec=sm.params.spec,
        dpi=sm.params.dpi,
        layer=w.layer,
        table_out=sm.output.table,
        sparsity_out=sm.output.sparsity,
        figure_out=sm.output.figure,
    )
