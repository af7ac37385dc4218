"""Every shipped config file validates against the schema (paths aside)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from repgeo.config import ConfigError, check_references, load_schema, validate

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


@pytest.mark.parametrize("path", [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))], ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    cfg = validate(yaml.safe_load(path.read_text()), SCHEMA)
    problems = check_references(cfg, base=REPO)
    # Only the data paths of other machines may be missing (paper-scale configs).
    assert all(".path:" in p for p in problems), problems
    if path.name == "config.yaml":
        assert problems == []  # the default run needs nothing on disk
        assert not any("path" in spec for spec in cfg["datasets"].values())


def test_defaults_are_filled_and_errors_are_collected():
    cfg = validate({"datasets": {"d": {"source": "manifold", "manifold": "torus"}}, "diffusion": {"e": {"dataset": "d"}}}, SCHEMA)
    assert cfg["datasets"]["d"]["n"] == 2000 and cfg["diffusion"]["e"]["epsilon"] == "auto"
    assert cfg["diffusion"]["e"]["sweep"] == {"n_epsilons": 50, "max_rows": 20000}
    with pytest.raises(ConfigError) as err:
        validate({"datasets": {"d": {"source": "manifold", "manifold": "cube", "n": -1}}, "extra": 1}, SCHEMA)
    msg = str(err.value)
    assert "3 problem(s)" in msg
    assert "datasets.d.manifold: 'cube' is not one of" in msg
    assert "datasets.d.n: expected a value >= 1, got -1" in msg
    assert "unknown key 'extra' at the top level" in msg


def test_bad_dataset_name_and_missing_required_key():
    with pytest.raises(ConfigError, match=r"invalid name 'my data'"):
        validate({"datasets": {"my data": {"source": "sklearn_digits"}}}, SCHEMA)
    with pytest.raises(ConfigError, match=r"datasets.m: missing required key 'path'"):
        validate({"datasets": {"m": {"source": "mnist"}}}, SCHEMA)


def test_generative_entries_need_an_image_dataset_and_existing_inception_weights(tmp_path):
    cfg = validate(
        {
            "datasets": {"words": {"source": "spoken_words"}, "digits": {"source": "sklearn_digits"}},
            "generative": {"a": {"dataset": "words"}, "b": {"dataset": "digits", "evaluation": {"inception_weights": "nope.pth"}}},
        },
        SCHEMA,
    )
    problems = check_references(cfg, base=tmp_path)
    assert any("generative.a.dataset: 'words' is a spoken_words dataset; the generative branch needs images" in p for p in problems), problems
    assert any("generative.b.evaluation.inception_weights: 'nope.pth' is not a file" in p for p in problems), problems
    with pytest.raises(ConfigError, match=r"generative.b.models\[0\]: 'vae' is not one of"):
        validate({"datasets": {"digits": {"source": "sklearn_digits"}}, "generative": {"b": {"dataset": "digits", "models": ["vae"]}}}, SCHEMA)
