"""Snakemake script: curves and figure of the initialisation study (rule entropy_init_summary)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import entropy_init_summary

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_init_summary {sm.wildcards.name}"):
    runs = [
        {**r, "embeddings": e, "history": h}
        for r, e, h in zip(sm.params.runs, sm.input.embeddings, sm.input.history, strict=True)
    ]
    entropy_init_summary(
        initial=sm.input.initial,
        runs=runs,
        spec=sm.params.spec,
        curves=sm.output.curves,
        png=sm.output.png,
        dpi=sm.params.dpi,
        device=sm.params.device,
    )
