"""Rows of tests/test_schema_defaults.py for the core branches: the dataset sources (``src_*``),
diffusion, geometry (with ``improved_params``), training, entropy (``entropy_params``,
``entropy_init``, ``entropy_zoo``, ``entropy_toys``).

``FEEDS``: (pointer, library callable or dataclass, parameter) -- the schema key's value reaches
that parameter (a key fed to several functions has one row each). ``WORKFLOW_ONLY``: pointer ->
why the key feeds no library parameter.

The dataset sources read their entry as a mapping (``repgeo.data.load_dataset(spec)``); a key
whose value a source passes on to a helper with a parameter of its own is a ``FEEDS`` row of
that helper, the others (what to load, how many, in which layout) are listed as choosing data.
"""

from __future__ import annotations

import inspect

from repgeo.data import random_split, select_samples, subsample_indices
from repgeo.data.arrays import read_matrix
from repgeo.data.audio import place_token, token_split, trim_silence
from repgeo.data.dse_toy import add_uniform_noise, corrupt_labels, gaussian_blobs, random_walk_tree, subspace_data
from repgeo.data.embedded import load_natural_image
from repgeo.data.images import (
    _handle_bad,
    _normalise_extensions,
    _official_split_dataset,
    size_hw,
    stratified_split,
    to_mode,
)
from repgeo.data.manifolds import random_isometry
from repgeo.diffusion import diffusion_map, epsilon_sweep
from repgeo.entropy import classic_shannon_entropy, classic_shannon_mutual_information
from repgeo.entropy import toys
from repgeo.entropy.tracking import epoch_measures, epoch_spectra, input_groups, trajectory_measures
from repgeo.entropy.zoo import embedding_measures, embedding_sigma
from repgeo.geometry.baselines import null_controls, quadratic_fit_curvature
from repgeo.geometry.estimate import curvature_dimension, estimate_curvature, estimate_dimension
from repgeo.geometry.improved import improved_curvature, improved_dimension
from repgeo.geometry.regions import attribute_columns, attribute_tests, sign_regions
from repgeo.training.classifier import TrainConfig, evaluation_positions

FEEDS: list = []
WORKFLOW_ONLY: dict[str, str] = {}


def _feeds(prefix: str, rows: list[tuple]) -> None:
    FEEDS.extend((f"{prefix}.{key}", func, param) for key, func, param in rows)


def _only(prefix: str, reasons: dict[str, str]) -> None:
    WORKFLOW_ONLY.update({f"{prefix}.{key}": why for key, why in reasons.items()})


# --- dataset sources ------------------------------------------------------------------------------

CHOOSES_DATA = "chooses the data: read from the dataset entry by the source function of repgeo.data"
SEED = [("seed", random_split, "seed")]
SPLIT = [("test_fraction", random_split, "test_fraction"), *SEED]
SUBSET = [("n", subsample_indices, "n"), ("sample", subsample_indices, "sample"), ("seed", subsample_indices, "seed")]
BAD_FILES = [("skip_bad_files", _handle_bad, "skip")]

