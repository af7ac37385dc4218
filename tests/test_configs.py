"""Every shipped configuration (config.yaml and configs/*.yaml) passes the schema and the reference checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from repgeo.config import ConfigError, check_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_the_default_config_is_valid():
    cfg = check_config(yaml.safe_load((REPO / "config.yaml").read_text()), SCHEMA, REPO)
    assert cfg["inversion"]["natural"]["layers"] == ["pool1", "pool2"]


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_configs_are_valid(path, shared_datasets):
    # Their dataset paths point at ../shared/datasets (the fixture skips when it is absent), except
    # the paper-scale ones that name a user's folder (e.g. /data/celeba): only those may be missing.
    cfg = yaml.safe_load(path.read_text())
    try:
        check_config(cfg, SCHEMA, REPO)
    except ConfigError as err:
        user_paths = [
            spec["path"]
            for spec in cfg["datasets"].values()
            if "path" in spec and not spec["path"].startswith("../shared/")
        ]
        other = [p for p in err.problems if not any(f"{u!r} does not exist" in p for u in user_paths)]
        assert not other, other
