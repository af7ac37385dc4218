"""Snakemake script: feature-map statistics of one layer (rule inversion_statistics)."""

from repgeo.runtime import job
from repgeo.stages.inversion import statistics_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"inversion_statistics {w.name} {w.layer}"):
    statistics_run(
        sm.input.arrays,
        sm.input.samples,
        sm.input.network,
        sm.params.spec,
        w.layer,
        sm.output.table,
        sm.output.sparsity,
        sm.output.figure,
        dpi=sm.params.dpi,
    )
