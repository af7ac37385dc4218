"""One registry per list of names (issue 18, point 2): the schema's enums, the library's own
tables and the workflow's wildcard constraints all equal repgeo.registry."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from repgeo import registry

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
DEFS = SCHEMA["$defs"]


def _enum(node):
    """The enum of a property, of its array items, or of the enum alternative of a oneOf."""
    if "enum" in node:
        return list(node["enum"])
    if "items" in node:
        return _enum(node["items"])
    for alt in node.get("oneOf", []):
        found = _enum(alt)
        if found:
            return found
    return []


def _prop(*path):
    node = DEFS[path[0]]
    for key in path[1:]:
        node = node["properties"][key]
    return node


@pytest.mark.parametrize(
    "path,names",
    [
        (("dataset", "source"), registry.SOURCES),
        (("training", "modes"), registry.TRAINING_MODES),
        (("training", "arch"), registry.CLASSIFIER_ARCHITECTURES),
        (("entropy_zoo", "archs"), registry.CLASSIFIER_ARCHITECTURES),
        (("generative", "models"), registry.GENERATIVE_MODELS),
        (("generative", "arch"), registry.GENERATIVE_ARCHITECTURES),
        (("generative", "feature_net", "arch"), registry.CLASSIFIER_ARCHITECTURES),
        (("audio", "gamm", "engines"), registry.GAMM_ENGINES),
        (("inversion", "arch"), registry.INVERSION_ARCHITECTURES),
        (("inversion", "inverters", "regimes"), registry.INVERTER_REGIMES),
        (("inversion", "priors", "experts"), registry.PRIOR_EXPERTS),
        (("inversion", "preimage", "methods"), registry.PREIMAGE_METHODS),
    ],
    ids=lambda v: ".".join(v) if isinstance(v, tuple) and isinstance(v[0], str) and len(v) < 4 else None,
)
def test_schema_enum_equals_registry(path, names):
    assert _enum(_prop(*path)) == list(names)


def test_schema_subsets_and_blocks():
    # The initialisation study re-draws convolution weights: the registry's networks with convolutions.
    assert set(_enum(_prop("entropy_init", "arch"))) == set(registry.CLASSIFIER_ARCHITECTURES) - {"mlp"}
    assert list(SCHEMA["properties"]["entropy_toys"]["properties"]) == list(registry.ENTROPY_TOYS)


def test_library_tables_equal_registry():
    from repgeo.data import SOURCES, _load_sources
    from repgeo.generative.distances import ONE_D_DISTANCES
    from repgeo.generative.architectures import ARCHITECTURES as GEN_ARCHS
    from repgeo.generative.training import MODELS
    from repgeo.inversion import networks
    from repgeo.inversion.inverters import REGIMES
    from repgeo.inversion.priors import EXPERTS
    from repgeo.training.models import ARCHITECTURES

    _load_sources()
    assert set(SOURCES) == set(registry.SOURCES)
    assert tuple(ONE_D_DISTANCES) == registry.SLICED_MODELS
    assert tuple(MODELS) == registry.GENERATIVE_MODELS
    assert tuple(GEN_ARCHS) == registry.GENERATIVE_ARCHITECTURES
    assert tuple(ARCHITECTURES) == registry.CLASSIFIER_ARCHITECTURES
    assert tuple(networks.ARCHITECTURES) == registry.INVERSION_ARCHITECTURES
    assert tuple(networks.TORCHVISION_ARCHITECTURES) == registry.TORCHVISION_INVERSION_ARCHITECTURES
    assert tuple(REGIMES) == registry.INVERTER_REGIMES
    assert tuple(EXPERTS) == registry.PRIOR_EXPERTS


@pytest.mark.parametrize("arch,lrn", list(registry.INVERSION_LAYERS))
def test_inversion_layer_names_equal_the_networks(arch, lrn):
    from repgeo.inversion.networks import layer_names

    assert registry.inversion_layers(arch, lrn=lrn) == layer_names(arch, lrn=lrn)


def test_method_expert():
    assert [registry.method_expert(m) for m in registry.PREIMAGE_METHODS] == [
        None,
        "ica",
        "student_t",
        "ica",
        "student_t",
    ]
    with pytest.raises(ValueError, match="method must be one of"):
        registry.method_expert("l2")


def test_source_properties_agree_with_the_loaders(tmp_path):
    """reads_files: a source that reads no files tracks none; split 'random': the preview's test
    size is the seeded fraction."""
    from repgeo.data.manifest import NO_FILES
    from repgeo.data.preview import _RANDOM_SPLIT

    assert NO_FILES == registry.NO_FILES
    assert set(_RANDOM_SPLIT) == set(registry.RANDOM_SPLIT)
    points = {"manifold", "dse_toy", "array"}
    assert set(registry.IMAGE_SOURCES) | set(registry.AUDIO_SOURCES) | points == set(registry.SOURCES)


def test_wildcard_constraints_come_from_the_registry():
    common = (REPO / "workflow" / "rules" / "common.smk").read_text()
    block = common[common.index("wildcard_constraints:") :].split("\n\n")[0]
    # every constraint but the free-form names is built from a registry
    for line in block.splitlines()[1:]:
        key, _, rhs = line.strip().partition("=")
        if key in ("dataset", "name", "external", "seed", "layer"):
            continue
        assert "registry." in rhs, line
    assert re.fullmatch(registry.wildcard_pattern(registry.PREIMAGE_METHODS), "ica_features")
    assert not re.fullmatch(registry.wildcard_pattern(registry.PREIMAGE_METHODS), "ica_feat")


def test_workflow_layer_imports_no_torch():
    """Every repgeo module the workflow files import is torch-free, and so is the start check of
    the default config: a dry run never loads torch (issue 18, point 3)."""
    modules = set()
    for path in [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]:
        modules.update(re.findall(r"^\s*from (repgeo[\w.]*) import", path.read_text(), flags=re.M))
        modules.update(re.findall(r"^\s*import (repgeo[\w.]*)", path.read_text(), flags=re.M))
    assert "repgeo.config" in modules and "repgeo.rules" in modules, modules
    code = (
        "import sys, yaml\n"
        + "".join(f"import {m}\n" for m in sorted(modules))
        + "from repgeo.config import check_config\n"
        + f"cfg = yaml.safe_load(open({str(REPO / 'config.yaml')!r}))\n"
        + f"check_config(cfg, {str(REPO / 'workflow/schemas/config.schema.yaml')!r}, base={str(REPO)!r})\n"
        + "print([m for m in ('torch', 'torchvision', 'sklearn', 'scipy') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_common_smk_is_short():
    lines = (REPO / "workflow" / "rules" / "common.smk").read_text().splitlines()
    assert len(lines) < 250, (
        f"common.smk has {len(lines)} lines; branch helpers belong in repgeo.targets / repgeo.rules"
    )
