"""Entropy and mutual information of representations (Liao, Liu et al., CISS 2024, arXiv 2312.04823).

Modules:

- :mod:`.kernels` -- the diffusion operator of an embedding and all its eigenvalues (dense path;
  compatible mode: absolute sigma = 10, alpha = 0; scale-free bandwidths and Coifman-Lafon alpha
  as options; float32 and GPU paths);
- :mod:`.dse` -- diffusion spectral entropy, and :class:`Spectrum`, one decomposition for every t;
- :mod:`.dsmi` -- diffusion spectral mutual information with its spread over the subset draws;
- :mod:`.shannon` -- the classic binned Shannon entropy and MI baselines, and a kNN MI estimate;
- :mod:`.slq` -- the large-n path: kNN-sparse kernel, deflated stochastic Lanczos quadrature.

Every entropy is in bits.
"""

from .dse import Spectrum, diffusion_spectral_entropy, diffusion_spectrum, entropy_from_spectrum
from .dsmi import (
    Grouping,
    MutualInformation,
    cluster_reference,
    diffusion_spectral_mutual_information,
    reference_groups,
)
from .shannon import classic_shannon_entropy, classic_shannon_mutual_information, knn_mutual_information
from .slq import SLQEstimate, slq_diffusion_spectral_entropy

__all__ = [
    "Grouping",
    "MutualInformation",
    "SLQEstimate",
    "Spectrum",
    "classic_shannon_entropy",
    "classic_shannon_mutual_information",
    "cluster_reference",
    "diffusion_spectral_entropy",
    "diffusion_spectral_mutual_information",
    "diffusion_spectrum",
    "entropy_from_spectrum",
    "knn_mutual_information",
    "reference_groups",
    "slq_diffusion_spectral_entropy",
]
