"""Rows of tests/test_schema_defaults.py for the media branches."""

FEEDS: list = []
WORKFLOW_ONLY: dict[str, str] = {}
