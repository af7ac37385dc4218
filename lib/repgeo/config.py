"""Configuration checks: JSON-schema validation with readable errors, defaults, data paths.

The workflow validates its config with :func:`check_config` before it builds the DAG, so a
wrong type, an unknown key, an out-of-range value or a missing data path stops the run before
any job, with one line per problem that names the key (as a dotted path) and what is expected.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found."""

    def __init__(self, problems: Iterable[str], source: str = "config"):
        self.problems = list(problems)
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {source} ({len(self.problems)} problem(s)):\n{body}")


def load_schema(path: str | Path) -> dict[str, Any]:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _with_defaults(cls):
    """A validator class that fills in ``default`` values of ``properties`` as it validates."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(cls, {"properties": set_defaults})


_Filling = _with_defaults(Draft202012Validator)


def validate(config: Mapping[str, Any], schema: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate ``config`` against ``schema``; return a copy with defaults filled in.

    Raises :class:`ConfigError` listing every problem.
    """
    cfg = copy.deepcopy(dict(config))
    # Validate first without side effects: defaults filled inside a failing branch could
    # otherwise hide the real error.
    problems = [_describe(e) for e in _leaf_errors(Draft202012Validator(schema).iter_errors(cfg))]
    if problems:
        raise ConfigError(sorted(set(problems)), source)
    for _ in _Filling(schema).iter_errors(cfg):
        pass
    return cfg


def _leaf_errors(errors: Iterable[ValidationError]) -> list[ValidationError]:
    """The specific errors behind if/then and oneOf wrappers."""
    out: list[ValidationError] = []
    for e in errors:
        if e.validator in ("oneOf", "anyOf") and e.context:
            # A value may fail every alternative; report the alternative that got furthest,
            # unless all fail on type, in which case the wrapper's own message is clearer.
            non_type = [c for c in e.context if c.validator not in ("type", "const")]
            out.extend(_leaf_errors(non_type) if non_type else [e])
        else:
            out.append(e)
    return out


def _dotted(path: Iterable[Any]) -> str:
    parts = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else (("." if parts else "") + str(p)))
    return "".join(parts) or "(top level)"


def _describe(e: ValidationError) -> str:
    where = _dotted(e.absolute_path)
    schema = e.schema if isinstance(e.schema, dict) else {}
    hint = f" ({schema['description']})" if "description" in schema else ""
    v = e.validator
    if v == "propertyNames" or "propertyNames" in e.absolute_schema_path:
        return f"{where}: invalid name {e.instance!r}: names start with a letter or digit and use letters, digits, '_', '.', '-'"
    if v == "additionalProperties":
        extra = sorted(set(e.instance) - set(schema.get("properties", {})))
        allowed = ", ".join(sorted(schema.get("properties", {}))) or "none"
        keys = ", ".join(repr(k) for k in extra)
        loc = "at the top level" if where == "(top level)" else f"in {where}"
        return f"unknown key {keys} {loc}; allowed keys: {allowed}"
    if v == "required":
        return f"{where}: missing required key {e.message.split(' ')[0]}"
    if v == "type":
        expected = e.validator_value if isinstance(e.validator_value, str) else " or ".join(e.validator_value)
        return f"{where}: expected {expected}, got {e.instance!r} ({type(e.instance).__name__}){hint}"
    if v == "enum":
        return f"{where}: {e.instance!r} is not one of {e.validator_value}"
    if v == "const":
        return f"{where}: expected {e.validator_value!r}, got {e.instance!r}"
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        return f"{where}: expected a value {bound} {e.validator_value}, got {e.instance!r}{hint}"
    if v == "pattern":
        return f"{where}: {e.instance!r} does not match the pattern {e.validator_value}{hint}"
    if v in ("oneOf", "anyOf"):
        options = []
        for c in e.context or []:
            if c.validator == "type":
                options.append(c.validator_value if isinstance(c.validator_value, str) else " or ".join(c.validator_value))
            elif c.validator == "const":
                options.append(repr(c.validator_value))
        expected = " or ".join(dict.fromkeys(options)) or "a valid value"
        return f"{where}: expected {expected}, got {e.instance!r} ({type(e.instance).__name__}){hint}"
    return f"{where}: {e.message}{hint}"


