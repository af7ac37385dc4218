# Shared set-up of every stage: config validation, input functions, resources.
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from repgeo.config import check_config
from repgeo.data.manifest import refresh_manifest, summarise
from repgeo.runtime import prefer_fast_blas
from repgeo.stages.entropy import SPECTRUM_KEYS
from repgeo.stages.generative import TRAIN_KEYS as GENERATIVE_TRAIN_KEYS
from repgeo.stages.inversion import method_expert
from repgeo.stages.geometry import knn_size

# Jobs inherit this process's environment. On AVX-512 CPUs that OpenBLAS does not recognise it
# falls back to AVX2 kernels; SkylakeX ones double GEMM throughput (docs/benchmarks.md, performance).
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
    out = ["results/data/overview.html"] + geometry_outputs() + training_outputs() + uses_outputs() + audio_outputs() + generative_outputs() + inversion_outputs()
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
    toy="dimension|spd|tree|runtime",


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
    out = expand("results/entropy/{name}/{f}", name=list(config["training"]), f=["trajectory.parquet", "trajectory.png"])
    return out + expand("results/entropy_toys/{toy}.{ext}", toy=list(config["entropy_toys"]), ext=["parquet", "png"])


# --- uses: initialisation study and model zoo -------------------------------------------------------


wildcard_constraints:
    extreme="lowest|highest",
    member=r"(mlp|small_cnn|resnet18)-w\d+",
    external=NAME,


def _dataset_files(d):
    return {"arrays": f"results/data/{d}/arrays.pt", "samples": f"results/data/{d}/samples.parquet"}


def init_entry(wildcards):
    return config["entropy_init"][wildcards.name]


def init_data(wildcards):
    return _dataset_files(init_entry(wildcards)["dataset"])


def init_gpus(wildcards):
    return 1 if init_entry(wildcards)["gpu"] else 0


def init_probe_spec(wildcards):
    # The epoch count of the trainings does not change the probe.
    return {k: v for k, v in init_entry(wildcards).items() if k not in ("epochs", "gpu")}


def init_train_spec(wildcards):
    return {k: v for k, v in init_entry(wildcards).items() if k not in ("init_stds", "seeds", "gpu", "entropy")}


def init_runs(wildcards):
    return [{"extreme": e, "seed": s} for e in ("lowest", "highest") for s in init_entry(wildcards)["seeds"]]


def init_summary_inputs(wildcards):
    base = f"results/entropy_init/{wildcards.name}"
    runs = init_runs(wildcards)
    return {
        "initial": f"{base}/initial.parquet",
        "embeddings": [f"{base}/{r['extreme']}/seed{r['seed']}/embeddings.pt" for r in runs],
        "history": [f"{base}/{r['extreme']}/seed{r['seed']}/history.parquet" for r in runs],
    }


ZOO_EVAL_KEYS = ("dataset", "label", "eval_n", "eval_seed")
RESNET18_WIDTH = 64
ZOO_TRAIN_KEYS = ZOO_EVAL_KEYS + ("batch_size", "lr", "weight_decay", "hidden", "seed")


def zoo_entry(wildcards):
    return config["entropy_zoo"][wildcards.name]


def zoo_data(wildcards):
    return _dataset_files(zoo_entry(wildcards)["dataset"])


def zoo_gpus(wildcards):
    return 1 if zoo_entry(wildcards)["gpu"] else 0


def zoo_eval_spec(wildcards):
    entry = zoo_entry(wildcards)
    return {k: entry[k] for k in ZOO_EVAL_KEYS}


def zoo_member_spec(wildcards):
    entry = zoo_entry(wildcards)
    arch, width = wildcards.member.rsplit("-w", 1)
    return {**{k: entry[k] for k in ZOO_TRAIN_KEYS}, "arch": arch, "width": int(width), "epochs": max(entry["epochs"])}


def _zoo_external(wildcards):
    for ext in zoo_entry(wildcards)["external"]:
        if ext["name"] == wildcards.external:
            return ext
    raise ValueError(f"entropy_zoo.{wildcards.name} has no external model {wildcards.external!r}")


def zoo_state_dict(wildcards):
    return _zoo_external(wildcards)["state_dict"]


def zoo_external_member(wildcards):
    return {**_zoo_external(wildcards), "name": wildcards.external}


