"""Snakemake script: prepare one dataset (rule prepare_data)."""

from repgeo.stages.data import prepare_data
from repgeo.runtime import job

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"prepare_data {sm.wildcards.dataset}"):
    prepare_data(spec=sm.params.spec, samples=sm.output.samples, arrays=sm.output.arrays)
