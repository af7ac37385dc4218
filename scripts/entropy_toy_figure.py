"""Snakemake script: the figure of one toy validation (rule entropy_toy_figure)."""

from repgeo.runtime import job
from repgeo.stages.entropy import entropy_toy_figure

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_toy_figure {sm.wildcards.toy}"):
    entropy_toy_figure(toy=sm.wildcards.toy, table=sm.input.table, png=sm.output.png, dpi=sm.params.dpi)
