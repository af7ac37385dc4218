"""Snakemake script: both engines' GAMM tables merged, Table 1 and the curve figure (rule audio_gamm_tables)."""

from repgeo.runtime import job
from repgeo.stages.audio_analysis import audio_gamm_tables

sm = snakemake  # noqa: F821
w = sm.wildcards
inputs = dict(sm.input.items())
with job(sm.log[0], sm.threads, f"audio_gamm_tables {w.name} {w.network} {w.analysis}"):
    audio_gamm_tables(
        mgcv=inputs.get("mgcv"),
        python=inputs.get("python"),
        engines=list(sm.params.engines),
        dpi=sm.params.dpi,
        name=w.name,
        network=w.network,
        analysis=w.analysis,
        parametric_out=sm.output.parametric,
        smooths_out=sm.output.smooths,
        curves_out=sm.output.curves,
        differences_out=sm.output.differences,
        intervals_out=sm.output.intervals,
        settings_out=sm.output.settings,
        html_out=sm.output.html,
        png_out=sm.output.png,
    )
