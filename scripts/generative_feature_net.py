"""Snakemake script: the quality-feature classifier of a generative entry (rule generative_feature_net)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.generative import generative_feature_net

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"generative_feature_net {sm.wildcards.name}"):
    generative_feature_net(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        device=resolve_device(sm.params.device),
        model_out=sm.output.model,
        history_out=sm.output.history,
    )
