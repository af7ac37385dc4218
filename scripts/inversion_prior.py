"""Snakemake script: one score-matching patch prior (rule inversion_prior)."""

from repgeo.runtime import job
from repgeo.stages.inversion import inversion_prior

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"inversion_prior {w.name} {w.expert}"):
    inversion_prior(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        dpi=sm.params.dpi,
        expert=w.expert,
        prior_out=sm.output.prior,
        history_out=sm.output.history,
        figure_out=sm.output.figure,
    )
