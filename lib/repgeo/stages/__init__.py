"""Stage functions over artifact files: what each workflow rule does, minus Snakemake.

Each function is named after its Snakemake rule and takes keyword-only arguments named like the
rule's inputs, outputs and params. It reads its inputs from paths, calls the library (where the
methods live, with the papers they follow) and writes its outputs with the atomic writers of
:mod:`repgeo.io`. The workflow's scripts only forward Snakemake's inputs, outputs and params
here, which keeps every stage runnable (and testable) without Snakemake. One module per branch:
:mod:`.data`, :mod:`.diffusion`, :mod:`.geometry`, :mod:`.training`, :mod:`.entropy`,
:mod:`.entropy_uses`, :mod:`.audio_models`, :mod:`.audio_analysis`, :mod:`.generative`,
:mod:`.inversion`; :mod:`repgeo.html` renders report tables.
"""
