# Shared set-up of every stage: config validation, wildcard constraints from the registries, and
# the generic input, params and resource functions. Each branch's own helpers sit at the top of
# its .smk. This layer imports only torch-free modules (repgeo.config, repgeo.rules,
# repgeo.registry, repgeo.data.manifest), so building the DAG never imports torch.
from pathlib import Path

from snakemake.logging import logger

from repgeo import registry
from repgeo.config import check_config
from repgeo.data.manifest import refresh_manifest, summarise
from repgeo.rules import entry_of, rule_params
from repgeo.targets import (
    all_targets,
    audio_gamm_engine_dirs,
    audio_network_model,
    audio_samples,
    data_files,
    generative_model_files,
    geometry_figure_inputs,
    geometry_source,
    geometry_tables_inputs,
    init_summary_inputs,
    inversion_inverter_files,
    inversion_preimage_files,
    inversion_prior_input,
    trajectory_inputs,
    user_file,
    zoo_state_dict,
    zoo_table_inputs,
)
from repgeo.runtime import prefer_fast_blas

# Jobs inherit this process's environment. On AVX-512 CPUs that OpenBLAS does not recognise it
# falls back to AVX2 kernels; SkylakeX ones double GEMM throughput (docs/benchmarks.md, performance).
prefer_fast_blas()

# Stop before any job on a wrong type, unknown key, out-of-range value or missing data path; the
# schema fills every default, so the stages index their entries without defaults of their own.
_checked = check_config(config, Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
config.clear()
config.update(_checked)

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_names = registry.wildcard_pattern


wildcard_constraints:
    dataset=NAME,
    name=NAME,
    external=NAME,
    seed=r"\d+",
    mode=_names(registry.TRAINING_MODES),
    toy=_names(registry.ENTROPY_TOYS),
    extreme=_names(registry.INIT_EXTREMES),
    member=rf"({_names(registry.CLASSIFIER_ARCHITECTURES)})-w\d+",
    network=_names(registry.AUDIO_NETWORKS),
    analysis=_names(registry.AUDIO_ANALYSES),
    model=_names(registry.GENERATIVE_MODELS),
    regime=_names(registry.INVERTER_REGIMES),
    method=_names(registry.PREIMAGE_METHODS),
    expert=_names(registry.PRIOR_EXPERTS),
    layer="[A-Za-z0-9_]+",


def params_of(rule):
    """The rule's config-derived params, from the one table of what each rule reads (repgeo.rules)."""
    return rule_params(config, rule)


def dataset_files(section):
    """Input function: the prepared arrays and samples of the dataset an entry of ``section`` names."""
    return lambda wildcards: data_files(entry_of(config, section, wildcards)["dataset"])


def gpus(section):
    """Resource function: one GPU for an entry of ``section`` with ``gpu: true``."""
    return lambda wildcards: 1 if entry_of(config, section, wildcards)["gpu"] else 0


def threads_of(stage):
    return config["threads"][stage]


def mem_mb(base):
    """Memory request that grows with each retry (--retries)."""
    return lambda wildcards, attempt: base * attempt


def runtime_min(base):
    return lambda wildcards, attempt: base * attempt


def inputs(function):
    """Input function: a function of (config, wildcards) from repgeo.targets, bound to this run's config."""
    return lambda wildcards: function(config, wildcards)


def all_outputs():
    return all_targets(config)


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
