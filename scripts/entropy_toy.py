"""Snakemake script: one toy validation table of DSE/DSMI (rule entropy_toy)."""

from repgeo.runtime import job
from repgeo.stages.entropy import entropy_toy

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_toy {sm.wildcards.toy}"):
    entropy_toy(toy=sm.wildcards.toy, spec=sm.params.spec, table=sm.output.table)