def zoo_members(wildcards):
    """Every zoo member: trained (arch x width, the configured epochs) and external (last epoch)."""
    entry = zoo_entry(wildcards)
    base = f"results/entropy_zoo/{wildcards.name}"
    members = [
        {"member": f"{a}-w{w}", "model": a, "width": w, "epochs": sorted(entry["epochs"])}
        for a in entry["archs"]
        # ResNet-18 has torchvision's fixed widths (64 ... 512 channels): one member.
        for w in ([RESNET18_WIDTH] if a == "resnet18" else entry["widths"])
    ]
    members += [{"member": f"ext-{e['name']}", "model": e["arch"], "width": None, "epochs": None} for e in entry["external"]]
    for m in members:
        m["embeddings"] = f"{base}/{m['member']}/embeddings.pt"
        m["history"] = f"{base}/{m['member']}/history.parquet"
    return members


def zoo_table_inputs(wildcards):
    members = zoo_members(wildcards)
    return {
        "x_groups": f"results/entropy_zoo/{wildcards.name}/x_groups.parquet",
        "embeddings": [m["embeddings"] for m in members],
        "history": [m["history"] for m in members],
    }


def uses_outputs():
    out = expand("results/entropy_init/{name}/{f}", name=list(config["entropy_init"]), f=["curves.parquet", "initialisation.png"])
    return out + expand("results/entropy_zoo/{name}/{f}", name=list(config["entropy_zoo"]), f=["models.parquet", "correlations.parquet", "zoo.png"])


# --- audio ---------------------------------------------------------------------------------------


wildcard_constraints:
    network="qnet|reference",
    analysis="words|sounds",


def audio_entry(wildcards):
    return config["audio"][wildcards.name]


def audio_data(wildcards):
    return _dataset_files(audio_entry(wildcards)["dataset"])


def audio_samples(wildcards):
    return _dataset_files(audio_entry(wildcards)["dataset"])["samples"]


def audio_sample_rate(wildcards):
    return config["datasets"][audio_entry(wildcards)["dataset"]]["sample_rate"]


def audio_gpus(wildcards):
    return 1 if audio_entry(wildcards)["gpu"] else 0


def audio_gan_spec(wildcards):
    # The sample sheets' size does not change the training.
    entry = audio_entry(wildcards)
    return {"label": entry["label"], "gan": {k: v for k, v in entry["gan"].items() if k != "samples_per_code"}}


def audio_eval_spec(wildcards):
    entry = audio_entry(wildcards)
    return {
        "label": entry["label"],
        "samples_per_code": entry["gan"]["samples_per_code"],
        "seed": entry["gan"]["seed"],
        "sample_rate": audio_sample_rate(wildcards),
    }


def audio_reference_spec(wildcards):
    entry = audio_entry(wildcards)
    return {"label": entry["label"], "reference_cnn": entry["reference_cnn"]}


def audio_network_model(wildcards):
    folder = "gan" if wildcards.network == "qnet" else "reference"
    return f"results/audio/{wildcards.name}/{folder}/model.pt"


def audio_analysis_spec(wildcards):
    entry = audio_entry(wildcards)
    return {k: entry[k] for k in ("label", "reference_level", "analysis")}


def audio_gamm_data_spec(wildcards):
    entry = audio_entry(wildcards)
    gamm = {k: entry["gamm"][k] for k in ("bins", "stop_ms", "layers")}
    return {"label": entry["label"], "gamm": gamm, "contrast": entry["contrast"]}


def audio_gamm_settings(wildcards):
    """What an engine's fit depends on; reference None: the first level in the data's order."""
    entry = audio_entry(wildcards)
    gamm = entry["gamm"]
    reference = entry["contrast"]["sounds"][0] if wildcards.analysis == "sounds" else entry["reference_level"]
    return {"reference": reference, **{k: gamm[k] for k in ("k", "random_smooths", "ar1", "grid")}}


_MGCV = {}


def mgcv_installed():
    """Whether Rscript with mgcv runs here (asked once per workflow run)."""
    if "ok" not in _MGCV:
        from repgeo.stats.gamm import mgcv_available

        _MGCV["ok"] = mgcv_available()
    return _MGCV["ok"]


