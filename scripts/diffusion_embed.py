"""Snakemake script: diffusion map of one diffusion entry (rule diffusion_embed)."""

from repgeo.stages.diffusion import run_embedding
from repgeo.runtime import job

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"diffusion_embed {sm.wildcards.name}"):
    run_embedding(
        sm.input.arrays,
        sm.input.samples,
        sm.input.sweep,
        sm.params.spec,
        sm.params.device,
        sm.output.embedding,
        sm.output.eigenvalues,
    )
