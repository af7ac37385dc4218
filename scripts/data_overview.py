"""Snakemake script: table of all prepared datasets for the report (rule data_overview)."""

from repgeo.stages.data import data_overview
from repgeo.runtime import job

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, "data_overview"):
    data_overview(names=sm.params.names, samples=list(sm.input.samples), html=sm.output.html)