def audio_engines(wildcards):
    engines = audio_entry(wildcards)["gamm"]["engines"]
    if engines == "auto":
        return ["mgcv", "python"] if mgcv_installed() else ["python"]
    if "mgcv" in engines and not mgcv_installed():
        raise WorkflowError(
            f"audio.{wildcards.name}.gamm.engines asks for mgcv but Rscript with mgcv is not installed; "
            "install it (Debian: apt-get install r-base-core r-cran-mgcv) or set engines: [python] or auto"
        )
    return list(engines)


def audio_gamm_engine_dirs(wildcards):
    base = f"results/audio/{wildcards.name}/gamm/{wildcards.network}/{wildcards.analysis}"
    return {engine: f"{base}.{engine}" for engine in audio_engines(wildcards)}


def audio_networks(entry):
    return ["qnet"] + (["reference"] if entry["reference_cnn"]["enabled"] else [])


def audio_outputs():
    out = []
    for name, entry in config["audio"].items():
        base = f"results/audio/{name}"
        out += [f"{base}/gan/confusion.png", f"{base}/gan/spectrograms.png"]
        analyses = ["words"] + (["sounds"] if entry["contrast"]["enabled"] else [])
        for network in audio_networks(entry):
            out.append(f"{base}/layers/{network}.png")
            out += [f"{base}/gamm/{network}/{a}{suffix}" for a in analyses for suffix in (".png", "_table.html")]
    return out


# --- generative ----------------------------------------------------------------------------------


wildcard_constraints:
    model="ae|swae|scfwae|scwae|scvmae|sksae|cwae",


# A generative entry's trainings depend only on TRAIN_KEYS (the evaluation, the feature
# classifier and the sheets have their own rules, so changing them retrains no autoencoder).


def generative_entry(wildcards):
    return config["generative"][wildcards.name]


def generative_data(wildcards):
    return _dataset_files(generative_entry(wildcards)["dataset"])


def generative_gpus(wildcards):
    return 1 if generative_entry(wildcards)["gpu"] else 0


def generative_train_spec(wildcards):
    entry = generative_entry(wildcards)
    return {k: entry[k] for k in GENERATIVE_TRAIN_KEYS}


def generative_feature_spec(wildcards):
    return {"feature_net": generative_entry(wildcards)["feature_net"]}


def generative_eval_spec(wildcards):
    return {"evaluation": generative_entry(wildcards)["evaluation"]}


def generative_sheet_spec(wildcards):
    return {"sheets": generative_entry(wildcards)["sheets"]}


def generative_dataset(wildcards):
    return generative_entry(wildcards)["dataset"]


def generative_model_files(kind):
    def files(wildcards):
        models = generative_entry(wildcards)["models"]
        return [f"results/generative/{wildcards.name}/{m}/{kind}" for m in models]

    return files


def generative_outputs():
    names = list(config["generative"])
    files = ["table.html", "curves.png", "reconstructions.png", "samples.png", "interpolations.png"]
    return expand("results/generative/{name}/{f}", name=names, f=files)


# --- inversion -----------------------------------------------------------------------------------


wildcard_constraints:
    regime="separate|joint|end_to_end",
    method="tv|ica|student_t|ica_features|student_t_features",
    expert="ica|student_t",
    layer="[A-Za-z0-9_]+",


# Each rule's params carry only the keys it depends on: changing the inverters, the priors or the
# pre-image settings never retrains the network, and a statistics setting reruns only statistics.


def inversion_entry(wildcards):
    return config["inversion"][wildcards.name]


def inversion_data(wildcards):
    return _dataset_files(inversion_entry(wildcards)["dataset"])


def inversion_gpus(wildcards):
    return 1 if inversion_entry(wildcards)["gpu"] else 0


def inversion_network_spec(wildcards):
    e = inversion_entry(wildcards)
    return {k: e[k] for k in ("arch", "width", "lrn", "weights", "label", "training")}


def inversion_statistics_spec(wildcards):
    e = inversion_entry(wildcards)
    return {"arch": e["arch"], "statistics": e["statistics"]}


def inversion_inverter_spec(wildcards):
    inv = inversion_entry(wildcards)["inverters"]
    return {"inverters": {k: v for k, v in inv.items() if k != "n_show"}}


def inversion_inverter_table_spec(wildcards):
    e = inversion_entry(wildcards)
    return {"arch": e["arch"], "inverters": e["inverters"]}


def inversion_prior_spec(wildcards):
    p = inversion_entry(wildcards)["priors"]
    return {"priors": {k: v for k, v in p.items() if k not in ("experts", "feature_layers", "feature_patch_size", "feature_components")}}


