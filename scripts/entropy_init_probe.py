"""Snakemake script: DSE at initialisation over the sigma grid (rule entropy_init_probe)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import entropy_init_probe

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_init_probe {sm.wildcards.name}"):
    entropy_init_probe(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        device=sm.params.device,
        initial=sm.output.initial,
    )