# What each file-based source expects at its path, for the error message.
_PATH_KINDS = {
    "mnist": "a Keras-style mnist.npz or a folder with the four idx files",
    "cifar10": "a folder with CIFAR-10's python batches or an npz with x_train/y_train/x_test/y_test",
    "olivetti": "an npz with images and target",
    "image_folder": "a folder with one subfolder of images per class",
    "celeba": "a folder with img_align_celeba/ and list_attr_celeba.txt",
    "fsdd": "the FSDD folder with recordings/{digit}_{speaker}_{index}.wav",
}


AUDIO_SOURCES = ("spoken_words", "fsdd", "timit")
IMAGE_SOURCES = ("sklearn_digits", "lfw_faces", "natural_images", "mnist", "cifar10", "olivetti", "image_folder", "celeba")


def check_references(config: Mapping[str, Any], base: str | Path = ".") -> list[str]:
    """Problems the schema cannot see: missing data paths and dangling dataset names."""
    problems: list[str] = []
    datasets = config.get("datasets", {})
    for name, spec in datasets.items():
        if "path" in spec:
            p = Path(base) / spec["path"]
            if not p.exists():
                kind = _PATH_KINDS.get(spec.get("source"), "an existing path")
                problems.append(
                    f"datasets.{name}.path: {spec['path']!r} does not exist "
                    f"(resolved to {p.resolve()}); source {spec.get('source')} expects {kind}"
                )
            elif spec.get("source") == "celeba" and p.is_dir():
                for need in ("img_align_celeba", "list_attr_celeba.txt"):
                    if not (p / need).exists():
                        problems.append(f"datasets.{name}.path: {spec['path']!r} has no {need} (CelebA layout expected)")
    for name, spec in config.get("geometry", {}).items():
        sources = [k for k in ("dataset", "diffusion") if k in spec]
        if len(sources) != 1:
            problems.append(f"geometry.{name}: give exactly one of dataset or diffusion (found {sources or 'neither'})")
        elif "dataset" in spec and spec["dataset"] not in datasets:
            problems.append(f"geometry.{name}.dataset: {spec['dataset']!r} is not a dataset of this config; defined: {', '.join(sorted(datasets))}")
        elif "diffusion" in spec and spec["diffusion"] not in config.get("diffusion", {}):
            problems.append(
                f"geometry.{name}.diffusion: {spec['diffusion']!r} is not a diffusion run of this config; "
                f"defined: {', '.join(sorted(config.get('diffusion', {}))) or 'none'}"
            )
        if "coordinates" in spec and spec.get("coordinates") and "dataset" in spec:
            problems.append(f"geometry.{name}.coordinates: only applies to diffusion input")
    for name, spec in config.get("entropy_zoo", {}).items():
        names = [e["name"] for e in spec.get("external", [])]
        if len(set(names)) != len(names):
            problems.append(f"entropy_zoo.{name}.external: model names must be unique, got {names}")
        for i, ext in enumerate(spec.get("external", [])):
            if not (Path(base) / ext["state_dict"]).exists():
                problems.append(f"entropy_zoo.{name}.external[{i}].state_dict: {ext['state_dict']!r} does not exist")
    for name, spec in config.get("audio", {}).items():
        source = datasets.get(spec.get("dataset"), {}).get("source")
        if source is not None and source not in AUDIO_SOURCES:
            problems.append(f"audio.{name}.dataset: {spec['dataset']!r} is a {source} dataset; the audio branch needs one of sources {', '.join(AUDIO_SOURCES)}")
    for name, spec in config.get("generative", {}).items():
        source = datasets.get(spec.get("dataset"), {}).get("source")
        if source is not None and source not in IMAGE_SOURCES:
            problems.append(f"generative.{name}.dataset: {spec['dataset']!r} is a {source} dataset; the generative branch needs images, one of sources {', '.join(IMAGE_SOURCES)}")
        weights = spec.get("evaluation", {}).get("inception_weights")
        if weights and not (Path(base) / weights).is_file():
            problems.append(f"generative.{name}.evaluation.inception_weights: {weights!r} is not a file; give a torchvision inception_v3 state-dict file or null")
    problems += _inversion_problems(config, datasets, base)
    for section in ("diffusion", "training", "entropy_init", "entropy_zoo", "audio", "generative", "inversion"):
        for name, spec in config.get(section, {}).items():
            ds = spec.get("dataset")
            if ds not in datasets:
                problems.append(
                    f"{section}.{name}.dataset: {ds!r} is not a dataset of this config; defined: {', '.join(sorted(datasets))}"
                )
    return problems


