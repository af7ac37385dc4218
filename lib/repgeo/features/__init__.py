"""Feature extraction: the activations of named network layers over a dataset, reduced per layer
(none, global average pooling, Gaussian random projection or randomised PCA) in batches with bounded
memory. The library part of the ``features`` stage of issue 19.

- :mod:`.layers`: which layer names a model has (torchvision fx node names, or the model's own
  ``layer_names``) and a check of requested names with close matches.
- :mod:`.reduce`: the reductions, streaming over a callable that yields the batches again per pass.
- :mod:`.extract`: runs a model in eval mode over images and feeds each layer to its reduction.
"""

from .extract import extract_features
from .layers import check_layers, has_named_activations, layer_names
from .reduce import (
    REDUCTIONS,
    GlobalAveragePool,
    NoReduction,
    RandomisedPCA,
    RandomProjection,
    Reduction,
    ReducedFeatures,
    make_reduction,
    reduce_stream,
)

__all__ = [
    "REDUCTIONS",
    "GlobalAveragePool",
    "NoReduction",
    "RandomProjection",
    "RandomisedPCA",
    "ReducedFeatures",
    "Reduction",
    "check_layers",
    "extract_features",
    "has_named_activations",
    "layer_names",
    "make_reduction",
    "reduce_stream",
]
