"""Configuration checks: JSON-schema validation with readable errors, defaults, data paths.

The workflow validates its config with :func:`check_config` before it builds the DAG, so a
wrong type, an unknown key, an out-of-range value, NaN or infinity, a missing data path, a
column name the dataset will not have or a count the data cannot satisfy stops the run before
any job, with one line per problem that names the key (as a dotted path) and the fix.

``python -m repgeo.config FILE...`` runs the same checks on config files outside the workflow,
and reports a YAML syntax error with its line and column (Snakemake's own reader of
``--configfile`` says only that the file is not valid JSON or YAML).
"""

from __future__ import annotations

import copy
import difflib
import functools
import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from . import registry

# The workflow's schema: the one source of every default (docs/configuration.md).
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem found."""

    def __init__(self, problems: Iterable[str], source: str = "config"):
        self.problems = list(problems)
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {source} ({len(self.problems)} problem(s)):\n{body}")


def load_schema(path: str | Path) -> dict[str, Any]:
    # libyaml's safe loader when PyYAML has it: about seven times faster than the pure-Python
    # one on this schema, which every snakemake start (and many tests) reads.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path) as fh:
        parser = loader(fh)
        try:
            return parser.get_single_data()
        finally:
            parser.dispose()


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A YAML (or JSON) config file as a dict; a syntax error raises :class:`ConfigError` with the
    file, line and column, and a file whose top level is not a mapping says so."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError([f"{path}: cannot be read ({err})"], "config file") from err
    try:
        # Snakemake reads a config file as JSON first, then as YAML: accept what it accepts.
        data = json.loads(text)
    except ValueError:
        pass
    else:
        return _mapping_or_error(data, path)
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        # PyYAML marks are 0-based; editors count lines and columns from 1. The context mark is
        # where the unfinished construct began, often the real culprit (an unclosed bracket).
        mark = err.problem_mark or err.context_mark
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        what = err.problem or err.context or "invalid YAML"
        if err.context and err.problem and err.context_mark:
            c = err.context_mark
            what += f" ({err.context} that begins at line {c.line + 1}, column {c.column + 1})"
        hint = "; YAML indents with spaces only, replace the tab" if "'\\t'" in what else ""
        raise ConfigError([f"{where}: YAML syntax error: {what}{hint}; fix the file there"], "config file") from err
    except yaml.YAMLError as err:
        raise ConfigError([f"{path}: YAML syntax error: {err}; fix the file"], "config file") from err
    return _mapping_or_error(data, path)


def _mapping_or_error(data: Any, path: Path) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            [f"{path}: the top level is a {type(data).__name__}, expected keys such as datasets:"], "config file"
        )
    return data


def check_config_file_syntax(path: str | Path) -> None:
    """Raise :class:`ConfigError` naming line and column when ``path`` exists and is not valid
    YAML; do nothing when it is valid or absent (Snakemake then reports the missing file)."""
    if Path(path).is_file():
        read_config_file(path)


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
    # JSON-schema bounds never fire on NaN (every comparison with it is false) and infinity
    # passes every lower bound, so non-finite numbers are found by walking the config. They get
    # one line each; the schema's own complaints about the same value (e.g. "expected integer,
    # got nan") would only repeat it.
    non_finite = list(_non_finite(cfg))
    problems = [_describe_non_finite(path, value) for path, value in non_finite]
    bad_paths = [path for path, _ in non_finite]
    # Validate first without side effects: defaults filled inside a failing branch could
    # otherwise hide the real error.
    errors = [e for e in _leaf_errors(Draft202012Validator(schema).iter_errors(cfg)) if not _caused_by(e, bad_paths)]
    problems += [_describe(e) for e in _one_type_error_per_key(errors)]
    if problems:
        raise ConfigError(sorted(set(problems)), source)
    for _ in _Filling(schema).iter_errors(cfg):
        pass
    return cfg


def _non_finite(value: Any, path: tuple[Any, ...] = ()) -> Iterable[tuple[tuple[Any, ...], float]]:
    """(path, value) of every NaN or infinite float in a config, depth first."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _non_finite(v, (*path, k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _non_finite(v, (*path, i))


