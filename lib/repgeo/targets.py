"""The files of the workflow's jobs: each branch's input functions and its default targets.

Functions of ``(config, wildcards)`` (inputs) or of ``config`` (targets), over the validated
config; ``workflow/rules/common.smk`` binds them to the run's config (``inputs(geometry_source)``).
Torch-free, like :mod:`repgeo.rules`: building the DAG imports neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import registry
from .rules import audio_engines, entry_of, init_runs, training_runs, zoo_external, zoo_members

Config = Mapping[str, Any]


def data_files(dataset: str) -> dict[str, str]:
    """The prepared arrays and samples of ``dataset``."""
    return {"arrays": f"results/data/{dataset}/arrays.pt", "samples": f"results/data/{dataset}/samples.parquet"}


# --- data and diffusion -------------------------------------------------------------------------------


def data_targets(config: Config) -> list[str]:
    return ["results/data/overview.html"]


def diffusion_targets(config: Config) -> list[str]:
    files = ["embedding.parquet", "eigenvalues.parquet", "sweep.png", "embedding_3d.png", "summary.html"]
    return [f"results/diffusion/{name}/{f}" for name in config["diffusion"] for f in files]


# --- geometry -------------------------------------------------------------------------------------------


def geometry_source(config: Config, wildcards: Any) -> dict[str, str]:
    """The points: a diffusion run's embedding, or a dataset's prepared arrays."""
    e = entry_of(config, "geometry", wildcards)
    if "diffusion" in e:
        return {"embedding": f"results/diffusion/{e['diffusion']}/embedding.parquet"}
    return data_files(e["dataset"])


def geometry_tables_inputs(config: Config, wildcards: Any) -> dict[str, str]:
    e = entry_of(config, "geometry", wildcards)
    base = f"results/geometry/{wildcards.name}"
    inputs = {k: f"{base}/{k}.parquet" for k in ("samples", "dimension", "curvature")}
    if e["baselines"]:
        inputs["baselines"] = f"{base}/baselines.parquet"
    if e["null_controls"]:
        inputs["nulls"] = f"{base}/nulls.parquet"
    return inputs


def geometry_figure_inputs(config: Config, wildcards: Any) -> dict[str, str]:
    base = f"results/geometry/{wildcards.name}"
    inputs = {
        "pointwise": f"{base}/pointwise.parquet",
        "points": f"{base}/points.pt",
        "summary": f"{base}/summary.parquet",
    }
    if entry_of(config, "geometry", wildcards)["attributes"]:
        inputs["attributes"] = f"{base}/attributes.parquet"
    return inputs


def geometry_targets(config: Config) -> list[str]:
    out = []
    for name, e in config["geometry"].items():
        files = ["pointwise.parquet", "summary.parquet", "dimension_3d.png", "curvature_3d.png", "summary.html"]
        if e["attributes"]:
            files += ["attributes.parquet", "regions.parquet", "enrichment.parquet", "attributes.png"]
        out += [f"results/geometry/{name}/{f}" for f in files]
    return out


# --- training and entropy ------------------------------------------------------------------------------


def trajectory_inputs(config: Config, wildcards: Any) -> dict[str, Any]:
    runs = training_runs(entry_of(config, "training", wildcards))
    train = [f"results/training/{wildcards.name}/{r['mode']}/seed{r['seed']}" for r in runs]
    entropy = [f"results/entropy/{wildcards.name}/{r['mode']}/seed{r['seed']}" for r in runs]
    return {
        "x_groups": f"results/entropy/{wildcards.name}/x_groups.parquet",
        "spectra": [f"{e}/spectra.npz" for e in entropy],
        "embeddings": [f"{t}/embeddings.pt" for t in train],
        "history": [f"{t}/history.parquet" for t in train],
    }


def entropy_targets(config: Config) -> list[str]:
    out = [
        f"results/entropy/{name}/{f}" for name in config["training"] for f in ("trajectory.parquet", "trajectory.png")
    ]
    return out + [f"results/entropy_toys/{toy}.{ext}" for toy in config["entropy_toys"] for ext in ("parquet", "png")]


def init_summary_inputs(config: Config, wildcards: Any) -> dict[str, Any]:
    base = f"results/entropy_init/{wildcards.name}"
    runs = [f"{base}/{r['extreme']}/seed{r['seed']}" for r in init_runs(entry_of(config, "entropy_init", wildcards))]
    return {
        "initial": f"{base}/initial.parquet",
        "embeddings": [f"{r}/embeddings.pt" for r in runs],
        "history": [f"{r}/history.parquet" for r in runs],
    }


def zoo_state_dict(config: Config, wildcards: Any) -> str:
    where = f"entropy_zoo.{wildcards.name}"
    return zoo_external(entry_of(config, "entropy_zoo", wildcards), wildcards.external, where)["state_dict"]


def zoo_table_inputs(config: Config, wildcards: Any) -> dict[str, Any]:
    members = zoo_members(entry_of(config, "entropy_zoo", wildcards), wildcards.name)
    return {
        "x_groups": f"results/entropy_zoo/{wildcards.name}/x_groups.parquet",
        "embeddings": [m["embeddings"] for m in members],
        "history": [m["history"] for m in members],
    }


def entropy_uses_targets(config: Config) -> list[str]:
    init = ["curves.parquet", "initialisation.png"]
    zoo = ["models.parquet", "correlations.parquet", "zoo.png"]
    out = [f"results/entropy_init/{name}/{f}" for name in config["entropy_init"] for f in init]
    return out + [f"results/entropy_zoo/{name}/{f}" for name in config["entropy_zoo"] for f in zoo]


# --- audio ------------------------------------------------------------------------------------------------


def audio_networks(entry: Mapping[str, Any]) -> list[str]:
    return ["qnet"] + (["reference"] if entry["reference_cnn"]["enabled"] else [])


def audio_network_model(config: Config, wildcards: Any) -> str:
    folder = "gan" if wildcards.network == "qnet" else "reference"
    return f"results/audio/{wildcards.name}/{folder}/model.pt"


def audio_samples(config: Config, wildcards: Any) -> str:
    return data_files(entry_of(config, "audio", wildcards)["dataset"])["samples"]


def audio_gamm_engine_dirs(config: Config, wildcards: Any) -> dict[str, str]:
    base = f"results/audio/{wildcards.name}/gamm/{wildcards.network}/{wildcards.analysis}"
    engines = audio_engines(entry_of(config, "audio", wildcards), wildcards.name)
    return {engine: f"{base}.{engine}" for engine in engines}


def audio_targets(config: Config) -> list[str]:
    out = []
    for name, e in config["audio"].items():
        base = f"results/audio/{name}"
        out += [f"{base}/gan/confusion.png", f"{base}/gan/spectrograms.png"]
        analyses = ["words"] + (["sounds"] if e["contrast"]["enabled"] else [])
        for network in audio_networks(e):
            out.append(f"{base}/layers/{network}.png")
            out += [f"{base}/gamm/{network}/{a}{suffix}" for a in analyses for suffix in (".png", "_table.html")]
    return out


# --- generative -------------------------------------------------------------------------------------------


def generative_model_files(kind: str):
    """Input function builder: ``kind`` (a file name) of every model of the entry."""

    def files(config: Config, wildcards: Any) -> list[str]:
        models = entry_of(config, "generative", wildcards)["models"]
        return [f"results/generative/{wildcards.name}/{m}/{kind}" for m in models]

    return files


def generative_targets(config: Config) -> list[str]:
    files = ["table.html", "curves.png", "reconstructions.png", "samples.png", "interpolations.png"]
    return [f"results/generative/{name}/{f}" for name in config["generative"] for f in files]


# --- inversion --------------------------------------------------------------------------------------------


def inversion_prior_input(config: Config, wildcards: Any) -> dict[str, Any]:
    """A pre-image job's priors: the image prior of its expert; for *_features methods also the
    feature-map priors of the feature layers before the inverted layer and the image prior's weight search."""
    method, base = wildcards.method, f"results/inversion/{wildcards.name}"
    expert = registry.method_expert(method)
    if expert is None:
        return {}
    files: dict[str, Any] = {"image_prior": f"{base}/priors/{expert}.pt"}
    if method.endswith("_features"):
        e = entry_of(config, "inversion", wildcards)
        names = registry.inversion_layers(e["arch"], lrn=e["lrn"])
        before = [layer for layer in e["priors"]["feature_layers"] if names.index(layer) < names.index(wildcards.layer)]
        files["feature_priors"] = [f"{base}/priors/{expert}/{layer}.pt" for layer in before]
        files["image_search"] = f"{base}/preimages/{expert}/{wildcards.layer}_search.parquet"
    return files


