"""Snakemake script: bandwidth sweep of one diffusion entry (rule diffusion_sweep)."""

from repgeo.stages.diffusion import diffusion_sweep
from repgeo.runtime import job

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"diffusion_sweep {sm.wildcards.name}"):
    diffusion_sweep(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        device=sm.params.device,
        sweep=sm.output.sweep,
    )
