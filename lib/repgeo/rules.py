"""Which config keys each workflow rule reads: one table, the rules' params built from it.

Snakemake reruns a job when its ``params`` change, so a rule's params must carry exactly the
config it depends on: changing the inverters never retrains the network, a figure's colour never
re-embeds the data. :data:`PARAMS` says, for every rule, which parameter it gets from which keys;
:func:`rule_params` turns a row into the callables Snakemake evaluates per job, and
:func:`rerun_table` writes the table of docs/reruns.md from the same rows (a test checks both: the
table matches the builders' real behaviour, and the docs match the table).

Torch-free on purpose: the workflow imports this module (and :mod:`repgeo.registry`) to build its
DAG, so a dry run never imports torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from .registry import INIT_EXTREMES, RESNET18_WIDTH

Config = Mapping[str, Any]
Wildcards = Any  # snakemake.io.Wildcards: attribute access and .get()

# Sections whose entries are keyed by a wildcard other than ``name``.
ENTRY_WILDCARD = {"datasets": "dataset", "entropy_toys": "toy"}


def entry_of(config: Config, section: str, wildcards: Wildcards) -> Mapping[str, Any]:
    """The config entry of ``section`` a job's wildcards name."""
    return config[section][getattr(wildcards, ENTRY_WILDCARD.get(section, "name"))]


def _get(mapping: Mapping[str, Any], path: str) -> Any:
    for key in path.split("."):
        mapping = mapping[key]
    return mapping


def _without(value: Any, drops: Sequence[str]) -> Any:
    """``value`` (a mapping) with the dotted ``drops`` removed, in the original key order."""
    if not drops:
        return value
    here = {d for d in drops if "." not in d}
    deeper: dict[str, list[str]] = {}
    for d in drops:
        if "." in d:
            head, rest = d.split(".", 1)
            deeper.setdefault(head, []).append(rest)
    return {k: _without(v, deeper.get(k, ())) for k, v in value.items() if k not in here}


@dataclass(frozen=True)
class Param:
    """One rule parameter derived from the config.

    ``section``: the config section whose entry (named by the job's wildcards) is read, or None
    for a top-level key. ``reads``: dotted paths within that entry ("*": the whole entry) that
    the parameter depends on; ``drops``: paths excluded from them. ``also``: keys outside the
    entry it reads (for docs/reruns.md). ``build(entry, wildcards, config)`` computes the value.
    """

    section: str | None
    reads: tuple[str, ...]
    build: Callable[[Any, Wildcards, Config], Any]
    drops: tuple[str, ...] = ()
    also: tuple[str, ...] = ()

    def function(self, config: Config) -> Callable[[Wildcards], Any] | Any:
        """The value Snakemake gets: a function of the wildcards, or the value itself for a
        top-level key."""
        if self.section is None:
            return self.build(None, None, config)
        section = self.section
        return lambda wildcards: self.build(entry_of(config, section, wildcards), wildcards, config)


def select(
    section: str, *keep: str, drop: Sequence[str] = (), under: str | None = None, if_present: bool = False
) -> Param:
    """The entry's keys ``keep`` (dotted paths; "*" for all) minus ``drop``, as a dict in ``keep``'s
    order (the entry's order for "*"). ``under``: read within that sub-mapping and return its
    keys flat. ``if_present``: skip kept keys the entry does not have (exclusive alternatives)."""
    keep = keep or ("*",)

    def build(entry: Mapping[str, Any], wildcards: Wildcards, config: Config) -> dict[str, Any]:
        base = entry[under] if under else entry
        if keep == ("*",):
            return _without(base, drop)
        out: dict[str, Any] = {}
        for path in keep:
            head, _, rest = path.partition(".")
            if if_present and head not in base:
                continue
            if rest:
                out.setdefault(head, {})[rest] = _get(base[head], rest)
            else:
                out[head] = _without(base[head], [d.split(".", 1)[1] for d in drop if d.startswith(head + ".")])
        return out

    prefix = f"{under}." if under else ""
    reads = tuple(prefix + k for k in keep) if keep != ("*",) else ((under,) if under else ("*",))
    return Param(section, reads, build, drops=tuple(prefix + d for d in drop))


