"""Snakemake script: pre-images of held-out images at one layer with one prior method (rule inversion_preimage)."""

from pathlib import Path

from repgeo.runtime import job, resolve_device
from repgeo.stages.inversion import inversion_preimage

sm = snakemake  # noqa: F821
w = sm.wildcards
inputs = dict(sm.input.items())
with job(sm.log[0], sm.threads, f"inversion_preimage {w.name} {w.method} {w.layer}"):
    inversion_preimage(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        network=sm.input.network,
        image_prior=inputs.get("image_prior"),
        # priors/{expert}/{layer}.pt: the feature-map priors, by layer
        feature_priors={Path(p).stem: p for p in inputs["feature_priors"]} if "feature_priors" in inputs else None,
        image_search=inputs.get("image_search"),
        spec=sm.params.spec,
        device=resolve_device(sm.params.device),
        method=w.method,
        layer=w.layer,
        images_out=sm.output.images,
        table_out=sm.output.table,
        search_out=sm.output.search,
    )
