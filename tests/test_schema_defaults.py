"""The schema is the one source of every default (issue 18, point 1).

Every key with a ``default`` in ``workflow/schemas/config.schema.yaml`` is listed once: either in
``FEEDS`` (the library function or dataclass whose parameter it feeds; the library's default must
equal the schema's, or the parameter must be required) or in ``WORKFLOW_ONLY`` (keys that choose
data, resources or files and feed no library parameter). A new default that is in neither list,
or a library default that drifts from the schema, fails here.

The rows live beside the branches they describe (``schema_feeds_core.py``: data, diffusion,
geometry, training, entropy; ``schema_feeds_media.py``: audio, generative, inversion); this test
joins them.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from schema_feeds_core import FEEDS as CORE_FEEDS
from schema_feeds_core import WORKFLOW_ONLY as CORE_ONLY
from schema_feeds_media import FEEDS as MEDIA_FEEDS
from schema_feeds_media import WORKFLOW_ONLY as MEDIA_ONLY

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())

# Top-level keys of the config itself (not of an entry).
TOP_ONLY = {
    "device": "where torch runs; passed to the stages, which resolve it with repgeo.runtime.resolve_device",
    "threads.data": "resources: threads of a job",
    "threads.diffusion": "resources: threads of a job",
    "threads.geometry": "resources: threads of a job",
    "threads.training": "resources: threads of a job",
    "threads.entropy": "resources: threads of a job",
    "threads.plot": "resources: threads of a job",
    "report.dpi": "figure resolution",
}

FEEDS = CORE_FEEDS + MEDIA_FEEDS
WORKFLOW_ONLY = {**TOP_ONLY, **CORE_ONLY, **MEDIA_ONLY}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target = SCHEMA
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def schema_node(pointer: str) -> dict[str, Any]:
    """The schema of ``pointer``: dotted keys from the root (``threads.plot``), through named
    entries (``diffusion.t`` is the ``t`` of every ``diffusion:`` entry), or from a definition
    (``src_manifold.noise``)."""
    first, *rest = pointer.split(".")
    node = SCHEMA["properties"][first] if first in SCHEMA["properties"] else SCHEMA["$defs"][first]
    for key in rest:
        node = _resolve(node)
        if key in node.get("properties", {}):
            node = node["properties"][key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = _resolve(node["additionalProperties"])["properties"][key]
        else:
            raise KeyError(f"{pointer}: no key {key!r}")
    return _resolve(node)


def schema_defaults() -> dict[str, Any]:
    """Every key with a default, as ``pointer -> default``, over the root and the definitions."""
    found: dict[str, Any] = {}

    def walk(node: dict[str, Any], prefix: str, seen: frozenset[str]) -> None:
        ref = node.get("$ref")
        if ref in seen:
            return
        node = _resolve(node)
        seen = seen | ({ref} if ref else set())
        for key, sub in node.get("properties", {}).items():
            pointer = f"{prefix}.{key}" if prefix else key
            resolved = _resolve(sub)
            if "default" in sub or "default" in resolved:
                if "properties" not in resolved:
                    found[pointer] = sub.get("default", resolved.get("default"))
            walk(sub, pointer, seen)

    for key, sub in SCHEMA["properties"].items():
        if isinstance(sub.get("additionalProperties"), dict):
            continue  # named entries: walked through their definition below
        if "default" in sub and "properties" not in sub:
            found[key] = sub["default"]
        walk(sub, key, frozenset())
    for name, sub in SCHEMA["$defs"].items():
        walk(sub, name, frozenset({f"#/$defs/{name}"}))
    return found


def _library_default(func: Any, param: str) -> Any:
    return inspect.signature(func).parameters[param].default


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(b, tuple):
        b = list(b)
    return a == b and isinstance(a, bool) == isinstance(b, bool)


@pytest.mark.parametrize("pointer,func,param", FEEDS, ids=[row[0] for row in FEEDS])
def test_library_default_equals_schema_default(pointer, func, param):
    node = schema_node(pointer)
    assert "default" in node, f"{pointer} feeds {func.__qualname__}({param}) but has no default in the schema"
    assert param in inspect.signature(func).parameters, f"{func.__qualname__} has no parameter {param!r}"
    library = _library_default(func, param)
    if library is inspect.Parameter.empty:
        return  # required in the library: the workflow passes the schema's value
    assert _same(library, node["default"]), (
        f"{pointer}: schema default {node['default']!r} but {func.__module__}.{func.__qualname__}({param}={library!r})"
    )


def test_every_schema_default_is_accounted_for():
    defaults = schema_defaults()
    listed = {row[0] for row in FEEDS} | set(WORKFLOW_ONLY)
    missing = sorted(set(defaults) - listed)
    assert not missing, f"schema defaults neither in FEEDS nor in WORKFLOW_ONLY: {missing}"
    stale = sorted(listed - set(defaults))
    assert not stale, f"listed but the schema has no default there: {stale}"


def test_resolver_follows_entries_and_references():
    assert schema_node("diffusion.t")["default"] == 1
    assert schema_node("threads.plot")["default"] == 1
    assert schema_node("geometry.regions.k")["default"] == 10
    # a bad pointer is an error, not a silent pass
    with pytest.raises(KeyError):
        schema_node("diffusion.no_such_key")


def _literal_gets(path: Path) -> list[tuple[int, str, Any]]:
    """(line, key, default) of every ``x.get("key", <literal>)`` in a module."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            try:
                found.append((node.lineno, node.args[0].value, ast.literal_eval(node.args[1])))
            except ValueError:
                continue  # a default that is a name or an expression: not a literal re-default
    return found


def _source_defaults() -> dict[str, list[Any]]:
    """key -> the defaults the dataset source definitions give it."""
    out: dict[str, list[Any]] = {}
    for name, node in SCHEMA["$defs"].items():
        if name.startswith("src_") or name == "dataset":
            for key, sub in node.get("properties", {}).items():
                if "default" in sub:
                    out.setdefault(key, []).append(sub["default"])
    return out


def test_dataset_loaders_defaults_equal_the_schema():
    """The loaders take partial specs from tests and tools, so they keep ``spec.get(key, default)``;
    each such literal default equals the schema's default of that key."""
    defaults = _source_defaults()
    wrong = []
    for path in sorted((REPO / "lib" / "repgeo" / "data").glob("*.py")):
        for line, key, value in _literal_gets(path):
            if key in defaults and value is not None and not any(_same(value, d) for d in defaults[key]):
                wrong.append(f"{path.name}:{line}: {key} defaults to {value!r}, the schema to {defaults[key]}")
    assert not wrong, "\n".join(wrong)


def test_stages_do_not_redefault_schema_keys():
    """Stages get complete entries (check_config fills every default): no ``spec.get(key, literal)``."""
    keys = set(schema_defaults()) | {p.rsplit(".", 1)[-1] for p in schema_defaults()}
    found = [
        f"{path.name}:{line}: .get({key!r}, {value!r})"
        for path in sorted((REPO / "lib" / "repgeo" / "stages").glob("*.py"))
        for line, key, value in _literal_gets(path)
        if key in keys
    ]
    assert not found, "\n".join(found)
