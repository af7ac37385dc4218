"""Snakemake script: cluster the evaluation inputs once (rules entropy_input_groups and
entropy_zoo_input_groups)."""

from repgeo.runtime import job
from repgeo.stages.entropy import entropy_input_groups

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_input_groups {sm.wildcards.name}"):
    entropy_input_groups(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        eval_spec=sm.params.eval_spec,
        spec=sm.params.spec,
        groups=sm.output.groups,
    )