def _caused_by(e: ValidationError, bad_paths: list[tuple[Any, ...]]) -> bool:
    """Whether schema error ``e`` only echoes a non-finite value already reported: an error at
    that value or inside it, or one of a list or alternative that holds it (jsonschema counts
    NaNs as equal, so [.nan, .nan] also breaks uniqueItems). Errors of the enclosing entries'
    own keys (required, unknown keys) are kept."""
    where = tuple(e.absolute_path)
    for p in bad_paths:
        if where[: len(p)] == p:
            return True
        if p[: len(where)] == where and e.validator in ("uniqueItems", "oneOf", "anyOf"):
            return True
    return False


def _describe_non_finite(path: tuple[Any, ...], value: float) -> str:
    # Spelled as YAML writes it (.nan, .inf, -.inf), which is how it got into the config.
    spelled = ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    # No key of the schema means "unbounded" by infinity (unbounded counts are spelled null).
    return f"{_dotted(path)}: {spelled} is not a finite number; give a finite value (NaN and infinity are refused for every key)"


def _one_type_error_per_key(errors: list[ValidationError]) -> list[ValidationError]:
    """Drop type errors that repeat one already reported at the same key.

    A dataset entry is checked against its own definition and, through if/then on ``source``,
    against every source's: an if whose instance is not an object passes vacuously, so a value
    of the wrong type (e.g. ``datasets: {x: null}``) fails the type check of every branch. The
    error closest to the key's own definition (the shortest schema path) is kept.
    """
    best: dict[tuple[Any, ...], ValidationError] = {}
    rest = []
    for e in errors:
        if e.validator != "type":
            rest.append(e)
            continue
        key = tuple(e.absolute_path)
        if key not in best or len(e.absolute_schema_path) < len(best[key].absolute_schema_path):
            best[key] = e
    return rest + list(best.values())


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
    if v == "type" and e.instance is None and e.validator_value == "object":
        # `x:` with nothing under it (or `x: null`): YAML's empty value, usually a forgotten block.
        required = schema.get("required") or []
        needs = f" (at least {', '.join(required)})" if required else ""
        return f"{where}: is empty (null) but must hold settings{needs}; write them under it, or remove the key"
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
                options.append(
                    c.validator_value if isinstance(c.validator_value, str) else " or ".join(c.validator_value)
                )
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
    "array": "an N x D matrix file: .npy, .npz (with key), .parquet or .csv (numeric columns), .pt or .pth (a tensor)",
}


# Which sources each branch accepts: from the one registry of sources.
AUDIO_SOURCES = registry.AUDIO_SOURCES
IMAGE_SOURCES = registry.IMAGE_SOURCES