_feeds("src_sklearn_digits", [("n", subsample_indices, "n"), ("seed", subsample_indices, "seed"), *SPLIT])
_feeds("src_lfw_faces", SPLIT)
_only("src_lfw_faces", {"faces_only": CHOOSES_DATA + ".embedded.lfw_faces (the 100 faces, or all 200)"})
_feeds("src_natural_images", [("grayscale", load_natural_image, "grayscale"), *SPLIT])
_only(
    "src_natural_images",
    {
        "mode": CHOOSES_DATA + ".embedded.natural_images (whole photographs or patches)",
        "images": CHOOSES_DATA + ".embedded.natural_images (which photographs)",
        "size": CHOOSES_DATA + ".embedded.natural_images (side of the whole photographs)",
        "patch_size": CHOOSES_DATA + ".embedded.natural_images (side of the patches)",
        "n": CHOOSES_DATA + ".embedded.natural_images (number of patches)",
    },
)
_feeds("src_mnist", [*SUBSET, *BAD_FILES])
_feeds("src_cifar10", [*SUBSET, ("grayscale", _official_split_dataset, "grayscale"), *BAD_FILES])
_feeds(
    "src_olivetti", [*SUBSET, ("test_fraction", stratified_split, "test_fraction"), ("seed", stratified_split, "seed")]
)
_feeds(
    "src_image_folder",
    [
        *SUBSET,
        *SPLIT,
        ("size", size_hw, "value"),
        ("grayscale", to_mode, "grayscale"),
        ("extensions", _normalise_extensions, "extensions"),
        *BAD_FILES,
    ],
)
_feeds(
    "src_celeba",
    [
        *SUBSET,
        *SPLIT,
        ("crop", size_hw, "value"),
        ("size", size_hw, "value"),
        ("grayscale", to_mode, "grayscale"),
        *BAD_FILES,
    ],
)
_only("src_celeba", {"split": CHOOSES_DATA + ".images.celeba (CelebA's test partition or a random test_fraction)"})
_feeds("src_manifold", [*SPLIT, ("seed", random_isometry, "seed"), ("ambient_dim", random_isometry, "dim_out")])
_only(
    "src_manifold",
    {
        "n": CHOOSES_DATA + ".manifolds.draw_manifold (points sampled)",
        "noise": CHOOSES_DATA + ".manifolds.draw_manifold (s.d. of the ambient Gaussian noise)",
    },
)
_feeds(
    "src_dse_toy",
    [
        *SPLIT,
        ("n", subspace_data, "n"),
        ("n", gaussian_blobs, "n"),
        ("dim", subspace_data, "dim"),
        ("noise", add_uniform_noise, "noise"),
        ("branches", random_walk_tree, "branches"),
        ("corruption", corrupt_labels, "fraction"),
        ("centers", gaussian_blobs, "centers"),
        ("cluster_std", gaussian_blobs, "cluster_std"),
        ("center_box", gaussian_blobs, "center_box"),
    ],
)
_feeds("src_array", [*SUBSET, *SPLIT, ("key", read_matrix, "key"), ("columns", read_matrix, "columns")])
_only("src_array", {"metadata": CHOOSES_DATA + ".arrays.array (the table of ids, split, label and attributes)"})
AUDIO_FRAME = [("length", place_token, "length"), ("peak", place_token, "peak")]
AUDIO_SPLIT = [
    ("split_by", token_split, "how"),
    ("test_fraction", token_split, "test_fraction"),
    ("seed", token_split, "seed"),
]
AUDIO_ONLY = {
    "sample_rate": CHOOSES_DATA + ".audio (the rate the audio is resampled to)",
    "left_silence_ms": CHOOSES_DATA + ".audio (converted to the samples of silence place_token puts before a token)",
}
_feeds("src_spoken_words", [*AUDIO_FRAME, *AUDIO_SPLIT])
_only(
    "src_spoken_words",
    {
        **AUDIO_ONLY,
        "words": CHOOSES_DATA + ".audio.spoken_words (the words synthesised)",
        "tokens_per_word": CHOOSES_DATA + ".audio.spoken_words (tokens synthesised per word)",
        "languages": CHOOSES_DATA + ".audio.spoken_words (espeak-ng voices)",
        "variants": CHOOSES_DATA + ".audio.spoken_words (espeak-ng voice variants)",
        "rate": CHOOSES_DATA + ".audio.spoken_words (range of the speaking rate drawn per token)",
        "pitch": CHOOSES_DATA + ".audio.spoken_words (range of the pitch drawn per token)",
        "pitch_range": CHOOSES_DATA + ".audio.spoken_words (range of the pitch range drawn per token)",
        "noise": CHOOSES_DATA + ".audio.spoken_words (s.d. of the noise added to each frame)",
    },
)
_feeds("src_fsdd", [*AUDIO_FRAME, *AUDIO_SPLIT, ("trim_threshold", trim_silence, "threshold")])
_only(
    "src_fsdd",
    {
        **AUDIO_ONLY,
        "crop": CHOOSES_DATA + ".audio.fsdd (cut recordings longer than the frame, or stop)",
        "skip_bad_files": CHOOSES_DATA + ".audio.fsdd (skip unreadable recordings, or stop)",
    },
)
_feeds("src_timit", [*AUDIO_FRAME, *AUDIO_SPLIT])
_only(
    "src_timit",
    {
        **AUDIO_ONLY,
        "words": CHOOSES_DATA + ".audio.timit (the words cut from the corpus)",
        "max_tokens_per_word": CHOOSES_DATA + ".audio.timit (tokens kept per word)",
        "crop": CHOOSES_DATA + ".audio.timit (cut tokens longer than the frame, or stop)",
        "skip_bad_files": CHOOSES_DATA + ".audio.timit (skip unreadable files, or stop)",
    },
)

