"""Snakemake script: the trajectory table of a training entry (rule entropy_trajectory)."""

from repgeo.runtime import job
from repgeo.stages.entropy import entropy_trajectory

sm = snakemake  # noqa: F821
with job(sm.log[0], sm.threads, f"entropy_trajectory {sm.wildcards.name}"):
    runs = [
        {**run, "spectra": s, "embeddings": e, "history": h}
        for run, s, e, h in zip(sm.params.runs, sm.input.spectra, sm.input.embeddings, sm.input.history, strict=True)
    ]
    entropy_trajectory(
        runs=runs, x_groups=sm.input.x_groups, training=sm.params.training, trajectory=sm.output.trajectory
    )