def check_references(config: Mapping[str, Any], base: str | Path = ".") -> list[str]:
    """Problems the schema cannot see: missing data paths, dangling dataset names, unknown
    external architectures, column names the datasets will not have (:func:`column_problems`)
    and counts the data cannot satisfy (:func:`size_problems`)."""
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
                        problems.append(
                            f"datasets.{name}.path: {spec['path']!r} has no {need} (CelebA layout expected)"
                        )
        if spec.get("source") == "array":
            problems += array_problems(name, spec, base)
    for name, spec in config.get("geometry", {}).items():
        sources = [k for k in ("dataset", "diffusion") if k in spec]
        if len(sources) != 1:
            problems.append(f"geometry.{name}: give exactly one of dataset or diffusion (found {sources or 'neither'})")
        elif "dataset" in spec and spec["dataset"] not in datasets:
            problems.append(
                f"geometry.{name}.dataset: {spec['dataset']!r} is not a dataset of this config; defined: {', '.join(sorted(datasets))}"
            )
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
            problem = _external_arch_problem(ext.get("arch"))
            if problem:
                problems.append(f"entropy_zoo.{name}.external[{i}].arch: {problem}")
    for name, spec in config.get("audio", {}).items():
        source = datasets.get(spec.get("dataset"), {}).get("source")
        if source is not None and source not in AUDIO_SOURCES:
            problems.append(
                f"audio.{name}.dataset: {spec['dataset']!r} is a {source} dataset; the audio branch needs one of sources {', '.join(AUDIO_SOURCES)}"
            )
    for name, spec in config.get("generative", {}).items():
        source = datasets.get(spec.get("dataset"), {}).get("source")
        if source is not None and source not in IMAGE_SOURCES:
            problems.append(
                f"generative.{name}.dataset: {spec['dataset']!r} is a {source} dataset; the generative branch needs images, one of sources {', '.join(IMAGE_SOURCES)}"
            )
        weights = spec.get("evaluation", {}).get("inception_weights")
        if weights and not (Path(base) / weights).is_file():
            problems.append(
                f"generative.{name}.evaluation.inception_weights: {weights!r} is not a file; give a torchvision inception_v3 state-dict file or null"
            )
    problems += _inversion_problems(config, datasets, base)
    for section in ("diffusion", "training", "entropy_init", "entropy_zoo", "audio", "generative", "inversion"):
        for name, spec in config.get(section, {}).items():
            ds = spec.get("dataset")
            if ds not in datasets:
                problems.append(
                    f"{section}.{name}.dataset: {ds!r} is not a dataset of this config; defined: {', '.join(sorted(datasets))}"
                )
    problems += column_problems(config, base)
    problems += size_problems(config, base)
    return problems


def _external_arch_problem(arch: Any) -> str | None:
    """Why ``arch`` is not a torchvision classification builder, or None when it is one."""
    from .training.external import classification_architectures

    valid = classification_architectures()
    if arch in valid:
        return None
    close = difflib.get_close_matches(str(arch), valid, n=3)
    guess = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
    return f"{arch!r} is not a torchvision classification architecture; {guess}choose one of: {', '.join(valid)}"


# --- columns and sizes known before any job ---------------------------------------------------

# Columns the geometry pipeline adds to its pointwise table (repgeo.stages.geometry: the
# dimension, curvature and baseline stages), besides the input's own columns.
_GEOMETRY_OWN_COLUMNS = (
    "dimension", "dimension_unrounded", "dimension_raw", "boundary", "scalar_curvature", "calibration",
    "mle_dimension", "lpca_dimension", "quadratic_fit_curvature",
)  # fmt: skip
# Keys naming the integer (or boolean) class-label column of an entry's dataset.
_LABEL_KEYS = {
    "training": ("label",),
    "entropy_init": ("label",),
    "entropy_zoo": ("label",),
    "inversion": ("label",),
    "generative": ("feature_net", "label"),
}
_AUDIO_CONTRAST_COLUMNS = ("sibilant", "sibilant_start", "sibilant_end")


def _columns_of(config: Mapping[str, Any], dataset: Any, base: str | Path) -> dict[str, str] | None:
    from .data.preview import dataset_columns

    spec = config.get("datasets", {}).get(dataset) if isinstance(dataset, str) else None
    return dataset_columns(spec, base) if isinstance(spec, Mapping) else None


