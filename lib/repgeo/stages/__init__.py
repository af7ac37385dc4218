"""Stage functions over artifact files: what each workflow rule does, minus Snakemake.

Each function reads its inputs from paths, calls the library and writes its outputs with the
atomic writers of :mod:`repgeo.io`. The workflow's scripts only forward Snakemake's inputs,
outputs and params here, which keeps every stage runnable (and testable) without Snakemake.
One module per stage: :mod:`.data`, :mod:`.diffusion`, :mod:`.geometry`; :mod:`.html` renders
report tables.
"""
