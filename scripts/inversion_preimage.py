"""Snakemake script: pre-images of held-out images at one layer with one prior (rule inversion_preimage)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.inversion import preimage_run

sm = snakemake  # noqa: F821
w = sm.wildcards
priors = {w.method: sm.input.prior} if "prior" in sm.input.keys() else {}
with job(sm.log[0], sm.threads, f"inversion_preimage {w.name} {w.method} {w.layer}"):
    preimage_run(
        sm.input.arrays, sm.input.samples, sm.input.network, priors, sm.params.spec, w.method, w.layer,
        sm.output.images, sm.output.table, sm.output.search, device=resolve_device(sm.params.device),
    )  # fmt: skip