def value(section: str, path: str) -> Param:
    """One key of the entry, as is."""
    return Param(section, (path,), lambda entry, wildcards, config: _get(entry, path))


def top(path: str) -> Param:
    """A top-level key of the config (``device``, ``report.dpi``)."""
    return Param(None, (), lambda entry, wildcards, config: _get(config, path), also=(path,))


DEVICE = top("device")
DPI = top("report.dpi")

# --- keys shared by several rules -----------------------------------------------------------------

# The diffusion sweep's keys; the embedding gets the whole entry but the figure's colour.
SWEEP_KEYS = ("dataset", "split", "n", "seed", "kernel", "epsilon", "epsilon_rule", "sweep")
GEOMETRY_INPUT_KEYS = ("dataset", "diffusion", "coordinates", "split", "n", "seed")
GEOMETRY_ESTIMATOR_KEYS = ("mode", "k", "seed", "improved")
# Keys of a training entry that are not the run's own settings: which runs exist, where they run
# and what the entropy stage does with them. Changing them reruns no training.
TRAINING_OUTER_KEYS = ("modes", "seeds", "gpu", "entropy")
# The evaluation subset: the input clustering depends only on these.
EVAL_KEYS = ("dataset", "eval_n", "eval_seed")
ENTROPY_CLUSTER_KEYS = ("n_clusters", "seed")
# The spectra of the embeddings (the trajectory's t and cse_bins act on cached spectra).
SPECTRUM_KEYS = ("sigma", "alpha", "n_neighbors", "max_n", "dtype", "n_repetitions", "seed")
ZOO_EVAL_KEYS = ("dataset", "label", "eval_n", "eval_seed")
ZOO_TRAIN_KEYS = (*ZOO_EVAL_KEYS, "batch_size", "lr", "weight_decay", "hidden", "seed")
# A generative entry's trainings depend only on these (the evaluation, the feature classifier and
# the sheets have their own rules).
GENERATIVE_TRAIN_KEYS = (
    "arch",
    "latent_dim",
    "width",
    "depth",
    "epochs",
    "batch_size",
    "lr",
    "cost",
    "weight",
    "n_projections",
    "eval_every",
    "seed",
    "compile",
)

# --- builders that are more than a selection --------------------------------------------------------


def knn_size(entry: Mapping[str, Any]) -> int:
    """Neighbours the cached kNN graph of a geometry entry needs: ``k``, and in improved mode also
    the wider lists of the dimension (``improved.k_dimension``) and curvature (``improved.k_fit``)."""
    k = int(entry["k"])
    if entry["mode"] == "parity":
        return k
    return max(k, int(entry["improved"]["k_dimension"]), int(entry["improved"]["k_fit"]))


def _training_spec(entry, wildcards, config):
    """The run's settings, the contrastive ones flattened in for the contrastive mode."""
    spec = _without(entry, (*TRAINING_OUTER_KEYS, "contrastive"))
    if wildcards.get("mode") == "contrastive":
        spec.update(entry["contrastive"])
    return spec


