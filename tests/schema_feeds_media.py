"""Rows of tests/test_schema_defaults.py for the media branches (audio, generative, inversion).

``FEEDS``: (schema pointer, the library callable or dataclass the stage passes the value to, its
parameter). ``WORKFLOW_ONLY``: keys that choose data, jobs or files and feed no library parameter.
"""

from repgeo.rules import GENERATIVE_TRAIN_KEYS
from repgeo.audio.gan import GanConfig, generate, words_config
from repgeo.audio.layers import analysed_tokens, figure_token_row, reference_word, sound_curves, word_curves
from repgeo.audio.reference_cnn import train_reference_cnn
from repgeo.generative.evaluation import EvalSettings
from repgeo.generative.figures import sheet_images
from repgeo.generative.quality import feature_net_config
from repgeo.generative.training import AutoencoderConfig
from repgeo.inversion.feature_stats import covariance_statistics, statistics_grid
from repgeo.inversion.inverters import held_out_reconstructions, train_separate
from repgeo.inversion.networks import build_network, train_network
from repgeo.inversion.preimage import LayerPreimages, PreimageConfig, data_weight
from repgeo.inversion.priors import fit_patch_prior
from repgeo.stats.gamm import fit_gamm

FEEDS: list = [
    # --- audio -------------------------------------------------------------------------------------
    ("audio.reference_level", reference_word, "reference_level"),
    *[
        (f"audio.gan.{key}", GanConfig, key)
        for key in (
            "variant",
            "latent_dim",
            "model_dim",
            "kernel_size",
            "phase_shuffle",
            "batch_size",
            "d_steps",
            "gp_weight",
            "lr",
            "q_lr",
            "steps",
            "checkpoint_steps",
            "seed",
        )
    ],
    ("audio.gan.n_codes", words_config, "n_codes"),
    ("audio.gan.samples_per_code", generate, "codes_per_level"),
    *[
        (f"audio.reference_cnn.{key}", train_reference_cnn, key)
        for key in ("model_dim", "epochs", "batch_size", "lr", "seed")
    ],
    ("audio.analysis.split", analysed_tokens, "split"),
    ("audio.analysis.max_tokens_per_word", analysed_tokens, "max_tokens_per_word"),
    ("audio.analysis.figure_token", figure_token_row, "figure_token"),
    ("audio.gamm.bins", word_curves, "bins"),
    ("audio.gamm.stop_ms", word_curves, "stop_ms"),
    ("audio.gamm.layers", word_curves, "layers"),
    *[(f"audio.gamm.{key}", fit_gamm, key) for key in ("k", "random_smooths", "ar1", "grid")],
    *[(f"audio.contrast.{key}", sound_curves, key) for key in ("sounds", "words", "points", "layers")],
    # --- generative --------------------------------------------------------------------------------
    *[
        (f"generative.{key}", AutoencoderConfig, key)
        # the keys the training rule's params carry (repgeo.rules): each feeds AutoencoderConfig
        for key in GENERATIVE_TRAIN_KEYS
    ],
    *[
        (f"generative.evaluation.{key}", EvalSettings, key)
        for key in (
            "n_generated",
            "kid_subsets",
            "kid_subset_size",
            "latent_projections",
            "latent_repeats",
            "cw_subset_size",
            "cw_repeats",
            "pixel_projections",
            "batch_size",
            "seed",
        )
    ],
    *[
        (f"generative.feature_net.{key}", feature_net_config, key)
        for key in ("arch", "width", "hidden", "epochs", "batch_size", "lr", "seed")
    ],
    *[(f"generative.sheets.{key}", sheet_images, key) for key in ("rows", "columns", "seed")],
    # --- inversion ---------------------------------------------------------------------------------
    ("inversion.arch", build_network, "arch"),
    ("inversion.width", build_network, "width"),
    ("inversion.lrn", build_network, "lrn"),
    *[
        (f"inversion.training.{key}", train_network, key)
        for key in ("epochs", "batch_size", "lr", "optimiser", "weight_decay", "augment", "seed")
    ],
    ("inversion.statistics.channels", statistics_grid, "channels"),
    ("inversion.statistics.border", statistics_grid, "border"),
    ("inversion.statistics.shrinkage", covariance_statistics, "shrinkage"),
    *[(f"inversion.inverters.{key}", train_separate, key) for key in ("variant", "epochs", "batch_size", "lr", "seed")],
    ("inversion.inverters.n_show", held_out_reconstructions, "n_show"),
    ("inversion.priors.patch_size", fit_patch_prior, "size"),
    ("inversion.priors.components", fit_patch_prior, "components"),
    ("inversion.priors.feature_patch_size", fit_patch_prior, "size"),
    ("inversion.priors.feature_components", fit_patch_prior, "components"),
    *[
        (f"inversion.priors.{key}", fit_patch_prior, key)
        for key in ("n_patches", "overcompleteness", "steps", "lr", "batch_size", "seed")
    ],
    ("inversion.preimage.optimiser", PreimageConfig, "optimiser"),
    ("inversion.preimage.iterations", PreimageConfig, "iterations"),
    ("inversion.preimage.C", data_weight, "C"),
    ("inversion.preimage.weight_grid", LayerPreimages.search_weight, "weight_grid"),
    ("inversion.preimage.seed", LayerPreimages.invert, "seed"),
]

WORKFLOW_ONLY: dict[str, str] = {
    "audio.label": "column of samples.parquet naming each token's word",
    "audio.gpu": "resources: a GPU for the trainings",
    "audio.reference_cnn.enabled": "whether the reference CNN's jobs run",
    "audio.gamm.engines": "which GAMM engine rules run",
    "audio.contrast.enabled": "whether the sounds analysis' jobs run",
    "generative.models": "which models are trained (the model wildcard)",
    "generative.gpu": "resources: a GPU for the trainings",
    "generative.evaluation.inception_weights": "path of a user's weights file, an input of the evaluation",
    "generative.feature_net.label": "column of samples.parquet the feature classifier learns",
    "inversion.label": "column of samples.parquet the network classifies",
    "inversion.weights": "path of a user's weights file, an input of the network rule",
    "inversion.layers": "which layers are analysed (the layer wildcard)",
    "inversion.gpu": "resources: a GPU for the branch's jobs",
    "inversion.statistics.n_images": "data selection: the test images read by the statistics stage",
    "inversion.inverters.regimes": "which inverters are trained (the regime wildcard)",
    "inversion.priors.experts": "which priors are fitted (the expert wildcard)",
    "inversion.priors.feature_layers": "which feature-map priors are fitted and given to the *_features methods",
    "inversion.preimage.n_images": "data selection: the held-out test images the pre-image stage reads",
    "inversion.preimage.search_images": "data selection: the held-out test images of the weight search",
    "inversion.preimage.methods": "which pre-image methods run (the method wildcard)",
}
