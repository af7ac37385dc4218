"""Snakemake script: diffusion map of one diffusion entry (rule diffusion_embed)."""

from repgeo.stages.diffusion import diffusion_embed
from repgeo.runtime import job

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"diffusion_embed {sm.wildcards.name}"):
    diffusion_embed(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        sweep=sm.input.sweep,
        spec=sm.params.spec,
        device=sm.params.device,
        embedding=sm.output.embedding,
        eigenvalues=sm.output.eigenvalues,
    )
