"""Snakemake script: one inverting stack, one regime, one layer (rule inversion_inverter)."""

from repgeo.runtime import job, resolve_device
from repgeo.stages.inversion import inversion_inverter

sm = snakemake  # noqa: F821
w = sm.wildcards
with job(sm.log[0], sm.threads, f"inversion_inverter {w.name} {w.regime} {w.layer}"):
    inversion_inverter(
        arrays=sm.input.arrays,
        samples=sm.input.samples,
        network=sm.input.network,
        spec=sm.params.spec,
        device=resolve_device(sm.params.device),
        regime=w.regime,
        layer=w.layer,
        model_out=sm.output.model,
        history_out=sm.output.history,
    )
