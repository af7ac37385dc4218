"""Statistics of representations over time: GAMMs of per-token layer-activation curves.

Modules:

- :mod:`.gamm` -- the public API: :func:`fit_gamm` (engine "mgcv" through :file:`gamm_mgcv.R`, or
  "python"), :class:`GammFit`, :func:`synthetic_design` (the validation design with a known truth);
- :mod:`.reml` -- penalised regression with REML smoothing parameters and AR(1) prewhitening
  (Wood 2011), on any model matrix and penalties, mgcv's included;
- :mod:`.splines` -- cubic B-spline bases with derivative penalties, centring constraints and
  per-token random factor smooths;
- :mod:`.gee` -- GEE (AR(1) within token) cluster-robust Wald tests of level and shape differences.
"""

from .gamm import (
    GammFit,
    fit_gamm,
    mgcv_available,
    significant_intervals,
    synthetic_design,
)
from .reml import RemlFit, ar1_transform, fit_reml, lag1_autocorrelation

__all__ = [
    "GammFit",
    "RemlFit",
    "ar1_transform",
    "fit_gamm",
    "fit_reml",
    "lag1_autocorrelation",
    "mgcv_available",
    "significant_intervals",
    "synthetic_design",
]
