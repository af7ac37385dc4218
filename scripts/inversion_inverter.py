"""Snakemake script: one inverting stack, one regime, one layer (rule inversion_inverter)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.inversion import inverter_run

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"inversion_inverter {w.name} {w.regime} {w.layer}"):
    inverter_run(
        sm.input.arrays,
        sm.input.samples,
        sm.input.network,
        sm.params.spec,
        w.regime,
        w.layer,
        sm.output.model,
        sm.output.history,
        device=resolve_device(sm.params.device),
    )
