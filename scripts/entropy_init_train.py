"""Snakemake script: training from the lowest- or highest-DSE initialisation (rule entropy_init_train)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import entropy_init_train

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"entropy_init_train {w.name} {w.extreme} seed {w.seed}"):
    entropy_init_train(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        initial=sm.input.initial,
        spec=sm.params.spec,
        extreme=w.extreme,
        seed=int(w.seed),
        embeddings=sm.output.embeddings,
        history=sm.output.history,
        device=sm.params.device,
    )
