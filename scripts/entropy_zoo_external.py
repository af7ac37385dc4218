"""Snakemake script: embed the evaluation subset with a user's torchvision model (rule entropy_zoo_external)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import entropy_zoo_external

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_zoo_external {sm.wildcards.name} {sm.wildcards.external}"):
    entropy_zoo_external(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        spec=sm.params.spec,
        member={**sm.params.member, "state_dict": sm.input.state_dict},
        embeddings=sm.output.embeddings,
        history=sm.output.history,
        device=sm.params.device,
    )
