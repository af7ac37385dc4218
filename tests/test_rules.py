"""The table of what each rule reads (repgeo.rules, issue 18 point 3).

- Every rule of the workflow with config-derived params is in the table, and only those.
- The table says the truth: for every key of every entry of the default config, changing the key
  changes a rule's params exactly when the table says that rule reads it (so Snakemake reruns
  exactly those jobs).
- docs/reruns.md carries the table generated from it (``python -m repgeo.rules``).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from repgeo.config import load_schema, validate
from repgeo.rules import ENTRY_WILDCARD, PARAMS, reads_path, rerun_table, rule_params

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
CONFIG = validate(yaml.safe_load((REPO / "config.yaml").read_text()), SCHEMA)


class Wildcards:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get(key, default)


def _variants(section: str, name: str, entry: dict[str, Any]) -> list[Wildcards]:
    """Wildcards of the jobs of one entry: every variant a param may depend on."""
    key = ENTRY_WILDCARD.get(section, "name")
    base = {key: name, "seed": "0", "member": "mlp-w16", "network": "qnet", "extreme": "lowest"}
    base["external"] = entry["external"][0]["name"] if section == "entropy_zoo" and entry["external"] else "none"
    return [Wildcards(**base, mode=m, analysis=a) for m in ("supervised", "contrastive") for a in ("words", "sounds")]


def _leaves(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in _leaves(v, f"{prefix}.{k}" if prefix else k)]
    return [prefix] if prefix else []


def _perturbed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value * 4 + 1  # past any maximum the builder takes (the kNN size is the largest neighbourhood)
    if isinstance(value, float):
        return value * 1.5 + 0.1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return 7
    if isinstance(value, list):
        if not value:
            return None
        if isinstance(value[0], dict):
            return value + value[-1:]
        # change the first item and add a changed last one: a different first, last, max and length
        return [_perturbed(value[0]), *value[1:], _perturbed(value[-1])]
    return None


def _set(entry: dict[str, Any], path: str, new: Any) -> None:
    *head, last = path.split(".")
    for key in head:
        entry = entry[key]
    entry[last] = new


def _get(entry: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        entry = entry[key]
    return entry


def _evaluate(config, rule, param, wildcards):
    try:
        fn = rule_params(config, rule)[param]
        return repr(fn(wildcards) if callable(fn) else fn)
    except (KeyError, ValueError) as exc:  # a changed cross-reference (e.g. the dataset's name)
        return f"error {type(exc).__name__}"


# Values a builder branches on: a changed value must be another valid one.
ALTERNATIVES = {("geometry", "mode"): {"parity": "improved", "improved": "parity"}}

# Params that read whether a key is given, not its value: perturbing the value changes nothing.
PRESENCE_READS = {("geometry_figures", "first_three", "diffusion")}

CASES = [
    (rule, param, section, name)
    for rule, params in PARAMS.items()
    for param, p in params.items()
    if (section := p.section) is not None
    for name in CONFIG[section]
]


@pytest.mark.parametrize("rule,param,section,name", CASES, ids=[f"{r}.{p}[{n}]" for r, p, s, n in CASES])
def test_params_change_exactly_with_the_keys_the_table_lists(rule, param, section, name):
    entry = CONFIG[section][name]
    variants = _variants(section, name, entry)
    before = [_evaluate(CONFIG, rule, param, w) for w in variants]
    if all(b.startswith("error") for b in before):
        pytest.skip(f"{rule}.{param} does not apply to {section}.{name}")
    wrong = []
    for path in _leaves(entry):
        old = _get(entry, path)
        new = ALTERNATIVES[section, path][old] if (section, path) in ALTERNATIVES else _perturbed(old)
        if new is None:
            continue
        config = copy.deepcopy(CONFIG)
        _set(config[section][name], path, new)
        changed = any(_evaluate(config, rule, param, w) != b for w, b in zip(variants, before, strict=True))
        declared = reads_path(PARAMS[rule][param], path) and (rule, param, path) not in PRESENCE_READS
        if changed != declared:
            wrong.append(
                f"{path}: params {'change' if changed else 'stay'} but the table says it is {'' if declared else 'not '}read"
            )
    assert not wrong, "\n".join(wrong)


def test_table_covers_every_rule_with_params():
    rules: dict[str, list[str]] = {}
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        rule = None
        in_params = False
        for line in smk.read_text().splitlines():
            if m := re.match(r"^rule (\w+):", line):
                rule = m.group(1)
                rules[rule] = []
            if re.match(r"^    [a-z_]+:", line):
                in_params = line.strip() == "params:"
            elif in_params and rule and (m := re.match(r"^        (\*\*params_of\(\"(\w+)\"\)|(\w+)=)", line)):
                rules[rule].append(m.group(2) and f"table:{m.group(2)}" or m.group(3))
    for rule, params in rules.items():
        if rule in PARAMS:
            assert f"table:{rule}" in params, f"rule {rule} is in the table but does not take params_of({rule!r})"
        # params written in the rule itself may only be ones that read no config
        assert set(params) - {f"table:{rule}"} <= {"library"}, (rule, params)
    assert set(PARAMS) <= set(rules), set(PARAMS) - set(rules)


def test_docs_reruns_is_generated_from_the_table():
    text = (REPO / "docs" / "reruns.md").read_text()
    from repgeo.rules import END_MARK as end
    from repgeo.rules import START_MARK as start

    assert start in text and end in text, "docs/reruns.md lacks the generated table's markers"
    generated = text[text.index(start) + len(start) : text.index(end)]
    assert generated == rerun_table(SCHEMA), "docs/reruns.md is stale: run `python -m repgeo.rules --write`"


def test_table_names_known_rules_and_keys():
    # a read of a key the schema does not have would never trigger a rerun
    for params in PARAMS.values():
        for p in params.values():
            if p.section is None:
                continue
            node = SCHEMA["properties"][p.section]
            if "additionalProperties" in node and isinstance(node["additionalProperties"], dict):
                node = SCHEMA["$defs"][node["additionalProperties"]["$ref"].rsplit("/", 1)[1]]
            for path in (*p.reads, *p.drops):
                if path == "*":
                    continue
                if p.section == "entropy_toys":
                    continue
                n = node
                for key in path.split("."):
                    n = n["properties"][key]
                    if "$ref" in n:
                        n = SCHEMA["$defs"][n["$ref"].rsplit("/", 1)[1]]
