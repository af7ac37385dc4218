"""Snakemake script: cluster the evaluation inputs once (rule entropy_input_groups)."""

from repgeo.runtime import job
from repgeo.stages.entropy import input_groups

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_input_groups {sm.wildcards.name}"):
    input_groups(sm.input.arrays, sm.input.samples, sm.params.eval_spec, sm.params.spec, sm.output.groups)