# --- diffusion ------------------------------------------------------------------------------------

_feeds(
    "diffusion",
    [
        ("split", select_samples, "split"),
        ("n", select_samples, "n"),
        ("seed", select_samples, "seed"),
        ("seed", epsilon_sweep, "seed"),
        ("seed", diffusion_map, "seed"),
        ("kernel", epsilon_sweep, "kernel"),
        ("kernel", diffusion_map, "kernel"),
        ("epsilon", epsilon_sweep, "epsilon"),
        ("epsilon_rule", epsilon_sweep, "rule"),
        ("sweep.n_epsilons", epsilon_sweep, "n_epsilons"),
        ("sweep.max_rows", epsilon_sweep, "max_rows"),
        ("alpha", diffusion_map, "alpha"),
        ("n_components", diffusion_map, "n_components"),
        ("t", diffusion_map, "t"),
        ("convention", diffusion_map, "convention"),
        ("method", diffusion_map, "method"),
        ("dense_max_n", diffusion_map, "dense_max_n"),
        ("n_neighbors", diffusion_map, "n_neighbors"),
        ("pca_components", diffusion_map, "pca_components"),
    ],
)
_only("diffusion", {"color_by": "the column that colours the 3-D scatter (figures only; null: label or ground truth)"})

# --- geometry -------------------------------------------------------------------------------------

IMPROVED_DIMENSION = (
    "k_dimension",
    "widen_dimension",
    "coordinate_steps",
    "smoothing_steps",
    "floor",
    "boundary_threshold",
)
IMPROVED_CURVATURE = ("k_fit", "widen_fit", "noise_threshold", "max_denoise", "tolerance", "max_steps")
for prefix in ("improved_params", "geometry.improved"):
    _feeds(prefix, [(key, improved_dimension, key) for key in IMPROVED_DIMENSION])
    _feeds(prefix, [(key, improved_curvature, key) for key in IMPROVED_CURVATURE])
_feeds(
    "geometry",
    [
        ("split", select_samples, "split"),
        ("n", select_samples, "n"),
        ("seed", select_samples, "seed"),
        ("seed", estimate_dimension, "seed"),
        ("seed", estimate_curvature, "seed"),
        ("seed", null_controls, "seed"),
        ("seed", sign_regions, "seed"),
        ("seed", attribute_tests, "seed"),
        ("mode", estimate_dimension, "mode"),
        ("mode", estimate_curvature, "mode"),
        ("k", estimate_dimension, "k"),
        ("k", estimate_curvature, "k"),
        ("k", improved_dimension, "k"),
        ("k", improved_curvature, "k"),
        ("n0_dimension", estimate_dimension, "n0"),
        ("n0_curvature", estimate_curvature, "n0"),
        ("curvature_dim", curvature_dimension, "curvature_dim"),
        ("quadratic_fit_neighbors", quadratic_fit_curvature, "n_neighbors"),
        ("attributes", attribute_columns, "setting"),
        ("regions.k", sign_regions, "k"),
        ("regions.min_size", sign_regions, "min_size"),
    ],
)
_only(
    "geometry",
    {
        "coordinates": "chooses the data: the diffusion coordinates that form the point cloud (geometry_points)",
        "baselines": "adds or removes the baselines job",
        "null_controls": "adds or removes the null-control job",
        "color_by": "only checked against the columns at start",
    },
)

