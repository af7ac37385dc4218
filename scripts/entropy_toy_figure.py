"""Snakemake script: the figure of one toy validation (rule entropy_toy_figure)."""

from repgeo.runtime import job
from repgeo.stages.entropy import toy_figure

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_toy_figure {sm.wildcards.toy}"):
    toy_figure(sm.wildcards.toy, sm.input.table, sm.output.png, sm.params.dpi)
