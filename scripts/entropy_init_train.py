"""Snakemake script: training from the lowest- or highest-DSE initialisation (rule entropy_init_train)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.entropy_uses import init_train

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"entropy_init_train {w.name} {w.extreme} seed {w.seed}"):
    init_train(
        sm.input.arrays,
        sm.input.samples,
        sm.input.initial,
        sm.params.spec,
        w.extreme,
        int(w.seed),
        sm.output.embeddings,
        sm.output.history,
        device=resolve_device(sm.params.device),
    )