def _inversion_problems(config: Mapping[str, Any], datasets: Mapping[str, Any], base: str | Path) -> list[str]:
    """Inversion entries: an image dataset, weights that exist, options of the architecture, layer names it has."""
    problems: list[str] = []
    entries = config.get("inversion", {})
    if not entries:
        return problems
    from .inversion.networks import TORCHVISION_ARCHITECTURES, layer_names

    for name, spec in entries.items():
        where = f"inversion.{name}"
        arch = spec.get("arch", "vgg_small")
        source = datasets.get(spec.get("dataset"), {}).get("source")
        if source is not None and source not in IMAGE_SOURCES:
            problems.append(f"{where}.dataset: {spec['dataset']!r} is a {source} dataset; the inversion branch needs images, one of sources {', '.join(IMAGE_SOURCES)}")
        weights = spec.get("weights")
        if weights and arch not in TORCHVISION_ARCHITECTURES:
            problems.append(f"{where}.weights: torchvision weights exist only for {', '.join(TORCHVISION_ARCHITECTURES)}, not {arch}; remove weights or change arch")
        elif weights and not (Path(base) / weights).is_file():
            problems.append(f"{where}.weights: {weights!r} is not a file; give a torchvision {arch} state-dict file or null")
        if spec.get("width") is not None and arch != "vgg_small":
            problems.append(f"{where}.width: only vgg_small has a width; {arch} is torchvision's, set width: null")
        if spec.get("lrn") and arch != "alexnet":
            problems.append(f"{where}.lrn: only alexnet takes the local response normalisation; set lrn: false")
        names = layer_names(arch, lrn=bool(spec.get("lrn")) and arch == "alexnet")
        asked = list(spec.get("layers", [])) + list(spec.get("priors", {}).get("feature_layers", []))
        unknown = [layer for layer in asked if layer not in names]
        if unknown:
            problems.append(f"{where}.layers: {unknown} are not layers of {arch}; valid names: {', '.join(names)}")
        beyond = [layer for layer in spec.get("layers", []) if layer in names and names.index(layer) >= names.index("fc6")]
        if beyond:
            problems.append(f"{where}.layers: {beyond} are fully connected; the inverters and feature-map statistics need maps, choose layers up to pool5")
        experts = set(spec.get("priors", {}).get("experts", ["ica", "student_t"]))
        methods = spec.get("preimage", {}).get("methods", [])
        missing = [m for m in methods if m != "tv" and m.removesuffix("_features") not in experts]
        if missing:
            problems.append(f"{where}.preimage.methods: {missing} use learned priors that priors.experts does not train; add them to priors.experts")
        if any(m.endswith("_features") for m in methods) and not spec.get("priors", {}).get("feature_layers"):
            problems.append(f"{where}.preimage.methods: the *_features methods need feature-map priors; list layers in priors.feature_layers")
    return problems


def check_config(config: Mapping[str, Any], schema_path: str | Path, base: str | Path = ".") -> dict[str, Any]:
    """Validate, fill defaults and check references; raise :class:`ConfigError` on any problem."""
    cfg = validate(config, load_schema(schema_path))
    problems = check_references(cfg, base)
    if problems:
        raise ConfigError(problems)
    return cfg
