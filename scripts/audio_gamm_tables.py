"""Snakemake script: both engines' GAMM tables merged, Table 1 and the curve figure (rule audio_gamm_tables)."""

from repgeo.runtime import job
from repgeo.stages.audio_analysis import gamm_tables

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"audio_gamm_tables {w.name} {w.network} {w.analysis}"):
    gamm_tables(
        {engine: sm.input[engine] for engine in sm.params.engines},
        dict(sm.output.items()),
        f"{w.name}, {w.network}, {w.analysis}",
        w.analysis,
        sm.params.dpi,
    )