def training_runs(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every (mode, seed) run of a training entry."""
    return [{"mode": m, "seed": s} for m in entry["modes"] for s in entry["seeds"]]


def init_runs(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The initialisation study's trainings: the lowest and highest initial DSE, every seed."""
    return [{"extreme": e, "seed": s} for e in INIT_EXTREMES for s in entry["seeds"]]


def _zoo_member_spec(entry, wildcards, config):
    arch, width = wildcards.member.rsplit("-w", 1)
    return {**{k: entry[k] for k in ZOO_TRAIN_KEYS}, "arch": arch, "width": int(width), "epochs": max(entry["epochs"])}


def zoo_external(entry: Mapping[str, Any], name: str, where: str = "entropy_zoo") -> dict[str, Any]:
    """The external model ``name`` of a zoo entry."""
    for ext in entry["external"]:
        if ext["name"] == name:
            return ext
    raise ValueError(f"{where} has no external model {name!r}")


def zoo_members(entry: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """Every zoo member: trained (arch x width, the configured epochs) and external (last epoch),
    with the files of its embeddings and history."""
    base = f"results/entropy_zoo/{name}"
    members = [
        {"member": f"{a}-w{w}", "model": a, "width": w, "epochs": sorted(entry["epochs"])}
        for a in entry["archs"]
        for w in ([RESNET18_WIDTH] if a == "resnet18" else entry["widths"])
    ]
    members += [
        {"member": f"ext-{e['name']}", "model": e["arch"], "width": None, "epochs": None} for e in entry["external"]
    ]
    for m in members:
        m["embeddings"] = f"{base}/{m['member']}/embeddings.pt"
        m["history"] = f"{base}/{m['member']}/history.parquet"
    return members


def _audio_eval_spec(entry, wildcards, config):
    return {
        "label": entry["label"],
        "samples_per_code": entry["gan"]["samples_per_code"],
        "seed": entry["gan"]["seed"],
        "sample_rate": config["datasets"][entry["dataset"]]["sample_rate"],
    }


def _audio_gamm_settings(entry, wildcards, config):
    """What an engine's fit depends on; reference None: the first level in the data's order."""
    gamm = entry["gamm"]
    reference = entry["contrast"]["sounds"][0] if wildcards.analysis == "sounds" else entry["reference_level"]
    return {"reference": reference, **{k: gamm[k] for k in ("k", "random_smooths", "ar1", "grid")}}


@cache
def mgcv_installed() -> bool:
    """Whether Rscript with mgcv runs here (asked once per process)."""
    from .stats.gamm import mgcv_available

    return mgcv_available()


def audio_engines(entry: Mapping[str, Any], name: str) -> list[str]:
    """The GAMM engines an audio entry runs: ``auto`` is both where mgcv is installed, else Python."""
    engines = entry["gamm"]["engines"]
    if engines == "auto":
        return ["mgcv", "python"] if mgcv_installed() else ["python"]
    if "mgcv" in engines and not mgcv_installed():
        raise ValueError(
            f"audio.{name}.gamm.engines asks for mgcv but Rscript with mgcv is not installed; "
            "install it (Debian: apt-get install r-base-core r-cran-mgcv) or set engines: [python] or auto"
        )
    return list(engines)


# --- the table --------------------------------------------------------------------------------------

_GEOMETRY_TITLE = Param(
    "geometry",
    ("dataset", "diffusion", "mode"),
    lambda e, w, c: f"{w.name} ({e.get('diffusion', e.get('dataset'))}, {e['mode']})",
)


def _geometry(*stage_keys: str) -> Param:
    return select("geometry", *GEOMETRY_ESTIMATOR_KEYS, *stage_keys, if_present=True)


_INIT_TRAIN_DROP = ("init_stds", "seeds", "gpu", "entropy")
_PRIOR_FEATURE_KEYS = ("experts", "feature_layers", "feature_patch_size", "feature_components")
_PRIOR_IMAGE_KEYS = ("experts", "feature_layers", "patch_size", "components")

PARAMS: dict[str, dict[str, Param]] = {
    # data
    "prepare_data": {"spec": select("datasets")},
    "data_overview": {"names": Param(None, (), lambda e, w, c: list(c["datasets"]), also=("datasets",))},
    # diffusion
    "diffusion_sweep": {"spec": select("diffusion", *SWEEP_KEYS), "device": DEVICE},
    "diffusion_embed": {"spec": select("diffusion", drop=("color_by",)), "device": DEVICE},
    "diffusion_figures": {
        "color_by": value("diffusion", "color_by"),
        "dataset": value("diffusion", "dataset"),
        "dpi": DPI,
    },
    # geometry
    "geometry_points": {"spec": select("geometry", *GEOMETRY_INPUT_KEYS, if_present=True)},
    "geometry_knn": {
        "k": Param("geometry", ("k", "mode", "improved.k_dimension", "improved.k_fit"), lambda e, w, c: knn_size(e))
    },
    "geometry_dimension": {"spec": _geometry("n0_dimension")},
    "geometry_curvature": {"spec": _geometry("n0_curvature", "curvature_dim")},
    "geometry_baselines": {"spec": _geometry("quadratic_fit_neighbors")},
    "geometry_nulls": {"spec": _geometry("n0_dimension", "n0_curvature")},
    "geometry_attributes": {"spec": _geometry("attributes", "regions")},
    "geometry_figures": {
        "title": _GEOMETRY_TITLE,
        "first_three": Param("geometry", ("diffusion",), lambda e, w, c: "diffusion" in e),
        "dpi": DPI,
    },
    "geometry_attribute_figure": {"title": _GEOMETRY_TITLE, "dpi": DPI},
    # training and entropy
    "train_classifier": {
        "spec": Param("training", ("*",), _training_spec, drops=TRAINING_OUTER_KEYS),
        "device": DEVICE,
    },
    "entropy_input_groups": {
        "eval_spec": select("training", *EVAL_KEYS),
        "spec": select("training", *ENTROPY_CLUSTER_KEYS, under="entropy"),
    },
    "entropy_spectra": {"spec": select("training", *SPECTRUM_KEYS, under="entropy"), "device": DEVICE},
    "entropy_trajectory": {
        "runs": Param("training", ("modes", "seeds"), lambda e, w, c: training_runs(e)),
        # gpu says only where the runs train: it does not redo the trajectory.
        "training": select("training", drop=("gpu",)),
    },
    "entropy_figure": {
        "title": Param("training", ("arch", "dataset"), lambda e, w, c: f"{w.name}: {e['arch']} on {e['dataset']}"),
        "dpi": DPI,
    },
    "entropy_toy": {"spec": select("entropy_toys")},
    "entropy_toy_figure": {"dpi": DPI},
    "entropy_init_probe": {"spec": select("entropy_init", drop=("epochs", "gpu")), "device": DEVICE},
    "entropy_init_train": {"spec": select("entropy_init", drop=_INIT_TRAIN_DROP), "device": DEVICE},
    "entropy_init_summary": {
        "runs": Param("entropy_init", ("seeds",), lambda e, w, c: init_runs(e)),
        "spec": select("entropy_init", "entropy"),
        "dpi": DPI,
        "device": DEVICE,
    },
    "entropy_zoo_train": {
        "spec": Param("entropy_zoo", (*ZOO_TRAIN_KEYS, "epochs"), _zoo_member_spec),
        "device": DEVICE,
    },
    "entropy_zoo_external": {
        "spec": select("entropy_zoo", *ZOO_EVAL_KEYS),
        "member": Param(
            "entropy_zoo",
            ("external",),
            lambda e, w, c: {**zoo_external(e, w.external, f"entropy_zoo.{w.name}"), "name": w.external},
        ),
        "device": DEVICE,
    },
    "entropy_zoo_input_groups": {
        "eval_spec": select("entropy_zoo", *ZOO_EVAL_KEYS),
        "spec": select("entropy_zoo", *ENTROPY_CLUSTER_KEYS, under="entropy"),
    },
    "entropy_zoo_table": {
        "members": Param(
            "entropy_zoo", ("archs", "widths", "epochs", "external"), lambda e, w, c: zoo_members(e, w.name)
        ),
        "spec": select("entropy_zoo", "dataset", "entropy"),
        "device": DEVICE,
    },
    "entropy_zoo_figure": {"dpi": DPI},
    # audio
    "audio_train_gan": {"spec": select("audio", "label", "gan", drop=("gan.samples_per_code",)), "device": DEVICE},
    "audio_gan_evaluate": {
        "spec": Param(
            "audio",
            ("label", "gan.samples_per_code", "gan.seed", "dataset"),
            _audio_eval_spec,
            also=("datasets.<dataset>.sample_rate",),
        ),
        "dpi": DPI,
        "device": DEVICE,
    },
    "audio_train_reference": {"spec": select("audio", "label", "reference_cnn"), "device": DEVICE},
    "audio_layers": {"spec": select("audio", "label", "reference_level", "analysis"), "dpi": DPI, "device": DEVICE},
    "audio_gamm_data": {
        "spec": select("audio", "label", "gamm.bins", "gamm.stop_ms", "gamm.layers", "contrast"),
        "sample_rate": Param(
            "audio",
            ("dataset",),
            lambda e, w, c: c["datasets"][e["dataset"]]["sample_rate"],
            also=("datasets.<dataset>.sample_rate",),
        ),
    },
    "audio_gamm_mgcv": {
        "settings": Param(
            "audio",
            ("contrast.sounds", "reference_level", "gamm.k", "gamm.random_smooths", "gamm.ar1", "gamm.grid"),
            _audio_gamm_settings,
        ),
    },
    "audio_gamm_python": {
        "settings": Param(
            "audio",
            ("contrast.sounds", "reference_level", "gamm.k", "gamm.random_smooths", "gamm.ar1", "gamm.grid"),
            _audio_gamm_settings,
        ),
    },
    "audio_gamm_tables": {
        "engines": Param("audio", ("gamm.engines",), lambda e, w, c: audio_engines(e, w.name)),
        "dpi": DPI,
    },
    # generative
    "generative_feature_net": {"spec": select("generative", "feature_net"), "device": DEVICE},
    "generative_train": {"spec": select("generative", *GENERATIVE_TRAIN_KEYS), "device": DEVICE},
    "generative_evaluate": {"spec": select("generative", "evaluation"), "device": DEVICE},
    "generative_tables": {
        "spec": select("generative", "sheets"),
        "dataset": value("generative", "dataset"),
        "dpi": DPI,
    },
    # inversion
    "inversion_network": {
        "spec": select("inversion", "arch", "width", "lrn", "weights", "label", "training"),
        "device": DEVICE,
    },
    "inversion_statistics": {"spec": select("inversion", "arch", "statistics"), "dpi": DPI},
    "inversion_inverter": {"spec": select("inversion", "inverters", drop=("inverters.n_show",)), "device": DEVICE},
    "inversion_inverter_tables": {"spec": select("inversion", "arch", "inverters"), "dpi": DPI},
    "inversion_prior": {
        "spec": select("inversion", "priors", drop=tuple(f"priors.{k}" for k in _PRIOR_FEATURE_KEYS)),
        "dpi": DPI,
    },
    "inversion_feature_prior": {
        "spec": select("inversion", "priors", drop=tuple(f"priors.{k}" for k in _PRIOR_IMAGE_KEYS))
    },
    "inversion_preimage": {"spec": select("inversion", "preimage"), "device": DEVICE},
    "inversion_tables": {"spec": select("inversion", "arch", "layers"), "dpi": DPI},
}


# What else a key does, for docs/reruns.md: keys that decide which jobs exist (read by the input
# functions and targets of the branch's .smk), keys that only say where jobs run, keys only checked
# at start.
KEY_NOTES: dict[str, str] = {
    "geometry.baselines": "adds or removes the baselines job (the tables rerun with the new input)",
    "geometry.null_controls": "adds or removes the null-control job (the tables rerun with the new input)",
    "geometry.color_by": "nothing: only checked against the columns at start",
    "training.gpu": "nothing: where the jobs run",
    "entropy_init.gpu": "nothing: where the jobs run",
    "entropy_zoo.gpu": "nothing: where the jobs run",
    "audio.gpu": "nothing: where the jobs run",
    "training.modes": "also which runs exist",
    "training.seeds": "also which runs exist",
    "entropy_init.seeds": "also which trainings exist",
    "entropy_zoo.archs": "also which members exist",
    "entropy_zoo.widths": "also which members exist",
    "entropy_zoo.external": "also which external members exist",
    "audio.reference_cnn": "enabled: also whether the reference network's layers and GAMMs exist",
    "audio.contrast.enabled": "also whether the sounds analysis exists",
    "inversion.layers": "also which layers' statistics, inverters and pre-images exist",
    "inversion.inverters.regimes": "also which inverters exist",
    "inversion.preimage": "methods: also which pre-images exist",
    "generative.models": "which models are trained and evaluated (the tables rerun with the new inputs)",
    "generative.gpu": "nothing: where the jobs run",
    "inversion.dataset": "the network, statistics, inverters, priors and pre-images read the new dataset's files (they rerun as their inputs change)",
    "inversion.gpu": "nothing: where the jobs run",
    "inversion.priors.experts": "which learned priors (and their pre-image methods' inputs) exist",
    "inversion.priors.feature_layers": "which feature-map priors exist and which the *_features pre-images take",
}


def rule_params(config: Config, rule: str) -> dict[str, Any]:
    """The ``params`` of ``rule`` for Snakemake (``params: **rule_params(config, "diffusion_sweep")``)."""
    return {name: param.function(config) for name, param in PARAMS[rule].items()}


# --- docs/reruns.md ------------------------------------------------------------------------------------


def reads_path(param: Param, path: str) -> bool:
    """Whether ``param`` depends on the entry key ``path`` (dotted)."""
    parts = path.split(".")

    def covers(prefix: str) -> bool:
        if prefix == "*":
            return True
        p = prefix.split(".")
        return parts[: len(p)] == p or p[: len(parts)] == parts

    def dropped(prefix: str) -> bool:
        p = prefix.split(".")
        return parts[: len(p)] == p

    return any(covers(r) for r in param.reads) and not any(dropped(d) for d in param.drops)


def readers(section: str, path: str) -> list[str]:
    """The rules whose params read ``path`` of a ``section`` entry."""
    return [
        rule
        for rule, params in PARAMS.items()
        if any(p.section == section and reads_path(p, path) for p in params.values())
    ]


def _subschema(schema: Mapping[str, Any], section: str, key: str) -> Mapping[str, Any]:
    """The schema of ``key`` in an entry of ``section`` (references followed)."""
    node = schema["$defs"][section]["properties"][key]
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def rerun_table(schema: Mapping[str, Any]) -> str:
    """The markdown table of docs/reruns.md: for each config key, the rules whose params read it
    (Snakemake then reruns those jobs and everything downstream of them)."""
    defs = schema["$defs"]
    rows: list[tuple[str, list[str], str]] = []
    sections = ["datasets", *[s for s in schema["properties"] if s not in ("device", "threads", "datasets", "report")]]
    for section in sections:
        prop = schema["properties"][section]
        if section == "datasets":
            keys = ["*"]
        elif "properties" in prop:
            keys = list(prop["properties"])
        else:
            keys = list(defs[section]["properties"])
        expanded: list[str] = []
        for key in keys:
            partial = any(
                r.startswith(key + ".")
                for params in PARAMS.values()
                for p in params.values()
                if p.section == section
                for r in (*p.reads, *p.drops)
            )
            sub = _subschema(schema, section, key) if partial else {}
            expanded += [f"{key}.{k}" for k in sub.get("properties", {})] or [key]
        groups: dict[tuple[tuple[str, ...], str], list[str]] = {}
        for path in expanded:
            note = KEY_NOTES.get(f"{section}.{path}", "")
            groups.setdefault((tuple(readers(section, path)), note), []).append(path)
        for (found, note), paths in groups.items():
            if section == "datasets":
                label = "`datasets.<name>`"
            elif section in ENTRY_WILDCARD:
                label = f"`{section}`: " + ", ".join(f"`{p}`" for p in paths)
            else:
                label = f"`{section}.<name>`: " + ", ".join(f"`{p}`" for p in paths)
            rows.append((label, list(found), note))
    for key in ("device", "report.dpi"):
        found = [rule for rule, params in PARAMS.items() if any(key in p.also for p in params.values())]
        rows.append((f"`{key}`", found, ""))
    rows.append(("`threads`", [], "nothing: resources only"))
    lines = ["| you change | rules whose params read it (they rerun, and everything downstream) |", "|---|---|"]
    for label, found, note in rows:
        cell = ", ".join(f"`{r}`" for r in found) if found else "no rule's params"
        lines.append(f"| {label} | {cell}{f' ({note})' if note else ''} |")
    return "\n".join(lines) + "\n"


START_MARK = "<!-- generated by `python -m repgeo.rules`: do not edit -->\n"
END_MARK = "<!-- end of the generated table -->"


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a command for the docs
    """``python -m repgeo.rules``: print the table of docs/reruns.md; ``--write`` puts it there."""
    import sys
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[2]
    schema = yaml.safe_load((root / "workflow/schemas/config.schema.yaml").read_text())
    table = rerun_table(schema)
    args = sys.argv[1:] if argv is None else argv
    if "--write" not in args:
        print(table, end="")
        return
    page = root / "docs" / "reruns.md"
    text = page.read_text()
    start, end = text.index(START_MARK) + len(START_MARK), text.index(END_MARK)
    page.write_text(text[:start] + table + text[end:])
    print(f"wrote the table to {page}")


if __name__ == "__main__":  # pragma: no cover
    main()
