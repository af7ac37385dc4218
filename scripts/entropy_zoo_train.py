"""Snakemake script: train one architecture x width of the model zoo (rule entropy_zoo_train)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.training import train_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"entropy_zoo_train {w.name} {w.member}"):
    spec = sm.params.spec
    train_run(
        sm.input.arrays,
        sm.input.samples,
        spec,
        "supervised",
        spec["seed"],
        sm.output.embeddings,
        sm.output.history,
        device=resolve_device(sm.params.device),
    )
