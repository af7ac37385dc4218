# Two commands set everything up on a fresh machine (only the package registries are needed):
#   make run    the whole default workflow on embedded data, then the HTML report
#   make test   the test suite
# Both create the virtual environment .venv when it is missing.
#   make run CONFIG=my.yaml   runs exactly that config file (the default config.yaml is not merged in),
#                             after the start checks with YAML errors' line and column (python -m repgeo.config)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The run environment has the package and its dependencies only; the test extra adds pytest,
# hypothesis and the dse-dsmi oracle (non-commercial licence: tests only, never installed by run).
STAMP      := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
CORES  ?= 2
CONFIG ?=
CONFIG_ARGS := $(if $(CONFIG),--configfile $(CONFIG))

.PHONY: run test test-slow report lint bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	touch $(TEST_STAMP)

run: $(STAMP)
	$(if $(CONFIG),$(BIN)/python -m repgeo.config $(CONFIG))
	$(BIN)/snakemake --profile workflow/profiles/local --cores $(CORES) $(CONFIG_ARGS)
	$(BIN)/snakemake --report results/report.html $(CONFIG_ARGS)
	@echo "report: results/report.html"

report: $(STAMP)
	$(BIN)/snakemake --report results/report.html $(CONFIG_ARGS)

test: $(TEST_STAMP)
	$(BIN)/pytest

# Heavier checks, run before an issue is resolved (not in CI).
test-slow: $(TEST_STAMP)
	$(BIN)/pytest -m slow

# ruff (lint and format check, pyproject.toml [tool.ruff]). Snakemake's linter always lists its
# per-rule conda/container suggestion and exits 1; tests/test_workflow.py checks that it reports
# nothing else (run `.venv/bin/snakemake --lint` to read it).
lint: $(TEST_STAMP)
	$(BIN)/ruff check lib scripts tests benchmarks
	$(BIN)/ruff format --check lib scripts tests benchmarks

bench: $(TEST_STAMP)
	$(BIN)/python benchmarks/diffusion_speed.py
	$(BIN)/python benchmarks/geometry_speed.py --cases parity_n4000,improved_n4000
	$(BIN)/python benchmarks/geometry_accuracy.py
	$(BIN)/python benchmarks/entropy_speed.py

clean:
	rm -rf results .snakemake