# --- training and entropy -------------------------------------------------------------------------

TRAIN = ("arch", "epochs", "batch_size", "lr", "weight_decay", "width", "hidden")
EVALUATION = [("eval_n", evaluation_positions, "n"), ("eval_seed", evaluation_positions, "seed")]
LABEL = "the column of samples.parquet that holds the class labels (read by the stage)"
GPU = "where the jobs run (resource gpu=1)"

# The entropy settings as the training branch's trajectory uses them (entropy_params is the
# definition of training.entropy and entropy_init.entropy).
SPECTRA = ("sigma", "alpha", "n_neighbors", "max_n", "dtype", "n_repetitions", "seed")
TRAJECTORY = [
    *((key, epoch_spectra, key) for key in SPECTRA),
    ("t", epoch_measures, "t"),
    ("t", trajectory_measures, "t"),
    ("n_repetitions", classic_shannon_mutual_information, "n_repetitions"),
    ("seed", classic_shannon_entropy, "seed"),
    ("max_n", classic_shannon_entropy, "max_n"),
    ("cse_bins", classic_shannon_entropy, "n_bins"),
    ("cse_bins", trajectory_measures, "cse_bins"),
    ("n_clusters", input_groups, "n_clusters"),
    ("seed", input_groups, "seed"),
]
for prefix in ("entropy_params", "training.entropy"):
    _feeds(prefix, TRAJECTORY)

_feeds("training", [*((key, TrainConfig, key) for key in TRAIN), *EVALUATION])
_feeds(
    "training.contrastive",
    [(key, TrainConfig, key) for key in ("temperature", "projection_dim", "min_scale", "flip", "jitter")],
)
_only(
    "training",
    {
        "label": LABEL,
        "modes": "which runs exist: one per mode x seed (each run's TrainConfig.mode)",
        "seeds": "which runs exist: one per mode x seed (each run's TrainConfig.seed)",
        "gpu": GPU,
    },
)

# The uses of DSE (initialisation study, model zoo) measure DSE and DSMI only.
MEASURES = [(key, embedding_measures, key) for key in (*SPECTRA, "t")]
_feeds("entropy_init", [*((key, TrainConfig, key) for key in TRAIN), *EVALUATION])
_feeds("entropy_init.entropy", MEASURES)
_only(
    "entropy_init",
    {
        "label": LABEL,
        "init_stds": "the grid of the probe: one run per value (its TrainConfig.init_std)",
        "seeds": "the probe's and the trainings' seeds: one run per value (its TrainConfig.seed)",
        "gpu": GPU,
        "entropy.n_clusters": "not used: the initialisation study measures no I_D(Z; X)",
        "entropy.cse_bins": "not used: the initialisation study measures no CSE",
    },
)
_feeds(
    "entropy_zoo",
    [*((key, TrainConfig, key) for key in ("batch_size", "lr", "weight_decay", "hidden", "seed")), *EVALUATION],
)
_feeds(
    "entropy_zoo.entropy",
    [
        *MEASURES,
        ("sigma", embedding_sigma, "sigma"),
        ("n_clusters", input_groups, "n_clusters"),
        ("seed", input_groups, "seed"),
    ],
)
_only(
    "entropy_zoo",
    {
        "label": LABEL,
        "archs": "which members exist: one per architecture x width (each member's TrainConfig.arch)",
        "widths": "which members exist: one per architecture x width (each member's TrainConfig.width)",
        "epochs": "which epochs of each member count as models (the member trains for the largest)",
        "external": "which torchvision models join the zoo (their state-dict files)",
        "gpu": GPU,
        "entropy.cse_bins": "not used: the model zoo measures no CSE",
    },
)

# --- toy validations ------------------------------------------------------------------------------

for toy, sweep in (
    ("dimension", toys.dimension_sweep),
    ("spd", toys.spd_identity_sweep),
    ("tree", toys.tree_corruption_sweep),
    ("runtime", toys.runtime_sweep),
):
    _feeds(
        f"entropy_toys.{toy}", [(key, sweep, key) for key in inspect.signature(sweep).parameters if key != "progress"]
    )