def inversion_preimage_spec(wildcards):
    return {"preimage": inversion_entry(wildcards)["preimage"]}


def inversion_tables_spec(wildcards):
    e = inversion_entry(wildcards)
    return {"arch": e["arch"], "layers": e["layers"]}


def inversion_prior_input(wildcards):
    """A pre-image job's priors: the image prior of its expert; for *_features methods also the
    feature-map priors of the feature layers before the inverted layer and the image prior's weight search."""
    method, base = wildcards.method, f"results/inversion/{wildcards.name}"
    expert = method_expert(method)
    if expert is None:
        return {}
    files = {"image_prior": f"{base}/priors/{expert}.pt"}
    if method.endswith("_features"):
        e = inversion_entry(wildcards)
        names = inversion_layer_names(e)
        before = [layer for layer in e["priors"]["feature_layers"] if names.index(layer) < names.index(wildcards.layer)]
        files["feature_priors"] = [f"{base}/priors/{expert}/{layer}.pt" for layer in before]
        files["image_search"] = f"{base}/preimages/{expert}/{wildcards.layer}_search.parquet"
    return files


def inversion_layer_names(entry):
    from repgeo.inversion.networks import layer_names

    return layer_names(entry["arch"], lrn=entry["lrn"])


def inversion_feature_prior_spec(wildcards):
    p = inversion_entry(wildcards)["priors"]
    return {"priors": {k: v for k, v in p.items() if k not in ("experts", "feature_layers", "patch_size", "components")}}


def inversion_inverter_files(wildcards):
    e = inversion_entry(wildcards)
    return [f"results/inversion/{wildcards.name}/inverters/{r}/{layer}.pt" for layer in e["layers"] for r in e["inverters"]["regimes"]]


def inversion_preimage_files(kind):
    def files(wildcards):
        e = inversion_entry(wildcards)
        return [f"results/inversion/{wildcards.name}/preimages/{m}/{layer}.{kind}" for layer in e["layers"] for m in e["preimage"]["methods"]]

    return files


def inversion_outputs():
    out = []
    for name, e in config["inversion"].items():
        base = f"results/inversion/{name}"
        out += [f"{base}/comparison.png", f"{base}/preimages.png", f"{base}/inverters.png"]
        out += [f"{base}/statistics/{layer}.png" for layer in e["layers"]]
        out += [f"{base}/priors/{x}.png" for x in e["priors"]["experts"]]
        out += [f"{base}/priors/{x}/{layer}_history.parquet" for x in e["priors"]["experts"] for layer in e["priors"]["feature_layers"]]
    return out


# --- inputs from outside results/ (docs/reliability.md, "Input tracking") ---------------------------

_SOURCE_MANIFESTS = {}


def source_manifest(wildcards):
    """The dataset's source manifest ({} for sources that read no files), computed once per
    workflow process (repgeo.data.manifest; docs/reliability.md, "Input tracking").

    When the dataset's files differ from the record, a run that executes jobs rewrites the
    record: newer than the prepared data, it makes prepare_data rerun. A dry run (or --dag,
    --summary) must not change what later runs compare with, so it writes the new manifest to
    Snakemake's temporary folder and gives that as the input: a different, newer input, so the
    rerun is planned all the same.
    """
    d = wildcards.dataset
    if d not in _SOURCE_MANIFESTS:
        record = f"results/data/{d}/source_manifest.tsv"
        executes = workflow.executor_plugin is not None and not workflow.dryrun
        scratch = None if executes else workflow.snakemake_tmp_dir / "source_manifests" / d / "source_manifest.tsv"
        update = refresh_manifest(config["datasets"][d], record, scratch=scratch)
        message = summarise(d, update, record) if update else None
        if message:
            logger.info(message)
        _SOURCE_MANIFESTS[d] = {"sources": str(update.input)} if update else {}
    return _SOURCE_MANIFESTS[d]


def generative_inception_weights(wildcards):
    # The optional Inception state dict is an input, so replacing it recomputes FID/KID and the tables.
    weights = generative_entry(wildcards)["evaluation"]["inception_weights"]
    return {"inception_weights": weights} if weights else {}


def inversion_weights(wildcards):
    # A user's weights file is an input, so replacing it reloads the network and reruns its dependants.
    weights = inversion_entry(wildcards)["weights"]
    return {"weights": weights} if weights else {}
