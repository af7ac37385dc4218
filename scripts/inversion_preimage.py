"""Snakemake script: pre-images of held-out images at one layer with one prior method (rule inversion_preimage)."""

from pathlib import Path

from repgeo.runtime import job, resolve_device
from repgeo.stages.inversion import preimage_run

sm = snakemake  # noqa: F821
w = sm.wildcards
inputs = dict(sm.input.items())
# priors/{expert}/{layer}.pt: the feature-map priors, by layer
features = {Path(p).stem: p for p in inputs["feature_priors"]} if "feature_priors" in inputs else None
with job(sm.log[0], sm.threads, f"inversion_preimage {w.name} {w.method} {w.layer}"):
    preimage_run(
        sm.input.arrays, sm.input.samples, sm.input.network, sm.params.spec, w.method, w.layer,
        sm.output.images, sm.output.table, sm.output.search, image_prior=inputs.get("image_prior"),
        feature_priors=features, image_search=inputs.get("image_search"), device=resolve_device(sm.params.device),
    )  # fmt: skip