def inversion_inverter_files(config: Config, wildcards: Any) -> list[str]:
    e = entry_of(config, "inversion", wildcards)
    base = f"results/inversion/{wildcards.name}/inverters"
    return [f"{base}/{r}/{layer}.pt" for layer in e["layers"] for r in e["inverters"]["regimes"]]


def inversion_preimage_files(kind: str):
    """Input function builder: the pre-images (``kind``: parquet or pt) of every method and layer."""

    def files(config: Config, wildcards: Any) -> list[str]:
        e = entry_of(config, "inversion", wildcards)
        base = f"results/inversion/{wildcards.name}/preimages"
        return [f"{base}/{m}/{layer}.{kind}" for layer in e["layers"] for m in e["preimage"]["methods"]]

    return files


def inversion_targets(config: Config) -> list[str]:
    out = []
    for name, e in config["inversion"].items():
        base = f"results/inversion/{name}"
        experts, feature_layers = e["priors"]["experts"], e["priors"]["feature_layers"]
        out += [f"{base}/comparison.png", f"{base}/preimages.png", f"{base}/inverters.png"]
        out += [f"{base}/statistics/{layer}.png" for layer in e["layers"]]
        out += [f"{base}/priors/{x}.png" for x in experts]
        out += [f"{base}/priors/{x}/{layer}_history.parquet" for x in experts for layer in feature_layers]
    return out


# --- files from outside results/ -------------------------------------------------------------------------


def user_file(section: str, key: str, name: str):
    """Input function builder: a file the user names at ``key`` of an entry (weights), or nothing.
    As an input, replacing the file reruns the rule that reads it and its dependants."""

    def files(config: Config, wildcards: Any) -> dict[str, str]:
        path: Any = entry_of(config, section, wildcards)
        for part in key.split("."):
            path = path[part]
        return {name: path} if path else {}

    return files


TARGETS = (
    data_targets,
    diffusion_targets,
    geometry_targets,
    entropy_targets,
    entropy_uses_targets,
    audio_targets,
    generative_targets,
    inversion_targets,
)


def all_targets(config: Config) -> list[str]:
    """The default run's targets: every branch's figures, tables and pages."""
    return [path for targets in TARGETS for path in targets(config)]
