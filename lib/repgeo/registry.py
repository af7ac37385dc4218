"""The names the workflow and the library share: one registry per list.

Every set of names a user writes in a config (dataset sources, generative models, pre-image
methods, architectures, training modes, ...) is defined here once. The schema's enums, the
workflow's wildcard constraints and the library's own tables are checked against or built from
these registries (``tests/test_registry.py``).

This module imports nothing beyond the standard library, so the workflow layer can build its DAG
without importing torch (``workflow/rules/common.smk``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# --- dataset sources (repgeo.data registers a loader for each) ------------------------------------


@dataclass(frozen=True)
class SourceInfo:
    """What the workflow must know of a dataset source before any job runs.

    ``modality``: ``image`` (usable by the image branches), ``audio`` or ``points``.
    ``reads_files``: whether the loader reads files under the dataset's ``path`` (those are tracked
    by repgeo.data.manifest); sources generated in memory or read from an installed package do not.
    ``split``: ``random`` when ``split: test`` is a seeded ``test_fraction`` of the items, ``given``
    when the source defines it (official splits, by speaker or subject), ``option`` when the
    entry's own ``split``/``split_by`` key chooses, or (``array``) whether its ``metadata`` table
    has a ``split`` column (see repgeo.data.preview.split_size).
    """

    modality: Literal["image", "audio", "points"]
    reads_files: bool
    split: Literal["random", "given", "option"]


SOURCES: dict[str, SourceInfo] = {
    "sklearn_digits": SourceInfo("image", False, "random"),
    "lfw_faces": SourceInfo("image", False, "random"),
    "natural_images": SourceInfo("image", False, "random"),
    "mnist": SourceInfo("image", True, "given"),
    "cifar10": SourceInfo("image", True, "given"),
    "olivetti": SourceInfo("image", True, "given"),
    "image_folder": SourceInfo("image", True, "random"),
    "celeba": SourceInfo("image", True, "option"),
    "manifold": SourceInfo("points", False, "random"),
    "dse_toy": SourceInfo("points", False, "random"),
    "array": SourceInfo("points", True, "option"),
    "spoken_words": SourceInfo("audio", False, "option"),
    "fsdd": SourceInfo("audio", True, "given"),
    "timit": SourceInfo("audio", True, "given"),
}

IMAGE_SOURCES = tuple(s for s, info in SOURCES.items() if info.modality == "image")
AUDIO_SOURCES = tuple(s for s, info in SOURCES.items() if info.modality == "audio")
NO_FILES = frozenset(s for s, info in SOURCES.items() if not info.reads_files)
RANDOM_SPLIT = frozenset(s for s, info in SOURCES.items() if info.split == "random")

# --- training and entropy -------------------------------------------------------------------------

# Classifier architectures of repgeo.training.models (the training, initialisation and zoo studies).
CLASSIFIER_ARCHITECTURES = ("mlp", "small_cnn", "resnet18")
# ResNet-18 has torchvision's fixed widths (64 ... 512 channels): a zoo trains one member of it.
RESNET18_WIDTH = 64
# Training modes of the DSE paper's trajectories (section 5): labels, shuffled labels, SimCLR.
TRAINING_MODES = ("supervised", "random_labels", "contrastive")
# The initialisation study keeps the runs of the lowest and highest initial DSE.
INIT_EXTREMES = ("lowest", "highest")
ENTROPY_TOYS = ("dimension", "spd", "tree", "runtime")

# --- generative ------------------------------------------------------------------------------------

# One-dimensional distances of the sliced autoencoders (repgeo.generative.distances.ONE_D_DISTANCES).
SLICED_MODELS = ("swae", "scfwae", "scwae", "scvmae", "sksae")
# Encoder/decoder architectures of repgeo.generative.architectures (the study's MNIST MLP, its
# CIFAR-10 and CelebA convolutional networks, and a BatchNorm variant of the CelebA one).
GENERATIVE_ARCHITECTURES = ("mlp", "cifar_conv", "celeba_conv", "celeba_bn")
# Every trainable model: the plain autoencoder, the sliced ones and the Cramér–Wold autoencoder.
GENERATIVE_MODELS = ("ae", *SLICED_MODELS, "cwae")

# --- audio -----------------------------------------------------------------------------------------

# Networks whose layers are analysed: the GAN's Q-network and the reference CNN.
AUDIO_NETWORKS = ("qnet", "reference")
AUDIO_ANALYSES = ("words", "sounds")
GAMM_ENGINES = ("mgcv", "python")

# --- inversion -------------------------------------------------------------------------------------

INVERSION_ARCHITECTURES = ("alexnet", "vgg16", "vgg_small")
TORCHVISION_INVERSION_ARCHITECTURES = ("alexnet", "vgg16")
INVERTER_REGIMES = ("separate", "joint", "end_to_end")
PRIOR_EXPERTS = ("ica", "student_t")
PREIMAGE_METHODS = ("tv", *PRIOR_EXPERTS, *(f"{e}_features" for e in PRIOR_EXPERTS))

_ALEXNET = ("conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3", "conv4", "relu4", "conv5", "relu5")
_ALEXNET_LRN = ("conv1", "relu1", "norm1", "pool1", "conv2", "relu2", "norm2", "pool2", *_ALEXNET[6:])
_CLASSIFIER = ("fc6", "relu6", "fc7", "relu7", "fc8")


def _vgg_blocks(convs: tuple[int, ...]) -> tuple[str, ...]:
    names: list[str] = []
    for block, n in enumerate(convs, start=1):
        for i in range(1, n + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


# Layer names in forward order (MatConvNet's naming, as Mahendran & Vedaldi's code uses), keyed by
# (architecture, local response normalisation). repgeo.inversion.networks builds networks whose
# ``layer_names`` equal these (tests/test_registry.py builds each on the meta device).
INVERSION_LAYERS: dict[tuple[str, bool], tuple[str, ...]] = {
    ("alexnet", False): (*_ALEXNET, "pool5", *_CLASSIFIER),
    ("alexnet", True): (*_ALEXNET_LRN, "pool5", *_CLASSIFIER),
    ("vgg16", False): (*_vgg_blocks((2, 2, 3, 3, 3)), *_CLASSIFIER),
    ("vgg_small", False): (*_vgg_blocks((2, 2, 2)), *_CLASSIFIER),
}


def inversion_layers(arch: str, lrn: bool = False) -> tuple[str, ...]:
    """The layer names of inversion architecture ``arch`` in forward order (``lrn`` only for alexnet)."""
    if arch not in INVERSION_ARCHITECTURES:
        raise ValueError(f"arch must be one of {', '.join(INVERSION_ARCHITECTURES)}, got {arch!r}")
    return INVERSION_LAYERS[(arch, bool(lrn) and arch == "alexnet")]


def method_expert(method: str) -> str | None:
    """The learned prior a pre-image method uses: None for ``tv``, ``ica`` for ``ica`` and
    ``ica_features``, ``student_t`` for ``student_t`` and ``student_t_features``."""
    if method not in PREIMAGE_METHODS:
        raise ValueError(f"method must be one of {', '.join(PREIMAGE_METHODS)}, got {method!r}")
    return None if method == "tv" else method.removesuffix("_features")


def wildcard_pattern(names: tuple[str, ...] | frozenset[str]) -> str:
    """A regular expression matching exactly one of ``names`` (a Snakemake wildcard constraint)."""
    return "|".join(sorted(names, key=len, reverse=True))
