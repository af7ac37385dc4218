# Shared set-up of every stage: config validation, input functions, resources.
from pathlib import Path

from repgeo.config import check_config
from repgeo.runtime import prefer_fast_blas
from repgeo.stages.entropy import SPECTRUM_KEYS
from repgeo.stages.geometry import knn_size

# Jobs inherit this process's environment. On AVX-512 CPUs that OpenBLAS does not recognise it
# falls back to AVX2 kernels; SkylakeX ones double GEMM throughput (README, "Performance").
prefer_fast_blas()

# Stop before any job on a wrong type, unknown key, out-of-range value or missing data path.
_checked = check_config(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
config.clear()
config.update(_checked)

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


wildcard_constraints:
    dataset=NAME,
    name=NAME,


# Parameters that shape the sweep; the embedding stage gets the whole entry, so changing
# e.g. t reruns the embedding but neither the sweep nor the data preparation.
SWEEP_KEYS = ("dataset", "split", "n", "seed", "kernel", "epsilon", "epsilon_rule", "sweep")
# Only figures depend on these.
FIGURE_KEYS = ("color_by",)


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def diffusion_data(wildcards):
    d = config["diffusion"][wildcards.name]["dataset"]
    return {
        "arrays": f"results/data/{d}/arrays.pt",
        "samples": f"results/data/{d}/samples.parquet",
    }


def sweep_spec(wildcards):
    entry = config["diffusion"][wildcards.name]
    return {k: entry[k] for k in SWEEP_KEYS}


def embed_spec(wildcards):
    entry = config["diffusion"][wildcards.name]
    return {k: v for k, v in entry.items() if k not in FIGURE_KEYS}


def figure_color(wildcards):
    return config["diffusion"][wildcards.name]["color_by"]


def figure_dataset(wildcards):
    return config["diffusion"][wildcards.name]["dataset"]


def threads_of(stage):
    return config["threads"][stage]


def mem_mb(base):
    """Memory request that grows with each retry (--retries)."""
    return lambda wildcards, attempt: base * attempt


def runtime_min(base):
    return lambda wildcards, attempt: base * attempt


def all_outputs():
    out = ["results/data/overview.html"] + geometry_outputs() + training_outputs()
    for name in config["diffusion"]:
        out += expand(
            "results/diffusion/{name}/{f}",
            name=name,
            f=["embedding.parquet", "eigenvalues.parquet", "sweep.png", "embedding_3d.png", "summary.html"],
        )
    return out


# --- geometry ---------------------------------------------------------------------------------

GEOMETRY_INPUT_KEYS = ("dataset", "diffusion", "coordinates", "split", "n", "seed")
GEOMETRY_ESTIMATOR_KEYS = ("mode", "k", "seed", "improved")


def geometry_entry(wildcards):
    return config["geometry"][wildcards.name]


def geometry_source(wildcards):
    entry = geometry_entry(wildcards)
    if "diffusion" in entry:
        return {"embedding": f"results/diffusion/{entry['diffusion']}/embedding.parquet"}
    d = entry["dataset"]
    return {"arrays": f"results/data/{d}/arrays.pt", "samples": f"results/data/{d}/samples.parquet"}


def geometry_input_spec(wildcards):
    entry = geometry_entry(wildcards)
    return {k: entry[k] for k in GEOMETRY_INPUT_KEYS if k in entry}


def geometry_k(wildcards):
    return knn_size(geometry_entry(wildcards))


def geometry_spec(*stage_keys):
    """Params of one geometry stage: the estimator's keys plus the stage's own."""

    def spec(wildcards):
        entry = geometry_entry(wildcards)
        return {k: entry[k] for k in GEOMETRY_ESTIMATOR_KEYS + stage_keys if k in entry}

    return spec


def geometry_tables_inputs(wildcards):
    entry = geometry_entry(wildcards)
    base = f"results/geometry/{wildcards.name}"
    inputs = {
        "samples": f"{base}/samples.parquet",
        "dimension": f"{base}/dimension.parquet",
        "curvature": f"{base}/curvature.parquet",
    }
    if entry["baselines"]:
        inputs["baselines"] = f"{base}/baselines.parquet"
    if entry["null_controls"]:
        inputs["nulls"] = f"{base}/nulls.parquet"
    return inputs


def geometry_figure_inputs(wildcards):
    base = f"results/geometry/{wildcards.name}"
    inputs = {
        "pointwise": f"{base}/pointwise.parquet",
        "points": f"{base}/points.pt",
        "summary": f"{base}/summary.parquet",
    }
    if geometry_entry(wildcards)["attributes"]:
        inputs["attributes"] = f"{base}/attributes.parquet"
    return inputs


def geometry_title(wildcards):
    entry = geometry_entry(wildcards)
    source = entry.get("diffusion", entry.get("dataset"))
    return f"{wildcards.name} ({source}, {entry['mode']})"


def geometry_first_three(wildcards):
    return "diffusion" in geometry_entry(wildcards)


def geometry_outputs():
    out = []
    for name, entry in config["geometry"].items():
        files = ["pointwise.parquet", "summary.parquet", "dimension_3d.png", "curvature_3d.png", "summary.html"]
        if entry["attributes"]:
            files += ["attributes.parquet", "regions.parquet", "enrichment.parquet", "attributes.png"]
        out += expand("results/geometry/{name}/{f}", name=name, f=files)
    return out


# --- training and entropy -----------------------------------------------------------------------


wildcard_constraints:
    mode="supervised|random_labels|contrastive",
    seed=r"\d+",


# Keys of a training entry that are not the run's own settings: which runs exist, where they
# run, and what the entropy stage does with them. Changing them reruns no training.
TRAINING_OUTER_KEYS = ("modes", "seeds", "gpu", "entropy")
# The evaluation subset: the X clustering depends only on these.
EVAL_KEYS = ("dataset", "eval_n", "eval_seed")
ENTROPY_CLUSTER_KEYS = ("n_clusters", "seed")


def training_entry(wildcards):
    return config["training"][wildcards.name]


def training_data(wildcards):
    d = training_entry(wildcards)["dataset"]
    return {"arrays": f"results/data/{d}/arrays.pt", "samples": f"results/data/{d}/samples.parquet"}


def training_spec(wildcards):
    """The run's settings, contrastive ones flattened (TrainConfig's field names)."""
    entry = training_entry(wildcards)
    spec = {k: v for k, v in entry.items() if k not in TRAINING_OUTER_KEYS + ("contrastive",)}
    if wildcards.get("mode") == "contrastive":
        spec.update(entry["contrastive"])
    return spec


def training_gpus(wildcards):
    return 1 if training_entry(wildcards)["gpu"] else 0


def eval_spec(wildcards):
    entry = training_entry(wildcards)
    return {k: entry[k] for k in EVAL_KEYS}


def entropy_cluster_spec(wildcards):
    entropy = training_entry(wildcards)["entropy"]
    return {k: entropy[k] for k in ENTROPY_CLUSTER_KEYS}


def entropy_spectrum_spec(wildcards):
    entropy = training_entry(wildcards)["entropy"]
    return {k: entropy[k] for k in SPECTRUM_KEYS}


def training_runs(wildcards):
    entry = training_entry(wildcards)
    return [{"mode": m, "seed": s} for m in entry["modes"] for s in entry["seeds"]]


def trajectory_inputs(wildcards):
    runs = training_runs(wildcards)
    train = [f"results/training/{wildcards.name}/{r['mode']}/seed{r['seed']}" for r in runs]
    entropy = [f"results/entropy/{wildcards.name}/{r['mode']}/seed{r['seed']}" for r in runs]
    return {
        "x_groups": f"results/entropy/{wildcards.name}/x_groups.parquet",
        "spectra": [f"{e}/spectra.npz" for e in entropy],
        "embeddings": [f"{t}/embeddings.pt" for t in train],
        "history": [f"{t}/history.parquet" for t in train],
    }


def entropy_title(wildcards):
    entry = training_entry(wildcards)
    return f"{wildcards.name}: {entry['arch']} on {entry['dataset']}"


def training_outputs():
    return expand("results/entropy/{name}/{f}", name=list(config["training"]), f=["trajectory.parquet", "trajectory.png"])
