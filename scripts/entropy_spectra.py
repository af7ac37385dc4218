"""Snakemake script: diffusion spectra of every epoch of one run (rule entropy_spectra)."""

from repgeo.runtime import job
from repgeo.stages.entropy import run_spectra

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"entropy_spectra {w.name} {w.mode} seed {w.seed}"):
    run_spectra(sm.input.embeddings, sm.input.groups, sm.params.spec, sm.params.device, sm.output.spectra)
