"""Diffusion maps (Coifman & Lafon 2006) with automatic bandwidth selection.

Modules, in the order the workflow uses them:

- :mod:`.distances` -- blocked squared distances and exact k-nearest neighbours, on the CPU
  (numpy/OpenBLAS) or a GPU (torch), never holding an n x n distance matrix;
- :mod:`.bandwidth` -- the sum-of-weights curve S(eps) over all pairs in one pass, and the rules
  that pick eps from it;
- :mod:`.kernels` -- dense and kNN-sparse kernels, density normalisation, Markov normalisation;
- :mod:`.eigen` -- top eigenpairs of the symmetric conjugate of the Markov matrix;
- :mod:`.maps` -- diffusion coordinates in the Coifman-Lafon and the CelebA (Arnold 2025) conventions,
  and diffusion distances.
"""

from .bandwidth import EpsilonSweep, distance_histogram, epsilon_sweep, select_epsilon
from .maps import DiffusionMap, diffusion_distances, diffusion_map

__all__ = [
    "DiffusionMap",
    "EpsilonSweep",
    "diffusion_distances",
    "diffusion_map",
    "distance_histogram",
    "epsilon_sweep",
    "select_epsilon",
]
