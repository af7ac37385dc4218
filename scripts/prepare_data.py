"""Snakemake script: prepare one dataset (rule prepare_data)."""

from repgeo.stages.data import prepare_data
from repgeo.runtime import job

with job(snakemake.log[0], snakemake.threads, f"prepare_data {snakemake.wildcards.dataset}"):  # noqa: F821
    prepare_data(snakemake.params.spec, snakemake.output.samples, snakemake.output.arrays)  # noqa: F821
