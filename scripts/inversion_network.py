"""Snakemake script: train (or load) the network to invert (rule inversion_network)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.inversion import network_run

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"inversion_network {sm.wildcards.name}"):
    network_run(
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        sm.output.model,
        sm.output.history,
        device=resolve_device(sm.params.device),
    )
