"""Bad input gets an error that names the thing and the fix; nothing unsafe is loaded or written.

Config errors are checked property-based (hypothesis): any value of a wrong type, any
out-of-range number, any unknown key, any path-like entry name is refused with a message that
names the key.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repgeo.config import ConfigError, load_schema, validate
from repgeo.data import DataError, load_dataset, subsample_indices

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
BASE = {
    "datasets": {"digits": {"source": "sklearn_digits"}},
    "diffusion": {"d": {"dataset": "digits"}},
    "geometry": {"g": {"dataset": "digits"}},
    "training": {"tr": {"dataset": "digits"}},
}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# (section, entry, key, lowest allowed, highest allowed or None, integer?)
NUMERIC_KEYS = [
    ("diffusion", "d", "t", 0, None, False),
    ("diffusion", "d", "alpha", 0, 1, False),
    ("diffusion", "d", "n_components", 1, None, True),
    ("geometry", "g", "k", 8, None, True),
    ("training", "tr", "epochs", 0, None, True),
    ("training", "tr", "eval_n", 10, None, True),
]


def _with(section: str, entry: str, key: str, value) -> dict:
    cfg = {k: {n: dict(e) for n, e in v.items()} for k, v in BASE.items()}
    cfg[section][entry][key] = value
    return cfg


def _message(cfg) -> str:
    with pytest.raises(ConfigError) as err:
        validate(cfg, SCHEMA)
    return str(err.value)


not_a_number = st.one_of(
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.booleans(),
    st.none(),
)


@pytest.mark.parametrize("section,entry,key,low,high,integer", NUMERIC_KEYS, ids=lambda v: str(v))
@SETTINGS
@given(value=not_a_number)
def test_a_wrong_type_names_the_key(section, entry, key, low, high, integer, value):
    msg = _message(_with(section, entry, key, value))
    assert f"{section}.{entry}.{key}: expected" in msg


@pytest.mark.parametrize("section,entry,key,low,high,integer", NUMERIC_KEYS, ids=lambda v: str(v))
@SETTINGS
@given(data=st.data())
def test_an_out_of_range_number_names_the_key_and_the_bound(section, entry, key, low, high, integer, data):
    below = (
        st.integers(max_value=low - 1)
        if integer
        else st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False)
    )
    strategies = [below]
    if high is not None:
        strategies.append(st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False))
    value = data.draw(st.one_of(*strategies))
    msg = _message(_with(section, entry, key, value))
    assert re.search(rf"{section}\.{entry}\.{key}: expected a value (>=|>|<=) ", msg), msg


identifier = st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True)


@SETTINGS
@given(key=identifier)
def test_an_unknown_key_is_named_with_the_allowed_ones(key):
    known = set(SCHEMA["$defs"]["training"]["properties"])
    if key in known:
        return
    msg = _message(_with("training", "tr", key, 1))
    assert f"unknown key {key!r} in training.tr" in msg and "allowed keys:" in msg


@SETTINGS
@given(
    name=st.one_of(
        st.sampled_from(["../etc", "a/b", "/abs", ".hidden", "..", "a b", "x\\y", ""]),
        st.text(min_size=1, max_size=12).filter(lambda s: not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", s)),
    )
)
def test_entry_names_cannot_leave_the_results_folder(name):
    """Output paths are results/<stage>/<name>/...: a name that is not a plain file name is refused."""
    for section in ("datasets", "training"):
        cfg = {k: {n: dict(e) for n, e in v.items()} for k, v in BASE.items()}
        cfg[section][name] = cfg[section].pop(next(iter(cfg[section])))
        assert "invalid name" in _message(cfg)


def test_more_samples_than_the_dataset_has():
    with pytest.raises(DataError, match=r"n = 5000 items were requested but only 1797 are available; lower n"):
        load_dataset({"source": "sklearn_digits", "n": 5000})
    with pytest.raises(DataError, match="lower n"):
        subsample_indices(10, 11, "random", 0)


def test_nan_or_infinite_inputs_are_refused_by_name():
    from repgeo.diffusion import diffusion_map
    from repgeo.entropy import diffusion_spectral_entropy

    X = np.random.default_rng(0).random((40, 3))
    X[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row\(s\), e.g. \[7\]"):
        diffusion_map(X, epsilon=1.0)
    X[7, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        diffusion_spectral_entropy(X)


def _python_sources():
    for folder in ("lib", "scripts", "benchmarks", "workflow"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".smk") or path.name == "Snakefile":
                yield path
    yield REPO / "Snakefile"


def _call_arguments(text: str, open_paren: int) -> str:
    """The text between the parenthesis at ``open_paren`` and its matching close."""
    depth = 0
    for i in range(open_paren, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_paren + 1 : i]
    return text[open_paren + 1 :]


def test_every_torch_load_uses_weights_only():
    """Pickled code in a tensor or checkpoint file is never executed: torch.load always gets weights_only=True."""
    calls, offenders = 0, []
    for path in _python_sources():
        text = path.read_text()
        for m in re.finditer(r"torch\.load\(", text):
            calls += 1
            if "weights_only=True" not in _call_arguments(text, m.end() - 1):
                offenders.append(f"{path.relative_to(REPO)}:{text[: m.start()].count(chr(10)) + 1}")
    assert calls > 0  # the scan found the loaders
    assert not offenders, f"torch.load without weights_only=True: {offenders}"


def test_no_config_value_is_evaluated_as_code():
    pattern = re.compile(r"(?<![\w.])(eval|exec)\(|yaml\.load\(|yaml\.unsafe_load|pickle\.loads?\(")
    offenders = [
        f"{p.relative_to(REPO)}: {m.group(0)}" for p in _python_sources() for m in pattern.finditer(p.read_text())
    ]
    assert not offenders, offenders


def test_a_pickled_object_in_a_tensor_file_is_refused(tmp_path):
    import pickle

    from repgeo import io

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    path = tmp_path / "evil.pt"
    import torch

    torch.save({"Z": torch.zeros(2), "x": Payload()}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        io.load_tensor(path)


def test_every_rule_declares_its_resources_log_and_benchmark():
    """Cluster submission needs threads, mem_mb and runtime (growing with attempt) on every rule."""
    rules = 0
    for path in sorted((REPO / "workflow/rules").glob("*.smk")):
        blocks = re.split(r"^rule ", path.read_text(), flags=re.M)[1:]
        for block in blocks:
            name = block.split(":", 1)[0]
            rules += 1
            for needed in ("threads:", "mem_mb=mem_mb(", "runtime=runtime_min(", "log:", "benchmark:"):
                assert needed in block, f"{path.name}: rule {name} lacks {needed}"
    assert rules >= 30
