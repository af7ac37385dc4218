"""Snakemake script: figures and report table of one diffusion entry (rule diffusion_figures)."""

from repgeo.stages.diffusion import diffusion_figures
from repgeo.runtime import job

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"diffusion_figures {sm.wildcards.name}"):
    diffusion_figures(
        name=sm.wildcards.name,
        sweep=sm.input.sweep,
        embedding=sm.input.embedding,
        eigenvalues=sm.input.eigenvalues,
        sweep_png=sm.output.sweep_png,
        scatter_png=sm.output.scatter_png,
        summary=sm.output.summary,
        color_by=sm.params.color_by,
        dataset=sm.params.dataset,
        dpi=sm.params.dpi,
    )