def _unknown_column(where: str, asked: str, columns: Mapping[str, str], dataset: str, extra: Iterable[str] = ()) -> str:
    known = [*columns, *extra]
    close = difflib.get_close_matches(asked, known, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"{where}: {asked!r} is not a column of dataset {dataset!r}; {guess}its columns: {', '.join(known)}"


def column_problems(config: Mapping[str, Any], base: str | Path = ".") -> list[str]:
    """Keys that name a column of an entry's samples table and name one its dataset will not
    have (or one of the wrong kind), where the columns are known from the config
    (:func:`repgeo.data.preview.dataset_columns`); otherwise the job that reads the column
    fails, after every job before it has run."""
    problems: list[str] = []
    diffusion = config.get("diffusion", {})
    for name, spec in diffusion.items():
        color = spec.get("color_by")
        cols = _columns_of(config, spec.get("dataset"), base)
        # embedding.parquet: id, the diffusion coordinates dc1..dck, then the dataset's columns.
        coords = [f"dc{j + 1}" for j in range(int(spec["n_components"]))]
        if color is not None and cols is not None and color not in cols and color not in coords:
            problems.append(
                _unknown_column(f"diffusion.{name}.color_by", color, cols, spec["dataset"], coords)
                + "; set color_by to one of them or null"
            )
    for name, spec in config.get("geometry", {}).items():
        where = f"geometry.{name}"
        if "diffusion" in spec:
            run = diffusion.get(spec["diffusion"], {})
            dataset = run.get("dataset")
            coords = [f"dc{j + 1}" for j in range(int(run["n_components"]))]
            wrong = [c for c in spec.get("coordinates") or [] if c not in coords]
            if wrong and run:
                problems.append(
                    f"{where}.coordinates: {wrong} are not coordinates of diffusion run {spec['diffusion']!r}, "
                    f"which has {', '.join(coords)} (n_components {len(coords)}); choose among them or raise its n_components"
                )
        else:
            dataset = spec.get("dataset")
        cols = _columns_of(config, dataset, base)
        if cols is None:
            continue
        own = [c for c in _GEOMETRY_OWN_COLUMNS if c not in cols]
        color = spec.get("color_by")
        if color is not None and color not in cols and color not in own:
            problems.append(
                _unknown_column(f"{where}.color_by", color, cols, dataset, own)
                + "; set color_by to one of them or null"
            )
        attributes = spec.get("attributes")
        if isinstance(attributes, list):
            unknown = [a for a in attributes if a not in cols and a not in own]
            if unknown:
                close = {a: difflib.get_close_matches(a, list(cols), n=1) for a in unknown}
                guesses = ", ".join(f"{a!r} -> {c[0]!r}" for a, c in close.items() if c)
                problems.append(
                    f"{where}.attributes: {unknown} are not columns of dataset {dataset!r}"
                    f"{f' (did you mean {guesses}?)' if guesses else ''}; its columns: {', '.join(cols)}; "
                    "list binary columns of it, or 'boolean' for every boolean one"
                )
            not_binary = [a for a in attributes if cols.get(a) in ("float", "string", "list")]
            if not_binary:
                kinds = ", ".join(f"{a} ({cols[a]})" for a in not_binary)
                binary = [c for c, k in cols.items() if k in ("boolean", "integer") and c not in ("id", "split")]
                problems.append(
                    f"{where}.attributes: {kinds} are not binary columns; curvature is tested against boolean (or 0/1 integer) "
                    f"columns, e.g. {', '.join(binary) or 'none in this dataset'}"
                )
    for section, path in _LABEL_KEYS.items():
        for name, spec in config.get(section, {}).items():
            value: Any = spec
            for part in path:
                value = value.get(part, {}) if isinstance(value, Mapping) else None
            cols = _columns_of(config, spec.get("dataset"), base)
            if not isinstance(value, str) or cols is None:
                continue
            where = f"{section}.{name}.{'.'.join(path)}"
            integer = [c for c, k in cols.items() if k in ("integer", "boolean")]
            if value not in cols:
                problems.append(
                    _unknown_column(where, value, cols, spec["dataset"])
                    + f"; set it to an integer or boolean class column, e.g. {', '.join(integer) or 'none in this dataset'}"
                )
            elif cols[value] not in ("integer", "boolean"):
                problems.append(
                    f"{where}: column {value!r} of dataset {spec['dataset']!r} holds {cols[value]} values, not integer class labels; choose one of {', '.join(integer) or 'none'}"
                )
    for name, spec in config.get("audio", {}).items():
        cols = _columns_of(config, spec.get("dataset"), base)
        if cols is None:
            continue
        label = spec["label"]
        if label not in cols:
            problems.append(
                _unknown_column(f"audio.{name}.label", label, cols, spec["dataset"])
                + "; set label to the column naming each token's word (fsdd: digit)"
            )
        missing = [c for c in _AUDIO_CONTRAST_COLUMNS if c not in cols]
        if spec["contrast"]["enabled"] and missing:
            problems.append(
                f"audio.{name}.contrast.enabled: the phone contrast needs the columns {', '.join(_AUDIO_CONTRAST_COLUMNS)}, "
                f"which dataset {spec['dataset']!r} ({config['datasets'][spec['dataset']].get('source')}) does not have; set contrast.enabled: false"
            )
    return problems


def _points(config: Mapping[str, Any], section: str, name: str, base: str | Path = ".") -> tuple[int | None, str]:
    """The number of points a diffusion or geometry entry works on, where the config fixes it
    (or, for an ``array`` dataset, its file's header), and how that number came about (for messages)."""
    from .data.preview import split_size

    spec = config.get(section, {}).get(name, {})
    if section == "geometry" and "diffusion" in spec:
        return _points(config, "diffusion", spec["diffusion"], base)
    dataset = spec.get("dataset")
    ds = config.get("datasets", {}).get(dataset)
    if not isinstance(ds, Mapping):
        return None, ""
    if spec.get("n") is not None:
        # select_samples takes exactly n (or fails when the split has fewer: size_problems).
        return int(spec["n"]), f"n = {spec['n']} of dataset {dataset!r}"
    split = spec["split"]
    return split_size(ds, split, base), f"split {split} of dataset {dataset!r}"


def size_problems(config: Mapping[str, Any], base: str | Path = ".") -> list[str]:
    """Counts the data cannot satisfy, where the number of points is known from the config:
    more samples asked for than a dataset or split has, more diffusion coordinates than points
    allow, geometry neighbourhoods larger than the point cloud."""
    from .data.preview import SKLEARN_DIGITS_N, split_size

    problems: list[str] = []
    datasets = config.get("datasets", {})
    for name, spec in datasets.items():
        if (
            isinstance(spec, Mapping)
            and spec.get("source") == "sklearn_digits"
            and (spec.get("n") or 0) > SKLEARN_DIGITS_N
        ):
            problems.append(
                f"datasets.{name}.n: {spec['n']} digits requested but sklearn_digits has {SKLEARN_DIGITS_N}; lower n, or set it to null for all"
            )
    for section in ("diffusion", "geometry"):
        for name, spec in config.get(section, {}).items():
            ds = datasets.get(spec.get("dataset"))
            if spec.get("n") is None or not isinstance(ds, Mapping):
                continue
            split = spec["split"]
            available = split_size(ds, split, base)
            if available is not None and spec["n"] > available:
                problems.append(
                    f"{section}.{name}.n: {spec['n']} points requested but split {split} of dataset {spec['dataset']!r} has "
                    f"{available}; lower n (at most {available}) or set it to null for all"
                )
    for name, spec in config.get("diffusion", {}).items():
        points, how = _points(config, "diffusion", name, base)
        if points is None:
            continue
        # The trivial eigenvector is dropped by the coifman_lafon convention, kept by celeba's.
        most = points - (0 if spec["convention"] == "celeba" else 1)
        k = int(spec["n_components"])
        if k > most:
            fix = f"lower n_components to at most {most} or use more points" if most >= 1 else "use more points"
            problems.append(
                f"diffusion.{name}.n_components: {k} coordinates, but {points} points ({how}) give at most {max(most, 0)}; {fix}"
            )
    for name, spec in config.get("geometry", {}).items():
        points, how = _points(config, "geometry", name, base)
        if points is None:
            continue
        where = f"geometry.{name}"
        if points < _GEOMETRY_MIN_POINTS:
            key = "n" if spec.get("n") is not None else ("diffusion" if "diffusion" in spec else "dataset")
            problems.append(
                f"{where}.{key}: the geometry gets {points} points ({how}), but its operator needs at least "
                f"{_GEOMETRY_MIN_POINTS} (k >= {_GEOMETRY_MIN_POINTS} neighbours); give it more points"
            )
            continue
        for key, value, default in _geometry_neighbourhoods(spec):
            if value > points:
                problems.append(
                    f"{where}.{key}: {value} neighbours per point{' (the default)' if default else ''}, but the geometry gets only "
                    f"{points} points ({how}): every neighbourhood would be the whole cloud; set {key} to at most {points}, or give it more points"
                )
    return problems


# The bandwidth of the geometry's operator averages over its k_ep = 8 nearest neighbours
# (repgeo.geometry.operator.adhoc_bandwidth), the smallest neighbourhood the schema allows (k >= 8).
_GEOMETRY_MIN_POINTS = 8


def _geometry_neighbourhoods(spec: Mapping[str, Any]) -> list[tuple[str, int, bool]]:
    """(key, neighbours, is the default) of every neighbourhood the entry's estimators use: k,
    and in improved mode the dimension's k_dimension and the curvature's k_fit
    (repgeo.rules.knn_size sizes the cached graph by the same keys)."""
    # Every key here has a schema default, filled in before these checks.
    out = [("k", int(spec["k"]), False)]
    if spec["mode"] == "improved":
        for key in ("k_dimension", "k_fit"):
            value = int(spec["improved"][key])
            out.append((f"improved.{key}", value, value == _schema_default(f"improved_params.{key}")))
    return out


@functools.cache
def _repository_schema() -> dict[str, Any]:
    return load_schema(SCHEMA_PATH)


def _schema_default(pointer: str) -> Any:
    """The schema's default of a key of a definition (``improved_params.k_fit``)."""
    name, *keys = pointer.split(".")
    node = _repository_schema()["$defs"][name]
    for key in keys:
        node = node["properties"][key]
    return node["default"]


# --- the array source: its files, before any job ------------------------------------------------

# Names of columns the diffusion (dc1, dc2, ...) and geometry stages put beside a dataset's own
# columns: a metadata column of the same name would be a duplicate there.
_DIFFUSION_COORDINATE = re.compile(r"dc\d+")


def array_problems(name: str, spec: Mapping[str, Any], base: str | Path = ".") -> list[str]:
    """Problems of the ``array`` dataset entry ``name``, found from file headers and the metadata
    table (no torch, no matrix read): a format the source does not read, a missing or needless
    ``key``, ``columns`` the table lacks, ``n`` above the row count, and a ``metadata`` table that
    is missing, unreadable or does not fit (row count, ids, split values, a column name the
    workflow adds itself). NaN rows and non-numeric values are found when the data are prepared."""
    from .data import DataError
    from .data.arrays import ARRAY_FORMATS, METADATA_FORMATS, array_rows, metadata_fields, npz_keys, table_columns
    from .data.preview import array_metadata

    where = f"datasets.{name}"
    given = spec["path"]
    path = Path(base) / Path(str(given)).expanduser()
    fmt = ARRAY_FORMATS.get(path.suffix.lower())
    key, columns, n = spec.get("key"), spec.get("columns"), spec.get("n")
    problems: list[str] = []
    rows = None
    if not path.exists():
        pass  # reported by the path check of every source
    elif not path.is_file():
        problems.append(f"{where}.path: {given!r} is a folder; source array expects {_PATH_KINDS['array']}")
    elif fmt is None:
        problems.append(
            f"{where}.path: {given!r} has the extension {path.suffix or '(none)'!r}; source array reads "
            f"{', '.join(ARRAY_FORMATS)}: save the matrix in one of them (np.save writes .npy)"
        )
    else:
        try:
            if fmt == "npz":
                keys = npz_keys(path)
                if key is None:
                    problems.append(
                        f"{where}.key: {given!r} is an .npz archive; name its N x D array with key (it holds {', '.join(keys)})"
                    )
                elif key not in keys:
                    close = difflib.get_close_matches(key, keys, n=1)
                    guess = f"did you mean {close[0]!r}? " if close else ""
                    problems.append(f"{where}.key: {given!r} has no array {key!r}; {guess}it holds {', '.join(keys)}")
            elif key is not None:
                problems.append(f"{where}.key: applies to .npz archives only, and {given!r} is {fmt}; remove key")
            if fmt in ("parquet", "csv") and columns is not None:
                names = table_columns(path)
                unknown = [c for c in columns if c not in names]
                if unknown:
                    close = {c: difflib.get_close_matches(c, names, n=1) for c in unknown}
                    guesses = ", ".join(f"{c!r} -> {m[0]!r}" for c, m in close.items() if m)
                    problems.append(
                        f"{where}.columns: {unknown} are not columns of {given!r}"
                        f"{f' (did you mean {guesses}?)' if guesses else ''}; its columns: {', '.join(names)}"
                    )
            elif columns is not None and fmt not in ("parquet", "csv"):
                problems.append(
                    f"{where}.columns: apply to .parquet and .csv tables only, and {given!r} is {fmt}; remove columns"
                )
        except DataError as err:
            problems.append(f"{where}.path: {str(err).removeprefix('array: ')}")
        rows = array_rows(path, key)
        if rows is not None and n is not None and n > rows:
            problems.append(
                f"{where}.n: {n} rows requested but {given!r} has {rows}; lower n (at most {rows}) or set it to null for all"
            )
    meta = spec.get("metadata")
    if meta is None:
        return problems
    meta_path = Path(base) / Path(str(meta)).expanduser()
    if meta_path.suffix.lower() not in METADATA_FORMATS:
        problems.append(
            f"{where}.metadata: {meta!r} has the extension {meta_path.suffix or '(none)'!r}; give a .parquet or .csv table"
        )
    elif not meta_path.is_file():
        problems.append(
            f"{where}.metadata: {meta!r} does not exist (resolved to {meta_path.resolve()}); give a .parquet or "
            ".csv table with one row per array row, or null"
        )
    else:
        try:
            table = array_metadata(spec, base)
            metadata_fields(table, rows, repr(meta))
        except DataError as err:
            problems.append(f"{where}.metadata: {str(err).removeprefix('array: ')}")
        else:
            clash = [c for c in table.columns if c in _GEOMETRY_OWN_COLUMNS or _DIFFUSION_COORDINATE.fullmatch(str(c))]
            if clash:
                problems.append(
                    f"{where}.metadata: the column(s) {clash} of {meta!r} have names that the diffusion (dc1, dc2, ...) "
                    "or geometry stages give their own columns; rename them in the table"
                )
    return problems


def _inversion_problems(config: Mapping[str, Any], datasets: Mapping[str, Any], base: str | Path) -> list[str]:
    """Inversion entries: an image dataset, weights that exist, options of the architecture, layer names it has."""
    problems: list[str] = []
    entries = config.get("inversion", {})
    if not entries:
        return problems
    TORCHVISION_ARCHITECTURES = registry.TORCHVISION_INVERSION_ARCHITECTURES

    for name, spec in entries.items():
        where = f"inversion.{name}"
        arch = spec["arch"]
        source = datasets.get(spec.get("dataset"), {}).get("source")
        if source is not None and source not in IMAGE_SOURCES:
            problems.append(
                f"{where}.dataset: {spec['dataset']!r} is a {source} dataset; the inversion branch needs images, one of sources {', '.join(IMAGE_SOURCES)}"
            )
        weights = spec.get("weights")
        if weights and arch not in TORCHVISION_ARCHITECTURES:
            problems.append(
                f"{where}.weights: torchvision weights exist only for {', '.join(TORCHVISION_ARCHITECTURES)}, not {arch}; remove weights or change arch"
            )
        elif weights and not (Path(base) / weights).is_file():
            problems.append(
                f"{where}.weights: {weights!r} is not a file; give a torchvision {arch} state-dict file or null"
            )
        if spec.get("width") is not None and arch != "vgg_small":
            problems.append(f"{where}.width: only vgg_small has a width; {arch} is torchvision's, set width: null")
        if spec.get("lrn") and arch != "alexnet":
            problems.append(f"{where}.lrn: only alexnet takes the local response normalisation; set lrn: false")
        names = registry.inversion_layers(arch, lrn=bool(spec.get("lrn")))
        asked = list(spec["layers"]) + list(spec["priors"]["feature_layers"])
        unknown = [layer for layer in asked if layer not in names]
        if unknown:
            problems.append(f"{where}.layers: {unknown} are not layers of {arch}; valid names: {', '.join(names)}")
        beyond = [layer for layer in spec["layers"] if layer in names and names.index(layer) >= names.index("fc6")]
        if beyond:
            problems.append(
                f"{where}.layers: {beyond} are fully connected; the inverters and feature-map statistics need maps, choose layers up to pool5"
            )
        experts = set(spec["priors"]["experts"])
        methods = spec["preimage"]["methods"]
        missing = [m for m in methods if m != "tv" and m.removesuffix("_features") not in experts]
        if missing:
            problems.append(
                f"{where}.preimage.methods: {missing} use learned priors that priors.experts does not train; add them to priors.experts"
            )
        if any(m.endswith("_features") for m in methods) and not spec["priors"]["feature_layers"]:
            problems.append(
                f"{where}.preimage.methods: the *_features methods need feature-map priors; list layers in priors.feature_layers"
            )
    return problems


def check_config(
    config: Mapping[str, Any], schema_path: str | Path | Mapping[str, Any], base: str | Path = "."
) -> dict[str, Any]:
    """Validate, fill defaults and check references; raise :class:`ConfigError` on any problem.

    ``schema_path``: the schema file, or the schema already loaded by :func:`load_schema`.
    """
    schema = schema_path if isinstance(schema_path, Mapping) else load_schema(schema_path)
    cfg = validate(config, schema)
    problems = check_references(cfg, base)
    if problems:
        raise ConfigError(problems)
    return cfg


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    """Merge ``other`` into ``into`` recursively, as Snakemake merges several --configfile files."""
    for key, value in other.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def main(argv: list[str] | None = None) -> int:
    """``python -m repgeo.config FILE...``: every start check of the workflow on config files
    (merged in order, as ``--configfile A B`` merges them), without Snakemake. Relative data
    paths are resolved against the current folder, as in a run started here. Exit status 0 when
    the config is valid, 1 with the problems on stderr otherwise."""
    args = sys.argv[1:] if argv is None else argv
    if not args or any(a in ("-h", "--help") for a in args):
        print("usage: python -m repgeo.config CONFIG.yaml [MORE.yaml ...]", file=sys.stderr)
        return 0 if args else 2
    # The schema lives in the workflow, next to lib/ (the package is installed from the checkout).
    schema = SCHEMA_PATH
    if not schema.is_file():
        print(
            f"the workflow's schema {schema} is missing; run this from a repgeo checkout's virtual environment",
            file=sys.stderr,
        )
        return 2
    config: dict[str, Any] = {}
    try:
        for path in args:
            _merge(config, read_config_file(path))
        check_config(config, schema, ".")
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    print(f"{', '.join(args)}: valid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
