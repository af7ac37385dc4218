# Shared set-up of every stage: config validation, input functions, resources.
from pathlib import Path

from repgeo.config import check_config
from repgeo.runtime import prefer_fast_blas

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
    out = ["results/data/overview.html"]
    for name in config["diffusion"]:
        out += expand(
            "results/diffusion/{name}/{f}",
            name=name,
            f=["embedding.parquet", "eigenvalues.parquet", "sweep.png", "embedding_3d.png", "summary.html"],
        )
    return out
