"""Shared pytest fixtures: where the repository, the shared datasets and the reference fixtures are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# ../shared next to the checkout; REPGEO_SHARED overrides it (e.g. on a cluster).
SHARED = Path(os.environ.get("REPGEO_SHARED", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """../shared/datasets; tests that need real data skip when it is absent."""
    path = SHARED / "datasets"
    if not path.is_dir():
        pytest.skip(f"real datasets not available: {path} does not exist (set REPGEO_SHARED)")
    return path


@pytest.fixture(scope="session")
def geometry_fixtures() -> Path:
    """../shared/fixtures/diffusion_geometry: reference outputs stored as data."""
    path = SHARED / "fixtures" / "diffusion_geometry"
    if not path.is_dir():
        pytest.skip(f"reference fixtures not available: {path} does not exist (set REPGEO_SHARED)")
    return path
