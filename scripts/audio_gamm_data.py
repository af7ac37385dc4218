"""Snakemake script: the GAMM inputs of one network's layer table (rule audio_gamm_data)."""

from repgeo.runtime import job
from repgeo.stages.audio_analysis import gamm_data

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"audio_gamm_data {w.name} {w.network}"):
    gamm_data(
        sm.input.table, sm.input.samples, sm.params.spec, sm.params.sample_rate, sm.output.words, sm.output.sounds
    )
