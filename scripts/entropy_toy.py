"""Snakemake script: one toy validation table of DSE/DSMI (rule entropy_toy)."""

from repgeo.runtime import job
from repgeo.stages.entropy import toy_table

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_toy {sm.wildcards.toy}"):
    toy_table(sm.wildcards.toy, sm.params.spec, sm.output.table)
