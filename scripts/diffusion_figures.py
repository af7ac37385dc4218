"""Snakemake script: figures and report table of one diffusion entry (rule diffusion_figures)."""

from repgeo.stages import diffusion as stage
from repgeo.runtime import job

sm = snakemake  # noqa: F821
name = sm.wildcards.name
with job(sm.log[0], sm.threads, f"diffusion_figures {name}"):
    title = f"{name} ({sm.params.dataset})"
    stage.plot_sweep(sm.input.sweep, sm.output.sweep_png, f"bandwidth sweep: {title}", sm.params.dpi)
    stage.plot_embedding(
        sm.input.embedding, sm.output.scatter_png, sm.params.color_by, f"diffusion map: {title}", sm.params.dpi
    )
    stage.diffusion_summary(name, sm.input.sweep, sm.input.eigenvalues, sm.output.summary)
