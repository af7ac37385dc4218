"""Snakemake script: the quality-feature classifier of a generative entry (rule generative_feature_net)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.generative import feature_net_run

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"generative_feature_net {sm.wildcards.name}"):
    feature_net_run(
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        sm.output.model,
        sm.output.history,
        device=resolve_device(sm.params.device),
    )
