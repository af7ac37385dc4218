"""Snakemake script: diffusion spectra of every epoch of one run (rule entropy_spectra)."""

from repgeo.runtime import job
from repgeo.stages.entropy import entropy_spectra

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"entropy_spectra {w.name} {w.mode} seed {w.seed}"):
    entropy_spectra(
        embeddings=sm.input.embeddings,
        groups=sm.input.groups,
        spec=sm.params.spec,
        device=sm.params.device,
        spectra=sm.output.spectra,
    )
