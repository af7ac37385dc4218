"""Snakemake script: DSE at initialisation over the sigma grid (rule entropy_init_probe)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import init_probe

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_init_probe {sm.wildcards.name}"):
    init_probe(sm.input.arrays, sm.input.samples, sm.params.spec, sm.output.initial, device=sm.params.device)
