"""Snakemake script: the Python route's GAMM of every layer of one analysis (rule audio_gamm_python)."""

from repgeo.runtime import job
from repgeo.stages.audio_analysis import audio_gamm_python

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"audio_gamm_python {w.name} {w.network} {w.analysis}"):
    audio_gamm_python(data=sm.input.data, settings=sm.params.settings, tables_out=sm.output.tables)
