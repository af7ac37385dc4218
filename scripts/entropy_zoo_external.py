"""Snakemake script: embed the evaluation subset with a user's torchvision model (rule entropy_zoo_external)."""

from repgeo.runtime import job
from repgeo.stages.entropy_uses import zoo_external

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_zoo_external {sm.wildcards.name} {sm.wildcards.external}"):
    member = {**sm.params.member, "state_dict": sm.input.state_dict}
    zoo_external(
        sm.input.arrays,
        sm.input.samples,
        sm.params.spec,
        member,
        sm.output.embeddings,
        sm.output.history,
        device=sm.params.device,
    )
