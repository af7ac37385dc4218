"""Snakemake script: the GAMM inputs of one network's layer table (rule audio_gamm_data)."""

from repgeo.runtime import job
from repgeo.stages.audio_analysis import audio_gamm_data

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"audio_gamm_data {w.name} {w.network}"):
    audio_gamm_data(
        table=sm.input.table,
        samples=sm.input.samples,
        spec=sm.params.spec,
        sample_rate=sm.params.sample_rate,
        words_out=sm.output.words,
        sounds_out=sm.output.sounds,
    )
