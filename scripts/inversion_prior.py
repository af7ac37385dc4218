"""Snakemake script: one score-matching patch prior (rule inversion_prior)."""

from repgeo.runtime import job
from repgeo.stages.inversion import prior_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"inversion_prior {w.name} {w.expert}"):
    prior_run(
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        w.expert,
        sm.output.prior,
        sm.output.history,
        sm.output.figure,
        dpi=sm.params.dpi,
    )
