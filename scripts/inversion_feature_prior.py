"""Snakemake script: a score-matching prior on one layer's feature-map patches (rule inversion_feature_prior)."""

from repgeo.runtime import job
from repgeo.stages.inversion import inversion_feature_prior

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"inversion_feature_prior {w.name} {w.expert} {w.layer}"):
    inversion_feature_prior(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        network=sm.input.network,
        spec=sm.params.spec,
        expert=w.expert,
        layer=w.layer,
        prior_out=sm.output.prior,
        history_out=sm.output.history,
    )
