"""Snakemake script: bandwidth sweep of one diffusion entry (rule diffusion_sweep)."""

from repgeo.stages.diffusion import run_sweep
from repgeo.runtime import job

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"diffusion_sweep {sm.wildcards.name}"):
    run_sweep(sm.input.arrays, sm.input.samples, sm.params.spec, sm.params.device, sm.output.sweep)
