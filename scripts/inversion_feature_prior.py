"""Snakemake script: a score-matching prior on one layer's feature-map patches (rule inversion_feature_prior)."""

from repgeo.runtime import job
from repgeo.stages.inversion import feature_prior_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"inversion_feature_prior {w.name} {w.expert} {w.layer}"):
    feature_prior_run(
        sm.input.arrays,
        sm.input.samples,
        sm.input.network,
        sm.params.spec,
        w.expert,
        w.layer,
        sm.output.prior,
        sm.output.history,
    )
