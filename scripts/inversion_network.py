"""Snakemake script: train (or load) the network to invert (rule inversion_network)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.inversion import inversion_network

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"inversion_network {sm.wildcards.name}"):
    inversion_network(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        device=resolve_device(sm.params.device),
        model_out=sm.output.model,
        history_out=sm.output.history,
    )
